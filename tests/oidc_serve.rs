//! Single sign-on through the real `warden serve` and a real OpenID provider (npm
//! `oidc-provider`, started by the test), at the HTTP level (curl keeps the cookies): a
//! person signs in through the provider's pages into the console and gets the roles
//! their groups map to; a bad signature, a token for another client, an expired token, a
//! replayed state, a state this browser was not given and a person with no mapped role
//! are each refused (and audited) with no session; local users keep signing in, also
//! while the provider is down at start, and single sign-on starts once it is up.

mod cli_support;
#[path = "../crates/oidc/tests/support/mod.rs"]
mod idp;
mod oidc_support;

use std::time::Duration;

use cli_support::free_port;
use idp::IdP;
use oidc_support::{
    assert_no_session, csrf_of, start_pair, to_callback, Console, Jar, LOCAL, LOCAL_PW,
};

#[test]
fn alice_signs_in_with_her_groups_roles_and_a_replayed_state_is_refused() {
    let Some((_idp, c)) = start_pair() else {
        return;
    };
    let (_, login, _) = Jar::new().get(&format!("{}/login", c.base), &[]);
    assert!(login.contains("Sign in with Test IdP"), "{login}");

    let jar = Jar::new();
    let (callback, state_cookie) = to_callback(&c, &jar, "alice", "/audit");
    let (code, page, _) = jar.get(&callback, &[]);
    assert_eq!(code, "200", "{page}");
    assert!(
        page.contains("Signed in as <strong>alice</strong>"),
        "{page}"
    );
    assert!(page.contains("url=/audit"), "moves on to next: {page}");
    // The session: viewer (from `staff`) reads the audit explorer; admin (from
    // `db-admins`) is shown as a role.
    let (code, audit, _) = jar.get(&format!("{}/audit", c.base), &[]);
    assert_eq!(code, "200", "{audit}");
    assert!(audit.contains("alice"), "{audit}");
    let records = c.audit("method=oidc");
    assert!(records.contains("\"authenticated\""), "{records}");
    assert!(
        records.contains("\"admin\"") && records.contains("\"viewer\""),
        "{records}"
    );

    // The same callback again, with the state cookie it had: the state is used up.
    let replay = Jar::new();
    let (code, page, _) = replay.get(
        &callback,
        &["-H", &format!("Cookie: warden_oidc={state_cookie}")],
    );
    assert_eq!(code, "400", "{page}");
    assert!(page.contains("unknown, expired or already used"), "{page}");
    assert_no_session(&c, &replay);
    assert!(
        c.audit("unknown, expired or already used state")
            .contains("\"auth_failed\""),
        "replay audited"
    );

    // Logout ends the single sign-on session like a local one.
    let csrf = csrf_of(&audit);
    let (code, _, _) = jar.get(
        &format!("{}/logout", c.base),
        &["--data", &format!("csrf={csrf}")],
    );
    assert_eq!(code, "303");
    assert_no_session(&c, &jar);
}

#[test]
fn bad_signature_wrong_audience_expired_token_and_no_role_are_refused() {
    let Some((_idp, c)) = start_pair() else {
        return;
    };
    for (user, status, reason) in [
        ("tamper-signature", "403", "id token refused: signature"),
        ("tamper-audience", "403", "id token refused: audience"),
        ("tamper-expired", "403", "id token refused: expired"),
        ("bob", "403", "no mapped role (groups: contractors)"),
    ] {
        let jar = Jar::new();
        let (callback, _) = to_callback(&c, &jar, user, "/audit");
        let (code, page, _) = jar.get(&callback, &[]);
        assert_eq!(code, status, "{user}: {page}");
        assert!(page.contains("Sign-in refused"), "{user}: {page}");
        assert_no_session(&c, &jar);
        let records = c.audit(reason);
        assert!(
            records.contains("\"auth_failed\"") && records.contains("method=oidc"),
            "{user} audited as {reason}: {records}"
        );
    }
    // A callback whose state this browser was never given.
    let jar = Jar::new();
    let (callback, _) = to_callback(&c, &jar, "alice", "/audit");
    let (code, page, _) = Jar::new().get(&callback, &[]);
    assert_eq!(code, "400", "{page}");
    assert!(page.contains("not started in this browser"), "{page}");
}

#[test]
fn local_users_sign_in_while_the_provider_is_down_and_sso_starts_when_it_is_up() {
    let (port, redirect) = Console::port_and_redirect();
    let idp_port = free_port();
    let c = Console::start(port, &format!("http://127.0.0.1:{idp_port}"));
    c.server.wait_stderr(
        "single sign-on unavailable: cannot reach the identity provider",
        Duration::from_secs(30),
    );
    let jar = Jar::new();
    let (code, page, _) = jar.get(&format!("{}/login/oidc", c.base), &[]);
    assert_eq!(code, "503", "{page}");
    assert!(page.contains("cannot be reached"), "{page}");
    // The local user signs in with the login form.
    let (_, form, _) = jar.get(&format!("{}/login", c.base), &[]);
    let csrf = csrf_of(&form);
    let (code, _, location) = jar.get(
        &format!("{}/login", c.base),
        &[
            "--data",
            &format!("user={LOCAL}&password={LOCAL_PW}&csrf={csrf}&next=/audit"),
        ],
    );
    assert_eq!((code.as_str(), location.ends_with("/audit")), ("303", true));
    let (code, _, _) = jar.get(&format!("{}/audit", c.base), &[]);
    assert_eq!(code, "200");

    // The provider comes up: discovery is retried (every second here) and SSO works.
    let Some(_idp) = IdP::start_for(idp_port, "k1", &redirect) else {
        return;
    };
    c.wait_sso_ready();
    let jar = Jar::new();
    let (callback, _) = to_callback(&c, &jar, "alice", "/inbox");
    let (code, page, _) = jar.get(&callback, &[]);
    assert_eq!(code, "200", "{page}");
}

#[test]
fn check_reports_every_oidc_mistake_with_its_position_and_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cli_support::write_config(
        dir.path(),
        free_port(),
        "oidc:\n  issuer: http://login.example.com\n  client_id: warden\n  client_secret_env: WARDEN_TEST_OIDC_UNSET\n  client_secret_file: /etc/warden/oidc-secret\n  redirect_url: https://w.example.com/login/oidc/callback\n  rolse: { ops: [admin] }\n",
    );
    let (code, _, err) = cli_support::run(&["check", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(code, Some(2), "{err}");
    let file = cfg.display().to_string();
    for needle in [
        format!("{file}:8:3: oidc.issuer: `http://login.example.com` must be an https:// URL"),
        format!("{file}:11:3: oidc.client_secret_file: set either client_secret_env or client_secret_file, not both"),
        format!("{file}:13:3: oidc.rolse: unknown key `rolse` (did you mean `roles`?)"),
        format!("{file}:7:1: oidc.roles: map at least one group to Warden roles"),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in\n{err}");
    }
}
