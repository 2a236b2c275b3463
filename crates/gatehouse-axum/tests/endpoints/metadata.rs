//! RFC 8414: the authorization server's metadata, where it is published, and the keys it names.

use axum::http::StatusCode;
use gatehouse_axum::LoginMode;
use serde_json::json;

use crate::support::oneshot::App;

#[tokio::test]
async fn rfc8414_metadata_is_valid_for_mcp_and_names_the_issuer_exactly() {
    let app = App::auto_approve().await;
    let response = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status, StatusCode::OK);
    let metadata =
        gatehouse_as_metadata::AuthorizationServerMetadata::from_json(&response.body).unwrap();
    metadata.validate_for_mcp().unwrap();
    metadata.check_issuer(&app.issuer).unwrap();
    let json = response.json();
    assert_eq!(json["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(json["authorization_response_iss_parameter_supported"], true);

    let jwks = app.get(&app.url("/.well-known/jwks.json")).await.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert!(key.get("d").is_none(), "no private member in the JWKS");
}

#[tokio::test]
async fn rfc8414_section_3_1_metadata_of_an_issuer_with_a_path_is_path_inserted() {
    let app = App::new(LoginMode::AutoApprove, "/tenant", |_| {}).await;
    let response = app
        .get("/.well-known/oauth-authorization-server/tenant")
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let metadata = response.json();
    assert_eq!(metadata["issuer"], app.issuer);
    assert_eq!(metadata["token_endpoint"], format!("{}/token", app.issuer));
    // The endpoints live under the issuer's path, and work there.
    let client = app.public_client().await;
    let _code = app.code(&client.id).await;
    let root = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);
}
