//! Atomicity across instances: the same code, or the same refresh token, presented to several
//! instances at the same moment. Two independent stores (two connection pools, as two
//! `gatehouse` processes would have) race 8 tasks per round; exactly one may win each round.
//!
//! PostgreSQL runs the 1,000 rounds the storage issue asks for. SQLite runs the same race
//! between two stores on one file (two connections, as two processes would have).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::sync::Arc;

use gatehouse_engine::Store;
use gatehouse_engine::store::{RotateOutcome, TakeCode};
use support::*;

const RACERS: usize = 8;

/// Races `RACERS` redemptions of one code per round, alternating between the two stores.
async fn code_race<S: Store + 'static>(a: Arc<S>, b: Arc<S>, rounds: usize) {
    for round in 0..rounds {
        let code_hash = hash(round as u64);
        a.insert_code(code(code_hash, "c")).await.unwrap();
        let mut racers = Vec::new();
        for racer in 0..RACERS {
            let store = if racer % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            racers.push(tokio::spawn(async move {
                let f = family(&format!("r{round}-{racer}"));
                let refresh_hash = hash((round * RACERS + racer) as u64 + 1_000_000);
                store
                    .redeem_code(
                        &code_hash,
                        &f,
                        access(&format!("jti-{round}-{racer}"), &f, "c"),
                        Some(refresh(refresh_hash, &f, "c")),
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut winners = Vec::new();
        let mut told = Vec::new();
        for racer in racers {
            match racer.await.unwrap() {
                TakeCode::Taken(_) => winners.push(()),
                TakeCode::AlreadyUsed(family) => told.push(family),
                TakeCode::NotFound => panic!("round {round}: the code vanished"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        // Every loser learned the winner's family, so it can revoke it (OAuth 2.1 §4.1.3).
        let winner = a
            .code(&code_hash)
            .await
            .unwrap()
            .unwrap()
            .redeemed_into
            .unwrap();
        assert!(told.iter().all(|f| *f == winner), "round {round}");
    }
}

/// Races `RACERS` rotations of one refresh token per round.
async fn rotation_race<S: Store + 'static>(a: Arc<S>, b: Arc<S>, rounds: usize) {
    for round in 0..rounds {
        let (code_hash, f, token) = (
            hash(round as u64 + 5_000_000),
            family(&format!("rot{round}")),
            hash(round as u64 + 6_000_000),
        );
        a.insert_code(code(code_hash, "c")).await.unwrap();
        a.redeem_code(
            &code_hash,
            &f,
            access(&format!("rot-{round}"), &f, "c"),
            Some(refresh(token, &f, "c")),
        )
        .await
        .unwrap();
        let mut racers = Vec::new();
        for racer in 0..RACERS {
            let store = if racer % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            let f = f.clone();
            racers.push(tokio::spawn(async move {
                let successor = hash((round * RACERS + racer) as u64 + 7_000_000);
                let outcome = store
                    .rotate_refresh(
                        &token,
                        refresh(successor, &f, "c"),
                        [racer as u8; 32],
                        access(&format!("rot-{round}-{racer}"), &f, "c"),
                        NOW,
                    )
                    .await
                    .unwrap();
                (successor, outcome)
            }));
        }
        let mut winners = Vec::new();
        for racer in racers {
            let (successor, outcome) = racer.await.unwrap();
            match outcome {
                RotateOutcome::Rotated => winners.push(successor),
                RotateOutcome::Lost(_) => {
                    assert_eq!(a.refresh(&successor).await.unwrap(), None, "round {round}");
                }
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        assert!(a.refresh(&winners[0]).await.unwrap().is_some());
    }
}

/// A fresh schema and two stores on it, each with its own pool: two instances.
async fn two_postgres_instances() -> Option<(
    PgSchema,
    Arc<gatehouse_store::PostgresStore>,
    Arc<gatehouse_store::PostgresStore>,
)> {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return None;
    };
    let open = || async {
        Arc::new(
            gatehouse_store::PostgresStore::open(&schema.url())
                .await
                .unwrap(),
        )
    };
    let (a, b) = (open().await, open().await);
    Some((schema, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_code_is_taken_once_across_two_pools_1000_rounds() {
    let Some((schema, a, b)) = two_postgres_instances().await else {
        return;
    };
    code_race(a, b, 1000).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_refresh_token_rotates_once_across_two_pools_1000_rounds() {
    let Some((schema, a, b)) = two_postgres_instances().await else {
        return;
    };
    rotation_race(a, b, 1000).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_code_is_taken_once_across_two_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let a = Arc::new(gatehouse_store::SqliteStore::open(&path).await.unwrap());
    let b = Arc::new(gatehouse_store::SqliteStore::open(&path).await.unwrap());
    code_race(a, b, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_refresh_token_rotates_once_across_two_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let a = Arc::new(gatehouse_store::SqliteStore::open(&path).await.unwrap());
    let b = Arc::new(gatehouse_store::SqliteStore::open(&path).await.unwrap());
    rotation_race(a, b, 200).await;
}
