//! The token, introspection and revocation endpoints: form body in, engine decision, JSON out.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_types::OAuthError;

use crate::clock::{OsRandom, now};
use crate::events::{Event, emit};
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
            state.key_ring().current(),
            &mut OsRandom,
            now(),
        )
        .await
    {
        Ok(response) => {
            issued(&state, &body, &response.access_token);
            json(
                StatusCode::OK,
                serde_json::to_string(&response).unwrap_or_default(),
            )
        }
        Err(error) => {
            tracing::info!(error = %error.error_code(), "token request refused");
            refused(&state, &headers, &body, &error, "token");
            oauth_error(&error, error.www_authenticate())
        }
    }
}

/// The `token_issued` event, from the claims of the access token just signed.
fn issued(state: &Arc<AppState>, body: &[u8], access_token: &str) {
    let Ok((_, payload)) = gatehouse_jose::jws::dangerous_decode_unverified(access_token) else {
        return;
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&payload) else {
        return;
    };
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let audience = match claims.get("aud").unwrap_or(&serde_json::Value::Null) {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let grant_type = gatehouse_types::form::FormParams::parse(body)
        .ok()
        .and_then(|form| form.single("grant_type").ok().flatten().map(str::to_owned))
        .unwrap_or_default();
    emit(
        state,
        Event::TokenIssued {
            grant_type,
            client_id: text("client_id"),
            subject: text("sub"),
            scope: text("scope"),
            audience,
            jti: text("jti"),
        },
    );
}

/// Events for a refused request: reuse detections and failed client authentication.
fn refused(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: &[u8],
    error: &gatehouse_engine::EndpointError,
    endpoint: &str,
) {
    let client_id = crate::respond::claimed_client_id(headers, body);
    if let Some((reuse, family)) = error.reuse() {
        let credential = match reuse {
            gatehouse_engine::Reuse::Code => "code",
            gatehouse_engine::Reuse::RefreshToken => "refresh_token",
        };
        tracing::warn!(
            credential,
            grant = family.as_str(),
            "a used credential came back; its grant is revoked"
        );
        emit(
            state,
            Event::ReuseDetected {
                credential: credential.to_owned(),
                client_id,
                grant: family.as_str().to_owned(),
            },
        );
    } else if error.error_code() == gatehouse_types::ErrorCode::InvalidClient {
        emit(
            state,
            Event::ClientAuthenticationFailed {
                client_id,
                endpoint: endpoint.to_owned(),
            },
        );
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
            state.key_ring().verifying(),
            now(),
        )
        .await
    {
        Ok(response) => json(StatusCode::OK, response.to_json()),
        Err(error) => {
            refused(&state, &headers, &body, &error, "introspect");
            oauth_error(&error, error.www_authenticate())
        }
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
            state.key_ring().verifying(),
            now(),
        )
        .await
    {
        Ok(()) => {
            emit(
                &state,
                Event::TokenRevoked {
                    client_id: crate::respond::claimed_client_id(&headers, &body),
                },
            );
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => {
            refused(&state, &headers, &body, &error, "revoke");
            oauth_error(&error, error.www_authenticate())
        }
    }
}
