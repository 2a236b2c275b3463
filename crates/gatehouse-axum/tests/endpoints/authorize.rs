//! The authorization endpoint's refusals (OAuth 2.1 §4.1.2.1): shown to the person while the
//! redirect URI is not known to be the client's, sent to the client once it is.

use axum::http::StatusCode;
use axum::http::header::LOCATION;

use crate::support::oneshot::App;

#[tokio::test]
async fn authorization_errors_before_the_redirect_uri_is_known_are_shown_not_redirected() {
    let app = App::auto_approve().await;
    // OAuth 2.1 §4.1.2.1: an unknown client gets a page, never a redirect.
    let unknown = app.get(&app.authorize_url("no-such-client")).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.headers.get(LOCATION).is_none());
    assert_eq!(unknown.headers["x-frame-options"], "DENY");
    let client = app.public_client().await;
    let request = app.authorize_url(&client.id);
    let wrong_redirect = app.get(&request.replace("33418", "1")).await;
    // Loopback redirect URIs match on any port (RFC 8252 §7.3); a different path does not.
    assert_eq!(wrong_redirect.status, StatusCode::SEE_OTHER);
    let other_path = app.get(&request.replace("callback", "elsewhere")).await;
    assert_eq!(other_path.status, StatusCode::BAD_REQUEST);
    assert!(other_path.headers.get(LOCATION).is_none());

    // After the redirect URI is known: an error for the client. This client registered itself,
    // so the person sees where they are sent first (RFC 9700 §4.11.2).
    let plain = app.get(&request.replace("S256", "plain")).await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    let page = plain.text();
    assert!(page.contains("error=invalid_request"), "{page}");
}
