//! BackendKeyData: the client gets the real upstream backend pid (one upstream session per
//! client session) with a cancel secret of Warden's own, so `pg_backend_pid()`-based
//! tooling and LISTEN/NOTIFY behave as direct, and cancel requests still go through
//! Warden's cancel map.

mod pg_support;

use std::time::Duration;

use futures::StreamExt;
use pg_support::raw::{self, Raw};
use pg_support::*;
use tokio::io::AsyncWriteExt;
use tokio_postgres::AsyncMessage;

/// pg_sleep, pg_terminate_backend, LISTEN and NOTIFY are not known-pure: allow opaque.
fn permissive() -> Setup {
    Setup {
        policy: format!("{POLICY}defaults: {{ unparsed: hold, opaque: allow }}\n"),
        ..Setup::default()
    }
}

/// The first column of the first DataRow in `messages`, as text.
fn first_value(messages: &[(u8, Vec<u8>)]) -> String {
    let (_, body) = messages
        .iter()
        .find(|(tag, _)| *tag == b'D')
        .expect("a DataRow");
    let len = i32::from_be_bytes([body[2], body[3], body[4], body[5]]) as usize;
    String::from_utf8_lossy(&body[6..6 + len]).into_owned()
}

async fn backend_pid(raw: &mut Raw) -> u32 {
    raw.send(&raw::query("SELECT pg_backend_pid()")).await;
    first_value(&raw.until_ready().await)
        .parse()
        .expect("a pid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gets_the_upstream_backend_pid_and_terminating_it_ends_its_session() {
    let h = start_with(permissive()).await;
    let mut a = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let mut b = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let (pid_a, secret_a) = a.key.clone().expect("BackendKeyData for a");
    let (pid_b, _) = b.key.clone().expect("BackendKeyData for b");
    assert_eq!(
        pid_a,
        backend_pid(&mut a).await,
        "a's key names its backend"
    );
    assert_eq!(
        pid_b,
        backend_pid(&mut b).await,
        "b's key names its backend"
    );
    assert_ne!(pid_a, pid_b);
    assert_eq!(secret_a.len(), 4, "protocol 3.0 secrets are 4 bytes");

    // pg_terminate_backend(<the pid a was given>), sent by b, ends a's session.
    b.send(&raw::query(&format!(
        "SELECT pg_terminate_backend({pid_a})"
    )))
    .await;
    assert_eq!(first_value(&b.until_ready().await), "t");
    let mut fatal = None;
    while let Some((tag, body)) = a.recv().await {
        if tag == b'E' {
            fatal = Some(raw::error_fields(&body).0);
        }
    }
    assert_eq!(
        fatal.as_deref(),
        Some("57P01"),
        "a is told it was terminated"
    );
    assert_eq!(backend_pid(&mut b).await, pid_b, "b carries on");
}

/// Regression (psycopg's suite through Warden): when the upstream ended the session first,
/// the connection task polled the finished relay task's JoinHandle again, panicked, and
/// never recorded ConnectionClosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_ends_is_recorded_closed() {
    let h = start_with(permissive()).await;
    let a = h.alice().await;
    let pid: i32 = within(10, a.query_one("SELECT pg_backend_pid()", &[]))
        .await
        .expect("pid")
        .get(0);
    let terminated: bool = within(
        10,
        h.direct()
            .await
            .query_one("SELECT pg_terminate_backend($1)", &[&pid]),
    )
    .await
    .expect("terminate")
    .get(0);
    assert!(terminated);
    let e = within(10, a.batch_execute("SELECT 1"))
        .await
        .expect_err("the session is gone");
    assert!(
        sqlstate(&e).as_deref() == Some("57P01") || a.is_closed(),
        "terminated: {e:?}"
    );
    let closed = |recs: &[warden_audit::Record]| {
        recs.iter()
            .filter(|r| r.event.kind == warden_audit::EventKind::ConnectionClosed)
            .count()
    };
    let mut recs = Vec::new();
    for _ in 0..200 {
        recs = h
            .gate
            .audit()
            .query(&warden_audit::Query {
                limit: 1000,
                ..warden_audit::Query::default()
            })
            .expect("audit query")
            .records;
        if closed(&recs) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kinds: Vec<_> = recs.iter().map(|r| r.event.kind).collect();
    assert_eq!(closed(&recs), 1, "one ConnectionClosed in {kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_notify_names_the_pid_the_client_was_given() {
    let h = start_with(permissive()).await;
    let mut a = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let (pid, _) = a.key.clone().expect("BackendKeyData");
    a.send(&raw::query("LISTEN crash_ch; NOTIFY crash_ch, 'hello'"))
        .await;
    let messages = a.until_ready().await;
    let (_, body) = messages
        .iter()
        .find(|(tag, _)| *tag == b'A')
        .expect("a NotificationResponse");
    let sender = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    assert_eq!(
        sender, pid,
        "the sender is the backend the client's key names"
    );
    assert!(body[4..].starts_with(b"crash_ch\0hello\0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_sees_its_own_notifications_as_direct() {
    let h = start_with(permissive()).await;
    let (client, mut conn) = within(
        20,
        tokio_postgres::connect(&h.conn_str("alice", ALICE_PW), tokio_postgres::NoTls),
    )
    .await
    .expect("connect");
    let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    let messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
    tokio::spawn(messages.for_each(move |m| {
        if let Ok(AsyncMessage::Notification(n)) = m {
            let _ = tx.send(n);
        }
        futures::future::ready(())
    }));
    let pid: i32 = within(10, client.query_one("SELECT pg_backend_pid()", &[]))
        .await
        .expect("pid")
        .get(0);
    within(
        10,
        client.batch_execute("LISTEN crash_ch; NOTIFY crash_ch, 'hello'"),
    )
    .await
    .expect("listen and notify");
    let note = within(10, notes.recv()).await.expect("a notification");
    assert_eq!(note.channel(), "crash_ch");
    assert_eq!(note.payload(), "hello");
    assert_eq!(
        note.process_id(),
        pid,
        "the sender is this session's backend"
    );
    // Cancel through tokio-postgres's own key still reaches this session.
    let token = client.cancel_token();
    let sleeper = tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    within(10, token.cancel_query(tokio_postgres::NoTls))
        .await
        .expect("cancel sent");
    let e = within(10, sleeper)
        .await
        .expect("join")
        .expect_err("canceled");
    assert_eq!(sqlstate(&e).as_deref(), Some("57014"), "{e:?}");
}

async fn send_cancel(h: &Harness, pid: u32, secret: &[u8]) {
    let mut io = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    let mut req = Vec::new();
    req.extend(((16 + secret.len() - 4) as u32).to_be_bytes());
    req.extend(80_877_102u32.to_be_bytes());
    req.extend(pid.to_be_bytes());
    req.extend(secret);
    io.write_all(&req).await.expect("cancel request");
    // Warden closes the connection without an answer once it has forwarded (or not).
    let mut sink = [0u8; 1];
    let _ = within(10, tokio::io::AsyncReadExt::read(&mut io, &mut sink)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_needs_wardens_secret_with_the_real_pid() {
    let h = start_with(permissive()).await;
    let mut a = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    let (pid, secret) = a.key.clone().expect("BackendKeyData");
    a.send(&raw::query("SELECT pg_sleep(30)")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut wrong = secret.clone();
    wrong[0] ^= 0xff;
    send_cancel(&h, pid, &wrong).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let state: Option<String> = h
        .direct()
        .await
        .query_one(
            "SELECT state FROM pg_stat_activity WHERE pid = $1",
            &[&(pid as i32)],
        )
        .await
        .expect("activity")
        .get(0);
    assert_eq!(
        state.as_deref(),
        Some("active"),
        "a wrong secret cancels nothing"
    );

    send_cancel(&h, pid, &secret).await;
    let answer = within(10, a.until_ready()).await;
    let code = answer
        .iter()
        .find(|(tag, _)| *tag == b'E')
        .map(|(_, body)| raw::error_fields(body).0);
    assert_eq!(
        code.as_deref(),
        Some("57014"),
        "Warden's key cancels the query"
    );
    assert_eq!(backend_pid(&mut a).await, pid, "the session stays usable");
}
