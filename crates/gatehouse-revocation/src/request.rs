//! The revocation request ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)).

use std::fmt;
use std::ops::{Deref, DerefMut};

use gatehouse_types::{ErrorCode, SecretString, TokenForm, TokenTypeHint};

use crate::RevocationError;

/// The form body a client POSTs to the revocation endpoint.
///
/// [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1) defines `token`
/// (REQUIRED) and `token_type_hint` (OPTIONAL), the same two parameters as an introspection
/// request, so the body is a [`TokenForm`]; its fields are reached through `Deref`:
///
/// - `token`: the token to revoke, a [`SecretString`] (redacted `Debug`, constant-time
///   equality), never empty when parsed or built with [`RevocationRequest::new`];
/// - `token_type_hint`: what kind of token the client says it is. Values this crate does not
///   know are kept: "An authorization server MAY ignore this parameter" (RFC 7009 §2.1);
/// - `extra`: other parameters. They may carry client credentials (`client_id` and
///   `client_secret` of `client_secret_post`), so `Debug` prints their names only.
#[derive(PartialEq, Eq)]
pub struct RevocationRequest(TokenForm);

impl RevocationRequest {
    /// A request to revoke `token`, without hint or other parameters. An empty token is
    /// refused, as RFC 6749 §3.1 treats it as omitted.
    pub fn new(token: SecretString) -> Result<Self, RevocationError> {
        Ok(Self(TokenForm::new(token)?))
    }

    /// Adds a `token_type_hint`.
    pub fn with_token_type_hint(mut self, hint: TokenTypeHint) -> Self {
        self.0.token_type_hint = Some(hint);
        self
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// Refuses a body without `token` ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1):
    /// "token REQUIRED") and any repeated parameter
    /// ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)); every refusal is
    /// `invalid_request`. The token value itself is not judged: an invalid token is answered
    /// with 200 (RFC 7009 §2.2).
    pub fn from_form(body: &[u8]) -> Result<Self, RevocationError> {
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

    /// The token types to look the token up as, in order: the hinted type first when the
    /// server supports it, then every other supported type.
    ///
    /// [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1): "If the server is
    /// unable to locate the token using the given hint, it MUST extend its search across all of
    /// its supported token types." A hint is never a reason to skip a type.
    pub fn search_order<'a>(&self, supported: &'a [TokenTypeHint]) -> Vec<&'a TokenTypeHint> {
        let hinted = supported
            .iter()
            .filter(|t| Some(*t) == self.token_type_hint.as_ref());
        let others = supported
            .iter()
            .filter(|t| Some(*t) != self.token_type_hint.as_ref());
        hinted.chain(others).collect()
    }
}

/// The error for a token the server found but does not revoke, if any.
///
/// [RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1):
/// `unsupported_token_type`: "The authorization server does not support the revocation of the
/// presented token type. That is, the client tried to revoke an access token on a server not
/// supporting this feature." Returns `Some(ErrorCode::UnsupportedTokenType)` (400) when `found`
/// is not among `revocable`, `None` when the server revokes tokens of that type.
///
/// `found` is the type the server determined the token to be, never the client's
/// `token_type_hint`: a hint for a type the server does not revoke still requires searching the
/// other types (see [`RevocationRequest::search_order`]), and a token the server cannot find at
/// all is answered with 200, not with this error.
pub fn unsupported_token_type(
    found: &TokenTypeHint,
    revocable: &[TokenTypeHint],
) -> Option<ErrorCode> {
    (!revocable.contains(found)).then_some(ErrorCode::UnsupportedTokenType)
}

impl From<TokenForm> for RevocationRequest {
    fn from(form: TokenForm) -> Self {
        Self(form)
    }
}

impl Deref for RevocationRequest {
    type Target = TokenForm;

    fn deref(&self) -> &TokenForm {
        &self.0
    }
}

impl DerefMut for RevocationRequest {
    fn deref_mut(&mut self) -> &mut TokenForm {
        &mut self.0
    }
}

impl fmt::Debug for RevocationRequest {
    /// `TokenForm`'s `Debug`: the token redacted, only the names of other parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RevocationRequest").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_types::TokenFormError;

    use super::*;

    #[test]
    fn empty_token_is_missing() {
        assert_eq!(
            RevocationRequest::new(SecretString::new("")),
            Err(RevocationError::Request(TokenFormError::MissingToken))
        );
    }

    #[test]
    fn debug_hides_token_and_extra_values() {
        let req =
            RevocationRequest::from_form(b"token=s3cr3t-token&client_secret=hunter2").unwrap();
        let printed = format!("{req:?}");
        assert!(printed.starts_with("RevocationRequest("));
        assert!(!printed.contains("s3cr3t"));
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("client_secret"));
    }

    #[test]
    fn to_form_never_repeats_known_parameters() {
        let mut req = RevocationRequest::new(SecretString::new("abc"))
            .unwrap()
            .with_token_type_hint(TokenTypeHint::RefreshToken);
        req.extra
            .insert("token_type_hint".into(), "access_token".into());
        req.extra.insert("client_id".into(), "c1".into());
        assert_eq!(
            req.to_form(),
            "token=abc&token_type_hint=refresh_token&client_id=c1"
        );
    }

    #[test]
    fn search_order_without_or_with_unsupported_hint_keeps_server_order() {
        let supported = [TokenTypeHint::RefreshToken, TokenTypeHint::AccessToken];
        let req = RevocationRequest::new(SecretString::new("abc")).unwrap();
        assert_eq!(req.search_order(&supported), [&supported[0], &supported[1]]);
        let req = RevocationRequest::from_form(b"token=abc&token_type_hint=urn:x").unwrap();
        assert_eq!(req.search_order(&supported), [&supported[0], &supported[1]]);
        let only_refresh = [TokenTypeHint::RefreshToken];
        let req = RevocationRequest::new(SecretString::new("abc"))
            .unwrap()
            .with_token_type_hint(TokenTypeHint::AccessToken);
        assert_eq!(req.search_order(&only_refresh), [&only_refresh[0]]);
    }
}
