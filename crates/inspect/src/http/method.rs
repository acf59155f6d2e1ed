//! The effective HTTP method: the wire method, or a method-override request when that
//! is more dangerous. Never lets an override make a request look safer than it is.

use super::query::lenient_query_pairs;
use super::HttpRejection;

/// Header names that frameworks read as a method override (compared case-insensitively).
const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Longest method token accepted; real methods are short, this bounds garbage.
const MAX_METHOD_LEN: usize = 32;

/// The outcome of reading the method and its overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenMethod {
    /// What policy must see.
    pub effective: String,
    /// The override that was asked for, if any.
    pub requested: Option<String>,
    /// True when `effective` is not the wire method.
    pub wire_changed: bool,
}

/// Check that `method` is an HTTP token and return it upper-cased. Upper-casing is safe:
/// an upstream that treats methods case-sensitively refuses `delete`, one that folds
/// case runs `DELETE` — which is what policy saw.
pub fn validate_method(method: &str) -> Result<String, HttpRejection> {
    if method.is_empty() || method.len() > MAX_METHOD_LEN || !method.bytes().all(is_tchar) {
        return Err(HttpRejection::InvalidMethod(printable(method)));
    }
    Ok(method.to_ascii_uppercase())
}

/// Work out the effective method from the (validated, upper-case) wire method, the
/// request headers and the raw query (`_method=`).
///
/// All override requests must agree (a list value or two different values is
/// rejected). The more dangerous of wire and override wins; two different methods of
/// the same non-read rank, or two different unknown methods, are rejected.
pub fn effective_method<'a>(
    wire: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    query: Option<&str>,
) -> Result<ChosenMethod, HttpRejection> {
    let mut requested: Option<String> = None;
    let mut consider = |source: &str, value: &str| -> Result<(), HttpRejection> {
        let value = value.trim();
        if value.contains(',') {
            return Err(HttpRejection::InvalidMethod(format!(
                "{source} carries a list of methods"
            )));
        }
        let m = validate_method(value)
            .map_err(|_| HttpRejection::InvalidMethod(format!("{source} is not a method")))?;
        match &requested {
            Some(prev) if *prev != m => Err(HttpRejection::InvalidMethod(format!(
                "conflicting method overrides {prev} and {m}"
            ))),
            _ => {
                requested = Some(m);
                Ok(())
            }
        }
    };
    for (name, value) in headers {
        if OVERRIDE_HEADERS
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            consider(name, value)?;
        }
    }
    if let Some(q) = query {
        for (k, v) in lenient_query_pairs(q) {
            if k == "_method" {
                consider("_method", &v)?;
            }
        }
    }
    let Some(over) = requested else {
        return Ok(ChosenMethod {
            effective: wire.to_string(),
            requested: None,
            wire_changed: false,
        });
    };
    if over == wire {
        return Ok(ChosenMethod {
            effective: wire.to_string(),
            requested: Some(over),
            wire_changed: false,
        });
    }
    let (rw, ro) = (rank(wire), rank(&over));
    if rw == ro && rw != 0 {
        return Err(HttpRejection::InvalidMethod(format!(
            "override {over} on {wire} is ambiguous"
        )));
    }
    let wire_changed = ro > rw;
    Ok(ChosenMethod {
        effective: if wire_changed {
            over.clone()
        } else {
            wire.to_string()
        },
        requested: Some(over),
        wire_changed,
    })
}

/// How dangerous a method is: reads < POST < PUT/PATCH < DELETE < unknown.
fn rank(method: &str) -> u8 {
    match method {
        "GET" | "HEAD" | "OPTIONS" | "TRACE" => 0,
        "POST" => 1,
        "PUT" | "PATCH" => 2,
        "DELETE" => 3,
        _ => 4,
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A client-controlled string made safe to put in an error message.
fn printable(s: &str) -> String {
    s.chars()
        .take(MAX_METHOD_LEN)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
