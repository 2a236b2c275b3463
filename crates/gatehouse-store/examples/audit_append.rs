//! What storing audit records costs the SQLite store: `BATCHES` batches of `BATCH` records of
//! MCP calls, each batch one `append_audit`, as the server's audit writer hands them over (a
//! thousand a batch under load, a few dozen on a quiet server).
//!
//! ```sh
//! cargo build --release -p gatehouse-store --example audit_append
//! # instructions a record stored: the first count minus the second, divided by 30,000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/audit_append 750 40
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/audit_append 750 40 --no-store
//! # the system calls
//! strace -f -c target/release/examples/audit_append 750 200
//! ```
//!
//! The records are those of `gatehouse serve` (a call's detail without the members its columns
//! hold); with `--whole`, with them, as it stored them until 2026-12-08. `--no-store` builds the
//! records and drops them, for the cost of building alone. See `docs/performance.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use gatehouse_store::{AuditEvent, ServerStore, SqliteStore};
use gatehouse_types::UnixTime;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .expect("usage: audit_append BATCH BATCHES [--whole] [--no-store]")
    };
    let (batch, batches) = (number(0), number(1));
    let whole = args.iter().any(|a| a == "--whole");
    let store_them = !args.iter().any(|a| a == "--no-store");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("audit.db"))
        .await
        .unwrap();
    let event = |n: u64| {
        let mut detail = serde_json::json!({
            "method": "tools/call", "scopes": "mcp:tools", "decision": "allowed",
            "status": 200, "latency_us": 1234 + n % 1000,
        });
        if whole {
            detail["kind"] = "tool_call".into();
            detail["resource"] = "http://127.0.0.1:41234/mcp".into();
            detail["tool"] = "echo".into();
            detail["subject"] = "load".into();
            detail["client_id"] = "cd0acdefd5c856580837e3b4c411032f".into();
        }
        AuditEvent {
            at: UnixTime::from_secs(1_765_000_000 + n / 1000),
            kind: "tool_call".into(),
            subject: Some("load".into()),
            client_id: Some("cd0acdefd5c856580837e3b4c411032f".into()),
            resource: Some("http://127.0.0.1:41234/mcp".into()),
            tool: Some("echo".into()),
            detail: detail.into(),
        }
    };
    let started = std::time::Instant::now();
    for b in 0..batches {
        let events: Vec<AuditEvent> = (0..batch).map(|i| event(b * batch + i)).collect();
        if store_them {
            store.append_audit(events).await.unwrap();
        } else {
            std::hint::black_box(events);
        }
    }
    println!(
        "{} records in {:?}{}",
        batch * batches,
        started.elapsed(),
        if store_them {
            ""
        } else {
            " (built, not stored)"
        }
    );
}
