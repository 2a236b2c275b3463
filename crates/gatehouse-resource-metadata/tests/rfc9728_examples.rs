//! The examples of RFC 9728 and RFC 6750 §3, verbatim (header examples unfolded: the RFCs
//! wrap long header lines for display, and an HTTP/1.1 recipient replaces such a fold with a
//! space, RFC 9112 §5.2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_resource_metadata::{
    BearerChallenge, BearerMethod, ProtectedResourceMetadata, parse_challenges, well_known_url,
};
use gatehouse_types::{ErrorCode, ScopeSet};

/// [RFC 9728 §3.2](https://www.rfc-editor.org/rfc/rfc9728#section-3.2), the example response body.
const RFC9728_SECTION_3_2: &str = r#"{
   "resource":
     "https://resource.example.com",
   "authorization_servers":
     ["https://as1.example.com",
      "https://as2.example.net"],
   "bearer_methods_supported":
     ["header", "body"],
   "scopes_supported":
     ["profile", "email", "phone"],
   "resource_documentation":
     "https://resource.example.com/resource_documentation.html"
  }"#;

#[test]
fn rfc9728_section_3_2_example() {
    let metadata = ProtectedResourceMetadata::from_json(RFC9728_SECTION_3_2.as_bytes()).unwrap();
    metadata.validate().unwrap();
    metadata.validate_for_mcp().unwrap();
    metadata
        .check_resource("https://resource.example.com")
        .unwrap();
    assert_eq!(
        metadata.bearer_methods_supported.as_deref().unwrap(),
        [BearerMethod::Header, BearerMethod::Body]
    );
    assert_eq!(metadata.authorization_servers.as_ref().unwrap().len(), 2);

    let json = metadata.to_json();
    let again = ProtectedResourceMetadata::from_json(json.as_bytes()).unwrap();
    assert_eq!(again, metadata);
    let original: serde_json::Value = serde_json::from_str(RFC9728_SECTION_3_2).unwrap();
    let serialized: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(serialized, original);
}

#[test]
fn rfc9728_section_3_1_examples() {
    // "GET /.well-known/oauth-protected-resource HTTP/1.1 / Host: resource.example.com"
    assert_eq!(
        well_known_url("https://resource.example.com").unwrap(),
        "https://resource.example.com/.well-known/oauth-protected-resource"
    );
    // "GET /.well-known/oauth-protected-resource/resource1 HTTP/1.1"
    assert_eq!(
        well_known_url("https://resource.example.com/resource1").unwrap(),
        "https://resource.example.com/.well-known/oauth-protected-resource/resource1"
    );
}

#[test]
fn rfc9728_section_5_1_example() {
    let expected = "https://resource.example.com/.well-known/oauth-protected-resource";
    // On one line, as sent.
    let header = r#"Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource""#;
    let challenge = BearerChallenge::parse(header).unwrap();
    assert_eq!(challenge.resource_metadata(), Some(expected));
    assert_eq!(challenge.to_header_value(), header);
    // As printed in the RFC, with the fold replaced by a space: whitespace after `=` is BWS.
    let folded = "Bearer resource_metadata=\n  \"https://resource.example.com/.well-known/oauth-protected-resource\"";
    let unfolded = folded.replace("\n  ", " ");
    assert_eq!(BearerChallenge::parse(&unfolded).unwrap(), challenge);
    // The fold itself is not a field value: HTTP libraries unfold before handing it over.
    assert!(BearerChallenge::parse(folded).is_err());
}

#[test]
fn rfc6750_section_3_example_without_credentials() {
    let challenge = BearerChallenge::parse(r#"Bearer realm="example""#).unwrap();
    assert_eq!(challenge.realm(), Some("example"));
    assert_eq!(challenge.error(), None);
    assert_eq!(challenge.to_header_value(), r#"Bearer realm="example""#);
}

#[test]
fn rfc6750_section_3_example_expired_token() {
    let header = r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#;
    let challenge = BearerChallenge::parse(header).unwrap();
    assert_eq!(challenge.realm(), Some("example"));
    assert_eq!(challenge.error(), Some(&ErrorCode::InvalidToken));
    assert_eq!(
        challenge.error_description().unwrap().as_str(),
        "The access token expired"
    );
    assert_eq!(challenge.to_header_value(), header);
    // As printed in the RFC, folded over three lines.
    let folded = "Bearer realm=\"example\",\n                    error=\"invalid_token\",\n                    error_description=\"The access token expired\"";
    let unfolded = folded.replace('\n', " ");
    assert_eq!(BearerChallenge::parse(&unfolded).unwrap(), challenge);
}

#[test]
fn rfc6750_section_3_scope_examples() {
    let challenge = BearerChallenge::parse(r#"Bearer scope="openid profile email""#).unwrap();
    assert_eq!(
        challenge.scope(),
        Some(&ScopeSet::parse("openid profile email").unwrap())
    );
    // A comma inside a quoted-string does not end the parameter.
    let challenge = BearerChallenge::parse(
        r#"Bearer scope="urn:example:channel=HBO&urn:example:rating=G,PG-13""#,
    )
    .unwrap();
    let scope = challenge.scope().unwrap();
    assert_eq!(scope.len(), 1);
    assert!(scope.contains_str("urn:example:channel=HBO&urn:example:rating=G,PG-13"));
}

#[test]
fn bearer_challenge_among_other_challenges() {
    let header = r#"DPoP algs="ES256 PS256", Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
    let challenges = parse_challenges(header).unwrap();
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].is_scheme("dpop"));
    assert_eq!(challenges[0].param("algs"), Some("ES256 PS256"));
    let bearer = BearerChallenge::parse(header).unwrap();
    assert_eq!(bearer.error(), Some(&ErrorCode::InvalidToken));
    assert_eq!(
        bearer.resource_metadata(),
        Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
    );
}

#[test]
fn mcp_insufficient_scope_challenge_round_trips() {
    let challenge = BearerChallenge::builder()
        .error(ErrorCode::InsufficientScope)
        .scope(ScopeSet::parse("files:read files:write").unwrap())
        .resource_metadata("https://mcp.example.com/.well-known/oauth-protected-resource")
        .error_description(
            gatehouse_types::ErrorDescription::new("Additional file write permission required")
                .unwrap(),
        )
        .build()
        .unwrap();
    let header = challenge.to_header_value();
    assert_eq!(
        header,
        r#"Bearer scope="files:read files:write", error="insufficient_scope", error_description="Additional file write permission required", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource""#
    );
    assert_eq!(BearerChallenge::parse(&header).unwrap(), challenge);
}
