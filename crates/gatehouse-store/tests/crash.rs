//! Nothing acknowledged is lost: a child process writes under load and prints each write the
//! store acknowledged; the parent kills it with SIGKILL mid-stream, reopens the database and
//! finds every acknowledged write there.
//!
//! The child is this test binary again, running `crash_child` with `GATEHOUSE_CRASH_CHILD` set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_engine::Store;
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::TakeCode;
use gatehouse_store::{AnyStore, DatabaseUrl};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};

const CHILD_ENV: &str = "GATEHOUSE_CRASH_CHILD";
const WRITERS: usize = 4;
/// Acknowledgements to wait for before the kill.
const KILL_AFTER: usize = 400;

/// The child: writes until killed. Each writer inserts a code, then redeems it with a refresh
/// token, and reports each acknowledged write on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_child() {
    let Ok(database) = std::env::var(CHILD_ENV) else {
        return; // only runs as the child of the tests below
    };
    let store = Arc::new(
        gatehouse_store::open(&DatabaseUrl::parse(&database).unwrap())
            .await
            .unwrap(),
    );
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            for n in 0u64.. {
                let code_hash = hash(n * 100 + writer as u64);
                store.insert_code(code(code_hash, "c")).await.unwrap();
                say(&format!("code {}", code_hash.to_hex()));
                let f = family(&format!("w{writer}-{n}"));
                let refresh_hash = hash(n * 100 + writer as u64 + 1_000_000_000);
                let taken = store
                    .redeem_code(
                        &code_hash,
                        &f,
                        access(&format!("j-{writer}-{n}"), &f, "c"),
                        Some(refresh(refresh_hash, &f, "c")),
                    )
                    .await
                    .unwrap();
                assert!(matches!(taken, TakeCode::Taken(_)));
                say(&format!(
                    "redeem {} {} {}",
                    code_hash.to_hex(),
                    f.as_str(),
                    refresh_hash.to_hex()
                ));
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ack {line}").unwrap();
    out.flush().unwrap();
}

/// Runs the child against `database`, kills it after `KILL_AFTER` acknowledgements, and returns
/// every acknowledgement it printed.
async fn run_and_kill(database: &str) -> Vec<String> {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, database)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acks.len() < KILL_AFTER {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("the child acknowledged too few writes in time")
            .unwrap()
            .expect("the child exited before it was killed");
        if let Some(ack) = line.strip_prefix("ack ") {
            acks.push(ack.to_owned());
        }
    }
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the child was killed");
    // Writes acknowledged between our last read and the kill are still in the pipe.
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(ack) = line.strip_prefix("ack ") {
            acks.push(ack.to_owned());
        }
    }
    acks
}

async fn assert_all_there(store: &AnyStore, acks: &[String]) {
    let mut checked = 0;
    for ack in acks {
        let words: Vec<&str> = ack.split(' ').collect();
        match words.as_slice() {
            ["code", code_hex] => {
                let hash = CredentialHash::from_hex(code_hex).unwrap();
                assert!(store.code(&hash).await.unwrap().is_some(), "lost {ack}");
            }
            ["redeem", code_hex, family, refresh_hex] => {
                let hash = CredentialHash::from_hex(code_hex).unwrap();
                let entry = store.code(&hash).await.unwrap().expect("lost the code");
                assert_eq!(entry.redeemed_into.unwrap().as_str(), *family, "lost {ack}");
                let refresh_hash = CredentialHash::from_hex(refresh_hex).unwrap();
                assert!(
                    store.refresh(&refresh_hash).await.unwrap().is_some(),
                    "lost {ack}"
                );
            }
            // A line cut by the kill was never acknowledged whole.
            _ => continue,
        }
        checked += 1;
    }
    assert!(
        checked >= KILL_AFTER,
        "only {checked} acknowledgements checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("crash.db").display());
    let acks = run_and_kill(&database).await;
    let store = gatehouse_store::open(&DatabaseUrl::parse(&database).unwrap())
        .await
        .unwrap();
    assert_all_there(&store, &acks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let acks = run_and_kill(&schema.url()).await;
    let store = gatehouse_store::open(&DatabaseUrl::parse(&schema.url()).unwrap())
        .await
        .unwrap();
    assert_all_there(&store, &acks).await;
    drop(store);
    schema.drop_schema().await;
}
