//! Property tests: parsers never panic, and serialize → parse is the identity.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use gatehouse_types::form::{self, FormParams};
use gatehouse_types::uri::{self, insert_well_known};
use gatehouse_types::{
    ClientId, ErrorCode, ErrorDescription, ErrorResponse, GrantType, RedirectUri, Scope, ScopeSet,
    UnixTime,
};
use proptest::prelude::*;

fn scope_token() -> impl Strategy<Value = String> {
    "[!#-\\[\\]-~]{1,12}"
}

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::collection::vec(scope_token(), 0..6)
        .prop_map(|tokens| tokens.into_iter().map(|t| Scope::new(t).unwrap()).collect())
}

proptest! {
    #[test]
    fn scope_set_display_parse_is_identity(set in scope_set()) {
        let text = set.to_string();
        prop_assert_eq!(ScopeSet::parse(&text).unwrap(), set.clone());
        let json = serde_json::to_string(&set).unwrap();
        prop_assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), set);
    }

    #[test]
    fn error_response_json_round_trip(
        code in prop::sample::select(vec!["invalid_request", "invalid_grant", "slow_down", "x y"]),
        description in proptest::option::of("[ !#-\\[\\]-~]{0,40}"),
        uri in proptest::option::of("https://[a-z]{1,10}\\.example/[a-z]{0,8}"),
    ) {
        let response = ErrorResponse {
            error: ErrorCode::parse(code).unwrap(),
            error_description: description.map(|d| ErrorDescription::new(d).unwrap()),
            error_uri: uri,
            extra: Default::default(),
        };
        let json = serde_json::to_vec(&response).unwrap();
        prop_assert_eq!(ErrorResponse::from_json(&json).unwrap(), response);
    }

    #[test]
    fn accepted_redirect_uris_round_trip_and_match_themselves(
        uri in prop_oneof![
            "https://[a-z]{1,10}\\.example(:[1-9][0-9]{0,3})?(/[a-z0-9]{0,8}){0,3}(\\?[a-z]=[a-z0-9]{0,4})?",
            "http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)(:[1-9][0-9]{0,3})?(/[a-z]{0,8}){0,2}",
            "[a-z]{2,8}(\\.[a-z]{1,8}){0,2}:/[a-z]{1,8}",
        ]
    ) {
        let parsed = RedirectUri::new(uri.clone()).unwrap();
        prop_assert_eq!(parsed.as_str(), uri.as_str());
        prop_assert!(parsed.matches(&parsed));
        let json = serde_json::to_string(&parsed).unwrap();
        prop_assert_eq!(serde_json::from_str::<RedirectUri>(&json).unwrap(), parsed);
    }

    /// Whatever the input, an accepted redirect URI is plain ASCII without whitespace or controls,
    /// has no fragment, and its scheme is not one that runs code or reads local data.
    #[test]
    fn accepted_redirect_uris_obey_the_policy(input in any::<String>()) {
        if let Ok(parsed) = RedirectUri::new(input.clone()) {
            prop_assert!(input.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert!(!input.contains('#'));
            let scheme = input.split(':').next().unwrap().to_ascii_lowercase();
            prop_assert!(!["javascript", "data", "file", "vbscript"].contains(&scheme.as_str()));
            prop_assert!(parsed.matches(&parsed));
        }
    }

    #[test]
    fn loopback_port_never_changes_the_match(port_a in 1u16.., port_b in 1u16.., path in "/[a-z]{0,8}") {
        let a = RedirectUri::new(format!("http://127.0.0.1:{port_a}{path}")).unwrap();
        let b = RedirectUri::new(format!("http://127.0.0.1:{port_b}{path}")).unwrap();
        prop_assert!(a.matches(&b));
        let other = RedirectUri::new(format!("http://127.0.0.1:{port_b}{path}x")).unwrap();
        prop_assert!(!a.matches(&other));
    }

    #[test]
    fn sanitized_description_is_always_a_valid_description(input in any::<String>()) {
        let sanitized = ErrorDescription::sanitized(&input);
        prop_assert!(ErrorDescription::new(sanitized.as_str()).is_ok());
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_strings(input in any::<String>()) {
        let _ = RedirectUri::new(input.clone());
        let _ = ClientId::new(input.clone());
        let _ = Scope::new(input.clone());
        let _ = ScopeSet::parse(&input);
        let _ = GrantType::parse(&input);
        let _ = ErrorDescription::new(input.clone());
        let _ = ErrorDescription::sanitized(&input);
        let _ = uri::split(&input);
        let _ = uri::check_web_url(&input);
        let _ = insert_well_known(&input, "oauth-authorization-server");
        let _ = FormParams::parse(input.as_bytes());
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(input in any::<Vec<u8>>()) {
        let _ = ErrorResponse::from_json(&input);
        let _ = serde_json::from_slice::<UnixTime>(&input);
        if let Ok(form) = FormParams::parse(&input) {
            let _ = form.refuse_repeats(&["resource"]);
        }
    }

    #[test]
    fn form_encode_parse_is_identity(pairs in prop::collection::vec(("[a-z_]{1,10}", ".{1,20}"), 0..8)) {
        // U+FFFD in a value is refused by design (it marks invalid UTF-8); `.` can generate it.
        prop_assume!(!pairs.iter().any(|(_, v)| v.contains('\u{FFFD}')));
        let body = form::encode(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let parsed = FormParams::parse(body.as_bytes()).unwrap();
        let got: Vec<(String, String)> = parsed.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(got, pairs);
    }
}
