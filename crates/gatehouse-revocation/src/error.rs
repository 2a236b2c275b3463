//! The one error type of this crate, and how it maps to the wire.

use gatehouse_types::{ErrorCode, OAuthError, TokenFormError};

/// Why a revocation request was refused. Every variant is `invalid_request` (400).
///
/// An unknown or invalid *token* is not among them: the server answers 200
/// ([RFC 7009 §2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The request body is refused
    /// ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)): malformed, with a
    /// repeated parameter ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1):
    /// "Request and response parameters MUST NOT be included more than once"), without `token`
    /// ("token REQUIRED"; an empty one counts as omitted), or with a `token_type_hint` outside
    /// the syntax of registry values. Unknown but well-formed hints are kept, not refused.
    #[error("RFC 7009 §2.1: invalid revocation request: {0}")]
    Request(#[from] TokenFormError),
}

/// The status (400) and body follow from the code (the trait's defaults).
impl OAuthError for RevocationError {
    /// `invalid_request` for every variant
    /// ([RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1) refers to
    /// RFC 6749 §5.2 for these).
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Request(_) => ErrorCode::InvalidRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_invalid_request_400() {
        let e = RevocationError::from(TokenFormError::MissingToken);
        assert_eq!(e.error_code(), ErrorCode::InvalidRequest);
        assert_eq!(e.http_status(), 400);
        let body = e.error_response().to_string();
        assert!(body.contains("RFC 7009"));
        assert!(body.contains("REQUIRED"));
        assert!(e.to_string().starts_with("RFC 7009 §2.1: "));
    }
}
