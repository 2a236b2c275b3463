//! Signature encodings and values: DER instead of `r‖s`, high S, non-canonical Ed25519 S, zero
//! and out-of-range values.

use super::*;

/// DER INTEGER of a big-endian unsigned value.
fn der_integer(value: &[u8]) -> Vec<u8> {
    let start = value
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(value.len() - 1);
    let mut body = value[start..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn es256_signature_in_der_form_is_refused() {
    let key = &keys().es256;
    let token = sign_access_token(key, &claims()).unwrap();
    let (header, payload, signature) = parts(&token);
    let raw = unb64(signature);
    let mut der_body = der_integer(&raw[..32]);
    der_body.extend(der_integer(&raw[32..]));
    let mut der = vec![0x30, der_body.len() as u8];
    der.extend(der_body);
    assert_ne!(der.len(), 64);

    let message = format!("{header}.{payload}");
    assert!(key.verifying_key().verify(message.as_bytes(), &raw).is_ok());
    assert!(
        key.verifying_key()
            .verify(message.as_bytes(), &der)
            .is_err()
    );
    let der_token = with_signature(&token, &der);
    assert_eq!(
        validate(&der_token),
        Err(JwtError::Jws(JwsError::InvalidSignature))
    );
}

/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - b` for big-endian 256-bit values, `a >= b`.
fn sub_be(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

#[test]
fn ecdsa_high_s_is_accepted_like_plain_ecdsa() {
    // (r, s) and (r, n - s) are both valid ECDSA signatures. RFC 7518 §3.4 does not require low
    // S, Wycheproof's P-256 vectors mark high-S signatures valid (tests/wycheproof.rs passes all
    // of them), and p256 does not normalize. So we accept both: a token's signature is therefore
    // malleable, and nothing may key on the token string (revocation and replay keys use `jti`).
    let key = &keys().es256;
    let token = sign_access_token(key, &claims()).unwrap();
    let raw = unb64(parts(&token).2);
    let mut flipped = raw[..32].to_vec();
    flipped.extend(sub_be(&P256_N, &raw[32..]));
    assert_ne!(flipped, raw);
    let malleated = with_signature(&token, &flipped);
    assert_ne!(malleated, token);
    assert!(validate(&malleated).is_ok());
}

/// The order of the Ed25519 group, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

#[test]
fn ed25519_non_canonical_s_is_refused() {
    // RFC 8032 §5.1.7: "If ... S is not in the range 0 <= S < L, the signature is rejected".
    // S + L is the same scalar mod L: a lenient verifier accepts it and the signature becomes
    // malleable.
    let key = &keys().eddsa;
    let token = sign_access_token(key, &claims()).unwrap();
    let raw = unb64(parts(&token).2);
    let mut s_plus_l = raw.clone();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(raw[32 + i]) + u16::from(ED25519_L[i]) + carry;
        s_plus_l[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L < 2^256 since S < L < 2^253");
    let mut s_is_l = raw.clone();
    s_is_l[32..].copy_from_slice(&ED25519_L);
    let mut high_bit = raw.clone();
    high_bit[63] |= 0x80;
    assert!(validate(&token).is_ok());
    for forged in [s_plus_l, s_is_l, high_bit] {
        assert_eq!(
            validate(&with_signature(&token, &forged)),
            Err(JwtError::Jws(JwsError::InvalidSignature))
        );
    }
}

#[test]
fn zero_and_out_of_range_signatures_are_refused() {
    let k = keys();
    let refused = |key: &SigningKey, signature: &[u8]| {
        let token = sign_access_token(key, &claims()).unwrap();
        assert_eq!(
            validate(&with_signature(&token, signature)),
            Err(JwtError::Jws(JwsError::InvalidSignature)),
            "{:?} with {} bytes",
            key.algorithm(),
            signature.len()
        );
    };

    // ES256: r = 0 and/or s = 0, and r or s equal to the group order (out of range).
    let token = sign_access_token(&k.es256, &claims()).unwrap();
    let raw = unb64(parts(&token).2);
    let (r, s) = raw.split_at(32);
    let zero = [0u8; 32];
    for (r, s) in [
        (&zero[..], &zero[..]),
        (&zero[..], s),
        (r, &zero[..]),
        (&P256_N[..], s),
        (r, &P256_N[..]),
    ] {
        refused(&k.es256, &[r, s].concat());
    }
    refused(&k.es256, &[]);

    // Ed25519: all zero, and a signature that is all zero except for S.
    refused(&k.eddsa, &[0u8; 64]);
    refused(&k.eddsa, &[]);

    // RSA: 0, 1, n - 1, n and all-ones as signature values.
    let n = unb64(k.rs256.verifying_key().to_jwk().n.as_deref().unwrap());
    assert_eq!(n.len(), 256);
    let mut one = [0u8; 256];
    one[255] = 1;
    let mut n_minus_1 = n.clone();
    n_minus_1[255] -= 1;
    for key in [&k.rs256, &k.ps256] {
        for signature in [&[0u8; 256][..], &one, &n_minus_1, &n, &[0xff; 256], &[]] {
            refused(key, signature);
        }
    }

    // The identity point as Ed25519 key with R = identity and S = 0 "verifies" every message
    // under cofactored, non-strict verification; strict verification refuses the small-order
    // key and R.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let jwk = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        b64(&identity)
    );
    if let Ok(weak) = VerifyingKey::from_jwk(&Jwk::from_json(jwk.as_bytes()).unwrap()) {
        let mut signature = [0u8; 64];
        signature[0] = 1;
        assert!(weak.verify(b"anything", &signature).is_err());
        assert!(weak.verify(b"anything", &[0u8; 64]).is_err());
    }
}
