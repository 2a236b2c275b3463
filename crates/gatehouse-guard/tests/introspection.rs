//! Introspection mode against a fake authorization server on 127.0.0.1 (RFC 7662).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as route_get, post as route_post};
use common::*;
use gatehouse_guard::{Guard, IntrospectionClient, SecretString, Verification};

const CLIENT_ID: &str = "mcp-resource";
const CLIENT_SECRET: &str = "s3cr3t:/&";

struct FakeAs {
    url: String,
    calls: AtomicUsize,
    answers: Mutex<HashMap<String, serde_json::Value>>,
    status: Mutex<StatusCode>,
}

impl FakeAs {
    fn answer(&self, token: &str, answer: serde_json::Value) {
        self.answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn metadata(State(fake): State<Arc<FakeAs>>) -> Response {
    let body = serde_json::json!({
        "issuer": fake.url,
        "authorization_endpoint": format!("{}/authorize", fake.url),
        "token_endpoint": format!("{}/token", fake.url),
        "introspection_endpoint": format!("{}/introspect", fake.url),
        "response_types_supported": ["code"],
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn introspect(State(fake): State<Arc<FakeAs>>, headers: HeaderMap, body: String) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let status = *fake.status.lock().unwrap();
    if status != StatusCode::OK {
        return (status, "{}").into_response();
    }
    // RFC 6749 §2.3.1: form-encoded id and secret, then Basic.
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    use base64ct::Encoding;
    let expected = format!(
        "Basic {}",
        base64ct::Base64::encode_string(
            format!("{}:{}", encode(CLIENT_ID), encode(CLIENT_SECRET)).as_bytes()
        )
    );
    if headers
        .get("authorization")
        .is_none_or(|v| v != expected.as_str())
    {
        return (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#).into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        form.get("token_type_hint").map(String::as_str),
        Some("access_token")
    );
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = fake
        .answers
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"active": false}));
    ([("content-type", "application/json")], answer.to_string()).into_response()
}

async fn start() -> Arc<FakeAs> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = Arc::new(FakeAs {
        url: format!("http://{}", listener.local_addr().unwrap()),
        calls: AtomicUsize::new(0),
        answers: Mutex::new(HashMap::new()),
        status: Mutex::new(StatusCode::OK),
    });
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            route_get(metadata),
        )
        .route("/introspect", route_post(introspect))
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

fn active(fake: &FakeAs) -> serde_json::Value {
    serde_json::json!({
        "active": true,
        "iss": fake.url,
        "aud": RESOURCE,
        "sub": "alice",
        "client_id": "client-1",
        "scope": "mcp:tools",
        "exp": NOW + 600,
        "jti": "j-1",
        "token_type": "Bearer",
    })
}

fn guard(fake: &FakeAs, clock: &TestClock, client: IntrospectionClient) -> Guard {
    let clock = clock.clone();
    Guard::builder(&fake.url, RESOURCE, Verification::introspection(client))
        .required_scopes(["mcp:tools"])
        .clock(move || gatehouse_types::UnixTime::from_secs(clock.0.load(Ordering::SeqCst)))
        .build()
        .unwrap()
}

fn client() -> IntrospectionClient {
    IntrospectionClient::new(CLIENT_ID, SecretString::new(CLIENT_SECRET))
}

#[tokio::test]
async fn rfc7662_section_2_active_token_discovered_endpoint_and_freshness() {
    let fake = start().await;
    let clock = TestClock::new();
    fake.answer("opaque-1", active(&fake));
    let app = app(&guard(&fake, &clock, client()));
    let answer = send(&app, get(Some("opaque-1"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let seen = answer.json();
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["client_id"], "client-1");
    assert_eq!(seen["jti"], "j-1");
    assert_eq!(fake.calls(), 1);

    // Reused for the default 30 s…
    clock.set(NOW + 29);
    assert_eq!(
        send(&app, get(Some("opaque-1"))).await.status,
        StatusCode::OK
    );
    assert_eq!(fake.calls(), 1);
    // …then asked again, and a revocation at the server shows.
    fake.answer("opaque-1", serde_json::json!({"active": false}));
    clock.set(NOW + 30);
    let answer = send(&app, get(Some("opaque-1"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn freshness_never_extends_past_exp() {
    let fake = start().await;
    let clock = TestClock::new();
    let mut answer = active(&fake);
    answer["exp"] = (NOW + 10).into();
    fake.answer("short", answer);
    let app = app(&guard(
        &fake,
        &clock,
        client().endpoint(format!("{}/introspect", fake.url)),
    ));
    assert_eq!(send(&app, get(Some("short"))).await.status, StatusCode::OK);
    clock.set(NOW + 10);
    // The cached answer ended at `exp`; the server is asked again (and still says active, but
    // `exp` is past beyond the leeway soon after).
    assert_eq!(send(&app, get(Some("short"))).await.status, StatusCode::OK);
    assert_eq!(fake.calls(), 2);
    clock.set(NOW + 15);
    assert_eq!(
        send(&app, get(Some("short"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let fake = start().await;
    let clock = TestClock::new();
    let app = app(&guard(&fake, &clock, client()));
    for _ in 0..5 {
        let answer = send(&app, get(Some("unknown-token"))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.challenge().error_description().unwrap().as_str(),
            "The access token is not active"
        );
    }
    assert_eq!(fake.calls(), 1);
    clock.set(NOW + 5);
    send(&app, get(Some("unknown-token"))).await;
    assert_eq!(fake.calls(), 2);
}

/// An edit to an introspection answer.
type Change = Box<dyn Fn(&mut serde_json::Value)>;

#[tokio::test]
async fn rfc7662_section_4_answers_are_checked_against_this_resource() {
    let fake = start().await;
    let clock = TestClock::new();
    let app = app(&guard(&fake, &clock, client()));
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "other-aud",
            Box::new(|a| a["aud"] = "https://other.example.com/mcp".into()),
            "The access token was not issued for this resource",
        ),
        (
            "no-aud",
            Box::new(|a| {
                a.as_object_mut().unwrap().remove("aud");
            }),
            "The access token was not issued for this resource",
        ),
        (
            "other-iss",
            Box::new(|a| a["iss"] = "https://evil.example.com".into()),
            "The access token was not issued by the expected issuer",
        ),
        (
            "no-exp",
            Box::new(|a| {
                a.as_object_mut().unwrap().remove("exp");
            }),
            "The authorization server gave no expiry for the access token",
        ),
        (
            "expired",
            Box::new(|a| a["exp"] = (NOW - 60).into()),
            "The access token expired",
        ),
        (
            "refresh",
            Box::new(|a| a["token_type"] = "refresh_token".into()),
            "The token is not an access token",
        ),
    ];
    for (token, change, description) in cases {
        let mut answer = active(&fake);
        change(&mut answer);
        fake.answer(token, answer);
        let answer = send(&app, get(Some(token))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(
            answer.challenge().error_description().unwrap().as_str(),
            description,
            "{token}"
        );
    }
    // `iss` absent is fine; `aud` as an array naming us is fine.
    let mut answer = active(&fake);
    answer.as_object_mut().unwrap().remove("iss");
    answer["aud"] = serde_json::json!(["https://other.example.com", RESOURCE]);
    fake.answer("fine", answer);
    assert_eq!(send(&app, get(Some("fine"))).await.status, StatusCode::OK);
    // Scopes from the answer feed the scope checks.
    let mut answer = active(&fake);
    answer["scope"] = "files:read".into();
    fake.answer("weak", answer);
    assert_eq!(
        send(&app, get(Some("weak"))).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn unreachable_or_failing_authorization_server_is_503() {
    let fake = start().await;
    let clock = TestClock::new();
    fake.answer("t", active(&fake));
    *fake.status.lock().unwrap() = StatusCode::INTERNAL_SERVER_ERROR;
    let app = app(&guard(&fake, &clock, client()));
    let answer = send(&app, get(Some("t"))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    assert!(
        answer.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("authorization server")
    );

    // Wrong credentials: the server says 401, the client gets 503 (the operator's problem).
    *fake.status.lock().unwrap() = StatusCode::OK;
    let wrong = IntrospectionClient::new(CLIENT_ID, SecretString::new("wrong"));
    let app = common::app(&guard(&fake, &clock, wrong));
    assert_eq!(
        send(&app, get(Some("t"))).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Nothing listening at all.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/introspect", listener.local_addr().unwrap())
    };
    let app = common::app(&guard(&fake, &clock, client().endpoint(closed)));
    let answer = tokio::time::timeout(Duration::from_secs(10), send(&app, get(Some("t"))))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_flood_of_junk_tokens_does_not_evict_good_answers() {
    // RFC 7662 §4: the resource server may cache answers. Refusals live in a separate, smaller
    // cache, so random tokens cannot push real callers' answers out and make every one of their
    // requests a call to the authorization server.
    let fake = start().await;
    let clock = TestClock::new();
    fake.answer("good", active(&fake));
    let app = app(&guard(&fake, &clock, client().cache_capacity(100)));
    assert_eq!(send(&app, get(Some("good"))).await.status, StatusCode::OK);
    for i in 0..300 {
        let answer = send(&app, get(Some(&format!("junk-{i}")))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(fake.calls(), 301);
    assert_eq!(send(&app, get(Some("good"))).await.status, StatusCode::OK);
    assert_eq!(fake.calls(), 301, "the good answer was still cached");
}

#[tokio::test]
async fn rfc9449_section_6_2_an_introspected_dpop_token_needs_its_proof() {
    use gatehouse_jose::dpop::DpopProver;
    let fake = start().await;
    let clock = TestClock::new();
    let key = DpopProver::generate(gatehouse_jose::Algorithm::Es256).unwrap();
    let mut answer = active(&fake);
    answer["token_type"] = "DPoP".into();
    answer["cnf"] = serde_json::json!({ "jkt": key.jkt() });
    fake.answer("opaque-dpop", answer);
    let app = app(&guard(&fake, &clock, client()));
    // As Bearer: refused (RFC 9449 §7.2).
    let refused = send(&app, get(Some("opaque-dpop"))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // With the DPoP scheme and a proof of the key the answer names: accepted.
    let proof = key
        .proof("GET", RESOURCE, NOW, Some("opaque-dpop"), None)
        .unwrap();
    let request = axum::http::Request::get("/mcp")
        .header("authorization", "DPoP opaque-dpop")
        .header("dpop", proof)
        .body(axum::body::Body::empty())
        .unwrap();
    let accepted = send(&app, request).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
}
