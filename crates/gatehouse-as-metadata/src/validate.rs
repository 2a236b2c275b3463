//! The rules between members: what [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)
//! requires of a document, and what the MCP authorization specification adds.

use gatehouse_types::metadata::lists_none_algorithm;
use gatehouse_types::uri::{WebUrl, WebUrlError, check_page_url, check_web_url};
use gatehouse_types::{GrantType, ResponseType, TokenEndpointAuthMethod};

use crate::error::AsMetadataError;
use crate::metadata::{AuthorizationServerMetadata, KNOWN_MEMBERS};

impl AuthorizationServerMetadata {
    /// Enforces the MUSTs of RFC 8414 on this document:
    ///
    /// - `issuer` "is a URL that uses the "https" scheme and has no query or fragment
    ///   components" (§2); `http` is accepted on loopback hosts for local development (see the
    ///   crate documentation).
    /// - Every endpoint and `jwks_uri` is an `https` URL (same loopback exception) without a
    ///   fragment: `jwks_uri` "MUST use the "https" scheme" (§2), and endpoint URIs "MUST NOT
    ///   include a fragment component" ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1),
    ///   [§3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2)).
    /// - `authorization_endpoint` "is REQUIRED unless no grant types are supported that use the
    ///   authorization endpoint", `token_endpoint` "is REQUIRED unless only the implicit grant
    ///   type is supported" (§2), judged on `grant_types_supported` or its default
    ///   `["authorization_code", "implicit"]`.
    /// - `response_types_supported` is REQUIRED (§2): present (serde) and not empty.
    /// - "Claims with zero elements MUST be omitted from the response" (§3.2): no other array
    ///   member is empty.
    /// - In every `*_auth_signing_alg_values_supported`, "The value "none" MUST NOT be used"
    ///   (§2); refused in any letter case
    ///   ([`gatehouse_types::metadata::lists_none_algorithm`]).
    /// - Each `*_auth_signing_alg_values_supported` "MUST be present if either of these
    ///   authentication methods are specified" (§2): when the matching
    ///   `*_auth_methods_supported` lists `private_key_jwt` or `client_secret_jwt`.
    ///
    /// Also refused, though no MUST names them: page URLs (`service_documentation`,
    /// `op_policy_uri`, `op_tos_uri`) that are not absolute `http`/`https` URLs, since clients
    /// show them as links; and `extra` members named like a known member, which would serialize
    /// twice.
    pub fn validate(&self) -> Result<(), AsMetadataError> {
        check_issuer_url(&self.issuer)?;
        for (member, url) in self.endpoints() {
            check_endpoint(member, url)?;
        }
        for (member, url) in self.pages() {
            // RFC 8414's own example serves `service_documentation` over plain `http`, so
            // `https` is not required of a page.
            check_page_url(url).map_err(|_| AsMetadataError::InvalidPageUrl { member })?;
        }
        if self.response_types_supported.is_empty() {
            return Err(AsMetadataError::EmptyResponseTypes);
        }
        self.check_no_empty_arrays()?;
        self.check_required_endpoints()?;
        self.check_signing_algorithms()?;
        if let Some(name) = self
            .extra
            .keys()
            .find(|name| KNOWN_MEMBERS.contains(&name.as_str()))
        {
            return Err(AsMetadataError::ExtraShadowsMember(name.clone()));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), plus what the
    /// [MCP authorization specification](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization)
    /// requires of an authorization server an MCP client may use:
    ///
    /// - PKCE: "If `code_challenge_methods_supported` is absent, the authorization server does
    ///   not support PKCE and MCP clients MUST refuse to proceed"; and the client MUST use
    ///   `S256`, so `S256` must be listed.
    /// - MCP uses the authorization code flow: `response_types_supported` includes `code` and the
    ///   grant types in effect include `authorization_code`.
    pub fn validate_for_mcp(&self) -> Result<(), AsMetadataError> {
        self.validate()?;
        if !self.supports_pkce_s256() {
            return Err(AsMetadataError::McpPkceS256Missing);
        }
        if !self.response_types_supported.contains(&ResponseType::Code) {
            return Err(AsMetadataError::McpCodeResponseTypeMissing);
        }
        if !self
            .effective_grant_types()
            .contains(&GrantType::AuthorizationCode)
        {
            return Err(AsMetadataError::McpAuthorizationCodeGrantMissing);
        }
        Ok(())
    }

    fn endpoints(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("jwks_uri", &self.jwks_uri),
            ("registration_endpoint", &self.registration_endpoint),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
        ]
        .into_iter()
        .filter_map(|(member, url)| Some((member, url.as_deref()?)))
    }

    fn pages(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("service_documentation", &self.service_documentation),
            ("op_policy_uri", &self.op_policy_uri),
            ("op_tos_uri", &self.op_tos_uri),
        ]
        .into_iter()
        .filter_map(|(member, url)| Some((member, url.as_deref()?)))
    }

    fn check_no_empty_arrays(&self) -> Result<(), AsMetadataError> {
        let lengths = [
            (
                "scopes_supported",
                self.scopes_supported.as_ref().map(Vec::len),
            ),
            (
                "response_modes_supported",
                self.response_modes_supported.as_ref().map(Vec::len),
            ),
            (
                "grant_types_supported",
                self.grant_types_supported.as_ref().map(Vec::len),
            ),
            (
                "token_endpoint_auth_methods_supported",
                self.token_endpoint_auth_methods_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "token_endpoint_auth_signing_alg_values_supported",
                self.token_endpoint_auth_signing_alg_values_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "ui_locales_supported",
                self.ui_locales_supported.as_ref().map(Vec::len),
            ),
            (
                "revocation_endpoint_auth_methods_supported",
                self.revocation_endpoint_auth_methods_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "revocation_endpoint_auth_signing_alg_values_supported",
                self.revocation_endpoint_auth_signing_alg_values_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "introspection_endpoint_auth_methods_supported",
                self.introspection_endpoint_auth_methods_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "introspection_endpoint_auth_signing_alg_values_supported",
                self.introspection_endpoint_auth_signing_alg_values_supported
                    .as_ref()
                    .map(Vec::len),
            ),
            (
                "code_challenge_methods_supported",
                self.code_challenge_methods_supported.as_ref().map(Vec::len),
            ),
        ];
        match lengths.into_iter().find(|(_, len)| *len == Some(0)) {
            Some((member, _)) => Err(AsMetadataError::EmptyArray { member }),
            None => Ok(()),
        }
    }

    fn check_required_endpoints(&self) -> Result<(), AsMetadataError> {
        let grants = self.effective_grant_types();
        // RFC 6749: the code and implicit grants start at the authorization endpoint. Grant types
        // this crate does not know are assumed not to.
        let uses_authorization_endpoint = grants
            .iter()
            .any(|grant| matches!(grant, GrantType::AuthorizationCode | GrantType::Implicit));
        if uses_authorization_endpoint && self.authorization_endpoint.is_none() {
            return Err(AsMetadataError::MissingAuthorizationEndpoint);
        }
        let only_implicit =
            !grants.is_empty() && grants.iter().all(|grant| *grant == GrantType::Implicit);
        if !only_implicit && self.token_endpoint.is_none() {
            return Err(AsMetadataError::MissingTokenEndpoint);
        }
        Ok(())
    }

    fn check_signing_algorithms(&self) -> Result<(), AsMetadataError> {
        let endpoints = [
            (
                "token_endpoint_auth_methods_supported",
                &self.token_endpoint_auth_methods_supported,
                "token_endpoint_auth_signing_alg_values_supported",
                &self.token_endpoint_auth_signing_alg_values_supported,
            ),
            (
                "revocation_endpoint_auth_methods_supported",
                &self.revocation_endpoint_auth_methods_supported,
                "revocation_endpoint_auth_signing_alg_values_supported",
                &self.revocation_endpoint_auth_signing_alg_values_supported,
            ),
            (
                "introspection_endpoint_auth_methods_supported",
                &self.introspection_endpoint_auth_methods_supported,
                "introspection_endpoint_auth_signing_alg_values_supported",
                &self.introspection_endpoint_auth_signing_alg_values_supported,
            ),
        ];
        for (methods_member, methods, member, algs) in endpoints {
            if lists_none_algorithm(algs.as_deref()) {
                return Err(AsMetadataError::NoneAlgorithm { member });
            }
            let uses_jwt = methods.iter().flatten().any(|method| {
                matches!(
                    method,
                    TokenEndpointAuthMethod::PrivateKeyJwt
                        | TokenEndpointAuthMethod::ClientSecretJwt
                )
            });
            if uses_jwt && algs.as_ref().is_none_or(Vec::is_empty) {
                return Err(AsMetadataError::MissingSigningAlgorithms {
                    member,
                    methods_member,
                });
            }
        }
        Ok(())
    }
}

/// Checks an issuer identifier: "a URL that uses the "https" scheme and has no query or fragment
/// components" ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)), with `http`
/// allowed on loopback hosts ([`gatehouse_types::uri::check_issuer_url`]).
pub(crate) fn check_issuer_url(issuer: &str) -> Result<WebUrl<'_>, AsMetadataError> {
    gatehouse_types::uri::check_issuer_url(issuer).map_err(|error| match error {
        WebUrlError::NotHttps => AsMetadataError::IssuerNotHttps,
        WebUrlError::Query => AsMetadataError::IssuerHasQuery,
        WebUrlError::Fragment => AsMetadataError::IssuerHasFragment,
        other => AsMetadataError::InvalidIssuer(other),
    })
}

fn check_endpoint(member: &'static str, url: &str) -> Result<(), AsMetadataError> {
    match check_web_url(url) {
        Ok(_) => Ok(()),
        Err(WebUrlError::NotHttps) => Err(AsMetadataError::EndpointNotHttps { member }),
        Err(WebUrlError::Fragment) => Err(AsMetadataError::EndpointHasFragment { member }),
        Err(source) => Err(AsMetadataError::InvalidEndpoint { member, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_url_errors_are_specific() {
        assert!(check_issuer_url("https://example.com").is_ok());
        assert!(check_issuer_url("http://127.0.0.1:8080").is_ok());
        assert!(matches!(
            check_issuer_url("http://example.com"),
            Err(AsMetadataError::IssuerNotHttps)
        ));
        assert!(matches!(
            check_issuer_url("https://example.com?a=b"),
            Err(AsMetadataError::IssuerHasQuery)
        ));
        assert!(matches!(
            check_issuer_url("https://example.com#f"),
            Err(AsMetadataError::IssuerHasFragment)
        ));
        assert!(matches!(
            check_issuer_url("not a url"),
            Err(AsMetadataError::InvalidIssuer(_))
        ));
    }
}
