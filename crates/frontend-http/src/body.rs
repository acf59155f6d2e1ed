//! Body plumbing: the one boxed body type the front-end answers with, a request body
//! that enforces the size limit while streaming, and a response body that counts bytes
//! and reports once when it ends (for the audit outcome).
//!
//! Must never: buffer a streamed body, or let a body past the configured limit through.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};

/// Errors inside a streamed body.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response Warden sends and every request it forwards.
pub type ProxyBody = BoxBody<Bytes, BodyError>;

pub fn full(b: Bytes) -> ProxyBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

pub fn empty() -> ProxyBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

/// A request body that fails once more than `limit` bytes went through.
pub struct Limited<B> {
    inner: B,
    seen: u64,
    limit: u64,
}

impl<B> Limited<B> {
    pub fn new(inner: B, limit: u64) -> Limited<B> {
        Limited {
            inner,
            seen: 0,
            limit,
        }
    }
}

/// The body grew past the limit.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the limit of {0} bytes")]
pub struct BodyTooLarge(pub u64);

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.seen += d.len() as u64;
                    if this.seen > this.limit {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(this.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Called exactly once when a counted body ends: bytes sent and the error, if any.
pub type OnDone = Box<dyn FnOnce(u64, Option<String>) + Send + Sync>;

/// A response body that counts bytes and reports when it ends, fails or is dropped.
pub struct Counted {
    inner: ProxyBody,
    bytes: u64,
    on_done: Option<OnDone>,
}

impl Counted {
    pub fn new(inner: ProxyBody, on_done: OnDone) -> Counted {
        Counted {
            inner,
            bytes: 0,
            on_done: Some(on_done),
        }
    }

    fn finish(&mut self, error: Option<String>) {
        if let Some(f) = self.on_done.take() {
            f(self.bytes, error);
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.on_done.is_some() {
            let error = if self.inner.is_end_stream() {
                None
            } else {
                Some("client went away before the body ended".to_string())
            };
            self.finish(error);
        }
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(Some(e.to_string()));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.finish(None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The bytes already read for inspection, then the rest of the client's body (limited).
pub struct Prefixed<B> {
    prefix: Option<Bytes>,
    rest: Option<Limited<B>>,
}

impl<B> Prefixed<B> {
    pub fn new(prefix: Bytes, rest: Option<Limited<B>>) -> Prefixed<B> {
        Prefixed {
            prefix: (!prefix.is_empty()).then_some(prefix),
            rest,
        }
    }
}

impl<B> Body for Prefixed<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        match this.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
}

/// What was read of a request body before the decision.
pub struct Prefix {
    pub bytes: Bytes,
    /// The whole body is in `bytes`.
    pub complete: bool,
}

/// Reads up to `cap` bytes (whole frames; may overshoot by one frame) of `body`.
pub async fn read_prefix<B>(body: &mut B, cap: usize) -> Result<Prefix, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    let mut buf = bytes::BytesMut::new();
    loop {
        if body.is_end_stream() {
            return Ok(Prefix {
                bytes: buf.freeze(),
                complete: true,
            });
        }
        if buf.len() >= cap {
            return Ok(Prefix {
                bytes: buf.freeze(),
                complete: false,
            });
        }
        match body.frame().await {
            None => {
                return Ok(Prefix {
                    bytes: buf.freeze(),
                    complete: true,
                })
            }
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
        }
    }
}
