//! The running server's signing keys: the key ring the token endpoint signs with, kept current by
//! the maintenance task (`keys` holds the schedule), the keys the guards of the resources served
//! here trust, and the readiness check that they can be read.

use std::sync::{Arc, RwLock};

use gatehouse_guard::SharedKeys;
use gatehouse_jose::KeySet;
use gatehouse_store::AnyStore;
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_types::UnixTime;

use crate::config::{Config, ConfigError};
use crate::keys::{KeyRing, KeyRingError, RotationPolicy};

/// The key ring, and what keeps it current.
pub(crate) struct Signing {
    ring: RwLock<Arc<KeyRing>>,
    store: Arc<AnyStore>,
    vault: Arc<EncryptionKey>,
    policy: RotationPolicy,
    /// The verifying keys the guards of the resources served here trust: replaced whenever the
    /// ring is.
    guard_keys: SharedKeys,
}

impl Signing {
    /// Applies the rotation schedule `policy` to the stored keys (a first key on an empty store)
    /// and loads them.
    pub(crate) async fn start(
        policy: RotationPolicy,
        store: Arc<AnyStore>,
        vault: Arc<EncryptionKey>,
        now: UnixTime,
    ) -> Result<Self, KeyRingError> {
        let ring = KeyRing::maintain(&*store, &vault, policy, now).await?;
        let guard_keys = SharedKeys::new(ring.verifying().clone());
        Ok(Self {
            ring: RwLock::new(Arc::new(ring)),
            store,
            vault,
            policy,
            guard_keys,
        })
    }

    /// The keys as of the last maintenance.
    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(ring) => Arc::clone(&ring),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// What the guards of the resources served here verify with.
    pub(crate) fn guard_keys(&self) -> &SharedKeys {
        &self.guard_keys
    }

    /// Applies the rotation schedule at `now` and reloads the keys; whether a key the guards
    /// trusted is gone (then their verified-token caches must be cleared, or they would keep
    /// accepting tokens signed with it until those expire).
    pub(crate) async fn maintain(&self, now: UnixTime) -> Result<bool, KeyRingError> {
        let ring = KeyRing::maintain(&*self.store, &self.vault, self.policy, now).await?;
        metrics::gauge!("gatehouse_signing_key_age_seconds")
            .set(now.secs_since(ring.current_created_at()) as f64);
        let kids = |keys: &KeySet| -> Vec<String> {
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
        match self.ring.write() {
            Ok(mut current) => *current = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(removed)
    }

    /// Whether the stored signing keys can be read now: the store answers and every key unseals
    /// with this instance's encryption key. The reason when not (no secret in it).
    pub(crate) async fn check(&self, now: UnixTime) -> Result<(), String> {
        match KeyRing::load(&*self.store, &self.vault, now).await {
            Ok(_) => Ok(()),
            Err(KeyRingError::Store(_)) => Err("the store does not answer".to_owned()),
            Err(error) => Err(format!("the signing keys cannot be read: {error}")),
        }
    }
}

/// The rotation schedule of `config`.
pub(crate) fn rotation_policy(config: &Config) -> Result<RotationPolicy, ConfigError> {
    Ok(RotationPolicy {
        alg: config.tokens.signing_alg,
        period: std::time::Duration::from_secs(config.keys.rotation_days.saturating_mul(86_400)),
        retention: std::time::Duration::from_secs(
            config
                .tokens
                .access_ttl_secs
                .saturating_add(config.guard.leeway_secs),
        ),
    })
}
