//! The two queues of a relayed channel pair and the rule that decides when a reader
//! may take more from its source (see [`super`] for why the rule exists).
//!
//! Must never let a queue grow past [`HARD_LIMIT`] bytes, never wait by spinning, never
//! reorder messages, and never pause the client-side reader while output for the
//! client is pending (that pause stops the very session the output needs).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use russh::{ChannelMsg, ChannelReadHalf};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::{HARD_LIMIT, SOFT_LIMIT};

#[derive(Default)]
struct Queue {
    msgs: VecDeque<ChannelMsg>,
    bytes: usize,
    ended: bool,
    /// The writer holds a popped message it has not finished with.
    writing: bool,
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
    /// Payload bytes queued, readable without the lock (the window throttle reads it).
    level: Arc<AtomicUsize>,
}

impl Pipe {
    fn with_queue<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        // A poisoned lock only means another task panicked mid-update; the queue itself
        // is still a valid VecDeque, so keep going rather than wedging the relay.
        let mut q = match self.queue.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        let out = f(&mut q);
        self.level.store(q.bytes, Ordering::SeqCst);
        out
    }

    pub(super) fn queued(&self) -> usize {
        self.level.load(Ordering::SeqCst)
    }

    /// The live queued-bytes figure, for the window throttle.
    pub(super) fn level(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.level)
    }

    /// Messages queued or being written.
    fn pending(&self) -> bool {
        self.with_queue(|q| q.writing || !q.msgs.is_empty())
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

    /// The next message, or `None` once the reader ended and the queue is empty. The
    /// pipe counts as pending until [`Pipe::written`].
    pub(super) async fn pop(&self) -> Option<ChannelMsg> {
        loop {
            let next = self.with_queue(|q| match q.msgs.pop_front() {
                Some(m) => {
                    q.bytes -= payload_len(&m);
                    q.writing = true;
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

    /// The writer finished with the message it popped.
    pub(super) fn written(&self) {
        self.with_queue(|q| q.writing = false);
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
    /// Wait until the client-side reader may take another message.
    ///
    /// Its pause stops the client's session, and with it the window adjusts and the
    /// writes that output for the client needs: so it pauses at [`SOFT_LIMIT`] only
    /// while no output is pending. Otherwise it reads on; the client's input is then
    /// bounded by the window Warden grants it ([`super::WindowThrottle`]), and past
    /// [`HARD_LIMIT`] (a client ignoring that, or a channel the throttle does not cover)
    /// the relay ends with an error.
    pub(super) async fn admit_inbound(&self) -> Result<(), Overflow> {
        loop {
            let queued = self.inbound.queued();
            if queued < SOFT_LIMIT {
                return Ok(());
            }
            if queued >= HARD_LIMIT {
                return Err(Overflow);
            }
            if self.outbound.pending() {
                return Ok(());
            }
            // Woken when the writer takes from the queue or output arrives.
            self.inbound.space.notified().await;
        }
    }

    /// Wait until the upstream-side reader may take another message: it pauses at
    /// [`SOFT_LIMIT`] (the upstream session stops; nothing the client side needs
    /// depends on it).
    pub(super) async fn admit_outbound(&self) {
        while self.outbound.queued() >= SOFT_LIMIT {
            self.outbound.space.notified().await;
        }
    }

    /// Drain the client's channel into the inbound queue.
    pub(super) async fn read_inbound(&self, src: &mut ChannelReadHalf) -> Result<(), Overflow> {
        loop {
            self.admit_inbound().await?;
            if !forward(src.wait().await, &self.inbound) {
                return Ok(());
            }
        }
    }

    /// Drain the upstream channel into the outbound queue.
    pub(super) async fn read_outbound(&self, src: &mut ChannelReadHalf) {
        loop {
            self.admit_outbound().await;
            let more = forward(src.wait().await, &self.outbound);
            // A paused client-side reader must look again: output is now pending.
            self.inbound.space.notify_one();
            if !more {
                return;
            }
        }
    }

    pub(super) async fn write_data<W: AsyncWrite + Unpin>(
        &self,
        tx: &mut W,
        data: &[u8],
        counter: &AtomicU64,
    ) -> std::io::Result<()> {
        tx.write_all(data).await?;
        counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Queue what a channel delivered (window notices are dropped: russh applied them);
/// `false` once the channel closed.
fn forward(m: Option<ChannelMsg>, pipe: &Pipe) -> bool {
    match m {
        None | Some(ChannelMsg::Close) => {
            pipe.end();
            false
        }
        Some(ChannelMsg::WindowAdjusted { .. }) => true,
        Some(m) => {
            pipe.push(m);
            true
        }
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
    fn client_reader_pauses_at_the_soft_limit_when_no_output_is_pending() {
        let pair = Pair::default();
        assert!(pair.admit_inbound().now_or_never().is_some());
        pair.inbound.push(data(SOFT_LIMIT));
        assert!(
            pair.admit_inbound().now_or_never().is_none(),
            "backpressure at the soft limit"
        );
        // The writer takes it: the reader may go on.
        assert!(pair.inbound.pop().now_or_never().is_some());
        assert!(matches!(pair.admit_inbound().now_or_never(), Some(Ok(()))));
    }

    #[test]
    fn client_reader_reads_on_while_output_is_pending() {
        let pair = Pair::default();
        pair.inbound.push(data(SOFT_LIMIT));
        pair.outbound.push(data(1));
        assert!(matches!(pair.admit_inbound().now_or_never(), Some(Ok(()))));
        // Still pending while the writer holds the message.
        assert!(pair.outbound.pop().now_or_never().is_some());
        assert!(matches!(pair.admit_inbound().now_or_never(), Some(Ok(()))));
        pair.outbound.written();
        assert!(pair.admit_inbound().now_or_never().is_none());
        // Never past the hard limit: the relay ends instead.
        pair.outbound.push(data(1));
        pair.inbound.push(data(HARD_LIMIT - SOFT_LIMIT));
        assert!(matches!(
            pair.admit_inbound().now_or_never(),
            Some(Err(Overflow))
        ));
    }

    #[test]
    fn upstream_reader_pauses_at_the_soft_limit() {
        let pair = Pair::default();
        assert!(pair.admit_outbound().now_or_never().is_some());
        pair.outbound.push(data(SOFT_LIMIT));
        assert!(pair.admit_outbound().now_or_never().is_none());
        assert!(pair.outbound.pop().now_or_never().is_some());
        assert!(pair.admit_outbound().now_or_never().is_some());
    }
}
