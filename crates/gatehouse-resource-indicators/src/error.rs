//! `invalid_target`: the one error of this crate.

use gatehouse_types::uri::WebUrlError;
use gatehouse_types::{ErrorCode, OAuthError};

/// Why a resource indicator was refused.
///
/// Every variant is the `invalid_target` error of
/// [RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2): "The requested resource is
/// invalid, missing, unknown, or malformed", answered with HTTP 400. The same type reports a
/// malformed resource in configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTarget {
    /// Longer than [`gatehouse_types::uri::MAX_URI_LEN`].
    #[error("resource is longer than 2048 bytes")]
    TooLong,
    /// Not an absolute URI (no scheme: a relative reference).
    #[error("RFC 8707 §2: the resource MUST be an absolute URI")]
    NotAbsolute,
    /// Carries a `#fragment`, even an empty one.
    #[error("RFC 8707 §2: the resource MUST NOT include a fragment component")]
    Fragment,
    /// A character RFC 3986 does not allow unencoded.
    #[error("resource contains a character that RFC 3986 §2 does not allow unencoded")]
    InvalidCharacter,
    /// Gatehouse policy: not an `https` URL with a host, nor `http` on a loopback host.
    #[error(
        "resource must be an https URL with a host (http only on 127.0.0.1, [::1] or localhost)"
    )]
    NotHttps,
    /// Carries `user:password@`.
    #[error("resource must not contain userinfo")]
    Userinfo,
    /// A port that is not a number from 1 to 65535.
    #[error("resource has an invalid port")]
    InvalidPort,
    /// Refused by the web URL checks for another reason.
    #[error("resource is not a valid URL: {0}")]
    InvalidUrl(WebUrlError),
    /// Well-formed, but not a resource this server issues tokens for.
    #[error("RFC 8707 §2: {resource} is not a resource this server serves")]
    Unknown {
        /// The requested resource, in canonical form.
        resource: String,
    },
    /// No resource was requested and the server has no default resource.
    #[error("RFC 8707 §2: no resource was requested and this server has no default resource")]
    Missing,
}

/// The status (400) and body follow from the code (the trait's defaults).
impl OAuthError for InvalidTarget {
    /// Always `invalid_target`.
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidTarget
    }
}

impl From<WebUrlError> for InvalidTarget {
    fn from(error: WebUrlError) -> Self {
        match error {
            WebUrlError::TooLong => Self::TooLong,
            WebUrlError::InvalidCharacter => Self::InvalidCharacter,
            // The caller has already checked for a scheme, so "not absolute" here means no
            // host (`https:///x`, `urn:x`): outside Gatehouse's web URL policy.
            WebUrlError::NotAbsolute | WebUrlError::NotHttps => Self::NotHttps,
            WebUrlError::Userinfo => Self::Userinfo,
            WebUrlError::Fragment => Self::Fragment,
            WebUrlError::InvalidPort => Self::InvalidPort,
            other => Self::InvalidUrl(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8707_section_2_invalid_target_is_400() {
        let err = InvalidTarget::Unknown {
            resource: "https://other.example/".into(),
        };
        assert_eq!(err.error_code(), ErrorCode::InvalidTarget);
        assert_eq!(err.http_status(), 400);
        let body = err.error_response();
        assert_eq!(body.error.as_str(), "invalid_target");
        assert!(
            body.error_description
                .unwrap()
                .as_str()
                .contains("https://other.example/")
        );
    }
}
