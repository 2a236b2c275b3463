//! The sans-IO OAuth 2.1 core of Gatehouse.
//!
//! Every decision the authorization server makes lives here, once: PKCE (RFC 7636), validating
//! authorization requests and issuing codes (OAuth 2.1 §4.1), client authentication (RFC 6749
//! §2.3), the `authorization_code` and `refresh_token` grants, RFC 9068 access tokens, refresh
//! rotation with reuse detection (RFC 9700 §4.14.2), revocation (RFC 7009), introspection (RFC
//! 7662) and registration (RFC 7591).
//!
//! The engine does no IO. It never reads a clock (`now` is an argument), never draws randomness
//! by itself (a [`RandomSource`] is), never signs with a key it picked (the [`SigningKey`] is
//! passed in), and reaches storage only through the [`Store`] trait, whose atomic operations are
//! spelled out there. Whole protocol runs are tested with a simulated clock and the
//! [`MemoryStore`], without a socket.
//!
//! [`SigningKey`]: gatehouse_jose::SigningKey

#![forbid(unsafe_code)]

mod authorize;
mod client_auth;
mod config;
mod dpop;
mod error;
mod exchange;
mod id_jag;
mod memory;
pub mod opaque;
mod pkce;
mod random;
mod register;
mod revoke;
pub mod store;
mod token;

pub use authorize::{AuthorizationRequest, AuthorizeError, requested_client};
pub use client_auth::{
    ClaimedClient, JWT_BEARER_ASSERTION, MAX_CLIENT_ASSERTION_SECS, parse_basic,
};
pub use config::{
    EngineConfig, EngineConfigError, MAX_DELEGATION_DEPTH, NoResources, ResourceConfig,
};
pub use dpop::{DpopPolicy, proof_replay_issuer};
pub use error::{CLIENT_CHALLENGE, EndpointError, Reuse};
pub use exchange::{ACCESS_TOKEN_TYPE, UPSTREAM_AUDIENCE_PREFIX, UpstreamExchange};
pub use id_jag::{ID_JAG_TYPE, MAX_ID_JAG_SECS, TrustedIssuer};
pub use memory::MemoryStore;
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use random::RandomSource;
pub use register::new_client_id;
pub use revoke::{IntrospectRequest, RevokeRequest, Revoked};
pub use store::Store;
pub use token::{Issued, ServerKeys, TokenRequest, TokenResponse};

/// The engine: a configuration and a store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine<S> {
    config: EngineConfig,
    store: std::sync::Arc<S>,
}

impl<S: Store> Engine<S> {
    /// An engine for `config` over `store`; the configuration must pass
    /// [`EngineConfig::validate`].
    pub fn new(config: EngineConfig, store: S) -> Result<Self, EngineConfigError> {
        Self::shared(config, std::sync::Arc::new(store))
    }

    /// An engine over a store the caller shares with others (the server's other parts read
    /// and write it too).
    pub fn shared(
        config: EngineConfig,
        store: std::sync::Arc<S>,
    ) -> Result<Self, EngineConfigError> {
        config.validate()?;
        Ok(Self { config, store })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// An engine for `config` over this engine's store: a configuration reloaded, every grant
    /// kept.
    pub fn with_config(&self, config: EngineConfig) -> Result<Self, EngineConfigError> {
        Self::shared(config, std::sync::Arc::clone(&self.store))
    }
}
