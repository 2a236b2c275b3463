//! `application/x-www-form-urlencoded` request bodies, read the way RFC 6749 wants them read.
//!
//! [RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1): "Parameters sent without a
//! value MUST be treated as if they were omitted from the request" and "Request and response
//! parameters MUST NOT be included more than once." Repeated parameters are refused unless the
//! caller asks for a repeatable one (RFC 8707 `resource`).

/// Most parameters a body may carry; real requests carry about ten.
pub const MAX_PARAMS: usize = 128;

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// Invalid UTF-8 after percent-decoding.
    #[error("form body is not valid UTF-8 after percent-decoding")]
    InvalidUtf8,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("form body has more than 128 parameters")]
    TooManyParams,
    /// A single-valued parameter appeared twice.
    #[error("parameter {0} is included more than once (RFC 6749 §3.1)")]
    Repeated(String),
}

/// The decoded parameters of a form body, in order. Parameters with an empty value are dropped,
/// as RFC 6749 §3.1 requires.
#[derive(Clone, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for FormParams {
    /// Prints names only: values include tokens, secrets and codes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FormParams {
    /// Decodes a form body.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut pairs = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            // The decoder replaces invalid UTF-8 with U+FFFD; a replaced byte means the client
            // sent something else than it meant, so refuse rather than guess.
            if contains_replacement(&name) || contains_replacement(&value) {
                return Err(FormError::InvalidUtf8);
            }
            if value.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(FormError::TooManyParams);
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self { pairs })
    }

    /// The value of a single-valued parameter; `Repeated` when it appears more than once.
    pub fn single<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, FormError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(FormError::Repeated(name.to_owned()));
        }
        Ok(first)
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Refuses the body if any parameter other than `repeatable` ones appears twice.
    pub fn refuse_repeats(&self, repeatable: &[&str]) -> Result<(), FormError> {
        for (i, (name, _)) in self.pairs.iter().enumerate() {
            if repeatable.contains(&name.as_str()) {
                continue;
            }
            if self.pairs.iter().skip(i + 1).any(|(n, _)| n == name) {
                return Err(FormError::Repeated(name.clone()));
            }
        }
        Ok(())
    }
}

fn contains_replacement(s: &str) -> bool {
    s.contains('\u{FFFD}')
}

/// Encodes parameters as a form body.
pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_3_1_empty_values_are_omitted() {
        let form = FormParams::parse(b"token=abc&token_type_hint=").unwrap();
        assert_eq!(form.single("token").unwrap(), Some("abc"));
        assert_eq!(form.single("token_type_hint").unwrap(), None);
    }

    #[test]
    fn rfc6749_section_3_1_parameters_must_not_repeat() {
        let form = FormParams::parse(b"token=a&token=b").unwrap();
        assert_eq!(
            form.single("token"),
            Err(FormError::Repeated("token".into()))
        );
        assert!(form.refuse_repeats(&[]).is_err());
        let form = FormParams::parse(b"resource=a&resource=b&x=1").unwrap();
        assert!(form.refuse_repeats(&["resource"]).is_ok());
        assert_eq!(form.all("resource").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn percent_and_plus_decoding() {
        let form = FormParams::parse(b"scope=a+b&uri=https%3A%2F%2Fx").unwrap();
        assert_eq!(form.single("scope").unwrap(), Some("a b"));
        assert_eq!(form.single("uri").unwrap(), Some("https://x"));
        assert_eq!(FormParams::parse(b"a=%ff"), Err(FormError::InvalidUtf8));
    }

    #[test]
    fn debug_does_not_print_values() {
        let form = FormParams::parse(b"client_secret=hunter2").unwrap();
        assert!(!format!("{form:?}").contains("hunter2"));
    }

    #[test]
    fn encode_round_trips() {
        let body = encode([("token", "a b&c"), ("token_type_hint", "refresh_token")]);
        let form = FormParams::parse(body.as_bytes()).unwrap();
        assert_eq!(form.single("token").unwrap(), Some("a b&c"));
    }
}
