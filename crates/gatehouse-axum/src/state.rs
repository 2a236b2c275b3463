//! The running server: configuration, engine, store, keys, sessions, and the router over them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use gatehouse_engine::Engine;
use gatehouse_registration::ClientMetadataPolicy;
use gatehouse_store::sealing::{EncryptionKey, KeySource, SealingError};
use gatehouse_store::{AnyStore, DatabaseUrl, OpenError, ServerStore};

use crate::authenticator::Authenticator;
use crate::clock::now;
use crate::config::{Config, ConfigError};
use crate::documents::{ClientDocuments, DocumentSetupError};
use crate::events::Hook;
use crate::keys::{KeyRing, KeyRingError, RotationPolicy};
use crate::limits::Limits;
use crate::resources::{self, BuiltinServer, Protected, StoreRevocation};
use crate::session::Sessions;
use crate::throttle::SignInThrottle;
use crate::{
    authorize, connected, cors, discovery, health, limits, management, registration, token,
};
use gatehouse_guard::{Guard, SharedKeys};

/// Request bodies above this are refused with 413: every legitimate request here is a small
/// form or JSON document.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Registration documents are stored as sent (unknown members included, RFC 7591 §2), by
/// whoever asks: kept to what real clients send (a few hundred bytes to a few KiB), so that
/// anonymous registrations cannot fill the database quickly (CWE-770).
pub(crate) const REGISTRATION_BODY_LIMIT: usize = 16 * 1024;

/// Why the server could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
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
}

pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) engine: Engine<AnyStore>,
    /// Client ID Metadata Documents.
    documents: ClientDocuments,
    keys: std::sync::RwLock<Arc<KeyRing>>,
    vault: EncryptionKey,
    pub(crate) sessions: Sessions,
    /// Failed sign-ins per account.
    pub(crate) throttle: SignInThrottle,
    pub(crate) authenticator: Option<Box<dyn Authenticator>>,
    pub(crate) hooks: Vec<Box<dyn Hook>>,
    /// Audit records on their way to the store (see `events::audit_writer`).
    pub(crate) audit: tokio::sync::mpsc::Sender<gatehouse_store::AuditEvent>,
    pub(crate) policy: ClientMetadataPolicy,
    /// The rate limiters, unless `rate_limits.enabled = false`.
    pub(crate) limits: Option<Limits>,
    /// The issuer's path without a trailing slash (`""` for an origin): where endpoints live.
    pub(crate) prefix: String,
    /// The verifying keys the guards of the resources served here trust: replaced whenever
    /// the key ring is.
    guard_keys: SharedKeys,
    /// The resources served here, each behind its guard.
    protected: Vec<Protected>,
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

    /// Client ID Metadata Documents.
    pub(crate) fn documents(&self) -> &ClientDocuments {
        &self.documents
    }

    /// The signing keys as of the last maintenance.
    pub(crate) fn key_ring(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn rotation_policy(&self) -> Result<RotationPolicy, ConfigError> {
        rotation_policy(&self.config)
    }

    /// Applies the rotation schedule and reloads the keys.
    async fn maintain_keys(&self) -> Result<(), StartError> {
        let now = now();
        let ring =
            KeyRing::maintain(self.store(), &self.vault, self.rotation_policy()?, now).await?;
        metrics::gauge!("gatehouse_signing_key_age_seconds")
            .set(now.secs_since(ring.current_created_at()) as f64);
        let kids = |keys: &gatehouse_jose::KeySet| -> Vec<String> {
            keys.keys()
                .iter()
                .filter_map(|key| key.kid().map(str::to_owned))
                .collect()
        };
        let kept = kids(ring.verifying());
        let removed = kids(&self.guard_keys.current())
            .iter()
            .any(|kid| !kept.contains(kid));
        self.guard_keys.replace(ring.verifying().clone());
        if removed {
            // Tokens the guards verified with a key that is gone must be verified again (and
            // refused): the verified-token caches would otherwise keep them until they expire.
            for resource in &self.protected {
                resource.guard.clear_cache();
            }
        }
        match self.keys.write() {
            Ok(mut keys) => *keys = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(())
    }

    /// Whether the stored signing keys can be read now: the store answers and every key
    /// unseals with this instance's encryption key. The reason when not (no secret in it).
    pub(crate) async fn check_keys(&self) -> Result<(), String> {
        match KeyRing::load(self.store(), &self.vault, now()).await {
            Ok(_) => Ok(()),
            Err(KeyRingError::Store(_)) => Err("the store does not answer".to_owned()),
            Err(error) => Err(format!("the signing keys cannot be read: {error}")),
        }
    }

    /// An endpoint's URL: the issuer plus `path`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer.trim_end_matches('/'))
    }
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
        let url = DatabaseUrl::parse(&config.database).map_err(|e| ConfigError::Value {
            key: "database".into(),
            reason: e.to_string(),
        })?;
        let store = gatehouse_store::open(&url).await?;
        let vault = open_vault(&config)?;
        Self::with_store(config, store, vault, Extensions::default()).await
    }

    /// A server over `store`, sealing keys with `vault`, with `extensions` plugged in.
    pub async fn with_store(
        config: Config,
        store: AnyStore,
        vault: EncryptionKey,
        extensions: Extensions,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let keys = KeyRing::maintain(&store, &vault, rotation_policy(&config)?, now()).await?;
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
        let engine =
            Engine::new(config.engine_config()?, store).map_err(|e| ConfigError::Value {
                key: "tokens".into(),
                reason: e.to_string(),
            })?;
        let prefix = issuer_path(&config.issuer);
        let limits = Limits::new(&config.rate_limits);
        let sessions = Sessions::new(vault.derive("gatehouse session cookie"), &config.issuer);
        let throttle = SignInThrottle::new(config.login.throttle_after_failures);
        let guard_keys = SharedKeys::new(keys.verifying().clone());
        let revocation = StoreRevocation::default();
        let protected = resources::build(
            &config,
            &prefix,
            &guard_keys,
            &revocation,
            &extensions.builtins,
            &vault.derive("gatehouse mcp session binding"),
        )?;
        let (audit, audit_queue) = tokio::sync::mpsc::channel(crate::events::AUDIT_QUEUE);
        let state = Arc::new(AppState {
            config,
            engine,
            keys: std::sync::RwLock::new(Arc::new(keys)),
            vault,
            sessions,
            throttle,
            authenticator: extensions.authenticator,
            hooks: extensions.hooks,
            audit,
            policy: ClientMetadataPolicy::new(),
            limits,
            prefix,
            guard_keys,
            protected,
            documents,
        });
        revocation.bind(&state);
        tokio::spawn(crate::events::audit_writer(
            Arc::downgrade(&state),
            audit_queue,
        ));
        Ok(Self { state })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Its store.
    pub fn store(&self) -> &AnyStore {
        self.state.store()
    }

    /// The router with every endpoint. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so that rate limits can key
    /// anonymous requests by address.
    pub fn router(&self) -> Router {
        // What browser-based MCP clients call directly: CORS (see `cors`).
        let browser_api = Router::new()
            .route("/.well-known/jwks.json", get(discovery::jwks))
            .route(
                "/register",
                post(registration::register).layer(DefaultBodyLimit::max(REGISTRATION_BODY_LIMIT)),
            )
            .route(
                "/register/{client_id}",
                get(management::read)
                    .put(management::update)
                    .layer(DefaultBodyLimit::max(REGISTRATION_BODY_LIMIT))
                    .delete(management::delete),
            )
            .route("/token", post(token::token))
            .route("/revoke", post(token::revoke))
            .layer(axum::middleware::from_fn(cors::cors));
        // Pages, server-to-server and operations endpoints: no CORS.
        let rest = Router::new()
            .route("/authorize", get(authorize::get).post(authorize::post))
            .route("/connected-apps", get(connected::get).post(connected::post))
            .route("/introspect", post(token::introspect))
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz));
        let endpoints = browser_api.merge(rest);
        let prefix = &self.state.prefix;
        let router = if prefix.is_empty() {
            endpoints
        } else {
            Router::new().nest(prefix, endpoints)
        };
        let metadata = Router::new()
            .route(
                &format!("/.well-known/oauth-authorization-server{prefix}"),
                get(discovery::metadata),
            )
            .layer(axum::middleware::from_fn(cors::cors));
        let deadline = std::time::Duration::from_secs(self.state.config.http.request_timeout_secs);
        router
            .merge(metadata)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state),
                limits::limit,
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state),
                crate::documents::requester,
            ))
            .layer(axum::middleware::from_fn_with_state(
                deadline,
                crate::server::request_deadline,
            ))
            .with_state(Arc::clone(&self.state))
            // The protected resources: their own guard, limits and body bounds, not the
            // authorization server's.
            .merge(resources::router(&self.state.protected))
            .layer(axum::middleware::from_fn(crate::metrics::track))
            // A body left unread by an early answer is drained (`drain`).
            .layer(axum::middleware::from_fn(crate::drain::middleware))
            // Outermost: every log line of the request carries its id.
            .layer(axum::middleware::from_fn(crate::request_id::request_id))
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

    /// Applies the signing-key rotation schedule now (the background task does it every minute).
    pub async fn maintain_keys(&self) -> Result<(), StartError> {
        self.state.maintain_keys().await
    }

    /// Every minute in the background: rotates signing keys on schedule and picks up rotations
    /// made elsewhere, purges expired state (see `gatehouse_store::purge`) and audit events past
    /// `audit.retention_days`, and forgets idle rate-limit keys and old failed sign-ins.
    pub fn spawn_purger(&self) -> tokio::task::JoinHandle<()> {
        let state = Arc::clone(&self.state);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                ticks.tick().await;
                if let Err(error) = state.maintain_keys().await {
                    tracing::warn!(%error, "signing-key maintenance failed; will retry");
                }
                let now = now();
                let grace = state.config.tokens.refresh_reuse_grace_secs;
                if let Err(error) = gatehouse_engine::Store::purge(
                    state.store(),
                    now,
                    now.saturating_sub_secs(grace),
                )
                .await
                {
                    tracing::warn!(%error, "expiry clean-up failed; will retry");
                }
                state.store().deny_list().purge(now);
                let retention = state.config.audit.retention_days.saturating_mul(86_400);
                if let Err(error) = state
                    .store()
                    .purge_audit(now.saturating_sub_secs(retention))
                    .await
                {
                    tracing::warn!(%error, "audit retention purge failed; will retry");
                }
                if let Some(limits) = &state.limits {
                    limits.shrink();
                }
                state.throttle.shrink(now);
            }
        })
    }
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
        &issuer_path(&config.issuer),
        &SharedKeys::new(gatehouse_jose::KeySet::new(Vec::new())),
        &StoreRevocation::default(),
        &std::collections::BTreeMap::new(),
        &[0; 32],
    )?;
    ClientDocuments::new(
        &config.client_id_metadata_documents,
        ClientMetadataPolicy::new(),
    )?;
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

/// The rotation schedule of `config`.
fn rotation_policy(config: &Config) -> Result<RotationPolicy, ConfigError> {
    Ok(RotationPolicy {
        alg: config.signing_alg()?,
        period: std::time::Duration::from_secs(config.keys.rotation_days.saturating_mul(86_400)),
        retention: std::time::Duration::from_secs(
            config
                .tokens
                .access_ttl_secs
                .saturating_add(config.guard.leeway_secs),
        ),
    })
}

/// The encryption key for signing keys: from `keys.encryption_key_env`; for a loopback issuer
/// without it, a key file beside the database (with a warning); for `memory`, a fresh key.
pub fn open_vault(config: &Config) -> Result<EncryptionKey, StartError> {
    let url = DatabaseUrl::parse(&config.database).map_err(|e| ConfigError::Value {
        key: "database".into(),
        reason: e.to_string(),
    })?;
    if url == DatabaseUrl::Memory {
        // Nothing outlives the process: a fresh key is as good as any.
        return Ok(EncryptionKey::generate()?);
    }
    let key_file = match &url {
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

/// `https://host/tenant/` → `/tenant`; `https://host` → ``.
fn issuer_path(issuer: &str) -> String {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .and_then(|i| after_scheme.get(i..))
        .unwrap_or("");
    path.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::issuer_path;

    #[test]
    fn endpoints_live_under_the_issuer_path() {
        assert_eq!(issuer_path("https://auth.example.com"), "");
        assert_eq!(issuer_path("https://auth.example.com/"), "");
        assert_eq!(issuer_path("https://example.com/tenant/a"), "/tenant/a");
        assert_eq!(issuer_path("http://127.0.0.1:8080"), "");
    }
}
