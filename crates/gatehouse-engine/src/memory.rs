//! An in-memory [`Store`] for tests and for `database = "memory"`: everything behind one mutex,
//! which makes every operation trivially atomic.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use gatehouse_types::{ClientId, UnixTime};

use crate::opaque::{CREDENTIAL_BYTES, CredentialHash};
use crate::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    RotateOutcome, Store, StoreError, TakeCode,
};

#[derive(Default)]
struct Inner {
    clients: HashMap<ClientId, ClientRecord>,
    codes: HashMap<CredentialHash, CodeEntry>,
    refresh: HashMap<CredentialHash, RefreshRecord>,
    revoked_families: HashSet<FamilyId>,
    access_tokens: HashMap<String, AccessTokenRecord>,
    revoked_jtis: HashMap<String, UnixTime>,
    used_assertions: HashMap<(String, String), UnixTime>,
    /// The most recently rotated token of each family: the only one whose sealed successor may
    /// still be opened. Kept so a rotation clears its predecessor's in O(1).
    latest_rotated: HashMap<FamilyId, CredentialHash>,
}

impl Inner {
    /// A refresh record as readers must see it: revoked if its family is.
    fn read_refresh(&self, hash: &CredentialHash) -> Option<RefreshRecord> {
        let mut record = self.refresh.get(hash)?.clone();
        if self.revoked_families.contains(&record.family) {
            record.state = RefreshState::Revoked;
        }
        Some(record)
    }
}

/// The in-memory store. Nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registered client by id: how a caller of the engine over this store resolves the
    /// client a request names.
    pub fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.lock()?.clients.get(client_id).cloned())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.clients.contains_key(&client.client_id) {
            return Err(StoreError::Duplicate);
        }
        inner.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.codes.contains_key(&code.hash) {
            return Err(StoreError::Duplicate);
        }
        inner.codes.insert(
            code.hash,
            CodeEntry {
                record: code,
                redeemed_into: None,
            },
        );
        Ok(())
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        Ok(self.lock()?.codes.get(hash).cloned())
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        let mut inner = self.lock()?;
        if refresh_token
            .as_ref()
            .is_some_and(|token| inner.refresh.contains_key(&token.hash))
        {
            return Err(StoreError::Duplicate);
        }
        let Some(entry) = inner.codes.get_mut(hash) else {
            return Ok(TakeCode::NotFound);
        };
        if let Some(earlier) = &entry.redeemed_into {
            return Ok(TakeCode::AlreadyUsed(earlier.clone()));
        }
        entry.redeemed_into = Some(family.clone());
        let record = entry.record.clone();
        inner
            .access_tokens
            .insert(access_token.jti.clone(), access_token);
        if let Some(token) = refresh_token {
            inner.refresh.insert(token.hash, token);
        }
        Ok(TakeCode::Taken(record))
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.lock()?.read_refresh(hash))
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let mut inner = self.lock()?;
        let current = inner
            .read_refresh(old)
            .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))?;
        if current.state != RefreshState::Active {
            return Ok(RotateOutcome::Lost(Box::new(current)));
        }
        if inner.refresh.contains_key(&successor.hash) {
            return Err(StoreError::Duplicate);
        }
        // Only the newest predecessor may open its successor.
        let previous = inner.latest_rotated.insert(successor.family.clone(), *old);
        if let Some(RefreshState::Rotated {
            sealed_successor, ..
        }) = previous
            .and_then(|previous| inner.refresh.get_mut(&previous))
            .map(|t| &mut t.state)
        {
            *sealed_successor = None;
        }
        if let Some(old) = inner.refresh.get_mut(old) {
            old.state = RefreshState::Rotated {
                successor: successor.hash,
                sealed_successor: Some(sealed_successor),
                rotated_at: now,
            };
        }
        inner.refresh.insert(successor.hash, successor);
        inner
            .access_tokens
            .insert(access_token.jti.clone(), access_token);
        Ok(RotateOutcome::Rotated)
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        self.lock()?.revoked_families.insert(family.clone());
        Ok(())
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if inner.revoked_families.contains(&token.family) {
            return Err(StoreError::FamilyRevoked);
        }
        inner.access_tokens.insert(token.jti.clone(), token);
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        // Revoking twice keeps the later expiry: the token is refused for as long as it lives.
        self.lock()?
            .revoked_jtis
            .entry(jti.to_owned())
            .and_modify(|until| *until = (*until).max(expires_at))
            .or_insert(expires_at);
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let inner = self.lock()?;
        let family_revoked = inner
            .access_tokens
            .get(jti)
            .is_some_and(|t| inner.revoked_families.contains(&t.family));
        Ok(family_revoked || inner.revoked_jtis.contains_key(jti))
    }

    async fn access_token_family(&self, jti: &str) -> Result<Option<FamilyId>, StoreError> {
        Ok(self
            .lock()?
            .access_tokens
            .get(jti)
            .map(|token| token.family.clone()))
    }

    async fn use_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        let key = (issuer.to_owned(), jti.to_owned());
        if inner.used_assertions.contains_key(&key) {
            return Ok(false);
        }
        inner.used_assertions.insert(key, expires_at);
        Ok(true)
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner
            .used_assertions
            .retain(|_, expires_at| *expires_at > now);
        inner.codes.retain(|_, c| c.record.expires_at > now);
        inner.refresh.retain(|_, t| t.expires_at > now);
        for token in inner.refresh.values_mut() {
            if let RefreshState::Rotated {
                sealed_successor,
                rotated_at,
                ..
            } = &mut token.state
                && *rotated_at < sealed_before
            {
                *sealed_successor = None;
            }
        }
        inner.access_tokens.retain(|_, t| t.expires_at > now);
        inner.revoked_jtis.retain(|_, expires_at| *expires_at > now);
        // A revoked family with no token left has nothing more to revoke.
        let live: HashSet<FamilyId> = inner
            .refresh
            .values()
            .map(|t| t.family.clone())
            .chain(inner.access_tokens.values().map(|t| t.family.clone()))
            .collect();
        inner.revoked_families.retain(|f| live.contains(f));
        inner.latest_rotated.retain(|f, _| live.contains(f));
        Ok(())
    }
}
