//! The form body shared by introspection and revocation: a token and an optional hint.
//!
//! [RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1) and
//! [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1) define the same two
//! parameters, `token` (REQUIRED) and `token_type_hint` (OPTIONAL), plus whatever the client
//! authentication method adds. Both RFC crates build their request on this one parser.

use std::collections::BTreeMap;
use std::fmt;

use crate::form::{FormError, FormParams, encode};
use crate::{InvalidValue, SecretString, TokenTypeHint};

const TOKEN: &str = "token";
const TOKEN_TYPE_HINT: &str = "token_type_hint";

/// Why a token form was refused; all of these are `invalid_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFormError {
    /// Malformed body: invalid UTF-8, too many parameters, or a repeated parameter
    /// ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1): "Request and
    /// response parameters MUST NOT be included more than once").
    #[error("malformed form body: {0}")]
    Form(#[from] FormError),
    /// No `token`, or an empty one (RFC 6749 §3.1 treats empty as omitted).
    #[error("the token parameter is REQUIRED")]
    MissingToken,
    /// A `token_type_hint` outside the syntax of registry values. Unknown but well-formed hints
    /// are kept: the server "MAY ignore" them.
    #[error("token_type_hint is malformed: {0}")]
    InvalidTokenTypeHint(#[source] InvalidValue),
}

/// `token`, `token_type_hint` and the other parameters of the body, in a form that cannot leak
/// the token or a `client_secret` through `Debug`.
#[derive(PartialEq, Eq)]
pub struct TokenForm {
    /// The token (REQUIRED, never empty).
    pub token: SecretString,
    /// The client's guess of the token type (OPTIONAL).
    pub token_type_hint: Option<TokenTypeHint>,
    /// Other parameters, e.g. `client_id` and `client_secret` of `client_secret_post`.
    pub extra: BTreeMap<String, String>,
}

impl TokenForm {
    /// A form with a token and nothing else. Empty tokens are refused as missing.
    pub fn new(token: SecretString) -> Result<Self, TokenFormError> {
        if token.is_empty() {
            return Err(TokenFormError::MissingToken);
        }
        Ok(Self {
            token,
            token_type_hint: None,
            extra: BTreeMap::new(),
        })
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, TokenFormError> {
        Self::from_params(&FormParams::parse(body)?)
    }

    /// Reads the form from parameters already parsed (an endpoint that also reads client
    /// credentials from the same body parses it once).
    pub fn from_params(form: &FormParams) -> Result<Self, TokenFormError> {
        form.refuse_repeats(&[])?;
        let token = form.single(TOKEN)?.ok_or(TokenFormError::MissingToken)?;
        let token_type_hint = form
            .single(TOKEN_TYPE_HINT)?
            .map(TokenTypeHint::parse)
            .transpose()
            .map_err(TokenFormError::InvalidTokenTypeHint)?;
        let extra = form
            .iter()
            .filter(|(name, _)| *name != TOKEN && *name != TOKEN_TYPE_HINT)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(Self {
            token: SecretString::new(token),
            token_type_hint,
            extra,
        })
    }

    /// Encodes the form. Entries of `extra` named `token` or `token_type_hint` are left out, so
    /// the body never carries a parameter twice.
    pub fn to_form(&self) -> String {
        let known = [
            Some((TOKEN, self.token.expose_secret())),
            self.token_type_hint
                .as_ref()
                .map(|hint| (TOKEN_TYPE_HINT, hint.as_str())),
        ];
        let extra = self
            .extra
            .iter()
            .filter(|(name, _)| name.as_str() != TOKEN && name.as_str() != TOKEN_TYPE_HINT)
            .map(|(name, value)| (name.as_str(), value.as_str()));
        encode(known.into_iter().flatten().chain(extra))
    }
}

impl fmt::Debug for TokenForm {
    /// The token is redacted and only the names of other parameters are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenForm")
            .field("token", &self.token)
            .field("token_type_hint", &self.token_type_hint)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7662_section_2_1_and_rfc7009_section_2_1_token_is_required() {
        assert_eq!(
            TokenForm::from_form(b"token_type_hint=access_token"),
            Err(TokenFormError::MissingToken)
        );
        assert_eq!(
            TokenForm::from_form(b"token="),
            Err(TokenFormError::MissingToken)
        );
        let form = TokenForm::from_form(b"token=abc&token_type_hint=urn:x:y&client_id=c").unwrap();
        assert_eq!(form.token.expose_secret(), "abc");
        assert!(!form.token_type_hint.as_ref().unwrap().is_known());
        assert_eq!(form.extra["client_id"], "c");
    }

    #[test]
    fn rfc6749_section_3_1_no_repeats() {
        assert!(matches!(
            TokenForm::from_form(b"token=a&token=b"),
            Err(TokenFormError::Form(FormError::Repeated(_)))
        ));
        assert!(TokenForm::from_form(b"token=a&client_id=x&client_id=y").is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let form = TokenForm::from_form(b"token=s3cr3t&client_secret=hunter2").unwrap();
        let printed = format!("{form:?}");
        assert!(!printed.contains("s3cr3t") && !printed.contains("hunter2"));
        assert!(printed.contains("client_secret"));
    }

    #[test]
    fn to_form_round_trips_and_never_repeats() {
        let mut form = TokenForm::new(SecretString::new("a b")).unwrap();
        form.token_type_hint = Some(TokenTypeHint::RefreshToken);
        form.extra.insert("token".into(), "other".into());
        form.extra.insert("client_id".into(), "c1".into());
        let body = form.to_form();
        assert_eq!(body, "token=a+b&token_type_hint=refresh_token&client_id=c1");
        let again = TokenForm::from_form(body.as_bytes()).unwrap();
        assert_eq!(again.token.expose_secret(), "a b");
    }
}
