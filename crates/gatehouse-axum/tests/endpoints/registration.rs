//! Dynamic client registration (RFC 7591) and its management with the registration access
//! token (RFC 7592).

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::oneshot::App;
use crate::support::{FORM, REDIRECT};

#[tokio::test]
async fn registration_errors_name_the_problem() {
    let app = App::auto_approve().await;
    let bad_redirect = app
        .post("/register")
        .json(&json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}))
        .await;
    bad_redirect.error(StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    let not_json = app.post("/register").body(FORM, "redirect_uris=x").await;
    not_json.error(StatusCode::BAD_REQUEST, "invalid_request");
    let malformed = app.post("/register").body("application/json", "{").await;
    malformed.error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
}

#[tokio::test]
async fn rfc7592_read_update_and_delete_with_the_registration_token() {
    let app = App::auto_approve().await;
    let client = app.confidential_client().await;
    let uri = client.registration["registration_client_uri"]
        .as_str()
        .unwrap();
    let token = client.registration["registration_access_token"]
        .as_str()
        .unwrap();
    assert_eq!(uri, app.url(&format!("/register/{}", client.id)));

    let read = app.get(uri).bearer(token).await;
    assert_eq!(read.status, StatusCode::OK);
    let read = read.json();
    assert_eq!(read["client_name"], "Confidential");
    assert!(
        read.get("client_secret").is_none(),
        "only the hash is stored"
    );

    // RFC 7592 §2.1 with RFC 6750 §3.1: a wrong token is 401 invalid_token.
    let wrong = app.get(uri).bearer("gthm_wrong").await;
    assert_eq!(
        wrong.headers[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    wrong.error(StatusCode::UNAUTHORIZED, "invalid_token");

    // RFC 7592 §2.2: the whole metadata sent back, changed.
    let update = |metadata: Value| app.request(Method::PUT, uri).bearer(token).json(&metadata);
    let updated = update(json!({
        "client_id": client.id, "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"], "client_name": "Renamed"
    }))
    .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.json()["client_name"], "Renamed");
    // A confidential client cannot drop its secret by update: its codes and refresh tokens
    // would then work without it.
    let to_public = update(json!({
        "client_id": client.id, "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]
    }))
    .await;
    to_public.error(StatusCode::BAD_REQUEST, "invalid_client_metadata");

    // A grant, then the client deleted: its tokens stop working (RFC 7592 §2.3).
    let tokens = app.tokens(&client).await;
    let deleted = app.request(Method::DELETE, uri).bearer(token).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(uri).bearer(token).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refused = app.refresh(&client, refresh).await;
    refused.error(StatusCode::UNAUTHORIZED, "invalid_client");
}
