//! RFC 7662 token introspection request and response.
//!
//! A protected resource asks the authorization server about a token with an
//! [`IntrospectionRequest`] (a form body, [RFC 7662 §2.1](https://www.rfc-editor.org/rfc/rfc7662#section-2.1))
//! and gets an [`IntrospectionResponse`] back (a JSON object,
//! [RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2)): either
//! `{"active":false}` and nothing else, or an [`ActiveToken`] with the token's claims.
//!
//! Parse entry points: [`IntrospectionRequest::from_form`] and [`IntrospectionResponse::from_json`].
//! This crate does no IO.

#![forbid(unsafe_code)]

mod audience;
mod error;
mod request;
mod response;

pub use audience::Audience;
pub use error::IntrospectionError;
pub use request::IntrospectionRequest;
pub use response::{ActiveToken, ActiveTokenBuilder, IntrospectionResponse};

/// Re-exported so that callers can name the token, the hint and the form, and map errors to the
/// wire, without depending on `gatehouse-types`.
pub use gatehouse_types::{OAuthError, SecretString, TokenForm, TokenFormError, TokenTypeHint};
