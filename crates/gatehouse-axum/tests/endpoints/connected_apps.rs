//! The connected-apps page: the person signed in sees the grants they made and disconnects one,
//! with the page's CSRF token; the grant's tokens and remembered consent go with it.

use axum::http::StatusCode;
use gatehouse_axum::LoginMode;

use crate::support::oneshot::App;
use crate::support::{add_user, form_value, query};

#[tokio::test]
async fn connected_apps_lists_grants_and_disconnects_one() {
    let app = App::new(LoginMode::Local, "", |_| {}).await;
    add_user(&app.gatehouse, "alice", "correct horse").await;
    let client = app.public_client().await;
    let (cookies, csrf) = app.signed_in(&client.id).await;
    let approved = app.consent(&client.id, "approve", &csrf, &cookies).await;
    let code = query(approved.location())["code"].clone();
    let tokens = app.redeem(&client, &code).await.json();

    // Not signed in: the sign-in form.
    let anonymous = app.get("/connected-apps").await;
    assert!(
        anonymous
            .text()
            .contains("Sign in to continue to your connected apps")
    );

    let listed = app.get("/connected-apps").cookie(&cookies).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.headers["x-frame-options"], "DENY");
    let page = listed.text();
    assert!(
        page.contains("Public") && page.contains("mcp:tools"),
        "{page}"
    );
    let grant = form_value(&page, "grant");
    let disconnect = [("gatehouse_action", "revoke"), ("grant", grant.as_str())];

    // Without the CSRF token nothing happens.
    let forged = app
        .post("/connected-apps")
        .cookie(&cookies)
        .form(&disconnect)
        .await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER);

    let revoked = app
        .post("/connected-apps")
        .cookie(&cookies)
        .form(&disconnect)
        .form(&[("csrf", csrf.as_str())])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    // The grant is gone: its refresh token fails, and the next authorization asks again.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refused = app.refresh(&client, refresh).await;
    refused.error(StatusCode::BAD_REQUEST, "invalid_grant");
    let again = app
        .get(&app.authorize_url(&client.id))
        .cookie(&cookies)
        .await;
    assert_eq!(again.status, StatusCode::OK, "consent is asked again");
    let empty = app.get("/connected-apps").cookie(&cookies).await;
    assert!(empty.text().contains("No application holds access for you"));
}
