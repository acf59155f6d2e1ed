//! The loaded rules, their files, and how often dry-run rules would have fired.

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
            "{} needs role viewer or admin to see policies",
            who.user.name
        )));
    }
    let set = app.state().policies.current();
    let hits = app.dry_run_hits();
    let body = html! {
        h1 { "Policies" }
        p.muted { "Dry-run hits are counted from the audit feed since this server started." }
        table.audit {
            thead { tr { th { "rule" } th { "action" } th { "mode" } th { "file" } th { "dry-run hits" } th { "description" } } }
            tbody {
                @for r in set.rules() {
                    tr {
                        td { b { (r.name) } }
                        td { (format!("{:?}", r.action).to_lowercase()) }
                        td { (format!("{:?}", r.mode).to_lowercase()) }
                        td { (r.file) ":" (r.line) }
                        td { (hits.get(&r.name).copied().unwrap_or(0)) }
                        td { (r.description.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    html_page(
        StatusCode::OK,
        page("Policies", Some(&who), Nav::Policies, body),
    )
}
