//! Bash ANSI-C quoting `$'...'`: backslash escapes decoded (`\x72\x6d` is `rm`), so
//! a program name spelled with escapes is still recognised. Never reads past the input.

use super::lexer::LexError;

/// Decode a `$'...'` body starting at `s[start]` (just after the opening quote);
/// returns the text and the index after the closing quote.
pub(crate) fn ansi_c(s: &[char], start: usize) -> Result<(String, usize), LexError> {
    let mut c = Cursor { s, i: start };
    let text = c.decode()?;
    Ok((text, c.i))
}

struct Cursor<'a> {
    s: &'a [char],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self, off: usize) -> Option<char> {
        self.s.get(self.i + off).copied()
    }

    /// `$'...'` with bash's backslash escapes.
    fn decode(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(LexError("unterminated $'...' quote"));
            };
            self.i += 1;
            match c {
                '\'' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek(0) else {
                        return Err(LexError("unterminated $'...' quote"));
                    };
                    self.i += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'e' | 'E' => out.push('\u{1b}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '\\' | '\'' | '"' | '?' => out.push(e),
                        'x' => out.push(self.code_point(16, 2).unwrap_or('x')),
                        'u' => out.push(self.code_point(16, 4).unwrap_or('u')),
                        'U' => out.push(self.code_point(16, 8).unwrap_or('U')),
                        '0'..='7' => {
                            self.i -= 1;
                            out.push(self.code_point(8, 3).unwrap_or('0'));
                        }
                        'c' => {
                            let ctl = self.peek(0).map(|c| (c as u32) & 0x1f);
                            self.i += 1;
                            out.push(ctl.and_then(char::from_u32).unwrap_or('c'));
                        }
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// Up to `max` digits in `radix` as one character; `None` when there are none.
    fn code_point(&mut self, radix: u32, max: usize) -> Option<char> {
        let mut value: u32 = 0;
        let mut n = 0;
        while n < max {
            let Some(d) = self.peek(0).and_then(|c| c.to_digit(radix)) else {
                break;
            };
            value = value * radix + d;
            self.i += 1;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        char::from_u32(value).or(Some('\u{fffd}'))
    }
}
