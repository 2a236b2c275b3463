//! The example vectors of RFC 7515, RFC 7520, RFC 8037 and RFC 7638, each in a test named after
//! its section. The vectors live in `tests/vectors/` (see the README there for their sources).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_jose::jws;
use gatehouse_jose::{
    Algorithm, Jwk, JwsError, KeyError, KeySet, SigningKey, UnsupportedAlgorithm, VerifyingKey,
};
use serde_json::Value;

const RFC7515: &str = include_str!("vectors/rfc7515_appendix_a.json");
const RFC7520_4_1: &str = include_str!("vectors/rfc7520_4_1_rsa_v15_signature.json");
const RFC7520_4_2: &str = include_str!("vectors/rfc7520_4_2_rsa-pss_signature.json");
const RFC7520_4_3: &str = include_str!("vectors/rfc7520_4_3_ecdsa_signature.json");
const RFC8037: &str = include_str!("vectors/rfc8037_a4_a5_ed25519.json");
const RFC7638: &str = include_str!("vectors/rfc7638_3_1.json");

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn b64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector has no string at {pointer}"))
}

fn jwk_at(value: &Value, pointer: &str) -> Jwk {
    let member = value.pointer(pointer).unwrap();
    Jwk::from_json(member.to_string().as_bytes()).unwrap()
}

/// A JWK without its private members, as a verifier would hold it.
fn public_only(jwk: &Value) -> Jwk {
    let mut object = jwk.as_object().unwrap().clone();
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        object.remove(member);
    }
    let jwk = Jwk::from_json(Value::Object(object).to_string().as_bytes()).unwrap();
    assert!(!jwk.is_private());
    jwk
}

/// The members of an `ietf-jose/cookbook` file agree with each other, so each is exercised.
fn check_cookbook_consistency(vector: &Value) {
    let signing_input = str_at(vector, "/signing/sig-input");
    let signature = str_at(vector, "/signing/sig");
    assert_eq!(
        str_at(vector, "/output/compact"),
        format!("{signing_input}.{signature}")
    );
    let (header, payload) = signing_input.split_once('.').unwrap();
    assert_eq!(header, str_at(vector, "/signing/protected_b64u"));
    let decoded: Value = serde_json::from_slice(&b64(header)).unwrap();
    assert_eq!(&decoded, vector.pointer("/signing/protected").unwrap());
    assert_eq!(b64(payload), str_at(vector, "/input/payload").as_bytes());
}

fn rsa_public(jwk: &Value) -> rsa::RsaPublicKey {
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&b64(str_at(jwk, "/n"))),
        rsa::BigUint::from_bytes_be(&b64(str_at(jwk, "/e"))),
    )
    .unwrap()
}

#[test]
fn rfc7515_appendix_a_2_rs256_verifies() {
    let vectors = json(RFC7515);
    let jwk = jwk_at(&vectors, "/A.2/jwk");
    // The A.2 JWK has no "alg"; an RSA key serves RS256 and PS256 alike, so the crate will not
    // guess from it (RFC 8725 §3.1) and the caller names the algorithm.
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap_err(),
        KeyError::AmbiguousAlgorithm
    );
    let key = VerifyingKey::from_jwk_as(&jwk, Algorithm::Rs256).unwrap();
    let token = str_at(&vectors, "/A.2/compact");

    let verified = jws::parse(token).unwrap().verify(&key).unwrap();
    assert_eq!(verified.header().alg(), Algorithm::Rs256);
    assert_eq!(verified.payload(), str_at(&vectors, "/payload").as_bytes());

    // The same through a key set: the token has no "kid", so the key is chosen by algorithm.
    let keys = KeySet::new(vec![key]);
    let verified = jws::parse(token).unwrap().verify_with(&keys).unwrap();
    assert_eq!(verified.payload(), str_at(&vectors, "/payload").as_bytes());

    // The same RSA key declared for PS256 does not verify this RS256 token.
    let ps256 = VerifyingKey::from_jwk_as(&jwk, Algorithm::Ps256).unwrap();
    assert_eq!(
        jws::parse(token).unwrap().verify(&ps256).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
}

#[test]
fn rfc7515_appendix_a_3_es256_verifies() {
    let vectors = json(RFC7515);
    let token = str_at(&vectors, "/A.3/compact");
    let public = public_only(vectors.pointer("/A.3/jwk").unwrap());
    // An EC key without "alg" has exactly one algorithm here: ES256.
    let key = VerifyingKey::from_jwk(&public).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Es256);
    assert_eq!(
        VerifyingKey::from_jwk_as(&public, Algorithm::Es256)
            .unwrap()
            .kid(),
        key.kid()
    );

    let verified = jws::parse(token).unwrap().verify(&key).unwrap();
    assert_eq!(verified.header().alg(), Algorithm::Es256);
    assert_eq!(verified.payload(), str_at(&vectors, "/payload").as_bytes());

    // The private key of A.3.1 belongs to the public one, and its verifying key verifies too.
    let signing = SigningKey::from_jwk(&jwk_at(&vectors, "/A.3/jwk")).unwrap();
    assert_eq!(signing.verifying_key().thumbprint(), key.thumbprint());
    jws::parse(token)
        .unwrap()
        .verify(&signing.verifying_key())
        .unwrap();
}

#[test]
fn rfc7515_appendix_a_5_unsecured_jws_is_refused() {
    let vectors = json(RFC7515);
    let token = str_at(&vectors, "/A.5/compact");
    // There is no `none` algorithm in this crate: the token is refused while parsing, before any
    // key is looked at (RFC 8725 §3.1).
    assert_eq!(
        jws::parse(token).unwrap_err(),
        JwsError::UnsupportedAlgorithm(UnsupportedAlgorithm("none".into()))
    );
    // Even presented to a key set holding the A.2 and A.3 keys.
    let rs256 = VerifyingKey::from_jwk_as(&jwk_at(&vectors, "/A.2/jwk"), Algorithm::Rs256).unwrap();
    let es256 = VerifyingKey::from_jwk(&public_only(vectors.pointer("/A.3/jwk").unwrap())).unwrap();
    let keys = KeySet::new(vec![rs256, es256]);
    assert!(
        jws::parse(token)
            .and_then(|t| t.verify_with(&keys))
            .is_err()
    );
    // The display-only decoder shows what the token says, so an operator can see why.
    let (header, payload) = jws::dangerous_decode_unverified(token).unwrap();
    assert_eq!(header.get("alg"), Some(&Value::String("none".into())));
    assert_eq!(payload, str_at(&vectors, "/payload").as_bytes());
}

#[test]
fn rfc8037_appendix_a_4_ed25519_signature_equals_rfc() {
    let vector = json(RFC8037);
    check_cookbook_consistency(&vector);
    let key = SigningKey::from_jwk(&jwk_at(&vector, "/input/key")).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDsa);
    // Ed25519 is deterministic (RFC 8032 §5.1.6): our signature must be the RFC's, byte for byte.
    let signature = key
        .sign(str_at(&vector, "/signing/sig-input").as_bytes())
        .unwrap();
    assert_eq!(
        Base64UrlUnpadded::encode_string(&signature),
        str_at(&vector, "/signing/sig")
    );
}

#[test]
fn rfc8037_appendix_a_5_ed25519_verifies() {
    let vector = json(RFC8037);
    let key = VerifyingKey::from_jwk(&public_only(vector.pointer("/input/key").unwrap())).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDsa);
    let verified = jws::parse(str_at(&vector, "/output/compact"))
        .unwrap()
        .verify(&key)
        .unwrap();
    assert_eq!(verified.payload(), b"Example of Ed25519 signing");
}

#[test]
fn rfc8037_appendix_a_3_thumbprint() {
    let vector = json(RFC8037);
    let public = public_only(vector.pointer("/input/key").unwrap());
    assert_eq!(
        public.thumbprint().unwrap(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    // Without a "kid", the key's id is that thumbprint.
    let key = VerifyingKey::from_jwk(&public).unwrap();
    assert_eq!(
        key.kid(),
        Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    );
}

#[test]
fn rfc7520_section_4_1_rs256_signature_equals_rfc() {
    let vector = json(RFC7520_4_1);
    check_cookbook_consistency(&vector);
    let private = jwk_at(&vector, "/input/key");
    // The RFC 7520 key has no "alg": the algorithm is named.
    assert_eq!(
        SigningKey::from_jwk(&private).unwrap_err(),
        KeyError::AmbiguousAlgorithm
    );
    let key = SigningKey::from_jwk_as(&private, Algorithm::Rs256).unwrap();
    assert_eq!(key.kid(), "bilbo.baggins@hobbiton.example");

    // RSASSA-PKCS1-v1_5 is deterministic: the signature over the RFC's signing input is the RFC's.
    let signature = key
        .sign(str_at(&vector, "/signing/sig-input").as_bytes())
        .unwrap();
    assert_eq!(
        Base64UrlUnpadded::encode_string(&signature),
        str_at(&vector, "/signing/sig")
    );
    // And since our header is {"alg","kid"} in that order, the whole token is the RFC's.
    let token = jws::sign(&key, None, str_at(&vector, "/input/payload").as_bytes()).unwrap();
    assert_eq!(token, str_at(&vector, "/output/compact"));

    let public = VerifyingKey::from_jwk_as(
        &public_only(vector.pointer("/input/key").unwrap()),
        Algorithm::Rs256,
    )
    .unwrap();
    let keys = KeySet::new(vec![public]);
    let verified = jws::parse(&token).unwrap().verify_with(&keys).unwrap();
    assert_eq!(
        verified.header().kid(),
        Some("bilbo.baggins@hobbiton.example")
    );
    assert_eq!(
        verified.payload(),
        str_at(&vector, "/input/payload").as_bytes()
    );
}

#[test]
fn rfc7520_section_4_2_ps384_is_refused_as_unsupported() {
    // RFC 7520 §4.2 signs with PS384 (RSASSA-PSS with SHA-384), not PS256: this crate supports
    // PS256 only, so the token must be refused. To show the vector itself is exact, it is first
    // verified with the `rsa` crate directly.
    let vector = json(RFC7520_4_2);
    check_cookbook_consistency(&vector);
    assert_eq!(str_at(&vector, "/input/alg"), "PS384");
    {
        use rsa::signature::Verifier as _;
        let raw =
            rsa::pss::VerifyingKey::<rsa::sha2::Sha384>::new(rsa_public(&vector["input"]["key"]));
        let signature =
            rsa::pss::Signature::try_from(b64(str_at(&vector, "/signing/sig")).as_slice()).unwrap();
        raw.verify(str_at(&vector, "/signing/sig-input").as_bytes(), &signature)
            .unwrap();
    }

    let token = str_at(&vector, "/output/compact");
    assert_eq!(
        jws::parse(token).unwrap_err(),
        JwsError::UnsupportedAlgorithm(UnsupportedAlgorithm("PS384".into()))
    );
    // A JWK that declares PS384 is refused too.
    let mut declared = vector["input"]["key"].clone();
    declared["alg"] = "PS384".into();
    let declared = public_only(&declared);
    assert_eq!(
        VerifyingKey::from_jwk(&declared).unwrap_err(),
        KeyError::UnsupportedAlgorithm(UnsupportedAlgorithm("PS384".into()))
    );
}

#[test]
fn rfc7520_section_4_2_key_signs_and_verifies_ps256() {
    // The PS256 counterpart of §4.2 with the same RFC key. PSS is randomized, so there is no
    // fixed expected signature: ours must verify with the `rsa` crate's PS256 (salt = 32, RFC 7518
    // §3.5) and with this crate's verifying key, and not with an RS256 key.
    let vector = json(RFC7520_4_2);
    let key = SigningKey::from_jwk_as(&jwk_at(&vector, "/input/key"), Algorithm::Ps256).unwrap();
    let payload = str_at(&vector, "/input/payload").as_bytes();
    let token = jws::sign(&key, None, payload).unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    {
        use rsa::signature::Verifier as _;
        let raw =
            rsa::pss::VerifyingKey::<rsa::sha2::Sha256>::new(rsa_public(&vector["input"]["key"]));
        let signature = rsa::pss::Signature::try_from(b64(signature).as_slice()).unwrap();
        raw.verify(signing_input.as_bytes(), &signature).unwrap();
    }
    let public = public_only(vector.pointer("/input/key").unwrap());
    let ps256 = VerifyingKey::from_jwk_as(&public, Algorithm::Ps256).unwrap();
    let verified = jws::parse(&token).unwrap().verify(&ps256).unwrap();
    assert_eq!(verified.payload(), payload);
    let rs256 = VerifyingKey::from_jwk_as(&public, Algorithm::Rs256).unwrap();
    assert_eq!(
        jws::parse(&token).unwrap().verify(&rs256).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
}

#[test]
fn rfc7520_section_4_3_es512_is_refused_as_unsupported() {
    // RFC 7520 §4.3 signs with ES512 on P-521. This crate supports ES256 only among the ECDSA
    // algorithms, so both the token and the key are refused: unsupported, not "invalid".
    let vector = json(RFC7520_4_3);
    check_cookbook_consistency(&vector);
    assert_eq!(
        jws::parse(str_at(&vector, "/output/compact")).unwrap_err(),
        JwsError::UnsupportedAlgorithm(UnsupportedAlgorithm("ES512".into()))
    );
    let public = public_only(vector.pointer("/input/key").unwrap());
    assert_eq!(
        VerifyingKey::from_jwk(&public).unwrap_err(),
        KeyError::UnsupportedCurve("P-521".into())
    );
    assert_eq!(
        VerifyingKey::from_jwk_as(&public, Algorithm::Es256).unwrap_err(),
        KeyError::UnsupportedCurve("P-521".into())
    );
    assert_eq!(
        SigningKey::from_jwk(&jwk_at(&vector, "/input/key")).unwrap_err(),
        KeyError::UnsupportedCurve("P-521".into())
    );
    // The RFC 7638 thumbprint is defined for any EC key, P-521 included.
    assert!(public.thumbprint().is_ok());
}

#[test]
fn rfc7638_section_3_1_thumbprint() {
    let vector = json(RFC7638);
    let expected = str_at(&vector, "/thumbprint");
    assert_eq!(expected, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    let jwk = jwk_at(&vector, "/jwk");
    assert_eq!(jwk.thumbprint().unwrap(), expected);

    // The JWK says RS256 and has a "kid", which the key keeps; its own thumbprint is the RFC's.
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Rs256);
    assert_eq!(key.kid(), Some("2011-04-29"));
    assert_eq!(key.thumbprint(), expected);

    // Members outside the required ones (§3.2) do not change the thumbprint.
    let mut decorated = vector["jwk"].clone();
    decorated["use"] = "sig".into();
    decorated["x5t#S256"] = "ignored".into();
    let decorated = Jwk::from_json(decorated.to_string().as_bytes()).unwrap();
    assert_eq!(decorated.thumbprint().unwrap(), expected);
    // Without a "kid", the thumbprint becomes the key id.
    let mut bare = vector["jwk"].clone();
    bare.as_object_mut().unwrap().remove("kid");
    let bare = Jwk::from_json(bare.to_string().as_bytes()).unwrap();
    assert_eq!(VerifyingKey::from_jwk(&bare).unwrap().kid(), Some(expected));
}
