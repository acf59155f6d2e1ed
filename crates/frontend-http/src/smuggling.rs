//! Request-smuggling guard: an I/O wrapper that re-reads HTTP/1 message framing on the
//! raw client bytes *before* hyper parses them.
//!
//! hyper quietly repairs some ambiguous framing (it drops `Content-Length` when
//! `Transfer-Encoding` is present and merges equal duplicate lengths). Warden refuses
//! those requests instead, and must audit the refusal, so this guard looks at every
//! request head itself:
//!
//! ([`super::framing`] has the rules: CL+TE, duplicate CL, bad chunking → 400, a head
//! over the limit → 431).
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

pub use super::framing::{FramingScanner, Violation, ViolationKind};

/// The request hyper sees in place of a refused head.
const SYNTHETIC_REQUEST: &[u8] =
    b"GET /.warden/refused HTTP/1.1\r\nhost: warden.invalid\r\nconnection: close\r\n\r\n";

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
            // Not zeroed: `ReadBuf` tracks what the read filled, and zeroing 16 KiB on every
            // poll was a quarter of the instructions of a small proxied GET (callgrind).
            let mut tmp = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
            let mut rb = ReadBuf::uninit(&mut tmp);
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
                if this.scanner.in_head() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_refuses_from_the_bad_request_on() {
        let slot = ViolationSlot::default();
        slot.set(Violation {
            request_index: 2,
            kind: ViolationKind::DuplicateContentLength,
        });
        assert!(slot.for_request(1).is_none());
        assert!(slot.for_request(2).is_some());
        assert!(slot.for_request(3).is_some());
    }
}
