//! Per-request cost of the guard through the tower service, around a trivial inner service:
//! cold (signature verified on every request: cache disabled) and warm (verified-token cache
//! hit). `cargo bench -p gatehouse-guard`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_jose::Algorithm;

use common::{
    Policy, dpop_request, guarded as setup, guarded_bound, guarded_policy, prover, request, run,
    run_on, tools_call,
};

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
    // RFC 9449: the token verified once (warm) or every time (cold), and a new proof checked on
    // every request; the proof's key decides what that check costs.
    for (name, proof_alg, cache) in [
        ("dpop_warm_es256_proof", Algorithm::Es256, 10_000),
        ("dpop_warm_eddsa_proof", Algorithm::EdDsa, 10_000),
        ("dpop_cold_es256_proof", Algorithm::Es256, 0),
    ] {
        let client = prover(proof_alg);
        let (guard, token) = guarded_bound(Algorithm::Es256, cache, Some(&client));
        assert_eq!(run(&guard, dpop_request(&token, &client)).status(), 200);
        group.bench_function(name, |b| {
            b.iter_batched(
                || dpop_request(&token, &client),
                |r| black_box(run(&guard, r)),
                BatchSize::SmallInput,
            )
        });
    }
    // Issue 23: a tools/call read and checked against its tool's scope, then audited, then
    // also counted against the caller's budget (in this process).
    // A body is read under a timeout: these run on a current-thread runtime with a timer.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for (name, policy) in [
        (
            "warm_tools_call",
            Policy {
                audit: false,
                rate_limit: false,
            },
        ),
        (
            "warm_tools_call_audited",
            Policy {
                audit: true,
                rate_limit: false,
            },
        ),
        (
            "warm_tools_call_audited_rate_limited",
            Policy {
                audit: true,
                rate_limit: true,
            },
        ),
    ] {
        let (guard, token) = guarded_policy(policy);
        assert_eq!(run_on(&runtime, &guard, tools_call(&token)).status(), 200);
        group.bench_function(name, |b| {
            b.iter_batched(
                || tools_call(&token),
                |r| black_box(run_on(&runtime, &guard, r)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
