//! The authorization server as a library user holds it: started from a configuration, serving a
//! router, kept current by one maintenance task that starting it runs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use gatehouse_engine::Engine;
use gatehouse_guard::{Guard, SharedKeys};
use gatehouse_registration::ClientMetadataPolicy;
use gatehouse_store::sealing::{EncryptionKey, KeySource, SealingError};

use crate::federation::{Federation, UpstreamTokens};
use gatehouse_store::{AnyStore, DatabaseUrl, OpenError, ServerStore};

use crate::authenticator::Authenticator;
use crate::builtin::BuiltinServer;
use crate::clock::now;
use crate::config::{Config, ConfigError};
use crate::documents::{ClientDocuments, DocumentSetupError};
use crate::events::{Events, Hook};
use crate::keys::KeyRingError;
use crate::limits::{Limiter, RateLimiting};
use crate::resources::{self, Policy, StoreRevocation};
use crate::session::Sessions;
use crate::signing::Signing;
use crate::state::AppState;
use crate::throttle::SignInThrottle;

/// How often the maintenance task runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// Why the server could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database.
    #[error(transparent)]
    Store(#[from] OpenError),
    /// The encryption key for signing keys.
    #[error(transparent)]
    Sealing(#[from] SealingError),
    /// The signing keys.
    #[error(transparent)]
    Keys(#[from] KeyRingError),
    /// Fetching Client ID Metadata Documents.
    #[error(transparent)]
    Documents(#[from] DocumentSetupError),
    /// Signing people in through identity providers.
    #[error(transparent)]
    Federation(#[from] crate::federation::FederationSetupError),
}

/// What a library user plugs in.
#[derive(Default)]
pub struct Extensions {
    /// Signs people in instead of the store's local users.
    pub authenticator: Option<Box<dyn Authenticator>>,
    /// Called for every security event.
    pub hooks: Vec<Box<dyn Hook>>,
    /// The built-in MCP servers this program offers, by the name `[[resources]] builtin` uses.
    pub builtins: std::collections::BTreeMap<String, BuiltinServer>,
}

/// The authorization server. Cheap to clone.
#[derive(Clone)]
pub struct Gatehouse {
    state: Arc<AppState>,
}

impl std::fmt::Debug for Gatehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatehouse")
            .field("issuer", &self.state.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Gatehouse {
    /// Opens the configured database, the encryption key (`keys.encryption_key_env`, or for a
    /// loopback issuer a key file beside the database) and the signing keys.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let store = gatehouse_store::open(&config.database).await?;
        let vault = open_vault(&config)?;
        Self::with_store(config, store, vault, Extensions::default()).await
    }

    /// A server over `store`, sealing keys with `vault`, with `extensions` plugged in. Its
    /// maintenance task starts with it (see [`Gatehouse::maintain`]) and ends with it.
    pub async fn with_store(
        config: Config,
        store: AnyStore,
        vault: EncryptionKey,
        extensions: Extensions,
    ) -> Result<Self, StartError> {
        config.validate()?;
        crate::declared::apply(&store, crate::declared::records(&config, now())?).await?;
        let store = Arc::new(store);
        let vault = Arc::new(vault);
        let signing = Signing::start(
            crate::signing::rotation_policy(&config)?,
            Arc::clone(&store),
            Arc::clone(&vault),
            now(),
        )
        .await?;
        let documents = ClientDocuments::new(
            &config.client_id_metadata_documents,
            ClientMetadataPolicy::new(),
        )?;
        if config.client_id_metadata_documents.dangerous_allow_loopback
            || config
                .client_id_metadata_documents
                .dangerous_extra_root_certificate
                .is_some()
        {
            tracing::warn!(
                "client_id_metadata_documents has dangerous test settings on: documents on loopback addresses or signed by an extra root are accepted"
            );
        }
        let mut engine_config = config.engine_config()?;
        // RFC 9449 §8: derived, not stored, so that every instance sharing the encryption key
        // hands out and accepts the same nonces.
        let nonce_secret = vault.derive("gatehouse dpop nonces");
        // Labelled with the origin, as the guards label theirs: clients keep one nonce per
        // origin, and the token endpoint and the resources served here share it.
        if config.dpop.nonces {
            engine_config.dpop.nonces = Some(gatehouse_jose::dpop::NonceSource::new(
                nonce_secret.as_slice(),
                gatehouse_types::uri::origin(engine_config.token_endpoint()),
                config.dpop.nonce_step_secs,
            ));
        }
        let engine =
            Engine::shared(engine_config, Arc::clone(&store)).map_err(|e| ConfigError::Value {
                key: "tokens".into(),
                reason: e.to_string(),
            })?;
        let prefix = config.issuer_path().to_owned();
        let events = Arc::new(Events::new(extensions.hooks, Arc::clone(&store)));
        let limiter = Limiter::for_store(&store);
        let federation = Arc::new(Federation::new(
            &config,
            EncryptionKey::from_bytes(*vault.derive("gatehouse federation state")),
        )?);
        let upstream_tokens = UpstreamTokens::new(
            Arc::clone(&federation),
            Arc::clone(&store),
            EncryptionKey::from_bytes(*vault.derive("gatehouse upstream tokens")),
            Arc::clone(&events),
        );
        let protected = resources::build(
            &config,
            &prefix,
            signing.guard_keys(),
            &StoreRevocation::new(Arc::clone(&store)),
            &extensions.builtins,
            &vault.derive("gatehouse mcp session binding"),
            config.dpop.nonces.then_some(nonce_secret.as_slice()),
            &Policy {
                limiter: limiter.clone(),
                audit: Some(Arc::clone(&events)),
                upstream_tokens: Some(upstream_tokens.clone()),
            },
        )?;
        let state = Arc::new(AppState {
            federation,
            upstream_tokens,
            sessions: Sessions::new(vault.derive("gatehouse session cookie"), &config.issuer),
            throttle: SignInThrottle::new(config.login.throttle_after_failures),
            rates: Arc::new(RateLimiting::new(&config.rate_limits, limiter)),
            events,
            authenticator: extensions.authenticator,
            policy: ClientMetadataPolicy::new(),
            signing: Arc::new(signing),
            config,
            engine,
            documents,
            prefix,
            protected,
        });
        spawn_maintenance(Arc::downgrade(&state));
        // Tool drift of the gateways' upstreams: logged at start and whenever it changes.
        if state.config.resources.iter().any(|r| r.upstream.is_some()) {
            tokio::spawn(crate::drift::watch(
                state.config.clone(),
                Arc::downgrade(&state),
            ));
        }
        Ok(Self { state })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The tokens federated people's identity providers issued, kept for the APIs behind MCP
    /// servers (`keep_tokens`).
    pub fn upstream_tokens(&self) -> &UpstreamTokens {
        &self.state.upstream_tokens
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        self.state.store()
    }

    /// The router with every endpoint. Serve it with [`crate::serve`] (timeouts, connection
    /// limits, the peer's address for rate limits), or yourself with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> Router {
        crate::router::router(&self.state)
    }

    /// The guards of the resources served here, in configuration order (for embedding a
    /// resource in another router).
    pub fn guards(&self) -> Vec<Guard> {
        self.state
            .protected
            .iter()
            .map(|p| p.guard.clone())
            .collect()
    }

    /// Waits until every security event and audited call so far is in the store's audit table.
    /// They are written in the background, in batches; call this when the server has stopped
    /// serving, before the process ends, so that the last of them are not lost. It waits as long
    /// as the store takes: bound it with a timeout (`gatehouse serve` waits 10 s).
    pub async fn flush_audit(&self) {
        self.state.events.flush().await;
    }

    /// Runs the maintenance now (the task does it every minute): rotates signing keys on
    /// schedule and picks up rotations made elsewhere, purges expired state and audit events
    /// past `audit.retention_days`, and forgets idle rate-limit keys and old failed sign-ins.
    pub async fn maintain(&self) {
        maintain(&self.state).await;
    }
}

/// The maintenance task: every minute, while the server lives.
fn spawn_maintenance(state: Weak<AppState>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(MAINTENANCE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(state) = state.upgrade() else {
                return;
            };
            maintain(&state).await;
        }
    });
}

/// One round of maintenance. A step that fails is logged and tried again at the next round:
/// none is needed for correctness at once.
async fn maintain(state: &AppState) {
    let now = now();
    match state.signing.maintain(now).await {
        // Tokens the guards verified with a key that is gone must be verified again (and
        // refused): the verified-token caches would otherwise keep them until they expire.
        Ok(true) => {
            for resource in &state.protected {
                resource.guard.clear_cache();
            }
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "signing-key maintenance failed; will retry"),
    }
    let store = state.store();
    let grace = state.config.tokens.refresh_reuse_grace_secs;
    if let Err(error) =
        gatehouse_engine::Store::purge(store, now, now.saturating_sub_secs(grace)).await
    {
        tracing::warn!(%error, "expiry clean-up failed; will retry");
    }
    store.deny_list().purge(now);
    let retention = state.config.audit.retention_days.saturating_mul(86_400);
    if let Err(error) = store.purge_audit(now.saturating_sub_secs(retention)).await {
        tracing::warn!(%error, "audit retention purge failed; will retry");
    }
    state.rates.shrink().await;
    state.throttle.shrink(now);
}

/// Everything [`Gatehouse::start`] checks before it touches the database or the network: the
/// configuration's values, the resources it serves (paths, built-in servers, tool scopes), the
/// metadata-document fetcher's settings, and that the encryption key can be had (the variable
/// set and well formed, or a loopback issuer that may use a key file). For `gatehouse config
/// check`.
pub fn check_config(config: &Config) -> Result<(), StartError> {
    config.validate()?;
    resources::build(
        config,
        config.issuer_path(),
        &SharedKeys::new(gatehouse_jose::KeySet::new(Vec::new())),
        &StoreRevocation::new(Arc::new(AnyStore::Memory(Box::default()))),
        &std::collections::BTreeMap::new(),
        &[0; 32],
        config.dpop.nonces.then_some(&[0; 32]),
        &Policy {
            limiter: Limiter::Memory(Arc::default()),
            audit: None,
            upstream_tokens: None,
        },
    )?;
    ClientDocuments::new(
        &config.client_id_metadata_documents,
        ClientMetadataPolicy::new(),
    )?;
    crate::declared::records(config, now())?;
    Federation::check_environment(config)?;
    let variable = &config.keys.encryption_key_env;
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => {
            EncryptionKey::parse(&value, variable)?;
        }
        _ if config.issuer_is_loopback_http() => {}
        _ => {
            return Err(StartError::Sealing(SealingError::Missing {
                var: variable.clone(),
            }));
        }
    }
    Ok(())
}

/// The encryption key for signing keys: from `keys.encryption_key_env`; for a loopback issuer
/// without it, a key file beside the database (with a warning); for `memory`, a fresh key.
pub fn open_vault(config: &Config) -> Result<EncryptionKey, StartError> {
    let url = &config.database;
    if *url == DatabaseUrl::Memory {
        // Nothing outlives the process: a fresh key is as good as any.
        return Ok(EncryptionKey::generate()?);
    }
    let key_file = match url {
        DatabaseUrl::Sqlite(path) => path.with_extension("key"),
        _ => "gatehouse.key".into(),
    };
    let (key, source) = EncryptionKey::resolve(
        &config.keys.encryption_key_env,
        config.issuer_is_loopback_http(),
        &key_file,
    )?;
    if let KeySource::GeneratedFile(path) = source {
        tracing::warn!(
            path = %path.display(),
            variable = %config.keys.encryption_key_env,
            "signing keys are encrypted with a generated key file; set the variable in production"
        );
    }
    Ok(key)
}
