//! The client metadata policy: one test per rule, named after the section that states it, plus
//! the registrations real MCP clients send.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_registration::{
    ApplicationType, ClientMetadataPolicy, OAuthError, RegisteredClientMetadata, RegistrationError,
    RegistrationRequest, ScopeRule,
};
use gatehouse_types::{
    ErrorCode, GrantType, RedirectUri, RedirectUriError, ResponseType, ScopeSet,
    TokenEndpointAuthMethod,
};
use serde_json::{Value, json};

fn check(body: Value) -> Result<RegisteredClientMetadata, RegistrationError> {
    check_with(&ClientMetadataPolicy::new(), body)
}

fn check_with(
    policy: &ClientMetadataPolicy,
    body: Value,
) -> Result<RegisteredClientMetadata, RegistrationError> {
    let request = RegistrationRequest::from_json(body.to_string().as_bytes())?;
    policy.check(&request)
}

/// A registration with one https redirect URI plus `members`.
fn with(members: Value) -> Value {
    let mut body = json!({"redirect_uris": ["https://client.example.org/callback"]});
    for (k, v) in members.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn code(result: Result<RegisteredClientMetadata, RegistrationError>) -> ErrorCode {
    result.unwrap_err().error_code()
}

// ----- real MCP clients -------------------------------------------------------------------------

#[test]
fn mcp_client_localhost_without_application_type_registers() {
    // OpenCode, older SDKs: a loopback callback and no application_type.
    let registered = check(json!({
        "client_name": "opencode",
        "redirect_uris": ["http://localhost:19876/mcp/oauth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    }))
    .unwrap();
    assert!(!registered.needs_client_secret());
    assert!(registered.application_type().is_none());
    // The port of a loopback redirect is chosen at run time (RFC 8252 §7.3).
    let requested = RedirectUri::new("http://localhost:50123/mcp/oauth/callback").unwrap();
    assert!(registered.allows_redirect_uri(&requested));
}

#[test]
fn mcp_client_native_loopback_and_private_use_register() {
    // Claude Code / Codex: native + loopback; Cursor: a private-use scheme; VS Code: native
    // with an https redirect and a loopback one.
    for uris in [
        json!(["http://localhost:3118/callback"]),
        json!(["http://127.0.0.1:37819/callback/abc"]),
        json!(["cursor://anysphere.cursor-retrieval/oauth/user-server/callback"]),
        json!(["https://vscode.dev/redirect", "http://127.0.0.1:33418"]),
    ] {
        let registered = check(json!({
            "redirect_uris": uris,
            "application_type": "native",
            "token_endpoint_auth_method": "none"
        }))
        .unwrap_or_else(|e| panic!("{uris}: {e}"));
        assert_eq!(
            registered.application_type(),
            Some(&ApplicationType::Native)
        );
    }
}

// ----- RFC 7591 §2: defaults -------------------------------------------------------------------

#[test]
fn rfc7591_section_2_defaults() {
    let registered = check(with(json!({}))).unwrap();
    // "If omitted, the default behavior is that the client will use only the
    // "authorization_code" Grant Type."
    assert_eq!(registered.grant_types(), [GrantType::AuthorizationCode]);
    // "If omitted, the default is that the client will use only the "code" response type."
    assert_eq!(registered.response_types(), [ResponseType::Code]);
    // "If unspecified or omitted, the default is "client_secret_basic""
    assert_eq!(
        registered.token_endpoint_auth_method(),
        &TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert!(registered.needs_client_secret());
    // The defaults are written out in what the server returns (§3.2.1).
    let returned = registered.to_metadata();
    assert_eq!(
        returned.grant_types.unwrap(),
        [GrantType::AuthorizationCode]
    );
    assert_eq!(
        returned.token_endpoint_auth_method,
        Some(TokenEndpointAuthMethod::ClientSecretBasic)
    );
}

#[test]
fn rfc7591_section_2_unknown_metadata_must_be_ignored() {
    let registered = check(with(json!({
        "example_extension_parameter": "example_value",
        "client_secret": "chosen-by-the-client",
        "client_id": "chosen-by-the-client",
        "client_name#en": "Example"
    })))
    .unwrap();
    let extra = registered.to_metadata().extra;
    assert_eq!(extra.keys().collect::<Vec<_>>(), ["client_name#en"]);
}

#[test]
fn rfc7591_section_2_duplicates_are_collapsed() {
    let registered = check(json!({
        "redirect_uris": ["https://a.example/cb", "https://a.example/cb"],
        "grant_types": ["authorization_code", "authorization_code"]
    }))
    .unwrap();
    assert_eq!(registered.redirect_uris().len(), 1);
    assert_eq!(registered.grant_types().len(), 1);
}

// ----- RFC 7591 §2: supported values -----------------------------------------------------------

#[test]
fn rfc7591_section_2_unsupported_grant_types_are_refused() {
    for grant in [
        "implicit",
        "password",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:example:custom",
    ] {
        let result = check(with(json!({"grant_types": ["authorization_code", grant]})));
        assert_eq!(
            result.unwrap_err(),
            RegistrationError::UnsupportedGrantType(grant.to_owned())
        );
    }
    assert_eq!(
        check(with(json!({"grant_types": []}))).unwrap_err(),
        RegistrationError::EmptyGrantTypes
    );
}

#[test]
fn rfc7662_section_2_1_a_declared_client_may_use_no_grant_and_is_restored_as_such() {
    // A resource server only authenticates to introspect; an operator's policy admits it.
    let policy = ClientMetadataPolicy::new().with_no_grant_types_admitted();
    let body = json!({
        "grant_types": [],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let registered = check_with(&policy, body).unwrap();
    assert!(registered.grant_types().is_empty());
    assert!(registered.redirect_uris().is_empty());
    // Stored and read back, it does not turn into the RFC 7591 default (authorization_code).
    let restored = RegisteredClientMetadata::restore(&registered.to_metadata()).unwrap();
    assert_eq!(restored, registered);
}

#[test]
fn rfc7591_section_2_unsupported_response_types_are_refused() {
    for response in ["token", "code id_token"] {
        let result = check(with(json!({"response_types": ["code", response]})));
        assert_eq!(code(result), ErrorCode::InvalidClientMetadata);
    }
}

#[test]
fn rfc7591_section_2_unsupported_auth_methods_are_refused() {
    for method in [
        "client_secret_jwt",
        "private_key_jwt",
        "tls_client_auth",
        "urn:x",
    ] {
        let result = check(with(json!({"token_endpoint_auth_method": method})));
        assert_eq!(
            result.unwrap_err(),
            RegistrationError::UnsupportedAuthMethod(method.to_owned())
        );
    }
    for method in ["none", "client_secret_basic", "client_secret_post"] {
        check(with(json!({"token_endpoint_auth_method": method}))).unwrap();
    }
}

#[test]
fn rfc7591_section_2_private_key_jwt_needs_keys() {
    let policy = ClientMetadataPolicy::new().with_auth_methods([
        TokenEndpointAuthMethod::None,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ]);
    let body = with(json!({"token_endpoint_auth_method": "private_key_jwt"}));
    assert_eq!(
        check_with(&policy, body).unwrap_err(),
        RegistrationError::MissingClientKeys
    );
    let body = with(json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://client.example.org/jwks.json"
    }));
    let registered = check_with(&policy, body).unwrap();
    assert!(!registered.needs_client_secret());
}

// ----- RFC 7591 §2.1: grant and response types are consistent --------------------------------

#[test]
fn rfc7591_section_2_1_authorization_code_needs_code() {
    let result = check(with(json!({
        "grant_types": ["authorization_code"],
        "response_types": []
    })));
    assert_eq!(
        result.unwrap_err(),
        RegistrationError::InconsistentGrantAndResponseTypes {
            grant_type: "authorization_code".into(),
            response_type: "code".into(),
        }
    );
}

#[test]
fn rfc7591_section_2_1_code_needs_authorization_code() {
    let result = check(with(json!({
        "grant_types": ["refresh_token"],
        "response_types": ["code"]
    })));
    assert_eq!(code(result), ErrorCode::InvalidClientMetadata);
}

#[test]
fn rfc7591_section_2_1_implicit_needs_token() {
    let policy = ClientMetadataPolicy::new()
        .with_grant_types([GrantType::AuthorizationCode, GrantType::Implicit])
        .with_response_types([ResponseType::Code, ResponseType::Token]);
    let body = with(json!({
        "grant_types": ["authorization_code", "implicit"],
        "response_types": ["code"]
    }));
    assert_eq!(
        check_with(&policy, body).unwrap_err(),
        RegistrationError::InconsistentGrantAndResponseTypes {
            grant_type: "implicit".into(),
            response_type: "token".into(),
        }
    );
    let body = with(json!({
        "grant_types": ["authorization_code", "implicit"],
        "response_types": ["code", "token"]
    }));
    check_with(&policy, body).unwrap();
}

#[test]
fn rfc7591_section_2_1_refresh_token_needs_no_response_type() {
    let registered = check(with(json!({
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"]
    })))
    .unwrap();
    assert!(registered.has_grant_type(&GrantType::RefreshToken));
    assert_eq!(registered.response_types(), [ResponseType::Code]);
}

// ----- redirect URIs ---------------------------------------------------------------------------

#[test]
fn rfc6749_section_3_1_2_2_redirect_uris_required_with_authorization_code() {
    for body in [json!({}), json!({"redirect_uris": []})] {
        let error = check(body).unwrap_err();
        assert_eq!(error, RegistrationError::MissingRedirectUris);
        assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri);
    }
}

#[test]
fn rfc7591_section_3_2_2_bad_redirect_uris_are_invalid_redirect_uri() {
    for (uri, reason) in [
        (
            "javascript:alert(1)",
            RedirectUriError::ForbiddenScheme("javascript".into()),
        ),
        ("http://evil.example/cb", RedirectUriError::HttpNotLoopback),
        ("https://a.example/cb#x", RedirectUriError::Fragment),
        ("/callback", RedirectUriError::NotAbsolute),
        ("https://*.example.com/cb", RedirectUriError::Wildcard),
        (
            "https://good.example@evil.example/",
            RedirectUriError::Userinfo,
        ),
        ("https://a.example/\u{202e}cb", RedirectUriError::NonAscii),
    ] {
        let error = check(json!({"redirect_uris": ["https://ok.example/cb", uri]})).unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri, "{uri}");
        match &error {
            RegistrationError::InvalidRedirectUri { reason: r, .. } => assert_eq!(r, &reason),
            other => panic!("{uri}: {other:?}"),
        }
        // The reason reaches the client.
        let description = error.error_response().error_description.unwrap();
        assert!(
            description.as_str().contains("redirect_uri"),
            "{description}"
        );
    }
}

#[test]
fn redirect_uri_not_a_string_is_malformed_json() {
    let error = check(json!({"redirect_uris": "https://a.example/cb"})).unwrap_err();
    assert!(matches!(error, RegistrationError::MalformedJson(_)));
    assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
}

#[test]
fn too_many_redirect_uris_are_refused() {
    let uris: Vec<String> = (0..33)
        .map(|i| format!("https://a.example/cb{i}"))
        .collect();
    assert_eq!(
        check(json!({"redirect_uris": uris})).unwrap_err(),
        RegistrationError::TooManyRedirectUris { max: 32 }
    );
    let policy = ClientMetadataPolicy::new().with_max_redirect_uris(40);
    check_with(&policy, json!({"redirect_uris": uris})).unwrap();
}

// ----- application_type ------------------------------------------------------------------------

#[test]
fn openid_registration_section_2_web_clients_use_https_on_web_hosts() {
    for uri in [
        "http://localhost:3000/callback",
        "http://127.0.0.1/callback",
        "https://localhost/callback",
        "https://[::1]:8443/callback",
        "com.example.app:/oauth2redirect",
    ] {
        let body = json!({"redirect_uris": [uri], "application_type": "web"});
        let error = check(body).unwrap_err();
        assert!(
            matches!(error, RegistrationError::WebClientRedirectUri { .. }),
            "{uri}: {error:?}"
        );
        assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri);
    }
    let body =
        json!({"redirect_uris": ["https://client.example.org/cb"], "application_type": "web"});
    check(body).unwrap();
}

#[test]
fn openid_registration_section_2_unknown_application_type_is_refused() {
    let error = check(with(json!({"application_type": "browser"}))).unwrap_err();
    assert_eq!(
        error,
        RegistrationError::UnsupportedApplicationType("browser".into())
    );
    assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
}

// ----- keys ------------------------------------------------------------------------------------

#[test]
fn rfc7591_section_2_jwks_and_jwks_uri_must_not_both_be_present() {
    let error = check(with(json!({
        "jwks_uri": "https://client.example.org/jwks",
        "jwks": {"keys": []}
    })))
    .unwrap_err();
    assert_eq!(error, RegistrationError::JwksAndJwksUri);
    assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
}

#[test]
fn rfc7591_section_2_jwks_must_be_a_jwk_set() {
    for jwks in [
        json!("keys"),
        json!({"keys": {}}),
        json!({"keys": [{"e": "AQAB"}]}),
    ] {
        let error = check(with(json!({"jwks": jwks}))).unwrap_err();
        assert!(
            matches!(error, RegistrationError::InvalidJwks(_)),
            "{error:?}"
        );
    }
}

#[test]
fn rfc7591_section_2_jwks_holds_public_keys_only() {
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]});
    assert_eq!(
        check(with(json!({"jwks": jwks}))).unwrap_err(),
        RegistrationError::PrivateKeyMaterial
    );
}

// ----- URLs and text ---------------------------------------------------------------------------

#[test]
fn rfc7591_section_2_urls_shown_to_the_user_must_be_https() {
    for field in [
        "client_uri",
        "logo_uri",
        "tos_uri",
        "policy_uri",
        "jwks_uri",
    ] {
        for bad in [
            "javascript:alert(document.cookie)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>",
            "http://client.example.org/",
            "http://localhost:8080/",
            "https://user:pass@client.example.org/",
            "https://client.example.org/#frag",
            "//client.example.org/",
        ] {
            let error = check(with(json!({ field: bad }))).unwrap_err();
            assert_eq!(
                error.error_code(),
                ErrorCode::InvalidClientMetadata,
                "{field} {bad}"
            );
            assert!(error.to_string().contains(field), "{field} {bad}: {error}");
        }
        check(with(json!({ field: "https://client.example.org/x" }))).unwrap();
    }
}

#[test]
fn rfc7591_section_2_2_language_tagged_members_follow_their_member() {
    let error = check(with(json!({"logo_uri#fr": "javascript:alert(1)"}))).unwrap_err();
    assert!(matches!(error, RegistrationError::InvalidUrl { field, .. } if field == "logo_uri#fr"));
    let error = check(with(json!({"client_name#fr": 42}))).unwrap_err();
    assert!(matches!(error, RegistrationError::InvalidText { .. }));
    let error = check(with(json!({"client_name#fr": "a\u{0}b"}))).unwrap_err();
    assert!(matches!(error, RegistrationError::InvalidText { .. }));
}

#[test]
fn text_members_and_contacts_are_checked() {
    for body in [
        json!({"client_name": ""}),
        json!({"client_name": "Good\u{202e}evil"}),
        json!({"software_id": "x".repeat(1025)}),
        json!({"contacts": [""]}),
        json!({"contacts": ["ok@example.com", "bad\r\nBcc: x"]}),
    ] {
        let error = check(with(body.clone())).unwrap_err();
        assert!(
            matches!(error, RegistrationError::InvalidText { .. }),
            "{body}: {error:?}"
        );
    }
    let contacts: Vec<String> = (0..17).map(|i| format!("c{i}@example.com")).collect();
    assert_eq!(
        check(with(json!({ "contacts": contacts }))).unwrap_err(),
        RegistrationError::TooManyContacts { max: 16 }
    );
    let registered = check(with(json!({"contacts": ["ve7jtb@example.org"]}))).unwrap();
    assert_eq!(registered.contacts(), ["ve7jtb@example.org"]);
}

// ----- scope -----------------------------------------------------------------------------------

#[test]
fn rfc7591_section_2_scope_rules() {
    let body = with(json!({"scope": "mcp:tools unknown"}));
    let any = check(body.clone()).unwrap();
    assert_eq!(any.scope().unwrap().to_string(), "mcp:tools unknown");

    let allowed = ScopeSet::parse("mcp:tools mcp:admin").unwrap();
    let narrow = ClientMetadataPolicy::new().with_scopes(ScopeRule::Narrow(allowed.clone()));
    let registered = check_with(&narrow, body.clone()).unwrap();
    assert_eq!(registered.scope().unwrap().to_string(), "mcp:tools");
    let nothing_left = check_with(&narrow, with(json!({"scope": "other"}))).unwrap();
    assert!(nothing_left.scope().is_none());

    let restrict = ClientMetadataPolicy::new().with_scopes(ScopeRule::Restrict(allowed));
    assert_eq!(
        check_with(&restrict, body).unwrap_err(),
        RegistrationError::ScopeNotAllowed("unknown".into())
    );

    // Scope syntax is RFC 6749 §3.3: a bad one fails the parse.
    let error = check(with(json!({"scope": "a  b"}))).unwrap_err();
    assert!(matches!(error, RegistrationError::MalformedJson(_)));
}

// ----- software statements ---------------------------------------------------------------------

#[test]
fn rfc7591_section_2_3_software_statement_must_be_a_signed_jwt() {
    for statement in [
        "not-a-jwt",
        "a.b",
        "eyJhbGciOiJub25lIn0.eyJhIjoxfQ.",
        "a.b.c.d",
    ] {
        let error = check(with(json!({"software_statement": statement}))).unwrap_err();
        assert_eq!(error, RegistrationError::InvalidSoftwareStatement);
        assert_eq!(error.error_code(), ErrorCode::InvalidSoftwareStatement);
    }
}

// ----- error bodies ----------------------------------------------------------------------------

#[test]
fn rfc7591_section_3_2_2_error_body() {
    let error = check(with(json!({"grant_types": ["password"]}))).unwrap_err();
    let body: Value = serde_json::to_value(error.error_response()).unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("'password'"), "{description}");
    assert!(description.contains("RFC 7591 section 2"), "{description}");
    assert!(description.is_ascii());
    assert_eq!(error.error_response().http_status(), 400);
}

#[test]
fn malformed_json_is_invalid_client_metadata() {
    for body in [
        &b"not json"[..],
        b"[]",
        b"{\"grant_types\": \"authorization_code\"}",
    ] {
        let error = RegistrationRequest::from_json(body).unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::InvalidClientMetadata);
    }
}

#[test]
fn duplicate_members_are_refused() {
    // A second "redirect_uris" must not sneak past whatever checked the first.
    let body = br#"{"redirect_uris":["https://a.example/cb"],"redirect_uris":["javascript:x"]}"#;
    let error = RegistrationRequest::from_json(body).unwrap_err();
    assert!(matches!(error, RegistrationError::MalformedJson(ref m) if m.contains("duplicate")));
    let body = br#"{"client_id":"a","client_id":"b"}"#;
    assert!(gatehouse_registration::RegistrationResponse::from_json(body).is_err());
    let body = br#"{"client_id":"a","grant_types":["authorization_code"],"grant_types":[]}"#;
    assert!(gatehouse_registration::ClientUpdateRequest::from_json(body).is_err());
}

#[test]
fn rfc7591_section_3_2_1_software_statement_is_returned_unmodified() {
    let statement = "eyJhbGciOiJFUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IngifQ.c2lnbmF0dXJl";
    let registered = check(with(json!({"software_statement": statement}))).unwrap();
    assert_eq!(registered.software_statement(), Some(statement));
    assert_eq!(
        registered.to_metadata().software_statement.as_deref(),
        Some(statement)
    );
}

#[test]
fn oauth21_section_4_1_2_redirect_uri_must_not_carry_response_parameters() {
    for uri in [
        "https://client.example.org/cb?code=x",
        "https://client.example.org/cb?a=1&state=s",
        "http://127.0.0.1:8080/cb?iss=https://evil.example",
        "https://client.example.org/cb?error=access_denied",
    ] {
        let metadata = gatehouse_registration::ClientMetadata::from_json(
            format!(r#"{{"redirect_uris":["{uri}"],"token_endpoint_auth_method":"none"}}"#)
                .as_bytes(),
        )
        .unwrap();
        let error = ClientMetadataPolicy::new().check(&metadata).unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::InvalidRedirectUri, "{uri}");
    }
    let fine = gatehouse_registration::ClientMetadata::from_json(
        br#"{"redirect_uris":["https://client.example.org/cb?tenant=a&codex=1"],"token_endpoint_auth_method":"none"}"#,
    )
    .unwrap();
    assert!(ClientMetadataPolicy::new().check(&fine).is_ok());
}
