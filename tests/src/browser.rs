//! A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromedriver`), for
//! the page tests: open a page, find elements by CSS selector, click, type, read text, answer
//! prompts, and keep a screenshot of every page as a test artifact.
//!
//! The protocol is a handful of JSON calls, so it is spoken here directly with `reqwest` rather
//! than through another client library.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::counter_rig::until;

/// Chromium as Debian installs it; `.ci/run` installs the package.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long chromedriver may take to start listening.
/// The W3C name of an element reference in a WebDriver answer.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where screenshots go: `POS_TEST_ARTIFACTS`, or `test-artifacts/` at the workspace root.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("POS_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts"))
}

/// A chromedriver process and one browser session in it; both end when this is dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. Panics (the test fails, never skips) when
    /// Chromium or chromedriver is missing.
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        let base = format!("http://127.0.0.1:{port}");
        until("chromedriver to start", || async {
            let response = http.get(format!("{base}/status")).send().await.ok()?;
            let status: Value = response.json().await.ok()?;
            (status["value"]["ready"].as_bool() == Some(true)).then_some(())
        })
        .await;
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1366,1000", "--disable-background-networking", "--no-first-run",
                        "--disable-extensions", "--disable-sync", "--lang=ja",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session answer");
        let session =
            answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {answer}")).to_string();
        Browser { http, session: format!("{base}/session/{session}"), driver, _profile: profile }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("webdriver call").json().await.expect("webdriver answer");
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("webdriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        match answer["value"]["error"].as_str() {
            Some(error) => Err(format!("{error}: {}", answer["value"]["message"])),
            None => Ok(answer["value"].clone()),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    async fn find(&self, selector: &str) -> Option<String> {
        let found = self
            .try_call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": selector })))
            .await
            .ok()?;
        found[ELEMENT_KEY].as_str().map(str::to_string)
    }

    /// Waits until `selector` matches a visible element, and returns its reference.
    pub async fn visible(&self, selector: &str) -> String {
        until(&format!("{selector} to be visible"), || async {
            let element = self.find(selector).await?;
            let shown = self.try_call(reqwest::Method::GET, &format!("/element/{element}/displayed"), None).await;
            (shown.ok()?.as_bool() == Some(true)).then_some(element)
        })
        .await
    }

    /// [`Browser::visible`] with an owned selector (for closures that build one).
    pub async fn visible_owned(&self, selector: String) -> String {
        self.visible(&selector).await
    }

    pub async fn click(&self, selector: &str) {
        let element = self.visible(selector).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// Clears a field and types `text` into it.
    pub async fn fill(&self, selector: &str, text: &str) {
        let element = self.visible(selector).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
    }

    pub async fn text(&self, selector: &str) -> String {
        let element = self.visible(selector).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the text of `selector` satisfies `want`; returns it.
    pub async fn text_until(&self, selector: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
        until(&format!("{selector} to show {what}"), || async {
            let element = self.find(selector).await?;
            let value = self.try_call(reqwest::Method::GET, &format!("/element/{element}/text"), None).await.ok()?;
            let text = value.as_str().unwrap_or_default().to_string();
            want(&text).then_some(text)
        })
        .await
    }

    /// Waits for a `prompt()` and answers it with `text`.
    pub async fn answer_prompt(&self, text: &str) {
        until("a prompt", || async { self.try_call(reqwest::Method::GET, "/alert/text", None).await.ok() }).await;
        self.call(reqwest::Method::POST, "/alert/text", Some(json!({ "text": text }))).await;
        self.call(reqwest::Method::POST, "/alert/accept", Some(json!({}))).await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("PNG base64")
    }

    /// Keeps a screenshot as `<artifacts>/<name>.png`; returns its path.
    pub async fn keep_screenshot(&self, name: &str) -> PathBuf {
        let dir = artifacts_dir().join("pages");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.screenshot_png().await).expect("screenshot written");
        path
    }

    /// Ends the browser session (closing Chromium) and chromedriver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Opens a new tab and switches to it (a second device: the customer's phone); returns the
    /// handle of the tab that was current, to switch back with [`Browser::switch_to`].
    pub async fn open_tab(&self) -> String {
        let current = self.call(reqwest::Method::GET, "/window", None).await.as_str().unwrap_or_default().to_string();
        let opened = self.call(reqwest::Method::POST, "/window/new", Some(json!({ "type": "tab" }))).await;
        let handle = opened["handle"].as_str().unwrap_or_default().to_string();
        self.switch_to(&handle).await;
        current
    }

    pub async fn switch_to(&self, handle: &str) {
        self.call(reqwest::Method::POST, "/window", Some(json!({ "handle": handle }))).await;
    }

    pub async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Signs in on the sign-in page with `token` and waits to land on `next`.
    pub async fn sign_in(&self, base: &str, token: &str, next: &str) {
        self.delete_cookies().await;
        self.goto(&format!("{base}/sign-in?next={next}")).await;
        self.fill("#token", token).await;
        self.click("#sign-in-button").await;
        let page = next.split('?').next().unwrap_or(next);
        until(&format!("the sign-in as {token} to reach {next}"), || async {
            let url = self.current_url().await;
            (!url.contains("/sign-in") && url.contains(page)).then_some(())
        })
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
