//! The OAuth 2.1 vocabulary shared by every Gatehouse crate.
//!
//! Every value here can only exist valid: constructors parse, and the fields are private, so a
//! [`RedirectUri`] or a [`Scope`] that reached your code has already passed the rules of its RFC
//! ("parse, don't validate"). Registry values such as [`GrantType`] keep values this crate does
//! not know, so documents from newer peers round-trip, but such values cannot be built by hand.
//!
//! This crate does no IO: no clock, no randomness, no network.

#![forbid(unsafe_code)]

#[macro_use]
mod string_enum;
mod client_id;
mod error;
pub mod form;
pub mod metadata;
mod oauth_error;
pub mod policy;
pub mod rate;
mod redirect_uri;
mod registry;
mod scope;
mod secret;
mod time;
mod token_form;
pub mod untrusted;
pub mod uri;

pub use client_id::{ClientId, ClientIdError};
pub use error::{ErrorCode, ErrorDescription, ErrorResponse};
pub use oauth_error::OAuthError;
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use registry::{
    CodeChallengeMethod, GrantType, ResponseType, TokenEndpointAuthMethod, TokenTypeHint,
};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secret::SecretString;
#[doc(hidden)]
pub use string_enum::__support as __string_enum_support;
pub use string_enum::{InvalidValue, PrivOwnedStr};
pub use time::{UnixTime, format_utc};
pub use token_form::{TokenForm, TokenFormError};
pub use untrusted::Untrusted;
