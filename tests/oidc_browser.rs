//! Single sign-on in a real browser: headless Chromium opens the console of the real
//! `warden serve`, clicks "Sign in with Test IdP", signs in on the provider's own login
//! and consent pages (npm `oidc-provider`), and lands on the audit explorer — a page only
//! the role mapped from the person's groups may open. Screenshots of the login page and
//! the landing page go to `target/e2e-artifacts/`.

#[path = "../crates/web/tests/common/browser.rs"]
mod browser;
mod cli_support;
#[path = "../crates/oidc/tests/support/mod.rs"]
mod idp;
mod oidc_support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use oidc_support::start_pair;

const WAIT: Duration = Duration::from_secs(20);

async fn fill(client: &Client, css: &str, text: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .expect("type");
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_signs_in_through_the_providers_pages_and_lands_on_the_audit_explorer() {
    let Some(b) = browser::launch().await else {
        return;
    };
    let Some((idp, c)) = tokio::task::block_in_place(start_pair) else {
        return;
    };
    let client = &b.client;
    client
        .goto(&format!("{}/login?next=/audit", c.base))
        .await
        .expect("login page");
    let button = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#sso"))
        .await
        .expect("single sign-on button");
    assert_eq!(button.text().await.expect("text"), "Sign in with Test IdP");
    browser::screenshot(client, "oidc-login.png").await;
    button.click().await.expect("click sso");

    // The provider's own login page, then its consent page.
    fill(client, "input[name=login]", "alice").await;
    let at = client.current_url().await.expect("url");
    assert!(
        at.as_str().starts_with(&idp.issuer),
        "on the provider: {at}"
    );
    fill(client, "input[name=password]", "any password").await;
    click(client, "button[type=submit]").await;
    // The consent page (the scopes are not granted yet), then back to the console.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let at = client.current_url().await.expect("url");
        if at.as_str().starts_with(&c.base) {
            break;
        }
        if let Ok(consent) = client
            .find(Locator::Css(
                "input[name=prompt][value=consent] ~ button[type=submit]",
            ))
            .await
        {
            consent.click().await.expect("consent");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never back at the console: {at}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Back in the console, past "Signed in", on the audit explorer.
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#chain-badge"))
        .await
        .expect("the audit explorer, which needs the viewer role");
    let url = client.current_url().await.expect("url");
    assert!(
        url.as_str().starts_with(&format!("{}/audit", c.base)),
        "{url}"
    );
    let header = client
        .find(Locator::Css("header"))
        .await
        .expect("header")
        .text()
        .await
        .expect("text");
    assert!(header.contains("alice"), "signed in as alice: {header}");
    browser::screenshot(client, "oidc-landed-audit.png").await;
    let _ = b.client.clone().close().await;
}
