//! JWK and JWKS parsing and key construction: `Jwk::from_json`, `Jwks::from_json`,
//! `Jwks::from_jwk_or_jwks`, `VerifyingKey::from_jwk`/`from_jwk_as`, `SigningKey::from_jwk`,
//! RFC 7638 thumbprints, `KeySet::from_jwks` and `PublicJwks::from_jwks`.
#![no_main]
use gatehouse_jose::{Algorithm, Jwk, Jwks, KeySet, PublicJwks, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(jwk) = Jwk::from_json(input) {
        let thumbprint = jwk.thumbprint();
        // What parses serializes and parses to the same JWK.
        let again = Jwk::from_json(jwk.to_json().as_bytes()).expect("serialized JWK parses");
        assert_eq!(again, jwk);
        if let Ok(key) = VerifyingKey::from_jwk(&jwk) {
            // A usable key has a thumbprint, and its own JWK gives the same key back.
            assert_eq!(thumbprint.as_deref().ok(), Some(key.thumbprint().as_str()));
            let public = key.to_jwk();
            assert!(!public.is_private());
            let back = VerifyingKey::from_jwk(&public).expect("a key's own JWK is usable");
            assert_eq!(back.algorithm(), key.algorithm());
            assert_eq!(back.thumbprint(), key.thumbprint());
        }
        for alg in Algorithm::ALL {
            if let Ok(key) = VerifyingKey::from_jwk_as(&jwk, alg) {
                assert_eq!(key.algorithm(), alg);
            }
        }
        if let Ok(signing) = SigningKey::from_jwk(&jwk) {
            // The private key belongs to the public members (whose thumbprint it therefore has).
            assert!(jwk.is_private());
            assert_eq!(thumbprint.ok(), Some(signing.verifying_key().thumbprint()));
        }
    }
    let _ = Jwks::from_json(input);
    if let Ok(jwks) = Jwks::from_jwk_or_jwks(input) {
        let (set, ignored) = KeySet::from_jwks(&jwks);
        assert_eq!(set.keys().len() + ignored.len(), jwks.keys.len());
        let private = jwks.keys.iter().any(Jwk::is_private);
        match PublicJwks::from_jwks(jwks) {
            Ok(published) => {
                assert!(!private);
                let text = published.to_json();
                let reparsed = Jwks::from_json(text.as_bytes()).expect("published set parses");
                assert!(reparsed.keys.iter().all(|k| !k.is_private()));
            }
            Err(_) => assert!(private),
        }
    }
});
