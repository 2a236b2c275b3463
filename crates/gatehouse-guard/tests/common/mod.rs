//! Helpers shared by the scenario tests: keys, tokens, a guarded app, requests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use axum::routing::any;
use gatehouse_guard::{Guard, GuardBuilder, Principal, StaticKeys, Verification};
use gatehouse_jose::{
    AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey, sign_access_token,
};
use gatehouse_resource_metadata::BearerChallenge;
use gatehouse_types::UnixTime;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const ISSUER: &str = "https://auth.example.com";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const METADATA_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
/// The fixed time of the test clock.
pub const NOW: u64 = 1_700_000_000;

pub fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

pub fn claims(scope: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: Audience::One(RESOURCE.into()),
        exp: NOW + 600,
        iat: NOW - 10,
        jti: format!("jti-{}", rand_suffix()),
        client_id: "client-1".into(),
        nbf: None,
        scope: (!scope.is_empty()).then(|| scope.to_owned()),
        extra: Default::default(),
    }
}

pub fn rand_suffix() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

pub fn token(key: &SigningKey, claims: &AccessTokenClaims) -> String {
    sign_access_token(key, claims).unwrap()
}

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(NOW)))
    }
    pub fn set(&self, secs: u64) {
        self.0.store(secs, Ordering::SeqCst);
    }
}

/// A guard for [`RESOURCE`] trusting `key`, on the test clock.
pub fn builder(key: &SigningKey, clock: &TestClock) -> GuardBuilder {
    let keys = KeySet::new(vec![key.verifying_key()]);
    builder_with(Verification::key_source(StaticKeys::new(keys)), clock)
}

pub fn builder_with(verification: Verification, clock: &TestClock) -> GuardBuilder {
    let clock = clock.clone();
    Guard::builder(ISSUER, RESOURCE, verification)
        .clock(move || UnixTime::from_secs(clock.0.load(Ordering::SeqCst)))
}

/// What the protected handler answers: who it saw, and the body it received.
async fn protected(principal: Principal, headers: HeaderMap, body: String) -> Response<Body> {
    if let Some(canned) = headers.get("x-test-respond") {
        // The test asks for a canned response of a given media type.
        let media = canned.to_str().unwrap().to_owned();
        return Response::builder()
            .header("content-type", media)
            .body(Body::from(body))
            .unwrap();
    }
    let answer = serde_json::json!({
        "sub": principal.subject(),
        "client_id": principal.client_id(),
        "scope": principal.scopes().to_string(),
        "jti": principal.jti(),
        "resource": principal.resource(),
        "body": body,
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap()
}

/// The app: `/mcp` behind the guard, the metadata document beside it.
pub fn app(guard: &Guard) -> Router {
    Router::new()
        .route("/mcp", any(protected))
        .route_layer(guard.clone())
        .merge(guard.metadata_router())
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn challenge(&self) -> BearerChallenge {
        let value = self
            .headers
            .get("www-authenticate")
            .expect("a WWW-Authenticate header")
            .to_str()
            .unwrap();
        BearerChallenge::parse(value).unwrap()
    }

    pub fn error(&self) -> Option<String> {
        self.challenge().error().map(|e| e.as_str().to_owned())
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub fn get(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/mcp");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

pub fn post_json(token: &str, body: &str) -> Request<Body> {
    Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}
