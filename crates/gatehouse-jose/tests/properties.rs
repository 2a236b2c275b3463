//! Properties: sign → parse → verify round-trips for every algorithm; no parser panics on
//! arbitrary input; no single flipped bit in a valid token still verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::sync::OnceLock;

use gatehouse_jose::jws;
use gatehouse_jose::{
    AccessTokenClaims, AccessTokenValidator, Algorithm, Audience, Jwk, Jwks, KeySet, SigningKey,
    VerifyingKey, sign_access_token,
};
use proptest::prelude::*;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";
const NOW: u64 = 1_700_000_000;

/// One key per algorithm, generated once: RSA generation is slow.
fn keys() -> &'static [SigningKey; 4] {
    static KEYS: OnceLock<[SigningKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| Algorithm::ALL.map(|alg| SigningKey::generate(alg).unwrap()))
}

fn key(alg: Algorithm) -> &'static SigningKey {
    keys().iter().find(|k| k.algorithm() == alg).unwrap()
}

fn key_set() -> KeySet {
    KeySet::new(keys().iter().map(SigningKey::verifying_key).collect())
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

fn validator() -> AccessTokenValidator {
    AccessTokenValidator::new(ISSUER, AUDIENCE)
}

/// sign → parse → verify gives back the payload and header, with the key itself and through a
/// key set holding every algorithm's key.
fn round_trip(alg: Algorithm, typ: Option<&str>, payload: &[u8]) {
    let signing = key(alg);
    let token = jws::sign(signing, typ, payload).unwrap();
    assert!(token.len() <= jws::MAX_TOKEN_LEN);
    let verified = jws::parse(&token)
        .unwrap()
        .verify(&signing.verifying_key())
        .unwrap();
    assert_eq!(verified.payload(), payload);
    assert_eq!(verified.header().alg(), alg);
    assert_eq!(verified.header().typ(), typ);
    assert_eq!(verified.header().kid(), Some(signing.kid()));
    let through_set = jws::parse(&token).unwrap().verify_with(&key_set()).unwrap();
    assert_eq!(through_set, verified);
    let (header, decoded) = jws::dangerous_decode_unverified(&token).unwrap();
    assert_eq!(decoded, payload);
    assert_eq!(header["alg"], alg.as_str());
}

fn typ_strategy() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[ -~]{0,24}")
}

proptest! {
    #[test]
    fn sign_parse_verify_round_trips_es256(payload in prop::collection::vec(any::<u8>(), 0..1024), typ in typ_strategy()) {
        round_trip(Algorithm::Es256, typ.as_deref(), &payload);
    }

    #[test]
    fn sign_parse_verify_round_trips_eddsa(payload in prop::collection::vec(any::<u8>(), 0..1024), typ in typ_strategy()) {
        round_trip(Algorithm::EdDsa, typ.as_deref(), &payload);
    }
}

proptest! {
    // RSA signing is slow in debug builds: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sign_parse_verify_round_trips_rs256(payload in prop::collection::vec(any::<u8>(), 0..1024), typ in typ_strategy()) {
        round_trip(Algorithm::Rs256, typ.as_deref(), &payload);
    }

    #[test]
    fn sign_parse_verify_round_trips_ps256(payload in prop::collection::vec(any::<u8>(), 0..1024), typ in typ_strategy()) {
        round_trip(Algorithm::Ps256, typ.as_deref(), &payload);
    }

    #[test]
    fn access_tokens_round_trip_for_every_algorithm(
        sub in "[ -~]{1,40}",
        scope in prop::option::of("[a-z:]{1,20}( [a-z:]{1,20}){0,3}"),
        extra_value in any::<i64>(),
        age in 0u64..600,
    ) {
        let mut claims = claims();
        claims.sub = sub;
        claims.scope = scope;
        claims.extra.insert("x_extra".into(), extra_value.into());
        for signing in keys() {
            let token = sign_access_token(signing, &claims).unwrap();
            let verified = validator().validate(&token, &key_set(), NOW + age).unwrap();
            prop_assert_eq!(verified.claims(), &claims);
        }
    }
}

/// Strings shaped like tokens: the base64url alphabet, dots, and a few characters that must be
/// refused (padding, whitespace, the standard alphabet).
fn token_like() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_\\-.=+/ ]{0,400}"
}

/// Three segments whose header is base64url of arbitrary JSON-ish text.
fn structured_token() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            "\\{\"alg\":\"(ES256|EdDSA|RS256|PS256|none|HS256)\"(,\"(typ|kid|crit|b64|x)\":(\"[ -~]{0,12}\"|true|false|1|null|\\[\\]|\\{\\}))*\\}",
            "[ -~]{0,64}",
        ],
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(header, payload, signature)| {
            use base64ct::{Base64UrlUnpadded, Encoding};
            format!(
                "{}.{}.{}",
                Base64UrlUnpadded::encode_string(header.as_bytes()),
                Base64UrlUnpadded::encode_string(&payload),
                Base64UrlUnpadded::encode_string(&signature)
            )
        })
}

fn exercise_token(token: &str) {
    let keys = key_set();
    if let Ok(parsed) = jws::parse(token) {
        let _ = parsed.header().alg();
        let _ = parsed.verify_with(&keys);
    }
    for verifying in keys.keys() {
        if let Ok(parsed) = jws::parse(token) {
            let _ = parsed.verify(verifying);
        }
    }
    let _ = jws::dangerous_decode_unverified(token);
    let _ = validator().validate(token, &keys, NOW);
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic_token_parsers(token in any::<String>()) {
        exercise_token(&token);
    }

    #[test]
    fn token_like_strings_never_panic_token_parsers(token in token_like()) {
        exercise_token(&token);
    }

    #[test]
    fn structured_tokens_never_panic_and_never_verify(token in structured_token()) {
        exercise_token(&token);
        // Nobody but the key holders can sign: a random signature never verifies.
        prop_assert!(jws::parse(&token).and_then(|t| t.verify_with(&key_set())).is_err());
        prop_assert!(validator().validate(&token, &key_set(), NOW).is_err());
    }
}

fn exercise_key_bytes(bytes: &[u8]) {
    if let Ok(jwk) = Jwk::from_json(bytes) {
        let _ = jwk.thumbprint();
        let _ = jwk.is_private();
        let _ = VerifyingKey::from_jwk(&jwk).map(|k| k.thumbprint());
        for alg in Algorithm::ALL {
            let _ = VerifyingKey::from_jwk_as(&jwk, alg);
        }
        let _ = SigningKey::from_jwk(&jwk);
        let again = Jwk::from_json(jwk.to_json().as_bytes()).unwrap();
        assert_eq!(again, jwk);
    }
    let _ = Jwks::from_json(bytes);
    if let Ok(jwks) = Jwks::from_jwk_or_jwks(bytes) {
        let (set, ignored) = KeySet::from_jwks(&jwks);
        assert_eq!(set.keys().len() + ignored.len(), jwks.keys.len());
        let _ = gatehouse_jose::PublicJwks::from_jwks(jwks).map(|p| p.to_json());
    }
}

/// JSON objects shaped like JWKs: known members with plausible and implausible values.
fn jwk_like() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[A-Za-z0-9_\\-]{0,90}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("EC"),
            Just("OKP"),
            Just("RSA"),
            Just("oct"),
            Just("P-256"),
            Just("P-521"),
            Just("Ed25519"),
            Just("X25519"),
            Just("ES256"),
            Just("EdDSA"),
            Just("RS256"),
            Just("PS256"),
            Just("none"),
            Just("sig"),
            Just("enc"),
            Just("AQAB"),
            Just("AAEAAQ"),
        ]
        .prop_map(serde_json::Value::from),
        prop::collection::vec("[a-zA-Z]{0,8}", 0..3).prop_map(serde_json::Value::from),
    ];
    let member = prop_oneof![
        Just("kty"),
        Just("crv"),
        Just("alg"),
        Just("use"),
        Just("key_ops"),
        Just("kid"),
        Just("x"),
        Just("y"),
        Just("n"),
        Just("e"),
        Just("d"),
        Just("p"),
        Just("q"),
        Just("dp"),
        Just("dq"),
        Just("qi"),
        Just("oth"),
        Just("k"),
        Just("x5c"),
    ];
    prop::collection::btree_map(member, value, 0..10).prop_map(|members| {
        let object: serde_json::Map<String, serde_json::Value> = members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        serde_json::Value::Object(object).to_string().into_bytes()
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_key_parsers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise_key_bytes(&bytes);
    }

    #[test]
    fn jwk_like_objects_never_panic_key_parsers(bytes in jwk_like()) {
        exercise_key_bytes(&bytes);
        let wrapped = format!(r#"{{"keys":[{}]}}"#, String::from_utf8(bytes).unwrap());
        exercise_key_bytes(wrapped.as_bytes());
    }
}

#[test]
fn real_jwks_never_panic_key_parsers() {
    // Every generated key, public and private, alone and as a set.
    let mut set = Vec::new();
    for signing in keys() {
        for jwk in [signing.to_jwk(), signing.verifying_key().to_jwk()] {
            exercise_key_bytes(jwk.to_json().as_bytes());
            set.push(jwk.to_json());
        }
    }
    exercise_key_bytes(format!(r#"{{"keys":[{}]}}"#, set.join(",")).as_bytes());
}

/// Flips every bit of every character of a valid token (exhaustively, for each algorithm): none
/// of the results verifies, through the key or through the access-token validator.
#[test]
fn flipped_bit_anywhere_in_a_valid_token_never_verifies() {
    let set = key_set();
    for signing in keys() {
        let token = sign_access_token(signing, &claims()).unwrap();
        let verifying = signing.verifying_key();
        assert!(validator().validate(&token, &set, NOW).is_ok());
        let bytes = token.as_bytes();
        let mut checked = 0;
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.to_vec();
                flipped[i] ^= 1 << bit;
                // A flip that leaves UTF-8 cannot even be presented as a token.
                let Ok(flipped) = String::from_utf8(flipped) else {
                    continue;
                };
                let outcome = jws::parse(&flipped).and_then(|t| t.verify(&verifying));
                assert!(
                    outcome.is_err(),
                    "{:?}: byte {i} bit {bit} still verifies",
                    signing.algorithm()
                );
                assert!(validator().validate(&flipped, &set, NOW).is_err());
                checked += 1;
            }
        }
        // Bits 0 to 6 of an ASCII byte give ASCII; bit 7 gives a lone byte that is no UTF-8.
        assert_eq!(checked, token.len() * 7);
    }
}

proptest! {
    // Several bytes replaced at random positions: never verifies either.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_edits_never_verify(
        alg in prop::sample::select(Algorithm::ALL.to_vec()),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0x20u8..0x7f), 1..4),
    ) {
        let signing = key(alg);
        let token = sign_access_token(signing, &claims()).unwrap();
        let mut bytes = token.clone().into_bytes();
        for (index, byte) in edits {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        let edited = String::from_utf8(bytes).unwrap();
        prop_assume!(edited != token);
        prop_assert!(jws::parse(&edited).and_then(|t| t.verify(&signing.verifying_key())).is_err());
        prop_assert!(validator().validate(&edited, &key_set(), NOW).is_err());
    }
}
