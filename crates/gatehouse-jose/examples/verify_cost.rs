//! Runs one verification path N times, for counting instructions under valgrind:
//! `cargo xtask bench --instructions` runs this with two values of N and reports the difference
//! per operation, which, unlike wall-clock time, does not move with the machine's load.
//!
//! `verify_cost ALG MODE N` with ALG one of ES256, EdDSA, RS256, PS256 and MODE one of
//! `raw` (the signature primitive alone), `jws` (parse + verify), `at` (RFC 9068 validation),
//! `jsonwebtoken` (`jsonwebtoken::decode` with issuer, audience and expiry checks).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hint::black_box;

use gatehouse_jose::{
    AccessTokenClaims, AccessTokenValidator, Algorithm, Audience, Jwk, KeySet, SigningKey, jws,
    sign_access_token,
};

const RFC7515: &str = include_str!("../tests/vectors/rfc7515_appendix_a.json");
const RFC8037: &str = include_str!("../tests/vectors/rfc8037_a4_a5_ed25519.json");
const RFC7520: &str = include_str!("../tests/vectors/rfc7520_4_1_rsa_v15_signature.json");
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";
const IAT: u64 = 1_700_000_000;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    jti: String,
}

/// A fixed key per algorithm (the RFC examples'), so that every run does the same work.
fn key(alg: Algorithm) -> SigningKey {
    let jwk = |doc: &str, pointer: &str| {
        let value: serde_json::Value = serde_json::from_str(doc).unwrap();
        Jwk::from_json(value.pointer(pointer).unwrap().to_string().as_bytes()).unwrap()
    };
    match alg {
        Algorithm::Es256 => SigningKey::from_jwk(&jwk(RFC7515, "/A.3/jwk")).unwrap(),
        Algorithm::EdDsa => SigningKey::from_jwk(&jwk(RFC8037, "/input/key")).unwrap(),
        rsa => SigningKey::from_jwk_as(&jwk(RFC7520, "/input/key"), rsa).unwrap(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, alg, mode, n] = args.as_slice() else {
        eprintln!("usage: verify_cost ES256|EdDSA|RS256|PS256 raw|jws|at|jsonwebtoken N");
        std::process::exit(2);
    };
    let alg: Algorithm = alg.parse().unwrap();
    let n: u64 = n.parse().unwrap();
    let key = key(alg);
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "user-7f3a9c".into(),
        aud: Audience::One(AUDIENCE.into()),
        exp: 4_102_444_800,
        iat: IAT,
        jti: "0f8e5b1c-6a7d-4e2f-9b3a-2c1d0e9f8a7b".into(),
        client_id: "mcp-client-4b1e".into(),
        nbf: None,
        scope: Some("mcp:tools mcp:admin".into()),
        extra: BTreeMap::new(),
    };
    let token = sign_access_token(&key, &claims).unwrap();
    let verifying = key.verifying_key();
    let keys = KeySet::new(vec![verifying.clone()]);
    let validator = AccessTokenValidator::new(ISSUER, AUDIENCE);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::decode_vec(signature).unwrap()
    };
    let public_pem = verifying.to_spki_pem().unwrap();
    let (decoding, jwt_alg) = match alg {
        Algorithm::Es256 => (
            jsonwebtoken::DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::ES256,
        ),
        Algorithm::EdDsa => (
            jsonwebtoken::DecodingKey::from_ed_pem(public_pem.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::EdDSA,
        ),
        Algorithm::Rs256 => (
            jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::RS256,
        ),
        Algorithm::Ps256 => (
            jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
            jsonwebtoken::Algorithm::PS256,
        ),
        other => panic!("no jsonwebtoken counterpart for {other}"),
    };
    let mut validation = jsonwebtoken::Validation::new(jwt_alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    for _ in 0..n {
        match mode.as_str() {
            "raw" => verifying
                .verify(black_box(input.as_bytes()), black_box(&signature))
                .unwrap(),
            "jws" => {
                black_box(
                    jws::parse(black_box(&token))
                        .unwrap()
                        .verify(&verifying)
                        .unwrap(),
                );
            }
            "at" => {
                black_box(
                    validator
                        .validate(black_box(&token), &keys, IAT + 1)
                        .unwrap(),
                );
            }
            "jsonwebtoken" => {
                black_box(
                    jsonwebtoken::decode::<Claims>(black_box(&token), &decoding, &validation)
                        .unwrap(),
                );
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
