//! Where a metadata document lives
//! ([RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)), and the order in which
//! MCP clients look for it.

use gatehouse_types::uri::insert_well_known;

use crate::error::AsMetadataError;
use crate::validate::check_issuer_url;

/// The well-known URI suffix of RFC 8414 (§7.3 registers it).
pub const WELL_KNOWN_SUFFIX: &str = "oauth-authorization-server";

/// The well-known URI suffix of OpenID Connect Discovery 1.0.
pub const OPENID_CONFIGURATION_SUFFIX: &str = "openid-configuration";

/// The URL of the metadata document of the server with this issuer identifier
/// ([RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)): `/.well-known/oauth-authorization-server`
/// inserted between the host and the path, after removing a terminating `/` from the path.
///
/// ```
/// # use gatehouse_as_metadata::well_known_url;
/// assert_eq!(
///     well_known_url("https://example.com/issuer1").unwrap(),
///     "https://example.com/.well-known/oauth-authorization-server/issuer1",
/// );
/// ```
///
/// The issuer is checked first, with the rules of [`AuthorizationServerMetadata::validate`]
/// (`https`, or `http` on a loopback host; no query; no fragment).
///
/// [`AuthorizationServerMetadata::validate`]: crate::AuthorizationServerMetadata::validate
pub fn well_known_url(issuer: &str) -> Result<String, AsMetadataError> {
    check_issuer_url(issuer)?;
    insert_well_known(issuer, WELL_KNOWN_SUFFIX).map_err(AsMetadataError::WellKnown)
}

/// The URLs an MCP client tries, in order, to find the metadata of the server with this issuer
/// identifier
/// ([MCP 2025-11-25, authorization server metadata discovery](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization)):
///
/// - issuer with a path (`https://auth.example.com/tenant1`):
///   1. `https://auth.example.com/.well-known/oauth-authorization-server/tenant1` (RFC 8414 path insertion),
///   2. `https://auth.example.com/.well-known/openid-configuration/tenant1` (OpenID Connect path insertion),
///   3. `https://auth.example.com/tenant1/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 path appending);
/// - issuer without a path (`https://auth.example.com`, or with a lone `/`):
///   1. `https://auth.example.com/.well-known/oauth-authorization-server`,
///   2. `https://auth.example.com/.well-known/openid-configuration`.
///
/// A terminating `/` of the path is removed first, as both RFC 8414 §3.1 and OpenID Connect
/// Discovery §4 require.
pub fn discovery_urls(issuer: &str) -> Result<Vec<String>, AsMetadataError> {
    let path = check_issuer_url(issuer)?.components.path;
    let oauth = insert_well_known(issuer, WELL_KNOWN_SUFFIX).map_err(AsMetadataError::WellKnown)?;
    let openid_inserted = insert_well_known(issuer, OPENID_CONFIGURATION_SUFFIX)
        .map_err(AsMetadataError::WellKnown)?;
    // The same single terminating `/` that `insert_well_known` removes.
    let has_path = !path.strip_suffix('/').unwrap_or(path).is_empty();
    if !has_path {
        return Ok(vec![oauth, openid_inserted]);
    }
    // The issuer has neither query nor fragment (checked above), so it ends with its path.
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    let openid_appended = format!("{base}/.well-known/{OPENID_CONFIGURATION_SUFFIX}");
    Ok(vec![oauth, openid_inserted, openid_appended])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_section_3_1_path_insertion() {
        assert_eq!(
            well_known_url("https://example.com/issuer1").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            well_known_url("https://example.com").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            well_known_url("https://example.com/").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn well_known_url_refuses_what_is_not_an_issuer() {
        assert!(matches!(
            well_known_url("https://example.com/?x=1"),
            Err(AsMetadataError::IssuerHasQuery)
        ));
        assert!(matches!(
            well_known_url("http://example.com"),
            Err(AsMetadataError::IssuerNotHttps)
        ));
        assert!(discovery_urls("https://example.com#x").is_err());
    }

    #[test]
    fn mcp_discovery_order_with_path() {
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant1").unwrap(),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant1/").unwrap()[2],
            "https://auth.example.com/tenant1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn mcp_discovery_order_without_path() {
        let expected = [
            "https://auth.example.com/.well-known/oauth-authorization-server",
            "https://auth.example.com/.well-known/openid-configuration",
        ];
        assert_eq!(
            discovery_urls("https://auth.example.com").unwrap(),
            expected
        );
        assert_eq!(
            discovery_urls("https://auth.example.com/").unwrap(),
            expected
        );
        assert_eq!(
            discovery_urls("http://localhost:8080").unwrap(),
            [
                "http://localhost:8080/.well-known/oauth-authorization-server",
                "http://localhost:8080/.well-known/openid-configuration",
            ]
        );
    }
}
