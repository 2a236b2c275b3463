//! Enterprise-Managed Authorization (MCP SEP-990): an ID-JAG from a trusted identity provider
//! (draft-ietf-oauth-identity-assertion-authz-grant) exchanged at `/token` with the jwt-bearer
//! grant (RFC 7523 §2.1) for this server's own token, with no consent page.
//!
//! No client library signs ID-JAGs (identity providers do); these tests mint them with a provider
//! key, as the official conformance suite's fake identity provider does (ES256, `typ`
//! `oauth-id-jag+jwt`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::{EndpointError, ID_JAG_TYPE, ServerKeys, TokenRequest, TrustedIssuer};
use gatehouse_jose::{Algorithm, KeySet, SigningKey};
use gatehouse_types::{ErrorCode, OAuthError};
use serde_json::{Value, json};
use support::*;

const IDP: &str = "https://idp.example.com";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

struct Enterprise {
    world: World,
    idp: SigningKey,
    client: String,
}

impl Enterprise {
    fn new() -> Self {
        let mut world = World::new();
        let client =
            world.vetted_confidential(&format!(r#"["{JWT_BEARER}"]"#), "mcp:tools mcp:admin");
        Self {
            world,
            idp: SigningKey::generate(Algorithm::Es256).unwrap(),
            client,
        }
    }

    /// An ID-JAG for alice, signed by the provider, `changes` applied (`null` removes a claim).
    fn id_jag(&mut self, changes: Value) -> String {
        self.id_jag_typed(Some(ID_JAG_TYPE), changes)
    }

    fn id_jag_typed(&mut self, typ: Option<&str>, changes: Value) -> String {
        let mut jti = [0u8; 8];
        gatehouse_engine::RandomSource::fill(&mut self.world.rng, &mut jti);
        let now = self.world.now.as_secs();
        let mut claims = json!({
            "iss": IDP, "sub": "248289761001", "aud": ISSUER, "client_id": self.client,
            "resource": RESOURCE, "scope": "mcp:tools", "iat": now, "exp": now + 300,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "email": "alice@example.com",
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        gatehouse_jose::jws::sign(&self.idp, typ, claims.to_string().as_bytes()).unwrap()
    }

    /// The jwt-bearer request with `assertion`, as the client, with the provider trusted (or
    /// not).
    fn present(
        &mut self,
        assertion: &str,
        extra: &[(&str, &str)],
        trusted: bool,
    ) -> Result<gatehouse_engine::TokenResponse, EndpointError> {
        let secret = self.world.secrets[&self.client].clone();
        let mut body = vec![
            ("grant_type", JWT_BEARER),
            ("assertion", assertion),
            ("client_id", self.client.as_str()),
            ("client_secret", secret.as_str()),
        ];
        body.extend_from_slice(extra);
        let body = gatehouse_types::form::encode(body);
        let mut request = TokenRequest::parse(body.as_bytes(), None)?;
        if trusted && request.assertion_issuer().as_deref() == Some(IDP) {
            request.provide_trusted_issuer(TrustedIssuer {
                provider: "corp".into(),
                issuer: IDP.into(),
                keys: KeySet::new(vec![self.idp.verifying_key()]),
            });
        }
        let client = self
            .world
            .engine
            .store()
            .client(request.client().id())
            .unwrap();
        let keys = ServerKeys {
            signing: &self.world.key,
            verifying: &self.world.keys,
        };
        block_on(self.world.engine.token(
            request,
            client,
            &keys,
            &mut self.world.rng,
            self.world.now,
        ))
        .map(|issued| issued.response)
    }
}

fn claims(token: &str) -> Value {
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn sep_990_an_id_jag_gets_a_token_for_the_person_without_consent() {
    let mut e = Enterprise::new();
    let assertion = e.id_jag(json!({}));
    let issued = e.present(&assertion, &[], true).unwrap();
    // Draft §4.4.3: no refresh token; the token is this server's own, audience-bound (§5.1).
    assert!(issued.refresh_token.is_none());
    assert!(e.world.accepts(&issued.access_token));
    let claims = claims(&issued.access_token);
    assert_eq!(claims["sub"], "corp:248289761001");
    assert_eq!(claims["client_id"], e.client.as_str());
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "mcp:tools");
}

#[test]
fn draft_4_4_1_every_check_refuses_with_invalid_grant() {
    let mut e = Enterprise::new();
    let now = e.world.now.as_secs();
    for (case, changes) in [
        (
            "aud is another server",
            json!({"aud": "https://other-as.example.com"}),
        ),
        (
            "aud has two elements",
            json!({"aud": [ISSUER, "https://other-as.example.com"]}),
        ),
        (
            "client_id is another client",
            json!({"client_id": "someone-else"}),
        ),
        ("client_id is missing", json!({"client_id": null})),
        ("expired", json!({"exp": now - 10, "iat": now - 310})),
        ("valid for too long", json!({"exp": now + 3_600})),
        ("issued in the future", json!({"iat": now + 600})),
        ("no jti", json!({"jti": null})),
        ("no resource (MCP profile §5.1)", json!({"resource": null})),
        (
            "a resource not served here (§7.6.2)",
            json!({"resource": "https://elsewhere.example.com/mcp"}),
        ),
        (
            "a scope the resource does not know (§7.6.2)",
            json!({"scope": "mcp:tools payroll:write"}),
        ),
    ] {
        let assertion = e.id_jag(changes);
        let refused = e.present(&assertion, &[], true).unwrap_err();
        assert_eq!(
            refused.error_code(),
            ErrorCode::InvalidGrant,
            "{case}: {refused}"
        );
    }
    // The JWT type (RFC 8725 §3.11).
    for typ in [None, Some("JWT"), Some("at+jwt")] {
        let assertion = e.id_jag_typed(typ, json!({}));
        let refused = e.present(&assertion, &[], true).unwrap_err();
        assert_eq!(refused.error_code(), ErrorCode::InvalidGrant, "typ {typ:?}");
    }
    // Another key than the provider's; an issuer the operator does not trust.
    let forger = SigningKey::generate(Algorithm::Es256).unwrap();
    let forged = gatehouse_jose::jws::sign(
        &forger,
        Some(ID_JAG_TYPE),
        claims(&e.id_jag(json!({}))).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(
        e.present(&forged, &[], true).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
    let good = e.id_jag(json!({}));
    assert_eq!(
        e.present(&good, &[], false).unwrap_err().error_code(),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn profile_7_4_2_an_id_jag_is_accepted_once() {
    let mut e = Enterprise::new();
    let assertion = e.id_jag(json!({}));
    assert!(e.present(&assertion, &[], true).is_ok());
    let replayed = e.present(&assertion, &[], true).unwrap_err();
    assert_eq!(replayed.error_code(), ErrorCode::InvalidGrant);
    assert!(replayed.to_string().contains("used before"), "{replayed}");
}

#[test]
fn profile_7_2_1_scopes_are_the_intersection_and_resources_only_narrow() {
    let mut e = Enterprise::new();
    // The request asks for more than the ID-JAG grants: the intersection.
    let assertion = e.id_jag(json!({}));
    let issued = e
        .present(&assertion, &[("scope", "mcp:tools mcp:admin")], true)
        .unwrap();
    assert_eq!(claims(&issued.access_token)["scope"], "mcp:tools");
    // Only what the ID-JAG does not grant: invalid_scope.
    let assertion = e.id_jag(json!({}));
    let refused = e
        .present(&assertion, &[("scope", "mcp:admin")], true)
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidScope);
    // Without a scope in the ID-JAG, the request (within the client's registered scope).
    let assertion = e.id_jag(json!({"scope": null}));
    let issued = e
        .present(&assertion, &[("scope", "mcp:admin")], true)
        .unwrap();
    assert_eq!(claims(&issued.access_token)["scope"], "mcp:admin");
    // A `resource` in the request must be one the ID-JAG grants (RFC 8707 §2).
    let assertion = e.id_jag(json!({}));
    let refused = e
        .present(&assertion, &[("resource", OTHER_RESOURCE)], true)
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidTarget);
}

#[test]
fn draft_8_1_only_confidential_clients_that_list_the_grant() {
    let mut e = Enterprise::new();
    // A machine client that does not list the grant.
    let machine = e.world.machine_client("mcp:tools");
    e.client = machine;
    let assertion = e.id_jag(json!({}));
    let refused = e.present(&assertion, &[], true).unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::UnauthorizedClient);
    // No assertion at all.
    let mut e = Enterprise::new();
    let secret = e.world.secrets[&e.client].clone();
    let refused = e
        .world
        .token(&[
            ("grant_type", JWT_BEARER),
            ("client_id", e.client.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::InvalidRequest);
}
