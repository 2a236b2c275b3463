//! Runs one request through the guard N times, for counting instructions under valgrind:
//! `cargo xtask bench --instructions` runs this with two values of N and reports the difference
//! per request, which, unlike wall-clock time, does not move with the machine's load.
//!
//! `guard_cost ALG MODE N` with ALG `ES256` or `EdDSA` and MODE `warm` (the verified-token cache
//! answers: the path of every request after a token's first) or `cold` (cache disabled: the
//! signature is verified on every request).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use gatehouse_jose::Algorithm;

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
    let (service, token) = common::guarded(alg, cache);
    for _ in 0..n {
        let response = common::run(&service, common::request(&token));
        assert_eq!(black_box(response).status(), 200);
    }
}
