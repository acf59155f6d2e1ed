//! Which HTTP version a plain-text connection speaks, told from its first bytes without
//! taking them off the socket (`peek`).
//!
//! hyper-util's auto builder reads those bytes itself and hands them back to hyper
//! through a rewind buffer, which makes hyper grow every connection's read buffer from
//! 8 to 16 KiB on its first request (the buffer holds the replayed prefix when hyper asks
//! for a full 8 KiB more) — 16 KiB more per idle keep-alive connection. A connection whose
//! first bytes cannot begin the HTTP/2 preface is served by hyper's HTTP/1 builder
//! directly; anything else (the preface, or a prefix of it not yet complete) goes to the
//! auto builder exactly as before. Waiting for the first byte also keeps a silent
//! connection's HTTP state unallocated, and closes it after the request timeout.
//!
//! Must never: consume a byte (the framing guard must see them all), or decide "HTTP/1"
//! for bytes that could still be the HTTP/2 preface.

use std::time::Duration;

use tokio::net::TcpStream;

use super::framing::H2_PREFACE;

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBytes {
    /// They cannot begin the HTTP/2 preface: an HTTP/1 request (or garbage hyper will
    /// refuse as one).
    Http1,
    /// The HTTP/2 preface, or a prefix of it: let the auto builder read and decide.
    MaybeHttp2,
    /// The client closed (or the socket failed) before sending anything.
    Closed,
    /// Nothing arrived within the time allowed.
    TimedOut,
}

/// Waits up to `limit` for the first bytes of `tcp` and classifies them.
pub async fn first_bytes(tcp: &TcpStream, limit: Duration) -> FirstBytes {
    let mut buf = [0u8; 24];
    match tokio::time::timeout(limit, tcp.peek(&mut buf)).await {
        Err(_) => FirstBytes::TimedOut,
        Ok(Err(_)) | Ok(Ok(0)) => FirstBytes::Closed,
        Ok(Ok(n)) => classify(&buf[..n]),
    }
}

/// The verdict for the bytes seen so far (at least one).
fn classify(seen: &[u8]) -> FirstBytes {
    let n = seen.len().min(H2_PREFACE.len());
    if H2_PREFACE.starts_with(&seen[..n]) {
        FirstBytes::MaybeHttp2
    } else {
        FirstBytes::Http1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bytes_that_cannot_begin_the_preface_are_http1() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), FirstBytes::Http1);
        assert_eq!(classify(b"PRI / HTTP/1.1\r\n"), FirstBytes::Http1);
        assert_eq!(classify(b"P"), FirstBytes::MaybeHttp2);
        assert_eq!(classify(b"PRI * HTTP/2"), FirstBytes::MaybeHttp2);
        assert_eq!(classify(H2_PREFACE), FirstBytes::MaybeHttp2);
    }

    #[tokio::test]
    async fn peeking_takes_nothing_off_the_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let silent = first_bytes(&server, Duration::from_millis(50)).await;
        assert_eq!(silent, FirstBytes::TimedOut);
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(
            first_bytes(&server, Duration::from_secs(5)).await,
            FirstBytes::Http1
        );
        let mut all = [0u8; 18];
        server.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"GET / HTTP/1.1\r\n\r\n");
        drop(client);
        assert_eq!(
            first_bytes(&server, Duration::from_secs(5)).await,
            FirstBytes::Closed
        );
    }
}
