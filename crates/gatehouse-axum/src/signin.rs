//! Signing a person in: the form, and the check behind it. Shared by the authorization pages and
//! the connected-apps page.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::authenticator::local_sign_in;
use crate::pages::{SignIn, render};
use crate::respond::page;
use crate::state::AppState;
use gatehouse_store::ServerStore;

/// Password checks running at once, at most: argon2id holds 19 MiB and a core for tens of
/// milliseconds, so a flood of sign-ins queues here instead of exhausting memory.
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// The subject, if `username` and `password` are right: the plugged-in [`crate::Authenticator`],
/// or the store's local users.
pub(crate) async fn check(state: &AppState, username: &str, password: &str) -> Option<String> {
    let _permit = PASSWORD_CHECKS.acquire().await.ok()?;
    match &state.authenticator {
        Some(authenticator) => authenticator.authenticate(username, password).await,
        None => local_sign_in(state.store(), username, password).await,
    }
}

/// The signed-in subject: a genuine, unexpired session cookie, and (with local users) a user
/// that still exists, so deleting a user ends their sessions.
pub(crate) async fn session_subject(
    state: &AppState,
    headers: &HeaderMap,
    now: gatehouse_types::UnixTime,
) -> Option<String> {
    let subject = state.sessions.subject(headers, now)?;
    if state.authenticator.is_none() && state.config.login.mode == crate::LoginMode::Local {
        state.store().user(&subject).await.ok().flatten()?;
    }
    Some(subject)
}

/// The user name of a failed sign-in as events may record it: only when it names an existing
/// user. People type passwords into the name field; those must not reach the audit log.
pub(crate) async fn loggable_username(state: &AppState, username: &str) -> String {
    match state.store().user(username).await {
        Ok(Some(_)) => username.to_owned(),
        _ => "(unknown user)".to_owned(),
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
    page(status, html, &[set_csrf])
}
