//! A real browser on the real pages: headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` over the W3C WebDriver protocol) signs in, sees the consent page, allows, and
//! lands on the client's redirect URI with a code that the token endpoint accepts. A screenshot
//! of the consent page is kept as a test artifact: `target/test-artifacts/consent.png`.
//!
//! Runs when `chromedriver` is installed (`scripts/test-deps.sh`); with `GATEHOUSE_TEST_BROWSER`
//! set (CI), a missing browser fails the test instead of skipping it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::Encoding;
use gatehouse_axum::{Config, Gatehouse, LoginMode};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{AnyStore, MemoryBackend, ServerStore, UserRecord, password};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Driver {
    process: Child,
    base: String,
    http: reqwest::Client,
    session: String,
}

/// Ends the WebDriver session, which closes the browser, then kills what is left of chromedriver's
/// process group. Killing chromedriver alone left its chromium running, orphaned, after every run
/// (a few hundred MB each). Blocking, with a short timeout: `Drop` cannot await, and it must run
/// on a failed test too.
impl Drop for Driver {
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                // Answered once the browser is closed.
                let _ = stream.read(&mut [0; 1024]);
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.process.id())])
            .status();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start(profile: &std::path::Path) -> Self {
        let port = free_port();
        let process = Command::new("chromedriver")
            // A process group of its own, with the browser it starts (see `Drop`).
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        // reqwest is built without a default TLS provider (docs/decisions/0010).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("{base}/status")).send().await
                && response.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=900,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Self {
            process,
            base,
            http,
            session,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if response["value"].get("error").is_some() {
            panic!("WebDriver {path}: {response}");
        }
        response["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn screenshot(&self) -> Vec<u8> {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64ct::Base64::decode_vec(png.as_str().unwrap()).unwrap()
    }

    async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "the browser is at {url}, not {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The client's redirect target: a page of its own, as a native app's loopback listener.
async fn client_redirect() -> String {
    let callback = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback", callback.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(|| async { "signed in; you can close this window" }),
    );
    tokio::spawn(async move { axum::serve(callback, app).await.unwrap() });
    callback_url
}

/// Gatehouse with `config`, on an in-memory store.
async fn in_memory(config: Config) -> Gatehouse {
    let store = AnyStore::Memory(Box::new(MemoryBackend::new()));
    Gatehouse::with_store(
        config,
        store,
        EncryptionKey::generate().unwrap(),
        Default::default(),
    )
    .await
    .unwrap()
}

fn serve(listener: tokio::net::TcpListener, gatehouse: &Gatehouse) {
    let router = gatehouse
        .router()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// Registers a public client named `name` that is sent back to `callback_url`; its id.
async fn register(http: &reqwest::Client, issuer: &str, callback_url: &str, name: &str) -> String {
    let registered: Value = http
        .post(format!("{issuer}/register"))
        .json(&json!({
            "redirect_uris": [callback_url], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "client_name": name
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    registered["client_id"].as_str().unwrap().to_owned()
}

/// Redeems `code` at the token endpoint (a public client with the fixed PKCE verifier).
async fn redeem(
    http: &reqwest::Client,
    issuer: &str,
    code: &str,
    callback_url: &str,
    client_id: &str,
) -> reqwest::Response {
    http.post(format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(gatehouse_types::form::encode([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", callback_url),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ]))
        .send()
        .await
        .unwrap()
}

fn browser_available() -> bool {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && std::path::Path::new("/usr/bin/chromium").exists();
    if !found && std::env::var_os("GATEHOUSE_TEST_BROWSER").is_some() {
        panic!(
            "GATEHOUSE_TEST_BROWSER is set but chromium/chromedriver are missing (scripts/test-deps.sh installs them)"
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_consents_and_lands_on_the_redirect_uri_with_a_code() {
    if !browser_available() {
        eprintln!("chromium/chromedriver not installed: browser test skipped");
        return;
    }
    // The client's redirect target: a page of its own, as a native app's loopback listener.
    let callback_url = client_redirect().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut config = Config::demo(address);
    config.database = gatehouse_store::DatabaseUrl::Memory;
    config.login.mode = LoginMode::Local;
    let gatehouse = in_memory(config).await;
    gatehouse
        .store()
        .add_user(UserRecord {
            name: "alice".into(),
            password_hash: password::hash("correct horse battery").unwrap(),
            created_at: gatehouse_types::UnixTime::from_secs(1_800_000_000),
        })
        .await
        .unwrap();
    serve(listener, &gatehouse);
    let issuer = format!("http://{address}");
    let http = reqwest::Client::new();
    let client_id = register(&http, &issuer, &callback_url, "Browser Test Client").await;
    let authorize = format!(
        "{issuer}/authorize?{}",
        gatehouse_types::form::encode([
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", callback_url.as_str()),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "browser-state"),
            ("scope", "mcp:tools"),
        ])
    );

    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path()).await;
    driver.go(&authorize).await;
    assert!(
        driver
            .source()
            .await
            .contains("Sign in to continue to Browser Test Client")
    );
    driver.type_into("#username", "alice").await;
    driver.type_into("#password", "correct horse battery").await;
    driver.click("button[type=submit]").await;

    // The consent page: the client, the scope with its description, the warnings.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !driver.source().await.contains("will be able to") {
        assert!(
            Instant::now() < deadline,
            "no consent page: {}",
            driver.source().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = driver.source().await;
    assert!(
        page.contains("Browser Test Client") && page.contains("mcp:tools"),
        "{page}"
    );
    assert!(page.contains("Use the tools of this MCP server"));
    assert!(page.contains("registered itself"));
    let screenshot = driver.screenshot().await;
    assert!(screenshot.starts_with(b"\x89PNG"));
    let artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("consent.png"), &screenshot).unwrap();

    driver.click("button[value=approve]").await;
    let landed = driver.wait_for_url(&callback_url).await;
    let query = landed.split_once('?').unwrap().1;
    let params = gatehouse_types::form::FormParams::parse(query.as_bytes()).unwrap();
    assert_eq!(params.single("state").unwrap(), Some("browser-state"));
    assert_eq!(params.single("iss").unwrap(), Some(issuer.as_str()));
    let code = params.single("code").unwrap().unwrap().to_owned();

    let token = redeem(&http, &issuer, &code, &callback_url, &client_id).await;
    assert_eq!(token.status(), reqwest::StatusCode::OK);
    drop(driver);
}

/// The test identity provider (`interop/idp.mjs`: panva's `oidc-provider`), killed on drop.
struct IdentityProvider {
    process: Child,
    issuer: String,
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn interop_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Whether `oidc-provider` is installed (`scripts/interop-deps.sh`); with
/// `GATEHOUSE_TEST_INTEROP` set (CI), its absence fails the test.
fn identity_provider_available() -> bool {
    let found = interop_dir()
        .join("node_modules/oidc-provider/package.json")
        .exists();
    if !found && std::env::var_os("GATEHOUSE_TEST_INTEROP").is_some() {
        panic!(
            "GATEHOUSE_TEST_INTEROP is set but oidc-provider is missing (scripts/interop-deps.sh)"
        );
    }
    found
}

impl IdentityProvider {
    /// Starts it with Gatehouse registered as `client_id` (and `{client_id}-public`), sending
    /// people back to `redirect_uri`.
    fn start(client_id: &str, secret: &str, redirect_uri: &str) -> Self {
        use std::io::BufRead as _;
        let mut process = Command::new("node")
            .arg("idp.mjs")
            .args(["0", client_id, secret, redirect_uri])
            .current_dir(interop_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        let mut output = std::io::BufReader::new(process.stdout.take().unwrap());
        output.read_line(&mut line).unwrap();
        // Drained for its lifetime: a closed pipe would end it at its next line.
        std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the identity provider did not start: {line:?}"))
            .to_owned();
        Self { process, issuer }
    }
}

/// The whole chain of issue 21 in a real browser: an MCP client's authorization request →
/// Gatehouse's sign-in page → the provider's sign-in page → the provider's consent page →
/// Gatehouse's callback → Gatehouse's consent page → the code at the client → a token → `whoami`
/// over MCP names `corp:alice`. The screenshot of the provider button is kept as
/// `target/test-artifacts/federated-sign-in.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_through_an_openid_provider_and_whoami_names_the_provider() {
    if !browser_available() || !identity_provider_available() {
        eprintln!("chromium or oidc-provider not installed: federated browser test skipped");
        return;
    }
    let callback_url = client_redirect().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let issuer = format!("http://{address}");
    let provider = IdentityProvider::start(
        "gatehouse",
        "unused-here",
        &format!("{issuer}/login/corp/callback"),
    );
    let mut config = Config::demo(address);
    config.database = gatehouse_store::DatabaseUrl::Memory;
    config.login.mode = LoginMode::Local;
    // Gatehouse as a public client there: PKCE alone, no secret in this process's environment.
    config.identity_providers = vec![
        toml::from_str(&format!(
            r#"
id = "corp"
issuer = "{}"
client_id = "gatehouse-public"
display_name = "Corp SSO"
allowed_email_domains = ["corp.example"]
"#,
            provider.issuer
        ))
        .unwrap(),
    ];
    let gatehouse = in_memory(config).await;
    serve(listener, &gatehouse);
    let http = reqwest::Client::new();
    let client_id = register(&http, &issuer, &callback_url, "Federated Test Client").await;
    let resource = format!("{issuer}/mcp");
    let authorize = format!(
        "{issuer}/authorize?{}",
        gatehouse_types::form::encode([
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", callback_url.as_str()),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "federated-state"),
            ("scope", "mcp:tools"),
            ("resource", resource.as_str()),
        ])
    );

    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path()).await;
    driver.go(&authorize).await;
    let page = driver.source().await;
    assert!(page.contains("Sign in with Corp SSO"), "{page}");
    let artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(
        artifacts.join("federated-sign-in.png"),
        driver.screenshot().await,
    )
    .unwrap();
    driver.click("button[value=corp]").await;

    // The provider's own pages: sign in, then allow Gatehouse.
    driver.wait_for_url(&provider.issuer).await;
    wait_for(&driver, "name=\"login\"").await;
    driver.type_into("input[name=login]", "alice").await;
    driver
        .type_into("input[name=password]", "any password")
        .await;
    driver.click("button[type=submit]").await;
    wait_for(&driver, "name=\"prompt\" value=\"consent\"").await;
    driver.click("button[type=submit]").await;

    // Back at Gatehouse, signed in as the provider's person: its consent page.
    wait_for(&driver, "will be able to").await;
    let page = driver.source().await;
    assert!(page.contains("corp:alice"), "{page}");
    driver.click("button[value=approve]").await;
    let landed = driver.wait_for_url(&callback_url).await;
    let query = landed.split_once('?').unwrap().1;
    let params = gatehouse_types::form::FormParams::parse(query.as_bytes()).unwrap();
    assert_eq!(params.single("state").unwrap(), Some("federated-state"));
    let code = params.single("code").unwrap().unwrap().to_owned();
    drop(driver);

    let token: Value = redeem(&http, &issuer, &code, &callback_url, &client_id)
        .await
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let revision = "2026-07-28";
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": "whoami", "arguments": {},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": revision,
        "io.modelcontextprotocol/clientInfo": {"name": "browser-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    let answer = http
        .post(&resource)
        .bearer_auth(access)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", revision)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .json(&call)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.contains("corp:alice"), "{answer}");
}

async fn wait_for(driver: &Driver, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = driver.source().await;
        if page.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "no {text:?} in {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
