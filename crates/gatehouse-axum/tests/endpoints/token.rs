//! The token endpoint's refusals: each names its error precisely (RFC 6749 §5.2), and what is
//! not a token request at all (a wrong method, a wrong content type, a body over the limit) is
//! refused before it is read.

use axum::http::StatusCode;
use axum::http::header::{ALLOW, WWW_AUTHENTICATE};
use serde_json::json;

use crate::support::FORM;
use crate::support::oneshot::App;

#[tokio::test]
async fn token_endpoint_errors_are_precise() {
    let app = App::auto_approve().await;
    let client = app.confidential_client().await;

    // Wrong secret: 401 invalid_client with a challenge (RFC 6749 §5.2).
    let wrong = app.refresh(&client.with_secret("wrong"), "x").await;
    assert!(wrong.headers.get(WWW_AUTHENTICATE).is_some());
    wrong.error(StatusCode::UNAUTHORIZED, "invalid_client");

    let public = app.public_client().await;
    let grant = app.token(&public, &[("grant_type", "password")]).await;
    grant.error(StatusCode::BAD_REQUEST, "unsupported_grant_type");

    // JSON where a form is required.
    let json = app
        .post("/token")
        .json(&json!({"grant_type": "authorization_code"}))
        .await;
    json.error(StatusCode::BAD_REQUEST, "invalid_request");

    // A wrong method: 405 with Allow.
    let get = app.get("/token").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(get.headers[ALLOW].to_str().unwrap().contains("POST"));

    // A body over the limit: 413, never read whole.
    let huge = format!("grant_type=authorization_code&code={}", "a".repeat(200_000));
    let huge = app.post("/token").body(FORM, huge).await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
}
