//! Property tests: canonicalisation is idempotent, parse(as_str) is the identity, Hash agrees
//! with Eq, and no input makes a parser panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use gatehouse_resource_indicators::{ResourceUri, resolve_resources};
use proptest::prelude::*;

/// A valid resource URI in pieces: (scheme as written, authority as written, path, query).
fn pieces() -> impl Strategy<Value = (String, String, String, Option<String>)> {
    let https_host = proptest::collection::vec("[a-zA-Z][a-zA-Z0-9]{0,8}", 1..4)
        .prop_map(|labels| labels.join("."));
    let port = proptest::option::of(1u16..=65535)
        .prop_map(|p| p.map(|p| format!(":{p}")).unwrap_or_default());
    let web = ("[hH][tT][tT][pP][sS]", https_host, port.clone())
        .prop_map(|(scheme, host, port)| (scheme, format!("{host}{port}")));
    let loopback = (
        "[hH][tT][tT][pP]",
        prop_oneof![
            Just("127.0.0.1".to_owned()),
            Just("[::1]".to_owned()),
            "[lL][oO][cC][aA][lL][hH][oO][sS][tT]"
        ],
        port,
    )
        .prop_map(|(scheme, host, port)| (scheme, format!("{host}{port}")));
    let path = proptest::collection::vec("[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,6}|%[0-9A-F]{2}", 0..4)
        .prop_map(|segments| segments.iter().map(|s| format!("/{s}")).collect::<String>());
    let query = proptest::option::of("[a-zA-Z0-9=&._~/?:@-]{0,10}");
    (prop_oneof![web, loopback], path, query)
        .prop_map(|((scheme, authority), path, query)| (scheme, authority, path, query))
}

fn join(scheme: &str, authority: &str, path: &str, query: &Option<String>) -> String {
    let mut s = format!("{scheme}://{authority}{path}");
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    s
}

fn hash_of(u: &ResourceUri) -> u64 {
    let mut h = DefaultHasher::new();
    u.hash(&mut h);
    h.finish()
}

proptest! {
    #[test]
    fn canonical_form_is_lowercase_scheme_and_host_and_the_rest_as_written(
        (scheme, authority, path, query) in pieces()
    ) {
        let written = join(&scheme, &authority, &path, &query);
        let uri = ResourceUri::parse(&written).unwrap();
        let expected = join(
            &scheme.to_ascii_lowercase(), &authority.to_ascii_lowercase(), &path, &query,
        );
        prop_assert_eq!(uri.as_str(), expected.as_str());
    }

    #[test]
    fn canonicalisation_is_idempotent_and_parse_as_str_is_identity(
        (scheme, authority, path, query) in pieces()
    ) {
        let uri = ResourceUri::parse(&join(&scheme, &authority, &path, &query)).unwrap();
        let again = ResourceUri::parse(uri.as_str()).unwrap();
        prop_assert_eq!(again.as_str(), uri.as_str());
        prop_assert_eq!(&again, &uri);
        let json = serde_json::to_string(&uri).unwrap();
        prop_assert_eq!(serde_json::from_str::<ResourceUri>(&json).unwrap(), uri);
    }

    #[test]
    fn empty_path_and_slash_are_equal_with_equal_hashes(
        (scheme, authority, _path, query) in pieces()
    ) {
        let bare = ResourceUri::parse(&join(&scheme, &authority, "", &query)).unwrap();
        let slash = ResourceUri::parse(&join(&scheme, &authority, "/", &query)).unwrap();
        prop_assert_eq!(&bare, &slash);
        prop_assert_eq!(hash_of(&bare), hash_of(&slash));
        let other = ResourceUri::parse(&join(&scheme, &authority, "/x", &query)).unwrap();
        prop_assert_ne!(&bare, &other);
    }

    #[test]
    fn case_variants_are_equal_with_equal_hashes((scheme, authority, path, query) in pieces()) {
        let a = ResourceUri::parse(&join(&scheme, &authority, &path, &query)).unwrap();
        let b = ResourceUri::parse(&join(
            &scheme.to_ascii_uppercase(), &authority.to_ascii_uppercase(), &path, &query,
        )).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
    }

    #[test]
    fn resolve_returns_configured_values((scheme, authority, path, query) in pieces()) {
        let written = join(&scheme, &authority, &path, &query);
        let configured = [ResourceUri::parse(&written.to_ascii_lowercase()).unwrap()];
        match resolve_resources(&[written.as_str(), written.as_str()], &configured, None) {
            Ok(got) => prop_assert_eq!(got, configured.to_vec()),
            // Lowercasing the path or query may have made it a different resource.
            Err(err) => prop_assert!(path != path.to_ascii_lowercase()
                || query.as_deref().is_some_and(|q| q != q.to_ascii_lowercase()), "{}", err),
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = ResourceUri::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_uri_like_strings(s in "[hH]?[tT]{0,2}[pP]?[sS]?:?/{0,3}[a-zA-Z0-9.:@\\[\\]%/?#=&-]{0,40}") {
        if let Ok(uri) = ResourceUri::parse(&s) {
            prop_assert_eq!(ResourceUri::parse(uri.as_str()).unwrap(), uri);
        }
    }

    #[test]
    fn resolve_never_panics(values in proptest::collection::vec(any::<String>(), 0..4)) {
        let configured = [ResourceUri::parse("https://a.example/").unwrap()];
        let requested: Vec<&str> = values.iter().map(String::as_str).collect();
        let _ = resolve_resources(&requested, &configured, configured.first());
    }
}
