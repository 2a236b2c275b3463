//! RFC 8414 OAuth 2.0 authorization server metadata: document, builder, validation and
//! well-known URL derivation.
//!
//! - [`AuthorizationServerMetadata`] is the document of
//!   [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2), with the RFC 9207 `iss`
//!   flag and the MCP `client_id_metadata_document_supported` flag. Members this crate does not
//!   know are kept in `extra`, so documents round-trip.
//! - [`AuthorizationServerMetadata::validate`] enforces the MUSTs of RFC 8414;
//!   [`AuthorizationServerMetadata::validate_for_mcp`] adds what the MCP authorization
//!   specification requires of a server an MCP client may use.
//! - [`AuthorizationServerMetadata::check_issuer`] is the
//!   [RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3) comparison a client makes
//!   after fetching a document.
//! - [`well_known_url`] and [`discovery_urls`] derive where a document lives.
//!
//! This crate does no IO: fetching is the caller's business.
//!
//! # Local development
//!
//! RFC 8414 requires `https` for the issuer and the endpoints. This crate also accepts `http` on
//! the loopback hosts `127.0.0.1`, `[::1]` and `localhost` (the rule of
//! [`gatehouse_types::uri::check_web_url`]), so a server can run on a developer's machine without
//! certificates. This is a deliberate relaxation of the RFC; nothing else is relaxed.

#![forbid(unsafe_code)]

mod builder;
mod error;
mod metadata;
mod validate;
mod well_known;

pub use builder::AuthorizationServerMetadataBuilder;
pub use error::AsMetadataError;
pub use metadata::{AuthorizationServerMetadata, KNOWN_MEMBERS, ResponseMode};
pub use well_known::{
    OPENID_CONFIGURATION_SUFFIX, WELL_KNOWN_SUFFIX, discovery_urls, well_known_url,
};
