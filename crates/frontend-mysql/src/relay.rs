//! Upstream → client: the response to one forwarded command, relayed packet by packet
//! (payloads unchanged, 16 MiB continuations streamed, never reassembled), while its
//! framing is followed to know where the response ends and what its outcome was.
//!
//! Responses are read with classic EOF packets (Warden never negotiates
//! `CLIENT_DEPRECATE_EOF`). An upstream asking for a local file (`0xFB`, `LOAD DATA
//! LOCAL`) is answered with an empty file and the request is never shown to the client;
//! the sequence ids the client sees are shifted so that its view stays consistent.
//!
//! Packets are copied from the upstream reader's buffer into the session's reused
//! output buffer (no allocation per packet); result-set rows that are already buffered
//! whole go as one copy after each one's sequence id and kind were checked
//! ([`PacketReader::buffered_rows`]). The client gets one write per response, or per
//! 64 KiB of it.
//!
//! Must never forward a packet whose sequence id is not the expected one, and never
//! send the upstream a byte of a client file.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use warden_audit::Outcome;

use super::errors::MyError;
use super::packet::{PacketReader, MAX_CHUNK};
use super::wire::{Body, STATUS_CURSOR_EXISTS, STATUS_MORE_RESULTS};

/// Flush to the client once this much is buffered.
const FLUSH_AT: usize = 64 * 1024;
/// A session's reusable output buffer is let go after a response that grew it past this.
const KEEP_AT_MOST: usize = 4 * FLUSH_AT;
/// How much of a response packet's start is kept to follow the framing (an OK packet's
/// two length-encoded integers and status fit).
const HEAD: usize = 32;

/// What kind of response the forwarded command gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// OK, ERR or result sets (COM_QUERY, COM_STMT_EXECUTE), possibly several.
    Results,
    /// COM_STMT_PREPARE: OK with the statement id and its definitions, or ERR.
    Prepare,
    /// One packet (COM_PING, COM_INIT_DB, COM_STMT_RESET, ...).
    One,
    /// COM_STMT_FETCH: rows and an EOF, or ERR.
    Fetch,
}

/// What a relayed response amounted to.
#[derive(Debug, Default)]
pub struct Relayed {
    pub outcome: Outcome,
    /// COM_STMT_PREPARE: the upstream's statement id.
    pub statement_id: Option<u32>,
    /// COM_STMT_PREPARE: how many parameters the statement has.
    pub params: u16,
}

/// The start of one response packet (of its first physical packet), read while the
/// packet itself waits in the upstream reader's buffer to be forwarded or skipped.
struct Head {
    len: usize,
    bytes: [u8; HEAD],
    /// An ERR packet's code and message.
    err: Option<String>,
}

impl Head {
    fn first(&self) -> u8 {
        self.bytes[0]
    }

    /// The kept start of the payload.
    fn start(&self) -> &[u8] {
        &self.bytes[..self.len.min(HEAD)]
    }

    fn is_eof(&self) -> bool {
        self.first() == 0xfe && self.len < 9
    }

    /// The status flags of an EOF packet.
    fn eof_status(&self) -> u16 {
        Body::new(self.start().get(3..).unwrap_or_default())
            .u16()
            .unwrap_or(0)
    }
}

struct Pipe<'a, U, C> {
    up: &'a mut PacketReader<U>,
    client: &'a mut C,
    out: &'a mut BytesMut,
    up_seq: u8,
    /// Packets the client must not count (a local-file request and Warden's answer).
    shift: u8,
    bytes: u64,
}

impl<U: AsyncRead + AsyncWrite + Unpin, C: AsyncWrite + Unpin> Pipe<'_, U, C> {
    /// The first physical packet of the next response packet, not yet forwarded (it
    /// stays buffered: [`forward`](Self::forward) or [`skip`](Self::skip) it).
    async fn read_first(&mut self) -> Result<Head, MyError> {
        let len = self.peek_physical().await?;
        if len == 0 {
            return Err(MyError::Upstream("empty response packet".into()));
        }
        let payload = self.up.peeked(len);
        let mut bytes = [0u8; HEAD];
        let kept = payload.len().min(HEAD);
        bytes[..kept].copy_from_slice(&payload[..kept]);
        let err = (payload.first() == Some(&0xff)).then(|| err_text(payload));
        Ok(Head { len, bytes, err })
    }

    /// Buffers the next physical packet (sequence id checked): its payload length.
    async fn peek_physical(&mut self) -> Result<usize, MyError> {
        let (seq, len) = self
            .up
            .peek_physical(MAX_CHUNK)
            .await?
            .ok_or_else(|| MyError::Upstream("the database closed the connection".into()))?;
        if seq != self.up_seq {
            return Err(MyError::Upstream(format!(
                "packets out of order (expected {}, got {seq})",
                self.up_seq
            )));
        }
        self.up_seq = self.up_seq.wrapping_add(1);
        Ok(len)
    }

    /// Copies the buffered packet (sequence id `seq`, payload length `len`) to the
    /// client's output and drops it from the upstream buffer.
    async fn push(&mut self, seq: u8, len: usize) -> Result<(), MyError> {
        let client_seq = seq.wrapping_sub(self.shift);
        let l = len as u32;
        self.out
            .extend_from_slice(&[l as u8, (l >> 8) as u8, (l >> 16) as u8, client_seq]);
        self.out.extend_from_slice(self.up.peeked(len));
        self.up.consume(len);
        self.bytes += len as u64;
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Forwards the packet `head` starts (already read) and any continuation packets
    /// after it.
    async fn forward(&mut self, head: &Head) -> Result<(), MyError> {
        self.push(self.up_seq.wrapping_sub(1), head.len).await?;
        let mut more = head.len == MAX_CHUNK;
        while more {
            let seq = self.up_seq;
            let len = self.peek_physical().await?;
            more = len == MAX_CHUNK;
            self.push(seq, len).await?;
        }
        Ok(())
    }

    /// Drops the packet `head` starts without forwarding it (one physical packet: a
    /// local-file request, shorter than [`MAX_CHUNK`]).
    fn skip(&mut self, head: &Head) {
        self.up.consume(head.len);
    }

    /// Forwards the result-set rows already buffered whole, in one copy (see
    /// [`PacketReader::buffered_rows`]): their sequence ids are checked and passed on
    /// unchanged, so only when the client's ids are the upstream's (no local-file
    /// exchange shifted them). Returns how many rows were forwarded.
    async fn forward_buffered_rows(&mut self) -> Result<u64, MyError> {
        if self.shift != 0 {
            return Ok(0);
        }
        let (bytes, count) = self.up.buffered_rows(self.up_seq);
        if count == 0 {
            return Ok(0);
        }
        self.out.extend_from_slice(self.up.front(bytes));
        self.up.advance(bytes);
        self.up_seq = self.up_seq.wrapping_add(count as u8);
        self.bytes += (bytes - 4 * count) as u64;
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(count as u64)
    }

    async fn next_forwarded(&mut self) -> Result<Head, MyError> {
        let head = self.read_first().await?;
        self.forward(&head).await?;
        Ok(head)
    }

    async fn flush(&mut self) -> Result<(), MyError> {
        if !self.out.is_empty() {
            let written = self.client.write_all(self.out).await;
            self.out.clear();
            written?;
        }
        self.client.flush().await?;
        Ok(())
    }

    /// Answers a local-file request with an empty file (one empty packet).
    async fn refuse_local_file(&mut self) -> Result<(), MyError> {
        let seq = self.up_seq;
        self.up.get_mut().write_all(&[0, 0, 0, seq]).await?;
        self.up.get_mut().flush().await?;
        self.up_seq = self.up_seq.wrapping_add(1);
        self.shift = self.shift.wrapping_add(2);
        Ok(())
    }
}

fn err_text(payload: &[u8]) -> String {
    let mut b = Body::new(payload.get(1..).unwrap_or_default());
    let code = b.u16().unwrap_or(0);
    let rest = b.rest();
    let message = rest
        .strip_prefix(b"#")
        .map_or(rest, |r| r.get(5..).unwrap_or_default());
    format!("{code}: {}", String::from_utf8_lossy(message))
}

/// Relays the response to a command forwarded with sequence id 0.
pub async fn relay<U, C>(
    up: &mut PacketReader<U>,
    client: &mut C,
    expect: Expect,
) -> Result<Relayed, MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    relay_with(up, client, &mut BytesMut::new(), expect).await
}

/// [`relay`] with the session's reusable output buffer `out` (left empty; let go when
/// a large response grew it).
pub async fn relay_with<U, C>(
    up: &mut PacketReader<U>,
    client: &mut C,
    out: &mut BytesMut,
    expect: Expect,
) -> Result<Relayed, MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    out.clear();
    let relayed = relay_into(up, client, out, expect).await;
    out.clear();
    if out.capacity() > KEEP_AT_MOST {
        *out = BytesMut::new();
    }
    relayed
}

async fn relay_into<U, C>(
    up: &mut PacketReader<U>,
    client: &mut C,
    out: &mut BytesMut,
    expect: Expect,
) -> Result<Relayed, MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    let mut pipe = Pipe {
        up,
        client,
        out,
        up_seq: 1,
        shift: 0,
        bytes: 0,
    };
    let mut relayed = Relayed::default();
    match expect {
        Expect::One => {
            let p = pipe.next_forwarded().await?;
            if let Some(err) = p.err {
                relayed.outcome.error = Some(err);
            } else {
                relayed.outcome.status = Some("OK".into());
            }
        }
        Expect::Prepare => prepare(&mut pipe, &mut relayed).await?,
        Expect::Results => results(&mut pipe, &mut relayed.outcome).await?,
        Expect::Fetch => {
            let (rows, end) = rows_until_end(&mut pipe).await?;
            relayed.outcome.rows = Some(rows);
            relayed.outcome.status = Some(format!("FETCH {rows}"));
            relayed.outcome.error = end.err;
        }
    }
    relayed.outcome.bytes = Some(pipe.bytes);
    pipe.flush().await?;
    Ok(relayed)
}

async fn prepare<U, C>(pipe: &mut Pipe<'_, U, C>, relayed: &mut Relayed) -> Result<(), MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    let first = pipe.next_forwarded().await?;
    if let Some(err) = first.err {
        relayed.outcome.error = Some(err);
        return Ok(());
    }
    let mut b = Body::new(&first.start()[1..]);
    let id = b.u32().map_err(|e| MyError::Upstream(e.to_string()))?;
    let columns = b.u16().map_err(|e| MyError::Upstream(e.to_string()))?;
    let params = b.u16().map_err(|e| MyError::Upstream(e.to_string()))?;
    for count in [params, columns] {
        if count == 0 {
            continue;
        }
        for _ in 0..=count {
            pipe.next_forwarded().await?;
        }
    }
    relayed.statement_id = Some(id);
    relayed.params = params;
    relayed.outcome.status = Some("PREPARED".into());
    Ok(())
}

/// Rows up to the EOF or ERR that ends them: (rows, that packet).
async fn rows_until_end<U, C>(pipe: &mut Pipe<'_, U, C>) -> Result<(u64, Head), MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    let mut rows = 0u64;
    loop {
        rows += pipe.forward_buffered_rows().await?;
        let p = pipe.next_forwarded().await?;
        if p.is_eof() || p.err.is_some() {
            return Ok((rows, p));
        }
        rows += 1;
    }
}

async fn results<U, C>(pipe: &mut Pipe<'_, U, C>, outcome: &mut Outcome) -> Result<(), MyError>
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncWrite + Unpin,
{
    let mut rows = 0u64;
    loop {
        let first = pipe.read_first().await?;
        match first.first() {
            0xfb if first.len < MAX_CHUNK => {
                pipe.skip(&first);
                pipe.refuse_local_file().await?;
                outcome.error =
                    Some("the database asked for a local file; Warden sent none".into());
                continue;
            }
            0x00 => {
                pipe.forward(&first).await?;
                let mut b = Body::new(&first.start()[1..]);
                let affected = b.lenenc().unwrap_or(0);
                b.lenenc().ok();
                let status = b.u16().unwrap_or(0);
                rows += affected;
                outcome.status = Some(format!("OK {affected}"));
                if status & STATUS_MORE_RESULTS == 0 {
                    break;
                }
            }
            0xff => {
                pipe.forward(&first).await?;
                outcome.error = first.err;
                break;
            }
            _ => {
                pipe.forward(&first).await?;
                let columns = Body::new(first.start())
                    .lenenc()
                    .map_err(|e| MyError::Upstream(e.to_string()))?;
                let mut last = first;
                for _ in 0..=columns {
                    last = pipe.next_forwarded().await?;
                }
                let opened_cursor = last.is_eof() && last.eof_status() & STATUS_CURSOR_EXISTS != 0;
                if opened_cursor {
                    // the rows come with COM_STMT_FETCH
                    outcome.status = Some("CURSOR OPENED".into());
                    break;
                }
                let (set_rows, end) = rows_until_end(pipe).await?;
                rows += set_rows;
                outcome.status = Some(format!("SELECT {set_rows}"));
                if end.err.is_some() {
                    outcome.error = end.err;
                    break;
                }
                if end.eof_status() & STATUS_MORE_RESULTS == 0 {
                    break;
                }
            }
        }
    }
    outcome.rows = Some(rows);
    Ok(())
}
