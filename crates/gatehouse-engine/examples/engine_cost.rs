//! Runs one engine operation N times, for counting instructions under valgrind:
//! `cargo xtask bench --instructions` runs this with two values of N and reports the difference
//! per operation (load-independent, unlike time).
//!
//! `engine_cost ALG MODE N`: ALG ES256 or EdDSA; MODE `approve` (issue a code), `redeem`
//! (issue a code and redeem it), `refresh` (rotate a refresh token), `sign` (sign the same
//! access-token claims alone). The engine's own cost per redeem is `redeem - approve`, and the
//! signing share is `sign / (redeem - approve)`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::{Harness, Rng};
use gatehouse_jose::{Jwk, SigningKey, sign_access_token};

const RFC7515: &str = include_str!("../../gatehouse-jose/tests/vectors/rfc7515_appendix_a.json");
const RFC8037: &str = include_str!("../../gatehouse-jose/tests/vectors/rfc8037_a4_a5_ed25519.json");

/// A fixed key per algorithm (the RFC examples'), so that every run does the same work.
fn key(alg: &str) -> SigningKey {
    let (doc, pointer) = match alg {
        "ES256" => (RFC7515, "/A.3/jwk"),
        "EdDSA" => (RFC8037, "/input/key"),
        other => panic!("unsupported {other}"),
    };
    let value: serde_json::Value = serde_json::from_str(doc).unwrap();
    let jwk = Jwk::from_json(value.pointer(pointer).unwrap().to_string().as_bytes()).unwrap();
    SigningKey::from_jwk(&jwk).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, alg, mode, n] = args.as_slice() else {
        eprintln!("usage: engine_cost ES256|EdDSA approve|redeem|refresh|sign N");
        std::process::exit(2);
    };
    let n: u64 = n.parse().unwrap();
    let key = key(alg);
    let mut rng = Rng(1);
    let harness = Harness::new(&mut rng);
    let claims = harness.claims();
    let first_code = harness.new_code(&mut rng);
    let mut refresh = harness
        .token(&harness.redeem_body(&first_code), &key, &mut rng)
        .refresh_token
        .unwrap();
    for _ in 0..n {
        match mode.as_str() {
            "approve" => {
                black_box(harness.new_code(&mut rng));
            }
            "redeem" => {
                let code = harness.new_code(&mut rng);
                black_box(harness.token(&harness.redeem_body(&code), &key, &mut rng));
            }
            "refresh" => {
                let body = harness.refresh_body(&refresh);
                refresh = harness.token(&body, &key, &mut rng).refresh_token.unwrap();
            }
            "sign" => {
                black_box(sign_access_token(&key, black_box(&claims)).unwrap());
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
