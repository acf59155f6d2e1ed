//! The one error type of the web crate, and how it becomes an HTTP response.
//!
//! API callers get `{"error": {"code", "message"}}`; messages never carry secrets.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use thiserror::Error;
use warden_approval::ApprovalError;

#[derive(Debug, Error)]
pub enum WebError {
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("CSRF token missing or invalid; reload the page and try again")]
    Csrf,
    #[error("too many failed logins; try again in a few minutes")]
    Throttled,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    #[error("audit log: {0}")]
    Audit(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Approval(e) => match e {
                ApprovalError::NotFound(_) => StatusCode::NOT_FOUND,
                ApprovalError::SelfApproval(_) | ApprovalError::NotEntitled { .. } => {
                    StatusCode::FORBIDDEN
                }
                ApprovalError::WrongState { .. }
                | ApprovalError::DuplicateApprover(_)
                | ApprovalError::AlreadyExecuted(_) => StatusCode::CONFLICT,
                ApprovalError::Expired(_) => StatusCode::GONE,
                ApprovalError::NoSpec => StatusCode::BAD_REQUEST,
                ApprovalError::Audit(_) | ApprovalError::Unavailable(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ApprovalError::Store(_)
                | ApprovalError::Corrupt(_)
                | ApprovalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            WebError::Audit(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            WebError::Unauthorized => "unauthorized",
            WebError::Forbidden(_) => "forbidden",
            WebError::Csrf => "csrf",
            WebError::Throttled => "throttled",
            WebError::BadRequest(_) => "bad_request",
            WebError::NotFound(_) => "not_found",
            WebError::Approval(e) => e.code(),
            WebError::Audit(_) => "audit_unavailable",
            WebError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"warden\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
