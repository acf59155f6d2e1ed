//! Browser end-to-end: real headless Chromium drives the console. A hold created
//! through `Approvals::request` (what the Gate does for a held statement) must appear
//! live in the approver's inbox without a reload; approving and denying from the page,
//! using the keyboard, must reach the waiting holder. Screenshots of the inbox and the
//! request page land in `target/e2e-artifacts/`.

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use warden_approval::Resolution;

const WAIT: Duration = Duration::from_secs(15);

async fn login(client: &Client, base: &str, user: &str) {
    client
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    client
        .find(Locator::Css("#user"))
        .await
        .expect("user field")
        .send_keys(user)
        .await
        .expect("type user");
    client
        .find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(common::PASSWORD)
        .await
        .expect("type password");
    // Submit with the keyboard.
    client
        .find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#inbox-list"))
        .await
        .expect("inbox after login");
    // The live stream is connected before anything is held.
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("body[data-live='1']"))
        .await
        .expect("live updates connected");
}

async fn no_horizontal_scroll(client: &Client) -> bool {
    let v = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .expect("measure");
    v.as_bool().unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approver_sees_a_hold_live_and_decides_it_in_the_browser() {
    let Some(b) = browser::launch().await else {
        return;
    };
    let client = &b.client;
    let c = common::start(vec![]).await;
    let result = tokio::time::timeout(Duration::from_secs(120), async {
        login(client, &c.base, "bob").await;

        // --- approve path: the hold appears without a reload ---------------------
        let marker: serde_json::Value = client
            .execute("window.__marker = 1; return 1;", vec![])
            .await
            .expect("marker");
        assert_eq!(marker, 1);
        let held = common::hold(&c, "alice", "DELETE FROM accounts").await;
        let id = held.id.clone();
        let waiter = tokio::spawn(held.wait());
        let card = format!("article[data-id='{id}']");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&card))
            .await
            .expect("hold appears live");
        let still_same_page = client
            .execute("return window.__marker === 1;", vec![])
            .await
            .expect("marker");
        assert_eq!(still_same_page, true, "the inbox updated without a reload");
        let text = client
            .find(Locator::Css(&card))
            .await
            .expect("card")
            .text()
            .await
            .expect("text");
        assert!(
            text.contains("DELETE FROM accounts")
                && text.contains("alice")
                && text.contains("prod-db"),
            "{text}"
        );
        assert!(
            text.contains("unbounded-writes-need-approval") && text.contains("expires"),
            "{text}"
        );
        browser::screenshot(client, "inbox.png").await;

        // Keyboard only: j focuses the first request, Enter opens it.
        client
            .find(Locator::Css("h1"))
            .await
            .expect("h1")
            .click()
            .await
            .expect("focus page");
        browser::press(client, 'j').await;
        let focused = client
            .active_element()
            .await
            .expect("active")
            .attr("data-id")
            .await
            .expect("attr");
        assert_eq!(
            focused.as_deref(),
            Some(id.as_str()),
            "j focuses the request card"
        );
        browser::press(client, Key::Enter.into()).await;
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&format!("#request-page[data-id='{id}']")))
            .await
            .expect("request page");
        // "/" jumps to the reason field; type, Tab to Approve, Enter.
        browser::press(client, '/').await;
        let active = client.active_element().await.expect("active");
        assert_eq!(
            active.attr("name").await.expect("attr").as_deref(),
            Some("reason")
        );
        active
            .send_keys("checked ticket OPS-7")
            .await
            .expect("type reason");
        active.send_keys(&Key::Tab.to_string()).await.expect("tab");
        let button = client.active_element().await.expect("active");
        assert_eq!(
            button.attr("value").await.expect("attr").as_deref(),
            Some("approve")
        );
        button
            .send_keys(&Key::Enter.to_string())
            .await
            .expect("approve with Enter");
        let res = tokio::time::timeout(WAIT, waiter)
            .await
            .expect("decided in time")
            .expect("join");
        assert_eq!(
            res,
            Resolution::Approved {
                approvers: vec!["bob".into()]
            }
        );
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(".badge.s-approved"))
            .await
            .expect("approved badge");
        let page = client
            .find(Locator::Css("#request-page"))
            .await
            .expect("page")
            .text()
            .await
            .expect("text");
        assert!(page.contains("checked ticket OPS-7"), "{page}");
        browser::screenshot(client, "request-approved.png").await;

        // --- deny path, clicking, on a phone-sized viewport --------------------------
        client.set_window_size(390, 844).await.expect("phone size");
        client
            .goto(&format!("{}/inbox", c.base))
            .await
            .expect("inbox");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("body[data-live='1']"))
            .await
            .expect("live again");
        let held = common::hold(&c, "alice", "UPDATE accounts SET balance = 0").await;
        let id = held.id.clone();
        let waiter = tokio::spawn(held.wait());
        let card = format!("article[data-id='{id}']");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&card))
            .await
            .expect("second hold appears live");
        assert!(
            no_horizontal_scroll(client).await,
            "inbox fits a phone-sized viewport"
        );
        browser::screenshot(client, "inbox-phone.png").await;
        let reason = client
            .find(Locator::Css(&format!("#reason-{id}")))
            .await
            .expect("reason");
        reason.send_keys("add a WHERE clause").await.expect("type");
        client
            .find(Locator::Css(&format!("{card} button.deny")))
            .await
            .expect("deny button")
            .click()
            .await
            .expect("click deny");
        let res = tokio::time::timeout(WAIT, waiter)
            .await
            .expect("decided in time")
            .expect("join");
        assert_eq!(
            res,
            Resolution::Denied {
                by: "bob".into(),
                reason: Some("add a WHERE clause".into())
            }
        );
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(".badge.s-denied"))
            .await
            .expect("denied badge");
        assert!(
            no_horizontal_scroll(client).await,
            "request page fits a phone-sized viewport"
        );
        browser::screenshot(client, "request-denied-phone.png").await;
    })
    .await;
    let _ = b.client.clone().close().await;
    c.stop().await;
    result.expect("browser scenario finished within 120s");
}
