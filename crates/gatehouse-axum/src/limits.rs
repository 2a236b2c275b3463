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
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::future::BoxFuture;
use gatehouse_guard::{MemoryRateLimiter, RateLimitError, RateLimiter};
use gatehouse_store::{AnyStore, ServerStore};
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ErrorCode, Untrusted};
use sha2::{Digest, Sha256};

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

impl Class {
    /// The class in a limiter key, so that each class spends a budget of its own.
    fn label(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Token => "token",
            Self::Introspect => "introspect",
            Self::Revoke => "revoke",
            Self::Register => "register",
            Self::Other => "other",
        }
    }
}

/// Where every rate limit of the server is spent, the authorization server's and the
/// resources' per-caller ones alike (decision 0020): in PostgreSQL when the store is PostgreSQL,
/// since several instances may share it and must enforce one limit, not one each; in this
/// process otherwise, since SQLite and memory stores serve one instance and a write per request
/// would buy nothing.
#[derive(Clone)]
pub(crate) enum Limiter {
    /// The shared budget in the store, behind this instance's own: a key that has spent a whole
    /// budget here is refused without a database round trip, so a flood from one address costs
    /// the database nothing once it is over the limit (each instance alone can never allow more
    /// than the budget, and the store's answer is the one that holds across instances).
    Store(Arc<AnyStore>, Arc<MemoryRateLimiter>),
    Memory(Arc<MemoryRateLimiter>),
}

impl Limiter {
    pub(crate) fn for_store(store: &Arc<AnyStore>) -> Self {
        let local = Arc::new(MemoryRateLimiter::default());
        match &**store {
            AnyStore::Postgres(_) => Self::Store(Arc::clone(store), local),
            _ => Self::Memory(local),
        }
    }

    /// Forgets the keys whose budget is whole again.
    pub(crate) async fn purge(&self, now_us: u64) {
        match self {
            Self::Memory(memory) => memory.purge(now_us),
            Self::Store(store, local) => {
                local.purge(now_us);
                if let Err(error) = store.purge_rate_limits(now_us).await {
                    tracing::warn!(%error, "rate-limit clean-up failed; will retry");
                }
            }
        }
    }
}

impl RateLimiter for Limiter {
    fn spend<'a>(
        &'a self,
        key: &'a [u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> BoxFuture<'a, Result<Result<(), u64>, RateLimitError>> {
        match self {
            Self::Memory(memory) => memory.spend(key, now_us, budget),
            Self::Store(store, local) => Box::pin(async move {
                if let Err(wait) = local.spend_now(key, now_us, budget) {
                    return Ok(Err(wait));
                }
                store
                    .spend_rate(key, now_us, budget)
                    .await
                    .map_err(|e| RateLimitError::new(e.to_string()))
            }),
        }
    }
}

/// The rate limits of the server, and how it tells clients apart: what the limiting middleware
/// and the credential endpoints share.
pub(crate) struct RateLimiting {
    /// The budgets, unless `rate_limits.enabled = false`.
    budgets: Option<Budgets>,
    limiter: Limiter,
    trust_forwarded_for: bool,
}

impl RateLimiting {
    pub(crate) fn new(config: &RateLimits, limiter: Limiter) -> Self {
        Self {
            budgets: Budgets::new(config),
            limiter,
            trust_forwarded_for: config.trust_forwarded_for,
        }
    }

    /// The peer of `request` as a key (see [`peer`]).
    pub(crate) fn peer(&self, request: &Request) -> String {
        peer(request, self.trust_forwarded_for)
    }

    /// Forgets keys whose budget is whole again, so that the limiter does not grow with every
    /// address ever seen.
    pub(crate) async fn shrink(&self) {
        self.limiter.purge(crate::clock::now_us()).await;
    }

    /// Spends one request of `budget` for `key` of `class`; `Err` is the 429 (or, if the limiter
    /// cannot answer, the 503) to send.
    async fn spend(
        &self,
        class: Class,
        budget: PerMinute,
        key: &str,
        cross_origin: bool,
    ) -> Result<(), Response> {
        let mut hash = Sha256::new();
        hash.update(b"gatehouse rate limit\0");
        hash.update(class.label().as_bytes());
        hash.update([0]);
        hash.update(key.as_bytes());
        let hashed: [u8; 32] = hash.finalize().into();
        match self
            .limiter
            .spend(&hashed, crate::clock::now_us(), budget)
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(wait_us)) => Err(too_many(class, key, wait_us, cross_origin)),
            Err(error) => {
                tracing::warn!(%error, "the rate limit check failed; refusing the request");
                let mut response = oauth_error(
                    &HttpError::new(
                        ErrorCode::TemporarilyUnavailable,
                        "the server cannot check its rate limits now; retry shortly",
                    ),
                    None,
                );
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("5"));
                Err(response)
            }
        }
    }
}

/// The budget of each class.
struct Budgets {
    authorize: PerMinute,
    token: PerMinute,
    introspect: PerMinute,
    revoke: PerMinute,
    register: PerMinute,
    other: PerMinute,
    /// Every request to the token, introspection and revocation endpoints from one address,
    /// whatever client it claims to be.
    address: PerMinute,
}

impl Budgets {
    /// The budgets of `config`, or `None` when limits are disabled.
    fn new(config: &RateLimits) -> Option<Self> {
        config.enabled.then(|| Self {
            authorize: PerMinute::new(config.authorize_per_min),
            token: PerMinute::new(config.token_per_min),
            introspect: PerMinute::new(config.introspect_per_min),
            revoke: PerMinute::new(config.revoke_per_min),
            register: PerMinute::new(config.register_per_min),
            other: PerMinute::new(config.other_per_min),
            address: PerMinute::new(config.address_per_min),
        })
    }

    fn of(&self, class: Class) -> PerMinute {
        match class {
            Class::Authorize => self.authorize,
            Class::Token => self.token,
            Class::Introspect => self.introspect,
            Class::Revoke => self.revoke,
            Class::Register => self.register,
            Class::Other => self.other,
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
    let Some(budgets) = &rates.budgets else {
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
    let budget = match class {
        Class::Token | Class::Introspect | Class::Revoke => budgets.address,
        _ => budgets.of(class),
    };
    // The credential endpoints' address budget is one, whichever of them is asked.
    let spent_as = match class {
        Class::Token | Class::Introspect | Class::Revoke => Class::Token,
        _ => class,
    };
    match rates.spend(spent_as, budget, &key, cross_origin).await {
        Ok(()) => next.run(request).await,
        Err(response) => response,
    }
}

/// The limit of a credential endpoint per claimed client (with the address: the client id is not
/// authenticated yet, so a forger can neither exhaust a real client's budget from elsewhere nor
/// escape their own). `Err` is the 429 to send.
pub(crate) async fn per_client(
    rates: &RateLimiting,
    class: Class,
    headers: &axum::http::HeaderMap,
    peer: Option<&Peer>,
    client: &gatehouse_types::ClientId,
) -> Result<(), Response> {
    let Some(budgets) = &rates.budgets else {
        return Ok(());
    };
    let address = peer.map_or("unknown", |Peer(address)| address.as_str());
    let key = format!("client:{}@{address}", bounded(client.as_str()));
    rates
        .spend(
            class,
            budgets.of(class),
            &key,
            headers.contains_key("origin"),
        )
        .await
}

/// The 429, with `Retry-After`: a page at the authorization endpoint, an OAuth error elsewhere.
fn too_many(class: Class, key: &str, wait_us: u64, cross_origin: bool) -> Response {
    let seconds = gatehouse_types::rate::retry_after_secs(wait_us);
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
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    // A browser client must be able to read the 429 and its Retry-After.
    if cross_origin && class != Class::Authorize {
        crate::cors::allow(response.headers_mut());
    }
    response
}
