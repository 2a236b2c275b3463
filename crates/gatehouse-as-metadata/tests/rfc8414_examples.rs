//! The examples of RFC 8414 and RFC 9207, verbatim.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_as_metadata::{AsMetadataError, AuthorizationServerMetadata, well_known_url};
use gatehouse_types::{GrantType, ResponseType, TokenEndpointAuthMethod};

/// [RFC 8414 §3.2](https://www.rfc-editor.org/rfc/rfc8414#section-3.2), the example response body.
const RFC8414_SECTION_3_2: &str = r#"{
 "issuer":
   "https://server.example.com",
 "authorization_endpoint":
   "https://server.example.com/authorize",
 "token_endpoint":
   "https://server.example.com/token",
 "token_endpoint_auth_methods_supported":
   ["client_secret_basic", "private_key_jwt"],
 "token_endpoint_auth_signing_alg_values_supported":
   ["RS256", "ES256"],
 "userinfo_endpoint":
   "https://server.example.com/userinfo",
 "jwks_uri":
   "https://server.example.com/jwks.json",
 "registration_endpoint":
   "https://server.example.com/register",
 "scopes_supported":
   ["openid", "profile", "email", "address",
    "phone", "offline_access"],
 "response_types_supported":
   ["code", "code token"],
 "service_documentation":
   "http://server.example.com/service_documentation.html",
 "ui_locales_supported":
   ["en-US", "en-GB", "en-CA", "fr-FR", "fr-CA"]
}"#;

/// Parse → serialize → parse is the identity, and the serialized JSON equals the input as a
/// JSON value (member order and whitespace aside).
fn assert_round_trips(text: &str) -> AuthorizationServerMetadata {
    let parsed = AuthorizationServerMetadata::from_json(text.as_bytes()).unwrap();
    let json = parsed.to_json();
    let again = AuthorizationServerMetadata::from_json(json.as_bytes()).unwrap();
    assert_eq!(again, parsed);
    let original: serde_json::Value = serde_json::from_str(text).unwrap();
    let serialized: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(serialized, original);
    parsed
}

#[test]
fn rfc8414_section_3_2_example() {
    let metadata = assert_round_trips(RFC8414_SECTION_3_2);
    metadata.validate().unwrap();
    metadata.check_issuer("https://server.example.com").unwrap();

    assert_eq!(metadata.issuer, "https://server.example.com");
    assert_eq!(
        metadata
            .token_endpoint_auth_methods_supported
            .as_deref()
            .unwrap(),
        [
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::PrivateKeyJwt
        ]
    );
    // "code token" is one registry value, not two.
    assert_eq!(metadata.response_types_supported.len(), 2);
    assert_eq!(metadata.response_types_supported[0], ResponseType::Code);
    assert_eq!(metadata.response_types_supported[1].as_str(), "code token");
    assert_eq!(metadata.scopes_supported.as_ref().unwrap().len(), 6);
    // OpenID Connect's userinfo_endpoint is not an RFC 8414 member: kept, not lost.
    assert_eq!(
        metadata.extra["userinfo_endpoint"],
        "https://server.example.com/userinfo"
    );
    // grant_types_supported omitted: RFC 8414 §2 default.
    assert_eq!(
        metadata.effective_grant_types(),
        [GrantType::AuthorizationCode, GrantType::Implicit]
    );
}

#[test]
fn rfc8414_section_3_2_example_is_not_enough_for_mcp() {
    // The example does not advertise PKCE, so an MCP client MUST refuse to proceed.
    let metadata = AuthorizationServerMetadata::from_json(RFC8414_SECTION_3_2.as_bytes()).unwrap();
    assert!(matches!(
        metadata.validate_for_mcp(),
        Err(AsMetadataError::McpPkceS256Missing)
    ));
}

#[test]
fn rfc8414_section_3_1_path_insertion_example() {
    assert_eq!(
        well_known_url("https://example.com/issuer1").unwrap(),
        "https://example.com/.well-known/oauth-authorization-server/issuer1"
    );
}

#[test]
fn rfc8414_section_3_1_no_path_example() {
    // "GET /.well-known/oauth-authorization-server HTTP/1.1 / Host: example.com"
    assert_eq!(
        well_known_url("https://example.com").unwrap(),
        "https://example.com/.well-known/oauth-authorization-server"
    );
}

#[test]
fn rfc9207_section_3_iss_parameter_member_round_trips() {
    let text = r#"{
        "issuer": "https://server.example.com",
        "authorization_endpoint": "https://server.example.com/authorize",
        "token_endpoint": "https://server.example.com/token",
        "response_types_supported": ["code"],
        "authorization_response_iss_parameter_supported": true
    }"#;
    let metadata = assert_round_trips(text);
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported,
        Some(true)
    );
    metadata.validate().unwrap();

    let text = text.replace("true", "false");
    let metadata = assert_round_trips(&text);
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported,
        Some(false)
    );

    let built = AuthorizationServerMetadata::builder("https://server.example.com")
        .authorization_response_iss_parameter_supported(true)
        .build();
    assert!(
        built
            .to_json()
            .contains(r#""authorization_response_iss_parameter_supported":true"#)
    );
    // Omitted means false (RFC 9207 §3) and stays omitted.
    let omitted = AuthorizationServerMetadata::builder("https://server.example.com").build();
    assert!(
        !omitted
            .to_json()
            .contains("authorization_response_iss_parameter_supported")
    );
}

#[test]
fn mcp_client_id_metadata_document_member_round_trips() {
    let text = r#"{
        "issuer": "https://auth.example.com",
        "authorization_endpoint": "https://auth.example.com/authorize",
        "token_endpoint": "https://auth.example.com/token",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": true
    }"#;
    let metadata = assert_round_trips(text);
    assert_eq!(metadata.client_id_metadata_document_supported, Some(true));
    metadata.validate_for_mcp().unwrap();
}

#[test]
fn a_gatehouse_document_built_with_the_builder_is_valid_for_mcp() {
    let issuer = "https://auth.example.com";
    let metadata = AuthorizationServerMetadata::builder(issuer)
        .authorization_endpoint("https://auth.example.com/authorize")
        .token_endpoint("https://auth.example.com/token")
        .jwks_uri("https://auth.example.com/.well-known/jwks.json")
        .registration_endpoint("https://auth.example.com/register")
        .revocation_endpoint("https://auth.example.com/revoke")
        .introspection_endpoint("https://auth.example.com/introspect")
        .grant_types_supported([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .code_challenge_methods_supported([gatehouse_types::CodeChallengeMethod::S256])
        .token_endpoint_auth_methods_supported([
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretBasic,
        ])
        .authorization_response_iss_parameter_supported(true)
        .client_id_metadata_document_supported(true)
        .build();
    metadata.validate_for_mcp().unwrap();
    let again = AuthorizationServerMetadata::from_json(metadata.to_json().as_bytes()).unwrap();
    assert_eq!(again, metadata);
    again.check_issuer(issuer).unwrap();
}
