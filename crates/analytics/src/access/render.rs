//! The access report as text (for a terminal) and as one CSV table (a `section` column
//! says which part of the report a row belongs to). Never changes a number.

use std::fmt::Write;

use super::report::{AccessReport, Counts};

fn counts_line(c: &Counts) -> String {
    format!(
        "allowed {:>6}  denied {:>5}  held {:>5}  failed logins {:>5}",
        c.allowed, c.denied, c.held, c.failed_logins
    )
}

/// Human-readable report.
pub fn to_text(r: &AccessReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Access report: {} to {} ({} records)",
        r.since.as_deref().unwrap_or("the first record"),
        r.until.as_deref().unwrap_or("now"),
        r.records
    );
    let _ = writeln!(s, "\nAttempts by role");
    for row in &r.roles {
        let _ = writeln!(
            s,
            "  {:<20} {}  (holders {}, active {})",
            row.role,
            counts_line(&row.counts),
            row.holders.len(),
            row.active_holders.len()
        );
        for t in &row.targets {
            let _ = writeln!(s, "    {:<18} {}", t.target, counts_line(&t.counts));
        }
    }
    let _ = writeln!(s, "\nRoles held and used");
    for u in &r.users {
        let roles = u
            .roles
            .iter()
            .map(|x| format!("{} ({})", x.role, if x.used { "used" } else { "unused" }))
            .collect::<Vec<_>>()
            .join(", ");
        let kind = if u.service { "service" } else { "human" };
        let _ = writeln!(
            s,
            "  {:<20} {kind:<7} {:>6} records  {roles}",
            u.user, u.activity
        );
    }
    let _ = writeln!(s, "\nPrivileged roles never used in the window");
    if r.unused_privileges.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for p in &r.unused_privileges {
        let _ = writeln!(s, "  {} holds {} ({})", p.user, p.role, p.why);
    }
    let _ = writeln!(s, "\nRoles with no active user");
    if r.idle_roles.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for i in &r.idle_roles {
        let holders = if i.holders.is_empty() {
            "held by nobody".to_string()
        } else {
            format!("held by {}", i.holders.join(", "))
        };
        let _ = writeln!(
            s,
            "  {:<20} {holders}; named by {}",
            i.role,
            list(&i.named_by)
        );
    }
    let _ = writeln!(
        s,
        "\nSensitive actions by human accounts: {} (listed: {})",
        r.sensitive_total,
        r.sensitive_actions.len()
    );
    for a in &r.sensitive_actions {
        let why = match (&a.privilege_change, a.sensitive_rules.is_empty()) {
            (Some(p), _) => format!("privilege change: {p}"),
            (None, false) => format!("sensitive rule {}", a.sensitive_rules.join(", ")),
            (None, true) => String::new(),
        };
        let _ = writeln!(
            s,
            "  #{} {} {} on {}: {} [{}] {}",
            a.seq, a.time, a.user, a.target, a.decision, why, a.statement
        );
    }
    s
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "no rule".into()
    } else {
        v.join(", ")
    }
}

/// Quote a CSV field when it needs it (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV table: `section,role,user,target,allowed,denied,held,failed_logins,detail`.
pub fn to_csv(r: &AccessReport) -> String {
    let mut s = String::from("section,role,user,target,allowed,denied,held,failed_logins,detail\n");
    let mut row =
        |section: &str, role: &str, user: &str, target: &str, c: Option<&Counts>, detail: &str| {
            let n = |f: fn(&Counts) -> u64| c.map(|c| f(c).to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "{section},{},{},{},{},{},{},{},{}",
                field(role),
                field(user),
                field(target),
                n(|c| c.allowed),
                n(|c| c.denied),
                n(|c| c.held),
                n(|c| c.failed_logins),
                field(detail)
            );
        };
    for x in &r.roles {
        row(
            "role",
            &x.role,
            "",
            "",
            Some(&x.counts),
            &format!("holders: {}", x.holders.join(" ")),
        );
        for t in &x.targets {
            row("role_target", &x.role, "", &t.target, Some(&t.counts), "");
        }
    }
    for u in &r.users {
        for x in &u.roles {
            let detail = if x.used {
                format!("used {} times: {}", x.uses, x.via.join("; "))
            } else {
                "unused".to_string()
            };
            row("role_use", &x.role, &u.user, "", None, &detail);
        }
    }
    for p in &r.unused_privileges {
        row("unused_privilege", &p.role, &p.user, "", None, &p.why);
    }
    for i in &r.idle_roles {
        row(
            "idle_role",
            &i.role,
            "",
            "",
            None,
            &format!(
                "holders: {}; named by: {}",
                i.holders.join(" "),
                i.named_by.join(" ")
            ),
        );
    }
    for a in &r.sensitive_actions {
        let why = a
            .privilege_change
            .clone()
            .unwrap_or_else(|| format!("sensitive rule {}", a.sensitive_rules.join(" ")));
        row(
            "sensitive",
            "",
            &a.user,
            &a.target,
            None,
            &format!(
                "#{} {} {} {}: {}",
                a.seq, a.time, a.decision, why, a.statement
            ),
        );
    }
    s
}
