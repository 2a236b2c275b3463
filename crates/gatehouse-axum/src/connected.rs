//! The connected-apps page: which clients hold grants for the signed-in person, for which
//! resources and scopes, when each was last used, and a button that revokes one (its refresh
//! tokens and access tokens, and the remembered consent, so the next authorization asks again).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_engine::Store;
use gatehouse_store::ServerStore;
use gatehouse_types::form::FormParams;

use crate::clock::now;
use crate::events::Event;
use crate::pages::{ConnectedApp, ConnectedApps, render};
use crate::respond::{page, see_other};
use crate::session::Browser;
use crate::signin::{self, Attempt};
use crate::state::AppState;

/// `GET /connected-apps`.
pub(crate) async fn get(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let browser = state.sessions.browser(&headers);
    match signin::session_subject(&state, &headers, now()).await {
        Some(subject) => list(&state, &browser, &subject, None).await,
        None => sign_in(&state, &browser, None),
    }
}

/// `POST /connected-apps`: sign in or out, or disconnect an app.
pub(crate) async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let browser = state.sessions.browser(&headers);
    let Ok(form) = FormParams::parse(&body) else {
        return sign_in(
            &state,
            &browser,
            Some((StatusCode::BAD_REQUEST, "The form could not be read.", None)),
        );
    };
    let field = |name: &str| form.single(name).ok().flatten().map(str::to_owned);
    if !state.sessions.csrf_ok(&headers, field("csrf").as_deref()) {
        return sign_in(
            &state,
            &browser,
            Some((StatusCode::FORBIDDEN, "The form expired; try again.", None)),
        );
    }
    let now = now();
    match field("gatehouse_action").as_deref() {
        Some("sign_in") => {
            let (username, password) = (
                field("username").unwrap_or_default(),
                field("password").unwrap_or_default(),
            );
            match signin::attempt(&state, &username, &password, None, now).await {
                Attempt::SignedIn { subject, browser } => {
                    list(&state, &browser, &subject, None).await
                }
                attempt => {
                    let (status, text, wait) = signin::refusal(&attempt);
                    sign_in(&state, &browser, Some((status, &text, wait)))
                }
            }
        }
        Some("provider") => {
            let provider = field("provider").unwrap_or_default();
            crate::federation::start(
                &state,
                &browser,
                &provider,
                crate::federation::Return::ConnectedApps,
            )
            .await
        }
        Some("sign_out") => {
            let signed_out = state.sessions.sign_out(state.store(), &headers).await;
            sign_in(&state, &signed_out, None)
        }
        Some("revoke") => {
            let Some(subject) = signin::session_subject(&state, &headers, now).await else {
                return sign_in(&state, &browser, None);
            };
            let grant = field("grant").unwrap_or_default();
            // Only a grant of the signed-in person can be revoked from here.
            let owned = match state.store().grants_of(&subject, now).await {
                Ok(grants) => grants.into_iter().find(|g| g.family.as_str() == grant),
                Err(_) => None,
            };
            let Some(grant) = owned else {
                return list(
                    &state,
                    &browser,
                    &subject,
                    Some("That app was already disconnected."),
                )
                .await;
            };
            if let Err(error) = state.store().revoke_family(&grant.family).await {
                tracing::warn!(%error, "could not revoke a grant");
                return list(
                    &state,
                    &browser,
                    &subject,
                    Some("The app could not be disconnected; try again."),
                )
                .await;
            }
            let _ = state
                .store()
                .withdraw_consent(&subject, &grant.client_id)
                .await;
            state.events.emit(Event::ConsentRevoked {
                subject: subject.clone(),
                client_id: grant.client_id.as_str().to_owned(),
                grant: grant.family.as_str().to_owned(),
            });
            see_other(&state.endpoint("/connected-apps"), &[])
        }
        _ => sign_in(&state, &browser, None),
    }
}

async fn list(
    state: &AppState,
    browser: &Browser,
    subject: &str,
    notice: Option<&str>,
) -> Response {
    let grants = match state.store().grants_of(subject, now()).await {
        Ok(grants) => grants,
        Err(error) => {
            tracing::warn!(%error, "could not list grants");
            Vec::new()
        }
    };
    let mut apps = Vec::with_capacity(grants.len());
    for grant in grants {
        let name = match state.client(&grant.client_id).await {
            Ok(Some(client)) => client
                .metadata
                .client_name()
                .map_or_else(|| grant.client_id.as_str().to_owned(), str::to_owned),
            _ => grant.client_id.as_str().to_owned(),
        };
        apps.push(ConnectedApp {
            grant: grant.family.as_str().to_owned(),
            name,
            resources: grant
                .resources
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            scopes: grant.scopes.to_string(),
            last_used: gatehouse_types::format_utc(
                i64::try_from(grant.last_used.as_secs()).unwrap_or(i64::MAX),
            ),
        });
    }
    let csrf = state.sessions.csrf_token(&browser.id);
    let action = state.endpoint("/connected-apps");
    let html = render(&ConnectedApps {
        brand: &state.config.branding,
        action: &action,
        subject,
        apps: &apps,
        csrf: &csrf,
        notice,
    });
    page(StatusCode::OK, html, browser.set_cookie.as_slice())
}

fn sign_in(
    state: &AppState,
    browser: &Browser,
    error: Option<(StatusCode, &str, Option<u64>)>,
) -> Response {
    signin::form(
        state,
        browser,
        "/connected-apps",
        "your connected apps",
        &[],
        error,
    )
}
