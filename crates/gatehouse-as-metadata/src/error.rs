//! The one error type of this crate.

use gatehouse_types::uri::{WebUrlError, WellKnownError};

/// Why a metadata document was refused, or why no well-known URL could be derived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsMetadataError {
    /// The body is not a JSON metadata document (syntax, a member of the wrong type, a value
    /// outside its syntax such as a malformed scope, or a missing required member).
    #[error("RFC 8414 §3.2: not a valid authorization server metadata document: {0}")]
    Json(#[source] serde_json::Error),

    /// The issuer is not `https` (and not `http` on a loopback host).
    #[error(
        "RFC 8414 §2: issuer MUST use the https scheme (http is accepted only on 127.0.0.1, [::1] or localhost)"
    )]
    IssuerNotHttps,
    /// The issuer has a query component.
    #[error("RFC 8414 §2: issuer MUST have no query component")]
    IssuerHasQuery,
    /// The issuer has a fragment component.
    #[error("RFC 8414 §2: issuer MUST have no fragment component")]
    IssuerHasFragment,
    /// The issuer is not a URL at all.
    #[error("RFC 8414 §2: issuer is not a valid URL: {0}")]
    InvalidIssuer(#[source] WebUrlError),

    /// An endpoint URL is not `https` (and not `http` on a loopback host).
    #[error(
        "RFC 8414 §2: {member} MUST use the https scheme (http is accepted only on 127.0.0.1, [::1] or localhost)"
    )]
    EndpointNotHttps {
        /// The metadata member holding the URL.
        member: &'static str,
    },
    /// An endpoint URL has a fragment component.
    #[error("RFC 6749 §3.1, §3.2: {member} MUST NOT include a fragment component")]
    EndpointHasFragment {
        /// The metadata member holding the URL.
        member: &'static str,
    },
    /// An endpoint URL is not a valid URL.
    #[error("RFC 8414 §2: {member} is not a valid URL: {source}")]
    InvalidEndpoint {
        /// The metadata member holding the URL.
        member: &'static str,
        /// What is wrong with it.
        source: WebUrlError,
    },
    /// A URL of a human-readable page is not an absolute `http` or `https` URL.
    #[error("RFC 8414 §2: {member} must be the absolute http or https URL of a page")]
    InvalidPageUrl {
        /// The metadata member holding the URL.
        member: &'static str,
    },

    /// `authorization_endpoint` is missing although a supported grant type uses it.
    #[error(
        "RFC 8414 §2: authorization_endpoint is REQUIRED unless no grant types are supported that use the authorization endpoint (grant_types_supported defaults to authorization_code and implicit)"
    )]
    MissingAuthorizationEndpoint,
    /// `token_endpoint` is missing although a grant type other than `implicit` is supported.
    #[error(
        "RFC 8414 §2: token_endpoint is REQUIRED unless only the implicit grant type is supported"
    )]
    MissingTokenEndpoint,
    /// `response_types_supported` is empty.
    #[error("RFC 8414 §2: response_types_supported is REQUIRED and must list at least one value")]
    EmptyResponseTypes,
    /// An array member other than `response_types_supported` is present but empty.
    #[error("RFC 8414 §3.2: claims with zero elements MUST be omitted, but {member} is empty")]
    EmptyArray {
        /// The empty member.
        member: &'static str,
    },
    /// `none` appears among signing algorithms.
    #[error("RFC 8414 §2: the value \"none\" MUST NOT be used in {member}")]
    NoneAlgorithm {
        /// The member listing algorithms.
        member: &'static str,
    },
    /// JWT client authentication is advertised without the algorithms it may use.
    #[error(
        "RFC 8414 §2: {member} MUST be present when {methods_member} includes private_key_jwt or client_secret_jwt"
    )]
    MissingSigningAlgorithms {
        /// The missing algorithms member.
        member: &'static str,
        /// The member listing authentication methods.
        methods_member: &'static str,
    },
    /// An `extra` member has the name of a member this crate knows; serializing it would produce
    /// a document with that name twice.
    #[error("extra member {0:?} has the name of a known metadata member; set the field instead")]
    ExtraShadowsMember(String),

    /// MCP: PKCE with `S256` is not advertised.
    #[error(
        "MCP authorization: code_challenge_methods_supported MUST be present and include S256 (RFC 8414 §2: if omitted, the server does not support PKCE); MCP clients MUST refuse to proceed otherwise"
    )]
    McpPkceS256Missing,
    /// MCP: the `code` response type is not advertised.
    #[error("MCP authorization: response_types_supported must include \"code\" (OAuth 2.1 §4.1)")]
    McpCodeResponseTypeMissing,
    /// MCP: the authorization code grant is not supported.
    #[error(
        "MCP authorization: grant_types_supported must include authorization_code (OAuth 2.1 §4.1)"
    )]
    McpAuthorizationCodeGrantMissing,

    /// The issuer in the document is not the one whose well-known URL was fetched.
    #[error(
        "RFC 8414 §3.3: the issuer value returned MUST be identical to the issuer identifier the well-known URL was built from: got {actual:?}, expected {expected:?}"
    )]
    IssuerMismatch {
        /// The issuer the caller built the well-known URL from.
        expected: String,
        /// The issuer in the document.
        actual: String,
    },
    /// No well-known URL can be derived.
    #[error("RFC 8414 §3.1: {0}")]
    WellKnown(#[source] WellKnownError),
}
