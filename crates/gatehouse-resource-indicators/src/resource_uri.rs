//! The canonical resource URI and its comparison rules.

use std::fmt;
use std::hash::{Hash, Hasher};

use gatehouse_types::uri::{MAX_URI_LEN, check_web_url, split};
use serde::{Deserialize, Serialize};

use crate::InvalidTarget;

/// The URI of a protected resource, in canonical form: the value of the `resource` parameter
/// ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)) and the `aud` of the
/// tokens issued for it.
///
/// # What parses
///
/// - An absolute URI: "The value of the resource parameter MUST be an absolute URI"
///   (RFC 8707 §2).
/// - Without a fragment: "It MUST NOT include a fragment component" (RFC 8707 §2); an empty
///   fragment (`https://api.example.com/#`) is a fragment too.
/// - Gatehouse policy on top (see [`gatehouse_types::uri::check_web_url`]): `https` with a host,
///   or `http` on `127.0.0.1`, `[::1]` or `localhost`; no userinfo; a valid port; only
///   RFC 3986 characters.
/// - A query is allowed and kept: RFC 8707 §2 says it "SHOULD NOT include a query component",
///   not MUST NOT, and some deployments tell resources apart by query.
///
/// # Canonical form
///
/// The scheme and the host are lowercased ([RFC 3986 §6.2.2.1](https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2.1):
/// they are case-insensitive). Everything else stays as written: port, path (including a
/// trailing `/` or its absence), query. [`ResourceUri::as_str`] is that form, and parsing it
/// again gives the same value.
///
/// # Comparison
///
/// Two resource URIs are equal ([`ResourceUri::matches`], `==`, and `Hash` agrees) when their
/// canonical forms are equal, with one exception: an empty path equals `/`, so
/// `https://mcp.example.com` and `https://mcp.example.com/` are the same resource. MCP clients
/// built on the WHATWG URL parser (the TypeScript SDK) always send the `/`; other clients send
/// the URL as the user typed it. Nothing else is normalised:
///
/// - `/mcp` and `/mcp/` are different resources (a path is the server's to interpret).
/// - `https://host:443/` and `https://host/` are different. A default port is equivalent by
///   [RFC 3986 §6.2.3](https://www.rfc-editor.org/rfc/rfc3986#section-6.2.3), but the canonical
///   form is also the token's `aud`, which other JWT libraries compare as an exact string
///   ([RFC 7519 §4.1.3](https://www.rfc-editor.org/rfc/rfc7519#section-4.1.3)); keeping the
///   port as configured means that what matches here is what matches there. Configure
///   resources without a default port: WHATWG-based clients never send one.
/// - Percent-encoding, dot segments and an empty query (`?`) are not normalised: RFC 3986
///   §6.2.3 does not license removing an empty query's delimiter.
///
/// Being stricter than URI equivalence only ever refuses a request (`invalid_target`); it never
/// lets a token for one resource be used at another.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceUri {
    /// The canonical form.
    canonical: String,
    /// Where the path starts in `canonical` (just after the authority).
    path_start: usize,
}

impl ResourceUri {
    /// Parses a resource URI and puts it in canonical form.
    pub fn parse(value: &str) -> Result<Self, InvalidTarget> {
        if value.len() > MAX_URI_LEN {
            return Err(InvalidTarget::TooLong);
        }
        // The RFC 8707 rules first, so that their errors win over Gatehouse's policy.
        let components = split(value).ok_or(InvalidTarget::NotAbsolute)?;
        if components.fragment.is_some() {
            return Err(InvalidTarget::Fragment);
        }
        let url = check_web_url(value)?;
        let parts = url.components;
        let authority = parts.authority.unwrap_or_default();
        let mut canonical = String::with_capacity(value.len());
        canonical.push_str(&parts.scheme.to_ascii_lowercase());
        canonical.push_str("://");
        // No userinfo (refused above), so the authority is host and port: lowercasing it
        // lowercases the host, IP-literal hex digits included.
        canonical.push_str(&authority.to_ascii_lowercase());
        let path_start = canonical.len();
        canonical.push_str(parts.path);
        if let Some(query) = parts.query {
            canonical.push('?');
            canonical.push_str(query);
        }
        Ok(Self {
            canonical,
            path_start,
        })
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// Whether `self` and `other` name the same resource (the same as `==`; see the type's
    /// documentation for the rules).
    pub fn matches(&self, other: &ResourceUri) -> bool {
        self == other
    }

    /// Whether `value` parses as a resource URI that names this resource. For comparing a
    /// string from elsewhere, such as a token's `aud`; a value that does not parse matches
    /// nothing.
    pub fn matches_str(&self, value: &str) -> bool {
        ResourceUri::parse(value).is_ok_and(|other| *self == other)
    }

    /// The value compared by `Eq` and `Hash`: scheme and authority, then path and query
    /// without the leading `/`, so that an empty path and `/` compare equal. The path after an
    /// authority is empty or starts with `/`, so nothing else collapses.
    fn comparison_key(&self) -> (&str, &str) {
        let (authority, rest) = self
            .canonical
            .split_at_checked(self.path_start)
            .unwrap_or((&self.canonical, ""));
        (authority, rest.strip_prefix('/').unwrap_or(rest))
    }
}

impl PartialEq for ResourceUri {
    fn eq(&self, other: &Self) -> bool {
        self.comparison_key() == other.comparison_key()
    }
}

impl Eq for ResourceUri {}

impl Hash for ResourceUri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.comparison_key().hash(state);
    }
}

impl TryFrom<String> for ResourceUri {
    type Error = InvalidTarget;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl TryFrom<&str> for ResourceUri {
    type Error = InvalidTarget;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl std::str::FromStr for ResourceUri {
    type Err = InvalidTarget;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<ResourceUri> for String {
    fn from(value: ResourceUri) -> Self {
        value.canonical
    }
}

impl AsRef<str> for ResourceUri {
    fn as_ref(&self) -> &str {
        &self.canonical
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl fmt::Debug for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceUri({:?})", self.canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_lowercases_scheme_and_host_only() {
        let uri = ResourceUri::parse("HTTPS://MCP.Example.COM:8443/Tools/MCP?Tenant=A").unwrap();
        assert_eq!(
            uri.as_str(),
            "https://mcp.example.com:8443/Tools/MCP?Tenant=A"
        );
        let uri = ResourceUri::parse("http://[::1]:3000/mcp").unwrap();
        assert_eq!(uri.as_str(), "http://[::1]:3000/mcp");
        let uri = ResourceUri::parse("HTTP://LocalHost/mcp").unwrap();
        assert_eq!(uri.as_str(), "http://localhost/mcp");
    }

    #[test]
    fn empty_path_equals_slash_even_with_a_query() {
        let a = ResourceUri::parse("https://h.example").unwrap();
        let b = ResourceUri::parse("https://h.example/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "https://h.example");
        let a = ResourceUri::parse("https://h.example?x=1").unwrap();
        let b = ResourceUri::parse("https://h.example/?x=1").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, ResourceUri::parse("https://h.example/").unwrap());
        assert_ne!(
            ResourceUri::parse("https://h.example").unwrap(),
            ResourceUri::parse("https://h.example?").unwrap()
        );
    }

    #[test]
    fn nothing_else_is_normalised() {
        let p = |s| ResourceUri::parse(s).unwrap();
        assert_ne!(p("https://h.example/mcp"), p("https://h.example/mcp/"));
        assert_ne!(p("https://h.example:443/"), p("https://h.example/"));
        assert_ne!(p("https://h.example/a%2Fb"), p("https://h.example/a/b"));
        assert_ne!(p("https://h.example/MCP"), p("https://h.example/mcp"));
        assert_ne!(p("https://h.example//x"), p("https://h.example/x"));
    }

    #[test]
    fn matches_str_for_audience_values() {
        let uri = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        assert!(uri.matches_str("https://MCP.example.com/mcp"));
        assert!(!uri.matches_str("https://mcp.example.com/mcp/"));
        assert!(!uri.matches_str("not a uri"));
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let uri: ResourceUri = serde_json::from_str(r#""HTTPS://A.example/x""#).unwrap();
        assert_eq!(
            serde_json::to_string(&uri).unwrap(),
            r#""https://a.example/x""#
        );
        assert!(serde_json::from_str::<ResourceUri>(r#""https://a.example/#f""#).is_err());
    }
}
