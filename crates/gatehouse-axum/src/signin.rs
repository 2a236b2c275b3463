//! Signing a person in: the form, and the check behind it. Shared by the authorization pages and
//! the connected-apps page.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use gatehouse_store::ServerStore;
use gatehouse_types::UnixTime;

use crate::authenticator::local_sign_in;
use crate::events::Event;
use crate::pages::{SignIn, render};
use crate::respond::page;
use crate::session::Browser;
use crate::state::AppState;

/// Password checks running at once, at most: argon2id holds 19 MiB and a core for tens of
/// milliseconds, so a flood of sign-ins queues here instead of exhausting memory.
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// What a sign-in attempt came to.
pub(crate) enum Attempt {
    /// Right: the subject, signed in on a new session.
    SignedIn {
        /// Who.
        subject: String,
        /// The new session, with its cookie.
        browser: Browser,
    },
    /// Wrong name or password.
    Refused,
    /// The account had too many failures in a row; the password was not checked. Seconds to
    /// wait.
    Throttled(u64),
    /// The session could not be stored.
    Unavailable,
}

/// Signs a person in: checks `username` and `password` (with the plugged-in
/// [`crate::Authenticator`], or against the store's local users) unless the account is throttled
/// (`throttle`), starts a session, and records the events. `client_id` is the client the person
/// is signing in for, if any.
pub(crate) async fn attempt(
    state: &AppState,
    username: &str,
    password: &str,
    client_id: Option<&str>,
    now: UnixTime,
) -> Attempt {
    let store = state.store();
    // One attempt per account at a time: a burst cannot all pass the throttle at once.
    let _account = state.throttle.hold(username).await;
    let outcome = match state.throttle.wait(store, username, now).await {
        Some(wait) => Err(Attempt::Throttled(wait)),
        // A name in an identity provider's namespace (`corp:…`) is that provider's to vouch
        // for: a local user (or a plugged-in directory) must never become such a subject.
        None if state.federation.is_federated(username)
            || state.config.login.mode == crate::LoginMode::Providers =>
        {
            Err(Attempt::Refused)
        }
        None => match verify(state, username, password).await {
            // Whatever name was typed, a subject in a provider's namespace is its to vouch for.
            Some((subject, _)) if state.federation.is_federated(&subject) => Err(Attempt::Refused),
            Some(verified) => Ok(verified),
            None => {
                state.throttle.failed(store, username, now).await;
                Err(Attempt::Refused)
            }
        },
    };
    let (subject, password_hash) = match outcome {
        Ok(verified) => verified,
        Err(refusal) => {
            state.events.emit(Event::SignInFailed {
                username: loggable_username(state, username).await,
                client_id: client_id.map(str::to_owned),
            });
            return refusal;
        }
    };
    state.throttle.succeeded(store, username).await;
    let browser = match state.sessions.sign_in(store, &subject, now).await {
        Ok(browser) => browser,
        Err(error) => {
            tracing::warn!(%error, "could not store a session");
            return Attempt::Unavailable;
        }
    };
    // A new password or a deletion that committed while the old one was being checked deleted
    // the user's sessions before this one existed: look again, and end this one too.
    if let Some(verified) = password_hash {
        let current = store.user(&subject).await.ok().flatten();
        if current.is_none_or(|user| user.password_hash != verified) {
            let _ = store.delete_session(&browser.id.hash()).await;
            return Attempt::Refused;
        }
    }
    state.events.emit(Event::SignedIn {
        subject: subject.clone(),
        client_id: client_id.map(str::to_owned),
    });
    Attempt::SignedIn { subject, browser }
}

/// The subject if the credentials are right, with the password hash they matched (local users).
async fn verify(
    state: &AppState,
    username: &str,
    password: &str,
) -> Option<(String, Option<String>)> {
    let _permit = PASSWORD_CHECKS.acquire().await.ok()?;
    match &state.authenticator {
        Some(authenticator) => authenticator
            .authenticate(username, password)
            .await
            .map(|subject| (subject, None)),
        None => local_sign_in(state.store(), username, password)
            .await
            .map(|user| (user.name, Some(user.password_hash))),
    }
}

/// The signed-in subject: a session the store knows, and (with local users) a user that still
/// exists.
pub(crate) async fn session_subject(
    state: &AppState,
    headers: &HeaderMap,
    now: UnixTime,
) -> Option<String> {
    let subject = state.sessions.subject(state.store(), headers, now).await?;
    // A person an identity provider vouched for has no local user; their session is the proof.
    if state.authenticator.is_none()
        && state.config.login.mode == crate::LoginMode::Local
        && !state.federation.is_federated(&subject)
    {
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

/// What the sign-in page says about a failed attempt, and its status.
pub(crate) fn refusal(attempt: &Attempt) -> (StatusCode, String, Option<u64>) {
    match attempt {
        Attempt::Throttled(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins for this account. Try again in {} seconds.",
                wait.max(&1)
            ),
            Some(*wait),
        ),
        Attempt::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The sign-in could not be recorded; try again.".to_owned(),
            None,
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            "The user name or password is wrong.".to_owned(),
            None,
        ),
    }
}

/// The sign-in form posting to `path` (an endpoint path), carrying `params` as hidden fields;
/// `error` (with its status, and how long to wait) when an attempt failed.
pub(crate) fn form(
    state: &AppState,
    browser: &Browser,
    path: &str,
    target: &str,
    params: &[(String, String)],
    error: Option<(StatusCode, &str, Option<u64>)>,
) -> Response {
    let csrf = state.sessions.csrf_token(&browser.id);
    let action = state.endpoint(path);
    let providers = state.federation.offered();
    let html = render(&SignIn {
        brand: &state.config.branding,
        action: &action,
        client_name: target,
        params,
        csrf: &csrf,
        error: error.map(|(_, message, _)| message),
        providers: &providers,
        local: state.config.login.mode != crate::LoginMode::Providers,
    });
    let status = error.map_or(StatusCode::OK, |(status, _, _)| status);
    let mut response = page(status, html, browser.set_cookie.as_slice());
    if let Some(wait) = error.and_then(|(_, _, wait)| wait)
        && let Ok(value) = HeaderValue::from_str(&wait.max(1).to_string())
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}
