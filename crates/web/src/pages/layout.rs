//! The page frame: header navigation, flash messages, the live-region, the assets.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::auth::Authed;
use crate::error::WebError;

pub const CSS: &str = include_str!("../../assets/console.css");
pub const JS: &str = include_str!("../../assets/console.js");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Inbox,
    Audit,
    Policies,
    Targets,
    Alerts,
    Access,
    Insights,
    Tokens,
    None,
}

pub fn page(title: &str, who: Option<&Authed>, nav: Nav, body: Markup) -> Markup {
    let current = |n: Nav| if n == nav { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Warden" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            body {
                a.sr-only href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Warden" }
                    @if let Some(who) = who {
                        // Only the pages this user may open are linked.
                        nav aria-label="Main" {
                            a href="/inbox" aria-current=[current(Nav::Inbox)] { "Approvals" }
                            @if who.user.can_read_audit() {
                                " "
                                a href="/audit" aria-current=[current(Nav::Audit)] { "Audit" }
                                " "
                                a href="/policies" aria-current=[current(Nav::Policies)] { "Policies" }
                                " "
                                a href="/targets" aria-current=[current(Nav::Targets)] { "Targets" }
                            }
                            @if who.user.can_read_alerts() {
                                " "
                                a href="/alerts" aria-current=[current(Nav::Alerts)] { "Alerts" }
                                " "
                                a href="/reports/access" aria-current=[current(Nav::Access)] { "Access" }
                                " "
                                a href="/insights" aria-current=[current(Nav::Insights)] { "Insights" }
                            }
                            " "
                            a href="/tokens" aria-current=[current(Nav::Tokens)] { "Tokens" }
                        }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(who.csrf());
                            span { (who.user.name) " " }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main {
                    p #live-status.sr-only role="status" aria-live="polite" {}
                    (body)
                }
            }
        }
    }
}

pub fn error_page(e: &WebError) -> Response {
    let body = html! {
        div.flash.error role="alert" { (e.to_string()) }
        p { a href="/inbox" { "Back to the inbox" } }
    };
    (
        e.status(),
        Html(page("Error", None, Nav::None, body).into_string()),
    )
        .into_response()
}

pub fn html_page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}
