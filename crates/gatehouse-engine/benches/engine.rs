//! The engine's own cost per redeem and per refresh, with the signing share shown separately.
//!
//! `cargo bench -p gatehouse-engine --bench engine` (figures: docs/performance.md).
//!
//! Storage is the in-memory store: a mutex and a hash map, so what is measured is the engine's
//! decisions, hashing, token minting and signing, not a database.
//!
//! - `redeem`: the `authorization_code` grant (client lookup, code checks, PKCE, take, access
//!   token, refresh token).
//! - `refresh`: the `refresh_token` grant with rotation.
//! - `sign-only`: signing the same access token claims alone; `sign-only / redeem` is the
//!   signing share.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use common::{Harness, Rng};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_jose::{Algorithm, SigningKey, sign_access_token};

fn bench_alg(c: &mut Criterion, alg: Algorithm) {
    let key = SigningKey::generate(alg).unwrap();
    let harness = Harness::new(&mut Rng(1));
    let mut group = c.benchmark_group(format!("engine/{}", alg.as_str()));
    let mut setup_rng = Rng(2);
    let mut run_rng = Rng(3);
    group.bench_function("redeem", |b| {
        b.iter_batched(
            || harness.redeem_body(&harness.new_code(&mut setup_rng)),
            |body| harness.token(black_box(&body), &key, &mut run_rng),
            BatchSize::SmallInput,
        )
    });

    let first = harness.token(
        &harness.redeem_body(&harness.new_code(&mut setup_rng)),
        &key,
        &mut run_rng,
    );
    let mut current = first.refresh_token.unwrap();
    group.bench_function("refresh", |b| {
        b.iter(|| {
            let body = harness.refresh_body(&current);
            current = harness
                .token(black_box(&body), &key, &mut run_rng)
                .refresh_token
                .unwrap();
        })
    });

    let claims = harness.claims();
    group.bench_function("sign-only", |b| {
        b.iter(|| sign_access_token(&key, black_box(&claims)).unwrap())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_alg(c, Algorithm::Es256);
    bench_alg(c, Algorithm::EdDsa);
}

criterion_group! {
    name = engine_benches;
    config = Criterion::default()
        .sample_size(40)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(engine_benches);
