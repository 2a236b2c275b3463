//! The real MCP clients against `gatehouse serve`: the official TypeScript SDK client
//! (`interop/ts_client.mjs`) and the Python SDK client (`interop/py_client.py`) each discover,
//! register, authorize (auto-approve), redeem, call `echo` through the guard and step up to
//! `admin_reset`; then the same clients go through gateway mode in front of a separate MCP server
//! process written with the Python SDK (`interop/py_server.py`).
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
    let config = dir.join(format!("gatehouse-{port}.toml"));
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
fn run_client(mut command: Command) -> Vec<serde_json::Value> {
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
    assert!(
        status.success(),
        "{command:?} failed: {status}\n{out}\n{err}"
    );
    out.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
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

#[test]
fn sdk_clients_go_through_gateway_mode_to_a_python_mcp_server() {
    if !clients_available() {
        return;
    }
    let upstream_port = free_port();
    let mut upstream = Command::new(python());
    upstream
        .arg("py_server.py")
        .args(["--port", &upstream_port.to_string()])
        .current_dir(interop_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut upstream = Running(upstream.spawn().unwrap());
    let mut ready = String::new();
    BufReader::new(upstream.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("listening"), "{ready}");

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
