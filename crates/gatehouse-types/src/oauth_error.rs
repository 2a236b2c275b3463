//! One way to put a crate's error on the wire: the [`OAuthError`] trait.

use crate::error::{ErrorCode, ErrorResponse};

/// An error that is answered on the wire as an OAuth error
/// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
///
/// Each Gatehouse crate whose errors reach a client (introspection, revocation, registration,
/// resource indicators) implements it on its error enum, so an HTTP layer answers every refusal
/// the same way: status [`http_status`](Self::http_status), JSON body
/// [`error_response`](Self::error_response). An implementation chooses the code; the status and
/// the body follow from it and from the error's message, unless a crate has a reason to override
/// them (an error that must be answered 401, for instance).
///
/// ```
/// use gatehouse_types::{ErrorCode, OAuthError};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("RFC 8707 §2: no resource was requested")]
/// struct NoResource;
///
/// impl OAuthError for NoResource {
///     fn error_code(&self) -> ErrorCode {
///         ErrorCode::InvalidTarget
///     }
/// }
///
/// let body = NoResource.error_response();
/// assert_eq!(NoResource.http_status(), 400);
/// assert_eq!(
///     body.to_string(),
///     "invalid_target: RFC 8707 section 2: no resource was requested"
/// );
/// ```
pub trait OAuthError: std::error::Error {
    /// The `error` code.
    fn error_code(&self) -> ErrorCode;

    /// The HTTP status to answer with; by default the code's ([`ErrorCode::http_status`]).
    fn http_status(&self) -> u16 {
        self.error_code().http_status()
    }

    /// The JSON error body, with this error's message as `error_description`. The message is
    /// made to fit `NQSCHAR` by [`ErrorDescription::sanitized`](crate::ErrorDescription::sanitized)
    /// ("§" is spelled "section", quotes become `'`).
    fn error_response(&self) -> ErrorResponse {
        ErrorResponse::new(self.error_code()).with_description(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error("RFC 7662 §2.1: token is \"REQUIRED\"")]
        Request,
        #[error("the client failed to authenticate")]
        Client,
    }

    impl OAuthError for TestError {
        fn error_code(&self) -> ErrorCode {
            match self {
                Self::Request => ErrorCode::InvalidRequest,
                Self::Client => ErrorCode::InvalidClient,
            }
        }
    }

    /// An implementation that overrides the status: `invalid_client` is 401 only when the client
    /// tried to authenticate (RFC 6749 §5.2), so an error about an unauthenticated client says 400.
    #[derive(Debug, thiserror::Error)]
    #[error("no client authentication")]
    struct Unauthenticated;

    impl OAuthError for Unauthenticated {
        fn error_code(&self) -> ErrorCode {
            ErrorCode::InvalidClient
        }
        fn http_status(&self) -> u16 {
            400
        }
    }

    #[test]
    fn rfc6749_section_5_2_defaults_follow_the_code() {
        assert_eq!(TestError::Request.http_status(), 400);
        assert_eq!(TestError::Client.http_status(), 401);
        let body = TestError::Request.error_response();
        assert_eq!(body.error, ErrorCode::InvalidRequest);
        assert_eq!(body.http_status(), 400);
        assert_eq!(
            body.error_description.unwrap().as_str(),
            "RFC 7662 section 2.1: token is 'REQUIRED'"
        );
        assert!(body.error_uri.is_none());
        assert!(body.extra.is_empty());
    }

    #[test]
    fn status_can_be_overridden_and_works_through_dyn() {
        let errors: [&dyn OAuthError; 2] = [&TestError::Client, &Unauthenticated];
        let statuses: Vec<u16> = errors.iter().map(|e| e.http_status()).collect();
        assert_eq!(statuses, [401, 400]);
        assert_eq!(
            Unauthenticated.error_response().error,
            ErrorCode::InvalidClient
        );
    }
}
