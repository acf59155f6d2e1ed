//! What the insights answer: the [`Filter`] a page or API call asks with, and the
//! [`Report`] of every chart as plain serialisable data (the console renders it as SVG,
//! CSV and JSON).
//!
//! Must never hold references into the aggregator: a report is an owned copy taken
//! under the caller's lock, so the lock is released before anything is rendered.

use serde::Serialize;

use super::tables::PROTOCOLS;

/// Bucket size of the activity series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Hours when the range is at most [`Filter::AUTO_HOURS_UP_TO`] hours, else days.
    #[default]
    Auto,
    Hour,
    Day,
}

impl Step {
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "" | "auto" => Some(Step::Auto),
            "hour" => Some(Step::Hour),
            "day" => Some(Step::Day),
            _ => None,
        }
    }
}

/// Which records a report counts. Names are exact; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub user: Option<String>,
    /// Records of users holding this role (a user with two roles counts for both).
    pub role: Option<String>,
    pub target: Option<String>,
    pub protocol: Option<String>,
    /// From this Unix time (seconds), inclusive, rounded down to its bucket.
    pub since: Option<i64>,
    /// Up to this Unix time (seconds), exclusive.
    pub until: Option<i64>,
    pub step: Step,
}

/// A filter that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown protocol `{0}`; expected postgres, mysql, http, kubernetes or ssh")]
    Protocol(String),
    #[error("the time range is empty: `since` must be before `until`")]
    EmptyRange,
    #[error(
        "step=hour covers at most {max} hours ({asked} asked); narrow since/until or use step=day"
    )]
    TooManyHours { asked: i64, max: i64 },
}

impl Filter {
    /// The longest range shown in hours by `step=auto`.
    pub const AUTO_HOURS_UP_TO: i64 = 72;
    /// The longest range `step=hour` answers.
    pub const MAX_HOURS: i64 = 24 * 14;

    /// Every problem a filter has before any data is read.
    pub fn check(&self) -> Result<(), FilterError> {
        if let Some(p) = self.protocol.as_deref() {
            if !PROTOCOLS[1..].contains(&p) {
                return Err(FilterError::Protocol(p.to_string()));
            }
        }
        if let (Some(s), Some(u)) = (self.since, self.until) {
            if s >= u {
                return Err(FilterError::EmptyRange);
            }
        }
        Ok(())
    }
}

/// A name and how often it counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub name: String,
    pub count: u64,
}

/// One bucket of the activity series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityPoint {
    /// Start of the bucket, Unix seconds.
    pub start: i64,
    /// The bucket in local time: `2026-01-05` (days) or `2026-01-05 14:00` (hours).
    pub label: String,
    pub allow: u64,
    pub deny: u64,
    pub hold: u64,
}

/// An hour × weekday grid: `cells[weekday * 24 + hour]`, Monday first, local hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grid {
    pub name: String,
    pub total: u64,
    pub cells: Vec<u64>,
}

/// Most and least used names of one kind of feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageList {
    /// `target`, `sql-statement`, `http-endpoint`, `kubernetes-resource`, `ssh-program`.
    pub feature: String,
    /// Distinct names used.
    pub names: usize,
    pub total: u64,
    /// Most used first (at most [`Report::TOP`]).
    pub top: Vec<Named>,
    /// Least used first (at most [`Report::BOTTOM`]; never repeats a name of `top`).
    pub bottom: Vec<Named>,
}

/// One error class: how often, where, and who hit it most.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorClassRow {
    pub class: String,
    pub count: u64,
    /// Targets it happened on, most first.
    pub targets: Vec<Named>,
    /// Users who hit it, most first (at most [`Report::TOP`]).
    pub users: Vec<Named>,
}

/// Logins of one front-end by one method (`scram-sha-256`, `password`, `token`,
/// `basic`, `publickey`, `mysql_native_password`, `none`; `(not recorded)` for records
/// written before methods were recorded on failures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthRow {
    pub front_end: String,
    pub method: String,
    pub successes: u64,
    /// Failed logins other than lockouts.
    pub failures: u64,
    /// Logins refused because the user or address was locked or throttled.
    pub lockouts: u64,
    /// Why the failures and lockouts were refused (`wrong password`, `locked`,
    /// `throttled`, …), most first.
    pub reasons: Vec<Named>,
}

/// Approval requests and what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApprovalReport {
    pub requests: u64,
    /// `approval_approved` records (one per approver).
    pub approvals: u64,
    pub denied: u64,
    pub expired: u64,
    pub withdrawn: u64,
    /// Requests whose first decision (approve or deny) was measured.
    pub decided: u64,
    /// Seconds from request to first decision: median and 90th percentile.
    pub median_seconds: Option<u64>,
    pub p90_seconds: Option<u64>,
    /// Who decided (approved or denied), most first.
    pub deciders: Vec<Named>,
}

/// The choices the filter form offers (names seen in the aggregates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Choices {
    pub users: Vec<String>,
    pub roles: Vec<String>,
    pub targets: Vec<String>,
    pub protocols: Vec<String>,
}

/// Every chart for one filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub filter: Filter,
    /// Seconds east of UTC of the local hours and days.
    pub utc_offset: i64,
    /// `hour` or `day`.
    pub step: &'static str,
    pub activity: Vec<ActivityPoint>,
    /// Allowed, denied, held actions in the range.
    pub totals: [u64; 3],
    /// The selection's grid.
    pub heatmap: Grid,
    /// Busiest roles' grids (at most [`Report::GRIDS`]).
    pub role_heatmaps: Vec<Grid>,
    /// Busiest users' grids (at most [`Report::GRIDS`]).
    pub user_heatmaps: Vec<Grid>,
    pub usage: Vec<UsageList>,
    pub errors: Vec<ErrorClassRow>,
    pub auth: Vec<AuthRow>,
    pub approvals: ApprovalReport,
    pub choices: Choices,
    /// Records the aggregator counted since it started.
    pub records: u64,
}

impl Report {
    pub const TOP: usize = 10;
    pub const BOTTOM: usize = 5;
    pub const GRIDS: usize = 6;
}
