//! The example documents of RFC 7591 and RFC 7592 (files in `tests/vectors/`, see its README):
//! each parses, validates, round-trips, and meets the default policy where the example is a
//! registration Gatehouse accepts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_registration::{
    ClientInformationResponse, ClientMetadataPolicy, ClientUpdateRequest, OAuthError,
    RegistrationError, RegistrationRequest, RegistrationResponse, SoftwareStatementRule,
};
use gatehouse_types::{
    ClientId, ErrorCode, ErrorResponse, GrantType, ResponseType, TokenEndpointAuthMethod, UnixTime,
};
use serde_json::Value;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Parse → serialize equals the example as JSON, and serialize → parse → serialize is stable.
fn assert_round_trips(example: &[u8], serialized: &str) {
    assert_eq!(json(serialized.as_bytes()), json(example));
}

#[test]
fn rfc7591_section_3_1_open_registration_example() {
    let example = vector("rfc7591_section_3_1_open_registration.json");
    let request = RegistrationRequest::from_json(&example).unwrap();
    request.validate().unwrap();
    assert_round_trips(&example, &request.to_json());
    assert_eq!(
        RegistrationRequest::from_json(request.to_json().as_bytes()).unwrap(),
        request
    );
    assert_eq!(
        request.redirect_uris.as_deref().unwrap(),
        [
            "https://client.example.org/callback",
            "https://client.example.org/callback2"
        ]
    );
    assert_eq!(
        request.extra["client_name#ja-Jpan-JP"],
        "\u{30AF}\u{30E9}\u{30A4}\u{30A2}\u{30F3}\u{30C8}\u{540D}"
    );

    let registered = ClientMetadataPolicy::new().check(&request).unwrap();
    assert_eq!(registered.grant_types(), [GrantType::AuthorizationCode]);
    assert_eq!(registered.response_types(), [ResponseType::Code]);
    assert_eq!(
        registered.token_endpoint_auth_method(),
        &TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert!(registered.needs_client_secret());
    assert_eq!(registered.redirect_uris().len(), 2);
    assert_eq!(
        registered.jwks_uri(),
        Some("https://client.example.org/my_public_keys.jwks")
    );
    // §2.2: the language-tagged name is understood and kept; §2: the unknown extension is not.
    assert!(
        registered
            .localized()
            .contains_key("client_name#ja-Jpan-JP")
    );
    let returned = registered.to_metadata();
    assert!(returned.extra.contains_key("client_name#ja-Jpan-JP"));
    assert!(!returned.extra.contains_key("example_extension_parameter"));
}

#[test]
fn rfc7591_section_3_1_authorized_registration_example() {
    let example = vector("rfc7591_section_3_1_authorized_registration.json");
    let request = RegistrationRequest::from_json(&example).unwrap();
    request.validate().unwrap();
    assert_round_trips(&example, &request.to_json());
    assert_eq!(request.jwks.as_ref().unwrap()["keys"][0]["kty"], "RSA");

    let registered = ClientMetadataPolicy::new().check(&request).unwrap();
    assert_eq!(
        registered.policy_uri(),
        Some("https://client.example.org/policy.html")
    );
    assert_eq!(registered.jwks(), request.jwks.as_ref());
}

#[test]
fn rfc7591_section_3_1_1_software_statement_example() {
    let example = vector("rfc7591_section_3_1_1_software_statement.json");
    let request = RegistrationRequest::from_json(&example).unwrap();
    request.validate().unwrap();
    assert_round_trips(&example, &request.to_json());
    assert!(
        request
            .software_statement
            .as_ref()
            .unwrap()
            .starts_with("eyJhbGciOiJSUzI1NiJ9.")
    );

    // The default policy ignores software statements (RFC 7591 §2.3 "MAY ignore").
    let registered = ClientMetadataPolicy::new().check(&request).unwrap();
    assert_eq!(registered.scope().unwrap().to_string(), "read write");
    // §3.2.1: "its value MUST be returned unmodified in the response".
    assert_eq!(
        registered.to_metadata().software_statement,
        request.software_statement
    );

    let refusing =
        ClientMetadataPolicy::new().with_software_statements(SoftwareStatementRule::Refuse);
    let error = refusing.check(&request).unwrap_err();
    assert_eq!(error, RegistrationError::UnapprovedSoftwareStatement);
    assert_eq!(error.error_code(), ErrorCode::UnapprovedSoftwareStatement);
}

#[test]
fn rfc7591_section_3_2_1_response_example() {
    let example = vector("rfc7591_section_3_2_1_response.json");
    let response = RegistrationResponse::from_json(&example).unwrap();
    response.validate().unwrap();
    assert_round_trips(&example, &response.to_json());
    assert_eq!(response.client_id.as_str(), "s6BhdRkqt3");
    assert_eq!(
        response.client_secret.as_ref().unwrap().expose_secret(),
        "cf136dc3c1fc93f31185e5885805d"
    );
    assert_eq!(
        response.client_id_issued_at,
        Some(UnixTime::from_secs(2893256800))
    );
    assert_eq!(
        response.client_secret_expires_at,
        Some(UnixTime::from_secs(2893276800))
    );
    assert!(!format!("{response:?}").contains("cf136dc3"));

    // The registered metadata it reports is itself acceptable under the default policy.
    let registered = ClientMetadataPolicy::new()
        .check(&response.metadata)
        .unwrap();
    assert_eq!(
        registered.grant_types(),
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
}

#[test]
fn rfc7591_section_3_2_1_response_is_rebuilt_by_the_builder() {
    let example = vector("rfc7591_section_3_2_1_response.json");
    let parsed = RegistrationResponse::from_json(&example).unwrap();
    let built = RegistrationResponse::builder(ClientId::new("s6BhdRkqt3").unwrap())
        .client_secret(
            gatehouse_registration::ClientSecret::new("cf136dc3c1fc93f31185e5885805d"),
            UnixTime::from_secs(2893276800),
        )
        .client_id_issued_at(UnixTime::from_secs(2893256800))
        .metadata(parsed.metadata.clone())
        .build();
    assert_eq!(json(built.to_json().as_bytes()), json(&example));
}

#[test]
fn rfc7591_section_3_2_2_error_examples() {
    for (file, code) in [
        (
            "rfc7591_section_3_2_2_invalid_redirect_uri.json",
            ErrorCode::InvalidRedirectUri,
        ),
        (
            "rfc7591_section_3_2_2_invalid_client_metadata.json",
            ErrorCode::InvalidClientMetadata,
        ),
    ] {
        let example = vector(file);
        let error = ErrorResponse::from_json(&example).unwrap();
        assert_eq!(error.error, code, "{file}");
        assert_eq!(error.http_status(), 400);
        assert_eq!(
            json(serde_json::to_string(&error).unwrap().as_bytes()),
            json(&example)
        );
    }
}

#[test]
fn rfc7591_section_3_2_2_error_examples_are_what_the_policy_answers() {
    // The first example: an http redirect URI on a host that is not loopback.
    let request =
        RegistrationRequest::from_json(br#"{"redirect_uris":["http://sketchy.example.com"]}"#)
            .unwrap();
    let error = ClientMetadataPolicy::new().check(&request).unwrap_err();
    let body = error.error_response();
    assert_eq!(body.error, ErrorCode::InvalidRedirectUri);
    assert!(
        body.error_description
            .unwrap()
            .as_str()
            .contains("http://sketchy.example.com")
    );

    // The second example: authorization_code registered with only the implicit response type,
    // on a server that offers both.
    let policy = ClientMetadataPolicy::new()
        .with_grant_types([GrantType::AuthorizationCode, GrantType::Implicit])
        .with_response_types([ResponseType::Code, ResponseType::Token]);
    let request = RegistrationRequest::from_json(
        br#"{"redirect_uris":["https://client.example.org/callback"],
            "grant_types":["authorization_code"],"response_types":["token"]}"#,
    )
    .unwrap();
    let error = policy.check(&request).unwrap_err();
    let body: Value = serde_json::to_value(error.error_response()).unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("the grant type 'authorization_code' must be registered along with")
    );
}

#[test]
fn rfc7592_section_2_2_update_request_example() {
    let example = vector("rfc7592_section_2_2_update_request.json");
    let update = ClientUpdateRequest::from_json(&example).unwrap();
    let current = ClientId::new("s6BhdRkqt3").unwrap();
    update.validate_for(&current).unwrap();
    assert_round_trips(&example, &update.to_json());
    assert_eq!(
        update.client_secret().unwrap().expose_secret(),
        "cf136dc3c1fc93f31185e5885805d"
    );
    assert!(!format!("{update:?}").contains("cf136dc3"));

    let registered = ClientMetadataPolicy::new()
        .check_update(&update, &current)
        .unwrap();
    assert_eq!(
        registered.redirect_uris()[1].as_str(),
        "https://client.example.org/alt"
    );
    assert_eq!(registered.client_name(), Some("My New Example"));
    assert_eq!(
        registered.localized()["client_name#fr"],
        "Mon Nouvel Exemple"
    );
    assert_eq!(
        registered.localized()["logo_uri#fr"],
        "https://client.example.org/fr/newlogo.png"
    );
}

#[test]
fn rfc7592_section_3_read_response_example() {
    let example = vector("rfc7592_section_3_read_response.json");
    let response = ClientInformationResponse::from_json(&example).unwrap();
    response.validate().unwrap();
    assert_round_trips(&example, &response.to_json());
    assert_eq!(
        response
            .registration_access_token
            .as_ref()
            .unwrap()
            .expose_secret(),
        "reg-23410913-abewfq.123483"
    );
    assert_eq!(
        response.registration_client_uri.as_deref(),
        Some("https://server.example.com/register/s6BhdRkqt3")
    );
    assert!(!format!("{response:?}").contains("reg-23410913"));
    ClientMetadataPolicy::new()
        .check(&response.metadata)
        .unwrap();
}
