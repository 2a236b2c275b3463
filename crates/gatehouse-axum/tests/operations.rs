//! What operators and their load balancers rely on: liveness stays up, readiness says whether
//! this instance can sign tokens (store reachable, signing keys readable), and every response
//! carries a request id.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use gatehouse_store::ServerStore;
use gatehouse_store::sealing::EncryptionKey;
use reqwest::StatusCode;
use support::*;

#[tokio::test]
async fn readiness_fails_when_a_signing_key_cannot_be_read_and_liveness_does_not() {
    let (base, gatehouse) = start(|_, _| {}).await;
    let ready = http().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // A key sealed under another encryption key (an instance started with the wrong
    // GATEHOUSE_SECRET_KEY, or a store shared with another deployment).
    let foreign = EncryptionKey::generate().unwrap();
    let kid = "foreign-key";
    gatehouse
        .store()
        .insert_signing_key(gatehouse_store::StoredSigningKey {
            kid: kid.into(),
            alg: "ES256".into(),
            sealed_private_jwk: foreign.seal(kid, b"{}").unwrap(),
            created_at: gatehouse_types::UnixTime::from_secs(1),
            retired_at: None,
        })
        .await
        .unwrap();
    let ready = http().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = ready.text().await.unwrap();
    assert!(text.contains("signing keys cannot be read"), "{text}");
    let live = http().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "liveness is not readiness");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let base = serve(|_, _| {}).await;
    let mut ids = Vec::new();
    for path in ["/healthz", "/mcp", "/token", "/no-such-page"] {
        let response = http().get(format!("{base}{path}")).send().await.unwrap();
        let id = response.headers()[gatehouse_axum::REQUEST_ID]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(id.len() >= 16, "{path}: {id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "ids are unique");
    // A proxy's id is kept when it is a plain token, replaced otherwise.
    let kept = http()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "edge-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "edge-7f3a");
    let replaced = http()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "a b")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "a b");
}
