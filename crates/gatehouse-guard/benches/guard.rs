//! Per-request cost of the guard through the tower service, around a trivial inner service:
//! cold (signature verified on every request: cache disabled) and warm (verified-token cache
//! hit). `cargo bench -p gatehouse-guard`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;

use axum::body::Body;
use axum::http::{Request, Response};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use gatehouse_guard::{Guard, StaticKeys, Verification};
use gatehouse_jose::{
    AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey, sign_access_token,
};
use gatehouse_types::UnixTime;
use tower::{Layer, Service, ServiceExt};

const NOW: u64 = 1_700_000_000;

fn setup(
    alg: Algorithm,
    cache: usize,
) -> (
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    String,
) {
    let key = SigningKey::generate(alg).unwrap();
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
    let inner = tower::service_fn(|_request: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    (guard.layer(inner), token)
}

fn request(token: &str) -> Request<Body> {
    Request::get("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Drives one request; every step is ready at once with a static key source.
fn run<S>(service: &S, request: Request<Body>) -> Response<Body>
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("guard");
    for (name, alg) in [("es256", Algorithm::Es256), ("eddsa", Algorithm::EdDsa)] {
        let (cold, token) = setup(alg, 0);
        assert_eq!(run(&cold, request(&token)).status(), 200);
        group.bench_function(format!("cold_{name}"), |b| {
            b.iter_batched(
                || request(&token),
                |r| black_box(run(&cold, r)),
                BatchSize::SmallInput,
            )
        });
    }
    let (warm, token) = setup(Algorithm::Es256, 10_000);
    assert_eq!(run(&warm, request(&token)).status(), 200);
    group.bench_function("warm_cache_hit", |b| {
        b.iter_batched(
            || request(&token),
            |r| black_box(run(&warm, r)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
