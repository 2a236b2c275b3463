//! One test per MUST that `validate`, `validate_for_mcp` and `check_issuer` enforce.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_as_metadata::{
    AsMetadataError, AuthorizationServerMetadata, AuthorizationServerMetadataBuilder,
};
use gatehouse_types::{
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};

/// A document valid for MCP; each test breaks one thing.
fn valid() -> AuthorizationServerMetadataBuilder {
    AuthorizationServerMetadata::builder("https://auth.example.com")
        .authorization_endpoint("https://auth.example.com/authorize")
        .token_endpoint("https://auth.example.com/token")
        .grant_types_supported([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .code_challenge_methods_supported([CodeChallengeMethod::S256])
}

fn with_issuer(issuer: &str) -> AuthorizationServerMetadata {
    let mut metadata = valid().build();
    metadata.issuer = issuer.to_owned();
    metadata
}

#[test]
fn the_baseline_is_valid() {
    valid().build().validate_for_mcp().unwrap();
}

#[test]
fn rfc8414_section_2_issuer_must_be_https() {
    for issuer in [
        "http://auth.example.com",
        "ftp://auth.example.com",
        "http://10.0.0.1",
    ] {
        assert!(
            matches!(
                with_issuer(issuer).validate(),
                Err(AsMetadataError::IssuerNotHttps)
            ),
            "{issuer}"
        );
    }
    assert!(matches!(
        with_issuer("auth.example.com").validate(),
        Err(AsMetadataError::InvalidIssuer(_))
    ));
    assert!(matches!(
        with_issuer("https://user@auth.example.com").validate(),
        Err(AsMetadataError::InvalidIssuer(_))
    ));
}

#[test]
fn rfc8414_section_2_issuer_http_is_accepted_on_loopback_for_development() {
    // The deliberate relaxation documented at the crate root.
    for issuer in [
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:8080/tenant",
    ] {
        let mut metadata = with_issuer(issuer);
        metadata.authorization_endpoint = Some(format!("{issuer}/authorize"));
        metadata.token_endpoint = Some(format!("{issuer}/token"));
        metadata.validate().unwrap();
    }
}

#[test]
fn rfc8414_section_2_issuer_must_have_no_query() {
    assert!(matches!(
        with_issuer("https://auth.example.com/?tenant=a").validate(),
        Err(AsMetadataError::IssuerHasQuery)
    ));
    assert!(matches!(
        with_issuer("https://auth.example.com?").validate(),
        Err(AsMetadataError::IssuerHasQuery)
    ));
}

#[test]
fn rfc8414_section_2_issuer_must_have_no_fragment() {
    assert!(matches!(
        with_issuer("https://auth.example.com/#a").validate(),
        Err(AsMetadataError::IssuerHasFragment)
    ));
    assert!(matches!(
        with_issuer("https://auth.example.com#").validate(),
        Err(AsMetadataError::IssuerHasFragment)
    ));
}

#[test]
fn rfc8414_section_2_jwks_uri_must_be_https() {
    let metadata = valid()
        .jwks_uri("http://auth.example.com/jwks.json")
        .build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EndpointNotHttps { member: "jwks_uri" })
    ));
}

#[test]
fn rfc8414_section_2_endpoints_must_be_https_urls() {
    type Set = fn(AuthorizationServerMetadataBuilder, &str) -> AuthorizationServerMetadataBuilder;
    let cases: [(&str, Set); 5] = [
        ("authorization_endpoint", |b, u| b.authorization_endpoint(u)),
        ("token_endpoint", |b, u| b.token_endpoint(u)),
        ("registration_endpoint", |b, u| b.registration_endpoint(u)),
        ("revocation_endpoint", |b, u| b.revocation_endpoint(u)),
        ("introspection_endpoint", |b, u| b.introspection_endpoint(u)),
    ];
    for (name, set) in cases {
        let metadata = set(valid(), "http://auth.example.com/x").build();
        match metadata.validate() {
            Err(AsMetadataError::EndpointNotHttps { member }) => assert_eq!(member, name),
            other => panic!("{name}: {other:?}"),
        }
        let metadata = set(valid(), "/relative").build();
        match metadata.validate() {
            Err(AsMetadataError::InvalidEndpoint { member, .. }) => assert_eq!(member, name),
            other => panic!("{name}: {other:?}"),
        }
        let metadata = set(valid(), "https://auth.example.com/x#frag").build();
        match metadata.validate() {
            Err(AsMetadataError::EndpointHasFragment { member }) => assert_eq!(member, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn rfc6749_section_3_1_authorization_endpoint_must_not_include_a_fragment() {
    let metadata = valid()
        .authorization_endpoint("https://auth.example.com/authorize#x")
        .build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EndpointHasFragment {
            member: "authorization_endpoint"
        })
    ));
}

#[test]
fn rfc6749_section_3_2_token_endpoint_must_not_include_a_fragment() {
    let metadata = valid()
        .token_endpoint("https://auth.example.com/token#x")
        .build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EndpointHasFragment {
            member: "token_endpoint"
        })
    ));
}

#[test]
fn rfc8414_section_2_authorization_endpoint_required_unless_no_grant_type_uses_it() {
    let mut metadata = valid().build();
    metadata.authorization_endpoint = None;
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingAuthorizationEndpoint)
    ));
    // Omitted grant_types_supported defaults to authorization_code and implicit.
    metadata.grant_types_supported = None;
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingAuthorizationEndpoint)
    ));
    metadata.grant_types_supported = Some(vec![GrantType::Implicit]);
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingAuthorizationEndpoint)
    ));
    // A server with only client_credentials has no authorization endpoint to advertise.
    metadata.grant_types_supported = Some(vec![GrantType::ClientCredentials]);
    metadata.validate().unwrap();
}

#[test]
fn rfc8414_section_2_token_endpoint_required_unless_only_implicit() {
    let mut metadata = valid().build();
    metadata.token_endpoint = None;
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingTokenEndpoint)
    ));
    // The default grant types include authorization_code, which needs the token endpoint.
    metadata.grant_types_supported = None;
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingTokenEndpoint)
    ));
    metadata.grant_types_supported = Some(vec![GrantType::Implicit, GrantType::ClientCredentials]);
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::MissingTokenEndpoint)
    ));
    metadata.grant_types_supported = Some(vec![GrantType::Implicit]);
    metadata.validate().unwrap();
}

#[test]
fn rfc8414_section_2_response_types_supported_is_required() {
    let missing = br#"{"issuer":"https://auth.example.com","authorization_endpoint":"https://auth.example.com/a","token_endpoint":"https://auth.example.com/t"}"#;
    assert!(matches!(
        AuthorizationServerMetadata::from_json(missing),
        Err(AsMetadataError::Json(_))
    ));
    let metadata = valid().response_types_supported([]).build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EmptyResponseTypes)
    ));
}

#[test]
fn rfc8414_section_3_2_claims_with_zero_elements_must_be_omitted() {
    let metadata = valid().scopes_supported(Vec::<Scope>::new()).build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EmptyArray {
            member: "scopes_supported"
        })
    ));
    let metadata = valid().ui_locales_supported(Vec::<String>::new()).build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EmptyArray {
            member: "ui_locales_supported"
        })
    ));
    let metadata = valid().code_challenge_methods_supported([]).build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::EmptyArray {
            member: "code_challenge_methods_supported"
        })
    ));
}

#[test]
fn rfc8414_section_2_none_must_not_be_used_as_a_signing_algorithm() {
    type Set =
        fn(AuthorizationServerMetadataBuilder, Vec<&str>) -> AuthorizationServerMetadataBuilder;
    let cases: [(&str, Set); 3] = [
        (
            "token_endpoint_auth_signing_alg_values_supported",
            |b, a| b.token_endpoint_auth_signing_alg_values_supported(a),
        ),
        (
            "revocation_endpoint_auth_signing_alg_values_supported",
            |b, a| b.revocation_endpoint_auth_signing_alg_values_supported(a),
        ),
        (
            "introspection_endpoint_auth_signing_alg_values_supported",
            |b, a| b.introspection_endpoint_auth_signing_alg_values_supported(a),
        ),
    ];
    for (name, set) in cases {
        for none in ["none", "None", "NONE"] {
            let metadata = set(valid(), vec!["ES256", none]).build();
            match metadata.validate() {
                Err(AsMetadataError::NoneAlgorithm { member }) => assert_eq!(member, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        set(valid(), vec!["ES256"]).build().validate().unwrap();
    }
}

#[test]
fn rfc8414_section_2_signing_algorithms_must_be_present_with_jwt_client_auth() {
    type Methods = fn(
        AuthorizationServerMetadataBuilder,
        Vec<TokenEndpointAuthMethod>,
    ) -> AuthorizationServerMetadataBuilder;
    type Algs =
        fn(AuthorizationServerMetadataBuilder, Vec<&str>) -> AuthorizationServerMetadataBuilder;
    let cases: [(&str, Methods, Algs); 3] = [
        (
            "token_endpoint_auth_signing_alg_values_supported",
            |b, m| b.token_endpoint_auth_methods_supported(m),
            |b, a| b.token_endpoint_auth_signing_alg_values_supported(a),
        ),
        (
            "revocation_endpoint_auth_signing_alg_values_supported",
            |b, m| b.revocation_endpoint_auth_methods_supported(m),
            |b, a| b.revocation_endpoint_auth_signing_alg_values_supported(a),
        ),
        (
            "introspection_endpoint_auth_signing_alg_values_supported",
            |b, m| b.introspection_endpoint_auth_methods_supported(m),
            |b, a| b.introspection_endpoint_auth_signing_alg_values_supported(a),
        ),
    ];
    for (name, methods, algs) in cases {
        for jwt in [
            TokenEndpointAuthMethod::PrivateKeyJwt,
            TokenEndpointAuthMethod::ClientSecretJwt,
        ] {
            let metadata = methods(
                valid(),
                vec![TokenEndpointAuthMethod::ClientSecretBasic, jwt.clone()],
            )
            .build();
            match metadata.validate() {
                Err(AsMetadataError::MissingSigningAlgorithms { member, .. }) => {
                    assert_eq!(member, name)
                }
                other => panic!("{name}: {other:?}"),
            }
            algs(methods(valid(), vec![jwt]), vec!["ES256"])
                .build()
                .validate()
                .unwrap();
        }
        // Without JWT methods, no algorithms are needed.
        methods(valid(), vec![TokenEndpointAuthMethod::ClientSecretBasic])
            .build()
            .validate()
            .unwrap();
    }
}

#[test]
fn rfc8414_section_3_3_issuer_must_be_identical() {
    let metadata = valid().build();
    metadata.check_issuer("https://auth.example.com").unwrap();
    for other in [
        "https://auth.example.com/",
        "https://AUTH.example.com",
        "HTTPS://auth.example.com",
        "https://auth.example.com:443",
        "https://evil.example.com",
    ] {
        match metadata.check_issuer(other) {
            Err(AsMetadataError::IssuerMismatch { expected, actual }) => {
                assert_eq!(expected, other);
                assert_eq!(actual, "https://auth.example.com");
            }
            result => panic!("{other}: {result:?}"),
        }
    }
}

#[test]
fn mcp_pkce_s256_must_be_advertised() {
    let mut metadata = valid().build();
    metadata.code_challenge_methods_supported = None;
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(AsMetadataError::McpPkceS256Missing)
    ));
    metadata.code_challenge_methods_supported = Some(vec![CodeChallengeMethod::Plain]);
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(AsMetadataError::McpPkceS256Missing)
    ));
    // Still a valid RFC 8414 document.
    metadata.validate().unwrap();
}

#[test]
fn mcp_code_response_type_must_be_advertised() {
    let metadata = valid()
        .response_types_supported([ResponseType::Token])
        .build();
    metadata.validate().unwrap();
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(AsMetadataError::McpCodeResponseTypeMissing)
    ));
}

#[test]
fn mcp_authorization_code_grant_must_be_supported() {
    let metadata = valid()
        .grant_types_supported([GrantType::ClientCredentials])
        .build();
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(AsMetadataError::McpAuthorizationCodeGrantMissing)
    ));
}

#[test]
fn page_urls_must_be_http_links() {
    valid()
        .service_documentation("http://auth.example.com/docs")
        .build()
        .validate()
        .unwrap();
    let metadata = valid().op_tos_uri("javascript:alert(1)").build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::InvalidPageUrl {
            member: "op_tos_uri"
        })
    ));
    for url in [
        "policy.html",
        "/relative",
        "data:text/html,x",
        "https:///x",
        "https://example.com/a b",
    ] {
        let metadata = valid().op_policy_uri(url).build();
        assert!(
            matches!(
                metadata.validate(),
                Err(AsMetadataError::InvalidPageUrl {
                    member: "op_policy_uri"
                })
            ),
            "{url}"
        );
    }
    valid()
        .op_policy_uri("https://example.com")
        .build()
        .validate()
        .unwrap();
}

#[test]
fn extra_members_must_not_shadow_known_members() {
    let metadata = valid()
        .extra("issuer", serde_json::json!("https://evil.example.com"))
        .build();
    assert!(matches!(
        metadata.validate(),
        Err(AsMetadataError::ExtraShadowsMember(name)) if name == "issuer"
    ));
    valid()
        .extra(
            "userinfo_endpoint",
            serde_json::json!("https://auth.example.com/u"),
        )
        .build()
        .validate()
        .unwrap();
}

#[test]
fn malformed_values_fail_at_parse_time() {
    let bad_scope = br#"{"issuer":"https://a.example","response_types_supported":["code"],"scopes_supported":["a b"]}"#;
    assert!(AuthorizationServerMetadata::from_json(bad_scope).is_err());
    let bad_type = br#"{"issuer":"https://a.example","response_types_supported":"code"}"#;
    assert!(AuthorizationServerMetadata::from_json(bad_type).is_err());
    let duplicate = br#"{"issuer":"https://a.example","issuer":"https://b.example","response_types_supported":["code"]}"#;
    let error = AuthorizationServerMetadata::from_json(duplicate).unwrap_err();
    assert!(error.to_string().contains("duplicate field"), "{error}");
}
