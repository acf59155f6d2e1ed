//! The aggregates themselves: sparse counters keyed by a local time bucket (hour or day)
//! and the record's dimensions (user, role set, target, protocol), updated by
//! [`Insights::observe`].
//!
//! Must never grow without bound: names are capped ([`Names`]), buckets older than
//! [`RETAIN_DAYS`] days are swept when the day changes, and the approval queues are
//! capped.

use std::collections::VecDeque;

use super::facts::{is_lockout, InsightFacts, Kind};
use super::intern::Names;
use super::{
    DECISIONS_KEPT, ERROR_CLASSES, FEATURE_NAMES, METHODS, PENDING_APPROVALS, RETAIN_DAYS,
    ROLE_SETS, TARGETS, USERS,
};
use crate::engine::fxhash::FastMap;
use crate::observation::Decision;

/// Protocols by dimension index (0: not recorded).
pub(crate) const PROTOCOLS: [&str; 6] =
    ["(none)", "postgres", "mysql", "http", "kubernetes", "ssh"];

/// The dimensions every counter is split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Dims {
    pub(crate) user: u32,
    pub(crate) roles: u32,
    pub(crate) target: u32,
    pub(crate) protocol: u8,
}

/// Login outcomes.
pub(crate) const LOGIN_OK: u8 = 0;
/// The reason id of a successful login.
pub(crate) const NO_REASON: u32 = u32::MAX;
pub(crate) const LOGIN_FAILED: u8 = 1;
pub(crate) const LOGIN_LOCKED: u8 = 2;

/// Approval outcomes.
pub(crate) const APPROVED: u8 = 0;
pub(crate) const DENIED: u8 = 1;
pub(crate) const EXPIRED: u8 = 2;
pub(crate) const WITHDRAWN: u8 = 3;

/// One measured time from request to first decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    pub(crate) day: u32,
    pub(crate) dims: Dims,
    pub(crate) seconds: u32,
}

/// The insights aggregator (see the module docs of `insights`).
#[derive(Debug, Clone)]
pub struct Insights {
    /// Seconds east of UTC (the analytics `time_zone`).
    pub(crate) offset: i64,
    pub(crate) users: Names,
    pub(crate) role_sets: Names,
    /// The roles of each role set, by role-set id.
    pub(crate) set_roles: Vec<Vec<Box<str>>>,
    pub(crate) targets: Names,
    pub(crate) features: Names,
    pub(crate) errors: Names,
    pub(crate) methods: Names,
    /// (local hour, dims) → decided actions [allow, deny, hold].
    pub(crate) activity: FastMap<(u32, Dims), [u32; 3]>,
    /// (local day, dims, feature, name) → uses.
    pub(crate) usage: FastMap<(u32, Dims, u8, u32), u32>,
    /// (local day, dims, error class) → failed outcomes.
    pub(crate) failures: FastMap<(u32, Dims, u32), u32>,
    /// (local day, dims, method, reason, outcome) → logins. Method and reason are ids
    /// in `methods`; a success has the reason [`NO_REASON`].
    pub(crate) logins: FastMap<(u32, Dims, u32, u32, u8), u32>,
    /// (local day, requester dims) → approval requests.
    pub(crate) requests: FastMap<(u32, Dims), u32>,
    /// (local day, requester dims, decider, outcome) → approval records.
    pub(crate) decisions: FastMap<(u32, Dims, u32, u8), u32>,
    pub(crate) waits: VecDeque<Wait>,
    /// Open requests: id → (requested at, Unix ns; requester dims).
    pending: FastMap<Box<str>, (i64, Dims)>,
    /// Newest local hour seen.
    pub(crate) newest_hour: u32,
    /// Oldest local hour still counted (`u32::MAX` before any record).
    pub(crate) first_hour: u32,
    /// Oldest local day still kept.
    pub(crate) oldest_day: u32,
    /// Records that counted somewhere.
    pub(crate) records: u64,
}

impl Default for Insights {
    fn default() -> Insights {
        Insights::new(0)
    }
}

impl Insights {
    /// An empty aggregator whose hours and days are local to `utc_offset` seconds east
    /// of UTC.
    pub fn new(utc_offset: i64) -> Insights {
        Insights {
            offset: utc_offset,
            users: Names::new(USERS),
            role_sets: Names::new(ROLE_SETS),
            set_roles: vec![Vec::new()],
            targets: Names::new(TARGETS),
            features: Names::new(FEATURE_NAMES),
            errors: Names::new(ERROR_CLASSES),
            methods: Names::new(METHODS),
            activity: FastMap::default(),
            usage: FastMap::default(),
            failures: FastMap::default(),
            logins: FastMap::default(),
            requests: FastMap::default(),
            decisions: FastMap::default(),
            waits: VecDeque::new(),
            pending: FastMap::default(),
            newest_hour: 0,
            first_hour: u32::MAX,
            oldest_day: 0,
            records: 0,
        }
    }

    /// Records that were counted (actions, outcomes, logins, approvals).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Counters held, over every table (a measure of memory use).
    pub fn cells(&self) -> usize {
        self.activity.len()
            + self.usage.len()
            + self.failures.len()
            + self.logins.len()
            + self.requests.len()
            + self.decisions.len()
            + self.waits.len()
    }

    /// The local hour bucket of a time (Unix ns).
    pub(crate) fn hour_of(&self, time: i64) -> u32 {
        let secs = time.div_euclid(1_000_000_000) + self.offset;
        u32::try_from(secs.div_euclid(3600).max(0)).unwrap_or(u32::MAX)
    }

    /// Count one record.
    pub fn observe(&mut self, f: &InsightFacts<'_>) {
        let Some(kind) = f.kind.filter(|k| *k != Kind::Other) else {
            return;
        };
        let hour = self.hour_of(f.time);
        self.advance(hour);
        self.first_hour = self.first_hour.min(hour).max(self.oldest_day * 24);
        let day = hour / 24;
        let dims = self.dims(f);
        self.records += 1;
        match kind {
            Kind::Decided => {
                let slot = match f.decision {
                    Some(Decision::Allow) => Some(0),
                    Some(Decision::Deny) => Some(1),
                    Some(Decision::Hold) => Some(2),
                    _ => None,
                };
                if let Some(slot) = slot {
                    self.activity.entry((hour, dims)).or_default()[slot] += 1;
                }
                for (feature, name) in &f.features {
                    let id = self.features.id(name);
                    *self
                        .usage
                        .entry((day, dims, feature.index(), id))
                        .or_default() += 1;
                }
                self.failed(day, dims, f);
            }
            Kind::Completed => self.failed(day, dims, f),
            Kind::LoggedIn => {
                let (method, _) = login_detail(f.auth_detail.as_deref().unwrap_or(""));
                let id = self.methods.id(method);
                *self
                    .logins
                    .entry((day, dims, id, NO_REASON, LOGIN_OK))
                    .or_default() += 1;
            }
            Kind::LoginFailed => {
                let (method, reason) = login_detail(f.auth_detail.as_deref().unwrap_or(""));
                let (reason, outcome) = failure_reason(reason);
                let method = self.methods.id(method);
                let reason = self.methods.id(reason);
                *self
                    .logins
                    .entry((day, dims, method, reason, outcome))
                    .or_default() += 1;
            }
            Kind::ApprovalRequested => {
                *self.requests.entry((day, dims)).or_default() += 1;
                if let Some(id) = f.approval.as_deref() {
                    if self.pending.len() < PENDING_APPROVALS {
                        self.pending.insert(id.into(), (f.time, dims));
                    }
                }
            }
            Kind::ApprovalApproved | Kind::ApprovalDenied => {
                let outcome = if kind == Kind::ApprovalApproved {
                    APPROVED
                } else {
                    DENIED
                };
                self.decided(day, dims, f, outcome, true);
            }
            Kind::ApprovalExpired | Kind::ApprovalWithdrawn => {
                let outcome = if kind == Kind::ApprovalExpired {
                    EXPIRED
                } else {
                    WITHDRAWN
                };
                self.decided(day, dims, f, outcome, false);
            }
            Kind::Other => {}
        }
    }

    fn failed(&mut self, day: u32, dims: Dims, f: &InsightFacts<'_>) {
        if let Some(class) = f.error.as_deref() {
            let id = self.errors.id(class);
            *self.failures.entry((day, dims, id)).or_default() += 1;
        }
    }

    /// An approval record: counted under the requester's dimensions (known from the
    /// request; else the record's own); the decider is the record's actor for approve
    /// and deny, nobody for expiry and withdrawal.
    fn decided(&mut self, day: u32, own: Dims, f: &InsightFacts<'_>, outcome: u8, by: bool) {
        let id = f.approval.as_deref().unwrap_or("");
        let open = self.pending.remove(id);
        let dims = open.map_or(own, |(_, d)| d);
        let decider = if by {
            own.user
        } else {
            self.users.id("(nobody)")
        };
        *self
            .decisions
            .entry((day, dims, decider, outcome))
            .or_default() += 1;
        let Some((asked, _)) = open.filter(|_| by) else {
            return;
        };
        let seconds = u32::try_from((f.time - asked).max(0) / 1_000_000_000).unwrap_or(u32::MAX);
        if self.waits.len() == DECISIONS_KEPT {
            self.waits.pop_front();
        }
        self.waits.push_back(Wait { day, dims, seconds });
    }

    fn dims(&mut self, f: &InsightFacts<'_>) -> Dims {
        let user = self.users.id(f.user.as_deref().unwrap_or("(unknown)"));
        let mut roles: Vec<&str> = f.roles.iter().map(|r| r.as_ref()).collect();
        roles.sort_unstable();
        roles.dedup();
        let set = if roles.is_empty() {
            "(none)".to_string()
        } else {
            roles.join("+")
        };
        let id = self.role_sets.id(&set);
        if id as usize == self.set_roles.len() {
            self.set_roles
                .push(roles.iter().map(|r| Box::<str>::from(*r)).collect());
        }
        let target = self.targets.id(f.target.as_deref().unwrap_or("(none)"));
        let protocol = f
            .protocol
            .and_then(|p| PROTOCOLS.iter().position(|x| *x == p))
            .unwrap_or(0);
        Dims {
            user,
            roles: id,
            target,
            protocol: u8::try_from(protocol).unwrap_or(0),
        }
    }

    /// Move the clock forward; on a new day drop buckets older than the retention.
    fn advance(&mut self, hour: u32) {
        if hour <= self.newest_hour {
            return;
        }
        let (old_day, day) = (self.newest_hour / 24, hour / 24);
        self.newest_hour = hour;
        if day == old_day {
            return;
        }
        let keep = day.saturating_sub(RETAIN_DAYS - 1);
        if keep <= self.oldest_day {
            return;
        }
        self.oldest_day = keep;
        self.first_hour = self.first_hour.max(keep * 24);
        self.activity.retain(|(h, _), _| h / 24 >= keep);
        self.usage.retain(|(d, ..), _| *d >= keep);
        self.failures.retain(|(d, ..), _| *d >= keep);
        self.logins.retain(|(d, ..), _| *d >= keep);
        self.requests.retain(|(d, _), _| *d >= keep);
        self.decisions.retain(|(d, ..), _| *d >= keep);
        while self.waits.front().is_some_and(|w| w.day < keep) {
            self.waits.pop_front();
        }
    }
}

/// The method and the rest of a login record's `detail`: `method=<m>` (success) or
/// `method=<m>; <reason>` (failure), as every front-end writes them
/// (docs/audit-format.md, "Login records"). Records written before that (no
/// `method=`): a success's detail is its method, a failure's detail its reason (the
/// HTTP front-end prefixed it with `http: `), and the method is `(not recorded)`.
pub(crate) fn login_detail(detail: &str) -> (&str, &str) {
    const NOT_RECORDED: &str = "(not recorded)";
    match detail.strip_prefix("method=") {
        Some(rest) => match rest.split_once("; ") {
            Some((m, reason)) => (m, reason),
            None => (rest, ""),
        },
        None if detail.is_empty() => (NOT_RECORDED, NOT_RECORDED),
        None => (
            NOT_RECORDED,
            detail.strip_prefix("http: ").unwrap_or(detail),
        ),
    }
}

/// A failed login's reason without its changing parts (`locked (900s): …` → `locked`),
/// and whether it was a lockout.
fn failure_reason(detail: &str) -> (&str, u8) {
    if is_lockout(detail) {
        let word = if detail.contains("throttled (") {
            "throttled"
        } else {
            "locked"
        };
        return (word, LOGIN_LOCKED);
    }
    // A refused gateway token names its id (`gateway token 0a1b2c3d has expired: …`):
    // counted by why, not by token.
    if detail.starts_with("gateway token ") {
        for (needle, word) in [
            ("has expired", "gateway token expired"),
            ("was revoked", "gateway token revoked"),
            (
                "not issued to this user name",
                "gateway token of another user",
            ),
            ("no longer configured", "gateway token of a removed user"),
        ] {
            if detail.contains(needle) {
                return (word, LOGIN_FAILED);
            }
        }
    }
    (detail, LOGIN_FAILED)
}

#[cfg(test)]
mod reason_tests {
    #[test]
    fn gateway_token_refusals_count_by_why_not_by_token() {
        assert_eq!(
            super::failure_reason(
                "gateway token 0a1b2c3d has expired: mint a new one in the Warden console"
            )
            .0,
            "gateway token expired"
        );
        assert_eq!(
            super::failure_reason("gateway token 99aa00ff was revoked").0,
            "gateway token revoked"
        );
        assert_eq!(
            super::failure_reason("unknown gateway token").0,
            "unknown gateway token"
        );
    }
}
