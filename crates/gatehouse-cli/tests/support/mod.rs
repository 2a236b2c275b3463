//! What the tests of the binary share: free ports, plain HTTP/1.1 requests, and starting and
//! stopping `gatehouse serve` as a user does.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request on its own connection; the status code, the response head and the body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// Registers a public client (RFC 7591) sent back to `http://127.0.0.1:33418/callback`; the
/// status and the body.
pub fn register_public_client(port: u16) -> (u16, String) {
    let (status, _, body) = request(
        port,
        "POST",
        "/register",
        &[("Content-Type", "application/json")],
        r#"{"redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none"}"#,
    );
    (status, body)
}

/// An MCP `initialize` (2025-11-25) at `/mcp` with a bearer token; the status and the body.
pub fn mcp_initialize(port: u16, token: &str) -> (u16, String) {
    let authorization = format!("Bearer {token}");
    let (status, _, body) = request(
        port,
        "POST",
        "/mcp",
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"gatehouse-tests","version":"1"}}}"#,
    );
    (status, body)
}

/// A plain GET; the status line and the body.
pub fn get(port: u16, path: &str) -> (String, String) {
    let (_, head, body) = request(port, "GET", path, &[], "");
    (head.lines().next().unwrap_or("").to_owned(), body)
}

/// A response header's value.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A running `gatehouse serve`.
pub struct Running {
    pub child: Child,
    /// What it printed on standard output until it listened.
    pub lines: Vec<String>,
    /// Its standard error, line by line.
    pub stderr: Receiver<String>,
}

/// Starts `gatehouse ARGS` in `dir` with `env` (and no `RUST_LOG` unless `env` sets it), and
/// waits until it says it listens.
pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let (sender, stderr) = std::sync::mpsc::channel();
    let errors = child.stderr.take().unwrap();
    // Drained always, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(errors).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let listening = line.contains("listening");
        lines.push(line.trim_end().to_owned());
        if listening {
            std::thread::spawn(move || for _ in out.lines() {});
            return Running {
                child,
                lines,
                stderr,
            };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not start: {lines:?}");
}

/// Stops it with SIGTERM, as a service manager does; its exit status.
pub fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `output` of a command that must have succeeded: the test fails with its stderr otherwise.
pub fn succeeded(output: std::process::Output) -> std::process::Output {
    assert!(
        output.status.success(),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The audit records `gatehouse audit list --json` prints for the configuration at `config`
/// (run in its directory, with `env`), at most 1,000, narrowed by `filters` (`--client`,
/// `--tool`, …); newest first.
pub fn audit_list(config: &Path, filters: &[&str], env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let output = succeeded(
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["audit", "list", "--json", "--limit", "1000"])
            .args(filters)
            .arg("--config")
            .arg(config)
            .current_dir(config.parent().unwrap_or(Path::new(".")))
            .envs(env.iter().copied())
            .output()
            .unwrap(),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
