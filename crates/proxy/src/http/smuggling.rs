//! Request-smuggling guard: an I/O wrapper that re-reads HTTP/1 message framing on the
//! raw client bytes *before* hyper parses them.
//!
//! hyper quietly repairs some ambiguous framing (it drops `Content-Length` when
//! `Transfer-Encoding` is present and merges equal duplicate lengths). Warden refuses
//! those requests instead, and must audit the refusal, so this guard looks at every
//! request head itself:
//!
//! * `Content-Length` together with `Transfer-Encoding` → 400,
//! * more than one `Content-Length` (even with equal values), or a non-numeric one → 400,
//! * a `Transfer-Encoding` other than exactly `chunked` → 400,
//! * invalid chunked framing (bad size line, missing CRLF, oversized trailers) → 400,
//! * a head larger than the configured limit → 431.
//!
//! A refused head is never handed to hyper: the guard substitutes a tiny synthetic
//! request so the service still runs once (and answers + audits the refusal from the
//! shared [`ViolationSlot`]), then reports end of stream. A framing error inside a
//! chunked body is reported to hyper as an I/O error, which surfaces as a body error in
//! the service, which consults the same slot.
//!
//! Must never: let a head it could not validate through, or buffer more than one head
//! (bodies stream through untouched).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The request hyper sees in place of a refused head.
const SYNTHETIC_REQUEST: &[u8] =
    b"GET /.warden/refused HTTP/1.1\r\nhost: warden.invalid\r\nconnection: close\r\n\r\n";

/// Upper bound of one chunk-extension or trailer line.
const MAX_LINE: usize = 8 * 1024;
/// Upper bound of request headers per head.
const MAX_HEADERS: usize = 128;

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

/// Shared between the guard (writer) and the per-connection service (reader).
#[derive(Debug, Clone, Default)]
pub struct ViolationSlot(Arc<Mutex<Option<Violation>>>);

impl ViolationSlot {
    fn set(&self, v: Violation) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(v);
        }
    }

    /// The violation that applies to request `index` of the connection, if any: every
    /// request from the refused one on is refused (fail closed).
    pub fn for_request(&self, index: u64) -> Option<Violation> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.filter(|v| v.request_index <= index)
    }
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
    head: Vec<u8>,
    max_head: usize,
    heads_seen: u64,
    first: bool,
}

impl FramingScanner {
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
        if self.first && self.head.is_empty() && input.starts_with(b"PRI ") {
            // HTTP/2 prior knowledge: h2 has its own, unambiguous framing.
            self.state = State::Opaque;
            return Ok(0);
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

/// The I/O wrapper hyper reads from.
pub struct FramingGuard<IO> {
    inner: IO,
    scanner: FramingScanner,
    slot: ViolationSlot,
    out: Vec<u8>,
    out_pos: usize,
    /// The client closed its side.
    stopped: bool,
    /// A violation was found: nothing more is read from the client.
    refused: bool,
    /// A framing error inside a body: reported once as an I/O error.
    pending_error: bool,
}

impl<IO> FramingGuard<IO> {
    pub fn new(inner: IO, max_head: usize, slot: ViolationSlot) -> FramingGuard<IO> {
        FramingGuard {
            inner,
            scanner: FramingScanner::new(max_head),
            slot,
            out: Vec::new(),
            out_pos: 0,
            stopped: false,
            refused: false,
            pending_error: false,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for FramingGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.pending_error {
                this.pending_error = false;
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "invalid request framing",
                )));
            }
            if this.refused {
                // Not EOF: hyper would take that as the client leaving and drop the
                // refusal. The answer carries `Connection: close`, which ends it.
                return Poll::Pending;
            }
            if this.stopped {
                return Poll::Ready(Ok(()));
            }
            let mut tmp = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let filled = rb.filled();
            if filled.is_empty() {
                // EOF: release a partial head so hyper reports it as incomplete.
                this.out.append(&mut this.scanner.head);
                this.stopped = true;
                continue;
            }
            if let Err(v) = this.scanner.push(filled, &mut this.out) {
                this.slot.set(v);
                this.refused = true;
                // A refused head never reaches hyper; a bad chunk surfaces as a body error.
                if matches!(this.scanner.state, State::Head) {
                    this.out.extend_from_slice(SYNTHETIC_REQUEST);
                } else {
                    this.pending_error = true;
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FramingGuard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
