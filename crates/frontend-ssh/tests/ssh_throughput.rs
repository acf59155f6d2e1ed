//! A measurement, run by hand (ignored by default): 256 MiB through `cat` both ways,
//! via Warden and straight to the same sshd, with the real `ssh` client; prints MiB/s.
//! It checks that every byte came back, never how fast (timing belongs to people).
//!
//! `cargo test -p warden-frontend-ssh --test ssh_throughput -- --ignored --nocapture`

mod ssh_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use ssh_support::start;
use tokio::io::AsyncWriteExt;

const MIB: usize = 1024 * 1024;
const SIZE: usize = 256 * MIB;

async fn direct(h: &ssh_support::Harness, input: &[u8]) -> (usize, Duration) {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i"])
        .arg(&h.sshd.client_key)
        .arg("-p")
        .arg(h.sshd.port.to_string())
        .args(["root@127.0.0.1", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("ssh");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&data).await;
    });
    let out = child.wait_with_output().await.expect("ssh output");
    let _ = writer.await;
    (out.stdout.len(), started.elapsed())
}

fn rate(t: Duration) -> f64 {
    (SIZE / MIB) as f64 / t.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run by hand"]
async fn cat_256_mib_both_ways_through_warden_and_direct() {
    let h = start().await;
    let input = vec![0x5a_u8; SIZE];
    for round in 1..=2 {
        let started = Instant::now();
        let r = h.ssh("cat", &input).await;
        let via = started.elapsed();
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(r.stdout.len(), SIZE);
        let (len, straight) = direct(&h, &input).await;
        assert_eq!(len, SIZE);
        println!(
            "round {round}: 256 MiB cat both ways: warden {:.1} MiB/s ({via:.2?}), direct sshd {:.1} MiB/s ({straight:.2?})",
            rate(via),
            rate(straight)
        );
    }
}
