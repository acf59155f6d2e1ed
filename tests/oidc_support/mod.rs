//! Shared by the single sign-on tests of the real `warden serve`: a console whose
//! `oidc:` points at the test provider (crates/oidc/tests/support), a local user, and a
//! curl "browser" with its own cookie jar.

#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use crate::cli_support::{cheap_password_hash, curl, free_port, write_config, Server};
use crate::idp::{settings_yaml_for, sign_in_until, IdP};

/// A local user of `users:` (viewer), for the audit API and the local sign-in.
pub const LOCAL: &str = "carol";
pub const LOCAL_PW: &str = "carol-local-password";

/// A running `warden serve` whose console signs in through `issuer`.
pub struct Console {
    pub base: String,
    pub redirect: String,
    pub server: Server,
    _dir: tempfile::TempDir,
}

impl Console {
    /// The console's port is chosen first: the provider must know its callback URL.
    pub fn port_and_redirect() -> (u16, String) {
        let port = free_port();
        (port, format!("http://127.0.0.1:{port}/login/oidc/callback"))
    }

    pub fn start(web_port: u16, issuer: &str) -> Console {
        Console::start_with(web_port, issuer, "", &[])
    }

    /// [`start`](Self::start) with more warden.yaml (`extra`, top-level sections after
    /// `users:` and `oidc:`) and more files in the config folder (`policies/…`).
    pub fn start_with(web_port: u16, issuer: &str, extra: &str, files: &[(&str, &str)]) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = format!("http://127.0.0.1:{web_port}");
        let redirect = format!("{base}/login/oidc/callback");
        let section: String = settings_yaml_for(issuer, "warden", &redirect)
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        let extra = format!(
            "users:\n  - name: {LOCAL}\n    roles: [viewer]\n    password_hash: \"{}\"\noidc:\n{section}{extra}",
            cheap_password_hash(LOCAL_PW)
        );
        let cfg = write_config(dir.path(), web_port, &extra);
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).expect("config folder file");
        }
        let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
        server.wait_stdout("console listening", Duration::from_secs(30));
        Console {
            base,
            redirect,
            server,
            _dir: dir,
        }
    }

    /// Stops the server (SIGTERM, exit 0) and starts it again on the same config folder.
    pub fn restart(self) -> Console {
        let Console {
            base,
            redirect,
            server,
            _dir,
        } = self;
        let (code, _) = server.terminate();
        assert_eq!(code, Some(0), "a clean stop");
        let cfg = _dir.path().join("warden.yaml");
        let server = Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
        server.wait_stdout("console listening", Duration::from_secs(30));
        Console {
            base,
            redirect,
            server,
            _dir,
        }
    }

    pub fn wait_sso_ready(&self) {
        self.server
            .wait_stderr("single sign-on ready", Duration::from_secs(30));
    }

    /// The audit records the console's API finds for `q`, as JSON text (asked as the
    /// local viewer).
    pub fn audit(&self, q: &str) -> String {
        let url = format!("{}/api/v1/audit?q={}", self.base, q.replace(' ', "%20"));
        let (code, body) = curl(&["-u", &format!("{LOCAL}:{LOCAL_PW}"), &url]);
        assert_eq!(code, "200", "{body}");
        body
    }
}

/// A cookie jar file (curl's format) for one browser.
pub struct Jar(tempfile::NamedTempFile);

impl Jar {
    pub fn new() -> Jar {
        Jar(tempfile::NamedTempFile::new().expect("jar"))
    }
    pub fn path(&self) -> &str {
        self.0.path().to_str().expect("utf8")
    }
    /// (status, body, Location) of a GET with this jar.
    pub fn get(&self, url: &str, extra: &[&str]) -> (String, String, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "10",
                "-b",
                self.path(),
                "-c",
                self.path(),
            ])
            .args(extra)
            .args(["-w", "\n%{http_code} %{redirect_url}", url])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, status) = text.rsplit_once('\n').expect("status line");
        let (code, location) = status.split_once(' ').unwrap_or((status, ""));
        (code.to_string(), body.to_string(), location.to_string())
    }
    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.0.path())
            .expect("read jar")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 7 && f[5] == name).then(|| f[6].to_string())
            })
            .next_back()
    }
}

/// Start a sign-in at the console, walk the provider's pages as `user`; the callback
/// URL and the state cookie the console set.
pub fn to_callback(c: &Console, jar: &Jar, user: &str, next: &str) -> (String, String) {
    let (code, _, provider) = jar.get(&format!("{}/login/oidc?next={next}", c.base), &[]);
    assert_eq!(
        code, "303",
        "GET /login/oidc sends the browser to the provider"
    );
    let cookie = jar.cookie("warden_oidc").expect("state cookie");
    let callback = sign_in_until(&provider, user, &c.redirect, Some(jar.path()));
    (callback, cookie)
}

pub fn assert_no_session(c: &Console, jar: &Jar) {
    let (code, _, location) = jar.get(&format!("{}/audit", c.base), &[]);
    assert_eq!(code, "303", "no session: sent to the login page");
    assert!(location.contains("/login?next="), "{location}");
}

pub fn start_pair() -> Option<(IdP, Console)> {
    start_pair_with("", &[])
}

/// [`start_pair`] with more warden.yaml and files (see [`Console::start_with`]).
pub fn start_pair_with(extra: &str, files: &[(&str, &str)]) -> Option<(IdP, Console)> {
    let (port, redirect) = Console::port_and_redirect();
    let idp = IdP::start_for(free_port(), "k1", &redirect)?;
    let console = Console::start_with(port, &idp.issuer, extra, files);
    console.wait_sso_ready();
    Some((idp, console))
}

/// Signs `user` in through the provider; the browser's jar then holds the session.
pub fn sso_session(c: &Console, user: &str) -> Jar {
    let jar = Jar::new();
    let (callback, _) = to_callback(c, &jar, user, "/inbox");
    let (code, page, _) = jar.get(&callback, &[]);
    assert_eq!(code, "200", "{page}");
    jar
}

/// Signs the local user in with the login form; the jar then holds the session.
pub fn local_session(c: &Console) -> Jar {
    let jar = Jar::new();
    let (_, form, _) = jar.get(&format!("{}/login", c.base), &[]);
    let csrf = csrf_of(&form);
    let (code, _, _) = jar.get(
        &format!("{}/login", c.base),
        &[
            "--data",
            &format!("user={LOCAL}&password={LOCAL_PW}&csrf={csrf}&next=/inbox"),
        ],
    );
    assert_eq!(code, "303", "local sign-in");
    jar
}

/// The CSRF token of the first form on `page`.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a form's CSRF token")
        .to_string()
}
