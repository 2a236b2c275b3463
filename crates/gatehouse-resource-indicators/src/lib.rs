//! RFC 8707 resource indicators: canonical resource URIs, comparison and invalid_target.
//!
//! A client names the protected resource it wants a token for with the `resource` parameter
//! ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)); MCP clients send the
//! canonical URI of the MCP server. [`ResourceUri`] is such a URI, parsed and put in canonical
//! form; [`resolve_resources`] turns the requested values into the configured resources a token
//! may be issued for, or the `invalid_target` error ([`InvalidTarget`], answered on the wire
//! through [`OAuthError`]).
//!
//! Parse entry point: [`ResourceUri::parse`] (also reached through `FromStr`, `TryFrom` and
//! serde). This crate does no IO.

#![forbid(unsafe_code)]

mod error;
mod resolve;
mod resource_uri;

pub use error::InvalidTarget;
/// Re-exported so that callers can map an [`InvalidTarget`] to the wire without depending on
/// `gatehouse-types`.
pub use gatehouse_types::OAuthError;
pub use resolve::resolve_resources;
pub use resource_uri::ResourceUri;
