//! Token exchange (RFC 8693): the resource server of the MCP server trades a person's token it
//! received for a token to another resource of this server, acting for the same person.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{ACCESS_TOKEN_TYPE, EndpointError, TokenResponse};
use gatehouse_types::{ErrorCode, OAuthError};
use serde_json::{Value, json};
use support::*;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn claims(token: &str) -> Value {
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Alice's token for the MCP server, through a public client, with `scope`.
fn alices_token(world: &mut World, scope: &str) -> TokenResponse {
    let client = world.public_client();
    let code = world.code_for(&client, &[("scope", scope), ("resource", RESOURCE)]);
    world.redeem(&client, &code).unwrap()
}

fn exchange(
    world: &mut World,
    server: &str,
    subject_token: &str,
    extra: &[(&str, &str)],
) -> Result<TokenResponse, EndpointError> {
    let mut body = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    body.extend_from_slice(extra);
    world.token_for(server, &body)
}

#[test]
fn rfc8693_section_2_the_resource_server_exchanges_a_token_for_another_resource() {
    let mut world = World::with_search_resource();
    let server = world.exchanging_server();
    let alice = alices_token(&mut world, "mcp:tools mcp:admin");
    let exchanged = exchange(
        &mut world,
        &server,
        &alice.access_token,
        &[("resource", SEARCH_RESOURCE)],
    )
    .unwrap();
    // §2.2.1: issued_token_type is REQUIRED; no refresh token.
    assert_eq!(exchanged.issued_token_type, Some(ACCESS_TOKEN_TYPE));
    assert!(exchanged.refresh_token.is_none());
    let original = claims(&alice.access_token);
    let new = claims(&exchanged.access_token);
    // The same person, at the target resource, for the exchanging client.
    assert_eq!(new["sub"], "alice");
    assert_eq!(new["aud"], SEARCH_RESOURCE);
    assert_eq!(new["client_id"], server.as_str());
    // §4.1: `act` names the exchanging client.
    assert_eq!(new["act"], json!({"sub": server}));
    // Scopes no wider than the original (only those the target understands), and no longer
    // lived.
    assert_eq!(new["scope"], "mcp:tools");
    assert!(new["exp"].as_u64() <= original["exp"].as_u64());
    // The target resource's guard accepts it.
    let at_search = gatehouse_jose::AccessTokenValidator::new(ISSUER, SEARCH_RESOURCE).validate(
        &exchanged.access_token,
        &world.keys,
        world.now.as_secs(),
    );
    assert!(at_search.is_ok(), "{at_search:?}");
    // Asking for a narrower scope is fine; a wider one is invalid_scope.
    assert!(
        exchange(
            &mut world,
            &server,
            &alice.access_token,
            &[("resource", SEARCH_RESOURCE), ("scope", "mcp:tools")],
        )
        .is_ok()
    );
    let narrow = alices_token(&mut world, "mcp:tools");
    let wider = exchange(
        &mut world,
        &server,
        &narrow.access_token,
        &[
            ("resource", SEARCH_RESOURCE),
            ("scope", "mcp:tools mcp:admin"),
        ],
    )
    .unwrap_err();
    assert_eq!(wider.error_code(), ErrorCode::InvalidScope, "{wider}");
}

#[test]
fn rfc8693_section_4_1_chained_exchanges_nest_act_up_to_the_configured_depth() {
    let mut world = World::with_search_resource();
    let server = world.exchanging_server();
    let alice = alices_token(&mut world, "mcp:tools");
    // The server exchanges for its own resource again: the chain grows by one each time.
    let mut token = alice.access_token;
    let mut expected = Value::Null;
    for depth in 1..=3 {
        let next = exchange(&mut world, &server, &token, &[("resource", RESOURCE)]).unwrap();
        let act = claims(&next.access_token)["act"].clone();
        let mut want = json!({"sub": server});
        if !expected.is_null() {
            want["act"] = expected.clone();
        }
        assert_eq!(act, want, "depth {depth}");
        expected = act;
        token = next.access_token;
    }
    // tokens.max_delegation_depth defaults to 3.
    let refused = exchange(&mut world, &server, &token, &[("resource", RESOURCE)]).unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidRequest);
    assert!(
        refused.to_string().contains("max_delegation_depth"),
        "{refused}"
    );
}

#[test]
fn rfc8693_section_2_2_2_only_the_resource_server_of_the_audience_may_exchange() {
    let mut world = World::with_search_resource();
    let server = world.exchanging_server();
    let alice = alices_token(&mut world, "mcp:tools");
    // A machine client that does not list the grant: unauthorized_client.
    let machine = world.machine_client("mcp:tools");
    let refused = exchange(
        &mut world,
        &machine,
        &alice.access_token,
        &[("resource", SEARCH_RESOURCE)],
    )
    .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    // A token for another resource than the one this server serves: invalid_request (§2.2.2,
    // "unacceptable based on policy").
    let files_machine = world.machine_client("files:read");
    let files = world
        .token_for(
            &files_machine,
            &[
                ("grant_type", "client_credentials"),
                ("resource", OTHER_RESOURCE),
            ],
        )
        .unwrap();
    let refused = exchange(
        &mut world,
        &server,
        &files.access_token,
        &[("resource", SEARCH_RESOURCE)],
    )
    .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidRequest);
    assert!(
        refused.to_string().contains("not the resource server"),
        "{refused}"
    );
    // Forged or foreign tokens: invalid_request.
    let mut forged = alice.access_token.clone();
    forged.push('x');
    for (case, token) in [
        ("a forged token", forged.as_str()),
        ("not a token", "opaque-garbage"),
    ] {
        let refused =
            exchange(&mut world, &server, token, &[("resource", SEARCH_RESOURCE)]).unwrap_err();
        assert_eq!(refused.error_code(), ErrorCode::InvalidRequest, "{case}");
    }
}

#[test]
fn rfc8693_section_2_1_the_request_is_checked_precisely() {
    let mut world = World::with_search_resource();
    let server = world.exchanging_server();
    let alice = alices_token(&mut world, "mcp:tools");
    let token = alice.access_token.as_str();
    for (case, body, code) in [
        (
            "no subject_token",
            vec![
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("resource", SEARCH_RESOURCE),
            ],
            ErrorCode::InvalidRequest,
        ),
        (
            "no subject_token_type",
            vec![("subject_token", token), ("resource", SEARCH_RESOURCE)],
            ErrorCode::InvalidRequest,
        ),
        (
            "a refresh token type",
            vec![
                ("subject_token", token),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
                ("resource", SEARCH_RESOURCE),
            ],
            ErrorCode::InvalidRequest,
        ),
        (
            "an actor token",
            vec![
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("actor_token", token),
                ("actor_token_type", ACCESS_TOKEN_TYPE),
                ("resource", SEARCH_RESOURCE),
            ],
            ErrorCode::InvalidRequest,
        ),
        (
            "no target",
            vec![
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
            ],
            ErrorCode::InvalidRequest,
        ),
        (
            "an unknown resource",
            vec![
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("resource", "https://elsewhere.example.com/"),
            ],
            ErrorCode::InvalidTarget,
        ),
        (
            "an upstream identity provider (federation's)",
            vec![
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", "upstream:corp"),
            ],
            ErrorCode::InvalidTarget,
        ),
        (
            "a token type this server does not issue",
            vec![
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("resource", SEARCH_RESOURCE),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:saml2",
                ),
            ],
            ErrorCode::InvalidRequest,
        ),
    ] {
        let mut request = vec![("grant_type", EXCHANGE)];
        request.extend(body);
        let refused = world.token_for(&server, &request).unwrap_err();
        assert_eq!(refused.error_code(), code, "{case}: {refused}");
    }
    // `audience` naming a resource of this server works like `resource`.
    let by_audience =
        exchange(&mut world, &server, token, &[("audience", SEARCH_RESOURCE)]).unwrap();
    assert_eq!(claims(&by_audience.access_token)["aud"], SEARCH_RESOURCE);
}

#[test]
fn rfc7009_revoking_the_grant_revokes_the_exchanged_token_and_stops_exchanges() {
    let mut world = World::with_search_resource();
    let server = world.exchanging_server();
    let client = world.public_client();
    let code = world.code_for(&client, &[("scope", "mcp:tools"), ("resource", RESOURCE)]);
    let alice = world.redeem(&client, &code).unwrap();
    let exchanged = exchange(
        &mut world,
        &server,
        &alice.access_token,
        &[("resource", SEARCH_RESOURCE)],
    )
    .unwrap();
    // The person's client revokes the grant (its refresh token, RFC 7009 §2.1).
    world
        .revoke(&client, alice.refresh_token.as_deref().unwrap())
        .unwrap();
    let jti = claims(&exchanged.access_token)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        block_on(gatehouse_engine::Store::is_access_token_revoked(
            world.engine.store(),
            &jti
        ))
        .unwrap()
    );
    let refused = exchange(
        &mut world,
        &server,
        &alice.access_token,
        &[("resource", SEARCH_RESOURCE)],
    )
    .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidRequest);
}
