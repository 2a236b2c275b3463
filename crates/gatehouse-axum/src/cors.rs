//! CORS for the endpoints a browser-based MCP client calls directly: metadata, JWKS,
//! registration, token and revocation. Not for the authorization endpoint or its pages, which a
//! browser navigates to, and which must never be read by another origin.
//!
//! These endpoints take no cookies (clients authenticate with `Authorization` or form
//! parameters), so `Access-Control-Allow-Origin: *` without credentials exposes nothing a
//! server-side client could not fetch anyway.

use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Answers preflights and adds the CORS headers to responses.
pub(crate) async fn cors(request: Request, next: Next) -> Response {
    let cross_origin = request.headers().contains_key("origin");
    if request.method() == Method::OPTIONS && cross_origin {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            // `DPoP` (RFC 9449 §4.1): a browser-based public client sends proofs to /token.
            HeaderValue::from_static("Authorization, Content-Type, MCP-Protocol-Version, DPoP"),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return response;
    }
    let mut response = next.run(request).await;
    if cross_origin {
        allow(response.headers_mut());
    }
    response
}

/// The headers that let a cross-origin script read a response.
pub(crate) fn allow(headers: &mut axum::http::HeaderMap) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Retry-After, DPoP-Nonce"),
    );
}
