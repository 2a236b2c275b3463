//! The real MCP clients against `gatehouse serve`: the official TypeScript SDK client
//! (`interop/ts_client.mjs`) and the Python SDK client (`interop/py_client.py`) each discover,
//! register, authorize (auto-approve), redeem, call `echo` through the guard and step up to
//! `admin_reset`; then the same clients go through gateway mode in front of a separate MCP server
//! process written with the Python SDK (`interop/py_server.py`). A strict client (`oauth4webapi`,
//! `interop/strict_client.mjs`) runs the flow with every check it has, for each signing
//! algorithm, and two JWT libraries (`jose` on npm, PyJWT) verify the tokens against the JWKS;
//! the same strict client runs the DPoP flow (RFC 9449) with its own DPoP support and server
//! nonces on (`interop/dpop_client.mjs`);
//! `mcp-remote`'s registration request is accepted as it sends it. Machine clients of both SDKs
//! (`interop/ts_machine.mjs`, `interop/py_machine.py`) get tokens with `client_credentials`,
//! authenticated by a secret and by `private_key_jwt`, and a resource server written in Python
//! checks tokens by introspection with Authlib (`interop/py_resource_server.py`).
//!
//! They need `interop/node_modules` and `interop/.venv`, which `scripts/interop-deps.sh` installs
//! (`cargo xtask ci` runs it). Without them the tests are skipped, unless `GATEHOUSE_TEST_INTEROP`
//! is set (as in CI): then a missing client fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn python() -> PathBuf {
    interop_dir().join(".venv/bin/python")
}

/// Whether the clients are installed; panics when they must be and are not.
fn clients_available() -> bool {
    let node = interop_dir().join("node_modules/@modelcontextprotocol/sdk/package.json");
    let available = node.exists() && python().exists();
    if !available {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_INTEROP").is_none(),
            "GATEHOUSE_TEST_INTEROP is set but the MCP SDK clients are missing: run scripts/interop-deps.sh"
        );
        eprintln!("interop: SDK clients not installed (scripts/interop-deps.sh); skipped");
    }
    available
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `gatehouse serve` with `resource_block` as its one `[[resources]]` entry, auto-approving for
/// the subject `interop`; returns once `/healthz` answers.
fn gatehouse(dir: &Path, port: u16, resource_block: &str) -> Running {
    gatehouse_with(dir, port, "", resource_block)
}

/// [`gatehouse`] with `top_level` (top-level keys and/or whole tables, e.g. `[tokens]`) placed
/// right after the top-level keys of the configuration.
fn gatehouse_with(dir: &Path, port: u16, top_level: &str, resource_block: &str) -> Running {
    gatehouse_in_env(dir, port, top_level, resource_block, &[])
}

/// [`gatehouse_with`], with `env` set for the server (declared clients' secrets).
fn gatehouse_in_env(
    dir: &Path,
    port: u16,
    top_level: &str,
    resource_block: &str,
    env: &[(&str, &str)],
) -> Running {
    let config = dir.join(format!("gatehouse-{port}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"
issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
{top_level}

[login]
mode = "auto-approve"
auto_approve_subject = "interop"

[rate_limits]
enabled = false

[[resources]]
resource = "http://127.0.0.1:{port}/mcp"
scopes_supported = ["mcp:tools", "mcp:admin"]
required_scopes = ["mcp:tools"]
default_scopes = ["mcp:tools"]
{resource_block}
"#,
            db = dir.join(format!("gatehouse-{port}.db")).display(),
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config"])
        .arg(&config)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for_health(port);
    running
}

fn wait_for_health(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(
                format!(
                    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gatehouse did not become healthy on port {port}");
}

/// Runs a client to completion (at most a minute); its JSON lines.
fn run_client(command: Command) -> Vec<serde_json::Value> {
    let (status, out, err, command) = run_to_end(command);
    assert!(
        status.success(),
        "{command:?} failed: {status}\n{out}\n{err}"
    );
    json_lines(&out)
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Runs a process in `interop/` to completion (at most a minute): its exit status, stdout and
/// stderr, and the command (for messages).
fn run_to_end(mut command: Command) -> (std::process::ExitStatus, String, String, Command) {
    command
        .current_dir(interop_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, out, err, command)
}

fn step<'a>(lines: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|line| line["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {lines:?}"))
}

fn typescript(url: &str, flags: &[&str]) -> Vec<serde_json::Value> {
    let mut command = Command::new("node");
    command.arg("ts_client.mjs").arg(url).args(flags);
    run_client(command)
}

fn python_client(url: &str, flags: &[&str]) -> Vec<serde_json::Value> {
    let mut command = Command::new(python());
    command.arg("py_client.py").arg(url).args(flags);
    run_client(command)
}

#[test]
fn sdk_clients_complete_the_flow_through_the_guard_and_step_up() {
    if !clients_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = gatehouse(
        dir.path(),
        port,
        "builtin = \"demo\"\n[resources.tool_scopes]\nadmin_reset = \"mcp:admin\"",
    );
    let url = format!("http://127.0.0.1:{port}/mcp");

    let ts = typescript(&url, &["--step-up"]);
    assert_eq!(step(&ts, "echo")["text"], "hello from the TypeScript SDK");
    assert_eq!(
        step(&ts, "authorized")["iss"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(step(&ts, "admin_reset")["scope"], "mcp:admin mcp:tools");

    let py = python_client(&url, &["--step-up"]);
    assert_eq!(step(&py, "echo")["text"], "hello from the Python SDK");
    step(&py, "admin_reset");
}

/// `py_server.py`, an MCP server on the official Python SDK with no protection of its own, and
/// its port, once it listens.
fn python_upstream() -> (Running, u16) {
    let port = free_port();
    let mut upstream = Command::new(python());
    upstream
        .arg("py_server.py")
        .args(["--port", &port.to_string()])
        .current_dir(interop_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut upstream = Running(upstream.spawn().unwrap());
    let mut ready = String::new();
    BufReader::new(upstream.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("listening"), "{ready}");
    (upstream, port)
}

#[test]
fn sdk_clients_go_through_gateway_mode_to_a_python_mcp_server() {
    if !clients_available() {
        return;
    }
    let (_upstream, upstream_port) = python_upstream();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = gatehouse(
        dir.path(),
        port,
        &format!("upstream = \"http://127.0.0.1:{upstream_port}/mcp\""),
    );
    let url = format!("http://127.0.0.1:{port}/mcp");

    let ts = typescript(&url, &[]);
    assert_eq!(step(&ts, "echo")["text"], "hello from the TypeScript SDK");
    let py = python_client(&url, &["--whoami", "--expect-subject", "interop"]);
    assert_eq!(step(&py, "echo")["text"], "hello from the Python SDK");
    let whoami = step(&py, "whoami");
    let text = whoami.to_string();
    assert!(
        text.contains("interop"),
        "the upstream saw the subject: {text}"
    );
    assert!(
        text.contains("\"authorization_header\":false"),
        "no token passthrough: {text}"
    );
}

/// The guard's own example (`crates/gatehouse-guard/examples/mcp_server.rs`, an `rmcp` server),
/// built by `cargo test --workspace` next to this test.
fn guard_example() -> Option<PathBuf> {
    let debug = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .to_path_buf();
    let example = debug.join("examples/mcp_server");
    example.exists().then_some(example)
}

#[test]
fn a_rust_mcp_server_with_the_guard_trusts_gatehouse_tokens_from_another_process() {
    if !clients_available() {
        return;
    }
    let Some(example) = guard_example() else {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_INTEROP").is_none(),
            "the guard example is not built: run `cargo test --workspace`"
        );
        eprintln!("interop: the guard example is not built (cargo test --workspace); skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let example_port = free_port();
    let resource = format!("http://127.0.0.1:{example_port}/mcp");
    // The authorization server lists the resource (so tokens carry it as `aud`) but does not
    // serve it: the example does, in its own process, with keys discovered over HTTP.
    let config = dir.path().join("as.toml");
    std::fs::write(
        &config,
        format!(
            r#"
issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
[login]
mode = "auto-approve"
auto_approve_subject = "interop"
[rate_limits]
enabled = false
[[resources]]
resource = "{resource}"
scopes_supported = ["mcp:tools"]
required_scopes = ["mcp:tools"]
"#,
            db = dir.path().join("as.db").display()
        ),
    )
    .unwrap();
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_health(port);
    let mut guarded = Running(
        Command::new(example)
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(&resource)
            .arg(format!("127.0.0.1:{example_port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(guarded.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("listening"), "{ready}");

    let ts = typescript(&resource, &["--call", "hello"]);
    assert_eq!(step(&ts, "call")["text"], "Hello, interop!");
    assert_eq!(step(&ts, "authorized")["resource"], resource.as_str());
}

/// Whether the strict OAuth client and the JWT libraries are installed (`oauth4webapi` and `jose`
/// from npm; PyJWT comes with the Python venv); panics when they must be and are not.
fn oauth_libraries_available() -> bool {
    if !clients_available() {
        return false;
    }
    let modules = interop_dir().join("node_modules");
    let available = ["oauth4webapi", "jose"]
        .iter()
        .all(|name| modules.join(name).join("package.json").exists());
    if !available {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_INTEROP").is_none(),
            "GATEHOUSE_TEST_INTEROP is set but oauth4webapi/jose are missing: run scripts/interop-deps.sh"
        );
        eprintln!("interop: oauth4webapi/jose not installed (scripts/interop-deps.sh); skipped");
    }
    available
}

fn strict_client(url: &str, flags: &[&str]) -> Vec<serde_json::Value> {
    let mut command = Command::new("node");
    command.arg("strict_client.mjs").arg(url).args(flags);
    run_client(command)
}

/// `verify_token.mjs` (jose) or `verify_token.py` (PyJWT): whether it accepted the token, and its
/// one JSON line.
fn verify_token(
    python_verifier: bool,
    token: &str,
    jwks: &str,
    issuer: &str,
    audience: &str,
) -> (bool, serde_json::Value) {
    let mut command = if python_verifier {
        let mut command = Command::new(python());
        command.arg("verify_token.py");
        command
    } else {
        let mut command = Command::new("node");
        command.arg("verify_token.mjs");
        command
    };
    command.args([token, jwks, issuer, audience]);
    let (status, out, err, command) = run_to_end(command);
    let line = json_lines(&out)
        .pop()
        .unwrap_or_else(|| panic!("{command:?} printed no JSON line: {status}\n{out}\n{err}"));
    (status.success(), line)
}

#[test]
fn a_strict_oauth_client_and_jwt_libraries_accept_every_signing_algorithm() {
    if !oauth_libraries_available() {
        return;
    }
    for alg in ["ES256", "EdDSA", "RS256", "PS256"] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let _server = gatehouse_with(
            dir.path(),
            port,
            &format!("[tokens]\nsigning_alg = \"{alg}\""),
            "builtin = \"demo\"",
        );
        let issuer = format!("http://127.0.0.1:{port}");
        let url = format!("{issuer}/mcp");
        let jwks = format!("{issuer}/.well-known/jwks.json");

        // oauth4webapi: RFC 9728 → RFC 8414 → RFC 7591 → PKCE + resource → RFC 9207 `iss` →
        // token (checked as RFC 9068 by the library) → refresh → MCP → RFC 7009.
        let strict = strict_client(&url, &["--print-token"]);
        assert_eq!(
            step(&strict, "challenge")["resource_metadata"],
            format!("{issuer}/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(step(&strict, "as_metadata")["issuer"], issuer.as_str());
        assert_eq!(step(&strict, "authorized")["iss"], issuer.as_str());
        let token_step = step(&strict, "token");
        assert_eq!(token_step["alg"], alg, "{token_step}");
        assert_eq!(token_step["aud"], url.as_str());
        assert_eq!(token_step["sub"], "interop");
        assert_eq!(step(&strict, "refreshed")["rotated"], true);
        assert_eq!(step(&strict, "refresh_retry")["same_successor"], true);
        assert_eq!(step(&strict, "mcp")["status"], 200);
        let revoked = step(&strict, "revoked");
        assert_eq!(revoked["refresh"], "invalid_grant");
        assert_eq!(
            revoked["mcp_status_after"], 401,
            "revoking the refresh token revokes the grant's access tokens"
        );
        step(&strict, "done");
        let token = token_step["access_token"].as_str().unwrap();

        for python_verifier in [false, true] {
            let (accepted, line) = verify_token(python_verifier, token, &jwks, &issuer, &url);
            assert!(accepted, "{alg}: {line}");
            assert_eq!(line["alg"], alg, "{line}");
            assert_eq!(line["typ"], "at+jwt", "{line}");
            assert_eq!(line["claims"]["aud"], url.as_str(), "{line}");
            assert_eq!(line["claims"]["iss"], issuer.as_str(), "{line}");
            assert_eq!(line["claims"]["scope"], "mcp:tools", "{line}");

            // A token for this resource is no token for another.
            let other = format!("{issuer}/other-mcp");
            let (accepted, line) = verify_token(python_verifier, token, &jwks, &issuer, &other);
            assert!(!accepted, "{alg}: a wrong audience was accepted: {line}");
            assert_eq!(line["step"], "rejected", "{line}");
            let error = line["error"].as_str().unwrap_or_default().to_lowercase();
            assert!(error.contains("aud"), "{alg}: {line}");
        }
    }
}

/// DPoP (RFC 9449) with a real client: `oauth4webapi`'s own DPoP support
/// (`interop/dpop_client.mjs`) against `gatehouse serve` with server nonces on, through the
/// whole flow and three attacks.
#[test]
fn an_oauth4webapi_dpop_client_binds_its_tokens_and_meets_nonce_challenges() {
    if !oauth_libraries_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = gatehouse_with(
        dir.path(),
        port,
        "[dpop]\nnonces = true",
        "builtin = \"demo\"",
    );
    let issuer = format!("http://127.0.0.1:{port}");
    let url = format!("{issuer}/mcp");
    let mut command = Command::new("node");
    command.arg("dpop_client.mjs").arg(&url);
    let lines = run_client(command);

    assert_eq!(
        step(&lines, "challenge")["resource_metadata"],
        format!("{issuer}/.well-known/oauth-protected-resource/mcp")
    );
    // §5.1: the AS metadata names the proof algorithms; the client's key is ES256.
    let as_metadata = step(&lines, "as_metadata");
    assert_eq!(as_metadata["issuer"], issuer.as_str());
    assert!(
        as_metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|algs| algs.iter().any(|alg| alg == "ES256")),
        "{as_metadata}"
    );
    // §10: the authorization request named the key (`dpop_jkt`).
    let authorized = step(&lines, "authorized");
    assert_eq!(authorized["iss"], issuer.as_str());
    assert!(authorized["dpop_jkt"].is_string(), "{authorized}");

    // §5, §8: the code redemption's first proof has no nonce and is refused with
    // `use_dpop_nonce`; the retry with the `DPoP-Nonce` gets a `DPoP` token whose `cnf.jkt` is
    // the key's thumbprint (§6.1), and a refresh token.
    let token = step(&lines, "token");
    assert_eq!(token["token_type"], "DPoP", "{token}");
    assert_eq!(token["nonce_challenge"], true, "{token}");
    assert_eq!(token["cnf_jkt_matches"], true, "{token}");
    assert_eq!(token["has_refresh"], true, "{token}");

    // §7, §9: MCP with `Authorization: DPoP` and a proof with `ath`; the client's handle for the
    // resource has no nonce yet, so its first proof is refused with `use_dpop_nonce` and the
    // retry goes through. oauth4webapi's own resource-server validator accepts the request too.
    let mcp = step(&lines, "mcp");
    assert_eq!(mcp["status"], 200, "{mcp}");
    assert_eq!(mcp["nonce_challenge"], true, "{mcp}");
    assert_eq!(mcp["text"], "hello with DPoP", "{mcp}");
    assert_eq!(mcp["validated_by_library"], true, "{mcp}");

    // §5: the public client's refresh token is bound to the key; the refresh with a proof by it
    // rotates, and the new access token is bound and accepted.
    let refreshed = step(&lines, "refreshed");
    assert_eq!(refreshed["token_type"], "DPoP", "{refreshed}");
    assert_eq!(refreshed["rotated"], true, "{refreshed}");
    assert_eq!(refreshed["cnf_jkt_matches"], true, "{refreshed}");
    assert_eq!(refreshed["mcp_status"], 200, "{refreshed}");

    // §7.2: a DPoP-bound token sent as a bearer token "MUST NOT" be accepted.
    let bearer = step(&lines, "bearer_refused");
    assert_eq!(bearer["status"], 401, "{bearer}");
    let challenge = bearer["www_authenticate"].as_str().unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_token\""),
        "{bearer}"
    );

    // §11.1: a proof is accepted once; the exact same request again is refused.
    let replay = step(&lines, "replay_refused");
    assert_eq!(replay["first_status"], 200, "{replay}");
    assert_eq!(replay["status"], 401, "{replay}");
    assert_eq!(replay["error"], "invalid_dpop_proof", "{replay}");
    let challenge = replay["www_authenticate"].as_str().unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_dpop_proof\""),
        "{replay}"
    );

    // §5: the bound refresh token with a proof by another key: `invalid_grant`, and the token is
    // not burnt for the client holding the key.
    let other_key = step(&lines, "other_key_refresh");
    assert_eq!(other_key["error"], "invalid_grant", "{other_key}");
    assert_eq!(other_key["status"], 400, "{other_key}");
    assert_eq!(step(&lines, "holder_still_refreshes")["token_type"], "dpop");
    step(&lines, "done");
}

/// A raw HTTP/1.1 POST of a JSON body on loopback: the status and the (de-chunked) body.
fn post_json(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    let chunked = head
        .lines()
        .any(|line| line.eq_ignore_ascii_case("transfer-encoding: chunked"));
    if !chunked {
        return (status, rest.to_owned());
    }
    let mut body = String::new();
    let mut rest = rest;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    (status, body)
}

/// The dynamic client registration request of `mcp-remote` (npm, 0.15.1), byte for byte as it
/// sent it to `gatehouse serve` (captured on the wire; Linux, so the callback host is
/// `localhost`; the port is derived from a hash of the server URL). Its source in the published
/// package: `NodeOAuthClientProvider.clientMetadata` in `dist/chunk-KJCT2FXL.js` (lines
/// 34507–34521: redirect_uris, token_endpoint_auth_method — "none" when the server advertises it
/// — grant_types, response_types, client_name "MCP CLI Client", client_uri, software_id,
/// software_version, constructor defaults at 34339–34342), extended by the bundled MCP SDK's
/// `resolveClientMetadata` (27919–27926: `application_type`, "native" for a loopback redirect)
/// and `registerClient` (28394–28408: `scope`, here the 401 challenge's "mcp:tools").
const MCP_REMOTE_REGISTRATION: &str = r#"{"redirect_uris":["http://localhost:48643/oauth/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"MCP CLI Client","client_uri":"https://github.com/modelcontextprotocol/mcp-cli","software_id":"2e6dc280-f3c3-4e01-99a7-8181dbd1d23d","software_version":"0.15.1","scope":"mcp:tools","application_type":"native"}"#;

#[test]
fn mcp_remote_registration_request_is_accepted_as_sent() {
    // Plain HTTP from this test: no client library needed, so no skip.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = gatehouse(dir.path(), port, "builtin = \"demo\"");
    let (status, body) = post_json(port, "/register", MCP_REMOTE_REGISTRATION);
    assert_eq!(status, 201, "{body}");
    let sent: serde_json::Value = serde_json::from_str(MCP_REMOTE_REGISTRATION).unwrap();
    let registered: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(registered["client_id"].is_string(), "{registered}");
    assert!(
        registered.get("client_secret").is_none(),
        "a public client: {registered}"
    );
    for field in [
        "redirect_uris",
        "grant_types",
        "token_endpoint_auth_method",
        "response_types",
    ] {
        assert_eq!(registered[field], sent[field], "{field}: {registered}");
    }
}

const JOB_SECRET: &str = "job-secret-0123456789-abcdefghijklmnop";
const API_SECRET: &str = "api-secret-0123456789-abcdefghijklmnop";

/// MCP's client credentials extension (SEP-1046) with the SDKs' own machine-to-machine providers:
/// `ClientCredentialsProvider` / `ClientCredentialsOAuthProvider` with a secret, and
/// `PrivateKeyJwtProvider` / `PrivateKeyJWTOAuthProvider` signing RFC 7523 assertions with a key
/// made by `gatehouse keys generate`; each calls `whoami` through the guard as itself. Then a
/// Python resource server using Authlib's introspection client accepts a token for its resource
/// and refuses one for another (RFC 7662 §4, decision 0007).
#[test]
fn machine_clients_and_an_introspecting_resource_server_with_real_libraries() {
    if !clients_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let api_port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let api = format!("http://127.0.0.1:{api_port}/api");

    // The machine's key, made as an operator would, and its public half for the configuration.
    let key_file = dir.path().join("machine.jwk");
    support::succeeded(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["keys", "generate", "--out"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    let public = support::succeeded(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["keys", "public", "--jwks"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    let jwks: serde_json::Value = serde_json::from_slice(&public.stdout).unwrap();

    let block = format!(
        r#"builtin = "demo"

[[resources]]
resource = "{api}"
scopes_supported = ["api:read"]

[[clients]]
client_id = "job"
client_secret_env = "JOB_SECRET"
grant_types = ["client_credentials"]
scope = "mcp:tools api:read"

[[clients]]
client_id = "keyed-job"
token_endpoint_auth_method = "private_key_jwt"
jwks = '{jwks}'
grant_types = ["client_credentials"]
scope = "mcp:tools"

[[clients]]
client_id = "api-server"
client_secret_env = "API_SECRET"
grant_types = []
introspection_resources = ["{api}"]
"#
    );
    let _server = gatehouse_in_env(
        dir.path(),
        port,
        "",
        &block,
        &[("JOB_SECRET", JOB_SECRET), ("API_SECRET", API_SECRET)],
    );
    let mcp = format!("{issuer}/mcp");
    let key = key_file.to_str().unwrap();
    for (client, credentials) in [
        ("job", vec!["--secret", JOB_SECRET]),
        ("keyed-job", vec!["--key-file", key, "--alg", "ES256"]),
    ] {
        let flags: Vec<&str> = ["--issuer", issuer.as_str()]
            .into_iter()
            .chain(credentials.iter().copied())
            .collect();
        let mut ts = Command::new("node");
        ts.arg("ts_machine.mjs").arg(&mcp).arg(client).args(&flags);
        let mut py = Command::new(python());
        py.arg("py_machine.py").arg(&mcp).arg(client).args(&flags);
        for lines in [run_client(ts), run_client(py)] {
            let tokens = step(&lines, "tokens");
            assert_eq!(tokens["has_refresh"], false, "{lines:?}");
            assert_eq!(tokens["scope"], "mcp:tools", "{lines:?}");
            let whoami: serde_json::Value =
                serde_json::from_str(step(&lines, "whoami")["text"].as_str().unwrap()).unwrap();
            assert_eq!(whoami["subject"], client, "{lines:?}");
            assert_eq!(whoami["client_id"], client, "{lines:?}");
        }
    }

    // The Python resource server, introspecting with its declared credentials.
    let resource_server = Command::new(python())
        .arg("py_resource_server.py")
        .args(["--port", &api_port.to_string()])
        .args(["--introspect", &format!("{issuer}/introspect")])
        .args(["--resource", &api])
        .args(["--client-id", "api-server"])
        .env("RESOURCE_SERVER_SECRET", API_SECRET)
        .current_dir(interop_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut resource_server = Running(resource_server);
    let mut ready = String::new();
    BufReader::new(resource_server.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "listening");

    let basic = format!(
        "Basic {}",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(
            format!("job:{JOB_SECRET}").as_bytes()
        )
    );
    let token_for = |resource: &str| {
        let (status, _, body) = support::request(
            port,
            "POST",
            "/token",
            &[
                ("Authorization", &basic),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!("grant_type=client_credentials&resource={resource}"),
        );
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let hello = |token: Option<&str>| {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        let (status, _, body) = support::request(api_port, "GET", "/api/hello", &headers, "");
        (status, body)
    };
    let (status, body) = hello(Some(&token_for(&api)));
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["subject"].as_str(), answer["scope"].as_str()),
        (Some("job"), Some("api:read"))
    );
    // A token for the MCP server: Gatehouse answers `active: false` to this resource server.
    let (status, body) = hello(Some(&token_for(&mcp)));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_token"), "{body}");
    let (status, _) = hello(None);
    assert_eq!(status, 401);
}

/// The tool calls `gatehouse audit list --json` holds for `client_id`, oldest first, as
/// `tool decision reason` (reason `-` for allowed calls).
fn audited_calls(config: &Path, client_id: &str) -> Vec<String> {
    let mut calls: Vec<String> = support::audit_list(config, &["--client", client_id], &[])
        .into_iter()
        .filter(|event| event["kind"] == "tool_call")
        .map(|event| {
            assert_eq!(event["subject"], "interop", "{event}");
            assert_eq!(event["method"], "tools/call", "{event}");
            format!(
                "{} {} {}",
                event["tool"].as_str().unwrap(),
                event["decision"].as_str().unwrap(),
                event["reason"].as_str().unwrap_or("-")
            )
        })
        .collect();
    calls.reverse();
    calls
}

/// What a client's run must have left in the audit log: the calls it made, in order, each with
/// the decision the gateway took. `refused_step_ups` is how many `insufficient_scope` refusals
/// of whoami the SDK met before stepping up (it retries on its own; at least one).
fn expect_audit(calls: &[String], head: &[&str], echoes_before_limit: usize) {
    let mut expected: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
    let step_ups = calls
        .iter()
        .skip(expected.len())
        .take_while(|call| *call == "whoami denied insufficient_scope")
        .count();
    assert!(step_ups >= 1, "no step-up refusal in {calls:#?}");
    expected.extend(std::iter::repeat_n(
        "whoami denied insufficient_scope".to_owned(),
        step_ups,
    ));
    expected.push("whoami allowed -".into());
    expected.extend(std::iter::repeat_n(
        "echo allowed -".to_owned(),
        echoes_before_limit,
    ));
    expected.push("echo denied rate_limited".into());
    assert_eq!(calls, expected);
}

#[test]
fn sdk_clients_meet_the_policy_gateway_and_the_audit_log_shows_what_they_did() {
    // Gateway mode in front of a third-party MCP server (the Python SDK's), with every policy of
    // issue 23 on: default-deny (`shred` has no scope), per-tool scopes (`whoami` needs
    // mcp:admin: step-up), a per-caller rate limit, MCP 2026-07-28 header checks, and the
    // tool-call audit. Each SDK client walks every path; then `gatehouse audit list` must hold
    // exactly the calls it made, with the decision it met.
    if !clients_available() {
        return;
    }
    let (_upstream, upstream_port) = python_upstream();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = gatehouse(
        dir.path(),
        port,
        &format!(
            "upstream = \"http://127.0.0.1:{upstream_port}/mcp\"\nunmapped_tools = \"deny\"\n\
             rate_limit_per_min = 40\n[resources.tool_scopes]\necho = \"mcp:tools\"\nwhoami = \"mcp:admin\""
        ),
    );
    let config = dir.path().join(format!("gatehouse-{port}.toml"));
    let url = format!("http://127.0.0.1:{port}/mcp");

    let ts = typescript(&url, &["--policy"]);
    // Filtered lists: shred (no scope) never shows; whoami once the grant holds mcp:admin.
    assert_eq!(step(&ts, "tools")["names"], serde_json::json!(["echo"]));
    assert_eq!(
        step(&ts, "tools_after_step_up")["names"],
        serde_json::json!(["echo", "whoami"])
    );
    assert_eq!(step(&ts, "shred")["refused"], 403);
    assert_eq!(step(&ts, "mismatch")["status"], 400);
    assert_eq!(step(&ts, "mismatch")["code"], -32020);
    assert_eq!(step(&ts, "whoami")["scope"], "mcp:admin mcp:tools");
    let ts_client = step(&ts, "registered")["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ts_echoes = step(&ts, "rate_limited")["allowed_before"]
        .as_u64()
        .unwrap();

    let py = python_client(&url, &["--policy"]);
    assert_eq!(step(&py, "tools")["names"], serde_json::json!(["echo"]));
    assert_eq!(
        step(&py, "tools_after_step_up")["names"],
        serde_json::json!(["echo", "whoami"])
    );
    let py_client = step(&py, "registered")["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let py_echoes = step(&py, "rate_limited")["allowed_before"]
        .as_u64()
        .unwrap();

    // The same SDK as a client of the stateless revision: no initialize, no session, the
    // protocol version in `_meta` and `MCP-Protocol-Version`, Mcp-Method and Mcp-Name on every
    // request, which the guard checks against the body before the upstream sees it.
    let modern = python_client(&url, &["--policy", "--mode", "2026-07-28"]);
    assert_eq!(step(&modern, "connected")["protocol_version"], "2026-07-28");
    assert_eq!(step(&modern, "tools")["names"], serde_json::json!(["echo"]));
    assert_eq!(
        step(&modern, "tools_after_step_up")["names"],
        serde_json::json!(["echo", "whoami"])
    );
    let modern_client = step(&modern, "registered")["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let modern_echoes = step(&modern, "rate_limited")["allowed_before"]
        .as_u64()
        .unwrap();

    // The audit writer stores in the background, within milliseconds.
    let mut ts_calls = Vec::new();
    let mut py_calls = Vec::new();
    let mut modern_calls = Vec::new();
    for _ in 0..50 {
        ts_calls = audited_calls(&config, &ts_client);
        py_calls = audited_calls(&config, &py_client);
        modern_calls = audited_calls(&config, &modern_client);
        let ends =
            |calls: &[String]| calls.last().map(String::as_str) == Some("echo denied rate_limited");
        if ends(&ts_calls) && ends(&py_calls) && ends(&modern_calls) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    expect_audit(
        &ts_calls,
        &[
            "echo allowed -",
            "shred denied tool_denied",
            // The body called shred while Mcp-Name said echo: refused, and named by the body.
            "shred denied header_mismatch",
        ],
        usize::try_from(ts_echoes).unwrap(),
    );
    expect_audit(
        &py_calls,
        &["echo allowed -", "shred denied tool_denied"],
        usize::try_from(py_echoes).unwrap(),
    );
    expect_audit(
        &modern_calls,
        &["echo allowed -", "shred denied tool_denied"],
        usize::try_from(modern_echoes).unwrap(),
    );
    // Arguments are not kept unless the resource asks (audit_arguments).
    let shreds = support::audit_list(&config, &["--tool", "shred"], &[]);
    assert!(
        !shreds
            .iter()
            .any(|event| event.to_string().contains("/etc/hosts")),
        "{shreds:?}"
    );
    assert_eq!(shreds.len(), 4, "{shreds:?}");

    // Drift: the upstream offers shred, which tool_scopes does not name (closed by deny, but a
    // decision the operator has not made): `gatehouse resources check` says so and exits 1.
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["resources", "check", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [report] = <[_; 1]>::try_from(json_lines(&String::from_utf8(out.stdout).unwrap())).unwrap();
    assert_eq!(report["drifted"], true);
    assert_eq!(report["unmapped"], serde_json::json!(["shred"]));
    assert_eq!(report["stale"], serde_json::json!([]));
    assert_eq!(report["tools"]["whoami"], "mcp:admin");
}
