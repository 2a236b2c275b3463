//! `database = "memory"`: the engine's [`MemoryStore`] plus the server's other state, in memory.

use crate::IdentityRecord;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RotateOutcome,
    StoreError, TakeCode,
};
use gatehouse_engine::{MemoryStore, Store};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ClientId, UnixTime};

use crate::DenyList;
use crate::server::{
    AuditEvent, AuditQuery, Consent, Grant, ServerStore, SessionRecord, SignInFailures,
    StoredSigningKey, UserRecord,
};

#[derive(Default)]
struct Extras {
    /// Registered clients, for listing and replacing (the engine's store has no such ops).
    clients: BTreeMap<String, ClientRecord>,
    /// The ids of the clients the operator declared (`[[clients]]`).
    declared: BTreeSet<String>,
    /// The families issued to each client, so that deleting a client revokes them. A set: a
    /// machine client gets a new family with every grant, and a list made each grant cost a scan
    /// of all its earlier ones.
    families_of: BTreeMap<String, BTreeSet<FamilyId>>,
    /// The newest refresh token of each family, for listing grants.
    latest_refresh: BTreeMap<FamilyId, CredentialHash>,
    users: BTreeMap<String, UserRecord>,
    failures: BTreeMap<String, SignInFailures>,
    /// The families issued for each subject, so that deleting a user revokes them.
    families_of_subject: BTreeMap<String, Vec<FamilyId>>,
    /// The codes issued for each subject, and those voided by deleting their user.
    codes_of_subject: BTreeMap<String, Vec<CredentialHash>>,
    void_codes: BTreeSet<CredentialHash>,
    sessions: HashMap<CredentialHash, SessionRecord>,
    consents: BTreeMap<(String, String, String), Consent>,
    keys: Vec<StoredSigningKey>,
    audit: Vec<(i64, AuditEvent)>,
    /// Rate-limit arrival times by key.
    rates: HashMap<[u8; 32], u64>,
    identities: HashMap<String, IdentityRecord>,
    /// Who may refresh each identity's tokens, until when.
    refresh_leases: HashMap<String, UnixTime>,
}

/// The in-memory backend. Its deny-list is never in sync, so the guard asks the (in-memory)
/// store directly, which is as fast.
#[derive(Default)]
pub struct MemoryBackend {
    engine: MemoryStore,
    extras: Mutex<Extras>,
    deny: DenyList,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBackend")
    }
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn extras(&self) -> Result<MutexGuard<'_, Extras>, StoreError> {
        self.extras
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

impl Store for MemoryBackend {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        let id = client.client_id.as_str().to_owned();
        if extras.clients.contains_key(&id) {
            return Err(StoreError::Duplicate);
        }
        extras.clients.insert(id, client);
        Ok(())
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        let (subject, hash) = (code.subject.clone(), code.hash);
        self.engine.insert_code(code).await?;
        self.extras()?
            .codes_of_subject
            .entry(subject)
            .or_default()
            .push(hash);
        Ok(())
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        self.engine.code(hash).await
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        if self.extras()?.void_codes.contains(hash) {
            return Ok(TakeCode::NotFound);
        }
        let client = access_token.client_id.as_str().to_owned();
        let refresh_hash = refresh_token.as_ref().map(|t| t.hash);
        let outcome = self
            .engine
            .redeem_code(hash, family, access_token, refresh_token)
            .await?;
        if let TakeCode::Taken(record) = &outcome {
            let mut extras = self.extras()?;
            extras
                .families_of_subject
                .entry(record.subject.clone())
                .or_default()
                .push(family.clone());
            extras
                .families_of
                .entry(client)
                .or_default()
                .insert(family.clone());
            if let Some(hash) = refresh_hash {
                extras.latest_refresh.insert(family.clone(), hash);
            }
        }
        Ok(outcome)
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.engine.refresh(hash).await
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let (family, hash) = (successor.family.clone(), successor.hash);
        let outcome = self
            .engine
            .rotate_refresh(old, successor, sealed_successor, access_token, now)
            .await?;
        if outcome == RotateOutcome::Rotated {
            self.extras()?.latest_refresh.insert(family, hash);
        }
        Ok(outcome)
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        self.engine.revoke_family(family).await
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        let client = token.client_id.as_str().to_owned();
        let family = token.family.clone();
        self.engine.record_access_token(token).await?;
        // As the SQL stores find them through `access_tokens.client_id`: a machine client's
        // tokens (no code, no refresh token) are revoked when the client is deleted.
        let mut extras = self.extras()?;
        extras.families_of.entry(client).or_default().insert(family);
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        self.engine.revoke_access_token(jti, expires_at).await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.engine.is_access_token_revoked(jti).await
    }

    async fn access_token_family(
        &self,
        jti: &str,
    ) -> Result<Option<gatehouse_engine::store::FamilyId>, StoreError> {
        self.engine.access_token_family(jti).await
    }

    async fn use_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        self.engine.use_assertion(issuer, jti, expires_at).await
    }

    async fn groups_of(&self, subject: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .extras()?
            .identities
            .get(subject)
            .map(|identity| identity.groups.clone())
            .unwrap_or_default())
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        self.extras()?
            .sessions
            .retain(|_, session| session.expires_at > now);
        self.engine.purge(now, sealed_before).await?;
        // What links subjects to codes and families goes with the codes and tokens themselves.
        let codes: Vec<CredentialHash> = {
            let extras = self.extras()?;
            extras
                .codes_of_subject
                .values()
                .flatten()
                .chain(extras.void_codes.iter())
                .copied()
                .collect()
        };
        let mut gone = BTreeSet::new();
        for code in codes {
            if self.engine.code(&code).await?.is_none() {
                gone.insert(code);
            }
        }
        let mut extras = self.extras()?;
        for hashes in extras.codes_of_subject.values_mut() {
            hashes.retain(|hash| !gone.contains(hash));
        }
        extras
            .codes_of_subject
            .retain(|_, hashes| !hashes.is_empty());
        extras.void_codes.retain(|hash| !gone.contains(hash));
        Ok(())
    }
}

impl ServerStore for MemoryBackend {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.extras()?.clients.get(client_id.as_str()).cloned())
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        Ok(self.extras()?.clients.values().cloned().collect())
    }

    async fn replace_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        match extras.clients.get_mut(client.client_id.as_str()) {
            Some(slot) => {
                *slot = client;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn declare_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        let id = client.client_id.as_str().to_owned();
        let declared = extras.declared.contains(&id);
        match extras.clients.get_mut(&id) {
            Some(_) if !declared => Ok(false),
            Some(slot) => {
                // As the SQL backends: the registration time stays the first declaration's.
                let issued_at = slot.issued_at;
                *slot = ClientRecord {
                    issued_at,
                    ..client
                };
                Ok(true)
            }
            None => {
                extras.clients.insert(id.clone(), client);
                extras.declared.insert(id);
                Ok(true)
            }
        }
    }

    async fn declared_clients(&self) -> Result<Vec<ClientId>, StoreError> {
        self.extras()?
            .declared
            .iter()
            .map(|id| {
                ClientId::new(id.clone())
                    .map_err(|_| StoreError::Unavailable("corrupt declared client id".into()))
            })
            .collect()
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let families = {
            let mut extras = self.extras()?;
            extras.declared.remove(client_id.as_str());
            extras
                .consents
                .retain(|(_, client, _), _| client != client_id.as_str());
            let existed = extras.clients.remove(client_id.as_str()).is_some();
            let families = extras
                .families_of
                .remove(client_id.as_str())
                .unwrap_or_default();
            (existed, families)
        };
        for family in &families.1 {
            self.engine.revoke_family(family).await?;
        }
        Ok(families.0)
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        let latest: Vec<CredentialHash> = self.extras()?.latest_refresh.values().copied().collect();
        let mut grants = Vec::new();
        for hash in latest {
            if let Some(token) = self.engine.refresh(&hash).await?
                && token.subject == subject
                && token.state == gatehouse_engine::store::RefreshState::Active
                && token.expires_at > now
            {
                grants.push(Grant {
                    family: token.family,
                    client_id: token.client_id,
                    scopes: token.scopes,
                    resources: token.resources,
                    last_used: token.issued_at,
                });
            }
        }
        grants.sort_by(|a, b| (b.last_used, &a.family).cmp(&(a.last_used, &b.family)));
        Ok(grants)
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        if extras.users.contains_key(&user.name) {
            return Err(StoreError::Duplicate);
        }
        extras.users.insert(user.name.clone(), user);
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.extras()?.users.get(name).cloned())
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.extras()?.users.values().cloned().collect())
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        let Some(user) = extras.users.get_mut(name) else {
            return Ok(false);
        };
        user.password_hash = password_hash;
        extras.failures.remove(name);
        extras.sessions.retain(|_, session| session.subject != name);
        Ok(true)
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let (existed, families) = {
            let mut extras = self.extras()?;
            let existed = extras.users.remove(name).is_some();
            extras.failures.remove(name);
            extras.sessions.retain(|_, session| session.subject != name);
            extras.consents.retain(|(subject, _, _), _| subject != name);
            let codes = extras.codes_of_subject.remove(name).unwrap_or_default();
            extras.void_codes.extend(codes);
            let families = extras.families_of_subject.remove(name).unwrap_or_default();
            (existed, families)
        };
        for family in &families {
            self.engine.revoke_family(family).await?;
        }
        Ok(existed)
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        let extras = self.extras()?;
        Ok(extras
            .users
            .contains_key(name)
            .then(|| extras.failures.get(name).copied().unwrap_or_default()))
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        let mut extras = self.extras()?;
        if !extras.users.contains_key(name) {
            return Ok(None);
        }
        let failures = extras.failures.entry(name.to_owned()).or_default();
        failures.count = failures.count.saturating_add(1);
        failures.last_at = Some(at);
        Ok(Some(*failures))
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        self.extras()?.failures.remove(name);
        Ok(())
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        if extras.sessions.contains_key(&session.hash) {
            return Err(StoreError::Duplicate);
        }
        extras.sessions.insert(session.hash, session);
        Ok(())
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .extras()?
            .sessions
            .get(hash)
            .filter(|session| session.expires_at > now)
            .cloned())
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        Ok(self.extras()?.sessions.remove(hash).is_some())
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        let key = (
            consent.subject.clone(),
            consent.client_id.as_str().to_owned(),
            consent.resource.as_str().to_owned(),
        );
        self.extras()?.consents.insert(key, consent);
        Ok(())
    }

    async fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> Result<Option<Consent>, StoreError> {
        let key = (
            subject.to_owned(),
            client_id.as_str().to_owned(),
            resource.as_str().to_owned(),
        );
        Ok(self.extras()?.consents.get(&key).cloned())
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        Ok(self
            .extras()?
            .consents
            .iter()
            .filter(|((s, _, _), _)| s == subject)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        let mut extras = self.extras()?;
        let before = extras.consents.len();
        extras
            .consents
            .retain(|(s, c, _), _| !(s == subject && c == client_id.as_str()));
        Ok(u64::try_from(before - extras.consents.len()).unwrap_or(u64::MAX))
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        if extras.keys.iter().any(|k| k.kid == key.kid) {
            return Err(StoreError::Duplicate);
        }
        extras.keys.push(key);
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let mut keys = self.extras()?.keys.clone();
        keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(keys)
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        match extras.keys.iter_mut().find(|k| k.kid == kid) {
            Some(key) => {
                key.retired_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        let before = extras.keys.len();
        extras.keys.retain(|k| k.kid != kid);
        Ok(extras.keys.len() != before)
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        for event in events {
            let id = extras.audit.last().map_or(1, |(id, _)| id + 1);
            extras.audit.push((id, event));
        }
        Ok(())
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        let mut extras = self.extras()?;
        let count = extras.audit.len();
        extras.audit.retain(|(_, event)| event.at >= before);
        Ok(u64::try_from(count - extras.audit.len()).unwrap_or(u64::MAX))
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        Ok(self
            .extras()?
            .audit
            .iter()
            .filter(|(id, _)| *id > after)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        Ok(self
            .extras()?
            .audit
            .iter()
            .rev()
            .filter(|(_, event)| query.matches(event))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn spend_rate(
        &self,
        key: &[u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> Result<Result<(), u64>, StoreError> {
        let mut extras = self.extras()?;
        let tat = extras.rates.get(key).copied();
        Ok(
            gatehouse_types::rate::spend(tat, now_us, budget).map(|tat| {
                extras.rates.insert(*key, tat);
            }),
        )
    }

    async fn purge_rate_limits(&self, now_us: u64) -> Result<u64, StoreError> {
        let mut extras = self.extras()?;
        let count = extras.rates.len();
        extras.rates.retain(|_, tat| *tat > now_us);
        Ok(u64::try_from(count - extras.rates.len()).unwrap_or(u64::MAX))
    }

    async fn put_identity(&self, mut identity: IdentityRecord) -> Result<(), StoreError> {
        let mut extras = self.extras()?;
        identity.version = extras
            .identities
            .get(&identity.subject)
            .map_or(1, |known| known.version.saturating_add(1));
        extras.refresh_leases.remove(&identity.subject);
        extras.identities.insert(identity.subject.clone(), identity);
        Ok(())
    }

    async fn claim_identity_refresh(
        &self,
        subject: &str,
        version: i64,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut extras = self.extras()?;
        let current = extras
            .identities
            .get(subject)
            .is_some_and(|identity| identity.version == version);
        let free = extras
            .refresh_leases
            .get(subject)
            .is_none_or(|held| *held <= now);
        if current && free {
            extras.refresh_leases.insert(subject.to_owned(), until);
        }
        Ok(current && free)
    }

    async fn identity(&self, subject: &str) -> Result<Option<IdentityRecord>, StoreError> {
        Ok(self.extras()?.identities.get(subject).cloned())
    }

    async fn replace_identity_tokens(
        &self,
        subject: &str,
        version: i64,
        sealed_tokens: Option<Vec<u8>>,
        now: UnixTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut extras = self.extras()?;
        let replaced = extras
            .identities
            .get_mut(subject)
            .filter(|identity| identity.version == version)
            .map(|identity| {
                identity.sealed_tokens = sealed_tokens;
                identity.version = version.saturating_add(1);
                identity.updated_at = now;
                identity.version
            });
        if replaced.is_some() {
            extras.refresh_leases.remove(subject);
        }
        Ok(replaced)
    }

    fn deny_list(&self) -> &DenyList {
        &self.deny
    }
}
