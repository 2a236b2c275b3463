//! PostgreSQL: several `gatehouse` instances behind a load balancer share one database.
//!
//! Every method is one transaction at `READ COMMITTED` (PostgreSQL's default). The guarantees
//! that must hold across instances come from row locks and conditional updates, not from the
//! isolation level; `docs/storage.md` names the statement behind each:
//!
//! - a code is taken by `UPDATE codes … WHERE hash = $1 AND redeemed_into IS NULL RETURNING …`:
//!   a second, concurrent update of the row waits for the first to commit, then re-checks the
//!   condition against the committed row and matches nothing;
//! - a refresh rotation locks its family row (`SELECT … FOR UPDATE`) and then compares-and-sets
//!   the token (`… WHERE successor IS NULL`);
//! - a family revocation is one upsert of the family row, which waits for any rotation or token
//!   insertion in flight on that family, so the `jti`s it then reads (a new snapshot, as every
//!   statement at `READ COMMITTED`) include theirs.
//!
//! Revocations are announced with `NOTIFY` in the revoking transaction (delivered at commit);
//! every instance's listener feeds its deny-list (see `listener`).

mod accounts;
mod listener;
mod schema;

use std::str::FromStr;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    RotateOutcome, StoreError, TakeCode,
};
use gatehouse_engine::{CodeChallenge, Store};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::{ClientId, UnixTime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::DenyList;
use crate::codec::{self, Revocation, corrupt, time_from_sql, time_to_sql};
use crate::server::{
    AuditEvent, Consent, Grant, ServerStore, SessionRecord, SignInFailures, StoredSigningKey,
    UserRecord,
};

/// The channel revocations are announced on.
pub(crate) const REVOCATION_CHANNEL: &str = "gatehouse_revocations";

/// An arbitrary, fixed key for the advisory lock that serializes migrations between instances.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573; // "gatehous"

/// Rows a purge statement deletes at a time.
const PURGE_BATCH: i64 = 1000;

/// Connections per instance.
const POOL_SIZE: usize = 16;

/// How long a request waits for a connection, a connection for the server, and a recycled
/// connection for its check, before the request fails with a storage error (which the server
/// answers with `temporarily_unavailable`) instead of hanging through a network partition.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    deny: DenyList,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

pub(crate) fn db(error: tokio_postgres::Error) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::Duplicate;
    }
    StoreError::Unavailable(format!("postgres: {error}"))
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("postgres pool: {error}"))
}

fn config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Unavailable(format!("invalid postgres URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(TIMEOUT);
    }
    // Notice a dead peer in about a minute, not the system's default two hours: this matters
    // most for the long-lived LISTEN connection.
    config
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30))
        .keepalives_interval(std::time::Duration::from_secs(10))
        .keepalives_retries(3);
    Ok(config)
}

fn pool(config: tokio_postgres::Config) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(TIMEOUT))
        .create_timeout(Some(TIMEOUT))
        .recycle_timeout(Some(TIMEOUT))
        .build()
        .map_err(|e| StoreError::Unavailable(format!("postgres pool: {e}")))
}

/// Applies the migrations up to `target` in one transaction that first takes an advisory lock:
/// instances starting together take turns, and each sees what the one before applied.
async fn migrate(pool: &Pool, target: u32) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS gatehouse_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(db)?;
    let newest: Option<i32> = tx
        .query_one("SELECT MAX(version) FROM gatehouse_schema_migrations", &[])
        .await
        .map_err(db)?
        .get(0);
    let newest = u32::try_from(newest.unwrap_or(0)).unwrap_or(0);
    if newest > crate::SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {newest}, newer than this build's {}: upgrade gatehouse",
            crate::SCHEMA_VERSION
        )));
    }
    for (version, name, sql) in schema::MIGRATIONS {
        if *version > target || *version <= newest {
            continue;
        }
        tx.batch_execute(sql).await.map_err(db)?;
        let version = i32::try_from(*version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO gatehouse_schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

/// Brings the database at `url` to schema version `target` (at most [`crate::SCHEMA_VERSION`])
/// without opening a store.
pub async fn migrate_to(url: &str, target: u32) -> Result<(), StoreError> {
    let pool = pool(config(url)?)?;
    migrate(&pool, target.min(crate::SCHEMA_VERSION)).await
}

/// The schema version of the database at `url`.
pub async fn schema_version(url: &str) -> Result<u32, StoreError> {
    let pool = pool(config(url)?)?;
    let client = pool.get().await.map_err(pool_error)?;
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM gatehouse_schema_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

/// Every revoked, unexpired `jti`: what a deny-list loads when it (re)connects.
pub(crate) const REVOKED_JTIS: &str = "SELECT jti, expires_at FROM revoked_jtis
     UNION
     SELECT a.jti, a.expires_at FROM access_tokens a
     JOIN families f ON f.id = a.family WHERE f.revoked";

/// The `jti`s of a family (`$1`), for the deny-list.
pub(crate) const FAMILY_JTIS: &str = "SELECT jti, expires_at FROM access_tokens WHERE family = $1";

/// `(jti, expires_at)` rows as deny-list entries.
pub(crate) fn jti_entries(rows: &[Row]) -> Result<Vec<(String, UnixTime)>, StoreError> {
    rows.iter()
        .map(|row| Ok((get(row, 0)?, time_from_sql(get(row, 1)?)?)))
        .collect()
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`), brings the schema up to date, loads
    /// the deny-list and starts listening for other instances' revocations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config = config(url)?;
        let pool = pool(config.clone())?;
        migrate(&pool, crate::SCHEMA_VERSION).await?;
        let deny = DenyList::new();
        let listener = listener::spawn(config, deny.clone());
        let store = Self {
            pool,
            deny,
            listener,
        };
        // Answer from memory only once the list is loaded; until then `check` says Unknown.
        store
            .deny
            .wait_until_synced(std::time::Duration::from_secs(5))
            .await;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

// ----- rows -------------------------------------------------------------------------------------

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
) -> Result<T, StoreError> {
    row.try_get(idx).map_err(db)
}

const CLIENT_COLUMNS: &str = "client_id, metadata, secret_hash, secret_expires_at, \
     registration_token_hash, issued_at, introspection_resources";

fn client_row(row: &Row) -> Result<ClientRecord, StoreError> {
    let secret_hash: Option<Vec<u8>> = get(row, 2)?;
    let secret_expires_at: Option<i64> = get(row, 3)?;
    let registration_token_hash: Option<Vec<u8>> = get(row, 4)?;
    Ok(ClientRecord {
        client_id: codec::client_id_from_sql(get(row, 0)?)?,
        metadata: codec::metadata_from_sql(get(row, 1)?)?,
        secret_hash: secret_hash
            .as_deref()
            .map(codec::hash_from_sql)
            .transpose()?,
        secret_expires_at: secret_expires_at.map(time_from_sql).transpose()?,
        registration_token_hash: registration_token_hash
            .as_deref()
            .map(codec::hash_from_sql)
            .transpose()?,
        issued_at: time_from_sql(get(row, 5)?)?,
        introspection_resources: codec::resources_from_sql(get(row, 6)?)?,
    })
}

/// The columns of a client, in `CLIENT_COLUMNS` order.
struct ClientValues {
    client_id: String,
    metadata: String,
    secret_hash: Option<Vec<u8>>,
    secret_expires_at: Option<i64>,
    registration_token_hash: Option<Vec<u8>>,
    issued_at: i64,
    introspection_resources: String,
}

impl ClientValues {
    fn of(client: &ClientRecord) -> Self {
        Self {
            client_id: client.client_id.as_str().to_owned(),
            metadata: codec::metadata_to_sql(&client.metadata),
            secret_hash: client.secret_hash.map(|h| h.as_bytes().to_vec()),
            secret_expires_at: client.secret_expires_at.map(time_to_sql),
            registration_token_hash: client
                .registration_token_hash
                .map(|h| h.as_bytes().to_vec()),
            issued_at: time_to_sql(client.issued_at),
            introspection_resources: codec::resources_to_sql(&client.introspection_resources),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.client_id,
            &self.metadata,
            &self.secret_hash,
            &self.secret_expires_at,
            &self.registration_token_hash,
            &self.issued_at,
            &self.introspection_resources,
        ]
    }
}

const CODE_COLUMNS: &str = "hash, client_id, redirect_uri, redirect_uri_explicit, challenge, \
     scopes, resources, subject, issued_at, expires_at, redeemed_into";

fn code_row(row: &Row) -> Result<CodeEntry, StoreError> {
    let hash: Vec<u8> = get(row, 0)?;
    let challenge: &str = get(row, 4)?;
    let redeemed_into: Option<String> = get(row, 10)?;
    Ok(CodeEntry {
        record: CodeRecord {
            hash: codec::hash_from_sql(&hash)?,
            client_id: codec::client_id_from_sql(get(row, 1)?)?,
            redirect_uri: codec::redirect_uri_from_sql(get(row, 2)?)?,
            redirect_uri_was_explicit: get(row, 3)?,
            challenge: CodeChallenge::parse(challenge).map_err(|_| corrupt("challenge"))?,
            scopes: codec::scopes_from_sql(get(row, 5)?)?,
            resources: codec::resources_from_sql(get(row, 6)?)?,
            subject: get(row, 7)?,
            issued_at: time_from_sql(get(row, 8)?)?,
            expires_at: time_from_sql(get(row, 9)?)?,
        },
        redeemed_into: redeemed_into.map(FamilyId::new),
    })
}

const REFRESH_SELECT: &str = "SELECT r.hash, r.family, r.client_id, r.subject, r.scopes, \
     r.resources, r.issued_at, r.expires_at, r.successor, r.sealed_successor, r.rotated_at, \
     COALESCE(f.revoked, FALSE) \
     FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family WHERE r.hash = $1";

fn refresh_row(row: &Row) -> Result<RefreshRecord, StoreError> {
    let hash: Vec<u8> = get(row, 0)?;
    let successor: Option<Vec<u8>> = get(row, 8)?;
    let sealed: Option<Vec<u8>> = get(row, 9)?;
    let rotated_at: Option<i64> = get(row, 10)?;
    let revoked: bool = get(row, 11)?;
    let state = codec::refresh_state_from_sql(
        revoked,
        successor.as_deref(),
        sealed.as_deref(),
        rotated_at,
    )?;
    Ok(RefreshRecord {
        hash: codec::hash_from_sql(&hash)?,
        family: FamilyId::new(get::<String>(row, 1)?),
        client_id: codec::client_id_from_sql(get(row, 2)?)?,
        subject: get(row, 3)?,
        scopes: codec::scopes_from_sql(get(row, 4)?)?,
        resources: codec::resources_from_sql(get(row, 5)?)?,
        issued_at: time_from_sql(get(row, 6)?)?,
        expires_at: time_from_sql(get(row, 7)?)?,
        state,
    })
}

async fn read_refresh(
    client: &impl GenericClient,
    hash: &CredentialHash,
) -> Result<Option<RefreshRecord>, StoreError> {
    let hash = hash.as_bytes().as_slice();
    client
        .query_opt(REFRESH_SELECT, &[&hash])
        .await
        .map_err(db)?
        .as_ref()
        .map(refresh_row)
        .transpose()
}

async fn insert_refresh(
    client: &impl GenericClient,
    token: &RefreshRecord,
) -> Result<(), StoreError> {
    if token.state != RefreshState::Active {
        return Err(StoreError::Unavailable(
            "only active refresh tokens are inserted".into(),
        ));
    }
    client
        .execute(
            "INSERT INTO refresh_tokens
             (hash, family, client_id, subject, scopes, resources, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &token.hash.as_bytes().as_slice(),
                &token.family.as_str(),
                &token.client_id.as_str(),
                &token.subject,
                &token.scopes.to_string(),
                &codec::resources_to_sql(&token.resources),
                &time_to_sql(token.issued_at),
                &time_to_sql(token.expires_at),
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

async fn insert_access_token(
    client: &impl GenericClient,
    token: &AccessTokenRecord,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO access_tokens (jti, family, client_id, expires_at) VALUES ($1, $2, $3, $4)",
            &[
                &token.jti,
                &token.family.as_str(),
                &token.client_id.as_str(),
                &time_to_sql(token.expires_at),
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// Marks families revoked (creating their rows if needed), announces it, and returns the access
/// tokens they hold, for this instance's deny-list.
async fn revoke_families(
    client: &impl GenericClient,
    families: &[String],
) -> Result<Vec<(String, UnixTime)>, StoreError> {
    // A fixed order, so that two transactions revoking overlapping sets cannot deadlock.
    let mut families = families.to_vec();
    families.sort();
    families.dedup();
    let mut revoked = Vec::new();
    for family in &families {
        // The upsert takes the family row's lock: it waits for rotations and insertions in
        // flight, and the SELECT after it sees their tokens.
        client
            .execute(
                "INSERT INTO families (id, revoked) VALUES ($1, TRUE)
                 ON CONFLICT (id) DO UPDATE SET revoked = TRUE",
                &[family],
            )
            .await
            .map_err(db)?;
        revoked.extend(jti_entries(
            &client.query(FAMILY_JTIS, &[family]).await.map_err(db)?,
        )?);
        notify(
            client,
            &Revocation::Family {
                family: family.clone(),
            },
        )
        .await?;
    }
    Ok(revoked)
}

async fn notify(client: &impl GenericClient, revocation: &Revocation) -> Result<(), StoreError> {
    let payload = serde_json::to_string(revocation)
        .map_err(|e| StoreError::Unavailable(format!("revocation notice: {e}")))?;
    client
        .execute("SELECT pg_notify($1, $2)", &[&REVOCATION_CHANNEL, &payload])
        .await
        .map_err(db)?;
    Ok(())
}

/// Locks a family row: `FOR UPDATE` for rotations, which must also exclude each other;
/// `FOR SHARE` for insertions. `None` if the family has no row.
async fn lock_family(
    client: &impl GenericClient,
    family: &FamilyId,
    exclusive: bool,
) -> Result<Option<bool>, StoreError> {
    if exclusive {
        // A family always has its row once a code was redeemed into it, but a rotation must not
        // depend on that: make sure there is a row to lock (a revocation creates it revoked).
        client
            .execute(
                "INSERT INTO families (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
                &[&family.as_str()],
            )
            .await
            .map_err(db)?;
    }
    let sql = if exclusive {
        "SELECT revoked FROM families WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT revoked FROM families WHERE id = $1 FOR SHARE"
    };
    client
        .query_opt(sql, &[&family.as_str()])
        .await
        .map_err(db)?
        .map(|row| get(&row, 0))
        .transpose()
}

// ----- the engine's contract --------------------------------------------------------------------

impl Store for PostgresStore {
    async fn insert_client(&self, record: ClientRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        let values = ClientValues::of(&record);
        client
            .execute(
                &format!(
                    "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                &values.params(),
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO codes ({CODE_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
                ),
                &[
                    &code.hash.as_bytes().as_slice(),
                    &code.client_id.as_str(),
                    &code.redirect_uri.as_str(),
                    &code.redirect_uri_was_explicit,
                    &code.challenge.as_str(),
                    &code.scopes.to_string(),
                    &codec::resources_to_sql(&code.resources),
                    &code.subject,
                    &time_to_sql(code.issued_at),
                    &time_to_sql(code.expires_at),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {CODE_COLUMNS} FROM codes WHERE hash = $1"),
                &[&hash.as_bytes().as_slice()],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(code_row)
            .transpose()
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let hash = hash.as_bytes().as_slice();
        // The conditional UPDATE is the whole "exactly once".
        let taken = tx
            .query_opt(
                &format!(
                    "UPDATE codes SET redeemed_into = $2
                     WHERE hash = $1 AND redeemed_into IS NULL
                     RETURNING {CODE_COLUMNS}"
                ),
                &[&hash, &family.as_str()],
            )
            .await
            .map_err(db)?;
        let Some(row) = taken else {
            let earlier = tx
                .query_opt("SELECT redeemed_into FROM codes WHERE hash = $1", &[&hash])
                .await
                .map_err(db)?;
            return match earlier {
                Some(row) => match get::<Option<String>>(&row, 0)? {
                    Some(family) => Ok(TakeCode::AlreadyUsed(FamilyId::new(family))),
                    None => Err(corrupt("code redemption")),
                },
                None => Ok(TakeCode::NotFound),
            };
        };
        let entry = code_row(&row)?;
        tx.execute("INSERT INTO families (id) VALUES ($1)", &[&family.as_str()])
            .await
            .map_err(db)?;
        insert_access_token(&tx, &access_token).await?;
        if let Some(token) = &refresh_token {
            insert_refresh(&tx, token).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(TakeCode::Taken(entry.record))
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        let client = self.client().await?;
        read_refresh(&client, hash).await
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let lost = |current: Option<RefreshRecord>| {
            current
                .map(|c| RotateOutcome::Lost(Box::new(c)))
                .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))
        };
        match lock_family(&tx, &successor.family, true).await? {
            Some(false) => {}
            Some(true) => return lost(read_refresh(&tx, old).await?),
            None => return Err(corrupt("refresh family")),
        }
        // The compare-and-set.
        let rotated = tx
            .execute(
                "UPDATE refresh_tokens
                 SET successor = $2, sealed_successor = $3, rotated_at = $4
                 WHERE hash = $1 AND successor IS NULL",
                &[
                    &old.as_bytes().as_slice(),
                    &successor.hash.as_bytes().as_slice(),
                    &sealed_successor.as_slice(),
                    &time_to_sql(now),
                ],
            )
            .await
            .map_err(db)?;
        if rotated == 0 {
            return lost(read_refresh(&tx, old).await?);
        }
        // Only the newest predecessor may open its successor.
        tx.execute(
            "UPDATE refresh_tokens SET sealed_successor = NULL
             WHERE family = $1 AND hash <> $2 AND sealed_successor IS NOT NULL",
            &[&successor.family.as_str(), &old.as_bytes().as_slice()],
        )
        .await
        .map_err(db)?;
        insert_refresh(&tx, &successor).await?;
        insert_access_token(&tx, &access_token).await?;
        tx.commit().await.map_err(db)?;
        Ok(RotateOutcome::Rotated)
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let revoked = revoke_families(&tx, &[family.as_str().to_owned()]).await?;
        tx.commit().await.map_err(db)?;
        self.deny.insert(revoked);
        Ok(())
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        if lock_family(&tx, &token.family, false).await? == Some(true) {
            return Err(StoreError::FamilyRevoked);
        }
        insert_access_token(&tx, &token).await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let exp = time_to_sql(expires_at);
        tx.execute(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO UPDATE
             SET expires_at = GREATEST(revoked_jtis.expires_at, EXCLUDED.expires_at)",
            &[&jti, &exp],
        )
        .await
        .map_err(db)?;
        notify(
            &tx,
            &Revocation::Token {
                jti: jti.to_owned(),
                exp,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        self.deny.insert([(jti.to_owned(), expires_at)]);
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        get(
            &client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = $1)
                         OR EXISTS (SELECT 1 FROM access_tokens a
                                    JOIN families f ON f.id = a.family
                                    WHERE a.jti = $1 AND f.revoked)",
                    &[&jti],
                )
                .await
                .map_err(db)?,
            0,
        )
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        let (now_sql, sealed_sql) = (time_to_sql(now), time_to_sql(sealed_before));
        let statements: [(&str, i64); 7] = [
            (
                "DELETE FROM refresh_tokens WHERE hash IN
                 (SELECT hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
                now_sql,
            ),
            (
                "UPDATE refresh_tokens SET sealed_successor = NULL WHERE hash IN
                 (SELECT hash FROM refresh_tokens
                  WHERE sealed_successor IS NOT NULL AND rotated_at < $1 LIMIT $2)",
                sealed_sql,
            ),
            (
                "DELETE FROM access_tokens WHERE jti IN
                 (SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
                now_sql,
            ),
            // A redeemed code is kept while its grant has access tokens: it is how deleting a
            // user finds a grant that has no refresh token.
            (
                "DELETE FROM codes WHERE hash IN
                 (SELECT c.hash FROM codes c WHERE c.expires_at <= $1
                    AND (c.redeemed_into IS NULL OR NOT EXISTS
                         (SELECT 1 FROM access_tokens a WHERE a.family = c.redeemed_into))
                  LIMIT $2)",
                now_sql,
            ),
            (
                "DELETE FROM revoked_jtis WHERE jti IN
                 (SELECT jti FROM revoked_jtis WHERE expires_at <= $1 LIMIT $2)",
                now_sql,
            ),
            (
                "DELETE FROM sessions WHERE hash IN
                 (SELECT hash FROM sessions WHERE expires_at <= $1 LIMIT $2)",
                now_sql,
            ),
            // A family with no token and no code left has nothing more to revoke. SKIP LOCKED:
            // a family some transaction is working on is not empty for long; leave it.
            (
                "DELETE FROM families WHERE id IN
                 (SELECT f.id FROM families f
                  WHERE $1::BIGINT IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = f.id)
                    AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family = f.id)
                    AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.redeemed_into = f.id)
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
                now_sql,
            ),
        ];
        let client = self.client().await?;
        for (sql, bound) in statements {
            loop {
                let changed = client
                    .execute(sql, &[&bound, &PURGE_BATCH])
                    .await
                    .map_err(db)?;
                if i64::try_from(changed).unwrap_or(i64::MAX) < PURGE_BATCH {
                    break;
                }
            }
        }
        self.deny.purge(now);
        Ok(())
    }
}

// ----- the rest of the server's state -----------------------------------------------------------

const CONSENT_COLUMNS: &str = "subject, client_id, resource, scopes, granted_at";

fn consent_row(row: &Row) -> Result<Consent, StoreError> {
    Ok(Consent {
        subject: get(row, 0)?,
        client_id: codec::client_id_from_sql(get(row, 1)?)?,
        resource: codec::resource_from_sql(get(row, 2)?)?,
        scopes: codec::scopes_from_sql(get(row, 3)?)?,
        granted_at: time_from_sql(get(row, 4)?)?,
    })
}

fn key_row(row: &Row) -> Result<StoredSigningKey, StoreError> {
    let retired_at: Option<i64> = get(row, 4)?;
    Ok(StoredSigningKey {
        kid: get(row, 0)?,
        alg: get(row, 1)?,
        sealed_private_jwk: get(row, 2)?,
        created_at: time_from_sql(get(row, 3)?)?,
        retired_at: retired_at.map(time_from_sql).transpose()?,
    })
}

fn count(n: u64) -> bool {
    n == 1
}

impl ServerStore for PostgresStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"),
                &[&client_id.as_str()],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(client_row)
            .transpose()
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY client_id"),
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(client_row)
            .collect()
    }

    async fn replace_client(&self, record: ClientRecord) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let values = ClientValues::of(&record);
        client
            .execute(
                "UPDATE clients SET metadata = $2, secret_hash = $3, secret_expires_at = $4,
                 registration_token_hash = $5, issued_at = $6, introspection_resources = $7
                 WHERE client_id = $1",
                &values.params(),
            )
            .await
            .map(count)
            .map_err(db)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let id = client_id.as_str();
        // Deleting the codes first waits for any redemption in flight (it holds the code's row
        // lock); the SELECT after it, a new snapshot, then sees the family that redemption made.
        tx.execute("DELETE FROM codes WHERE client_id = $1", &[&id])
            .await
            .map_err(db)?;
        let families: Vec<String> = tx
            .query(
                "SELECT family FROM refresh_tokens WHERE client_id = $1
                 UNION SELECT family FROM access_tokens WHERE client_id = $1",
                &[&id],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| get(row, 0))
            .collect::<Result<_, _>>()?;
        let revoked = revoke_families(&tx, &families).await?;
        tx.execute("DELETE FROM consents WHERE client_id = $1", &[&id])
            .await
            .map_err(db)?;
        let existed = tx
            .execute("DELETE FROM clients WHERE client_id = $1", &[&id])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.deny.insert(revoked);
        Ok(existed == 1)
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT r.family, r.client_id, r.scopes, r.resources, r.issued_at
                 FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family
                 WHERE r.subject = $1 AND r.successor IS NULL AND r.expires_at > $2
                   AND NOT COALESCE(f.revoked, FALSE)
                 ORDER BY r.issued_at DESC, r.family",
                &[&subject, &time_to_sql(now)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| {
                Ok(Grant {
                    family: FamilyId::new(get::<String>(row, 0)?),
                    client_id: codec::client_id_from_sql(get(row, 1)?)?,
                    scopes: codec::scopes_from_sql(get(row, 2)?)?,
                    resources: codec::resources_from_sql(get(row, 3)?)?,
                    last_used: time_from_sql(get(row, 4)?)?,
                })
            })
            .collect()
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3)",
                &[
                    &user.name,
                    &user.password_hash,
                    &time_to_sql(user.created_at),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {} FROM users WHERE name = $1",
                    accounts::USER_COLUMNS
                ),
                &[&name],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(accounts::user_row)
            .transpose()
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.users_ordered().await
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        self.replace_password(name, &password_hash).await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.remove_user(name).await
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        self.failures_of(name).await
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        self.count_failure(name, at).await
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        self.clear_failures(name).await
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.add_session(&session).await
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.find_session(hash, now).await
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        self.end_session(hash).await
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (subject, client_id, resource)
                     DO UPDATE SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at"
                ),
                &[
                    &consent.subject,
                    &consent.client_id.as_str(),
                    &consent.resource.as_str(),
                    &consent.scopes.to_string(),
                    &time_to_sql(consent.granted_at),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> Result<Option<Consent>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents
                     WHERE subject = $1 AND client_id = $2 AND resource = $3"
                ),
                &[&subject, &client_id.as_str(), &resource.as_str()],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(consent_row)
            .transpose()
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = $1
                     ORDER BY client_id, resource"
                ),
                &[&subject],
            )
            .await
            .map_err(db)?
            .iter()
            .map(consent_row)
            .collect()
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM consents WHERE subject = $1 AND client_id = $2",
                &[&subject, &client_id.as_str()],
            )
            .await
            .map_err(db)
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO signing_keys (kid, alg, sealed_private_jwk, created_at, retired_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &key.kid,
                    &key.alg,
                    &key.sealed_private_jwk,
                    &time_to_sql(key.created_at),
                    &key.retired_at.map(time_to_sql),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT kid, alg, sealed_private_jwk, created_at, retired_at
                 FROM signing_keys ORDER BY created_at, kid",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(key_row)
            .collect()
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1",
                &[&kid, &time_to_sql(at)],
            )
            .await
            .map(count)
            .map_err(db)
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM signing_keys WHERE kid = $1", &[&kid])
            .await
            .map(count)
            .map_err(db)
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit_events (at, kind, subject, client_id, detail)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &time_to_sql(event.at),
                    &event.kind,
                    &event.subject,
                    &event.client_id,
                    &event.detail.to_string(),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        self.purge_audit_before(before).await
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT id, at, kind, subject, client_id, detail FROM audit_events
                 WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &i64::from(limit)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|row| {
                Ok((
                    get(row, 0)?,
                    AuditEvent {
                        at: time_from_sql(get(row, 1)?)?,
                        kind: get(row, 2)?,
                        subject: get(row, 3)?,
                        client_id: get(row, 4)?,
                        detail: codec::detail_from_sql(get(row, 5)?)?,
                    },
                ))
            })
            .collect()
    }

    fn deny_list(&self) -> &DenyList {
        &self.deny
    }
}
