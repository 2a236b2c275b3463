//! The errors of this crate: one for configuration, one each for the two traits a host
//! implements ([`KeySource`](crate::KeySource), [`RevocationCheck`](crate::RevocationCheck)).
//! Refusals of requests are not errors: they are answered on the wire (see `rejection.rs`).

use std::fmt;

/// Why a [`Guard`](crate::Guard) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardConfigError {
    /// The issuer is not an issuer identifier (RFC 8414 §2: `https`, no query, no fragment;
    /// `http` is accepted on loopback hosts for local development).
    #[error("issuer {issuer:?} is not a valid issuer identifier: {reason}")]
    Issuer {
        /// The configured value.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The resource is not a canonical resource URI (RFC 8707 §2).
    #[error("resource {resource:?} is not a valid resource URI: {reason}")]
    Resource {
        /// The configured value.
        resource: String,
        /// Why.
        reason: String,
    },
    /// `offline_access` among a resource's scopes: it asks the authorization server for a refresh
    /// token, which is no resource's requirement (MCP 2026-07-28, authorization, "Refresh
    /// Tokens": resources "SHOULD NOT include offline_access" in challenges or metadata).
    #[error(
        "offline_access is not a resource's scope: it asks the authorization server for refresh tokens (MCP 2026-07-28)"
    )]
    OfflineAccess,
    /// A scope is not a `scope-token` (RFC 6749 §3.3).
    #[error("{scope:?} is not a valid scope (RFC 6749 §3.3)")]
    Scope {
        /// The configured value.
        scope: String,
    },
    /// A URL to fetch (JWKS, introspection endpoint) is not `https` (or loopback `http`).
    #[error("{url:?} is not a URL the guard may fetch: {reason}")]
    Url {
        /// The configured value.
        url: String,
        /// Why.
        reason: String,
    },
    /// The protected resource metadata document would be invalid (RFC 9728 §2).
    #[error("protected resource metadata: {0}")]
    Metadata(String),
    /// The HTTP client for JWKS or introspection could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
    /// The operating system gave no randomness for the session binding key.
    #[error("no randomness for the session binding key: {0}")]
    Randomness(String),
}

/// Why a [`KeySource`](crate::KeySource) has no keys to give: the JWKS could not be fetched,
/// the in-process key ring is not ready, … The request is answered `503` (the token may well be
/// valid), never `401`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySourceError {
    reason: String,
}

impl KeySourceError {
    /// An error with a reason for the logs (never sent to clients).
    pub fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

impl fmt::Debug for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySourceError({:?})", self.reason)
    }
}

impl fmt::Display for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no verification keys: {}", self.reason)
    }
}

impl std::error::Error for KeySourceError {}

/// Why a [`RevocationCheck`](crate::RevocationCheck) could not answer. The guard fails closed:
/// the request is answered `503`, never let through.
#[derive(Clone, PartialEq, Eq)]
pub struct RevocationCheckError {
    reason: String,
}

impl RevocationCheckError {
    /// An error with a reason for the logs (never sent to clients).
    pub fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

impl fmt::Debug for RevocationCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RevocationCheckError({:?})", self.reason)
    }
}

impl fmt::Display for RevocationCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revocation check failed: {}", self.reason)
    }
}

impl std::error::Error for RevocationCheckError {}

/// Why a [`ProofReplayCheck`](crate::ProofReplayCheck) could not answer. The guard fails closed:
/// the request is answered `503`, never let through.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayCheckError {
    reason: String,
}

impl ReplayCheckError {
    /// An error with a reason for the logs (never sent to clients).
    pub fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

impl fmt::Debug for ReplayCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayCheckError({:?})", self.reason)
    }
}

impl fmt::Display for ReplayCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DPoP replay check failed: {}", self.reason)
    }
}

impl std::error::Error for ReplayCheckError {}

/// Why a [`RateLimiter`](crate::RateLimiter) could not answer. The guard fails closed: the
/// request is answered `503`, never let through.
#[derive(Clone, PartialEq, Eq)]
pub struct RateLimitError {
    reason: String,
}

impl RateLimitError {
    /// An error with a reason for the logs (never sent to clients).
    pub fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

impl fmt::Debug for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RateLimitError({:?})", self.reason)
    }
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limit check failed: {}", self.reason)
    }
}

impl std::error::Error for RateLimitError {}
