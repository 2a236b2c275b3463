//! Signing a person in: the form, and the check behind it. Shared by the authorization pages and
//! the connected-apps page.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::authenticator::local_sign_in;
use crate::pages::{SignIn, render};
use crate::respond::page;
use crate::state::AppState;

/// The subject, if `username` and `password` are right: the plugged-in [`crate::Authenticator`],
/// or the store's local users.
pub(crate) async fn check(state: &AppState, username: &str, password: &str) -> Option<String> {
    match &state.authenticator {
        Some(authenticator) => authenticator.authenticate(username, password).await,
        None => local_sign_in(state.store(), username, password).await,
    }
}

/// The sign-in form posting to `path` (an endpoint path), carrying `params` as hidden fields;
/// 401 when it shows an `error`.
pub(crate) fn form(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    target: &str,
    params: &[(String, String)],
    error: Option<&str>,
) -> Response {
    let (csrf, set_csrf) = state.sessions.csrf_for_page(headers);
    let action = state.endpoint(path);
    let html = render(&SignIn {
        brand: &state.config.branding,
        action: &action,
        client_name: target,
        params,
        csrf: &csrf,
        error,
    });
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(status, html, &set_csrf.into_iter().collect::<Vec<_>>())
}
