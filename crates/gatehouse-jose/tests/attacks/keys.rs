//! Key sets and key import: private members in a set to publish, duplicate members inside a
//! set's keys, RSA keys below 2048 bits.

use super::*;

#[test]
fn jwks_with_a_private_member_is_refused_for_publishing() {
    let k = keys();
    let public = k.es256.verifying_key().to_jwk().to_json();
    let private = k.es256.to_jwk().to_json();
    let jwks = format!(r#"{{"keys":[{public},{private}]}}"#);
    assert_eq!(
        PublicJwks::from_jwks(Jwks::from_json(jwks.as_bytes()).unwrap()).unwrap_err(),
        KeyError::PrivateMembers
    );
    let rsa_private = k.rs256.to_jwk().to_json();
    let jwks = format!(r#"{{"keys":[{rsa_private}]}}"#);
    assert_eq!(
        PublicJwks::from_jwks(Jwks::from_json(jwks.as_bytes()).unwrap()).unwrap_err(),
        KeyError::PrivateMembers
    );
    // Each private member alone is enough, whatever its value.
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut jwk: serde_json::Value = serde_json::from_str(&public).unwrap();
        jwk[member] = if member == "oth" {
            serde_json::json!([{"r": "AQAB", "d": "AQAB", "t": "AQAB"}])
        } else {
            "AQAB".into()
        };
        let jwks = format!(r#"{{"keys":[{jwk}]}}"#);
        assert_eq!(
            PublicJwks::from_jwks(Jwks::from_json(jwks.as_bytes()).unwrap()).unwrap_err(),
            KeyError::PrivateMembers,
            "{member}"
        );
    }
    // A symmetric key is private by nature.
    let oct = r#"{"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;
    assert_eq!(
        PublicJwks::from_jwks(Jwks::from_json(oct.as_bytes()).unwrap()).unwrap_err(),
        KeyError::PrivateMembers
    );
    // The public set is fine, and a set built from keys never has a private member.
    let jwks = format!(r#"{{"keys":[{public}]}}"#);
    assert!(PublicJwks::from_jwks(Jwks::from_json(jwks.as_bytes()).unwrap()).is_ok());
    let verifying: Vec<VerifyingKey> = [&k.es256, &k.eddsa, &k.rs256, &k.ps256]
        .into_iter()
        .map(SigningKey::verifying_key)
        .collect();
    let published = PublicJwks::from_keys(&verifying);
    assert!(published.keys().iter().all(|jwk| !jwk.is_private()));
    let text = published.to_json();
    for member in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""] {
        assert!(!text.contains(member), "{member} in {text}");
    }
}

#[test]
fn rsa_key_below_2048_bits_is_refused_by_every_import() {
    // RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used". A 2047-bit modulus
    // still takes 256 bytes, so a check on the byte length would let it through.
    let spki = include_str!("../vectors/rsa_2047_bits_spki.pem");
    // The private key is generated here rather than committed.
    let pkcs8 = {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, 2047).unwrap();
        key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap()
    };
    let pkcs8 = pkcs8.as_str();
    for alg in [Algorithm::Rs256, Algorithm::Ps256] {
        assert_eq!(
            VerifyingKey::from_spki_pem(spki, alg).unwrap_err(),
            KeyError::RsaKeyTooSmall(2047)
        );
        assert_eq!(
            SigningKey::from_pkcs8_pem(pkcs8, alg).unwrap_err(),
            KeyError::RsaKeyTooSmall(2047)
        );
    }
    // The same modulus as a JWK.
    let body: String = spki.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = Base64::decode_vec(&body).unwrap();
    // SPKI of RSA: ... 02 82 01 00 <256 bytes of n, first byte non-zero for 2047 bits> 02 03 01 00 01.
    let start = der
        .windows(4)
        .position(|w| w == [0x02, 0x82, 0x01, 0x00])
        .unwrap()
        + 4;
    let n = &der[start..start + 256];
    assert!(n[0] != 0 && n[0] < 0x80, "2047 bits");
    let jwk = format!(
        r#"{{"kty":"RSA","alg":"RS256","n":"{}","e":"AQAB"}}"#,
        b64(n)
    );
    assert_eq!(
        VerifyingKey::from_jwk(&Jwk::from_json(jwk.as_bytes()).unwrap()).unwrap_err(),
        KeyError::RsaKeyTooSmall(2047)
    );
}

#[test]
fn duplicate_members_inside_a_jwks_key_are_refused() {
    // RFC 7517 §4: "member names within a JWK MUST be unique; JWK parsers MUST either reject
    // JWKs with duplicate member names or use a JSON parser that returns only the lexically last
    // duplicate member name". Two parsers that pick different duplicates see different keys, so
    // this crate refuses, in a lone JWK and inside a set alike.
    let k = keys();
    let public = k.es256.verifying_key().to_jwk().to_json();
    let other = k.eddsa.verifying_key().to_jwk().to_json();
    let doubled = public.replacen('{', r#"{"kty":"OKP","#, 1);
    let doubled_x = public.replacen(
        '{',
        r#"{"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","#,
        1,
    );
    for jwk in [&doubled, &doubled_x] {
        assert!(Jwk::from_json(jwk.as_bytes()).is_err(), "{jwk}");
        assert!(Jwks::from_jwk_or_jwks(jwk.as_bytes()).is_err(), "{jwk}");
        for set in [
            format!(r#"{{"keys":[{jwk}]}}"#),
            format!(r#"{{"keys":[{other},{jwk}]}}"#),
        ] {
            assert!(Jwks::from_json(set.as_bytes()).is_err(), "{set}");
            assert!(Jwks::from_jwk_or_jwks(set.as_bytes()).is_err(), "{set}");
        }
    }
    // Duplicates in the set's own members too.
    let set = format!(r#"{{"keys":[{other}],"keys":[{public}]}}"#);
    assert!(Jwks::from_json(set.as_bytes()).is_err());
    // And without duplicates all is well.
    let set = format!(r#"{{"keys":[{other},{public}]}}"#);
    assert_eq!(Jwks::from_json(set.as_bytes()).unwrap().keys.len(), 2);
}
