//! The Insights page `/insights`: activity over time stacked by decision, hour × weekday
//! grids (the selection, the busiest roles and users), feature usage (most and least
//! used targets, statement kinds, endpoints, Kubernetes resources, SSH programs), error
//! classes with their targets and users, logins by front-end and method, approvals.
//! A GET form filters by user, role, target, protocol, time range and step; each chart
//! links its CSV (`/insights/CHART.csv`) and JSON (`/api/v1/insights/CHART`) with the
//! same filters.
//!
//! Renders a report the live aggregator computed (never scans the audit chain), with the
//! roles that read alerts. Complete without JavaScript; every name is escaped by maud.
//! Never decides an action.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use warden_analytics::insights::{ApprovalReport, ErrorClassRow, Named, Report, UsageList};

use super::insights_charts::{activity, bars, grid};
use super::layout::{error_page, html_page, page, Nav};
use super::PageUser;
use crate::app::App;
use crate::insights::{load, require_reader, InsightParams};

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Query(params): Query<InsightParams>,
) -> Response {
    if let Err(e) = require_reader(&who.user) {
        return error_page(&e);
    }
    let report = match load(&app, &params).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    html_page(
        StatusCode::OK,
        page(
            "Insights",
            Some(&who),
            Nav::Insights,
            body(&report, &params),
        ),
    )
}

/// The whole page body for a report (also used by the timing example).
pub fn body(r: &Report, params: &InsightParams) -> Markup {
    let q = params.query_string();
    html! {
        h1 { "Insights" }
        p.muted {
            "From the live analytics aggregates (" (r.records) " records counted since the gateway started, "
            "including the restored baseline window). Hours and days are local to UTC"
            (offset(r.utc_offset)) "."
        }
        (filters(r, params))
        section.card #activity {
            h2 { "Activity over time" }
            p.meta {
                span { "allowed " b { (r.totals[0]) } }
                span { "denied " b { (r.totals[1]) } }
                span { "held " b { (r.totals[2]) } }
                span { "one bar per " (r.step) }
            }
            @if r.activity.is_empty() { p.muted { "No actions in this range." } }
            @else { (activity(&r.activity, r.step)) }
            (downloads("activity", &q))
        }
        section.card #heatmaps {
            h2 { "When people work" }
            p.muted { "Actions per hour of the week, Monday first; darker = more. Hover a cell for its number." }
            (grid(&r.heatmap, false))
            div.insight-grid {
                div #role-heatmaps {
                    h3 { "By role" }
                    @for g in &r.role_heatmaps { p.grid-name { (g.name) " · " (g.total) } (grid(g, true)) }
                }
                div #user-heatmaps {
                    h3 { "By user" }
                    @for g in &r.user_heatmaps { p.grid-name { (g.name) " · " (g.total) } (grid(g, true)) }
                }
            }
            (downloads("heatmap", &q))
        }
        section.card #usage {
            h2 { "Feature usage" }
            div.insight-grid {
                @for u in &r.usage { (usage(u)) }
            }
            (downloads("usage", &q))
        }
        section.card #errors {
            h2 { "Errors" }
            (errors(&r.errors))
            (downloads("errors", &q))
        }
        section.card #auth {
            h2 { "Logins" }
            @if r.auth.is_empty() { p.muted { "No logins in this range." } } @else {
                @let ok: Vec<Named> = r.auth.iter().filter(|a| a.successes > 0)
                    .map(|a| Named { name: format!("{} · {}", a.front_end, a.method), count: a.successes }).collect();
                @let failed: Vec<Named> = r.auth.iter().filter(|a| a.failures + a.lockouts > 0)
                    .map(|a| Named { name: format!("{} · {}", a.front_end, a.method), count: a.failures + a.lockouts }).collect();
                div.insight-grid {
                    div #auth-successes { h3 { "Successes by front-end and method" } (bars(&ok, "okbar", "successful logins")) }
                    div #auth-failures { h3 { "Failures and lockouts by front-end and method" } (bars(&failed, "errbar", "failed logins")) }
                }
                table.compact {
                    thead { tr { th { "front-end" } th { "method or reason" } th { "ok" } th { "failed" } th { "locked out" } } }
                    tbody { @for a in &r.auth { tr { td { (a.front_end) } td { (a.method) } td { (a.successes) } td { (a.failures) } td { (a.lockouts) } } } }
                }
            }
            (downloads("auth", &q))
        }
        section.card #approvals {
            h2 { "Approvals" }
            (approvals(&r.approvals))
            (downloads("approvals", &q))
        }
    }
}

fn offset(secs: i64) -> String {
    if secs == 0 {
        return String::new();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

fn downloads(chart: &str, q: &str) -> Markup {
    let sep = if q.is_empty() { "" } else { "?" };
    html! {
        p.downloads {
            a href={ "/insights/" (chart) ".csv" (sep) (q) } download { "CSV" }
            " · "
            a href={ "/api/v1/insights/" (chart) (sep) (q) } { "JSON" }
        }
    }
}

fn select(name: &str, label: &str, options: &[String], current: Option<&str>) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" { "any" }
                @for o in options {
                    option value=(o) selected[current == Some(o.as_str())] { (o) }
                }
            }
        }
    }
}

fn filters(r: &Report, p: &InsightParams) -> Markup {
    let c = &r.choices;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.filters.insight-filters.card method="get" action="/insights" {
            (select("user", "user", &c.users, r.filter.user.as_deref()))
            (select("role", "role", &c.roles, r.filter.role.as_deref()))
            (select("target", "target", &c.targets, r.filter.target.as_deref()))
            (select("protocol", "protocol", &c.protocols, r.filter.protocol.as_deref()))
            label { "since" input type="text" name="since" value=(text(&p.since)) placeholder="7d, 2026-01-05 or RFC3339"; }
            label { "until" input type="text" name="until" value=(text(&p.until)) placeholder="empty = now"; }
            label {
                "step"
                select name="step" {
                    @for s in ["auto", "hour", "day"] {
                        option value=(s) selected[p.step.as_deref() == Some(s)] { (s) }
                    }
                }
            }
            button type="submit" { "Apply" }
            a href="/insights" { "Reset" }
        }
    }
}

fn usage(u: &UsageList) -> Markup {
    let title = match u.feature.as_str() {
        "target" => "Targets",
        "sql-statement" => "SQL statement kinds",
        "http-endpoint" => "HTTP endpoints",
        "kubernetes-resource" => "Kubernetes resources",
        _ => "SSH programs",
    };
    html! {
        div.usage data-feature=(u.feature) {
            h3 { (title) " " span.muted { "(" (u.names) " used, " (u.total) " uses)" } }
            @if u.top.is_empty() { p.muted { "None in this range." } } @else {
                p.muted { "Most used" }
                (bars(&u.top, "bar", title))
                @if !u.bottom.is_empty() {
                    p.muted { "Least used" }
                    (bars(&u.bottom, "bar", title))
                }
            }
        }
    }
}

fn errors(rows: &[ErrorClassRow]) -> Markup {
    let classes: Vec<Named> = rows
        .iter()
        .map(|e| Named {
            name: e.class.clone(),
            count: e.count,
        })
        .collect();
    let names = |v: &[Named]| {
        v.iter()
            .take(3)
            .map(|n| format!("{} ({})", n.name, n.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    html! {
        @if rows.is_empty() { p.muted { "No failed actions in this range." } } @else {
            p.muted { "Failed outcomes by class: SQLSTATE class (PostgreSQL), MySQL error code, HTTP status, SSH exit status." }
            (bars(&classes, "errbar", "errors by class"))
            table.compact {
                thead { tr { th { "class" } th { "count" } th { "targets" } th { "users who hit it most" } } }
                tbody {
                    @for e in rows {
                        tr data-class=(e.class) {
                            td { (e.class) } td { (e.count) } td { (names(&e.targets)) } td { (names(&e.users)) }
                        }
                    }
                }
            }
        }
    }
}

fn seconds(v: Option<u64>) -> String {
    v.map_or_else(
        || "—".to_string(),
        |s| super::human_duration(time::Duration::seconds(s as i64)),
    )
}

fn approvals(a: &ApprovalReport) -> Markup {
    html! {
        p.meta {
            span { "requests " b { (a.requests) } }
            span { "approvals " b { (a.approvals) } }
            span { "denied " b { (a.denied) } }
            span { "expired " b { (a.expired) } }
            span { "withdrawn " b { (a.withdrawn) } }
        }
        p.meta {
            span { "time to decision: median " b #approval-median { (seconds(a.median_seconds)) } }
            span { "90th percentile " b #approval-p90 { (seconds(a.p90_seconds)) } }
            span { "(" (a.decided) " decided)" }
        }
        @if !a.deciders.is_empty() {
            h3 { "Who decides" }
            (bars(&a.deciders, "okbar", "approvers"))
        }
    }
}
