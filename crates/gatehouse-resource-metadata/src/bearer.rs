//! The `Bearer` challenge of [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3),
//! with the `resource_metadata` parameter of
//! [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1).

use gatehouse_types::uri::{check_web_url, is_uri_char};
use gatehouse_types::{ErrorCode, ErrorDescription, ScopeSet};

use crate::challenge::{Challenge, is_forbidden_control, is_token, parse_challenges, push_quoted};
use crate::error::ChallengeError;

/// The parameters with a field of their own; other parameters go to the extra list.
const KNOWN_PARAMS: [&str; 6] = [
    "realm",
    "scope",
    "error",
    "error_description",
    "error_uri",
    "resource_metadata",
];

/// A `WWW-Authenticate: Bearer` challenge.
///
/// Build one with [`BearerChallenge::builder`] and send
/// [`to_header_value`](Self::to_header_value); read one with [`BearerChallenge::parse`]. Every
/// value is checked on the way in, so what [`to_header_value`](Self::to_header_value) writes
/// always parses back to an equal challenge.
///
/// ```
/// # use gatehouse_resource_metadata::BearerChallenge;
/// # use gatehouse_types::ErrorCode;
/// let challenge = BearerChallenge::builder()
///     .error(ErrorCode::InvalidToken)
///     .resource_metadata("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
///     .build()
///     .unwrap();
/// assert_eq!(
///     challenge.to_header_value(),
///     r#"Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
/// );
/// assert_eq!(BearerChallenge::parse(&challenge.to_header_value()).unwrap(), challenge);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    realm: Option<String>,
    scope: Option<ScopeSet>,
    error: Option<ErrorCode>,
    error_description: Option<ErrorDescription>,
    error_uri: Option<String>,
    resource_metadata: Option<String>,
    extra: Vec<(String, String)>,
}

impl BearerChallenge {
    /// The auth-scheme, as this crate writes it.
    pub const SCHEME: &'static str = "Bearer";

    /// Starts a challenge with no parameters.
    pub fn builder() -> BearerChallengeBuilder {
        BearerChallengeBuilder {
            challenge: Self {
                realm: None,
                scope: None,
                error: None,
                error_description: None,
                error_uri: None,
                resource_metadata: None,
                extra: Vec::new(),
            },
        }
    }

    /// Finds the Bearer challenge in a whole `WWW-Authenticate` field value (which may hold
    /// several challenges, e.g. `DPoP algs="ES256", Bearer error="invalid_token"`) and reads its
    /// parameters. When several Bearer challenges are present, the first is read.
    ///
    /// Known parameters are matched case-insensitively and checked: `scope` must be a scope list
    /// ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)), `error` and
    /// `error_description` must stay within their RFC 6750 §3 character sets, `error_uri` must be
    /// a URI reference, and `resource_metadata` must be a URL a client may fetch (`https`, or
    /// `http` on a loopback host). A bare `Bearer` without parameters is accepted, though
    /// RFC 6750 §3 says it "MUST be followed by one or more auth-param values": servers do send
    /// it, and it carries no ambiguity.
    pub fn parse(header_value: &str) -> Result<Self, ChallengeError> {
        let challenges = parse_challenges(header_value)?;
        let bearer = challenges
            .iter()
            .find(|c| c.is_scheme(Self::SCHEME))
            .ok_or(ChallengeError::NoBearerChallenge)?;
        Self::from_challenge(bearer)
    }

    /// Reads a challenge returned by [`parse_challenges`] as a Bearer challenge.
    pub fn from_challenge(challenge: &Challenge) -> Result<Self, ChallengeError> {
        if !challenge.is_scheme(Self::SCHEME) {
            return Err(ChallengeError::NoBearerChallenge);
        }
        if challenge.token68().is_some() {
            return Err(ChallengeError::Token68NotAllowed);
        }
        let mut builder = Self::builder();
        for (name, value) in challenge.params() {
            builder = match name.to_ascii_lowercase().as_str() {
                "realm" => builder.realm(value),
                "scope" => {
                    builder.scope(ScopeSet::parse(value).map_err(ChallengeError::InvalidScope)?)
                }
                "error" => builder
                    .error(ErrorCode::parse(value).map_err(ChallengeError::InvalidErrorCode)?),
                "error_description" => builder.error_description(
                    ErrorDescription::new(value)
                        .map_err(ChallengeError::InvalidErrorDescription)?,
                ),
                "error_uri" => builder.error_uri(value),
                "resource_metadata" => builder.resource_metadata(value),
                _ => builder.param(name, value),
            };
        }
        builder.check()?;
        Ok(builder.challenge)
    }

    /// The field value: `Bearer` followed by the parameters that are set, in the order `realm`,
    /// `scope`, `error`, `error_description`, `error_uri`, `resource_metadata`, then the extra
    /// ones. Every value is a `quoted-string` with `"` and `\` escaped, as RFC 6750 §3 writes
    /// them.
    pub fn to_header_value(&self) -> String {
        let mut out = String::from(Self::SCHEME);
        let scope = self.scope.as_ref().map(ScopeSet::to_string);
        let known = [
            ("realm", self.realm.as_deref()),
            ("scope", scope.as_deref()),
            ("error", self.error.as_ref().map(ErrorCode::as_str)),
            (
                "error_description",
                self.error_description
                    .as_ref()
                    .map(ErrorDescription::as_str),
            ),
            ("error_uri", self.error_uri.as_deref()),
            ("resource_metadata", self.resource_metadata.as_deref()),
        ];
        let known = known
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        let extra = self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        for (name, value) in known.chain(extra) {
            // Names are checked on the way in; the check here keeps the output well-formed
            // whatever happens to that invariant.
            if !is_token(name) {
                continue;
            }
            out.push_str(if out.len() == Self::SCHEME.len() {
                " "
            } else {
                ", "
            });
            out.push_str(name);
            out.push('=');
            push_quoted(&mut out, value);
        }
        out
    }

    /// `realm`: the protection space.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// `scope`: the scopes the resource requires.
    pub fn scope(&self) -> Option<&ScopeSet> {
        self.scope.as_ref()
    }

    /// `error` ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)).
    pub fn error(&self) -> Option<&ErrorCode> {
        self.error.as_ref()
    }

    /// `error_description`.
    pub fn error_description(&self) -> Option<&ErrorDescription> {
        self.error_description.as_ref()
    }

    /// `error_uri`.
    pub fn error_uri(&self) -> Option<&str> {
        self.error_uri.as_deref()
    }

    /// `resource_metadata`: the URL of the protected resource metadata (RFC 9728 §5.1).
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// The value of a parameter without a field of its own (names are case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The parameters without a field of their own, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Builds a [`BearerChallenge`]; start with [`BearerChallenge::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BearerChallengeBuilder {
    challenge: BearerChallenge,
}

impl BearerChallengeBuilder {
    /// Sets `realm`. Any text without control characters; quotes and backslashes are escaped.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.challenge.realm = Some(realm.into());
        self
    }

    /// Sets `scope`: for `insufficient_scope`, the scopes needed (RFC 6750 §3.1); for MCP, the
    /// scopes the client should request.
    pub fn scope(mut self, scope: ScopeSet) -> Self {
        self.challenge.scope = Some(scope);
        self
    }

    /// Sets `error`.
    pub fn error(mut self, error: ErrorCode) -> Self {
        self.challenge.error = Some(error);
        self
    }

    /// Sets `error_description`.
    pub fn error_description(mut self, description: ErrorDescription) -> Self {
        self.challenge.error_description = Some(description);
        self
    }

    /// Sets `error_uri`, a URI reference.
    pub fn error_uri(mut self, uri: impl Into<String>) -> Self {
        self.challenge.error_uri = Some(uri.into());
        self
    }

    /// Sets `resource_metadata`, the URL of the protected resource metadata.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.challenge.resource_metadata = Some(url.into());
        self
    }

    /// Adds a parameter without a field of its own (RFC 6750 §3: "Other auth-param attributes
    /// MAY be used as well"), e.g. RFC 9470's `max_age`. The name must be a token and not one
    /// of the parameters above.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.challenge.extra.push((name.into(), value.into()));
        self
    }

    /// The challenge, once every value is known to be safe to send and to read back.
    ///
    /// Refuses: no parameter at all (RFC 6750 §3: "This scheme MUST be followed by one or more
    /// auth-param values"); control characters in any value; an `error_uri` that is not a URI
    /// reference; a `resource_metadata` that is not an `https` URL (or `http` on a loopback
    /// host); extra parameter names that are not tokens, that repeat, or that name a parameter
    /// with its own setter (RFC 9110 §11.2: "each parameter name MUST only occur once per
    /// challenge").
    pub fn build(self) -> Result<BearerChallenge, ChallengeError> {
        self.check()?;
        let c = &self.challenge;
        let has_param = c.realm.is_some()
            || c.scope.is_some()
            || c.error.is_some()
            || c.error_description.is_some()
            || c.error_uri.is_some()
            || c.resource_metadata.is_some()
            || !c.extra.is_empty();
        if !has_param {
            return Err(ChallengeError::NoParams);
        }
        Ok(self.challenge)
    }

    /// Every check of [`build`](Self::build) but the one on the parameter count.
    fn check(&self) -> Result<(), ChallengeError> {
        let c = &self.challenge;
        if let Some(realm) = &c.realm {
            check_value("realm", realm)?;
        }
        if let Some(uri) = &c.error_uri {
            // RFC 6750 §3: URI-reference characters only, which also keeps out `"` and `\`.
            if !uri.bytes().all(is_uri_char) {
                return Err(ChallengeError::InvalidErrorUri);
            }
        }
        if let Some(url) = &c.resource_metadata {
            check_web_url(url).map_err(ChallengeError::InvalidResourceMetadata)?;
        }
        for (i, (name, value)) in c.extra.iter().enumerate() {
            if !is_token(name) {
                return Err(ChallengeError::InvalidParamName(name.clone()));
            }
            if KNOWN_PARAMS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
            {
                return Err(ChallengeError::ReservedParamName(name.clone()));
            }
            if c.extra
                .iter()
                .take(i)
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(ChallengeError::DuplicateParam {
                    scheme: BearerChallenge::SCHEME.to_owned(),
                    name: name.clone(),
                });
            }
            check_value(name, value)?;
        }
        Ok(())
    }
}

fn check_value(param: &str, value: &str) -> Result<(), ChallengeError> {
    if value.chars().any(is_forbidden_control) {
        return Err(ChallengeError::ControlCharacter {
            param: param.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_quotes_backslashes_and_commas_round_trip() {
        let challenge = BearerChallenge::builder()
            .realm(r#"a "quoted", \back\slashed realm, with commas"#)
            .param("x_note", r#"\"", ,=;"#)
            .build()
            .unwrap();
        let header = challenge.to_header_value();
        assert_eq!(
            header,
            r#"Bearer realm="a \"quoted\", \\back\\slashed realm, with commas", x_note="\\\"\", ,=;""#
        );
        assert_eq!(BearerChallenge::parse(&header).unwrap(), challenge);
    }

    #[test]
    fn header_splitting_is_impossible() {
        for bad in [
            "a\r\nSet-Cookie: x=y",
            "a\nb",
            "a\rb",
            "a\u{0}b",
            "a\u{7f}b",
        ] {
            assert_eq!(
                BearerChallenge::builder().realm(bad).build(),
                Err(ChallengeError::ControlCharacter {
                    param: "realm".into()
                })
            );
            assert!(BearerChallenge::builder().param("x", bad).build().is_err());
        }
        // A tab is allowed in a quoted-string and survives.
        let tabbed = BearerChallenge::builder().realm("a\tb").build().unwrap();
        assert_eq!(
            BearerChallenge::parse(&tabbed.to_header_value()).unwrap(),
            tabbed
        );
    }

    #[test]
    fn extra_param_names_are_checked() {
        let bad_name = BearerChallenge::builder().param("a b", "x").build();
        assert_eq!(
            bad_name,
            Err(ChallengeError::InvalidParamName("a b".into()))
        );
        let reserved = BearerChallenge::builder().param("Realm", "x").build();
        assert_eq!(
            reserved,
            Err(ChallengeError::ReservedParamName("Realm".into()))
        );
        let repeated = BearerChallenge::builder()
            .param("max_age", "1")
            .param("MAX_AGE", "2")
            .build();
        assert!(matches!(
            repeated,
            Err(ChallengeError::DuplicateParam { .. })
        ));
    }

    #[test]
    fn known_params_are_matched_case_insensitively() {
        let parsed =
            BearerChallenge::parse(r#"bearer REALM="r", Scope="a b", ERROR=invalid_token"#)
                .unwrap();
        assert_eq!(parsed.realm(), Some("r"));
        assert_eq!(parsed.scope().unwrap().len(), 2);
        assert_eq!(parsed.error(), Some(&ErrorCode::InvalidToken));
        assert_eq!(parsed.params().count(), 0);
    }
}
