//! The `client_credentials` grant (OAuth 2.1 §4.2, MCP's client credentials extension SEP-1046):
//! a confidential client acting for itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_types::{ErrorCode, OAuthError};
use support::*;

fn claims(token: &str) -> serde_json::Value {
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn sep_1046_a_machine_client_gets_a_token_for_itself() {
    let mut world = World::new();
    let machine = world.machine_client("mcp:tools files:read");
    let response = world
        .token_for(
            &machine,
            &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
        )
        .unwrap();
    // OAuth 2.1 §4.2.2 (RFC 6749 §4.4.3): no refresh token; the client authenticates again.
    assert!(response.refresh_token.is_none());
    assert!(world.accepts(&response.access_token));
    let claims = claims(&response.access_token);
    // SEP-1046 / DESIGN: `sub` is the client itself; RFC 8707: the audience is the resource.
    assert_eq!(claims["sub"], machine.as_str());
    assert_eq!(claims["client_id"], machine.as_str());
    assert_eq!(claims["aud"], RESOURCE);
    // Without `scope`, what it registered, within what the resource understands.
    assert_eq!(claims["scope"], "mcp:tools");
    assert_eq!(response.scope.as_deref(), Some("mcp:tools"));
}

#[test]
fn rfc6749_section_3_3_scopes_are_bounded_by_the_clients_registered_scope() {
    let mut world = World::new();
    let machine = world.machine_client("mcp:tools");
    // Asking beyond what it registered: the grant is narrowed (RFC 6749 §3.3) ...
    let narrowed = world
        .token_for(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "mcp:tools mcp:admin"),
            ],
        )
        .unwrap();
    assert_eq!(claims(&narrowed.access_token)["scope"], "mcp:tools");
    // ... and asking only for what it may not have is refused.
    let refused = world
        .token_for(
            &machine,
            &[("grant_type", "client_credentials"), ("scope", "mcp:admin")],
        )
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidScope);
}

#[test]
fn rfc6749_section_3_3_a_resource_none_of_whose_scopes_the_client_may_hold_is_refused() {
    let mut world = World::new();
    // Bounded to the MCP server's scope: a token for the other resource would carry no scope,
    // and a guard that requires none would let the machine in.
    let machine = world.machine_client("mcp:tools");
    let refused = world
        .token_for(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("resource", OTHER_RESOURCE),
            ],
        )
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidScope);
}

#[test]
fn rfc8707_section_2_an_unknown_resource_is_invalid_target_and_scopes_pick_the_resource() {
    let mut world = World::new();
    let machine = world.machine_client("mcp:tools files:read");
    let unknown = world
        .token_for(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://elsewhere.example.com/mcp"),
            ],
        )
        .unwrap_err();
    assert_eq!(unknown.error_code(), ErrorCode::InvalidTarget);
    // Without `resource`, the one resource that understands the scope (RFC 9068 §3).
    let files = world
        .token_for(
            &machine,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "files:read"),
            ],
        )
        .unwrap();
    assert_eq!(claims(&files.access_token)["aud"], OTHER_RESOURCE);
}

#[test]
fn oauth21_section_4_2_only_confidential_clients_that_list_the_grant_may_use_it() {
    let mut world = World::new();
    // A public client: it cannot authenticate, so it cannot have the grant.
    let public = world.public_client();
    let refused = world
        .token_for(&public, &[("grant_type", "client_credentials")])
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    // A confidential client that did not list it.
    let confidential = world.confidential_client();
    let refused = world
        .token_for(&confidential, &[("grant_type", "client_credentials")])
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    // A confidential client that registered itself with the grant (a library whose registration
    // policy admits it): no operator vetted its bounds.
    let ordinary = std::mem::replace(
        &mut world.policy,
        gatehouse_registration::ClientMetadataPolicy::new().with_grant_types([
            gatehouse_types::GrantType::AuthorizationCode,
            gatehouse_types::GrantType::ClientCredentials,
        ]),
    );
    let registered = world.register(
        r#"{"token_endpoint_auth_method":"client_secret_post","grant_types":["client_credentials"],
            "response_types":[],"scope":"mcp:tools"}"#,
    );
    world.policy = ordinary;
    let refused = world
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", registered.client_id.as_str()),
            (
                "client_secret",
                registered.client_secret.as_ref().unwrap().expose_secret(),
            ),
        ])
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    // The machine client with a wrong secret: invalid_client, 401 (RFC 6749 §5.2).
    let machine = world.machine_client("mcp:tools");
    let wrong = world
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", machine.as_str()),
            ("client_secret", "gths_wrong"),
        ])
        .unwrap_err();
    assert_eq!(wrong.error_code(), ErrorCode::InvalidClient);
    assert_eq!(wrong.http_status(), 401);
}

#[test]
fn rfc7009_a_machine_token_can_be_revoked_like_any_other() {
    let mut world = World::new();
    let machine = world.machine_client("mcp:tools");
    let response = world
        .token_for(&machine, &[("grant_type", "client_credentials")])
        .unwrap();
    assert!(world.accepts(&response.access_token));
    world.revoke(&machine, &response.access_token).unwrap();
    assert!(!world.accepts(&response.access_token));
}
