//! A client the operator declared (`[[clients]]`, MCP pre-registration) is vetted: the consent
//! page names it without the warning it shows for a client that registered itself, whose name is
//! only its own claim.

use axum::http::StatusCode;
use gatehouse_axum::LoginMode;

use crate::support::oneshot::App;
use crate::support::{REDIRECT, add_user, form_token};

/// The consent page `client_id` gets once alice signed in.
async fn consent_page(app: &App, client_id: &str) -> String {
    let first = app.get(&app.authorize_url(client_id)).await;
    let reply = app
        .sign_in(
            client_id,
            &first.session_cookie(),
            &form_token(&first.text()),
            "correct horse",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.text()
}

#[tokio::test]
async fn a_declared_client_is_shown_without_the_self_registration_warning() {
    let declared: gatehouse_axum::config::DeclaredClient = toml::from_str(&format!(
        "client_id = \"first-party\"\nclient_name = \"Acme Desktop\"\n\
         token_endpoint_auth_method = \"none\"\nredirect_uris = [\"{REDIRECT}\"]\n"
    ))
    .unwrap();
    let app = App::new(LoginMode::Local, "", |config| {
        config.clients = vec![declared]
    })
    .await;
    add_user(&app.gatehouse, "alice", "correct horse").await;

    let page = consent_page(&app, "first-party").await;
    assert!(page.contains("Acme Desktop"), "{page}");
    assert!(!page.contains("registered itself"), "{page}");

    let registered = app.public_client().await;
    let page = consent_page(&app, &registered.id).await;
    assert!(page.contains("registered itself"), "{page}");
}
