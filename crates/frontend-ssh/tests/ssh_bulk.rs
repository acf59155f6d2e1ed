//! Bulk data both ways at once through Warden (the bidirectional flow-control stall):
//! 8 MiB of random stdin into `cat` upstream while its 8 MiB of output streams back, with
//! the real `ssh` client (several runs, then two at once) and with a russh client,
//! compared byte for byte. Each run is bounded by a timeout that fails the test instead
//! of hanging.

mod ssh_support;

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use russh::client::{self, AuthResult};
use russh::keys::PublicKey;
use russh::ChannelMsg;
use sha2::{Digest, Sha256};
use ssh_support::{start, ALICE_PW};
use tokio::io::AsyncWriteExt;
use warden_audit::EventKind;

const SIZE: usize = 8 * 1024 * 1024;
const RUNS: usize = 3;
/// Generous: a healthy run takes a second or two on loopback.
const BOUND: Duration = Duration::from_secs(90);

fn random(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut data);
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_client_cat_of_8_mib_both_ways_is_byte_exact() {
    let h = start().await;
    for run in 0..RUNS {
        let input = random(SIZE);
        let r = tokio::time::timeout(BOUND, h.ssh("cat", &input))
            .await
            .unwrap_or_else(|_| panic!("run {run}: bidirectional bulk transfer stalled"));
        assert_eq!(r.code, Some(0), "run {run}: {}", r.stderr);
        assert_eq!(r.stdout.len(), SIZE, "run {run}: output length");
        assert!(r.stdout == input, "run {run}: output differs from input");
    }
    // Two at once on the same gateway.
    let (a, b) = (random(SIZE), random(SIZE));
    let (ra, rb) = tokio::time::timeout(BOUND, async {
        tokio::join!(h.ssh("cat", &a), h.ssh("cat", &b))
    })
    .await
    .expect("concurrent bulk transfers stalled");
    assert!(ra.code == Some(0) && ra.stdout == a, "first: {}", ra.stderr);
    assert!(
        rb.code == Some(0) && rb.stdout == b,
        "second: {}",
        rb.stderr
    );

    // The same through a digest on both sides: sha256sum upstream reads it all.
    let input = random(SIZE);
    let r = tokio::time::timeout(BOUND, h.ssh("sha256sum", &input))
        .await
        .expect("sha256sum run stalled");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let expected = hex::encode(Sha256::digest(&input));
    assert!(r.out().starts_with(&expected), "{} vs {expected}", r.out());

    // Each relayed command is audited with the bytes it sent back.
    let done = h.records(EventKind::ActionCompleted, RUNS + 3).await;
    let bulk = done
        .iter()
        .filter(|r| r.event.outcome.as_ref().and_then(|o| o.bytes) == Some(SIZE as u64))
        .count();
    assert_eq!(bulk, RUNS + 2, "cat outcomes carry their byte counts");
}

struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _key: &PublicKey) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// `cat` on a new channel of `c`: writes `input` while reading the output on the other
/// half of the channel; returns the output and exit status.
async fn cat_on_channel(c: &client::Handle<AnyKey>, input: &[u8]) -> (Vec<u8>, Option<u32>) {
    let ch = c.channel_open_session().await.expect("session");
    ch.exec(true, "cat").await.expect("exec");
    let (mut rx, tx) = ch.split();
    let send = async {
        let mut w = tx.make_writer();
        w.write_all(input).await.expect("send stdin");
        drop(w);
        tx.eof().await.expect("eof");
    };
    let receive = async {
        let mut out = Vec::with_capacity(input.len());
        let mut status = None;
        while let Some(m) = rx.wait().await {
            match m {
                ChannelMsg::Data { data } => out.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        (out, status)
    };
    let ((), received) = tokio::join!(send, receive);
    received
}

/// A russh client writes and reads at the same time, on the two halves of one channel,
/// then on two channels of one connection at once (the window throttle is per
/// connection in russh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn russh_client_cat_of_8_mib_both_ways_is_byte_exact() {
    let h = start().await;
    let mut c = client::connect(Arc::new(client::Config::default()), h.addr, AnyKey)
        .await
        .expect("connect");
    let auth = c
        .authenticate_password("alice", ALICE_PW)
        .await
        .expect("auth");
    assert!(matches!(auth, AuthResult::Success));
    for run in 0..RUNS {
        let input = random(SIZE);
        let (out, status) = tokio::time::timeout(BOUND, cat_on_channel(&c, &input))
            .await
            .unwrap_or_else(|_| panic!("run {run}: russh bidirectional transfer stalled"));
        assert_eq!(status, Some(0), "run {run}");
        assert_eq!(out.len(), SIZE, "run {run}: output length");
        assert!(out == input, "run {run}: output differs from input");
    }
    let (a, b) = (random(SIZE), random(SIZE));
    let ((out_a, status_a), (out_b, status_b)) = tokio::time::timeout(BOUND, async {
        tokio::join!(cat_on_channel(&c, &a), cat_on_channel(&c, &b))
    })
    .await
    .expect("two channels at once stalled");
    assert_eq!((status_a, status_b), (Some(0), Some(0)));
    assert!(out_a == a && out_b == b, "both channels byte-exact");
}

/// Input the command does not read yet: while nothing comes back the relay stops
/// reading the client (no stall, no error); while output streams the client's window
/// is what holds the input back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_read_their_input_late_get_all_of_it() {
    let h = start().await;
    let input = random(2 * SIZE);
    let digest = hex::encode(Sha256::digest(&input));

    let r = tokio::time::timeout(BOUND, h.ssh("sleep 1; sha256sum", &input))
        .await
        .expect("late reader stalled");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.out().starts_with(&digest), "{}", r.out());

    // 16 MiB of output first, then the input is read.
    let r = tokio::time::timeout(
        BOUND,
        h.ssh("head -c 16777216 /dev/zero; sha256sum", &input),
    )
    .await
    .expect("output-first command stalled");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let (zeros, tail) = r.stdout.split_at(16 * 1024 * 1024);
    assert!(zeros.iter().all(|b| *b == 0));
    assert!(
        String::from_utf8_lossy(tail).starts_with(&digest),
        "{}",
        String::from_utf8_lossy(tail)
    );
}
