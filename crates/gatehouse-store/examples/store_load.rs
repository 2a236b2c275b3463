//! Load run for the storage issue's figures: code-redeem and refresh-rotate transactions per
//! second on SQLite and PostgreSQL, each next to the cheapest durable write the same store makes
//! (appending one audit event: one single-row `INSERT` transaction) measured in the same run,
//! so that the ratio survives this machine's noise.
//!
//! ```sh
//! cargo run --release -p gatehouse-store --example store_load -- [OPS] [CONCURRENCY]
//! ```
//!
//! PostgreSQL is `GATEHOUSE_TEST_POSTGRES`, or the local server at 127.0.0.1:5432; the run uses
//! a schema of its own and drops it. Figures are recorded in `docs/performance.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gatehouse_engine::CodeChallenge;
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::{
    AccessTokenRecord, CodeRecord, FamilyId, RefreshRecord, RefreshState, RotateOutcome, TakeCode,
};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::{AuditEvent, ServerStore};
use gatehouse_types::{ClientId, RedirectUri, ScopeSet, UnixTime};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

fn h(kind: &str, n: usize) -> CredentialHash {
    CredentialHash::of(&format!("{kind}-{n}"))
}

fn family(n: usize) -> FamilyId {
    FamilyId::new(format!("family-{n}"))
}

fn code(n: usize) -> CodeRecord {
    CodeRecord {
        hash: h("code", n),
        client_id: ClientId::new("bench").unwrap(),
        redirect_uri: RedirectUri::new("http://127.0.0.1:33418/callback").unwrap(),
        redirect_uri_was_explicit: true,
        challenge: CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap(),
        scopes: ScopeSet::parse("mcp:tools").unwrap(),
        resources: vec![ResourceUri::parse("https://mcp.example.com/mcp").unwrap()],
        subject: "alice".into(),
        issued_at: NOW,
        expires_at: NOW.saturating_add_secs(600),
        dpop_jkt: None,
    }
}

fn refresh(hash: CredentialHash, n: usize) -> RefreshRecord {
    RefreshRecord {
        hash,
        family: family(n),
        client_id: ClientId::new("bench").unwrap(),
        subject: "alice".into(),
        scopes: ScopeSet::parse("mcp:tools").unwrap(),
        resources: vec![ResourceUri::parse("https://mcp.example.com/mcp").unwrap()],
        issued_at: NOW,
        expires_at: NOW.saturating_add_secs(86_400),
        dpop_jkt: None,
        state: RefreshState::Active,
    }
}

fn access(jti: String, n: usize) -> AccessTokenRecord {
    AccessTokenRecord {
        jti,
        family: family(n),
        client_id: ClientId::new("bench").unwrap(),
        expires_at: NOW.saturating_add_secs(600),
    }
}

/// Runs `op(i)` for i in 0..ops on `concurrency` tasks; transactions per second.
async fn run<S, F, Fut>(store: &Arc<S>, ops: usize, concurrency: usize, op: F) -> f64
where
    S: ServerStore + 'static,
    F: Fn(Arc<S>, usize) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, next) = (Arc::clone(store), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    break;
                }
                op(Arc::clone(&store), i).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

struct Figures {
    floor: f64,
    audit_batched: f64,
    redeem: f64,
    rotate: f64,
}

/// Audit records per batch in the batched figure: what the server's audit writer stores in one
/// transaction when that many queued up while it wrote the previous batch.
const AUDIT_BATCH: usize = 64;

async fn measure<S: ServerStore + 'static>(store: S, ops: usize, concurrency: usize) -> Figures {
    let store = Arc::new(store);
    // Untimed: the codes to redeem.
    run(&store, ops, concurrency, |s, i| async move {
        s.insert_code(code(i)).await.unwrap();
    })
    .await;
    let floor = run(&store, ops, concurrency, |s, i| async move {
        s.append_audit(vec![AuditEvent {
            at: NOW,
            kind: "bench".into(),
            subject: None,
            client_id: None,
            resource: None,
            tool: None,
            detail: serde_json::json!({ "i": i }).into(),
        }])
        .await
        .unwrap();
    })
    .await;
    // Records per second when the audit writer stores them in batches (one writer, as in the
    // server): the transactions per second times the batch.
    let audit_batched = run(&store, ops / AUDIT_BATCH, 1, |s, i| async move {
        let batch = (0..AUDIT_BATCH)
            .map(|j| AuditEvent {
                at: NOW,
                kind: "bench".into(),
                subject: None,
                client_id: None,
                resource: None,
                tool: None,
                detail: serde_json::json!({ "i": i, "j": j }).into(),
            })
            .collect();
        s.append_audit(batch).await.unwrap();
    })
    .await
        * AUDIT_BATCH as f64;
    let redeem = run(&store, ops, concurrency, |s, i| async move {
        let taken = s
            .redeem_code(
                &h("code", i),
                &family(i),
                access(format!("a-{i}"), i),
                Some(refresh(h("r1", i), i)),
            )
            .await
            .unwrap();
        assert!(matches!(taken, TakeCode::Taken(_)));
    })
    .await;
    let rotate = run(&store, ops, concurrency, |s, i| async move {
        let outcome = s
            .rotate_refresh(
                &h("r1", i),
                refresh(h("r2", i), i),
                [0; 32],
                access(format!("b-{i}"), i),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(outcome, RotateOutcome::Rotated);
    })
    .await;
    Figures {
        floor,
        audit_batched,
        redeem,
        rotate,
    }
}

fn report(backend: &str, f: &Figures) {
    println!(
        "| {backend} | {:.0} | {:.0} ({:.1}× the floor) | {:.0} ({:.2}× the floor) | {:.0} ({:.2}× the floor) |",
        f.floor,
        f.audit_batched,
        f.audit_batched / f.floor,
        f.redeem,
        f.redeem / f.floor,
        f.rotate,
        f.rotate / f.floor
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ops = args.first().copied().unwrap_or(3000);
    let concurrency = args.get(1).copied().unwrap_or(8);
    println!("{ops} operations per phase, {concurrency} concurrent tasks\n");
    println!(
        "| backend | floor: 1-row INSERT tx/s | audit records/s in batches of {AUDIT_BATCH} | code redeem tx/s | refresh rotate tx/s |"
    );
    println!("|---|---|---|---|---|");

    let dir = tempfile::tempdir().unwrap();
    let sqlite = gatehouse_store::SqliteStore::open(dir.path().join("bench.db"))
        .await
        .unwrap();
    report(
        "SQLite (WAL, synchronous=FULL)",
        &measure(sqlite, ops, concurrency).await,
    );

    let base = std::env::var("GATEHOUSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("gatehouse_bench_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let postgres = gatehouse_store::PostgresStore::open(&url).await.unwrap();
    report(
        "PostgreSQL (16-connection pool)",
        &measure(postgres, ops, concurrency).await,
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
}
