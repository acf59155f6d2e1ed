//! Sign-in against a real OpenID provider (npm `oidc-provider`, started by the test):
//! the authorization code flow with PKCE end to end, groups mapped to roles, and every
//! refusal — unknown and replayed state, a token for another client, a bad signature,
//! an expired token, a person with no mapped role — plus a key rotation picked up by
//! fetching the provider's keys again.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use support::{
    callback_params, cancel_at_provider, query, settings_yaml, sign_in_at_provider, IdP,
};
use warden_oidc::{OidcError, OidcProvider, OidcSettings, TokenRejection};

async fn provider(idp: &IdP, client: &str) -> OidcProvider {
    let settings = OidcSettings::from_yaml(&settings_yaml(idp, client)).expect("settings");
    OidcProvider::discover(settings).await.expect("discovery")
}

/// Sign `user` in through the provider's pages; the callback's (state, code).
fn login(p: &OidcProvider, user: &str) -> (String, String) {
    let start = p.begin().expect("begin");
    let url = url::Url::parse(&start.redirect_to).expect("url");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(q.get("state"), Some(&start.state));
    assert!(
        q.get("nonce").is_some_and(|n| n.len() >= 16),
        "a nonce: {q:?}"
    );
    assert!(
        q.get("scope")
            .is_some_and(|s| s.split(' ').any(|x| x == "openid") && s.contains("groups")),
        "{q:?}"
    );
    let (state, code) = callback_params(&sign_in_at_provider(&start.redirect_to, user));
    assert_eq!(state, start.state);
    (state, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn alice_signs_in_with_pkce_and_gets_the_roles_of_her_groups() {
    let Some(idp) = IdP::start("k1") else { return };
    let p = provider(&idp, "warden").await;
    let (state, code) = tokio::task::block_in_place(|| login(&p, "alice"));
    let signed = p.finish(&state, &code).await.expect("alice signs in");
    assert_eq!(signed.identity.username, "alice");
    assert_eq!(signed.identity.subject, "alice");
    assert_eq!(signed.identity.groups, ["db-admins", "staff"]);
    assert_eq!(signed.identity.roles, ["admin", "viewer"]);

    // The same callback again (a replayed state), and a state nobody issued.
    let again = p.finish(&state, &code).await;
    assert!(matches!(again, Err(OidcError::UnknownState)), "{again:?}");
    let forged = p.finish("forged-state", &code).await;
    assert!(matches!(forged, Err(OidcError::UnknownState)), "{forged:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_cancelled_at_the_provider_uses_up_its_state() {
    let Some(idp) = IdP::start("k1") else { return };
    let p = provider(&idp, "warden").await;
    let start = p.begin().expect("begin");
    let callback = tokio::task::block_in_place(|| cancel_at_provider(&start.redirect_to));
    assert_eq!(query(&callback, "state"), start.state);
    let err = p.fail(&start.state, &query(&callback, "error"), None);
    assert!(
        matches!(err, OidcError::Provider(ref e) if e == "access_denied"),
        "{err:?}"
    );
    let again = p.fail(&start.state, "access_denied", None);
    assert!(matches!(again, OidcError::UnknownState), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_whose_groups_map_to_no_role_is_refused() {
    let Some(idp) = IdP::start("k1") else { return };
    let p = provider(&idp, "warden").await;
    let (state, code) = tokio::task::block_in_place(|| login(&p, "bob"));
    let err = p.finish(&state, &code).await;
    assert!(
        matches!(err, Err(OidcError::NoRole { ref user, .. }) if user == "bob"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_for_another_client_with_a_bad_signature_or_expired_are_refused() {
    let Some(idp) = IdP::start("k1") else { return };
    let warden = provider(&idp, "warden").await;
    let other = provider(&idp, "other").await;

    // A genuine token of the same provider, issued to the client `other`.
    let (state, code) = tokio::task::block_in_place(|| login(&other, "alice"));
    let for_other = other
        .finish(&state, &code)
        .await
        .expect("other signs in")
        .id_token;
    let err = warden
        .verify_id_token(&for_other, "any")
        .await
        .expect_err("wrong audience");
    assert_eq!(err.rejection(), Some(&TokenRejection::Audience), "{err}");

    // Warden's own token, verified, then tampered with and aged.
    let (state, code) = tokio::task::block_in_place(|| login(&warden, "alice"));
    let token = warden
        .finish(&state, &code)
        .await
        .expect("signs in")
        .id_token;
    // finish() used the login's nonce up; read it back from the (verified) token.
    let payload = token.split('.').nth(1).expect("payload");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
            .expect("claims");
    let nonce = claims["nonce"].as_str().expect("nonce").to_string();
    warden
        .verify_id_token(&token, &nonce)
        .await
        .expect("the untouched token verifies");
    let err = warden
        .verify_id_token(&token, "another-nonce")
        .await
        .expect_err("nonce");
    assert_eq!(err.rejection(), Some(&TokenRejection::Nonce), "{err}");

    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let sig = parts[2].clone();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    parts[2] = format!("{flipped}{}", &sig[1..]);
    let err = warden
        .verify_id_token(&parts.join("."), &nonce)
        .await
        .expect_err("bad signature");
    assert_eq!(err.rejection(), Some(&TokenRejection::Signature), "{err}");

    let later = warden.with_clock(|| chrono::Utc::now() + chrono::Duration::hours(2));
    let err = later
        .verify_id_token(&token, &nonce)
        .await
        .expect_err("expired");
    assert_eq!(err.rejection(), Some(&TokenRejection::Expired), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_provider_key_is_fetched_and_a_key_it_no_longer_publishes_is_refused() {
    let Some(first) = IdP::start("k1") else {
        return;
    };
    let port = first.port;
    let p = provider(&first, "warden").await;
    let (state, code) = tokio::task::block_in_place(|| login(&p, "alice"));
    let old = p
        .finish(&state, &code)
        .await
        .expect("signs in with k1")
        .id_token;
    drop(first);

    // The provider comes back with a new key: Warden learns it from the JWKS again.
    let Some(_second) = IdP::start_on(port, "k2") else {
        return;
    };
    let (state, code) = tokio::task::block_in_place(|| login(&p, "alice"));
    let signed = p
        .finish(&state, &code)
        .await
        .expect("signs in with k2 after fetching the keys again");
    assert_eq!(signed.identity.username, "alice");

    // A token signed with the retired key no longer verifies.
    let err = p.verify_id_token(&old, "n").await.expect_err("retired key");
    assert_eq!(err.rejection(), Some(&TokenRejection::Signature), "{err}");
}
