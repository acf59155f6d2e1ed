//! Path normalisation: one decoded, dot-free, slash-folded reading of a request path,
//! and its canonical re-encoding for the upstream.
//!
//! Must never accept a path two servers could read differently. Rejected: encoded `/`
//! or `\` (`%2F`, `%5C`), raw `\`, raw `;` (path parameters: Tomcat and friends strip
//! them), encoded dots forming a `.`/`..` segment (`%2e%2e`), `..` above the root,
//! NUL and other control characters (raw or encoded), raw spaces or non-ASCII bytes,
//! double encoding (`%252e`), malformed escapes, invalid UTF-8 after decoding, and
//! segments of only dots and spaces (`...`, `..%20`) that Windows servers read as `..`.

use super::query::hex;
use super::HttpRejection;

/// Normalise a raw request path (starting with `/`, no query) into its decoded form:
/// percent-escapes decoded, `.` and `..` resolved, runs of `/` folded. A trailing `/`
/// is kept (`/a/` and `/a` are different resources upstream).
pub fn normalize_path(raw: &str) -> Result<String, HttpRejection> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(reject("path must start with `/`"));
    };
    let mut kept: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        let (decoded, encoded_dot) = decode_segment(seg)?;
        match decoded.as_str() {
            "" => trailing_slash = last,
            "." | ".." if encoded_dot => {
                return Err(reject("percent-encoded dot segment"));
            }
            "." => trailing_slash = last,
            ".." => {
                if kept.pop().is_none() {
                    return Err(reject("`..` climbs above the root"));
                }
                trailing_slash = last;
            }
            s if s.chars().all(|c| c == '.' || c == ' ') => {
                // `...`, `.. `: Windows servers trim trailing dots and spaces into `..`.
                return Err(reject("segment of only dots and spaces"));
            }
            _ => {
                kept.push(decoded);
                trailing_slash = false;
            }
        }
    }
    let mut path = String::with_capacity(raw.len());
    for seg in &kept {
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    Ok(path)
}

/// Decode one segment; also say whether any `.` in it came from `%2E`.
fn decode_segment(seg: &str) -> Result<(String, bool), HttpRejection> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut encoded_dot = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let decoded = match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(hi), Some(lo)) => hi << 4 | lo,
                    _ => return Err(reject("malformed percent-escape")),
                };
                match decoded {
                    b'/' => return Err(reject("encoded `/` (%2F)")),
                    b'\\' => return Err(reject("encoded backslash (%5C)")),
                    b'.' => encoded_dot = true,
                    0x00..=0x1f | 0x7f => return Err(reject("encoded control character")),
                    _ => {}
                }
                out.push(decoded);
                i += 3;
            }
            b'\\' => return Err(reject("backslash in path")),
            b';' => return Err(reject("`;` path parameter")),
            0x21..=0x7e => {
                out.push(b);
                i += 1;
            }
            _ => return Err(reject("control, space or non-ASCII character in path")),
        }
    }
    // Double encoding is judged on the decoded bytes, not the raw ones: `%25d%63` is
    // `%dc` once decoded just as `%25dc` is (found by the `kube_path` fuzz target), and
    // the upstream receives either as `%25dc`, which a server that decodes twice reads
    // as byte 0xDC. A decoded `%` (only `%25` gives one) followed by two hex digits is
    // refused, however the digits were written.
    if out
        .iter()
        .enumerate()
        .any(|(at, &b)| b == b'%' && is_escape_at(&out, at + 1))
    {
        return Err(reject("double percent-encoding"));
    }
    String::from_utf8(out)
        .map(|s| (s, encoded_dot))
        .map_err(|_| reject("invalid UTF-8 after percent-decoding"))
}

/// True when `bytes[at..]` starts with two hex digits (the rest of a `%XX`).
fn is_escape_at(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_some_and(u8::is_ascii_hexdigit)
        && bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
}

/// Canonical encoding of a decoded path for the upstream: unreserved characters, `/`
/// and the sub-delimiters other than `;` stay raw, every other byte becomes `%XX`.
/// Decoding the result once gives back exactly `decoded`.
pub fn encode_path(decoded: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(decoded.len());
    for &b in decoded.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

fn reject(why: &str) -> HttpRejection {
    HttpRejection::AmbiguousPath(why.to_string())
}
