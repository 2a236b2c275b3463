//! Signing in through an organisation's identity provider, against a real OpenID Certified
//! provider (panva's `oidc-provider`, `interop/idp.mjs`) and `gatehouse serve` as a user runs it.
//! A scripted browser (`interop/federated_browser.mjs`) walks the provider's own pages; the
//! tests then replay, change and forge what comes back, and check that each attempt is a 4xx
//! page and a `federated_sign_in_refused` audit event, never a code.
//!
//! Runs when the interop dependencies are installed (`scripts/interop-deps.sh`); with
//! `GATEHOUSE_TEST_INTEROP` set (CI), their absence fails the tests instead of skipping them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::{free_port, header, request, start, terminate};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const SECRET: &str = "idp-client-secret-for-the-tests";
const REDIRECT: &str = "http://localhost:9999/cb";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn available() -> bool {
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

/// A test's place: a directory, Gatehouse's port, and the provider (with `env`) sending people
/// back to it; `None` (the test skips) when oidc-provider is not installed.
fn world(env: &[(&str, &str)]) -> Option<(tempfile::TempDir, u16, Provider)> {
    if !available() {
        eprintln!("oidc-provider not installed: federation test skipped");
        return None;
    }
    let port = free_port();
    Some((
        tempfile::tempdir().unwrap(),
        port,
        Provider::start_with(port, env),
    ))
}

/// A form POST to Gatehouse's token endpoint: status and body.
fn post_token(port: u16, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, String) {
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    let (status, _, body) = request(
        port,
        "POST",
        "/token",
        &all,
        &gatehouse_types::form::encode(pairs.iter().copied()),
    );
    (status, body)
}

/// `interop/idp.mjs`, killed on drop.
struct Provider {
    process: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Provider {
    fn start(gatehouse_port: u16) -> Self {
        Self::start_with(gatehouse_port, &[])
    }

    fn start_with(gatehouse_port: u16, env: &[(&str, &str)]) -> Self {
        let mut process = Command::new("node")
            .arg("idp.mjs")
            .args([
                "0",
                "gatehouse",
                SECRET,
                &format!("http://127.0.0.1:{gatehouse_port}/login/corp/callback"),
            ])
            .current_dir(interop_dir())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut output = std::io::BufReader::new(process.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the identity provider did not start: {line:?}"))
            .to_owned();
        Self { process, issuer }
    }
}

/// The demo MCP server as the one resource.
fn demo_resource(port: u16) -> String {
    format!(
        r#"
[[resources]]
resource = "http://127.0.0.1:{port}/mcp"
builtin = "demo"
scopes_supported = ["mcp:tools", "mcp:admin"]
default_scopes = ["mcp:tools"]
"#
    )
}

/// `gatehouse serve` with the provider `corp` at `issuer`, plus `provider_keys` in its entry and
/// `top_level` before the tables, in front of the demo MCP server.
fn serve(dir: &Path, port: u16, issuer: &str, provider_keys: &str, top_level: &str) -> Server {
    serve_with(
        dir,
        port,
        issuer,
        provider_keys,
        top_level,
        &demo_resource(port),
        &[],
    )
}

/// [`serve`] with its own resources (and declared clients) and more environment.
fn serve_with(
    dir: &Path,
    port: u16,
    issuer: &str,
    provider_keys: &str,
    top_level: &str,
    resources: &str,
    env: &[(&str, &str)],
) -> Server {
    let config = dir.join(format!("gatehouse-{port}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"
issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
{top_level}

[rate_limits]
enabled = false

[[identity_providers]]
id = "corp"
issuer = "{issuer}"
client_id = "gatehouse"
client_secret_env = "CORP_SECRET"
display_name = "Corp SSO"
{provider_keys}
{resources}
"#,
            db = dir.join("gatehouse.db").display(),
        ),
    )
    .unwrap();
    let mut all = vec![("CORP_SECRET", SECRET)];
    all.extend_from_slice(env);
    Server(Some(
        start(dir, &["serve", "--config", config.to_str().unwrap()], &all).child,
    ))
}

/// A running `gatehouse serve`, killed if the test fails before it stops it.
struct Server(Option<Child>);

impl Server {
    /// Stops it with SIGTERM, as a service manager does, and expects a clean exit.
    fn stop(mut self) {
        if let Some(child) = self.0.take() {
            assert!(terminate(child).success());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn register(port: u16) -> String {
    let (status, _, body) = request(
        port,
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        &format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"client_name":"federation test"}}"#
        ),
    );
    assert_eq!(status, 201, "{body}");
    let client: Value = serde_json::from_str(&body).unwrap();
    client["client_id"].as_str().unwrap().to_owned()
}

fn authorization_url(port: u16, client_id: &str) -> String {
    format!(
        "http://127.0.0.1:{port}/authorize?{}",
        gatehouse_types::form::encode([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "client-state"),
            ("scope", "mcp:tools"),
            ("resource", &format!("http://127.0.0.1:{port}/mcp")),
        ])
    )
}

/// The scripted browser from `url` as `login`; its JSON report.
fn browse(url: &str, login: &str, flags: &[&str]) -> Value {
    let output = Command::new("node")
        .arg("federated_browser.mjs")
        .args([url, login, "corp"])
        .args(flags)
        .current_dir(interop_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "federated_browser.mjs: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Path and query of a URL on Gatehouse.
fn path_of(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

/// GETs the callback `url` with `cookie`: status and response head.
fn callback(port: u16, url: &str, cookie: &str) -> (u16, String, String) {
    let mut headers = vec![];
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    request(port, "GET", &path_of(url), &headers, "")
}

/// The audit events of one kind, as `gatehouse audit list --json` prints them.
fn audit(dir: &Path, port: u16, kind: &str) -> Vec<Value> {
    // The server stores its audit records in the background, gathering each batch for up to
    // 25 ms: a record of what just happened may be a moment away. Once one is there, a second
    // read a while later takes in any that were emitted with it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = audit_now(dir, port, kind);
        if !found.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(300));
            return audit_now(dir, port, kind);
        }
        if std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The audit records of `kind` stored so far.
fn audit_now(dir: &Path, port: u16, kind: &str) -> Vec<Value> {
    support::audit_list(
        &dir.join(format!("gatehouse-{port}.toml")),
        &[],
        &[("CORP_SECRET", SECRET)],
    )
    .into_iter()
    .filter(|event| event["kind"] == kind)
    .collect()
}

/// A flow stopped where the provider sends the person back: the callback URL and the cookie.
fn stopped_at_callback(port: u16, client_id: &str, login: &str) -> (String, String) {
    let report = browse(
        &authorization_url(port, client_id),
        login,
        &["--stop-at-callback"],
    );
    (
        report["callback"]
            .as_str()
            .unwrap_or_else(|| panic!("{report}"))
            .to_owned(),
        report["cookie"].as_str().unwrap().to_owned(),
    )
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(n, v)| {
            let v = if n == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (n.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.into()
}

#[test]
fn a_person_signs_in_through_the_provider_and_the_token_names_them() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let server = serve(dir.path(), port, &provider.issuer, "", "");
    let client_id = register(port);
    let report = browse(&authorization_url(port, &client_id), "alice", &[]);
    let landed = report["redirect"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    // RFC 9207: the answer to the MCP client names Gatehouse, not the upstream provider.
    assert_eq!(
        query_param(landed, "iss").as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    assert_eq!(
        query_param(landed, "state").as_deref(),
        Some("client-state")
    );
    let code = query_param(landed, "code").unwrap();
    let (status, body) = post_token(
        port,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id.as_str()),
        ],
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let access = token["access_token"].as_str().unwrap();
    let claims = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &<base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(claims).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "corp:alice");
    let signed_in = audit(dir.path(), port, "signed_in");
    assert_eq!(signed_in[0]["subject"], "corp:alice");
    assert_eq!(signed_in[0]["client_id"], client_id.as_str());

    // The operator cuts a federated person off as a local user: their grants end.
    support::succeeded(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["users", "delete", "corp:alice", "--config"])
            .arg(dir.path().join(format!("gatehouse-{port}.toml")))
            .env("CORP_SECRET", SECRET)
            .output()
            .unwrap(),
    );
    let (status, body) = post_token(
        port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token["refresh_token"].as_str().unwrap()),
            ("client_id", client_id.as_str()),
        ],
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid_grant"), "{body}");
    server.stop();
}

#[test]
fn replayed_changed_and_foreign_callbacks_are_refused_with_a_page_and_an_audit_event() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let server = serve(dir.path(), port, &provider.issuer, "", "");
    let client_id = register(port);
    let refused = |(status, head, body): (u16, String, String), why: &str| {
        assert!(
            (400..500).contains(&status),
            "{why}: {status} {head} {body}"
        );
        let location = header(&head, "location").unwrap_or("");
        assert!(!location.contains("code="), "{why}: {head}");
        assert!(body.contains("The sign-in was refused"), "{why}: {body}");
    };

    // The genuine answer signs the person in and sends them back to /authorize; the same answer
    // again is refused (RFC 9700 §4.7: a state is good once), in the same browser.
    let (genuine, cookie) = stopped_at_callback(port, &client_id, "alice");
    let (status, head, _) = callback(port, &genuine, &cookie);
    assert_eq!(status, 303, "{head}");
    assert!(header(&head, "location").unwrap().contains("/authorize?"));
    refused(callback(port, &genuine, &cookie), "a replayed callback");

    // Another browser (no cookie, or another one) cannot complete it (RFC 9700 §4.7.1: state
    // bound to the user agent).
    let (answer, _) = stopped_at_callback(port, &client_id, "alice");
    refused(callback(port, &answer, ""), "another browser");
    let (answer, _) = stopped_at_callback(port, &client_id, "alice");
    let (_, other_cookie) = stopped_at_callback(port, &client_id, "alice");
    refused(callback(port, &answer, &other_cookie), "another session");

    // A state changed in one character, or made up.
    let (answer, cookie) = stopped_at_callback(port, &client_id, "alice");
    let mut state = query_param(&answer, "state").unwrap();
    let last = if state.ends_with('A') { "B" } else { "A" };
    state.replace_range(state.len() - 1.., last);
    refused(
        callback(port, &with_param(&answer, "state", &state), &cookie),
        "a changed state",
    );
    refused(
        callback(port, &with_param(&answer, "state", "made-up"), &cookie),
        "a made-up state",
    );

    // RFC 9207 §2.4: an answer naming another issuer (a mix-up) is refused.
    let (answer, cookie) = stopped_at_callback(port, &client_id, "alice");
    refused(
        callback(
            port,
            &with_param(&answer, "iss", "https://attacker.example"),
            &cookie,
        ),
        "another issuer",
    );

    // A code from another sign-in (its PKCE verifier is not this one's): the provider refuses
    // to redeem it.
    let (answer, cookie) = stopped_at_callback(port, &client_id, "alice");
    let (foreign, _) = stopped_at_callback(port, &client_id, "dave");
    let foreign_code = query_param(&foreign, "code").unwrap();
    refused(
        callback(port, &with_param(&answer, "code", &foreign_code), &cookie),
        "a foreign code",
    );

    // The provider's own refusal, passed on as a page.
    let (answer, cookie) = stopped_at_callback(port, &client_id, "alice");
    let denied = format!(
        "{}?{}",
        answer.split_once('?').unwrap().0,
        gatehouse_types::form::encode([
            ("error", "access_denied"),
            ("state", query_param(&answer, "state").unwrap().as_str()),
            ("iss", provider.issuer.as_str()),
        ])
    );
    refused(callback(port, &denied, &cookie), "the provider's refusal");

    let events = audit(dir.path(), port, "federated_sign_in_refused");
    let reasons: Vec<&str> = events
        .iter()
        .map(|event| event["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    for expected in [
        "already completed",
        "another browser",
        "not made here",
        "another identity provider",
        "refused the code",
        "did not sign you in (access_denied)",
    ] {
        assert!(
            reasons.iter().any(|reason| reason.contains(expected)),
            "no {expected:?} in {reasons:?}"
        );
    }
    assert!(events.iter().all(|event| event["provider"] == "corp"));
    server.stop();
}

#[test]
fn who_gets_in_follows_verified_email_domains_and_groups() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let server = serve(
        dir.path(),
        port,
        &provider.issuer,
        "scopes = [\"openid\", \"email\", \"groups\"]\nallowed_email_domains = [\"corp.example\"]\nallowed_groups = [\"engineering\"]",
        "",
    );
    let client_id = register(port);
    let url = authorization_url(port, &client_id);
    // alice: verified corp.example, engineering.
    assert!(browse(&url, "alice", &[])["redirect"].is_string());
    // bob: verified, another domain. carol: corp.example, not verified. dave: sales.
    for (login, why) in [
        ("bob", "verified email"),
        ("carol", "verified email"),
        ("dave", "allowed groups"),
    ] {
        let report = browse(&url, login, &[]);
        assert_eq!(report["status"], 403, "{login}: {report}");
        assert!(
            report["page"].as_str().unwrap().contains(why),
            "{login}: {report}"
        );
    }
    server.stop();
}

#[test]
fn with_one_provider_only_authorize_goes_straight_there_and_a_provider_down_is_a_page() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let server = serve(
        dir.path(),
        port,
        &provider.issuer,
        "",
        "[login]\nmode = \"providers\"",
    );
    let client_id = register(port);
    let url = authorization_url(port, &client_id);
    let (status, head, _) = request(port, "GET", &path_of(&url), &[], "");
    assert_eq!(status, 303, "{head}");
    let location = header(&head, "location").unwrap();
    assert!(location.starts_with(&provider.issuer), "{location}");
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            query_param(location, name).is_some(),
            "no {name} in {location}"
        );
    }
    assert_eq!(
        query_param(location, "code_challenge_method").as_deref(),
        Some("S256")
    );
    // No local user form, and local names are not accepted in this mode.
    assert!(browse(&url, "alice", &[])["redirect"].is_string());
    server.stop();
    drop(provider);

    // The provider is gone: the person gets a page saying so, at once.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let gone = format!("http://127.0.0.1:{}", free_port());
    let server = serve(dir.path(), port, &gone, "", "[login]\nmode = \"providers\"");
    let client_id = register(port);
    let started = std::time::Instant::now();
    let (status, _, body) = request(
        port,
        "GET",
        &path_of(&authorization_url(port, &client_id)),
        &[],
        "",
    );
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("Corp SSO cannot sign you in right now"),
        "{body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    server.stop();
}

/// The JSON lines a client printed, after it exited successfully.
fn client_run(mut command: Command) -> Vec<Value> {
    let output = command.current_dir(interop_dir()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{command:?}: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The real TypeScript and Python MCP SDK clients, with federation on: each registers, is sent
/// through Gatehouse's sign-in page to the provider's pages and back, redeems its code, and
/// `whoami` over MCP names the provider's person.
#[test]
fn sdk_clients_complete_a_flow_with_federation_on() {
    if !available() {
        eprintln!("oidc-provider not installed: federation test skipped");
        return;
    }
    let python = interop_dir().join(".venv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_INTEROP").is_none(),
            "GATEHOUSE_TEST_INTEROP is set but the Python SDK is missing (scripts/interop-deps.sh)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let provider = Provider::start(port);
    let server = serve(
        dir.path(),
        port,
        &provider.issuer,
        "allowed_email_domains = [\"corp.example\"]",
        "",
    );
    let url = format!("http://127.0.0.1:{port}/mcp");

    let mut typescript = Command::new("node");
    typescript.args(["ts_client.mjs", &url, "--federated", "alice"]);
    let lines = client_run(typescript);
    let who = lines.iter().find(|line| line["step"] == "whoami").unwrap();
    let who: Value = serde_json::from_str(who["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["subject"], "corp:alice");

    let mut py = Command::new(&python);
    py.args(["py_client.py", &url, "--federated", "dave"])
        .args(["--expect-subject", "corp:dave"]);
    let lines = client_run(py);
    assert!(lines.iter().any(|line| line["step"] == "done"), "{lines:?}");

    let subjects: Vec<Value> = audit(dir.path(), port, "signed_in")
        .into_iter()
        .map(|event| event["subject"].clone())
        .collect();
    assert!(subjects.contains(&"corp:alice".into()), "{subjects:?}");
    assert!(subjects.contains(&"corp:dave".into()), "{subjects:?}");
    server.stop();
}

/// The token a scripted sign-in as `login` ends with (scopes `mcp:tools mcp:admin` asked).
fn token_for(port: u16, client_id: &str, login: &str) -> Value {
    let url = authorization_url(port, client_id)
        .replace("scope=mcp%3Atools", "scope=mcp%3Atools+mcp%3Aadmin");
    let report = browse(&url, login, &[]);
    let landed = report["redirect"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}: {report}"));
    let code = query_param(landed, "code").unwrap();
    let (status, body) = post_token(
        port,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ],
        &[],
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn claims_of(access_token: &str) -> Value {
    let claims = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &<base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(claims).unwrap(),
    )
    .unwrap()
}

/// A stateless MCP 2026-07-28 `tools/call` of `tool` through the guard: status and body.
fn call_tool(port: u16, access_token: &str, tool: &str) -> (u16, String) {
    let authorization = format!("Bearer {access_token}");
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{{"name":"federation-test","version":"1"}},"io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    let (status, _, body) = request(
        port,
        "POST",
        "/mcp",
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", tool),
        ],
        &body,
    );
    (status, body)
}

/// The provider's groups reach the scope matrix (`[[scope_policy]] groups`): a member of
/// `engineering` holds `mcp:admin` and may call `admin_reset`; a member of `sales` is never
/// granted it, whatever the client asks, and the guard refuses the call.
#[test]
fn the_providers_groups_reach_the_scope_matrix() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let config = dir.path().join(format!("gatehouse-{port}.toml"));
    let server = serve(
        dir.path(),
        port,
        &provider.issuer,
        "scopes = [\"openid\", \"email\", \"groups\"]",
        "",
    );
    server.stop();
    // The same configuration, with the matrix and admin_reset needing mcp:admin.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        r#"
[resources.tool_scopes]
admin_reset = "mcp:admin"

[[scope_policy]]
scopes = ["mcp:tools"]

[[scope_policy]]
groups = ["engineering"]
scopes = ["mcp:admin"]
"#,
    );
    std::fs::write(&config, text).unwrap();
    let server = Server(Some(
        start(
            dir.path(),
            &["serve", "--config", config.to_str().unwrap()],
            &[("CORP_SECRET", SECRET)],
        )
        .child,
    ));
    let client_id = register(port);

    let alice = token_for(port, &client_id, "alice");
    assert_eq!(alice["scope"], "mcp:admin mcp:tools", "{alice}");
    let access = alice["access_token"].as_str().unwrap();
    // Named with its provider: another provider's `engineering` is another group.
    assert_eq!(
        claims_of(access)["groups"],
        serde_json::json!(["corp:engineering"])
    );
    let (status, body) = call_tool(port, access, "admin_reset");
    assert_eq!(status, 200, "{body}");

    let dave = token_for(port, &client_id, "dave");
    assert_eq!(dave["scope"], "mcp:tools", "{dave}");
    let access = dave["access_token"].as_str().unwrap();
    // Only the groups the matrix names travel in the token: sales is none of its business.
    assert!(claims_of(access).get("groups").is_none());
    let (status, body) = call_tool(port, access, "admin_reset");
    assert_eq!(status, 403, "{body}");

    // A refresh of alice's grant keeps what her groups give.
    let refresh = alice["refresh_token"].as_str().unwrap();
    let (status, body) = post_token(
        port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client_id.as_str()),
        ],
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let refreshed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refreshed["scope"], "mcp:admin mcp:tools");
    server.stop();
}

/// `interop/py_server.py` (the Python MCP SDK's server) as a gateway's upstream; its `whoami`
/// asks the provider's userinfo endpoint about the token it receives.
struct PythonUpstream(Child, u16);

impl Drop for PythonUpstream {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python_upstream(userinfo: &str) -> Option<PythonUpstream> {
    let python = interop_dir().join(".venv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_INTEROP").is_none(),
            "GATEHOUSE_TEST_INTEROP is set but the Python SDK is missing (scripts/interop-deps.sh)"
        );
        return None;
    }
    let port = free_port();
    let mut child = Command::new(python)
        .arg("py_server.py")
        .args(["--port", &port.to_string()])
        .env("USERINFO_URL", userinfo)
        .current_dir(interop_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("listening"), "{ready}");
    Some(PythonUpstream(child, port))
}

/// What the upstream's `whoami` reported through the gateway.
fn upstream_whoami(port: u16, access_token: &str) -> (u16, Value) {
    let (status, body) = call_tool(port, access_token, "whoami");
    if status != 200 {
        return (status, Value::String(body));
    }
    // A JSON body or an SSE event, in chunked framing: the line that is the JSON-RPC answer.
    let message = body
        .lines()
        .map(|line| line.strip_prefix("data:").unwrap_or(line))
        .find_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .unwrap_or_else(|| panic!("{body}"));
    let text = message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{message}"));
    (status, serde_json::from_str(text).unwrap())
}

const RESOURCE_SERVER_SECRET: &str = "resource-server-secret-for-the-tests";

fn exchange(port: u16, subject_token: &str, audience: &str) -> (u16, Value) {
    let basic = format!(
        "Basic {}",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(
            format!("files-rs:{RESOURCE_SERVER_SECRET}").as_bytes()
        )
    );
    let (status, body) = post_token(
        port,
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("audience", audience),
        ],
        &[("Authorization", &basic)],
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The token vault (`keep_tokens`): the provider's tokens are kept sealed and refreshed (the
/// provider's access tokens here live 30 seconds, so every use refreshes them). A gateway with
/// `forward_upstream_token` hands the upstream the person's fresh token, which the provider's
/// userinfo endpoint accepts, while the MCP client's own token never crosses. A resource server
/// exchanges a person's Gatehouse token for it (RFC 8693, `audience=upstream:corp`). When the
/// provider refuses a refresh (the person was removed there), their grants here are revoked.
#[test]
fn kept_tokens_reach_the_upstream_and_the_exchange_and_a_removal_revokes_the_grant() {
    let Some((dir, port, provider)) = world(&[("IDP_ACCESS_TTL", "30")]) else {
        return;
    };
    let Some(upstream) = python_upstream(&format!("{}/me", provider.issuer)) else {
        return;
    };
    let resources = format!(
        r#"
[[resources]]
resource = "http://127.0.0.1:{port}/mcp"
upstream = "http://127.0.0.1:{upstream}/mcp"
forward_upstream_token = "corp"
scopes_supported = ["mcp:tools", "mcp:admin"]
default_scopes = ["mcp:tools"]

[[clients]]
client_id = "files-rs"
client_secret_env = "FILES_RS_SECRET"
grant_types = ["urn:ietf:params:oauth:grant-type:token-exchange"]
introspection_resources = ["http://127.0.0.1:{port}/mcp"]
"#,
        upstream = upstream.1
    );
    let server = serve_with(
        dir.path(),
        port,
        &provider.issuer,
        "keep_tokens = true",
        "",
        &resources,
        &[("FILES_RS_SECRET", RESOURCE_SERVER_SECRET)],
    );
    let client_id = register(port);

    let alice = token_for(port, &client_id, "alice");
    let access = alice["access_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, who) = upstream_whoami(port, access);
        assert_eq!(status, 200, "{who}");
        assert_eq!(who["subject"], "corp:alice");
        assert_eq!(who["authorization_header"], false, "{who}");
        assert_eq!(who["upstream_token"], true, "{who}");
        assert_eq!(who["upstream_userinfo"]["status"], 200, "{who}");
        assert_eq!(who["upstream_userinfo"]["claims"]["sub"], "alice", "{who}");
    }

    // RFC 8693: the resource server trades alice's token for her token at the provider.
    let (status, answer) = exchange(port, access, "upstream:corp");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let (userinfo_status, userinfo) = {
        let output = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-H"])
            .arg(format!(
                "Authorization: Bearer {}",
                answer["access_token"].as_str().unwrap()
            ))
            .arg(format!("{}/me", provider.issuer))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    assert_eq!(userinfo_status, "200", "{userinfo}");
    assert!(userinfo.contains("\"sub\":\"alice\""), "{userinfo}");
    // Another provider, or a provider that keeps nothing for this person: invalid_target.
    let (status, answer) = exchange(port, access, "upstream:other");
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_target");

    // dave signs in, then is removed at the provider: his next call needs a refresh, which the
    // provider refuses; his grant here is revoked, and his refresh token no longer works.
    let dave = token_for(port, &client_id, "dave");
    let (status, who) = upstream_whoami(port, dave["access_token"].as_str().unwrap());
    assert_eq!(
        (status, &who["upstream_userinfo"]["claims"]["sub"]),
        (200, &"dave".into())
    );
    let (status, _, _) = request(
        provider
            .issuer
            .trim_start_matches("http://127.0.0.1:")
            .parse()
            .unwrap(),
        "POST",
        "/test/remove/dave",
        &[],
        "",
    );
    assert_eq!(status, 204);
    let (status, refused) = upstream_whoami(port, dave["access_token"].as_str().unwrap());
    assert_eq!(status, 401, "{refused}");
    let (status, body) = post_token(
        port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", dave["refresh_token"].as_str().unwrap()),
            ("client_id", client_id.as_str()),
        ],
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid_grant"), "{body}");
    let revoked = audit(dir.path(), port, "federated_grants_revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["subject"], "corp:dave");
    assert_eq!(revoked[0]["grants"], 1);
    // alice is untouched.
    let (status, who) = upstream_whoami(port, access);
    assert_eq!((status, &who["upstream_token"]), (200, &true.into()));

    // The provider's tokens are sealed at rest: the current one is nowhere in the database.
    let (status, answer) = exchange(port, access, "upstream:corp");
    assert_eq!(status, 200, "{answer}");
    let current = answer["access_token"].as_str().unwrap().as_bytes().to_vec();
    for file in ["gatehouse.db", "gatehouse.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(current.len()).any(|window| window == current),
            "the provider's token in plain text in {file}"
        );
    }
    server.stop();
}

/// `kind = "oauth2"`: the endpoints are configured, no ID token is read, and the userinfo
/// answer names the person (`subject_claim`); the configured issuer still holds the callback to
/// RFC 9207's `iss`.
#[test]
fn an_oauth2_provider_names_the_person_by_its_userinfo_answer() {
    let Some((dir, port, provider)) = world(&[]) else {
        return;
    };
    let issuer = &provider.issuer;
    let server = serve(
        dir.path(),
        port,
        issuer,
        &format!(
            r#"kind = "oauth2"
authorization_endpoint = "{issuer}/auth"
token_endpoint = "{issuer}/token"
userinfo_endpoint = "{issuer}/me"
scopes = ["openid", "email"]
subject_claim = "email"
allowed_email_domains = ["corp.example"]"#
        ),
        "",
    );
    let client_id = register(port);
    let token = token_for(port, &client_id, "alice");
    let claims = claims_of(token["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "corp:alice@corp.example");
    let (answer, cookie) = stopped_at_callback(port, &client_id, "alice");
    let (status, _, body) = callback(
        port,
        &with_param(&answer, "iss", "https://attacker.example"),
        &cookie,
    );
    assert_eq!(status, 400, "{body}");
    server.stop();
}
