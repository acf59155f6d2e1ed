//! The Alerts page: behaviour-analytics alerts, open ones first, each with its severity,
//! the explanation naming its numbers, the evidence linked to the audit records, and
//! acknowledge / resolve forms (admin or security, a reason required; the buttons have
//! access keys: Alt+A acknowledge, Alt+R resolve on the first open alert). User names
//! link to their per-user page (`/users/{name}`).
//!
//! Shows what the gateway's alert book holds; decisions go through the same
//! [`AlertDesk`](crate::alerts::AlertDesk) as the API and are recorded in the chain.
//! Never decides an action.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::layout::{error_page, html_page, page, Nav};
use super::{percent_encode, percent_encode_segment, PageUser};
use crate::api::clean_reason;
use crate::app::App;
use crate::error::WebError;

#[derive(Debug, Default, Deserialize)]
pub struct AlertsParams {
    pub status: Option<String>,
    pub done: Option<String>,
    pub error: Option<String>,
}

fn text<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Query(params): Query<AlertsParams>,
) -> Response {
    if !who.user.can_read_alerts() {
        return error_page(&WebError::Forbidden(format!(
            "{} needs role admin, security or viewer to see alerts",
            who.user.name
        )));
    }
    let Some(desk) = app.state().alerts.as_deref() else {
        return error_page(&WebError::NotFound(
            "behaviour analytics (off in this gateway)".into(),
        ));
    };
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "all");
    let alerts = desk.list(status, None, None);
    let may_decide = who.user.can_decide_alerts();
    let may_audit = who.user.can_read_audit();
    let mut first_open = true;
    let body = html! {
        h1 { "Alerts" }
        p.muted {
            "Raised by behaviour analytics from the audit log. Resolving an alert lifts its login lock at once."
        }
        p {
            a href="/alerts?status=open" { "open" } " · "
            a href="/alerts?status=acknowledged" { "acknowledged" } " · "
            a href="/alerts?status=resolved" { "resolved" } " · "
            a href="/alerts" { "all" }
        }
        @if let Some(done) = &params.done { p.notice { "Alert " (done) "." } }
        @if let Some(error) = &params.error { p.error { (error) } }
        @if alerts.is_empty() {
            p { "No alerts." }
        }
        @for a in &alerts {
            @let id = text(a, "id");
            @let open = text(a, "status") != "resolved";
            @let keys = open && may_decide && std::mem::take(&mut first_open);
            section.alert data-severity=(text(a, "severity")) {
                h2 {
                    span.severity { (text(a, "severity")) } " "
                    (text(a, "detector")) " — " (text(a, "status"))
                }
                @let explanation = text(a, "explanation");
                @let (summary, more) = explanation.split_once('\n').unwrap_or((explanation, ""));
                p { (summary) }
                // A config-drift alert's diff or change list, one line each.
                @if !more.is_empty() { pre.code { (more) } }
                p.muted {
                    code { (id) } " · raised " (text(a, "raised_at"))
                    @if let Some(u) = a["user"].as_str() {
                        " · user " a href={ "/users/" (percent_encode_segment(u)) } { b { (u) } }
                    }
                    @if let Some(c) = a["client_addr"].as_str() { " · from " code { (c) } }
                    @if let Some(t) = a["target"].as_str() { " · target " (t) }
                    @if let Some(by) = a["resolved_by"].as_str() { " · resolved by " (by) }
                    @else if let Some(by) = a["acknowledged_by"].as_str() { " · acknowledged by " (by) }
                    @if let Some(r) = a["reason"].as_str() { ": " (r) }
                }
                p {
                    "evidence: "
                    @for seq in a["evidence"].as_array().into_iter().flatten() {
                        @let n = seq.as_u64().unwrap_or(0);
                        @if may_audit {
                            a href={ "/audit?after=" (n + 1) } { "#" (n) } " "
                        } @else {
                            "#" (n) " "
                        }
                    }
                }
                @if open && may_decide {
                    form.inline method="post" action={ "/alerts/" (id) "/decide" } {
                        input type="hidden" name="csrf" value=(who.csrf());
                        label { "reason " input name="reason" required; }
                        " "
                        button name="decision" value="acknowledge" accesskey=[keys.then_some("a")] { "Acknowledge" }
                        " "
                        button name="decision" value="resolve" accesskey=[keys.then_some("r")] { "Resolve" }
                    }
                }
            }
        }
    };
    html_page(
        StatusCode::OK,
        page("Alerts", Some(&who), Nav::Alerts, body),
    )
}

#[derive(Debug, Deserialize)]
pub struct AlertDecideForm {
    pub csrf: Option<String>,
    pub decision: String,
    pub reason: Option<String>,
}

pub async fn decide(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(id): Path<String>,
    Form(form): Form<AlertDecideForm>,
) -> Response {
    if let Err(e) = who.check_csrf(form.csrf.as_deref()) {
        return error_page(&e);
    }
    if !who.user.can_decide_alerts() {
        return error_page(&WebError::Forbidden(
            "acknowledging and resolving alerts needs the admin or security role".into(),
        ));
    }
    let Some(desk) = app.state().alerts.clone() else {
        return error_page(&WebError::NotFound("behaviour analytics".into()));
    };
    let resolve = match form.decision.as_str() {
        "acknowledge" => false,
        "resolve" => true,
        other => return error_page(&WebError::BadRequest(format!("unknown decision `{other}`"))),
    };
    let Some(reason) = clean_reason(form.reason) else {
        return Redirect::to("/alerts?error=a%20reason%20is%20required").into_response();
    };
    let target = match desk
        .decide(id.clone(), resolve, who.user.actor(), reason)
        .await
    {
        Ok(a) => format!(
            "/alerts?done={}",
            percent_encode(&format!("{id} {}", text(&a, "status")))
        ),
        Err(e) => format!("/alerts?error={}", percent_encode(&e.to_string())),
    };
    Redirect::to(&target).into_response()
}
