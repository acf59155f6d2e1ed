//! TLS to clients (`SSLRequest`) and `caching_sha2_password` through Warden against the
//! machine's MariaDB: the `mariadb` CLI over TLS (verifying Warden's certificate) logs in
//! with caching_sha2_password full authentication (cleartext password over TLS, checked
//! against the argon2id `password_hash`); afterwards mysql_async without TLS takes the
//! fast path; wrong passwords get ERR 1045 and `auth_failed` with
//! `method=caching_sha2_password`; a user never fully authenticated gets full
//! authentication without TLS through the RSA key exchange (see `my_rsa_sha2`).

mod my_support;

use my_support::checks::{auth_details, details_until};
use my_support::{within, Harness, ALICE_PW, CAROL_PW};
use mysql_async::prelude::*;

/// The `mariadb` CLI over TLS (Warden's certificate verified against the test CA),
/// starting with caching_sha2_password: (success, stdout, stderr).
async fn cli_tls(h: &Harness, user: &str, pw: &str, sql: &str) -> (bool, String, String) {
    let ca = h.ca.as_ref().expect("a TLS harness");
    let out = tokio::process::Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &h.addr.port().to_string(),
            "-u",
            user,
        ])
        .arg(format!("-p{pw}"))
        .arg("--ssl")
        .arg(format!("--ssl-ca={}", ca.display()))
        .arg("--ssl-verify-server-cert")
        .arg("--default-auth=caching_sha2_password")
        .args(["-N", "-B", "--connect-timeout=10", "-e", sql])
        .arg(&h.db)
        .kill_on_drop(true)
        .output();
    let out = within(60, out).await.expect("run mariadb");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn has(details: &[String], needle: &str) -> bool {
    details.iter().any(|d| d.contains(needle))
}

const SHA2: &str = "method=caching_sha2_password";
const NATIVE: &str = "method=mysql_native_password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_sha2_full_auth_over_tls_then_fast_path_without_tls() {
    let h = my_support::start_tls().await;
    h.direct("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1),(2)");

    // full authentication over TLS against the argon2id hash; the session works and
    // the statement is still decided (a DROP is denied)
    let (ok, out, err) = cli_tls(&h, "carol", CAROL_PW, "SELECT COUNT(*) FROM t").await;
    assert!(ok, "{err}");
    assert_eq!(out, "2");
    let (_, _, err) = cli_tls(&h, "carol", CAROL_PW, "DROP TABLE t").await;
    assert!(err.contains("ERROR 1227"), "{err}");
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
    let opened = h.audit_records("tls=true").await;
    assert!(!opened.is_empty(), "connection_opened records tls=true");
    let ok_details = details_until(&h, "authenticated", "carol", |d| has(d, SHA2)).await;
    assert!(has(&ok_details, SHA2), "{ok_details:?}");

    // a wrong password over TLS: ERR 1045, audited with the method
    let (ok, _, err) = cli_tls(&h, "carol", "not-the-password", "SELECT 1").await;
    assert!(!ok);
    assert!(err.contains("ERROR 1045"), "{err}");
    let failed = details_until(&h, "auth_failed", "carol", |d| has(d, SHA2)).await;
    assert!(
        failed
            .iter()
            .any(|d| d.contains(SHA2) && d.contains("wrong password")),
        "{failed:?}"
    );

    // mysql_async (no TLS; it starts with the plugin the greeting names,
    // caching_sha2_password): the fast path, from the entry the full login left
    let sha2_logins = |d: &[String]| d.iter().filter(|d| d.contains(SHA2)).count();
    // the two logins above are on record first
    let before = details_until(&h, "authenticated", "carol", |d| sha2_logins(d) >= 2).await;
    let before = sha2_logins(&before);
    assert_eq!(before, 2);
    let mut c = within(30, mysql_async::Conn::new(h.driver_opts("carol", CAROL_PW)))
        .await
        .expect("fast path login");
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(2));
    c.disconnect().await.expect("disconnect");
    let after = details_until(&h, "authenticated", "carol", |d| sha2_logins(d) > before).await;
    let after = sha2_logins(&after);
    assert_eq!(
        after,
        before + 1,
        "the fast-path login is audited with its method"
    );

    // the fast path with a wrong password: ERR 1045, method caching_sha2_password
    let before = auth_details(&h, "auth_failed", "carol").await.len();
    let r = within(30, mysql_async::Conn::new(h.driver_opts("carol", "wrong"))).await;
    match r {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1045, "{e:?}"),
        other => panic!("expected ERR 1045, got {:?}", other.map(|_| ())),
    }
    let after = details_until(&h, "auth_failed", "carol", |d| d.len() > before).await;
    assert!(after.len() > before, "{after:?}");
    assert!(after.iter().all(|d| d.contains(SHA2)), "{after:?}");

    // alice never logged in before: without TLS her caching_sha2_password start gets
    // full authentication with the RSA key exchange (checked against her stored
    // mysql_native_password verifier, she has no password_hash)
    let mut c = within(30, mysql_async::Conn::new(h.driver_opts("alice", ALICE_PW)))
        .await
        .expect("full authentication over RSA");
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(2));
    c.disconnect().await.expect("disconnect");
    let alice = details_until(&h, "authenticated", "alice", |d| has(d, SHA2)).await;
    assert!(has(&alice, SHA2), "{alice:?}");
    assert!(!has(&alice, NATIVE), "{alice:?}");

    // and over TLS, alice (only a native verifier) gets full authentication against it
    let (ok, out, err) = cli_tls(&h, "alice", ALICE_PW, "SELECT 7").await;
    assert!(ok, "{err}");
    assert_eq!(out, "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssl_request_without_tls_settings_is_refused_cleanly() {
    let h = my_support::start().await;
    let mut raw = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = [0u8; 4];
    raw.read_exact(&mut head).await.expect("greeting header");
    let len = usize::from(head[0]) | usize::from(head[1]) << 8;
    let mut greeting = vec![0u8; len];
    raw.read_exact(&mut greeting).await.expect("greeting");
    assert!(greeting.ends_with(b"caching_sha2_password\0"));
    // an SSLRequest: protocol 4.1 | SSL | secure connection, 32 bytes
    let caps: u32 = (1 << 9) | (1 << 11) | (1 << 15);
    let mut req = vec![32u8, 0, 0, 1];
    req.extend_from_slice(&caps.to_le_bytes());
    req.extend_from_slice(&(1u32 << 24).to_le_bytes());
    req.push(45);
    req.extend_from_slice(&[0u8; 23]);
    raw.write_all(&req).await.expect("ssl request");
    let mut head = [0u8; 4];
    raw.read_exact(&mut head).await.expect("err header");
    let mut err = vec![0u8; usize::from(head[0])];
    raw.read_exact(&mut err).await.expect("err");
    assert_eq!(err[0], 0xff);
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1251);
    assert!(String::from_utf8_lossy(&err).contains("no TLS settings"));
    // other sessions are unaffected
    let mut c = h.driver().await;
    let one: Option<i64> = c.query_first("SELECT 1").await.expect("read");
    assert_eq!(one, Some(1));
    c.disconnect().await.expect("disconnect");
}
