//! What the server persists beyond the engine's contract: client management, local users,
//! consents, signing keys and audit events.

use std::future::Future;

use gatehouse_engine::Store;
use gatehouse_engine::store::{ClientRecord, StoreError};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ClientId, ScopeSet, UnixTime};
use serde_json::Value;

use crate::DenyList;

/// A local user (`login.mode = "local"`).
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user name, which is also the `sub` of the tokens issued to them.
    pub name: String,
    /// The argon2id hash in PHC string form ([`crate::password::hash`]).
    pub password_hash: String,
    /// When the user was added.
    pub created_at: UnixTime,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("password_hash", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Failed sign-ins of a local user since their last successful one (NIST SP 800-63B §5.2.2:
/// consecutive failures are limited per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignInFailures {
    /// How many in a row.
    pub count: u32,
    /// When the last one was.
    pub last_at: Option<UnixTime>,
}

/// A signed-in browser session. The cookie holds a 256-bit random secret; the store holds only its
/// SHA-256, so a copy of the database signs no one in. Deleting the row ends the session on every
/// instance at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session secret.
    pub hash: gatehouse_engine::opaque::CredentialHash,
    /// Who signed in.
    pub subject: String,
    /// When.
    pub created_at: UnixTime,
    /// When it ends at the latest.
    pub expires_at: UnixTime,
}

/// A remembered consent: `subject` let `client_id` have `scopes` at `resource`.
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    /// The resource owner.
    pub subject: String,
    /// The client.
    pub client_id: ClientId,
    /// The protected resource.
    pub resource: ResourceUri,
    /// The scopes consented to.
    pub scopes: ScopeSet,
    /// When.
    pub granted_at: UnixTime,
}

/// A signing key as stored: the private JWK sealed with the encryption key
/// ([`crate::sealing::EncryptionKey::seal`]), which the database never sees.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// The key id (its RFC 7638 thumbprint).
    pub kid: String,
    /// The JWS algorithm, e.g. `ES256`.
    pub alg: String,
    /// The sealed private JWK.
    pub sealed_private_jwk: Vec<u8>,
    /// When the key was created.
    pub created_at: UnixTime,
    /// When it stopped signing (it stays in the JWKS for a while after), if it did.
    pub retired_at: Option<UnixTime>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("sealed_private_jwk", &"[sealed]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A live grant: a refresh-token family a person gave a client, as the connected-apps page shows
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The family (what revoking the grant revokes).
    pub family: gatehouse_engine::store::FamilyId,
    /// The client holding it.
    pub client_id: ClientId,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// Its resources.
    pub resources: Vec<ResourceUri>,
    /// When its current refresh token was issued: the last time the client used the grant.
    pub last_used: UnixTime,
}

/// A person an identity provider vouched for, as of their last sign-in: their groups and, when
/// the provider's tokens are kept (`keep_tokens`), those tokens sealed with the encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    /// `{provider}:{subject}`.
    pub subject: String,
    /// The provider's groups or roles claim.
    pub groups: Vec<String>,
    /// The provider's tokens, sealed (never in plain text at rest).
    pub sealed_tokens: Option<Vec<u8>>,
    /// Raised by every write: what a compare-and-swap of the tokens compares.
    pub version: i64,
    /// When it was last written.
    pub updated_at: UnixTime,
}

impl std::fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRecord")
            .field("subject", &self.subject)
            .field("groups", &self.groups)
            .field(
                "sealed_tokens",
                &self.sealed_tokens.as_ref().map(|_| "[sealed]"),
            )
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Something that happened, for the audit log. `detail` must never hold a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// When.
    pub at: UnixTime,
    /// What, e.g. `token.issued`, `refresh.reuse_detected`, `client.registered`.
    pub kind: String,
    /// The resource owner concerned, if any.
    pub subject: Option<String>,
    /// The client concerned, if any.
    pub client_id: Option<String>,
    /// The protected resource of an audited MCP call, if it is one.
    pub resource: Option<String>,
    /// The tool or prompt name, or the resource URI, of an audited MCP call, if it is one.
    pub tool: Option<String>,
    /// Anything else worth keeping (no secrets). It may leave out the members the columns above
    /// hold (`kind`, `subject`, `client_id`, `resource`, `tool`): an audited MCP call does, so that
    /// the one record every request writes does not store them twice. [`AuditEvent::members`]
    /// puts them back.
    pub detail: AuditDetail,
}

impl AuditEvent {
    /// The event as one JSON object: the columns (those that are set), then the members of the
    /// detail. A detail that holds a column's member too (records written before calls left
    /// them out, and every event but a call) holds the same value.
    pub fn members(&self) -> serde_json::Map<String, Value> {
        let columns = [
            ("kind", Some(&self.kind)),
            ("subject", self.subject.as_ref()),
            ("client_id", self.client_id.as_ref()),
            ("resource", self.resource.as_ref()),
            ("tool", self.tool.as_ref()),
        ];
        let mut members: serde_json::Map<String, Value> = columns
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), Value::from(value?.as_str()))))
            .collect();
        if let Value::Object(detail) = self.detail.to_value() {
            for (name, value) in detail {
                members.entry(name).or_insert(value);
            }
        }
        members
    }
}

/// An audit event's detail: a JSON value, kept as the text the store writes. An event made on a
/// busy path (every MCP call a guard decides is one) is serialized once, where a tree of
/// `serde_json::Value`s would be built, walked and printed again for every record (issue 24).
#[derive(Clone, PartialEq, Eq)]
pub struct AuditDetail(String);

impl AuditDetail {
    /// The detail `value` serializes to (an error if `value` cannot be serialized to JSON).
    pub fn of<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self)
    }

    /// JSON text, checked to be JSON (what the store reads back).
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Self(text))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The detail as a tree, to read its members.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for AuditDetail {
    fn from(value: Value) -> Self {
        Self(value.to_string())
    }
}

impl std::fmt::Display for AuditDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for AuditDetail {
    /// Escaped, as a string's `Debug` is: JSON leaves DEL, C1 controls and bidirectional
    /// overrides as they are, and a detail stored by another writer need not have been made safe.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

/// The storage of the whole server: the engine's [`Store`] plus the rest. Every method is one
/// transaction.
pub trait ServerStore: Store {
    /// A registered client by id.
    fn client(
        &self,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send;

    /// Every registered client, ordered by id.
    fn clients(&self) -> impl Future<Output = Result<Vec<ClientRecord>, StoreError>> + Send;

    /// Replaces a client's registration (RFC 7592 §2.2 update); `false` if there is none.
    fn replace_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a client the operator declares (`[[clients]]`): inserts it, or updates it in place
    /// if it was declared before (keeping its `issued_at`). `false`, and nothing written, if a
    /// client of that id exists that was not declared.
    fn declare_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The ids of the declared clients, ordered.
    fn declared_clients(&self) -> impl Future<Output = Result<Vec<ClientId>, StoreError>> + Send;

    /// Deletes a client (RFC 7592 §2.3) and, in the same transaction, revokes every grant
    /// issued to it and forgets its consents; `false` if there was none.
    fn delete_client(
        &self,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The live grants of `subject` at `now` (an active, unexpired refresh token in an unrevoked
    /// family), most recently used first.
    fn grants_of(
        &self,
        subject: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;

    /// Adds a local user; [`StoreError::Duplicate`] if the name is taken.
    fn add_user(&self, user: UserRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A local user by name.
    fn user(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;

    /// Every local user, ordered by name.
    fn users(&self) -> impl Future<Output = Result<Vec<UserRecord>, StoreError>> + Send;

    /// Replaces a user's password hash and, in the same transaction, ends their sessions and
    /// forgets their failed sign-ins; `false` if there is no such user.
    fn set_password(
        &self,
        name: &str,
        password_hash: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a user and, in the same transaction, revokes every grant issued for them (their
    /// refresh-token families and those families' access tokens, announced to every instance
    /// like any revocation), deletes their unredeemed codes, ends their sessions and forgets
    /// their consents; `false` if there was no such user.
    fn delete_user(&self, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The failed sign-ins of a local user; `None` if there is no such user.
    fn sign_in_failures(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SignInFailures>, StoreError>> + Send;

    /// Counts a failed sign-in of a local user at `at`; the new count, or `None` if there is no
    /// such user (nothing is stored for names that are not users).
    fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> impl Future<Output = Result<Option<SignInFailures>, StoreError>> + Send;

    /// Forgets a user's failed sign-ins (after a successful one).
    fn clear_sign_in_failures(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new session; [`StoreError::Duplicate`] if its hash exists.
    fn insert_session(
        &self,
        session: SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session with this hash, if it exists and has not expired at `now`.
    fn session(
        &self,
        hash: &gatehouse_engine::opaque::CredentialHash,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Ends a session (sign-out); `false` if there was none.
    fn delete_session(
        &self,
        hash: &gatehouse_engine::opaque::CredentialHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Remembers a consent, replacing an earlier one for the same subject, client and resource.
    fn grant_consent(
        &self,
        consent: Consent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The consent `subject` gave `client_id` for `resource`, if any.
    fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> impl Future<Output = Result<Option<Consent>, StoreError>> + Send;

    /// Every consent of `subject`, ordered by client and resource.
    fn consents_of(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<Consent>, StoreError>> + Send;

    /// Withdraws every consent `subject` gave `client_id`; how many there were.
    fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores a signing key; [`StoreError::Duplicate`] if the `kid` exists.
    fn insert_signing_key(
        &self,
        key: StoredSigningKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every signing key, oldest first.
    fn signing_keys(
        &self,
    ) -> impl Future<Output = Result<Vec<StoredSigningKey>, StoreError>> + Send;

    /// Marks a key as no longer signing; `false` if there is no such key.
    fn retire_signing_key(
        &self,
        kid: &str,
        at: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a key (after its overlap in the JWKS is over); `false` if there was none.
    fn delete_signing_key(
        &self,
        kid: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Appends audit events, in order, in one transaction: a batch costs one commit, so a writer
    /// that drains its queue in batches keeps up with a burst.
    fn append_audit(
        &self,
        events: Vec<AuditEvent>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the audit events from before `before` (`[audit] retention_days`), in small
    /// batches; how many.
    fn purge_audit(&self, before: UnixTime)
    -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Audit events with an id above `after`, oldest first, at most `limit`.
    fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(i64, AuditEvent)>, StoreError>> + Send;

    /// Audit events matching `query`, newest first (`gatehouse audit list`).
    fn search_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<(i64, AuditEvent)>, StoreError>> + Send;

    /// Spends one request of the budget of `key` (a hash: whatever names a caller stays out of
    /// the table) at `now_us`: `Ok(Ok(()))` if it passes, `Ok(Err(us))` if it must wait that
    /// long ([`gatehouse_types::rate::spend`]). Atomic across every instance sharing the store.
    fn spend_rate(
        &self,
        key: &[u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> impl Future<Output = Result<Result<(), u64>, StoreError>> + Send;

    /// Forgets the rate-limit keys whose budget is whole again at `now_us`; how many.
    fn purge_rate_limits(
        &self,
        now_us: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records what an identity provider said of a person at sign-in (replacing what it said
    /// before), and raises the version.
    fn put_identity(
        &self,
        identity: IdentityRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What is recorded of `subject`, if they ever signed in through an identity provider.
    fn identity(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<IdentityRecord>, StoreError>> + Send;

    /// Replaces the sealed tokens of `subject` if the record is still at `version` (nobody
    /// refreshed them meanwhile): the new version, or `None` if another write came first.
    fn replace_identity_tokens(
        &self,
        subject: &str,
        version: i64,
        sealed_tokens: Option<Vec<u8>>,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Takes the right to refresh `subject`'s tokens until `until`, if the record is still at
    /// `version` and nobody holds that right at `now`: `true` if taken. One instance refreshes
    /// at a time, so a provider that rotates refresh tokens never sees the old one twice; a
    /// write of the tokens (or a new sign-in) gives the right back.
    fn claim_identity_refresh(
        &self,
        subject: &str,
        version: i64,
        until: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The in-memory deny-list of revoked access tokens that the guard consults on every request
    /// instead of the database ([`DenyList::check`]).
    fn deny_list(&self) -> &DenyList;
}

/// What `gatehouse audit list` asks for: events at or after `since`, of the client, subject and
/// tool given (each only when given), at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The oldest time wanted.
    pub since: UnixTime,
    /// Only this client's events.
    pub client_id: Option<String>,
    /// Only this subject's events.
    pub subject: Option<String>,
    /// Only calls of this tool (or prompt, or resource URI).
    pub tool: Option<String>,
    /// At most this many, the newest.
    pub limit: u32,
}

impl AuditQuery {
    /// Whether `event` is one the query asks for (the in-memory store's filter; SQL has its own).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        event.at >= self.since
            && (self.client_id.is_none() || self.client_id == event.client_id)
            && (self.subject.is_none() || self.subject == event.subject)
            && (self.tool.is_none() || self.tool == event.tool)
    }
}

/// Whether an access token was revoked, from the in-memory deny-list when it is in sync and
/// from the store otherwise: what the guard calls on every request.
pub async fn is_access_token_revoked_cached<S: ServerStore>(
    store: &S,
    jti: &str,
) -> Result<bool, StoreError> {
    match store.deny_list().check(jti) {
        crate::RevocationCheck::Revoked => Ok(true),
        crate::RevocationCheck::NotRevoked => Ok(false),
        crate::RevocationCheck::Unknown => store.is_access_token_revoked(jti).await,
    }
}
