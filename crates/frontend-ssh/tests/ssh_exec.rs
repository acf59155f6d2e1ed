//! The SSH front-end against a real OpenSSH server, driven by the real `ssh` client:
//! allowed exec with exit status, stdin and large stdout; denied exec (nothing ran
//! upstream); shell evasions of `rm -rf`; held exec approved and denied.

mod ssh_support;

use std::time::Duration;

use ssh_support::{ops, start};
use warden_audit::EventKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_exec_streams_and_passes_exit_status() {
    let h = start().await;
    let r = h.ssh("sh -c 'echo out; echo err >&2; exit 7'", b"").await;
    assert_eq!(r.code, Some(7), "{r:?}");
    assert_eq!(r.out(), "out\n");
    assert!(r.stderr.contains("err"), "{r:?}");

    // stdin flows to the upstream command and back.
    let r = h.ssh("cat", b"hello through warden\n").await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.out(), "hello through warden\n");

    // Large stdout is streamed in full.
    let r = h.ssh("head -c 5000000 /dev/zero", b"").await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout.len(), 5_000_000);
    assert!(r.stdout.iter().all(|b| *b == 0));

    // The upstream really ran it: a file appears.
    let marker = h.work.join("made-by-echo");
    let r = h
        .ssh(&format!("echo ran > {}", marker.display()), b"")
        .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "ran\n");

    let done = h.records(EventKind::ActionCompleted, 4).await;
    assert!(
        done.iter()
            .any(|r| r.event.outcome.as_ref().and_then(|o| o.status.as_deref()) == Some("7")),
        "exit status audited"
    );
    let auth = h.records(EventKind::Authenticated, 1).await;
    assert_eq!(
        auth[0].event.actor.as_ref().map(|a| &a.name[..]),
        Some("alice")
    );
    assert_eq!(auth[0].event.detail.as_deref(), Some("method=publickey"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_exec_and_evasions_never_reach_upstream() {
    let h = start().await;
    let victim = h.work.join("x");
    std::fs::create_dir_all(victim.join("inner")).expect("victim");
    let v = victim.display().to_string();
    let b64 = base64_of(&format!("rm -rf {v}"));
    let attempts = [
        format!("rm -rf {v}"),
        format!("bash -c 'rm -rf {v}'"),
        format!("echo {b64} | base64 -d | sh"),
        format!("r''m -rf {v}"),
        format!("$(echo rm) -rf {v}"),
    ];
    for cmd in &attempts {
        let r = h.ssh(cmd, b"").await;
        assert_eq!(r.code, Some(126), "{cmd}: {r:?}");
        assert!(r.stderr.contains("warden:"), "{cmd}: {r:?}");
        assert!(victim.join("inner").exists(), "{cmd} ran upstream");
    }
    let first = h.ssh(&attempts[0], b"").await;
    assert!(
        first
            .stderr
            .contains("Recursive deletes are not allowed through Warden."),
        "{first:?}"
    );
    let decided = h.records(EventKind::ActionDecided, attempts.len()).await;
    let denies = decided
        .iter()
        .filter(|r| r.event.verdict.as_ref().map(|v| &v.decision[..]) == Some("deny"))
        .count();
    assert!(denies >= attempts.len(), "every refusal audited");
    // Nothing was completed: no ticket was handed out.
    assert!(h.records(EventKind::ActionCompleted, 0).await.is_empty());
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_exec_runs_once_after_approval() {
    let h = start().await;
    let marker = h.work.join("approved-marker");
    let cmd = format!("touch {} && echo touched", marker.display());
    let run = {
        let cmd = cmd.clone();
        let h = &h;
        async move { h.ssh(&cmd, b"").await }
    };
    let approve = async {
        let req = h.pending().await;
        assert!(!marker.exists(), "ran before approval");
        h.approvals
            .approve(&req.id, &ops(), Some("ok".into()))
            .await
            .expect("approve");
        req.id
    };
    let (r, id) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(run, approve)
    })
    .await
    .expect("bounded");
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.out(), "touched\n");
    assert!(r.stderr.contains(&id), "approval id on stderr: {r:?}");
    assert!(r.stderr.contains("http://console.test"), "{r:?}");
    assert!(marker.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_exec_denied_exits_126() {
    let h = start().await;
    let marker = h.work.join("denied-marker");
    let cmd = format!("touch {}", marker.display());
    let run = {
        let h = &h;
        let cmd = cmd.clone();
        async move { h.ssh(&cmd, b"").await }
    };
    let deny = async {
        let req = h.pending().await;
        h.approvals
            .deny(&req.id, &ops(), Some("not now".into()))
            .await
            .expect("deny");
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(run, deny) })
        .await
        .expect("bounded");
    assert_eq!(r.code, Some(126), "{r:?}");
    assert!(r.stderr.contains("denied by olga"), "{r:?}");
    assert!(!marker.exists(), "denied command ran");
}
