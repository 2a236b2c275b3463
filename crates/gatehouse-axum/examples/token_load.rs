//! The token endpoint under load, end to end, beside node-oidc-provider in the same run: refresh
//! grants with rotation, `client_credentials` grants, and introspection by a resource server's
//! client, from concurrent clients, every answer checked.
//!
//! ```sh
//! cargo build --release -p gatehouse
//! cargo run --release -p gatehouse-axum --example token_load -- [SECONDS] [TASKS] [TARGET]…
//! ```
//!
//! Each `TARGET` is measured in turn (default: `sqlite memory oidc-provider`; repeat them for
//! rounds):
//! - `sqlite`: the release `gatehouse serve` (`target/release/gatehouse` or `$GATEHOUSE_BIN`) on
//!   a fresh durable SQLite file; `memory`; or a `postgres://` URL (a database of its own: the
//!   run fills it and does not clean up). ES256 JWT access tokens. Afterwards the audit table is
//!   read back: every `token_issued` record must be there (issue 24: none dropped).
//! - `oidc-provider`: node-oidc-provider, pinned, in-memory adapter, configured for the same work
//!   (`peers/oidc-provider-token.sh`). It stores no JWT access tokens and so can introspect only
//!   opaque ones: its introspection phase introspects opaque tokens, Gatehouse's its JWTs.
//!
//! Prints one Markdown row per run, then the median of each target and its ratio to
//! oidc-provider's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64ct::Encoding as _;
use gatehouse_store::ServerStore as _;
use serde_json::Value;

const SECRET: &str = "token-load-machine-secret-0123456789abcd";
const PEER: &str = "oidc-provider";

mod common;

use common::{Running, form, free_port};

/// Runs `tasks` copies of `step` until `seconds` pass; how many, and per second.
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

/// A server under test, up and ready: where to send what, and the refresh chains to rotate.
struct Server {
    process: Running,
    token: String,
    introspection: String,
    /// `(client_id, refresh_token)` per task.
    chains: Vec<(String, String)>,
    /// The body of a `client_credentials` request whose token the resource server introspects.
    introspected_grant: String,
    /// The Gatehouse database, to read the audit table back; `None` for the peer.
    database: Option<String>,
}

fn basic(client: &str) -> String {
    format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("{client}:{SECRET}").as_bytes())
    )
}

async fn start_gatehouse(
    http: &reqwest::Client,
    tasks: usize,
    target: &str,
    dir: &std::path::Path,
) -> Server {
    let database = match target {
        "sqlite" => format!("sqlite://{}", dir.join("state.db").display()),
        other => other.to_owned(),
    };
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = dir.join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"{issuer}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{database}\"\n\
             [login]\nmode = \"auto-approve\"\nauto_approve_subject = \"load\"\n\
             [rate_limits]\nenabled = false\n[log]\nlevel = \"warn\"\n\
             [[resources]]\nresource = \"{issuer}/mcp\"\nscopes_supported = [\"mcp:tools\"]\nbuiltin = \"demo\"\n\
             [[clients]]\nclient_id = \"load-machine\"\nclient_secret_env = \"LOAD_SECRET\"\n\
             grant_types = [\"client_credentials\"]\nscope = \"mcp:tools\"\n\
             [[clients]]\nclient_id = \"load-rs\"\nclient_secret_env = \"LOAD_SECRET\"\n\
             grant_types = []\nintrospection_resources = [\"{issuer}/mcp\"]\n"
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
    let process = common::spawn(
        Command::new(&binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env("LOAD_SECRET", SECRET)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    common::wait_for(http, &format!("{issuer}/readyz")).await;
    // One grant per task through the real flow, each refreshed in a chain.
    let mut chains = Vec::new();
    for _ in 0..tasks {
        let (client_id, tokens) = common::grant(http, &issuer, None, None).await;
        chains.push((
            client_id,
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    Server {
        process,
        token: format!("{issuer}/token"),
        introspection: format!("{issuer}/introspect"),
        chains,
        introspected_grant: "grant_type=client_credentials".to_owned(),
        database: (database != "memory").then_some(database),
    }
}

async fn start_peer(http: &reqwest::Client, tasks: usize) -> Server {
    let port = free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../peers/oidc-provider-token.sh"
    );
    let mut process = common::spawn(
        Command::new("bash")
            .arg(script)
            .args([port.to_string(), tasks.to_string(), SECRET.to_owned()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    // The first line says it listens and carries the refresh tokens it minted; whatever else it
    // prints is drained so that it never blocks on a full pipe.
    let stdout = process.0.stdout.take().unwrap();
    let (ready, announced) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = ready.send(lines.next().and_then(Result::ok));
        lines.for_each(drop);
    });
    let line = tokio::time::timeout(Duration::from_secs(180), announced)
        .await
        .expect("oidc-provider did not start")
        .unwrap()
        .expect("oidc-provider exited before it listened");
    let announced: Value = serde_json::from_str(&line).unwrap();
    let issuer = announced["issuer"].as_str().unwrap().to_owned();
    common::wait_for(http, &format!("{issuer}/jwks")).await;
    let chains = announced["refresh_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| ("load-public".to_owned(), t.as_str().unwrap().to_owned()))
        .collect();
    Server {
        process,
        token: format!("{issuer}/token"),
        introspection: format!("{issuer}/token/introspection"),
        chains,
        introspected_grant: form(&[
            ("grant_type", "client_credentials"),
            ("scope", "mcp:tools"),
            ("resource", &format!("{issuer}/mcp-opaque")),
        ]),
        database: None,
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    body: String,
) -> Value {
    let mut request = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// One measured run: grants per second of each kind, and how many `token_issued` records the
/// audit table holds of how many grants were made.
struct Run {
    target: String,
    refresh: f64,
    client_credentials: f64,
    introspection: f64,
    audited: Option<(u64, u64)>,
}

async fn measure(http: &reqwest::Client, target: &str, seconds: u64, tasks: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let server = if target == PEER {
        start_peer(http, tasks).await
    } else {
        start_gatehouse(http, tasks, target, dir.path()).await
    };

    // Refresh grants with rotation: every answer's refresh token is the next request's.
    let chains: Arc<Vec<tokio::sync::Mutex<(String, String)>>> = Arc::new(
        server
            .chains
            .iter()
            .cloned()
            .map(tokio::sync::Mutex::new)
            .collect(),
    );
    let refresh = {
        let (http, url, chains) = (http.clone(), server.token.clone(), Arc::clone(&chains));
        move |task: usize| {
            let (http, url, chains) = (http.clone(), url.clone(), Arc::clone(&chains));
            async move {
                let mut chain = chains[task].lock().await;
                let (client_id, refresh_token) = chain.clone();
                let body = form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                    ("client_id", &client_id),
                ]);
                let answer = post(&http, &url, None, body).await;
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

    let machine = {
        let (http, url) = (http.clone(), server.token.clone());
        move |_task: usize| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body = form(&[("grant_type", "client_credentials"), ("scope", "mcp:tools")]);
                let answer = post(&http, &url, Some(&basic("load-machine")), body).await;
                assert!(
                    answer["access_token"]
                        .as_str()
                        .is_some_and(|t| t.len() > 100),
                    "client_credentials refused: {answer}"
                );
            }
        }
    };
    let (machined, machines) = phase(tasks, seconds, machine).await;

    // Introspection: each task's resource server asks about a token of its own, again and again.
    let mut introspected = Vec::new();
    for _ in 0..tasks {
        let body = server.introspected_grant.clone();
        let answer = post(http, &server.token, Some(&basic("load-machine")), body).await;
        introspected.push(answer["access_token"].as_str().unwrap().to_owned());
    }
    let introspected = Arc::new(introspected);
    let introspect = {
        let (http, url) = (http.clone(), server.introspection.clone());
        move |task: usize| {
            let (http, url, introspected) = (http.clone(), url.clone(), Arc::clone(&introspected));
            async move {
                let body = form(&[("token", &introspected[task])]);
                let answer = post(&http, &url, Some(&basic("load-rs")), body).await;
                assert_eq!(answer["active"], true, "introspection: {answer}");
            }
        }
    };
    let (_, introspections) = phase(tasks, seconds, introspect).await;

    // Stopped gracefully, so the audit writer flushes what it holds; then every token_issued
    // record is counted.
    let Server {
        process, database, ..
    } = server;
    let pid = process.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut process = process;
    let _ = process.0.wait();
    let audited = match database {
        Some(database) => {
            let url = gatehouse_store::DatabaseUrl::parse(&database).unwrap();
            let store = gatehouse_store::open(&url).await.unwrap();
            let mut audited = 0u64;
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
            // The load's grants, the code redemption that started each chain, and the tokens
            // that were introspected.
            let issued = refreshed + machined + 2 * tasks as u64;
            assert_eq!(audited, issued, "token_issued records were lost");
            Some((audited, issued))
        }
        None => None,
    };
    Run {
        target: target.to_owned(),
        refresh: refreshes,
        client_credentials: machines,
        introspection: introspections,
        audited,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn label(target: &str) -> &str {
    match target {
        "sqlite" => "Gatehouse, durable SQLite",
        "memory" => "Gatehouse, `database = \"memory\"`",
        PEER => "oidc-provider 9.13.3, in-memory adapter",
        _ if target.starts_with("postgres") => "Gatehouse, PostgreSQL",
        other => other,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let tasks: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let mut targets: Vec<String> = args.iter().skip(2).cloned().collect();
    if targets.is_empty() {
        targets = ["sqlite", "memory", PEER].map(str::to_owned).to_vec();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(tasks)
        // Below the server's keep-alive (`http.header_timeout_secs`, 10 s): a connection the
        // server is closing for idleness is never picked for a new request, which would be
        // reset (a spare connection can sit out a whole phase).
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    println!("{tasks} concurrent clients, {seconds} s per phase");
    println!(
        "| server | refresh grants/s | client_credentials grants/s | introspections/s | `token_issued` audited |"
    );
    println!("|---|---|---|---|---|");
    let mut runs = Vec::new();
    for target in &targets {
        let run = measure(&http, target, seconds, tasks).await;
        let audited = run
            .audited
            .map_or("(no table)".to_owned(), |(a, i)| format!("{a} of {i}"));
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {audited} |",
            label(&run.target),
            run.refresh,
            run.client_credentials,
            run.introspection
        );
        runs.push(run);
    }

    // Medians per target, and each against the peer's.
    let mut names: Vec<&str> = Vec::new();
    for run in &runs {
        if !names.contains(&run.target.as_str()) {
            names.push(&run.target);
        }
    }
    let medians = |name: &str| {
        let of = |pick: fn(&Run) -> f64| {
            median(runs.iter().filter(|r| r.target == name).map(pick).collect())
        };
        (
            of(|r| r.refresh),
            of(|r| r.client_credentials),
            of(|r| r.introspection),
        )
    };
    if names.contains(&PEER) && names.len() > 1 {
        let peer = medians(PEER);
        println!("\nmedians, and the ratio to oidc-provider's");
        println!("| server | refresh grants/s | client_credentials grants/s | introspections/s |");
        println!("|---|---|---|---|");
        for name in names {
            let (r, c, i) = medians(name);
            println!(
                "| {} | {r:.0} ({:.2}×) | {c:.0} ({:.2}×) | {i:.0} ({:.2}×) |",
                label(name),
                r / peer.0,
                c / peer.1,
                i / peer.2
            );
        }
    }
}
