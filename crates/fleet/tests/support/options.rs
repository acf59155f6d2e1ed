//! The fleet options of the tests of this crate: short leases, a small pool.

use std::time::Duration;

use warden_fleet::FleetOptions;

/// Replica `id` of the fleet in database `db` on the machine's PostgreSQL.
pub fn options(db: &str, id: &str) -> FleetOptions {
    FleetOptions {
        url: format!("postgresql://postgres@127.0.0.1:5432/{db}"),
        password: None,
        replica_id: id.to_string(),
        heartbeat: Duration::from_millis(300),
        lease: Duration::from_millis(1000),
        poll: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(5),
        pool_size: 2,
        tls: None,
    }
}
