//! DPoP proofs (RFC 9449): the RFC's own example, and every check of §4.3 refusing what it
//! must.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_jose::dpop::{DPOP_PROOF_TYPE, MAX_JTI_LEN, access_token_hash};
use gatehouse_jose::{
    Algorithm, DpopError, DpopProver, JwsError, NonceSource, ProofExpectations, SigningKey,
    verify_proof,
};
use serde_json::{Value, json};

/// RFC 9449 §4.1, Figure 3: the example proof of a token request.
const RFC_PROOF: &str = concat!(
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo",
    "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW",
    "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.",
    "eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUu",
    "Y29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.",
    "2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
);
const RFC_IAT: u64 = 1_562_262_616;
const RFC_TOKEN_URI: &str = "https://server.example.com/token";
/// RFC 9449 §6.1: the thumbprint of the example key, the `cnf.jkt` of tokens bound to it.
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

const RESOURCE: &str = "https://mcp.example.com/mcp";
const NOW: u64 = 1_800_000_000;

fn expect(method: &'static str, uri: &'static str, now: u64) -> ProofExpectations<'static> {
    ProofExpectations::new(method, uri, now)
}

/// A proof with any header and claims, signed by `key` (which need not be the header's `jwk`).
fn forged(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let mut token = Base64UrlUnpadded::encode_string(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(
        claims.to_string().as_bytes(),
    ));
    let signature = key.sign(token.as_bytes()).unwrap();
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&signature));
    token
}

fn public_jwk(key: &SigningKey) -> Value {
    let mut jwk: Value = serde_json::from_str(&key.verifying_key().to_jwk().to_json()).unwrap();
    let object = jwk.as_object_mut().unwrap();
    object.remove("kid");
    object.remove("use");
    object.remove("alg");
    jwk
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": DPOP_PROOF_TYPE, "alg": key.algorithm().as_str(), "jwk": public_jwk(key)})
}

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "POST", "htu": RESOURCE, "iat": NOW})
}

#[test]
fn the_rfc_example_proof_verifies_and_names_the_rfc_thumbprint() {
    // RFC 9449 §4.1 and §6.1.
    let proof = verify_proof(RFC_PROOF, &expect("POST", RFC_TOKEN_URI, RFC_IAT + 5)).unwrap();
    assert_eq!(proof.jkt(), RFC_JKT);
    assert_eq!(proof.jti(), "-BwC3ESc6acc2lTc");
    assert_eq!(proof.iat(), RFC_IAT);
}

#[test]
fn ath_is_the_rfc_hash_of_the_access_token() {
    // RFC 9449 §7.1, Figure 12: the access token and the `ath` of the proof sent with it.
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn htm_must_be_the_request_method_rfc9449_4_3_item_8() {
    for method in ["GET", "post", "PUT"] {
        assert_eq!(
            verify_proof(RFC_PROOF, &expect(method, RFC_TOKEN_URI, RFC_IAT)),
            Err(DpopError::WrongMethod),
            "{method}"
        );
    }
}

#[test]
fn htu_must_be_the_request_uri_without_query_or_fragment_rfc9449_4_3_item_9() {
    // The same URI, normalised (RFC 3986 §6.2.2, §6.2.3) or with a query: accepted.
    for uri in [
        "https://server.example.com/token?x=1",
        "https://SERVER.example.com:443/token",
        "HTTPS://server.example.com/token#f",
    ] {
        assert!(
            verify_proof(RFC_PROOF, &expect("POST", uri, RFC_IAT)).is_ok(),
            "{uri}"
        );
    }
    for uri in [
        "https://server.example.com/token2",
        "https://server.example.com/other/token",
        "http://server.example.com/token",
        "https://server.example.com:8443/token",
        "https://attacker.example.com/token",
    ] {
        assert_eq!(
            verify_proof(RFC_PROOF, &expect("POST", uri, RFC_IAT)),
            Err(DpopError::WrongUri),
            "{uri}"
        );
    }
}

#[test]
fn iat_must_be_recent_rfc9449_4_3_item_11() {
    let max_age = ProofExpectations::DEFAULT_MAX_AGE_SECS;
    let leeway = ProofExpectations::DEFAULT_LEEWAY_SECS;
    for now in [RFC_IAT - leeway, RFC_IAT, RFC_IAT + max_age] {
        assert!(verify_proof(RFC_PROOF, &expect("POST", RFC_TOKEN_URI, now)).is_ok());
    }
    for now in [RFC_IAT - leeway - 1, RFC_IAT + max_age + 1, NOW] {
        assert_eq!(
            verify_proof(RFC_PROOF, &expect("POST", RFC_TOKEN_URI, now)),
            Err(DpopError::Stale),
            "{now}"
        );
    }
    assert_eq!(
        verify_proof(
            RFC_PROOF,
            &expect("POST", RFC_TOKEN_URI, RFC_IAT + 11).window(10, 0)
        ),
        Err(DpopError::Stale)
    );
}

#[test]
fn a_required_nonce_must_be_a_current_one_rfc9449_8_and_9() {
    let prover = DpopProver::generate(Algorithm::Es256).unwrap();
    let current = ["n-2", "n-1"];
    let without = prover.proof("POST", RESOURCE, NOW, None, None).unwrap();
    let stale = prover
        .proof("POST", RESOURCE, NOW, None, Some("n-0"))
        .unwrap();
    let fresh = prover
        .proof("POST", RESOURCE, NOW, None, Some("n-1"))
        .unwrap();
    let expected = expect("POST", RESOURCE, NOW).nonces(&current);
    for proof in [&without, &stale] {
        let refused = verify_proof(proof, &expected).unwrap_err();
        assert_eq!(refused, DpopError::UseNonce);
        assert_eq!(refused.error_code(), "use_dpop_nonce");
    }
    assert!(verify_proof(&fresh, &expected).is_ok());
    // No nonce required: one in the proof is ignored.
    assert!(verify_proof(&stale, &expect("POST", RESOURCE, NOW)).is_ok());
}

#[test]
fn a_nonce_source_is_shared_by_instances_and_its_nonces_expire_rfc9449_8() {
    // Two instances of one deployment: the same key, the same server.
    let (a, b) = (
        NonceSource::new(&[9; 32], RESOURCE, 60),
        NonceSource::new(&[9; 32], RESOURCE, 60),
    );
    let prover = DpopProver::generate(Algorithm::Es256).unwrap();
    let nonce = a.current(NOW);
    let proof = prover
        .proof("POST", RESOURCE, NOW, None, Some(&nonce))
        .unwrap();
    assert!(verify_proof(&proof, &expect("POST", RESOURCE, NOW).nonce_source(&b)).is_ok());
    // Two steps later the nonce is stale, and the server asks for a new one.
    let later = NOW + 120;
    let late = prover
        .proof("POST", RESOURCE, later, None, Some(&nonce))
        .unwrap();
    assert_eq!(
        verify_proof(&late, &expect("POST", RESOURCE, later).nonce_source(&b)),
        Err(DpopError::UseNonce)
    );
    // Another server's nonces (RFC 9449 §9: a resource server's own) are not accepted.
    let other = NonceSource::new(&[9; 32], "https://as.example.com/token", 60);
    let foreign = prover
        .proof("POST", RESOURCE, NOW, None, Some(&other.current(NOW)))
        .unwrap();
    assert_eq!(
        verify_proof(&foreign, &expect("POST", RESOURCE, NOW).nonce_source(&b)),
        Err(DpopError::UseNonce)
    );
}

#[test]
fn ath_must_hash_the_access_token_presented_rfc9449_4_3_item_12() {
    let prover = DpopProver::generate(Algorithm::EdDsa).unwrap();
    let with_ath = prover
        .proof("GET", RESOURCE, NOW, Some("token-a"), None)
        .unwrap();
    let without_ath = prover.proof("GET", RESOURCE, NOW, None, None).unwrap();
    assert!(
        verify_proof(
            &with_ath,
            &expect("GET", RESOURCE, NOW).access_token("token-a")
        )
        .is_ok()
    );
    for (proof, token) in [(&with_ath, "token-b"), (&without_ath, "token-a")] {
        let refused =
            verify_proof(proof, &expect("GET", RESOURCE, NOW).access_token(token)).unwrap_err();
        assert_eq!(refused, DpopError::WrongAccessTokenHash);
        assert_eq!(refused.error_code(), "invalid_dpop_proof");
    }
}

#[test]
fn typ_must_be_dpop_jwt_rfc9449_4_3_item_4() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    for typ in [json!("JWT"), json!("at+jwt"), json!("dpop")] {
        let mut header = header(&key);
        header["typ"] = typ.clone();
        let proof = forged(&key, &header, &claims());
        assert_eq!(
            verify_proof(&proof, &expect("POST", RESOURCE, NOW)),
            Err(DpopError::WrongType),
            "{typ}"
        );
    }
    let mut header = header(&key);
    header.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        verify_proof(
            &forged(&key, &header, &claims()),
            &expect("POST", RESOURCE, NOW)
        ),
        Err(DpopError::WrongType)
    );
}

#[test]
fn alg_must_be_asymmetric_and_supported_rfc9449_4_3_item_5() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    for alg in ["none", "HS256", "ES384"] {
        let mut header = header(&key);
        header["alg"] = json!(alg);
        let proof = forged(&key, &header, &claims());
        assert!(
            matches!(
                verify_proof(&proof, &expect("POST", RESOURCE, NOW)),
                Err(DpopError::Jws(JwsError::UnsupportedAlgorithm(_)))
            ),
            "{alg}"
        );
    }
    // An `alg` the `jwk` is not for.
    let mut header = header(&key);
    header["alg"] = json!("EdDSA");
    assert!(matches!(
        verify_proof(
            &forged(&key, &header, &claims()),
            &expect("POST", RESOURCE, NOW)
        ),
        Err(DpopError::Key(_))
    ));
}

#[test]
fn the_signature_must_be_by_the_jwk_in_the_header_rfc9449_4_3_item_6() {
    let (key, other) = (
        SigningKey::generate(Algorithm::Es256).unwrap(),
        SigningKey::generate(Algorithm::Es256).unwrap(),
    );
    let proof = forged(&other, &header(&key), &claims());
    assert_eq!(
        verify_proof(&proof, &expect("POST", RESOURCE, NOW)),
        Err(DpopError::Jws(JwsError::InvalidSignature))
    );
    let mut without_jwk = header(&key);
    without_jwk.as_object_mut().unwrap().remove("jwk");
    assert!(matches!(
        verify_proof(
            &forged(&key, &without_jwk, &claims()),
            &expect("POST", RESOURCE, NOW)
        ),
        Err(DpopError::Key(_))
    ));
}

#[test]
fn a_jwk_with_private_members_is_refused_rfc9449_4_3_item_7() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let mut header = header(&key);
    header["jwk"]["d"] = json!("c2VjcmV0");
    assert_eq!(
        verify_proof(
            &forged(&key, &header, &claims()),
            &expect("POST", RESOURCE, NOW)
        ),
        Err(DpopError::PrivateKey)
    );
}

#[test]
fn every_required_claim_must_be_present_and_typed_rfc9449_4_3_item_3() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    for (name, bad) in [
        ("jti", json!(null)),
        ("jti", json!("")),
        ("jti", json!("j".repeat(MAX_JTI_LEN + 1))),
        ("htm", json!(null)),
        ("htu", json!(null)),
        ("htu", json!(7)),
        ("iat", json!(null)),
        ("iat", json!("1800000000")),
        ("iat", json!(-1)),
    ] {
        let mut claims = claims();
        if bad.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = bad.clone();
        }
        assert_eq!(
            verify_proof(
                &forged(&key, &header(&key), &claims),
                &expect("POST", RESOURCE, NOW)
            ),
            Err(DpopError::MissingClaim(name)),
            "{name}: {bad}"
        );
    }
}

#[test]
fn a_prover_makes_proofs_that_verify_with_its_thumbprint_and_a_fresh_jti() {
    for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Ps256] {
        let prover = DpopProver::generate(alg).unwrap();
        let a = verify_proof(
            &prover
                .proof(
                    "POST",
                    "https://mcp.example.com/mcp?q=1",
                    NOW,
                    Some("t"),
                    None,
                )
                .unwrap(),
            &expect("POST", RESOURCE, NOW).access_token("t"),
        )
        .unwrap();
        let b = verify_proof(
            &prover.proof("POST", RESOURCE, NOW, None, None).unwrap(),
            &expect("POST", RESOURCE, NOW),
        )
        .unwrap();
        assert_eq!(a.jkt(), prover.jkt(), "{alg:?}");
        assert_eq!(b.jkt(), prover.jkt());
        assert_ne!(a.jti(), b.jti());
    }
}

#[test]
fn rfc9449_section_4_3_item_6_a_cached_key_never_stands_in_for_the_signature() {
    // The key cache saves the import of a key seen before; every proof's signature is still
    // checked, with the key its own header carries.
    let cache = gatehouse_jose::dpop::ProofKeyCache::default();
    let client = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let expected = |now| ProofExpectations::new("POST", RESOURCE, now).key_cache(&cache);
    for jti in ["j-1", "j-2"] {
        let mut claims = claims();
        claims["jti"] = json!(jti);
        let proof = forged(&client, &header(&client), &claims);
        assert!(verify_proof(&proof, &expected(NOW)).is_ok());
    }
    // The same header (the cached key), signed by someone else: refused.
    let thief = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let stolen_header = forged(&thief, &header(&client), &claims());
    assert!(verify_proof(&stolen_header, &expected(NOW)).is_err());
    // The same key under another algorithm name is another entry, refused as before.
    let mut header = header(&client);
    header["alg"] = json!("ES256");
    assert!(verify_proof(&forged(&client, &header, &claims()), &expected(NOW)).is_err());
}
