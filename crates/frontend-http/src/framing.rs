//! HTTP/1 request framing, re-read on the raw bytes: a pure, streaming scanner that
//! finds each request head, validates how its body is delimited, and follows the body
//! (Content-Length or chunked) to the next head. Used by [`super::smuggling`].
//!
//! Refused: `Content-Length` with `Transfer-Encoding`; more than one or a non-numeric
//! `Content-Length`; a `Transfer-Encoding` other than exactly `chunked` (or on
//! HTTP/1.0); invalid chunk sizes, missing CRLFs, oversized chunk extensions or
//! trailers; a malformed head; a head over the size limit (431).
//!
//! Must never: release a head it has not validated, or hold back body bytes.

/// Upper bound of one chunk-extension or trailer line.
const MAX_LINE: usize = 8 * 1024;
/// Upper bound of request headers per head.
const MAX_HEADERS: usize = 128;
/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub(crate) const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why a request was refused by the framing guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    ContentLengthWithTransferEncoding,
    DuplicateContentLength,
    InvalidContentLength,
    InvalidTransferEncoding,
    InvalidChunking,
    MalformedHead,
    HeadTooLarge,
}

impl ViolationKind {
    /// The HTTP status the client gets.
    pub fn status(self) -> u16 {
        match self {
            ViolationKind::HeadTooLarge => 431,
            _ => 400,
        }
    }

    /// A short explanation for the client and the audit record.
    pub fn message(self) -> &'static str {
        match self {
            ViolationKind::ContentLengthWithTransferEncoding => {
                "request has both Content-Length and Transfer-Encoding"
            }
            ViolationKind::DuplicateContentLength => "request has more than one Content-Length",
            ViolationKind::InvalidContentLength => "request has an invalid Content-Length",
            ViolationKind::InvalidTransferEncoding => {
                "Transfer-Encoding must be exactly \"chunked\""
            }
            ViolationKind::InvalidChunking => "request body has invalid chunked framing",
            ViolationKind::MalformedHead => "malformed request head",
            ViolationKind::HeadTooLarge => "request head exceeds the size limit",
        }
    }
}

/// A refusal found on the raw bytes: which request of the connection (0-based) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub request_index: u64,
    pub kind: ViolationKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size { digits: u8, value: u64 },
    Ext { value: u64, len: usize },
    SizeLf { value: u64 },
    Data { left: u64 },
    DataCr,
    DataLf,
    Trailer { len: usize },
    TrailerLf { len: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head (held back from hyper until validated).
    Head,
    /// A `Content-Length` body: bytes left.
    Body(u64),
    Chunked(Chunk),
    /// HTTP/2 or an upgraded connection: nothing more to check here.
    Opaque,
}

/// The streaming framing checker. Pure: bytes in, released bytes out.
#[derive(Debug)]
pub struct FramingScanner {
    state: State,
    pub(super) head: Vec<u8>,
    max_head: usize,
    heads_seen: u64,
    first: bool,
}

impl FramingScanner {
    /// True between messages (collecting a head), false inside a body or when opaque.
    pub fn in_head(&self) -> bool {
        matches!(self.state, State::Head)
    }

    pub fn new(max_head: usize) -> FramingScanner {
        FramingScanner {
            state: State::Head,
            head: Vec::new(),
            max_head,
            heads_seen: 0,
            first: true,
        }
    }

    fn violation(&self, kind: ViolationKind) -> Violation {
        Violation {
            request_index: self.heads_seen,
            kind,
        }
    }

    /// Feeds `input`; appends the bytes that may go to hyper to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        while !input.is_empty() {
            match self.state {
                State::Opaque => {
                    out.extend_from_slice(input);
                    return Ok(());
                }
                State::Head => {
                    let used = self.push_head(input, out)?;
                    input = &input[used..];
                }
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                }
                State::Chunked(Chunk::Data { left }) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    let left = left - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { left }
                    });
                }
                State::Chunked(chunk) => {
                    let byte = input[0];
                    out.push(byte);
                    input = &input[1..];
                    self.state = self.chunk_step(chunk, byte)?;
                }
            }
        }
        Ok(())
    }

    fn chunk_step(&self, chunk: Chunk, b: u8) -> Result<State, Violation> {
        // The body belongs to the head counted last.
        let bad = || Violation {
            request_index: self.heads_seen.saturating_sub(1),
            kind: ViolationKind::InvalidChunking,
        };
        let next = match chunk {
            Chunk::Size { digits, value } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 15 {
                        return Err(bad());
                    }
                    let d = u64::from((b as char).to_digit(16).ok_or_else(bad)?);
                    Chunk::Size {
                        digits: digits + 1,
                        value: value * 16 + d,
                    }
                }
                b';' if digits > 0 => Chunk::Ext { value, len: 0 },
                b'\r' if digits > 0 => Chunk::SizeLf { value },
                _ => return Err(bad()),
            },
            Chunk::Ext { value, len } => match b {
                b'\r' => Chunk::SizeLf { value },
                b'\n' => return Err(bad()),
                _ if len >= MAX_LINE => return Err(bad()),
                _ => Chunk::Ext {
                    value,
                    len: len + 1,
                },
            },
            Chunk::SizeLf { value } => match b {
                b'\n' if value == 0 => Chunk::Trailer { len: 0 },
                b'\n' => Chunk::Data { left: value },
                _ => return Err(bad()),
            },
            // `push` moves data bytes in bulk and never gets here; stay total.
            Chunk::Data { .. } => return Err(bad()),
            Chunk::DataCr => match b {
                b'\r' => Chunk::DataLf,
                _ => return Err(bad()),
            },
            Chunk::DataLf => match b {
                b'\n' => Chunk::Size {
                    digits: 0,
                    value: 0,
                },
                _ => return Err(bad()),
            },
            Chunk::Trailer { len } => match b {
                b'\r' => Chunk::TrailerLf { len },
                b'\n' => return Err(bad()),
                _ if len >= MAX_LINE => return Err(bad()),
                _ => Chunk::Trailer { len: len + 1 },
            },
            Chunk::TrailerLf { len } => match b {
                b'\n' if len == 0 => return Ok(State::Head),
                b'\n' => Chunk::Trailer { len: 0 },
                _ => return Err(bad()),
            },
        };
        Ok(State::Chunked(next))
    }

    /// Consumes head bytes; returns how many bytes of `input` were used.
    fn push_head(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Violation> {
        if self.first {
            // HTTP/2 prior knowledge: h2 has its own, unambiguous framing. Only the
            // exact preface counts (it is what hyper reads as h2; anything else starting
            // `PRI ` is an HTTP/1 request to check), however the reads split it.
            let held = self.head.len();
            if held < H2_PREFACE.len() && H2_PREFACE.starts_with(&self.head) {
                let n = (H2_PREFACE.len() - held).min(input.len());
                if H2_PREFACE[held..].starts_with(&input[..n]) {
                    if held + n < H2_PREFACE.len() {
                        self.head.extend_from_slice(input);
                        return Ok(input.len());
                    }
                    out.append(&mut self.head);
                    self.state = State::Opaque;
                    return Ok(0);
                }
            }
        }
        let before = self.head.len();
        self.head.extend_from_slice(input);
        let Some(end) = find_head_end(&self.head) else {
            if self.head.len() > self.max_head {
                return Err(self.violation(ViolationKind::HeadTooLarge));
            }
            return Ok(input.len());
        };
        if end > self.max_head {
            return Err(self.violation(ViolationKind::HeadTooLarge));
        }
        let next = self.check_head(&self.head[..end])?;
        out.extend_from_slice(&self.head[..end]);
        let used = end - before;
        self.head.clear();
        self.first = false;
        self.heads_seen += 1;
        self.state = next;
        Ok(used)
    }

    fn check_head(&self, head: &[u8]) -> Result<State, Violation> {
        // Leading empty lines before a request line are allowed (RFC 9112 §2.2).
        let start = head
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(head.len());
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head[start..]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) | Err(_) => {
                return Err(self.violation(ViolationKind::MalformedHead));
            }
        }
        let mut content_lengths = 0usize;
        let mut length: Option<u64> = None;
        let mut te: Option<&[u8]> = None;
        let mut te_count = 0usize;
        let mut upgrade = req.method == Some("CONNECT");
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                content_lengths += 1;
                length = parse_length(h.value);
                if length.is_none() {
                    return Err(self.violation(ViolationKind::InvalidContentLength));
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                te_count += 1;
                te = Some(h.value);
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        if content_lengths > 0 && te_count > 0 {
            return Err(self.violation(ViolationKind::ContentLengthWithTransferEncoding));
        }
        if content_lengths > 1 {
            return Err(self.violation(ViolationKind::DuplicateContentLength));
        }
        if te_count > 1 {
            return Err(self.violation(ViolationKind::InvalidTransferEncoding));
        }
        if let Some(te) = te {
            let chunked = std::str::from_utf8(te)
                .map(|v| v.trim().eq_ignore_ascii_case("chunked"))
                .unwrap_or(false);
            if !chunked || req.version != Some(1) {
                return Err(self.violation(ViolationKind::InvalidTransferEncoding));
            }
            // An upgrade request with a body is refused by hyper anyway; keep checking.
            return Ok(State::Chunked(Chunk::Size {
                digits: 0,
                value: 0,
            }));
        }
        if upgrade {
            // After an upgrade the bytes are another protocol; hyper decides whether
            // the upgrade happens, and it only does after Warden allowed it.
            return Ok(State::Opaque);
        }
        match length {
            Some(0) | None => Ok(State::Head),
            Some(n) => Ok(State::Body(n)),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> (Vec<u8>, Result<(), Violation>) {
        let mut s = FramingScanner::new(1024);
        let mut out = Vec::new();
        for c in chunks {
            if let Err(v) = s.push(c, &mut out) {
                return (out, Err(v));
            }
        }
        (out, Ok(()))
    }

    fn kind(chunks: &[&[u8]]) -> Option<ViolationKind> {
        scan(chunks).1.err().map(|v| v.kind)
    }

    #[test]
    fn valid_messages_pass_unchanged_even_split_byte_by_byte() {
        let msg: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        let (out, res) = scan(&bytes);
        assert_eq!(res, Ok(()));
        assert_eq!(out, msg);
    }

    #[test]
    fn a_head_is_held_back_until_complete() {
        let mut s = FramingScanner::new(1024);
        let mut out = Vec::new();
        assert!(s.push(b"GET / HTTP/1.1\r\nHost:", &mut out).is_ok());
        assert!(out.is_empty());
        assert!(s.push(b" x\r\n\r\n", &mut out).is_ok());
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[test]
    fn ambiguous_framing_is_named() {
        use ViolationKind::*;
        let cases: [(&[u8], ViolationKind); 7] = [
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                ContentLengthWithTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                DuplicateContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 0x1\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                InvalidTransferEncoding,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                InvalidTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
                InvalidChunking,
            ),
            (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", MalformedHead),
        ];
        for (msg, want) in cases {
            assert_eq!(kind(&[msg]), Some(want), "{}", String::from_utf8_lossy(msg));
        }
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(2000));
        assert_eq!(kind(&[big.as_bytes()]), Some(HeadTooLarge));
    }

    #[test]
    fn the_violation_names_the_request_it_belongs_to() {
        let (_, res) = scan(&[
            b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz",
        ]);
        assert_eq!(res.map_err(|v| v.request_index), Err(1));
        let (_, res) = scan(&[b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"]);
        assert_eq!(res.map_err(|v| v.request_index), Err(1));
    }

    #[test]
    fn http2_and_upgrades_become_opaque() {
        let (out, res) = scan(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x01garbage"]);
        assert_eq!(res, Ok(()));
        assert!(out.ends_with(b"garbage"));
        let (out, res) = scan(&[
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello",
        ]);
        assert_eq!(res, Ok(()));
        assert!(out.ends_with(b"hello"));
    }

    /// Found by fuzzing: a preface split across reads was refused as a malformed
    /// HTTP/1 head, and any first request starting `PRI ` skipped every check (hyper
    /// reads it as HTTP/1 unless it is the exact preface).
    #[test]
    fn only_the_exact_http2_preface_is_opaque_however_it_is_split() {
        let h2: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x01garbage";
        let bytes: Vec<&[u8]> = h2.chunks(1).collect();
        assert_eq!(scan(&bytes), (h2.to_vec(), Ok(())));
        assert_eq!(scan(&[&h2[..3], &h2[3..]]), (h2.to_vec(), Ok(())));
        let smuggle: &[u8] =
            b"PRI / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(
            kind(&[smuggle]),
            Some(ViolationKind::ContentLengthWithTransferEncoding)
        );
        let near: &[u8] = b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n";
        assert_eq!(kind(&[near]), Some(ViolationKind::MalformedHead));
    }
}
