//! Dynamic client registration ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)): the policy
//! decides what is acceptable, the engine mints the credentials and stores the client.

use gatehouse_registration::{
    ClientMetadata, ClientMetadataPolicy, ClientSecret, OAuthError, RegistrationAccessToken,
    RegistrationResponse,
};
use gatehouse_types::{ClientId, UnixTime};

use crate::error::EndpointError;
use crate::opaque::{self, CredentialHash, CredentialKind};
use crate::store::{ClientRecord, Store, StoreError};
use crate::token::random_id;
use crate::{Engine, RandomSource};

/// A new client id: 128 random bits as hex, for registered clients and for those an operator
/// adds.
pub fn new_client_id(rng: &mut impl RandomSource) -> String {
    random_id(rng)
}

impl<S: Store> Engine<S> {
    /// Registers a client described by `metadata` if `policy` accepts it, and returns the RFC
    /// 7591 §3.2.1 response: a new `client_id`, a client secret when the auth method needs one
    /// (never expiring: `client_secret_expires_at` 0), and an RFC 7592 registration access token
    /// with its `registration_client_uri`. Only hashes of the secrets are stored.
    pub async fn register(
        &self,
        policy: &ClientMetadataPolicy,
        metadata: &ClientMetadata,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<RegistrationResponse, EndpointError> {
        let registered = policy
            .check(metadata)
            .map_err(|e| EndpointError::new(e.error_code(), e.to_string()))?;
        let client_id = ClientId::new(new_client_id(rng)).map_err(|e| {
            EndpointError::new(gatehouse_types::ErrorCode::ServerError, e.to_string())
        })?;
        let secret = registered
            .needs_client_secret()
            .then(|| opaque::generate(CredentialKind::ClientSecret, rng));
        let registration_token = opaque::generate(CredentialKind::RegistrationToken, rng);
        let record = ClientRecord {
            client_id: client_id.clone(),
            metadata: registered.clone(),
            secret_hash: secret
                .as_ref()
                .map(|s| CredentialHash::of(s.expose_secret())),
            secret_expires_at: None,
            registration_token_hash: Some(CredentialHash::of(registration_token.expose_secret())),
            issued_at: now,
            introspection_resources: Vec::new(),
        };
        match self.store().insert_client(record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                return Err(EndpointError::new(
                    gatehouse_types::ErrorCode::ServerError,
                    "client_id collision; retry",
                ));
            }
            Err(other) => return Err(other.into()),
        }
        let mut response = RegistrationResponse::builder(client_id.clone())
            .metadata(registered.to_metadata())
            .client_id_issued_at(now)
            .management(
                RegistrationAccessToken::new(registration_token.expose_secret()),
                format!(
                    "{}/register/{}",
                    self.config().issuer().trim_end_matches('/'),
                    client_id
                ),
            );
        if let Some(secret) = secret {
            response =
                response.client_secret(ClientSecret::new(secret.expose_secret()), UnixTime::EPOCH);
        }
        Ok(response.build())
    }
}
