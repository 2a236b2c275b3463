//! Whole protocol runs and one test per MUST the engine enforces, driven with a simulated clock,
//! a seeded random source and the in-memory store: no sockets, no sleeping.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{AuthorizeError, CLIENT_CHALLENGE};
use gatehouse_types::{ErrorCode, OAuthError};
use support::*;

fn error_of(redirect: &AuthorizeError) -> (String, Option<String>, Option<String>) {
    let AuthorizeError::Redirect(url) = redirect else {
        panic!("expected a redirect, got {redirect:?}");
    };
    assert!(url.starts_with(REDIRECT), "{url}");
    (
        query_param(url, "error").unwrap(),
        query_param(url, "state"),
        query_param(url, "iss"),
    )
}

#[test]
fn whole_flow_register_authorize_redeem_refresh_revoke_introspect() {
    let mut world = World::new();
    let client = world.public_client();

    let request = world
        .validate(&world.authorize_params(&client, &[("scope", "mcp:tools offline_access")]))
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:tools");
    let redirect = support::block_on(support::approve_call(
        &world.engine,
        &request,
        "alice",
        &mut world.rng,
        world.now,
    ))
    .unwrap();
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&redirect, "code").unwrap();
    assert!(code.starts_with("gthc_"));

    world.advance(5);
    let tokens = world.redeem(&client, &code).unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scope.as_deref(), Some("mcp:tools"));
    assert!(world.accepts(&tokens.access_token));
    let refresh = tokens.refresh_token.clone().unwrap();

    let resource_server = world.resource_server();
    let introspected = world.introspect(&resource_server, &tokens.access_token);
    let active = introspected.active_token().unwrap();
    assert_eq!(active.sub.as_deref(), Some("alice"));
    assert_eq!(
        active.client_id.as_ref().map(|c| c.as_str()),
        Some(client.as_str())
    );

    world.advance(300);
    let refreshed = world.refresh(&client, &refresh).unwrap();
    let successor = refreshed.refresh_token.clone().unwrap();
    assert_ne!(successor, refresh);
    assert!(world.accepts(&refreshed.access_token));

    world.revoke(&client, &successor).unwrap();
    assert!(
        !world.accepts(&refreshed.access_token),
        "revoking the refresh token revokes the grant"
    );
    assert!(!world.accepts(&tokens.access_token));
    assert!(
        !world
            .introspect(&resource_server, &refreshed.access_token)
            .is_active()
    );
    assert!(world.refresh(&client, &successor).is_err());
}

// ---- Authorization requests (OAuth 2.1 §4.1.1, §4.1.2.1) ----

#[test]
fn oauth21_section_4_1_2_1_unknown_client_is_displayed_not_redirected() {
    let world = World::new();
    let result = world.validate(&world.authorize_params("no-such-client", &[]));
    assert!(
        matches!(result, Err(AuthorizeError::Display(_))),
        "{result:?}"
    );
    let result = world.validate(&world.authorize_params("", &[("client_id", "")]));
    assert!(matches!(result, Err(AuthorizeError::Display(_))));
}

#[test]
fn oauth21_section_4_1_2_1_unregistered_redirect_uri_is_displayed_not_redirected() {
    let mut world = World::new();
    let client = world.public_client();
    for uri in [
        "https://evil.example.com/callback",
        "http://127.0.0.1:33418/callback/extra",
        "http://localhost:33418/callback",
        "javascript:alert(1)",
    ] {
        let result = world.validate(&world.authorize_params(&client, &[("redirect_uri", uri)]));
        assert!(
            matches!(result, Err(AuthorizeError::Display(_))),
            "{uri}: {result:?}"
        );
    }
}

#[test]
fn rfc8252_section_7_3_loopback_redirect_on_any_port() {
    let mut world = World::new();
    let client = world.public_client();
    let other_port = "http://127.0.0.1:50123/callback";
    let request = world
        .validate(&world.authorize_params(&client, &[("redirect_uri", other_port)]))
        .unwrap();
    let redirect = support::block_on(support::approve_call(
        &world.engine,
        &request,
        "alice",
        &mut world.rng,
        world.now,
    ))
    .unwrap();
    assert!(
        redirect.starts_with(other_port),
        "the requested port is the one redirected to"
    );
}

#[test]
fn oauth21_section_4_1_1_redirect_uri_optional_when_one_is_registered() {
    let mut world = World::new();
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(&client, &[("redirect_uri", "")]))
        .unwrap();
    assert_eq!(request.redirect_uri().as_str(), REDIRECT);
    // ...and then the token request need not repeat it.
    let redirect = support::block_on(support::approve_call(
        &world.engine,
        &request,
        "alice",
        &mut world.rng,
        world.now,
    ))
    .unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let tokens = world.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", VERIFIER),
        ("client_id", &client),
    ]);
    assert!(tokens.is_ok(), "{tokens:?}");

    let two = world.register(&format!(
        r#"{{"redirect_uris":["{REDIRECT}","https://app.example.com/cb"],"token_endpoint_auth_method":"none"}}"#
    ));
    let result =
        world.validate(&world.authorize_params(two.client_id.as_str(), &[("redirect_uri", "")]));
    assert!(
        matches!(result, Err(AuthorizeError::Display(_))),
        "required with several registered"
    );
}

#[test]
fn oauth21_section_4_1_1_response_type_must_be_code_and_rfc9207_iss_is_returned() {
    let mut world = World::new();
    let client = world.public_client();
    for (response_type, expected) in [
        ("token", "unsupported_response_type"),
        ("code id_token", "unsupported_response_type"),
        ("", "invalid_request"),
    ] {
        let error = world
            .validate(&world.authorize_params(&client, &[("response_type", response_type)]))
            .unwrap_err();
        let (code, state, iss) = error_of(&error);
        assert_eq!(code, expected);
        assert_eq!(state.as_deref(), Some("xyz"));
        assert_eq!(
            iss.as_deref(),
            Some(ISSUER),
            "RFC 9207 section 2: iss in error responses too"
        );
    }
}

#[test]
fn rfc7636_section_4_4_1_and_oauth21_pkce_s256_is_required() {
    let mut world = World::new();
    let client = world.public_client();
    for extra in [
        vec![("code_challenge", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge", "too-short")],
    ] {
        let error = world
            .validate(&world.authorize_params(&client, &extra))
            .unwrap_err();
        assert_eq!(error_of(&error).0, "invalid_request", "{extra:?}");
    }
}

#[test]
fn rfc8707_section_2_resource_must_be_configured() {
    let mut world = World::new();
    let client = world.public_client();
    let error = world
        .validate(&world.authorize_params(&client, &[("resource", "https://evil.example.com/mcp")]))
        .unwrap_err();
    assert_eq!(error_of(&error).0, "invalid_target");
    let error = world
        .validate(
            &world.authorize_params(&client, &[("resource", "https://mcp.example.com/mcp#x")]),
        )
        .unwrap_err();
    assert_eq!(error_of(&error).0, "invalid_target");
    // Absent: the default resource.
    let request = world
        .validate(&world.authorize_params(&client, &[]))
        .unwrap();
    assert_eq!(request.resources()[0].as_str(), RESOURCE);
    // Case of scheme and host does not matter; the configured spelling is used.
    let request = world
        .validate(&world.authorize_params(&client, &[("resource", "HTTPS://MCP.example.com/mcp")]))
        .unwrap();
    assert_eq!(request.resources()[0].as_str(), RESOURCE);
}

#[test]
fn unknown_scopes_are_dropped_and_an_empty_result_falls_back_to_defaults() {
    let mut world = World::new();
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(
            &client,
            &[("scope", "openid email profile offline_access mcp:admin")],
        ))
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:admin");
    let request = world
        .validate(&world.authorize_params(&client, &[("scope", "openid email")]))
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:tools");
    let request = world
        .validate(&world.authorize_params(&client, &[]))
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:tools");
    let error = world
        .validate(&world.authorize_params(&client, &[("scope", "a\"b")]))
        .unwrap_err();
    assert_eq!(error_of(&error).0, "invalid_scope");
}

#[test]
fn rfc6749_section_3_1_repeated_parameters_are_refused() {
    let mut world = World::new();
    let client = world.public_client();
    let body = format!(
        "response_type=code&client_id={client}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=a&state=b",
        gatehouse_types::form::encode([("x", REDIRECT)]).trim_start_matches("x=")
    );
    let params = gatehouse_types::form::FormParams::parse(body.as_bytes()).unwrap();
    let error = world.validate(&params).unwrap_err();
    assert_eq!(error_of(&error).0, "invalid_request");
    // A repeated client_id cannot be redirected: there is no established client.
    let params = gatehouse_types::form::FormParams::parse(
        format!("client_id={client}&client_id=x").as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        world.validate(&params),
        Err(AuthorizeError::Display(_))
    ));
}

#[test]
fn denial_redirects_with_access_denied() {
    let mut world = World::new();
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(&client, &[]))
        .unwrap();
    let url = world.engine.deny(&request);
    assert_eq!(query_param(&url, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&url, "iss").as_deref(), Some(ISSUER));
}

// ---- Codes (OAuth 2.1 §4.1.3) ----

#[test]
fn oauth21_section_4_1_3_code_is_single_use_and_reuse_revokes_its_tokens() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let first = world.redeem(&client, &code).unwrap();
    assert!(world.accepts(&first.access_token));
    let second = world.redeem(&client, &code).unwrap_err();
    assert_eq!(second.error_code(), ErrorCode::InvalidGrant);
    assert_eq!(
        second.reuse().map(|(kind, _)| kind),
        Some(gatehouse_engine::Reuse::Code),
        "reported as a reuse detection"
    );
    assert!(
        !world.accepts(&first.access_token),
        "tokens issued from a replayed code are revoked"
    );
    assert!(
        world
            .refresh(&client, first.refresh_token.as_deref().unwrap())
            .is_err()
    );
}

#[test]
fn oauth21_section_4_1_3_code_is_bound_to_client_verifier_and_redirect_uri() {
    let mut world = World::new();
    let client = world.public_client();
    let other = world.public_client();
    let code = world.code_for(&client, &[]);
    assert_eq!(
        world.redeem(&other, &code).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    let wrong_verifier = world.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
        ),
        ("client_id", &client),
    ]);
    assert_eq!(
        wrong_verifier.unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    let wrong_redirect = world.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "http://127.0.0.1:33418/other"),
        ("code_verifier", VERIFIER),
        ("client_id", &client),
    ]);
    assert_eq!(
        wrong_redirect.unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    let missing_verifier = world.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("client_id", &client),
    ]);
    assert_eq!(
        missing_verifier.unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    // Failed attempts by others do not burn the code for its client.
    assert!(world.redeem(&client, &code).is_ok());
}

#[test]
fn oauth21_section_4_1_2_codes_expire() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    world.advance(600);
    assert_eq!(
        world.redeem(&client, &code).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn codes_and_refresh_tokens_are_stored_only_as_hashes() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let hash = gatehouse_engine::opaque::CredentialHash::of(&code);
    let entry = support::block_on(gatehouse_engine::Store::code(world.engine.store(), &hash))
        .unwrap()
        .unwrap();
    assert!(!format!("{entry:?}").contains(&code[5..]));
    let tokens = world.redeem(&client, &code).unwrap();
    let refresh = tokens.refresh_token.unwrap();
    let record = support::block_on(gatehouse_engine::Store::refresh(
        world.engine.store(),
        &gatehouse_engine::opaque::CredentialHash::of(&refresh),
    ))
    .unwrap()
    .unwrap();
    assert!(!format!("{record:?}").contains(&refresh[5..]));
}

// ---- Token endpoint: grants and client authentication ----

#[test]
fn rfc6749_section_5_2_unsupported_grant_types() {
    let mut world = World::new();
    let client = world.public_client();
    // `client_credentials` is supported now, for the confidential clients that list it
    // (`tests/client_credentials.rs`): this public client gets `unauthorized_client` there.
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let error = world
            .token(&[("grant_type", grant), ("client_id", &client)])
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            ErrorCode::UnsupportedGrantType,
            "{grant}"
        );
    }
    let error = world.token(&[("client_id", &client)]).unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidRequest);
}

#[test]
fn rfc6749_section_5_2_invalid_client_is_401_with_a_challenge() {
    let mut world = World::new();
    let confidential = world.register(&format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_basic"}}"#
    ));
    let id = confidential.client_id.as_str().to_owned();
    let secret = confidential
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let basic = |id: &str, secret: &str| {
        use base64ct::{Base64, Encoding};
        format!(
            "Basic {}",
            Base64::encode_string(format!("{id}:{secret}").as_bytes())
        )
    };
    let wrong = world
        .token_with_auth(
            &[("grant_type", "authorization_code"), ("code", "x")],
            Some(&basic(&id, "wrong")),
        )
        .unwrap_err();
    assert_eq!(wrong.error_code(), ErrorCode::InvalidClient);
    assert_eq!(wrong.http_status(), 401);
    assert_eq!(wrong.www_authenticate(), Some(CLIENT_CHALLENGE));
    let unknown = world
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "nobody"),
        ])
        .unwrap_err();
    assert_eq!(unknown.error_code(), ErrorCode::InvalidClient);
    // Registered for Basic: the secret in the body is refused.
    let post = world
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .unwrap_err();
    assert_eq!(post.error_code(), ErrorCode::InvalidClient);
    // Registered for Basic: a public-client request (id only) is refused.
    let bare = world
        .token(&[("grant_type", "authorization_code"), ("client_id", &id)])
        .unwrap_err();
    assert_eq!(bare.error_code(), ErrorCode::InvalidClient);

    // The right secret goes through to the grant.
    let code = world.code_for(&id, &[]);
    let tokens = world.token_with_auth(
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(&basic(&id, &secret)),
    );
    assert!(tokens.is_ok(), "{tokens:?}");
}

#[test]
fn client_secret_post_works_and_both_methods_at_once_is_refused() {
    let mut world = World::new();
    let client = world.register(&format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post"}}"#
    ));
    let id = client.client_id.as_str().to_owned();
    let secret = client
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let code = world.code_for(&id, &[]);
    let body = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let both = world
        .token_with_auth(&body, Some("Basic YTpi"))
        .unwrap_err();
    assert_eq!(
        both.error_code(),
        ErrorCode::InvalidRequest,
        "RFC 6749 section 2.3"
    );
    assert!(world.token(&body).is_ok());
}

#[test]
fn rfc8707_section_2_2_token_request_resource_must_be_within_the_grant() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let error = world
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &client),
            ("resource", OTHER_RESOURCE),
        ])
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidTarget);
}

// ---- Refresh (RFC 6749 §6, RFC 9700 §4.14.2) ----

#[test]
fn rfc6749_section_6_scope_may_narrow_but_never_widen() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[("scope", "mcp:tools mcp:admin")]);
    let tokens = world.redeem(&client, &code).unwrap();
    let refresh = tokens.refresh_token.unwrap();
    let widened = world.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("client_id", &client),
        ("scope", "mcp:tools files:read"),
    ]);
    assert_eq!(widened.unwrap_err().error_code(), ErrorCode::InvalidScope);
    let narrowed = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
            ("scope", "mcp:tools"),
        ])
        .unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("mcp:tools"));
    // The successor keeps the original grant: the next refresh may ask for both again.
    let again = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed.refresh_token.as_deref().unwrap()),
            ("client_id", &client),
        ])
        .unwrap();
    assert_eq!(again.scope.as_deref(), Some("mcp:admin mcp:tools"));
}

#[test]
fn rfc9700_section_4_14_2_replay_within_grace_returns_the_same_successor() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let first = world.refresh(&client, &refresh).unwrap();
    world.advance(10);
    let retry = world.refresh(&client, &refresh).unwrap();
    assert_eq!(
        retry.refresh_token, first.refresh_token,
        "a benign retry gets the same successor"
    );
    assert!(world.accepts(&first.access_token));
    assert!(
        world
            .refresh(&client, first.refresh_token.as_deref().unwrap())
            .is_ok()
    );
}

#[test]
fn rfc9700_section_4_14_2_replay_after_grace_revokes_the_family() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let first = world.refresh(&client, &refresh).unwrap();
    world.advance(11);
    let replay = world.refresh(&client, &refresh).unwrap_err();
    assert_eq!(replay.error_code(), ErrorCode::InvalidGrant);
    assert_eq!(
        replay.reuse().map(|(kind, _)| kind),
        Some(gatehouse_engine::Reuse::RefreshToken)
    );
    assert!(
        !world.accepts(&first.access_token),
        "access tokens of the family are revoked"
    );
    assert!(
        world
            .refresh(&client, first.refresh_token.as_deref().unwrap())
            .is_err()
    );
}

#[test]
fn rfc9700_section_4_14_2_a_grace_of_zero_makes_every_second_use_reuse() {
    // Decision 0006: `refresh_reuse_grace_secs = 0` turns the window off, even for a replay in
    // the same second as the rotation.
    let mut world = World::with_refresh_grace(0);
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let first = world.refresh(&client, &refresh).unwrap();
    let replay = world.refresh(&client, &refresh).unwrap_err();
    assert_eq!(replay.error_code(), ErrorCode::InvalidGrant);
    assert_eq!(
        replay.reuse().map(|(kind, _)| kind),
        Some(gatehouse_engine::Reuse::RefreshToken)
    );
    assert!(!world.accepts(&first.access_token), "the family is revoked");
}

#[test]
fn replay_within_grace_after_the_successor_was_used_is_reuse() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let first = world.refresh(&client, &refresh).unwrap();
    let second = world
        .refresh(&client, first.refresh_token.as_deref().unwrap())
        .unwrap();
    assert!(world.refresh(&client, &refresh).is_err());
    assert!(!world.accepts(&second.access_token));
}

#[test]
fn rfc6749_section_6_refresh_tokens_are_bound_to_their_client_and_expire() {
    let mut world = World::new();
    let client = world.public_client();
    let other = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    assert_eq!(
        world.refresh(&other, &refresh).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    world.advance(2_592_000);
    assert_eq!(
        world.refresh(&client, &refresh).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
}

// ---- Revocation (RFC 7009) and introspection (RFC 7662) ----

#[test]
fn rfc7009_section_2_2_unknown_tokens_are_not_an_error() {
    let mut world = World::new();
    let client = world.public_client();
    assert!(world.revoke(&client, "gthr_nonsense").is_ok());
    assert!(world.revoke(&client, "not even a token").is_ok());
}

#[test]
fn rfc7009_section_2_1_only_the_owning_client_can_revoke() {
    let mut world = World::new();
    let client = world.public_client();
    let other = world.public_client();
    let code = world.code_for(&client, &[]);
    let tokens = world.redeem(&client, &code).unwrap();
    let refused = world
        .revoke(&other, tokens.refresh_token.as_deref().unwrap())
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    assert!(world.revoke(&other, &tokens.access_token).is_err());
    assert!(world.accepts(&tokens.access_token), "nothing was revoked");
}

#[test]
fn rfc7009_section_2_1_revoking_an_access_token() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let tokens = world.redeem(&client, &code).unwrap();
    let resource_server = world.resource_server();
    assert!(
        world
            .introspect(&resource_server, &tokens.access_token)
            .is_active()
    );
    world.revoke(&client, &tokens.access_token).unwrap();
    assert!(!world.accepts(&tokens.access_token));
    assert!(
        !world
            .introspect(&resource_server, &tokens.access_token)
            .is_active()
    );
    // The refresh token is a different credential and still works.
    assert!(
        world
            .refresh(&client, tokens.refresh_token.as_deref().unwrap())
            .is_ok()
    );
}

#[test]
fn rfc7662_section_2_2_revoked_expired_rotated_unknown_and_foreign_tokens_are_inactive() {
    let mut world = World::new();
    let client = world.confidential_client();
    let other = world.confidential_client();
    let resource_server = world.resource_server();
    let code = world.code_for(&client, &[]);
    let tokens = world.redeem(&client, &code).unwrap();
    let refresh = tokens.refresh_token.clone().unwrap();
    assert!(
        world.introspect(&client, &tokens.access_token).is_active(),
        "own access token"
    );
    assert!(
        world.introspect(&client, &refresh).is_active(),
        "own refresh token"
    );
    assert!(
        world
            .introspect(&resource_server, &tokens.access_token)
            .is_active(),
        "its resource server"
    );
    assert!(
        !world.introspect(&resource_server, &refresh).is_active(),
        "refresh tokens are not for resource servers"
    );
    assert!(
        !world.introspect(&other, &tokens.access_token).is_active(),
        "foreign"
    );
    assert!(!world.introspect(&other, &refresh).is_active(), "foreign");
    assert!(
        !world.introspect(&client, "gthr_unknown").is_active(),
        "unknown"
    );
    let rotated = world.refresh(&client, &refresh).unwrap();
    assert!(!world.introspect(&client, &refresh).is_active(), "rotated");
    world.advance(601);
    assert!(
        !world.introspect(&client, &tokens.access_token).is_active(),
        "expired"
    );
    let successor = rotated.refresh_token.unwrap();
    world.revoke(&client, &successor).unwrap();
    assert!(
        !world.introspect(&client, &successor).is_active(),
        "revoked"
    );
}

#[test]
fn rfc7662_section_2_1_introspection_requires_client_authentication() {
    let mut world = World::new();
    let public = world.public_client();
    let code = world.code_for(&public, &[]);
    let tokens = world.redeem(&public, &code).unwrap();
    let body = gatehouse_types::form::encode([("token", "x")]);
    let error = support::block_on(support::introspect_call(
        &world.engine,
        body.as_bytes(),
        None,
        &world.keys,
        world.now,
    ))
    .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidClient);
    // A public client presents nothing secret: no oracle for stolen tokens.
    let error = world
        .try_introspect(&public, &tokens.access_token)
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidClient);
}

// ---- Findings of the RFC review, each pinned by a test ----

#[test]
fn oauth21_section_4_1_3_replay_by_another_client_does_not_revoke_the_grant() {
    let mut world = World::new();
    let client = world.public_client();
    let attacker = world.public_client();
    let code = world.code_for(&client, &[]);
    let tokens = world.redeem(&client, &code).unwrap();
    assert!(world.redeem(&attacker, &code).is_err());
    assert!(
        world.accepts(&tokens.access_token),
        "a foreign client cannot revoke the grant"
    );
    assert!(world.redeem(&client, &code).is_err());
    assert!(
        !world.accepts(&tokens.access_token),
        "the owner replaying its code does"
    );
}

#[test]
fn rfc6749_section_3_3_no_grantable_scope_is_invalid_scope() {
    let mut world = World::new();
    // An operator registered this client for scopes no resource here has.
    let narrow = world.register_vetted(&format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","scope":"calendar:read"}}"#
    ));
    let error = world
        .validate(&world.authorize_params(&narrow, &[]))
        .unwrap_err();
    assert_eq!(error_of(&error).0, "invalid_scope");
}

#[test]
fn rfc7591_section_2_registered_scope_limits_vetted_clients_only() {
    let mut world = World::new();
    let metadata = format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","scope":"mcp:tools"}}"#
    );
    let vetted = world.register_vetted(&metadata);
    let request = world
        .validate(&world.authorize_params(&vetted, &[("scope", "mcp:tools mcp:admin")]))
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:tools");

    // A self-registered client's `scope` is its own claim: it could register again with any
    // other. MCP SDKs register with the first challenge's scope (SEP-835) and step up later
    // (MCP 2025-11-25, scope challenge handling), so it is not a ceiling.
    let own = world.register(&metadata);
    let request = world
        .validate(
            &world.authorize_params(own.client_id.as_str(), &[("scope", "mcp:tools mcp:admin")]),
        )
        .unwrap();
    assert_eq!(request.scopes().to_string(), "mcp:admin mcp:tools");
}

#[test]
fn rfc9700_section_2_3_tokens_are_audience_and_privilege_restricted() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(
        &client,
        &[("scope", "mcp:admin files:read"), ("resource", RESOURCE)],
    );
    let tokens = world.redeem(&client, &code).unwrap();
    let claims = decode_claims(&tokens.access_token);
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(
        claims["scope"], "mcp:admin",
        "files:read means nothing to the MCP resource"
    );
}

#[test]
fn rfc9068_section_3_resource_is_inferred_from_scope() {
    let mut world = World::new();
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(&client, &[("scope", "files:read")]))
        .unwrap();
    assert_eq!(request.resources()[0].as_str(), OTHER_RESOURCE);
    assert_eq!(request.scopes().to_string(), "files:read");
}

#[test]
fn approve_rechecks_a_request_that_was_altered_or_went_stale() {
    let mut world = World::new();
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(&client, &[]))
        .unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&request).unwrap();
    json["redirect_uri"] = serde_json::json!("https://evil.example.com/cb");
    let forged: gatehouse_engine::AuthorizationRequest = serde_json::from_value(json).unwrap();
    let result = support::block_on(support::approve_call(
        &world.engine,
        &forged,
        "alice",
        &mut world.rng,
        world.now,
    ));
    assert!(
        matches!(result, Err(AuthorizeError::Display(_))),
        "{result:?}"
    );
    let mut json: serde_json::Value = serde_json::to_value(&request).unwrap();
    json["scopes"] = serde_json::json!("mcp:tools files:read mcp:admin");
    let widened: gatehouse_engine::AuthorizationRequest = serde_json::from_value(json).unwrap();
    let result = support::block_on(support::approve_call(
        &world.engine,
        &widened,
        "alice",
        &mut world.rng,
        world.now,
    ));
    assert!(
        matches!(result, Err(AuthorizeError::Display(_))),
        "{result:?}"
    );
}

#[test]
fn rfc9700_section_4_14_2_replayed_token_is_judged_before_its_parameters() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let first = world.refresh(&client, &refresh).unwrap();
    world.advance(30);
    let probe = world.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("client_id", &client),
        ("scope", "zzz"),
    ]);
    assert_eq!(probe.unwrap_err().error_code(), ErrorCode::InvalidGrant);
    assert!(
        !world.accepts(&first.access_token),
        "the probe was reuse, and revoked the family"
    );
}

#[test]
fn only_the_latest_predecessor_keeps_a_sealed_successor_and_the_purge_clears_it() {
    use gatehouse_engine::opaque::CredentialHash;
    use gatehouse_engine::store::RefreshState;
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let rt0 = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let rt1 = world.refresh(&client, &rt0).unwrap().refresh_token.unwrap();
    let _rt2 = world.refresh(&client, &rt1).unwrap().refresh_token.unwrap();
    let sealed = |world: &World, token: &str| {
        let record = support::block_on(gatehouse_engine::Store::refresh(
            world.engine.store(),
            &CredentialHash::of(token),
        ))
        .unwrap()
        .unwrap();
        match record.state {
            RefreshState::Rotated {
                sealed_successor, ..
            } => sealed_successor.is_some(),
            other => panic!("{other:?}"),
        }
    };
    assert!(
        !sealed(&world, &rt0),
        "a database dump plus rt0 must not open rt1, then rt2"
    );
    assert!(sealed(&world, &rt1));
    world.advance(11);
    let grace = world.engine.config().refresh_reuse_grace_secs;
    support::block_on(gatehouse_engine::Store::purge(
        world.engine.store(),
        world.now,
        world.now.saturating_sub_secs(grace),
    ))
    .unwrap();
    assert!(!sealed(&world, &rt1));
}

#[test]
fn oauth21_section_4_1_3_explicit_redirect_uri_must_be_repeated() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let error = world
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &client),
        ])
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidRequest);
}

#[test]
fn rfc6749_section_5_2_unauthorized_client_for_unregistered_grants() {
    let mut world = World::new();
    let no_refresh = world.register(&format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","grant_types":["authorization_code"]}}"#
    ));
    let id = no_refresh.client_id.as_str().to_owned();
    let code = world.code_for(&id, &[]);
    let tokens = world.redeem(&id, &code).unwrap();
    assert!(
        tokens.refresh_token.is_none(),
        "no refresh token for a client without the grant"
    );
    let error = world.refresh(&id, "gthr_whatever").unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::UnauthorizedClient);
}

#[test]
fn rfc8707_section_2_2_refresh_resource_must_be_within_the_grant() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let refresh = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    let error = world
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
            ("resource", OTHER_RESOURCE),
        ])
        .unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::InvalidTarget);
}

fn decode_claims(token: &str) -> serde_json::Value {
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn rfc9700_section_4_14_2_replay_of_an_expired_rotated_token_still_revokes_the_family() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let rt0 = world.redeem(&client, &code).unwrap().refresh_token.unwrap();
    world.advance(1);
    let rt1 = world.refresh(&client, &rt0).unwrap().refresh_token.unwrap();
    // rt0 has expired; its successor rt1 has one second left.
    world.advance(2_592_000 - 1);
    assert_eq!(
        world.refresh(&client, &rt0).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    assert!(
        world.refresh(&client, &rt1).is_err(),
        "the replay revoked the live successor's family"
    );
}
