//! Malformed and hostile input: each is a clean ERR for that connection only; other
//! sessions go on, and the database is checked afterwards.

mod my_support;

use my_support::raw::Reply;
use my_support::{start, start_with, within};
use warden_frontend_mysql::MysqlOptions;

fn setup(h: &my_support::Harness) {
    h.direct("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1),(2)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sequence_id_closes_only_that_connection() {
    let h = start().await;
    setup(&h);
    let mut bystander = h.raw().await;
    let mut c = h.raw().await;
    c.write_packet(5, b"\x03DROP TABLE t").await.expect("write");
    let (_, err) = within(10, c.read_packet()).await.expect("an ERR");
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1156, "{err:?}");
    assert!(c.closed().await);
    assert_eq!(
        bystander
            .query("SELECT COUNT(*) FROM t")
            .await
            .expect("reply"),
        Reply::Rows(vec![b"\x012".to_vec()])
    );
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_packets_get_1153_and_truncated_ones_close() {
    let h = start_with(MysqlOptions {
        max_packet_bytes: 1024,
        ..MysqlOptions::default()
    })
    .await;
    setup(&h);
    let mut bystander = h.raw().await;
    let mut c = h.raw().await;
    let big = format!("\x03SELECT '{}'", "x".repeat(2000));
    c.write_packet(0, big.as_bytes()).await.expect("write");
    let (_, err) = within(10, c.read_packet()).await.expect("an ERR");
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1153, "{err:?}");
    assert!(c.closed().await);

    // a length word promising more than is sent, then the end of the stream
    let mut c = h.raw().await;
    use tokio::io::AsyncWriteExt;
    c.stream
        .write_all(&[100, 0, 0, 0, 3, b'S'])
        .await
        .expect("write");
    c.stream.shutdown().await.expect("shutdown");
    assert!(c.closed().await);

    // garbage instead of a handshake response
    let mut raw = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    let mut greeting = vec![0u8; 4096];
    use tokio::io::AsyncReadExt;
    let _ = raw.read(&mut greeting).await.expect("greeting");
    raw.write_all(&[0xff, 0xff, 0xff, 1]).await.expect("write");
    let mut answer = vec![0u8; 256];
    let n = within(10, raw.read(&mut answer)).await.expect("read");
    assert!(n > 7 && answer[4] == 0xff, "{:?}", &answer[..n]);
    assert_eq!(u16::from_le_bytes([answer[5], answer[6]]), 1153);

    assert_eq!(
        bystander.query("SELECT 1").await.expect("reply"),
        Reply::Rows(vec![b"\x011".to_vec()])
    );
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_command_is_a_clean_error() {
    let h = start().await;
    setup(&h);
    let mut c = h.raw().await;
    // COM_STMT_EXECUTE too short to hold a statement id
    c.write_packet(0, b"\x17\x01").await.expect("write");
    let (_, err) = within(10, c.read_packet()).await.expect("an ERR");
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1835, "{err:?}");
    assert!(c.closed().await);
    let mut again = h.raw().await;
    assert_eq!(
        again.query("SELECT COUNT(*) FROM t").await.expect("reply"),
        Reply::Rows(vec![b"\x012".to_vec()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_handshake_response_after_login_is_refused_and_audited() {
    let h = start().await;
    setup(&h);
    let mut c = h.raw().await;
    // a HandshakeResponse41 (capabilities, max packet, collation, user, auth) sent again
    // as if it were a command; its first byte, 0x0f (LONG_PASSWORD | FOUND_ROWS |
    // LONG_FLAG | CONNECT_WITH_DB, as the mariadb client sends), is COM_TIME: refused
    let caps: u32 = 0x0f | 1 << 9 | 1 << 15 | 1 << 19;
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(b"bob\0\x00mysql_native_password\0");
    let r = within(10, c.command(&p)).await.expect("reply");
    assert_eq!(r.err_code(), Some(1227), "{r:?}");
    // the session goes on as alice, and the refusal is audited
    assert_eq!(
        c.query("SELECT COUNT(*) FROM t").await.expect("reply"),
        Reply::Rows(vec![b"\x012".to_vec()])
    );
    let refused = h.audit_records("is not supported by Warden").await;
    assert!(
        refused
            .iter()
            .any(|e| e.actor.as_ref().is_some_and(|a| a.name == "alice")),
        "{refused:?}"
    );
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
}
