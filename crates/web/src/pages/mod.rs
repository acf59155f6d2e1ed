//! The console's HTML pages (maud templates, checked at compile time).
//!
//! Pages never render a held statement truncated, and every form they render carries
//! the session's CSRF token.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod charts;
pub mod inbox;
pub mod insights;
pub mod insights_charts;
pub mod layout;
pub mod login;
pub mod oidc;
pub mod policies;
pub mod request;
pub mod targets;
pub mod tokens;
pub mod user;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::App;
use crate::auth::{authenticate, Authed};
use crate::error::WebError;

/// Extractor for pages: like `Authed`, but an anonymous visitor is sent to the login
/// page (and back afterwards) instead of getting a JSON 401.
pub struct PageUser(pub Authed);

impl FromRequestParts<App> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        match authenticate(parts, app).await {
            Ok(a) => Ok(PageUser(a)),
            Err(WebError::Unauthorized) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let next = percent_encode(next);
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            Err(e) => Err(layout::error_page(&e).into_response()),
        }
    }
}

/// Percent-encoding for one path segment (a user name in `/users/{name}`): like
/// [`percent_encode`], but `/` is encoded too.
pub fn percent_encode_segment(s: &str) -> String {
    percent_encode(s).replace('/', "%2F")
}

/// Minimal percent-encoding for a query value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A redirect target is only ever a local path (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/inbox".to_string(),
    }
}

/// "3m 12s" style durations.
pub fn human_duration(d: time::Duration) -> String {
    let secs = d.whole_seconds().max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// RFC3339 with second precision, for display.
pub fn show_time(t: time::OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
