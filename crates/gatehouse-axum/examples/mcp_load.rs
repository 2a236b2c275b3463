//! A protected MCP `tools/call` under load: `gatehouse serve` (the guard in front of the built-in
//! demo server, tokens verified locally) side by side with the TypeScript SDK's own OAuth example
//! (`simpleStreamableHttp.js --oauth`: `requireBearerAuth`, which asks its demo authorization
//! server's introspection endpoint on every request), on this machine, in the same run, with the
//! same load generator (`wrk`) and settings.
//!
//! ```sh
//! cargo xtask bench-mcp --seconds 20 --connections 32
//! ```
//!
//! For each server: an access token through its own OAuth flow (registration, authorization with
//! PKCE, token), one MCP session (`initialize`), then `wrk` sends `tools/call` (`echo` here,
//! `greet` there: both return their argument) on every connection, with a distinct JSON-RPC id
//! per request. A warm-up of a quarter of the time precedes each measured run. Every response
//! must be 200 and carry the tool's answer; the run fails otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;

use common::{Running, free_port, spawn, wait_for};

/// An access token from the authorization server at `issuer` for `resource`.
async fn token(http: &reqwest::Client, issuer: &str, resource: &str, scope: &str) -> String {
    let (_, tokens) = common::grant(http, issuer, Some(resource), Some(scope)).await;
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issuer}: no access token in {tokens}"))
        .to_owned()
}

/// Opens an MCP session; its id.
async fn session(http: &reqwest::Client, mcp: &str, token: &str) -> String {
    let post = |body: Value, session: Option<&str>| {
        let mut request = http
            .post(mcp)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let response = post(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "mcp_load", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200, "{mcp}: initialize");
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.text().await;
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(&session),
    )
    .await
    .unwrap();
    session
}

/// What one `wrk` run measured.
struct Measured {
    requests_per_sec: f64,
    latency: String,
    non_2xx: u64,
    errors: String,
}

/// One server under load: its MCP endpoint, a token and session there, and the tool to call.
struct Target<'a> {
    mcp: &'a str,
    token: &'a str,
    session: &'a str,
    tool: &'a str,
    arguments: &'a str,
}

/// `wrk` against the target with a Lua script that sends `tools/call` of its tool.
fn wrk(dir: &std::path::Path, target: &Target<'_>, seconds: u64, connections: u32) -> Measured {
    let Target {
        mcp,
        token,
        session,
        tool,
        arguments,
    } = *target;
    let script = dir.join(format!("{tool}.lua"));
    std::fs::write(
        &script,
        format!(
            r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Mcp-Session-Id"] = "{session}"
wrk.headers["Mcp-Protocol-Version"] = "2025-11-25"
local threads = {{}}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local counter = 0
request = function()
  counter = counter + 1
  local id = counter * 16 + (tid or 0)
  local body = string.format('{{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}', id)
  return wrk.format(nil, nil, nil, body)
end
bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, "load%-test") then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  io.write(string.format("WRONG %d\n", wrong))
  io.write(string.format("LATENCY p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"#
        ),
    )
    .unwrap();
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script)
        .arg(mcp)
        .output()
        .expect("wrk (Debian package wrk; scripts/bench-deps.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let latency = text
        .lines()
        .find_map(|l| l.strip_prefix("LATENCY "))
        .unwrap_or("")
        .to_owned();
    // Non-2xx responses and 200s without the tool's answer, as the script counted them.
    let non_2xx = text
        .lines()
        .find_map(|l| l.strip_prefix("WRONG "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no WRONG line in wrk output:\n{text}"));
    let errors = text
        .lines()
        .find(|l| l.trim().starts_with("Socket errors"))
        .unwrap_or("")
        .trim()
        .to_owned();
    Measured {
        requests_per_sec,
        latency,
        non_2xx,
        errors,
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The TypeScript peer's node process (the script execs node, so it is the child itself).
fn peer_rss(peer: &Running) -> u64 {
    rss_kib(peer.0.id())
}

/// `mcp_load --unguarded PORT`: the built-in demo MCP server alone, with no guard, served by the
/// same HTTP server code as `gatehouse serve`, in a process of its own; until killed.
async fn serve_unguarded(port: &str) {
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let router = gatehouse_axum::unguarded_demo_server(vec!["127.0.0.1".to_owned()]);
    let http = gatehouse_axum::config::Http::default();
    gatehouse_axum::serve(listener, router, &http, std::future::pending())
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider (docs/decisions/0010).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, port] = args.as_slice()
        && flag == "--unguarded"
    {
        serve_unguarded(port).await;
        return;
    }
    let binary = args
        .first()
        .cloned()
        .unwrap_or_else(|| "target/release/gatehouse".into());
    let peer_script = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "peers/ts-sdk-oauth-example.sh".into());
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let connections: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);

    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Gatehouse: the demo server behind the guard, as `--demo` has it, auto-approving.
    let port = free_port();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            r#"issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
[login]
mode = "auto-approve"
auto_approve_subject = "load"
[rate_limits]
enabled = false
[[resources]]
resource = "http://127.0.0.1:{port}/mcp"
scopes_supported = ["mcp:tools"]
required_scopes = ["mcp:tools"]
builtin = "demo"
"#,
            db = dir.path().join("gatehouse.db").display()
        ),
    )
    .unwrap();
    let gatehouse = spawn(
        Command::new(&binary)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    // The same demo server without the guard (and without the authorization server beside it):
    // the physical limit for a guard.
    let bare_port = free_port();
    let bare = spawn(
        Command::new(std::env::current_exe().unwrap())
            .args(["--unguarded", &bare_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    // The peer: its MCP server and its demo authorization server.
    let (peer_mcp_port, peer_auth_port) = (free_port(), free_port());
    let peer = spawn(
        Command::new("bash")
            .arg(&peer_script)
            .arg(peer_mcp_port.to_string())
            .arg(peer_auth_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );

    let issuer = format!("http://127.0.0.1:{port}");
    let mcp = format!("{issuer}/mcp");
    wait_for(&http, &format!("{issuer}/readyz")).await;
    let peer_issuer = format!("http://localhost:{peer_auth_port}");
    let peer_mcp = format!("http://localhost:{peer_mcp_port}/mcp");
    wait_for(
        &http,
        &format!("{peer_issuer}/.well-known/oauth-authorization-server"),
    )
    .await;

    let ours_token = token(&http, &issuer, &mcp, "mcp:tools").await;
    let ours_session = session(&http, &mcp, &ours_token).await;
    // The unguarded server gets the same bearer header, ignored, so that requests are the same
    // bytes.
    let bare_mcp = format!("http://127.0.0.1:{bare_port}/mcp");
    wait_for(&http, &bare_mcp).await;
    let bare_session = session(&http, &bare_mcp, &ours_token).await;
    let peer_token = token(&http, &peer_issuer, &peer_mcp, "mcp:tools").await;
    let peer_session = session(&http, &peer_mcp, &peer_token).await;

    let warm = (seconds / 4).max(2);
    let mut results = Vec::new();
    for (name, target, pid) in [
        (
            "gatehouse serve (guard + rmcp demo server)",
            Target {
                mcp: &mcp,
                token: &ours_token,
                session: &ours_session,
                tool: "echo",
                arguments: r#"{"text":"load-test"}"#,
            },
            gatehouse.0.id(),
        ),
        (
            "the same rmcp demo server, no guard",
            Target {
                mcp: &bare_mcp,
                token: &ours_token,
                session: &bare_session,
                tool: "echo",
                arguments: r#"{"text":"load-test"}"#,
            },
            bare.0.id(),
        ),
        (
            "TypeScript SDK simpleStreamableHttp.js --oauth",
            Target {
                mcp: &peer_mcp,
                token: &peer_token,
                session: &peer_session,
                tool: "greet",
                arguments: r#"{"name":"load-test"}"#,
            },
            peer.0.id(),
        ),
    ] {
        let _ = wrk(dir.path(), &target, warm, connections);
        let measured = wrk(dir.path(), &target, seconds, connections);
        let rss = if pid == peer.0.id() {
            peer_rss(&peer)
        } else {
            rss_kib(pid)
        };
        println!(
            "{name}: {:.0} tools/call per second; {}; non-2xx or wrong answer: {}; RSS {} MiB {}",
            measured.requests_per_sec,
            measured.latency,
            measured.non_2xx,
            rss / 1024,
            measured.errors
        );
        assert_eq!(measured.non_2xx, 0, "{name}: refused or failed requests");
        results.push(measured.requests_per_sec);
    }
    println!(
        "ratio: gatehouse / TypeScript SDK = {:.1}x ({seconds} s each, {connections} connections, wrk -t2, same machine, same run)",
        results[0] / results[2]
    );
    println!(
        "ratio: gatehouse / the same server without the guard = {:.2}x (goal: at least 0.9x)",
        results[0] / results[1]
    );
    drop(bare);
    drop(peer);
    drop(gatehouse);
}
