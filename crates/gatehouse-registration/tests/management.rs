//! RFC 7592 §2.2: the rules of a client update request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_registration::{
    ClientMetadata, ClientMetadataPolicy, ClientSecret, ClientUpdateRequest,
    FORBIDDEN_UPDATE_MEMBERS, OAuthError, RegistrationError,
};
use gatehouse_types::{ClientId, ErrorCode, RedirectUri};
use serde_json::json;

fn current() -> ClientId {
    ClientId::new("s6BhdRkqt3").unwrap()
}

fn update(body: serde_json::Value) -> ClientUpdateRequest {
    ClientUpdateRequest::from_json(body.to_string().as_bytes()).unwrap()
}

#[test]
fn rfc7592_section_2_2_must_include_client_id() {
    let error = ClientUpdateRequest::from_json(
        br#"{"redirect_uris":["https://client.example.org/callback"]}"#,
    )
    .unwrap_err();
    assert!(matches!(error, RegistrationError::MalformedJson(ref m) if m.contains("client_id")));
    assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
}

#[test]
fn rfc7592_section_2_2_client_id_must_be_the_current_one() {
    let request = update(json!({
        "client_id": "someone-else",
        "redirect_uris": ["https://client.example.org/callback"]
    }));
    assert_eq!(
        request.validate_for(&current()),
        Err(RegistrationError::ClientIdMismatch)
    );
    assert_eq!(
        ClientMetadataPolicy::new()
            .check_update(&request, &current())
            .unwrap_err(),
        RegistrationError::ClientIdMismatch
    );
}

#[test]
fn rfc7592_section_2_2_must_not_include_server_provisioned_members() {
    for member in FORBIDDEN_UPDATE_MEMBERS {
        let mut body = json!({
            "client_id": "s6BhdRkqt3",
            "redirect_uris": ["https://client.example.org/callback"]
        });
        body[member] = json!("x");
        let request = update(body);
        let error = request.validate_for(&current()).unwrap_err();
        assert_eq!(error, RegistrationError::ForbiddenUpdateMember(member));
        assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
    }
}

#[test]
fn rfc7592_section_2_2_client_secret_is_exposed_for_comparison_not_compared() {
    let request = update(json!({
        "client_id": "s6BhdRkqt3",
        "client_secret": "wrong-or-right",
        "redirect_uris": ["https://client.example.org/callback"]
    }));
    // This crate cannot know the current secret; the engine compares in constant time.
    request.validate_for(&current()).unwrap();
    assert_eq!(
        request.client_secret().unwrap().expose_secret(),
        "wrong-or-right"
    );
    // The secret never reaches the registered metadata.
    let registered = ClientMetadataPolicy::new()
        .check_update(&request, &current())
        .unwrap();
    assert!(
        !registered
            .to_metadata()
            .to_json()
            .contains("wrong-or-right")
    );
}

#[test]
fn rfc7592_section_2_2_omitted_fields_are_deleted() {
    // The update is the whole new registration: a client_name not repeated is gone.
    let request = update(json!({
        "client_id": "s6BhdRkqt3",
        "redirect_uris": ["https://client.example.org/callback"]
    }));
    let registered = ClientMetadataPolicy::new()
        .check_update(&request, &current())
        .unwrap();
    assert_eq!(registered.client_name(), None);
}

#[test]
fn rfc7592_section_2_2_update_metadata_follows_the_policy() {
    let request = update(json!({
        "client_id": "s6BhdRkqt3",
        "redirect_uris": ["http://evil.example/cb"]
    }));
    let error = ClientMetadataPolicy::new()
        .check_update(&request, &current())
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri);
}

#[test]
fn builder_round_trips() {
    let metadata = ClientMetadata::builder()
        .redirect_uri(RedirectUri::new("https://client.example.org/callback").unwrap())
        .client_name("My New Example")
        .build();
    let request = ClientUpdateRequest::builder(current(), metadata)
        .client_secret(ClientSecret::new("cf136dc3c1fc93f31185e5885805d"))
        .build();
    let parsed = ClientUpdateRequest::from_json(request.to_json().as_bytes()).unwrap();
    assert_eq!(parsed.to_json(), request.to_json());
    parsed.validate_for(&current()).unwrap();
}
