//! The inbox: pending requests newest first (live via `/events`), recent decisions,
//! and notification failures.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use warden_approval::ApprovalState;

use super::layout::{html_page, page, Nav};
use super::request::{card, state_badge};
use super::{show_time, PageUser};
use crate::app::App;
use crate::auth::Authed;

const RECENT: usize = 20;

fn items(app: &App, who: &Authed) -> Markup {
    let pending = app.state().approvals.list(Some(ApprovalState::Pending));
    html! {
        p.meta { b #pending-count { (pending.len()) } " pending" }
        @if pending.is_empty() {
            p.muted #inbox-empty { "Nothing is waiting for a decision." }
        }
        @for req in &pending { (card(who, req, false)) }
    }
}

pub async fn fragment(State(app): State<App>, PageUser(who): PageUser) -> Response {
    Html(items(&app, &who).into_string()).into_response()
}

pub async fn show(State(app): State<App>, PageUser(who): PageUser) -> Response {
    let recent: Vec<_> = app
        .state()
        .approvals
        .list(None)
        .into_iter()
        .filter(|r| r.state != ApprovalState::Pending)
        .take(RECENT)
        .collect();
    let failures = app.failures();
    let body = html! {
        h1 { "Approvals" }
        p.muted { "Keys: j/k move between requests, Enter opens, / jumps to the reason field." }
        @if !failures.is_empty() {
            section.card role="alert" {
                h2 { "Notification failures" }
                ul { @for f in failures.iter().take(5) {
                    li { (show_time(f.at)) " — " (f.event) " to " (f.url) ": " (f.error) }
                } }
            }
        }
        section aria-label="Pending requests" #inbox-list { (items(&app, &who)) }
        section.card {
            h2 { "Recent decisions" }
            @if recent.is_empty() { p.muted { "None yet." } }
            ul { @for r in &recent {
                li { (state_badge(r.state)) " " a href=(format!("/approvals/{}", r.id)) { (r.id) } " — " (r.action.user.name) " on " (r.action.target.name) }
            } }
        }
    };
    html_page(
        StatusCode::OK,
        page("Approvals", Some(&who), Nav::Inbox, body),
    )
}
