//! The audit explorer: filters, paging, each record's hash, and a chain status badge
//! with a "verify now" action.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{error_page, html_page, page, Nav};
use super::{percent_encode, show_time, PageUser};
use crate::app::{App, ChainStatus};
use crate::audit_query::{run_query, AuditParams};
use crate::error::WebError;
use crate::fleet_audit::run_fleet_query;
use warden_audit::Record;

fn chain_badge(status: Option<&ChainStatus>) -> Markup {
    html! {
        @match status {
            None => span.badge.muted #chain-badge { "chain not verified yet" },
            Some(s) if s.ok => span.badge.ok #chain-badge title=(format!("head {}", s.head)) {
                "chain intact: " (s.records) " records (verified " (show_time(s.at)) ")"
            },
            Some(s) => span.badge.bad #chain-badge role="alert" {
                "CHAIN BROKEN: " (s.problem.clone().unwrap_or_default()) " (verified " (show_time(s.at)) ")"
            },
        }
    }
}

fn value(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The link to the next page: the filters, then `tail` (`after=N`, or
/// `fleet=true&cursor=…`).
fn next_link(p: &AuditParams, tail: &str) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("user", &p.user),
        ("target", &p.target),
        ("verdict", &p.verdict),
        ("since", &p.since),
        ("until", &p.until),
        ("q", &p.q),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", percent_encode(v)));
        }
    }
    if let Some(l) = p.limit {
        parts.push(format!("limit={l}"));
    }
    parts.push(tail.to_string());
    format!("/audit?{}", parts.join("&"))
}

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Query(params): Query<AuditParams>,
) -> Response {
    if !who.user.can_read_audit() {
        return error_page(&WebError::Forbidden(format!(
            "{} needs role viewer or admin to read the audit log",
            who.user.name
        )));
    }
    let fleet_mode = app.state().fleet_audit.is_some();
    let whole_fleet = fleet_mode && params.fleet == Some(true);
    let page_result: Result<Rows, WebError> = if whole_fleet {
        run_fleet_query(&app, &params).await.map(|p| {
            let next = p.next.map(|c| {
                next_link(
                    &params,
                    &format!("fleet=true&cursor={}", percent_encode(&c)),
                )
            });
            let rows = p
                .records
                .into_iter()
                .map(|r| (Some(r.replica), r.record))
                .collect();
            (rows, next)
        })
    } else {
        run_query(&app, &params).map(|p| {
            let next = p.next.map(|a| next_link(&params, &format!("after={a}")));
            (p.records.into_iter().map(|r| (None, r)).collect(), next)
        })
    };
    let status = app.chain_status();
    let verdict = value(&params.verdict);
    let body = html! {
        h1 { "Audit log" }
        div.card {
            (chain_badge(status.as_ref()))
            form.inline method="post" action="/audit/verify" {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Verify now" }
            }
        }
        form.filters.card method="get" action="/audit" {
            label { "User" input name="user" value=(value(&params.user)); }
            label { "Target" input name="target" value=(value(&params.target)); }
            label { "Verdict"
                select name="verdict" {
                    @for v in ["", "allow", "deny", "hold"] {
                        option value=(v) selected[verdict == v] { @if v.is_empty() { "any" } @else { (v) } }
                    }
                }
            }
            label { "Since (RFC3339)" input name="since" value=(value(&params.since)) placeholder="2026-01-31T00:00:00Z"; }
            label { "Until (RFC3339)" input name="until" value=(value(&params.until)); }
            label { "Text" input name="q" value=(value(&params.q)); }
            @if fleet_mode {
                label { input type="checkbox" name="fleet" value="true" checked[whole_fleet]; " All replicas" }
            }
            button type="submit" { "Filter" }
        }
        @match page_result {
            Err(e) => div.flash.error role="alert" { (e.to_string()) },
            Ok((rows, next)) => {
                table.audit {
                    thead { tr {
                        @if whole_fleet { th { "replica" } }
                        th { "#" } th { "time" } th { "event" } th { "who" } th { "target" } th { "verdict" } th { "detail" } th { "hash" }
                    } }
                    tbody {
                        @for (replica, r) in &rows { (record_row(replica.as_deref(), r)) }
                    }
                }
                @if rows.is_empty() { p.muted { "No records match." } }
                @if let Some(link) = next { p { a href=(link) { "Older records →" } } }
            },
        }
    };
    html_page(StatusCode::OK, page("Audit", Some(&who), Nav::Audit, body))
}

/// The rows of a page (the replica's id on a fleet page) and the next page's link.
type Rows = (Vec<(Option<String>, Record)>, Option<String>);

/// One record as a table row (with its replica's id first on a fleet page).
fn record_row(replica: Option<&str>, r: &Record) -> Markup {
    html! {
        tr {
            @if let Some(id) = replica { td { (id) } }
            td { (r.seq) }
            td { (show_time(r.time)) }
            td { (format!("{:?}", r.event.kind)) }
            td { (r.event.actor.as_ref().map(|a| a.name.clone()).unwrap_or_default()) }
            td { (r.event.target.clone().unwrap_or_default()) }
            td { @if let Some(v) = &r.event.verdict { (v.decision) @if !v.rules.is_empty() { " (" (v.rules.join(", ")) ")" } } }
            td {
                @if let Some(a) = &r.event.action { code { (a.raw) } br; }
                @if let Some(ap) = &r.event.approval { a href=(format!("/approvals/{}", ap.id)) { "approval " (ap.id) } " " }
                (r.event.detail.clone().unwrap_or_default())
            }
            td.hash title=(format!("prev {}", r.prev_hash)) { (r.hash) }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    pub csrf: Option<String>,
}

pub async fn verify(
    State(app): State<App>,
    PageUser(who): PageUser,
    Form(form): Form<VerifyForm>,
) -> Response {
    if let Err(e) = who.check_csrf(form.csrf.as_deref()) {
        return error_page(&e);
    }
    if !who.user.can_read_audit() {
        return error_page(&WebError::Forbidden("role viewer or admin needed".into()));
    }
    if let Err(e) = app.verify_chain().await {
        return error_page(&e);
    }
    Redirect::to("/audit").into_response()
}
