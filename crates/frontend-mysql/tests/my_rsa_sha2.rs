//! `caching_sha2_password` full authentication without TLS through the RSA key exchange,
//! against the machine's MariaDB: PyMySQL (with `cryptography`) asks Warden for its
//! public key, or is given it (a key configured with `mysql.rsa_private_key`, made with
//! `openssl`); mysql_async and the `mariadb` CLI ask for it too; the password is checked
//! against carol's argon2id `password_hash` (or a user's `mysql_native_password` verifier); a wrong password, a client holding another public key and
//! a cleartext password without TLS all get ERR 1045 (`auth_failed`,
//! `method=caching_sha2_password`). Statements are still decided after such a login.

mod my_support;

use my_support::checks::details_until;
use std::path::{Path, PathBuf};
use std::process::Command;

use my_support::raw::RawClient;
use my_support::{within, Harness, ALICE_PW, CAROL_PW};
use mysql_async::prelude::*;
use warden_frontend_mysql::MysqlOptions;

const SHA2: &str = "method=caching_sha2_password";

fn setup(h: &Harness) {
    h.direct("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1),(2),(3)");
}

/// An RSA key pair made with openssl in `dir`: (private key PEM, public key PEM).
fn openssl_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl")
        .success();
    assert!(ok, "openssl genpkey");
    let ok = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("run openssl")
        .success();
    assert!(ok, "openssl pkey -pubout");
    (private, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_and_mysql_async_log_in_over_the_rsa_key_exchange() {
    let h = my_support::start_with_carol(MysqlOptions::default()).await;
    setup(&h);

    // a wrong password, encrypted to Warden's key: ERR 1045, audited
    let out = h
        .pymysql_as("carol", "not-her-password", None, &["SELECT 1"])
        .await;
    assert_eq!(out, ["LOGIN_ERR 1045"]);
    let failed = details_until(&h, "auth_failed", "carol", |d| !d.is_empty()).await;
    assert!(
        failed
            .iter()
            .any(|d| d.contains(SHA2) && d.contains("wrong password")),
        "{failed:?}"
    );

    // the right one: PyMySQL asks for the public key, encrypts, logs in; statements are
    // still decided
    let out = h
        .pymysql_as(
            "carol",
            CAROL_PW,
            None,
            &["SELECT COUNT(*) FROM t", "DROP TABLE t"],
        )
        .await;
    assert_eq!(out, ["OK 3", "ERR 1227"]);
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "3");
    let ok = details_until(&h, "authenticated", "carol", |d| !d.is_empty()).await;
    assert!(ok.iter().all(|d| d.contains(SHA2)), "{ok:?}");

    // mysql_async asks for the key too (bob has never logged in on this listener; his
    // mysql_native_password verifier checks the decrypted password)
    let mut c = within(
        30,
        mysql_async::Conn::new(h.driver_opts("bob", "bob-secret-2")),
    )
    .await
    .expect("mysql_async over RSA");
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(3));
    c.disconnect().await.expect("disconnect");
    let bob = details_until(&h, "authenticated", "bob", |d| !d.is_empty()).await;
    assert!(bob.iter().all(|d| d.contains(SHA2)), "{bob:?}");

    // the mariadb CLI (MariaDB Connector/C) starting with caching_sha2_password asks for
    // the key as well (alice has never logged in on this listener)
    let (_, out, err) = h
        .cli_as(
            "alice",
            ALICE_PW,
            &["--default-auth=caching_sha2_password"],
            "SELECT COUNT(*) FROM t;\nDROP TABLE t;\n",
        )
        .await;
    assert_eq!(out.trim(), "3", "{err}");
    assert!(err.contains("ERROR 1227"), "{err}");
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "3");
    let alice = details_until(&h, "authenticated", "alice", |d| !d.is_empty()).await;
    assert!(alice.iter().all(|d| d.contains(SHA2)), "{alice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_key_is_used_and_a_client_with_another_key_is_refused() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (private, public) = openssl_key(keys.path(), "warden");
    let (_, other_public) = openssl_key(keys.path(), "other");
    let h = my_support::start_with_carol(MysqlOptions {
        rsa_private_key: Some(private),
        ..MysqlOptions::default()
    })
    .await;
    setup(&h);

    // PyMySQL holding some other public key: its ciphertext does not decrypt → 1045
    let out = h
        .pymysql_as("carol", CAROL_PW, Some(&other_public), &["SELECT 1"])
        .await;
    assert_eq!(out, ["LOGIN_ERR 1045"]);
    let failed = details_until(&h, "auth_failed", "carol", |d| !d.is_empty()).await;
    assert!(
        failed.iter().any(|d| d.contains(SHA2)
            && d.contains("reply not encrypted with the RSA key of this Warden")),
        "{failed:?}"
    );

    // holding the configured key's public half, it logs in without asking for it
    let out = h
        .pymysql_as(
            "carol",
            CAROL_PW,
            Some(&public),
            &["SELECT COUNT(*) FROM t"],
        )
        .await;
    assert_eq!(out, ["OK 3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleartext_password_without_tls_is_refused() {
    let h = my_support::start_with_carol(MysqlOptions::default()).await;
    // any scramble: carol has no cached entry, so Warden asks for full authentication
    let (mut c, _challenge, answer) = within(
        30,
        RawClient::start(h.addr, "carol", None, "caching_sha2_password", |_| {
            vec![0u8; 32]
        }),
    )
    .await
    .expect("handshake");
    assert_eq!(answer, [0x01, 0x04], "full authentication asked for");
    // the password in clear, as a client would send it over TLS
    let mut clear = CAROL_PW.as_bytes().to_vec();
    clear.push(0);
    c.write_packet(3, &clear).await.expect("send");
    let (_, err) = c.read_packet().await.expect("answer");
    assert_eq!(err[0], 0xff, "{err:?}");
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1045);
    let failed = details_until(&h, "auth_failed", "carol", |d| !d.is_empty()).await;
    assert!(
        failed.iter().any(|d| d.contains(SHA2)
            && d.contains("reply not encrypted with the RSA key of this Warden")),
        "{failed:?}"
    );

    // asking for the key gets the PEM public key (AuthMoreData)
    let (mut c, _, answer) = within(
        30,
        RawClient::start(h.addr, "carol", None, "caching_sha2_password", |_| {
            vec![0u8; 32]
        }),
    )
    .await
    .expect("handshake");
    assert_eq!(answer, [0x01, 0x04]);
    c.write_packet(3, &[0x02]).await.expect("ask for the key");
    let (seq, key) = c.read_packet().await.expect("key");
    assert_eq!(seq, 4);
    assert_eq!(key[0], 0x01);
    let pem = String::from_utf8_lossy(&key[1..]);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
}
