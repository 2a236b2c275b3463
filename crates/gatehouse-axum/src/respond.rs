//! Response shapes shared by the endpoints.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_types::{ErrorCode, OAuthError};

/// `Cache-Control: no-store` and `Pragma: no-cache`: on every response that carries a token or
/// a secret (RFC 6749 §5.1, RFC 7591 §3.2.1) and on every page.
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON body with `status`, not cached.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    no_store(&mut response);
    response
}

/// An RFC 6749 §5.2 error: JSON body, the code's status, `WWW-Authenticate` when given.
pub(crate) fn oauth_error(error: &impl OAuthError, challenge: Option<&str>) -> Response {
    let body = error.error_response();
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json(
        status,
        serde_json::to_string(&body).unwrap_or_else(|_| r#"{"error":"server_error"}"#.into()),
    );
    if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// An error made here (not by the engine).
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub(crate) struct HttpError {
    pub(crate) code: ErrorCode,
    pub(crate) description: String,
}

impl HttpError {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

impl OAuthError for HttpError {
    fn error_code(&self) -> ErrorCode {
        self.code.clone()
    }
}

/// Refuses a body that is not `application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 7009
/// §2.1, RFC 7662 §2.1), with a precise `invalid_request`.
pub(crate) fn require_form(headers: &axum::http::HeaderMap) -> Result<(), Response> {
    require_content_type(headers, "application/x-www-form-urlencoded")
}

/// Refuses a body that is not JSON (RFC 7591 §3.1).
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), Response> {
    require_content_type(headers, "application/json")
}

fn require_content_type(headers: &axum::http::HeaderMap, expected: &str) -> Result<(), Response> {
    let given = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        let shown = if given.is_empty() { "none" } else { given };
        Err(oauth_error(
            &HttpError::new(
                ErrorCode::InvalidRequest,
                format!("the body must be {expected} (Content-Type was {shown})"),
            ),
            None,
        ))
    }
}

/// An HTML page: no caching, no framing, a strict content security policy.
pub(crate) fn page(status: StatusCode, html: String, cookies: &[String]) -> Response {
    let mut response = (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response();
    no_store(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: the authorization request in a page's URL never leaks to
    // another site, and the page's own forms still carry `Origin`, which the CSRF check needs
    // (under `no-referrer` browsers send `Origin: null`).
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// A redirect (303 See Other, so a POST becomes a GET) to `location`.
pub(crate) fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = match HeaderValue::from_str(location) {
        Ok(location) => (
            StatusCode::SEE_OTHER,
            [(axum::http::header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    };
    no_store(&mut response);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}
