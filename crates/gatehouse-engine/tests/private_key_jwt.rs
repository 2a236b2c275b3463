//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3), which MCP's client
//! credentials extension (SEP-1046) recommends over shared secrets: the client signs a
//! short-lived JWT with its private key for each request, and the server verifies it with the
//! client's registered public keys and refuses a second use of it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{JWT_BEARER_ASSERTION, TokenRequest};
use gatehouse_jose::{Algorithm, KeySet, SigningKey};
use gatehouse_types::{ErrorCode, OAuthError};
use serde_json::json;
use support::*;

/// A `client_credentials` request authenticated by `assertion`.
fn with_assertion(
    world: &mut World,
    assertion: &str,
) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
    world.token(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION),
        ("client_assertion", assertion),
    ])
}

use gatehouse_engine::TokenResponse;

/// The assertion does not authenticate its client: `invalid_client` (RFC 6749 §5.2).
fn assert_refused(world: &mut World, assertion: &str) {
    let refused = with_assertion(world, assertion).unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidClient, "{refused}");
}

#[test]
fn rfc7523_section_2_2_a_client_authenticates_with_a_jwt_signed_by_its_key() {
    for alg in [
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ] {
        let mut world = World::new();
        let key = SigningKey::generate(alg).unwrap();
        let machine = world.keyed_client(&key, r#"["client_credentials"]"#, "mcp:tools");
        let assertion = world.assertion(&machine, &key, json!({}));
        let issued = with_assertion(&mut world, &assertion).unwrap();
        assert!(world.accepts(&issued.access_token), "{alg:?}");
        // The token endpoint URL is also an acceptable audience (RFC 7523 §3 item 3).
        let assertion = world.assertion(&machine, &key, json!({"aud": format!("{ISSUER}/token")}));
        assert!(with_assertion(&mut world, &assertion).is_ok(), "{alg:?}");
    }
}

#[test]
fn rfc7523_section_3_item_7_an_assertion_is_refused_the_second_time() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let machine = world.keyed_client(&key, r#"["client_credentials"]"#, "mcp:tools");
    let assertion = world.assertion(&machine, &key, json!({}));
    assert!(with_assertion(&mut world, &assertion).is_ok());
    let replayed = with_assertion(&mut world, &assertion).unwrap_err();
    assert_eq!(replayed.error_code(), ErrorCode::InvalidClient);
    assert!(replayed.to_string().contains("used before"), "{replayed}");
}

#[test]
fn rfc7523_section_3_every_claim_rule_refuses_with_invalid_client() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let machine = world.keyed_client(&key, r#"["client_credentials"]"#, "mcp:tools");
    let now = world.now.as_secs();
    for (case, changes) in [
        ("another issuer (item 1)", json!({"iss": "someone-else"})),
        ("no subject (item 2)", json!({"sub": null})),
        (
            "another audience (item 3)",
            json!({"aud": "https://other.example.com"}),
        ),
        ("no expiry (item 4)", json!({"exp": null})),
        (
            "expired (item 4)",
            json!({"exp": now - 60, "iat": now - 120}),
        ),
        ("not yet valid (item 5)", json!({"nbf": now + 600})),
        ("issued in the future (item 6)", json!({"iat": now + 600})),
        ("no jti (item 7)", json!({"jti": null})),
        ("valid for too long", json!({"exp": now + 3_600})),
    ] {
        let assertion = world.assertion(&machine, &key, changes);
        let refused = with_assertion(&mut world, &assertion).unwrap_err();
        assert_eq!(
            refused.error_code(),
            ErrorCode::InvalidClient,
            "{case}: {refused}"
        );
    }
    // `sub` names the client the server resolves: another client's id is that client, whose
    // key did not sign this.
    let other = world.keyed_client(
        &SigningKey::generate(Algorithm::Es256).unwrap(),
        r#"["client_credentials"]"#,
        "mcp:tools",
    );
    let assertion = world.assertion(&machine, &key, json!({"sub": other}));
    assert_refused(&mut world, &assertion);
}

#[test]
fn rfc7523_section_3_item_9_only_the_clients_own_key_verifies() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let machine = world.keyed_client(&key, r#"["client_credentials"]"#, "mcp:tools");
    let stranger = SigningKey::generate(Algorithm::Es256).unwrap();
    let forged = world.assertion(&machine, &stranger, json!({}));
    assert_refused(&mut world, &forged);
    // An unsigned assertion cannot even be expressed: there is no `none`.
    let unsigned = format!(
        "{}.{}.",
        base64url(r#"{"alg":"none"}"#),
        base64url(&json!({"iss": machine, "sub": machine, "aud": ISSUER, "exp": world.now.as_secs() + 60, "jti": "n"}).to_string())
    );
    assert_refused(&mut world, &unsigned);
}

fn base64url(text: &str) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::encode_string(text.as_bytes())
}

#[test]
fn rfc6749_section_2_3_one_method_per_request_and_only_the_registered_one() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let machine = world.keyed_client(&key, r#"["client_credentials"]"#, "mcp:tools");
    let assertion = world.assertion(&machine, &key, json!({}));
    // An assertion and a secret together: invalid_request (RFC 6749 §2.3).
    let both = world
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", &assertion),
            ("client_secret", "guess"),
        ])
        .unwrap_err();
    assert_eq!(both.error_code(), ErrorCode::InvalidRequest);
    // Another assertion type (RFC 7523 §2.2 names exactly one).
    let other_type = world
        .token(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .unwrap_err();
    assert_eq!(other_type.error_code(), ErrorCode::InvalidClient);
    // A client_id that is not the assertion's subject.
    let mismatch = world
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", &assertion),
        ])
        .unwrap_err();
    assert_eq!(mismatch.error_code(), ErrorCode::InvalidClient);
    // A client registered for a secret cannot switch to an assertion, even a valid-looking one.
    let secretive = world.machine_client("mcp:tools");
    let assertion = world.assertion(&secretive, &key, json!({}));
    assert_refused(&mut world, &assertion);
}

#[test]
fn rfc7591_section_2_keys_from_the_jwks_uri_are_used_when_the_caller_fetched_them() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let machine = world.keyed_client_with(
        r#""jwks_uri":"https://machine.example.com/jwks.json""#,
        r#"["client_credentials"]"#,
        "mcp:tools",
    );
    let assertion = world.assertion(&machine, &key, json!({}));
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        JWT_BEARER_ASSERTION.replace(':', "%3A")
    );
    let call = |world: &mut World, keys: Option<KeySet>| {
        let mut request = TokenRequest::parse(body.as_bytes(), None).unwrap();
        assert!(request.client().presents_assertion());
        if let Some(keys) = keys {
            request.client_mut().provide_keys(keys);
        }
        let client = world.engine.store().client(request.client().id()).unwrap();
        block_on(world.engine.token(
            request,
            client,
            &gatehouse_engine::ServerKeys {
                signing: &world.key,
                verifying: &world.keys,
            },
            &mut world.rng,
            world.now,
        ))
    };
    // Without the fetched keys there is nothing to verify with.
    assert_eq!(
        call(&mut world, None).unwrap_err().error_code(),
        ErrorCode::InvalidClient
    );
    let issued = call(&mut world, Some(KeySet::new(vec![key.verifying_key()]))).unwrap();
    assert!(world.accepts(&issued.response.access_token));
}

#[test]
fn rfc7662_section_2_1_a_resource_server_may_introspect_with_private_key_jwt() {
    let mut world = World::new();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let keyed = world.keyed_client(&key, "[]", "mcp:tools");
    let server = world.serving(&keyed, RESOURCE);
    let machine = world.machine_client("mcp:tools files:read");
    let introspect = |world: &mut World, token: &str| {
        let assertion = world.assertion(&server, &key, json!({}));
        let body = format!(
            "token={token}&client_assertion_type={}&client_assertion={assertion}",
            JWT_BEARER_ASSERTION.replace(':', "%3A")
        );
        block_on(introspect_call(
            &world.engine,
            body.as_bytes(),
            None,
            &world.keys,
            world.now,
        ))
        .unwrap()
    };
    // Its own resource's token: active (RFC 7662 §2.2).
    let mcp = world
        .token_for(
            &machine,
            &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
        )
        .unwrap();
    let answer = introspect(&mut world, &mcp.access_token);
    assert!(answer.is_active());
    assert_eq!(
        answer.active_token().unwrap().sub.as_deref(),
        Some(machine.as_str())
    );
    // Another resource's: inactive (decision 0007).
    let files = world
        .token_for(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("resource", OTHER_RESOURCE),
            ],
        )
        .unwrap();
    assert!(!introspect(&mut world, &files.access_token).is_active());
}
