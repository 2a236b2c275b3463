//! Verify and sign per algorithm: gatehouse-jose beside the raw signature primitive and beside
//! the `jsonwebtoken` crate, on identical tokens.
//!
//! `cargo bench -p gatehouse-jose --bench jws` (figures and ratios: docs/performance.md).
//!
//! - `raw`: the RustCrypto primitive alone, on the same signing input and signature bytes.
//! - `raw-prev-gen`: the same with p256 0.13 / ed25519-dalek 2 (what jsonwebtoken uses).
//! - `gatehouse-jws`: `jws::parse` + `verify` with one key (structure, header, signature).
//! - `gatehouse-at`: `AccessTokenValidator::validate`: all of the above plus key selection,
//!   claims parsing and the RFC 9068 checks.
//! - `jsonwebtoken`: `jsonwebtoken::decode` with issuer, audience and expiry validation.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_jose::{
    AccessTokenClaims, AccessTokenValidator, Algorithm, Audience, KeySet, SigningKey, jws,
    sign_access_token,
};
use serde::Deserialize;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";

#[derive(Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    iat: u64,
    jti: String,
    client_id: String,
    scope: Option<String>,
}

fn claims(now: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "user-7f3a9c".into(),
        aud: Audience::One(AUDIENCE.into()),
        exp: now + 3600,
        iat: now,
        jti: "0f8e5b1c-6a7d-4e2f-9b3a-2c1d0e9f8a7b".into(),
        client_id: "mcp-client-4b1e".into(),
        nbf: None,
        scope: Some("mcp:tools mcp:admin".into()),
        extra: BTreeMap::new(),
    }
}

fn b64(text: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

fn jsonwebtoken_keys(
    key: &SigningKey,
) -> (
    jsonwebtoken::EncodingKey,
    jsonwebtoken::DecodingKey,
    jsonwebtoken::Algorithm,
) {
    let private = key.to_pkcs8_pem().unwrap();
    let public = key.verifying_key().to_spki_pem().unwrap();
    match key.algorithm() {
        Algorithm::Es256 => (
            jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::ES256,
        ),
        Algorithm::EdDsa => (
            jsonwebtoken::EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::EdDSA,
        ),
        _ => (
            jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
            if key.algorithm() == Algorithm::Rs256 {
                jsonwebtoken::Algorithm::RS256
            } else {
                jsonwebtoken::Algorithm::PS256
            },
        ),
    }
}

/// A verification of (message, signature) by some implementation.
type VerifyFn = Box<dyn Fn(&[u8], &[u8]) -> bool>;

/// The raw primitive of the previous RustCrypto generation, where there is one to compare.
fn previous_generation(key: &SigningKey) -> Option<VerifyFn> {
    let jwk = key.verifying_key().to_jwk();
    match key.algorithm() {
        Algorithm::Es256 => {
            let mut sec1 = vec![4u8];
            sec1.extend(b64(jwk.x.as_deref().unwrap()));
            sec1.extend(b64(jwk.y.as_deref().unwrap()));
            let vk = p256_013::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
            Some(Box::new(move |msg, sig| {
                use p256_013::ecdsa::signature::Verifier;
                let sig = p256_013::ecdsa::Signature::from_slice(sig).unwrap();
                vk.verify(msg, &sig).is_ok()
            }))
        }
        Algorithm::EdDsa => {
            let x: [u8; 32] = b64(jwk.x.as_deref().unwrap()).try_into().unwrap();
            let vk = ed25519_dalek_2::VerifyingKey::from_bytes(&x).unwrap();
            Some(Box::new(move |msg, sig| {
                let sig = ed25519_dalek_2::Signature::from_slice(sig).unwrap();
                vk.verify_strict(msg, &sig).is_ok()
            }))
        }
        _ => None,
    }
}

fn bench_algorithm(c: &mut Criterion, alg: Algorithm) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = SigningKey::generate(alg).unwrap();
    let verifying = key.verifying_key();
    let keys = KeySet::new(vec![verifying.clone()]);
    let validator = AccessTokenValidator::new(ISSUER, AUDIENCE);
    let token = sign_access_token(&key, &claims(now)).unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = b64(signature);
    let (encoding, decoding, jwt_alg) = jsonwebtoken_keys(&key);
    let mut validation = jsonwebtoken::Validation::new(jwt_alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 5;

    // The same token verifies everywhere, or the comparison means nothing.
    assert!(
        verifying
            .verify(signing_input.as_bytes(), &signature)
            .is_ok()
    );
    assert!(validator.validate(&token, &keys, now).is_ok());
    assert!(jsonwebtoken::decode::<JwtClaims>(&token, &decoding, &validation).is_ok());

    let mut group = c.benchmark_group(format!("verify/{}", alg.as_str()));
    group.bench_function("raw", |b| {
        b.iter(|| verifying.verify(black_box(signing_input.as_bytes()), black_box(&signature)))
    });
    if let Some(previous) = previous_generation(&key) {
        assert!(previous(signing_input.as_bytes(), &signature));
        group.bench_function("raw-prev-gen", |b| {
            b.iter(|| previous(black_box(signing_input.as_bytes()), black_box(&signature)))
        });
    }
    group.bench_function("gatehouse-jws", |b| {
        b.iter(|| {
            jws::parse(black_box(&token))
                .unwrap()
                .verify(&verifying)
                .unwrap()
        })
    });
    group.bench_function("gatehouse-at", |b| {
        b.iter(|| validator.validate(black_box(&token), &keys, now).unwrap())
    });
    group.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding, &validation).unwrap()
        })
    });
    // RFC 9449: a DPoP proof with this algorithm, checked as a resource checks it (`ath`
    // included): what a DPoP request adds to a bearer one, beside `raw` above.
    let prover = gatehouse_jose::dpop::DpopProver::generate(alg).unwrap();
    let htu = "https://mcp.example.com/mcp";
    let proof = prover.proof("POST", htu, now, Some(&token), None).unwrap();
    let expected =
        gatehouse_jose::dpop::ProofExpectations::new("POST", htu, now).access_token(&token);
    assert!(gatehouse_jose::dpop::verify_proof(&proof, &expected).is_ok());
    group.bench_function("dpop-proof", |b| {
        b.iter(|| gatehouse_jose::dpop::verify_proof(black_box(&proof), &expected).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(format!("sign/{}", alg.as_str()));
    group.bench_function("raw", |b| {
        b.iter(|| key.sign(black_box(signing_input.as_bytes())).unwrap())
    });
    let token_claims = claims(now);
    group.bench_function("gatehouse-at", |b| {
        b.iter(|| sign_access_token(&key, black_box(&token_claims)).unwrap())
    });
    let mut header = jsonwebtoken::Header::new(jwt_alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid().to_owned());
    group.bench_function("jsonwebtoken", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&token_claims), &encoding).unwrap())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    for alg in Algorithm::ALL {
        bench_algorithm(c, alg);
    }
}

criterion_group! {
    name = jws_benches;
    config = Criterion::default()
        .sample_size(40)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(jws_benches);
