//! Which protocols a target may name: those whose options this crate knows and whose
//! front-end the gateway ships. `warden check` needs the answer without starting
//! anything; the app's front-end registry is tested to agree with it.

use warden_inspect::Protocol;

/// Whether a target may use `protocol` (a front-end for it exists).
pub fn protocol_supported(protocol: Protocol) -> bool {
    match protocol {
        Protocol::Postgres
        | Protocol::Mysql
        | Protocol::Http
        | Protocol::Kubernetes
        | Protocol::Ssh => true,
    }
}
