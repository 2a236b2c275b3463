//! OpenID Connect ID token verification (`gatehouse_jose::verify_id_token`, Core §3.1.3.7) over
//! claims the fuzzer chooses: sign-in through an identity provider reads the ID token its token
//! endpoint sends, so no input may panic it, and whatever it accepts must be from the provider,
//! for this client, about someone, and in answer to this sign-in.
//!
//! The first byte chooses the mode: 0 (mod 4), the rest is a compact token; 1, the rest is a
//! payload signed here as it is (a JSON object or not), so the claim checks after the signature
//! are reached; 2, the rest is a JSON object whose members are laid over a valid set of claims
//! and signed, so that every member can be changed alone; 3, the next byte chooses one of the
//! checked claims, which is set to the JSON value that follows (for `exp`, `iat` and `nbf`, an
//! integer is taken as seconds from now) or, when what follows is not JSON, removed, so that
//! every check is reached without seeds. Signed with the RFC 8037 A.1 Ed25519 key (the checks
//! do not depend on the algorithm, and Ed25519 is the cheapest of them under coverage
//! instrumentation).
#![no_main]
use std::sync::OnceLock;

use gatehouse_jose::{IdTokenExpectations, Jwk, KeySet, SigningKey, jws, verify_id_token};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[path = "shared/keys.rs"]
mod test_keys;

const ISSUER: &str = "https://login.example.com";
const CLIENT: &str = "gatehouse";
const NONCE: &str = "n-0S6_WzA2Mj";
/// 2027-01-15.
const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 60;
/// The claims mode 3 changes one at a time.
const CHECKED: [&str; 8] = ["iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp"];

struct Fixture {
    key: SigningKey,
    keys: KeySet,
    expected: IdTokenExpectations,
    claims: Map<String, Value>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let jwk = Jwk::from_json(test_keys::ED25519.as_bytes()).expect("constant JWK");
        let key = SigningKey::from_jwk(&jwk).expect("constant key");
        let claims = json!({
            "iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300,
            "iat": NOW - 5, "nonce": NONCE, "email": "alice@corp.example",
        });
        Fixture {
            keys: KeySet::new(vec![key.verifying_key()]),
            key,
            expected: IdTokenExpectations::new(ISSUER, CLIENT, NONCE).with_leeway(LEEWAY),
            claims: claims.as_object().cloned().expect("an object"),
        }
    })
}

/// The claims signed; `None` when too large for a token.
fn sign(f: &Fixture, claims: &Map<String, Value>) -> Option<String> {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    jws::sign(&f.key, Some("JWT"), &payload).ok()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let f = fixture();
    let token = match mode % 4 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            token.to_owned()
        }
        1 => {
            let Ok(token) = jws::sign(&f.key, Some("JWT"), rest) else {
                return;
            };
            token
        }
        2 => {
            let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            let mut claims = f.claims.clone();
            claims.extend(changes);
            let Some(token) = sign(f, &claims) else {
                return;
            };
            token
        }
        _ => {
            let Some((&which, value)) = rest.split_first() else {
                return;
            };
            let name = CHECKED[usize::from(which) % CHECKED.len()];
            let mut claims = f.claims.clone();
            match serde_json::from_slice::<Value>(value) {
                Ok(Value::Number(n)) if matches!(name, "exp" | "iat" | "nbf") && n.is_i64() => {
                    let offset = n.as_i64().unwrap_or_default();
                    claims.insert(name.into(), json!(NOW.saturating_add_signed(offset)));
                }
                Ok(value) => drop(claims.insert(name.into(), value)),
                Err(_) => drop(claims.remove(name)),
            }
            let Some(token) = sign(f, &claims) else {
                return;
            };
            token
        }
    };
    let Ok(verified) = verify_id_token(&token, &f.keys, &f.expected, NOW) else {
        return;
    };
    // What verified: what §3.1.3.7 promises of its claims.
    let claims = verified.claims();
    assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISSUER));
    match claims.get("aud") {
        Some(Value::String(aud)) => assert_eq!(aud, CLIENT),
        Some(Value::Array(auds)) => {
            assert!(!auds.is_empty(), "an empty aud was accepted");
            assert!(
                auds.iter().all(|aud| aud.as_str() == Some(CLIENT)),
                "{auds:?} is not only this client"
            );
        }
        other => panic!("aud {other:?} was accepted"),
    }
    if let Some(azp) = claims.get("azp") {
        assert_eq!(azp.as_str(), Some(CLIENT));
    }
    let sub = verified.subject();
    assert!(
        !sub.is_empty() && sub.len() <= 255,
        "sub {sub:?} was accepted"
    );
    assert_eq!(claims.get("sub").and_then(Value::as_str), Some(sub));
    assert_eq!(claims.get("nonce").and_then(Value::as_str), Some(NONCE));
    let exp = claims.get("exp").and_then(Value::as_u64);
    assert!(
        exp.is_some_and(|exp| NOW < exp.saturating_add(LEEWAY)),
        "expired"
    );
    let iat = claims.get("iat").and_then(Value::as_u64);
    assert!(
        iat.is_some_and(|iat| iat <= NOW + LEEWAY
            && NOW.saturating_sub(iat) <= IdTokenExpectations::DEFAULT_MAX_AGE_SECS),
        "iat {iat:?} was accepted"
    );
    if let Some(nbf) = claims.get("nbf") {
        assert!(nbf.as_u64().is_some_and(|nbf| nbf <= NOW + LEEWAY));
    }
});
