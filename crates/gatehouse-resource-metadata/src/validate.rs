//! The rules of [RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2), and what the MCP
//! authorization specification adds.

use gatehouse_types::metadata::lists_none_algorithm;
use gatehouse_types::uri::{WebUrl, WebUrlError, check_issuer_url, check_page_url, check_web_url};

use crate::error::ResourceMetadataError;
use crate::metadata::{KNOWN_MEMBERS, ProtectedResourceMetadata};

impl ProtectedResourceMetadata {
    /// Enforces the MUSTs of RFC 9728 on this document:
    ///
    /// - `resource` is the resource identifier, "a URL that uses the https scheme and has no
    ///   fragment component" (§1.2, §2); a query is allowed. `http` is accepted on loopback
    ///   hosts for local development (see the crate documentation).
    /// - Each `authorization_servers` entry is an RFC 8414 issuer identifier (§2): `https`, no
    ///   query, no fragment (same loopback exception).
    /// - `jwks_uri` "MUST use the https scheme" (§2).
    /// - In `resource_signing_alg_values_supported`, "The value none MUST NOT be used" (§2); also
    ///   refused in `dpop_signing_alg_values_supported`, since a DPoP proof's `alg` "MUST NOT be
    ///   none" ([RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)). Refused
    ///   in any letter case ([`gatehouse_types::metadata::lists_none_algorithm`]).
    /// - "Parameters with zero values MUST be omitted from the response" (§3.2): no array member
    ///   is empty, except `bearer_methods_supported`, where §2 gives `[]` a meaning.
    ///
    /// `bearer_methods_supported` values other than `header`, `body` and `query` are accepted:
    /// RFC 9728 defines those three but forbids nothing else, and refusing a document for an
    /// unknown method would lock a client out of a resource that also accepts `header`.
    ///
    /// Also refused, though no MUST names them: page URLs (`resource_documentation`,
    /// `resource_policy_uri`, `resource_tos_uri`) that are not absolute `http`/`https` URLs, since
    /// clients show them as links; and `extra` members named like a known member, which would
    /// serialize twice.
    pub fn validate(&self) -> Result<(), ResourceMetadataError> {
        check_resource_url(&self.resource)?;
        for issuer in self.authorization_servers.iter().flatten() {
            check_issuer(issuer)?;
        }
        if let Some(jwks_uri) = &self.jwks_uri {
            match check_web_url(jwks_uri) {
                Ok(_) => {}
                Err(WebUrlError::NotHttps) => return Err(ResourceMetadataError::JwksUriNotHttps),
                Err(other) => return Err(ResourceMetadataError::InvalidJwksUri(other)),
            }
        }
        for (member, url) in [
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ] {
            if let Some(url) = url {
                check_page_url(url)
                    .map_err(|_| ResourceMetadataError::InvalidPageUrl { member })?;
            }
        }
        for (member, section, algs) in [
            (
                "resource_signing_alg_values_supported",
                "RFC 9728 §2",
                &self.resource_signing_alg_values_supported,
            ),
            (
                "dpop_signing_alg_values_supported",
                "RFC 9449 §4.2",
                &self.dpop_signing_alg_values_supported,
            ),
        ] {
            if lists_none_algorithm(algs.as_deref()) {
                return Err(ResourceMetadataError::NoneAlgorithm { member, section });
            }
        }
        let lengths = [
            (
                "authorization_servers",
                self.authorization_servers.as_ref().map(Vec::len),
            ),
            (
                "scopes_supported",
                self.scopes_supported.as_ref().map(Vec::len),
            ),
            (
                "resource_signing_alg_values_supported",
                self.resource_signing_alg_values_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "authorization_details_types_supported",
                self.authorization_details_types_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "dpop_signing_alg_values_supported",
                self.dpop_signing_alg_values_supported
                    .as_ref()
                    .map(Vec::len),
            ),
        ];
        if let Some((member, _)) = lengths.into_iter().find(|(_, len)| *len == Some(0)) {
            return Err(ResourceMetadataError::EmptyArray { member });
        }
        if let Some(name) = self
            .extra
            .keys()
            .find(|name| KNOWN_MEMBERS.contains(&name.as_str()))
        {
            return Err(ResourceMetadataError::ExtraShadowsMember(name.clone()));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), plus the
    /// [MCP authorization specification](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization):
    /// "The Protected Resource Metadata document returned by the MCP server MUST include the
    /// `authorization_servers` field containing at least one authorization server."
    pub fn validate_for_mcp(&self) -> Result<(), ResourceMetadataError> {
        self.validate()?;
        if self
            .authorization_servers
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            return Err(ResourceMetadataError::McpNoAuthorizationServers);
        }
        Ok(())
    }
}

/// Checks a resource identifier: "a URL that uses the https scheme and has no fragment
/// component" ([RFC 9728 §1.2](https://www.rfc-editor.org/rfc/rfc9728#section-1.2)), with `http`
/// allowed on loopback hosts.
pub(crate) fn check_resource_url(resource: &str) -> Result<WebUrl<'_>, ResourceMetadataError> {
    check_web_url(resource).map_err(|error| match error {
        WebUrlError::NotHttps => ResourceMetadataError::ResourceNotHttps,
        WebUrlError::Fragment => ResourceMetadataError::ResourceHasFragment,
        other => ResourceMetadataError::InvalidResource(other),
    })
}

/// Checks an issuer identifier ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2),
/// [`gatehouse_types::uri::check_issuer_url`]).
fn check_issuer(issuer: &str) -> Result<(), ResourceMetadataError> {
    check_issuer_url(issuer).map_err(|error| match error {
        WebUrlError::NotHttps => {
            ResourceMetadataError::AuthorizationServerNotHttps(issuer.to_owned())
        }
        WebUrlError::Query => ResourceMetadataError::AuthorizationServerHasQuery(issuer.to_owned()),
        WebUrlError::Fragment => {
            ResourceMetadataError::AuthorizationServerHasFragment(issuer.to_owned())
        }
        source => ResourceMetadataError::InvalidAuthorizationServer {
            issuer: issuer.to_owned(),
            source,
        },
    })?;
    Ok(())
}
