//! What the endpoints of the authorization server share, built once at start. Middleware takes
//! only its part (`RateLimiting`, `Signing`); the endpoints that run the engine take the whole.

use std::sync::Arc;

use gatehouse_engine::Engine;
use gatehouse_registration::ClientMetadataPolicy;
use gatehouse_store::AnyStore;

use crate::authenticator::Authenticator;
use crate::clock::now;
use crate::config::Config;
use crate::documents::ClientDocuments;
use crate::events::Events;
use crate::keys::KeyRing;
use crate::limits::RateLimiting;
use crate::resources::Protected;
use crate::session::Sessions;
use crate::signing::Signing;
use crate::throttle::SignInThrottle;

/// Request bodies above this are refused with 413: every legitimate request here is a small
/// form or JSON document.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Registration documents are stored as sent (unknown members included, RFC 7591 §2), by
/// whoever asks: kept to what real clients send (a few hundred bytes to a few KiB), so that
/// anonymous registrations cannot fill the database quickly (CWE-770).
pub(crate) const REGISTRATION_BODY_LIMIT: usize = 16 * 1024;

pub(crate) struct AppState {
    pub(crate) config: Config,
    /// The engine, over the store the other parts share.
    pub(crate) engine: Engine<AnyStore>,
    /// Client ID Metadata Documents.
    pub(crate) documents: ClientDocuments,
    pub(crate) signing: Arc<Signing>,
    pub(crate) sessions: Sessions,
    /// Signing people in through identity providers.
    pub(crate) federation: Arc<crate::federation::Federation>,
    /// The identity providers' tokens kept for downstream calls (`keep_tokens`).
    pub(crate) upstream_tokens: crate::federation::UpstreamTokens,
    /// Failed sign-ins per account.
    pub(crate) throttle: SignInThrottle,
    pub(crate) authenticator: Option<Box<dyn Authenticator>>,
    pub(crate) events: Arc<Events>,
    pub(crate) policy: ClientMetadataPolicy,
    pub(crate) rates: Arc<RateLimiting>,
    /// The issuer's path without a trailing slash (`""` for an origin): where endpoints live.
    pub(crate) prefix: String,
    /// The resources served here, each behind its guard.
    pub(crate) protected: Vec<Protected>,
}

impl AppState {
    pub(crate) fn store(&self) -> &AnyStore {
        self.engine.store()
    }

    /// The client `client_id` names: registered, or described by its metadata document.
    pub(crate) async fn client(
        &self,
        client_id: &gatehouse_types::ClientId,
    ) -> Result<Option<gatehouse_engine::store::ClientRecord>, crate::clients::Unresolved> {
        crate::clients::resolve(self.store(), &self.documents, client_id, now()).await
    }

    /// The signing keys as of the last maintenance.
    pub(crate) fn key_ring(&self) -> Arc<KeyRing> {
        self.signing.ring()
    }

    /// An endpoint's URL: the issuer plus `path`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer.trim_end_matches('/'))
    }
}
