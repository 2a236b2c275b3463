//! Client ID Metadata Documents
//! ([draft-ietf-oauth-client-id-metadata-document](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document),
//! the registration approach MCP 2025-11-25 prefers): the `client_id` is an `https` URL, and the
//! JSON document at that URL is the client's metadata. Section numbers below are those of
//! draft -00, which MCP 2025-11-25 cites; later drafts move them (-02: §3 is unchanged, §4.1
//! becomes §4 and §4.1) without changing these rules.
//!
//! This module checks the URL before it is fetched ([`validate_client_id_url`]) and the document
//! after ([`ClientIdMetadataDocument::validate`]). Fetching (no redirects, only 200, a size cap,
//! SSRF protection on the resolved address, caching) is the job of a layer that does IO.

use gatehouse_types::ClientId;
use gatehouse_types::uri::{WebUrlError, check_web_url};
use serde::{Deserialize, Serialize};

use crate::{CimdError, ClientMetadata, RegistrationError, checks};

/// Members a document MUST NOT contain: §4.1 "the `client_secret` and `client_secret_expires_at`
/// properties MUST NOT be used".
const FORBIDDEN_DOCUMENT_MEMBERS: [&str; 2] = ["client_secret", "client_secret_expires_at"];

/// Checks that `url` may be a Client Identifier URL, before anything fetches it.
///
/// §3: "Client identifier URLs MUST have an "https" scheme, MUST contain a path component, MUST
/// NOT contain single-dot or double-dot path segments, MUST NOT contain a fragment component and
/// MUST NOT contain a username or password. Client identifier URLs SHOULD NOT include a query
/// string component, and MAY contain a port."
///
/// Choices where the draft leaves room:
///
/// - the scheme must be written `https` in lowercase: identifiers are compared as exact strings,
///   and `ClientId::is_metadata_document_url` recognises them by the `https://` prefix;
/// - a query is accepted (SHOULD NOT is advice to clients, not a reason to refuse one);
/// - the path `/` is accepted: it is a path component, and draft -02 only calls it NOT
///   RECOMMENDED; `https://example.com` (no path at all) is refused;
/// - dot segments are refused also when percent-encoded (`%2e`, `%2E`, `.%2e`, ...), since a
///   fetcher that normalizes the URL would otherwise fetch a different document than the one
///   named;
/// - the URL must pass `gatehouse_types::uri::check_web_url` (RFC 3986 characters only, a host,
///   a valid port, at most 2048 bytes).
pub fn validate_client_id_url(url: &str) -> Result<(), CimdError> {
    if !url.starts_with("https://") {
        return Err(CimdError::NotHttps);
    }
    let web = check_web_url(url).map_err(|error| match error {
        WebUrlError::Userinfo => CimdError::Userinfo,
        WebUrlError::Fragment => CimdError::Fragment,
        other => CimdError::Malformed(other),
    })?;
    let path = web.components.path;
    if path.is_empty() {
        return Err(CimdError::MissingPath);
    }
    if path.split('/').any(is_dot_segment) {
        return Err(CimdError::DotSegment);
    }
    Ok(())
}

/// `.` or `..`, with any dot possibly written `%2e` or `%2E`
/// ([RFC 3986 §3.3](https://www.rfc-editor.org/rfc/rfc3986#section-3.3)).
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

/// A Client ID Metadata Document: client metadata
/// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)) plus the `client_id` it
/// describes (§4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientIdMetadataDocument {
    /// `client_id`: §4.1 "The client metadata document MUST contain a `client_id` property whose
    /// value MUST match the URL of the document using simple string comparison".
    pub client_id: ClientId,
    /// The client's metadata, as top-level members.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl ClientIdMetadataDocument {
    /// A document for `client_id` describing `metadata` (what a client publishes).
    pub fn new(client_id: ClientId, metadata: ClientMetadata) -> Self {
        Self {
            client_id,
            metadata,
        }
    }

    /// Parses a fetched document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RegistrationError> {
        crate::from_json(bytes)
    }

    /// Serializes the document to JSON.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }

    /// Enforces the draft's rules on a document fetched from `fetched_url`:
    ///
    /// - `fetched_url` is a Client Identifier URL ([`validate_client_id_url`], §3);
    /// - §4.1: `client_id` equals `fetched_url` exactly (RFC 3986 §6.2.1 simple string
    ///   comparison: no case folding, no default-port or percent-encoding normalization);
    /// - §4.1: "the `token_endpoint_auth_method` property MUST NOT include `client_secret_post`,
    ///   `client_secret_basic`, `client_secret_jwt`, or any other method based around a shared
    ///   symmetric secret" and "the `client_secret` and `client_secret_expires_at` properties
    ///   MUST NOT be used";
    /// - `jwks` holds public keys only (draft -02 §4.1: "private key material MUST NOT be
    ///   included");
    /// - `redirect_uris` is present and non-empty (§4.5: the document establishes the registered
    ///   redirect URIs, and RFC 9700 requires registering them);
    /// - `client_name` is present: MCP 2025-11-25 says "The metadata document MUST include at
    ///   least the following properties: `client_id`, `client_name`, `redirect_uris`" and the
    ///   authorization server "MUST validate the document structure is valid JSON and contains
    ///   required fields";
    /// - the metadata passes [`ClientMetadata::validate`].
    ///
    /// Then apply the server's policy with
    /// [`ClientMetadataPolicy::check_metadata_document`](crate::ClientMetadataPolicy::check_metadata_document),
    /// which calls this first.
    pub fn validate(&self, fetched_url: &str) -> Result<(), RegistrationError> {
        validate_client_id_url(fetched_url)?;
        if self.client_id.as_str() != fetched_url {
            return Err(RegistrationError::MetadataDocumentClientIdMismatch);
        }
        if let Some(method) = &self.metadata.token_endpoint_auth_method
            && method.uses_shared_secret()
        {
            return Err(RegistrationError::SharedSecretInMetadataDocument(
                method.to_string(),
            ));
        }
        if let Some(member) = FORBIDDEN_DOCUMENT_MEMBERS
            .iter()
            .find(|m| self.metadata.extra.contains_key(**m))
        {
            return Err(RegistrationError::ClientSecretInMetadataDocument(member));
        }
        if let Some(jwks) = &self.metadata.jwks {
            checks::jwks_public_only(jwks)?;
        }
        if self
            .metadata
            .redirect_uris
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            return Err(RegistrationError::MissingRedirectUris);
        }
        if self.metadata.client_name.is_none() {
            return Err(RegistrationError::MissingClientName);
        }
        self.metadata.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_in_every_spelling() {
        for segment in [".", "..", "%2e", "%2E", "%2e%2e", ".%2E", "%2E."] {
            assert!(is_dot_segment(segment), "{segment}");
        }
        for segment in ["", "...", "a.", ".well-known", "%2e%2e%2e", "%252e"] {
            assert!(!is_dot_segment(segment), "{segment}");
        }
    }
}
