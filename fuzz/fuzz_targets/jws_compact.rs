//! Compact JWS parsing and verification (`jws::parse`, `UnverifiedJws::verify`/`verify_with`,
//! `jws::dangerous_decode_unverified`) against fixed keys built from the RFC example JWKs: the
//! RFC 7515 A.3 EC key (ES256), the RFC 8037 A.1 Ed25519 key (EdDSA), the RFC 7515 A.2 RSA key
//! (RS256) and the RFC 7520 §3.4 RSA key (RS256 and PS256 under one kid), so the seeds verify.
#![no_main]
use std::sync::OnceLock;

use gatehouse_jose::jws::{self, MAX_TOKEN_LEN};
use gatehouse_jose::{Algorithm, Jwk, JwsError, KeySet, VerifyingKey};
use libfuzzer_sys::fuzz_target;

const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const OKP: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RSA_A2: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#;
const RSA_7520: &str = r#"{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig","n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw","e":"AQAB"}"#;

fn key(json: &str, alg: Algorithm) -> VerifyingKey {
    let jwk = Jwk::from_json(json.as_bytes()).expect("constant JWK");
    VerifyingKey::from_jwk_as(&jwk, alg).expect("constant key")
}

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        KeySet::new(vec![
            key(EC, Algorithm::Es256),
            key(OKP, Algorithm::EdDsa),
            key(RSA_A2, Algorithm::Rs256),
            key(RSA_7520, Algorithm::Rs256),
            key(RSA_7520, Algorithm::Ps256),
        ])
    })
}

fuzz_target!(|input: &str| {
    let keys = keys();
    let decoded = jws::dangerous_decode_unverified(input);
    if input.len() > MAX_TOKEN_LEN {
        assert_eq!(jws::parse(input).err(), Some(JwsError::TooLarge));
        assert_eq!(decoded.err(), Some(JwsError::TooLarge));
        return;
    }
    let Ok(parsed) = jws::parse(input) else {
        return;
    };
    let alg = parsed.header().alg();
    for key in keys.keys() {
        if let Ok(parsed) = jws::parse(input) {
            let outcome = parsed.verify(key);
            if key.algorithm() != alg {
                assert_eq!(outcome.err(), Some(JwsError::AlgorithmMismatch));
            }
        }
    }
    if let Ok(verified) = parsed.verify_with(keys) {
        // Only the RFC vectors verify; what verified decodes the same without verification.
        assert_eq!(verified.header().alg(), alg);
        let (header, payload) = decoded.expect("a verified token decodes");
        assert_eq!(payload, verified.payload());
        assert_eq!(
            header.get("alg").and_then(|a| a.as_str()),
            Some(alg.as_str())
        );
    }
});
