//! The per-user page `/users/{name}`: a user's usual hours (hour-of-week heatmap), usual
//! targets and client addresses, the per-day volume trend, error share, trust, and the
//! alerts about them that are not resolved (linked to the Alerts page).
//!
//! Server-rendered and complete without JavaScript; reads through the same
//! [`profile::load`](crate::profile) as the API, with the same roles (the readers of
//! alerts). Every user-controlled string (names, targets, addresses, explanations) goes
//! through maud's escaping. Never decides an action.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use time::OffsetDateTime;
use warden_analytics::UserBaseline;

use super::charts::{heatmap, volume_bars};
use super::layout::{error_page, html_page, page, Nav};
use super::{percent_encode, show_time, PageUser};
use crate::app::App;
use crate::profile::{self, UserProfile};

pub async fn show(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = profile::require_reader(&who.user) {
        return error_page(&e);
    }
    let p = match profile::load(&app, &name) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let title = format!("User {}", p.user);
    html_page(
        StatusCode::OK,
        page(&title, Some(&who), Nav::Alerts, body(&p)),
    )
}

fn body(p: &UserProfile) -> Markup {
    html! {
        h1 { "User " (p.user) }
        p.meta {
            @if p.configured {
                span { "Warden user, roles " b { (roles(&p.configured_roles)) } }
            } @else {
                span { "not a configured Warden user (seen in the audit log only)" }
            }
            @if let Some(b) = &p.baseline {
                span { "baseline: " b { (trust(b)) } }
                span { "last active " b { (unix_time(b.last_active)) } }
                span { "error share " b { (format!("{:.1}%", b.error_share * 100.0)) } }
            }
        }
        (alerts(p))
        @match &p.baseline {
            None => {
                p.card { "No activity of " (p.user) " in the analytics baseline window yet." }
            }
            Some(b) => { (baseline(b)) }
        }
    }
}

fn alerts(p: &UserProfile) -> Markup {
    html! {
        section.card #open-alerts {
            h2 { "Open alerts (" (p.open_alerts.len()) ")" }
            @if p.open_alerts.is_empty() {
                p.muted { "None." }
            } @else {
                ul {
                    @for a in &p.open_alerts {
                        @let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
                        li {
                            a href={ "/alerts?status=" (percent_encode(&s("status"))) } {
                                span.severity { (s("severity")) } " " (s("detector"))
                            }
                            " — " (s("status")) " · " code { (s("id")) } " · " (s("raised_at"))
                            br;
                            span { (s("explanation")) }
                        }
                    }
                }
            }
            p { a href="/alerts" { "All alerts" } }
        }
    }
}

fn baseline(b: &UserBaseline) -> Markup {
    html! {
        section.card #usual-hours {
            h2 { "Usual hours" }
            p.muted {
                "Days with activity in each hour of the week over the last "
                (b.baseline_days) " days, today included."
            }
            (heatmap(&b.hour_of_week, &b.time_zone))
        }
        div.profile-grid {
            section.card #usual-targets {
                h2 { "Usual targets" }
                @if b.targets.is_empty() { p.muted { "None yet." } } @else {
                    table {
                        thead { tr { th { "target" } th { "actions" } th { "last seen" } } }
                        tbody {
                            @for t in &b.targets {
                                tr { td { (t.name) } td { (t.actions) } td { (unix_time(t.last_seen)) } }
                            }
                        }
                    }
                }
            }
            section.card #usual-addresses {
                h2 { "Usual client addresses" }
                @if b.addresses.is_empty() { p.muted { "None yet." } } @else {
                    table {
                        thead { tr { th { "address" } th { "last seen" } } }
                        tbody {
                            @for a in &b.addresses {
                                tr { td { code { (a.address) } } td { (unix_time(a.last_seen)) } }
                            }
                        }
                    }
                }
            }
        }
        section.card #volume-trend {
            h2 { "Volume trend" }
            p.muted { "Actions per day (failed ones in red), oldest left, today right." }
            (volume_bars(&b.daily))
        }
    }
}

fn roles(r: &[String]) -> String {
    if r.is_empty() {
        "none".to_string()
    } else {
        r.join(", ")
    }
}

fn trust(b: &UserBaseline) -> String {
    let state = match (b.trusted, b.knows_habits) {
        (true, true) => "trusted (hours, volume, targets and addresses)",
        (true, false) => "trusted for hours and volume; targets and addresses still learning",
        _ => "still learning (judged against the role or working hours)",
    };
    format!("{state}, {} active days", b.active_days)
}

fn unix_time(secs: i64) -> String {
    if secs <= 0 {
        return "never".to_string();
    }
    OffsetDateTime::from_unix_timestamp(secs)
        .map(show_time)
        .unwrap_or_else(|_| secs.to_string())
}
