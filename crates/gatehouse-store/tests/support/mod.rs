//! Shared by the store's tests: the three backends, and records to put in them.
//!
//! PostgreSQL tests run when `GATEHOUSE_TEST_POSTGRES` holds a connection URL (`.ci/run` and
//! `cargo xtask ci` set it on machines with a server at 127.0.0.1:5432). Each test gets a fresh
//! schema of its own. When the variable is set and the server does not answer, the tests fail:
//! a CI run that silently skipped PostgreSQL would prove nothing about it.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    RotateOutcome, TakeCode,
};
use gatehouse_engine::{CodeChallenge, Store};
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::{MemoryBackend, SqliteStore};
use gatehouse_types::{ClientId, RedirectUri, ScopeSet, UnixTime};

pub const POSTGRES_ENV: &str = "GATEHOUSE_TEST_POSTGRES";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// The PostgreSQL URL under test, or `None` to skip.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())
}

/// A fresh, empty schema in the test database, dropped by [`PgSchema::drop_schema`].
pub struct PgSchema {
    pub name: String,
    base: String,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl PgSchema {
    pub async fn create() -> Option<Self> {
        let base = postgres_url()?;
        let name = format!(
            "gatehouse_test_{}_{}_{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
            NOW.as_secs() ^ nanos()
        );
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("{POSTGRES_ENV} is set to {base:?} but PostgreSQL does not answer: {e}")
            });
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = driver.await;
        Some(Self { name, base })
    }

    /// The URL that connects with this schema first on the search path.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}&application_name={}",
            self.base, self.name, self.name
        )
    }

    pub async fn drop_schema(self) {
        let (client, connection) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .unwrap();
        drop(client);
        let _ = driver.await;
    }

    /// A plain client on this schema, for looking at rows directly.
    pub async fn raw(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0)
}

pub fn memory() -> MemoryBackend {
    MemoryBackend::new()
}

pub async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("gatehouse.db"))
        .await
        .unwrap();
    (store, dir)
}

// ----- records ----------------------------------------------------------------------------------

/// Distinct 32-byte hashes from a counter.
pub fn hash(n: u64) -> CredentialHash {
    CredentialHash::of(&format!("credential-{n}-{}", nanos()))
}

pub fn client(id: &str) -> ClientRecord {
    let metadata = ClientMetadata::from_json(
        br#"{"redirect_uris":["http://127.0.0.1:33418/callback","cursor://anysphere.cursor-mcp/oauth/callback"],
            "token_endpoint_auth_method":"client_secret_basic",
            "grant_types":["authorization_code","refresh_token"],
            "client_name":"Test client","client_name#fr":"Client de test",
            "scope":"mcp:tools mcp:admin"}"#,
    )
    .unwrap();
    ClientRecord {
        client_id: ClientId::new(id).unwrap(),
        metadata: ClientMetadataPolicy::new().check(&metadata).unwrap(),
        secret_hash: Some(CredentialHash::of("gths_secret")),
        secret_expires_at: None,
        registration_token_hash: Some(CredentialHash::of("gthm_registration")),
        issued_at: NOW,
        introspection_resources: vec![ResourceUri::parse(RESOURCE).unwrap()],
    }
}

pub fn code(hash: CredentialHash, client_id: &str) -> CodeRecord {
    CodeRecord {
        hash,
        client_id: ClientId::new(client_id).unwrap(),
        redirect_uri: RedirectUri::new("http://127.0.0.1:33418/callback").unwrap(),
        redirect_uri_was_explicit: true,
        challenge: CodeChallenge::parse(CHALLENGE).unwrap(),
        scopes: ScopeSet::parse("mcp:tools").unwrap(),
        resources: vec![ResourceUri::parse(RESOURCE).unwrap()],
        subject: "alice".into(),
        issued_at: NOW,
        expires_at: NOW.saturating_add_secs(600),
        dpop_jkt: None,
    }
}

pub fn refresh(hash: CredentialHash, family: &FamilyId, client_id: &str) -> RefreshRecord {
    RefreshRecord {
        hash,
        family: family.clone(),
        client_id: ClientId::new(client_id).unwrap(),
        subject: "alice".into(),
        scopes: ScopeSet::parse("mcp:tools").unwrap(),
        resources: vec![ResourceUri::parse(RESOURCE).unwrap()],
        issued_at: NOW,
        expires_at: NOW.saturating_add_secs(86_400),
        dpop_jkt: None,
        state: RefreshState::Active,
    }
}

pub fn access(jti: &str, family: &FamilyId, client_id: &str) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.into(),
        family: family.clone(),
        client_id: ClientId::new(client_id).unwrap(),
        expires_at: NOW.saturating_add_secs(600),
    }
}

pub fn family(name: &str) -> FamilyId {
    FamilyId::new(format!("{name}-{}", nanos()))
}

// ----- steps ------------------------------------------------------------------------------------

/// Redeems the code `code` into `family` for `client_id`: an access token `jti`, and the refresh
/// token `refresh_hash` if given. The code must be taken.
pub async fn redeem<S: Store>(
    store: &S,
    code: &CredentialHash,
    family: &FamilyId,
    client_id: &str,
    jti: &str,
    refresh_hash: Option<CredentialHash>,
) {
    let taken = store
        .redeem_code(
            code,
            family,
            access(jti, family, client_id),
            refresh_hash.map(|hash| refresh(hash, family, client_id)),
        )
        .await
        .unwrap();
    assert!(matches!(taken, TakeCode::Taken(_)), "{taken:?}");
}

/// Rotates `old` into `successor` at `at`, with the sealed successor `[sealed; 32]` and a new
/// access token `jti` in the successor's family.
pub async fn rotate<S: Store>(
    store: &S,
    old: &CredentialHash,
    successor: RefreshRecord,
    sealed: u8,
    jti: &str,
    at: UnixTime,
) -> RotateOutcome {
    let token = access(jti, &successor.family, successor.client_id.as_str());
    store
        .rotate_refresh(old, successor, [sealed; 32], token, at)
        .await
        .unwrap()
}
