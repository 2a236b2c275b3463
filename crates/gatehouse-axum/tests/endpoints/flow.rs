//! The flow as an MCP client performs it (OAuth 2.1 §4.1, PKCE): a public client through
//! refresh, code replay and revocation; a confidential client through introspection (RFC 7662)
//! and revocation (RFC 7009).

use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use serde_json::json;

use crate::support::oneshot::App;

#[tokio::test]
async fn the_mcp_flow_with_a_public_client() {
    let app = App::auto_approve().await;
    let client = app.public_client().await;
    let code = app.code(&client.id).await;
    let response = app.redeem(&client, &code).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers[CACHE_CONTROL], "no-store");
    assert_eq!(response.headers["pragma"], "no-cache");
    let tokens = response.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The access token verifies against the published JWKS, for the resource.
    let jwks = app.get("/.well-known/jwks.json").await;
    let (keys, _) = gatehouse_jose::KeySet::from_jwks_json(&jwks.body).unwrap();
    let resource = &app.gatehouse.config().resources[0].resource;
    let claims = gatehouse_jose::AccessTokenValidator::new(&app.issuer, resource)
        .validate(access, &keys, gatehouse_axum::now().as_secs())
        .unwrap();
    assert_eq!(claims.claims().sub, "alice");

    // Refresh rotates.
    let rotated = app.refresh(&client, refresh).await.json();
    let refresh_2 = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(refresh_2, refresh);

    // The code again: refused, and what it issued is revoked (OAuth 2.1 §4.1.3).
    let replay = app.redeem(&client, &code).await;
    replay.error(StatusCode::BAD_REQUEST, "invalid_grant");
    let after = app.refresh(&client, refresh_2).await;
    after.error(StatusCode::BAD_REQUEST, "invalid_grant");

    // RFC 7009: revocation answers 200, also for a token it does not know.
    let revoked = app
        .post("/revoke")
        .form(&[("token", "not-a-token")])
        .client(&client)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
}

#[tokio::test]
async fn the_mcp_flow_with_a_confidential_client_and_introspection() {
    let app = App::auto_approve().await;
    let client = app.confidential_client().await;
    let tokens = app.tokens(&client).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = || app.post("/introspect").form(&[("token", access)]);

    let active = introspect().client(&client).await.json();
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], client.id.as_str());
    assert_eq!(active["scope"], "mcp:tools");

    // RFC 7662 §2.1: introspection needs client authentication.
    let status = introspect().await.status;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
        "{status}"
    );

    let revoked = app
        .post("/revoke")
        .form(&[("token", access), ("token_type_hint", "access_token")])
        .client(&client)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let inactive = introspect().client(&client).await.json();
    assert_eq!(inactive, json!({ "active": false }));
}
