//! Append throughput and latency: queued appends/s, durable appends/s at concurrency
//! 1, 16 and 256, and p50/p99 acknowledgement latency of durable appends.
//!
//! `cargo bench -p warden-audit --bench append`. The latency table is printed after
//! the criterion groups (criterion reports means, not percentiles), next to the disk's
//! own `fdatasync` latency measured in the same temp directory: a fsynced durable
//! append can never be faster than that. A saturated closed loop of 256 callers has a
//! mean latency of 256 / throughput by construction (Little's law), so the latency an
//! operator sees at the target load is measured apart: 256 callers offering 20 000
//! durable appends/s in total (`paced_table`; `PACED_ONLY=1` runs only that table).

mod common;

/// The allocator the `warden` binary uses (src/main.rs), so the numbers are the gateway's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use warden_audit::{AuditConfig, AuditLog, Durability};

fn open(dir: &std::path::Path) -> AuditLog {
    open_with(dir, true)
}

fn open_with(dir: &std::path::Path, fsync: bool) -> AuditLog {
    let mut cfg = AuditConfig::new(dir.join("audit"));
    cfg.checkpoint_every = 100_000;
    cfg.fsync = fsync;
    AuditLog::open(cfg).expect("open")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `n` durable appends spread over `c` tasks; returns elapsed and per-append latencies.
fn durable_run(
    rt: &tokio::runtime::Runtime,
    log: &AuditLog,
    c: u64,
    n: u64,
) -> (Duration, Vec<Duration>) {
    rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..c {
            let log = log.clone();
            let per = n / c + u64::from(t < n % c);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                for i in 0..per {
                    let t0 = Instant::now();
                    log.append(common::event(t * 1_000_000 + i), Durability::Durable)
                        .await
                        .expect("append");
                    lat.push(t0.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::with_capacity(n as usize);
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        (start.elapsed(), all)
    })
}

fn bench_queued(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let mut g = c.benchmark_group("append_queued");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("queued", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                log.append_blocking(common::event(i), Durability::Queued)
                    .expect("append");
            }
            // Count the time until they are really written and synced.
            log.append_blocking(common::event(0), Durability::Durable)
                .expect("barrier");
            start.elapsed()
        })
    });
    g.finish();
    log.shutdown().expect("shutdown");
}

fn bench_durable(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let mut g = c.benchmark_group("append_durable");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for conc in [1u64, 16, 256] {
        g.bench_function(format!("concurrency_{conc}"), |b| {
            b.iter_custom(|iters| durable_run(&rt, &log, conc, iters.max(conc)).0)
        });
    }
    g.finish();
    log.shutdown().expect("shutdown");
}

/// Durable appends from `c` callers that together offer `rate` appends/s (each caller
/// appends every `c / rate` seconds, callers evenly staggered), for about `secs`.
/// Returns the achieved rate, the latencies (each from the moment the append was
/// issued), and how many appends were issued more than one period late (a caller
/// still waiting for its previous answer: then the offered rate was not sustained).
fn paced_run(
    rt: &tokio::runtime::Runtime,
    log: &AuditLog,
    c: u64,
    rate: f64,
    secs: f64,
) -> (f64, Vec<Duration>, u64) {
    let period = Duration::from_secs_f64(c as f64 / rate);
    let per = ((rate * secs) as u64 / c).max(1);
    rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_millis(5);
        let mut tasks = Vec::new();
        for t in 0..c {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                let mut late = 0u64;
                let first = start + period.mul_f64(t as f64 / c as f64);
                for i in 0..per {
                    let due = first + period * i as u32;
                    tokio::time::sleep_until(due).await;
                    let t0 = tokio::time::Instant::now();
                    if t0 > due + period {
                        late += 1;
                    }
                    log.append(common::event(t * 1_000_000 + i), Durability::Durable)
                        .await
                        .expect("append");
                    lat.push(t0.elapsed());
                }
                (lat, late)
            }));
        }
        let mut all = Vec::with_capacity((per * c) as usize);
        let mut late = 0;
        for t in tasks {
            let (l, n) = t.await.expect("task");
            all.extend(l);
            late += n;
        }
        let achieved = all.len() as f64 / (tokio::time::Instant::now() - start).as_secs_f64();
        (achieved, all, late)
    })
}

/// Bytes this process has caused to be written to storage (`/proc/self/io`; 0 where
/// that is not available).
fn disk_bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes: ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Callers and total offered rate of [`paced_table`] (the throughput target).
const PACED_CALLERS: u64 = 256;
const PACED_RATE: f64 = 20_000.0;

/// The latency an operator sees at a given load: [`PACED_CALLERS`] callers offering
/// [`PACED_RATE`] durable appends/s in total, not a saturated closed loop.
fn paced_table() {
    let rt = runtime();
    println!(
        "\ndurable appends from {PACED_CALLERS} callers offering {PACED_RATE}/s in total: achieved, p50, p99, max, late issues, bytes written to storage per append (3 runs of ~3 s)"
    );
    for fsync in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_with(dir.path(), fsync);
        paced_run(&rt, &log, PACED_CALLERS, PACED_RATE, 0.5);
        for _ in 0..3 {
            let written = disk_bytes_written();
            let (achieved, lat, late) = paced_run(&rt, &log, PACED_CALLERS, PACED_RATE, 3.0);
            let per_append = (disk_bytes_written() - written) as f64 / lat.len() as f64;
            println!(
                "  fsync={fsync:<5} {achieved:>7.0}/s  {}  late {late}  disk {per_append:.0} B/append",
                percentiles(lat)
            );
        }
        log.shutdown().expect("shutdown");
    }
}

/// Throughput and p50/p99 latency of durable appends, printed as a table.
fn latency_table() {
    let rt = runtime();
    for fsync in [true, false] {
        println!(
            "\ndurable appends, fsync={fsync}: concurrency, appends/s, p50, p99, max (3 runs of ~2 s)"
        );
        for conc in [1u64, 16, 256] {
            latency_row(&rt, fsync, conc);
        }
    }
}

fn latency_row(rt: &tokio::runtime::Runtime, fsync: bool, conc: u64) {
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_with(dir.path(), fsync);
        // Warm up, then size the run to ~2 s.
        let (d, _) = durable_run(rt, &log, conc, conc * 20);
        let rate = (conc * 20) as f64 / d.as_secs_f64();
        let n = ((rate * 2.0) as u64).max(conc * 10);
        for _ in 0..3 {
            let (d, lat) = durable_run(rt, &log, conc, n);
            println!(
                "  c={conc:<4} {:>9.0}/s  {}",
                n as f64 / d.as_secs_f64(),
                percentiles(lat)
            );
        }
        log.shutdown().expect("shutdown");
    }
}

/// p50 / p99 / max of `pwrite` 4 KiB + `fdatasync` on the disk the benches write to.
fn disk_fdatasync() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = std::fs::File::create(dir.path().join("probe")).expect("probe file");
    let page = [7u8; 4096];
    let mut lat = Vec::new();
    for i in 0..200u64 {
        f.seek(SeekFrom::Start((i % 64) * 4096)).expect("seek");
        let t0 = Instant::now();
        f.write_all(&page).expect("write");
        f.sync_data().expect("fdatasync");
        lat.push(t0.elapsed());
    }
    println!(
        "\ndisk: write 4 KiB + fdatasync, 200 times: {}",
        percentiles(lat)
    );
}

/// `p50 … p99 … max …` of a non-empty set of latencies, for the printed tables.
fn percentiles(mut lat: Vec<Duration>) -> String {
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    format!(
        "p50 {:>8.3?}  p99 {:>8.3?}  max {:>8.3?}",
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    )
}

criterion_group!(benches, bench_queued, bench_durable);

fn main() {
    if std::env::var_os("PACED_ONLY").is_some() {
        paced_table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    disk_fdatasync();
    latency_table();
    paced_table();
    disk_fdatasync();
}
