//! The storage contract of the engine: records, and the operations whose atomicity the rules
//! depend on. The engine calls a [`Store`]; it never does IO itself.
//!
//! Three operations carry the security of the protocol and must be atomic in every backend, also
//! across several server instances sharing one database:
//!
//! - [`Store::redeem_code`]: an authorization code is taken **exactly once**, and the tokens
//!   issued from it are stored in the same transaction (nothing is half-written: a code is never
//!   burned without its tokens). Of any number of concurrent calls for one code, one gets
//!   [`TakeCode::Taken`]; every other, then and later, gets [`TakeCode::AlreadyUsed`] with the
//!   family issued from it (OAuth 2.1 §4.1.3). In SQL: one conditional
//!   `UPDATE codes SET redeemed_into = $family WHERE hash = $hash AND redeemed_into IS NULL
//!   RETURNING …`, never a `SELECT` followed by an `UPDATE`. Redeemed codes are kept at least
//!   until they expire, or reuse would look like an unknown code and go undetected.
//! - [`Store::rotate_refresh`]: a **compare-and-set** from `Active` to `Rotated` together with the
//!   insertion of the successor and of the new access token's record; of concurrent rotations of
//!   one token, exactly one wins and the others see the winner's result
//!   ([`RotateOutcome::Lost`]). The rotation also clears the sealed successor of every other
//!   rotated token of the family (only the latest predecessor may open its successor).
//! - [`Store::revoke_family`]: revokes a family. Revocation is a property of the family that
//!   reads consult ([`Store::refresh`] reports every token of a revoked family as
//!   [`RefreshState::Revoked`]; [`Store::is_access_token_revoked`] is true for every access token
//!   of a revoked family), so a token inserted concurrently with the revocation is revoked too,
//!   whatever the isolation level: there is no write skew between "insert into family" and
//!   "revoke family" to lose.

use std::future::Future;

use gatehouse_registration::RegisteredClientMetadata;
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::{ClientId, RedirectUri, ScopeSet, UnixTime};

use crate::CodeChallenge;
use crate::opaque::{CREDENTIAL_BYTES, CredentialHash};

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: ClientId,
    /// The registered metadata, as the registration policy accepted it.
    pub metadata: RegisteredClientMetadata,
    /// Hash of the client secret, for confidential clients.
    pub secret_hash: Option<CredentialHash>,
    /// When the secret expires (`None`: never).
    pub secret_expires_at: Option<UnixTime>,
    /// Hash of the RFC 7592 registration access token.
    pub registration_token_hash: Option<CredentialHash>,
    /// When the client was registered.
    pub issued_at: UnixTime,
    /// The protected resources this client introspects tokens for: set by the operator for the
    /// credentials of a resource server (RFC 7662 §4: protected resources "SHOULD be specifically
    /// authorized" to introspect). Empty for clients that registered themselves.
    pub introspection_resources: Vec<ResourceUri>,
}

impl ClientRecord {
    /// Whether the client registered itself (RFC 7591): it holds a registration access token.
    /// Such clients are not vetted by an operator, which matters for error redirects (RFC 9700
    /// §4.11.2) and for what a consent page warns about.
    pub fn is_dynamically_registered(&self) -> bool {
        self.registration_token_hash.is_some()
    }

    /// Whether the client describes itself in a Client ID Metadata Document at its own URL (its
    /// `client_id` is an `https` URL): like a self-registered client, no operator vetted it.
    pub fn is_metadata_document_client(&self) -> bool {
        self.client_id.is_metadata_document_url()
    }

    /// Whether an operator vetted this client: it neither registered itself nor describes itself
    /// at its own URL. Only vetted clients get error redirects without an interstitial page
    /// (RFC 9700 §4.11.2) and a consent page without the "unverified" warning.
    pub fn is_vetted(&self) -> bool {
        !self.is_dynamically_registered() && !self.is_metadata_document_client()
    }
}

/// The id of a refresh-token family: every token descended from one authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FamilyId(String);

impl FamilyId {
    /// Wraps a stored id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    /// Hash of the code.
    pub hash: CredentialHash,
    /// The client the code was issued to.
    pub client_id: ClientId,
    /// The redirect URI the code was sent to.
    pub redirect_uri: RedirectUri,
    /// Whether the authorization request named the redirect URI (then the token request must
    /// repeat it, OAuth 2.1 §4.1.3).
    pub redirect_uri_was_explicit: bool,
    /// The PKCE challenge the code is bound to.
    pub challenge: CodeChallenge,
    /// The granted scopes.
    pub scopes: ScopeSet,
    /// The resources the grant is for.
    pub resources: Vec<ResourceUri>,
    /// The resource owner.
    pub subject: String,
    /// When the code was issued.
    pub issued_at: UnixTime,
    /// When the code expires.
    pub expires_at: UnixTime,
    /// The thumbprint of the DPoP key the authorization request named in `dpop_jkt` (RFC 9449
    /// §10): the code is redeemed only with a proof made with that key.
    pub dpop_jkt: Option<String>,
}

/// A code as the store holds it: the record, and the family issued from it once redeemed.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeEntry {
    /// The code.
    pub record: CodeRecord,
    /// `Some` once the code was redeemed.
    pub redeemed_into: Option<FamilyId>,
}

/// The result of [`Store::redeem_code`].
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::exhaustive_enums)]
// the outcomes of taking a code once; a new one would change every store
// Made once per redemption and matched at once: boxing the record would add an allocation to
// the token endpoint's path for no memory saved.
#[allow(clippy::large_enum_variant)]
pub enum TakeCode {
    /// This call took the code; it is now redeemed into the family passed in.
    Taken(CodeRecord),
    /// The code was redeemed before, into this family.
    AlreadyUsed(FamilyId),
    /// No such code.
    NotFound,
}

/// Where a refresh token stands.
#[derive(Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_enums)] // the states of a refresh token; a new one would change every store
pub enum RefreshState {
    /// Usable.
    Active,
    /// Used once and replaced.
    Rotated {
        /// Hash of the successor.
        successor: CredentialHash,
        /// The successor's bytes, sealed with a pad only the predecessor token opens (see
        /// `opaque::seal_successor`), so a benign retry within the grace period can get the same
        /// successor back. `None` once the successor was rotated in turn or the grace period is
        /// over (the purge clears it): see `docs/decisions/0006-refresh-reuse-grace.md`.
        sealed_successor: Option<[u8; CREDENTIAL_BYTES]>,
        /// When it was rotated.
        rotated_at: UnixTime,
    },
    /// Revoked.
    Revoked,
}

impl std::fmt::Debug for RefreshState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Active => f.write_str("Active"),
            Self::Rotated {
                successor,
                sealed_successor,
                rotated_at,
            } => f
                .debug_struct("Rotated")
                .field("successor", successor)
                .field("sealed_successor", &sealed_successor.map(|_| "[redacted]"))
                .field("rotated_at", rotated_at)
                .finish(),
            Self::Revoked => f.write_str("Revoked"),
        }
    }
}

/// A refresh token.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    /// Hash of the token.
    pub hash: CredentialHash,
    /// Its family.
    pub family: FamilyId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The resource owner.
    pub subject: String,
    /// The scopes of the grant (a refresh never widens them).
    pub scopes: ScopeSet,
    /// The resources of the grant.
    pub resources: Vec<ResourceUri>,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// The thumbprint of the DPoP key it is bound to (RFC 9449 §5: refresh tokens of public
    /// clients are bound to the key of the proof they were issued with); successors inherit it.
    pub dpop_jkt: Option<String>,
    /// Where it stands.
    pub state: RefreshState,
}

/// The result of [`Store::rotate_refresh`].
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::exhaustive_enums)] // the outcomes of a compare-and-set; there is no third
pub enum RotateOutcome {
    /// This call rotated the token and stored the successor.
    Rotated,
    /// The token was no longer active; its current record.
    Lost(Box<RefreshRecord>),
}

/// An issued access token, remembered so that revoking its family revokes it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The family it was issued in.
    pub family: FamilyId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// Its `exp`: the record can be forgotten after it.
    pub expires_at: UnixTime,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The family was revoked: nothing may be added to it.
    #[error("the grant was revoked")]
    FamilyRevoked,
    /// A record with this key exists already.
    #[error("duplicate record")]
    Duplicate,
    /// The backend failed (connection, disk, …). The message is for logs, not for clients.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// The storage the engine needs: the records it writes, and the reads that belong to its
/// atomic operations. Finding a client is not among them: the caller resolves the party a request
/// names (a store row, a Client ID Metadata Document, later a JWKS or an identity provider) and
/// hands the engine the result. Implementations: [`crate::MemoryStore`] here; SQLite and
/// PostgreSQL in `gatehouse-store`, which run the same behaviour suite.
pub trait Store: Send + Sync {
    /// Registers a client; [`StoreError::Duplicate`] if the id is taken.
    fn insert_client(
        &self,
        client: ClientRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new code; [`StoreError::Duplicate`] if its hash exists.
    fn insert_code(&self, code: CodeRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A code and whether it was redeemed, without changing it.
    fn code(
        &self,
        hash: &CredentialHash,
    ) -> impl Future<Output = Result<Option<CodeEntry>, StoreError>> + Send;

    /// Takes a code exactly once, recording `family` as what it was redeemed into, and stores
    /// the tokens issued from it, all in one transaction (see the module documentation). When
    /// the code is not taken, nothing is stored.
    fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> impl Future<Output = Result<TakeCode, StoreError>> + Send;

    /// A refresh token by hash.
    fn refresh(
        &self,
        hash: &CredentialHash,
    ) -> impl Future<Output = Result<Option<RefreshRecord>, StoreError>> + Send;

    /// Compare-and-set: if `old` is still `Active`, marks it `Rotated` with `successor`'s hash,
    /// `sealed_successor` and `now`, clears the sealed successors of the family's other rotated
    /// tokens, and stores `successor` and `access_token`, atomically. Otherwise stores nothing
    /// and returns the current record.
    fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;

    /// Revokes a family: its refresh tokens and access tokens, and anything added to it later.
    fn revoke_family(
        &self,
        family: &FamilyId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Remembers an issued access token; [`StoreError::FamilyRevoked`] if its family was revoked.
    fn record_access_token(
        &self,
        token: AccessTokenRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes one access token by `jti` until `expires_at`.
    fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether an access token was revoked (directly or through its family).
    fn is_access_token_revoked(
        &self,
        jti: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The family an access token was issued in, while its record is kept (until it expires):
    /// what a token exchanged for it joins, so that revoking the grant revokes both.
    fn access_token_family(
        &self,
        jti: &str,
    ) -> impl Future<Output = Result<Option<FamilyId>, StoreError>> + Send;

    /// Records that the JWT assertion `jti` from `issuer` (a client's `private_key_jwt`, an
    /// identity provider's ID-JAG) was used, until `expires_at`: `true` the first time, `false`
    /// for a replay (RFC 7523 §3 item 7). Atomic across every instance sharing the store.
    fn use_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The groups an identity provider put `subject` in at their last sign-in, for the scope
    /// matrix's group rules (asked only when some rule names groups). A store that keeps no
    /// identities has none to give.
    fn groups_of(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        let _ = subject;
        std::future::ready(Ok(Vec::new()))
    }

    /// Forgets what can no longer matter: codes, refresh tokens and access-token records past
    /// their expiry, and sealed successors of tokens rotated before `sealed_before`. Runs in the
    /// background; never needed for correctness, only for size and for limiting what a dump holds.
    fn purge(
        &self,
        now: UnixTime,
        sealed_before: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
