//! Crash test: a child process appends with `Durable` under load and is killed with
//! SIGKILL at a random moment, many times over the same store. After every kill, every
//! acknowledged record must be present, the chain must verify (including against the
//! external checkpoint file), and appends must continue from the right sequence.
//!
//! Durable appends are acknowledged once the write-ahead journal is synced, and sled
//! follows a moment later; the test counts the kills after which sled alone lacked an
//! acknowledged record (the journal had to be replayed) and requires some, and
//! alternates between restarting through the read-only path (`verify_dir`, what
//! `warden audit verify` runs) and through `AuditLog::open`.
//!
//! The child is this test binary re-executed with `WARDEN_AUDIT_CRASH_CHILD=<dir>`.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use warden_audit::{layout, AuditConfig, AuditLog, Durability, EventKind};

const CHILD_ENV: &str = "WARDEN_AUDIT_CRASH_CHILD";
const ROUNDS: usize = 20;
const BUDGET: Duration = Duration::from_secs(60);

fn crash_config(dir: &Path) -> AuditConfig {
    let mut cfg = common::config(dir);
    // Frequent checkpoints so kills also land inside checkpoint writes.
    // (Not more often: ed25519 verification is slow in unoptimised test builds.)
    cfg.checkpoint_every = 400;
    cfg.checkpoint_interval = Duration::from_millis(300);
    cfg
}

/// The last record sled itself holds, before anything replays the journal.
fn sled_last_seq(path: &Path) -> u64 {
    let db = sled::Config::new().path(path).open().expect("open sled");
    let last = db
        .range(layout::record_key(0)..=layout::record_key(u64::MAX))
        .next_back()
        .transpose()
        .expect("read sled");
    last.map_or(0, |(k, v)| {
        let first = layout::key_seq(&k).expect("record key");
        let plain = layout::unpack_value(first, &v).expect("record value");
        let n = layout::decode_value(first, &plain)
            .expect("record value")
            .len() as u64;
        first + n - 1
    })
}

/// The child: 8 threads appending durably forever, printing each acknowledged seq.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // only does something when re-executed by the parent test
    };
    let log = AuditLog::open(crash_config(Path::new(&dir))).expect("child open");
    println!("READY {}", log.head().0);
    let mut threads = Vec::new();
    for t in 0..8u64 {
        let log = log.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0.. {
                let ev = common::decided(t * 1_000_000 + i, "crash", "db", "allow");
                let seq = log
                    .append_blocking(ev, Durability::Durable)
                    .expect("child append");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ACK {seq}");
                let _ = out.flush();
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn acknowledged_durable_appends_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = crash_config(dir.path());
    let exe = std::env::current_exe().expect("current exe");
    let started = Instant::now();
    let mut rng = rand::thread_rng();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut rounds = 0;
    let mut kills_mid_write = 0;
    let mut journal_needed = 0;
    while rounds < ROUNDS && started.elapsed() < BUDGET {
        rounds += 1;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let reader = std::thread::spawn(move || {
            let mut seqs = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ") {
                    if let Ok(seq) = n.trim().parse::<u64>() {
                        seqs.push(seq);
                    }
                }
            }
            seqs
        });
        // Let it start (opening sled takes a moment) and then run for a random while.
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..700)));
        child.kill().expect("SIGKILL child");
        let status = child.wait().expect("wait child");
        assert!(!status.success(), "the child must have been killed");
        let seqs = reader.join().expect("reader");
        if !seqs.is_empty() {
            kills_mid_write += 1;
        }
        acked.extend(seqs);
        let max_acked = acked.last().copied().unwrap_or(0);
        if sled_last_seq(&cfg.path) < max_acked {
            journal_needed += 1;
        }
        if rounds % 2 == 0 {
            // The read-only path replays the journal as well.
            let report = warden_audit::verify_dir(&cfg.path, cfg.checkpoint_file.as_deref())
                .expect("verify_dir after SIGKILL");
            assert!(report.ok, "round {rounds}: {report:?}");
            assert!(
                report.records >= max_acked,
                "round {rounds}: verify saw {} records, {max_acked} acknowledged",
                report.records
            );
        }

        // Restart: everything acknowledged is there, the chain verifies, appends go on.
        let log = AuditLog::open(cfg.clone()).expect("reopen after SIGKILL");
        let (head, _) = log.head();
        if let Some(max) = acked.last() {
            assert!(
                head >= *max,
                "round {rounds}: head {head} < acknowledged {max}"
            );
        }
        for seq in acked.range(acked.len().saturating_sub(50) as u64..) {
            let rec = log.get(*seq).expect("get");
            assert!(
                rec.is_some(),
                "round {rounds}: acknowledged record {seq} lost"
            );
        }
        let report = log.verify();
        assert!(report.ok, "round {rounds}: {report:?}");
        assert_eq!(report.records, head, "round {rounds}");
        let next = log
            .append_blocking(
                warden_audit::Event::new(EventKind::Notification),
                Durability::Durable,
            )
            .expect("append after restart");
        assert_eq!(next, head + 1, "round {rounds}");
        acked.insert(next);
        log.shutdown().expect("shutdown");
    }
    // Every acknowledged record of every round is present at the end.
    let log = AuditLog::open(cfg).expect("final open");
    for seq in &acked {
        assert!(log.get(*seq).expect("get").is_some(), "record {seq} lost");
    }
    assert!(log.verify().ok);
    assert!(rounds >= 10, "only {rounds} rounds ran within the budget");
    assert!(
        kills_mid_write >= rounds / 2,
        "the child was rarely killed while appending ({kills_mid_write}/{rounds})"
    );
    assert!(
        journal_needed >= 1,
        "sled alone held every acknowledged record after every kill: the journal's \
         replay was never exercised ({rounds} rounds)"
    );
    eprintln!("{rounds} rounds, {kills_mid_write} mid-write, {journal_needed} needed the journal");
}
