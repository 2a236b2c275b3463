//! What an operator relies on, through the binary: `config check`, JSON logs that carry each
//! request's id, no colour codes in a log file, and `/metrics` on its own address, in a format
//! Prometheus's own checker (`promtool`) and server accept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, header};

/// A GET; the response head and body.
fn get(port: u16, path: &str) -> (String, String) {
    let (_, head, body) = support::request(port, "GET", path, &[], "");
    (head, body)
}

fn config(dir: &Path, port: u16, extra: &str) -> String {
    let path = dir.join("gatehouse.toml");
    std::fs::write(
        &path,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"sqlite://state.db\"\n{extra}\n\
             [[resources]]\nresource = \"http://127.0.0.1:{port}/mcp\"\nscopes_supported = [\"mcp:tools\"]\nbuiltin = \"demo\"\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// `serve --config`, its standard error collected line by line; returns when it listens.
fn serve(dir: &Path, config: &str) -> (Child, std::sync::mpsc::Receiver<String>) {
    let running = support::start(dir, &["serve", "--config", config], &[]);
    (running.child, running.stderr)
}

fn stop(child: Child) {
    let _ = support::terminate(child);
}

fn gatehouse(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(dir)
        .env_remove("GATEHOUSE_SECRET_KEY")
        .output()
        .unwrap()
}

#[test]
fn config_check_validates_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let good = config(dir.path(), port, "");
    support::succeeded(gatehouse(
        &["config", "check", "--config", &good],
        dir.path(),
    ));
    assert!(!dir.path().join("state.db").exists(), "nothing was opened");
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "nothing was bound"
    );

    for (extra, key) in [
        ("[tokens]\naccess_ttl_secs = \"ten\"", "access_ttl_secs"),
        ("[tokens]\nsigning_alg = \"HS256\"", "tokens.signing_alg"),
        ("[http]\nmax_connections = 0", "http.max_connections"),
        ("[metrics]\nlisten = \"nowhere\"", "metrics.listen"),
        ("[log]\nformat = \"xml\"", "format"),
        ("[log]\nlevel = \"loud\"", "log.level"),
        ("[audit]\nretention_days = 0", "audit.retention_days"),
        ("[tokens]\nacces_ttl_secs = 60", "acces_ttl_secs"),
    ] {
        let path = config(dir.path(), port, extra);
        let output = gatehouse(&["config", "check", "--config", &path], dir.path());
        assert_eq!(output.status.code(), Some(2), "{extra}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{extra}: {stderr}");
    }
    // What only the start would have found: a resource path the server owns, a built-in server
    // this program does not have (library programs name their own), and a production issuer
    // without its encryption key. Each refused with exit 2, naming what is wrong.
    let path = dir.path().join("start.toml");
    let refused = |toml: String| {
        std::fs::write(&path, toml).unwrap();
        let output = gatehouse(
            &["config", "check", "--config", path.to_str().unwrap()],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(2));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = refused(format!(
        "issuer = \"http://127.0.0.1:{port}\"\n[[resources]]\nresource = \"http://127.0.0.1:{port}/token\"\nbuiltin = \"demo\"\n"
    ));
    assert!(stderr.contains("resources[0].resource"), "{stderr}");
    let stderr = refused(format!(
        "issuer = \"http://127.0.0.1:{port}\"\n[[resources]]\nresource = \"http://127.0.0.1:{port}/mcp\"\nbuiltin = \"files\"\n"
    ));
    assert!(
        stderr.contains("resources[0].builtin") && stderr.contains("\"files\""),
        "{stderr}"
    );
    let stderr = refused("issuer = \"https://auth.example.com\"\n[[resources]]\nresource = \"https://mcp.example.com/mcp\"\nscopes_supported = [\"mcp:tools\"]\n".to_owned());
    assert!(stderr.contains("GATEHOUSE_SECRET_KEY"), "{stderr}");
}

#[test]
fn json_logs_parse_line_by_line_and_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = config(
        dir.path(),
        port,
        "[log]\nformat = \"json\"\nlevel = \"info\"",
    );
    let (child, lines) = serve(dir.path(), &path);
    // A request that logs: a refused token request (an audit event) under a known request id.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = "grant_type=authorization_code&code=x&client_id=nobody&client_secret=wrong";
    write!(
        stream,
        "POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: trace-42\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert_eq!(
        header(&response, "x-request-id"),
        Some("trace-42"),
        "{response}"
    );
    // Without one, the server makes one up.
    let (head, _) = get(port, "/healthz");
    let made_up = header(&head, "x-request-id").unwrap().to_owned();
    assert!(made_up.len() >= 16, "{made_up}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tagged = Vec::new();
    let mut seen = 0;
    while Instant::now() < deadline && tagged.is_empty() {
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            seen += 1;
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(
                value["level"].is_string() && value["timestamp"].is_string(),
                "{line}"
            );
            if value["span"]["id"] == "trace-42" {
                tagged.push(value);
            }
        }
    }
    stop(child);
    assert!(seen > 0);
    assert!(
        tagged
            .iter()
            .any(|line| line["kind"] == "client_authentication_failed"),
        "the audit line of the request carries its id: {tagged:?}"
    );
}

#[test]
fn text_logs_have_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = config(dir.path(), port, "");
    let (child, lines) = serve(dir.path(), &path);
    get(port, "/token");
    let mut text = String::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        text.push_str(&line);
        text.push('\n');
    }
    stop(child);
    assert!(!text.is_empty());
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );
}

/// `promtool` and `prometheus` (Debian's `prometheus` package, which `scripts/test-deps.sh`
/// installs): required when `GATEHOUSE_TEST_PROMETHEUS` is set (CI), skipped otherwise.
fn prometheus_tools() -> bool {
    let found = Command::new("promtool").arg("--version").output().is_ok()
        && Command::new("prometheus").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_PROMETHEUS").is_none(),
            "GATEHOUSE_TEST_PROMETHEUS is set but promtool or prometheus is missing (scripts/test-deps.sh installs them)"
        );
        eprintln!(
            "promtool/prometheus not installed: skipped (scripts/test-deps.sh installs them)"
        );
    }
    found
}

#[test]
fn metrics_are_served_apart_and_prometheus_accepts_and_scrapes_them() {
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let path = config(
        dir.path(),
        port,
        &format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\""),
    );
    let (child, _lines) = serve(dir.path(), &path);
    // Some traffic: a challenge at the guard, a refused token request, a page.
    get(port, "/mcp");
    get(port, "/authorize?client_id=nobody");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = "grant_type=refresh_token&refresh_token=x&client_id=nobody&client_secret=y";
    write!(
        stream,
        "POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.read_to_string(&mut String::new()).unwrap();
    // Not on the public port.
    let (head, _) = get(port, "/metrics");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (head, text) = get(metrics_port, "/metrics");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        if text.contains("gatehouse_signing_key_age_seconds") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for expected in [
        "gatehouse_http_requests_total{endpoint=\"/token\",status=\"401\"}",
        "gatehouse_http_request_duration_seconds_bucket{endpoint=\"/token\"",
        "gatehouse_client_authentication_failures_total{endpoint=\"token\"}",
        "gatehouse_guard_decisions_total{resource=",
        "outcome=\"401\"",
        "gatehouse_store_operation_duration_seconds_bucket{backend=\"sqlite\"",
        "gatehouse_signing_key_age_seconds",
        "gatehouse_security_events_total{kind=\"client_authentication_failed\"}",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    if prometheus_tools() {
        // The exposition format, as Prometheus's own linter reads it.
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let checked = check.wait_with_output().unwrap();
        assert!(
            checked.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
        // A real Prometheus server scrapes it.
        let prometheus_port = free_port();
        let scrape = dir.path().join("prometheus.yml");
        std::fs::write(
            &scrape,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gatehouse\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
            ),
        )
        .unwrap();
        let mut prometheus = Command::new("prometheus")
            .arg(format!("--config.file={}", scrape.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let scraped = loop {
            let answer = TcpStream::connect(("127.0.0.1", prometheus_port))
                .ok()
                .map(|_| {
                    get(
                        prometheus_port,
                        "/api/v1/query?query=gatehouse_http_requests_total",
                    )
                    .1
                });
            if let Some(answer) = answer
                && answer.contains("\"endpoint\":\"/token\"")
            {
                break answer;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not scrape gatehouse"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        let _ = prometheus.kill();
        let _ = prometheus.wait();
        assert!(scraped.contains("\"status\":\"success\""), "{scraped}");
    }
    stop(child);
}
