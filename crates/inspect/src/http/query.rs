//! The query string: validated as received (it is forwarded byte for byte) and decoded
//! into pairs the way Go's `net/url` does, for readers such as the Kubernetes resolver.

use super::HttpRejection;

/// Reject a raw query with characters that are not allowed in a request-target or with
/// malformed percent-escapes. The query itself is forwarded unchanged.
pub fn validate_query(query: &str) -> Result<(), HttpRejection> {
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(0x21..0x7f).contains(&b) || b == b'#' {
            return Err(HttpRejection::AmbiguousPath(
                "query contains a control, space or non-ASCII character".into(),
            ));
        }
        if b == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(HttpRejection::AmbiguousPath(
                    "malformed percent-escape in query".into(),
                ));
            }
            i += 3;
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// Decode `k=v&k2=v2` into pairs (`+` is a space, `%XX` decoded). Pairs that do not
/// decode to UTF-8 or carry bad escapes are skipped, as Go's `url.ParseQuery` does;
/// `;` separated pairs are skipped too (Go refuses them).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty() && !p.contains(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

/// Every `(key, value)` any common framework could read: pairs split on `&` *and* `;`
/// (older Rack, Python's legacy parsers). Used where missing a pair is the danger
/// (method overrides), never for the Kubernetes resolver.
pub(crate) fn lenient_query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split(['&', ';'])
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

fn decode_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
