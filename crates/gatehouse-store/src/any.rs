//! One store type for whichever backend the configuration names.

use crate::IdentityRecord;
use gatehouse_engine::Store;
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RotateOutcome,
    StoreError, TakeCode,
};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ClientId, UnixTime};

use crate::server::{
    AuditEvent, AuditQuery, Consent, Grant, ServerStore, SessionRecord, SignInFailures,
    StoredSigningKey, UserRecord,
};
use crate::{DatabaseUrl, DenyList, MemoryBackend, PostgresStore, SqliteStore};

/// The store of a running server: the backend its `database` value selected.
#[derive(Debug)]
#[non_exhaustive]
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

/// Forwards a call to the backend, timing it (`gatehouse_store_operation_duration_seconds`).
macro_rules! timed {
    ($self:ident, $method:ident($($arg:expr),*)) => {{
        let started = std::time::Instant::now();
        let result = each!($self, s => s.$method($($arg),*).await);
        metrics::histogram!(
            "gatehouse_store_operation_duration_seconds",
            "backend" => $self.backend(),
            "operation" => stringify!($method)
        )
        .record(started.elapsed().as_secs_f64());
        result
    }};
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

impl AnyStore {
    /// The backend's name, as metrics label it.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl Store for AnyStore {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        timed!(self, insert_client(client))
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        timed!(self, insert_code(code))
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        timed!(self, code(hash))
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        timed!(self, redeem_code(hash, family, access_token, refresh_token))
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        timed!(self, refresh(hash))
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        timed!(
            self,
            rotate_refresh(old, successor, sealed_successor, access_token, now)
        )
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        timed!(self, revoke_family(family))
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        timed!(self, record_access_token(token))
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        timed!(self, revoke_access_token(jti, expires_at))
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        timed!(self, is_access_token_revoked(jti))
    }

    async fn access_token_family(
        &self,
        jti: &str,
    ) -> Result<Option<gatehouse_engine::store::FamilyId>, StoreError> {
        timed!(self, access_token_family(jti))
    }

    async fn use_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        timed!(self, use_assertion(issuer, jti, expires_at))
    }

    async fn groups_of(&self, subject: &str) -> Result<Vec<String>, StoreError> {
        timed!(self, groups_of(subject))
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        timed!(self, purge(now, sealed_before))
    }
}

impl ServerStore for AnyStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        timed!(self, client(client_id))
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        timed!(self, clients())
    }

    async fn replace_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        timed!(self, replace_client(client))
    }

    async fn declare_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        timed!(self, declare_client(client))
    }

    async fn declared_clients(&self) -> Result<Vec<ClientId>, StoreError> {
        timed!(self, declared_clients())
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        timed!(self, delete_client(client_id))
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        timed!(self, grants_of(subject, now))
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        timed!(self, add_user(user))
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        timed!(self, user(name))
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        timed!(self, users())
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        timed!(self, set_password(name, password_hash))
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        timed!(self, delete_user(name))
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        timed!(self, sign_in_failures(name))
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        timed!(self, record_sign_in_failure(name, at))
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        timed!(self, clear_sign_in_failures(name))
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        timed!(self, insert_session(session))
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        timed!(self, session(hash, now))
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        timed!(self, delete_session(hash))
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        timed!(self, grant_consent(consent))
    }

    async fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> Result<Option<Consent>, StoreError> {
        timed!(self, consent(subject, client_id, resource))
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        timed!(self, consents_of(subject))
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        timed!(self, withdraw_consent(subject, client_id))
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        timed!(self, insert_signing_key(key))
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        timed!(self, signing_keys())
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        timed!(self, retire_signing_key(kid, at))
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        timed!(self, delete_signing_key(kid))
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        timed!(self, append_audit(events))
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        timed!(self, purge_audit(before))
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        timed!(self, audit_events(after, limit))
    }

    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        timed!(self, search_audit(query))
    }

    async fn spend_rate(
        &self,
        key: &[u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> Result<Result<(), u64>, StoreError> {
        timed!(self, spend_rate(key, now_us, budget))
    }

    async fn purge_rate_limits(&self, now_us: u64) -> Result<u64, StoreError> {
        timed!(self, purge_rate_limits(now_us))
    }

    async fn put_identity(&self, identity: IdentityRecord) -> Result<(), StoreError> {
        timed!(self, put_identity(identity))
    }

    async fn identity(&self, subject: &str) -> Result<Option<IdentityRecord>, StoreError> {
        timed!(self, identity(subject))
    }

    async fn replace_identity_tokens(
        &self,
        subject: &str,
        version: i64,
        sealed_tokens: Option<Vec<u8>>,
        now: UnixTime,
    ) -> Result<Option<i64>, StoreError> {
        timed!(
            self,
            replace_identity_tokens(subject, version, sealed_tokens, now)
        )
    }

    async fn claim_identity_refresh(
        &self,
        subject: &str,
        version: i64,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        timed!(self, claim_identity_refresh(subject, version, until, now))
    }

    fn deny_list(&self) -> &DenyList {
        each!(self, s => s.deny_list())
    }
}
