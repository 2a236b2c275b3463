//! Redirect URIs and the whole redirect policy.
//!
//! Redirect handling is where real authorization servers were broken: open redirects through
//! wildcards and prefix matching, `javascript:` URIs hidden behind case, whitespace and control
//! characters, and userinfo tricks (`https://good.com@evil.com`). A [`RedirectUri`] can only
//! exist if it passed every rule below, and two of them only match when their strings are equal,
//! except for the port of a loopback URI.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::uri::{self, MAX_URI_LEN, is_loopback_host, is_uri_char, is_valid_port};

/// Schemes that never name a place a client listens on, refused even though they are
/// syntactically fine: script and data carriers, local files, browser internals, and network
/// schemes that are not HTTP.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "livescript",
    "data",
    "file",
    "blob",
    "filesystem",
    "about",
    "view-source",
    "jar",
    "ftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "sms",
];

/// A redirect URI that satisfies Gatehouse's redirect policy:
///
/// - `https` with a host; or `http` only on a loopback host (`127.0.0.1`, `[::1]`, `localhost`;
///   [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3),
///   [OAuth 2.1 §8.4.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-8.4.2));
///   or a private-use scheme for native apps (`cursor://…`, `com.example.app:/cb`;
///   [RFC 8252 §7.1](https://www.rfc-editor.org/rfc/rfc8252#section-7.1));
/// - no fragment ([RFC 6749 §3.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2): "The
///   endpoint URI MUST NOT include a fragment component"), no userinfo, no wildcard;
/// - only characters RFC 3986 allows unencoded, so no whitespace, control characters, backslashes
///   or non-ASCII look-alikes can disguise the scheme or the host;
/// - none of the forbidden schemes (`javascript:`, `data:`, `file:`, …).
///
/// Matching ([`RedirectUri::matches`]) is exact string comparison
/// ([OAuth 2.1 §4.1.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.1))
/// except the port of a loopback `http` URI, which the client picks at run time.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri {
    raw: String,
    kind: Kind,
    /// For loopback `http`: the byte range of `:port` in `raw` (empty when there is no port).
    port_span: (usize, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Https,
    LoopbackHttp,
    PrivateUse,
}

/// Why a string is not an acceptable redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// The empty string.
    #[error("redirect_uri is empty")]
    Empty,
    /// Longer than 2048 bytes.
    #[error("redirect_uri is longer than 2048 bytes")]
    TooLong,
    /// Whitespace or a control character, the usual disguise of a scheme.
    #[error("redirect_uri contains whitespace or a control character")]
    WhitespaceOrControl,
    /// A non-ASCII character (IDN look-alikes must be sent in punycode).
    #[error("redirect_uri contains a non-ASCII character")]
    NonAscii,
    /// Another character RFC 3986 does not allow unencoded (`\`, `"`, `<`, …).
    #[error("redirect_uri contains a character RFC 3986 §2 does not allow unencoded")]
    InvalidCharacter,
    /// No scheme: a relative reference.
    #[error("redirect_uri must be an absolute URI (RFC 6749 §3.1.2)")]
    NotAbsolute,
    /// A scheme that cannot be a redirect target.
    #[error("redirect_uri scheme {0:?} is not allowed")]
    ForbiddenScheme(String),
    /// A one-letter scheme: a Windows drive letter, not a private-use scheme.
    #[error("redirect_uri scheme is a single letter (a drive letter, not a URI scheme)")]
    SingleLetterScheme,
    /// `http` on a host that is not loopback.
    #[error(
        "redirect_uri uses http on a host that is not 127.0.0.1, [::1] or localhost (OAuth 2.1 §1.5)"
    )]
    HttpNotLoopback,
    /// `http`/`https` without a host.
    #[error("redirect_uri has no host")]
    MissingHost,
    /// A fragment component.
    #[error("redirect_uri must not include a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    /// `user:password@` before the host.
    #[error("redirect_uri must not include userinfo")]
    Userinfo,
    /// A `*` in the host.
    #[error("redirect_uri must not include a wildcard")]
    Wildcard,
    /// A port that is not 1 to 65535.
    #[error("redirect_uri has an invalid port")]
    InvalidPort,
    /// Refused by the URL parser for another structural reason.
    #[error("redirect_uri is not a well-formed URI")]
    Malformed,
}

impl RedirectUri {
    /// Parses a redirect URI and applies the whole redirect policy.
    pub fn new(value: impl Into<String>) -> Result<Self, RedirectUriError> {
        let raw = value.into();
        let (kind, port_span) = classify(&raw)?;
        Ok(Self {
            raw,
            kind,
            port_span,
        })
    }

    /// The URI exactly as registered or requested.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether this is an `http` URI on a loopback host.
    pub fn is_loopback(&self) -> bool {
        self.kind == Kind::LoopbackHttp
    }

    /// Whether this uses a private-use (custom) scheme of a native app.
    pub fn is_private_use_scheme(&self) -> bool {
        self.kind == Kind::PrivateUse
    }

    /// The host as written, for showing on a consent page; `None` for private-use URIs without
    /// an authority.
    pub fn host(&self) -> Option<&str> {
        let components = uri::split(&self.raw)?;
        components
            .authority
            .map(|authority| uri::split_authority(authority).host)
    }

    /// Whether a redirect URI sent in an authorization request matches this registered one.
    ///
    /// Exact string comparison, except that for loopback `http` URIs the port is ignored:
    /// [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3) "The authorization
    /// server MUST allow any port to be specified at the time of the request for loopback IP
    /// redirect URIs". Gatehouse extends this to `localhost`, which MCP clients use.
    pub fn matches(&self, requested: &RedirectUri) -> bool {
        if self.kind == Kind::LoopbackHttp && requested.kind == Kind::LoopbackHttp {
            return self.without_port() == requested.without_port();
        }
        self.raw == requested.raw
    }

    fn without_port(&self) -> (&str, &str) {
        let (start, end) = self.port_span;
        (
            self.raw.get(..start).unwrap_or(&self.raw),
            self.raw.get(end..).unwrap_or(""),
        )
    }
}

fn classify(raw: &str) -> Result<(Kind, (usize, usize)), RedirectUriError> {
    if raw.is_empty() {
        return Err(RedirectUriError::Empty);
    }
    if raw.len() > MAX_URI_LEN {
        return Err(RedirectUriError::TooLong);
    }
    for b in raw.bytes() {
        if b.is_ascii_control() || b == b' ' {
            return Err(RedirectUriError::WhitespaceOrControl);
        }
        if !b.is_ascii() {
            return Err(RedirectUriError::NonAscii);
        }
        if !is_uri_char(b) {
            return Err(RedirectUriError::InvalidCharacter);
        }
    }
    let components = uri::split(raw).ok_or(RedirectUriError::NotAbsolute)?;
    let scheme = components.scheme.to_ascii_lowercase();
    if FORBIDDEN_SCHEMES.contains(&scheme.as_str()) {
        return Err(RedirectUriError::ForbiddenScheme(scheme));
    }
    if scheme.len() == 1 {
        return Err(RedirectUriError::SingleLetterScheme);
    }
    if components.fragment.is_some() {
        return Err(RedirectUriError::Fragment);
    }
    let is_web = scheme == "https" || scheme == "http";
    let authority = match components.authority {
        Some(authority) => Some(uri::split_authority(authority)),
        None if is_web => return Err(RedirectUriError::MissingHost),
        None if components.path.is_empty() => return Err(RedirectUriError::NotAbsolute),
        None => None,
    };
    if let Some(authority) = authority {
        if authority.userinfo.is_some() {
            return Err(RedirectUriError::Userinfo);
        }
        if authority.host.contains('*') {
            return Err(RedirectUriError::Wildcard);
        }
        if authority.port.is_some_and(|p| !is_valid_port(p)) {
            return Err(RedirectUriError::InvalidPort);
        }
        if is_web && authority.host.is_empty() {
            return Err(RedirectUriError::MissingHost);
        }
    }
    // Second opinion on structure; the strict checks above already refused everything the
    // WHATWG parser would silently repair.
    let parsed = url::Url::parse(raw).map_err(|_| RedirectUriError::Malformed)?;
    if is_web && parsed.host_str().is_none_or(str::is_empty) {
        return Err(RedirectUriError::MissingHost);
    }
    match (scheme.as_str(), authority) {
        ("https", _) => Ok((Kind::Https, (0, 0))),
        ("http", Some(authority)) if is_loopback_host(authority.host) => {
            // `scheme://` + host, then `:port` if present.
            let host_end = components.scheme.len() + 3 + authority.host.len();
            let port_end = match authority.port {
                Some(port) => host_end + 1 + port.len(),
                None => host_end,
            };
            Ok((Kind::LoopbackHttp, (host_end, port_end)))
        }
        ("http", _) => Err(RedirectUriError::HttpNotLoopback),
        _ => Ok((Kind::PrivateUse, (0, 0))),
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl std::str::FromStr for RedirectUri {
    type Err = RedirectUriError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::new(value)
    }
}

impl From<RedirectUri> for String {
    fn from(value: RedirectUri) -> Self {
        value.raw
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({:?})", self.raw)
    }
}
