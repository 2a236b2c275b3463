//! The introspection request ([RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1)).

use std::fmt;
use std::ops::{Deref, DerefMut};

use gatehouse_types::{SecretString, TokenForm, TokenTypeHint};

use crate::IntrospectionError;

/// The form body a protected resource POSTs to the introspection endpoint.
///
/// RFC 7662 §2.1 defines `token` (REQUIRED) and `token_type_hint` (OPTIONAL), the same two
/// parameters as a revocation request, so the body is a [`TokenForm`]; its fields are reached
/// through `Deref`:
///
/// - `token`: the token asked about, a [`SecretString`] (redacted `Debug`, constant-time
///   equality), never empty when parsed or built with [`IntrospectionRequest::new`];
/// - `token_type_hint`: what kind of token the caller thinks it is. Values this crate does not
///   know are kept: the server may ignore the hint
///   ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1), to which RFC 7662
///   defers);
/// - `extra`: other parameters ("The protected resource MAY include other parameters",
///   RFC 7662 §2.1). They may carry client credentials (`client_secret` of
///   `client_secret_post`), so `Debug` prints their names only.
#[derive(PartialEq, Eq)]
pub struct IntrospectionRequest(TokenForm);

impl IntrospectionRequest {
    /// A request about `token`, without hint or other parameters. An empty token is refused,
    /// as RFC 6749 §3.1 treats it as omitted.
    pub fn new(token: SecretString) -> Result<Self, IntrospectionError> {
        Ok(Self(TokenForm::new(token)?))
    }

    /// Adds a `token_type_hint`.
    pub fn with_token_type_hint(mut self, hint: TokenTypeHint) -> Self {
        self.0.token_type_hint = Some(hint);
        self
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// Refuses a body without `token` ([RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1):
    /// "token REQUIRED") and any repeated parameter
    /// ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)); every refusal is
    /// `invalid_request`.
    pub fn from_form(body: &[u8]) -> Result<Self, IntrospectionError> {
        Ok(Self(TokenForm::from_form(body)?))
    }

    /// Encodes the request as a form body. Entries of `extra` named `token` or `token_type_hint`
    /// are left out, so the body never carries a parameter twice.
    pub fn to_form(&self) -> String {
        self.0.to_form()
    }

    /// The form, for moving the token out (it is not `Clone`).
    pub fn into_form(self) -> TokenForm {
        self.0
    }
}

impl From<TokenForm> for IntrospectionRequest {
    fn from(form: TokenForm) -> Self {
        Self(form)
    }
}

impl Deref for IntrospectionRequest {
    type Target = TokenForm;

    fn deref(&self) -> &TokenForm {
        &self.0
    }
}

impl DerefMut for IntrospectionRequest {
    fn deref_mut(&mut self) -> &mut TokenForm {
        &mut self.0
    }
}

impl fmt::Debug for IntrospectionRequest {
    /// `TokenForm`'s `Debug`: the token redacted, only the names of other parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IntrospectionRequest")
            .field(&self.0)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_types::{OAuthError, TokenFormError};

    use super::*;

    #[test]
    fn hint_and_extra_parameters() {
        let req =
            IntrospectionRequest::from_form(b"token=abc&token_type_hint=urn:x:id_token&aud=x")
                .unwrap();
        assert_eq!(req.token.expose_secret(), "abc");
        let hint = req.token_type_hint.as_ref().unwrap();
        assert!(!hint.is_known());
        assert_eq!(hint.as_str(), "urn:x:id_token");
        assert_eq!(req.extra["aud"], "x");
    }

    #[test]
    fn malformed_hint_is_invalid_request() {
        let err = IntrospectionRequest::from_form(b"token=abc&token_type_hint=a%20b").unwrap_err();
        assert!(matches!(
            err,
            IntrospectionError::Request(TokenFormError::InvalidTokenTypeHint(_))
        ));
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn empty_token_is_missing() {
        assert!(matches!(
            IntrospectionRequest::new(SecretString::new("")),
            Err(IntrospectionError::Request(TokenFormError::MissingToken))
        ));
    }

    #[test]
    fn debug_hides_token_and_extra_values() {
        let req =
            IntrospectionRequest::from_form(b"token=s3cr3t-token&client_secret=hunter2").unwrap();
        let printed = format!("{req:?}");
        assert!(printed.starts_with("IntrospectionRequest("));
        assert!(!printed.contains("s3cr3t"));
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("client_secret"));
    }

    #[test]
    fn to_form_never_repeats_known_parameters() {
        let mut req = IntrospectionRequest::new(SecretString::new("abc")).unwrap();
        req.extra.insert("token".into(), "other".into());
        req.extra.insert("x".into(), "1".into());
        assert_eq!(req.to_form(), "token=abc&x=1");
    }
}
