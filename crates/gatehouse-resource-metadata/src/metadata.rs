//! The metadata document ([RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2)).

use std::collections::BTreeMap;

use gatehouse_types::Scope;
use serde::{Deserialize, Serialize};

use crate::error::ResourceMetadataError;

gatehouse_types::string_enum! {
    /// A way of sending a bearer token to the resource
    /// ([RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2) `bearer_methods_supported`,
    /// naming the sections of [RFC 6750 §2](https://www.rfc-editor.org/rfc/rfc6750#section-2)).
    ///
    /// RFC 9728 defines `header`, `body` and `query` but opens no registry and forbids nothing
    /// else, so other values from a peer are kept (they round-trip and pass validation); code
    /// cannot build one, so a server cannot publish a misspelt method.
    pub enum BearerMethod: "bearer_methods_supported", __check_token {
        /// `header`: the `Authorization` request header (RFC 6750 §2.1).
        Header => "header",
        /// `body`: the form-encoded body parameter `access_token` (RFC 6750 §2.2).
        Body => "body",
        /// `query`: the URI query parameter `access_token` (RFC 6750 §2.3), which OAuth 2.1
        /// removes.
        Query => "query",
    }
}

/// Protected resource metadata
/// ([RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2)).
///
/// Parsing ([`from_json`](Self::from_json)) checks each value's syntax but not the rules of the
/// RFC: call [`validate`](Self::validate) (or [`validate_for_mcp`](Self::validate_for_mcp))
/// before using a document, and [`check_resource`](Self::check_resource) after fetching one.
///
/// URLs are kept as the exact strings received. Members this crate does not know, including
/// language-tagged human-readable values such as `resource_name#fr` (RFC 9728 §2.1), are kept in
/// [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// REQUIRED. The resource identifier: an `https` URL without a fragment.
    pub resource: String,
    /// Issuer identifiers of the authorization servers that issue tokens for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<String>>,
    /// The resource's JWK Set document; MUST use `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// RECOMMENDED. Scopes used in authorization requests for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<Scope>>,
    /// How a bearer token may be sent; `[]` means no bearer method is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<BearerMethod>>,
    /// JWS algorithms the resource signs responses with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    /// RECOMMENDED. A human-readable name for end users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// A page of documentation for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// A page about how clients may use the data the resource provides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// The resource's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// Whether the resource supports mutual-TLS certificate-bound access tokens (RFC 8705);
    /// if omitted, `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// `authorization_details` types the resource supports (RFC 9396).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// JWS algorithms the resource accepts for DPoP proofs (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Whether the resource always requires DPoP-bound access tokens; if omitted, `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// A JWT asserting metadata values as claims (RFC 9728 §2.2). Kept as received; verifying it
    /// is the caller's business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Members this crate does not know, preserved as received.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The names of the members [`ProtectedResourceMetadata`] has a field for; `extra` must not use
/// them.
pub const KNOWN_MEMBERS: &[&str] = &[
    "resource",
    "authorization_servers",
    "jwks_uri",
    "scopes_supported",
    "bearer_methods_supported",
    "resource_signing_alg_values_supported",
    "resource_name",
    "resource_documentation",
    "resource_policy_uri",
    "resource_tos_uri",
    "tls_client_certificate_bound_access_tokens",
    "authorization_details_types_supported",
    "dpop_signing_alg_values_supported",
    "dpop_bound_access_tokens_required",
    "signed_metadata",
];

impl ProtectedResourceMetadata {
    /// Parses a metadata document from JSON. Checks syntax only; see [`validate`](Self::validate).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ResourceMetadataError> {
        serde_json::from_slice(bytes).map_err(ResourceMetadataError::Json)
    }

    /// Serializes the document as compact JSON.
    pub fn to_json(&self) -> String {
        // Every member is a string, bool, array of strings or a JSON value with string keys, so
        // serialization cannot fail; an empty string would only ever signal a serde_json bug.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that the document's `resource` is identical to the resource identifier the
    /// caller built the well-known URL from (or, after a `resource_metadata` challenge, the URL
    /// the caller requested).
    ///
    /// [RFC 9728 §3.3](https://www.rfc-editor.org/rfc/rfc9728#section-3.3): "The resource value
    /// returned MUST be identical to the protected resource's resource identifier value into
    /// which the well-known URI path suffix was inserted to create the URL used to retrieve the
    /// metadata. If these values are not identical, the data contained in the response MUST NOT
    /// be used." The comparison is byte for byte (RFC 9728 §6: code point by code point).
    pub fn check_resource(&self, expected: &str) -> Result<(), ResourceMetadataError> {
        if self.resource == expected {
            Ok(())
        } else {
            Err(ResourceMetadataError::ResourceMismatch {
                expected: expected.to_owned(),
                actual: self.resource.clone(),
            })
        }
    }
}
