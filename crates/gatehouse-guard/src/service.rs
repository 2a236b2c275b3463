//! The tower [`Service`] a [`Guard`](crate::Guard) wraps around a protected resource: the
//! order in which a request is checked.
//!
//! 1. A CORS preflight is answered at once: it carries no token by design.
//! 2. The token is taken from the `Authorization` header only; a token in the query string or
//!    a form body is `invalid_request`.
//! 3. The token is verified (from the cache when possible), then the revocation hook is asked,
//!    then the resource's required scopes are checked.
//! 4. With per-tool scopes, every POST body is read (bounded) and each `tools/call` checked;
//!    the body then goes on unchanged.
//! 5. The [`Principal`] goes into the request's extensions and the inner service is called;
//!    a `tools/list` response may be filtered on the way back.
//!
//! Every response, refusals included, gets the CORS headers.

use std::future::Future as _;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::Service;

use crate::Principal;
use crate::audit::{Outcome, PendingAudit, Seen};
use crate::bearer::{self, Scheme};
use crate::cache::token_hash;
use crate::dpop;
use crate::rate_limit::{self, CallerLimit};
use crate::rejection::Rejection;
use crate::request_headers;
use crate::shared::{Shared, Verifier};
use crate::tools;
use crate::tools_list::{Answering, ToolsListFilter};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service of [`Guard`](crate::Guard)'s layer, around an inner service `S`.
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardService")
            .field("resource", &self.shared.resource)
            .finish_non_exhaustive()
    }
}

impl<S> GuardService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ResBody> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    /// Always ready: the inner service is asked for its readiness only for a request the guard
    /// passes on. Forwarded here, a service that limits its concurrency would hold a permit for
    /// every request the guard has yet to read and verify, and a few anonymous clients sending
    /// their bodies slowly would keep the callers with tokens waiting.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        Box::pin(handle(
            Arc::clone(&self.shared),
            self.inner.clone(),
            request,
        ))
    }
}

// Every await off the hot path (reading a body, verifying a token not in the cache, filtering a
// list) is boxed: a future holds the state of every await in it, and this one is allocated for
// every request; kept small, it stays within the allocator's per-thread cache (issue 24).
async fn handle<S, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<Body>,
) -> Result<Response, S::Error>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    if let Some(preflight) = shared.cors.preflight(request.method(), request.headers()) {
        return Ok(preflight);
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    // Only a resource that hands out nonces has anything to add to a DPoP request's answer.
    let dpop_request =
        shared.dpop.nonces.is_some() && request.headers().contains_key(&dpop::DPOP_HEADER);
    let dpop_scheme = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| {
            value
                .as_bytes()
                .get(..5)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"DPoP "))
        });
    let mut seen = Seen::default();
    let mut response = match admit(&shared, request, &mut seen).await {
        Ok((request, filter, principal)) => {
            decided(&shared, metrics::SharedString::const_str("allowed"));
            // The server's capacity, once the guard has admitted the request (`poll_ready`).
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            // Recorded when the server answers, or (dropped with this future) when the client
            // goes away first: an allowed call that ran is never missing from the audit.
            let mut pending = shared
                .audit
                .as_ref()
                .map(|audit| PendingAudit::new(Arc::clone(audit), seen, (shared.clock)()));
            let mut response = inner.call(request).await?.map(Body::new);
            if let Some(pending) = pending.take() {
                pending.answered(response.status().as_u16());
            }
            bind_session(&shared, &principal, &mut response);
            match filter {
                Some(filter) => Box::pin(filter.apply(response)).await,
                None => response,
            }
        }
        Err(rejection) => {
            if let Some(audit) = &shared.audit {
                seen.record(&**audit, (shared.clock)(), Outcome::Denied(&rejection));
            }
            let dpop_refusal = matches!(rejection, Rejection::Dpop { .. });
            let mut response = shared.challenges.respond(rejection, dpop_scheme);
            decided(&shared, response.status().as_u16().to_string().into());
            if dpop_refusal {
                offer_nonce(&shared, &mut response);
            }
            response
        }
    };
    // RFC 9449 §8.2: a fresh nonce may come with any response, so a client moves on to the next
    // step's without a refusal.
    if dpop_request && response.status().is_success() {
        offer_nonce(&shared, &mut response);
    }
    shared.cors.apply(origin.as_ref(), &mut response);
    Ok(response)
}

/// `DPoP-Nonce` with the current nonce, if the resource requires nonces (RFC 9449 §9).
fn offer_nonce(shared: &Shared, response: &mut Response) {
    let now = (shared.clock)().as_secs();
    if let Some(nonce) = shared.dpop.current_nonce(now)
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        response
            .headers_mut()
            .insert(dpop::DPOP_NONCE_HEADER, value);
    }
}

/// Counts a decision (`gatehouse_guard_decisions_total`): `allowed`, or the refusal's status.
fn decided(shared: &Shared, outcome: metrics::SharedString) {
    metrics::counter!(
        "gatehouse_guard_decisions_total",
        "resource" => shared.resource_label.clone(),
        "outcome" => outcome
    )
    .increment(1);
}

/// The MCP session header, which the guard binds to the caller (`sessions`).
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// A session id the server hands out is handed on bound to the caller who opened it.
fn bind_session(shared: &Shared, principal: &Principal, response: &mut Response) {
    let Some(server_id) = response
        .headers()
        .get(&MCP_SESSION_ID)
        .and_then(|value| value.to_str().ok())
    else {
        return;
    };
    let bound = shared.sessions.bind(server_id, principal);
    match HeaderValue::from_str(&bound) {
        Ok(value) => {
            response.headers_mut().insert(MCP_SESSION_ID, value);
        }
        Err(_) => {
            response.headers_mut().remove(&MCP_SESSION_ID);
        }
    }
}

/// Checks a request; on success, the request to pass on (with its [`Principal`]), the filter
/// for its response, if any, and the principal. What the request calls goes into `seen` as soon
/// as the guard knows, for the audit.
async fn admit(
    shared: &Shared,
    request: Request<Body>,
    seen: &mut Seen,
) -> Result<(Request<Body>, Option<ToolsListFilter>, Principal), Rejection> {
    let (mut parts, body) = request.into_parts();
    let mut body = PendingBody::new(
        body,
        shared.max_body_bytes,
        shared.body_timeout,
        &parts.headers,
    );
    // Nothing is read from the body before the token is verified: an anonymous request must
    // not make the guard buffer megabytes. (A token sent only in a form body is then a missing
    // token, 401; with one in the header too it is two methods, 400, below.)
    let (scheme, token) =
        bearer::token(&parts.headers, parts.uri.query())?.ok_or(Rejection::MissingToken)?;
    let mut principal = authenticate(shared, token).await?;
    // The scope matrix, as it is now: what the policy no longer lets this caller hold, it does
    // not hold here, whatever the token says. A token it empties is refused below, once the
    // audit knows what the request called.
    let groups = shared.policy_groups(&principal);
    let who = gatehouse_types::policy::Who {
        subject: principal.subject(),
        groups: &groups,
    };
    let emptied_by_policy =
        shared
            .scope_policy
            .denies_all(who, principal.client_id(), principal.scopes());
    if let Some(permitted) =
        shared
            .scope_policy
            .narrowed(who, principal.client_id(), principal.scopes())
    {
        principal = principal.with_scopes(permitted);
    }
    // RFC 9449 §7: the scheme must fit the token's binding, and a bound token comes with a proof
    // for this request. A bearer request to a resource that takes both costs one lookup.
    if scheme == Scheme::Dpop || shared.dpop.required || principal.has_confirmation() {
        let now = (shared.clock)().as_secs();
        Box::pin(dpop::check(
            &shared.dpop,
            &parts,
            scheme,
            token,
            &principal,
            now,
        ))
        .await?;
    }
    // The caller's budget, once the token (and its proof) says who the caller is.
    if let Some(limit) = &shared.limit
        && let Err(rejection) = Box::pin(spend(shared, limit, &principal)).await
    {
        // A refused call is audited like any other, by name, if a small body says which: a
        // caller over its budget must not make the guard read megabytes, nor write a record
        // per call of a batch (one record, counting the rest).
        if shared.audit.is_some()
            && let Ok(bytes) = Box::pin(body.bytes_at_most(LIMITED_AUDIT_BYTES)).await
            && let Ok(messages) = tools::parse(bytes)
        {
            note_calls(shared, seen, &principal, &messages, bytes, 1);
        }
        return Err(rejection);
    }
    if bearer::is_form(&parts.headers) {
        bearer::check_form_body(Box::pin(body.bytes()).await?)?;
    }
    // The audit names the calls before any check can refuse them (a scope the resource requires,
    // a session of someone else, a header that disagrees): every call the guard decides is
    // recorded. A body it cannot read strictly is refused, as with per-tool scopes: passed on, it
    // could run a call the audit never named (a repeated member read one way here and another
    // way by the server).
    let mut parsed = None;
    if shared.audit.is_some() {
        let bytes = Box::pin(body.bytes()).await?;
        if !bytes.is_empty() {
            let messages = tools::parse(bytes)?;
            note_calls(
                shared,
                seen,
                &principal,
                &messages,
                bytes,
                MAX_AUDITED_CALLS,
            );
            parsed = Some(messages);
        }
    }
    if emptied_by_policy {
        return Err(Rejection::PolicyDenied);
    }
    // RFC 6750 §3.1: "insufficient_scope: The request requires higher privileges than provided
    // by the access token … The resource server SHOULD respond with the HTTP 403 status code".
    if !shared.required.is_subset(principal.scopes()) {
        return Err(shared.insufficient_scope(
            &principal,
            [],
            "The access token lacks a scope this resource requires",
        ));
    }
    // MCP security best practices (session hijacking): a session is used only by the subject
    // and client that opened it; the server sees its own id, never a bound one.
    if let Some(presented) = parts.headers.get(&MCP_SESSION_ID) {
        let server_id = presented
            .to_str()
            .ok()
            .and_then(|presented| shared.sessions.open(presented, &principal))
            .map(str::to_owned)
            .ok_or(Rejection::UnknownSession)?;
        let value = HeaderValue::from_str(&server_id).map_err(|_| Rejection::UnknownSession)?;
        parts.headers.insert(MCP_SESSION_ID, value);
    }
    let mut filter = None;
    // MCP 2026-07-28: headers that mirror the body must agree with it before anything routes
    // on them, here or behind.
    let mirrored = request_headers::Mirrored::read(&parts.headers)?;
    let mut strip_mirrored = false;
    // Every request with a body, whatever its method and Content-Type: a server that ignores
    // either (or honours a method-override header) would otherwise run a JSON-RPC call the
    // guard never looked at.
    let body_needs_headers = parsed
        .as_ref()
        .is_some_and(|messages| mirrored.apply_to(messages));
    if shared.tools.inspects_calls() || mirrored.apply() || body_needs_headers {
        let bytes = Box::pin(body.bytes()).await?;
        if bytes.is_empty() && mirrored.apply() {
            if parts.method == Method::POST {
                return Err(Rejection::HeaderMismatch {
                    id: None,
                    message: "request metadata headers come with a JSON-RPC body",
                });
            }
            // A GET or DELETE mirrors no body: its headers describe nothing, and go no further.
            strip_mirrored = true;
        }
        if !bytes.is_empty() {
            let messages = match parsed.take() {
                Some(messages) => messages,
                None => tools::parse(bytes)?,
            };
            if mirrored.apply_to(&messages) {
                mirrored.check(&messages)?;
            }
            let inspection = tools::inspect_messages(&messages, &shared.tools, principal.scopes());
            // No scope opens it: a step-up challenge would send the client after nothing.
            if inspection.denied {
                return Err(Rejection::ToolDenied);
            }
            if !inspection.missing.is_empty() {
                return Err(shared.insufficient_scope(
                    &principal,
                    inspection.missing,
                    "The access token lacks the scope this tool requires",
                ));
            }
            if shared.filter_tools_list && !inspection.tools_list_ids.is_empty() {
                filter = Some(ToolsListFilter {
                    ids: Answering::These(inspection.tools_list_ids),
                    cacheable: mirrored.stateless_revision(),
                    tools: Arc::clone(&shared.tools),
                    principal: principal.clone(),
                    max_bytes: shared.max_body_bytes,
                });
            }
        }
    }
    if strip_mirrored {
        parts.headers.remove(&request_headers::MCP_METHOD);
        parts.headers.remove(&request_headers::MCP_NAME);
    }
    // The standalone stream (GET) answers no request the guard saw: whatever list of tools it
    // carries, delivered late or replayed after `Last-Event-ID`, is filtered the same.
    if shared.filter_tools_list && shared.tools.inspects_calls() && parts.method == Method::GET {
        filter = Some(ToolsListFilter {
            ids: Answering::Any,
            cacheable: false,
            tools: Arc::clone(&shared.tools),
            principal: principal.clone(),
            max_bytes: shared.max_body_bytes,
        });
    }
    parts.extensions.insert(principal.clone());
    Ok((
        Request::from_parts(parts, body.into_body()),
        filter,
        principal,
    ))
}

/// Spends one request of the caller's budget: `RateLimited` past it, `Unavailable` if the
/// limiter cannot answer (the guard fails closed).
async fn spend(
    shared: &Shared,
    limit: &CallerLimit,
    principal: &Principal,
) -> Result<(), Rejection> {
    let key = rate_limit::caller_key(shared.resource.as_str(), principal);
    match limit
        .limiter
        .spend(&key, rate_limit::now_us(), limit.budget)
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(wait_us)) => {
            metrics::counter!(
                "gatehouse_guard_rate_limited_total",
                "resource" => shared.resource_label.clone()
            )
            .increment(1);
            Err(Rejection::RateLimited {
                retry_after_secs: gatehouse_types::rate::retry_after_secs(wait_us),
            })
        }
        Err(error) => {
            tracing::warn!(%error, "the rate limit check failed; refusing the request");
            Err(Rejection::Unavailable(
                "The rate limit of this caller cannot be checked now; try again shortly",
            ))
        }
    }
}

/// Calls of one request recorded one by one, at most; the rest are counted in the last record.
/// A batch of thousands of calls must not become thousands of records.
const MAX_AUDITED_CALLS: usize = 16;

/// The largest body the guard reads to name the calls of a request refused for its rate limit.
const LIMITED_AUDIT_BYTES: usize = 64 * 1024;

/// Notes what `messages` call (at most `max` of them), for the audit.
fn note_calls(
    shared: &Shared,
    seen: &mut Seen,
    principal: &Principal,
    messages: &tools::Messages,
    body: &[u8],
    max: usize,
) {
    (seen.calls, seen.more) = tools::calls(messages, &shared.tools, &shared.required, max);
    if seen.calls.is_empty() {
        return;
    }
    seen.principal = Some(principal.clone());
    if shared.audit_arguments {
        tools::attach_arguments(&mut seen.calls, body);
    }
}

/// Verifies the token (or finds it verified in the cache), then asks the revocation hook.
async fn authenticate(shared: &Shared, token: &str) -> Result<Principal, Rejection> {
    let now = (shared.clock)().as_secs();
    let hash = token_hash(token);
    let principal = match &shared.verifier {
        Verifier::Jwt(verifier) => match shared.cache.get(&hash, now) {
            Some(principal) => {
                cache_result(shared, "hit");
                principal
            }
            None => {
                cache_result(shared, "miss");
                let principal = Box::pin(verifier.verify(token, now)).await?;
                // Until `exp` exactly: a token inside the leeway after `exp` is verified again
                // rather than remembered past its lifetime.
                let until = principal.expires_at().as_secs();
                shared.cache.insert(hash, principal.clone(), until, now);
                principal
            }
        },
        // Introspection answers have their own, shorter freshness bound.
        Verifier::Introspection(introspector) => {
            Box::pin(introspector.verify(token, &hash, now)).await?
        }
    };
    if let (Some(check), Some(jti)) = (&shared.revocation, principal.jti()) {
        match check.is_revoked(jti).await {
            Ok(false) => {}
            Ok(true) => return Err(Rejection::InvalidToken("The access token was revoked")),
            Err(error) => {
                tracing::warn!(%error, "the revocation check failed; refusing the request");
                return Err(Rejection::Unavailable(
                    "The revocation status of the access token is unknown; try again shortly",
                ));
            }
        }
    }
    Ok(principal)
}

/// Counts a lookup in the verified-token cache (`gatehouse_guard_token_cache_total`).
fn cache_result(shared: &Shared, result: &'static str) {
    metrics::counter!(
        "gatehouse_guard_token_cache_total",
        "resource" => shared.resource_label.clone(),
        "result" => result
    )
    .increment(1);
}

/// A request body read at most once, and only if needed.
struct PendingBody {
    body: Option<Body>,
    bytes: Option<Bytes>,
    max: usize,
    timeout: std::time::Duration,
    /// The `Content-Length`, if declared.
    declared: Option<u64>,
}

impl PendingBody {
    fn new(
        body: Body,
        max: usize,
        timeout: std::time::Duration,
        headers: &axum::http::HeaderMap,
    ) -> Self {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        Self {
            body: Some(body),
            bytes: None,
            max,
            timeout,
            declared,
        }
    }

    /// The body if it is at most `max` bytes (for a request that is refused anyway: what is
    /// beyond is not read, and the body is not passed on).
    async fn bytes_at_most(&mut self, max: usize) -> Result<&Bytes, Rejection> {
        self.max = self.max.min(max);
        self.bytes().await
    }

    async fn bytes(&mut self) -> Result<&Bytes, Rejection> {
        if self.bytes.is_none() {
            if self.declared.is_some_and(|len| len > self.max as u64) {
                return Err(Rejection::BodyTooLarge);
            }
            let body = self.body.take().unwrap_or_default();
            let mut collect = std::pin::pin!(Limited::new(body, self.max).collect());
            // A small body has usually arrived with the head: it is read at once, with no timer
            // to set and clear on every request (issue 24). Otherwise the rest is waited for, at
            // most `timeout`.
            let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
            let read = match first {
                Poll::Ready(read) => Ok(read),
                Poll::Pending => tokio::time::timeout(self.timeout, collect).await,
            };
            let bytes = match read {
                Err(_) => return Err(Rejection::BodyTimeout),
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
                    return Err(Rejection::BodyTooLarge);
                }
                Ok(Err(_)) => {
                    return Err(Rejection::InvalidRequest(
                        "The request body could not be read",
                    ));
                }
            };
            self.bytes = Some(bytes);
        }
        Ok(self.bytes.get_or_insert_default())
    }

    fn into_body(self) -> Body {
        match self.bytes {
            Some(bytes) => Body::from(bytes),
            None => self.body.unwrap_or_default(),
        }
    }
}
