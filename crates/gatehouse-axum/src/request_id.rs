//! A request id for every request: in the `X-Request-Id` response header and in every log line
//! the request causes (the `request` span), so that an operator can find the lines of the
//! request a user reports. An id a reverse proxy already set is kept when it is a plain token
//! (letters, digits, `-`, `_`, `.`; at most 64): anything else is replaced, so a client cannot
//! write what it likes into the logs through it.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header.
pub const REQUEST_ID: &str = "x-request-id";

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The middleware.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| crate::clock::random_token(12), str::to_owned);
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        request.headers_mut().insert(REQUEST_ID, value.clone());
    }
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %gatehouse_types::Untrusted(request.method().as_str()),
        path = %gatehouse_types::Untrusted(request.uri().path()),
    );
    let mut response = next.run(request).instrument(span).await;
    if let Some(value) = value {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_plain_tokens_are_kept() {
        assert!(acceptable("5f2b1c9e-7a3d-4c2e-9b1f-0a8d6e4c3b2a"));
        assert!(acceptable("req_01.ab"));
        assert!(!acceptable(""));
        assert!(!acceptable("a\nforged log line"));
        assert!(!acceptable("a b"));
        assert!(!acceptable(&"x".repeat(65)));
    }
}
