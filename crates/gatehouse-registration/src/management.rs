//! Registration management ([RFC 7592](https://www.rfc-editor.org/rfc/rfc7592)): read, update and
//! delete a registration at its client configuration endpoint (`registration_client_uri`,
//! `/register/{client_id}` in Gatehouse), authorized by the registration access token as a
//! bearer token.
//!
//! - **Read** ([§2.1](https://www.rfc-editor.org/rfc/rfc7592#section-2.1)): `GET`, no body;
//!   answered with 200 and a [`ClientInformationResponse`](crate::ClientInformationResponse).
//! - **Update** ([§2.2](https://www.rfc-editor.org/rfc/rfc7592#section-2.2)): `PUT` with a
//!   [`ClientUpdateRequest`]; answered with 200 and the new
//!   [`ClientInformationResponse`](crate::ClientInformationResponse), or 400 with an RFC 7591
//!   §3.2.2 error.
//! - **Delete** ([§2.3](https://www.rfc-editor.org/rfc/rfc7592#section-2.3)): `DELETE`, no body.
//!   "If a client has been successfully deprovisioned, the authorization server MUST respond
//!   with an HTTP 204 No Content message"; from then on the client identifier, its secret, its
//!   registration access token and its grants stop working.
//!
//! For all three, [§2](https://www.rfc-editor.org/rfc/rfc7592#section-2): an invalid registration
//! access token is answered as RFC 6750 §3 says (401 `invalid_token`), and "If the client does
//! not exist on this server, the server MUST respond with HTTP 401 Unauthorized" (not 404, which
//! would tell a prober which identifiers exist).

use gatehouse_types::ClientId;
use serde::{Deserialize, Serialize};

use crate::{ClientMetadata, ClientSecret, RegistrationError};

/// Members a client MUST NOT send in an update: RFC 7592 §2.2 "The client MUST NOT include the
/// `registration_access_token`, `registration_client_uri`, `client_secret_expires_at`, or
/// `client_id_issued_at` fields in this request."
pub const FORBIDDEN_UPDATE_MEMBERS: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// The body of a client update request
/// ([RFC 7592 §2.2](https://www.rfc-editor.org/rfc/rfc7592#section-2.2)): the client's whole new
/// metadata, plus its `client_id` and optionally its current `client_secret`.
///
/// The new metadata replaces the old: "Omitted fields MUST be treated as null or empty values by
/// the server, indicating the client's request to delete them". Use
/// [`ClientMetadataPolicy::check_update`](crate::ClientMetadataPolicy::check_update).
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientUpdateRequest {
    /// `client_id`: "The client MUST include its `client_id` field in the request, and it MUST be
    /// the same as its currently issued client identifier."
    pub client_id: ClientId,
    /// `client_secret`: "If the client includes the `client_secret` field in the request, the
    /// value of this field MUST match the currently issued client secret for that client. The
    /// client MUST NOT be allowed to overwrite its existing client secret with its own chosen
    /// value."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// The new client metadata, as top-level members.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl ClientUpdateRequest {
    /// An update request for `client_id` with the new `metadata`.
    pub fn builder(client_id: ClientId, metadata: ClientMetadata) -> ClientUpdateRequestBuilder {
        ClientUpdateRequestBuilder {
            request: Self {
                client_id,
                client_secret: None,
                metadata,
            },
        }
    }

    /// Parses an update request from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RegistrationError> {
        crate::from_json(bytes)
    }

    /// Serializes the request to JSON.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }

    /// The `client_secret` the client sent, if any. When present, RFC 7592 §2.2 says it "MUST
    /// match the currently issued client secret": the engine compares it, in constant time,
    /// and refuses the update when it does not match. It never becomes the new secret.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }

    /// Enforces the request's own MUSTs: none of the [`FORBIDDEN_UPDATE_MEMBERS`]
    /// (`invalid_client_metadata`), and metadata that passes [`ClientMetadata::validate`].
    pub fn validate(&self) -> Result<(), RegistrationError> {
        if let Some(member) = FORBIDDEN_UPDATE_MEMBERS
            .iter()
            .find(|m| self.metadata.extra.contains_key(**m))
        {
            return Err(RegistrationError::ForbiddenUpdateMember(member));
        }
        self.metadata.validate()
    }

    /// [`validate`](Self::validate), and the `client_id` is `current`, the identifier of the
    /// client whose registration access token authorized the request.
    pub fn validate_for(&self, current: &ClientId) -> Result<(), RegistrationError> {
        if &self.client_id != current {
            return Err(RegistrationError::ClientIdMismatch);
        }
        self.validate()
    }
}

/// Builds a [`ClientUpdateRequest`].
#[derive(Debug)]
pub struct ClientUpdateRequestBuilder {
    request: ClientUpdateRequest,
}

impl ClientUpdateRequestBuilder {
    /// Includes the client's current secret.
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.request.client_secret = Some(secret);
        self
    }

    /// The request.
    pub fn build(self) -> ClientUpdateRequest {
        self.request
    }
}
