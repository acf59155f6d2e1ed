//! Large results stream through Warden with flat memory: 1 GB (10^6 rows of 1000 bytes)
//! through the front-end and a streaming tokio-postgres client in the same process, with
//! the process RSS sampled every 10 000 rows. Measured at about 15 s in a debug build on
//! 2 cores, so it runs in CI.

mod pg_support;

use futures::StreamExt;
use pg_support::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Streams `rows` rows of 1000 bytes; returns (rows seen, peak RSS growth in MiB).
async fn stream(h: &Harness, rows: i64) -> (i64, u64) {
    let c = h.alice().await;
    let before = rss_kib();
    let mut peak = before;
    let it = within(
        600,
        c.query_raw(
            "SELECT repeat('x', 1000) FROM generate_series(1, $1::int8)",
            [rows],
        ),
    )
    .await
    .expect("query");
    futures::pin_mut!(it);
    let mut seen = 0i64;
    while let Some(row) = within(60, it.next()).await {
        let row = row.expect("row");
        assert_eq!(row.get::<_, &str>(0).len(), 1000);
        seen += 1;
        if seen % 10_000 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    (seen, peak.saturating_sub(before) / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_stream_with_bounded_memory() {
    let h = start().await;
    let (seen, growth) = stream(&h, 50_000).await;
    assert_eq!(seen, 50_000);
    assert!(growth < 64, "RSS grew by {growth} MiB for a 50 MB result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gigabyte_result_streams_with_flat_memory() {
    let h = start().await;
    let (seen, growth) = stream(&h, 1_000_000).await;
    assert_eq!(seen, 1_000_000);
    eprintln!("1 GB streamed; RSS growth {growth} MiB");
    assert!(growth < 64, "RSS grew by {growth} MiB for a 1 GB result");
}
