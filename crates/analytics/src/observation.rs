//! The slice of an audit record the detectors look at.
//!
//! Both inputs — a live `warden_audit::Record` and a replayed JSON line — become an
//! [`Observation`], so replay and live run exactly the same detector code. Building one
//! is cheap (borrowed text, one pass over the raw action text) and must never fail: a
//! record the engine does not understand becomes `Kind::Other` and is ignored.

use std::borrow::Cow;
use std::net::IpAddr;

/// What happened, as far as analytics cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A login that failed (`auth_failed`).
    AuthFailed,
    /// A login that succeeded (`authenticated`).
    Authenticated,
    /// An action and its verdict (`action_decided`). A read-only allow's record also
    /// carries its outcome ([`Observation::outcome`]): it counts as both.
    ActionDecided,
    /// What an allowed action did (`action_completed`).
    ActionCompleted,
    /// Warden reloaded its policies or configuration (`policy_reloaded`,
    /// `config_reloaded`): may carry user/role changes in `detail`.
    Reloaded,
    /// Anything else (connections, approvals, alerts ...): ignored.
    Other,
}

impl Kind {
    /// From the audit event kind's wire name.
    pub fn from_name(name: &str) -> Kind {
        match name {
            "auth_failed" => Kind::AuthFailed,
            "authenticated" => Kind::Authenticated,
            "action_decided" => Kind::ActionDecided,
            "action_completed" => Kind::ActionCompleted,
            "policy_reloaded" | "config_reloaded" => Kind::Reloaded,
            _ => Kind::loosely(name),
        }
    }

    /// Other spellings of the same kinds (`AuthFailed`, `login-failed`, `config.reload`).
    fn loosely(name: &str) -> Kind {
        let squashed: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match squashed.as_str() {
            "authfailed"
            | "authfailure"
            | "authenticationfailed"
            | "loginfailed"
            | "loginfailure" => Kind::AuthFailed,
            "authenticated" | "login" | "loginsucceeded" | "loginsuccess" | "authsucceeded"
            | "authsuccess" => Kind::Authenticated,
            "actiondecided" => Kind::ActionDecided,
            "actioncompleted" => Kind::ActionCompleted,
            "policyreloaded" | "configreloaded" | "configreload" | "policyreload" | "reloaded"
            | "reload" => Kind::Reloaded,
            _ => Kind::Other,
        }
    }
}

/// The recorded verdict of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Deny,
    Hold,
    Unknown,
}

impl Decision {
    pub fn from_name(name: &str) -> Decision {
        match name {
            "allow" => Decision::Allow,
            "deny" => Decision::Deny,
            "hold" => Decision::Hold,
            _ => Decision::Unknown,
        }
    }
}

/// Bytes of raw text an owned observation keeps.
pub const RAW_KEPT: usize = 256;

/// One record, reduced to what the detectors need.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    /// The record's sequence number (its evidence id).
    pub seq: u64,
    /// Event time, Unix nanoseconds.
    pub time: i64,
    pub kind: Kind,
    pub user: Option<Cow<'a, str>>,
    pub roles: Vec<Cow<'a, str>>,
    /// Client IP (the port is dropped).
    pub ip: Option<IpAddr>,
    pub target: Option<Cow<'a, str>>,
    pub decision: Decision,
    /// Rows returned or affected (`action_completed`).
    pub rows: u64,
    pub bytes: u64,
    /// The action failed (`action_completed` with an error or a failing status).
    pub failed: bool,
    /// The record carries an outcome (every `action_completed`, and the one
    /// `action_decided` record of a read-only allow).
    pub outcome: bool,
    /// Hash of the normalised action text (literals replaced) and target; 0 when none.
    pub fingerprint: u64,
    /// The raw action text (statement, request line, command), when there is one.
    pub raw: Option<Cow<'a, str>>,
    /// What privilege this action changes, when it does (e.g. `GRANT`).
    pub privilege: Option<Cow<'static, str>>,
    /// `detail` of the record (kept for reloads only).
    pub detail: Option<Cow<'a, str>>,
}

impl<'a> Observation<'a> {
    /// An observation of `kind` at `time` with nothing else known.
    pub fn new(seq: u64, time: i64, kind: Kind) -> Observation<'a> {
        Observation {
            seq,
            time,
            kind,
            user: None,
            roles: Vec::new(),
            ip: None,
            target: None,
            decision: Decision::Unknown,
            rows: 0,
            bytes: 0,
            failed: false,
            outcome: false,
            fingerprint: 0,
            raw: None,
            privilege: None,
            detail: None,
        }
    }

    /// A copy that owns its text (for buffering). The raw text is cut to
    /// [`RAW_KEPT`] bytes: what it means (fingerprint, privilege) is already read, only
    /// explanations quote it.
    pub fn into_owned(self) -> Observation<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        let cut = |c: Cow<'a, str>| {
            let mut end = c.len().min(RAW_KEPT);
            while !c.is_char_boundary(end) {
                end -= 1;
            }
            Cow::Owned(c[..end].to_string())
        };
        Observation {
            seq: self.seq,
            time: self.time,
            kind: self.kind,
            user: self.user.map(own),
            roles: self.roles.into_iter().map(own).collect(),
            ip: self.ip,
            target: self.target.map(own),
            decision: self.decision,
            rows: self.rows,
            bytes: self.bytes,
            failed: self.failed,
            outcome: self.outcome,
            fingerprint: self.fingerprint,
            raw: self.raw.map(cut),
            privilege: self.privilege,
            detail: self.detail.map(own),
        }
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref().filter(|u| !u.is_empty())
    }

    pub fn target(&self) -> Option<&str> {
        self.target.as_deref().filter(|t| !t.is_empty())
    }
}

/// The IP of `ip:port`, `[v6]:port`, or a bare IP.
pub fn parse_ip(addr: &str) -> Option<IpAddr> {
    // `a.b.c.d:port`, the usual shape: one colon, so not IPv6 (which has two or more)
    // and not bracketed; the same answer as the general path below, without first
    // failing to read the whole text as an address.
    let b = addr.as_bytes();
    if let Some(colon) = b.iter().position(|c| *c == b':') {
        if !b[colon + 1..].contains(&b':') && b.first() != Some(&b'[') {
            return ipv4(&b[..colon]).map(IpAddr::V4);
        }
    }
    parse_ip_general(addr)
}

/// Dotted-quad IPv4 as the standard library reads it (four decimal octets up to 255,
/// no leading zeros), without its general parser.
fn ipv4(text: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut start = 0;
    for end in 0..=text.len() {
        if end < text.len() && text[end] != b'.' {
            continue;
        }
        let part = &text[start..end];
        if n == 4 || part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut v: u32 = 0;
        for c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        octets[n] = u8::try_from(v).ok()?;
        n += 1;
        start = end + 1;
    }
    (n == 4).then(|| std::net::Ipv4Addr::from(octets))
}

/// Any client address shape: an IP, `ip:port`, `[v6]:port`.
fn parse_ip_general(addr: &str) -> Option<IpAddr> {
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    addr.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// Whether an outcome status means the action failed: an HTTP status of 400 or more
/// (HTTP and Kubernetes), or a status word that says so (`ERROR`, `failed`).
pub fn status_failed(status: &str, http_like: bool) -> bool {
    let s = status.trim();
    if let Ok(code) = s.parse::<u32>() {
        return http_like && (400..600).contains(&code);
    }
    let lower = s.as_bytes();
    lower.len() >= 4
        && (s.eq_ignore_ascii_case("error")
            || s.eq_ignore_ascii_case("failed")
            || s.eq_ignore_ascii_case("failure")
            || s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("error")))
}

/// Statement kinds that can change privileges (or might, when classified loosely).
pub fn sql_kind_may_change_privileges(k: &str) -> bool {
    matches!(
        k,
        "grant" | "revoke" | "role" | "create" | "alter" | "drop" | "other" | "set"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_lose_their_port() {
        assert_eq!(parse_ip("10.1.2.3:5432"), "10.1.2.3".parse().ok());
        assert_eq!(parse_ip("10.1.2.3"), "10.1.2.3".parse().ok());
        assert_eq!(parse_ip("[::1]:22"), "::1".parse().ok());
        assert_eq!(parse_ip("::1"), "::1".parse().ok());
        assert_eq!(parse_ip("nonsense"), None);
    }

    proptest::proptest! {
        /// The `ip:port` shortcut answers exactly what the general reader does.
        #[test]
        fn ip_shortcut_agrees(addr in "[0-9a-f:.\\[\\] ]{0,24}") {
            proptest::prop_assert_eq!(parse_ip(&addr), parse_ip_general(&addr));
        }

        #[test]
        fn ip_shortcut_agrees_on_addresses(a: u8, b: u8, c: u8, d: u8, port in proptest::option::of(0u32..70000), tail in "[:.0-9]{0,3}") {
            let addr = match port {
                Some(p) => format!("{a}.{b}.{c}.{d}:{p}{tail}"),
                None => format!("{a}.{b}.{c}.{d}{tail}"),
            };
            proptest::prop_assert_eq!(parse_ip(&addr), parse_ip_general(&addr));
        }
    }

    #[test]
    fn failing_statuses() {
        assert!(status_failed("500", true));
        assert!(status_failed("403", true));
        assert!(!status_failed("200", true));
        assert!(!status_failed("1", false));
        assert!(status_failed("ERROR", false));
        assert!(!status_failed("SELECT 3", false));
    }
}
