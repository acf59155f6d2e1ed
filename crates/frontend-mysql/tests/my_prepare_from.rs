//! `PREPARE name FROM '<statement>'` through Warden against the machine's MariaDB, with
//! the `mariadb` CLI and mysql_async: the statement inside the string is decided like
//! the same statement sent plainly — a DROP/TRUNCATE inside is denied at once (ERR 1227
//! naming the pack's rule, no approval asked), an unbounded DELETE inside is held by
//! the unbounded-writes rule when sent with other statements (alone it is prepared
//! without approval: each `EXECUTE` is held), `FROM @var` stays opaque (held). The
//! table is checked directly after every case.

mod my_support;

use my_support::checks::{no_hold_ever, server_code};
use my_support::table::{count, setup};
use my_support::within;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_truncate_inside_prepare_from_are_denied_not_held() {
    let h = my_support::start().await;
    setup(&h);
    let texts = [
        "PREPARE s FROM 'DROP TABLE t'",
        "PREPARE s FROM 'TRUNCATE TABLE t'",
        "SELECT 1; PREPARE s FROM \"DROP TABLE t\"",
        r"PREPARE s FROM 'DROP TABLE \`t\`'",
        "PREPARE s FROM 'DROP /* it''s */ TABLE t'",
    ];
    // the mariadb CLI: every line refused with the rule's message, no approval asked
    let script: String = texts.iter().map(|t| format!("{t};\n")).collect();
    let (_, _, stderr) = within(60, async {
        tokio::select! {
            out = h.cli(&[], &script) => out,
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR 1227"))
        .collect();
    assert_eq!(refused.len(), texts.len(), "{stderr}");
    assert!(
        refused
            .iter()
            .all(|l| l.contains("mysql-no-drop-or-truncate")),
        "{stderr}"
    );
    assert_eq!(count(&h), "3");

    // mysql_async (text protocol) too; the session stays usable
    let mut c = h.driver().await;
    within(60, async {
        tokio::select! {
            () = async {
                for sql in texts {
                    assert_eq!(server_code(c.query_drop(sql).await), Some(1227), "{sql}");
                    assert_eq!(count(&h), "3", "after {sql}");
                }
            } => {},
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(3));
    let denied = h.audit_records("PREPARE s FROM 'TRUNCATE TABLE t'").await;
    assert!(
        denied.iter().any(|e| e
            .verdict
            .as_ref()
            .is_some_and(|v| v.decision == "deny"
                && v.rules.iter().any(|r| r == "mysql-no-drop-or-truncate"))),
        "{denied:?}"
    );
    c.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_delete_inside_prepare_from_is_prepared_for_later_and_from_a_variable_stays_opaque(
) {
    let h = my_support::start().await;
    setup(&h);
    let mut c = h.driver().await;

    // alone, a PREPARE of a statement the pack holds is prepared without an approval
    // (preparing runs nothing; each EXECUTE is held, see my_execute_named)
    within(60, async {
        tokio::select! {
            r = c.query_drop("PREPARE s FROM 'DELETE FROM t'") => r.expect("prepared without approval"),
            () = no_hold_ever(&h) => unreachable!(),
        }
    })
    .await;
    assert_eq!(count(&h), "3");
    let rec = h
        .audit_records("the hold applies to each EXECUTE")
        .await
        .into_iter()
        .next()
        .expect("prepare-only audited");
    assert_eq!(
        rec.verdict.as_ref().map(|v| v.decision.as_str()),
        Some("allow")
    );
    assert!(
        rec.action
            .as_ref()
            .is_some_and(|a| a.raw == "PREPARE s FROM 'DELETE FROM t'"),
        "{rec:?}"
    );

    // with another statement in the text it is held by the unbounded-writes rule (not
    // the unparsed default); denied → not prepared
    let deny = async {
        let req = h.pending().await;
        assert!(
            req.rules.iter().any(|r| r == "mysql-unbounded-writes"),
            "{:?}",
            req.rules
        );
        assert!(
            req.action.raw.contains("DELETE FROM t"),
            "{:?}",
            req.action.raw
        );
        h.deny(&req.id).await;
    };
    let (r, ()) = within(60, async {
        tokio::join!(
            c.query_drop("SELECT 1; PREPARE u FROM 'DELETE FROM t'"),
            deny
        )
    })
    .await;
    assert_eq!(server_code(r), Some(1227));
    assert_eq!(count(&h), "3");

    // a bounded read inside is allowed and prepared
    c.query_drop("PREPARE r FROM 'SELECT v FROM t WHERE id = 1'")
        .await
        .expect("a read inside PREPARE FROM is allowed");

    // FROM @var: opaque, held whatever the variable holds
    c.query_drop("SET @q = 'DELETE FROM t'").await.expect("set");
    let deny = async {
        let req = h.pending().await;
        assert!(req.action.raw.contains("FROM @q"), "{:?}", req.action.raw);
        assert!(
            !req.rules.iter().any(|r| r == "mysql-unbounded-writes"),
            "{:?}",
            req.rules
        );
        h.deny_every_hold().await;
    };
    let r = within(60, async {
        tokio::select! {
            r = c.query_drop("PREPARE v FROM @q") => r,
            () = deny => unreachable!(),
        }
    })
    .await;
    assert_eq!(server_code(r), Some(1227));
    assert_eq!(count(&h), "3");
    c.disconnect().await.expect("disconnect");
}
