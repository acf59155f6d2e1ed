//! An interactive pty session through Warden, driven by the real `ssh` client inside
//! tmux: commands run upstream, each submitted line is audited, the asciicast v2
//! recording exists, its SHA-256 is in the (verified) audit chain, and it replays.

mod ssh_support;

use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use ssh_support::start;
use warden_audit::EventKind;

/// A private tmux server, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn send(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(ok.success());
    }

    fn pane(&self) -> String {
        self.cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    async fn wait_for(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let pane = self.pane();
            if pane.contains(needle) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "pane never showed {needle:?}:\n{pane}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_session_is_recorded_and_replays() {
    let h = start().await;
    let tmux = Tmux {
        socket: format!("warden-ssh-test-{}", std::process::id()),
    };
    let ssh = format!(
        "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o IdentitiesOnly=yes -o LogLevel=ERROR -tt -i {} -p {} alice@127.0.0.1",
        h.alice_key.display(),
        h.addr.port()
    );
    let started = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "40",
            &ssh,
        ])
        .status()
        .expect("tmux new-session");
    assert!(started.success());

    // A shell prompt from the real sshd, then a command whose output differs from its text.
    tmux.wait_for("#").await;
    tmux.send(&["echo hello-$((6*7))", "Enter"]);
    tmux.wait_for("hello-42").await;
    tmux.send(&["exit", "Enter"]);

    let recs = h.records(EventKind::SessionRecording, 1).await;
    assert_eq!(recs.len(), 1, "one recording record");
    let detail = recs[0].event.detail.clone().expect("detail");
    let path = detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("path="))
        .expect("path");
    let sha = detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sha256="))
        .expect("sha");
    let bytes = std::fs::read(path).expect("recording exists");
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        sha,
        "hash in the chain"
    );
    assert!(h.audit.verify().ok, "chain verifies");

    // Replay: header + timed events; output replays the command's result.
    let text = String::from_utf8(bytes).expect("utf8");
    let mut lines = text.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("header")).expect("header json");
    assert_eq!(header["version"], 2);
    assert_eq!(header["width"], 120);
    let mut output = String::new();
    let mut input = String::new();
    let mut last = 0.0f64;
    for line in lines {
        let ev: serde_json::Value = serde_json::from_str(line).expect("event json");
        let at = ev[0].as_f64().expect("time");
        assert!(at >= last, "timestamps ordered");
        last = at;
        let data = ev[2].as_str().expect("data");
        match ev[1].as_str() {
            Some("o") => output.push_str(data),
            Some("i") => input.push_str(data),
            other => panic!("unexpected event type {other:?}"),
        }
    }
    assert!(output.contains("hello-42"), "{output}");
    assert!(input.contains("echo hello-$((6*7))"), "{input}");

    // Each submitted line was audited.
    let decided = h.records(EventKind::ActionDecided, 3).await;
    let lines: Vec<String> = decided
        .iter()
        .filter_map(|r| r.event.action.as_ref().map(|a| a.raw.clone()))
        .collect();
    assert!(lines.iter().any(|l| l == "shell"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "echo hello-$((6*7))"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "exit"), "{lines:?}");
    assert_eq!(h.records(EventKind::SessionEnded, 1).await.len(), 1);
}
