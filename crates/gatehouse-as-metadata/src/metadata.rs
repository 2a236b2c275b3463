//! The metadata document ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)).

use std::collections::BTreeMap;

use gatehouse_types::{
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};
use serde::{Deserialize, Serialize};

use crate::error::AsMetadataError;

gatehouse_types::string_enum! {
    /// A `response_mode` value
    /// ([OAuth 2.0 Multiple Response Type Encoding Practices](https://openid.net/specs/oauth-v2-multiple-response-types-1_0.html#ResponseModes),
    /// listed by `response_modes_supported` of RFC 8414 §2).
    pub enum ResponseMode: "response_mode", __check_token {
        /// `query`: parameters in the redirect URI's query (the default of `code`).
        Query => "query",
        /// `fragment`: parameters in the redirect URI's fragment.
        Fragment => "fragment",
        /// `form_post`: parameters in an auto-submitted HTML form (OAuth 2.0 Form Post Response Mode).
        FormPost => "form_post",
    }
}

/// Authorization server metadata
/// ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)).
///
/// Parsing ([`from_json`](Self::from_json)) checks each value's syntax (scopes, registry values)
/// but not the rules between members: call [`validate`](Self::validate) (or
/// [`validate_for_mcp`](Self::validate_for_mcp)) before using a document, and
/// [`check_issuer`](Self::check_issuer) after fetching one.
///
/// URLs are kept as the exact strings received, so a document round-trips byte for byte and the
/// issuer comparison of RFC 8414 §3.3 is exact. Members this crate does not know (for example
/// OpenID Connect's `userinfo_endpoint`, or language-tagged `op_policy_uri#fr`) are kept in
/// [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// REQUIRED. The issuer identifier: an `https` URL with no query or fragment.
    pub issuer: String,
    /// The authorization endpoint; required unless no supported grant type uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// The token endpoint; required unless only the implicit grant is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The JWK Set document; MUST use `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The RFC 7591 dynamic client registration endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// RECOMMENDED. Scopes the server supports (it may leave some out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<Scope>>,
    /// REQUIRED. Response types the server supports.
    pub response_types_supported: Vec<ResponseType>,
    /// Response modes; if omitted, `["query", "fragment"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<ResponseMode>>,
    /// Grant types; if omitted, `["authorization_code", "implicit"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<GrantType>>,
    /// Client authentication methods at the token endpoint; if omitted, `client_secret_basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// JWS algorithms for `private_key_jwt` / `client_secret_jwt` at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// A page of human-readable information for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
    /// Languages of the user interface, as BCP 47 language tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales_supported: Option<Vec<String>>,
    /// A page about how clients may use the data the server provides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_policy_uri: Option<String>,
    /// The server's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_tos_uri: Option<String>,
    /// The RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Client authentication methods at the revocation endpoint; if omitted, `client_secret_basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// JWS algorithms for JWT client authentication at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// The RFC 7662 introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// Client authentication methods at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// JWS algorithms for JWT client authentication at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// PKCE methods; if omitted, the server does not support PKCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<CodeChallengeMethod>>,
    /// A JWT asserting metadata values as claims
    /// ([RFC 8414 §2.1](https://www.rfc-editor.org/rfc/rfc8414#section-2.1)). Kept as received;
    /// verifying it is the caller's business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Whether authorization responses carry `iss`
    /// ([RFC 9207 §3](https://www.rfc-editor.org/rfc/rfc9207#section-3)); if omitted, `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Whether the server accepts `https` URLs naming a Client ID Metadata Document as
    /// `client_id` (MCP 2025-11-25, draft-ietf-oauth-client-id-metadata-document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
    /// Members this crate does not know, preserved as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The names of the members [`AuthorizationServerMetadata`] has a field for; `extra` must not
/// use them.
pub const KNOWN_MEMBERS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "service_documentation",
    "ui_locales_supported",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "signed_metadata",
    "authorization_response_iss_parameter_supported",
    "client_id_metadata_document_supported",
];

/// `grant_types_supported` when omitted (RFC 8414 §2).
const DEFAULT_GRANT_TYPES: [GrantType; 2] = [GrantType::AuthorizationCode, GrantType::Implicit];

impl AuthorizationServerMetadata {
    /// Parses a metadata document from JSON. Checks syntax only; see [`validate`](Self::validate).
    pub fn from_json(bytes: &[u8]) -> Result<Self, AsMetadataError> {
        serde_json::from_slice(bytes).map_err(AsMetadataError::Json)
    }

    /// Serializes the document as compact JSON.
    pub fn to_json(&self) -> String {
        // Every member is a string, bool, array of strings or a JSON value with string keys, so
        // serialization cannot fail; an empty string would only ever signal a serde_json bug.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that the document's `issuer` is identical to the issuer identifier the caller
    /// built the well-known URL from.
    ///
    /// [RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3): "The "issuer" value
    /// returned MUST be identical to the authorization server's issuer identifier value into
    /// which the well-known URI string was inserted to create the URL used to retrieve the
    /// metadata. If these values are not identical, the data contained in the response MUST NOT
    /// be used." The comparison is byte for byte: no case folding, no trailing-slash repair.
    pub fn check_issuer(&self, expected: &str) -> Result<(), AsMetadataError> {
        if self.issuer == expected {
            Ok(())
        } else {
            Err(AsMetadataError::IssuerMismatch {
                expected: expected.to_owned(),
                actual: self.issuer.clone(),
            })
        }
    }

    /// The grant types in effect: `grant_types_supported`, or its RFC 8414 §2 default
    /// `["authorization_code", "implicit"]` when omitted.
    pub fn effective_grant_types(&self) -> &[GrantType] {
        match &self.grant_types_supported {
            Some(grant_types) => grant_types,
            None => &DEFAULT_GRANT_TYPES,
        }
    }

    /// Whether PKCE with `S256` is advertised.
    pub fn supports_pkce_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_deref()
            .is_some_and(|methods| methods.contains(&CodeChallengeMethod::S256))
    }
}
