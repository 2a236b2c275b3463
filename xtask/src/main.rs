//! Project automation, run as `cargo xtask <command>` so that CI and a developer run the same
//! steps (the rust-analyzer / ruma habit).
//!
//! - `cargo xtask ci`: formatting check, clippy with warnings denied, the engine's sans-IO check
//!   (`sans_io`), every test of the workspace (the store tests against PostgreSQL too when one
//!   answers; see `postgres_for_tests`).
//! - `cargo xtask fuzz [--time SECS] [--target NAME] [--build-only]`: replays the saved
//!   regressions, then runs each cargo-fuzz target for SECS seconds (default 60) from its seeds.
//! - `cargo xtask soak [--seconds SECS]`: the release server under mixed traffic (default 180 s);
//!   fails on any 5xx; prints throughput, token-endpoint latency percentiles and memory.
//! - `cargo xtask bench`: runs the criterion benchmarks and prints the table of medians and
//!   ratios that `docs/performance.md` records.
//! - `cargo xtask conformance [--url ISSUER --resource URL]`: our black-box checks and the official
//!   MCP conformance suite against a deployment (by default a `gatehouse serve` it starts), and
//!   the suite's DPoP client scenarios against our DPoP client (`dpop_client`).
//! - `cargo xtask bench-mcp [--seconds SECS] [--connections N] [--rounds N] [--instructions]`: a protected MCP
//!   `tools/call` under load (wrk) through `gatehouse serve`, the same MCP server without the
//!   guard and the TypeScript SDK's OAuth example, in the same run, `--rounds` times in turn;
//!   prints each rate, each server's CPU time per call, and the ratios. With `--instructions`,
//!   instructions per call under callgrind instead, guarded and unguarded, for `--seconds`.
//! - `cargo xtask bench-token [--seconds SECS] [--tasks N] [--rounds N] [--postgres URL]`: the
//!   token endpoint (refresh, `client_credentials`, introspection) on durable SQLite and in memory
//!   (and PostgreSQL if given) beside node-oidc-provider in the same run; rows, medians, ratios.

// xtask is a developer tool, not library code: failing loudly is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod conformance;
mod fuzz;
mod sans_io;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("fuzz") => fuzz::run(args.get(1..).unwrap_or_default()),
        Some("bench") => bench::run(args.get(1..).unwrap_or_default()),
        Some("soak") => soak(args.get(1..).unwrap_or_default()),
        Some("bench-mcp") => bench_mcp(args.get(1..).unwrap_or_default()),
        Some("bench-token") => bench_token(args.get(1..).unwrap_or_default()),
        Some("conformance") => conformance::run(args.get(1..).unwrap_or_default()),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | fuzz [--time SECS] [--target NAME] [--build-only] | bench [--report-only | --instructions] | soak [--seconds SECS] | bench-mcp [--seconds SECS] [--connections N] [--rounds N] [--instructions] | bench-token [--seconds SECS] [--tasks N] [--rounds N] [--postgres URL] | conformance [--url ISSUER --resource URL]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The load comparison of `crates/gatehouse-axum/examples/mcp_load.rs`: the release binary and
/// the TypeScript SDK's OAuth example (`peers/ts-sdk-oauth-example.sh`), both under
/// `wrk` (`scripts/bench-deps.sh` installs it).
fn bench_mcp(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: cargo xtask bench-mcp [--seconds SECS] [--connections N] [--rounds N] [--instructions]";
    let mut seconds = "20".to_owned();
    let mut connections = "32".to_owned();
    let mut rounds = "1".to_owned();
    let mut count_instructions = false;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--instructions" {
            count_instructions = true;
            continue;
        }
        let value = rest.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--seconds" => seconds = value.clone(),
            "--connections" => connections = value.clone(),
            "--rounds" => rounds = value.clone(),
            other => return Err(format!("bench-mcp: unknown option {other}; {USAGE}")),
        }
    }
    if count_instructions && args.iter().any(|a| a == "--connections" || a == "--rounds") {
        // The count runs each server once, under 4 connections (`mcp_load --instructions`).
        return Err(format!(
            "bench-mcp: --instructions takes only --seconds; {USAGE}"
        ));
    }
    let root = workspace_root();
    let mut deps = Command::new("bash");
    deps.arg(root.join("scripts/bench-deps.sh"));
    step("scripts/bench-deps.sh", deps)?;
    let mut run = release_example(&root, "mcp_load")?;
    if count_instructions {
        // Instructions per call under callgrind, guarded and unguarded (valgrind).
        run.arg("--instructions")
            .arg(target_dir(&root).join("release/gatehouse"))
            .arg(seconds);
        return step("mcp_load --instructions", run);
    }
    run.arg(target_dir(&root).join("release/gatehouse"))
        .arg(root.join("peers/ts-sdk-oauth-example.sh"))
        .arg(seconds)
        .arg(connections)
        .arg(rounds);
    step("mcp_load", run)
}

/// The token endpoint beside node-oidc-provider, in the same run
/// (`crates/gatehouse-axum/examples/token_load.rs`, `peers/oidc-provider-token.sh`): refresh grants
/// with rotation, `client_credentials` grants and introspection, against durable SQLite and
/// in-memory Gatehouse and oidc-provider's in-memory adapter, `--rounds` times each, in turn.
fn bench_token(args: &[String]) -> Result<(), String> {
    const USAGE: &str =
        "usage: cargo xtask bench-token [--seconds SECS] [--tasks N] [--rounds N] [--postgres URL]";
    let (mut seconds, mut tasks, mut rounds) = ("10".to_owned(), "32".to_owned(), 3usize);
    let mut targets = vec!["sqlite".to_owned(), "memory".to_owned()];
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--seconds" => seconds = value.clone(),
            "--tasks" => tasks = value.clone(),
            "--rounds" => rounds = value.parse().map_err(|_| USAGE)?,
            "--postgres" => targets.push(value.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    targets.push("oidc-provider".to_owned());
    if Command::new("node").arg("--version").output().is_err() {
        return Err("bench-token: the peer needs Node.js 20 or newer and npm".into());
    }
    let root = workspace_root();
    let mut run = release_example(&root, "token_load")?;
    run.arg(seconds).arg(tasks);
    for _ in 0..rounds {
        run.args(&targets);
    }
    step("token_load", run)
}

/// Builds the release `gatehouse` and the `gatehouse-axum` example `name`; the command that runs
/// the example, from the workspace root, with `$GATEHOUSE_BIN` naming the binary.
fn release_example(root: &Path, name: &str) -> Result<Command, String> {
    step(
        "cargo build --release -p gatehouse",
        cargo(root, &["build", "--release", "-p", "gatehouse"]),
    )?;
    step(
        &format!("cargo build --release -p gatehouse-axum --example {name}"),
        cargo(
            root,
            &[
                "build",
                "--release",
                "-p",
                "gatehouse-axum",
                "--example",
                name,
            ],
        ),
    )?;
    let mut run = Command::new(target_dir(root).join("release/examples").join(name));
    run.current_dir(root)
        .env("GATEHOUSE_BIN", target_dir(root).join("release/gatehouse"));
    Ok(run)
}

/// The soak run of `crates/gatehouse-axum/examples/soak.rs` against the release binary.
fn soak(args: &[String]) -> Result<(), String> {
    let seconds = match args {
        [] => "180".to_owned(),
        [flag, value] if flag == "--seconds" => value.clone(),
        _ => return Err("usage: cargo xtask soak [--seconds SECS]".into()),
    };
    let root = workspace_root();
    let mut run = release_example(&root, "soak")?;
    run.arg(target_dir(&root).join("release/gatehouse"))
        .arg(seconds);
    step("soak", run)
}

/// The checks that gate every change, in the order that fails fastest.
fn ci() -> Result<(), String> {
    let root = workspace_root();
    step(
        "cargo fmt --all -- --check",
        cargo(&root, &["fmt", "--all", "--", "--check"]),
    )?;
    step(
        "cargo clippy --workspace --all-targets -- -D warnings",
        cargo(
            &root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    )?;
    sans_io::check(&root)?;
    let mut test = cargo(&root, &["test", "--workspace"]);
    if let Some(url) = postgres_for_tests() {
        test.env(POSTGRES_ENV, url);
    }
    if system_deps_for_tests(&root) {
        test.env(BROWSER_ENV, "1");
        test.env(PROMETHEUS_ENV, "1");
    }
    if interop_for_tests(&root) {
        test.env(INTEROP_ENV, "1");
    }
    step("cargo test --workspace", test)?;
    println!("xtask ci: all checks passed");
    Ok(())
}

/// Set when the browser test must run (and fail if it cannot).
const BROWSER_ENV: &str = "GATEHOUSE_TEST_BROWSER";
/// Set when the metrics test must run promtool and a Prometheus server (and fail without them).
const PROMETHEUS_ENV: &str = "GATEHOUSE_TEST_PROMETHEUS";

/// Makes Chromium, ChromeDriver and Prometheus available for the browser and metrics tests
/// (`scripts/test-deps.sh` installs the Debian packages when it can). With the variables already
/// set (as `.ci/run` does), the tests run whatever happens here, and fail if a tool is missing.
fn system_deps_for_tests(root: &Path) -> bool {
    let installed = Command::new("bash")
        .arg(root.join("scripts/test-deps.sh"))
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        println!(
            "xtask: chromium, chromedriver or prometheus missing: the browser test and the Prometheus checks are skipped"
        );
    }
    installed
}

/// Set when the interop tests with the real MCP SDK clients must run (and fail if they cannot).
const INTEROP_ENV: &str = "GATEHOUSE_TEST_INTEROP";

/// Installs the TypeScript and Python MCP SDK clients (`scripts/interop-deps.sh`: npm and PyPI,
/// pinned). With `GATEHOUSE_TEST_INTEROP` already set (as `.ci/run` does), the tests run
/// whatever happens here, and fail if a client is missing.
fn interop_for_tests(root: &Path) -> bool {
    let installed = Command::new("bash")
        .arg(root.join("scripts/interop-deps.sh"))
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        println!(
            "xtask: the MCP SDK clients could not be installed: the interop tests are skipped"
        );
    }
    installed || std::env::var_os(INTEROP_ENV).is_some()
}

/// The variable that points the store tests at a PostgreSQL database.
const POSTGRES_ENV: &str = "GATEHOUSE_TEST_POSTGRES";
/// Where the development and CI machines run PostgreSQL (trust authentication).
const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL database for the store tests: `GATEHOUSE_TEST_POSTGRES` when set (the tests
/// then fail if it does not answer; `.ci/run` sets it), else the local server if one listens on
/// 127.0.0.1:5432, else none (the PostgreSQL legs are skipped, and we say so).
fn postgres_for_tests() -> Option<String> {
    if let Ok(url) = std::env::var(POSTGRES_ENV) {
        println!("xtask: store tests use PostgreSQL from {POSTGRES_ENV}");
        return Some(url);
    }
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    if std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(1)).is_ok() {
        println!("xtask: store tests use the local PostgreSQL at {LOCAL_POSTGRES}");
        Some(LOCAL_POSTGRES.to_owned())
    } else {
        println!(
            "xtask: no PostgreSQL at 127.0.0.1:5432 and {POSTGRES_ENV} unset: the PostgreSQL legs of the store tests are skipped"
        );
        None
    }
}

/// Runs a command, naming it first, and turns a failure into an error naming it again.
pub(crate) fn step(name: &str, mut command: Command) -> Result<(), String> {
    println!("==> {name}");
    let status = command
        .status()
        .map_err(|e| format!("{name}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name}: failed ({status})"))
    }
}

/// `cargo ARGS` in `dir`, with the cargo that runs xtask.
pub(crate) fn cargo(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(dir).args(args);
    command
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` when set (relative to the workspace),
/// else `target/` in the workspace.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The workspace root: the parent of this crate's directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}
