//! Gateway tokens through the real `warden serve`, a real OpenID provider (npm
//! `oidc-provider`), the machine's PostgreSQL with the real `psql`, and a real HTTP
//! upstream: a person signed in by single sign-on mints a token in the console and uses
//! it as a bearer token through an HTTP target and as a psql password through a postgres
//! target, with the roles their groups mapped to (a policy lets only `admin` read
//! `secrets`); a local user's token carries the local user's roles; a token given with
//! another user name, a revoked token and an expired token are refused with a clear error
//! in the client's protocol; every mint, revoke and token login is audited with the
//! token's id, never its secret; local users keep working.

mod cli_support;
#[path = "../crates/oidc/tests/support/mod.rs"]
mod idp;
mod oidc_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use cli_support::{curl, free_port, test_database, Database};
use oidc_support::{
    csrf_of, local_session, sso_session, start_pair_with, Console, Jar, LOCAL, LOCAL_PW,
};

const SECRETS_POLICY: &str = "version: 1\nrules:\n  - name: secrets-need-admin\n    when: { protocol: postgres, sql: { objects: [\"*secrets\"] } }\n    unless: { user: { roles: [admin] } }\n    action: deny\n    message: only admins read secrets\n";

/// A real HTTP/1.1 server answering every request `200 upstream-ok` (one connection at a
/// time, `Connection: close`), on a thread for the rest of the test.
fn http_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let _ = reader.get_mut().write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nupstream-ok",
            );
        }
    });
    port
}

struct Setup {
    _idp: idp::IdP,
    c: Console,
    db: Database,
    http: String,
    pg_port: u16,
}

fn setup(name: &str) -> Option<Setup> {
    let db = test_database(
        name,
        "CREATE TABLE secrets(v text); INSERT INTO secrets VALUES ('s1'); CREATE TABLE notes(v text); INSERT INTO notes VALUES ('n1')",
    )?;
    let (http_port, pg_port) = (free_port(), free_port());
    let extra = format!(
        "targets:\n  - {{ name: api, protocol: http, listen: 127.0.0.1:{http_port}, upstream: 127.0.0.1:{} }}\n  - {{ name: db, protocol: postgres, listen: 127.0.0.1:{pg_port}, upstream: 127.0.0.1:5432, upstream_user: postgres }}\n",
        http_upstream()
    );
    let (idp, c) = start_pair_with(&extra, &[("policies/secrets.yaml", SECRETS_POLICY)])?;
    Some(Setup {
        _idp: idp,
        c,
        db,
        http: format!("http://127.0.0.1:{http_port}/things"),
        pg_port,
    })
}

/// Mints a token on the console page with lifetime `ttl`; (status, page, token).
fn mint(c: &Console, jar: &Jar, ttl: &str) -> (String, String, Option<String>) {
    let (code, page, _) = jar.get(&format!("{}/tokens", c.base), &[]);
    assert_eq!(code, "200", "{page}");
    let csrf = csrf_of(&page);
    let (code, page, _) = jar.get(
        &format!("{}/tokens", c.base),
        &["--data", &format!("csrf={csrf}&ttl={ttl}")],
    );
    let token = page
        .split("<code id=\"token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_string);
    (code, page, token)
}

fn id_of(token: &str) -> String {
    token[4..12].to_string()
}

/// `psql -c sql` as `user` with `password` through the postgres target: (ok, stdout,
/// stderr).
fn psql(s: &Setup, user: &str, password: &str, sql: &str) -> (bool, String, String) {
    let out = Command::new("psql")
        .arg(format!(
            "postgresql://{user}@127.0.0.1:{}/{}?sslmode=disable",
            s.pg_port, s.db.0
        ))
        .args(["-qAtc", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn bearer(url: &str, token: &str) -> (String, String) {
    curl(&["-H", &format!("Authorization: Bearer {token}"), url])
}

#[test]
fn an_sso_token_is_a_bearer_token_and_a_psql_password_with_the_sso_roles() {
    let Some(s) = setup("warden_gwtok_a") else {
        return;
    };
    let c = &s.c;
    let alice = sso_session(c, "alice");
    let (code, page, token) = mint(c, &alice, "10m");
    assert_eq!(code, "201", "{page}");
    let token = token.expect("the new token on the page");
    assert!(page.contains("shown only this once"), "{page}");
    assert!(
        page.contains(&format!(
            "PGPASSWORD='{token}' psql -h 127.0.0.1 -p {}",
            s.pg_port
        )),
        "copy-paste examples: {page}"
    );
    assert!(page.contains("kubectl --server=http://"), "{page}");
    let id = id_of(&token);

    // HTTP bearer through the target to the real upstream, as alice with her SSO roles.
    let (code, body) = bearer(&s.http, &token);
    assert_eq!((code.as_str(), body.as_str()), ("200", "upstream-ok"));
    let records = c.audit(&format!("token={id}"));
    assert!(
        records.contains("\"authenticated\"") && records.contains("\"alice\""),
        "{records}"
    );
    assert!(
        records.contains("\"admin\""),
        "roles from the groups: {records}"
    );
    assert!(records.contains("gateway_token_minted"), "{records}");
    assert!(!records.contains(&token), "never the secret: {records}");

    // psql with the token as password: the policy sees alice's `admin` role.
    let (ok, out, err) = psql(&s, "alice", &token, "SELECT v FROM secrets");
    assert!(ok, "{err}");
    assert_eq!(out, "s1");
    assert!(c.audit("method=token").contains("\"postgres\""));

    // The same token with another user name: refused in each protocol.
    let (ok, _, err) = psql(&s, LOCAL, &token, "SELECT 1");
    assert!(
        !ok && err.contains("password authentication failed"),
        "{err}"
    );
    let (code, body) = curl(&["-u", &format!("{LOCAL}:{token}"), &s.http]);
    assert_eq!(code, "401", "{body}");
    assert!(body.contains("not issued to this user name"), "{body}");
    // The token is not a console credential.
    let (code, _) = curl(&[
        "-u",
        &format!("alice:{token}"),
        &format!("{}/api/v1/tokens", c.base),
    ]);
    assert_eq!(code, "401");

    // The local user keeps working (Basic through the target) and her own token carries
    // her configured roles: viewer may not read `secrets`, but may read `notes`.
    let (code, body) = curl(&["-u", &format!("{LOCAL}:{LOCAL_PW}"), &s.http]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "upstream-ok"));
    let carol = local_session(c);
    let (code, page, carol_token) = mint(c, &carol, "5m");
    assert_eq!(code, "201", "{page}");
    let carol_token = carol_token.expect("carol's token");
    let (ok, out, err) = psql(&s, LOCAL, &carol_token, "SELECT v FROM notes");
    assert!(ok, "{err}");
    assert_eq!(out, "n1");
    let (ok, _, err) = psql(&s, LOCAL, &carol_token, "SELECT v FROM secrets");
    assert!(!ok && err.contains("only admins read secrets"), "{err}");
    // The API lists carol's token (and not alice's) for carol's Basic credentials.
    let (code, list) = curl(&[
        "-u",
        &format!("{LOCAL}:{LOCAL_PW}"),
        &format!("{}/api/v1/tokens", c.base),
    ]);
    assert_eq!(code, "200", "{list}");
    assert!(
        list.contains(&id_of(&carol_token)) && !list.contains(&id),
        "{list}"
    );

    // Revoked in the console: refused with the reason, in both protocols.
    let (_, page, _) = alice.get(&format!("{}/tokens", c.base), &[]);
    assert!(page.contains(&format!("wdn_{id}_")), "listed: {page}");
    let (code, page, _) = alice.get(
        &format!("{}/tokens/{id}/revoke", c.base),
        &["--data", &format!("csrf={}", csrf_of(&page))],
    );
    assert_eq!(code, "200", "{page}");
    assert!(!page.contains(&format!("wdn_{id}_")), "no longer listed");
    let (code, body) = bearer(&s.http, &token);
    assert_eq!(code, "401");
    assert!(
        body.contains(&format!("gateway token {id} was revoked")),
        "{body}"
    );
    let (ok, _, err) = psql(&s, "alice", &token, "SELECT 1");
    assert!(!ok && err.contains("was revoked"), "{err}");
    let records = c.audit(&format!("token={id}"));
    assert!(records.contains("gateway_token_revoked"), "{records}");
    let refused = c.audit(&format!("gateway token {id} was revoked"));
    assert!(
        refused.contains("\"auth_failed\"")
            && refused.contains("\"http\"")
            && refused.contains("\"postgres\""),
        "both refusals audited: {refused}"
    );
    assert!(!refused.contains(&token), "never the secret: {refused}");
}

#[test]
fn expired_tokens_lifetimes_and_forms_without_csrf_are_refused() {
    let Some(s) = setup("warden_gwtok_b") else {
        return;
    };
    let c = &s.c;
    let alice = sso_session(c, "alice");
    // Longer than gateway_tokens.max_ttl (default 1h): a clear error, no token.
    let (code, page, token) = mint(c, &alice, "2h");
    assert_eq!(code, "400", "{page}");
    assert!(token.is_none());
    assert!(page.contains("at most 3600s"), "{page}");
    // A form without the session's CSRF token mints nothing.
    let (code, page, _) = alice.get(&format!("{}/tokens", c.base), &["--data", "ttl=5m"]);
    assert_eq!(code, "403", "{page}");
    assert!(!page.contains("<code id=\"token\">"));

    let (code, page, token) = mint(c, &alice, "2s");
    assert_eq!(code, "201", "{page}");
    let token = token.expect("token");
    let (code, _) = bearer(&s.http, &token);
    assert_eq!(code, "200");
    std::thread::sleep(Duration::from_millis(2500));
    let (code, body) = bearer(&s.http, &token);
    assert_eq!(code, "401");
    assert!(body.contains("has expired"), "{body}");
    let (ok, _, err) = psql(&s, "alice", &token, "SELECT 1");
    assert!(!ok && err.contains("has expired"), "{err}");
    // The API mints (for a local user's Basic credentials here) and revokes.
    let api = format!("{}/api/v1/tokens", c.base);
    let carol = format!("{LOCAL}:{LOCAL_PW}");
    let (code, body) = curl(&["-u", &carol, "-X", "POST", "-d", r#"{"ttl":"90s"}"#, &api]);
    assert_eq!(code, "201", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let (api_token, api_id) = (
        v["token"].as_str().expect("token"),
        v["id"].as_str().expect("id"),
    );
    assert_eq!(v["roles"], serde_json::json!(["viewer"]));
    assert_eq!(bearer(&s.http, api_token).0, "200");
    let (code, body) = curl(&[
        "-u",
        &carol,
        "-X",
        "POST",
        &format!("{api}/{api_id}/revoke"),
    ]);
    assert_eq!(code, "200", "{body}");
    assert_eq!(bearer(&s.http, api_token).0, "401");
    let (code, body) = curl(&["-u", &carol, "-X", "POST", "-d", r#"{"ttl":"1d"}"#, &api]);
    assert_eq!(code, "400", "{body}");
    // A made-up token is unknown; nothing tells more.
    let last = if token.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let (code, body) = bearer(&s.http, &forged);
    assert_eq!(code, "401");
    assert!(!body.contains("expired"), "{body}");

    // Tokens outlive a restart (data_dir/gateway-tokens.json), a revoked one stays so.
    let (_, _, kept) = mint(c, &alice, "10m");
    let kept = kept.expect("token");
    let s = Setup {
        c: s.c.restart(),
        ..s
    };
    assert_eq!(bearer(&s.http, &kept).0, "200");
    let (ok, out, err) = psql(&s, "alice", &kept, "SELECT v FROM secrets");
    assert!(ok && out == "s1", "{err}");
    assert_eq!(bearer(&s.http, api_token).0, "401", "still revoked");
}
