//! RFC 9068 access-token validation with a fixed key set and validator.
//!
//! The first byte chooses the mode: even, the rest is a token for
//! `AccessTokenValidator::validate`; odd, the rest is a payload that is signed here (so the claim
//! checks after the signature are reached) and validated, with the RFC 7515 A.3 P-256 key when
//! bit 1 is clear and the RFC 8037 A.1 Ed25519 key when it is set. A validated token's claims are
//! re-signed with the Ed25519 key: the round trip does not depend on the algorithm, and Ed25519
//! is the cheaper of the two under coverage instrumentation, where signatures take over 90% of
//! this target's time (`perf`, 2026-12-06).
#![no_main]
use std::sync::OnceLock;

use gatehouse_jose::{AccessTokenValidator, Jwk, KeySet, SigningKey, jws, sign_access_token};
use libfuzzer_sys::fuzz_target;

#[path = "shared/keys.rs"]
mod test_keys;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";
/// 2025-06-15: the seeds are valid from 2023 to 2100.
const NOW: u64 = 1_750_000_000;

struct Fixture {
    es256: SigningKey,
    ed25519: SigningKey,
    keys: KeySet,
    validator: AccessTokenValidator,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signing_key = |json: &str| {
            SigningKey::from_jwk(&Jwk::from_json(json.as_bytes()).expect("constant JWK"))
                .expect("constant key")
        };
        let es256 = signing_key(test_keys::P256);
        let ed25519 = signing_key(test_keys::ED25519);
        Fixture {
            keys: KeySet::new(vec![es256.verifying_key(), ed25519.verifying_key()]),
            es256,
            ed25519,
            validator: AccessTokenValidator::new(ISSUER, AUDIENCE)
                .also_accept_audience("https://mcp.example.com/mcp/"),
        }
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let f = fixture();
    let token = if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        token.to_owned()
    } else {
        let key = if mode & 2 == 0 { &f.es256 } else { &f.ed25519 };
        let Ok(token) = jws::sign(key, Some("at+jwt"), rest) else {
            return;
        };
        token
    };
    let Ok(verified) = f.validator.validate(&token, &f.keys, NOW) else {
        return;
    };
    // What validated: the claims meet the validator's rules, and re-signed they validate again
    // to the same claims.
    let claims = verified.claims();
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.aud.iter().any(|aud| aud.starts_with(AUDIENCE)));
    let again = sign_access_token(&f.ed25519, claims).expect("claims serialize");
    let reverified = f
        .validator
        .validate(&again, &f.keys, NOW)
        .expect("re-signed claims validate");
    assert_eq!(reverified.claims(), claims);
});
