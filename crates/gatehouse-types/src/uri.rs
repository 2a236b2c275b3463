//! URI handling shared by the RFC crates: strict character checks, raw component splitting,
//! web URL policy and well-known URL derivation.
//!
//! OAuth compares URIs as exact strings, so this module works on the string as received and
//! never on a normalized form. The WHATWG parser (`url`) is used only as a second opinion on
//! structure, after the strict checks here have refused everything it would silently repair
//! (tabs, newlines, backslashes, spaces, non-ASCII): see `docs/decisions/0002-uri-parsing.md`.

/// Longest URI accepted anywhere. Browsers cap URLs near 2 KB in practice; metadata documents
/// have no reason to carry longer ones.
pub const MAX_URI_LEN: usize = 2048;

/// Whether `b` may appear in a URI as written
/// ([RFC 3986 §2](https://www.rfc-editor.org/rfc/rfc3986#section-2): unreserved, reserved and
/// `%`). Everything else (controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`,
/// non-ASCII) must be percent-encoded, so its presence means a malformed or disguised URI.
pub fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
        )
}

/// The five components of a URI reference, as written
/// ([RFC 3986 Appendix B](https://www.rfc-editor.org/rfc/rfc3986#appendix-B)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Components<'a> {
    /// The scheme, without `:`.
    pub scheme: &'a str,
    /// The authority, without `//`; `None` when the URI has no `//`.
    pub authority: Option<&'a str>,
    /// The path, possibly empty.
    pub path: &'a str,
    /// The query, without `?`.
    pub query: Option<&'a str>,
    /// The fragment, without `#`.
    pub fragment: Option<&'a str>,
}

/// The origin of an absolute URI as it is written, `scheme://authority` (empty when it has
/// none): what a server's nonces, forms and proofs are labelled with.
pub fn origin(uri: &str) -> String {
    split(uri).map_or_else(String::new, |c| {
        format!("{}://{}", c.scheme, c.authority.unwrap_or_default())
    })
}

/// Splits an absolute URI into its components. `None` when there is no valid scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` followed by `:`).
pub fn split(uri: &str) -> Option<Components<'_>> {
    let colon = uri.find(':')?;
    let scheme = uri.get(..colon)?;
    let mut bytes = scheme.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    let rest = uri.get(colon + 1..)?;
    let (rest, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (after.get(..end), after.get(end..).unwrap_or(""))
        }
        None => (None, rest),
    };
    Some(Components {
        scheme,
        authority,
        path,
        query,
        fragment,
    })
}

/// An authority split into its parts, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority<'a> {
    /// `userinfo` before `@`, if any.
    pub userinfo: Option<&'a str>,
    /// The host, with brackets for IP literals.
    pub host: &'a str,
    /// The port digits after `:`, if a `:` is present (possibly empty).
    pub port: Option<&'a str>,
}

/// Splits an authority into userinfo, host and port.
pub fn split_authority(authority: &str) -> Authority<'_> {
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    // An IP literal holds colons of its own; the port follows the closing bracket.
    let port_colon = if hostport.starts_with('[') {
        hostport
            .find(']')
            .and_then(|end| hostport.get(end + 1..))
            .and_then(|after| {
                after
                    .starts_with(':')
                    .then_some(hostport.len() - after.len())
            })
    } else {
        hostport.rfind(':')
    };
    match port_colon {
        Some(colon) => Authority {
            userinfo,
            host: hostport.get(..colon).unwrap_or(hostport),
            port: hostport.get(colon + 1..),
        },
        None => Authority {
            userinfo,
            host: hostport,
            port: None,
        },
    }
}

/// Whether `host` (as written in an authority) is a loopback name:
/// `127.0.0.1`, `[::1]` or `localhost`
/// ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3),
/// [RFC 8252 §8.3](https://www.rfc-editor.org/rfc/rfc8252#section-8.3) on `localhost`).
pub fn is_loopback_host(host: &str) -> bool {
    host == "127.0.0.1" || host == "[::1]" || host.eq_ignore_ascii_case("localhost")
}

/// Whether a port, as written, is a decimal number from 1 to 65535 without a sign.
pub fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

/// Why a string is not an acceptable web URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebUrlError {
    /// Longer than [`MAX_URI_LEN`].
    #[error("URL is longer than 2048 bytes")]
    TooLong,
    /// A character RFC 3986 does not allow unencoded.
    #[error("URL contains a character that RFC 3986 §2 does not allow unencoded")]
    InvalidCharacter,
    /// Not an absolute URL with a host.
    #[error("not an absolute URL with a host")]
    NotAbsolute,
    /// Neither `https` nor `http` on a loopback host.
    #[error("URL must use https (http only for 127.0.0.1, [::1] or localhost)")]
    NotHttps,
    /// Carries `user:password@`.
    #[error("URL must not contain userinfo")]
    Userinfo,
    /// Carries `#fragment`.
    #[error("URL must not contain a fragment")]
    Fragment,
    /// A port that is not 1 to 65535.
    #[error("URL has an invalid port")]
    InvalidPort,
    /// Carries `?query` where an identifier must not (an issuer, RFC 8414 §2).
    #[error("URL must not contain a query")]
    Query,
}

/// A URL that passed [`check_web_url`], split into its raw components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebUrl<'a> {
    /// The components as written.
    pub components: Components<'a>,
    /// The authority's parts as written.
    pub authority: Authority<'a>,
    /// Whether the URL is `http` on a loopback host (allowed for local development only).
    pub is_loopback_http: bool,
}

/// Checks that `s` is a URL a server may publish or fetch: `https` with a host, or `http` on a
/// loopback host; no userinfo; no fragment; only RFC 3986 characters.
///
/// Scheme and host comparisons ignore ASCII case, as RFC 3986 §6.2.2.1 allows; the string itself
/// is not changed.
pub fn check_web_url(s: &str) -> Result<WebUrl<'_>, WebUrlError> {
    if s.len() > MAX_URI_LEN {
        return Err(WebUrlError::TooLong);
    }
    if !s.bytes().all(is_uri_char) {
        return Err(WebUrlError::InvalidCharacter);
    }
    let components = split(s).ok_or(WebUrlError::NotAbsolute)?;
    let raw_authority = components.authority.ok_or(WebUrlError::NotAbsolute)?;
    let authority = split_authority(raw_authority);
    if authority.host.is_empty() {
        return Err(WebUrlError::NotAbsolute);
    }
    let is_https = components.scheme.eq_ignore_ascii_case("https");
    let is_loopback_http =
        components.scheme.eq_ignore_ascii_case("http") && is_loopback_host(authority.host);
    if !is_https && !is_loopback_http {
        return Err(WebUrlError::NotHttps);
    }
    if authority.userinfo.is_some() {
        return Err(WebUrlError::Userinfo);
    }
    if components.fragment.is_some() {
        return Err(WebUrlError::Fragment);
    }
    if authority.port.is_some_and(|p| !is_valid_port(p)) {
        return Err(WebUrlError::InvalidPort);
    }
    if authority.host.contains('*') {
        return Err(WebUrlError::NotAbsolute);
    }
    // Second opinion on the host syntax (IP literals, label rules) from the WHATWG parser.
    let parsed = url::Url::parse(s).map_err(|_| WebUrlError::NotAbsolute)?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(WebUrlError::NotAbsolute);
    }
    Ok(WebUrl {
        components,
        authority,
        is_loopback_http,
    })
}

impl WebUrl<'_> {
    /// Refuses loopback `http`: for URLs shown to people or fetched by a server on a client's
    /// behalf, where the local-development exception has no place.
    pub fn require_https(self) -> Result<Self, WebUrlError> {
        if self.is_loopback_http {
            return Err(WebUrlError::NotHttps);
        }
        Ok(self)
    }
}

/// Checks an issuer identifier: a web URL (see [`check_web_url`]) without query and fragment.
///
/// [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2): "The authorization server's
/// issuer identifier, which is a URL that uses the "https" scheme and has no query or fragment
/// components." Loopback `http` is accepted for local development, as in [`check_web_url`].
pub fn check_issuer_url(s: &str) -> Result<WebUrl<'_>, WebUrlError> {
    let url = check_web_url(s)?;
    if url.components.query.is_some() {
        return Err(WebUrlError::Query);
    }
    Ok(url)
}

/// Checks a link for people (documentation, policy and terms pages): an absolute `http` or
/// `https` URL with a host, only RFC 3986 characters. Plain `http` is allowed because such pages
/// are only displayed as links (RFC 8414 §3.2's own example serves one over `http`); what this
/// refuses is everything that is not a web page, such as `javascript:` and `data:`.
pub fn check_page_url(s: &str) -> Result<(), WebUrlError> {
    if s.len() > MAX_URI_LEN {
        return Err(WebUrlError::TooLong);
    }
    if !s.bytes().all(is_uri_char) {
        return Err(WebUrlError::InvalidCharacter);
    }
    let components = split(s).ok_or(WebUrlError::NotAbsolute)?;
    if !(components.scheme.eq_ignore_ascii_case("https")
        || components.scheme.eq_ignore_ascii_case("http"))
    {
        return Err(WebUrlError::NotHttps);
    }
    let authority = components.authority.ok_or(WebUrlError::NotAbsolute)?;
    if split_authority(authority).host.is_empty() {
        return Err(WebUrlError::NotAbsolute);
    }
    Ok(())
}

/// Why no well-known URL can be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WellKnownError {
    /// The identifier is not a web URL (see [`WebUrlError`]).
    #[error("identifier is not a valid URL: {0}")]
    Url(#[from] WebUrlError),
    /// The suffix is not a single path segment.
    #[error("well-known suffix must be one path segment")]
    Suffix,
}

/// Derives a well-known URL by inserting `/.well-known/{suffix}` between the host and the path
/// (and query) of `identifier`, after removing a terminating `/` from the path.
///
/// This is the rule of [RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1) ("any
/// terminating "/" MUST be removed before inserting "/.well-known/" and the well-known URI suffix
/// between the host component and the path component") and of
/// [RFC 9728 §3.1](https://www.rfc-editor.org/rfc/rfc9728#section-3.1), which also keeps a query.
pub fn insert_well_known(identifier: &str, suffix: &str) -> Result<String, WellKnownError> {
    if suffix.is_empty()
        || !suffix
            .bytes()
            .all(|b| is_uri_char(b) && !matches!(b, b'/' | b'?' | b'#'))
    {
        return Err(WellKnownError::Suffix);
    }
    let url = check_web_url(identifier)?;
    let c = url.components;
    let authority = c.authority.unwrap_or_default();
    let path = c.path.strip_suffix('/').unwrap_or(c.path);
    let mut out = format!(
        "{}://{}/.well-known/{}{}",
        c.scheme, authority, suffix, path
    );
    if let Some(query) = c.query {
        out.push('?');
        out.push_str(query);
    }
    // The insertion lengthens the URL: an identifier near the limit would derive one that no
    // one may fetch (found by the `web_url` fuzz target).
    check_web_url(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_3_1_derived_url_stays_within_the_length_limit() {
        let path = "a".repeat(MAX_URI_LEN - "https://as.example/".len());
        let identifier = format!("https://as.example/{path}");
        assert!(check_web_url(&identifier).is_ok());
        assert_eq!(
            insert_well_known(&identifier, "oauth-authorization-server"),
            Err(WellKnownError::Url(WebUrlError::TooLong))
        );
    }

    #[test]
    fn rfc3986_appendix_b_split() {
        let c = split("https://user@example.com:8443/a/b?x=1#frag").unwrap();
        assert_eq!(c.scheme, "https");
        assert_eq!(c.authority, Some("user@example.com:8443"));
        assert_eq!(c.path, "/a/b");
        assert_eq!(c.query, Some("x=1"));
        assert_eq!(c.fragment, Some("frag"));
        let c = split("com.example.app:/oauth2redirect").unwrap();
        assert_eq!(c.authority, None);
        assert_eq!(c.path, "/oauth2redirect");
        assert!(split("/relative").is_none());
        assert!(split("1http://x").is_none());
        assert!(split(":x").is_none());
    }

    #[test]
    fn authority_split_handles_ip_literals() {
        let a = split_authority("[::1]:8080");
        assert_eq!((a.host, a.port), ("[::1]", Some("8080")));
        let a = split_authority("[::1]");
        assert_eq!((a.host, a.port), ("[::1]", None));
        let a = split_authority("u:p@host:1");
        assert_eq!(
            (a.userinfo, a.host, a.port),
            (Some("u:p"), "host", Some("1"))
        );
    }

    #[test]
    fn rfc8414_section_3_1_path_insertion() {
        assert_eq!(
            insert_well_known("https://example.com/issuer1", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            insert_well_known("https://example.com", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            insert_well_known("https://example.com/", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            insert_well_known("https://example.com/tenant/", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server/tenant"
        );
    }

    #[test]
    fn rfc9728_section_3_1_path_and_query_insertion() {
        assert_eq!(
            insert_well_known(
                "https://resource.example.com/resource1",
                "oauth-protected-resource"
            )
            .unwrap(),
            "https://resource.example.com/.well-known/oauth-protected-resource/resource1"
        );
        assert_eq!(
            insert_well_known(
                "https://r.example.com:8443/mcp?v=1",
                "oauth-protected-resource"
            )
            .unwrap(),
            "https://r.example.com:8443/.well-known/oauth-protected-resource/mcp?v=1"
        );
    }

    #[test]
    fn rfc8414_section_2_issuer_has_no_query_or_fragment() {
        assert!(check_issuer_url("https://example.com/tenant").is_ok());
        assert!(check_issuer_url("http://127.0.0.1:8080").is_ok());
        assert_eq!(
            check_issuer_url("https://example.com?a=b"),
            Err(WebUrlError::Query)
        );
        assert_eq!(
            check_issuer_url("https://example.com#f"),
            Err(WebUrlError::Fragment)
        );
        assert_eq!(
            check_issuer_url("http://example.com"),
            Err(WebUrlError::NotHttps)
        );
    }

    #[test]
    fn page_urls_are_web_pages_only() {
        assert!(check_page_url("http://server.example.com/service_documentation.html").is_ok());
        assert!(check_page_url("https://example.com").is_ok());
        assert!(check_page_url("javascript:alert(1)").is_err());
        assert!(check_page_url("data:text/html,x").is_err());
        assert!(check_page_url("https:///x").is_err());
        assert!(check_page_url("/relative").is_err());
        assert!(check_page_url("https://example.com/a b").is_err());
    }

    #[test]
    fn require_https_refuses_loopback_http() {
        let url = check_web_url("http://localhost/logo.png").unwrap();
        assert_eq!(url.require_https(), Err(WebUrlError::NotHttps));
        assert!(
            check_web_url("https://localhost/logo.png")
                .unwrap()
                .require_https()
                .is_ok()
        );
    }

    #[test]
    fn web_url_policy() {
        assert!(check_web_url("https://example.com/x").is_ok());
        assert!(
            check_web_url("http://127.0.0.1:8080/x")
                .unwrap()
                .is_loopback_http
        );
        assert!(check_web_url("http://localhost/x").is_ok());
        assert_eq!(
            check_web_url("http://example.com/"),
            Err(WebUrlError::NotHttps)
        );
        assert_eq!(
            check_web_url("https://a@example.com/"),
            Err(WebUrlError::Userinfo)
        );
        assert_eq!(
            check_web_url("https://example.com/#x"),
            Err(WebUrlError::Fragment)
        );
        assert_eq!(
            check_web_url("https://example.com:0/"),
            Err(WebUrlError::InvalidPort)
        );
        assert_eq!(
            check_web_url("https://example.com:/"),
            Err(WebUrlError::InvalidPort)
        );
        assert_eq!(check_web_url("https:///x"), Err(WebUrlError::NotAbsolute));
        assert_eq!(
            check_web_url("https://*.example.com/"),
            Err(WebUrlError::NotAbsolute)
        );
        assert_eq!(
            check_web_url("https://exa mple.com/"),
            Err(WebUrlError::InvalidCharacter)
        );
        assert_eq!(
            check_web_url("https:\\\\evil.com"),
            Err(WebUrlError::InvalidCharacter)
        );
        assert_eq!(
            check_web_url("javascript:alert(1)"),
            Err(WebUrlError::NotAbsolute)
        );
    }
}
