//! Properties: every document type round-trips through JSON, and no parser, validation or
//! policy decision panics on any input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::collections::BTreeMap;

use gatehouse_registration::{
    ApplicationType, ClientIdMetadataDocument, ClientMetadata, ClientMetadataPolicy, ClientSecret,
    ClientUpdateRequest, OAuthError, RegisteredClientMetadata, RegistrationAccessToken,
    RegistrationError, RegistrationResponse, ScopeRule, SoftwareStatementRule,
    validate_client_id_url,
};
use gatehouse_types::{
    ClientId, ErrorCode, ErrorDescription, GrantType, ResponseType, Scope, ScopeSet,
    TokenEndpointAuthMethod, UnixTime,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ----- generators -------------------------------------------------------------------------------

fn host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,9}\\.(com|org|example)"
}

fn https_url() -> impl Strategy<Value = String> {
    (host(), "(/[a-z0-9_-]{1,8}){0,3}").prop_map(|(h, p)| format!("https://{h}{p}"))
}

fn redirect_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        https_url(),
        (1u16..=65535).prop_map(|p| format!("http://127.0.0.1:{p}/callback")),
        (1u16..=65535).prop_map(|p| format!("http://localhost:{p}/callback")),
        "[a-z]{2,8}(\\.[a-z]{2,8}){1,2}".prop_map(|s| format!("{s}:/oauth/callback")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 .,'()\u{e9}\u{30af}-]{1,30}"
}

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::collection::vec("[a-z][a-z:._-]{0,10}", 0..4)
        .prop_map(|v| v.into_iter().map(|s| Scope::new(s).unwrap()).collect())
}

fn grant_types() -> impl Strategy<Value = Vec<GrantType>> {
    prop::sample::subsequence(
        vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::Implicit,
            GrantType::DeviceCode,
        ],
        0..=5,
    )
}

fn response_types() -> impl Strategy<Value = Vec<ResponseType>> {
    prop::sample::subsequence(vec![ResponseType::Code, ResponseType::Token], 0..=2)
}

fn auth_method() -> impl Strategy<Value = TokenEndpointAuthMethod> {
    prop::sample::select(vec![
        TokenEndpointAuthMethod::None,
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::ClientSecretJwt,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ])
}

fn application_type() -> impl Strategy<Value = ApplicationType> {
    prop::sample::select(vec![ApplicationType::Web, ApplicationType::Native])
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Unknown members, prefixed `x_` so they never collide with known ones, plus sometimes a
/// language-tagged name.
fn extra() -> impl Strategy<Value = BTreeMap<String, Value>> {
    (
        prop::collection::btree_map("x_[a-z0-9_]{1,8}", json_value(), 0..3),
        proptest::option::of(("[a-z]{2}(-[A-Z]{2})?", text())),
    )
        .prop_map(|(mut extra, tagged)| {
            if let Some((tag, name)) = tagged {
                extra.insert(format!("client_name#{tag}"), Value::from(name));
            }
            extra
        })
}

fn jwks() -> impl Strategy<Value = Value> {
    "[A-Za-z0-9_-]{4,40}".prop_map(|n| json!({"keys": [{"kty": "RSA", "e": "AQAB", "n": n}]}))
}

prop_compose! {
    fn client_metadata()(
        redirect_uris in proptest::option::of(prop::collection::vec(redirect_uri(), 0..4)),
        token_endpoint_auth_method in proptest::option::of(auth_method()),
        grant_types in proptest::option::of(grant_types()),
        response_types in proptest::option::of(response_types()),
        client_name in proptest::option::of(text()),
        urls in prop::collection::vec(proptest::option::of(https_url()), 4),
        scope in proptest::option::of(scope_set()),
        contacts in proptest::option::of(prop::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.org", 0..3)),
        keys in prop_oneof![
            Just((None, None)),
            https_url().prop_map(|u| (Some(u), None)),
            jwks().prop_map(|j| (None, Some(j))),
        ],
        software in (proptest::option::of(text()), proptest::option::of(text())),
        software_statement in proptest::option::of("[A-Za-z0-9_-]{4,20}\\.[A-Za-z0-9_-]{4,20}\\.[A-Za-z0-9_-]{4,20}"),
        application_type in proptest::option::of(application_type()),
        extra in extra(),
    ) -> ClientMetadata {
        ClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name,
            client_uri: urls[0].clone(),
            logo_uri: urls[1].clone(),
            scope,
            contacts,
            tos_uri: urls[2].clone(),
            policy_uri: urls[3].clone(),
            jwks_uri: keys.0,
            jwks: keys.1,
            software_id: software.0,
            software_version: software.1,
            software_statement,
            application_type,
            dpop_bound_access_tokens: None,
            extra,
        }
    }
}

// Metadata the default policy must accept: what well-behaved MCP clients send.
prop_compose! {
    fn acceptable_metadata()(
        base in client_metadata(),
        redirect_uris in prop::collection::vec(redirect_uri(), 1..4),
        refresh in any::<bool>(),
        explicit_types in any::<bool>(),
        method in prop::sample::select(vec![
            TokenEndpointAuthMethod::None,
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::ClientSecretPost,
        ]),
        native in any::<bool>(),
    ) -> ClientMetadata {
        let mut m = base;
        m.redirect_uris = Some(redirect_uris);
        m.grant_types = match (explicit_types, refresh) {
            (false, _) => None,
            (true, false) => Some(vec![GrantType::AuthorizationCode]),
            (true, true) => Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        };
        m.response_types = explicit_types.then(|| vec![ResponseType::Code]);
        m.token_endpoint_auth_method = Some(method);
        m.application_type = native.then_some(ApplicationType::Native);
        m
    }
}

fn client_id() -> impl Strategy<Value = ClientId> {
    "[A-Za-z0-9_-]{1,32}".prop_map(|s| ClientId::new(s).unwrap())
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,48}"
}

prop_compose! {
    fn registration_response()(
        client_id in client_id(),
        client_secret in proptest::option::of((secret(), any::<u32>())),
        issued_at in proptest::option::of(any::<u32>()),
        management in proptest::option::of((secret(), https_url())),
        metadata in client_metadata(),
    ) -> RegistrationResponse {
        let mut builder = RegistrationResponse::builder(client_id).metadata(metadata);
        if let Some((secret, expires)) = client_secret {
            builder = builder.client_secret(
                ClientSecret::new(secret),
                UnixTime::from_secs(u64::from(expires)),
            );
        }
        if let Some(issued) = issued_at {
            builder = builder.client_id_issued_at(UnixTime::from_secs(u64::from(issued)));
        }
        if let Some((token, uri)) = management {
            builder = builder.management(RegistrationAccessToken::new(token), uri);
        }
        builder.build()
    }
}

prop_compose! {
    fn update_request()(
        client_id in client_id(),
        secret in proptest::option::of(secret()),
        metadata in client_metadata(),
    ) -> ClientUpdateRequest {
        let mut builder = ClientUpdateRequest::builder(client_id, metadata);
        if let Some(secret) = secret {
            builder = builder.client_secret(ClientSecret::new(secret));
        }
        builder.build()
    }
}

fn client_id_url() -> impl Strategy<Value = String> {
    (
        host(),
        "(/[a-z0-9_-]{1,8}){1,3}",
        proptest::option::of("[a-z]=[0-9]{1,3}"),
    )
        .prop_map(|(h, p, q)| match q {
            Some(q) => format!("https://{h}{p}?{q}"),
            None => format!("https://{h}{p}"),
        })
}

prop_compose! {
    fn metadata_document()(url in client_id_url(), metadata in client_metadata()) -> ClientIdMetadataDocument {
        ClientIdMetadataDocument::new(ClientId::new(url).unwrap(), metadata)
    }
}

// Metadata with hostile strings wherever the document holds a string.
prop_compose! {
    fn hostile_metadata()(
        base in client_metadata(),
        redirect_uris in proptest::option::of(prop::collection::vec(any::<String>(), 0..4)),
        urls in prop::collection::vec(proptest::option::of(any::<String>()), 5),
        texts in prop::collection::vec(proptest::option::of(any::<String>()), 4),
        contacts in proptest::option::of(prop::collection::vec(any::<String>(), 0..3)),
        jwks in proptest::option::of(json_value()),
        tagged in prop::collection::btree_map(
            "(client_name|client_uri|logo_uri|tos_uri|policy_uri)#[a-zA-Z0-9-]{0,6}",
            json_value(),
            0..3,
        ),
    ) -> ClientMetadata {
        let mut m = base;
        m.redirect_uris = redirect_uris;
        m.client_uri = urls[0].clone();
        m.logo_uri = urls[1].clone();
        m.tos_uri = urls[2].clone();
        m.policy_uri = urls[3].clone();
        m.jwks_uri = urls[4].clone();
        m.client_name = texts[0].clone();
        m.software_id = texts[1].clone();
        m.software_version = texts[2].clone();
        m.software_statement = texts[3].clone();
        m.contacts = contacts;
        m.jwks = jwks;
        m.extra.extend(tagged);
        m
    }
}

fn policies() -> Vec<ClientMetadataPolicy> {
    let allowed = ScopeSet::parse("a b mcp:tools").unwrap();
    vec![
        ClientMetadataPolicy::new(),
        ClientMetadataPolicy::new()
            .with_grant_types([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Implicit,
                GrantType::ClientCredentials,
            ])
            .with_response_types([ResponseType::Code, ResponseType::Token])
            .with_auth_methods([
                TokenEndpointAuthMethod::None,
                TokenEndpointAuthMethod::PrivateKeyJwt,
                TokenEndpointAuthMethod::ClientSecretBasic,
            ])
            .with_scopes(ScopeRule::Narrow(allowed.clone())),
        ClientMetadataPolicy::new()
            .with_scopes(ScopeRule::Restrict(allowed))
            .with_software_statements(SoftwareStatementRule::Refuse)
            .with_max_redirect_uris(2),
    ]
}

/// What every error must satisfy: one of the RFC 7591 §3.2.2 codes, and a valid error body.
fn assert_wire_error(error: &RegistrationError) {
    assert!(matches!(
        error.error_code(),
        ErrorCode::InvalidRedirectUri
            | ErrorCode::InvalidClientMetadata
            | ErrorCode::InvalidSoftwareStatement
            | ErrorCode::UnapprovedSoftwareStatement
    ));
    let body = error.error_response();
    assert_eq!(body.http_status(), 400);
    let description = body.error_description.unwrap();
    assert!(ErrorDescription::new(description.as_str()).is_ok());
    assert!(!description.as_str().is_empty());
}

/// Decides with every policy; whatever is accepted is accepted again, unchanged, when the
/// server's own answer is checked (the registered metadata is a fixed point).
fn decide(metadata: &ClientMetadata) {
    let _ = metadata.validate();
    for policy in policies() {
        match policy.check(metadata) {
            Ok(registered) => {
                let returned = registered.to_metadata();
                returned.validate().unwrap();
                let again = policy.check(&returned).unwrap();
                assert_eq!(again, registered);
                // What a store writes, it reads back, whatever the policy was.
                let restored = RegisteredClientMetadata::restore(&returned).unwrap();
                assert_eq!(restored, registered);
                assert!(
                    !registered.redirect_uris().is_empty()
                        || !registered.has_grant_type(&GrantType::AuthorizationCode)
                );
            }
            Err(error) => assert_wire_error(&error),
        }
    }
}

// ----- round trips ------------------------------------------------------------------------------

proptest! {
    #[test]
    fn client_metadata_round_trips(metadata in client_metadata()) {
        let json = metadata.to_json();
        let parsed = ClientMetadata::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &metadata);
        prop_assert_eq!(parsed.to_json(), json);
    }

    #[test]
    fn registration_response_round_trips(response in registration_response()) {
        let json = response.to_json();
        let parsed = RegistrationResponse::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(parsed.to_json(), json);
        prop_assert_eq!(&parsed.metadata, &response.metadata);
        prop_assert_eq!(&parsed.client_secret, &response.client_secret);
        prop_assert_eq!(
            &parsed.registration_access_token,
            &response.registration_access_token
        );
        // Built with the builder, the response's own MUSTs always hold.
        if response.metadata.validate().is_ok() {
            prop_assert!(response.validate().is_ok());
        }
    }

    #[test]
    fn client_update_request_round_trips(request in update_request()) {
        let json = request.to_json();
        let parsed = ClientUpdateRequest::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(parsed.to_json(), json);
        prop_assert_eq!(&parsed.client_id, &request.client_id);
        prop_assert_eq!(&parsed.metadata, &request.metadata);
        prop_assert_eq!(parsed.client_secret(), request.client_secret());
    }

    #[test]
    fn metadata_document_round_trips(document in metadata_document()) {
        let json = document.to_json();
        let parsed = ClientIdMetadataDocument::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &document);
        prop_assert_eq!(parsed.to_json(), json);
    }

    #[test]
    fn generated_client_id_urls_are_valid(url in client_id_url()) {
        prop_assert_eq!(validate_client_id_url(&url), Ok(()));
    }

    #[test]
    fn registered_metadata_is_a_fixed_point(metadata in client_metadata()) {
        decide(&metadata);
    }

    #[test]
    fn well_formed_mcp_registrations_are_accepted(metadata in acceptable_metadata()) {
        let policy = ClientMetadataPolicy::new();
        let registered = policy.check(&metadata).unwrap();
        prop_assert_eq!(policy.check(&registered.to_metadata()).unwrap(), registered.clone());
        // Redirect URIs are kept as sent, in order, without duplicates.
        let mut unique: Vec<&str> = Vec::new();
        for uri in metadata.redirect_uris.iter().flatten() {
            if !unique.contains(&uri.as_str()) {
                unique.push(uri);
            }
        }
        let registered_uris: Vec<&str> =
            registered.redirect_uris().iter().map(|u| u.as_str()).collect();
        prop_assert_eq!(registered_uris, unique);
        // Unknown members are dropped, language-tagged names kept (RFC 7591 §2, §2.2).
        for key in registered.to_metadata().extra.keys() {
            prop_assert!(key.starts_with("client_name#"));
        }
    }
}

// ----- never panic ------------------------------------------------------------------------------

proptest! {
    #[test]
    fn parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(metadata) = ClientMetadata::from_json(&bytes) {
            decide(&metadata);
        }
        if let Ok(response) = RegistrationResponse::from_json(&bytes) {
            let _ = response.validate();
        }
        if let Ok(update) = ClientUpdateRequest::from_json(&bytes) {
            let _ = update.validate_for(&ClientId::new("c").unwrap());
        }
        if let Ok(document) = ClientIdMetadataDocument::from_json(&bytes) {
            let _ = document.validate("https://a.example/c");
        }
    }

    #[test]
    fn parsers_never_panic_on_json_objects(
        object in prop::collection::btree_map(
            prop_oneof![
                Just("redirect_uris".to_owned()),
                Just("grant_types".to_owned()),
                Just("response_types".to_owned()),
                Just("token_endpoint_auth_method".to_owned()),
                Just("scope".to_owned()),
                Just("jwks".to_owned()),
                Just("jwks_uri".to_owned()),
                Just("client_id".to_owned()),
                Just("client_secret".to_owned()),
                Just("client_secret_expires_at".to_owned()),
                Just("registration_access_token".to_owned()),
                Just("application_type".to_owned()),
                Just("logo_uri#fr".to_owned()),
                "[a-z_#]{1,12}",
            ],
            json_value(),
            0..8,
        ),
    ) {
        let bytes = Value::Object(object.into_iter().collect()).to_string().into_bytes();
        if let Ok(metadata) = ClientMetadata::from_json(&bytes) {
            decide(&metadata);
        }
        if let Ok(response) = RegistrationResponse::from_json(&bytes) {
            let _ = response.validate();
        }
        if let Ok(update) = ClientUpdateRequest::from_json(&bytes) {
            let _ = update.validate();
            for policy in policies() {
                let _ = policy.check_update(&update, &update.client_id);
            }
        }
        if let Ok(document) = ClientIdMetadataDocument::from_json(&bytes) {
            for policy in policies() {
                let _ = policy.check_metadata_document(&document, document.client_id.as_str());
            }
        }
    }

    #[test]
    fn policy_never_panics_on_hostile_strings(metadata in hostile_metadata()) {
        decide(&metadata);
    }

    #[test]
    fn metadata_document_checks_never_panic(
        document in metadata_document(),
        fetched in prop_oneof![any::<String>(), client_id_url()],
    ) {
        for url in [fetched.as_str(), document.client_id.as_str()] {
            match document.validate(url) {
                Ok(()) => prop_assert_eq!(document.client_id.as_str(), url),
                Err(error) => assert_wire_error(&error),
            }
            for policy in policies() {
                if let Err(error) = policy.check_metadata_document(&document, url) {
                    assert_wire_error(&error);
                }
            }
        }
    }

    #[test]
    fn client_id_url_check_never_panics(url in any::<String>()) {
        if validate_client_id_url(&url).is_ok() {
            let id = ClientId::new(url.as_str()).unwrap();
            prop_assert!(id.is_metadata_document_url());
        }
    }

    #[test]
    fn client_id_url_check_never_panics_near_valid(
        url in "https://[a-z.@:%2eE]{0,12}(/[a-z.%2eE#?]{0,6}){0,4}",
    ) {
        let _ = validate_client_id_url(&url);
    }
}
