//! Turning the requested `resource` values into the resources a token is issued for.

use crate::{InvalidTarget, ResourceUri};

/// Resolves the `resource` parameters of an authorization or token request
/// ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)) against the resources this
/// server serves.
///
/// - Each requested value must parse as a [`ResourceUri`] and match (see its comparison rules)
///   one of `configured`; otherwise the request fails with `invalid_target`, whose
///   description names the rule or the unknown resource.
/// - With no value requested, the result is `default`, or [`InvalidTarget::Missing`] when there
///   is none.
/// - The result holds the *configured* values, in the order first requested, each once: the
///   canonical strings the server chose, which become the tokens' `aud`, whatever spelling the
///   client used.
///
/// `requested` holds every value of the repeatable `resource` parameter, e.g.
/// `form.all("resource").collect::<Vec<_>>()`.
pub fn resolve_resources(
    requested: &[&str],
    configured: &[ResourceUri],
    default: Option<&ResourceUri>,
) -> Result<Vec<ResourceUri>, InvalidTarget> {
    if requested.is_empty() {
        return default
            .map(|resource| vec![resource.clone()])
            .ok_or(InvalidTarget::Missing);
    }
    let mut resolved: Vec<ResourceUri> = Vec::with_capacity(requested.len());
    for value in requested {
        let wanted = ResourceUri::parse(value)?;
        let found = configured
            .iter()
            .find(|resource| **resource == wanted)
            .ok_or_else(|| InvalidTarget::Unknown {
                resource: wanted.into(),
            })?;
        if !resolved.contains(found) {
            resolved.push(found.clone());
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> ResourceUri {
        ResourceUri::parse(s).unwrap()
    }

    #[test]
    fn configured_spelling_wins_and_duplicates_collapse() {
        let configured = [uri("https://mcp.example.com"), uri("https://b.example/x")];
        let got = resolve_resources(
            &[
                "HTTPS://MCP.EXAMPLE.COM/",
                "https://b.example/x",
                "https://mcp.example.com",
            ],
            &configured,
            None,
        )
        .unwrap();
        let got: Vec<&str> = got.iter().map(ResourceUri::as_str).collect();
        assert_eq!(got, ["https://mcp.example.com", "https://b.example/x"]);
    }

    #[test]
    fn default_or_missing() {
        let configured = [uri("https://a.example/")];
        assert_eq!(
            resolve_resources(&[], &configured, Some(&configured[0])).unwrap(),
            [uri("https://a.example/")]
        );
        assert_eq!(
            resolve_resources(&[], &configured, None),
            Err(InvalidTarget::Missing)
        );
    }

    #[test]
    fn first_bad_value_fails_the_request() {
        let configured = [uri("https://a.example/")];
        assert_eq!(
            resolve_resources(&["https://a.example/", "/relative"], &configured, None),
            Err(InvalidTarget::NotAbsolute)
        );
        assert_eq!(
            resolve_resources(&["https://a.example/mcp"], &configured, None),
            Err(InvalidTarget::Unknown {
                resource: "https://a.example/mcp".into()
            })
        );
    }
}
