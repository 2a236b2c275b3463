//! The crate's errors and their mapping to the wire
//! ([RFC 7591 §3.2.2](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2)).

use gatehouse_types::uri::WebUrlError;
use gatehouse_types::{ErrorCode, OAuthError, RedirectUriError};

/// Longest piece of client input quoted back in an error message. Error descriptions are capped
/// at 1024 bytes, and a person needs only enough to recognise the value.
const MAX_QUOTED_LEN: usize = 200;

/// Why a registration, update or Client ID Metadata Document was refused.
///
/// Every variant maps to one RFC 7591 §3.2.2 error code ([`OAuthError::error_code`]) and its
/// message becomes the `error_description` ([`OAuthError::error_response`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The body is not JSON, or a member has the wrong type or syntax (a scope with a quote, a
    /// grant type with a space, `redirect_uris` that is not an array of strings, ...).
    #[error("the body is not a valid client metadata document (RFC 7591 §2): {0}")]
    MalformedJson(String),

    /// A redirect URI failed the redirect policy of `gatehouse_types::RedirectUri`.
    #[error("redirect_uri '{uri}' is not allowed: {reason}")]
    InvalidRedirectUri {
        /// The URI as sent (shortened when long).
        uri: String,
        /// The rule it broke.
        reason: RedirectUriError,
    },
    /// A redirect URI whose query already holds a parameter of the authorization response.
    #[error(
        "redirect_uri '{uri}' already has '{parameter}' in its query; the authorization server \
         adds code, state, iss and the error parameters itself (OAuth 2.1 §4.1.2, RFC 9207 §2), \
         and a client that registered them could be handed two values"
    )]
    ReservedRedirectParameter {
        /// The URI as sent (shortened when long).
        uri: String,
        /// The parameter.
        parameter: &'static str,
    },
    /// No redirect URI, but the grant types need one.
    #[error(
        "redirect_uris is required with the authorization_code grant (RFC 6749 §3.1.2.2: the \
         authorization server MUST require public clients to register their redirection endpoint; \
         Gatehouse requires it of every client, as OAuth 2.1 does)"
    )]
    MissingRedirectUris,
    /// More redirect URIs than the policy allows.
    #[error("redirect_uris holds more than {max} URIs")]
    TooManyRedirectUris {
        /// The limit.
        max: usize,
    },
    /// A client that declared `application_type` `web` registered a redirect URI that is not
    /// `https` on a host of the web.
    #[error(
        "redirect_uri '{uri}' is not allowed for application_type web: web clients MUST only \
         register https redirect URIs and MUST NOT use localhost (OpenID Connect Dynamic Client \
         Registration 1.0 §2); register as application_type native instead"
    )]
    WebClientRedirectUri {
        /// The URI as sent (shortened when long).
        uri: String,
    },

    /// An `application_type` other than `web` or `native`.
    #[error(
        "application_type '{0}' is not supported: use web or native (OpenID Connect Dynamic Client \
         Registration 1.0 §2)"
    )]
    UnsupportedApplicationType(String),
    /// A grant type this server does not offer to clients.
    #[error("grant type '{0}' is not supported by this server (RFC 7591 §2)")]
    UnsupportedGrantType(String),
    /// `grant_types` is present and empty: such a client could not use any grant.
    #[error("grant_types must not be empty (RFC 7591 §2: omit it to get authorization_code)")]
    EmptyGrantTypes,
    /// A response type this server does not offer to clients.
    #[error("response type '{0}' is not supported by this server (RFC 7591 §2)")]
    UnsupportedResponseType(String),
    /// A grant type registered without its response type, or the reverse.
    #[error(
        "the grant type '{grant_type}' must be registered along with the response type \
         '{response_type}' (RFC 7591 §2.1)"
    )]
    InconsistentGrantAndResponseTypes {
        /// The grant type of the pair.
        grant_type: String,
        /// The response type of the pair.
        response_type: String,
    },
    /// A client authentication method this server does not offer.
    #[error("token_endpoint_auth_method '{0}' is not supported by this server (RFC 7591 §2)")]
    UnsupportedAuthMethod(String),
    /// `private_key_jwt` without a key to verify the client's assertions with.
    #[error("token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri (RFC 7591 §2)")]
    MissingClientKeys,

    /// Both `jwks` and `jwks_uri`.
    #[error(
        "jwks_uri and jwks MUST NOT both be present in the same request or response (RFC 7591 §2)"
    )]
    JwksAndJwksUri,
    /// `jwks` is not a JWK Set.
    #[error(
        "jwks MUST be a JSON object containing a valid JWK Set (RFC 7591 §2, RFC 7517 §5): {0}"
    )]
    InvalidJwks(&'static str),
    /// `jwks` carries private or symmetric key members.
    #[error(
        "jwks contains private or symmetric key material (d, p, q, dp, dq, qi, oth or k); register \
         only public keys (RFC 7591 §2)"
    )]
    PrivateKeyMaterial,

    /// A URL-valued member (`client_uri`, `logo_uri`, `tos_uri`, `policy_uri`, `jwks_uri`,
    /// `registration_client_uri`, or a language-tagged variant) is not a web URL.
    #[error("{field} is not a valid URL (RFC 7591 §2): {reason}")]
    InvalidUrl {
        /// The member, as named in the document.
        field: String,
        /// The rule it broke.
        reason: WebUrlError,
    },
    /// A URL-valued member is not `https` (plain `http`, loopback `http`, another scheme): it is
    /// shown or fetched, so it must be `https`.
    #[error(
        "{field} must use https: Gatehouse shows it to the user or fetches it, so plain http and \
         loopback hosts are refused"
    )]
    UrlNotHttps {
        /// The member, as named in the document.
        field: String,
    },
    /// A text member is empty, too long, not a string, or holds control characters.
    #[error("{field} must be a non-empty string of at most 1024 bytes without control characters")]
    InvalidText {
        /// The member, as named in the document.
        field: String,
    },
    /// More contacts than the policy allows.
    #[error("contacts holds more than {max} entries")]
    TooManyContacts {
        /// The limit.
        max: usize,
    },
    /// More language-tagged members than the policy keeps.
    #[error("more than {max} language-tagged members (RFC 7591 §2.2)")]
    TooManyLanguageTags {
        /// The limit.
        max: usize,
    },
    /// A scope outside the server's allow-list, under [`crate::ScopeRule::Restrict`].
    #[error("scope '{0}' is not available to clients of this server (RFC 7591 §2)")]
    ScopeNotAllowed(String),

    /// `software_statement` is not a JWT in JWS compact serialization.
    #[error(
        "software_statement MUST be a JWT in JWS compact serialization (RFC 7591 §2.3, RFC 7515 §7.1)"
    )]
    InvalidSoftwareStatement,
    /// This server does not accept software statements.
    #[error("software statements are not accepted by this server (RFC 7591 §3.2.2)")]
    UnapprovedSoftwareStatement,

    /// A response with `client_secret` but no `client_secret_expires_at`.
    #[error("client_secret_expires_at is REQUIRED if client_secret is issued (RFC 7591 §3.2.1)")]
    MissingClientSecretExpiresAt,
    /// A response with one of `registration_access_token` and `registration_client_uri`.
    #[error(
        "registration_access_token and registration_client_uri are both REQUIRED when either is \
         returned (RFC 7592 §3)"
    )]
    IncompleteManagementCredentials,

    /// An update request carrying a member the client must not send.
    #[error(
        "the client MUST NOT include {0} in an update request (RFC 7592 §2.2); the server \
         provisions it"
    )]
    ForbiddenUpdateMember(&'static str),
    /// An update request whose `client_id` is not the client's.
    #[error("client_id MUST be the same as the currently issued client identifier (RFC 7592 §2.2)")]
    ClientIdMismatch,

    /// The Client Identifier URL itself is not acceptable.
    #[error(transparent)]
    ClientIdUrl(#[from] CimdError),
    /// A Client ID Metadata Document whose `client_id` is not the URL it was fetched from.
    #[error(
        "the document's client_id MUST match the URL of the document using simple string \
         comparison (draft-ietf-oauth-client-id-metadata-document §4.1)"
    )]
    MetadataDocumentClientIdMismatch,
    /// A Client ID Metadata Document with a shared-secret authentication method.
    #[error(
        "token_endpoint_auth_method MUST NOT be '{0}' in a Client ID Metadata Document: there is \
         no way to establish a shared secret (draft-ietf-oauth-client-id-metadata-document §4.1)"
    )]
    SharedSecretInMetadataDocument(String),
    /// A Client ID Metadata Document without `client_name`.
    #[error(
        "the metadata document MUST include client_name (MCP 2025-11-25, Client ID Metadata \
         Documents)"
    )]
    MissingClientName,
    /// A Client ID Metadata Document with `client_secret` or `client_secret_expires_at`.
    #[error(
        "{0} MUST NOT be used in a Client ID Metadata Document \
         (draft-ietf-oauth-client-id-metadata-document §4.1)"
    )]
    ClientSecretInMetadataDocument(&'static str),
}

/// The error body of [RFC 7591 §3.2.2](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2):
/// status (400) and body follow from the code (the trait's defaults).
impl OAuthError for RegistrationError {
    /// `invalid_redirect_uri` for redirect URI problems, `invalid_software_statement` /
    /// `unapproved_software_statement` for software statements, `invalid_client_metadata` for
    /// everything else. All are answered with HTTP 400.
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidRedirectUri { .. }
            | Self::ReservedRedirectParameter { .. }
            | Self::MissingRedirectUris
            | Self::TooManyRedirectUris { .. }
            | Self::WebClientRedirectUri { .. } => ErrorCode::InvalidRedirectUri,
            Self::InvalidSoftwareStatement => ErrorCode::InvalidSoftwareStatement,
            Self::UnapprovedSoftwareStatement => ErrorCode::UnapprovedSoftwareStatement,
            _ => ErrorCode::InvalidClientMetadata,
        }
    }
}

impl RegistrationError {
    pub(crate) fn invalid_redirect_uri(uri: &str, reason: RedirectUriError) -> Self {
        Self::InvalidRedirectUri {
            uri: quote(uri),
            reason,
        }
    }

    pub(crate) fn reserved_redirect_parameter(uri: &str, parameter: &'static str) -> Self {
        Self::ReservedRedirectParameter {
            uri: quote(uri),
            parameter,
        }
    }

    pub(crate) fn web_client_redirect_uri(uri: &str) -> Self {
        Self::WebClientRedirectUri { uri: quote(uri) }
    }
}

/// Why a string is not a Client Identifier URL
/// ([draft-ietf-oauth-client-id-metadata-document §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document#section-3)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CimdError {
    /// Not `https://`.
    #[error(
        "client identifier URLs MUST have an \"https\" scheme, written in lowercase \
         (draft-ietf-oauth-client-id-metadata-document §3)"
    )]
    NotHttps,
    /// `user:password@` before the host.
    #[error(
        "client identifier URLs MUST NOT contain a username or password \
         (draft-ietf-oauth-client-id-metadata-document §3)"
    )]
    Userinfo,
    /// A `#fragment`.
    #[error(
        "client identifier URLs MUST NOT contain a fragment component \
         (draft-ietf-oauth-client-id-metadata-document §3)"
    )]
    Fragment,
    /// No path at all (`https://example.com`).
    #[error(
        "client identifier URLs MUST contain a path component \
         (draft-ietf-oauth-client-id-metadata-document §3)"
    )]
    MissingPath,
    /// A `.` or `..` segment, possibly percent-encoded.
    #[error(
        "client identifier URLs MUST NOT contain single-dot or double-dot path segments \
         (draft-ietf-oauth-client-id-metadata-document §3)"
    )]
    DotSegment,
    /// Not a URL at all, or one with a bad character, host or port.
    #[error("client identifier URL is malformed: {0}")]
    Malformed(WebUrlError),
}

/// Shortens client input quoted in a message, on a character boundary.
fn quote(value: &str) -> String {
    if value.len() <= MAX_QUOTED_LEN {
        return value.to_owned();
    }
    let mut end = MAX_QUOTED_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", value.get(..end).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7591_section_3_2_2_codes() {
        let e = RegistrationError::invalid_redirect_uri("x", RedirectUriError::NotAbsolute);
        assert_eq!(e.error_code(), ErrorCode::InvalidRedirectUri);
        assert_eq!(
            RegistrationError::JwksAndJwksUri.error_code(),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            RegistrationError::InvalidSoftwareStatement.error_code(),
            ErrorCode::InvalidSoftwareStatement
        );
        let body = e.error_response();
        assert_eq!(body.http_status(), 400);
        let description = body.error_description.unwrap();
        assert!(
            description.as_str().contains("RFC 6749 section 3.1.2"),
            "{description}"
        );
    }

    #[test]
    fn long_input_is_shortened_on_a_char_boundary() {
        let long = "\u{e9}".repeat(300);
        let quoted = quote(&long);
        assert!(quoted.len() <= MAX_QUOTED_LEN + 3);
        assert!(quoted.ends_with("..."));
    }
}
