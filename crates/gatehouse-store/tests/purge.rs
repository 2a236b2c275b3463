//! Expiry clean-up, as the server's maintenance task runs it: in small batches that let requests
//! through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_engine::Store;
use gatehouse_store::ServerStore;
use gatehouse_types::{ClientId, UnixTime};
use support::*;

fn wall_clock() -> UnixTime {
    UnixTime::from(std::time::SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_removes_expired_codes_and_keeps_live_ones() {
    let (store, _dir) = sqlite().await;
    let store = Arc::new(store);
    let (expired, live) = (hash(1), hash(2));
    let mut old = code(expired, "c");
    old.expires_at = wall_clock().saturating_sub_secs(1);
    store.insert_code(old).await.unwrap();
    let mut fresh = code(live, "c");
    fresh.expires_at = wall_clock().saturating_add_secs(600);
    store.insert_code(fresh).await.unwrap();

    // What the maintenance task does each round, here every 20 ms.
    let purger = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            loop {
                let now = wall_clock();
                store.purge(now, now.saturating_sub_secs(10)).await.unwrap();
                store.deny_list().purge(now);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    for _ in 0..500 {
        if store.code(&expired).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    purger.abort();
    assert_eq!(store.code(&expired).await.unwrap(), None, "purged");
    assert!(store.code(&live).await.unwrap().is_some(), "kept");
}

/// A purge of many rows is many short transactions: requests made meanwhile are answered
/// between its batches, not after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_while_a_large_purge_runs() {
    let (store, _dir) = sqlite().await;
    let store = Arc::new(store);
    store.insert_client(client("reader")).await.unwrap();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..1500 {
                    let mut expired = code(hash(w * 10_000 + n), "c");
                    expired.expires_at = NOW;
                    store.insert_code(expired).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let purging = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (store, purging, answered) = (
            Arc::clone(&store),
            Arc::clone(&purging),
            Arc::clone(&answered),
        );
        tokio::spawn(async move {
            let id = ClientId::new("reader").unwrap();
            while purging.load(Ordering::Acquire) {
                assert!(store.client(&id).await.unwrap().is_some());
                if purging.load(Ordering::Acquire) {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    store.purge(NOW.saturating_add_secs(1), NOW).await.unwrap();
    purging.store(false, Ordering::Release);
    reader.await.unwrap();
    assert!(
        answered.load(Ordering::Relaxed) > 0,
        "no request was answered during the purge of 6000 rows"
    );
    let left: i64 = rusqlite::Connection::open(store.path())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM codes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(left, 0, "every expired code was purged");
}
