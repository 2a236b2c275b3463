//! One store type for whichever backend the configuration names.

use gatehouse_engine::Store;
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RotateOutcome,
    StoreError, TakeCode,
};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::{ClientId, UnixTime};

use crate::server::{
    AuditEvent, Consent, Grant, ServerStore, SessionRecord, SignInFailures, StoredSigningKey,
    UserRecord,
};
use crate::{DatabaseUrl, DenyList, MemoryBackend, PostgresStore, SqliteStore};

/// The store of a running server: the backend its `database` value selected.
#[derive(Debug)]
pub enum AnyStore {
    /// `memory` (boxed: its maps make it much larger than the handles of the others).
    Memory(Box<MemoryBackend>),
    /// `sqlite://…`.
    Sqlite(SqliteStore),
    /// `postgres://…`.
    Postgres(PostgresStore),
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the database {url:?}: {error}")]
pub struct OpenError {
    url: DatabaseUrl,
    error: StoreError,
}

/// Opens the store `url` names, creating and migrating its schema as needed.
pub async fn open(url: &DatabaseUrl) -> Result<AnyStore, OpenError> {
    let opened = match url {
        DatabaseUrl::Memory => Ok(AnyStore::Memory(Box::default())),
        DatabaseUrl::Sqlite(path) => SqliteStore::open(path.clone()).await.map(AnyStore::Sqlite),
        DatabaseUrl::Postgres(dsn) => PostgresStore::open(dsn).await.map(AnyStore::Postgres),
    };
    opened.map_err(|error| OpenError {
        url: url.clone(),
        error,
    })
}

/// Forwards a call to the backend.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($store) => $call,
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl Store for AnyStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        each!(self, s => s.client(client_id).await)
    }

    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        each!(self, s => s.insert_client(client).await)
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        each!(self, s => s.insert_code(code).await)
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        each!(self, s => s.code(hash).await)
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        each!(self, s => s.redeem_code(hash, family, access_token, refresh_token).await)
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        each!(self, s => s.refresh(hash).await)
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        each!(self, s => s.rotate_refresh(old, successor, sealed_successor, access_token, now).await)
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        each!(self, s => s.revoke_family(family).await)
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        each!(self, s => s.record_access_token(token).await)
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        each!(self, s => s.revoke_access_token(jti, expires_at).await)
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        each!(self, s => s.is_access_token_revoked(jti).await)
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        each!(self, s => s.purge(now, sealed_before).await)
    }
}

impl ServerStore for AnyStore {
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        each!(self, s => s.clients().await)
    }

    async fn replace_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        each!(self, s => s.replace_client(client).await)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        each!(self, s => s.delete_client(client_id).await)
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        each!(self, s => s.grants_of(subject, now).await)
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        each!(self, s => s.add_user(user).await)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        each!(self, s => s.user(name).await)
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        each!(self, s => s.users().await)
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        each!(self, s => s.set_password(name, password_hash).await)
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        each!(self, s => s.delete_user(name).await)
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        each!(self, s => s.sign_in_failures(name).await)
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        each!(self, s => s.record_sign_in_failure(name, at).await)
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        each!(self, s => s.clear_sign_in_failures(name).await)
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        each!(self, s => s.insert_session(session).await)
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        each!(self, s => s.session(hash, now).await)
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        each!(self, s => s.delete_session(hash).await)
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        each!(self, s => s.grant_consent(consent).await)
    }

    async fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> Result<Option<Consent>, StoreError> {
        each!(self, s => s.consent(subject, client_id, resource).await)
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        each!(self, s => s.consents_of(subject).await)
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        each!(self, s => s.withdraw_consent(subject, client_id).await)
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        each!(self, s => s.insert_signing_key(key).await)
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        each!(self, s => s.signing_keys().await)
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        each!(self, s => s.retire_signing_key(kid, at).await)
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        each!(self, s => s.delete_signing_key(kid).await)
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        each!(self, s => s.append_audit(event).await)
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        each!(self, s => s.purge_audit(before).await)
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        each!(self, s => s.audit_events(after, limit).await)
    }

    fn deny_list(&self) -> &DenyList {
        each!(self, s => s.deny_list())
    }
}
