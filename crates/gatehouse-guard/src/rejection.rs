//! Refusals, answered the way MCP clients parse them: a `WWW-Authenticate: Bearer` challenge
//! ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)) carrying
//! `resource_metadata` ([RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)),
//! and a small JSON body `{"error":…,"error_description":…}`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use gatehouse_resource_metadata::BearerChallenge;
use gatehouse_types::{ErrorCode, ErrorDescription, ErrorResponse, ScopeSet};

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No bearer token ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1):
    /// "If the request lacks any authentication information …, the resource server SHOULD NOT
    /// include an error code").
    MissingToken,
    /// `invalid_request` (400): a token in the query or the body, two methods, a malformed
    /// header, a body the guard cannot read.
    InvalidRequest(&'static str),
    /// The body is larger than the guard reads (413).
    BodyTooLarge,
    /// The body did not arrive within the guard's body timeout (408).
    BodyTimeout,
    /// `invalid_token` (401): expired, revoked, malformed, for another resource, …
    InvalidToken(&'static str),
    /// `insufficient_scope` (403), with every scope the client should ask for.
    InsufficientScope {
        scope: ScopeSet,
        description: &'static str,
    },
    /// The guard cannot decide now (JWKS or introspection endpoint unreachable, deny list
    /// failing): 503, so that a client retries instead of discarding a good token.
    Unavailable(&'static str),
    /// A refusal under the DPoP rules (RFC 9449 §7.1, §9): 401 with a `DPoP` challenge;
    /// `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
    Dpop {
        code: ErrorCode,
        description: &'static str,
    },
    /// MCP 2026-07-28 request metadata headers that disagree with the body (`request_headers`):
    /// 400 with the JSON-RPC error `HeaderMismatch` (-32020), for the request's `id`.
    HeaderMismatch {
        id: Option<serde_json::Value>,
        message: &'static str,
    },
    /// A `tools/call` of a tool closed to everyone (`UnmappedTools::Deny`): 403 `access_denied`,
    /// without a challenge, since no scope opens it.
    ToolDenied,
    /// The scope matrix lets the caller hold none of the token's scopes, or not the one this
    /// request needs: 403 `access_denied` without a challenge, since stepping up would only
    /// bring back a token the policy narrows the same way.
    PolicyDenied,
    /// The caller spent its budget on this resource (`rate_limit`): 429 with `Retry-After`
    /// (RFC 6585 §4); no challenge: the token is fine.
    RateLimited { retry_after_secs: u64 },
    /// An `Mcp-Session-Id` this caller did not open (or no one did): 404, which MCP clients
    /// answer by starting a session of their own (see `sessions`).
    UnknownSession,
}

/// What every challenge of one guard shares, computed once.
#[derive(Debug, Clone)]
pub(crate) struct Challenges {
    resource_metadata: String,
    missing_token: HeaderValue,
    /// The resource's required scopes, named again when a token is refused, so that a client
    /// authorizing anew asks for them (MCP 2025-11-25 scope selection).
    required: Option<ScopeSet>,
    /// The resource accepts DPoP-bound tokens only: a request without a token is also told so
    /// with a `DPoP` challenge.
    dpop_required: bool,
}

impl Challenges {
    /// `resource_metadata` must be a URL `BearerChallenge` accepts (checked at build time).
    pub(crate) fn new(resource_metadata: String, required: &ScopeSet, dpop_required: bool) -> Self {
        let mut builder = BearerChallenge::builder().resource_metadata(resource_metadata.clone());
        // MCP 2025-11-25 (scope selection): servers SHOULD name in `scope` what the resource
        // requires, so that clients ask for no more than that.
        if !required.is_empty() {
            builder = builder.scope(required.clone());
        }
        let missing_token = header_value(builder);
        Self {
            resource_metadata,
            missing_token,
            required: (!required.is_empty()).then(|| required.clone()),
            dpop_required,
        }
    }

    /// The response for `rejection` of a request that used the `DPoP` scheme or not (RFC 9449
    /// §7.1: a refused DPoP request is told so with a `DPoP` challenge, beside the `Bearer` one
    /// MCP clients read).
    pub(crate) fn respond(&self, rejection: Rejection, dpop_scheme: bool) -> Response {
        let mut dpop_challenge = None;
        let retry_after = match &rejection {
            Rejection::RateLimited { retry_after_secs } => Some((*retry_after_secs).max(1)),
            Rejection::Unavailable(_) => Some(5),
            _ => None,
        };
        let (status, code, description, challenge) = match rejection {
            Rejection::UnknownSession => return unknown_session(),
            Rejection::HeaderMismatch { id, message } => return header_mismatch(id, message),
            // The header carries no error code (RFC 6750 §3.1); the JSON body, which no RFC
            // governs here, still needs one, and `invalid_token` is what MCP SDKs send.
            Rejection::MissingToken if self.dpop_required => {
                dpop_challenge = Some(self.dpop_challenge(None, None));
                (
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    "A DPoP-bound access token is required: send it as Authorization: DPoP with a DPoP proof",
                    Some(self.missing_token.clone()),
                )
            }
            Rejection::Dpop { code, description } => {
                dpop_challenge = Some(self.dpop_challenge(Some((&code, description)), None));
                (StatusCode::UNAUTHORIZED, code, description, None)
            }
            Rejection::MissingToken => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "An access token is required: send it as Authorization: Bearer",
                Some(self.missing_token.clone()),
            ),
            Rejection::InvalidRequest(description) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                description,
                Some(self.challenge(ErrorCode::InvalidRequest, description, None)),
            ),
            Rejection::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                "The request body is larger than this resource accepts",
                None,
            ),
            Rejection::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::InvalidRequest,
                "The request body did not arrive in time",
                None,
            ),
            Rejection::InvalidToken(description) => {
                if dpop_scheme {
                    dpop_challenge = Some(self.dpop_challenge(
                        Some((&ErrorCode::InvalidToken, description)),
                        self.required.as_ref(),
                    ));
                }
                (
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    description,
                    Some(self.challenge(
                        ErrorCode::InvalidToken,
                        description,
                        self.required.clone(),
                    )),
                )
            }
            Rejection::InsufficientScope { scope, description } => {
                if dpop_scheme {
                    dpop_challenge = Some(self.dpop_challenge(
                        Some((&ErrorCode::InsufficientScope, description)),
                        Some(&scope),
                    ));
                }
                let challenge =
                    self.challenge(ErrorCode::InsufficientScope, description, Some(scope));
                (
                    StatusCode::FORBIDDEN,
                    ErrorCode::InsufficientScope,
                    description,
                    Some(challenge),
                )
            }
            Rejection::ToolDenied => (
                StatusCode::FORBIDDEN,
                ErrorCode::AccessDenied,
                "This tool has no scope on this resource, and tools without one are closed (unmapped_tools = deny)",
                None,
            ),
            Rejection::PolicyDenied => (
                StatusCode::FORBIDDEN,
                ErrorCode::AccessDenied,
                "The scope policy does not let this subject hold the scope this request needs through this client",
                None,
            ),
            // RFC 6585 §4, with `Retry-After` (RFC 9110 §10.2.3) below.
            Rejection::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TemporarilyUnavailable,
                "Too many requests from this client and subject to this resource; retry after the time in Retry-After",
                None,
            ),
            Rejection::Unavailable(description) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
                description,
                None,
            ),
        };
        let body = serde_json::to_string(&ErrorResponse::new(code).with_description(description))
            .unwrap_or_default();
        let mut response = json_response(status, body);
        let headers = response.headers_mut();
        if let Some(challenge) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(challenge) = dpop_challenge {
            headers.append(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// `DPoP algs="…"` with `resource_metadata`, and the error if there is one (RFC 9449
    /// §7.1: "the algs parameter … a space-delimited list of JWS alg values").
    fn dpop_challenge(
        &self,
        error: Option<(&ErrorCode, &str)>,
        scope: Option<&ScopeSet>,
    ) -> HeaderValue {
        let mut challenge = String::from("DPoP ");
        if let Some((code, description)) = error {
            let description = ErrorDescription::sanitized(description);
            challenge.push_str(&format!(
                "error=\"{}\", error_description=\"{}\", ",
                code.as_str(),
                description.as_str()
            ));
        }
        // Scope tokens are NQCHAR without spaces, safe in a quoted string (RFC 6749 §3.3).
        if let Some(scope) = scope.filter(|scope| !scope.is_empty()) {
            challenge.push_str(&format!("scope=\"{scope}\", "));
        }
        challenge.push_str(&format!(
            "algs=\"{}\", resource_metadata=\"{}\"",
            crate::dpop::PROOF_ALGS.join(" "),
            self.resource_metadata
        ));
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("DPoP"))
    }

    fn challenge(
        &self,
        error: ErrorCode,
        description: &str,
        scope: Option<ScopeSet>,
    ) -> HeaderValue {
        let mut builder = BearerChallenge::builder()
            .error(error)
            .error_description(ErrorDescription::sanitized(description))
            .resource_metadata(self.resource_metadata.clone());
        if let Some(scope) = scope {
            builder = builder.scope(scope);
        }
        header_value(builder)
    }
}

/// `404 Not Found` for a session id the caller did not open, with the JSON-RPC error MCP
/// servers send for an unknown session; no challenge: the token is fine.
fn unknown_session() -> Response {
    let body = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found: start a new session without Mcp-Session-Id"}}"#;
    json_response(StatusCode::NOT_FOUND, body.to_owned())
}

/// `400 Bad Request` with the JSON-RPC error `HeaderMismatch` (MCP 2026-07-28, Streamable HTTP,
/// "Server Validation"); no challenge: the token is fine.
fn header_mismatch(id: Option<serde_json::Value>, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(serde_json::Value::Null),
        "error": { "code": HEADER_MISMATCH, "message": format!("Header mismatch: {message}") },
    });
    json_response(StatusCode::BAD_REQUEST, body.to_string())
}

/// Every refusal's frame: a JSON body, never cached.
fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The JSON-RPC error code `HeaderMismatch` (MCP 2026-07-28).
const HEADER_MISMATCH: i64 = -32020;

/// The builder's header value. Every input was checked when the guard was built, so a failure
/// here would be a bug; answer with a bare but valid challenge rather than panic.
fn header_value(builder: gatehouse_resource_metadata::BearerChallengeBuilder) -> HeaderValue {
    builder
        .build()
        .ok()
        .and_then(|challenge| HeaderValue::from_str(&challenge.to_header_value()).ok())
        .unwrap_or_else(|| HeaderValue::from_static(r#"Bearer realm="mcp""#))
}
