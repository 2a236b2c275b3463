//! Signing people in through an organisation's identity provider (`[[identity_providers]]`,
//! `docs/federation.md`). Gatehouse stays the authorization server MCP clients talk to and
//! mints its own audience-bound tokens; the provider only says who the person is, so its quirks
//! (no dynamic registration, no RFC 8707 `resource`, audiences that are not URLs) stay behind
//! Gatehouse.
//!
//! - `settings`: the configuration, checked at start;
//! - `upstream`: talking to a provider (discovery, its token endpoint, userinfo, GitHub's API);
//! - `pending`: the sign-in in flight, sealed into `state`;
//! - `identity`: who signed in, and whether they are admitted;
//! - `flow`: the redirect there and the callback here;
//! - `vault`: the provider's tokens kept for downstream calls (`keep_tokens`).

mod flow;
mod identity;
mod pending;
mod settings;
mod upstream;
mod vault;

pub(crate) use flow::{callback, start};
pub(crate) use pending::Return;
#[cfg(fuzzing)]
pub(crate) use pending::{MAX_STATE_LEN, Pending, StateError};
pub(crate) use settings::check;
#[cfg(fuzzing)]
pub(crate) use upstream::{discovery_endpoints, excerpt};
pub use vault::{UpstreamTokenError, UpstreamTokens};

use gatehouse_store::sealing::EncryptionKey;

use crate::config::{Config, ConfigError};
use upstream::Upstream;

/// Why sign-in through identity providers could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationSetupError {
    /// A secret missing from the environment.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client.
    #[error("the HTTP client for identity providers: {0}")]
    Client(String),
}

/// The configured providers, the HTTP client that talks to them, and the key that seals
/// `state`.
pub(crate) struct Federation {
    providers: Vec<Upstream>,
    /// Every configured provider's id, those that only vouch through ID-JAGs too: the
    /// namespaces (`{id}:…`) no local user may take.
    namespaces: Vec<String>,
    http: reqwest::Client,
    sealer: EncryptionKey,
}

impl Federation {
    /// The providers of `config`, with their secrets from the environment; `sealer` is a key of
    /// its own, derived from the encryption key.
    pub(crate) fn new(
        config: &Config,
        sealer: EncryptionKey,
    ) -> Result<Self, FederationSetupError> {
        let mut providers = Vec::new();
        for (index, provider) in config.identity_providers.iter().enumerate() {
            if provider.signs_in() {
                let secret = settings::secret(index, provider)?;
                providers.push(Upstream::new(provider.clone(), secret));
            }
        }
        Ok(Self {
            providers,
            namespaces: config
                .identity_providers
                .iter()
                .map(|provider| provider.id.clone())
                .collect(),
            http: upstream::http_client()
                .map_err(|e| FederationSetupError::Client(e.to_string()))?,
            sealer,
        })
    }

    /// Checks what [`Federation::new`] needs beyond the configuration file: the secrets.
    pub(crate) fn check_environment(config: &Config) -> Result<(), ConfigError> {
        for (index, provider) in config.identity_providers.iter().enumerate() {
            if provider.signs_in() {
                settings::secret(index, provider)?;
            }
        }
        Ok(())
    }

    /// The provider people sign in through with this id.
    fn signing_in(&self, id: &str) -> Option<&Upstream> {
        self.providers.iter().find(|p| p.config.id == id)
    }

    /// The providers offered on the sign-in page: id and label.
    pub(crate) fn offered(&self) -> Vec<(&str, &str)> {
        self.providers
            .iter()
            .map(|p| (p.config.id.as_str(), p.config.label()))
            .collect()
    }

    /// Whether `subject` is in a provider's namespace (`{id}:…`, whether it signs people in or
    /// vouches through ID-JAGs), not a local user's name.
    pub(crate) fn is_federated(&self, subject: &str) -> bool {
        subject
            .split_once(':')
            .is_some_and(|(prefix, _)| self.namespaces.iter().any(|id| id == prefix))
    }
}
