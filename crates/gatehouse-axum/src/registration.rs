//! RFC 7591 dynamic client registration.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_registration::ClientMetadata;
use gatehouse_types::OAuthError;

use crate::clock::{OsRandom, now};
use crate::events::Event;
use crate::respond::{json, oauth_error, require_json};
use crate::state::AppState;

/// `POST /register`: 201 with the client information (RFC 7591 §3.2.1), or 400 with
/// `invalid_client_metadata` / `invalid_redirect_uri` naming the problem (§3.2.2).
pub(crate) async fn register(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = require_json(&headers) {
        return refusal;
    }
    let metadata = match ClientMetadata::from_json(&body) {
        Ok(metadata) => metadata,
        Err(error) => return oauth_error(&error, None),
    };
    match state
        .engine
        .register(&state.policy, &metadata, &mut OsRandom, now())
        .await
    {
        Ok(response) => {
            state.events.emit(Event::ClientRegistered {
                client_id: response.client_id.as_str().to_owned(),
            });
            json(StatusCode::CREATED, response.to_json())
        }
        Err(error) => {
            tracing::info!(error = %error.error_code(), "registration refused");
            oauth_error(&error, None)
        }
    }
}
