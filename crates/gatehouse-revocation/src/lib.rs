//! RFC 7009 token revocation request.
//!
//! A client asks the authorization server to revoke a token with a [`RevocationRequest`], a form
//! body ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)).
//!
//! The response carries no document. [RFC 7009 §2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2):
//! "The authorization server responds with HTTP status code 200 if the token has been revoked
//! successfully or if the client submitted an invalid token." An unknown, expired, already
//! revoked or malformed token value is therefore *not* an error: the server answers 200 with an
//! empty body, because the client could do nothing useful with an error and the purpose of the
//! request (the token no longer works) is met. The errors of this crate are about the request
//! itself: a missing `token`, a repeated parameter, a malformed hint
//! ([`RevocationError`], all `invalid_request`), and the one error RFC 7009 adds,
//! `unsupported_token_type` ([`unsupported_token_type`]).
//!
//! Parse entry point: [`RevocationRequest::from_form`]. This crate does no IO.

#![forbid(unsafe_code)]

mod error;
mod request;

pub use error::RevocationError;
/// Re-exported so that callers can name the token, the hint and the form, and map errors to the
/// wire, without depending on `gatehouse-types`.
pub use gatehouse_types::{OAuthError, SecretString, TokenForm, TokenFormError, TokenTypeHint};
pub use request::{RevocationRequest, unsupported_token_type};

/// The HTTP status of every revocation that is not refused, including one for an unknown or
/// invalid token ([RFC 7009 §2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2)).
pub const REVOKED_STATUS: u16 = 200;
