//! RFC 7592 client management: read, update and delete a registration with its registration
//! access token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::ClientRecord;
use gatehouse_registration::{ClientUpdateRequest, RegistrationAccessToken, RegistrationResponse};
use gatehouse_store::ServerStore;
use gatehouse_types::{ClientId, ErrorCode};

use crate::events::Event;
use crate::respond::{HttpError, json, no_store, oauth_error, require_json};
use crate::state::AppState;

/// RFC 7592 §2.1–2.3 with RFC 6750 §3.1: a missing or wrong token, or an unknown client, is a
/// 401 with `WWW-Authenticate: Bearer error="invalid_token"`. The three cases answer alike, so
/// the endpoint does not tell which client ids exist.
fn unauthorized() -> Response {
    oauth_error(
        &HttpError::new(
            ErrorCode::InvalidToken,
            "the registration access token is missing, wrong, or not for this client",
        ),
        Some("Bearer error=\"invalid_token\""),
    )
}

/// The client, if the request's bearer token is its registration access token.
async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<(ClientRecord, String), Response> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim().to_owned())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    let client_id = ClientId::new(client_id).map_err(|_| unauthorized())?;
    let record = match state.store().client(&client_id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(unauthorized()),
        Err(error) => {
            return Err(oauth_error(
                &gatehouse_engine::EndpointError::from(error),
                None,
            ));
        }
    };
    // `CredentialHash` compares in constant time.
    match &record.registration_token_hash {
        Some(hash) if *hash == CredentialHash::of(&token) => Ok((record, token)),
        _ => Err(unauthorized()),
    }
}

/// The client information response (RFC 7592 §3), without the client secret: only its hash is
/// stored, so it is shown once, at registration.
fn information(state: &AppState, record: &ClientRecord, token: &str) -> Response {
    let response = RegistrationResponse::builder(record.client_id.clone())
        .metadata(record.metadata.to_metadata())
        .client_id_issued_at(record.issued_at)
        .management(
            RegistrationAccessToken::new(token),
            state.endpoint(&format!("/register/{}", record.client_id)),
        )
        .build();
    json(StatusCode::OK, response.to_json())
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub(crate) async fn read(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match authorized(&state, &headers, &client_id).await {
        Ok((record, token)) => information(&state, &record, &token),
        Err(refusal) => refusal,
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the request replaces the registration; the
/// registration policy applies as at registration.
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (record, token) = match authorized(&state, &headers, &client_id).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    if let Err(refusal) = require_json(&headers) {
        return refusal;
    }
    let request = match ClientUpdateRequest::from_json(&body) {
        Ok(request) => request,
        Err(error) => return oauth_error(&error, None),
    };
    // §2.2: a client_secret in the request must be the current one.
    if let Some(secret) = request.client_secret() {
        let matches = record
            .secret_hash
            .as_ref()
            .is_some_and(|hash| *hash == CredentialHash::of(secret.expose_secret()));
        if !matches {
            return oauth_error(
                &HttpError::new(
                    ErrorCode::InvalidClientMetadata,
                    "client_secret does not match the current secret",
                ),
                None,
            );
        }
    }
    let metadata = match state.policy.check_update(&request, &record.client_id) {
        Ok(metadata) => metadata,
        Err(error) => return oauth_error(&error, None),
    };
    // A change of authentication method that needs a secret the client never got is refused
    // rather than leaving a confidential client without one.
    if metadata.needs_client_secret() && record.secret_hash.is_none() {
        return oauth_error(
            &HttpError::new(
                ErrorCode::InvalidClientMetadata,
                "a public client cannot become confidential by update; register a new client",
            ),
            None,
        );
    }
    // Nor can a confidential client become public: with the secret no longer required, its
    // stolen codes and refresh tokens would work without it.
    if !metadata.needs_client_secret() && record.secret_hash.is_some() {
        return oauth_error(
            &HttpError::new(
                ErrorCode::InvalidClientMetadata,
                "a confidential client cannot become public by update; register a new client",
            ),
            None,
        );
    }
    let mut updated = record.clone();
    updated.metadata = metadata;
    match state.store().replace_client(updated.clone()).await {
        Ok(true) => {
            state.events.emit(Event::ClientUpdated {
                client_id: updated.client_id.as_str().to_owned(),
            });
            information(&state, &updated, &token)
        }
        Ok(false) => unauthorized(),
        Err(error) => oauth_error(&gatehouse_engine::EndpointError::from(error), None),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): 204, and every grant of the client revoked.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (record, _) = match authorized(&state, &headers, &client_id).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    match state.store().delete_client(&record.client_id).await {
        Ok(_) => {
            state.events.emit(Event::ClientDeleted {
                client_id: record.client_id.as_str().to_owned(),
            });
            let mut response = StatusCode::NO_CONTENT.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => oauth_error(&gatehouse_engine::EndpointError::from(error), None),
    }
}
