//! The signing keys: stored sealed, rotated on a schedule with overlap, rotated at once on demand.
//!
//! The schedule (`keys.rotation_days`):
//! - a new key is **published** in the JWKS [`PUBLISH_LEAD`] before it signs, so that resource
//!   servers that cached the JWKS (it is served with `max-age=300`) know it before they see it;
//! - when it starts signing, the previous key is **retired**: it stays in the JWKS until every
//!   token it signed has expired (the access-token lifetime plus the guard's leeway), then it is
//!   deleted.
//!
//! `gatehouse keys rotate` rotates at once (for a key that may be compromised): the new key signs
//! immediately and every other key is retired. Every instance re-reads the keys each minute, so
//! a rotation made by one instance or by the command reaches the others within a minute.
//!
//! Which key signs is decided from the stored keys alone, the same way on every instance: the
//! newest unretired key published at least [`PUBLISH_LEAD`] ago, or else the oldest unretired key
//! (a first start, or right after an immediate rotation).

use std::time::Duration;

use gatehouse_jose::{Algorithm, Jwk, KeySet, PublicJwks, SigningKey, VerifyingKey};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{ServerStore, StoredSigningKey};
use gatehouse_types::UnixTime;

/// How long a new key is published before it signs.
pub const PUBLISH_LEAD: Duration = Duration::from_secs(3600);

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// The store failed.
    #[error("signing keys: {0}")]
    Store(#[from] gatehouse_engine::store::StoreError),
    /// A stored key did not open (wrong encryption key) or did not parse.
    #[error("signing key {kid}: {reason}")]
    Stored {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
    /// Generating or sealing a key failed.
    #[error("signing key: {0}")]
    Generate(String),
}

/// The rotation schedule.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// The algorithm of new keys.
    pub alg: Algorithm,
    /// Time between scheduled rotations.
    pub period: Duration,
    /// How long a retired key stays published: the longest a token it signed stays valid.
    pub retention: Duration,
}

/// The key that signs access tokens, and every key whose tokens are still accepted.
pub struct KeyRing {
    current: SigningKey,
    /// When the current key was made.
    current_created_at: UnixTime,
    verifying: KeySet,
    jwks_json: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.kid())
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

/// Generates, seals and stores a key created at `now`.
pub async fn add_key<S: ServerStore>(
    store: &S,
    vault: &EncryptionKey,
    alg: Algorithm,
    now: UnixTime,
) -> Result<String, KeyRingError> {
    let key = SigningKey::generate(alg).map_err(|e| KeyRingError::Generate(e.to_string()))?;
    let sealed = vault
        .seal(key.kid(), key.to_jwk().to_json().as_bytes())
        .map_err(|e| KeyRingError::Generate(e.to_string()))?;
    store
        .insert_signing_key(StoredSigningKey {
            kid: key.kid().to_owned(),
            alg: alg.as_str().to_owned(),
            sealed_private_jwk: sealed,
            created_at: now,
            retired_at: None,
        })
        .await?;
    tracing::info!(
        kid = key.kid(),
        alg = alg.as_str(),
        "generated a signing key"
    );
    Ok(key.kid().to_owned())
}

/// Rotates at once: a new key that signs from now on; every other key retired (still published
/// until its tokens expire).
pub async fn rotate_now<S: ServerStore>(
    store: &S,
    vault: &EncryptionKey,
    alg: Algorithm,
    now: UnixTime,
) -> Result<String, KeyRingError> {
    let others: Vec<String> = store
        .signing_keys()
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.kid)
        .collect();
    let kid = add_key(store, vault, alg, now).await?;
    for other in others {
        store.retire_signing_key(&other, now).await?;
    }
    Ok(kid)
}

/// The key that signs, by the rule in the module documentation.
fn signing_index(keys: &[StoredSigningKey], now: UnixTime) -> Option<usize> {
    let unretired = || {
        keys.iter()
            .enumerate()
            .filter(|(_, k)| k.retired_at.is_none())
    };
    unretired()
        .filter(|(_, k)| k.created_at.saturating_add_secs(secs(PUBLISH_LEAD)) <= now)
        .max_by_key(|(_, k)| (k.created_at, k.kid.clone()))
        .or_else(|| unretired().min_by_key(|(_, k)| (k.created_at, k.kid.clone())))
        .map(|(i, _)| i)
}

impl KeyRing {
    /// Applies the schedule to the stored keys at `now` (publishes the next key when it is due,
    /// retires what the signing key superseded, deletes what no token needs any more), then
    /// loads them. On an empty store, a first key is generated and signs at once.
    pub async fn maintain<S: ServerStore>(
        store: &S,
        vault: &EncryptionKey,
        policy: RotationPolicy,
        now: UnixTime,
    ) -> Result<Self, KeyRingError> {
        let mut stored = store.signing_keys().await?;
        let newest = stored.iter().map(|k| k.created_at).max();
        let due = newest.is_none_or(|created| {
            now.secs_since(created) + secs(PUBLISH_LEAD) >= secs(policy.period)
                || stored.iter().all(|k| k.retired_at.is_some())
        });
        if due {
            add_key(store, vault, policy.alg, now).await?;
            stored = store.signing_keys().await?;
        }
        if let Some(signing) = signing_index(&stored, now).and_then(|i| stored.get(i)) {
            let superseded: Vec<String> = stored
                .iter()
                .filter(|k| k.retired_at.is_none() && k.created_at < signing.created_at)
                .map(|k| k.kid.clone())
                .collect();
            for kid in superseded {
                store.retire_signing_key(&kid, now).await?;
                tracing::info!(%kid, "signing key retired; it stays published until its tokens expire");
            }
        }
        for key in &stored {
            if let Some(retired) = key.retired_at
                && retired.saturating_add_secs(secs(policy.retention)) <= now
            {
                store.delete_signing_key(&key.kid).await?;
                tracing::info!(kid = %key.kid, "retired signing key deleted");
            }
        }
        Self::load(store, vault, now).await
    }

    /// Loads the stored keys as they are.
    pub async fn load<S: ServerStore>(
        store: &S,
        vault: &EncryptionKey,
        now: UnixTime,
    ) -> Result<Self, KeyRingError> {
        let stored = store.signing_keys().await?;
        let index = signing_index(&stored, now)
            .ok_or_else(|| KeyRingError::Generate("no unretired signing key is stored".into()))?;
        let mut opened = Vec::with_capacity(stored.len());
        for record in &stored {
            opened.push(open(vault, record)?);
        }
        let verifying: Vec<VerifyingKey> = opened.iter().map(SigningKey::verifying_key).collect();
        let jwks_json = PublicJwks::from_keys(verifying.iter()).to_json();
        if index >= opened.len() {
            return Err(KeyRingError::Generate("no signing key".into()));
        }
        let current = opened.swap_remove(index);
        let current_created_at = stored
            .get(index)
            .map_or(UnixTime::from_secs(0), |record| record.created_at);
        Ok(Self {
            current,
            current_created_at,
            verifying: KeySet::new(verifying),
            jwks_json,
        })
    }

    /// The key that signs new access tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// When the current key was made.
    pub fn current_created_at(&self) -> UnixTime {
        self.current_created_at
    }

    /// Every published key (for revocation and introspection).
    pub fn verifying(&self) -> &KeySet {
        &self.verifying
    }

    /// The JWKS document (public members only).
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }
}

fn open(vault: &EncryptionKey, record: &StoredSigningKey) -> Result<SigningKey, KeyRingError> {
    let failed = |reason: String| KeyRingError::Stored {
        kid: record.kid.clone(),
        reason,
    };
    let plaintext = vault
        .open(&record.kid, &record.sealed_private_jwk)
        .map_err(|e| failed(e.to_string()))?;
    let jwk = Jwk::from_json(&plaintext).map_err(|e| failed(e.to_string()))?;
    let key = SigningKey::from_jwk(&jwk).map_err(|e| failed(e.to_string()))?;
    if key.kid() != record.kid || key.algorithm().as_str() != record.alg {
        return Err(failed("the stored key does not match its record".into()));
    }
    Ok(key)
}
