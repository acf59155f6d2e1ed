//! The two queues of a relayed channel pair and the rule that decides when a reader
//! may take more from its source (see [`super`] for why the rule exists).
//!
//! Must never let a queue grow past [`HARD_LIMIT`] bytes, never wait by spinning, and
//! never reorder messages.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Poll;

use russh::{ChannelMsg, ChannelReadHalf};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::{HARD_LIMIT, SOFT_LIMIT};

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
pub(super) struct Pipe {
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

    pub(super) fn queued(&self) -> usize {
        self.with_queue(|q| q.bytes)
    }

    pub(super) fn push(&self, m: ChannelMsg) {
        self.with_queue(|q| {
            q.bytes += payload_len(&m);
            q.msgs.push_back(m);
        });
        self.readable.notify_one();
    }

    pub(super) fn end(&self) {
        self.with_queue(|q| q.ended = true);
        self.readable.notify_one();
    }

    /// The next message, or `None` once the reader ended and the queue is empty.
    pub(super) async fn pop(&self) -> Option<ChannelMsg> {
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
pub(super) struct Pair {
    /// Client to upstream.
    pub(super) inbound: Pipe,
    /// Upstream to client.
    pub(super) outbound: Pipe,
}

#[derive(Debug)]
pub(super) struct Overflow;

impl Pair {
    fn other(&self, pipe: &Pipe) -> &Pipe {
        if std::ptr::eq(pipe, &self.inbound) {
            &self.outbound
        } else {
            &self.inbound
        }
    }

    pub(super) fn set_blocked(&self, pipe: &Pipe, blocked: bool) {
        pipe.blocked.store(blocked, Ordering::SeqCst);
        // The other direction's reader may now read past its soft limit (or must stop).
        self.other(pipe).space.notify_one();
    }

    /// Wait until `pipe`'s reader may take another message from its source.
    pub(super) async fn admit(&self, pipe: &Pipe) -> Result<(), Overflow> {
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
    pub(super) async fn read(
        &self,
        src: &mut ChannelReadHalf,
        pipe: &Pipe,
    ) -> Result<(), Overflow> {
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
    pub(super) async fn watched<T>(&self, pipe: &Pipe, write: impl Future<Output = T>) -> T {
        let mut write = pin!(write);
        if let Poll::Ready(done) = futures::poll!(write.as_mut()) {
            return done;
        }
        self.set_blocked(pipe, true);
        let done = write.await;
        self.set_blocked(pipe, false);
        done
    }

    pub(super) async fn write_data<W: AsyncWrite + Unpin>(
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
