//! The scope matrix (issue 23; `gatehouse_types::policy`): with rules present, a scope no rule
//! gives the subject through the client is never granted: not in the code the person approves,
//! not in any access token, whatever the client asks (RFC 6749 §3.3: "The authorization server
//! MAY fully or partially ignore the scope requested by the client, based on the authorization
//! server policy or the resource owner's instructions").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{AuthorizeError, Engine, MemoryStore};
use gatehouse_types::policy::{Names, ScopePolicy, ScopeRule};
use gatehouse_types::{ErrorCode, OAuthError, ScopeSet};
use support::*;

fn rule(subjects: &[&str], clients: &[&str], scopes: &str) -> ScopeRule {
    let names =
        |list: &[&str]| Names::from_list(Some(list.iter().map(|s| (*s).to_owned()).collect()));
    ScopeRule {
        groups: Vec::new(),
        subjects: names(subjects),
        clients: names(clients),
        scopes: ScopeSet::parse(scopes).unwrap(),
    }
}

/// A world whose engine has `rules` over every resource scope.
fn world_with(rules: Vec<ScopeRule>) -> World {
    let mut world = World::new();
    let mut config = world.engine.config().clone();
    config.scope_policy = ScopePolicy::new(
        rules,
        ScopeSet::parse("mcp:tools mcp:admin files:read").unwrap(),
    );
    world.engine = Engine::new(config, MemoryStore::new()).unwrap();
    world
}

fn claims(token: &str) -> serde_json::Value {
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn rfc6749_section_3_3_the_code_and_the_token_carry_only_what_the_policy_lets_alice_hold() {
    // Everyone may hold mcp:tools; nobody mcp:admin. The client asks for both.
    let mut world = world_with(vec![rule(&["*"], &["*"], "mcp:tools")]);
    let client = world.public_client();
    let code = world.code_for(&client, &[("scope", "mcp:tools mcp:admin")]);
    let tokens = world.redeem(&client, &code).unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("mcp:tools"));
    assert_eq!(claims(&tokens.access_token)["scope"], "mcp:tools");
}

#[test]
fn a_person_the_policy_gives_none_of_the_requested_scopes_is_refused_with_access_denied() {
    let mut world = world_with(vec![rule(&["bob"], &["*"], "mcp:tools mcp:admin")]);
    let client = world.public_client();
    let request = world
        .validate(&world.authorize_params(&client, &[("scope", "mcp:tools")]))
        .unwrap();
    let refused = block_on(approve_call(
        &world.engine,
        &request,
        "alice",
        &mut world.rng,
        world.now,
    ))
    .unwrap_err();
    let AuthorizeError::Redirect(redirect) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("xyz"));
    // For bob, the same request is fine; the consent page asks `for_subject` what to show.
    let shown = world.engine.for_subject(&request, "bob").unwrap();
    assert_eq!(shown.scopes().to_string(), "mcp:tools");
}

#[test]
fn a_policy_made_stricter_narrows_the_next_refresh() {
    let mut world = world_with(vec![rule(&["alice"], &["*"], "mcp:tools mcp:admin")]);
    let client = world.public_client();
    let code = world.code_for(&client, &[("scope", "mcp:tools mcp:admin")]);
    let tokens = world.redeem(&client, &code).unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("mcp:admin mcp:tools"));

    // The operator takes mcp:admin away from Alice through this client.
    let mut config = world.engine.config().clone();
    config.scope_policy = ScopePolicy::new(
        vec![rule(&["alice"], &["*"], "mcp:tools")],
        ScopeSet::parse("mcp:tools mcp:admin files:read").unwrap(),
    );
    world.engine = world.engine.with_config(config).unwrap();
    let refreshed = world
        .refresh(&client, tokens.refresh_token.as_ref().unwrap())
        .unwrap();
    assert_eq!(refreshed.scope.as_deref(), Some("mcp:tools"));
    assert_eq!(claims(&refreshed.access_token)["scope"], "mcp:tools");
}

#[test]
fn sep_1046_a_machine_client_is_its_own_subject_in_the_matrix() {
    let mut world = world_with(vec![rule(&["*"], &["*"], "files:read")]);
    let machine = world.machine_client("mcp:tools files:read");
    // Its registered scope allows mcp:tools at the MCP server, but no rule gives it.
    let refused = world
        .token_for(
            &machine,
            &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
        )
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidScope);
    // A rule naming the machine opens it.
    let mut world = world_with(vec![rule(&["*"], &["*"], "files:read")]);
    let machine = world.machine_client("mcp:tools files:read");
    let mut config = world.engine.config().clone();
    config.scope_policy = ScopePolicy::new(
        vec![rule(&[machine.as_str()], &[machine.as_str()], "mcp:tools")],
        ScopeSet::parse("mcp:tools mcp:admin files:read").unwrap(),
    );
    world.engine = world.engine.with_config(config).unwrap();
    let granted = world
        .token_for(
            &machine,
            &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
        )
        .unwrap();
    assert_eq!(claims(&granted.access_token)["scope"], "mcp:tools");
}

#[test]
fn a_grant_the_policy_empties_refreshes_no_more_and_its_tokens_introspect_inactive() {
    let mut world = world_with(vec![rule(&["alice"], &["*"], "mcp:tools")]);
    let client = world.confidential_client();
    let code = world.code_for(&client, &[("scope", "mcp:tools")]);
    let tokens = world.redeem(&client, &code).unwrap();
    // The operator gives mcp:tools to Bob only.
    let mut config = world.engine.config().clone();
    config.scope_policy = ScopePolicy::new(
        vec![rule(&["bob"], &["*"], "mcp:tools")],
        ScopeSet::parse("mcp:tools mcp:admin files:read").unwrap(),
    );
    world.engine = world.engine.with_config(config).unwrap();
    // A token of no scope would pass a resource that requires none: none is issued.
    let refused = world
        .refresh(&client, tokens.refresh_token.as_ref().unwrap())
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidGrant);
    // RFC 7662: a resource server that introspects learns what holds now.
    assert!(!world.introspect(&client, &tokens.access_token).is_active());
}
