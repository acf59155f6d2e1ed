//! The live runner reads the audit log's append feed (`AuditLog::subscribe`) and must
//! never block an append: a subscriber that falls behind — or never reads at all — is
//! told it lagged, while the writer carries on. (The runner then reads the gap back
//! from the store by seq.)

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;
use warden_audit::{AuditConfig, AuditLog, Durability, Event, EventKind};
use warden_inspect::Actor;

fn failed_login(i: u64) -> Event {
    let mut ev = Event::new(EventKind::AuthFailed);
    ev.actor = Some(Actor {
        name: format!("user{}", i % 50),
        roles: Vec::new(),
        client_addr: Some("10.0.0.7:51234".into()),
        alerts: Vec::new(),
    });
    ev.target = Some("db".into());
    ev
}

#[test]
fn a_subscriber_that_never_reads_does_not_stall_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("open");
    let mut stuck = log.subscribe();
    // Three times the feed's buffer (4,096 records), then a durable append: it returns
    // only once the writer has handled everything before it.
    let n: u64 = 12_288;
    let writer_log = log.clone();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..n {
            writer_log
                .append_blocking(failed_login(i), Durability::Queued)
                .expect("append");
        }
        let last = writer_log.append_blocking(failed_login(n), Durability::Durable);
        let _ = done.send(last);
    });
    let last = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("appends stalled behind a subscriber that does not read")
        .expect("durable append");
    assert_eq!(last, n + 1);
    assert_eq!(log.head().0, n + 1);
    match stuck.try_recv() {
        Err(TryRecvError::Lagged(missed)) => assert!(missed >= n - 4096, "missed {missed}"),
        other => panic!("the stuck subscriber should have lagged, got {other:?}"),
    }
    // After the lag it reads on from the oldest record still buffered.
    let next = stuck.try_recv().expect("a buffered record");
    assert!(next.seq > 1 && next.seq <= n + 1, "{}", next.seq);
}
