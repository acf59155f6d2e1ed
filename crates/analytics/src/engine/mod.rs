//! The engine: feed it records in time order, get alerts back.
//!
//! Pure and thread-agnostic: no I/O, no wall clock (the records' own timestamps are the
//! clock, so replay and live behave the same), no locks; the caller owns it (the
//! gateway puts it on its own thread fed by the audit append stream). Its memory is
//! bounded by users × targets × addresses × detectors: sliding windows are constant
//! size, baselines are per-day rings, and idle state is swept every hour of event time.
//! It never decides anything for the gateway and never feeds its own alerts back in.

mod actions;
pub mod address;
pub mod clock;
pub mod dedup;
pub mod fxhash;
mod handle;
pub mod metric;
pub mod role;
pub mod user;
mod view;

use fxhash::FastMap;
use std::net::IpAddr;

use time::OffsetDateTime;
#[cfg(feature = "audit")]
use warden_audit::Record;

use crate::alert::{Alert, Lock};
use crate::detect::Draft;
use crate::observation::Observation;
#[cfg(feature = "audit")]
use crate::record::observe_record;
use crate::settings::span::{DAY, HOUR};
use crate::settings::{Settings, SettingsError, Tuning};
use address::AddressState;
use dedup::Dedup;
use role::RoleState;
use user::UserState;

pub use view::{DayVolume, EngineStats, UserBaseline, UsualAddress, UsualTarget};

/// How long an evicted user's last activity is remembered (for `dormant-account`).
const DEPARTED_FOR: i64 = 400 * DAY;

/// The analytics engine.
#[derive(Debug, Clone)]
pub struct Engine {
    tuning: Tuning,
    users: FastMap<Box<str>, UserState>,
    roles: FastMap<Box<str>, RoleState>,
    addresses: FastMap<IpAddr, AddressState>,
    /// Last activity of users whose state was swept.
    departed: FastMap<Box<str>, i64>,
    dedup: Dedup,
    /// Time of the first record seen (Unix ns), 0 before any.
    started: i64,
    /// The clock: the latest record time seen (never goes backwards).
    now: i64,
    next_sweep: i64,
    today: i64,
    /// Highest seq observed through the `Record` API.
    judged: u64,
}

impl Engine {
    /// An engine for validated `settings` (every problem at once otherwise).
    pub fn new(settings: &Settings) -> Result<Engine, SettingsError> {
        Ok(Engine::with_tuning(settings.compile()?))
    }

    /// An engine for already compiled settings.
    pub fn with_tuning(tuning: Tuning) -> Engine {
        Engine {
            tuning,
            users: FastMap::default(),
            roles: FastMap::default(),
            addresses: FastMap::default(),
            departed: FastMap::default(),
            dedup: Dedup::default(),
            started: 0,
            now: 0,
            next_sweep: 0,
            today: i64::MIN,
            judged: 0,
        }
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    #[cfg(feature = "audit")]
    /// Judge one live record. Records at or below [`Engine::judged_through`] were judged
    /// already (before a restart, or by [`Engine::learn`]) and are skipped.
    pub fn observe(&mut self, record: &Record) -> Vec<Alert> {
        if record.seq <= self.judged && self.judged != 0 {
            return Vec::new();
        }
        self.judged = record.seq;
        self.observe_view(&observe_record(record))
    }

    #[cfg(feature = "audit")]
    /// Learn from one historical record silently: baselines and suppression state are
    /// updated exactly as [`Engine::observe`] would, but no alert comes out.
    pub fn learn(&mut self, record: &Record) {
        if record.seq <= self.judged && self.judged != 0 {
            return;
        }
        self.judged = record.seq;
        self.learn_view(&observe_record(record));
    }

    #[cfg(feature = "audit")]
    /// Rebuild state from `history` (for example the last baseline window of the chain,
    /// in seq order): records up to `silent_through` are learned silently, later ones
    /// are judged and their alerts returned. A restart that passes the seq it had
    /// judged through raises no alert twice.
    pub fn restore<'r>(
        &mut self,
        history: impl IntoIterator<Item = &'r Record>,
        silent_through: u64,
    ) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for r in history {
            if r.seq <= silent_through {
                self.learn(r);
            } else {
                alerts.extend(self.observe(r));
            }
        }
        alerts
    }

    #[cfg(feature = "audit")]
    /// Judge one record of another chain (fleet mode: another replica's record): no
    /// seq bookkeeping, its seq belongs to that chain; `evidence` is the id the alerts'
    /// evidence uses for it (the caller maps it back to the replica and seq).
    pub fn observe_foreign(&mut self, record: &Record, evidence: u64) -> Vec<Alert> {
        let mut o = observe_record(record);
        o.seq = evidence;
        self.observe_view(&o)
    }

    #[cfg(feature = "audit")]
    /// Learn one record of another chain silently (see [`Engine::observe_foreign`]).
    pub fn learn_foreign(&mut self, record: &Record, evidence: u64) {
        let mut o = observe_record(record);
        o.seq = evidence;
        self.learn_view(&o);
    }

    /// The highest seq judged through the `Record` API (0: none).
    pub fn judged_through(&self) -> u64 {
        self.judged
    }

    /// Judge one observation (the replay path; no seq bookkeeping).
    pub fn observe_view(&mut self, obs: &Observation<'_>) -> Vec<Alert> {
        let mut drafts = Vec::new();
        self.process(obs, &mut drafts);
        drafts.into_iter().map(|d| self.alert(d)).collect()
    }

    /// Learn from one observation silently.
    pub fn learn_view(&mut self, obs: &Observation<'_>) {
        let mut drafts = Vec::new();
        self.process(obs, &mut drafts);
    }

    /// The engine's clock (latest record time, Unix ns).
    pub fn now(&self) -> i64 {
        self.now
    }

    fn process(&mut self, obs: &Observation<'_>, out: &mut Vec<Draft>) {
        if !self.tuning.enabled {
            return;
        }
        self.advance(obs.time);
        self.handle(obs, out);
    }

    /// Move the clock forward (never back: a late record counts as happening now).
    fn advance(&mut self, time: i64) {
        if self.started == 0 {
            self.started = time;
        }
        if time > self.now {
            self.now = time;
        }
        if self.now >= self.next_sweep {
            self.sweep();
            self.next_sweep = self.now - self.now.rem_euclid(HOUR) + HOUR;
        }
    }

    /// The engine has seen enough history to judge against baselines (whole days, as
    /// for users).
    fn warm(&self) -> bool {
        self.now >= self.warm_at()
    }

    /// When the engine is warm: `min_history` whole days after the day of its first
    /// record. A user first seen before then is part of the history it learned from,
    /// not a newcomer (see `handle`: such a user is not judged against the newcomer
    /// fallbacks while their own baseline is not trusted yet).
    fn warm_at(&self) -> i64 {
        let days = self.tuning.min_history.nanos().div_euclid(DAY).max(1);
        (self.started.div_euclid(DAY) + days) * DAY
    }

    /// Forget idle state; refresh role statistics once a day.
    fn sweep(&mut self) {
        let now = self.now;
        let baseline = self.tuning.baseline.nanos();
        let since = now - baseline;
        let short = now - DAY;
        let keep_days = baseline / DAY;
        let mut gone = Vec::new();
        self.users.retain(|name, u| {
            // Names that never logged in (failed attempts only) are kept a day, the
            // longest sliding window; real users for the baseline.
            let keep_since = if u.last_active == 0 { short } else { since };
            if u.last_record >= keep_since {
                u.forget_before(since, short);
                return true;
            }
            if u.last_active > 0 {
                gone.push((name.clone(), u.last_active));
            }
            false
        });
        self.departed.extend(gone);
        self.departed.retain(|_, t| *t >= now - DEPARTED_FOR);
        self.addresses.retain(|_, a| {
            a.forget_before(short, since);
            !a.is_empty()
        });
        self.dedup.sweep(now);
        let day = clock::local(now, self.tuning.utc_offset).day;
        if day != self.today {
            self.today = day;
            for r in self.roles.values_mut() {
                r.refresh(day, keep_days, since);
            }
            self.roles.retain(|_, r| !r.members.is_empty());
        }
    }

    fn alert(&self, d: Draft) -> Alert {
        let t = self.tuning.detector(d.detector);
        Alert {
            detector: d.detector,
            severity: t.severity,
            user: d.user,
            client_addr: d.ip.map(|ip| ip.to_string()),
            target: d.target,
            time: OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.now))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            explanation: d.explanation,
            evidence: crate::detect::evidence(d.evidence),
            subject: d.subject,
            lock: t.lock.map(|(subject, span)| Lock {
                subject,
                seconds: u64::try_from(span.nanos() / 1_000_000_000).unwrap_or(0),
            }),
        }
    }
}
