//! Per-endpoint rate limits (`[rate_limits]`), keyed by client where the request names one and by
//! peer address otherwise; `429 Too Many Requests` with `Retry-After` past the limit.
//!
//! The client is known from HTTP Basic credentials or the `client_id` form parameter at the
//! token, introspection and revocation endpoints (reading the body costs nothing extra: it is at
//! most 64 KiB and read anyway). Keying those by client means one busy client cannot exhaust the
//! budget of others behind the same NAT, and a client cannot escape its limit by changing address.
//! The `client_id` is not authenticated at this point, so a forged one only spends that client's
//! budget: the limit is about load, not identity. Behind a reverse proxy every request has the
//! proxy's address; limits by address then apply to the proxy as a whole.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_types::ErrorCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;
use crate::respond::{HttpError, oauth_error};
use crate::state::AppState;

/// The endpoint classes of the configuration.
#[derive(Debug, Clone, Copy)]
enum Class {
    Authorize,
    Token,
    Introspect,
    Revoke,
    Other,
}

/// One keyed limiter per class.
pub(crate) struct Limits {
    authorize: DefaultKeyedRateLimiter<String>,
    token: DefaultKeyedRateLimiter<String>,
    introspect: DefaultKeyedRateLimiter<String>,
    revoke: DefaultKeyedRateLimiter<String>,
    other: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    /// The limiters of `config`, or `None` when limits are disabled.
    pub(crate) fn new(config: &RateLimits) -> Option<Self> {
        config.enabled.then(|| Self {
            authorize: RateLimiter::keyed(per_minute(config.authorize_per_min)),
            token: RateLimiter::keyed(per_minute(config.token_per_min)),
            introspect: RateLimiter::keyed(per_minute(config.introspect_per_min)),
            revoke: RateLimiter::keyed(per_minute(config.revoke_per_min)),
            other: RateLimiter::keyed(per_minute(config.other_per_min)),
        })
    }

    fn limiter(&self, class: Class) -> &DefaultKeyedRateLimiter<String> {
        match class {
            Class::Authorize => &self.authorize,
            Class::Token => &self.token,
            Class::Introspect => &self.introspect,
            Class::Revoke => &self.revoke,
            Class::Other => &self.other,
        }
    }

    /// Forgets idle keys, so that the maps do not grow with every address ever seen.
    pub(crate) fn shrink(&self) {
        for class in [
            Class::Authorize,
            Class::Token,
            Class::Introspect,
            Class::Revoke,
            Class::Other,
        ] {
            let limiter = self.limiter(class);
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn classify(path: &str) -> Class {
    match path.rsplit('/').next().unwrap_or("") {
        "authorize" => Class::Authorize,
        "token" => Class::Token,
        "introspect" => Class::Introspect,
        "revoke" => Class::Revoke,
        _ => Class::Other,
    }
}

/// The middleware.
pub(crate) async fn limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limits) = &state.limits else {
        return next.run(request).await;
    };
    let class = classify(request.uri().path());
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
    let (key, request) = match class {
        Class::Token | Class::Introspect | Class::Revoke => {
            let is_form = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let (parts, body) = request.into_parts();
            let bytes = match to_bytes(body, crate::state::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return oauth_error(
                        &HttpError::new(ErrorCode::InvalidRequest, "the request body is too large"),
                        None,
                    )
                    .map_status(StatusCode::PAYLOAD_TOO_LARGE);
                }
            };
            let body: &[u8] = if is_form { &bytes } else { &[] };
            let key = crate::respond::claimed_client_id(&parts.headers, body).map_or_else(
                || format!("addr:{address}"),
                |client| format!("client:{client}"),
            );
            (key, Request::from_parts(parts, Body::from(bytes)))
        }
        _ => (format!("addr:{address}"), request),
    };
    match limits.limiter(class).check_key(&key) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(%key, ?class, "rate limited");
            let mut response = if matches!(class, Class::Authorize) {
                crate::respond::page(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "<!doctype html><title>Too many requests</title><p>Too many requests. Try again in {seconds} seconds."
                    ),
                    &[],
                )
            } else {
                oauth_error(
                    &HttpError::new(
                        ErrorCode::TemporarilyUnavailable,
                        format!("too many requests; retry after {seconds} seconds"),
                    ),
                    None,
                )
                .map_status(StatusCode::TOO_MANY_REQUESTS)
            };
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
    }
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Self;
}

impl MapStatus for Response {
    fn map_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}
