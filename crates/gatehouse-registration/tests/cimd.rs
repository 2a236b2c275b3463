//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, as MCP
//! 2025-11-25 cites it): the URL rules of §3 and the document rules of §4.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_registration::{
    CimdError, ClientIdMetadataDocument, ClientMetadataPolicy, OAuthError, RegistrationError,
    validate_client_id_url,
};
use gatehouse_types::uri::WebUrlError;
use gatehouse_types::{ClientId, ErrorCode, TokenEndpointAuthMethod};
use serde_json::{Value, json};

const URL: &str = "https://app.example.com/oauth/client-metadata.json";

fn mcp_example() -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/mcp_2025_11_25_client_id_metadata_document.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

fn document(members: Value) -> ClientIdMetadataDocument {
    let mut body = json!({
        "client_id": URL,
        "client_name": "Example MCP Client",
        "redirect_uris": ["http://127.0.0.1:3000/callback"],
        "token_endpoint_auth_method": "none"
    });
    for (k, v) in members.as_object().unwrap() {
        body[k] = v.clone();
    }
    ClientIdMetadataDocument::from_json(body.to_string().as_bytes()).unwrap()
}

// ----- the MCP example --------------------------------------------------------------------------

#[test]
fn mcp_2025_11_25_example_document() {
    let example = mcp_example();
    let doc = ClientIdMetadataDocument::from_json(&example).unwrap();
    doc.validate(URL).unwrap();
    let again: Value = serde_json::from_str(&doc.to_json()).unwrap();
    assert_eq!(again, serde_json::from_slice::<Value>(&example).unwrap());
    assert_eq!(
        ClientIdMetadataDocument::from_json(doc.to_json().as_bytes()).unwrap(),
        doc
    );
    let registered = ClientMetadataPolicy::new()
        .check_metadata_document(&doc, URL)
        .unwrap();
    assert!(!registered.needs_client_secret());
    assert_eq!(registered.client_name(), Some("Example MCP Client"));
    assert_eq!(registered.redirect_uris().len(), 2);
    assert!(ClientId::new(URL).unwrap().is_metadata_document_url());
}

// ----- §3: the client identifier URL ------------------------------------------------------------

#[test]
fn draft_section_3_url_must_have_https_scheme() {
    for url in [
        "http://app.example.com/client.json",
        "HTTPS://app.example.com/client.json",
        "ftp://app.example.com/client.json",
        "app.example.com/client.json",
        "",
    ] {
        assert_eq!(
            validate_client_id_url(url),
            Err(CimdError::NotHttps),
            "{url}"
        );
    }
}

#[test]
fn draft_section_3_url_must_contain_a_path_component() {
    assert_eq!(
        validate_client_id_url("https://app.example.com"),
        Err(CimdError::MissingPath)
    );
    assert_eq!(
        validate_client_id_url("https://app.example.com?x=1"),
        Err(CimdError::MissingPath)
    );
    // "/" is a path component; draft -02 only calls it NOT RECOMMENDED.
    validate_client_id_url("https://app.example.com/").unwrap();
}

#[test]
fn draft_section_3_url_must_not_contain_dot_segments() {
    for url in [
        "https://app.example.com/./client.json",
        "https://app.example.com/../client.json",
        "https://app.example.com/a/..",
        "https://app.example.com/a/.",
        "https://app.example.com/%2e/client.json",
        "https://app.example.com/%2E%2E/client.json",
        "https://app.example.com/a/.%2e/client.json",
    ] {
        assert_eq!(
            validate_client_id_url(url),
            Err(CimdError::DotSegment),
            "{url}"
        );
    }
    validate_client_id_url("https://app.example.com/.well-known/client").unwrap();
    validate_client_id_url("https://app.example.com/a...b/client.json").unwrap();
}

#[test]
fn draft_section_3_url_must_not_contain_a_fragment() {
    assert_eq!(
        validate_client_id_url("https://app.example.com/client.json#x"),
        Err(CimdError::Fragment)
    );
    assert_eq!(
        validate_client_id_url("https://app.example.com/client.json#"),
        Err(CimdError::Fragment)
    );
}

#[test]
fn draft_section_3_url_must_not_contain_username_or_password() {
    for url in [
        "https://user@app.example.com/client.json",
        "https://user:pass@app.example.com/client.json",
        "https://app.example.com@evil.example/client.json",
    ] {
        assert_eq!(
            validate_client_id_url(url),
            Err(CimdError::Userinfo),
            "{url}"
        );
    }
}

#[test]
fn draft_section_3_url_may_contain_port_and_query() {
    validate_client_id_url("https://app.example.com:8443/client.json").unwrap();
    validate_client_id_url("https://app.example.com/client.json?v=2").unwrap();
}

#[test]
fn draft_section_3_malformed_urls_are_refused() {
    for (url, reason) in [
        (
            "https://app.example.com/cli ent.json",
            WebUrlError::InvalidCharacter,
        ),
        (
            "https://app.example.com\\client.json",
            WebUrlError::InvalidCharacter,
        ),
        ("https:///client.json", WebUrlError::NotAbsolute),
        (
            "https://app.example.com:0/client.json",
            WebUrlError::InvalidPort,
        ),
    ] {
        assert_eq!(
            validate_client_id_url(url),
            Err(CimdError::Malformed(reason)),
            "{url}"
        );
    }
    let long = format!("https://app.example.com/{}", "a".repeat(2048));
    assert_eq!(
        validate_client_id_url(&long),
        Err(CimdError::Malformed(WebUrlError::TooLong))
    );
}

// ----- §4.1: the document -----------------------------------------------------------------------

#[test]
fn draft_section_4_1_client_id_must_match_the_url_exactly() {
    let doc = document(json!({}));
    doc.validate(URL).unwrap();
    for fetched in [
        "https://app.example.com/oauth/client-metadata.json/",
        "https://app.example.com:443/oauth/client-metadata.json",
        "https://APP.example.com/oauth/client-metadata.json",
        "https://app.example.com/oauth/client%2Dmetadata.json",
        "https://evil.example/oauth/client-metadata.json",
    ] {
        let error = doc.validate(fetched).unwrap_err();
        assert_eq!(
            error,
            RegistrationError::MetadataDocumentClientIdMismatch,
            "{fetched}"
        );
        assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
    }
}

#[test]
fn draft_section_4_1_the_fetched_url_must_be_a_client_identifier_url() {
    let doc = document(json!({"client_id": "http://app.example.com/c.json"}));
    assert_eq!(
        doc.validate("http://app.example.com/c.json"),
        Err(RegistrationError::ClientIdUrl(CimdError::NotHttps))
    );
}

#[test]
fn draft_section_4_1_must_not_use_a_shared_secret_method() {
    for method in [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::ClientSecretJwt,
    ] {
        let doc = document(json!({"token_endpoint_auth_method": method.as_str()}));
        assert_eq!(
            doc.validate(URL),
            Err(RegistrationError::SharedSecretInMetadataDocument(
                method.as_str().to_owned()
            ))
        );
    }
}

#[test]
fn draft_section_4_1_must_not_use_client_secret() {
    for (member, value) in [
        ("client_secret", json!("s3cr3t")),
        ("client_secret_expires_at", json!(0)),
    ] {
        let doc = document(json!({ member: value }));
        let error = doc.validate(URL).unwrap_err();
        assert!(
            matches!(error, RegistrationError::ClientSecretInMetadataDocument(m) if m == member)
        );
    }
}

#[test]
fn draft_section_4_5_redirect_uris_are_required() {
    for redirect_uris in [Value::Null, json!([])] {
        let doc = document(json!({ "redirect_uris": redirect_uris }));
        let error = doc.validate(URL).unwrap_err();
        assert_eq!(error, RegistrationError::MissingRedirectUris);
        assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri);
    }
}

#[test]
fn mcp_2025_11_25_client_name_is_required() {
    let doc = document(json!({ "client_name": Value::Null }));
    assert_eq!(doc.validate(URL), Err(RegistrationError::MissingClientName));
}

#[test]
fn draft_02_section_4_1_private_key_material_must_not_be_included() {
    let doc = document(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "a", "d": "b"}]}
    }));
    assert_eq!(
        doc.validate(URL),
        Err(RegistrationError::PrivateKeyMaterial)
    );
}

#[test]
fn omitted_auth_method_means_none_for_a_document() {
    let doc = document(json!({ "token_endpoint_auth_method": Value::Null }));
    doc.validate(URL).unwrap();
    let registered = ClientMetadataPolicy::new()
        .check_metadata_document(&doc, URL)
        .unwrap();
    assert_eq!(
        registered.token_endpoint_auth_method(),
        &TokenEndpointAuthMethod::None
    );
}

#[test]
fn private_key_jwt_documents_register_when_the_policy_allows_it() {
    let doc = document(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://app.example.com/jwks.json"
    }));
    doc.validate(URL).unwrap();
    let default = ClientMetadataPolicy::new().check_metadata_document(&doc, URL);
    assert_eq!(
        default.unwrap_err(),
        RegistrationError::UnsupportedAuthMethod("private_key_jwt".into())
    );
    let policy = ClientMetadataPolicy::new().with_auth_methods([
        TokenEndpointAuthMethod::None,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ]);
    policy.check_metadata_document(&doc, URL).unwrap();
}

#[test]
fn documents_go_through_the_normal_policy() {
    let doc = document(json!({"redirect_uris": ["javascript:alert(1)"]}));
    let error = ClientMetadataPolicy::new()
        .check_metadata_document(&doc, URL)
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri);
    let doc = document(json!({"logo_uri": "http://app.example.com/logo.png"}));
    assert!(
        ClientMetadataPolicy::new()
            .check_metadata_document(&doc, URL)
            .is_err()
    );
}

#[test]
fn document_without_client_id_does_not_parse() {
    let error = ClientIdMetadataDocument::from_json(
        br#"{"client_name":"x","redirect_uris":["http://localhost/cb"]}"#,
    )
    .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
}
