//! The example of RFC 7009 §2.1, verbatim.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_revocation::{RevocationRequest, TokenTypeHint};

#[test]
fn rfc7009_section_2_1_example() {
    let body = "token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token";
    let req = RevocationRequest::from_form(body.as_bytes()).unwrap();
    assert_eq!(req.token.expose_secret(), "45ghiukldjahdnhzdauz");
    assert_eq!(req.token_type_hint, Some(TokenTypeHint::RefreshToken));
    assert!(req.extra.is_empty());
    assert_eq!(req.to_form(), body);
    assert_eq!(
        RevocationRequest::from_form(req.to_form().as_bytes()).unwrap(),
        req
    );
}
