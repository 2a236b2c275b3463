//! CORS for browser-based MCP clients
//! ([Fetch Standard, CORS protocol](https://fetch.spec.whatwg.org/#http-cors-protocol)).
//!
//! A browser client sends `Authorization` and the MCP headers, so it preflights; the preflight
//! carries no token and must be answered without one. It must also be able to read
//! `WWW-Authenticate` on a 401 or 403, or it cannot discover the authorization server: the CORS
//! headers go on refusals too. Tokens travel in `Authorization`, never in cookies, so no
//! credentials mode is needed, and `*` exposes nothing a server-side client could not fetch.

use axum::body::Body;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

// `DPoP` and `DPoP-Nonce` (RFC 9449 §4.1, §9): a browser-based client sends proofs and reads
// the resource's nonces.
const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID, DPoP";
const EXPOSE_HEADERS: &str =
    "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, DPoP-Nonce, Retry-After";
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// Which origins may call the protected resource from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors(Policy);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Policy {
    Disabled,
    AnyOrigin,
    Origins(Vec<HeaderValue>),
}

impl Default for Cors {
    /// [`Cors::any_origin`]: MCP clients run in browsers, and bearer tokens are not ambient
    /// credentials.
    fn default() -> Self {
        Self::any_origin()
    }
}

impl Cors {
    /// No CORS headers; preflights need a token like any request (server-to-server only).
    pub fn disabled() -> Self {
        Self(Policy::Disabled)
    }

    /// Any origin (`Access-Control-Allow-Origin: *`).
    pub fn any_origin() -> Self {
        Self(Policy::AnyOrigin)
    }

    /// Only these origins (`https://app.example.com`, compared exactly); others get no CORS
    /// headers, so browsers do not let them read responses. Values that cannot be header values
    /// are dropped.
    pub fn origins(origins: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self(Policy::Origins(
            origins
                .into_iter()
                .filter_map(|origin| HeaderValue::from_str(origin.as_ref()).ok())
                .collect(),
        ))
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.0 {
            Policy::Disabled => None,
            Policy::AnyOrigin => Some(HeaderValue::from_static("*")),
            Policy::Origins(allowed) => allowed.contains(origin).then(|| origin.clone()),
        }
    }

    /// The answer to a CORS preflight, which needs no token; `None` if `headers` are not a
    /// preflight's (or CORS is disabled).
    pub(crate) fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response> {
        if self.0 == Policy::Disabled
            || method != Method::OPTIONS
            || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = headers.get(ORIGIN)?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        if let Policy::Origins(_) = self.0 {
            out.insert(VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(allow) = self.allow_origin(origin) {
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            out.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            out.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        Some(response)
    }

    /// Adds the headers that let the page at `origin` read `response`.
    pub(crate) fn apply(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        let Some(origin) = origin else { return };
        let headers = response.headers_mut();
        if let Policy::Origins(_) = self.0 {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
}
