//! Algorithm confusion: `none`, HMAC keyed with the public key, RS256/PS256 swaps, malformed
//! `alg` values, and `typ` confusion for access tokens.

use super::*;
use sha2::{Digest as _, Sha256};

/// HMAC-SHA256 (RFC 2104), to forge what an HS256 verifier would accept.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

#[test]
fn hmac_helper_matches_rfc7515_appendix_a_1() {
    // The HS256 example of RFC 7515 A.1, so the forgeries below are genuine HS256 tokens.
    let key = unb64(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    );
    let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    assert_eq!(
        b64(&hmac_sha256(&key, input.as_bytes())),
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    // The token itself is refused: no HMAC here.
    let token = format!("{input}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(jws::parse(&token).unwrap_err(), unsupported("HS256"));
}

#[test]
fn alg_none_token_is_refused() {
    let k = keys();
    let legit = sign_access_token(&k.es256, &claims()).unwrap();
    let (_, payload, signature) = parts(&legit);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"ec-key"}}"#);
        for sig in ["", signature] {
            let token = format!("{}.{payload}.{sig}", b64(header.as_bytes()));
            assert_eq!(jws::parse(&token).unwrap_err(), unsupported(alg), "{alg}");
            assert_eq!(
                validate(&token),
                Err(JwtError::Jws(unsupported(alg))),
                "{alg}"
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let k = keys();
    let rsa = k.rs256.verifying_key();
    let pem = rsa.to_spki_pem().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = Base64::decode_vec(&body).unwrap();
    assert_eq!(der[0], 0x30, "SPKI DER is a SEQUENCE");
    let jwk_json = rsa.to_jwk().to_json();
    // Every form of the public key an HS256-confused verifier might use as the HMAC secret.
    let secrets: [(&str, &[u8]); 4] = [
        ("PEM", pem.as_bytes()),
        ("PEM without final newline", pem.trim_end().as_bytes()),
        ("DER", &der[..]),
        ("JWK JSON", jwk_json.as_bytes()),
    ];
    for (form, secret) in secrets {
        for kid in [Some("rsa-rs256"), None] {
            let header = match kid {
                Some(kid) => format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#),
                None => r#"{"alg":"HS256","typ":"at+jwt"}"#.to_owned(),
            };
            let input = format!("{}.{}", b64(header.as_bytes()), b64(&claims_json()));
            let token = format!("{input}.{}", b64(&hmac_sha256(secret, input.as_bytes())));
            assert_eq!(
                jws::parse(&token).unwrap_err(),
                unsupported("HS256"),
                "{form}"
            );
            assert_eq!(
                validate(&token),
                Err(JwtError::Jws(unsupported("HS256"))),
                "{form}"
            );
            // Relabelled RS256, the 32-byte MAC is no RSA signature.
            let relabelled = with_header(&token, r#"{"alg":"RS256","typ":"at+jwt"}"#);
            assert_eq!(
                validate(&relabelled),
                Err(JwtError::Jws(JwsError::InvalidSignature)),
                "{form}"
            );
        }
    }
}

/// Signs with `from` and relabels the header with `to`'s algorithm, signature unchanged.
fn check_alg_swap(from: &SigningKey, to: &SigningKey) {
    let token = sign_access_token(from, &claims()).unwrap();
    assert!(validate(&token).is_ok());
    let relabelled_alg = to.algorithm().as_str();

    // Same kid: the kid's key is for the other algorithm, refused before any cryptography.
    let same_kid = with_header(
        &token,
        &format!(
            r#"{{"alg":"{relabelled_alg}","typ":"at+jwt","kid":"{}"}}"#,
            from.kid()
        ),
    );
    assert_eq!(
        verify(&same_kid, &from.verifying_key()),
        Err(JwsError::AlgorithmMismatch)
    );
    assert_eq!(
        validate(&same_kid),
        Err(JwtError::Jws(JwsError::AlgorithmMismatch))
    );
    // The kid of the same RSA key registered for the other algorithm: the signature is of the
    // wrong scheme and does not verify.
    let other_kid = with_header(
        &token,
        &format!(
            r#"{{"alg":"{relabelled_alg}","typ":"at+jwt","kid":"{}"}}"#,
            to.kid()
        ),
    );
    assert_eq!(
        verify(&other_kid, &to.verifying_key()),
        Err(JwsError::InvalidSignature)
    );
    assert_eq!(
        validate(&other_kid),
        Err(JwtError::Jws(JwsError::InvalidSignature))
    );
    // Without a kid the key is chosen by the header's algorithm: again the wrong scheme.
    let no_kid = with_header(
        &token,
        &format!(r#"{{"alg":"{relabelled_alg}","typ":"at+jwt"}}"#),
    );
    assert_eq!(
        validate(&no_kid),
        Err(JwtError::Jws(JwsError::InvalidSignature))
    );
    // The untouched token checked against the other algorithm's key.
    assert_eq!(
        verify(&token, &to.verifying_key()),
        Err(JwsError::AlgorithmMismatch)
    );
}

#[test]
fn alg_swapped_rs256_to_ps256_is_refused() {
    check_alg_swap(&keys().rs256, &keys().ps256);
}

#[test]
fn alg_swapped_ps256_to_rs256_is_refused() {
    check_alg_swap(&keys().ps256, &keys().rs256);
}

#[test]
fn malformed_alg_is_refused() {
    let key = &keys().es256;
    for (header, expected) in [
        (r#"{"alg":["ES256"]}"#, None),
        (r#"{"alg":null}"#, None),
        (r#"{"typ":"at+jwt"}"#, None),
        (r#"{"ALG":"ES256"}"#, None),
        (r#"{"alg":"es256"}"#, Some("es256")),
        (r#"{"alg":"ES256 "}"#, Some("ES256 ")),
        (r#"{"alg":"ES384"}"#, Some("ES384")),
        (r#"{"alg":"ES256K"}"#, Some("ES256K")),
        (r#"{"alg":"Ed25519"}"#, Some("Ed25519")),
    ] {
        let token = sign_raw(key, header, &claims_json());
        match expected {
            Some(name) => assert_eq!(jws::parse(&token).unwrap_err(), unsupported(name)),
            None => assert!(
                matches!(jws::parse(&token), Err(JwsError::Malformed(_))),
                "{header}"
            ),
        }
    }
    // Headers that are no JSON object.
    for header in [
        r#"["ES256"]"#,
        r#""ES256""#,
        "",
        r#"{"alg":"ES256"} x"#,
        "\u{feff}{\"alg\":\"ES256\"}",
    ] {
        let token = sign_raw(key, header, &claims_json());
        assert!(
            matches!(jws::parse(&token), Err(JwsError::Malformed(_))),
            "{header:?}"
        );
    }
}

#[test]
fn typ_confusion_for_access_tokens_is_refused() {
    let key = &keys().es256;
    let payload = claims_json();
    // Other JWT types carrying otherwise valid access-token claims, signed by the issuer's key.
    for typ in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("application/jwt"),
        Some("dpop+jwt"),
        Some("secevent+jwt"),
        Some("logout+jwt"),
        Some("token-introspection+jwt"),
        Some("at+jwt "),
        Some(" at+jwt"),
        Some("at+jwt;charset=utf-8"),
        Some("at+jw"),
        Some(""),
    ] {
        let token = jws::sign(key, typ, &payload).unwrap();
        assert_eq!(validate(&token), Err(JwtError::WrongType), "{typ:?}");
    }
    // RFC 9068 §4: "at+jwt" or "application/at+jwt"; media type names are case-insensitive
    // (RFC 7515 §4.1.9).
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+Jwt",
    ] {
        let token = jws::sign(key, Some(typ), &payload).unwrap();
        assert!(validate(&token).is_ok(), "{typ}");
    }
    // A typ that is not a string at all.
    let token = sign_raw(key, r#"{"alg":"ES256","kid":"ec-key","typ":1}"#, &payload);
    assert!(matches!(
        validate(&token),
        Err(JwtError::Jws(JwsError::Malformed(_)))
    ));
    // An ID token (typ JWT, no client_id or jti) is refused for its type, before its claims.
    let id_token = br#"{"iss":"https://auth.example.com","sub":"alice","aud":"https://mcp.example.com/mcp","exp":1700000600,"iat":1700000000,"nonce":"n"}"#;
    let token = jws::sign(key, Some("JWT"), id_token).unwrap();
    assert_eq!(validate(&token), Err(JwtError::WrongType));
    let token = jws::sign(key, Some("at+jwt"), id_token).unwrap();
    assert!(matches!(
        validate(&token),
        Err(JwtError::MalformedClaims(_))
    ));
}
