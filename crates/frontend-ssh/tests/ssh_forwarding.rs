//! Port forwarding through Warden with the real `ssh` client and a real sshd: a TCP
//! service reachable only from the upstream side answers through `ssh -L` and `ssh -W`,
//! and one next to the client answers the upstream host through `ssh -R`, when a policy
//! rule allows forwarding explicitly; without such a rule the requests are audited and
//! refused (nothing reaches the service).

mod ssh_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use ssh_support::{free_port, start_with, Harness, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warden_audit::{EventKind, Record};

const GREETING: &[u8] = b"hello from behind the host\n";

const ALLOW_TUNNELS: &str = r#"
version: 1
rules:
  - name: tunnels-for-developers
    when: { protocol: ssh, ssh: { forwarding: true }, user: { roles: [developer] } }
    action: allow
"#;

/// No rule mentions forwarding: the policy's default would allow it.
const SILENT: &str = r#"
version: 1
rules:
  - name: no-rm
    when: { protocol: ssh, ssh: { programs: [rm] } }
    action: deny
"#;

/// A TCP service that greets, then echoes until EOF; counts its connections.
async fn backend() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if sock.write_all(GREETING).await.is_err() {
                    return;
                }
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    (port, accepted)
}

async fn policy(text: &str) -> Harness {
    start_with(Options {
        policy: Some(text.into()),
        ..Options::default()
    })
    .await
}

/// Decisions about requests whose text starts with `raw`.
async fn decided(h: &Harness, raw: &str) -> Vec<Record> {
    h.records(EventKind::ActionDecided, 1)
        .await
        .into_iter()
        .filter(|r| {
            r.event
                .action
                .as_ref()
                .is_some_and(|a| a.raw.starts_with(raw))
        })
        .collect()
}

/// The outcome records of requests whose text starts with `raw` (waiting up to 10 s
/// for `min` of them).
async fn completed(h: &Harness, raw: &str, min: usize) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seqs: Vec<String> = decided(h, raw)
            .await
            .iter()
            .map(|r| format!("decided at #{}", r.seq))
            .collect();
        let done: Vec<Record> = h
            .records(EventKind::ActionCompleted, 0)
            .await
            .into_iter()
            .filter(|r| r.event.detail.as_ref().is_some_and(|d| seqs.contains(d)))
            .collect();
        if done.len() >= min || tokio::time::Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect_when_listening(port: u16) -> TcpStream {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)).await {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ssh -L never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_forwarding_relayed_when_a_rule_allows_it() {
    let h = policy(ALLOW_TUNNELS).await;
    let (bport, accepted) = backend().await;
    let lport = free_port();
    let spec = format!("{lport}:127.0.0.1:{bport}");
    let mut ssh = h.ssh_spawn(&["-N", "-o", "ExitOnForwardFailure=yes", "-L", &spec]);

    let mut tunnel = connect_when_listening(lport).await;
    let mut payload = vec![0u8; 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut payload);
    let (mut r, mut w) = tunnel.split();
    let send = async {
        w.write_all(&payload).await.expect("send through tunnel");
        w.shutdown().await.expect("shutdown");
    };
    let receive = async {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.expect("read tunnel");
        got
    };
    let ((), got) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(send, receive)
    })
    .await
    .expect("tunnel transfer stalled");
    assert_eq!(&got[..GREETING.len()], GREETING, "the backend answered");
    assert!(got[GREETING.len()..] == payload[..], "echo is byte-exact");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let raw = format!("direct-tcpip 127.0.0.1:{bport}");
    let decisions = decided(&h, &raw).await;
    assert_eq!(decisions.len(), 1, "decision audited with host:port");
    let verdict = decisions[0].event.verdict.as_ref().expect("verdict");
    assert_eq!(verdict.decision, "allow");
    let outcome = completed(&h, &raw, 1)
        .await
        .first()
        .and_then(|r| r.event.outcome.clone())
        .expect("outcome audited when the tunnel closed");
    let expected = (2 * payload.len() + GREETING.len()) as u64;
    assert_eq!(outcome.bytes, Some(expected), "{outcome:?}");
    let _ = ssh.kill().await;

    // ssh -W: stdin and stdout are the tunnel.
    let r = h
        .ssh_io(&["-W", &format!("127.0.0.1:{bport}")], None, b"ping\n")
        .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout, [GREETING, b"ping\n"].concat(), "{r:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_without_an_explicit_rule_is_refused_and_audited() {
    let h = policy(SILENT).await;
    let (bport, accepted) = backend().await;
    let r = h
        .ssh_io(&["-W", &format!("127.0.0.1:{bport}")], None, b"ping\n")
        .await;
    assert_eq!(r.code, Some(255), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");

    let lport = free_port();
    let spec = format!("{lport}:127.0.0.1:{bport}");
    let mut ssh = h.ssh_spawn(&["-N", "-L", &spec]);
    let mut tunnel = connect_when_listening(lport).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), tunnel.read_to_end(&mut got)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "tunnel must be closed: {read:?} {got:?}"
    );
    let _ = ssh.kill().await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing reached the service"
    );

    let raw = format!("direct-tcpip 127.0.0.1:{bport}");
    let done = completed(&h, &raw, 2).await;
    assert_eq!(done.len(), 2, "both requests audited");
    for rec in done {
        let err = rec.event.outcome.and_then(|o| o.error).unwrap_or_default();
        assert!(err.contains("explicitly"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_forwarding_relayed_when_a_rule_allows_it() {
    let h = policy(ALLOW_TUNNELS).await;
    // The service runs next to the client; the upstream host reaches it through -R.
    let (bport, accepted) = backend().await;
    let rport = free_port();
    let spec = format!("{rport}:127.0.0.1:{bport}");
    let mut ssh = h.ssh_spawn(&["-N", "-o", "ExitOnForwardFailure=yes", "-R", &spec]);

    let mut payload = vec![0u8; 512 * 1024];
    rand::thread_rng().fill_bytes(&mut payload);
    for round in 0..2 {
        let mut conn = connect_when_listening(rport).await;
        let (mut r, mut w) = conn.split();
        let send = async {
            w.write_all(&payload).await.expect("send through -R");
            w.shutdown().await.expect("shutdown");
        };
        let receive = async {
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.expect("read -R");
            got
        };
        let ((), got) = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(send, receive)
        })
        .await
        .expect("remote forward stalled");
        assert_eq!(&got[..GREETING.len()], GREETING, "round {round}");
        assert!(
            got[GREETING.len()..] == payload[..],
            "round {round}: byte-exact"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let decisions = decided(&h, "tcpip-forward ").await;
    assert_eq!(decisions.len(), 1, "one decision for the forward");
    let raw = decisions[0].event.action.as_ref().map(|a| a.raw.clone());
    assert!(
        raw.as_deref()
            .unwrap_or_default()
            .ends_with(&format!(":{rport}")),
        "{raw:?}"
    );
    // The client leaves: the forward ends with its traffic in the outcome.
    let _ = ssh.kill().await;
    let _ = ssh.wait().await;
    let done = completed(&h, "tcpip-forward ", 1).await;
    let outcome = done
        .first()
        .and_then(|r| r.event.outcome.clone())
        .expect("forward outcome audited");
    let expected = 2 * (2 * payload.len() + GREETING.len()) as u64;
    assert_eq!(outcome.bytes, Some(expected), "{outcome:?}");
    assert!(
        outcome
            .status
            .as_deref()
            .unwrap_or_default()
            .starts_with("connections=2 "),
        "{outcome:?}"
    );
    // And the upstream no longer listens.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", rport)).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "forward still open upstream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_to_limits_tunnels_to_the_listed_destinations() {
    let (allowed_port, allowed_hits) = backend().await;
    let (other_port, other_hits) = backend().await;
    let h = policy(&format!(
        "version: 1\nrules:\n  - name: tunnel-to-one-service\n    when: {{ protocol: ssh, ssh: {{ forwarding: true, forward_to: [\"127.0.0.1:{allowed_port}\"] }} }}\n    action: allow\n"
    ))
    .await;
    let r = h
        .ssh_io(
            &["-W", &format!("127.0.0.1:{allowed_port}")],
            None,
            b"ping\n",
        )
        .await;
    assert!(
        r.stdout.starts_with(GREETING),
        "the listed destination is relayed: {r:?}"
    );
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);

    let r = h
        .ssh_io(&["-W", &format!("127.0.0.1:{other_port}")], None, b"ping\n")
        .await;
    assert_eq!(r.code, Some(255), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(
        other_hits.load(Ordering::SeqCst),
        0,
        "an unlisted destination is never reached"
    );
    let refused = decided(&h, &format!("direct-tcpip 127.0.0.1:{other_port}")).await;
    assert_eq!(refused.len(), 1, "the refused request is audited");
    let forward_to = match refused[0].event.action.as_ref().map(|a| &a.facts) {
        Some(warden_inspect::Facts::Ssh(s)) => s.forward_to.clone(),
        other => panic!("ssh facts expected: {other:?}"),
    };
    assert_eq!(forward_to, Some(format!("127.0.0.1:{other_port}")));
}
