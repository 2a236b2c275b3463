//! Gateway mode (`[[resources]] upstream = "http://…"`): requests the guard let through are
//! forwarded to an MCP server written in any language, bodies streamed both ways (Server-Sent
//! Events included), `Mcp-Session-Id` and the other MCP headers passed as they are.
//!
//! Headers cross on an allow-list, each way ([`REQUEST_HEADERS`], [`RESPONSE_HEADERS`]). The
//! client's token is never forwarded: MCP forbids token passthrough (the upstream would accept a
//! token issued for another audience, the confused-deputy problem). The upstream learns who is
//! calling from headers only this gateway sets, [`IDENTITY_HEADERS`]; nothing the client sends
//! can reach the upstream under those names or any spelling of them, so an upstream that is
//! reachable only through the gateway can trust them.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_guard::Principal;

/// The prefix of the identity headers. No incoming header crosses under it (nor under any other
/// name outside the allow-list).
pub const IDENTITY_HEADER_PREFIX: &str = "x-gatehouse-";

/// The identity headers the upstream receives.
pub const IDENTITY_HEADERS: [&str; 4] = [
    "x-gatehouse-subject",
    "x-gatehouse-client-id",
    "x-gatehouse-scope",
    "x-gatehouse-issuer",
];

/// The request headers that cross the gateway: what MCP's Streamable HTTP transport needs,
/// content negotiation, and trace context, and the request metadata headers of MCP 2026-07-28
/// (`Mcp-Method`, `Mcp-Name`), which the guard in front has checked against the body whenever
/// they are present (`gatehouse_guard`'s `request_headers`). An allow-list: anything
/// else stays here, whatever an upstream stack might make of it: Gatehouse's own cookies (the
/// person's sign-in session), `Authorization` (no token passthrough) and `DPoP` (the proof of
/// a key the upstream has no business with, RFC 9449), proxy-trust headers
/// (`X-Forwarded-*`, `X-Original-URL`, `X-Real-IP`, `CF-Connecting-IP`, …), method overrides
/// (the guard judged the request by its real method), spellings that some stacks normalise into
/// the identity headers (`X-Gatehouse.Subject`, `X_Gatehouse_Subject`), hop-by-hop headers, and
/// `Accept-Encoding`, so that answers arrive unencoded and `tools/list` filtering can read them.
const REQUEST_HEADERS: [&str; 12] = [
    "accept",
    "accept-language",
    "cache-control",
    "content-type",
    "last-event-id",
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
    "mcp-session-id",
    "traceparent",
    "tracestate",
    "user-agent",
];

/// The response headers that come back from the upstream: what MCP clients read, and caching
/// and framing hints. No `Set-Cookie` (an upstream could otherwise set cookies on Gatehouse's
/// origin, the sign-in session's among them), no `WWW-Authenticate` (challenges are the guard's).
const RESPONSE_HEADERS: [&str; 10] = [
    "allow",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-type",
    "mcp-protocol-version",
    "mcp-session-id",
    "retry-after",
    "vary",
    "x-accel-buffering",
];

/// The methods of MCP's Streamable HTTP transport; anything else is refused with 405 before it
/// reaches the upstream.
const MCP_METHODS: [axum::http::Method; 3] = [
    axum::http::Method::GET,
    axum::http::Method::POST,
    axum::http::Method::DELETE,
];

/// How long the upstream may take to connect.
const UPSTREAM_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the upstream may take to start answering (its status and headers): long, since a
/// JSON answer to a slow tool call comes only when the tool is done. The body, an SSE stream
/// that may stay open for as long as the session, has no deadline.
const UPSTREAM_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The header carrying the caller's access token at an identity provider
/// (`forward_upstream_token`). Like the identity headers, only the gateway sets it.
pub const UPSTREAM_TOKEN_HEADER: &str = "x-gatehouse-upstream-token";

/// One upstream MCP server.
#[derive(Clone, Debug)]
pub(crate) struct Gateway {
    upstream: reqwest::Url,
    http: reqwest::Client,
    /// The identity provider whose token of the caller the upstream receives, and the vault.
    forward: Option<(String, crate::federation::UpstreamTokens)>,
}

impl Gateway {
    pub(crate) fn new(upstream: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(upstream).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("must be an http or https URL with a host".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let http = crate::outbound::client_builder()
            .connect_timeout(UPSTREAM_CONNECT_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            upstream: url,
            http,
            forward: None,
        })
    }

    /// The upstream also receives the caller's fresh access token at `provider`.
    pub(crate) fn forwarding(
        mut self,
        provider: String,
        tokens: crate::federation::UpstreamTokens,
    ) -> Self {
        self.forward = Some((provider, tokens));
        self
    }
}

/// Forwards one guarded request.
pub(crate) async fn forward(State(gateway): State<Gateway>, request: Request) -> Response {
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        // The guard runs first and always inserts the principal; without it nothing is sent.
        return error(StatusCode::UNAUTHORIZED, "no verified caller");
    };
    if !MCP_METHODS.contains(request.method()) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST, DELETE")],
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    // The upstream URL as configured: Streamable HTTP carries nothing in the query, and a query
    // the client chose (the legacy transport's `?sessionId=`) would bypass session binding.
    let url = gateway.upstream.clone();
    let mut headers = request_headers(&parts.headers);
    for (name, value) in [
        (IDENTITY_HEADERS[0], principal.subject()),
        (IDENTITY_HEADERS[1], principal.client_id()),
        (IDENTITY_HEADERS[2], &principal.scopes().to_string()),
        (IDENTITY_HEADERS[3], principal.issuer()),
    ] {
        headers.insert(HeaderName::from_static(name), header_value(value));
    }
    if let Some((provider, tokens)) = &gateway.forward {
        // The caller's own token at the provider, never the MCP client's token: absent for a
        // caller who has no identity there.
        match tokens.access_token(principal.subject(), provider).await {
            Ok(Some(token)) => {
                if let Ok(mut value) = HeaderValue::from_str(&token) {
                    value.set_sensitive(true);
                    headers.insert(HeaderName::from_static(UPSTREAM_TOKEN_HEADER), value);
                }
            }
            Ok(None) => {}
            Err(crate::federation::UpstreamTokenError::Revoked(_)) => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "the identity provider no longer vouches for this person; sign in again",
                );
            }
            Err(failure) => {
                tracing::warn!(%failure, "gateway: the caller's upstream token is not available");
                return error(
                    StatusCode::BAD_GATEWAY,
                    "the caller's token at the identity provider cannot be refreshed now",
                );
            }
        }
    }
    let sent = gateway
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send();
    let Ok(upstream) = tokio::time::timeout(UPSTREAM_ANSWER_TIMEOUT, sent).await else {
        return error(
            StatusCode::GATEWAY_TIMEOUT,
            "the MCP server behind this gateway did not answer in time",
        );
    };
    match upstream {
        Ok(response) => {
            let status = response.status();
            let headers = allowed(response.headers(), &RESPONSE_HEADERS);
            let mut out = Response::new(Body::from_stream(response.bytes_stream()));
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
        Err(e) if e.is_timeout() => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the MCP server behind this gateway did not answer in time",
        ),
        Err(e) => {
            tracing::warn!(error = %e, upstream = %gateway.upstream, "gateway: upstream unreachable");
            error(
                StatusCode::BAD_GATEWAY,
                "the MCP server behind this gateway cannot be reached",
            )
        }
    }
}

/// The headers of `incoming` named in `allow`.
fn allowed(incoming: &HeaderMap, allow: &[&str]) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(allow.len());
    for (name, value) in incoming {
        if allow.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The request headers that cross the gateway: the allow-list, and the `Mcp-Param-{Name}`
/// headers of MCP 2026-07-28, which mirror tool arguments the tool's schema marks. The upstream
/// knows that schema and "MUST validate" them against the body; intermediaries "MUST forward"
/// them, and without them a conforming upstream refuses the call.
fn request_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut out = allowed(incoming, &REQUEST_HEADERS);
    for (name, value) in incoming {
        if name.as_str().starts_with("mcp-param-") {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// A header value for an identity field: printable ASCII as is, every other byte (and `%`)
/// percent-encoded, so any subject fits a header and the encoding is unambiguous.
fn header_value(value: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn error(status: StatusCode, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "error": if status == StatusCode::UNAUTHORIZED { "invalid_token" } else { "upstream_unavailable" },
            "error_description": description,
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(headers: &HeaderMap) -> Vec<&str> {
        headers.keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn only_what_an_mcp_upstream_needs_crosses_to_it() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer secret"),
            // RFC 9449: the proof is for this server; with the token it would be replayable.
            ("authorization", "DPoP secret"),
            ("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig"),
            ("cookie", "gatehouse-session=abc.def"),
            ("x-gatehouse-subject", "admin"),
            ("X-Gatehouse-Anything", "x"),
            ("x-gatehouse.subject", "admin"),
            ("x_gatehouse_subject", "admin"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("host", "gateway.example"),
            ("mcp-session-id", "abc"),
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
            ("mcp-param-region", "us-west1"),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            ("last-event-id", "7"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("x-http-method-override", "POST"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-prefix", "/admin"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-scheme", "https"),
            ("x-forwarded-ssl", "on"),
            ("x-forwarded-server", "internal"),
            ("x-client-ip", "10.0.0.1"),
            ("true-client-ip", "10.0.0.1"),
            ("cf-connecting-ip", "10.0.0.1"),
            ("x-cluster-client-ip", "10.0.0.1"),
            ("forwarded", "for=10.0.0.1"),
            ("x-real-ip", "10.0.0.1"),
            ("accept-encoding", "gzip"),
        ] {
            incoming.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        assert_eq!(
            names(&request_headers(&incoming)),
            [
                "mcp-session-id",
                "mcp-protocol-version",
                "mcp-method",
                "mcp-name",
                "accept",
                "content-type",
                "last-event-id",
                "traceparent",
                "mcp-param-region"
            ]
        );
    }

    #[test]
    fn the_upstream_cannot_set_cookies_or_challenges_through_the_gateway() {
        let mut answer = HeaderMap::new();
        for (name, value) in [
            ("set-cookie", "gatehouse-session=planted; Path=/"),
            ("www-authenticate", "Bearer realm=\"elsewhere\""),
            ("content-type", "text/event-stream"),
            ("mcp-session-id", "s1"),
            ("connection", "close"),
            ("x-powered-by", "upstream"),
        ] {
            answer.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        assert_eq!(
            names(&allowed(&answer, &RESPONSE_HEADERS)),
            ["content-type", "mcp-session-id"]
        );
    }

    #[test]
    fn identity_values_are_always_valid_headers() {
        assert_eq!(header_value("alice"), "alice");
        assert_eq!(header_value("mcp:tools mcp:admin"), "mcp:tools mcp:admin");
        assert_eq!(header_value("zoë"), "zo%C3%AB");
        assert_eq!(header_value("a\r\nb"), "a%0D%0Ab");
        assert_eq!(header_value("100%"), "100%25");
    }
}
