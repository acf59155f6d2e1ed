//! `sql_mode` and character set tracking through Warden against the machine's MariaDB,
//! with mysql_async: `SET sql_mode` is no longer refused; after it Warden lexes the way
//! the server does (under NO_BACKSLASH_ESCAPES a backslash no longer escapes a quote, so
//! `SELECT 'x\'; DROP TABLE t; -- '` is two statements and is refused), a mode change
//! inside a multi-statement text is refused, and a switch to an unsafe multi-byte
//! character set — even one Warden cannot see in the text (a prepared `SET NAMES` built
//! in a variable, approved) — closes the session. The table is checked directly.

mod my_support;

use my_support::checks::server_code;
use my_support::within;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_mode_changes_are_followed_and_lexed_like_the_server() {
    let h = my_support::start().await;
    h.direct("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1),(2)");
    let mut c = h.driver().await;

    // default mode: a backslash escapes the quote
    let v: Option<String> = c.query_first(r"SELECT 'it\'s'").await.expect("read");
    assert_eq!(v.as_deref(), Some("it's"));

    // a mode change with other statements is refused (the rest would be read under it)
    let r = c
        .query_drop("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 1")
        .await;
    assert_eq!(server_code(r), Some(1227));
    // MariaDB's SET STATEMENT ... FOR is refused too
    let r = c
        .query_drop("SET STATEMENT sql_mode = 'NO_BACKSLASH_ESCAPES' FOR SELECT 1")
        .await;
    assert_eq!(server_code(r), Some(1227));

    // on its own it runs, and Warden follows it
    c.query_drop("SET sql_mode = 'NO_BACKSLASH_ESCAPES'")
        .await
        .expect("SET sql_mode is allowed");
    let mode: Option<String> = c.query_first("SELECT @@sql_mode").await.expect("read");
    assert!(mode.unwrap_or_default().contains("NO_BACKSLASH_ESCAPES"));
    // the server reads `'x\'` as a whole string here: a DROP follows it
    let hidden = r"SELECT 'x\'; DROP TABLE t; -- '";
    assert_eq!(server_code(c.query_drop(hidden).await), Some(1227));
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
    // PREPARE ... FROM is unescaped under the tracked mode and still decided
    let r = c.query_drop("PREPARE s FROM 'DROP TABLE t'").await;
    assert_eq!(server_code(r), Some(1227));
    assert_eq!(h.direct("SELECT COUNT(*) FROM t"), "2");
    // statements without backslashes work as before
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.expect("read");
    assert_eq!(n, Some(2));

    // back to the default: backslash escapes are read as escapes again
    c.query_drop("SET sql_mode = DEFAULT")
        .await
        .expect("reset mode");
    let v: Option<String> = c.query_first(r"SELECT 'it\'s'").await.expect("read");
    assert_eq!(v.as_deref(), Some("it's"));

    // a safe character set change is followed; an unsafe one named in the text refused
    c.query_drop("SET NAMES latin1")
        .await
        .expect("SET NAMES latin1");
    assert_eq!(server_code(c.query_drop("SET NAMES gbk").await), Some(1227));
    c.query_drop("SET NAMES utf8mb4")
        .await
        .expect("SET NAMES utf8mb4");
    c.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_charset_reached_through_execute_closes_the_session() {
    let h = my_support::start().await;
    let mut c = h.driver().await;
    c.query_drop("SET @q = CONCAT('SET NAMES ', 'g', 'bk')")
        .await
        .expect("set variable");
    // PREPARE FROM @var and EXECUTE are opaque: approved here, by an admin
    for sql in ["PREPARE s FROM @q", "EXECUTE s"] {
        let approve = async {
            let req = h.pending().await;
            h.approve_as_admin(&req.id).await;
        };
        let (r, ()) = within(60, async { tokio::join!(c.query_drop(sql), approve) }).await;
        r.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // the SET NAMES ran upstream; Warden read the character set back and ended the
    // session instead of inspecting gbk text: the next statement never runs
    match c.query_drop("SELECT 1").await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1251, "{e:?}");
            assert!(e.message.contains("gbk"), "{e:?}");
        }
        Err(_) => {}
        Ok(()) => panic!("the session went on with a gbk connection"),
    }
    // other sessions are unaffected
    let mut d = h.driver().await;
    let one: Option<i64> = d.query_first("SELECT 1").await.expect("read");
    assert_eq!(one, Some(1));
    d.disconnect().await.expect("disconnect");
}
