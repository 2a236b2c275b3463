//! One test per MUST that `ProtectedResourceMetadata::validate`, `validate_for_mcp` and
//! `check_resource` enforce.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_resource_metadata::{
    BearerMethod, ProtectedResourceMetadata, ProtectedResourceMetadataBuilder,
    ResourceMetadataError,
};
use gatehouse_types::Scope;

fn valid() -> ProtectedResourceMetadataBuilder {
    ProtectedResourceMetadata::builder("https://mcp.example.com/mcp")
        .authorization_servers(["https://auth.example.com"])
        .bearer_methods_supported([BearerMethod::Header])
        .scopes_supported([Scope::new("tools:read").unwrap()])
}

fn with_resource(resource: &str) -> ProtectedResourceMetadata {
    let mut metadata = valid().build();
    metadata.resource = resource.to_owned();
    metadata
}

#[test]
fn the_baseline_is_valid() {
    valid().build().validate_for_mcp().unwrap();
}

#[test]
fn rfc9728_section_1_2_resource_must_be_https() {
    assert!(matches!(
        with_resource("http://mcp.example.com/mcp").validate(),
        Err(ResourceMetadataError::ResourceNotHttps)
    ));
    assert!(matches!(
        with_resource("mcp.example.com/mcp").validate(),
        Err(ResourceMetadataError::InvalidResource(_))
    ));
    // The deliberate relaxation for local development.
    with_resource("http://127.0.0.1:3000/mcp")
        .validate()
        .unwrap();
    with_resource("http://localhost:3000/mcp")
        .validate()
        .unwrap();
}

#[test]
fn rfc9728_section_1_2_resource_must_have_no_fragment() {
    assert!(matches!(
        with_resource("https://mcp.example.com/mcp#x").validate(),
        Err(ResourceMetadataError::ResourceHasFragment)
    ));
}

#[test]
fn rfc9728_section_1_2_resource_may_have_a_query() {
    with_resource("https://mcp.example.com/mcp?tenant=a")
        .validate()
        .unwrap();
}

#[test]
fn rfc9728_section_2_authorization_servers_must_be_issuer_identifiers() {
    let check = |issuer: &str| valid().authorization_servers([issuer]).build().validate();
    assert!(matches!(
        check("http://auth.example.com"),
        Err(ResourceMetadataError::AuthorizationServerNotHttps(i)) if i == "http://auth.example.com"
    ));
    assert!(matches!(
        check("https://auth.example.com?x=1"),
        Err(ResourceMetadataError::AuthorizationServerHasQuery(_))
    ));
    assert!(matches!(
        check("https://auth.example.com#x"),
        Err(ResourceMetadataError::AuthorizationServerHasFragment(_))
    ));
    assert!(matches!(
        check("auth.example.com"),
        Err(ResourceMetadataError::InvalidAuthorizationServer { .. })
    ));
    check("https://auth.example.com/tenant1").unwrap();
    check("http://[::1]:9000").unwrap();
}

#[test]
fn rfc9728_section_2_jwks_uri_must_be_https() {
    let check = |url: &str| valid().jwks_uri(url).build().validate();
    assert!(matches!(
        check("http://mcp.example.com/jwks.json"),
        Err(ResourceMetadataError::JwksUriNotHttps)
    ));
    assert!(matches!(
        check("https://mcp.example.com/jwks.json#k"),
        Err(ResourceMetadataError::InvalidJwksUri(_))
    ));
    check("https://mcp.example.com/jwks.json").unwrap();
}

#[test]
fn rfc9728_section_2_none_must_not_be_used_as_a_signing_algorithm() {
    for none in ["none", "NONE"] {
        let metadata = valid()
            .resource_signing_alg_values_supported(["ES256", none])
            .build();
        assert!(matches!(
            metadata.validate(),
            Err(ResourceMetadataError::NoneAlgorithm {
                member: "resource_signing_alg_values_supported",
                ..
            })
        ));
    }
    valid()
        .resource_signing_alg_values_supported(["ES256"])
        .build()
        .validate()
        .unwrap();
}

#[test]
fn rfc9449_section_4_2_dpop_alg_must_not_be_none() {
    let metadata = valid().dpop_signing_alg_values_supported(["none"]).build();
    assert!(matches!(
        metadata.validate(),
        Err(ResourceMetadataError::NoneAlgorithm {
            member: "dpop_signing_alg_values_supported",
            section: "RFC 9449 §4.2",
        })
    ));
}

#[test]
fn rfc9728_section_3_2_parameters_with_zero_values_must_be_omitted() {
    let metadata = valid().authorization_servers(Vec::<String>::new()).build();
    assert!(matches!(
        metadata.validate(),
        Err(ResourceMetadataError::EmptyArray {
            member: "authorization_servers"
        })
    ));
    let metadata = valid().scopes_supported([]).build();
    assert!(matches!(
        metadata.validate(),
        Err(ResourceMetadataError::EmptyArray {
            member: "scopes_supported"
        })
    ));
    // RFC 9728 §2: "The empty array [] can be used to indicate that no bearer methods are
    // supported."
    valid()
        .bearer_methods_supported([])
        .build()
        .validate()
        .unwrap();
}

#[test]
fn rfc9728_section_2_unknown_bearer_methods_are_kept() {
    let body =
        br#"{"resource":"https://r.example.com","bearer_methods_supported":["header","cookie"]}"#;
    let metadata = ProtectedResourceMetadata::from_json(body).unwrap();
    metadata.validate().unwrap();
    let methods = metadata.bearer_methods_supported.as_deref().unwrap();
    assert!(methods[0].is_known());
    assert!(!methods[1].is_known());
    assert!(metadata.to_json().contains(r#"["header","cookie"]"#));
}

#[test]
fn rfc9728_section_3_3_resource_must_be_identical() {
    let metadata = valid().build();
    metadata
        .check_resource("https://mcp.example.com/mcp")
        .unwrap();
    for other in [
        "https://mcp.example.com/mcp/",
        "https://MCP.example.com/mcp",
        "https://mcp.example.com/MCP",
        "https://mcp.example.com:443/mcp",
        "https://evil.example.com/mcp",
    ] {
        match metadata.check_resource(other) {
            Err(ResourceMetadataError::ResourceMismatch { expected, actual }) => {
                assert_eq!(expected, other);
                assert_eq!(actual, "https://mcp.example.com/mcp");
            }
            result => panic!("{other}: {result:?}"),
        }
    }
}

#[test]
fn rfc9728_section_2_resource_is_required() {
    let body = br#"{"authorization_servers":["https://auth.example.com"]}"#;
    assert!(matches!(
        ProtectedResourceMetadata::from_json(body),
        Err(ResourceMetadataError::Json(_))
    ));
}

#[test]
fn mcp_authorization_servers_must_list_at_least_one_server() {
    let mut metadata = valid().build();
    metadata.authorization_servers = None;
    metadata.validate().unwrap();
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(ResourceMetadataError::McpNoAuthorizationServers)
    ));
}

#[test]
fn page_urls_must_be_http_links() {
    let metadata = valid().resource_tos_uri("javascript:alert(1)").build();
    assert!(matches!(
        metadata.validate(),
        Err(ResourceMetadataError::InvalidPageUrl {
            member: "resource_tos_uri"
        })
    ));
    valid()
        .resource_documentation("http://docs.example.com/")
        .build()
        .validate()
        .unwrap();
}

#[test]
fn extra_members_must_not_shadow_known_members() {
    let metadata = valid()
        .extra("resource", serde_json::json!("https://evil.example.com"))
        .build();
    assert!(matches!(
        metadata.validate(),
        Err(ResourceMetadataError::ExtraShadowsMember(name)) if name == "resource"
    ));
    // Language-tagged names are extra members (RFC 9728 §2.1).
    valid()
        .resource_name("Files")
        .extra("resource_name#fr", serde_json::json!("Fichiers"))
        .build()
        .validate()
        .unwrap();
}

#[test]
fn malformed_values_fail_at_parse_time() {
    let bad_scope = br#"{"resource":"https://r.example.com","scopes_supported":["a\"b"]}"#;
    assert!(ProtectedResourceMetadata::from_json(bad_scope).is_err());
    let duplicate =
        br#"{"resource":"https://r.example.com","resource":"https://evil.example.com"}"#;
    assert!(ProtectedResourceMetadata::from_json(duplicate).is_err());
}
