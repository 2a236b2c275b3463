//! One test per requirement this crate enforces or helps enforce, named after its section.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_revocation::{
    OAuthError, REVOKED_STATUS, RevocationError, RevocationRequest, SecretString, TokenFormError,
    TokenTypeHint, unsupported_token_type,
};
use gatehouse_types::ErrorCode;

#[test]
fn rfc7009_section_2_1_token_is_required() {
    for body in ["", "token_type_hint=refresh_token", "token=", "tokens=abc"] {
        let err = RevocationRequest::from_form(body.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            RevocationError::Request(TokenFormError::MissingToken),
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
        "token=a&client_id=x&client_id=y",
    ] {
        let err = RevocationRequest::from_form(body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, RevocationError::Request(TokenFormError::Form(_))),
            "{body}"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidRequest);
    }
}

#[test]
fn rfc7009_section_2_1_unknown_hint_is_kept() {
    let req = RevocationRequest::from_form(b"token=abc&token_type_hint=id_token").unwrap();
    let hint = req.token_type_hint.as_ref().unwrap();
    assert!(!hint.is_known());
    assert_eq!(req.to_form(), "token=abc&token_type_hint=id_token");
}

#[test]
fn rfc7009_section_2_1_malformed_hint_is_invalid_request() {
    let err =
        RevocationRequest::from_form(b"token=abc&token_type_hint=refresh%20token").unwrap_err();
    assert!(matches!(
        err,
        RevocationError::Request(TokenFormError::InvalidTokenTypeHint(_))
    ));
    assert_eq!(err.error_code(), ErrorCode::InvalidRequest);
}

#[test]
fn rfc7009_section_2_1_must_extend_search_beyond_the_hint() {
    let supported = [TokenTypeHint::AccessToken, TokenTypeHint::RefreshToken];
    let req = RevocationRequest::from_form(b"token=abc&token_type_hint=refresh_token").unwrap();
    assert_eq!(
        req.search_order(&supported),
        [&TokenTypeHint::RefreshToken, &TokenTypeHint::AccessToken]
    );
}

#[test]
fn rfc7009_section_2_2_invalid_tokens_are_not_an_error() {
    // Any token value parses: whether it is known is the server's lookup, answered with 200.
    for token in ["not-a-token", "\u{e9}\u{e9}", "a b c", "x"] {
        let body = gatehouse_types::form::encode([("token", token)]);
        let req = RevocationRequest::from_form(body.as_bytes()).unwrap();
        assert_eq!(req.token.expose_secret(), token);
    }
    assert_eq!(REVOKED_STATUS, 200);
}

#[test]
fn rfc7009_section_2_2_1_unsupported_token_type() {
    let revocable = [TokenTypeHint::RefreshToken];
    assert_eq!(
        unsupported_token_type(&TokenTypeHint::AccessToken, &revocable),
        Some(ErrorCode::UnsupportedTokenType)
    );
    assert_eq!(
        unsupported_token_type(&TokenTypeHint::RefreshToken, &revocable),
        None
    );
    assert_eq!(
        ErrorCode::UnsupportedTokenType.as_str(),
        "unsupported_token_type"
    );
    assert_eq!(ErrorCode::UnsupportedTokenType.http_status(), 400);
}

#[test]
fn secrets_do_not_leak_through_debug() {
    let req = RevocationRequest::new(SecretString::new("45ghiukldjahdnhzdauz")).unwrap();
    assert!(!format!("{req:?}").contains("45ghiukldjahdnhzdauz"));
}
