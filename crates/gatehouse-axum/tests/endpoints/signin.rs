//! Who approves: the sign-in and consent pages (`login.mode = "local"`), as a browser without
//! JavaScript uses them, and auto-approval, which only a loopback issuer may use.

use axum::http::StatusCode;
use gatehouse_axum::{Config, LoginMode};

use crate::support::oneshot::App;
use crate::support::{add_user, form_token, query};

/// Sign-in and consent, as a browser without JavaScript does them.
#[tokio::test]
async fn local_sign_in_consent_and_csrf() {
    // More page requests than the authorize budget of one address: limits are tested elsewhere.
    let app = App::new(LoginMode::Local, "", |config| {
        config.rate_limits.enabled = false
    })
    .await;
    add_user(&app.gatehouse, "alice", "correct horse").await;
    let client = app.public_client().await;
    let first = app.get(&app.authorize_url(&client.id)).await;
    assert_eq!(first.status, StatusCode::OK);
    let browser_cookie = first.session_cookie();
    let page = first.text();
    assert!(page.contains("Sign in"));
    let csrf = form_token(&page);
    // No CSRF token: refused.
    let no_token = [
        ("gatehouse_action", "sign_in"),
        ("username", "alice"),
        ("password", "correct horse"),
    ];
    let forged = app.submit_page(&client.id, &no_token, "").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let wrong = app
        .sign_in(&client.id, &browser_cookie, &csrf, "wrong")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let signed_in = app
        .sign_in(&client.id, &browser_cookie, &csrf, "correct horse")
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    // Signing in makes a new session, whose forms carry a new token.
    let cookies = signed_in.session_cookie();
    assert_ne!(cookies, browser_cookie);
    let consent = signed_in.text();
    assert!(
        consent.contains("Allow") && consent.contains("mcp:tools"),
        "{consent}"
    );
    let csrf = form_token(&consent);

    let denied = app.consent(&client.id, "deny", &csrf, &cookies).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    assert_eq!(query(denied.location())["error"], "access_denied");

    let approved = app.consent(&client.id, "approve", &csrf, &cookies).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    assert!(query(approved.location()).contains_key("code"));

    // RFC 8252 §8.6: for a public client, whose identity nothing proves, consent is asked again.
    let again = app
        .get(&app.authorize_url(&client.id))
        .cookie(&cookies)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.text().contains("will be able to"));

    // For a confidential client the remembered consent is honoured: straight back with a code.
    let confidential = app.confidential_client().await;
    let approved = app
        .consent(&confidential.id, "approve", &csrf, &cookies)
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    let request = app.authorize_url(&confidential.id);
    let remembered = app.get(&request).cookie(&cookies).await;
    assert_eq!(remembered.status, StatusCode::SEE_OTHER);
    // A narrower request is covered too; a wider one is asked again.
    let wider = request.replace("scope=mcp:tools", "scope=mcp:tools%20mcp:admin");
    let wider = app.get(&wider).cookie(&cookies).await;
    assert_eq!(wider.status, StatusCode::OK);

    // Page fields smuggled into a link do not reach the forms.
    let smuggled = format!(
        "{}&gatehouse_action=approve&csrf=x",
        app.authorize_url(&client.id)
    );
    let page = app.get(&smuggled).cookie(&cookies).await.text();
    assert_eq!(page.matches("name=\"csrf\"").count(), 1, "{page}");
    assert!(!page.contains("value=\"approve\" type=\"hidden\""));
}

#[test]
fn auto_approve_is_refused_unless_the_issuer_is_loopback_http() {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    config.login.mode = LoginMode::AutoApprove;
    assert!(config.validate().is_ok());
    config.issuer = "https://auth.example.com".into();
    config.resources[0].resource = "https://mcp.example.com/mcp".into();
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("login.mode"), "{error}");
    assert!(Config::from_toml("issuer = \"https://a.example\"\nunknown = 1").is_err());
}
