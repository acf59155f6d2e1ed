//! The normalised form of an action's text: literals (quoted strings, numbers, words
//! with digits, lists of them) become `?`, letters are lower-cased and white space is
//! collapsed, so `SELECT * FROM t WHERE id = 42` and `select *  from t where id=7`
//! repeat the same action.
//!
//! Reads at most [`MAX_TEXT`] bytes; never allocates unless asked for the text itself.

/// Longest prefix of an action's text that is normalised.
pub const MAX_TEXT: usize = 4096;

/// Where normalised bytes go.
trait Sink {
    fn byte(&mut self, b: u8);
}

struct Fnv(u64);

impl Sink for Fnv {
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

impl Sink for Vec<u8> {
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
}

/// FNV-1a offset basis.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Fingerprint of `text` on `target` (0 never comes out, it means "none").
pub fn fingerprint(text: &str, target: &str) -> u64 {
    let mut h = Fnv(FNV_START);
    for b in target.bytes() {
        h.byte(b);
    }
    h.byte(0);
    normalise_into(text.as_bytes(), &mut h);
    h.0.max(1)
}

/// The normalised text, cut to `max` characters (for explanations).
pub fn normalised(text: &str, max: usize) -> String {
    let mut out = Vec::new();
    normalise_into(text.as_bytes(), &mut out);
    let mut s = String::from_utf8_lossy(&out).into_owned();
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    Start,
    Literal,
    Other,
}

fn normalise_into(text: &[u8], out: &mut impl Sink) {
    let text = &text[..text.len().min(MAX_TEXT)];
    let mut i = 0;
    let mut last = Last::Start;
    let mut space = false;
    let mut comma = false;
    let flush = |out: &mut dyn FnMut(u8), space: &mut bool, comma: &mut bool| {
        if std::mem::take(comma) {
            out(b',');
        }
        if std::mem::take(space) {
            out(b' ');
        }
    };
    let mut emit = |b: u8| out.byte(b);
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_whitespace() {
            space = last != Last::Start;
            i += 1;
            continue;
        }
        let literal_end = if b == b'\'' {
            Some(quoted_end(text, i))
        } else if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
            let end = word_end(text, i);
            if text[i..end].iter().any(u8::is_ascii_digit) {
                Some(end)
            } else {
                flush(&mut emit, &mut space, &mut comma);
                for &c in &text[i..end] {
                    emit(c.to_ascii_lowercase());
                }
                last = Last::Other;
                i = end;
                continue;
            }
        } else {
            None
        };
        match literal_end {
            Some(end) => {
                if last == Last::Literal && comma {
                    // `?, ?, ?` is one list: keep the first `?` only.
                    comma = false;
                    space = false;
                } else {
                    flush(&mut emit, &mut space, &mut comma);
                    emit(b'?');
                }
                last = Last::Literal;
                i = end;
            }
            None if b == b',' && last == Last::Literal && !comma => {
                comma = true;
                space = false;
                i += 1;
            }
            None => {
                flush(&mut emit, &mut space, &mut comma);
                emit(b);
                last = Last::Other;
                i += 1;
            }
        }
    }
}

/// End (exclusive) of a single-quoted literal starting at `start` (`''` escapes).
fn quoted_end(text: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < text.len() {
        if text[i] == b'\'' {
            if text.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    text.len()
}

fn word_end(text: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == b'_' || text[i] >= 0x80)
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_spacing_do_not_matter() {
        let a = fingerprint("SELECT * FROM t WHERE id = 42", "db");
        let b = fingerprint("select *   from t where id = 7", "db");
        let c = fingerprint("select * from t where name = 'o''brien'", "db");
        let d = fingerprint("select * from t where name = 'x'", "db");
        assert_eq!(a, b);
        assert_eq!(c, d);
        assert_ne!(a, c);
        assert_ne!(a, fingerprint("SELECT * FROM t WHERE id = 42", "other"));
    }

    #[test]
    fn lists_collapse_and_text_reads_well() {
        assert_eq!(
            normalised("SELECT a FROM t WHERE id IN (1, 2, 3) AND x='y'", 100),
            "select a from t where id in (?) and x=?"
        );
        assert_eq!(
            fingerprint("SELECT a FROM t WHERE id IN (1,2)", ""),
            fingerprint("select a from t where id in (5, 6, 7, 8)", "")
        );
        assert_eq!(
            normalised("GET /api/users/123?page=2", 100),
            "get /api/users/??page=?"
        );
        assert_eq!(normalised("cat /var/log/app.log", 8), "cat /var…");
    }
}
