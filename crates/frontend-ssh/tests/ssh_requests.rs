//! SSH requests other than plain exec, through Warden to a real sshd: sftp and port
//! forwarding refused by policy, interactive shells refused by policy, upstream host-key
//! mismatches refused, password logins (russh client) audited and throttled.

mod ssh_support;

use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, AuthResult};
use russh::keys::PublicKey;
use russh::ChannelMsg;
use ssh_support::{start, start_with, Harness, Options, ALICE_PW};
use warden_audit::EventKind;
use warden_gate::auth::ThrottleConfig;

async fn decided_raw(h: &Harness, raw_prefix: &str) -> Vec<String> {
    h.records(EventKind::ActionDecided, 1)
        .await
        .into_iter()
        .filter_map(|r| {
            let a = r.event.action?;
            let v = r.event.verdict?;
            a.raw.starts_with(raw_prefix).then_some(v.decision)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_refused_by_policy() {
    let h = start().await;
    let r = h.sftp("ls /\n").await;
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.out().is_empty() || !r.out().contains("etc"), "{r:?}");
    assert_eq!(decided_raw(&h, "subsystem sftp").await, vec!["deny"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forwarding_refused() {
    let h = start().await;
    // stdio forwarding (-W) opens a direct-tcpip channel.
    let target = format!("127.0.0.1:{}", h.sshd.port);
    let r = h.ssh_args(&["-W", &target], None).await;
    assert_eq!(r.code, Some(255), "{r:?}");
    assert!(!r.out().contains("SSH-2.0"), "forwarded to sshd: {r:?}");
    // Remote forwarding is refused too.
    let r = h
        .ssh_args(
            &["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"],
            Some("echo should-not-run"),
        )
        .await;
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(!r.out().contains("should-not-run"), "{r:?}");
    let direct = decided_raw(&h, "direct-tcpip").await;
    assert_eq!(direct, vec!["deny"]);
    assert_eq!(decided_raw(&h, "tcpip-forward").await, vec!["deny"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_shell_refused_by_policy() {
    let policy = format!(
        "{}  - name: no-shells\n    when: {{ protocol: ssh, ssh: {{ interactive: true }} }}\n    action: deny\n    message: No interactive shells here.\n",
        ssh_support::POLICY
    );
    let h = start_with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let r = h.ssh_args(&["-T"], None).await;
    assert_eq!(r.code, Some(126), "{r:?}");
    assert!(r.stderr.contains("No interactive shells here."), "{r:?}");
    assert_eq!(decided_raw(&h, "shell").await, vec!["deny"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_host_key_mismatch_is_refused() {
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string();
    let h = start_with(Options {
        pin: Some(wrong),
        ..Options::default()
    })
    .await;
    let marker = h.work.join("mismatch-marker");
    let r = h.ssh(&format!("echo x > {}", marker.display()), b"").await;
    assert_eq!(r.code, Some(255), "{r:?}");
    assert!(
        r.stderr.contains("does not match the pinned fingerprint"),
        "{r:?}"
    );
    assert!(!marker.exists());

    let h = start_with(Options {
        known_hosts: Some(false),
        ..Options::default()
    })
    .await;
    let r = h.ssh("echo hi", b"").await;
    assert_eq!(r.code, Some(255), "{r:?}");
    assert!(r.stderr.contains("host key"), "{r:?}");

    let h = start_with(Options {
        known_hosts: Some(true),
        ..Options::default()
    })
    .await;
    let r = h.ssh("echo hi", b"").await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.out(), "hi\n");
}

struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _key: &PublicKey) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

async fn connect(h: &Harness) -> client::Handle<AnyKey> {
    tokio::time::timeout(
        Duration::from_secs(20),
        client::connect(Arc::new(client::Config::default()), h.addr, AnyKey),
    )
    .await
    .expect("connect timed out")
    .expect("connect")
}

async fn password(h: &Harness, pw: &str) -> bool {
    let mut c = connect(h).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        c.authenticate_password("alice", pw),
    )
    .await
    .expect("auth timed out")
    .expect("auth");
    matches!(r, AuthResult::Success)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_exec_and_throttling() {
    let h = start_with(Options {
        throttle: ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
            delay_step: Duration::from_millis(10),
        },
        ..Options::default()
    })
    .await;

    // A russh client logs in with the password and runs a command.
    let mut c = connect(&h).await;
    let ok = c
        .authenticate_password("alice", ALICE_PW)
        .await
        .expect("auth");
    assert!(matches!(ok, AuthResult::Success));
    let mut ch = c.channel_open_session().await.expect("session");
    ch.exec(true, "echo via-russh; exit 3").await.expect("exec");
    let mut out = Vec::new();
    let mut status = None;
    let collected = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(m) = ch.wait().await {
            match m {
                ChannelMsg::Data { data } => out.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                _ => {}
            }
        }
    })
    .await;
    assert!(collected.is_ok(), "exec timed out");
    assert_eq!(String::from_utf8_lossy(&out), "via-russh\n");
    assert_eq!(status, Some(3));

    // Wrong passwords are audited, then the account is locked even for the right one.
    for _ in 0..3 {
        assert!(!password(&h, "wrong-password").await);
    }
    assert!(!password(&h, ALICE_PW).await, "throttled login accepted");
    let failed = h.records(EventKind::AuthFailed, 4).await;
    let reasons: Vec<String> = failed
        .iter()
        .filter_map(|r| r.event.detail.clone())
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == "method=password; wrong password")
            .count(),
        3,
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("method=password; throttled")),
        "{reasons:?}"
    );
    // The roles of the account that was tried.
    assert!(
        failed.iter().all(|r| r
            .event
            .actor
            .as_ref()
            .is_some_and(|a| a.roles == ["developer"])),
        "{failed:?}"
    );
    let ok = h.records(EventKind::Authenticated, 1).await;
    assert!(
        ok.iter()
            .any(|r| r.event.detail.as_deref() == Some("method=password")),
        "{ok:?}"
    );
    assert!(reasons.iter().all(|r| !r.contains(ALICE_PW)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_relayed_when_allowed() {
    let policy = "version: 1\nrules:\n  - name: no-rm\n    when: { protocol: ssh, ssh: { programs: [rm] } }\n    action: deny\n";
    let h = start_with(Options {
        policy: Some(policy.into()),
        ..Options::default()
    })
    .await;
    std::fs::write(h.work.join("listed-file"), "x").expect("file");
    let r = h.sftp(&format!("ls {}\n", h.work.display())).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out().contains("listed-file"), "{r:?}");
    assert_eq!(decided_raw(&h, "subsystem sftp").await, vec!["allow"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_a_pty_gets_one_upstream() {
    let h = start().await;
    // `ssh -tt host tty`: the pty request is replayed upstream before the exec.
    let r = h.ssh_io(&["-tt"], Some("tty"), b"").await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.out().trim().starts_with("/dev/pts/"), "{r:?}");
    // Without -t the command still runs without one.
    let r = h.ssh("tty", b"").await;
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.out().contains("not a tty"), "{r:?}");
}

/// `SHA256:...` of a public key file, as `ssh-keygen -l` prints it.
fn fingerprint(key: &std::path::Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_public_keys_are_audited_with_their_fingerprint_and_bounded() {
    let h = start().await;
    let keys: Vec<std::path::PathBuf> = (0..8)
        .map(|i| {
            let k = h.dir.path().join(format!("stranger_{i}"));
            ssh_support::keygen(&k);
            k
        })
        .collect();
    // The real OpenSSH client offers a key alice does not have first, then hers.
    let r = h
        .ssh_offering("alice", &[&keys[0], &h.alice_key], "echo in")
        .await;
    assert_eq!((r.code, r.out().as_str()), (Some(0), "in\n"), "{r:?}");
    let failed = h.records(EventKind::AuthFailed, 1).await;
    assert_eq!(failed.len(), 1, "one refused offer, one record: {failed:?}");
    assert_eq!(
        failed[0].event.detail.as_deref(),
        Some(
            format!(
                "method=publickey; public key not authorized ({})",
                fingerprint(&keys[0])
            )
            .as_str()
        )
    );
    let who = failed[0].event.actor.as_ref().expect("actor");
    assert_eq!(
        (who.name.as_str(), who.roles.clone()),
        ("alice", vec!["developer".to_string()])
    );
    assert_eq!(h.records(EventKind::Authenticated, 1).await.len(), 1);

    // A name no account has: refused, recorded as such, the client told nothing more.
    let r = h.ssh_offering("nobody", &[&keys[1]], "true").await;
    assert_ne!(r.code, Some(0), "{r:?}");
    let failed = h.records(EventKind::AuthFailed, 2).await;
    assert_eq!(
        failed[1].event.detail.as_deref(),
        Some(format!("method=publickey; unknown user ({})", fingerprint(&keys[1])).as_str())
    );

    // Eight keys on one connection: the first five recorded, the rest one count.
    let all: Vec<&std::path::Path> = keys.iter().map(|k| k.as_path()).collect();
    let r = h.ssh_offering("olga", &all, "true").await;
    assert_ne!(r.code, Some(0), "{r:?}");
    let failed = h.records(EventKind::AuthFailed, 8).await;
    let olga: Vec<String> = failed[2..]
        .iter()
        .filter_map(|r| r.event.detail.clone())
        .collect();
    assert!(olga.len() <= 6, "bounded: {olga:?}");
    for (i, d) in olga.iter().take(5).enumerate() {
        let want = format!(
            "method=publickey; public key not authorized ({})",
            fingerprint(&keys[i])
        );
        assert_eq!(d, &want);
    }
    let summary = olga.get(5).expect("the offers after the fifth, counted");
    assert!(
        summary.starts_with("method=publickey; ") && summary.contains("more refused public keys"),
        "{olga:?}"
    );
}
