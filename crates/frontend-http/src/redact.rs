//! The request text that policy, approvers and the audit log see (`Action.raw`): the
//! request line, the effective method when an override changed it, and for requests
//! with a body a size-capped excerpt with secrets redacted, plus the body's length and
//! SHA-256 so an approval is bound to the exact bytes.
//!
//! Redaction: JSON values under keys that look like secrets (password, token, secret,
//! key, credential, authorization, ...) and everything under a Kubernetes Secret's
//! `data`/`stringData` become `"***"`; form bodies are redacted the same way per field;
//! other text is kept; binary bodies are summarised.
//!
//! Must never: put a secret value into the text, or let two different bodies produce
//! the same text (the digest guarantees that).

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How much of a body the audit text keeps.
pub const EXCERPT_BYTES: usize = 4 * 1024;

const SECRET_WORDS: [&str; 9] = [
    "pass",
    "secret",
    "token",
    "key",
    "credential",
    "authorization",
    "cookie",
    "session",
    "private",
];

fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

fn redact_json(v: &mut Value, inside_secret: bool) {
    match v {
        Value::Object(map) => {
            let is_secret_kind = map.get("kind").and_then(Value::as_str) == Some("Secret");
            for (k, child) in map.iter_mut() {
                let hide = inside_secret
                    || secret_key(k)
                    || (is_secret_kind && (k == "data" || k == "stringData"));
                if hide && !child.is_object() && !child.is_array() {
                    *child = Value::String("***".into());
                } else {
                    redact_json(child, hide);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_json(item, inside_secret);
            }
        }
        other if inside_secret => *other = Value::String("***".into()),
        _ => {}
    }
}

fn redact_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_key(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The redacted, capped excerpt of a body (`complete`: the whole body is in `body`).
pub fn body_excerpt(body: &[u8], complete: bool, content_type: Option<&str>) -> String {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let text = if let (true, Ok(mut v)) = (complete, serde_json::from_slice::<Value>(body)) {
        redact_json(&mut v, false);
        v.to_string()
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        redact_form(&String::from_utf8_lossy(body))
    } else if let Ok(t) = std::str::from_utf8(body) {
        if ct.contains("json") || ct.contains("yaml") {
            // Not parseable as a whole (partial or YAML): too risky to show.
            return format!(
                "[{} bytes of {ct}; not shown: could not be redacted]",
                body.len()
            );
        }
        t.to_string()
    } else {
        return format!("[{} bytes of binary data]", body.len());
    };
    if text.len() <= EXCERPT_BYTES {
        return text;
    }
    let mut cut = EXCERPT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}[... truncated]", &text[..cut])
}

/// `Action.raw` for an HTTP request.
pub fn action_text(
    wire_method: &str,
    effective_method: &str,
    target: &str,
    body: Option<(&Bytes, bool)>,
    content_type: Option<&str>,
) -> String {
    let mut raw = format!("{wire_method} {target}");
    if effective_method != wire_method {
        raw.push_str(&format!(" (effective method {effective_method})"));
    }
    if let Some((bytes, complete)) = body {
        if bytes.is_empty() && complete {
            return raw;
        }
        raw.push_str("\n\n");
        raw.push_str(&body_excerpt(bytes, complete, content_type));
        let digest = hex::encode(Sha256::digest(bytes));
        if complete {
            raw.push_str(&format!("\n[body: {} bytes, sha256 {digest}]", bytes.len()));
        } else {
            raw.push_str(&format!(
                "\n[body: more than {} bytes, streamed; first part sha256 {digest}]",
                bytes.len()
            ));
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_json_are_redacted() {
        let body = br#"{"user":"a","password":"hunter2","nested":{"apiToken":"t"}}"#;
        let t = body_excerpt(body, true, Some("application/json"));
        assert!(!t.contains("hunter2") && !t.contains("\"t\""), "{t}");
        assert!(t.contains("\"user\":\"a\""));
    }

    #[test]
    fn kube_secret_data_is_redacted() {
        let body = br#"{"kind":"Secret","metadata":{"name":"db"},"data":{"pw":"aHVudGVyMg=="}}"#;
        let t = body_excerpt(body, true, Some("application/json"));
        assert!(!t.contains("aHVudGVyMg=="), "{t}");
        assert!(t.contains("\"name\":\"db\""));
    }

    #[test]
    fn form_fields_and_binary() {
        assert_eq!(
            body_excerpt(
                b"a=1&password=x",
                true,
                Some("application/x-www-form-urlencoded")
            ),
            "a=1&password=***"
        );
        assert_eq!(
            body_excerpt(&[0xff, 0xfe], true, None),
            "[2 bytes of binary data]"
        );
    }

    #[test]
    fn different_bodies_give_different_text() {
        let a = Bytes::from_static(br#"{"password":"a"}"#);
        let b = Bytes::from_static(br#"{"password":"b"}"#);
        let ta = action_text("POST", "POST", "/x", Some((&a, true)), None);
        let tb = action_text("POST", "POST", "/x", Some((&b, true)), None);
        assert_ne!(ta, tb);
        assert!(!ta.contains("\"a\""));
    }
}
