//! Verification speed: records/s of a full verify over a 200 000-record store.
//!
//! `cargo bench -p warden-audit --bench verify`.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use warden_audit::{AuditConfig, AuditLog, Durability};

const RECORDS: u64 = 200_000;

fn bench_verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = AuditConfig::new(dir.path().join("audit"));
    cfg.checkpoint_file = Some(dir.path().join("checkpoints.jsonl"));
    let log = AuditLog::open(cfg).expect("open");
    for i in 0..RECORDS {
        log.append_blocking(common::event(i), Durability::Queued)
            .expect("append");
    }
    log.checkpoint_now().expect("checkpoint");
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(RECORDS));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("full_chain_200k", |b| {
        b.iter(|| {
            let r = log.verify();
            assert!(r.ok, "{r:?}");
            assert_eq!(r.records, RECORDS);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
