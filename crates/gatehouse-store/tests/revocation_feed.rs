//! Cross-instance revocation: an instance learns of a revocation made by another through
//! PostgreSQL `LISTEN/NOTIFY`, without asking the database on each check, and falls back to the
//! database while its listener is disconnected. On SQLite, a server learns of revocations another
//! process wrote to its file (`gatehouse clients delete`) through the polled revocation feed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::time::{Duration, Instant};

use gatehouse_engine::Store;
use gatehouse_store::{PostgresStore, RevocationCheck, ServerStore, SqliteStore};
use support::*;

/// How long the other instance may take to learn of a revocation, on an idle test machine;
/// `docs/storage.md` states the bound and `docs/performance.md` the measured delay.
const BOUND: Duration = Duration::from_secs(2);

/// Waits until `store` reports `jti` revoked; the time since `start`.
async fn wait_for_revoked(store: &impl ServerStore, jti: &str, start: Instant) -> Duration {
    while store.deny_list().check(jti) != RevocationCheck::Revoked {
        assert!(
            start.elapsed() < BOUND,
            "instance B did not learn of the revocation of {jti} within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_reaches_the_other() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let a = PostgresStore::open(&schema.url()).await.unwrap();
    let b = PostgresStore::open(&schema.url()).await.unwrap();
    assert!(b.deny_list().is_synced());

    // One token by jti.
    assert_eq!(b.deny_list().check("t1"), RevocationCheck::NotRevoked);
    let start = Instant::now();
    a.revoke_access_token("t1", NOW.saturating_add_secs(600))
        .await
        .unwrap();
    let by_jti = wait_for_revoked(&b, "t1", start).await;

    // A whole family: B loads its jtis when told.
    let (f, c) = (family("f"), hash(1));
    a.insert_code(code(c, "c")).await.unwrap();
    a.redeem_code(
        &c,
        &f,
        access("t2", &f, "c"),
        Some(refresh(hash(2), &f, "c")),
    )
    .await
    .unwrap();
    a.record_access_token(access("t3", &f, "c")).await.unwrap();
    assert_eq!(b.deny_list().check("t2"), RevocationCheck::NotRevoked);
    let start = Instant::now();
    a.revoke_family(&f).await.unwrap();
    let by_family = wait_for_revoked(&b, "t2", start).await;
    wait_for_revoked(&b, "t3", start).await;
    eprintln!(
        "from the start of the revoking call to the other instance's deny-list: \
         {by_jti:?} (one jti), {by_family:?} (a family)"
    );

    // A third instance started afterwards loads the whole list at start.
    let c3 = PostgresStore::open(&schema.url()).await.unwrap();
    for jti in ["t1", "t2", "t3"] {
        assert_eq!(c3.deny_list().check(jti), RevocationCheck::Revoked, "{jti}");
    }
    drop((a, b, c3));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_falls_back_to_the_database_then_resyncs() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let a = PostgresStore::open(&schema.url()).await.unwrap();
    let b = PostgresStore::open(&schema.url()).await.unwrap();
    assert!(b.deny_list().is_synced());

    // Cut the listeners of this test's stores (the server terminates their connections).
    let raw = schema.raw().await;
    let cut = raw
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("{} revocation listener", schema.name)],
        )
        .await
        .unwrap();
    assert!(!cut.is_empty());
    let start = Instant::now();
    while b.deny_list().is_synced() {
        assert!(start.elapsed() < BOUND, "the lost listener went unnoticed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // While out of sync: Unknown, and the cached check asks the database, so a revocation made
    // now is still seen.
    a.revoke_access_token("during-outage", NOW.saturating_add_secs(600))
        .await
        .unwrap();
    if !b.deny_list().is_synced() {
        assert_eq!(
            b.deny_list().check("during-outage"),
            RevocationCheck::Unknown
        );
    }
    assert!(
        gatehouse_store::is_access_token_revoked_cached(&b, "during-outage")
            .await
            .unwrap()
    );
    // The listener reconnects (after one retry interval) and reloads what it missed.
    let start = Instant::now();
    while !b.deny_list().is_synced() {
        assert!(start.elapsed() < Duration::from_secs(10), "no resync");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        b.deny_list().check("during-outage"),
        RevocationCheck::Revoked
    );
    drop((a, b, raw));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_revocation_by_another_connection_reaches_the_server_through_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    // `server` is the running gatehouse; `cli` another process's connection to the same file.
    let server = SqliteStore::open(&path).await.unwrap();
    let cli = SqliteStore::open(&path).await.unwrap();
    server.insert_client(client("doomed")).await.unwrap();
    let (f, c) = (family("f"), hash(1));
    server.insert_code(code(c, "doomed")).await.unwrap();
    server
        .redeem_code(
            &c,
            &f,
            access("s1", &f, "doomed"),
            Some(refresh(hash(2), &f, "doomed")),
        )
        .await
        .unwrap();
    assert_eq!(server.deny_list().check("s1"), RevocationCheck::NotRevoked);

    // What `gatehouse clients delete` does, from the other connection.
    let start = Instant::now();
    assert!(
        cli.delete_client(&gatehouse_types::ClientId::new("doomed").unwrap())
            .await
            .unwrap()
    );
    let by_client = wait_for_revoked(&server, "s1", start).await;
    let start = Instant::now();
    cli.revoke_access_token("s2", NOW.saturating_add_secs(600))
        .await
        .unwrap();
    let by_jti = wait_for_revoked(&server, "s2", start).await;
    eprintln!("sqlite feed: {by_client:?} (a deleted client), {by_jti:?} (one jti)");

    // A server started afterwards has them at start; feed rows go with their tokens' expiry.
    let later = SqliteStore::open(&path).await.unwrap();
    assert_eq!(later.deny_list().check("s1"), RevocationCheck::Revoked);
    server
        .purge(NOW.saturating_add_secs(601), NOW)
        .await
        .unwrap();
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM revocation_feed", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}
