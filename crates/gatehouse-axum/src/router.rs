//! The router: every endpoint of the wire contract, the middleware around them, and the
//! protected resources beside them. The top of the crate: it imports the endpoints, and nothing
//! it imports imports it.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};

use crate::state::{AppState, BODY_LIMIT, REGISTRATION_BODY_LIMIT};
use crate::{
    authorize, connected, cors, discovery, documents, drain, federation, health, limits,
    management, metrics, registration, request_id, resources, server, token,
};

/// The authorization server's endpoints under the issuer's path, its metadata, and the
/// protected resources, with the middleware each needs.
pub(crate) fn router(state: &Arc<AppState>) -> Router {
    // What browser-based MCP clients call directly: CORS (see `cors`).
    let browser_api = Router::new()
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/register",
            post(registration::register).layer(DefaultBodyLimit::max(REGISTRATION_BODY_LIMIT)),
        )
        .route(
            "/register/{client_id}",
            get(management::read)
                .put(management::update)
                .layer(DefaultBodyLimit::max(REGISTRATION_BODY_LIMIT))
                .delete(management::delete),
        )
        .route("/token", post(token::token))
        .route("/revoke", post(token::revoke))
        .layer(from_fn(cors::cors));
    // Pages, server-to-server and operations endpoints: no CORS.
    let rest = Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/connected-apps", get(connected::get).post(connected::post))
        .route("/login/{provider}/callback", get(federation::callback))
        .route("/introspect", post(token::introspect))
        .route("/healthz", get(health::healthz))
        .route(
            "/readyz",
            get(health::readyz).with_state(Arc::clone(&state.signing)),
        );
    let endpoints = browser_api.merge(rest);
    let prefix = state.prefix.as_str();
    let endpoints = if prefix.is_empty() {
        endpoints
    } else {
        Router::new().nest(prefix, endpoints)
    };
    let metadata = Router::new()
        .route(
            &format!("/.well-known/oauth-authorization-server{prefix}"),
            get(discovery::metadata),
        )
        .layer(from_fn(cors::cors));
    let deadline = std::time::Duration::from_secs(state.config.http.request_timeout_secs);
    let endpoints = endpoints
        .merge(metadata)
        .layer(from_fn_with_state(Arc::clone(&state.rates), limits::limit))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn_with_state(
            Arc::clone(&state.rates),
            documents::requester,
        ))
        .layer(from_fn_with_state(deadline, server::request_deadline))
        .with_state(Arc::clone(state));
    // The protected resources: their own guard, limits and body bounds, not the authorization
    // server's.
    let endpoints = resources::add_routes(endpoints, &state.protected)
        // A path nothing serves: 404, outside the authorization server's layers above, with
        // resources configured or not (merging a router in would replace a default fallback
        // with that router's, which those layers do not wrap).
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND });
    around_every_request(endpoints)
}

/// What every request passes through, whatever answers it: metrics, the drain of an unread
/// body, and its id. Also what the guard's cost is measured against (`unguarded_demo_server`).
pub(crate) fn around_every_request(router: Router) -> Router {
    router
        .layer(from_fn(metrics::track))
        // A body left unread by an early answer is drained (`drain`).
        .layer(from_fn(drain::middleware))
        // Outermost: every log line of the request carries its id.
        .layer(from_fn(request_id::request_id))
}
