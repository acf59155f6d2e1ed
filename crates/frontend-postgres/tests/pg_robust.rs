//! Robustness: malformed wire input closes only the offending connection, with an error
//! where the client can still read one; Warden never panics and other sessions carry on.

mod pg_support;

use pg_support::raw::{self, Raw};
use pg_support::*;

/// A session that must keep working while the others misbehave.
async fn healthy_probe(c: &tokio_postgres::Client) {
    let n: i32 = within(10, c.query_one("SELECT 41 + 1", &[]))
        .await
        .expect("healthy session")
        .get(0);
    assert_eq!(n, 42);
}

async fn expect_closed_with_error(r: &mut Raw) {
    let mut saw_error = false;
    while let Some((tag, body)) = r.recv().await {
        if tag == b'E' {
            let (code, _) = raw::error_fields(&body);
            assert!(
                code.starts_with("08"),
                "protocol errors are class 08: {code}"
            );
            saw_error = true;
        }
    }
    assert!(saw_error, "the connection was closed with an ErrorResponse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_after_login_close_that_connection_only() {
    let h = start().await;
    let healthy = h.alice().await;
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("length 0", vec![b'Q', 0, 0, 0, 0]),
        ("length 3", vec![b'Q', 0, 0, 0, 3]),
        ("length 2^31", vec![b'Q', 0x80, 0, 0, 0]),
        ("length u32::MAX", vec![b'Q', 0xff, 0xff, 0xff, 0xff]),
        ("unterminated query", raw::msg(b'Q', b"SELECT 1")),
        ("unterminated parse name", raw::msg(b'P', b"abc")),
        ("negative parameter count", {
            let mut b = raw::cstr("");
            b.extend(raw::cstr("SELECT 1"));
            b.extend((-5i16).to_be_bytes());
            raw::msg(b'P', &b)
        }),
        ("parameter types past the end", {
            let mut b = raw::cstr("");
            b.extend(raw::cstr("SELECT 1"));
            b.extend(1000i16.to_be_bytes());
            raw::msg(b'P', &b)
        }),
        ("second StartupMessage", raw::startup("alice", "postgres")),
        ("unknown message type", raw::msg(b'z', b"")),
        ("bad close target", raw::msg(b'C', b"Xname\0")),
    ];
    // a message over the limit (64 MiB default): only the header is sent
    let mut big = vec![b'Q'];
    big.extend((200u32 * 1024 * 1024).to_be_bytes());
    cases.push(("over the size limit", big));
    for (name, bytes) in cases {
        let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
        r.send_lossy(&bytes).await;
        expect_closed_with_error(&mut r).await;
        healthy_probe(&healthy).await;
        let _ = name;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_message_then_eof_closes_quietly() {
    let h = start().await;
    let healthy = h.alice().await;
    let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    r.send(&[b'Q', 0, 0, 0, 50, b'S', b'E']).await;
    use tokio::io::AsyncWriteExt;
    r.io.shutdown().await.expect("half close");
    while r.recv().await.is_some() {}
    healthy_probe(&healthy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_startup_packets_are_refused() {
    let h = start().await;
    let healthy = h.alice().await;
    let cases: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 0],
        vec![0, 0, 0, 4],
        vec![0x7f, 0xff, 0xff, 0xff],
        {
            let mut v = 10_001u32.to_be_bytes().to_vec();
            v.resize(10_001, b'a');
            v
        },
        {
            // protocol 2.0
            let mut v = 8u32.to_be_bytes().to_vec();
            v.extend((2u32 << 16).to_be_bytes());
            v
        },
        {
            // unterminated parameter
            let mut v = 16u32.to_be_bytes().to_vec();
            v.extend((3u32 << 16).to_be_bytes());
            v.extend(b"user\0al");
            v.push(b'x');
            v
        },
        {
            // no user
            let mut v = 9u32.to_be_bytes().to_vec();
            v.extend((3u32 << 16).to_be_bytes());
            v.push(0);
            v
        },
        {
            // bytes pipelined after SSLRequest (must not be kept across a handshake)
            let mut v = 8u32.to_be_bytes().to_vec();
            v.extend(80_877_103u32.to_be_bytes());
            v.extend(raw::startup("alice", "postgres"));
            v
        },
    ];
    for bytes in cases {
        let mut r = Raw::connect(h.addr).await;
        r.send_lossy(&bytes).await;
        let mut got = Vec::new();
        use tokio::io::AsyncReadExt;
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            r.io.read_to_end(&mut got),
        )
        .await;
        assert!(
            read.is_ok(),
            "connection closed after bad startup {bytes:?}"
        );
        assert!(
            !got.contains(&b'R'),
            "never reached authentication: {got:?}"
        );
        healthy_probe(&healthy).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssenc_is_refused_cleanly_and_ssl_without_cert_says_no() {
    let h = start().await;
    let mut r = Raw::connect(h.addr).await;
    let mut req = 8u32.to_be_bytes().to_vec();
    req.extend(80_877_104u32.to_be_bytes());
    r.send(&req).await;
    let mut answer = [0u8; 1];
    use tokio::io::AsyncReadExt;
    r.io.read_exact(&mut answer).await.expect("answer");
    assert_eq!(&answer, b"N");
    let mut ssl = 8u32.to_be_bytes().to_vec();
    ssl.extend(80_877_103u32.to_be_bytes());
    r.send(&ssl).await;
    r.io.read_exact(&mut answer).await.expect("answer");
    assert_eq!(&answer, b"N", "no cert configured");
    // and the connection continues in plaintext
    r.send(&raw::startup("alice", &h.db)).await;
    let (tag, _) = r.recv().await.expect("auth request");
    assert_eq!(tag, b'R');
}
