//! The aggregator's counts, filters, bounds and retention, on hand-built facts.

use std::borrow::Cow;

use super::facts::{Feature, InsightFacts, Kind};
use super::report::{Filter, FilterError, Step};
use super::tables::Insights;
use super::{OTHER, RETAIN_DAYS, USERS};
use crate::observation::Decision;

const H: i64 = 3_600_000_000_000;
/// 2026-01-05T00:00:00Z, a Monday.
const MONDAY: i64 = 1_767_571_200 * 1_000_000_000;

fn action<'a>(
    at: i64,
    user: &'a str,
    roles: &[&'a str],
    target: &'a str,
    protocol: &'static str,
    decision: Decision,
) -> InsightFacts<'a> {
    InsightFacts {
        time: at,
        kind: Some(Kind::Decided),
        user: Some(Cow::Borrowed(user)),
        roles: roles.iter().map(|r| Cow::Borrowed(*r)).collect(),
        target: Some(Cow::Borrowed(target)),
        protocol: Some(protocol),
        decision: Some(decision),
        ..InsightFacts::default()
    }
}

fn sample() -> Insights {
    let mut i = Insights::new(0);
    // Monday 09:xx: alice (dev) 3 allows + 1 deny on app-db; bob (dba+dev) a hold.
    for n in 0..3 {
        let mut f = action(
            MONDAY + 9 * H + n,
            "alice",
            &["dev"],
            "app-db",
            "postgres",
            Decision::Allow,
        );
        f.features = vec![(Feature::SqlStatement, Cow::Borrowed("select"))];
        i.observe(&f);
    }
    let mut denied = action(
        MONDAY + 9 * H + 10,
        "alice",
        &["dev"],
        "app-db",
        "postgres",
        Decision::Deny,
    );
    denied.features = vec![(Feature::SqlStatement, Cow::Borrowed("drop"))];
    i.observe(&denied);
    i.observe(&action(
        MONDAY + 10 * H,
        "bob",
        &["dev", "dba"],
        "app-db",
        "postgres",
        Decision::Hold,
    ));
    // Tuesday 14:xx: carol on the API, one failing request.
    let mut api = action(
        MONDAY + 38 * H,
        "carol",
        &["support"],
        "api",
        "http",
        Decision::Allow,
    );
    api.features = vec![(Feature::HttpEndpoint, Cow::Borrowed("GET /orders/{id}"))];
    api.error = Some(Cow::Borrowed("HTTP 404"));
    i.observe(&api);
    i
}

#[test]
fn activity_is_counted_per_bucket_and_decision() {
    let i = sample();
    let r = i.report(&Filter::default()).expect("report");
    assert_eq!(r.step, "hour", "a 30-hour range is shown in hours");
    assert_eq!(r.totals, [4, 1, 1]);
    assert_eq!(r.activity.len(), 30, "09:00 Monday to 14:00 Tuesday");
    assert_eq!(r.activity[0].label, "2026-01-05 09:00");
    assert_eq!((r.activity[0].allow, r.activity[0].deny), (3, 1));
    assert_eq!(r.activity[1].hold, 1);
    assert_eq!(r.activity[0].start, MONDAY / 1_000_000_000 + 9 * 3600);
    let daily = i
        .report(&Filter {
            step: Step::Day,
            ..Filter::default()
        })
        .expect("daily");
    assert_eq!(daily.activity.len(), 2);
    assert_eq!((daily.activity[0].allow, daily.activity[0].hold), (3, 1));
    assert_eq!(daily.activity[1].label, "2026-01-06");
}

#[test]
fn filters_narrow_every_chart() {
    let i = sample();
    let by = |f: Filter| i.report(&f).expect("report");
    let alice = by(Filter {
        user: Some("alice".into()),
        ..Filter::default()
    });
    assert_eq!(alice.totals, [3, 1, 0]);
    // A user with two roles counts for each.
    let dba = by(Filter {
        role: Some("dba".into()),
        ..Filter::default()
    });
    assert_eq!(dba.totals, [0, 0, 1]);
    let dev = by(Filter {
        role: Some("dev".into()),
        ..Filter::default()
    });
    assert_eq!(dev.totals, [3, 1, 1]);
    let http = by(Filter {
        protocol: Some("http".into()),
        ..Filter::default()
    });
    assert_eq!(http.totals, [1, 0, 0]);
    assert_eq!(http.errors.len(), 1);
    let tuesday = by(Filter {
        since: Some(MONDAY / 1_000_000_000 + 24 * 3600),
        ..Filter::default()
    });
    assert_eq!(tuesday.totals, [1, 0, 0]);
    let monday = by(Filter {
        until: Some(MONDAY / 1_000_000_000 + 10 * 3600),
        ..Filter::default()
    });
    assert_eq!(monday.totals, [3, 1, 0], "until is exclusive");
    let nobody = by(Filter {
        user: Some("mallory".into()),
        ..Filter::default()
    });
    assert_eq!(nobody.totals, [0, 0, 0]);
    assert!(nobody.errors.is_empty() && nobody.usage[1].top.is_empty());
}

#[test]
fn bad_filters_are_refused_with_the_reason() {
    let i = sample();
    let e = i
        .report(&Filter {
            protocol: Some("ftp".into()),
            ..Filter::default()
        })
        .expect_err("ftp");
    assert_eq!(e, FilterError::Protocol("ftp".into()));
    assert!(e.to_string().contains("postgres, mysql"));
    let e = i
        .report(&Filter {
            since: Some(10),
            until: Some(5),
            ..Filter::default()
        })
        .expect_err("empty");
    assert_eq!(e, FilterError::EmptyRange);
    let mut long = Insights::new(0);
    long.observe(&action(MONDAY, "a", &[], "t", "ssh", Decision::Allow));
    long.observe(&action(
        MONDAY + 20 * 24 * H,
        "a",
        &[],
        "t",
        "ssh",
        Decision::Allow,
    ));
    let e = long
        .report(&Filter {
            step: Step::Hour,
            ..Filter::default()
        })
        .expect_err("too many hours");
    assert!(matches!(e, FilterError::TooManyHours { .. }), "{e}");
}

#[test]
fn heatmaps_use_local_hours_per_role_and_user() {
    let i = sample();
    let r = i.report(&Filter::default()).expect("report");
    assert_eq!(r.heatmap.cells[9], 4, "Monday 09:00");
    assert_eq!(r.heatmap.cells[24 + 14], 1, "Tuesday 14:00");
    let dev = r
        .role_heatmaps
        .iter()
        .find(|g| g.name == "dev")
        .expect("dev");
    assert_eq!((dev.total, dev.cells[10]), (5, 1));
    assert_eq!(r.user_heatmaps[0].name, "alice");
    // Two hours east of UTC, Monday 09:00 UTC is 11:00 local.
    let mut east = Insights::new(2 * 3600);
    east.observe(&action(
        MONDAY + 9 * H,
        "a",
        &[],
        "t",
        "ssh",
        Decision::Allow,
    ));
    let g = east.report(&Filter::default()).expect("report").heatmap;
    assert_eq!(g.cells[11], 1);
}

#[test]
fn usage_ranks_most_and_least_used() {
    let mut i = sample();
    for n in 0..12u32 {
        for k in 0..=n {
            let mut f = action(
                MONDAY + 11 * H + i64::from(k),
                "dave",
                &["sre"],
                "box",
                "ssh",
                Decision::Allow,
            );
            let prog = format!("prog{n:02}");
            f.features = vec![(Feature::SshProgram, Cow::Owned(prog))];
            i.observe(&f);
        }
    }
    let r = i.report(&Filter::default()).expect("report");
    let ssh = r
        .usage
        .iter()
        .find(|u| u.feature == "ssh-program")
        .expect("ssh");
    assert_eq!(ssh.names, 12);
    assert_eq!((ssh.top[0].name.as_str(), ssh.top[0].count), ("prog11", 12));
    assert_eq!(ssh.top.len(), 10);
    assert_eq!(ssh.bottom.len(), 2, "only names not already in the top 10");
    assert_eq!(
        (ssh.bottom[0].name.as_str(), ssh.bottom[0].count),
        ("prog00", 1)
    );
    let sql = r
        .usage
        .iter()
        .find(|u| u.feature == "sql-statement")
        .expect("sql");
    assert_eq!(sql.top[0].name, "select");
    assert_eq!(sql.top[0].count, 3);
    let targets = &r.usage[0];
    assert_eq!(targets.feature, "target");
    assert_eq!(targets.top[0].name, "box");
}

#[test]
fn errors_name_their_targets_and_users() {
    let mut i = sample();
    for (user, n) in [("erin", 3), ("frank", 1)] {
        for k in 0..n {
            i.observe(&InsightFacts {
                time: MONDAY + 12 * H + k,
                kind: Some(Kind::Completed),
                user: Some(Cow::Borrowed(user)),
                target: Some(Cow::Borrowed("app-db")),
                protocol: Some("postgres"),
                error: Some(Cow::Borrowed("SQLSTATE 42")),
                ..InsightFacts::default()
            });
        }
    }
    let r = i.report(&Filter::default()).expect("report");
    assert_eq!(r.errors[0].class, "SQLSTATE 42");
    assert_eq!(r.errors[0].count, 4);
    assert_eq!(r.errors[0].users[0].name, "erin");
    assert_eq!(r.errors[0].users[0].count, 3);
    assert_eq!(r.errors[0].targets[0].name, "app-db");
    assert_eq!(r.errors[1].class, "HTTP 404");
}

#[test]
fn logins_by_front_end_method_and_lockouts() {
    let mut i = Insights::new(0);
    let login = |kind, detail: &'static str, protocol| InsightFacts {
        time: MONDAY,
        kind: Some(kind),
        user: Some(Cow::Borrowed("alice")),
        protocol: Some(protocol),
        auth_detail: Some(Cow::Borrowed(detail)),
        ..InsightFacts::default()
    };
    i.observe(&login(Kind::LoggedIn, "method=publickey", "ssh"));
    i.observe(&login(Kind::LoggedIn, "method=publickey", "ssh"));
    i.observe(&login(Kind::LoggedIn, "method=scram-sha-256", "postgres"));
    i.observe(&login(Kind::LoggedIn, "method=password", "postgres"));
    i.observe(&login(
        Kind::LoginFailed,
        "method=scram-sha-256; wrong password",
        "postgres",
    ));
    i.observe(&login(
        Kind::LoginFailed,
        "method=scram-sha-256; locked (900s): locked by alert al-1",
        "postgres",
    ));
    i.observe(&login(Kind::LoggedIn, "method=token", "http"));
    i.observe(&login(
        Kind::LoginFailed,
        "method=token; unknown bearer token",
        "http",
    ));
    i.observe(&login(
        Kind::LoginFailed,
        "method=basic; throttled (300s)",
        "http",
    ));
    // Written before methods were recorded on failures.
    i.observe(&login(Kind::LoginFailed, "http: throttled (300s)", "http"));
    i.observe(&login(Kind::LoginFailed, "wrong password", "mysql"));
    let r = i.report(&Filter::default()).expect("report");
    let row = |fe: &str, m: &str| {
        r.auth
            .iter()
            .find(|a| a.front_end == fe && a.method == m)
            .map(|a| (a.successes, a.failures, a.lockouts))
    };
    assert_eq!(row("ssh", "publickey"), Some((2, 0, 0)));
    assert_eq!(row("postgres", "scram-sha-256"), Some((1, 1, 1)));
    assert_eq!(row("postgres", "password"), Some((1, 0, 0)));
    assert_eq!(row("http", "token"), Some((1, 1, 0)));
    assert_eq!(row("http", "basic"), Some((0, 0, 1)));
    assert_eq!(row("http", "(not recorded)"), Some((0, 0, 1)));
    assert_eq!(row("mysql", "(not recorded)"), Some((0, 1, 0)));
    let reasons = |fe: &str, m: &str| {
        let a = r.auth.iter().find(|a| a.front_end == fe && a.method == m);
        a.map(|a| {
            a.reasons
                .iter()
                .map(|n| (n.name.clone(), n.count))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    };
    assert_eq!(
        reasons("postgres", "scram-sha-256"),
        [("locked".to_string(), 1), ("wrong password".to_string(), 1)]
    );
    assert_eq!(reasons("http", "basic"), [("throttled".to_string(), 1)]);
    assert!(reasons("ssh", "publickey").is_empty());
}

#[test]
fn approvals_time_to_decision_and_deciders() {
    let mut i = Insights::new(0);
    let ev = |kind, at: i64, user: &'static str, id: &'static str| InsightFacts {
        time: at,
        kind: Some(kind),
        user: Some(Cow::Borrowed(user)),
        roles: vec![Cow::Borrowed("dev")],
        target: Some(Cow::Borrowed("app-db")),
        protocol: Some("postgres"),
        approval: Some(Cow::Borrowed(id)),
        ..InsightFacts::default()
    };
    let s = 1_000_000_000;
    for (n, id) in ["a1", "a2", "a3", "a4"].into_iter().enumerate() {
        i.observe(&ev(Kind::ApprovalRequested, MONDAY + n as i64, "alice", id));
    }
    i.observe(&ev(Kind::ApprovalApproved, MONDAY + 10 * s, "bob", "a1"));
    i.observe(&ev(Kind::ApprovalApproved, MONDAY + 31 * s, "bob", "a2"));
    i.observe(&ev(Kind::ApprovalDenied, MONDAY + 62 * s, "carol", "a3"));
    i.observe(&ev(Kind::ApprovalExpired, MONDAY + 120 * s, "alice", "a4"));
    let r = i.report(&Filter::default()).expect("report");
    let a = &r.approvals;
    assert_eq!((a.requests, a.approvals, a.denied, a.expired), (4, 2, 1, 1));
    assert_eq!(a.decided, 3);
    assert_eq!(a.median_seconds, Some(30));
    assert_eq!(a.p90_seconds, Some(61));
    assert_eq!(a.deciders[0].name, "bob");
    assert_eq!(a.deciders[0].count, 2);
    // Filtered by the requester, not by who decided.
    let alice = i
        .report(&Filter {
            user: Some("alice".into()),
            ..Filter::default()
        })
        .expect("report");
    assert_eq!(alice.approvals.requests, 4);
    assert_eq!(alice.approvals.decided, 3);
}

#[test]
fn names_past_the_cap_are_counted_as_other() {
    let mut i = Insights::new(0);
    let names: Vec<String> = (0..USERS + 5).map(|n| format!("u{n}")).collect();
    for n in &names {
        i.observe(&action(MONDAY, n, &[], "t", "ssh", Decision::Allow));
    }
    let r = i
        .report(&Filter {
            user: Some(OTHER.into()),
            ..Filter::default()
        })
        .expect("report");
    assert_eq!(r.totals[0], 5);
    assert_eq!(r.choices.users.len(), USERS);
}

#[test]
fn old_buckets_are_dropped() {
    let mut i = Insights::new(0);
    i.observe(&action(MONDAY, "a", &[], "t", "ssh", Decision::Allow));
    let later = MONDAY + i64::from(RETAIN_DAYS) * 24 * H;
    i.observe(&action(later, "a", &[], "t", "ssh", Decision::Allow));
    let r = i.report(&Filter::default()).expect("report");
    assert_eq!(r.totals[0], 1, "the first day fell out of the retention");
    assert_eq!(r.activity.len(), RETAIN_DAYS as usize);
}
