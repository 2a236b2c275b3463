//! CORS: on what browser-based MCP clients call directly (metadata, keys, registration, token,
//! revocation), never on the pages.

use axum::http::{Method, StatusCode};

use crate::support::oneshot::App;

#[tokio::test]
async fn cors_on_what_browser_clients_call_and_not_on_the_pages() {
    let app = App::auto_approve().await;
    let preflight = app
        .request(Method::OPTIONS, "/token")
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    assert!(
        preflight.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let response = app
            .get(path)
            .header("origin", "https://inspector.example")
            .await;
        assert_eq!(
            response.headers["access-control-allow-origin"], "*",
            "{path}"
        );
    }
    let client = app.public_client().await;
    let page = app
        .get(&app.authorize_url(&client.id))
        .header("origin", "https://evil.example")
        .await;
    assert!(page.headers.get("access-control-allow-origin").is_none());
}
