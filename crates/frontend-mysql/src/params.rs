//! The values bound to one COM_STMT_EXECUTE, read from the binary protocol and written
//! into the statement text for the audit log and the approvers: each `?` placeholder is
//! replaced by its value as an SQL literal (`42`, `'text'`, `X'00ff'`, `NULL`), so the
//! audit log's redaction masks a value exactly where it would mask the same literal in
//! a text-protocol statement (after `PASSWORD` or `IDENTIFIED ... BY`).
//!
//! Sizes are bounded: a value longer than [`VALUE_SHOWN`] characters is shown cut, with
//! its length and the first 12 hex digits of its SHA-256; once [`TOTAL_SHOWN`]
//! characters of values are shown, the rest stay `?` and a comment counts them. Values
//! sent with COM_STMT_SEND_LONG_DATA are shown by length and SHA-256 only.
//!
//! Must never panic on a short or malformed payload (every read is checked and an
//! unreadable payload is an error: the execute is refused), and never show more than
//! the bounds above, whatever the client sends.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::errors::MyError;
use super::wire::Body;

/// Characters of one value shown before it is cut.
pub const VALUE_SHOWN: usize = 64;
/// Characters of values shown for one execute; later values stay `?`.
pub const TOTAL_SHOWN: usize = 4096;

/// What COM_STMT_SEND_LONG_DATA sent for one parameter: its length and digest.
#[derive(Clone, Default)]
pub struct LongData {
    pub len: u64,
    hash: Sha256,
}

impl LongData {
    pub fn push(&mut self, chunk: &[u8]) {
        self.len += chunk.len() as u64;
        self.hash.update(chunk);
    }

    fn shown(&self) -> String {
        let digest = hex::encode(self.hash.clone().finalize());
        format!(
            "'[long data: {} bytes, sha256 {}]'",
            self.len,
            &digest[..12]
        )
    }
}

/// A prepared statement's parameter state between executes.
#[derive(Clone, Default)]
pub struct ParamState {
    /// Number of parameters (from the upstream's COM_STMT_PREPARE answer).
    pub count: u16,
    /// Types of the last execute the upstream received that sent them
    /// (`new_params_bound_flag`): what the server reads a later execute with.
    types: Option<Vec<(u8, u8)>>,
    /// Types of the execute being decided, kept once it is forwarded.
    sent_types: Option<Vec<(u8, u8)>>,
    /// Long data per parameter since the last execute.
    pub long: Vec<Option<LongData>>,
}

impl ParamState {
    pub fn new(count: u16) -> ParamState {
        ParamState {
            count,
            types: None,
            sent_types: None,
            long: Vec::new(),
        }
    }

    /// Records a COM_STMT_SEND_LONG_DATA chunk (ignored for parameters that do not
    /// exist: the server refuses those).
    pub fn long_data(&mut self, param: u16, chunk: &[u8]) {
        if param >= self.count {
            return;
        }
        let i = usize::from(param);
        if self.long.len() <= i {
            self.long.resize(i + 1, None);
        }
        self.long[i]
            .get_or_insert_with(LongData::default)
            .push(chunk);
    }

    /// The bound values of one COM_STMT_EXECUTE payload, shown as SQL literals.
    pub fn read(&mut self, payload: &[u8]) -> Result<Vec<String>, MyError> {
        let mut b = Body::new(payload);
        b.bytes(1 + 4 + 1 + 4)?; // command, statement id, flags, iteration count
        let n = usize::from(self.count);
        if n == 0 {
            return Ok(Vec::new());
        }
        let nulls = b.bytes(n.div_ceil(8))?;
        self.sent_types = None;
        let new_types = b.u8()? == 1;
        let mut fresh = Vec::new();
        let types: &[(u8, u8)] = if new_types {
            fresh.reserve(n);
            for _ in 0..n {
                fresh.push((b.u8()?, b.u8()?));
            }
            &fresh
        } else {
            self.types.as_deref().ok_or_else(|| {
                MyError::Malformed("execute without parameter types on its first run".into())
            })?
        };
        let mut shown = Vec::with_capacity(n);
        for (i, (ty, flags)) in types.iter().enumerate() {
            if nulls[i / 8] & (1 << (i % 8)) != 0 {
                shown.push("NULL".to_owned());
            } else if let Some(Some(long)) = self.long.get(i) {
                shown.push(long.shown());
            } else {
                shown.push(value(&mut b, *ty, flags & 0x80 != 0)?);
            }
        }
        if new_types {
            self.sent_types = Some(fresh);
        }
        Ok(shown)
    }

    /// The execute just read was forwarded: the server now reads later executes with
    /// its types and has forgotten the long data.
    pub fn executed(&mut self) {
        if let Some(t) = self.sent_types.take() {
            self.types = Some(t);
        }
        self.long.clear();
    }
}

fn int(bytes: &[u8], unsigned: bool) -> String {
    let mut a = [0u8; 8];
    a[..bytes.len()].copy_from_slice(bytes);
    let u = u64::from_le_bytes(a);
    if unsigned {
        return u.to_string();
    }
    let shift = 64 - 8 * bytes.len() as u32;
    (((u << shift) as i64) >> shift).to_string()
}

/// One value of type `ty` (MYSQL_TYPE_*), read from the payload.
fn value(b: &mut Body<'_>, ty: u8, unsigned: bool) -> Result<String, MyError> {
    Ok(match ty {
        0x06 => "NULL".into(),
        0x01 => int(b.bytes(1)?, unsigned),
        0x02 | 0x0d => int(b.bytes(2)?, unsigned),
        0x03 | 0x09 => int(b.bytes(4)?, unsigned),
        0x08 => int(b.bytes(8)?, unsigned),
        0x04 => {
            let x = b.bytes(4)?;
            f32::from_le_bytes([x[0], x[1], x[2], x[3]]).to_string()
        }
        0x05 => {
            let x = b.bytes(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(x);
            f64::from_le_bytes(a).to_string()
        }
        0x07 | 0x0a | 0x0c => {
            let len = b.u8()?;
            datetime(b.bytes(usize::from(len))?)
        }
        0x0b => {
            let len = b.u8()?;
            time(b.bytes(usize::from(len))?)
        }
        0x00 | 0x0f | 0x10 | 0xf5..=0xff => {
            let len = b.lenenc()?;
            let len = usize::try_from(len)
                .map_err(|_| MyError::Malformed("bound value too long".into()))?;
            literal(b.bytes(len)?)
        }
        other => {
            return Err(MyError::Malformed(format!(
                "unknown parameter type {other:#04x}"
            )))
        }
    })
}

fn datetime(x: &[u8]) -> String {
    let u16at = |i: usize| u16::from_le_bytes([x[i], x[i + 1]]);
    let mut s = String::from("'");
    if x.len() >= 4 {
        let _ = write!(s, "{:04}-{:02}-{:02}", u16at(0), x[2], x[3]);
    } else {
        s.push_str("0000-00-00");
    }
    if x.len() >= 7 {
        let _ = write!(s, " {:02}:{:02}:{:02}", x[4], x[5], x[6]);
    }
    if x.len() >= 11 {
        let micros = u32::from_le_bytes([x[7], x[8], x[9], x[10]]);
        let _ = write!(s, ".{micros:06}");
    }
    s.push('\'');
    s
}

fn time(x: &[u8]) -> String {
    if x.len() < 8 {
        return "'00:00:00'".into();
    }
    let sign = if x[0] == 1 { "-" } else { "" };
    let days = u32::from_le_bytes([x[1], x[2], x[3], x[4]]);
    let hours = u64::from(days) * 24 + u64::from(x[5]);
    let mut s = format!("'{sign}{hours:02}:{:02}:{:02}", x[6], x[7]);
    if x.len() >= 12 {
        let micros = u32::from_le_bytes([x[8], x[9], x[10], x[11]]);
        let _ = write!(s, ".{micros:06}");
    }
    s.push('\'');
    s
}

/// A string value as a quoted literal (`X'..'` when it is not UTF-8), cut at
/// [`VALUE_SHOWN`] characters with its length and digest.
pub fn literal(bytes: &[u8]) -> String {
    let cut = |n: usize| {
        let digest = hex::encode(Sha256::digest(bytes));
        format!("...[{n} bytes, sha256 {}]", &digest[..12])
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut s = String::from("'");
            for (i, c) in text.chars().enumerate() {
                if i == VALUE_SHOWN {
                    s.push_str(&cut(bytes.len()));
                    break;
                }
                match c {
                    '\'' => s.push_str("''"),
                    '\\' => s.push_str("\\\\"),
                    '\n' => s.push_str("\\n"),
                    '\r' => s.push_str("\\r"),
                    '\t' => s.push_str("\\t"),
                    c if c.is_control() => s.push_str("\\?"),
                    c => s.push(c),
                }
            }
            s.push('\'');
            s
        }
        Err(_) => {
            let shown = &bytes[..bytes.len().min(VALUE_SHOWN / 2)];
            if shown.len() < bytes.len() {
                format!("X'{}' /*{}*/", hex::encode(shown), cut(bytes.len()))
            } else {
                format!("X'{}'", hex::encode(shown))
            }
        }
    }
}

/// Offsets of the `?` placeholders of a MySQL statement: outside quoted strings,
/// quoted identifiers and comments (but inside executable comments `/*! */`, which
/// the server runs).
pub fn placeholders(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'?' => {
                out.push(i);
                i += 1;
            }
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q != b'`' {
                        i += 2;
                    } else if b[i] == q {
                        i += 1;
                        if b.get(i) != Some(&q) {
                            break;
                        }
                        i += 1;
                    } else {
                        i += 1;
                    }
                }
            }
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let executable = matches!(b.get(i + 2), Some(b'!'))
                    || (b.get(i + 2) == Some(&b'M') && b.get(i + 3) == Some(&b'!'));
                if executable {
                    i += 3;
                } else {
                    i = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |e| i + e)
}

/// The statement as it runs with `values`: each placeholder replaced by its value, at
/// most [`TOTAL_SHOWN`] characters of values. When the placeholders cannot be matched
/// to the values, the values follow the text in a comment instead.
pub fn with_values(sql: &str, values: &[String]) -> String {
    if values.is_empty() {
        return sql.to_owned();
    }
    let spots = placeholders(sql);
    let mut total = 0usize;
    let mut hidden = 0usize;
    let mut shown: Vec<&str> = Vec::with_capacity(values.len());
    for v in values {
        if total + v.len() > TOTAL_SHOWN {
            hidden += 1;
            shown.push("?");
        } else {
            total += v.len();
            shown.push(v);
        }
    }
    let mut out = String::with_capacity(sql.len() + total + 64);
    if spots.len() == values.len() {
        let mut from = 0;
        for (at, v) in spots.iter().zip(&shown) {
            out.push_str(&sql[from..*at]);
            out.push_str(v);
            from = at + 1;
        }
        out.push_str(&sql[from..]);
    } else {
        out.push_str(sql);
        out.push_str(" /* bound values: ");
        out.push_str(&shown.join(", "));
        out.push_str(" */");
    }
    if hidden > 0 {
        let _ = write!(out, " /* {hidden} more bound values not shown */");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execute(params: &[u8]) -> Vec<u8> {
        let mut p = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        p.extend_from_slice(params);
        p
    }

    #[test]
    fn values_of_each_type_are_read_and_quoted() {
        let mut st = ParamState::new(5);
        // nulls: param 2; types: longlong, varchar, null-ish varchar, double, tiny unsigned
        let mut p = vec![0b0000_0100, 1];
        p.extend_from_slice(&[0x08, 0, 0x0f, 0, 0x0f, 0, 0x05, 0, 0x01, 0x80]);
        p.extend_from_slice(&(-7i64).to_le_bytes());
        p.extend_from_slice(b"\x04it's");
        p.extend_from_slice(&1.5f64.to_le_bytes());
        p.push(200);
        let v = st.read(&execute(&p)).expect("read");
        assert_eq!(v, ["-7", "'it''s'", "NULL", "1.5", "200"]);
        // until that execute was forwarded, the server has no types for the next one
        assert!(st.read(&execute(&[0, 0])).is_err());
        st.read(&execute(&p)).expect("read");
        st.executed();
        // the next execute may omit the types
        let mut p = vec![0, 0];
        p.extend_from_slice(&3i64.to_le_bytes());
        p.extend_from_slice(b"\x01x\x01y");
        p.extend_from_slice(&0f64.to_le_bytes());
        p.push(1);
        let v = st.read(&execute(&p)).expect("read");
        assert_eq!(v, ["3", "'x'", "'y'", "0", "1"]);
        // truncated: an error, never a panic
        assert!(st.read(&execute(&[0, 1, 0x08, 0])).is_err());
        assert!(ParamState::new(1).read(&execute(&[0, 0])).is_err());
    }

    #[test]
    fn long_values_are_cut_and_the_total_is_bounded() {
        let long = "a".repeat(1000);
        let shown = literal(long.as_bytes());
        assert!(
            shown.len() < 120 && shown.contains("1000 bytes, sha256 "),
            "{shown}"
        );
        assert_eq!(literal(&[0xff, 0]), "X'ff00'");
        let values = vec![shown.clone(); 200];
        let sql = vec!["?"; 200].join(",");
        let out = with_values(&sql, &values);
        assert!(out.len() < TOTAL_SHOWN + 1000, "{}", out.len());
        assert!(out.contains("more bound values not shown"), "{out}");
        let mut st = ParamState::new(1);
        st.long_data(0, b"abc");
        st.long_data(9, b"ignored");
        let p = [0u8, 1, 0xfc, 0];
        assert_eq!(
            st.read(&execute(&p)).expect("read"),
            ["'[long data: 3 bytes, sha256 ba7816bf8f01]'"]
        );
    }

    #[test]
    fn placeholders_skip_strings_identifiers_and_comments() {
        let sql = "SELECT '?', \"?\", `?`, ? /* ? */ -- ?\n, ? # ?\n /*! , ? */";
        assert_eq!(placeholders(sql).len(), 3);
        assert_eq!(
            with_values(
                "UPDATE t SET v = ? WHERE id = ?",
                &["'x'".into(), "3".into()]
            ),
            "UPDATE t SET v = 'x' WHERE id = 3"
        );
        assert_eq!(
            with_values("SELECT 1", &["3".into()]),
            "SELECT 1 /* bound values: 3 */"
        );
    }
}
