//! RFC 9728 protected resource metadata and the RFC 6750 `WWW-Authenticate: Bearer` challenge.
//!
//! - [`ProtectedResourceMetadata`] is the document of
//!   [RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2). Members this crate does not
//!   know are kept in `extra`, so documents round-trip.
//!   [`ProtectedResourceMetadata::validate`] enforces the MUSTs of RFC 9728,
//!   [`ProtectedResourceMetadata::validate_for_mcp`] adds MCP's, and
//!   [`ProtectedResourceMetadata::check_resource`] is the
//!   [§3.3](https://www.rfc-editor.org/rfc/rfc9728#section-3.3) comparison a client makes after
//!   fetching a document. [`well_known_url`] and [`discovery_urls`] derive where it lives.
//! - [`BearerChallenge`] builds and reads the `WWW-Authenticate` value of
//!   [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3), with the
//!   `resource_metadata` parameter of
//!   [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1) that sends MCP clients
//!   to the metadata. [`parse_challenges`] reads any `WWW-Authenticate` value
//!   ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)).
//!
//! This crate does no IO.
//!
//! # Local development
//!
//! RFC 9728 requires `https` for the resource identifier, the authorization server issuers and
//! `jwks_uri`. This crate also accepts `http` on the loopback hosts `127.0.0.1`, `[::1]` and
//! `localhost` (the rule of [`gatehouse_types::uri::check_web_url`]), so a resource can run on a
//! developer's machine without certificates. This is a deliberate relaxation of the RFC; the
//! same rule applies to `resource_metadata` in challenges.

#![forbid(unsafe_code)]

mod bearer;
mod builder;
mod challenge;
mod error;
mod metadata;
mod validate;
mod well_known;

pub use bearer::{BearerChallenge, BearerChallengeBuilder};
pub use builder::ProtectedResourceMetadataBuilder;
pub use challenge::{Challenge, MAX_PARAMS_PER_CHALLENGE, parse_challenges};
pub use error::{ChallengeError, ResourceMetadataError};
pub use metadata::{BearerMethod, KNOWN_MEMBERS, ProtectedResourceMetadata};
pub use well_known::{WELL_KNOWN_SUFFIX, discovery_urls, well_known_url};
