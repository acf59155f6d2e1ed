//! One approval request: the card shown in the inbox, the full request page (the URL
//! clients get in their notice) and the approve/deny form handlers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use time::OffsetDateTime;
use warden_approval::{entitled, ApprovalRequest, ApprovalState};
use warden_inspect::{Facts, Protocol};

use super::layout::{error_page, html_page, page, Nav};
use super::{human_duration, percent_encode, show_time, PageUser};
use crate::app::App;
use crate::auth::Authed;
use crate::error::WebError;
use crate::highlight::code_block;

pub fn state_badge(state: ApprovalState) -> Markup {
    html! { span class=(format!("badge s-{}", state.as_str())) { (state.as_str()) } }
}

fn is_sql(req: &ApprovalRequest) -> bool {
    matches!(req.action.facts, Facts::Sql(_))
        || matches!(req.action.protocol, Protocol::Postgres | Protocol::Mysql)
}

/// May `who` decide on `req` right now?
pub fn can_decide(who: &Authed, req: &ApprovalRequest) -> bool {
    req.state == ApprovalState::Pending
        && req.action.user.name != who.user.name
        && !req.approvals.iter().any(|d| d.by == who.user.name)
        && entitled(&req.spec, &who.user.actor())
}

/// The card for one request. `detail`: the request page (more fields, no link).
pub fn card(who: &Authed, req: &ApprovalRequest, detail: bool) -> Markup {
    let now = OffsetDateTime::now_utc();
    let waited = now - req.created_at;
    let a = &req.action;
    html! {
        article.card data-item tabindex="0" data-id=(req.id) aria-labelledby=(format!("h-{}", req.id)) {
            h2 #(format!("h-{}", req.id)) {
                (state_badge(req.state)) " "
                @if detail { "Request " (req.id) } @else {
                    a data-open href=(format!("/approvals/{}", req.id)) { "Request " (req.id) }
                }
            }
            div.meta {
                span { "who " b { (a.user.name) } @if !a.user.roles.is_empty() { " (" (a.user.roles.join(", ")) ")" } }
                span { "target " b { (a.target.name) } " · " (a.protocol.as_str()) }
                @if let Some(s) = &a.session { span { "session " (s) } }
                @if let Some(addr) = &a.user.client_addr { span { "from " (addr) } }
            }
            (code_block(&a.raw, is_sql(req)))
            div.meta { span { (a.raw.len()) " bytes, shown in full" } }
            p {
                "Held by " b { (req.rules.join(", ")) } ": " (req.message)
            }
            div.meta {
                span { "needs " b { (req.spec.required.max(1)) } " approval(s) from " (req.approvers_description()) }
                @if req.state == ApprovalState::Pending {
                    span { "waiting " b.waited data-since=(req.created_at.unix_timestamp()) { (human_duration(waited)) } }
                    span { "expires " b { (show_time(req.expires_at)) } " (in " (human_duration(req.expires_at - now)) ")" }
                } @else {
                    span { "created " (show_time(req.created_at)) }
                }
                @if req.retry_mode { span { "retry mode: the client re-sends after approval" } }
            }
            @if !req.approvals.is_empty() {
                p { "Approved by: "
                    @for (i, d) in req.approvals.iter().enumerate() {
                        @if i > 0 { ", " }
                        b { (d.by) } @if let Some(r) = &d.reason { " (“" (r) "”)" }
                    }
                }
            }
            @if let Some(d) = &req.denial {
                p.bad { "Denied by " b { (d.by) } @if let Some(r) = &d.reason { ": “" (r) "”" } }
            }
            @if can_decide(who, req) {
                form.decide method="post" action=(format!("/approvals/{}/decide", req.id)) {
                    input type="hidden" name="csrf" value=(who.csrf());
                    label.sr-only for=(format!("reason-{}", req.id)) { "Reason" }
                    input type="text" id=(format!("reason-{}", req.id)) name="reason" placeholder="Reason (optional)";
                    button.approve type="submit" name="decision" value="approve" { "Approve" }
                    button.deny type="submit" name="decision" value="deny" { "Deny" }
                }
            } @else if req.state == ApprovalState::Pending && req.action.user.name == who.user.name {
                p.muted { "You requested this; someone else has to decide." }
            }
        }
    }
}

fn timeline(req: &ApprovalRequest) -> Markup {
    html! {
        ol.timeline {
            li { (show_time(req.created_at)) " — held by " (req.rules.join(", ")) "; " (req.action.user.name) " is waiting" }
            @for d in &req.approvals {
                li { (show_time(d.at)) " — approved by " (d.by) @if let Some(r) = &d.reason { ": " (r) } }
            }
            @if let Some(d) = &req.denial {
                li { (show_time(d.at)) " — denied by " (d.by) @if let Some(r) = &d.reason { ": " (r) } }
            }
            @if let Some(t) = req.executed_at { li { (show_time(t)) " — executed (approval used)" } }
            @if let Some(r) = &req.ended_reason { li { (req.state.as_str()) " — " (r) } }
        }
    }
}

pub fn fragment_markup(who: &Authed, req: &ApprovalRequest) -> Markup {
    html! {
        (card(who, req, true))
        section.card {
            h3 { "Story" }
            (timeline(req))
            @if who.user.can_read_audit() {
                p { a href=(format!("/audit?q={}", percent_encode(&req.id))) { "Audit records for this request" } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Flash {
    pub done: Option<String>,
    pub error: Option<String>,
}

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(req) = app.state().approvals.get(&id) else {
        return error_page(&WebError::NotFound(format!("approval {id}")));
    };
    let body = html! {
        p { a href="/inbox" { "← Inbox" } }
        @if let Some(d) = &flash.done { div.flash role="status" { "Recorded: " (d) } }
        @if let Some(e) = &flash.error { div.flash.error role="alert" { (e) } }
        div #request-page data-id=(req.id) { (fragment_markup(&who, &req)) }
    };
    html_page(
        StatusCode::OK,
        page(&format!("Request {id}"), Some(&who), Nav::Inbox, body),
    )
}

pub async fn fragment(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(id): Path<String>,
) -> Response {
    match app.state().approvals.get(&id) {
        Some(req) => Html(fragment_markup(&who, &req).into_string()).into_response(),
        None => WebError::NotFound(format!("approval {id}")).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    pub csrf: Option<String>,
    pub decision: String,
    pub reason: Option<String>,
}

pub async fn decide(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    if let Err(e) = who.check_csrf(form.csrf.as_deref()) {
        return error_page(&e);
    }
    let reason = form
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let approvals = &app.state().approvals;
    let result = match form.decision.as_str() {
        "approve" => approvals.approve(&id, &who.user.actor(), reason).await,
        "deny" => approvals.deny(&id, &who.user.actor(), reason).await,
        other => return error_page(&WebError::BadRequest(format!("unknown decision `{other}`"))),
    };
    let target = match result {
        Ok(req) => format!(
            "/approvals/{id}?done={}",
            percent_encode(req.state.as_str())
        ),
        Err(e) => format!("/approvals/{id}?error={}", percent_encode(&e.to_string())),
    };
    Redirect::to(&target).into_response()
}
