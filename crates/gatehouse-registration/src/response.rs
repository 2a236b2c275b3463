//! The client information response
//! ([RFC 7591 §3.2.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1), extended by
//! [RFC 7592 §3](https://www.rfc-editor.org/rfc/rfc7592#section-3)).

use gatehouse_types::{ClientId, UnixTime};
use serde::{Deserialize, Serialize};

use crate::{ClientMetadata, ClientSecret, RegistrationAccessToken, RegistrationError, checks};

/// A successful registration (HTTP 201), and the answer to a read or update of a registration
/// (HTTP 200, [RFC 7592 §3](https://www.rfc-editor.org/rfc/rfc7592#section-3)).
///
/// Serve it with `Cache-Control: no-store`: it carries secrets.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegistrationResponse {
    /// `client_id`: REQUIRED.
    pub client_id: ClientId,
    /// `client_secret`: OPTIONAL; "If issued, this MUST be unique for each `client_id`".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// `client_id_issued_at`: OPTIONAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<UnixTime>,
    /// `client_secret_expires_at`: "REQUIRED if `client_secret` is issued"; 0 means never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<UnixTime>,
    /// `registration_access_token` (RFC 7592 §3): authorizes reads, updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<RegistrationAccessToken>,
    /// `registration_client_uri` (RFC 7592 §3): the client configuration endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// "all registered metadata about this client, including any fields provisioned by the
    /// authorization server itself" (RFC 7591 §3.2.1), as top-level members.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

/// The response to a read (`GET`) or update (`PUT`) of the client configuration endpoint
/// ([RFC 7592 §3](https://www.rfc-editor.org/rfc/rfc7592#section-3)): the same shape as the
/// registration response.
pub type ClientInformationResponse = RegistrationResponse;

impl RegistrationResponse {
    /// A response for `client_id`; add the registered metadata and any credentials.
    pub fn builder(client_id: ClientId) -> RegistrationResponseBuilder {
        RegistrationResponseBuilder {
            response: Self {
                client_id,
                client_secret: None,
                client_id_issued_at: None,
                client_secret_expires_at: None,
                registration_access_token: None,
                registration_client_uri: None,
                metadata: ClientMetadata::default(),
            },
        }
    }

    /// Parses a response from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RegistrationError> {
        crate::from_json(bytes)
    }

    /// Serializes the response to JSON.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }

    /// Enforces the MUSTs of the response:
    ///
    /// - RFC 7591 §3.2.1: `client_secret_expires_at` is "REQUIRED if `client_secret` is issued";
    /// - RFC 7592 §3: `registration_access_token` and `registration_client_uri` are both
    ///   REQUIRED, so one without the other is refused; the URI is a web URL;
    /// - the metadata passes [`ClientMetadata::validate`] (e.g. RFC 7591 §2: `jwks` and
    ///   `jwks_uri` "MUST NOT both be present in the same request or response").
    pub fn validate(&self) -> Result<(), RegistrationError> {
        if self.client_secret.is_some() && self.client_secret_expires_at.is_none() {
            return Err(RegistrationError::MissingClientSecretExpiresAt);
        }
        if self.registration_access_token.is_some() != self.registration_client_uri.is_some() {
            return Err(RegistrationError::IncompleteManagementCredentials);
        }
        if let Some(uri) = &self.registration_client_uri {
            checks::web_url("registration_client_uri", uri)?;
        }
        self.metadata.validate()
    }
}

/// Builds a [`RegistrationResponse`].
#[derive(Debug)]
pub struct RegistrationResponseBuilder {
    response: RegistrationResponse,
}

impl RegistrationResponseBuilder {
    /// The registered metadata, usually
    /// [`RegisteredClientMetadata::to_metadata`](crate::RegisteredClientMetadata::to_metadata).
    pub fn metadata(mut self, metadata: ClientMetadata) -> Self {
        self.response.metadata = metadata;
        self
    }

    /// The issued secret and when it expires (`UnixTime::EPOCH`, i.e. 0, for never): the two
    /// come together because RFC 7591 §3.2.1 requires `client_secret_expires_at` with a secret.
    pub fn client_secret(mut self, secret: ClientSecret, expires_at: UnixTime) -> Self {
        self.response.client_secret = Some(secret);
        self.response.client_secret_expires_at = Some(expires_at);
        self
    }

    /// When the client identifier was issued.
    pub fn client_id_issued_at(mut self, issued_at: UnixTime) -> Self {
        self.response.client_id_issued_at = Some(issued_at);
        self
    }

    /// The RFC 7592 management credentials: the registration access token and the client
    /// configuration endpoint URL.
    pub fn management(
        mut self,
        token: RegistrationAccessToken,
        registration_client_uri: impl Into<String>,
    ) -> Self {
        self.response.registration_access_token = Some(token);
        self.response.registration_client_uri = Some(registration_client_uri.into());
        self
    }

    /// The response.
    pub fn build(self) -> RegistrationResponse {
        self.response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_pairs_secret_with_expiry() {
        let response = RegistrationResponse::builder(ClientId::new("s6BhdRkqt3").unwrap())
            .client_secret(ClientSecret::new("hunter2"), UnixTime::EPOCH)
            .build();
        assert!(response.validate().is_ok());
        let json: serde_json::Value = serde_json::from_str(&response.to_json()).unwrap();
        assert_eq!(json["client_secret_expires_at"], 0);
        assert!(!format!("{response:?}").contains("hunter2"));
    }

    #[test]
    fn rfc7591_section_3_2_1_client_secret_expires_at_required_with_secret() {
        let body = br#"{"client_id":"a","client_secret":"s"}"#;
        let response = RegistrationResponse::from_json(body).unwrap();
        assert_eq!(
            response.validate(),
            Err(RegistrationError::MissingClientSecretExpiresAt)
        );
    }

    #[test]
    fn rfc7591_section_3_2_1_client_id_required() {
        assert!(RegistrationResponse::from_json(br#"{"client_secret":"s"}"#).is_err());
    }

    #[test]
    fn rfc7592_section_3_token_and_uri_come_together() {
        let body = br#"{"client_id":"a","registration_access_token":"t"}"#;
        let response = RegistrationResponse::from_json(body).unwrap();
        assert_eq!(
            response.validate(),
            Err(RegistrationError::IncompleteManagementCredentials)
        );
    }
}
