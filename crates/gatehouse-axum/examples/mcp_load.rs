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
//! must be 200 and carry the tool's answer; the run fails otherwise. Each server's CPU time per
//! call (user and kernel, from `/proc`) is reported beside its rate; with a fifth argument N the
//! servers are measured in turn N times (the guarded and the unguarded one taking turns at going
//! first), and the ratios are of each round's own figures; each server's best round (its highest
//! rate, its least CPU per call) is compared too.
//! `mcp_load --instructions BINARY SECONDS` counts instructions per call instead (callgrind; see
//! `instructions`).

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

use common::{cpu_time, free_port, rss_kib, spawn, wait_for};

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
    /// Responses in the whole run.
    requests: u64,
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
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{text}"));
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
        requests,
        latency,
        non_2xx,
        errors,
    }
}

/// `gatehouse serve`'s configuration for the load: the demo server behind the guard, as `--demo`
/// has it; its path.
fn guarded_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    common::load_config(
        dir,
        port,
        "load",
        "required_scopes = [\"mcp:tools\"]\nbuiltin = \"demo\"",
        "",
    )
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

/// `mcp_load --instructions BINARY SECONDS`: instructions per `tools/call`, counted by callgrind
/// over the whole server process (every thread, the SQLite writer included), for `gatehouse
/// serve` and for the same demo server with no guard, one after the other. Unlike the rates, the
/// count does not move with the neighbours. Under valgrind the sha2 crate runs its portable
/// SHA-256, not SHA-NI: the guarded count includes about 40,000 instructions of it (the token's
/// cache key, the session id's MAC) that the hardware does in a few thousand. The load is light
/// (4 connections), so the audit writer commits smaller batches than under the rate runs.
async fn instructions(binary: &str, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut counts = Vec::new();
    for guarded in [true, false] {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mcp = format!("{base}/mcp");
        let out = dir.path().join(format!("callgrind-{port}.out"));
        let mut command = Command::new("valgrind");
        command
            .args(["--tool=callgrind", "--instr-atstart=no"])
            .arg(format!("--callgrind-out-file={}", out.display()));
        if guarded {
            let config = guarded_config(dir.path(), port);
            command.arg(binary).arg("serve").arg("--config").arg(config);
        } else {
            command
                .arg(std::env::current_exe().unwrap())
                .args(["--unguarded", &port.to_string()]);
        }
        let server = spawn(
            command
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for(&http, &mcp).await;
        let token = if guarded {
            token(&http, &base, &mcp, "mcp:tools").await
        } else {
            "ignored-by-an-unguarded-server".to_owned()
        };
        let session = session(&http, &mcp, &token).await;
        let target = Target {
            mcp: &mcp,
            token: &token,
            session: &session,
            tool: "echo",
            arguments: r#"{"text":"load-test"}"#,
        };
        // Warm (caches, the session, the writer's statements), uncounted; then only the load.
        let _ = wrk(dir.path(), &target, 5, 4);
        let pid = server.0.id().to_string();
        let control = |args: &[&str]| {
            let status = Command::new("callgrind_control")
                .args(args)
                .arg(&pid)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("callgrind_control (Debian package valgrind)");
            assert!(status.success(), "callgrind_control {args:?}");
        };
        control(&["-z"]);
        control(&["-i", "on"]);
        let measured = wrk(dir.path(), &target, seconds, 4);
        control(&["-i", "off"]);
        control(&["-d"]);
        assert_eq!(measured.non_2xx, 0, "refused or failed calls");
        // The dump is the file with the part number 1; the one written at exit holds nothing.
        let annotated = Command::new("callgrind_annotate")
            .arg(format!("{}.1", out.display()))
            .output()
            .expect("callgrind_annotate (Debian package valgrind)");
        let total: u64 = String::from_utf8_lossy(&annotated.stdout)
            .lines()
            .find(|line| line.contains("PROGRAM TOTALS") && !line.contains("calculated"))
            .and_then(|line| line.split_whitespace().next())
            .and_then(|count| count.replace(',', "").parse().ok())
            .expect("a program total from callgrind_annotate");
        let per_call = total / measured.requests.max(1);
        println!(
            "{}: {} calls, {total} instructions, {per_call} per call",
            if guarded {
                "gatehouse serve (guard + rmcp demo server)"
            } else {
                "the same rmcp demo server, no guard"
            },
            measured.requests
        );
        counts.push(per_call as f64);
        drop(server);
    }
    println!(
        "instructions per call: gatehouse / the same server without the guard = {:.3}",
        counts[0] / counts[1]
    );
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
    if let [flag, binary, seconds] = args.as_slice()
        && flag == "--instructions"
    {
        instructions(binary, seconds.parse().unwrap()).await;
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
    let rounds: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);

    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Gatehouse: the demo server behind the guard, as `--demo` has it, auto-approving.
    let port = free_port();
    let config = guarded_config(dir.path(), port);
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
    let targets = [
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
            // The script execs node, so the child is the peer's process.
            peer.0.id(),
        ),
    ];
    // Rounds alternate the servers, so that a neighbour's burst on the shared machine weighs on
    // each of them alike; the ratios are of each round's own figures. The guarded and the
    // unguarded server take turns going first (A B, B A, …): whichever runs first in a round runs
    // right after the peer's last run, and over an even number of rounds the machine's drift
    // favours neither.
    let (mut to_unguarded, mut cpu_to_unguarded, mut to_peer) =
        (Vec::new(), Vec::new(), Vec::new());
    // Each server's best round: its highest rate and its least CPU per call.
    let (mut best_rate, mut least_cpu) = ([0.0_f64; 3], [f64::INFINITY; 3]);
    for round in 1..=rounds {
        println!("round {round} of {rounds}:");
        let order = if round % 2 == 1 { [0, 1, 2] } else { [1, 0, 2] };
        let mut rates = [0.0; 3];
        let mut cpu_per_call = [0.0; 3];
        for index in order {
            let (name, target, pid) = &targets[index];
            let _ = wrk(dir.path(), target, warm, connections);
            let cpu_before = cpu_time(*pid);
            let measured = wrk(dir.path(), target, seconds, connections);
            let cpu = cpu_time(*pid).since(cpu_before);
            let per_call = |time: std::time::Duration| {
                time.as_secs_f64() * 1e6 / measured.requests.max(1) as f64
            };
            let cpu_us = per_call(cpu.user + cpu.system);
            println!(
                "  {name}: {:.0} tools/call per second; server CPU {cpu_us:.1} µs per call ({:.1} user, {:.1} kernel); {}; non-2xx or wrong answer: {}; RSS {} MiB {}",
                measured.requests_per_sec,
                per_call(cpu.user),
                per_call(cpu.system),
                measured.latency,
                measured.non_2xx,
                rss_kib(*pid) / 1024,
                measured.errors
            );
            assert_eq!(measured.non_2xx, 0, "{name}: refused or failed requests");
            rates[index] = measured.requests_per_sec;
            cpu_per_call[index] = cpu_us;
            best_rate[index] = best_rate[index].max(measured.requests_per_sec);
            least_cpu[index] = least_cpu[index].min(cpu_us);
        }
        to_unguarded.push(rates[0] / rates[1]);
        cpu_to_unguarded.push(cpu_per_call[0] / cpu_per_call[1]);
        to_peer.push(rates[0] / rates[2]);
    }
    let list = |ratios: &[f64], digits: usize| {
        ratios
            .iter()
            .map(|r| format!("{r:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "ratio: gatehouse / TypeScript SDK = {}x (median {:.1}x; {seconds} s each, {connections} connections, wrk -t2, same machine, same run)",
        list(&to_peer, 1),
        median(&to_peer)
    );
    println!(
        "ratio: gatehouse / the same server without the guard = {}x (median {:.2}x; goal: at least 0.9x)",
        list(&to_unguarded, 2),
        median(&to_unguarded)
    );
    println!(
        "server CPU per call: gatehouse / the same server without the guard = {}x (median {:.2}x)",
        list(&cpu_to_unguarded, 2),
        median(&cpu_to_unguarded)
    );
    // On a shared machine a neighbour's burst only ever slows a round down: each server's best
    // round is the one least disturbed, and the two best rounds are a second, steadier reading
    // of the same comparison (with several rounds).
    if rounds > 1 {
        println!(
            "best rounds: gatehouse {:.0} calls/s at {:.1} µs, unguarded {:.0} calls/s at {:.1} µs: ratio {:.2}x, CPU per call {:.2}x",
            best_rate[0],
            least_cpu[0],
            best_rate[1],
            least_cpu[1],
            best_rate[0] / best_rate[1],
            least_cpu[0] / least_cpu[1]
        );
    }
    drop(bare);
    drop(peer);
    drop(gatehouse);
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}
