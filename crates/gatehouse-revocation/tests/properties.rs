//! Property tests: serialize → parse is the identity, and no input makes the parser panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_revocation::{RevocationRequest, SecretString, TokenTypeHint};
use proptest::prelude::*;

/// Printable text without U+FFFD, which `FormParams` reads as a decoding failure.
fn form_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(r"[^\p{{C}}\x{{FFFD}}]{{1,{max}}}")).unwrap()
}

fn hint() -> impl Strategy<Value = TokenTypeHint> {
    prop_oneof![
        Just(TokenTypeHint::AccessToken),
        Just(TokenTypeHint::RefreshToken),
        "[!-~]{1,40}".prop_map(|s| TokenTypeHint::parse(&s).unwrap()),
    ]
}

fn request() -> impl Strategy<Value = RevocationRequest> {
    (
        form_text(64),
        proptest::option::of(hint()),
        proptest::collection::vec(("x_[a-z0-9_]{0,8}", form_text(20)), 0..4),
    )
        .prop_map(|(token, hint, extra)| {
            let mut req = RevocationRequest::new(SecretString::new(token)).unwrap();
            req.token_type_hint = hint;
            req.extra = extra.into_iter().collect();
            req
        })
}

proptest! {
    #[test]
    fn request_form_round_trips(req in request()) {
        let parsed = RevocationRequest::from_form(req.to_form().as_bytes()).unwrap();
        prop_assert_eq!(parsed, req);
    }

    #[test]
    fn search_order_is_a_permutation_of_supported(
        req in request(),
        supported in proptest::collection::vec(hint(), 0..4),
    ) {
        let mut supported = supported;
        supported.dedup();
        let order = req.search_order(&supported);
        prop_assert_eq!(order.len(), supported.len());
        for t in &supported {
            prop_assert!(order.contains(&t));
        }
    }

    #[test]
    fn from_form_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = RevocationRequest::from_form(&bytes);
    }

    #[test]
    fn from_form_never_panics_on_form_like_text(body in "[a-z_=&%0-9A-F+]{0,80}") {
        let _ = RevocationRequest::from_form(body.as_bytes());
    }
}
