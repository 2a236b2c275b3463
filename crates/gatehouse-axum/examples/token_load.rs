//! The token endpoint under load, end to end: the release `gatehouse serve` on durable SQLite (or
//! another `database`), ES256 JWT access tokens, refresh grants with rotation and then
//! `client_credentials` grants from concurrent clients, every answer checked. Afterwards the audit
//! table is read back: every `token_issued` record must be there (issue 24: none dropped).
//!
//! ```sh
//! cargo build --release -p gatehouse
//! cargo run --release -p gatehouse-axum --example token_load -- [SECONDS] [TASKS] [DATABASE]
//! ```
//!
//! `DATABASE` defaults to a fresh `sqlite://` file; `memory` or a `postgres://` URL work too (a
//! database of its own: the run fills it and does not clean up). The binary is
//! `target/release/gatehouse` (or `$GATEHOUSE_BIN`).

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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64ct::Encoding as _;
use gatehouse_store::ServerStore as _;
use serde_json::Value;

const MACHINE_SECRET: &str = "token-load-machine-secret-0123456789abcd";

mod common;

use common::{form, free_port};

/// Runs `tasks` copies of `step` until `seconds` pass; how many grants, and per second.
async fn phase<F, Fut>(tasks: usize, seconds: u64, step: F) -> (u64, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let step = step.clone();
        let done = Arc::clone(&done);
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                step(task).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let done = done.load(Ordering::Relaxed);
    (done, done as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let tasks: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    let database = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("state.db").display()));
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"{issuer}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{database}\"\n\
             [login]\nmode = \"auto-approve\"\nauto_approve_subject = \"load\"\n\
             [rate_limits]\nenabled = false\n[log]\nlevel = \"warn\"\n\
             [[resources]]\nresource = \"{issuer}/mcp\"\nscopes_supported = [\"mcp:tools\"]\nbuiltin = \"demo\"\n\
             [[clients]]\nclient_id = \"load-machine\"\nclient_secret_env = \"LOAD_MACHINE_SECRET\"\n\
             grant_types = [\"client_credentials\"]\nscope = \"mcp:tools\"\n"
        ),
    )
    .unwrap();
    let binary = std::env::var("GATEHOUSE_BIN").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/release/gatehouse"
        )
        .to_owned()
    });
    assert!(
        std::path::Path::new(&binary).exists(),
        "{binary}: build it first (cargo build --release -p gatehouse)"
    );
    let server = common::spawn(
        Command::new(&binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env("LOAD_MACHINE_SECRET", MACHINE_SECRET)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(tasks)
        .build()
        .unwrap();
    common::wait_for(&http, &format!("{issuer}/readyz")).await;

    // One grant per task, each refreshed in a chain (rotation: every answer's refresh token is
    // the next request's).
    let mut chains = Vec::new();
    for _ in 0..tasks {
        let (client_id, tokens) = common::grant(&http, &issuer, None, None).await;
        chains.push((
            client_id,
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    let chains: Arc<Vec<tokio::sync::Mutex<(String, String)>>> =
        Arc::new(chains.into_iter().map(tokio::sync::Mutex::new).collect());
    let refresh = {
        let http = http.clone();
        let issuer = issuer.clone();
        let chains = Arc::clone(&chains);
        move |task: usize| {
            let http = http.clone();
            let issuer = issuer.clone();
            let chains = Arc::clone(&chains);
            async move {
                let mut chain = chains[task].lock().await;
                let (client_id, refresh_token) = chain.clone();
                let answer: Value = http
                    .post(format!("{issuer}/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &refresh_token),
                        ("client_id", &client_id),
                    ]))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let next = answer["refresh_token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("refresh refused: {answer}"));
                assert!(
                    answer["access_token"]
                        .as_str()
                        .is_some_and(|t| t.len() > 100)
                );
                chain.1 = next.to_owned();
            }
        }
    };
    let (refreshed, refreshes) = phase(tasks, seconds, refresh).await;

    let basic = format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("load-machine:{MACHINE_SECRET}").as_bytes())
    );
    let machine = {
        let http = http.clone();
        let issuer = issuer.clone();
        move |_task: usize| {
            let http = http.clone();
            let issuer = issuer.clone();
            let basic = basic.clone();
            async move {
                let answer: Value = http
                    .post(format!("{issuer}/token"))
                    .header("authorization", basic)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(
                    answer["access_token"].as_str().is_some(),
                    "client_credentials refused: {answer}"
                );
            }
        }
    };
    let (machined, machines) = phase(tasks, seconds, machine).await;

    // Stopped gracefully, so the audit writer flushes what it holds; then every token_issued
    // record is counted.
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut server = server;
    let _ = server.0.wait();
    let mut audited = 0u64;
    if database != "memory" {
        let url = gatehouse_store::DatabaseUrl::parse(&database).unwrap();
        let store = gatehouse_store::open(&url).await.unwrap();
        let mut after = 0;
        loop {
            let page = store.audit_events(after, 1000).await.unwrap();
            let Some((last, _)) = page.last() else { break };
            after = *last;
            audited += page
                .iter()
                .filter(|(_, e)| e.kind == "token_issued")
                .count() as u64;
        }
    }
    // The grants of the load, plus the code redemption that started each chain.
    let issued = refreshed + machined + tasks as u64;
    println!(
        "| database | tasks | refresh grants/s | client_credentials grants/s | token_issued audited |"
    );
    println!("|---|---|---|---|---|");
    let name = if database.starts_with("sqlite") {
        "SQLite (durable)"
    } else {
        database.as_str()
    };
    println!("| {name} | {tasks} | {refreshes:.0} | {machines:.0} | {audited} of {issued} |");
    if database != "memory" {
        assert_eq!(audited, issued, "token_issued records were lost");
    }
}
