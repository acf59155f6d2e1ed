//! TLS on both sides: psql with `sslmode=verify-full` against a CA-signed Warden cert
//! (SSLRequest and PostgreSQL 17 direct TLS negotiation), cleartext passwords only over
//! TLS, and Warden's own upstream login verifying a CA.

mod pg_support;

use std::path::Path;

use pg_support::*;
use warden_config::{TlsFiles, UpstreamTls};

struct Pki {
    ca: std::path::PathBuf,
    files: TlsFiles,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "warden test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write ca");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write key");
    Pki {
        ca: ca_path,
        files: TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_verify_full_scram_and_cleartext_over_tls() {
    let pki_dir = tempfile::tempdir().expect("tmp");
    let pki = make_pki(pki_dir.path());
    let h = start_with(Setup {
        tls: Some(pki.files.clone()),
        ..Setup::default()
    })
    .await;
    let ca = pki.ca.display().to_string();
    let port = h.addr.port().to_string();
    let conninfo = |user: &str, mode: &str| {
        format!(
            "host=localhost port={port} user={user} dbname={} sslmode={mode} sslrootcert={ca}",
            h.db
        )
    };
    let run = |conn: String, pw: &'static str| async move {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::process::Command::new("psql")
                .args(["-X", "-At", "-c", "SELECT 'ok'", &conn])
                .env("PGPASSWORD", pw)
                .output(),
        )
        .await
        .expect("psql timed out")
        .expect("psql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // SCRAM user over verified TLS
    let (ok, out, err) = run(conninfo("alice", "verify-full"), ALICE_PW).await;
    assert!(ok, "{err}");
    assert!(out.contains("ok"), "{out}");
    // carol has no SCRAM verifier: cleartext password, allowed only because of TLS
    let (ok, out, err) = run(conninfo("carol", "verify-full"), "carol-pw-3").await;
    assert!(ok && out.contains("ok"), "{out} {err}");
    // ... and refused without TLS
    let (ok, _, err) = run(conninfo("carol", "disable"), "carol-pw-3").await;
    assert!(
        !ok && err.contains("password authentication failed"),
        "{err}"
    );
    // ... and a wrong cleartext password over TLS
    let (ok, _, _) = run(conninfo("carol", "verify-full"), "not-carols").await;
    assert!(!ok);
    // The login records say which method: SCRAM or the cleartext password.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let page = h
        .gate
        .audit()
        .query(&warden_audit::Query::default())
        .expect("audit query");
    let logins: Vec<(String, String, String, Vec<String>)> = page
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.event.kind,
                warden_audit::EventKind::Authenticated | warden_audit::EventKind::AuthFailed
            )
        })
        .map(|r| {
            let a = r.event.actor.clone().expect("actor");
            (
                format!("{:?}", r.event.kind),
                a.name,
                r.event.detail.clone().unwrap_or_default(),
                a.roles,
            )
        })
        .collect();
    let has = |kind: &str, user: &str, detail: &str| {
        logins.iter().any(|(k, u, d, roles)| {
            k == kind && u == user && d == detail && roles == &["developer".to_string()]
        })
    };
    assert!(
        has("Authenticated", "alice", "method=scram-sha-256"),
        "{logins:?}"
    );
    assert!(
        has("Authenticated", "carol", "method=password"),
        "{logins:?}"
    );
    assert!(
        has(
            "AuthFailed",
            "carol",
            "method=scram-sha-256; no SCRAM verifier configured and connection is not TLS"
        ),
        "{logins:?}"
    );
    assert!(
        has("AuthFailed", "carol", "method=password; wrong password"),
        "{logins:?}"
    );
    // wrong host name fails verification
    let wrong = format!(
        "host=127.0.0.2 port={port} user=alice dbname={} sslmode=verify-full sslrootcert={ca}",
        h.db
    );
    let (ok, _, _) = run(wrong, ALICE_PW).await;
    assert!(!ok, "a certificate for another name must not verify");
    // PostgreSQL 17 direct TLS (libpq >= 17 only; skipped with older psql)
    let version = std::process::Command::new("psql")
        .arg("--version")
        .output()
        .expect("psql --version");
    let v = String::from_utf8_lossy(&version.stdout).to_string();
    let major: u32 = v
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.split('.').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if major >= 17 {
        let (ok, out, err) = run(
            format!("{} sslnegotiation=direct", conninfo("alice", "verify-full")),
            ALICE_PW,
        )
        .await;
        assert!(ok && out.contains("ok"), "{out} {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_tls_handshake_is_accepted() {
    // A raw rustls client starting TLS immediately (what PostgreSQL 17's
    // sslnegotiation=direct does), with ALPN "postgresql".
    let pki_dir = tempfile::tempdir().expect("tmp");
    let pki = make_pki(pki_dir.path());
    let h = start_with(Setup {
        tls: Some(pki.files.clone()),
        ..Setup::default()
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in warden_frontend_postgres::tls::load_certs(&pki.ca).expect("ca") {
        roots.add(cert).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    let tcp = tokio::net::TcpStream::connect(h.addr).await.expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = within(
        10,
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("handshake");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(&pg_support::raw::startup("alice", &h.db))
        .await
        .expect("startup");
    let mut head = [0u8; 9];
    within(10, tls.read_exact(&mut head))
        .await
        .expect("auth request");
    assert_eq!(head[0], b'R');
    assert_eq!(
        i32::from_be_bytes([head[5], head[6], head[7], head[8]]),
        10,
        "SASL offered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_requires_a_verifiable_certificate() {
    // The machine's PostgreSQL may not have TLS; when it does not, Warden must refuse to
    // fall back to plaintext.
    let pki_dir = tempfile::tempdir().expect("tmp");
    let pki = make_pki(pki_dir.path());
    let h = start_with(Setup {
        upstream_tls: Some(UpstreamTls {
            ca: Some(pki.ca.clone()),
            client: None,
            server_name: Some("localhost".into()),
        }),
        ..Setup::default()
    })
    .await;
    let direct = admin_client("postgres").await;
    let ssl: String = direct
        .query_one("SHOW ssl", &[])
        .await
        .expect("show ssl")
        .get(0);
    let e = h
        .connect("alice", ALICE_PW)
        .await
        .expect_err("no plaintext fallback, and the server cert is not from our CA");
    assert_eq!(sqlstate(&e).as_deref(), Some("08001"), "ssl={ssl}: {e:?}");
}

/// Gateway tokens as psql passwords over verified TLS: a user without a SCRAM verifier
/// and a person not in `users:` send it in cleartext (checked by its hash), a user with
/// a verifier through SCRAM (the token's verifier shares the password's salt); the
/// password keeps working; another user's token is refused; the login records name the
/// token's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_tokens_are_passwords_over_tls_too() {
    let pki_dir = tempfile::tempdir().expect("tmp");
    let pki = make_pki(pki_dir.path());
    let h = start_with(Setup {
        tls: Some(pki.files.clone()),
        ..Setup::default()
    })
    .await;
    let hour = std::time::Duration::from_secs(3600);
    let mint = |user: &str, role: &str| {
        h.users
            .mint_token(user, vec![role.to_string()], false, hour)
            .expect("mint")
            .token
    };
    let (carol, alice, sam) = (
        mint("carol", "developer"),
        mint("alice", "developer"),
        mint("sam", "auditor"),
    );
    let (ca, port) = (pki.ca.display().to_string(), h.addr.port());
    let run = |user: &str, pw: &str| {
        let conn = format!(
            "host=localhost port={port} user={user} dbname={} sslmode=verify-full sslrootcert={ca}",
            h.db
        );
        let pw = pw.to_string();
        async move {
            let out = tokio::process::Command::new("psql")
                .args(["-X", "-At", "-c", "SELECT current_user IS NOT NULL", &conn])
                .env("PGPASSWORD", pw)
                .output()
                .await
                .expect("psql");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    for (user, pw) in [("carol", &carol), ("alice", &alice), ("sam", &sam)] {
        let (ok, err) = run(user, pw).await;
        assert!(ok, "{user}: {err}");
    }
    let (ok, err) = run("carol", "carol-pw-3").await;
    assert!(ok, "carol's password still works: {err}");
    let (ok, err) = run("carol", &sam).await;
    assert!(!ok && err.contains("not issued to this user name"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let page = h
        .gate
        .audit()
        .query(&warden_audit::Query::default())
        .expect("audit query");
    let details: Vec<String> = page
        .records
        .iter()
        .filter(|r| r.event.kind == warden_audit::EventKind::Authenticated)
        .filter_map(|r| {
            let a = r.event.actor.as_ref()?;
            Some(format!(
                "{} {:?} {}",
                a.name,
                a.roles,
                r.event.detail.as_deref()?
            ))
        })
        .collect();
    let sam_id = &sam[4..12];
    assert!(
        details.contains(&format!("sam [\"auditor\"] method=token; token={sam_id}")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("alice") && d.contains("method=token; token=")),
        "{details:?}"
    );
    assert!(
        !format!("{details:?}").contains(&sam[13..]),
        "never the secret"
    );
}
