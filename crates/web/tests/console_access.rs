//! The console links only what a user may open, and the access report page.

mod common;

use common::{client, hold, start};

async fn get(base: &str, path: &str, user: &str) -> (u16, String) {
    let r = client()
        .get(format!("{base}{path}"))
        .basic_auth(user, Some(common::PASSWORD))
        .send()
        .await
        .expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn pages_link_only_what_the_user_may_open() {
    let c = start(vec![]).await;
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let path = format!("/approvals/{}", held.id);
    // bob approves (dba) but may not read the audit log: no link to it anywhere.
    let (code, page) = get(&c.base, &path, "bob").await;
    assert_eq!(code, 200);
    assert!(
        !page.contains("href=\"/audit"),
        "no audit link for bob: {page}"
    );
    assert!(!page.contains("href=\"/reports/access\""));
    assert!(page.contains("href=\"/inbox\""));
    let (code, _) = get(&c.base, "/audit", "bob").await;
    assert_eq!(code, 403, "and the page he is not linked to is refused");
    // vera (viewer) reads the audit log: the links are there.
    let (code, page) = get(&c.base, &path, "vera").await;
    assert_eq!(code, 200);
    assert!(
        page.contains("href=\"/audit?q="),
        "audit records link for vera"
    );
    assert!(page.contains("href=\"/reports/access\""));
    drop(held);
    c.stop().await;
}

#[tokio::test]
async fn the_access_report_page_counts_roles_and_refuses_other_roles() {
    let c = start(vec![]).await;
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let (code, page) = get(&c.base, "/reports/access?since=1h", "root").await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<h1>Access report</h1>"));
    assert!(page.contains("format=csv"), "CSV download linked");
    // root holds admin and has done nothing in the window.
    assert!(page.contains("holds <b>admin</b>"), "{page}");
    let (code, _) = get(&c.base, "/reports/access", "alice").await;
    assert_eq!(code, 403);
    let (code, page) = get(&c.base, "/reports/access?since=later", "root").await;
    assert_eq!(code, 400, "{page}");
    let (code, csv) = get(
        &c.base,
        "/api/v1/reports/access?since=1h&format=csv",
        "vera",
    )
    .await;
    assert_eq!(code, 200);
    assert!(csv.starts_with("section,role,user,target,"), "{csv}");
    let (code, body) = get(&c.base, "/api/v1/reports/access?format=xml", "vera").await;
    assert_eq!(code, 400, "{body}");
    drop(held);
    c.stop().await;
}
