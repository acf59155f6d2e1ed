//! The targets this gateway serves: where clients connect, the labels policies match
//! on, and the SSH host key fingerprint users compare before trusting Warden's key.
//!
//! Shows configuration only; never upstream addresses' credentials or secrets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{error_page, html_page, page, Nav};
use super::PageUser;
use crate::app::App;
use crate::error::WebError;

pub async fn show(State(app): State<App>, PageUser(who): PageUser) -> Response {
    if !who.user.can_read_audit() {
        return error_page(&WebError::Forbidden(format!(
            "{} needs role viewer or admin to see targets",
            who.user.name
        )));
    }
    let targets = &app.state().targets;
    let body = html! {
        h1 { "Targets" }
        p.muted {
            "Compare an SSH target's fingerprint with the one your ssh client shows on \
             first connect before you accept the key."
        }
        @if targets.is_empty() {
            p { "No targets are configured." }
        } @else {
            table.audit {
                thead { tr { th { "target" } th { "protocol" } th { "listening on" } th { "labels" } th { "host key fingerprint" } } }
                tbody {
                    @for t in targets {
                        tr {
                            td { b { (t.name) } }
                            td { (t.protocol) }
                            td { code { (t.listen) } }
                            td {
                                @for (k, v) in &t.labels {
                                    code { (k) "=" (v) } " "
                                }
                            }
                            td {
                                @if let Some(fp) = &t.host_key_fingerprint {
                                    code.fingerprint { (fp) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_page(
        StatusCode::OK,
        page("Targets", Some(&who), Nav::Targets, body),
    )
}
