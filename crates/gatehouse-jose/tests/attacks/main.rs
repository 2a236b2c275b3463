//! The attacks a JWS verifier meets, each in a test named for the attack. Where an attack needs a
//! valid signature over a crafted header (duplicate members, `crit`, `b64`, …) the test signs it
//! with the real key, so that only the check under test can refuse it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::sync::OnceLock;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use gatehouse_jose::jws::{self, MAX_HEADER_LEN, MAX_TOKEN_LEN};
use gatehouse_jose::{
    AccessTokenClaims, AccessTokenValidator, Algorithm, Audience, Jwk, Jwks, JwsError, JwtError,
    KeyError, KeySet, PublicJwks, SigningKey, UnsupportedAlgorithm, VerifyingKey,
    sign_access_token,
};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";
const NOW: u64 = 1_700_000_000;

/// The RFC 7520 §3.4 RSA key (2048 bits): fixed, so no slow key generation.
const RFC7520_RSA: &str = include_str!("../vectors/rfc7520_4_1_rsa_v15_signature.json");

struct Keys {
    es256: SigningKey,
    eddsa: SigningKey,
    rs256: SigningKey,
    ps256: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let vector: serde_json::Value = serde_json::from_str(RFC7520_RSA).unwrap();
        let rsa = Jwk::from_json(vector["input"]["key"].to_string().as_bytes()).unwrap();
        Keys {
            es256: SigningKey::generate(Algorithm::Es256)
                .unwrap()
                .with_kid("ec-key"),
            eddsa: SigningKey::generate(Algorithm::EdDsa)
                .unwrap()
                .with_kid("ed-key"),
            rs256: SigningKey::from_jwk_as(&rsa, Algorithm::Rs256)
                .unwrap()
                .with_kid("rsa-rs256"),
            ps256: SigningKey::from_jwk_as(&rsa, Algorithm::Ps256)
                .unwrap()
                .with_kid("rsa-ps256"),
        }
    })
}

/// Every public key, as a resource server's key set.
fn key_set() -> KeySet {
    let k = keys();
    KeySet::new(vec![
        k.es256.verifying_key(),
        k.eddsa.verifying_key(),
        k.rs256.verifying_key(),
        k.ps256.verifying_key(),
    ])
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: Audience::One(AUDIENCE.into()),
        exp: NOW + 600,
        iat: NOW,
        jti: "jti-1".into(),
        client_id: "client-1".into(),
        nbf: None,
        scope: Some("mcp:tools".into()),
        extra: Default::default(),
    }
}

fn claims_json() -> Vec<u8> {
    serde_json::to_vec(&claims()).unwrap()
}

fn validator() -> AccessTokenValidator {
    AccessTokenValidator::new(ISSUER, AUDIENCE)
}

fn validate(token: &str) -> Result<(), JwtError> {
    validator().validate(token, &key_set(), NOW).map(drop)
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

/// A compact JWS over an arbitrary header, signed by `key`: what an attacker who held the key
/// could send, so only the check under test stands between it and acceptance.
fn sign_raw(key: &SigningKey, header: &str, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn parts(token: &str) -> (&str, &str, &str) {
    let mut it = token.split('.');
    let parts = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    assert!(it.next().is_none());
    parts
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (header, payload, _) = parts(token);
    format!("{header}.{payload}.{}", b64(signature))
}

fn with_header(token: &str, header: &str) -> String {
    let (_, payload, signature) = parts(token);
    format!("{}.{payload}.{signature}", b64(header.as_bytes()))
}

fn verify(token: &str, key: &VerifyingKey) -> Result<Vec<u8>, JwsError> {
    jws::parse(token)?.verify(key).map(|v| v.payload().to_vec())
}

fn verify_with(token: &str, keys: &KeySet) -> Result<Vec<u8>, JwsError> {
    jws::parse(token)?
        .verify_with(keys)
        .map(|v| v.payload().to_vec())
}

fn unsupported(name: &str) -> JwsError {
    JwsError::UnsupportedAlgorithm(UnsupportedAlgorithm(name.into()))
}

mod algorithms;
mod encoding;
mod headers;
mod keys;
mod signatures;
