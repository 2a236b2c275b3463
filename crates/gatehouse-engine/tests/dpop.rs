//! DPoP at the token endpoint (RFC 9449): every grant takes a proof and binds its access token
//! to the proof's key; a public client's refresh tokens are bound too; a code can be bound at
//! the authorization request. One test per rule, each naming its section.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{DpopPolicy, EndpointError};
use gatehouse_jose::Algorithm;
use gatehouse_jose::dpop::{DpopProver, NonceSource};
use gatehouse_types::ErrorCode;
use support::*;

const TOKEN_ENDPOINT: &str = "https://auth.example.com/token";

fn prover() -> DpopProver {
    DpopProver::generate(Algorithm::Es256).unwrap()
}

fn proof(world: &World, prover: &DpopProver) -> String {
    prover
        .proof("POST", TOKEN_ENDPOINT, world.now.as_secs(), None, None)
        .unwrap()
}

fn code_body(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

fn refresh_body(token: &str) -> Vec<(&str, &str)> {
    vec![("grant_type", "refresh_token"), ("refresh_token", token)]
}

fn code_of(error: &EndpointError) -> ErrorCode {
    error.code().clone()
}

#[test]
fn rfc9449_section_5_and_6_a_proof_binds_the_access_token_to_its_key() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let key = prover();
    let proof = proof(&world, &key);
    let tokens = world
        .token_with_dpop(&client, &code_body(&code), &[&proof])
        .unwrap();
    // §5.1: "token_type … DPoP"; §6.1: `cnf.jkt` is the proof key's thumbprint.
    assert_eq!(tokens.token_type, "DPoP");
    let claims = world.claims(&tokens.access_token);
    assert_eq!(
        claims.extra.get("cnf"),
        Some(&serde_json::json!({ "jkt": key.jkt() }))
    );
    // §6.2: introspection reports the binding.
    let resource_server = world.resource_server();
    let introspected = world.introspect(&resource_server, &tokens.access_token);
    let active = introspected.active_token().unwrap();
    assert_eq!(active.token_type.as_deref(), Some("DPoP"));
    assert_eq!(
        active.extra.get("cnf"),
        Some(&serde_json::json!({ "jkt": key.jkt() }))
    );
    // Without a proof the same server issues bearer tokens, as before.
    let code = world.code_for(&client, &[]);
    let bearer = world.redeem(&client, &code).unwrap();
    assert_eq!(bearer.token_type, "Bearer");
    assert!(!world.claims(&bearer.access_token).extra.contains_key("cnf"));
}

#[test]
fn rfc9449_section_5_a_public_clients_refresh_token_is_bound_to_the_key() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let key = prover();
    let tokens = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap();
    let refresh = tokens.refresh_token.unwrap();

    // Without a proof: invalid_dpop_proof.
    let error = world.refresh(&client, &refresh).unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
    // With another key: the token is not for whoever holds another key.
    let thief = prover();
    let error = world
        .token_with_dpop(&client, &refresh_body(&refresh), &[&proof(&world, &thief)])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
    // Neither refusal touched the grant: the holder of the key refreshes, and the successor is
    // bound to the same key.
    world.advance(1);
    let refreshed = world
        .token_with_dpop(&client, &refresh_body(&refresh), &[&proof(&world, &key)])
        .unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    let successor = refreshed.refresh_token.unwrap();
    let error = world
        .token_with_dpop(
            &client,
            &refresh_body(&successor),
            &[&proof(&world, &thief)],
        )
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
    world.advance(1);
    assert!(
        world
            .token_with_dpop(&client, &refresh_body(&successor), &[&proof(&world, &key)])
            .is_ok()
    );
}

#[test]
fn rfc9449_section_5_a_confidential_clients_refresh_token_is_not_bound() {
    let mut world = World::new();
    let client = world.confidential_client();
    let code = world.code_for(&client, &[]);
    let key = prover();
    let tokens = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap();
    assert_eq!(tokens.token_type, "DPoP");
    // The client authenticates: its refresh token needs no proof, and a refresh without one
    // gets a bearer token.
    let refreshed = world
        .refresh(&client, &tokens.refresh_token.unwrap())
        .unwrap();
    assert_eq!(refreshed.token_type, "Bearer");
}

#[test]
fn rfc9449_section_11_1_a_proof_is_accepted_once() {
    let mut world = World::new();
    let client = world.public_client();
    let key = prover();
    let proof = proof(&world, &key);
    let code = world.code_for(&client, &[]);
    world
        .token_with_dpop(&client, &code_body(&code), &[&proof])
        .unwrap();
    let code = world.code_for(&client, &[]);
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&proof])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
    // The code was not taken by the refused request.
    let fresh = self::proof(&world, &key);
    assert!(
        world
            .token_with_dpop(&client, &code_body(&code), &[&fresh])
            .is_ok()
    );
}

#[test]
fn rfc9449_section_4_3_proofs_for_another_request_or_time_are_refused() {
    let mut world = World::new();
    let client = world.public_client();
    let key = prover();
    let now = world.now.as_secs();
    let refused = [
        // §4.3 item 8: htm.
        key.proof("GET", TOKEN_ENDPOINT, now, None, None).unwrap(),
        // §4.3 item 9: htu.
        key.proof("POST", "https://auth.example.com/revoke", now, None, None)
            .unwrap(),
        key.proof("POST", "https://evil.example.com/token", now, None, None)
            .unwrap(),
        // §4.3 item 11: iat, too old and too far ahead.
        key.proof("POST", TOKEN_ENDPOINT, now - 301, None, None)
            .unwrap(),
        key.proof("POST", TOKEN_ENDPOINT, now + 61, None, None)
            .unwrap(),
        "not-a-jwt".to_owned(),
    ];
    for proof in &refused {
        let code = world.code_for(&client, &[]);
        let error = world
            .token_with_dpop(&client, &code_body(&code), &[proof])
            .unwrap_err();
        assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof, "{proof}");
    }
    // §4.3 item 1: "There is not more than one DPoP HTTP request header field."
    let code = world.code_for(&client, &[]);
    let (a, b) = (proof(&world, &key), proof(&world, &key));
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&a, &b])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
}

#[test]
fn rfc9449_section_8_server_nonces_are_required_when_configured() {
    let secret = [9u8; 32];
    let nonces = NonceSource::new(&secret, TOKEN_ENDPOINT, 300);
    let mut world = World::with_dpop(DpopPolicy {
        nonces: Some(nonces.clone()),
        ..DpopPolicy::default()
    });
    let client = world.public_client();
    let key = prover();
    let now = world.now.as_secs();

    // No nonce: use_dpop_nonce, the error §8 names.
    let code = world.code_for(&client, &[]);
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::UseDpopNonce);
    // Another server's nonce (another key or label) is no nonce of ours.
    let foreign = NonceSource::new(&[1u8; 32], TOKEN_ENDPOINT, 300).current(now);
    let with_foreign = key
        .proof("POST", TOKEN_ENDPOINT, now, None, Some(&foreign))
        .unwrap();
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&with_foreign])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::UseDpopNonce);
    // The current nonce passes; another instance with the same secret hands out the same one.
    let current = NonceSource::new(&secret, TOKEN_ENDPOINT, 300).current(now);
    assert_eq!(current, nonces.current(now));
    let with_current = key
        .proof("POST", TOKEN_ENDPOINT, now, None, Some(&current))
        .unwrap();
    assert!(
        world
            .token_with_dpop(&client, &code_body(&code), &[&with_current])
            .is_ok()
    );
    // Two steps later the nonce is refused.
    world.advance(600);
    let code = world.code_for(&client, &[]);
    let stale = key
        .proof(
            "POST",
            TOKEN_ENDPOINT,
            world.now.as_secs(),
            None,
            Some(&current),
        )
        .unwrap();
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&stale])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::UseDpopNonce);
}

#[test]
fn rfc9449_section_10_dpop_jkt_binds_the_code_to_a_key() {
    let mut world = World::new();
    let client = world.public_client();
    let key = prover();
    let jkt = key.jkt().to_owned();

    let code = world.code_for(&client, &[("dpop_jkt", &jkt)]);
    // Without a proof, or with another key, the code is not redeemed.
    let error = world.redeem(&client, &code).unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
    let other = prover();
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &other)])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
    // With the key it names, it is.
    let tokens = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap();
    assert_eq!(tokens.token_type, "DPoP");

    // A value that is no SHA-256 thumbprint is refused at the authorization request.
    for bad in ["abc", &format!("{jkt}A"), &jkt.replace(&jkt[..1], "+")] {
        let error = world
            .validate(&world.authorize_params(&client, &[("dpop_jkt", bad)]))
            .unwrap_err();
        let gatehouse_engine::AuthorizeError::Redirect(url) = error else {
            panic!("expected an error redirect for {bad:?}");
        };
        assert_eq!(
            query_param(&url, "error").as_deref(),
            Some("invalid_request")
        );
    }
}

#[test]
fn rfc9449_section_5_2_a_client_or_a_deployment_can_require_dpop() {
    // The client's own `dpop_bound_access_tokens`.
    let mut world = World::new();
    let response = world.register(&format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none",
            "grant_types":["authorization_code","refresh_token"],
            "dpop_bound_access_tokens":true}}"#
    ));
    let client = response.client_id.as_str().to_owned();
    let code = world.code_for(&client, &[]);
    let error = world.redeem(&client, &code).unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
    let key = prover();
    assert!(
        world
            .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
            .is_ok()
    );

    // A deployment that issues bound tokens only.
    let mut world = World::with_dpop(DpopPolicy {
        required: true,
        ..DpopPolicy::default()
    });
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let error = world.redeem(&client, &code).unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
}

#[test]
fn rfc9449_section_5_client_credentials_tokens_are_bound_too() {
    let mut world = World::new();
    let client = world.machine_client("mcp:tools");
    let key = prover();
    let tokens = world
        .token_with_dpop(
            &client,
            &[("grant_type", "client_credentials")],
            &[&proof(&world, &key)],
        )
        .unwrap();
    assert_eq!(tokens.token_type, "DPoP");
    assert_eq!(
        world.claims(&tokens.access_token).extra.get("cnf"),
        Some(&serde_json::json!({ "jkt": key.jkt() }))
    );
}

#[test]
fn rfc9449_section_5_a_public_client_that_starts_dpop_at_a_refresh_is_bound_from_then_on() {
    let mut world = World::new();
    let client = world.public_client();
    let code = world.code_for(&client, &[]);
    let bearer = world.redeem(&client, &code).unwrap();
    assert_eq!(bearer.token_type, "Bearer");
    let key = prover();
    world.advance(1);
    let refreshed = world
        .token_with_dpop(
            &client,
            &refresh_body(&bearer.refresh_token.unwrap()),
            &[&proof(&world, &key)],
        )
        .unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    // The successor is bound: without the key it is worth nothing.
    let successor = refreshed.refresh_token.unwrap();
    let error = world.refresh(&client, &successor).unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidDpopProof);
    let error = world
        .token_with_dpop(
            &client,
            &refresh_body(&successor),
            &[&proof(&world, &prover())],
        )
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
}

#[test]
fn rfc9449_section_10_a_bound_code_replayed_without_its_key_revokes_nothing() {
    let mut world = World::new();
    let client = world.public_client();
    let key = prover();
    let jkt = key.jkt().to_owned();
    let code = world.code_for(&client, &[("dpop_jkt", &jkt)]);
    let tokens = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap();
    // Whoever replays the used code without the key is refused, and the grant stands.
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &prover())])
        .unwrap_err();
    assert_eq!(code_of(&error), ErrorCode::InvalidGrant);
    assert!(error.reuse().is_none());
    assert!(world.accepts(&tokens.access_token));
    // The key holder replaying it is OAuth 2.1 §4.1.3 code reuse: the grant is revoked.
    let error = world
        .token_with_dpop(&client, &code_body(&code), &[&proof(&world, &key)])
        .unwrap_err();
    assert!(error.reuse().is_some());
    assert!(!world.accepts(&tokens.access_token));
}
