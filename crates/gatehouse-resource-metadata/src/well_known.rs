//! Where a protected resource metadata document lives
//! ([RFC 9728 §3.1](https://www.rfc-editor.org/rfc/rfc9728#section-3.1)).

use gatehouse_types::uri::insert_well_known;

use crate::error::ResourceMetadataError;
use crate::validate::check_resource_url;

/// The well-known URI suffix of RFC 9728 (§8.3 registers it).
pub const WELL_KNOWN_SUFFIX: &str = "oauth-protected-resource";

/// The URL of the metadata document of the resource with this resource identifier
/// ([RFC 9728 §3.1](https://www.rfc-editor.org/rfc/rfc9728#section-3.1)):
/// `/.well-known/oauth-protected-resource` inserted between the host and the path and/or query,
/// after removing a terminating `/` from the path. A query is kept.
///
/// ```
/// # use gatehouse_resource_metadata::well_known_url;
/// assert_eq!(
///     well_known_url("https://resource.example.com/resource1").unwrap(),
///     "https://resource.example.com/.well-known/oauth-protected-resource/resource1",
/// );
/// ```
pub fn well_known_url(resource: &str) -> Result<String, ResourceMetadataError> {
    check_resource_url(resource)?;
    insert_well_known(resource, WELL_KNOWN_SUFFIX).map_err(ResourceMetadataError::WellKnown)
}

/// The URLs an MCP client tries, in order, when a `401` carries no `resource_metadata`
/// ([MCP 2025-11-25, protected resource metadata discovery](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization)):
/// the well-known URL with the path of the MCP endpoint inserted, then the one at the root.
/// Without a path (or query) there is only the root one.
///
/// ```
/// # use gatehouse_resource_metadata::discovery_urls;
/// assert_eq!(
///     discovery_urls("https://example.com/public/mcp").unwrap(),
///     [
///         "https://example.com/.well-known/oauth-protected-resource/public/mcp",
///         "https://example.com/.well-known/oauth-protected-resource",
///     ],
/// );
/// ```
pub fn discovery_urls(resource: &str) -> Result<Vec<String>, ResourceMetadataError> {
    let c = check_resource_url(resource)?.components;
    let inserted =
        insert_well_known(resource, WELL_KNOWN_SUFFIX).map_err(ResourceMetadataError::WellKnown)?;
    let root = format!(
        "{}://{}/.well-known/{WELL_KNOWN_SUFFIX}",
        c.scheme,
        c.authority.unwrap_or_default()
    );
    if inserted == root {
        Ok(vec![root])
    } else {
        Ok(vec![inserted, root])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9728_section_3_1_query_is_kept() {
        assert_eq!(
            well_known_url("https://r.example.com/mcp?tenant=a").unwrap(),
            "https://r.example.com/.well-known/oauth-protected-resource/mcp?tenant=a"
        );
        assert_eq!(
            well_known_url("https://r.example.com/?tenant=a").unwrap(),
            "https://r.example.com/.well-known/oauth-protected-resource?tenant=a"
        );
    }

    #[test]
    fn well_known_url_refuses_what_is_not_a_resource_identifier() {
        assert!(matches!(
            well_known_url("https://r.example.com/mcp#x"),
            Err(ResourceMetadataError::ResourceHasFragment)
        ));
        assert!(matches!(
            well_known_url("http://r.example.com/mcp"),
            Err(ResourceMetadataError::ResourceNotHttps)
        ));
    }

    #[test]
    fn mcp_discovery_order() {
        assert_eq!(
            discovery_urls("https://example.com").unwrap(),
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            discovery_urls("https://example.com/").unwrap(),
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            discovery_urls("http://127.0.0.1:8080/mcp").unwrap(),
            [
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource",
            ]
        );
    }
}
