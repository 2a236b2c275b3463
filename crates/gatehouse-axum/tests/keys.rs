//! Signing-key rotation: the next key is published before it signs, the previous one stays
//! published until its tokens expired, an immediate rotation signs at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::Duration;

use gatehouse_axum::{KeyRing, PUBLISH_LEAD, RotationPolicy, rotate_now};
use gatehouse_jose::Algorithm;
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{MemoryBackend, ServerStore};
use gatehouse_types::UnixTime;

const DAY: u64 = 86_400;

fn published(ring: &KeyRing) -> Vec<String> {
    let jwks: serde_json::Value = serde_json::from_str(ring.jwks_json()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scheduled_rotation_publishes_first_and_retires_after_the_tokens_expire() {
    let store = MemoryBackend::new();
    let vault = EncryptionKey::generate().unwrap();
    let policy = RotationPolicy {
        alg: Algorithm::Es256,
        period: Duration::from_secs(30 * DAY),
        retention: Duration::from_secs(605),
    };
    let start = UnixTime::from_secs(1_800_000_000);

    // First start: one key, signing at once.
    let ring = KeyRing::maintain(&store, &vault, policy, start)
        .await
        .unwrap();
    let first = ring.current().kid().to_owned();
    assert_eq!(published(&ring), std::slice::from_ref(&first));
    // Nothing changes before the schedule says so.
    let ring = KeyRing::maintain(&store, &vault, policy, start.saturating_add_secs(DAY))
        .await
        .unwrap();
    assert_eq!(published(&ring), std::slice::from_ref(&first));

    // One lead before the period: the next key is published, the first still signs.
    let publish_at = start.saturating_add_secs(30 * DAY - PUBLISH_LEAD.as_secs());
    let ring = KeyRing::maintain(&store, &vault, policy, publish_at)
        .await
        .unwrap();
    assert_eq!(ring.current().kid(), first);
    let keys = published(&ring);
    assert_eq!(keys.len(), 2);
    let second = keys.iter().find(|k| **k != first).unwrap().clone();

    // After the lead: the second signs; the first is retired but still published.
    let switch_at = publish_at.saturating_add_secs(PUBLISH_LEAD.as_secs());
    let ring = KeyRing::maintain(&store, &vault, policy, switch_at)
        .await
        .unwrap();
    assert_eq!(ring.current().kid(), second);
    assert!(published(&ring).contains(&first));
    let stored = store.signing_keys().await.unwrap();
    assert!(
        stored
            .iter()
            .any(|k| k.kid == first && k.retired_at == Some(switch_at))
    );

    // Once every token the first signed has expired, it is gone.
    let ring = KeyRing::maintain(&store, &vault, policy, switch_at.saturating_add_secs(605))
        .await
        .unwrap();
    assert_eq!(published(&ring), std::slice::from_ref(&second));

    // An immediate rotation signs at once and keeps the old key published.
    let now = switch_at.saturating_add_secs(700);
    let third = rotate_now(&store, &vault, Algorithm::EdDsa, now)
        .await
        .unwrap();
    let ring = KeyRing::maintain(&store, &vault, policy, now)
        .await
        .unwrap();
    assert_eq!(ring.current().kid(), third);
    assert_eq!(ring.current().algorithm(), Algorithm::EdDsa);
    assert!(published(&ring).contains(&second));
}

#[tokio::test]
async fn a_different_encryption_key_cannot_open_the_stored_keys() {
    let store = MemoryBackend::new();
    let policy = RotationPolicy {
        alg: Algorithm::Es256,
        period: Duration::from_secs(30 * DAY),
        retention: Duration::from_secs(605),
    };
    let now = UnixTime::from_secs(1_800_000_000);
    KeyRing::maintain(&store, &EncryptionKey::generate().unwrap(), policy, now)
        .await
        .unwrap();
    let error = KeyRing::maintain(&store, &EncryptionKey::generate().unwrap(), policy, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("encryption key"), "{error}");
}
