//! The errors of this crate: one for metadata documents, one for `WWW-Authenticate` challenges.
//! They are separate because they come from separate inputs (a JSON body, a header field) and
//! are handled in separate places.

use gatehouse_types::uri::{WebUrlError, WellKnownError};
use gatehouse_types::{InvalidValue, ScopeError};

/// Why a protected resource metadata document was refused, or why no well-known URL could be
/// derived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceMetadataError {
    /// The body is not a JSON metadata document (syntax, a member of the wrong type, a value
    /// outside its syntax such as a malformed scope, or a missing `resource`).
    #[error("RFC 9728 §3.2: not a valid protected resource metadata document: {0}")]
    Json(#[source] serde_json::Error),

    /// `resource` is not `https` (and not `http` on a loopback host).
    #[error(
        "RFC 9728 §1.2: the resource identifier is a URL that uses the https scheme (http is accepted only on 127.0.0.1, [::1] or localhost)"
    )]
    ResourceNotHttps,
    /// `resource` has a fragment.
    #[error("RFC 9728 §1.2: the resource identifier has no fragment component")]
    ResourceHasFragment,
    /// `resource` is not a URL at all.
    #[error("RFC 9728 §2: resource is not a valid URL: {0}")]
    InvalidResource(#[source] WebUrlError),

    /// An `authorization_servers` entry is not `https`.
    #[error(
        "RFC 9728 §2, RFC 8414 §2: authorization server issuer {0:?} MUST use the https scheme (http is accepted only on loopback hosts)"
    )]
    AuthorizationServerNotHttps(String),
    /// An `authorization_servers` entry has a query.
    #[error(
        "RFC 9728 §2, RFC 8414 §2: authorization server issuer {0:?} MUST have no query component"
    )]
    AuthorizationServerHasQuery(String),
    /// An `authorization_servers` entry has a fragment.
    #[error(
        "RFC 9728 §2, RFC 8414 §2: authorization server issuer {0:?} MUST have no fragment component"
    )]
    AuthorizationServerHasFragment(String),
    /// An `authorization_servers` entry is not a URL at all.
    #[error("RFC 9728 §2: authorization server issuer {issuer:?} is not a valid URL: {source}")]
    InvalidAuthorizationServer {
        /// The entry.
        issuer: String,
        /// What is wrong with it.
        source: WebUrlError,
    },

    /// `jwks_uri` is not `https`.
    #[error(
        "RFC 9728 §2: jwks_uri MUST use the https scheme (http is accepted only on loopback hosts)"
    )]
    JwksUriNotHttps,
    /// `jwks_uri` is not a valid URL.
    #[error("RFC 9728 §2: jwks_uri is not a valid URL: {0}")]
    InvalidJwksUri(#[source] WebUrlError),
    /// A URL of a human-readable page is not an absolute `http` or `https` URL.
    #[error("RFC 9728 §2: {member} must be the absolute http or https URL of a page")]
    InvalidPageUrl {
        /// The metadata member holding the URL.
        member: &'static str,
    },

    /// `none` among `resource_signing_alg_values_supported` or `dpop_signing_alg_values_supported`.
    #[error("{section}: the value \"none\" MUST NOT be used in {member}")]
    NoneAlgorithm {
        /// The member listing algorithms.
        member: &'static str,
        /// The section that forbids it.
        section: &'static str,
    },
    /// An array member (other than `bearer_methods_supported`) is present but empty.
    #[error("RFC 9728 §3.2: parameters with zero values MUST be omitted, but {member} is empty")]
    EmptyArray {
        /// The empty member.
        member: &'static str,
    },
    /// An `extra` member has the name of a member this crate knows.
    #[error("extra member {0:?} has the name of a known metadata member; set the field instead")]
    ExtraShadowsMember(String),

    /// MCP: no authorization server is listed.
    #[error(
        "MCP authorization: protected resource metadata MUST include authorization_servers with at least one authorization server"
    )]
    McpNoAuthorizationServers,

    /// The `resource` in the document is not the resource identifier the well-known URL was
    /// built from.
    #[error(
        "RFC 9728 §3.3: the resource value returned MUST be identical to the resource identifier the well-known URL was built from: got {actual:?}, expected {expected:?}"
    )]
    ResourceMismatch {
        /// The resource identifier the caller built the well-known URL from.
        expected: String,
        /// The resource in the document.
        actual: String,
    },
    /// No well-known URL can be derived.
    #[error("RFC 9728 §3.1: {0}")]
    WellKnown(#[source] WellKnownError),
}

/// Why a `WWW-Authenticate` value could not be parsed, or a Bearer challenge could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The value does not follow the challenge grammar.
    #[error("RFC 9110 §11.6.1: malformed WWW-Authenticate value at byte {position}: {reason}")]
    Syntax {
        /// Byte offset where parsing stopped.
        position: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// A parameter appears twice in one challenge (names compare case-insensitively).
    #[error(
        "RFC 9110 §11.2: each parameter name MUST only occur once per challenge, but {name:?} occurs twice in the {scheme} challenge"
    )]
    DuplicateParam {
        /// The challenge's auth-scheme.
        scheme: String,
        /// The repeated parameter.
        name: String,
    },
    /// A challenge carries more than [`MAX_PARAMS_PER_CHALLENGE`](crate::MAX_PARAMS_PER_CHALLENGE)
    /// parameters.
    #[error("a WWW-Authenticate challenge carries more than 64 auth-params")]
    TooManyParams,
    /// The value holds no Bearer challenge.
    #[error("RFC 6750 §3: the WWW-Authenticate value holds no Bearer challenge")]
    NoBearerChallenge,
    /// The Bearer challenge carries a token68 instead of parameters.
    #[error("RFC 6750 §3: the Bearer scheme is followed by auth-param values, not a token68")]
    Token68NotAllowed,
    /// A Bearer challenge to build has no parameter.
    #[error("RFC 6750 §3: the Bearer scheme MUST be followed by one or more auth-param values")]
    NoParams,
    /// `scope` is not a scope list.
    #[error("RFC 6750 §3: scope is not a space-delimited list of scope tokens: {0}")]
    InvalidScope(#[source] ScopeError),
    /// `error` has characters outside its syntax.
    #[error(
        "RFC 6750 §3: error values MUST NOT include characters outside %x20-21 / %x23-5B / %x5D-7E: {0}"
    )]
    InvalidErrorCode(#[source] InvalidValue),
    /// `error_description` has characters outside its syntax.
    #[error(
        "RFC 6750 §3: error_description values MUST NOT include characters outside %x20-21 / %x23-5B / %x5D-7E: {0}"
    )]
    InvalidErrorDescription(#[source] InvalidValue),
    /// `error_uri` is not a URI reference.
    #[error(
        "RFC 6750 §3: error_uri MUST conform to the URI-reference syntax and MUST NOT include characters outside %x21 / %x23-5B / %x5D-7E"
    )]
    InvalidErrorUri,
    /// `resource_metadata` is not a URL a client may fetch.
    #[error("RFC 9728 §5.1: resource_metadata is not a valid https URL: {0}")]
    InvalidResourceMetadata(#[source] WebUrlError),
    /// An extra parameter's name is not a token.
    #[error("RFC 9110 §11.2: auth-param name {0:?} is not a token")]
    InvalidParamName(String),
    /// An extra parameter has the name of a Bearer parameter that has its own setter.
    #[error("auth-param {0:?} is a Bearer parameter with its own setter")]
    ReservedParamName(String),
    /// A parameter value holds a control character (other than horizontal tab).
    #[error(
        "RFC 9110 §5.5: the value of {param} contains a control character, which a header field cannot carry"
    )]
    ControlCharacter {
        /// The parameter.
        param: String,
    },
}
