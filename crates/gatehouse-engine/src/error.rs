//! The error every endpoint decision returns: an OAuth error code, a description a developer can
//! act on, and what the HTTP layer must add.

use gatehouse_types::{ErrorCode, OAuthError};

use crate::store::{FamilyId, StoreError};

/// The `WWW-Authenticate` challenge sent with `invalid_client` (RFC 6749 §5.2: "the
/// authorization server MUST respond with an HTTP 401 (Unauthorized) status code and include the
/// "WWW-Authenticate" response header field matching the authentication scheme used by the
/// client").
pub const CLIENT_CHALLENGE: &str = "Basic realm=\"gatehouse\", charset=\"UTF-8\"";

/// A refused request at the token, revocation, introspection or registration endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct EndpointError {
    code: ErrorCode,
    description: String,
    reuse: Option<(Reuse, FamilyId)>,
}

/// A credential presented again after it was used: the grant it belongs to was revoked. The
/// HTTP layer reports it as a security event; the client only sees `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reuse {
    /// An authorization code redeemed twice (OAuth 2.1 §4.1.3).
    Code,
    /// A rotated refresh token presented after the grace period (RFC 9700 §4.14.2).
    RefreshToken,
}

impl Reuse {
    /// The credential's name in events and metrics: `code`, `refresh_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl EndpointError {
    /// An error with a code and a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            reuse: None,
        }
    }

    /// Marks the error as the detection of a reused credential, whose grant `family` was revoked.
    pub fn with_reuse(mut self, reuse: Reuse, family: FamilyId) -> Self {
        self.reuse = Some((reuse, family));
        self
    }

    /// The reused credential and the revoked grant, if this error is a reuse detection.
    pub fn reuse(&self) -> Option<(Reuse, &FamilyId)> {
        self.reuse.as_ref().map(|(reuse, family)| (*reuse, family))
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (401 with [`CLIENT_CHALLENGE`]).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// The error code.
    pub fn code(&self) -> &ErrorCode {
        &self.code
    }

    /// The description alone.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `WWW-Authenticate` value the response must carry, if any.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        (self.code == ErrorCode::InvalidClient).then_some(CLIENT_CHALLENGE)
    }
}

impl OAuthError for EndpointError {
    fn error_code(&self) -> ErrorCode {
        self.code.clone()
    }

    fn error_response(&self) -> gatehouse_types::ErrorResponse {
        gatehouse_types::ErrorResponse::new(self.code.clone()).with_description(&self.description)
    }
}

impl From<StoreError> for EndpointError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::FamilyRevoked => Self::invalid_grant("the grant was revoked"),
            // The detail goes to logs through the caller, not to the client.
            _ => Self::new(
                ErrorCode::TemporarilyUnavailable,
                "storage is unavailable; retry later",
            ),
        }
    }
}
