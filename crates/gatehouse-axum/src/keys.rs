//! The signing keys: loaded from the store (sealed at rest), or generated and stored on first
//! start.

use gatehouse_jose::{Algorithm, Jwk, KeySet, PublicJwks, SigningKey, VerifyingKey};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{ServerStore, StoredSigningKey};
use gatehouse_types::UnixTime;

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
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

/// The key that signs access tokens, and every key whose tokens are still accepted.
pub struct KeyRing {
    current: SigningKey,
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

impl KeyRing {
    /// Loads the stored keys; when none is active, generates one with `alg`, seals it with
    /// `vault` and stores it. The newest unretired key signs.
    pub async fn load_or_create<S: ServerStore>(
        store: &S,
        vault: &EncryptionKey,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Self, KeyRingError> {
        let mut stored = store.signing_keys().await?;
        if !stored.iter().any(|k| k.retired_at.is_none()) {
            let key =
                SigningKey::generate(alg).map_err(|e| KeyRingError::Generate(e.to_string()))?;
            let jwk = key.to_jwk();
            let sealed = vault
                .seal(key.kid(), jwk.to_json().as_bytes())
                .map_err(|e| KeyRingError::Generate(e.to_string()))?;
            let record = StoredSigningKey {
                kid: key.kid().to_owned(),
                alg: alg.as_str().to_owned(),
                sealed_private_jwk: sealed,
                created_at: now,
                retired_at: None,
            };
            store.insert_signing_key(record).await?;
            tracing::info!(
                kid = key.kid(),
                alg = alg.as_str(),
                "generated a signing key"
            );
            stored = store.signing_keys().await?;
        }
        let mut opened = Vec::new();
        for record in &stored {
            let key = open(vault, record)?;
            opened.push((record.retired_at.is_none(), key));
        }
        let current = opened
            .iter()
            .rposition(|(active, _)| *active)
            .ok_or_else(|| KeyRingError::Generate("no active signing key".into()))?;
        let verifying: Vec<VerifyingKey> = opened.iter().map(|(_, k)| k.verifying_key()).collect();
        let jwks_json = PublicJwks::from_keys(verifying.iter()).to_json();
        let (_, current) = opened.swap_remove(current);
        Ok(Self {
            current,
            verifying: KeySet::new(verifying),
            jwks_json,
        })
    }

    /// The key that signs new access tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Every key whose tokens are accepted (for revocation and introspection).
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
