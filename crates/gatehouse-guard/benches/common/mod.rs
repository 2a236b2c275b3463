//! What the guard's benchmark and its instruction-count example share: a guard around a trivial
//! handler, with a static key source and fixed keys, and a token it accepts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{Request, Response};
use futures_util::FutureExt;
use gatehouse_guard::{Guard, StaticKeys, Verification};
use gatehouse_jose::dpop::DpopProver;
use gatehouse_jose::{
    AccessTokenClaims, Algorithm, Audience, Jwk, KeySet, SigningKey, sign_access_token,
};
use gatehouse_types::UnixTime;
use tower::{Layer, Service, ServiceExt};

pub(crate) const NOW: u64 = 1_700_000_000;

/// Fixed keys (RFC 7515 Appendix A.3, RFC 8037 Appendix A), so that every run verifies the same
/// signature and instruction counts compare across builds.
const ES256_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const ED25519_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;

/// A guard for `https://mcp.example.com/mcp` requiring `mcp:tools`, with a verified-token cache
/// of `cache` entries (0: verify every request), and a token signed with `alg` that it accepts.
pub(crate) fn guarded(
    alg: Algorithm,
    cache: usize,
) -> (
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    String,
) {
    guarded_bound(alg, cache, None)
}

/// What the policy benchmarks turn on beside per-tool scopes.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    /// The tool-call audit, into a sink that drops the record (the host's own work, a queue
    /// send, is not the guard's).
    pub(crate) audit: bool,
    /// A per-caller budget in this process, too large to be spent by the benchmark.
    pub(crate) rate_limit: bool,
}

/// An ES256 guard of the warm path (cache hit) with a scope for `echo`, and `policy`.
pub(crate) fn guarded_policy(
    policy: Policy,
) -> (
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    String,
) {
    let (key, token) = key_and_token(Algorithm::Es256, None);
    let mut builder = builder_for(&key).tool_scope("echo", "mcp:tools");
    if policy.audit {
        builder = builder.audit(|call: gatehouse_guard::AuditedCall| {
            std::hint::black_box(call);
        });
    }
    if policy.rate_limit {
        builder = builder.rate_limit(u32::MAX);
    }
    (around_trivial_handler(builder.build().unwrap()), token)
}

/// A `tools/call` of `echo` with `token`.
pub(crate) fn tools_call(token: &str) -> Request<Body> {
    Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#,
        ))
        .unwrap()
}

/// The same, with the token bound to `dpop`'s key (RFC 9449 `cnf.jkt`) when given.
pub(crate) fn guarded_bound(
    alg: Algorithm,
    cache: usize,
    dpop: Option<&DpopProver>,
) -> (
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    String,
) {
    let (key, token) = key_and_token(alg, dpop);
    let guard = builder_for(&key)
        .token_cache_capacity(cache)
        .build()
        .unwrap();
    (around_trivial_handler(guard), token)
}

/// The fixed key of `alg`, and a token it signed for the resource (bound to `dpop`'s key when
/// given).
fn key_and_token(alg: Algorithm, dpop: Option<&DpopProver>) -> (SigningKey, String) {
    let jwk = match alg {
        Algorithm::Es256 => ES256_KEY,
        Algorithm::EdDsa => ED25519_KEY,
        other => panic!("{other} is not measured here"),
    };
    let key = SigningKey::from_jwk(&Jwk::from_json(jwk.as_bytes()).unwrap()).unwrap();
    let claims = AccessTokenClaims {
        iss: "https://auth.example.com".into(),
        sub: "alice".into(),
        aud: Audience::One("https://mcp.example.com/mcp".into()),
        exp: NOW + 600,
        iat: NOW,
        jti: "0b0d3e0f-5c43-4a4e-9b7c-5a1d3c7e2f10".into(),
        client_id: "client-1".into(),
        nbf: None,
        scope: Some("mcp:tools mcp:admin".into()),
        extra: dpop
            .map(|prover| ("cnf".to_owned(), serde_json::json!({ "jkt": prover.jkt() })))
            .into_iter()
            .collect(),
    };
    let token = sign_access_token(&key, &claims).unwrap();
    (key, token)
}

/// A guard of the resource trusting `key`, requiring `mcp:tools`, on the fixed clock.
fn builder_for(key: &SigningKey) -> gatehouse_guard::GuardBuilder {
    Guard::builder(
        "https://auth.example.com",
        "https://mcp.example.com/mcp",
        Verification::key_source(StaticKeys::new(KeySet::new(vec![key.verifying_key()]))),
    )
    .required_scopes(["mcp:tools"])
    .clock(|| UnixTime::from_secs(NOW))
}

/// `guard` around a handler that answers 200 at once.
fn around_trivial_handler(
    guard: Guard,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
    guard.layer(tower::service_fn(|_request: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }))
}

/// A request to the protected resource with `token`.
pub(crate) fn request(token: &str) -> Request<Body> {
    Request::get("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// A DPoP key of algorithm `alg` (RFC 9449), as a client holds it.
pub(crate) fn prover(alg: Algorithm) -> DpopProver {
    DpopProver::generate(alg).unwrap()
}

/// A request to the protected resource with the DPoP-bound `token` and a fresh proof of
/// `prover`'s key for it.
pub(crate) fn dpop_request(token: &str, prover: &DpopProver) -> Request<Body> {
    let proof = prover
        .proof("GET", "https://mcp.example.com/mcp", NOW, Some(token), None)
        .unwrap();
    Request::get("/mcp")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(Body::empty())
        .unwrap()
}

/// Drives one request; every step is ready at once with a static key source.
pub(crate) fn run<S>(service: &S, request: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    service
        .clone()
        .oneshot(request)
        .now_or_never()
        .expect("the guard completes synchronously with static keys")
        .unwrap()
}

/// Drives one request on `runtime`: for requests with a body, which the guard reads under a
/// timeout.
pub(crate) fn run_on<S>(
    runtime: &tokio::runtime::Runtime,
    service: &S,
    request: Request<Body>,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    runtime
        .block_on(service.clone().oneshot(request))
        .unwrap_or_else(|never| match never {})
}
