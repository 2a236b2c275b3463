//! One test per requirement this crate enforces, named after its section.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_introspection::{
    Audience, IntrospectionError, IntrospectionRequest, IntrospectionResponse, OAuthError,
    TokenFormError, TokenTypeHint,
};
use gatehouse_types::ErrorCode;

#[test]
fn rfc7662_section_2_1_token_is_required() {
    for body in ["", "token_type_hint=access_token", "token=", "toke=abc"] {
        let err = IntrospectionRequest::from_form(body.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                IntrospectionError::Request(TokenFormError::MissingToken)
            ),
            "{body}"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidRequest);
        assert_eq!(err.http_status(), 400);
    }
}

#[test]
fn rfc6749_section_3_1_parameters_must_not_repeat() {
    for body in [
        "token=a&token=b",
        "token=a&token_type_hint=access_token&token_type_hint=refresh_token",
        "token=a&x=1&x=2",
    ] {
        let err = IntrospectionRequest::from_form(body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, IntrospectionError::Request(TokenFormError::Form(_))),
            "{body}"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidRequest);
    }
}

#[test]
fn rfc6749_section_3_1_empty_hint_is_omitted() {
    let req = IntrospectionRequest::from_form(b"token=abc&token_type_hint=").unwrap();
    assert_eq!(req.token_type_hint, None);
}

#[test]
fn rfc7009_section_2_1_unknown_hint_is_kept() {
    let req = IntrospectionRequest::from_form(b"token=abc&token_type_hint=pairwise_token").unwrap();
    let hint = req.token_type_hint.as_ref().unwrap();
    assert!(!hint.is_known());
    assert_ne!(hint, &TokenTypeHint::AccessToken);
    assert_eq!(req.to_form(), "token=abc&token_type_hint=pairwise_token");
}

#[test]
fn rfc7662_section_2_2_active_is_required() {
    for body in [r#"{}"#, r#"{"sub":"x"}"#, r#"{"Active":true}"#] {
        let err = IntrospectionResponse::from_json(body.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("REQUIRED"), "{body}: {err}");
    }
}

#[test]
fn rfc7662_section_2_2_active_must_be_a_boolean() {
    for body in [
        r#"{"active":"true"}"#,
        r#"{"active":"false"}"#,
        r#"{"active":1}"#,
        r#"{"active":null}"#,
        r#"{"active":[true]}"#,
    ] {
        let err = IntrospectionResponse::from_json(body.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("boolean"), "{body}: {err}");
    }
}

#[test]
fn rfc7662_section_2_2_response_is_a_json_object() {
    for body in [
        "true",
        "null",
        r#""active""#,
        "[]",
        "",
        r#"{"active":true} x"#,
    ] {
        assert!(
            IntrospectionResponse::from_json(body.as_bytes()).is_err(),
            "{body}"
        );
    }
}

#[test]
fn rfc7662_section_2_2_inactive_response_carries_no_claims() {
    // Serialized: nothing but `active`.
    assert_eq!(
        IntrospectionResponse::Inactive.to_json(),
        r#"{"active":false}"#
    );
    // Parsed from a peer: whatever else it says is dropped, not trusted.
    let body = br#"{"active":false,"sub":"admin","scope":"everything","aud":"https://x"}"#;
    let parsed = IntrospectionResponse::from_json(body).unwrap();
    assert_eq!(parsed, IntrospectionResponse::Inactive);
    assert!(parsed.active_token().is_none());
    assert_eq!(parsed.to_json(), r#"{"active":false}"#);
}

#[test]
fn rfc7519_section_4_1_3_audience_string_or_array() {
    let one =
        IntrospectionResponse::from_json(br#"{"active":true,"aud":"https://a.example/"}"#).unwrap();
    let many = IntrospectionResponse::from_json(
        br#"{"active":true,"aud":["https://a.example/","https://b.example/"]}"#,
    )
    .unwrap();
    let aud_of = |r: &IntrospectionResponse| r.active_token().unwrap().aud.clone().unwrap();
    assert!(matches!(aud_of(&one), Audience::Single(_)));
    assert!(aud_of(&many).contains("https://b.example/"));
    assert_eq!(
        one.to_json(),
        r#"{"active":true,"aud":"https://a.example/"}"#
    );
    assert_eq!(
        many.to_json(),
        r#"{"active":true,"aud":["https://a.example/","https://b.example/"]}"#
    );
}
