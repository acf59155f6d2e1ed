//! The insights API and CSV downloads: `GET /api/v1/insights` (every chart),
//! `GET /api/v1/insights/{chart}` (one chart) and `GET /insights/{chart}.csv`, with the
//! same filters as the console page (`user`, `role`, `target`, `protocol`, `since`,
//! `until`, `step`).
//!
//! Reads the live insights aggregates through the [`AlertDesk`](crate::alerts::AlertDesk)
//! (never the audit chain), with the roles that read alerts (`admin`, `security`,
//! `viewer`). A bad filter value is a `400` naming the value and what is expected. Never
//! decides an action.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_analytics::insights::{Filter, Report, Step};

use crate::alerts::desk;
use crate::app::App;
use crate::auth::{Authed, WebUserRef};
use crate::error::WebError;
use crate::insights_csv;

/// The charts, by the name their CSV and API paths use.
pub const CHARTS: [&str; 6] = [
    "activity",
    "heatmap",
    "usage",
    "errors",
    "auth",
    "approvals",
];

/// The filters as they come in the query string (empty means "any").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InsightParams {
    pub user: Option<String>,
    pub role: Option<String>,
    pub target: Option<String>,
    pub protocol: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub step: Option<String>,
}

impl InsightParams {
    /// The non-empty filters as a query string (`user=alice&step=day`), for links.
    pub fn query_string(&self) -> String {
        let pairs = [
            ("user", &self.user),
            ("role", &self.role),
            ("target", &self.target),
            ("protocol", &self.protocol),
            ("since", &self.since),
            ("until", &self.until),
            ("step", &self.step),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
                Some(format!("{k}={}", crate::pages::percent_encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A time filter: RFC3339 (`2026-01-05T09:00:00Z`), a UTC date (`2026-01-05`), or an age
/// back from now (`90m`, `24h`, `7d`); Unix seconds.
pub fn parse_time(name: &str, value: &str, now: OffsetDateTime) -> Result<i64, WebError> {
    let bad = || {
        WebError::BadRequest(format!(
            "{name}: `{value}` is not a time; use RFC3339 (2026-01-05T09:00:00Z), a date (2026-01-05) or an age (90m, 24h, 7d)"
        ))
    };
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(value, &date_format) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    let split = value.len().saturating_sub(1);
    let (number, unit) = (value.get(..split).ok_or_else(bad)?, &value[split..]);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    if n <= 0 || n > 10_000 * 86_400 / seconds {
        return Err(bad());
    }
    Ok(now.unix_timestamp() - n * seconds)
}

/// The filter of a request's parameters, or a `400` naming what is wrong.
pub fn filter(params: &InsightParams, now: OffsetDateTime) -> Result<Filter, WebError> {
    let time =
        |name: &str, v: &Option<String>| some(v).map(|s| parse_time(name, &s, now)).transpose();
    let step = some(&params.step).unwrap_or_default();
    let step = Step::parse(&step).ok_or_else(|| {
        WebError::BadRequest(format!(
            "step: `{step}` is not a step; expected auto, hour or day"
        ))
    })?;
    let f = Filter {
        user: some(&params.user),
        role: some(&params.role),
        target: some(&params.target),
        protocol: some(&params.protocol),
        since: time("since", &params.since)?,
        until: time("until", &params.until)?,
        step,
    };
    f.check().map_err(|e| WebError::BadRequest(e.to_string()))?;
    Ok(f)
}

/// Who may read insights: the readers of alerts.
pub(crate) fn require_reader(who: &WebUserRef) -> Result<(), WebError> {
    if who.can_read_alerts() {
        return Ok(());
    }
    Err(WebError::Forbidden(format!(
        "{} needs role admin, security or viewer to see insights",
        who.name
    )))
}

/// The report for a request, read from the live aggregates on the blocking pool (a
/// report over a large log takes milliseconds of CPU: not on an async worker).
pub(crate) async fn load(app: &App, params: &InsightParams) -> Result<Report, WebError> {
    let filter = filter(params, OffsetDateTime::now_utc())?;
    desk(app)?;
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        desk(&app)?
            .insights(&filter)
            .ok_or_else(|| WebError::NotFound("insights (off in this gateway)".into()))?
            .map_err(|e| WebError::BadRequest(e.to_string()))
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
}

fn chart_name(name: &str) -> Result<&'static str, WebError> {
    CHARTS.into_iter().find(|c| *c == name).ok_or_else(|| {
        WebError::NotFound(format!(
            "chart `{name}` (expected one of {})",
            CHARTS.join(", ")
        ))
    })
}

/// One chart of a report as JSON.
pub fn chart_json(r: &Report, chart: &str) -> serde_json::Value {
    let part = match chart {
        "activity" => serde_json::json!({ "step": r.step, "totals": {
            "allow": r.totals[0], "deny": r.totals[1], "hold": r.totals[2] },
            "points": r.activity }),
        "heatmap" => serde_json::json!({ "selection": r.heatmap,
            "roles": r.role_heatmaps, "users": r.user_heatmaps }),
        "usage" => serde_json::json!(r.usage),
        "errors" => serde_json::json!(r.errors),
        "auth" => serde_json::json!(r.auth),
        _ => serde_json::json!(r.approvals),
    };
    let mut out = serde_json::json!({ "filter": r.filter, "utc_offset": r.utc_offset });
    out[chart] = part;
    out
}

/// `GET /api/v1/insights`.
pub async fn api_all(
    State(app): State<App>,
    who: Authed,
    Query(params): Query<InsightParams>,
) -> Result<impl IntoResponse, WebError> {
    require_reader(&who.user)?;
    Ok(Json(load(&app, &params).await?))
}

/// `GET /api/v1/insights/{chart}`.
pub async fn api_chart(
    State(app): State<App>,
    who: Authed,
    Path(chart): Path<String>,
    Query(params): Query<InsightParams>,
) -> Result<impl IntoResponse, WebError> {
    require_reader(&who.user)?;
    let chart = chart_name(&chart)?;
    Ok(Json(chart_json(&load(&app, &params).await?, chart)))
}

/// `GET /insights/{chart}.csv`.
pub async fn csv(
    State(app): State<App>,
    who: Authed,
    Path(file): Path<String>,
    Query(params): Query<InsightParams>,
) -> Result<Response, WebError> {
    require_reader(&who.user)?;
    let Some(name) = file.strip_suffix(".csv") else {
        return Err(WebError::NotFound(format!(
            "`{file}` (charts download as /insights/CHART.csv)"
        )));
    };
    let chart = chart_name(name)?;
    let body = insights_csv::chart(&load(&app, &params).await?, chart);
    let disposition = format!("attachment; filename=\"insights-{chart}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_bad_values() {
        let now = OffsetDateTime::from_unix_timestamp(1_767_600_000).expect("time");
        assert_eq!(
            parse_time("since", "24h", now).ok(),
            Some(1_767_600_000 - 86_400)
        );
        assert_eq!(
            parse_time("since", "7d", now).ok(),
            Some(1_767_600_000 - 7 * 86_400)
        );
        assert_eq!(
            parse_time("since", "2026-01-05", now).ok(),
            Some(1_767_571_200)
        );
        assert_eq!(
            parse_time("until", "2026-01-05T01:00:00Z", now).ok(),
            Some(1_767_574_800)
        );
        for bad in ["yesterday", "7w", "-3d", "d", "0h"] {
            let e = parse_time("since", bad, now).expect_err(bad).to_string();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("RFC3339"),
                "{e}"
            );
        }
        let p = InsightParams {
            step: Some("week".into()),
            ..InsightParams::default()
        };
        let e = filter(&p, now).expect_err("step").to_string();
        assert!(e.contains("`week`") && e.contains("hour or day"), "{e}");
        let p = InsightParams {
            protocol: Some("ftp".into()),
            ..InsightParams::default()
        };
        assert!(filter(&p, now).is_err());
        let p = InsightParams {
            user: Some("alice".into()),
            since: Some(" ".into()),
            step: Some("day".into()),
            ..InsightParams::default()
        };
        assert_eq!(p.query_string(), "user=alice&step=day");
        let f = filter(&p, now).expect("filter");
        assert_eq!((f.user.as_deref(), f.since), (Some("alice"), None));
    }
}
