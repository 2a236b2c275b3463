//! The token, introspection and revocation endpoints: form body in, engine decision, JSON out.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_types::OAuthError;

use crate::clock::{OsRandom, now};
use crate::respond::{json, no_store, oauth_error, require_form};
use crate::state::AppState;

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// `POST /token` (OAuth 2.1 §3.2): 200 with the tokens, `Cache-Control: no-store`; errors per
/// RFC 6749 §5.2, `invalid_client` as 401 with `WWW-Authenticate`.
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = require_form(&headers) {
        return refusal;
    }
    match state
        .engine
        .token(
            &body,
            authorization(&headers),
            state.keys.current(),
            &mut OsRandom,
            now(),
        )
        .await
    {
        Ok(response) => json(
            StatusCode::OK,
            serde_json::to_string(&response).unwrap_or_default(),
        ),
        Err(error) => {
            tracing::info!(error = %error.error_code(), "token request refused");
            oauth_error(&error, error.www_authenticate())
        }
    }
}

/// `POST /introspect` (RFC 7662): the caller must authenticate as a client (§2.1).
pub(crate) async fn introspect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = require_form(&headers) {
        return refusal;
    }
    match state
        .engine
        .introspect(
            &body,
            authorization(&headers),
            state.keys.verifying(),
            now(),
        )
        .await
    {
        Ok(response) => json(StatusCode::OK, response.to_json()),
        Err(error) => oauth_error(&error, error.www_authenticate()),
    }
}

/// `POST /revoke` (RFC 7009): 200 also for unknown tokens (§2.2).
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = require_form(&headers) {
        return refusal;
    }
    match state
        .engine
        .revoke(
            &body,
            authorization(&headers),
            state.keys.verifying(),
            now(),
        )
        .await
    {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => oauth_error(&error, error.www_authenticate()),
    }
}
