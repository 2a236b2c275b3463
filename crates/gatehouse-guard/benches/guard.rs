//! Per-request cost of the guard through the tower service, around a trivial inner service:
//! cold (signature verified on every request: cache disabled) and warm (verified-token cache
//! hit). `cargo bench -p gatehouse-guard`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_jose::Algorithm;

use common::{guarded as setup, request, run};

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
