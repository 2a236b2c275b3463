//! Per-endpoint rate limits (`[rate_limits]`), keyed by client where the request names one and by
//! peer address otherwise; `429 Too Many Requests` with `Retry-After` past the limit.
//!
//! The client is known from HTTP Basic credentials or the `client_id` form parameter at the
//! token, introspection and revocation endpoints, once their handler has parsed the request. Keying those by client means one busy client cannot exhaust the
//! budget of others behind the same NAT, and a client cannot escape its limit by changing address.
//! The `client_id` is not authenticated at this point, so a forged one only spends that client's
//! budget: the limit is about load, not identity. And since anyone can claim a new `client_id`
//! with every request, those endpoints are also limited by address as a whole
//! (`address_per_min`): a flood of made-up clients from one address is stopped there (CWE-770).
//! Registration, which stores what an anonymous request sends, has its own, lower budget.
//! Behind a reverse proxy every request has the proxy's address; limits by address then apply
//! to the proxy as a whole.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_types::{ErrorCode, Untrusted};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;
use crate::respond::{HttpError, oauth_error};

/// The endpoint classes of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Authorize,
    Token,
    Introspect,
    Revoke,
    Register,
    Other,
}

/// The rate limits of the server, and how it tells clients apart: what the limiting middleware
/// and the credential endpoints share.
pub(crate) struct RateLimiting {
    /// The limiters, unless `rate_limits.enabled = false`.
    limits: Option<Limits>,
    trust_forwarded_for: bool,
}

impl RateLimiting {
    pub(crate) fn new(config: &RateLimits) -> Self {
        Self {
            limits: Limits::new(config),
            trust_forwarded_for: config.trust_forwarded_for,
        }
    }

    /// The peer of `request` as a key (see [`peer`]).
    pub(crate) fn peer(&self, request: &Request) -> String {
        peer(request, self.trust_forwarded_for)
    }

    /// Forgets idle keys, so that the maps do not grow with every address ever seen.
    pub(crate) fn shrink(&self) {
        if let Some(limits) = &self.limits {
            limits.shrink();
        }
    }
}

/// One keyed limiter per class.
struct Limits {
    authorize: DefaultKeyedRateLimiter<String>,
    token: DefaultKeyedRateLimiter<String>,
    introspect: DefaultKeyedRateLimiter<String>,
    revoke: DefaultKeyedRateLimiter<String>,
    register: DefaultKeyedRateLimiter<String>,
    other: DefaultKeyedRateLimiter<String>,
    /// Every request to the token, introspection and revocation endpoints from one address,
    /// whatever client it claims to be.
    address: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    /// The limiters of `config`, or `None` when limits are disabled.
    fn new(config: &RateLimits) -> Option<Self> {
        config.enabled.then(|| Self {
            authorize: RateLimiter::keyed(per_minute(config.authorize_per_min)),
            token: RateLimiter::keyed(per_minute(config.token_per_min)),
            introspect: RateLimiter::keyed(per_minute(config.introspect_per_min)),
            revoke: RateLimiter::keyed(per_minute(config.revoke_per_min)),
            register: RateLimiter::keyed(per_minute(config.register_per_min)),
            other: RateLimiter::keyed(per_minute(config.other_per_min)),
            address: RateLimiter::keyed(per_minute(config.address_per_min)),
        })
    }

    fn limiter(&self, class: Class) -> &DefaultKeyedRateLimiter<String> {
        match class {
            Class::Authorize => &self.authorize,
            Class::Token => &self.token,
            Class::Introspect => &self.introspect,
            Class::Revoke => &self.revoke,
            Class::Register => &self.register,
            Class::Other => &self.other,
        }
    }

    fn shrink(&self) {
        for limiter in [
            &self.authorize,
            &self.token,
            &self.introspect,
            &self.revoke,
            &self.register,
            &self.other,
            &self.address,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The class of a request, or `None` for what is never limited: health checks (a load balancer
/// must always get an answer) and the public documents (metadata, JWKS) that resource servers
/// and clients must always be able to fetch; they are cheap and cacheable.
fn classify(method: &axum::http::Method, path: &str) -> Option<Class> {
    let last = path.rsplit('/').next().unwrap_or("");
    if path.contains("/.well-known/") || last == "healthz" || last == "readyz" {
        return None;
    }
    Some(match last {
        "authorize" => Class::Authorize,
        // Signing in on the connected-apps page spends the same budget as at /authorize.
        "connected-apps" if method == axum::http::Method::POST => Class::Authorize,
        "token" => Class::Token,
        "introspect" => Class::Introspect,
        "revoke" => Class::Revoke,
        "register" if method == axum::http::Method::POST => Class::Register,
        _ => Class::Other,
    })
}

/// The peer as a rate-limit key: the address, with IPv6 grouped by /64 (one host usually holds a
/// whole /64, so single addresses would be free to rotate). With
/// `rate_limits.trust_forwarded_for`, the left-most `X-Forwarded-For` address, which only a
/// reverse proxy that overwrites the header makes trustworthy.
fn peer(request: &Request, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| request.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
    let address = forwarded.or_else(|| {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    });
    match address {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
        Some(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        Some(std::net::IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

/// A client id as part of a key: bounded, so a forged megabyte-long id costs no memory.
fn bounded(client: &str) -> &str {
    let mut end = client.len().min(128);
    while !client.is_char_boundary(end) {
        end -= 1;
    }
    client.get(..end).unwrap_or("")
}

/// The peer as the rate limits key it (see [`peer`]): put into every request's extensions by
/// `documents::requester`, which also makes it the requester of metadata-document fetches.
#[derive(Debug, Clone)]
pub(crate) struct Peer(pub(crate) String);

/// The middleware. The credential endpoints (token, introspection, revocation) are limited here
/// by address as a whole, before their body is read; per claimed client they are limited in
/// their handlers, once the request is parsed ([`per_client`]), so the body is parsed once.
pub(crate) async fn limit(
    State(rates): State<Arc<RateLimiting>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limits) = &rates.limits else {
        return next.run(request).await;
    };
    let Some(class) = classify(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let address = match request.extensions().get::<Peer>() {
        Some(Peer(address)) => address.clone(),
        None => rates.peer(&request),
    };
    let cross_origin = request.headers().contains_key("origin");
    let key = format!("addr:{address}");
    let limiter = match class {
        Class::Token | Class::Introspect | Class::Revoke => &limits.address,
        _ => limits.limiter(class),
    };
    match limiter.check_key(&key) {
        Ok(()) => next.run(request).await,
        Err(not_until) => too_many(class, &key, &not_until, cross_origin),
    }
}

/// The limit of a credential endpoint per claimed client (with the address: the client id is not
/// authenticated yet, so a forger can neither exhaust a real client's budget from elsewhere nor
/// escape their own). `Err` is the 429 to send.
pub(crate) fn per_client(
    rates: &RateLimiting,
    class: Class,
    headers: &axum::http::HeaderMap,
    peer: Option<&Peer>,
    client: &gatehouse_types::ClientId,
) -> Result<(), Response> {
    let Some(limits) = &rates.limits else {
        return Ok(());
    };
    let address = peer.map_or("unknown", |Peer(address)| address.as_str());
    let key = format!("client:{}@{address}", bounded(client.as_str()));
    limits
        .limiter(class)
        .check_key(&key)
        .map_err(|not_until| too_many(class, &key, &not_until, headers.contains_key("origin")))
}

/// The 429, with `Retry-After`: a page at the authorization endpoint, an OAuth error elsewhere.
fn too_many(
    class: Class,
    key: &str,
    not_until: &governor::NotUntil<governor::clock::QuantaInstant>,
    cross_origin: bool,
) -> Response {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    tracing::info!(key = %Untrusted(key), ?class, "rate limited");
    let mut response = if matches!(class, Class::Authorize) {
        crate::respond::page(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "<!doctype html><title>Too many requests</title><p>Too many requests. Try again in {seconds} seconds."
            ),
            &[],
        )
    } else {
        let mut response = oauth_error(
            &HttpError::new(
                ErrorCode::TemporarilyUnavailable,
                format!("too many requests; retry after {seconds} seconds"),
            ),
            None,
        );
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
    };
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    // A browser client must be able to read the 429 and its Retry-After.
    if cross_origin && class != Class::Authorize {
        crate::cors::allow(response.headers_mut());
    }
    response
}
