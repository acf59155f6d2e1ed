//! Packet framing: a 3-byte little-endian length and a sequence id, payloads of
//! 0xFFFFFF bytes continued by the next packet (16 MiB continuation), reassembled here
//! up to a configured maximum.
//!
//! The length word is checked against the limit before any body is read, and every
//! sequence id is checked. Must never allocate more than the limit for a client
//! packet, and never accept a packet whose sequence id is not the expected one.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::errors::MyError;

/// Largest payload of one physical packet; a payload this long continues in the next.
pub const MAX_CHUNK: usize = 0x00ff_ffff;

/// One logical packet: the payload (continuations joined) and the sequence id of its
/// last physical packet.
#[derive(Debug)]
pub struct Packet {
    pub last_seq: u8,
    pub payload: Bytes,
}

/// Reads packets from one side, with the read-ahead kept between calls.
pub struct PacketReader<R> {
    io: R,
    buf: BytesMut,
    max: usize,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    pub fn new(io: R, max: usize) -> PacketReader<R> {
        PacketReader {
            io,
            buf: BytesMut::with_capacity(8 * 1024),
            max,
        }
    }

    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// The stream, when nothing read from it is left over (`None` otherwise).
    pub fn into_inner(self) -> Option<R> {
        self.buf.is_empty().then_some(self.io)
    }

    /// Bytes read from the socket but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads until `n` bytes are buffered; `false` on a clean end of stream before any
    /// byte of what was wanted.
    async fn fill(&mut self, n: usize) -> Result<bool, MyError> {
        while self.buf.len() < n {
            let start = self.buf.len();
            if self.io.read_buf(&mut self.buf).await? == 0 {
                if start == 0 {
                    return Ok(false);
                }
                return Err(MyError::Malformed(
                    "connection closed inside a packet".into(),
                ));
            }
        }
        Ok(true)
    }

    /// Reads more from the socket (at most `cap` buffered): used while a statement is
    /// held, only to notice a disconnect. Returns the bytes read (0 at end of stream).
    pub async fn fill_more(&mut self, cap: usize) -> Result<usize, MyError> {
        if self.buf.len() >= cap {
            std::future::pending::<()>().await;
        }
        Ok(self.io.read_buf(&mut self.buf).await?)
    }

    /// Next physical packet: `(sequence id, payload)`, `None` at a clean end of stream.
    /// The payload may be up to [`MAX_CHUNK`]; `limit` bounds it further.
    pub async fn read_physical(&mut self, limit: usize) -> Result<Option<(u8, Bytes)>, MyError> {
        let Some((seq, len)) = self.peek_physical(limit).await? else {
            return Ok(None);
        };
        self.buf.advance(4);
        Ok(Some((seq, self.buf.split_to(len).freeze())))
    }

    /// Buffers the next physical packet whole without consuming it: `(sequence id,
    /// payload length)`, `None` at a clean end of stream. Its payload is then
    /// [`peeked`](Self::peeked) until [`consume`](Self::consume) drops it (the relay
    /// copies response packets this way, without a buffer per packet).
    pub async fn peek_physical(&mut self, limit: usize) -> Result<Option<(u8, usize)>, MyError> {
        if !self.fill(4).await? {
            return Ok(None);
        }
        let len = usize::from(self.buf[0])
            | usize::from(self.buf[1]) << 8
            | usize::from(self.buf[2]) << 16;
        let seq = self.buf[3];
        if len > limit {
            return Err(MyError::TooLarge { len, max: limit });
        }
        if !self.fill(4 + len).await? {
            return Err(MyError::Malformed(
                "connection closed inside a packet".into(),
            ));
        }
        Ok(Some((seq, len)))
    }

    /// The payload of the packet [`peek_physical`](Self::peek_physical) returned (`len`:
    /// its length). Empty when fewer bytes are buffered (never panics).
    pub fn peeked(&self, len: usize) -> &[u8] {
        self.buf.get(4..4 + len).unwrap_or_default()
    }

    /// Drops the peeked packet of payload length `len` from the buffer.
    pub fn consume(&mut self, len: usize) {
        self.buf.advance((4 + len).min(self.buf.len()));
    }

    /// The run of whole packets at the front of the buffer that are result-set rows, as
    /// a relay may pass them on unchanged: sequence ids `seq`, `seq + 1`, ... in order,
    /// each payload non-empty, shorter than [`MAX_CHUNK`] (no continuation) and neither
    /// an EOF (`0xFE`, under 9 bytes) nor an ERR (`0xFF`). Returns the run's length in
    /// bytes (headers included) and its number of packets; the bytes are
    /// [`front`](Self::front) until [`advance`](Self::advance) drops them.
    pub fn buffered_rows(&self, seq: u8) -> (usize, usize) {
        let (mut at, mut count, mut seq) = (0, 0, seq);
        while let Some(h) = self.buf.get(at..at + 4) {
            let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
            let Some(&first) = self.buf.get(at + 4) else {
                break;
            };
            let end = at + 4 + len;
            let row = h[3] == seq
                && len > 0
                && len < MAX_CHUNK
                && end <= self.buf.len()
                && first != 0xff
                && !(first == 0xfe && len < 9);
            if !row {
                break;
            }
            (at, count, seq) = (end, count + 1, seq.wrapping_add(1));
        }
        (at, count)
    }

    /// The first `n` buffered bytes (fewer when fewer are buffered).
    pub fn front(&self, n: usize) -> &[u8] {
        &self.buf[..n.min(self.buf.len())]
    }

    /// Drops the first `n` buffered bytes.
    pub fn advance(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    /// Next logical packet, whose first physical packet must carry `expected_seq`.
    /// `None` at a clean end of stream before it starts.
    pub async fn read_packet(&mut self, expected_seq: u8) -> Result<Option<Packet>, MyError> {
        let mut expected = expected_seq;
        let mut joined: Option<BytesMut> = None;
        loop {
            let so_far = joined.as_ref().map_or(0, BytesMut::len);
            let limit = self.max.saturating_sub(so_far).min(MAX_CHUNK);
            let Some((seq, chunk)) = self.read_physical_bounded(limit, so_far).await? else {
                if joined.is_some() {
                    return Err(MyError::Malformed(
                        "connection closed inside a packet".into(),
                    ));
                }
                return Ok(None);
            };
            if seq != expected {
                return Err(MyError::OutOfOrder { expected, got: seq });
            }
            let more = chunk.len() == MAX_CHUNK;
            let payload = match joined.take() {
                None if !more => {
                    return Ok(Some(Packet {
                        last_seq: seq,
                        payload: chunk,
                    }))
                }
                None => BytesMut::from(&chunk[..]),
                Some(mut j) => {
                    j.extend_from_slice(&chunk);
                    j
                }
            };
            if !more {
                return Ok(Some(Packet {
                    last_seq: seq,
                    payload: payload.freeze(),
                }));
            }
            joined = Some(payload);
            expected = expected.wrapping_add(1);
        }
    }

    /// [`read_physical`](Self::read_physical), reporting a too-large packet with the
    /// total size so far.
    async fn read_physical_bounded(
        &mut self,
        limit: usize,
        so_far: usize,
    ) -> Result<Option<(u8, Bytes)>, MyError> {
        match self.read_physical(limit).await {
            Err(MyError::TooLarge { len, .. }) => Err(MyError::TooLarge {
                len: so_far + len,
                max: self.max,
            }),
            other => other,
        }
    }
}

/// Appends `payload` as packets starting at `seq` (split at 16 MiB, with the empty
/// packet that ends a payload of an exact multiple); returns the next sequence id.
pub fn encode(out: &mut BytesMut, seq: u8, payload: &[u8]) -> u8 {
    let mut seq = seq;
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_CHUNK);
        let len = n as u32;
        out.extend_from_slice(&[len as u8, (len >> 8) as u8, (len >> 16) as u8, seq]);
        out.extend_from_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_CHUNK {
            return seq;
        }
    }
}

/// Writes one logical packet and flushes; returns the next sequence id.
pub async fn send<W: AsyncWrite + Unpin>(
    io: &mut W,
    seq: u8,
    payload: &[u8],
) -> Result<u8, MyError> {
    let mut out = BytesMut::with_capacity(payload.len() + 4);
    send_with(io, &mut out, seq, payload).await
}

/// [`send`] with a caller's reusable buffer (emptied again, in one write when the
/// payload is one packet).
pub async fn send_with<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut BytesMut,
    seq: u8,
    payload: &[u8],
) -> Result<u8, MyError> {
    out.clear();
    let next = encode(out, seq, payload);
    let written = io.write_all(out).await;
    out.clear();
    written?;
    io.flush().await?;
    Ok(next)
}

/// The client's first packet (sequence id 1), read byte-exactly from `io`: nothing after
/// it is consumed, so that a TLS handshake can follow an SSLRequest. `None` when the
/// client leaves before sending anything.
pub async fn read_first<R: AsyncRead + Unpin>(
    io: &mut R,
    limit: usize,
) -> Result<Option<Bytes>, MyError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = io.read(&mut header[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(MyError::Malformed(
                "connection closed inside a packet".into(),
            ));
        }
        got += n;
    }
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if header[3] != 1 {
        return Err(MyError::OutOfOrder {
            expected: 1,
            got: header[3],
        });
    }
    if len > limit {
        return Err(MyError::TooLarge { len, max: limit });
    }
    let mut payload = vec![0u8; len];
    io.read_exact(&mut payload)
        .await
        .map_err(|_| MyError::Malformed("connection closed inside a packet".into()))?;
    Ok(Some(Bytes::from(payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: Vec<u8>, max: usize) -> Result<Option<Packet>, MyError> {
        let mut r = PacketReader::new(&bytes[..], max);
        r.read_packet(0).await
    }

    #[tokio::test]
    async fn continuation_packets_are_joined_and_bounded() {
        let payload = vec![7u8; MAX_CHUNK + 10];
        let mut out = BytesMut::new();
        assert_eq!(encode(&mut out, 0, &payload), 2);
        let p = read_all(out.to_vec(), 32 << 20)
            .await
            .expect("ok")
            .expect("packet");
        assert_eq!(p.payload.len(), MAX_CHUNK + 10);
        assert_eq!(p.last_seq, 1);
        let e = read_all(out.to_vec(), MAX_CHUNK + 5)
            .await
            .expect_err("too large");
        assert!(matches!(e, MyError::TooLarge { .. }), "{e}");
        // an exact multiple ends with an empty packet
        let mut out = BytesMut::new();
        assert_eq!(encode(&mut out, 0, &vec![1u8; MAX_CHUNK]), 2);
        let p = read_all(out.to_vec(), 32 << 20)
            .await
            .expect("ok")
            .expect("packet");
        assert_eq!(p.payload.len(), MAX_CHUNK);
    }

    #[tokio::test]
    async fn buffered_rows_stop_at_anything_but_a_whole_row_in_order() {
        let rows_then = |tail: &[u8]| {
            let mut out = BytesMut::new();
            encode(&mut out, 3, b"\x01a");
            encode(&mut out, 4, b"\x02bb");
            out.extend_from_slice(tail);
            out.to_vec()
        };
        let run = (4 + 2) + (4 + 3);
        for (tail, why) in [
            (&b"\x05\x00\x00\x05\xfe\x00\x00\x02\x00"[..], "an EOF"),
            (&b"\x03\x00\x00\x05\xff\x15\x04"[..], "an ERR"),
            (&b"\x02\x00\x00\x09\x01c"[..], "a wrong sequence id"),
            (&b"\x00\x00\x00\x05"[..], "an empty packet"),
            (&b"\x04\x00\x00\x05\x03cc"[..], "a partly read row"),
            (&b"\xff\xff\xff\x05\x01"[..], "a 16 MiB packet"),
            (&b"\x04\x00"[..], "a partial header"),
        ] {
            let bytes = rows_then(tail);
            let mut r = PacketReader::new(&bytes[..], 1 << 20);
            r.fill(bytes.len()).await.expect("buffered");
            assert_eq!(r.buffered_rows(3), (run, 2), "{why}");
            assert_eq!(r.front(run), &bytes[..run]);
            assert_eq!(r.buffered_rows(4), (0, 0), "out of order from the start");
            r.advance(run);
            assert_eq!(r.front(usize::MAX), tail);
        }
        // a text row whose first value is 16 MiB or longer starts with 0xFE but is no EOF
        let mut long = vec![0xfe];
        long.extend_from_slice(&[0u8; 9]);
        let mut out = BytesMut::new();
        encode(&mut out, 1, &long);
        let mut r = PacketReader::new(&out[..], 1 << 20);
        r.fill(out.len()).await.expect("buffered");
        assert_eq!(r.buffered_rows(1), (out.len(), 1));
    }

    #[tokio::test]
    async fn bad_sequence_and_truncation_are_errors() {
        let e = read_all(vec![1, 0, 0, 5, 3], 1024).await.expect_err("seq");
        assert!(
            matches!(
                e,
                MyError::OutOfOrder {
                    expected: 0,
                    got: 5
                }
            ),
            "{e}"
        );
        let e = read_all(vec![9, 0, 0, 0, 3], 1024)
            .await
            .expect_err("short");
        assert!(matches!(e, MyError::Malformed(_)), "{e}");
        let e = read_all(vec![0xff, 0xff, 0x0f, 0], 1024)
            .await
            .expect_err("big");
        assert!(matches!(e, MyError::TooLarge { .. }), "{e}");
        assert!(read_all(vec![], 1024).await.expect("eof").is_none());
    }
}
