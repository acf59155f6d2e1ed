//! A strict, allocation-free JSON cursor over one line: the primitives of the fast
//! export-line reader (`fast`).
//!
//! Every method answers `None` when it is not *certain* that serde_json would read the
//! same text the same way — an escaped string it would have to decode, a number it
//! would read as a float, nesting deeper than serde's limit, anything malformed — and
//! the caller then hands the whole line to serde. It must therefore never accept text
//! serde_json rejects: skipped values are validated as serde_json validates them
//! (string escapes and control characters, number grammar, literals, brackets).

/// Deepest nesting a skipped value may have (serde_json stops at 128 levels).
const MAX_DEPTH: usize = 100;

/// A position in a line that is valid UTF-8.
pub struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not JSON whitespace (not consumed).
    pub fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        // JSON whitespace is below `!`; an export has none between tokens.
        if let Some(&c) = b.get(self.at) {
            if c > b' ' {
                return Some(c);
            }
        }
        while let Some(&c) = b.get(self.at) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.at += 1;
        }
        None
    }

    /// Consume `c` (after whitespace).
    pub fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    /// Only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string without escapes, borrowed from the line; `None` for anything else.
    pub fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = string_stop(&self.bytes()[start..])?;
        if self.bytes()[start + end] != b'"' {
            return None;
        }
        self.at = start + end + 1;
        // Both ends are ASCII quotes, so these are char boundaries.
        self.text.get(start..start + end)
    }

    /// Skip a string (escapes allowed), validating it as serde_json does when it
    /// ignores one: known escapes, four hex digits after `\u`, no control characters.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let b = self.bytes();
        loop {
            self.at += string_stop(&b[self.at..])?;
            let stop = b[self.at];
            self.at += 1;
            match stop {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None,
            }
            match *b.get(self.at)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                b'u' => {
                    let hex = b.get(self.at + 1..self.at + 5)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.at += 5;
                }
                _ => return None,
            }
        }
    }

    /// A non-negative integer that fits a `u64` (what serde hands a visitor as `u64`).
    pub fn unsigned(&mut self) -> Option<u64> {
        self.peek()?;
        let b = self.bytes();
        let start = self.at;
        let digits = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        self.at += digits;
        let text = &b[start..self.at];
        // Nineteen digits always fit a u64; more are checked.
        let v = if digits <= 19 {
            text.iter().fold(0u64, |v, c| v * 10 + u64::from(c - b'0'))
        } else {
            text.iter().try_fold(0u64, |v, c| {
                v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
            })?
        };
        if digits == 0 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        // A fraction or exponent makes it a float in serde_json.
        if matches!(b.get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(v)
    }

    /// `true`, `false` or `null` (as `None` inside).
    pub fn bool_or_null(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| Some(true)),
            b'f' => self.literal("false").map(|()| Some(false)),
            b'n' => self.literal("null").map(|()| None),
            _ => None,
        }
    }

    /// Consume `null` if it is next.
    pub fn null(&mut self) -> bool {
        self.peek() == Some(b'n') && self.literal("null").is_some()
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// Skip a JSON number, checking its grammar.
    fn skip_number(&mut self) -> Option<()> {
        let b = self.bytes();
        let digits = |at: &mut usize| {
            let start = *at;
            while b.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at - start
        };
        let mut at = self.at;
        if b.get(at) == Some(&b'-') {
            at += 1;
        }
        let start = at;
        let n = digits(&mut at);
        if n == 0 || (n > 1 && b[start] == b'0') {
            return None;
        }
        if b.get(at) == Some(&b'.') {
            at += 1;
            if digits(&mut at) == 0 {
                return None;
            }
        }
        if matches!(b.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(b.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if digits(&mut at) == 0 {
                return None;
            }
        }
        self.at = at;
        Some(())
    }

    /// Skip any value, validating it.
    pub fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|c, _| c.skip_nested(depth + 1)),
            b'[' => self.array(|c| c.skip_nested(depth + 1)),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// The text of the next value (skipped and validated), as serde's `RawValue` holds it.
    pub fn raw_value(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.at;
        self.skip_value()?;
        self.text.get(start..self.at)
    }

    /// Walk an object: `each` gets every key (plain keys only) and must consume its value.
    pub fn object(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            self.eat(b':')?;
            each(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walk an object whose keys usually come in the order of `keys` (the order the
    /// export writes them): `each` gets the index in `keys` of every key, or
    /// `keys.len()` for any other one, and must consume its value. The key expected
    /// next (the one after the last found) is compared where it lies, without reading
    /// it as a string first; any other key is read (plain keys only) and looked up.
    #[inline]
    pub fn object_keyed(
        &mut self,
        keys: &[&str],
        mut each: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut next = 0;
        loop {
            let index = match keys.get(next).filter(|k| self.quoted_here(k)) {
                Some(k) => {
                    self.at += k.len() + 2;
                    next
                }
                None => {
                    let key = self.plain_string()?;
                    let key = key.as_bytes();
                    keys.iter()
                        .position(|k| short_eq(k.as_bytes(), key))
                        .unwrap_or(keys.len())
                }
            };
            next = index + 1;
            self.eat(b':')?;
            each(self, index)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The next token is the string `"key"`, exactly (after whitespace).
    #[inline]
    fn quoted_here(&mut self, key: &str) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let b = self.bytes();
        let start = self.at + 1;
        let end = start + key.len();
        b.get(end) == Some(&b'"') && short_eq(&b[start..end], key.as_bytes())
    }

    /// Walk an array: `each` must consume one element per call.
    pub fn array(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            each(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// `a == b` for short keys, without a call to `memcmp`: two overlapping words (or
/// half-words) from each end.
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    };
    match n {
        0..=3 => a == b,
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Where a run of plain string bytes stops: the first `"`, `\\` or control character.
/// Eight bytes at a time (SWAR): most strings are short keys and values, where
/// a vector search's set-up costs more than the search.
pub(super) fn string_stop(rest: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte that is below `n` times ONES's byte; exact for the lowest
    // such byte (a borrow only spills upwards from a true hit).
    let below = |x: u64, n: u64| x.wrapping_sub(n) & !x & HIGHS;
    let mut at = 0;
    while let Some(chunk) = rest.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = below(x ^ (ONES * u64::from(b'"')), ONES)
            | below(x ^ (ONES * u64::from(b'\\')), ONES)
            | below(x, ONES * 0x20);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    rest[at..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| at + i)
}

/// Remembers which keys of one object were seen, so that a repeated one (an error for
/// serde's derived structs) sends the line to serde.
#[derive(Default)]
pub struct SeenKeys(u32);

impl SeenKeys {
    /// Mark key number `bit`; `None` if it was seen already.
    pub fn first(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        if self.0 & mask != 0 {
            return None;
        }
        self.0 |= mask;
        Some(())
    }
}
