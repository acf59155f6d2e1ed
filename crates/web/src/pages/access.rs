//! The access report page `/reports/access`: attempts by role (and per target), roles
//! held and used, privileged roles nobody used, roles with no active user, and sensitive
//! actions by human accounts — with a window form and CSV / JSON / text downloads.
//!
//! Server-rendered, complete without JavaScript; reads through the same
//! [`access::load`](crate::access) as the API, with the same roles. Every name and
//! statement goes through maud's escaping. Never decides an action.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use warden_analytics::access::AccessReport;

use super::layout::{error_page, html_page, page, Nav};
use super::{percent_encode, percent_encode_segment, PageUser};
use crate::access::{self, AccessParams, DEFAULT_SINCE};
use crate::app::App;

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Query(p): Query<AccessParams>,
) -> Response {
    if let Err(e) = access::require_reader(&who.user) {
        return error_page(&e);
    }
    let (since, until) = match access::window(&p) {
        Ok(w) => w,
        Err(e) => return error_page(&e),
    };
    let r = match access::load(&app, since, until).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let body = body(&p, &r);
    html_page(
        StatusCode::OK,
        page("Access report", Some(&who), Nav::Access, body),
    )
}

fn downloads(p: &AccessParams) -> Markup {
    let since = p.since.clone().unwrap_or_else(|| DEFAULT_SINCE.into());
    let mut q = format!("since={}", percent_encode(&since));
    if let Some(u) = p.until.as_deref().filter(|u| !u.is_empty()) {
        q.push_str(&format!("&until={}", percent_encode(u)));
    }
    html! {
        p.meta {
            "Download: "
            a href=(format!("/api/v1/reports/access?{q}&format=csv")) { "CSV" } " · "
            a href=(format!("/api/v1/reports/access?{q}&format=json")) { "JSON" } " · "
            a href=(format!("/api/v1/reports/access?{q}&format=text")) { "text" }
        }
    }
}

fn user_link(name: &str) -> Markup {
    html! { a href=(format!("/users/{}", percent_encode_segment(name))) { (name) } }
}

fn body(p: &AccessParams, r: &AccessReport) -> Markup {
    html! {
        h1 { "Access report" }
        form.filters method="get" action="/reports/access" {
            label { "since " input name="since" value=(p.since.clone().unwrap_or_else(|| DEFAULT_SINCE.into())) size="22"; }
            " "
            label { "until " input name="until" value=(p.until.clone().unwrap_or_default()) placeholder="now" size="22"; }
            " "
            button type="submit" { "Show" }
        }
        p.muted {
            (r.since.as_deref().unwrap_or("")) " to " (r.until.as_deref().unwrap_or("now"))
            " · " (r.records) " records. Durations (30d, 12h) count back from now; RFC 3339 times also work."
        }
        (downloads(p))
        h2 { "Attempts by role" }
        table.audit {
            thead { tr { th { "role" } th { "target" } th { "allowed" } th { "denied" } th { "held" } th { "failed logins" } th { "holders (active)" } } }
            tbody {
                @for row in &r.roles {
                    tr {
                        td { b { (row.role) } } td { "all" }
                        td { (row.counts.allowed) } td { (row.counts.denied) } td { (row.counts.held) } td { (row.counts.failed_logins) }
                        td { (row.holders.len()) " (" (row.active_holders.len()) ")" }
                    }
                    @for t in &row.targets {
                        tr.sub {
                            td {} td { (t.target) }
                            td { (t.counts.allowed) } td { (t.counts.denied) } td { (t.counts.held) } td { (t.counts.failed_logins) } td {}
                        }
                    }
                }
            }
        }
        h2 { "Roles held and used" }
        table.audit {
            thead { tr { th { "user" } th { "account" } th { "records" } th { "roles" } } }
            tbody {
                @for u in &r.users {
                    tr {
                        td { (user_link(&u.user)) }
                        td { @if u.service { "service" } @else { "human" } }
                        td { (u.activity) }
                        td {
                            @for x in &u.roles {
                                @if x.used {
                                    span.badge.allowed title=(x.via.join("; ")) { (x.role) " used " (x.uses) "×" } " "
                                } @else {
                                    span.badge.expired { (x.role) " unused" } " "
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Privileged roles never used in the window" }
        @if r.unused_privileges.is_empty() { p { "None." } }
        ul { @for x in &r.unused_privileges { li { (user_link(&x.user)) " holds " b { (x.role) } " — " (x.why) } } }
        h2 { "Roles with no active user" }
        @if r.idle_roles.is_empty() { p { "None." } }
        ul {
            @for x in &r.idle_roles {
                li {
                    b { (x.role) } " — "
                    @if x.holders.is_empty() { "held by nobody" } @else { "held by " (x.holders.join(", ")) }
                    "; named by " @if x.named_by.is_empty() { "no rule" } @else { (x.named_by.join(", ")) }
                }
            }
        }
        h2 { "Sensitive actions by human accounts (" (r.sensitive_total) ")" }
        @if r.sensitive_actions.is_empty() { p { "None in the window." } }
        table.audit {
            @if !r.sensitive_actions.is_empty() {
                thead { tr { th { "#" } th { "time" } th { "user" } th { "target" } th { "decision" } th { "why" } th { "statement" } } }
            }
            tbody {
                @for a in r.sensitive_actions.iter().rev() {
                    tr {
                        td { (a.seq) } td { (a.time) } td { (user_link(&a.user)) } td { (a.target) } td { (a.decision) }
                        td {
                            @if let Some(pc) = &a.privilege_change { "privilege change: " (pc) }
                            @else { "sensitive rule " (a.sensitive_rules.join(", ")) }
                        }
                        td { code { (a.statement) } }
                    }
                }
            }
        }
    }
}
