//! Wire framing for the PostgreSQL protocol: reading length-prefixed messages with hard
//! size limits, bounds-checked body parsing, and builders for the backend messages Warden
//! itself emits.
//!
//! Everything here treats input as hostile: a length below 4, above the configured limit,
//! a truncated body or an unterminated string is an error, never a panic and never an
//! allocation sized by the peer beyond the limit.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::errors::PgError;

/// PostgreSQL's own limit for a startup packet (`MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_BYTES: usize = 10_000;

/// The request codes carried by untyped startup-phase packets.
pub const SSL_REQUEST: u32 = 80_877_103;
pub const GSSENC_REQUEST: u32 = 80_877_104;
pub const CANCEL_REQUEST: u32 = 80_877_102;

/// One typed protocol message: its tag byte and its body (without the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub tag: u8,
    pub body: Bytes,
}

impl Frame {
    /// The message as it goes on the wire (tag, length, body).
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(5 + self.body.len());
        out.put_u8(self.tag);
        out.put_u32((self.body.len() + 4) as u32);
        out.put_slice(&self.body);
    }

    /// Tag and length word, as they precede the body on the wire.
    pub fn header(&self) -> [u8; 5] {
        let [a, b, c, d] = ((self.body.len() + 4) as u32).to_be_bytes();
        [self.tag, a, b, c, d]
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(5 + self.body.len());
        self.encode(&mut out);
        out.freeze()
    }
}

/// Reads framed messages from a byte stream into an owned buffer.
///
/// The buffer never grows past the message limit (plus one read's worth), so memory per
/// connection is bounded by the limit.
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    max_message: usize,
    /// Tags accepted at all; others are refused as soon as the header arrives.
    valid_tag: fn(u8) -> bool,
}

fn any_tag(_: u8) -> bool {
    true
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(io: R, max_message: usize) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(8 * 1024),
            max_message,
            valid_tag: any_tag,
        }
    }

    /// Refuse messages whose tag fails `check` before waiting for their body.
    pub fn with_tag_check(mut self, check: fn(u8) -> bool) -> Self {
        self.valid_tag = check;
        self
    }

    /// Bytes received but not consumed yet (must be empty before a TLS handshake).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn into_inner(self) -> R {
        self.io
    }

    /// Splits into the stream and the bytes already buffered from it.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.io, self.buf)
    }

    /// Resumes reading from `io` with `buf` as already-received bytes.
    pub fn from_parts(io: R, buf: BytesMut, max_message: usize) -> Self {
        FrameReader {
            io,
            buf,
            max_message,
            valid_tag: any_tag,
        }
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// Reads more bytes into the buffer while it holds less than `cap` bytes. Returns the
    /// number of bytes read (0 = end of stream). Cancel-safe: bytes read are kept. When
    /// the buffer is already at `cap`, waits forever (the caller selects on other things).
    pub async fn fill_more(&mut self, cap: usize) -> Result<usize, PgError> {
        if self.buf.len() >= cap {
            std::future::pending::<()>().await;
        }
        self.buf.reserve(8 * 1024);
        let n = self.io.read_buf(&mut self.buf).await?;
        Ok(n)
    }

    async fn fill_to(&mut self, want: usize) -> Result<bool, PgError> {
        while self.buf.len() < want {
            self.buf.reserve(want - self.buf.len());
            let n = self.io.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads one untyped startup-phase packet (length word then body). `Ok(None)` on a
    /// clean end of stream before any byte of the packet.
    pub async fn read_startup(&mut self) -> Result<Option<Bytes>, PgError> {
        if !self.fill_to(4).await? {
            return if self.buf.is_empty() {
                Ok(None)
            } else {
                Err(PgError::Protocol("truncated startup packet".into()))
            };
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if !(8..=MAX_STARTUP_BYTES).contains(&len) {
            return Err(PgError::Protocol(format!(
                "invalid startup packet length {len}"
            )));
        }
        if !self.fill_to(len).await? {
            return Err(PgError::Protocol("truncated startup packet".into()));
        }
        let mut packet = self.buf.split_to(len);
        packet.advance(4);
        Ok(Some(packet.freeze()))
    }

    /// Reads one typed message. `Ok(None)` on a clean end of stream between messages.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, PgError> {
        if !self.fill_to(5).await? {
            return if self.buf.is_empty() {
                Ok(None)
            } else {
                Err(PgError::Protocol("truncated message header".into()))
            };
        }
        let (tag, len) = self.header()?;
        if !self.fill_to(1 + len).await? {
            return Err(PgError::Protocol("truncated message".into()));
        }
        Ok(Some(self.take_frame(tag, len)))
    }

    /// The next message if it is already buffered whole, without reading (so without
    /// waiting); the same checks as [`FrameReader::read_frame`].
    pub fn buffered_frame(&mut self) -> Result<Option<Frame>, PgError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let (tag, len) = self.header()?;
        if self.buf.len() < 1 + len {
            return Ok(None);
        }
        Ok(Some(self.take_frame(tag, len)))
    }

    /// Tag and length word of the buffered header (at least 5 bytes buffered), checked.
    fn header(&self) -> Result<(u8, usize), PgError> {
        let tag = self.buf[0];
        if !(self.valid_tag)(tag) {
            return Err(PgError::Protocol(format!(
                "unexpected message type 0x{tag:02x}"
            )));
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len < 4 {
            return Err(PgError::Protocol(format!("invalid message length {len}")));
        }
        if len - 4 > self.max_message {
            return Err(PgError::TooLarge {
                tag: tag as char,
                len,
                max: self.max_message,
            });
        }
        Ok((tag, len))
    }

    fn take_frame(&mut self, tag: u8, len: usize) -> Frame {
        let mut msg = self.buf.split_to(1 + len);
        msg.advance(5);
        Frame {
            tag,
            body: msg.freeze(),
        }
    }
}

/// A bounds-checked reader over a message body.
pub struct Body {
    data: Bytes,
}

impl Body {
    pub fn new(data: Bytes) -> Body {
        Body { data }
    }

    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    fn short(what: &str) -> PgError {
        PgError::Protocol(format!("message too short reading {what}"))
    }

    pub fn u8(&mut self) -> Result<u8, PgError> {
        if self.data.is_empty() {
            return Err(Self::short("byte"));
        }
        Ok(self.data.get_u8())
    }

    pub fn i16(&mut self) -> Result<i16, PgError> {
        if self.data.len() < 2 {
            return Err(Self::short("int16"));
        }
        Ok(self.data.get_i16())
    }

    pub fn i32(&mut self) -> Result<i32, PgError> {
        if self.data.len() < 4 {
            return Err(Self::short("int32"));
        }
        Ok(self.data.get_i32())
    }

    /// A count that must not be negative.
    pub fn count16(&mut self) -> Result<usize, PgError> {
        let n = self.i16()?;
        usize::try_from(n).map_err(|_| PgError::Protocol(format!("negative count {n}")))
    }

    pub fn bytes(&mut self, n: usize) -> Result<Bytes, PgError> {
        if self.data.len() < n {
            return Err(Self::short("bytes"));
        }
        Ok(self.data.split_to(n))
    }

    /// A NUL-terminated UTF-8 string.
    pub fn cstr(&mut self) -> Result<String, PgError> {
        let Some(end) = self.data.iter().position(|b| *b == 0) else {
            return Err(PgError::Protocol("unterminated string".into()));
        };
        let raw = self.data.split_to(end);
        self.data.advance(1);
        String::from_utf8(raw.to_vec())
            .map_err(|_| PgError::Protocol("string is not valid UTF-8".into()))
    }

    pub fn rest(self) -> Bytes {
        self.data
    }
}

// ---- backend message builders -------------------------------------------------------

fn put_cstr(out: &mut BytesMut, s: &str) {
    // Strings we emit never contain NUL; strip defensively so framing cannot break.
    out.extend(s.bytes().filter(|b| *b != 0));
    out.put_u8(0);
}

/// Starts a message: writes the tag and a placeholder length; returns the length offset.
fn begin(out: &mut BytesMut, tag: u8) -> usize {
    out.put_u8(tag);
    let at = out.len();
    out.put_u32(0);
    at
}

fn finish(out: &mut BytesMut, at: usize) {
    let len = (out.len() - at) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Severity and fields of an ErrorResponse or NoticeResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Report {
    pub fn error(code: &'static str, message: impl Into<String>) -> Report {
        Report {
            severity: "ERROR",
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn fatal(code: &'static str, message: impl Into<String>) -> Report {
        Report {
            severity: "FATAL",
            ..Report::error(code, message)
        }
    }

    pub fn notice(code: &'static str, message: impl Into<String>) -> Report {
        Report {
            severity: "NOTICE",
            ..Report::error(code, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Report {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Report {
        self.hint = Some(hint.into());
        self
    }

    fn encode(&self, out: &mut BytesMut, tag: u8) {
        let at = begin(out, tag);
        for (field, value) in [
            (b'S', self.severity),
            (b'V', self.severity),
            (b'C', self.code),
        ] {
            out.put_u8(field);
            put_cstr(out, value);
        }
        out.put_u8(b'M');
        put_cstr(out, &self.message);
        if let Some(d) = &self.detail {
            out.put_u8(b'D');
            put_cstr(out, d);
        }
        if let Some(h) = &self.hint {
            out.put_u8(b'H');
            put_cstr(out, h);
        }
        out.put_u8(0);
        finish(out, at);
    }

    /// ErrorResponse ('E').
    pub fn encode_error(&self, out: &mut BytesMut) {
        self.encode(out, b'E');
    }

    /// NoticeResponse ('N').
    pub fn encode_notice(&self, out: &mut BytesMut) {
        self.encode(out, b'N');
    }
}

/// Reads the fields of an ErrorResponse/NoticeResponse body: (code, message).
pub fn parse_report(body: &Bytes) -> (Option<String>, Option<String>) {
    let mut b = Body::new(body.clone());
    let (mut code, mut message) = (None, None);
    while let Ok(field) = b.u8() {
        if field == 0 {
            break;
        }
        let Ok(value) = b.cstr() else { break };
        match field {
            b'C' => code = Some(value),
            b'M' => message = Some(value),
            _ => {}
        }
    }
    (code, message)
}

pub fn auth_request(out: &mut BytesMut, code: i32, extra: &[u8]) {
    let at = begin(out, b'R');
    out.put_i32(code);
    out.put_slice(extra);
    finish(out, at);
}

pub fn auth_ok(out: &mut BytesMut) {
    auth_request(out, 0, &[]);
}

pub fn backend_key_data(out: &mut BytesMut, pid: u32, secret: &[u8]) {
    let at = begin(out, b'K');
    out.put_u32(pid);
    out.put_slice(secret);
    finish(out, at);
}

pub fn negotiate_protocol_version(out: &mut BytesMut, minor: u16, unsupported: &[String]) {
    let at = begin(out, b'v');
    out.put_u32((3 << 16) | u32::from(minor));
    out.put_u32(unsupported.len() as u32);
    for opt in unsupported {
        put_cstr(out, opt);
    }
    finish(out, at);
}

/// A simple Query message.
pub fn query(out: &mut BytesMut, sql: &str) {
    let at = begin(out, b'Q');
    put_cstr(out, sql);
    finish(out, at);
}

/// A Parse message with no parameter types.
pub fn parse(out: &mut BytesMut, name: &str, sql: &str) {
    let at = begin(out, b'P');
    put_cstr(out, name);
    put_cstr(out, sql);
    out.put_i16(0);
    finish(out, at);
}

/// An untyped startup-phase packet (length word then body).
pub fn startup_packet(out: &mut BytesMut, body: &[u8]) {
    out.put_u32((body.len() + 4) as u32);
    out.put_slice(body);
}

/// The StartupMessage body for protocol 3.0 with the given parameters.
pub fn startup_body(params: &[(&str, &str)]) -> BytesMut {
    let mut body = BytesMut::new();
    body.put_u32(3 << 16);
    for (k, v) in params {
        put_cstr(&mut body, k);
        put_cstr(&mut body, v);
    }
    body.put_u8(0);
    body
}

/// A typed message with an arbitrary body (used for password/SASL responses).
pub fn typed(out: &mut BytesMut, tag: u8, body: &[u8]) {
    let at = begin(out, tag);
    out.put_slice(body);
    finish(out, at);
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
