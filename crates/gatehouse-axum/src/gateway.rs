//! Gateway mode (`[[resources]] upstream = "http://…"`): requests the guard let through are
//! forwarded to an MCP server written in any language, bodies streamed both ways (Server-Sent
//! Events included), `Mcp-Session-Id` and the other MCP headers passed as they are.
//!
//! The client's token is never forwarded: MCP forbids token passthrough (the upstream would
//! accept a token issued for another audience, the confused-deputy problem). The upstream learns
//! who is calling from headers only this gateway sets, [`IDENTITY_HEADERS`]; any header with the
//! same prefix arriving from the client is removed first, so an upstream that is reachable only
//! through the gateway can trust them.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_guard::Principal;

/// The prefix of the identity headers. Every incoming header starting with it is dropped.
pub const IDENTITY_HEADER_PREFIX: &str = "x-gatehouse-";

/// The identity headers the upstream receives.
pub const IDENTITY_HEADERS: [&str; 4] = [
    "x-gatehouse-subject",
    "x-gatehouse-client-id",
    "x-gatehouse-scope",
    "x-gatehouse-issuer",
];

/// Headers that do not cross the gateway: connection-level ones (RFC 9110 §7.6.1) and others
/// that describe one hop; method overrides (the guard judged the request by its real method);
/// claims about the client's address or the original host, which the upstream could trust; and
/// `accept-encoding`, so that answers arrive unencoded and `tools/list` filtering can read them.
const NOT_FORWARDED: [&str; 17] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
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

/// One upstream MCP server.
#[derive(Clone, Debug)]
pub(crate) struct Gateway {
    upstream: reqwest::Url,
    http: reqwest::Client,
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
        })
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
    let mut url = gateway.upstream.clone();
    if let Some(query) = parts.uri.query() {
        url.set_query(Some(query));
    }
    let mut headers = forwarded_headers(&parts.headers);
    for (name, value) in [
        (IDENTITY_HEADERS[0], principal.subject()),
        (IDENTITY_HEADERS[1], principal.client_id()),
        (IDENTITY_HEADERS[2], &principal.scopes().to_string()),
        (IDENTITY_HEADERS[3], principal.issuer()),
    ] {
        headers.insert(HeaderName::from_static(name), header_value(value));
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
            let headers = forwarded_headers(response.headers());
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

/// The headers that cross the gateway: all but hop-by-hop ones, `Host` (the upstream's own is
/// set by the client library), `Authorization` (no token passthrough) and anything claiming to
/// be an identity header.
fn forwarded_headers(incoming: &HeaderMap) -> HeaderMap {
    let connection_listed: Vec<String> = incoming
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(incoming.len());
    for (name, value) in incoming {
        let lower = name.as_str();
        if NOT_FORWARDED.contains(&lower)
            || connection_listed.iter().any(|listed| listed == lower)
            || name == header::HOST
            || name == header::AUTHORIZATION
            || name == header::CONTENT_LENGTH
            || name == header::ACCEPT_ENCODING
            // `X_Gatehouse_Subject` too: CGI-style servers (WSGI, Rack, PHP) read both spellings
            // as the same variable.
            || lower.replace('_', "-").starts_with(IDENTITY_HEADER_PREFIX)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
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

    #[test]
    fn tokens_hop_headers_and_forged_identities_do_not_cross() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer secret"),
            ("x-gatehouse-subject", "admin"),
            ("X-Gatehouse-Anything", "x"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("host", "gateway.example"),
            ("mcp-session-id", "abc"),
            ("mcp-protocol-version", "2025-11-25"),
            ("accept", "application/json, text/event-stream"),
            ("last-event-id", "7"),
            ("x_gatehouse_subject", "admin"),
            ("x-http-method-override", "POST"),
            ("x-forwarded-for", "10.0.0.1"),
            ("accept-encoding", "gzip"),
        ] {
            incoming.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        let out = forwarded_headers(&incoming);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "mcp-session-id",
                "mcp-protocol-version",
                "accept",
                "last-event-id"
            ]
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
