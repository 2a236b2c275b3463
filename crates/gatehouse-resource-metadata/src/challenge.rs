//! The `WWW-Authenticate` field value: a list of challenges
//! ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1),
//! [§11.2](https://www.rfc-editor.org/rfc/rfc9110#section-11.2)).
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! Challenges and their parameters are both separated by commas, so a comma followed by
//! `token BWS "="` continues the current challenge and a comma followed by anything else starts
//! the next one. Empty list elements (`, ,`) are skipped, as RFC 9110 §5.6.1 requires of
//! recipients.

use crate::error::ChallengeError;

/// Most parameters one challenge may carry. Real challenges carry fewer than ten; the bound keeps
/// the repeated-name check cheap on hostile input.
pub const MAX_PARAMS_PER_CHALLENGE: usize = 64;

/// One challenge of a `WWW-Authenticate` field value, as received. Only
/// [`parse_challenges`] creates one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The auth-scheme, as written.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the auth-scheme is `scheme`; auth-schemes are case-insensitive (RFC 9110 §11.1).
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The token68, for schemes that use one instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// The value of a parameter; names are case-insensitive (RFC 9110 §11.2). Quoted values are
    /// returned unquoted and unescaped.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in order, with names as written.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Parses a whole `WWW-Authenticate` field value into its challenges, in order.
///
/// Accepts what RFC 9110 allows: case-insensitive schemes and parameter names, token or
/// quoted-string values with backslash escapes, whitespace around `=`, token68 challenges,
/// empty list elements. Refuses a parameter repeated within one challenge ("each parameter
/// name MUST only occur once per challenge", §11.2), control characters and anything else
/// outside the grammar. An empty value gives no challenges.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    let mut parser = Parser {
        input: value,
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        parser.skip_list_separators();
        if parser.at_end() {
            return Ok(challenges);
        }
        let scheme = parser
            .token()
            .ok_or_else(|| parser.error("expected an auth-scheme"))?;
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: Vec::new(),
        };
        let spaces = parser.skip_ows();
        match parser.peek() {
            None => {}
            Some(b',') => parser.rest_of_params(&mut challenge)?,
            Some(_) if spaces == 0 => {
                return Err(parser.error("expected a space after the auth-scheme"));
            }
            Some(_) => {
                if let Some(token68) = parser.token68() {
                    challenge.token68 = Some(token68.to_owned());
                    parser.skip_list_separators();
                    if parser.looks_like_param() {
                        return Err(parser.error("auth-param after a token68"));
                    }
                } else {
                    parser.param(&mut challenge)?;
                    parser.rest_of_params(&mut challenge)?;
                }
            }
        }
        challenges.push(challenge);
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn error(&self, reason: &'static str) -> ChallengeError {
        ChallengeError::Syntax {
            position: self.pos,
            reason,
        }
    }

    /// Skips `OWS` (spaces and tabs); returns how many bytes it skipped.
    fn skip_ows(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips `OWS` and commas: the separators and empty elements of a list.
    fn skip_list_separators(&mut self) {
        loop {
            self.skip_ows();
            if self.peek() != Some(b',') {
                return;
            }
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            None
        } else {
            self.input.get(start..self.pos)
        }
    }

    /// Whether an auth-param (`token BWS "="`) starts here; consumes nothing.
    fn looks_like_param(&self) -> bool {
        let mut ahead = Parser {
            input: self.input,
            pos: self.pos,
        };
        ahead.token().is_some() && {
            ahead.skip_ows();
            ahead.peek() == Some(b'=')
        }
    }

    /// A token68 that ends the challenge (followed by the end or a comma); otherwise consumes
    /// nothing, so that `realm="x"` is read as a parameter.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_token68_char) {
            self.pos += 1;
        }
        if self.pos > start {
            while self.peek() == Some(b'=') {
                self.pos += 1;
            }
            let end = self.pos;
            self.skip_ows();
            if self.at_end() || self.peek() == Some(b',') {
                return self.input.get(start..end);
            }
        }
        self.pos = start;
        None
    }

    /// One `auth-param`, added to `challenge`.
    fn param(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        let name = self
            .token()
            .ok_or_else(|| self.error("expected an auth-param name"))?;
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Err(self.error("expected '=' after the auth-param name"));
        }
        self.pos += 1;
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token()
                .ok_or_else(|| self.error("expected a token or a quoted-string after '='"))?
                .to_owned()
        };
        if challenge.params.len() == MAX_PARAMS_PER_CHALLENGE {
            return Err(ChallengeError::TooManyParams);
        }
        if challenge.param(name).is_some() {
            return Err(ChallengeError::DuplicateParam {
                scheme: challenge.scheme.clone(),
                name: name.to_owned(),
            });
        }
        challenge.params.push((name.to_owned(), value));
        Ok(())
    }

    /// After the scheme or an auth-param: further auth-params follow commas, until the end or
    /// an element that is not an auth-param (the next challenge, left unconsumed).
    fn rest_of_params(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        loop {
            self.skip_ows();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => self.skip_list_separators(),
                Some(_) => return Err(self.error("expected ',' after an auth-param")),
            }
            if !self.looks_like_param() {
                return Ok(());
            }
            self.param(challenge)?;
        }
    }

    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`, unescaped.
    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        let start = self.pos + 1;
        let body = self.input.get(start..).unwrap_or_default();
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + offset + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) if is_quoted_pair_char(escaped) => value.push(escaped),
                    _ => {
                        self.pos = start + offset;
                        return Err(self.error("invalid quoted-pair in quoted-string"));
                    }
                },
                c if is_qdtext(c) => value.push(c),
                _ => {
                    self.pos = start + offset;
                    return Err(self.error("control character in quoted-string"));
                }
            }
        }
        self.pos = self.input.len();
        Err(self.error("unterminated quoted-string"))
    }
}

/// `tchar` ([RFC 9110 §5.6.2](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2)).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Whether `s` is a `token` (`1*tchar`).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`.
fn is_qdtext(c: char) -> bool {
    matches!(c, '\t' | ' ' | '!' | '#'..='[' | ']'..='~') || !c.is_ascii()
}

/// What may follow `\` in a `quoted-pair`: `HTAB / SP / VCHAR / obs-text`.
fn is_quoted_pair_char(c: char) -> bool {
    matches!(c, '\t' | ' '..='~') || !c.is_ascii()
}

/// A control character a field value cannot carry: `%x00-08 / %x0A-1F / %x7F` (RFC 9110 §5.5).
/// Horizontal tab is allowed.
pub(crate) fn is_forbidden_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || c == '\u{7f}'
}

/// Appends `value` as a `quoted-string`: `"` and `\` are escaped with a backslash. Control
/// characters are dropped; callers refuse them earlier, and dropping them here too means no
/// value can ever split a header.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_forbidden_control(c) => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Vec<Challenge> {
        parse_challenges(value).unwrap()
    }

    #[test]
    fn rfc9110_section_11_6_1_example() {
        let challenges = parse(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].scheme(), "Newauth");
        assert_eq!(challenges[0].param("realm"), Some("apps"));
        assert_eq!(challenges[0].param("type"), Some("1"));
        assert_eq!(challenges[0].param("title"), Some(r#"Login to "apps""#));
        assert!(challenges[1].is_scheme("basic"));
        assert_eq!(challenges[1].param("REALM"), Some("simple"));
    }

    #[test]
    fn token68_challenges() {
        let challenges = parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm=\"x\"");
        assert_eq!(challenges[0].token68(), Some("YWxhZGRpbjpvcGVuc2VzYW1l=="));
        assert_eq!(challenges[1].param("realm"), Some("x"));
        assert_eq!(parse("Negotiate abc")[0].token68(), Some("abc"));
        // Grammatically a token68, not a parameter without a value.
        assert_eq!(parse("Bearer realm=")[0].token68(), Some("realm="));
        assert!(parse_challenges("Basic abc=, realm=\"x\"").is_err());
    }

    #[test]
    fn bws_around_equals_and_empty_elements() {
        let challenges = parse(" , Bearer realm = \"a\" ,, scope=b , ,Basic,");
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].param("realm"), Some("a"));
        assert_eq!(challenges[0].param("scope"), Some("b"));
        assert!(challenges[1].is_scheme("Basic"));
        assert_eq!(challenges[1].params().count(), 0);
        assert!(parse("").is_empty());
        assert_eq!(parse("Bearer")[0].params().count(), 0);
    }

    #[test]
    fn rfc9110_section_11_2_parameter_must_occur_once() {
        assert_eq!(
            parse_challenges("Bearer realm=\"a\", Realm=\"b\""),
            Err(ChallengeError::DuplicateParam {
                scheme: "Bearer".into(),
                name: "Realm".into()
            })
        );
        // The same name in two challenges is fine.
        assert_eq!(parse("Bearer realm=a, Basic realm=b").len(), 2);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "Bearer realm=\"unterminated",
            "Bearer realm=\"a\nb\"",
            "Bearer realm=\"a\\\u{1}\"",
            "Bearer realm=\"x\", scope=",
            "Bearer realm=, x=y",
            "Bearer realm=a b",
            "Bearer \"x\"",
            "Bearer\"x\"",
            "realm=\"x\"",
            "Bearer realm=\"x\" Basic",
            "=",
            "Bearer realm=\"x\", \"y\"",
            "B\u{e9}arer x=y",
        ] {
            assert!(parse_challenges(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parameter_count_is_bounded() {
        let many: Vec<String> = (0..MAX_PARAMS_PER_CHALLENGE)
            .map(|i| format!("p{i}=v"))
            .collect();
        assert!(parse_challenges(&format!("X {}", many.join(", "))).is_ok());
        assert_eq!(
            parse_challenges(&format!("X {}, last=v", many.join(", "))),
            Err(ChallengeError::TooManyParams)
        );
    }

    #[test]
    fn obs_text_is_accepted_in_quoted_strings() {
        assert_eq!(
            parse("Bearer realm=\"caf\u{e9}\"")[0].param("realm"),
            Some("caf\u{e9}")
        );
    }

    #[test]
    fn quoting_escapes_and_drops_controls() {
        let mut out = String::new();
        push_quoted(&mut out, "a\"b\\c\r\nd\te");
        assert_eq!(out, "\"a\\\"b\\\\cd\te\"");
    }
}
