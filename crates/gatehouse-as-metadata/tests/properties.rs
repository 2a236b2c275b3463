//! Property tests: serialize → parse is the identity; no input panics a parser or a check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::collections::BTreeMap;

use gatehouse_as_metadata::{
    AuthorizationServerMetadata, ResponseMode, discovery_urls, well_known_url,
};
use gatehouse_types::{
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z]{1,8}\\.example(:[0-9]{1,4})?(/[a-z0-9._~-]{0,8}){0,3}",
        "http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,4})?(/[a-z]{0,6}){0,2}",
        any::<String>(),
    ]
}

fn scope() -> impl Strategy<Value = Scope> {
    "[!#-\\[\\]-~]{1,12}".prop_map(|s| Scope::new(s).unwrap())
}

fn response_type() -> impl Strategy<Value = ResponseType> {
    prop_oneof![
        Just(ResponseType::Code),
        Just(ResponseType::Token),
        "[a-z_]{1,8}( [a-z_]{1,8}){0,2}".prop_map(|s| ResponseType::parse(&s).unwrap()),
    ]
}

fn grant_type() -> impl Strategy<Value = GrantType> {
    prop_oneof![
        Just(GrantType::AuthorizationCode),
        Just(GrantType::RefreshToken),
        Just(GrantType::ClientCredentials),
        Just(GrantType::Implicit),
        Just(GrantType::DeviceCode),
        "urn:x:[a-z]{1,8}".prop_map(|s| GrantType::parse(&s).unwrap()),
    ]
}

fn auth_method() -> impl Strategy<Value = TokenEndpointAuthMethod> {
    prop_oneof![
        Just(TokenEndpointAuthMethod::None),
        Just(TokenEndpointAuthMethod::ClientSecretBasic),
        Just(TokenEndpointAuthMethod::ClientSecretPost),
        Just(TokenEndpointAuthMethod::PrivateKeyJwt),
        Just(TokenEndpointAuthMethod::ClientSecretJwt),
        "[a-z_]{1,12}".prop_map(|s| TokenEndpointAuthMethod::parse(&s).unwrap()),
    ]
}

fn pkce_method() -> impl Strategy<Value = CodeChallengeMethod> {
    prop_oneof![
        Just(CodeChallengeMethod::S256),
        Just(CodeChallengeMethod::Plain),
        "[A-Za-z0-9]{1,6}".prop_map(|s| CodeChallengeMethod::parse(&s).unwrap()),
    ]
}

fn response_mode() -> impl Strategy<Value = ResponseMode> {
    prop_oneof![
        Just(ResponseMode::Query),
        Just(ResponseMode::Fragment),
        Just(ResponseMode::FormPost),
        "[a-z.]{1,10}".prop_map(|s| ResponseMode::parse(&s).unwrap()),
    ]
}

fn alg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ES256".to_owned()),
        Just("none".to_owned()),
        any::<String>()
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

fn list<T: std::fmt::Debug>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<Vec<T>>> {
    option::of(vec(item, 0..4))
}

fn metadata() -> impl Strategy<Value = AuthorizationServerMetadata> {
    let endpoints = (
        url(),
        option::of(url()),
        option::of(url()),
        option::of(url()),
        option::of(url()),
        option::of(url()),
        option::of(url()),
    );
    let lists = (
        list(scope()),
        vec(response_type(), 0..4),
        list(response_mode()),
        list(grant_type()),
        list(auth_method()),
        list(alg()),
        list(auth_method()),
        list(alg()),
        list(auth_method()),
        list(alg()),
        list(pkce_method()),
        list(any::<String>()),
    );
    let rest = (
        option::of(url()),
        option::of(url()),
        option::of(url()),
        option::of(any::<String>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        btree_map("x_[a-z0-9_]{0,10}", json_value(), 0..4),
    );
    (endpoints, lists, rest).prop_map(|(e, l, r)| AuthorizationServerMetadata {
        issuer: e.0,
        authorization_endpoint: e.1,
        token_endpoint: e.2,
        jwks_uri: e.3,
        registration_endpoint: e.4,
        revocation_endpoint: e.5,
        introspection_endpoint: e.6,
        scopes_supported: l.0,
        response_types_supported: l.1,
        response_modes_supported: l.2,
        grant_types_supported: l.3,
        token_endpoint_auth_methods_supported: l.4,
        token_endpoint_auth_signing_alg_values_supported: l.5,
        revocation_endpoint_auth_methods_supported: l.6,
        revocation_endpoint_auth_signing_alg_values_supported: l.7,
        introspection_endpoint_auth_methods_supported: l.8,
        introspection_endpoint_auth_signing_alg_values_supported: l.9,
        code_challenge_methods_supported: l.10,
        ui_locales_supported: l.11,
        service_documentation: r.0,
        op_policy_uri: r.1,
        op_tos_uri: r.2,
        signed_metadata: r.3,
        authorization_response_iss_parameter_supported: r.4,
        client_id_metadata_document_supported: r.5,
        extra: r.6.into_iter().collect::<BTreeMap<_, _>>(),
    })
}

proptest! {
    #[test]
    fn serialize_then_parse_is_the_identity(metadata in metadata()) {
        let json = metadata.to_json();
        let parsed = AuthorizationServerMetadata::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &metadata);
        // Checks never panic, whatever the values.
        let _ = parsed.validate();
        let _ = parsed.validate_for_mcp();
        let _ = parsed.check_issuer(&metadata.issuer);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(metadata) = AuthorizationServerMetadata::from_json(&bytes) {
            let _ = metadata.validate();
            let _ = metadata.validate_for_mcp();
            let _ = metadata.to_json();
        }
    }

    #[test]
    fn arbitrary_json_objects_never_panic(
        members in btree_map(
            prop_oneof![
                Just("issuer".to_owned()),
                Just("response_types_supported".to_owned()),
                Just("grant_types_supported".to_owned()),
                Just("token_endpoint".to_owned()),
                "[a-z_]{1,12}",
            ],
            json_value(),
            0..8,
        )
    ) {
        let object = serde_json::Value::Object(members.into_iter().collect());
        let bytes = serde_json::to_vec(&object).unwrap();
        if let Ok(metadata) = AuthorizationServerMetadata::from_json(&bytes) {
            let _ = metadata.validate_for_mcp();
        }
    }

    #[test]
    fn well_known_urls_never_panic(issuer in any::<String>()) {
        let _ = well_known_url(&issuer);
        let _ = discovery_urls(&issuer);
    }

    #[test]
    fn discovery_starts_with_the_rfc8414_well_known_url(
        issuer in "https://[a-z]{1,8}\\.example(:[1-9][0-9]{1,3})?(/[a-z0-9]{1,6}){0,3}/?"
    ) {
        let urls = discovery_urls(&issuer).unwrap();
        prop_assert_eq!(&urls[0], &well_known_url(&issuer).unwrap());
        prop_assert!(urls.len() == 2 || urls.len() == 3);
        prop_assert!(urls.iter().all(|u| u.contains("/.well-known/")));
    }
}
