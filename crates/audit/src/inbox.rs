//! The writer's inbox: requests in sequence order, and a doorbell rung only when the
//! writer has to look now.
//!
//! A channel wakes its receiver for every message; for the writer that was a futex wake
//! and a context switch per audit record — on a busy gateway, one per statement. Here a
//! request rings only when the writer sleeps with nothing to do, or when someone waits
//! for it (a durable append, a checkpoint, a shutdown). After a batch the writer
//! *gathers*: for [`GATHER`] it lets queued appends (whose callers do not wait) pile up
//! without being woken, then takes them all as the next batch. Queued records promise
//! to be written within `queued_window` (50 ms by default), so a millisecond more is
//! within the contract; durable callers never wait for the gathering to end.
//!
//! Must never lose a request, never keep an urgent one waiting for the gathering, and
//! never accept a request once the writer is gone (the caller must learn it failed).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::AuditError;
use crate::writer::{lock, Req};

/// How long the writer lets queued appends gather after a small batch. The same
/// bound as the wait a lone queued append could see.
pub(crate) const GATHER: Duration = Duration::from_millis(1);

/// Where the writer is, as far as senders care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Working on a batch: nobody rings; it looks at the queue when done.
    Busy,
    /// Waiting with nothing queued: any request rings.
    Asleep,
    /// Gathering queued appends: only urgent requests ring.
    Gathering,
}

struct State {
    queue: Vec<Req>,
    mode: Mode,
    urgent: bool,
    open: bool,
}

pub(crate) struct Inbox {
    state: Mutex<State>,
    bell: Condvar,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            state: Mutex::new(State {
                queue: Vec::new(),
                mode: Mode::Busy,
                urgent: false,
                open: true,
            }),
            bell: Condvar::new(),
        }
    }
}

impl Req {
    /// Someone waits for this request's answer.
    fn is_urgent(&self) -> bool {
        match self {
            Req::Append(a) => a.reply.is_some(),
            Req::Checkpoint(_) | Req::Shutdown(_) => true,
        }
    }
}

impl Inbox {
    /// Queue `req`; rings the writer only when it must look now. `Err` (and the
    /// request dropped, so a waiting caller's reply channel closes) once the writer
    /// has stopped.
    pub(crate) fn send(&self, req: Req) -> Result<(), AuditError> {
        let urgent = req.is_urgent();
        let mut s = lock(&self.state);
        if !s.open {
            return Err(AuditError::Closed);
        }
        s.queue.push(req);
        s.urgent |= urgent;
        let ring = match s.mode {
            Mode::Asleep => true,
            Mode::Gathering => urgent,
            Mode::Busy => false,
        };
        if ring {
            s.mode = Mode::Busy;
            drop(s);
            self.bell.notify_one();
        }
        Ok(())
    }

    /// For the writer: the next batch of requests, after gathering until `gather_until`
    /// (cut short by an urgent request); when nothing came, sleeps until a request or
    /// `deadline` (housekeeping). An empty batch means the deadline passed.
    pub(crate) fn next_batch(
        &self,
        gather_until: Option<Instant>,
        deadline: Option<Instant>,
        max: usize,
    ) -> Vec<Req> {
        let mut s = lock(&self.state);
        if let Some(until) = gather_until {
            while !s.urgent && s.queue.len() < max {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                s.mode = Mode::Gathering;
                s = self
                    .bell
                    .wait_timeout(s, until - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        while s.queue.is_empty() {
            s.mode = Mode::Asleep;
            match deadline {
                None => {
                    s = self.bell.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    s = self
                        .bell
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        s.mode = Mode::Busy;
        s.urgent = false;
        if s.queue.len() <= max {
            return std::mem::take(&mut s.queue);
        }
        let rest = s.queue.split_off(max);
        let batch = std::mem::replace(&mut s.queue, rest);
        // What is left is taken at once: the writer goes on without gathering.
        s.urgent = true;
        batch
    }

    /// The writer has stopped: refuse later requests, and drop the queued ones (their
    /// callers' reply channels close, so they learn the log is closed).
    pub(crate) fn close(&self) {
        let queued = {
            let mut s = lock(&self.state);
            s.open = false;
            std::mem::take(&mut s.queue)
        };
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::Reply;
    use std::sync::Arc;

    fn checkpoint_req() -> (
        Req,
        std::sync::mpsc::Receiver<Result<crate::Checkpoint, AuditError>>,
    ) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        (Req::Checkpoint(Reply::Blocking(tx)), rx)
    }

    #[test]
    fn an_urgent_request_ends_the_gathering_at_once() {
        let inbox = Arc::new(Inbox::default());
        let writer = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let batch =
                    inbox.next_batch(Some(start + Duration::from_secs(30)), None, usize::MAX);
                (batch.len(), start.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let (req, _rx) = checkpoint_req();
        inbox.send(req).unwrap();
        let (n, waited) = writer.join().unwrap();
        assert_eq!(n, 1);
        assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    }

    #[test]
    fn a_sleeping_writer_is_woken_by_any_request_and_an_idle_one_times_out() {
        let inbox = Arc::new(Inbox::default());
        let start = Instant::now();
        let empty = inbox.next_batch(None, Some(start + Duration::from_millis(20)), 8);
        assert!(empty.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(20));
        let writer = {
            let inbox = inbox.clone();
            std::thread::spawn(move || inbox.next_batch(None, None, 8).len())
        };
        std::thread::sleep(Duration::from_millis(50));
        let (req, _rx) = checkpoint_req();
        inbox.send(req).unwrap();
        assert_eq!(writer.join().unwrap(), 1);
    }

    #[test]
    fn batches_are_capped_and_the_rest_is_taken_without_gathering() {
        let inbox = Inbox::default();
        let mut rxs = Vec::new();
        for _ in 0..5 {
            let (req, rx) = checkpoint_req();
            rxs.push(rx);
            inbox.send(req).unwrap();
        }
        assert_eq!(inbox.next_batch(None, None, 3).len(), 3);
        let start = Instant::now();
        let far = Some(start + Duration::from_secs(30));
        assert_eq!(inbox.next_batch(far, None, 3).len(), 2);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_closed_inbox_refuses_and_drops_what_was_queued() {
        let inbox = Inbox::default();
        let (req, rx) = checkpoint_req();
        inbox.send(req).unwrap();
        inbox.close();
        assert!(rx.recv().is_err(), "the queued caller must learn it failed");
        let (req, _rx) = checkpoint_req();
        assert!(matches!(inbox.send(req), Err(AuditError::Closed)));
    }
}
