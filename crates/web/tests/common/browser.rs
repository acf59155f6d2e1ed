//! Real headless Chromium through chromedriver (WebDriver), for end-to-end tests.
//!
//! `launch` returns `None` (the test skips, saying why) when chromedriver is not
//! installed, unless `WARDEN_REQUIRE_BROWSER=1` (set by `.ci/run`), which turns the
//! skip into a failure.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};

pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// The chromedriver process; killed when dropped (also when the test fails).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or(None)
}

fn chromium_binary() -> Option<String> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .map(str::to_string)
}

fn skip_or_fail(why: &str) -> Option<Browser> {
    if std::env::var("WARDEN_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("browser end-to-end test required (WARDEN_REQUIRE_BROWSER=1) but {why}");
    }
    eprintln!(
        "SKIPPED browser end-to-end test: {why} (install chromium + chromium-driver to run it)"
    );
    None
}

/// Where screenshots go: `<workspace>/target/e2e-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        // `<target>/tmp`'s parent: right for the tests of any package of the workspace.
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join(".."));
    let dir = target.join("e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("create artifacts dir");
    dir
}

pub async fn launch() -> Option<Browser> {
    let Some(driver_path) = find_in_path("chromedriver") else {
        return skip_or_fail("chromedriver is not on PATH");
    };
    let Some(chromium) = chromium_binary() else {
        return skip_or_fail("no chromium binary found");
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let driver = Driver(
        Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "chromedriver did not listen within 15s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several rustls providers are compiled into the workspace; pick ring explicitly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let profile = tempfile::tempdir().expect("profile dir");
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let builder = ClientBuilder::rustls()
        .expect("tls connector")
        .capabilities(caps)
        .to_owned();
    let client = tokio::time::timeout(
        Duration::from_secs(30),
        builder.connect(&format!("http://127.0.0.1:{port}")),
    )
    .await
    .expect("webdriver session within 30s")
    .expect("webdriver session");
    Some(Browser {
        client,
        _driver: driver,
        _profile: profile,
    })
}

/// Presses one key on whatever has focus (real keyboard input through WebDriver).
pub async fn press(client: &Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.expect("key press");
}

pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("screenshot");
    let path = artifacts_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
    path
}
