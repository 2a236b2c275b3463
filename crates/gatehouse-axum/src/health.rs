//! Liveness and readiness.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::clock::now;
use crate::signing::Signing;

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `GET /readyz`: ready to serve: the store answers, and the signing keys in it can be read
/// (unsealed with this instance's encryption key). A load balancer sends no traffic to an
/// instance that would fail every token request.
pub(crate) async fn readyz(State(signing): State<Arc<Signing>>) -> Response {
    match signing.check(now()).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
            )
                .into_response()
        }
    }
}
