//! `first-access`: a user on a target they have not used in the baseline window (only
//! once their habits are known: twice `min_history` and 5 active days), unless the
//! target is usual for their role (used regularly — on occasions at least a day apart —
//! by `threshold` of the other members, default a tenth, at least one). A peer's single
//! visit does not count: it may itself have been someone's first access.
//!
//! A target nobody used before still counts: new infrastructure is worth a look.

use std::net::IpAddr;

use super::Draft;
use crate::settings::Detector;

pub struct Context<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub ip: Option<IpAddr>,
    pub seq: u64,
    /// Targets the user used in the baseline window.
    pub usual_targets: usize,
    /// Peers in the user's roles who used the target, and how many peers are needed.
    pub peers: usize,
    pub peers_needed: usize,
    pub roles: String,
    pub baseline: String,
}

pub fn check(c: Context<'_>) -> Option<Draft> {
    if c.peers >= c.peers_needed {
        return None;
    }
    let role = if c.roles.is_empty() {
        String::new()
    } else {
        format!(
            "; {} of its peers in role {} use it regularly (usual for the role from {})",
            c.peers, c.roles, c.peers_needed
        )
    };
    let explanation = format!(
        "{}: first access to {} in {} (usually on {} other target{}){role}",
        c.name,
        c.target,
        c.baseline,
        c.usual_targets,
        if c.usual_targets == 1 { "" } else { "s" }
    );
    Some(
        Draft::new(Detector::FirstAccess, explanation, vec![c.seq])
            .user(c.name)
            .ip(c.ip)
            .target(Some(c.target)),
    )
}
