//! One test per MUST that building and parsing `WWW-Authenticate: Bearer` enforce.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_resource_metadata::{BearerChallenge, ChallengeError, parse_challenges};
use gatehouse_types::{ErrorCode, ScopeSet};

#[test]
fn rfc6750_section_3_bearer_must_be_followed_by_auth_params() {
    assert_eq!(
        BearerChallenge::builder().build(),
        Err(ChallengeError::NoParams)
    );
    // Read leniently: a bare `Bearer` is common and unambiguous.
    let bare = BearerChallenge::parse("Bearer").unwrap();
    assert_eq!(bare.realm(), None);
    assert_eq!(bare.params().count(), 0);
    assert_eq!(bare.to_header_value(), "Bearer");
}

#[test]
fn rfc6750_section_3_bearer_uses_auth_params_not_token68() {
    assert_eq!(
        BearerChallenge::parse("Bearer abc=="),
        Err(ChallengeError::Token68NotAllowed)
    );
}

#[test]
fn rfc6750_section_3_realm_must_not_appear_more_than_once() {
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer realm="a", realm="b""#),
        Err(ChallengeError::DuplicateParam { name, .. }) if name == "realm"
    ));
}

#[test]
fn rfc6750_section_3_scope_must_not_appear_more_than_once() {
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer scope="a", SCOPE="b""#),
        Err(ChallengeError::DuplicateParam { .. })
    ));
}

#[test]
fn rfc9110_section_11_2_each_parameter_name_only_once_per_challenge() {
    assert!(matches!(
        parse_challenges(r#"Newauth x=1, y=2, X=3"#),
        Err(ChallengeError::DuplicateParam { name, .. }) if name == "X"
    ));
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer max_age=1, max_age=2"#),
        Err(ChallengeError::DuplicateParam { .. })
    ));
}

#[test]
fn rfc6750_section_3_scope_values_use_scope_token_characters() {
    // A backslash-escaped quote is a `"` inside the scope: outside NQCHAR.
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer scope="a\"b""#),
        Err(ChallengeError::InvalidScope(_))
    ));
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer scope="a  b""#),
        Err(ChallengeError::InvalidScope(_))
    ));
}

#[test]
fn rfc6750_section_3_error_characters() {
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer error="bad\\code""#),
        Err(ChallengeError::InvalidErrorCode(_))
    ));
    // Unknown codes within the syntax are kept.
    let challenge = BearerChallenge::parse(r#"Bearer error="x_vendor_code""#).unwrap();
    assert!(!challenge.error().unwrap().is_known());
}

#[test]
fn rfc6750_section_3_error_description_characters() {
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer error_description="say \"hi\"""#),
        Err(ChallengeError::InvalidErrorDescription(_))
    ));
    assert!(matches!(
        BearerChallenge::parse("Bearer error_description=\"caf\u{e9}\""),
        Err(ChallengeError::InvalidErrorDescription(_))
    ));
}

#[test]
fn rfc6750_section_3_error_uri_must_be_a_uri_reference() {
    assert_eq!(
        BearerChallenge::parse(r#"Bearer error_uri="https://example.com/a b""#),
        Err(ChallengeError::InvalidErrorUri)
    );
    assert_eq!(
        BearerChallenge::builder()
            .error_uri("https://example.com/\"x")
            .build(),
        Err(ChallengeError::InvalidErrorUri)
    );
    let ok = BearerChallenge::builder()
        .error_uri("/errors/invalid_token")
        .build()
        .unwrap();
    assert_eq!(BearerChallenge::parse(&ok.to_header_value()).unwrap(), ok);
}

#[test]
fn rfc9728_section_5_1_resource_metadata_must_be_a_web_url() {
    assert!(matches!(
        BearerChallenge::parse(r#"Bearer resource_metadata="http://evil.example.com/x""#),
        Err(ChallengeError::InvalidResourceMetadata(_))
    ));
    assert!(matches!(
        BearerChallenge::builder()
            .resource_metadata("javascript:alert(1)")
            .build(),
        Err(ChallengeError::InvalidResourceMetadata(_))
    ));
    BearerChallenge::parse(
        r#"Bearer resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource""#,
    )
    .unwrap();
}

#[test]
fn no_bearer_challenge_is_an_error() {
    assert_eq!(
        BearerChallenge::parse(r#"Basic realm="x", DPoP algs="ES256""#),
        Err(ChallengeError::NoBearerChallenge)
    );
    assert_eq!(
        BearerChallenge::parse(""),
        Err(ChallengeError::NoBearerChallenge)
    );
}

#[test]
fn the_first_bearer_challenge_is_read() {
    let challenge = BearerChallenge::parse(r#"Bearer realm="a", bearer realm="b""#).unwrap();
    assert_eq!(challenge.realm(), Some("a"));
}

#[test]
fn token_form_values_are_accepted() {
    let challenge = BearerChallenge::parse("Bearer error=invalid_token, realm=api").unwrap();
    assert_eq!(challenge.error(), Some(&ErrorCode::InvalidToken));
    assert_eq!(challenge.realm(), Some("api"));
    // Written back as quoted-strings, which RFC 6750 §3 uses throughout.
    assert_eq!(
        challenge.to_header_value(),
        r#"Bearer realm="api", error="invalid_token""#
    );
}

#[test]
fn header_values_can_never_be_split() {
    let attempts = [
        "x\r\nSet-Cookie: session=stolen",
        "x\nLocation: https://evil.example.com",
        "x\r",
        "\u{0}",
    ];
    for attempt in attempts {
        assert!(matches!(
            BearerChallenge::builder().realm(attempt).build(),
            Err(ChallengeError::ControlCharacter { .. })
        ));
        assert!(matches!(
            BearerChallenge::builder().param("x_info", attempt).build(),
            Err(ChallengeError::ControlCharacter { .. })
        ));
        let quoted = format!("Bearer realm=\"{attempt}\"");
        assert!(BearerChallenge::parse(&quoted).is_err());
    }
}

#[test]
fn build_then_parse_is_the_identity_with_tricky_values() {
    let challenge = BearerChallenge::builder()
        .realm(r#"He said "hi", then \ left, "#)
        .scope(ScopeSet::parse("a:b c,d e=f").unwrap())
        .error(ErrorCode::InsufficientScope)
        .param("max_age", "0")
        .param("x-note", r#"\\\"""#)
        .build()
        .unwrap();
    let header = format!("DPoP algs=\"ES256\", {}", challenge.to_header_value());
    assert_eq!(BearerChallenge::parse(&header).unwrap(), challenge);
}
