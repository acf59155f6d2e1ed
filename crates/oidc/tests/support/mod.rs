//! The test identity provider: `oidc-provider` from npm (installed once under the
//! target folder), run with node on a free port; and a browser stand-in that walks the
//! provider's login and consent pages with curl (cookies kept in a jar) until the
//! provider redirects to Warden's callback. Also used by the workspace's
//! `tests/oidc_serve.rs` (through `#[path]`), so it names no file of this crate by path.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

pub const REDIRECT: &str = "http://127.0.0.1:9/auth/oidc/callback";

static INSTALL: Mutex<()> = Mutex::new(());

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The folder holding node_modules/oidc-provider, or `None` (a skip, outside CI) when
/// node or npm is missing.
fn installed() -> Option<(PathBuf, String)> {
    let have = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("node") || !have("npm") {
        assert!(
            std::env::var_os("CI").is_none(),
            "node and npm are required in CI"
        );
        eprintln!("SKIP: node/npm not installed");
        return None;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "oidc-provider@9",
            ])
            .current_dir(&dir)
            .output()
            .expect("npm");
        assert!(
            out.status.success(),
            "npm install oidc-provider: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Next to its node_modules, so `import 'oidc-provider'` resolves; one file per
    // process, since test binaries of two crates may write it at once.
    let script = format!("provider-{}.mjs", std::process::id());
    std::fs::write(dir.join(&script), include_str!("provider.mjs")).expect("write provider.mjs");
    Some((dir, script))
}

/// A running provider; killed on drop.
pub struct IdP {
    pub issuer: String,
    pub port: u16,
    child: Child,
}

impl IdP {
    pub fn start(key_id: &str) -> Option<IdP> {
        IdP::start_on(free_port(), key_id)
    }

    pub fn start_on(port: u16, key_id: &str) -> Option<IdP> {
        IdP::start_for(port, key_id, REDIRECT)
    }

    /// A provider on `port` whose clients may redirect to `redirect` only.
    pub fn start_for(port: u16, key_id: &str, redirect: &str) -> Option<IdP> {
        let (dir, script) = installed()?;
        let mut child = Command::new("node")
            .arg(&script)
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("KEY_ID", key_id)
            .env("REDIRECT_URI", redirect)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node provider.mjs");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        assert!(
            line.starts_with("listening "),
            "provider did not start: {line:?}"
        );
        // Keep reading: the provider logs notices on stdout and dies on a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Some(IdP {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            child,
        })
    }
}

impl Drop for IdP {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `warden.yaml`'s `oidc:` section for `client` at `idp`.
pub fn settings_yaml(idp: &IdP, client: &str) -> String {
    settings_yaml_for(&idp.issuer, client, REDIRECT)
}

/// The `oidc:` section's keys for `client` at `issuer`, redirecting to `redirect`.
pub fn settings_yaml_for(issuer: &str, client: &str, redirect: &str) -> String {
    format!(
        "name: Test IdP\nissuer: {issuer}\nclient_id: {client}\nclient_secret_file: {}\nredirect_url: {redirect}\n\
         roles:\n  db-admins: [admin]\n  staff: [viewer]\njwks_refresh_min: 0s\ndiscovery_retry: 1s\n",
        secret_file(client).display()
    )
}

/// A secret file of its own for each call: tests run in parallel, and rewriting one shared
/// file let another test read it empty, between truncation and write (a flaky
/// "client_secret must be provided" from the provider).
fn secret_file(client: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("oidc-{client}-{}-{n}.secret", std::process::id());
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, format!("{client}-secret\n")).expect("secret");
    path
}

/// Walk the provider's pages from `start` as `user` (any password), through login and
/// consent, and return the callback URL the provider redirects to.
pub fn sign_in_at_provider(start: &str, user: &str) -> String {
    sign_in_until(start, user, REDIRECT, None)
}

/// Like [`sign_in_at_provider`], for a callback at `redirect`; `jar` keeps the cookies
/// (a cookie file of the caller's, so a console's cookies set before are sent along).
pub fn sign_in_until(start: &str, user: &str, redirect: &str, jar: Option<&str>) -> String {
    let own = tempfile::NamedTempFile::new().expect("jar");
    let jar = jar
        .map(str::to_string)
        .unwrap_or_else(|| own.path().to_str().expect("utf8").to_string());
    let mut url = start.to_string();
    let mut form: Option<String> = None;
    for _ in 0..12 {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "--max-time",
            "10",
            "-b",
            &jar,
            "-c",
            &jar,
            "-w",
            "\n%{http_code} %{redirect_url}",
        ]);
        if let Some(body) = form.take() {
            cmd.args(["--data", &body]);
        }
        let out = cmd.arg(&url).output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, status) = text.rsplit_once('\n').expect("status line");
        let (code, location) = status.split_once(' ').unwrap_or((status, ""));
        if code.starts_with('3') {
            if location.starts_with(redirect) {
                return location.to_string();
            }
            url = location.to_string();
            continue;
        }
        assert_eq!(code, "200", "{url}: {body}");
        form = Some(if body.contains("name=\"prompt\" value=\"login\"") {
            format!("prompt=login&login={user}&password=anything")
        } else if body.contains("name=\"prompt\" value=\"consent\"") {
            "prompt=consent".to_string()
        } else {
            panic!("unexpected provider page at {url}: {body}")
        });
    }
    panic!("the provider never redirected to the callback")
}

/// Walk to the provider's login page from `start`, then cancel there (`…/abort`); the
/// callback URL the provider redirects to (with `error=access_denied`).
pub fn cancel_at_provider(start: &str) -> String {
    let jar = tempfile::NamedTempFile::new().expect("jar");
    let jar = jar.path().to_str().expect("utf8").to_string();
    let hop = |url: &str| -> String {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "-b",
                &jar,
                "-c",
                &jar,
                "-w",
                "%{redirect_url}",
                url,
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let interaction = hop(start);
    assert!(interaction.contains("/interaction/"), "{interaction}");
    let mut url = hop(&format!("{interaction}/abort"));
    for _ in 0..5 {
        if url.starts_with(REDIRECT) {
            return url;
        }
        url = hop(&url);
    }
    panic!("the provider never redirected to the callback after the cancel: {url}")
}

/// The `state` and `code` of a callback URL.
pub fn callback_params(url: &str) -> (String, String) {
    (query(url, "state"), query(url, "code"))
}

/// One query parameter of `url` (panics when absent).
pub fn query(url: &str, key: &str) -> String {
    let parsed = url::Url::parse(url).expect("callback URL");
    parsed
        .query_pairs()
        .find(|(n, _)| n == key)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no {key} in {url}"))
}
