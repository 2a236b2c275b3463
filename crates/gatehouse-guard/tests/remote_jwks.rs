//! The remote JWKS key source against a real HTTP server on 127.0.0.1: RFC 8414 discovery
//! (§3.1 path insertion, §3.3 issuer check), caching per `Cache-Control`, at most one refetch
//! per cool-down for unknown `kid`s, negative caching of failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get as route_get;
use common::*;
use gatehouse_guard::{Guard, JwksCachePolicy, Verification};
use gatehouse_jose::{PublicJwks, SigningKey, VerifyingKey};
use gatehouse_types::UnixTime;

/// A fake issuer: metadata and JWKS, counting every fetch.
struct Issuer {
    url: String,
    metadata_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    jwks: Mutex<String>,
    jwks_status: Mutex<StatusCode>,
    cache_control: Mutex<Option<&'static str>>,
    metadata_issuer: Mutex<Option<String>>,
}

impl Issuer {
    fn publish(&self, keys: &[VerifyingKey]) {
        *self.jwks.lock().unwrap() = PublicJwks::from_keys(keys).to_json();
    }
    fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn metadata(State(issuer): State<Arc<Issuer>>) -> Response {
    issuer.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    let claimed = issuer
        .metadata_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| issuer.url.clone());
    let body = serde_json::json!({
        "issuer": claimed,
        "authorization_endpoint": format!("{}/authorize", issuer.url),
        "token_endpoint": format!("{}/token", issuer.url),
        "jwks_uri": format!("{}/jwks", issuer.url),
        "response_types_supported": ["code"],
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> Response {
    issuer.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let status = *issuer.jwks_status.lock().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(cache_control) = *issuer.cache_control.lock().unwrap() {
        headers.insert("cache-control", HeaderValue::from_static(cache_control));
    }
    (status, headers, issuer.jwks.lock().unwrap().clone()).into_response()
}

async fn start_issuer() -> Arc<Issuer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = Arc::new(Issuer {
        url,
        metadata_fetches: AtomicUsize::new(0),
        jwks_fetches: AtomicUsize::new(0),
        jwks: Mutex::new(r#"{"keys":[]}"#.into()),
        jwks_status: Mutex::new(StatusCode::OK),
        cache_control: Mutex::new(None),
        metadata_issuer: Mutex::new(None),
    });
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            route_get(metadata),
        )
        .route("/jwks", route_get(jwks))
        .with_state(Arc::clone(&issuer));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

fn policy(cooldown_ms: u64) -> JwksCachePolicy {
    JwksCachePolicy {
        unknown_kid_cooldown: Duration::from_millis(cooldown_ms),
        ..JwksCachePolicy::default()
    }
}

fn guard(issuer: &Issuer, verification: Verification, policy: JwksCachePolicy) -> Guard {
    Guard::builder(&issuer.url, RESOURCE, verification)
        .jwks_cache_policy(policy)
        .clock(|| UnixTime::from_secs(NOW))
        .build()
        .unwrap()
}

fn token_from(issuer: &Issuer, key: &SigningKey) -> String {
    let mut claims = claims("mcp:tools");
    claims.iss = issuer.url.clone();
    token(key, &claims)
}

#[tokio::test]
async fn rfc8414_section_3_discovery_then_cached_jwks() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    let app = app(&guard(
        &issuer,
        Verification::discovered_jwks(),
        policy(30_000),
    ));
    for _ in 0..5 {
        // A new token each time: no help from the verified-token cache.
        let answer = send(&app, get(Some(&token_from(&issuer, &key)))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    assert_eq!(issuer.metadata_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn rfc8414_section_3_3_metadata_for_another_issuer_is_not_used() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    *issuer.metadata_issuer.lock().unwrap() = Some(format!("{}/", issuer.url));
    let app = app(&guard(
        &issuer,
        Verification::discovered_jwks(),
        policy(30_000),
    ));
    let answer = send(&app, get(Some(&token_from(&issuer, &key)))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "the jwks_uri of a mismatched document is not followed"
    );
}

#[tokio::test]
async fn unknown_kid_flood_causes_at_most_one_fetch_per_interval() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    let app = app(&guard(
        &issuer,
        Verification::jwks_uri(format!("{}/jwks", issuer.url)),
        policy(400),
    ));
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    // Forged tokens, each with its own made-up kid, all at once.
    let flood = |n: usize| {
        let forged: Vec<String> = (0..n)
            .map(|i| {
                token_from(
                    &issuer,
                    &common::key().with_kid(format!("forged-{i}-{}", rand_suffix())),
                )
            })
            .collect();
        let app = app.clone();
        async move {
            let requests = forged.iter().map(|token| send(&app, get(Some(token))));
            for answer in futures_util::future::join_all(requests).await {
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
            }
        }
    };
    // Within the cool-down of the first fetch: no fetch at all.
    flood(100).await;
    assert_eq!(issuer.jwks_fetches(), 1);
    // After it: exactly one, however many tokens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    flood(100).await;
    assert_eq!(issuer.jwks_fetches(), 2);
    flood(100).await;
    assert_eq!(issuer.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    flood(100).await;
    assert_eq!(issuer.jwks_fetches(), 3);
    // The real key still works throughout, without fetching.
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn rotated_key_is_fetched_after_the_cooldown() {
    let issuer = start_issuer().await;
    let (old, new) = (key(), key());
    issuer.publish(&[old.verifying_key()]);
    let app = app(&guard(
        &issuer,
        Verification::discovered_jwks(),
        policy(200),
    ));
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &old))))
            .await
            .status,
        StatusCode::OK
    );
    issuer.publish(&[old.verifying_key(), new.verifying_key()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = send(&app, get(Some(&token_from(&issuer, &new)))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn failures_are_cached_briefly_and_answered_503() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    *issuer.jwks_status.lock().unwrap() = StatusCode::INTERNAL_SERVER_ERROR;
    let policy = JwksCachePolicy {
        failure_ttl: Duration::from_millis(300),
        ..policy(0)
    };
    let app = app(&guard(
        &issuer,
        Verification::jwks_uri(format!("{}/jwks", issuer.url)),
        policy,
    ));
    for _ in 0..20 {
        let answer = send(&app, get(Some(&token_from(&issuer, &key)))).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.json()["error"], "temporarily_unavailable");
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "one attempt while the failure is remembered"
    );
    *issuer.jwks_status.lock().unwrap() = StatusCode::OK;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn rfc9111_max_age_drives_refresh_and_stale_keys_survive_failures() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    *issuer.cache_control.lock().unwrap() = Some("public, max-age=1");
    let policy = JwksCachePolicy {
        min_ttl: Duration::from_secs(1),
        failure_ttl: Duration::from_secs(60),
        ..policy(30_000)
    };
    let app = app(&guard(
        &issuer,
        Verification::jwks_uri(format!("{}/jwks", issuer.url)),
        policy,
    ));
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Stale now: refetched, and the issuer fails; the last good set stays in use.
    *issuer.jwks_status.lock().unwrap() = StatusCode::BAD_GATEWAY;
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn rfc7517_section_4_2_keys_not_for_signatures_are_ignored() {
    let issuer = start_issuer().await;
    let key = key();
    let good = key.verifying_key().to_jwk().to_json();
    let mut enc: serde_json::Value =
        serde_json::from_str(&common::key().verifying_key().to_jwk().to_json()).unwrap();
    enc["use"] = "enc".into();
    // The attacker's key, published for encryption under the kid of its tokens.
    let attacker = common::key().with_kid("enc-key");
    let mut enc_attacker: serde_json::Value =
        serde_json::from_str(&attacker.verifying_key().to_jwk().to_json()).unwrap();
    enc_attacker["use"] = "enc".into();
    *issuer.jwks.lock().unwrap() = format!(
        r#"{{"keys":[{{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}},{enc},{enc_attacker},{good}]}}"#
    );
    let app = app(&guard(
        &issuer,
        Verification::jwks_uri(format!("{}/jwks", issuer.url)),
        policy(30_000),
    ));
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get(Some(&token_from(&issuer, &attacker))))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn remote_jwks_can_be_shared_between_guards() {
    let issuer = start_issuer().await;
    let key = key();
    issuer.publish(&[key.verifying_key()]);
    let source = Arc::new(
        gatehouse_guard::RemoteJwks::from_uri(&format!("{}/jwks", issuer.url), policy(30_000))
            .unwrap(),
    );
    let first = app(&guard(
        &issuer,
        Verification::key_source(Arc::clone(&source)),
        policy(0),
    ));
    let second = app(&guard(&issuer, Verification::key_source(source), policy(0)));
    assert_eq!(
        send(&first, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&second, get(Some(&token_from(&issuer, &key))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 1);
}
