//! Property tests: serialize → parse is the identity for documents and challenges; no input
//! panics a parser or a check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_resource_metadata::{
    BearerChallenge, BearerMethod, ProtectedResourceMetadata, discovery_urls, parse_challenges,
    well_known_url,
};
use gatehouse_types::{ErrorCode, ErrorDescription, Scope, ScopeSet};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z]{1,8}\\.example(:[1-9][0-9]{1,3})?(/[a-z0-9._~-]{0,8}){0,3}(\\?[a-z=&]{0,8})?",
        "http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[1-9][0-9]{1,3})?(/[a-z]{0,6}){0,2}",
    ]
}

fn any_url() -> impl Strategy<Value = String> {
    prop_oneof![url(), any::<String>()]
}

fn scope() -> impl Strategy<Value = Scope> {
    "[!#-\\[\\]-~]{1,12}".prop_map(|s| Scope::new(s).unwrap())
}

fn bearer_method() -> impl Strategy<Value = BearerMethod> {
    prop_oneof![
        Just(BearerMethod::Header),
        Just(BearerMethod::Body),
        Just(BearerMethod::Query),
        "[a-z]{1,8}".prop_map(|s| BearerMethod::parse(&s).unwrap()),
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            btree_map("[a-z]{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn strings() -> impl Strategy<Value = Option<Vec<String>>> {
    option::of(vec(any::<String>(), 0..4))
}

fn metadata() -> impl Strategy<Value = ProtectedResourceMetadata> {
    let a = (
        any_url(),
        option::of(vec(any_url(), 0..3)),
        option::of(any_url()),
        option::of(vec(scope(), 0..4)),
        option::of(vec(bearer_method(), 0..4)),
        strings(),
        option::of(any::<String>()),
        option::of(any_url()),
    );
    let b = (
        option::of(any_url()),
        option::of(any_url()),
        option::of(any::<bool>()),
        strings(),
        strings(),
        option::of(any::<bool>()),
        option::of(any::<String>()),
        btree_map("x_[a-z0-9_]{0,10}", json_value(), 0..4),
    );
    (a, b).prop_map(|(a, b)| ProtectedResourceMetadata {
        resource: a.0,
        authorization_servers: a.1,
        jwks_uri: a.2,
        scopes_supported: a.3,
        bearer_methods_supported: a.4,
        resource_signing_alg_values_supported: a.5,
        resource_name: a.6,
        resource_documentation: a.7,
        resource_policy_uri: b.0,
        resource_tos_uri: b.1,
        tls_client_certificate_bound_access_tokens: b.2,
        authorization_details_types_supported: b.3,
        dpop_signing_alg_values_supported: b.4,
        dpop_bound_access_tokens_required: b.5,
        signed_metadata: b.6,
        extra: b.7.into_iter().collect(),
    })
}

/// Any text a header value can carry: no control characters but tab; quotes, backslashes,
/// commas, equals signs and non-ASCII welcome.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\t -~]{0,24}",
        "[\"\\\\, =;a]{0,12}",
        "[^\\x00-\\x08\\x0A-\\x1F\\x7F]{0,16}",
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::InvalidToken),
        Just(ErrorCode::InsufficientScope),
        Just(ErrorCode::InvalidRequest),
        "[ !#-\\[\\]-~]{1,16}".prop_map(|s| ErrorCode::parse(&s).unwrap()),
    ]
}

fn challenge() -> impl Strategy<Value = BearerChallenge> {
    let extra_name = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}".prop_filter("not a known name", |n| {
        ![
            "realm",
            "scope",
            "error",
            "error_description",
            "error_uri",
            "resource_metadata",
        ]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(n))
    });
    (
        option::of(header_text()),
        option::of(vec(scope(), 0..4).prop_map(|s| s.into_iter().collect::<ScopeSet>())),
        option::of(error_code()),
        option::of("[ !#-\\[\\]-~]{0,40}".prop_map(|s| ErrorDescription::new(s).unwrap())),
        option::of("[A-Za-z0-9:/?#@!$&'()*+,;=%._~-]{0,20}"),
        option::of(url()),
        btree_map(extra_name, header_text(), 0..3),
    )
        .prop_filter_map(
            "at least one parameter",
            |(realm, scope, error, description, uri, metadata, extra)| {
                let mut builder = BearerChallenge::builder();
                if let Some(v) = realm {
                    builder = builder.realm(v);
                }
                if let Some(v) = scope {
                    builder = builder.scope(v);
                }
                if let Some(v) = error {
                    builder = builder.error(v);
                }
                if let Some(v) = description {
                    builder = builder.error_description(v);
                }
                if let Some(v) = uri {
                    builder = builder.error_uri(v);
                }
                if let Some(v) = metadata {
                    builder = builder.resource_metadata(v);
                }
                let mut seen: Vec<String> = Vec::new();
                for (name, value) in extra {
                    // The map dedups exact names; names differing only in case are one parameter.
                    if seen.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
                        continue;
                    }
                    seen.push(name.clone());
                    builder = builder.param(name, value);
                }
                builder.build().ok()
            },
        )
}

proptest! {
    #[test]
    fn metadata_serialize_then_parse_is_the_identity(metadata in metadata()) {
        let json = metadata.to_json();
        let parsed = ProtectedResourceMetadata::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &metadata);
        let _ = parsed.validate();
        let _ = parsed.validate_for_mcp();
        let _ = parsed.check_resource(&metadata.resource);
    }

    #[test]
    fn metadata_from_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(metadata) = ProtectedResourceMetadata::from_json(&bytes) {
            let _ = metadata.validate_for_mcp();
            let _ = metadata.to_json();
        }
    }

    #[test]
    fn well_known_urls_never_panic(resource in any::<String>()) {
        let _ = well_known_url(&resource);
        let _ = discovery_urls(&resource);
    }

    #[test]
    fn challenge_build_then_parse_is_the_identity(challenge in challenge()) {
        let header = challenge.to_header_value();
        prop_assert!(!header.contains(['\r', '\n', '\0']));
        prop_assert_eq!(BearerChallenge::parse(&header).unwrap(), challenge.clone());
        // Also when other challenges surround it.
        let among = format!("DPoP algs=\"ES256\", {header}, Basic realm=\"x\"");
        prop_assert_eq!(BearerChallenge::parse(&among).unwrap(), challenge);
    }

    #[test]
    fn challenge_parsers_never_panic(value in any::<String>()) {
        let _ = parse_challenges(&value);
        if let Ok(challenge) = BearerChallenge::parse(&value) {
            // Whatever was accepted can be written and read back.
            prop_assert_eq!(BearerChallenge::parse(&challenge.to_header_value()).unwrap(), challenge);
        }
    }

    #[test]
    fn challenge_parsers_never_panic_on_challenge_like_text(
        value in "[ ,=\"\\\\a-zA-Z0-9_/+.~\t-]{0,64}"
    ) {
        let _ = parse_challenges(&format!("Bearer {value}"));
        if let Ok(challenge) = BearerChallenge::parse(&format!("Bearer {value}")) {
            prop_assert_eq!(BearerChallenge::parse(&challenge.to_header_value()).unwrap(), challenge);
        }
    }
}
