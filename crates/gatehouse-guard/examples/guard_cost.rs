//! Runs one request through the guard N times, for counting instructions under valgrind:
//! `cargo xtask bench --instructions` runs this with two values of N and reports the difference
//! per request, which, unlike wall-clock time, does not move with the machine's load.
//!
//! `guard_cost ALG MODE N` with ALG `ES256` or `EdDSA` and MODE `warm` (the verified-token cache
//! answers: the path of every request after a token's first) or `cold` (cache disabled: the
//! signature is verified on every request).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::hint::black_box;

use axum::body::Body;
use axum::http::{Request, Response};
use futures_util::FutureExt;
use gatehouse_guard::{Guard, StaticKeys, Verification};
use gatehouse_jose::{
    AccessTokenClaims, Algorithm, Audience, Jwk, KeySet, SigningKey, sign_access_token,
};
use gatehouse_types::UnixTime;
use tower::{Layer, ServiceExt};

const NOW: u64 = 1_700_000_000;

/// Fixed keys (RFC 7515 Appendix A.3, RFC 8037 Appendix A), so that every run verifies the same
/// signature and the counts compare across builds.
const ES256_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const ED25519_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, alg, mode, n] = args.as_slice() else {
        panic!("usage: guard_cost ES256|EdDSA warm|cold N");
    };
    let alg: Algorithm = alg.parse().unwrap();
    let cache = match mode.as_str() {
        "warm" => 10_000,
        "cold" => 0,
        other => panic!("unknown mode {other}"),
    };
    let n: u64 = n.parse().unwrap();

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
        extra: Default::default(),
    };
    let token = sign_access_token(&key, &claims).unwrap();
    let guard = Guard::builder(
        "https://auth.example.com",
        "https://mcp.example.com/mcp",
        Verification::key_source(StaticKeys::new(KeySet::new(vec![key.verifying_key()]))),
    )
    .required_scopes(["mcp:tools"])
    .token_cache_capacity(cache)
    .clock(|| UnixTime::from_secs(NOW))
    .build()
    .unwrap();
    let service = guard.layer(tower::service_fn(|_request: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let authorization = format!("Bearer {token}");
    for _ in 0..n {
        let request = Request::get("/mcp")
            .header("authorization", authorization.as_str())
            .body(Body::empty())
            .unwrap();
        let response = service
            .clone()
            .oneshot(request)
            .now_or_never()
            .expect("the guard completes synchronously with static keys")
            .unwrap();
        assert_eq!(black_box(response).status(), 200);
    }
}
