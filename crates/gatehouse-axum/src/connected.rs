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
use crate::events::{Event, emit};
use crate::pages::{ConnectedApp, ConnectedApps, render};
use crate::respond::{page, see_other};
use crate::signin;
use crate::state::AppState;

/// `GET /connected-apps`.
pub(crate) async fn get(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match signin::session_subject(&state, &headers, now()).await {
        Some(subject) => list(&state, &headers, &subject, Vec::new(), None).await,
        None => sign_in(&state, &headers, None),
    }
}

/// `POST /connected-apps`: sign in, or disconnect an app.
pub(crate) async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = FormParams::parse(&body) else {
        return sign_in(&state, &headers, Some("The form could not be read."));
    };
    let field = |name: &str| form.single(name).ok().flatten().map(str::to_owned);
    if !state.sessions.csrf_ok(&headers, field("csrf").as_deref()) {
        return sign_in(&state, &headers, Some("The form expired; try again."));
    }
    let now = now();
    match field("gatehouse_action").as_deref() {
        Some("sign_in") => {
            let (username, password) = (
                field("username").unwrap_or_default(),
                field("password").unwrap_or_default(),
            );
            let subject = signin::check(&state, &username, &password).await;
            match subject {
                Some(subject) => {
                    let cookie = state.sessions.sign_in(&subject, now);
                    list(&state, &headers, &subject, vec![cookie], None).await
                }
                None => sign_in(
                    &state,
                    &headers,
                    Some("The user name or password is wrong."),
                ),
            }
        }
        Some("revoke") => {
            let Some(subject) = signin::session_subject(&state, &headers, now).await else {
                return sign_in(&state, &headers, None);
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
                    &headers,
                    &subject,
                    Vec::new(),
                    Some("That app was already disconnected."),
                )
                .await;
            };
            if let Err(error) = state.store().revoke_family(&grant.family).await {
                tracing::warn!(%error, "could not revoke a grant");
                return list(
                    &state,
                    &headers,
                    &subject,
                    Vec::new(),
                    Some("The app could not be disconnected; try again."),
                )
                .await;
            }
            let _ = state
                .store()
                .withdraw_consent(&subject, &grant.client_id)
                .await;
            emit(
                &state,
                Event::ConsentRevoked {
                    subject: subject.clone(),
                    client_id: grant.client_id.as_str().to_owned(),
                    grant: grant.family.as_str().to_owned(),
                },
            );
            see_other(&state.endpoint("/connected-apps"), &[])
        }
        _ => sign_in(&state, &headers, None),
    }
}

async fn list(
    state: &AppState,
    headers: &HeaderMap,
    subject: &str,
    mut cookies: Vec<String>,
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
    let (csrf, set_csrf) = state.sessions.csrf_for_page(headers);
    cookies.push(set_csrf);
    let action = state.endpoint("/connected-apps");
    let html = render(&ConnectedApps {
        brand: &state.config.branding,
        action: &action,
        subject,
        apps: &apps,
        csrf: &csrf,
        notice,
    });
    page(StatusCode::OK, html, &cookies)
}

fn sign_in(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> Response {
    signin::form(
        state,
        headers,
        "/connected-apps",
        "your connected apps",
        &[],
        error,
    )
}
