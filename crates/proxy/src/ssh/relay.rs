//! Relays one channel pair both ways: the client's channel on Warden's russh server and
//! the upstream channel on Warden's russh client (exec, subsystem and forwarded TCP).
//!
//! Why this is more than two copy loops: russh re-opens a peer's SSH window as soon as
//! a packet arrives, and applies backpressure only by blocking its whole session loop
//! until the channel's message queue has room. A relay that stops reading one
//! direction (because its sink is busy) therefore also stops that session from reading
//! the WINDOW_ADJUST, and from taking the outgoing messages, that the *other* direction
//! needs: with stdin and stdout both busy (`ssh host cat < big-file`) the client and
//! upstream sessions end up waiting on each other for ever.
//!
//! Here every direction is a [`Pipe`]: a reader drains the source into a bounded queue
//! and a writer empties it into the sink. A reader stops at [`SOFT_LIMIT`] queued bytes
//! (backpressure) unless the other direction's writer is blocked on its sink, which is
//! the session this reader drains; then it keeps reading (that session's loop must keep
//! moving for the writer to get anywhere) up to [`HARD_LIMIT`], well above what a peer
//! that honours the window can send ahead of its WINDOW_ADJUST. A client that keeps
//! sending beyond that without reading its output ends the relay with an error instead
//! of a stall.
//!
//! Must never buffer more than [`HARD_LIMIT`] bytes per direction (on top of russh's
//! own per-channel queue), never spin while waiting, and never reorder a channel's
//! messages (exit status and EOF follow the data they come after).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Poll;

use russh::{ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::exec::UPSTREAM_FAILED_STATUS;

/// Queued bytes per direction above which a reader waits for the writer (backpressure).
pub const SOFT_LIMIT: usize = 512 * 1024;
/// Queued bytes per direction a reader may hold while the other direction's writer is
/// blocked: several times the soft limit, russh's per-channel queue and a 2 MiB window.
pub const HARD_LIMIT: usize = 8 * 1024 * 1024;
/// Messages russh queues per channel before blocking its session loop (set in both the
/// server and the upstream client configuration; bounds what sits before a reader).
pub const CHANNEL_QUEUE: usize = 32;

/// How the relay ended.
#[derive(Debug, Default)]
pub struct RelayEnd {
    /// The upstream's exit status (`exit-signal` counts as [`UPSTREAM_FAILED_STATUS`]).
    pub status: Option<u32>,
    /// Bytes relayed from the client to the upstream.
    pub bytes_in: u64,
    /// Bytes relayed from the upstream to the client (stdout + stderr).
    pub bytes_out: u64,
    /// Why the relay stopped early, if it did.
    pub error: Option<String>,
}

#[derive(Default)]
struct Queue {
    msgs: VecDeque<ChannelMsg>,
    bytes: usize,
    ended: bool,
}

fn payload_len(m: &ChannelMsg) -> usize {
    match m {
        ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => data.len(),
        _ => 0,
    }
}

/// One direction: a bounded, ordered queue between a reader and a writer.
#[derive(Default)]
struct Pipe {
    queue: Mutex<Queue>,
    readable: Notify,
    space: Notify,
    /// The writer is waiting on its sink's session (window closed or queue full).
    blocked: AtomicBool,
}

impl Pipe {
    fn with_queue<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        // A poisoned lock only means another task panicked mid-update; the queue itself
        // is still a valid VecDeque, so keep going rather than wedging the relay.
        let mut q = match self.queue.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut q)
    }

    fn queued(&self) -> usize {
        self.with_queue(|q| q.bytes)
    }

    fn push(&self, m: ChannelMsg) {
        self.with_queue(|q| {
            q.bytes += payload_len(&m);
            q.msgs.push_back(m);
        });
        self.readable.notify_one();
    }

    fn end(&self) {
        self.with_queue(|q| q.ended = true);
        self.readable.notify_one();
    }

    /// The next message, or `None` once the reader ended and the queue is empty.
    async fn pop(&self) -> Option<ChannelMsg> {
        loop {
            let next = self.with_queue(|q| match q.msgs.pop_front() {
                Some(m) => {
                    q.bytes -= payload_len(&m);
                    Some(Some(m))
                }
                None if q.ended => Some(None),
                None => None,
            });
            match next {
                Some(m) => {
                    self.space.notify_one();
                    return m;
                }
                None => self.readable.notified().await,
            }
        }
    }
}

/// Both directions of one relayed channel pair.
#[derive(Default)]
struct Pair {
    /// Client to upstream.
    inbound: Pipe,
    /// Upstream to client.
    outbound: Pipe,
}

#[derive(Debug)]
struct Overflow;

impl Pair {
    fn other(&self, pipe: &Pipe) -> &Pipe {
        if std::ptr::eq(pipe, &self.inbound) {
            &self.outbound
        } else {
            &self.inbound
        }
    }

    fn set_blocked(&self, pipe: &Pipe, blocked: bool) {
        pipe.blocked.store(blocked, Ordering::SeqCst);
        // The other direction's reader may now read past its soft limit (or must stop).
        self.other(pipe).space.notify_one();
    }

    /// Wait until `pipe`'s reader may take another message from its source.
    async fn admit(&self, pipe: &Pipe) -> Result<(), Overflow> {
        loop {
            let queued = pipe.queued();
            if queued < SOFT_LIMIT {
                return Ok(());
            }
            if self.other(pipe).blocked.load(Ordering::SeqCst) {
                if queued < HARD_LIMIT {
                    return Ok(());
                }
                return Err(Overflow);
            }
            pipe.space.notified().await;
        }
    }

    /// Drain `src` into `pipe` (window notices are dropped: russh already applied them).
    async fn read(&self, src: &mut ChannelReadHalf, pipe: &Pipe) -> Result<(), Overflow> {
        loop {
            self.admit(pipe).await?;
            match src.wait().await {
                None | Some(ChannelMsg::Close) => {
                    pipe.end();
                    return Ok(());
                }
                Some(ChannelMsg::WindowAdjusted { .. }) => {}
                Some(m) => pipe.push(m),
            }
        }
    }

    /// Run one write of `pipe`'s writer; while it cannot complete at once (the sink's
    /// window is closed or its session is not taking messages), flag `pipe` as blocked
    /// so that the other direction's reader keeps that session's loop moving.
    async fn watched<T>(&self, pipe: &Pipe, write: impl Future<Output = T>) -> T {
        let mut write = pin!(write);
        if let Poll::Ready(done) = futures::poll!(write.as_mut()) {
            return done;
        }
        self.set_blocked(pipe, true);
        let done = write.await;
        self.set_blocked(pipe, false);
        done
    }

    async fn write_data<W: AsyncWrite + Unpin>(
        &self,
        pipe: &Pipe,
        tx: &mut W,
        data: &[u8],
        counter: &AtomicU64,
    ) -> std::io::Result<()> {
        self.watched(pipe, tx.write_all(data)).await?;
        counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Bytes relayed so far, readable while the relay runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Client to upstream.
    pub bytes_in: AtomicU64,
    /// Upstream to client.
    pub bytes_out: AtomicU64,
}

/// Relay `client` ⇄ `upstream` until the upstream channel closes (or either side
/// fails, or `shutdown`), counting into `counters`. The caller sends the client its
/// exit status and closes both channels.
pub async fn run<C, U>(
    client: (ChannelReadHalf, &ChannelWriteHalf<C>),
    upstream: (ChannelReadHalf, &ChannelWriteHalf<U>),
    counters: &Counters,
    shutdown: &CancellationToken,
) -> RelayEnd
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let (mut client_r, client_w) = client;
    let (mut up_r, up_w) = upstream;
    let pair = Pair::default();
    let inbound = async {
        let reader = pair.read(&mut client_r, &pair.inbound);
        let writer = write_upstream(&pair, up_w, &counters.bytes_in);
        let (read, ()) = tokio::join!(reader, writer);
        read
    };
    let outbound = async {
        let reader = pair.read(&mut up_r, &pair.outbound);
        let writer = write_client(&pair, client_w, &counters.bytes_out);
        let (read, written) = tokio::join!(reader, writer);
        (read, written)
    };
    let mut end = RelayEnd::default();
    tokio::select! {
        (read, written) = outbound => {
            end.status = written.status;
            end.error = written.error;
            if read.is_err() {
                end.error = Some(overflow_message());
            }
        }
        r = wait_overflow(inbound) => {
            if r.is_err() {
                end.error = Some(overflow_message());
            }
        }
        _ = shutdown.cancelled() => end.error = Some("Warden is shutting down".into()),
    }
    end.bytes_in = counters.bytes_in.load(Ordering::Relaxed);
    end.bytes_out = counters.bytes_out.load(Ordering::Relaxed);
    end
}

fn overflow_message() -> String {
    format!(
        "the client sent more than {} MiB ahead of reading the output; relay closed",
        HARD_LIMIT / (1024 * 1024)
    )
}

/// The client-to-upstream side only ends the relay by overflowing; once the client
/// closed its side, the relay waits for the upstream to finish.
async fn wait_overflow(
    side: impl std::future::Future<Output = Result<(), Overflow>>,
) -> Result<(), Overflow> {
    side.await?;
    std::future::pending().await
}

async fn write_upstream<U>(pair: &Pair, up: &ChannelWriteHalf<U>, counter: &AtomicU64)
where
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let pipe = &pair.inbound;
    let mut data_tx = up.make_writer();
    let mut ext_tx = up.make_writer_ext(Some(1));
    let mut failed = false;
    while let Some(m) = pipe.pop().await {
        // After a write error keep draining so the reader never blocks its session.
        if failed {
            continue;
        }
        let ok = match m {
            ChannelMsg::Data { data } => pair
                .write_data(pipe, &mut data_tx, &data, counter)
                .await
                .is_ok(),
            ChannelMsg::ExtendedData { data, .. } => pair
                .write_data(pipe, &mut ext_tx, &data, counter)
                .await
                .is_ok(),
            ChannelMsg::Eof => pair.watched(pipe, up.eof()).await.is_ok(),
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            } => {
                let change = up.window_change(col_width, row_height, pix_width, pix_height);
                pair.watched(pipe, change).await.is_ok()
            }
            ChannelMsg::Signal { signal } => pair.watched(pipe, up.signal(signal)).await.is_ok(),
            _ => true,
        };
        failed = !ok;
    }
    // The client closed its channel: close the upstream one, which ends the relay.
    let _ = pair.watched(pipe, up.close()).await;
}

/// What the upstream-to-client writer saw.
struct Written {
    status: Option<u32>,
    error: Option<String>,
}

async fn write_client<C>(pair: &Pair, client: &ChannelWriteHalf<C>, counter: &AtomicU64) -> Written
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let pipe = &pair.outbound;
    let mut data_tx = client.make_writer();
    let mut stderr_tx = client.make_writer_ext(Some(1));
    let mut out = Written {
        status: None,
        error: None,
    };
    while let Some(m) = pipe.pop().await {
        if out.error.is_some() {
            continue;
        }
        let written = match m {
            ChannelMsg::Data { data } => pair.write_data(pipe, &mut data_tx, &data, counter).await,
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                pair.write_data(pipe, &mut stderr_tx, &data, counter).await
            }
            ChannelMsg::ExitStatus { exit_status } => {
                out.status = Some(exit_status);
                Ok(())
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                tracing::debug!(?signal_name, "upstream command killed by a signal");
                out.status = Some(UPSTREAM_FAILED_STATUS);
                Ok(())
            }
            ChannelMsg::Eof => pair
                .watched(pipe, client.eof())
                .await
                .map_err(std::io::Error::other),
            _ => Ok(()),
        };
        if let Err(e) = written {
            out.error = Some(format!("client write failed: {e}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use russh::CryptoVec;

    use super::*;

    fn data(len: usize) -> ChannelMsg {
        ChannelMsg::Data {
            data: CryptoVec::from_slice(&vec![7u8; len]),
        }
    }

    #[test]
    fn queue_keeps_order_and_counts_payload_bytes() {
        let pipe = Pipe::default();
        pipe.push(data(10));
        pipe.push(ChannelMsg::Eof);
        pipe.push(ChannelMsg::ExitStatus { exit_status: 3 });
        assert_eq!(pipe.queued(), 10);
        pipe.end();
        let first = pipe.pop().now_or_never().flatten();
        assert!(matches!(first, Some(ChannelMsg::Data { .. })));
        assert_eq!(pipe.queued(), 0);
        assert!(matches!(
            pipe.pop().now_or_never().flatten(),
            Some(ChannelMsg::Eof)
        ));
        assert!(matches!(
            pipe.pop().now_or_never().flatten(),
            Some(ChannelMsg::ExitStatus { exit_status: 3 })
        ));
        // Ended and drained: the writer sees the end instead of waiting.
        assert!(matches!(pipe.pop().now_or_never(), Some(None)));
    }

    #[test]
    fn an_empty_open_queue_waits() {
        let pipe = Pipe::default();
        assert!(pipe.pop().now_or_never().is_none());
    }

    #[test]
    fn reader_pauses_at_the_soft_limit() {
        let pair = Pair::default();
        assert!(pair.admit(&pair.inbound).now_or_never().is_some());
        pair.inbound.push(data(SOFT_LIMIT));
        assert!(
            pair.admit(&pair.inbound).now_or_never().is_none(),
            "backpressure at the soft limit"
        );
        // The writer takes it: the reader may go on.
        assert!(pair.inbound.pop().now_or_never().is_some());
        assert!(matches!(
            pair.admit(&pair.inbound).now_or_never(),
            Some(Ok(()))
        ));
    }

    #[test]
    fn reader_reads_on_while_the_other_direction_waits_on_its_session() {
        let pair = Pair::default();
        pair.inbound.push(data(SOFT_LIMIT));
        pair.set_blocked(&pair.outbound, true);
        assert!(matches!(
            pair.admit(&pair.inbound).now_or_never(),
            Some(Ok(()))
        ));
        // Never past the hard limit: the relay ends instead of stalling.
        pair.inbound.push(data(HARD_LIMIT - SOFT_LIMIT));
        assert!(matches!(
            pair.admit(&pair.inbound).now_or_never(),
            Some(Err(Overflow))
        ));
        // Once the window opens the soft limit applies again.
        pair.set_blocked(&pair.outbound, false);
        assert!(pair.admit(&pair.inbound).now_or_never().is_none());
    }
}
