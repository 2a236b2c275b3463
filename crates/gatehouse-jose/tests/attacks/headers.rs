//! Header parameters: duplicates, `crit`, `b64`, a `kid` naming a key of another type, and keys
//! embedded in the header.

use super::*;

#[test]
fn duplicate_header_parameters_are_refused() {
    let key = &keys().es256;
    let payload = claims_json();
    for header in [
        r#"{"alg":"ES256","alg":"none"}"#,
        r#"{"alg":"none","alg":"ES256"}"#,
        r#"{"alg":"ES256","alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","kid":"rsa-rs256"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"ec-key","typ":"at+jwt"}"#,
        // The same name spelled with an escape is the same name.
        r#"{"alg":"ES256","\u0061lg":"none"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","crit":[],"cr\u0069t":[]}"#,
    ] {
        let token = sign_raw(key, header, &payload);
        assert!(
            matches!(jws::parse(&token), Err(JwsError::Malformed(_))),
            "{header}"
        );
        assert!(validate(&token).is_err(), "{header}");
    }
    // Duplicate claims are refused the same way (RFC 7519 §4), after the signature verified.
    let header = r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key"}"#;
    let claims = String::from_utf8(claims_json()).unwrap();
    let doubled = claims.replacen(r#""sub":"alice""#, r#""sub":"alice","sub":"admin""#, 1);
    assert_ne!(doubled, claims);
    let token = sign_raw(key, header, doubled.as_bytes());
    assert!(matches!(
        validate(&token),
        Err(JwtError::MalformedClaims(_))
    ));
}

#[test]
fn crit_header_is_refused() {
    let key = &keys().es256;
    for header in [
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","crit":["exp"],"exp":1}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","crit":[]}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","crit":"x"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","crit":null}"#,
    ] {
        let token = sign_raw(key, header, &claims_json());
        assert_eq!(
            jws::parse(&token).unwrap_err(),
            JwsError::CriticalHeader,
            "{header}"
        );
        assert_eq!(
            validate(&token),
            Err(JwtError::Jws(JwsError::CriticalHeader))
        );
    }
}

#[test]
fn b64_false_is_refused() {
    let key = &keys().es256;
    // RFC 7797 §3: b64 must be listed in crit, and that is refused first.
    let token = sign_raw(
        key,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"ec-key","b64":false,"crit":["b64"]}"#,
        &claims_json(),
    );
    assert_eq!(jws::parse(&token).unwrap_err(), JwsError::CriticalHeader);
    // Without crit, and even `true`: this crate never reads the payload unencoded.
    for b64_value in ["false", "true"] {
        let header =
            format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"ec-key","b64":{b64_value}}}"#);
        let token = sign_raw(key, &header, &claims_json());
        assert_eq!(jws::parse(&token).unwrap_err(), JwsError::UnencodedPayload);
        assert_eq!(
            validate(&token),
            Err(JwtError::Jws(JwsError::UnencodedPayload))
        );
    }
    // An unencoded payload in the middle segment ("$.02" style, RFC 7797 §4.2) is no base64url.
    let input = format!(
        "{}.{{\"sub\":\"alice\"}}",
        b64(br#"{"alg":"ES256","b64":false,"crit":["b64"]}"#)
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    assert!(jws::parse(&format!("{input}.{}", b64(&signature))).is_err());
}

#[test]
fn kid_pointing_at_a_key_of_another_type_is_refused_without_verifying() {
    let k = keys();
    let keys = key_set();
    // An ES256 token, signed by the EC key, naming the RSA key's kid: the header's algorithm is
    // not that key's, so the result is an algorithm mismatch (decided before any signature
    // check), and the EC key of the same set is not tried instead.
    for kid in ["rsa-rs256", "rsa-ps256", "ed-key"] {
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#);
        let token = sign_raw(&k.es256, &header, &claims_json());
        assert_eq!(
            verify_with(&token, &keys),
            Err(JwsError::AlgorithmMismatch),
            "{kid}"
        );
        assert_eq!(
            validate(&token),
            Err(JwtError::Jws(JwsError::AlgorithmMismatch))
        );
    }
    // An RS256 token naming the EC key.
    let token = sign_raw(
        &k.rs256,
        r#"{"alg":"RS256","typ":"at+jwt","kid":"ec-key"}"#,
        &claims_json(),
    );
    assert_eq!(verify_with(&token, &keys), Err(JwsError::AlgorithmMismatch));
    // An unknown kid matches nothing; the set is not searched by algorithm instead.
    let token = sign_raw(
        &k.es256,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"unknown"}"#,
        &claims_json(),
    );
    assert_eq!(verify_with(&token, &keys), Err(JwsError::NoMatchingKey));
    // An RSA JWK must not become an EC key, nor the reverse.
    let rsa_jwk = k.rs256.verifying_key().to_jwk();
    assert!(matches!(
        VerifyingKey::from_jwk_as(&rsa_jwk, Algorithm::Es256),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
    let ec_jwk = k.es256.verifying_key().to_jwk();
    assert!(matches!(
        VerifyingKey::from_jwk_as(&ec_jwk, Algorithm::Rs256),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn embedded_jwk_jku_and_x5u_headers_are_ignored() {
    // The attacker signs with their own key and puts it (or a URL for it) in the header. Keys
    // come from the key set only.
    let attacker = SigningKey::generate(Algorithm::Es256).unwrap();
    let embedded = attacker.verifying_key().to_jwk().to_json();
    for header in [
        format!(r#"{{"alg":"ES256","typ":"at+jwt","jwk":{embedded}}}"#),
        format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"ec-key","jwk":{embedded}}}"#),
        r#"{"alg":"ES256","typ":"at+jwt","jku":"https://evil.example/jwks"}"#.to_owned(),
        r#"{"alg":"ES256","typ":"at+jwt","x5u":"https://evil.example/cert"}"#.to_owned(),
    ] {
        let token = sign_raw(&attacker, &header, &claims_json());
        assert_eq!(
            validate(&token),
            Err(JwtError::Jws(JwsError::InvalidSignature)),
            "{header}"
        );
    }
    // With the attacker's own kid: no such key.
    let token = sign_access_token(&attacker, &claims()).unwrap();
    assert_eq!(
        validate(&token),
        Err(JwtError::Jws(JwsError::NoMatchingKey))
    );
}
