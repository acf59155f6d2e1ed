//! `/tokens`: the signed-in person's gateway tokens (docs/console.md, "Gateway
//! tokens"). A form mints one with a chosen lifetime (at most `gateway_tokens.max_ttl`);
//! the new token is shown once, with copy-paste examples for the served targets; the
//! live tokens are listed (id, roles, created, expires), each with a revoke button.
//!
//! Every form carries the session's CSRF token. This page must never show a token other
//! than the one just minted, and never anyone else's tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use warden_gate::auth::{Minted, TokenInfo};

use super::layout::{html_page, page, Nav};
use super::PageUser;
use crate::app::{App, WebTarget};
use crate::auth::Authed;
use crate::error::WebError;
use crate::tokens::{self, rfc3339};

pub async fn show(State(app): State<App>, PageUser(who): PageUser) -> Response {
    render(&app, &who, StatusCode::OK, None, None)
}

#[derive(Debug, Default, Deserialize)]
pub struct MintForm {
    pub csrf: Option<String>,
    pub ttl: Option<String>,
}

pub async fn mint(
    State(app): State<App>,
    PageUser(who): PageUser,
    Form(form): Form<MintForm>,
) -> Response {
    let result = match who.check_csrf(form.csrf.as_deref()) {
        Ok(()) => match tokens::parse_ttl(&app, form.ttl.as_deref()) {
            Ok(ttl) => tokens::mint(&app, &who.user, ttl).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(minted) => render(&app, &who, StatusCode::CREATED, Some(&minted), None),
        Err(e) => render(&app, &who, e.status(), None, Some(&e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    pub csrf: Option<String>,
}

pub async fn revoke(
    State(app): State<App>,
    PageUser(who): PageUser,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let result = match who.check_csrf(form.csrf.as_deref()) {
        Ok(()) => tokens::revoke(&app, &who.user, &id).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => render(&app, &who, StatusCode::OK, None, None),
        Err(e) => render(&app, &who, e.status(), None, Some(&e)),
    }
}

fn render(
    app: &App,
    who: &Authed,
    status: StatusCode,
    minted: Option<&Minted>,
    error: Option<&WebError>,
) -> Response {
    let store = app.state().users.tokens();
    let settings = store.settings();
    let live = store.list(&who.user.name);
    let max = human(settings.max_ttl.as_secs());
    let body = html! {
        h1 { "Gateway tokens" }
        p {
            "A gateway token lets programs use the gateways as " strong { (who.user.name) }
            " with the roles of this sign-in (" (roles(&who.user.roles)) "), until it expires: "
            "as an HTTP bearer token (kubectl " code { "--token" } ") and as the password of a "
            "PostgreSQL login with your user name. Signing out does not revoke it."
        }
        @if let Some(e) = error { div.flash.error role="alert" { (e.to_string()) } }
        @if let Some(m) = minted { (new_token(app, &who.user.name, m)) }
        @if settings.enabled {
            section.card #mint {
                h2 { "Mint a token" }
                form method="post" action="/tokens" {
                    input type="hidden" name="csrf" value=(who.csrf());
                    label {
                        "Lifetime (at most " (max) ")"
                        input #ttl name="ttl" value=(max) pattern="[0-9]+(s|m|h|d)?" required;
                    }
                    button type="submit" { "Mint token" }
                }
                p.muted {
                    "You may hold " (settings.max_per_user) " live tokens at once."
                }
            }
        } @else {
            p.card { "Gateway tokens are turned off on this gateway (" code { "gateway_tokens.enabled" } ")." }
        }
        section.card #live-tokens {
            h2 { "Your live tokens (" (live.len()) ")" }
            @if live.is_empty() {
                p.muted { "None." }
            } @else {
                table {
                    thead { tr { th { "id" } th { "roles" } th { "created" } th { "expires" } th {} } }
                    tbody {
                        @for t in &live { (row(who, t)) }
                    }
                }
            }
        }
    };
    html_page(status, page("Gateway tokens", Some(who), Nav::Tokens, body))
}

fn row(who: &Authed, t: &TokenInfo) -> Markup {
    html! {
        tr {
            td { code { "wdn_" (t.id) "_…" } }
            td { (roles(&t.roles)) }
            td { (rfc3339(t.issued)) }
            td { (rfc3339(t.expires)) }
            td {
                form.inline method="post" action=(format!("/tokens/{}/revoke", t.id)) {
                    input type="hidden" name="csrf" value=(who.csrf());
                    button type="submit" { "Revoke" }
                }
            }
        }
    }
}

fn new_token(app: &App, user: &str, m: &Minted) -> Markup {
    let token = &m.token;
    let targets = &app.state().targets;
    let http: Vec<&WebTarget> = targets.iter().filter(|t| t.protocol == "http").collect();
    let pg: Vec<&WebTarget> = targets
        .iter()
        .filter(|t| t.protocol == "postgres")
        .collect();
    html! {
        section.card #new-token {
            h2 { "Your new token" }
            div.flash role="alert" {
                "Copy it now: it is shown only this once. It expires at " (rfc3339(m.info.expires)) "."
            }
            pre { code #token { (token) } }
            h3 { "Use it" }
            pre {
                @for t in &http {
                    "# " (t.name) " (use https:// when the target serves TLS)\n"
                    "curl -H \"Authorization: Bearer " (token) "\" http://" (t.listen) "/\n"
                    "kubectl --server=http://" (t.listen) " --token=" (token) " get pods\n\n"
                }
                @if http.is_empty() {
                    "curl -H \"Authorization: Bearer " (token) "\" https://<http target>/\n"
                    "kubectl --server=https://<kubernetes target> --token=" (token) " get pods\n\n"
                }
                @for t in &pg {
                    @let (host, port) = t.listen.rsplit_once(':').unwrap_or((t.listen.as_str(), "5432"));
                    "# " (t.name) "\n"
                    "PGPASSWORD='" (token) "' psql -h " (host) " -p " (port) " -U " (user) " <database>\n\n"
                }
                @if pg.is_empty() {
                    "PGPASSWORD='" (token) "' psql -h <postgres target> -U " (user) " <database>\n"
                }
            }
        }
    }
}

fn roles(r: &[String]) -> String {
    if r.is_empty() {
        "no roles".to_string()
    } else {
        r.join(", ")
    }
}

/// `3600` → `1h`, `5400` → `90m`, `45` → `45s`: a lifetime the form takes back.
fn human(secs: u64) -> String {
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lifetimes_read_back() {
        assert_eq!(super::human(3600), "1h");
        assert_eq!(super::human(5400), "90m");
        assert_eq!(super::human(45), "45s");
        assert_eq!(super::human(172_800), "2d");
    }
}
