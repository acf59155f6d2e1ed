//! `privilege-change`: an attempt to change who may do what — whatever the verdict.
//!
//! The classification itself lives in `classify::privilege` (SQL, Kubernetes RBAC,
//! SSH account tools) and `classify::reload` (Warden's own users and roles).

use std::net::IpAddr;

use super::Draft;
use crate::observation::Decision;
use crate::settings::Detector;

pub struct Context<'a> {
    pub name: &'a str,
    pub what: &'a str,
    pub decision: Decision,
    pub target: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub excerpt: Option<String>,
    pub seq: u64,
}

pub fn action(c: Context<'_>) -> Draft {
    let verdict = match c.decision {
        Decision::Allow => " (allowed)",
        Decision::Deny => " (denied)",
        Decision::Hold => " (held for approval)",
        Decision::Unknown => "",
    };
    let on = c.target.map(|t| format!(" on {t}")).unwrap_or_default();
    let text = c.excerpt.map(|e| format!(": `{e}`")).unwrap_or_default();
    let explanation = format!("{}: {}{on}{verdict}{text}", c.name, c.what);
    Draft::new(Detector::PrivilegeChange, explanation, vec![c.seq])
        .user(c.name)
        .ip(c.ip)
        .target(c.target)
}

pub fn reload(user: Option<&str>, what: &str, by: Option<&str>, seq: u64) -> Draft {
    let who = user.unwrap_or("warden");
    let by_text = by.map(|b| format!(" by {b}")).unwrap_or_default();
    let explanation =
        format!("{who}: Warden configuration reload{by_text} changed users or roles: {what}");
    let d = Draft::new(Detector::PrivilegeChange, explanation, vec![seq]);
    match user.or(by) {
        Some(u) => d.user(u),
        None => d,
    }
}
