//! Project Wycheproof signature vectors, read at test time from `tests/vectors/wycheproof/`
//! (unmodified files, with their licence and source in the README there). Every test of every group is run through
//! [`VerifyingKey::verify`] with a key built from the group's JWK (or, without one, its SPKI PEM):
//! `valid` must verify, `invalid` must not, and for `acceptable` the way we go is recorded.
//!
//! Which way we go on `acceptable` vectors, and what cannot be expressed:
//!
//! | file | acceptable | we | why |
//! |---|---|---|---|
//! | rsa_signature_2048_sha256_test.json | tcId 8, `MissingNull` (DigestInfo without the NULL parameters) | refuse | RFC 8017 §9.2 fixes one encoding; ring (decision 0016, as the `rsa` crate before it) compares the exact DER prefix |
//!
//! | file | vectors that cannot be expressed | reason |
//! |---|---|---|
//! | (all five files) | none | every group key is P-256, Ed25519, or RSA 2048 bits with e = 65537 or e = 3, all accepted by the API |
//!
//! `rsa_pkcs1_2048_test.json` holds RSAES-PKCS1-v1_5 *decryption* vectors, not signatures: this
//! crate does not decrypt, so there is nothing to verify. Its 2048-bit private keys are still used
//! to check private-key import (JWK and PKCS#8 agree, the keys sign and verify), and its JWKs,
//! which declare `"alg": "RSA1_5"`, must be refused as signing or verifying keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use gatehouse_jose::{Algorithm, Jwk, KeyError, SigningKey, UnsupportedAlgorithm, VerifyingKey};
use serde_json::Value;

fn wycheproof_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/wycheproof")
}

fn load(file: &str) -> Value {
    let path = wycheproof_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn str_of<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member]
        .as_str()
        .unwrap_or_else(|| panic!("no string member {member}"))
}

/// What happened to the vectors of one file.
#[derive(Default)]
struct Tally {
    total: usize,
    passed: usize,
    acceptable_accepted: Vec<u64>,
    acceptable_refused: Vec<u64>,
    not_expressible: Vec<(u64, String)>,
    failures: Vec<String>,
}

impl Tally {
    fn summary(&self, file: &str) -> String {
        format!(
            "{file}: {} vectors, {} passed, {} acceptable ({} accepted {:?}, {} refused {:?}), {} not expressible",
            self.total,
            self.passed,
            self.acceptable_accepted.len() + self.acceptable_refused.len(),
            self.acceptable_accepted.len(),
            self.acceptable_accepted,
            self.acceptable_refused.len(),
            self.acceptable_refused,
            self.not_expressible.len(),
        )
    }
}

/// Runs every test of `file`; `key_of` builds the verifying key of a group.
fn run(file: &str, key_of: impl Fn(&Value) -> Result<VerifyingKey, KeyError>) -> Tally {
    let document = load(file);
    let mut tally = Tally::default();
    for group in document["testGroups"].as_array().unwrap() {
        let key = key_of(group);
        for test in group["tests"].as_array().unwrap() {
            tally.total += 1;
            let id = test["tcId"].as_u64().unwrap();
            let key = match &key {
                Ok(key) => key,
                Err(error) => {
                    tally.not_expressible.push((id, error.to_string()));
                    continue;
                }
            };
            let outcome = key.verify(&hex(str_of(test, "msg")), &hex(str_of(test, "sig")));
            let comment = str_of(test, "comment");
            match (str_of(test, "result"), outcome.is_ok()) {
                ("valid", true) | ("invalid", false) => tally.passed += 1,
                ("acceptable", true) => tally.acceptable_accepted.push(id),
                ("acceptable", false) => tally.acceptable_refused.push(id),
                (expected, got) => tally.failures.push(format!(
                    "tcId {id} ({comment}): expected {expected}, verify returned ok={got}"
                )),
            }
        }
    }
    assert_eq!(
        tally.total as u64,
        document["numberOfTests"].as_u64().unwrap(),
        "{file}: every test of the file was seen"
    );
    println!("{}", tally.summary(file));
    for (id, reason) in &tally.not_expressible {
        println!("  not expressible: tcId {id}: {reason}");
    }
    assert!(
        tally.failures.is_empty(),
        "{file}: {} vectors disagree:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    tally
}

fn jwk_of(group: &Value, member: &str) -> Option<Jwk> {
    group
        .get(member)
        .map(|jwk| Jwk::from_json(jwk.to_string().as_bytes()).unwrap())
}

/// The group's key from its JWK when it has one, else from its SPKI PEM. When it has both, they
/// must give the same key.
fn key_from_group(
    group: &Value,
    jwk_member: &str,
    alg: Algorithm,
) -> Result<VerifyingKey, KeyError> {
    let from_pem = VerifyingKey::from_spki_pem(str_of(group, "publicKeyPem"), alg);
    match jwk_of(group, jwk_member) {
        Some(jwk) => {
            let from_jwk = VerifyingKey::from_jwk_as(&jwk, alg)?;
            assert_eq!(
                from_jwk.thumbprint(),
                from_pem.as_ref().map(VerifyingKey::thumbprint).unwrap(),
                "JWK and SPKI of one group are one key"
            );
            Ok(from_jwk)
        }
        None => from_pem,
    }
}

#[test]
fn wycheproof_ecdsa_p256_p1363() {
    let file = "ecdsa_secp256r1_sha256_p1363_test.json";
    let tally = run(file, |group| {
        assert_eq!(str_of(group, "type"), "EcdsaP1363Verify");
        assert_eq!(str_of(group, "sha"), "SHA-256");
        key_from_group(group, "publicKeyJwk", Algorithm::Es256)
    });
    // 262 = 173 valid + 89 invalid, all expressed. The valid ones include signatures with a high
    // `s`: plain ECDSA (and RFC 7518 §3.4) accepts both `s` and `n - s`, and so do we.
    assert_eq!(tally.passed, 262);
    assert!(tally.not_expressible.is_empty());
}

#[test]
fn wycheproof_ed25519() {
    let file = "ed25519_test.json";
    let tally = run(file, |group| {
        assert_eq!(str_of(group, "type"), "EddsaVerify");
        key_from_group(group, "publicKeyJwk", Algorithm::EdDsa)
    });
    // 151 = 88 valid + 63 invalid (among them non-canonical S, which strict verification refuses).
    assert_eq!(tally.passed, 151);
    assert!(tally.not_expressible.is_empty());
}

#[test]
fn wycheproof_rsa_pkcs1_2048_sha256_signature() {
    let file = "rsa_signature_2048_sha256_test.json";
    let tally = run(file, |group| {
        assert_eq!(str_of(group, "type"), "RsassaPkcs1Verify");
        assert_eq!(str_of(group, "sha"), "SHA-256");
        // The group's JWK says "alg": "RS256", so `from_jwk` needs no hint; check it agrees.
        let jwk = jwk_of(group, "keyJwk").unwrap();
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).unwrap().algorithm(),
            Algorithm::Rs256
        );
        key_from_group(group, "keyJwk", Algorithm::Rs256)
    });
    // 259 = 9 valid + 249 invalid + 1 acceptable (tcId 8, missing NULL), which we refuse.
    assert_eq!(tally.passed, 258);
    assert_eq!(tally.acceptable_refused, [8]);
    assert!(tally.acceptable_accepted.is_empty());
    assert!(tally.not_expressible.is_empty());
}

#[test]
fn wycheproof_rsa_pss_2048_sha256_mgf1_32() {
    let file = "rsa_pss_2048_sha256_mgf1_32_test.json";
    let tally = run(file, |group| {
        assert_eq!(str_of(group, "type"), "RsassaPssVerify");
        // Exactly PS256 as RFC 7518 §3.5 defines it.
        assert_eq!(str_of(group, "sha"), "SHA-256");
        assert_eq!(str_of(group, "mgf"), "MGF1");
        assert_eq!(str_of(group, "mgfSha"), "SHA-256");
        assert_eq!(group["sLen"].as_u64(), Some(32));
        key_from_group(group, "publicKeyJwk", Algorithm::Ps256)
    });
    // 108 = 63 valid + 45 invalid.
    assert_eq!(tally.passed, 108);
    assert!(tally.not_expressible.is_empty());
}

#[test]
fn wycheproof_rsa_pkcs1_2048_is_decryption_not_signatures() {
    let file = "rsa_pkcs1_2048_test.json";
    let document = load(file);
    // Not signature vectors: RSAES-PKCS1-v1_5 decryption. Nothing here to verify.
    assert_eq!(str_of(&document, "algorithm"), "RSAES-PKCS1-v1_5");
    assert_eq!(
        str_of(&document, "schema"),
        "rsaes_pkcs1_decrypt_schema_v1.json"
    );
    let groups = document["testGroups"].as_array().unwrap();
    let mut keys = BTreeSet::new();
    for group in groups {
        assert_eq!(str_of(group, "type"), "RsaesPkcs1Decrypt");
        let declared = &group["privateKeyJwk"];
        assert_eq!(str_of(declared, "alg"), "RSA1_5");
        // A key declared for RSA1_5 encryption is neither a signing nor a verifying key.
        let jwk = Jwk::from_json(declared.to_string().as_bytes()).unwrap();
        let refused = KeyError::UnsupportedAlgorithm(UnsupportedAlgorithm("RSA1_5".into()));
        assert_eq!(SigningKey::from_jwk(&jwk).unwrap_err(), refused);
        assert_eq!(
            SigningKey::from_jwk_as(&jwk, Algorithm::Rs256).unwrap_err(),
            refused
        );
        assert_eq!(VerifyingKey::from_jwk(&jwk).unwrap_err(), refused);
        keys.insert(str_of(group, "privateKeyPem").to_owned());
    }
    // Each distinct key imports the same through PKCS#8 and through the
    // JWK with its "alg" removed, and signs what it verifies.
    let mut checked = 0;
    for group in groups {
        let pem = str_of(group, "privateKeyPem");
        if !keys.remove(pem) {
            continue;
        }
        let from_pem = SigningKey::from_pkcs8_pem(pem, Algorithm::Rs256).unwrap();
        let mut declared = group["privateKeyJwk"].clone();
        declared.as_object_mut().unwrap().remove("alg");
        let jwk = Jwk::from_json(declared.to_string().as_bytes()).unwrap();
        let from_jwk = SigningKey::from_jwk_as(&jwk, Algorithm::Rs256).unwrap();
        assert_eq!(
            from_pem.verifying_key().thumbprint(),
            from_jwk.verifying_key().thumbprint()
        );
        let signature = from_jwk.sign(b"wycheproof").unwrap();
        from_pem
            .verifying_key()
            .verify(b"wycheproof", &signature)
            .unwrap();
        checked += 1;
    }
    println!(
        "{file}: RSAES-PKCS1-v1_5 decryption vectors, not signatures: {} groups, {} distinct keys checked for import only, 0 vectors verified",
        groups.len(),
        checked
    );
    assert!(checked >= 1);
}
