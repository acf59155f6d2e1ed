//! `new-source`: a user active from a client address never seen for them in the
//! baseline (only once their habits are known: twice `min_history`, 5 active days).
//!
//! Not an alert: an address that 3 or more other users use regularly (on days at least
//! a day apart: a shared office or VPN exit); one in a network (/24, /64) where the user
//! already moves between several addresses (DHCP); one in a network that 3 or more
//! other users use regularly (a VPN pool, an office LAN: the organisation's own
//! networks).

use std::net::IpAddr;

use super::Draft;
use crate::engine::user::UserState;
use crate::settings::Detector;

/// Users of one address that make it a shared exit.
pub const SHARED_BY: usize = 3;

pub struct Seen<'a> {
    pub user: &'a UserState,
    /// Other users who regularly use this address (baseline window).
    pub others: usize,
    /// Other users who regularly use this address's network (/24, /64).
    pub network_users: usize,
    pub since: i64,
}

pub fn check(
    name: &str,
    ip: IpAddr,
    seen: Seen<'_>,
    target: Option<&str>,
    seq: u64,
) -> Option<Draft> {
    let u = seen.user;
    if u.addresses.get(&ip).is_some_and(|t| *t >= seen.since) || seen.others >= SHARED_BY {
        return None;
    }
    let mut known: Vec<IpAddr> = u
        .addresses
        .iter()
        .filter(|(_, t)| **t >= seen.since)
        .map(|(a, _)| *a)
        .collect();
    known.sort_unstable();
    let neighbours = known.iter().filter(|a| same_network(**a, ip)).count();
    if neighbours >= 2 || seen.network_users >= SHARED_BY {
        return None;
    }
    let shown: Vec<String> = known.iter().take(4).map(ToString::to_string).collect();
    let usual = if shown.is_empty() {
        "none".to_string()
    } else if known.len() > shown.len() {
        format!(
            "{} and {} more",
            shown.join(", "),
            known.len() - shown.len()
        )
    } else {
        shown.join(", ")
    };
    let explanation = format!(
        "{name}: active from {ip}, an address never seen for {name} in the baseline; usual: {usual}"
    );
    Some(
        Draft::new(Detector::NewSource, explanation, vec![seq])
            .user(name)
            .ip(Some(ip))
            .target(target),
    )
}

/// Same /24 (IPv4) or /64 (IPv6).
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}
