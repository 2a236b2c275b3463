//! The one error type of this crate, and how it maps to the wire.

use gatehouse_types::{ErrorCode, OAuthError, TokenFormError};

/// Why an introspection request or response was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// The request body is refused
    /// ([RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1)): malformed, with a
    /// repeated parameter ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1):
    /// "Request and response parameters MUST NOT be included more than once"), without `token`
    /// ("token REQUIRED"; an empty one counts as omitted), or with a `token_type_hint` outside
    /// the syntax of registry values. Unknown but well-formed hints are kept, not refused.
    #[error("RFC 7662 §2.1: invalid introspection request: {0}")]
    Request(#[from] TokenFormError),
    /// The introspection response is not a JSON object with a boolean `active` member and
    /// well-formed claims ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2)).
    #[error("malformed introspection response: {0}")]
    InvalidResponse(#[from] serde_json::Error),
}

/// The status and body follow from the code (the trait's defaults).
impl OAuthError for IntrospectionError {
    /// `invalid_request` (400) for a request the introspection endpoint received. A response from
    /// the authorization server that does not parse is the server's fault, not the caller's, so
    /// it maps to `server_error` (500).
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidResponse(_) => ErrorCode::ServerError,
            Self::Request(_) => ErrorCode::InvalidRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_are_invalid_request_400() {
        let e = IntrospectionError::from(TokenFormError::MissingToken);
        assert_eq!(e.error_code(), ErrorCode::InvalidRequest);
        assert_eq!(e.http_status(), 400);
        let body = e.error_response();
        assert_eq!(body.error, ErrorCode::InvalidRequest);
        let description = body.error_description.unwrap();
        assert!(description.as_str().contains("RFC 7662"));
        assert!(description.as_str().contains("REQUIRED"));
        assert!(e.to_string().starts_with("RFC 7662 §2.1: "));
    }
}
