//! The answers Warden itself gives HTTP clients: refusals, holds, errors.
//!
//! Plain HTTP targets get a small JSON object; Kubernetes targets get a
//! `meta/v1 Status` object, because that is what kubectl parses and prints
//! ("Error from server (Forbidden): <message>").
//!
//! Must never: put secrets, tokens or upstream credentials into a response body.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use super::body::{full, ProxyBody};

/// What kind of answer this is, which picks the Kubernetes `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Denied,
    Expired,
    Pending,
    BadRequest,
    Unauthorized,
    TooLarge,
    HeadTooLarge,
    Unavailable,
    BadGateway,
    Timeout,
}

impl Answer {
    pub fn status(self) -> StatusCode {
        match self {
            Answer::Denied | Answer::Expired => StatusCode::FORBIDDEN,
            Answer::Pending => StatusCode::ACCEPTED,
            Answer::BadRequest => StatusCode::BAD_REQUEST,
            Answer::Unauthorized => StatusCode::UNAUTHORIZED,
            Answer::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Answer::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Answer::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Answer::BadGateway => StatusCode::BAD_GATEWAY,
            Answer::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `error` field of plain JSON answers.
    fn error(self) -> &'static str {
        match self {
            Answer::Denied => "denied",
            Answer::Expired => "expired",
            Answer::Pending => "pending",
            Answer::BadRequest => "bad_request",
            Answer::Unauthorized => "unauthorized",
            Answer::TooLarge => "payload_too_large",
            Answer::HeadTooLarge => "header_too_large",
            Answer::Unavailable => "unavailable",
            Answer::BadGateway => "bad_gateway",
            Answer::Timeout => "timeout",
        }
    }

    /// Kubernetes `StatusReason`.
    fn kube_reason(self) -> &'static str {
        match self {
            Answer::Denied | Answer::Expired => "Forbidden",
            Answer::Pending => "",
            Answer::BadRequest => "BadRequest",
            Answer::Unauthorized => "Unauthorized",
            Answer::TooLarge | Answer::HeadTooLarge => "RequestEntityTooLarge",
            Answer::Unavailable => "ServiceUnavailable",
            Answer::BadGateway => "InternalError",
            Answer::Timeout => "Timeout",
        }
    }
}

/// Everything an answer may name.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub message: String,
    pub rule: Option<String>,
    pub approval_id: Option<String>,
    pub url: Option<String>,
}

impl Detail {
    pub fn message(message: impl Into<String>) -> Detail {
        Detail {
            message: message.into(),
            ..Detail::default()
        }
    }
}

/// The JSON body for a plain HTTP target.
pub fn plain_body(answer: Answer, d: &Detail) -> Value {
    let mut v = json!({ "error": answer.error(), "message": d.message });
    if answer == Answer::Pending {
        v = json!({ "status": "pending", "message": d.message });
    }
    if let Some(rule) = &d.rule {
        v["rule"] = json!(rule);
    }
    if let Some(id) = &d.approval_id {
        v["approval_id"] = json!(id);
    }
    if let Some(url) = &d.url {
        v["url"] = json!(url);
    }
    v
}

/// A Kubernetes `Status` object (apiVersion v1) as the API server would send it.
pub fn kube_status(answer: Answer, d: &Detail) -> Value {
    let status = answer.status().as_u16();
    let mut message = d.message.clone();
    if let Some(rule) = &d.rule {
        message = format!("{message} (warden rule {rule})");
    }
    if let (Some(id), Some(url)) = (&d.approval_id, &d.url) {
        message = format!("{message}; approval {id}: {url}");
    }
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": if answer == Answer::Pending { "Success" } else { "Failure" },
        "message": message,
        "code": status,
    });
    let reason = answer.kube_reason();
    if !reason.is_empty() {
        v["reason"] = json!(reason);
    }
    let mut details = serde_json::Map::new();
    if let Some(rule) = &d.rule {
        details.insert("warden_rule".into(), json!(rule));
    }
    if let Some(id) = &d.approval_id {
        details.insert("approval_id".into(), json!(id));
    }
    if let Some(url) = &d.url {
        details.insert("url".into(), json!(url));
    }
    if !details.is_empty() {
        v["details"] = Value::Object(details);
    }
    v
}

/// Builds the full response for `answer`.
pub fn respond(kube: bool, answer: Answer, d: &Detail) -> Response<ProxyBody> {
    let body = if kube {
        kube_status(answer, d)
    } else {
        plain_body(answer, d)
    };
    let text = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(full(Bytes::from(text)));
    *resp.status_mut() = answer.status();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if answer == Answer::Unauthorized {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"warden\", Bearer realm=\"warden\""),
        );
    }
    if let Some(url) = &d.url {
        if let Ok(v) = HeaderValue::from_str(url) {
            h.insert(header::LOCATION, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_denial_is_a_forbidden_status_naming_the_rule() {
        let d = Detail {
            message: "namespaces are not deleted here".into(),
            rule: Some("no-ns-delete".into()),
            ..Detail::default()
        };
        let v = kube_status(Answer::Denied, &d);
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["reason"], "Forbidden");
        assert_eq!(v["code"], 403);
        assert_eq!(
            v["message"],
            "namespaces are not deleted here (warden rule no-ns-delete)"
        );
    }

    #[test]
    fn plain_pending_names_the_approval() {
        let d = Detail {
            message: "held".into(),
            approval_id: Some("a1".into()),
            url: Some("http://x/approvals/a1".into()),
            ..Detail::default()
        };
        let v = plain_body(Answer::Pending, &d);
        assert_eq!(v["status"], "pending");
        assert_eq!(v["approval_id"], "a1");
        assert_eq!(v["url"], "http://x/approvals/a1");
    }
}
