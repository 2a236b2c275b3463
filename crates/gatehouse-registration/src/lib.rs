//! Dynamic client registration for Gatehouse: the documents of
//! [RFC 7591](https://www.rfc-editor.org/rfc/rfc7591) (registration) and
//! [RFC 7592](https://www.rfc-editor.org/rfc/rfc7592) (management), the policy deciding which
//! client metadata this server accepts, and
//! [Client ID Metadata Documents](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document)
//! (an `https` URL as `client_id`).
//!
//! The flow at `POST /register`:
//!
//! ```
//! use gatehouse_registration::{ClientMetadataPolicy, RegistrationRequest, RegistrationResponse};
//! use gatehouse_types::{ClientId, UnixTime};
//!
//! let body = br#"{
//!     "client_name": "Example MCP client",
//!     "redirect_uris": ["http://localhost:3118/callback"],
//!     "grant_types": ["authorization_code", "refresh_token"],
//!     "token_endpoint_auth_method": "none"
//! }"#;
//! let policy = ClientMetadataPolicy::new();
//! let registered = RegistrationRequest::from_json(body)
//!     .and_then(|request| policy.check(&request))
//!     .expect("an ordinary MCP client registers");
//! assert!(!registered.needs_client_secret());
//!
//! // The engine picks the identifier (and a secret when `needs_client_secret`), stores the
//! // registration and answers 201 with:
//! let response = RegistrationResponse::builder(ClientId::new("c-7f3a").unwrap())
//!     .client_id_issued_at(UnixTime::from_secs(1_760_000_000))
//!     .metadata(registered.to_metadata())
//!     .build();
//! assert!(response.validate().is_ok());
//! ```
//!
//! A refusal becomes the RFC 7591 §3.2.2 error body with [`OAuthError::error_response`]
//! (HTTP 400; the trait is re-exported from `gatehouse-types`).
//!
//! Parse entry points (each is a fuzz target): [`ClientMetadata::from_json`] (also
//! [`RegistrationRequest`]), [`RegistrationResponse::from_json`] (also
//! [`ClientInformationResponse`]), [`ClientUpdateRequest::from_json`],
//! [`ClientIdMetadataDocument::from_json`], [`validate_client_id_url`], and the decisions
//! [`ClientMetadataPolicy::check`], [`ClientMetadataPolicy::check_update`] and
//! [`ClientMetadataPolicy::check_metadata_document`].
//!
//! This crate does no IO: no clock (times come in as `UnixTime`), no randomness (identifiers
//! and secrets come in), no network (Client ID Metadata Documents come in fetched).

#![forbid(unsafe_code)]

mod checks;
mod cimd;
mod error;
mod management;
mod metadata;
mod policy;
mod registered;
mod response;
mod secret;

pub use cimd::{ClientIdMetadataDocument, validate_client_id_url};
pub use error::{CimdError, RegistrationError};
/// Re-exported so that callers can map a [`RegistrationError`] to the wire without depending on
/// `gatehouse-types`.
pub use gatehouse_types::OAuthError;
pub use management::{ClientUpdateRequest, ClientUpdateRequestBuilder, FORBIDDEN_UPDATE_MEMBERS};
pub use metadata::{ApplicationType, ClientMetadata, ClientMetadataBuilder, RegistrationRequest};
pub use policy::{
    ClientMetadataPolicy, DEFAULT_MAX_REDIRECT_URIS, MAX_CONTACTS, MAX_LANGUAGE_TAGGED, ScopeRule,
    SoftwareStatementRule,
};
pub use registered::RegisteredClientMetadata;
pub use response::{ClientInformationResponse, RegistrationResponse, RegistrationResponseBuilder};
pub use secret::{ClientSecret, RegistrationAccessToken};

/// Parses a JSON document, reporting syntax and type errors as `invalid_client_metadata`.
fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, RegistrationError> {
    serde_json::from_slice(bytes).map_err(|e| RegistrationError::MalformedJson(e.to_string()))
}

/// Serializes a document. These types hold only strings, numbers, arrays and string-keyed maps,
/// for which `serde_json` cannot fail; an empty string stands in for the impossible error.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
