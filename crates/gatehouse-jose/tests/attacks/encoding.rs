//! The compact serialization itself: truncation, size limits, padding, non-canonical base64,
//! whitespace, and the wrong number of segments.

use super::*;

#[test]
fn truncated_tokens_are_refused() {
    let k = keys();
    for key in [&k.es256, &k.eddsa, &k.rs256] {
        let token = sign_access_token(key, &claims()).unwrap();
        assert!(validate(&token).is_ok());
        for end in 0..token.len() {
            assert!(validate(&token[..end]).is_err(), "prefix of {end} chars");
            assert!(
                jws::parse(&token[..end])
                    .and_then(|t| t.verify(&key.verifying_key()))
                    .is_err()
            );
        }
        // Any one character removed.
        for i in 0..token.len() {
            let mut cut = token.clone();
            cut.remove(i);
            assert!(validate(&cut).is_err(), "without char {i}");
        }
    }
}

#[test]
fn over_long_tokens_are_refused() {
    let key = &keys().es256;
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(jws::parse(&long).unwrap_err(), JwsError::TooLarge);
    assert_eq!(
        jws::dangerous_decode_unverified(&long).unwrap_err(),
        JwsError::TooLarge
    );
    assert_eq!(validate(&long), Err(JwtError::Jws(JwsError::TooLarge)));

    // Properly signed tokens around the limit: the largest that fits verifies, one more payload
    // byte is refused for its size alone.
    let header = r#"{"alg":"ES256","kid":"ec-key"}"#;
    let mut last_fitting = None;
    let mut first_too_long = None;
    for len in (MAX_TOKEN_LEN * 3 / 4 - 200)..(MAX_TOKEN_LEN * 3 / 4) {
        let token = sign_raw(key, header, &vec![b'x'; len]);
        if token.len() <= MAX_TOKEN_LEN {
            last_fitting = Some(token);
        } else if first_too_long.is_none() {
            first_too_long = Some(token);
        }
    }
    let fitting = last_fitting.unwrap();
    assert!(fitting.len() > MAX_TOKEN_LEN - 4);
    assert!(verify(&fitting, &key.verifying_key()).is_ok());
    let too_long = first_too_long.unwrap();
    assert_eq!(
        verify(&too_long, &key.verifying_key()),
        Err(JwsError::TooLarge)
    );

    // A signed header beyond its own limit.
    let big_header = format!(
        r#"{{"alg":"ES256","kid":"ec-key","x":"{}"}}"#,
        "y".repeat(MAX_HEADER_LEN)
    );
    let token = sign_raw(key, &big_header, b"{}");
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert_eq!(jws::parse(&token).unwrap_err(), JwsError::TooLarge);
}

#[test]
fn padded_base64_is_refused() {
    let key = &keys().es256;
    // A 37-byte header, a 7-byte payload and a 64-byte signature each need "==" when padded.
    let header37 = r#"{"alg":"ES256","kid":"ec-key","x":12}"#;
    assert_eq!(header37.len() % 3, 1);
    let token = sign_raw(key, header37, b"{\"a\":1}");
    assert!(verify(&token, &key.verifying_key()).is_ok());
    let (h, p, s) = parts(&token);
    assert_eq!(s.len(), 86, "64 bytes: 86 chars, 88 padded");
    for padded in [
        format!("{h}==.{p}.{s}"),
        format!("{h}.{p}==.{s}"),
        format!("{h}.{p}.{s}=="),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{s}%3D%3D"),
    ] {
        assert!(verify(&padded, &key.verifying_key()).is_err(), "{padded}");
    }
    // A segment that needs no padding, with some added anyway.
    let header36 = r#"{"alg":"ES256","kid":"ec-key","x":1}"#;
    assert_eq!(header36.len() % 3, 0);
    let token = sign_raw(key, header36, b"abc");
    let (h, p, s) = parts(&token);
    assert_eq!(h.len() % 4, 0);
    for padded in [
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}==.{s}"),
        format!("{h}====.{p}.{s}"),
    ] {
        assert!(verify(&padded, &key.verifying_key()).is_err(), "{padded}");
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The same segment with its unused trailing bits set: a lenient decoder reads the same bytes.
fn non_canonical(segment: &str) -> String {
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        _ => panic!("segment has no unused bits"),
    };
    let last = segment.as_bytes()[segment.len() - 1];
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(
        value & ((1 << unused_bits) - 1),
        0,
        "canonical to begin with"
    );
    let changed = ALPHABET[value | 1] as char;
    format!("{}{changed}", &segment[..segment.len() - 1])
}

/// What a lenient decoder (ignoring unused bits) reads.
fn lenient_decode(segment: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in segment.bytes() {
        bits = (bits << 6) | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out
}

#[test]
fn non_canonical_base64_trailing_bits_are_refused() {
    let key = &keys().es256;
    // 37 header bytes, 7 payload bytes and 64 signature bytes: each last character carries 4
    // unused bits.
    let header = r#"{"alg":"ES256","kid":"ec-key","x":12}"#;
    let token = sign_raw(key, header, b"{\"a\":1}");
    let (h, p, s) = parts(&token);
    for (segment, altered) in [
        (h, non_canonical(h)),
        (p, non_canonical(p)),
        (s, non_canonical(s)),
    ] {
        assert_eq!(
            lenient_decode(&altered),
            unb64(segment),
            "same bytes to a lenient decoder"
        );
    }
    assert!(verify(&token, &key.verifying_key()).is_ok());
    assert_eq!(
        verify(
            &format!("{}.{p}.{s}", non_canonical(h)),
            &key.verifying_key()
        ),
        Err(JwsError::Malformed("header is not base64url"))
    );
    // The payload is part of the signing input as text, so the signature no longer matches.
    assert!(
        verify(
            &format!("{h}.{}.{s}", non_canonical(p)),
            &key.verifying_key()
        )
        .is_err()
    );
    assert_eq!(
        verify(
            &format!("{h}.{p}.{}", non_canonical(s)),
            &key.verifying_key()
        ),
        Err(JwsError::Malformed("signature is not base64url"))
    );
}

#[test]
fn whitespace_is_refused() {
    let key = &keys().es256;
    let token = sign_access_token(key, &claims()).unwrap();
    let dots: Vec<usize> = token.match_indices('.').map(|(i, _)| i).collect();
    let positions = [
        0,
        5,
        dots[0],
        dots[0] + 1,
        dots[0] + 7,
        dots[1],
        dots[1] + 1,
        dots[1] + 9,
        token.len(),
    ];
    for ws in [" ", "\n", "\r\n", "\t", "\u{a0}", "\u{feff}"] {
        for &at in &positions {
            let mut spaced = token.clone();
            spaced.insert_str(at, ws);
            assert!(validate(&spaced).is_err(), "{ws:?} at {at}");
        }
    }
}

#[test]
fn jwe_shaped_token_is_refused() {
    // RFC 7516 compact serialization has five segments.
    let header = b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
    let jwe = format!(
        "{header}.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ"
    );
    assert_eq!(jwe.split('.').count(), 5);
    let not_three = JwsError::Malformed("not three dot-separated segments");
    assert_eq!(jws::parse(&jwe).unwrap_err(), not_three);
    assert_eq!(
        jws::dangerous_decode_unverified(&jwe).unwrap_err(),
        not_three
    );
    assert_eq!(validate(&jwe), Err(JwtError::Jws(not_three.clone())));
    // A valid token with a segment added or removed.
    let token = sign_access_token(&keys().es256, &claims()).unwrap();
    let (h, p, s) = parts(&token);
    for shaped in [
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}"),
        format!("{h}..{p}.{s}"),
        "....".to_owned(),
        "..".to_owned(),
        ".".to_owned(),
    ] {
        assert!(jws::parse(&shaped).is_err(), "{shaped}");
    }
}
