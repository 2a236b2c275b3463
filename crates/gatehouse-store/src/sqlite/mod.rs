//! The embedded default: one SQLite file in WAL mode, the library bundled into the binary.
//!
//! One connection, behind a mutex, does all the work on tokio's blocking threads. SQLite allows
//! one writer at a time anyway, and a single connection makes every method one serialized
//! transaction (`BEGIN IMMEDIATE` for writes, so that even a second process on the same file
//! waits on the write lock instead of failing half-way). `synchronous = FULL` makes a commit
//! durable before the method returns: a write that returned success survives `kill -9` and a
//! power cut.
//!
//! A SQLite file serves one `gatehouse` server, but other processes write to it too (`gatehouse
//! clients delete`, `gatehouse users delete`): every revocation is also appended to a feed table
//! that the server polls (`feed`), so its in-memory deny-list learns of revocations made by any
//! process within [`feed::POLL`]. Several servers share state through PostgreSQL.

mod accounts;
mod feed;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, ClientRecord, CodeEntry, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    RotateOutcome, StoreError, TakeCode,
};
use gatehouse_engine::{CodeChallenge, Store};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::{ClientId, UnixTime};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::DenyList;
use crate::codec::{self, corrupt, time_from_sql, time_to_sql};
use crate::server::{
    AuditEvent, Consent, Grant, ServerStore, SessionRecord, SignInFailures, StoredSigningKey,
    UserRecord,
};

/// Rows a purge statement deletes at a time, so that the connection is released between batches
/// and requests never wait behind a long clean-up.
const PURGE_BATCH: i64 = 500;

/// The SQLite store. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    deny: DenyList,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Duplicate
        }
        _ => StoreError::Unavailable(format!("sqlite: {error}")),
    }
}

/// Opens `path` (creating it), sets the pragmas, and applies the migrations up to `target`.
fn connect(path: &Path, target: u32) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "sqlite: {} cannot use WAL mode (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(db)?;
    migrate(&mut conn, target)?;
    Ok(conn)
}

/// Applies the migrations above the database's version, up to `target`, each in its own
/// `BEGIN IMMEDIATE` transaction: two processes starting on one file take turns, and the second
/// sees the first's version and skips what is done.
fn migrate(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS gatehouse_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT",
    )
    .map_err(db)?;
    for (version, name, sql) in schema::MIGRATIONS {
        if *version > target {
            break;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let done: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM gatehouse_schema_migrations WHERE version = ?1)",
                [version],
                |row| row.get(0),
            )
            .map_err(db)?;
        if !done {
            tx.execute_batch(sql).map_err(db)?;
            tx.execute(
                "INSERT INTO gatehouse_schema_migrations (version, name, applied_at)
                 VALUES (?1, ?2, unixepoch())",
                params![version, name],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
    }
    let newest: Option<u32> = conn
        .query_row(
            "SELECT MAX(version) FROM gatehouse_schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(db)?;
    if newest.unwrap_or(0) > crate::SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {}, newer than this build's {}: upgrade gatehouse",
            newest.unwrap_or(0),
            crate::SCHEMA_VERSION
        )));
    }
    Ok(())
}

/// Brings the database at `path` to schema version `target` (at most [`crate::SCHEMA_VERSION`])
/// without opening a store: for tests of upgrades and for operators who migrate ahead of a
/// deployment.
pub fn migrate_to(path: &Path, target: u32) -> Result<(), StoreError> {
    connect(path, target.min(crate::SCHEMA_VERSION)).map(drop)
}

/// The schema version of the database at `path`.
pub fn schema_version(path: &Path) -> Result<u32, StoreError> {
    let conn = Connection::open(path).map_err(db)?;
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM gatehouse_schema_migrations",
        [],
        |row| row.get(0),
    )
    .map_err(db)
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` and brings its schema up to
    /// date.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || connect(&opened, crate::SCHEMA_VERSION))
            .await
            .map_err(|e| StoreError::Unavailable(format!("sqlite open task failed: {e}")))??;
        let store = Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            deny: DenyList::new(),
        };
        let seen = store.reload_deny_list().await?;
        if tokio::runtime::Handle::try_current().is_ok() {
            feed::spawn(Arc::downgrade(&store.conn), store.deny.clone(), seen);
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads every revoked, unexpired `jti` into the deny-list; the feed position it is current
    /// to (read in the same snapshot, so the feed resumes without a gap).
    async fn reload_deny_list(&self) -> Result<i64, StoreError> {
        let (entries, seen) = self
            .run(|conn| {
                let tx = conn.transaction().map_err(db)?;
                let entries = {
                    let mut statement = tx
                        .prepare(
                            "SELECT jti, expires_at FROM revoked_jtis
                             UNION
                             SELECT a.jti, a.expires_at FROM access_tokens a
                             JOIN families f ON f.id = a.family WHERE f.revoked = 1",
                        )
                        .map_err(db)?;
                    let rows = statement
                        .query_map([], |row| {
                            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                        })
                        .map_err(db)?;
                    rows.map(|row| {
                        let (jti, exp) = row.map_err(db)?;
                        Ok((jti, time_from_sql(exp)?))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
                };
                let seen = feed::position(&tx)?;
                tx.commit().map_err(db)?;
                Ok((entries, seen))
            })
            .await?;
        self.deny.replace_all(entries);
        Ok(seen)
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("sqlite connection lock poisoned".into()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
    }

    /// Runs `f` in a write transaction and commits it.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let value = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(value)
        })
        .await
    }
}

// ----- rows -------------------------------------------------------------------------------------

const CLIENT_COLUMNS: &str = "client_id, metadata, secret_hash, secret_expires_at, \
     registration_token_hash, issued_at, introspection_resources";

fn client_row(row: &Row<'_>) -> rusqlite::Result<Result<ClientRecord, StoreError>> {
    let client_id: String = row.get(0)?;
    let metadata: String = row.get(1)?;
    let secret_hash: Option<Vec<u8>> = row.get(2)?;
    let secret_expires_at: Option<i64> = row.get(3)?;
    let registration_token_hash: Option<Vec<u8>> = row.get(4)?;
    let issued_at: i64 = row.get(5)?;
    let introspection_resources: String = row.get(6)?;
    Ok((|| {
        Ok(ClientRecord {
            client_id: codec::client_id_from_sql(client_id)?,
            metadata: codec::metadata_from_sql(&metadata)?,
            secret_hash: secret_hash
                .as_deref()
                .map(codec::hash_from_sql)
                .transpose()?,
            secret_expires_at: secret_expires_at.map(time_from_sql).transpose()?,
            registration_token_hash: registration_token_hash
                .as_deref()
                .map(codec::hash_from_sql)
                .transpose()?,
            issued_at: time_from_sql(issued_at)?,
            introspection_resources: codec::resources_from_sql(&introspection_resources)?,
        })
    })())
}

fn client_params(client: &ClientRecord) -> [Box<dyn rusqlite::ToSql>; 7] {
    [
        Box::new(client.client_id.as_str().to_owned()),
        Box::new(codec::metadata_to_sql(&client.metadata)),
        Box::new(client.secret_hash.map(|h| h.as_bytes().to_vec())),
        Box::new(client.secret_expires_at.map(time_to_sql)),
        Box::new(
            client
                .registration_token_hash
                .map(|h| h.as_bytes().to_vec()),
        ),
        Box::new(time_to_sql(client.issued_at)),
        Box::new(codec::resources_to_sql(&client.introspection_resources)),
    ]
}

const CODE_COLUMNS: &str = "hash, client_id, redirect_uri, redirect_uri_explicit, challenge, \
     scopes, resources, subject, issued_at, expires_at, redeemed_into";

fn code_row(row: &Row<'_>) -> rusqlite::Result<Result<CodeEntry, StoreError>> {
    let hash: Vec<u8> = row.get(0)?;
    let client_id: String = row.get(1)?;
    let redirect_uri: String = row.get(2)?;
    let explicit: bool = row.get(3)?;
    let challenge: String = row.get(4)?;
    let scopes: String = row.get(5)?;
    let resources: String = row.get(6)?;
    let subject: String = row.get(7)?;
    let issued_at: i64 = row.get(8)?;
    let expires_at: i64 = row.get(9)?;
    let redeemed_into: Option<String> = row.get(10)?;
    Ok((|| {
        Ok(CodeEntry {
            record: CodeRecord {
                hash: codec::hash_from_sql(&hash)?,
                client_id: codec::client_id_from_sql(client_id)?,
                redirect_uri: codec::redirect_uri_from_sql(redirect_uri)?,
                redirect_uri_was_explicit: explicit,
                challenge: CodeChallenge::parse(&challenge).map_err(|_| corrupt("challenge"))?,
                scopes: codec::scopes_from_sql(&scopes)?,
                resources: codec::resources_from_sql(&resources)?,
                subject,
                issued_at: time_from_sql(issued_at)?,
                expires_at: time_from_sql(expires_at)?,
            },
            redeemed_into: redeemed_into.map(FamilyId::new),
        })
    })())
}

const REFRESH_COLUMNS: &str = "r.hash, r.family, r.client_id, r.subject, r.scopes, r.resources, \
     r.issued_at, r.expires_at, r.successor, r.sealed_successor, r.rotated_at, \
     COALESCE(f.revoked, 0)";

const REFRESH_FROM: &str = "refresh_tokens r LEFT JOIN families f ON f.id = r.family";

fn refresh_row(row: &Row<'_>) -> rusqlite::Result<Result<RefreshRecord, StoreError>> {
    let hash: Vec<u8> = row.get(0)?;
    let family: String = row.get(1)?;
    let client_id: String = row.get(2)?;
    let subject: String = row.get(3)?;
    let scopes: String = row.get(4)?;
    let resources: String = row.get(5)?;
    let issued_at: i64 = row.get(6)?;
    let expires_at: i64 = row.get(7)?;
    let successor: Option<Vec<u8>> = row.get(8)?;
    let sealed: Option<Vec<u8>> = row.get(9)?;
    let rotated_at: Option<i64> = row.get(10)?;
    let revoked: bool = row.get(11)?;
    Ok((|| {
        let state = codec::refresh_state_from_sql(
            revoked,
            successor.as_deref(),
            sealed.as_deref(),
            rotated_at,
        )?;
        Ok(RefreshRecord {
            hash: codec::hash_from_sql(&hash)?,
            family: FamilyId::new(family),
            client_id: codec::client_id_from_sql(client_id)?,
            subject,
            scopes: codec::scopes_from_sql(&scopes)?,
            resources: codec::resources_from_sql(&resources)?,
            issued_at: time_from_sql(issued_at)?,
            expires_at: time_from_sql(expires_at)?,
            state,
        })
    })())
}

fn read_refresh(
    conn: &Connection,
    hash: &CredentialHash,
) -> Result<Option<RefreshRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {REFRESH_COLUMNS} FROM {REFRESH_FROM} WHERE r.hash = ?1"
    ))
    .map_err(db)?
    .query_row([hash.as_bytes().as_slice()], refresh_row)
    .optional()
    .map_err(db)?
    .transpose()
}

fn insert_refresh(tx: &Transaction<'_>, token: &RefreshRecord) -> Result<(), StoreError> {
    if token.state != RefreshState::Active {
        return Err(StoreError::Unavailable(
            "only active refresh tokens are inserted".into(),
        ));
    }
    tx.prepare_cached(
        "INSERT INTO refresh_tokens
         (hash, family, client_id, subject, scopes, resources, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(db)?
    .execute(params![
        token.hash.as_bytes().as_slice(),
        token.family.as_str(),
        token.client_id.as_str(),
        token.subject,
        token.scopes.to_string(),
        codec::resources_to_sql(&token.resources),
        time_to_sql(token.issued_at),
        time_to_sql(token.expires_at),
    ])
    .map_err(db)?;
    Ok(())
}

fn insert_access_token(tx: &Transaction<'_>, token: &AccessTokenRecord) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO access_tokens (jti, family, client_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(db)?
    .execute(params![
        token.jti,
        token.family.as_str(),
        token.client_id.as_str(),
        time_to_sql(token.expires_at),
    ])
    .map_err(db)?;
    Ok(())
}

fn family_revoked(tx: &Transaction<'_>, family: &FamilyId) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM families WHERE id = ?1 AND revoked = 1)")
        .map_err(db)?
        .query_row([family.as_str()], |row| row.get(0))
        .map_err(db)
}

/// Marks families revoked (creating their rows if needed) and returns the access tokens they
/// hold, for the deny-list.
fn revoke_families(
    tx: &Transaction<'_>,
    families: &[String],
) -> Result<Vec<(String, UnixTime)>, StoreError> {
    let mut revoked = Vec::new();
    for family in families {
        tx.prepare_cached(
            "INSERT INTO families (id, revoked) VALUES (?1, 1)
             ON CONFLICT (id) DO UPDATE SET revoked = 1",
        )
        .map_err(db)?
        .execute([family])
        .map_err(db)?;
        let mut statement = tx
            .prepare_cached("SELECT jti, expires_at FROM access_tokens WHERE family = ?1")
            .map_err(db)?;
        let rows = statement
            .query_map([family], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(db)?;
        for row in rows {
            let (jti, exp) = row.map_err(db)?;
            revoked.push((jti, time_from_sql(exp)?));
        }
    }
    feed::announce(tx, &revoked)?;
    Ok(revoked)
}

fn collect<T>(
    rows: impl Iterator<Item = rusqlite::Result<Result<T, StoreError>>>,
) -> Result<Vec<T>, StoreError> {
    rows.map(|row| row.map_err(db)?).collect()
}

// ----- the engine's contract --------------------------------------------------------------------

impl Store for SqliteStore {
    async fn insert_client(&self, client: ClientRecord) -> Result<(), StoreError> {
        self.write(move |tx| {
            let values = client_params(&client);
            tx.prepare_cached(&format!(
                "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .map_err(db)?
            .execute(rusqlite::params_from_iter(values.iter()))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn insert_code(&self, code: CodeRecord) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO codes ({CODE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)"
            ))
            .map_err(db)?
            .execute(params![
                code.hash.as_bytes().as_slice(),
                code.client_id.as_str(),
                code.redirect_uri.as_str(),
                code.redirect_uri_was_explicit,
                code.challenge.as_str(),
                code.scopes.to_string(),
                codec::resources_to_sql(&code.resources),
                code.subject,
                time_to_sql(code.issued_at),
                time_to_sql(code.expires_at),
            ])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn code(&self, hash: &CredentialHash) -> Result<Option<CodeEntry>, StoreError> {
        let hash = *hash;
        self.run(move |conn| {
            conn.prepare_cached(&format!("SELECT {CODE_COLUMNS} FROM codes WHERE hash = ?1"))
                .map_err(db)?
                .query_row([hash.as_bytes().as_slice()], code_row)
                .optional()
                .map_err(db)?
                .transpose()
        })
        .await
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        let (hash, family) = (*hash, family.clone());
        self.write(move |tx| {
            // The conditional UPDATE is the whole "exactly once": see `docs/storage.md`.
            let taken = tx
                .prepare_cached(&format!(
                    "UPDATE codes SET redeemed_into = ?2
                     WHERE hash = ?1 AND redeemed_into IS NULL
                     RETURNING {CODE_COLUMNS}"
                ))
                .map_err(db)?
                .query_row(
                    params![hash.as_bytes().as_slice(), family.as_str()],
                    code_row,
                )
                .optional()
                .map_err(db)?
                .transpose()?;
            let Some(entry) = taken else {
                let earlier: Option<Option<String>> = tx
                    .prepare_cached("SELECT redeemed_into FROM codes WHERE hash = ?1")
                    .map_err(db)?
                    .query_row([hash.as_bytes().as_slice()], |row| row.get(0))
                    .optional()
                    .map_err(db)?;
                return Ok(match earlier {
                    Some(Some(family)) => TakeCode::AlreadyUsed(FamilyId::new(family)),
                    Some(None) => return Err(corrupt("code redemption")),
                    None => TakeCode::NotFound,
                });
            };
            tx.prepare_cached("INSERT INTO families (id) VALUES (?1)")
                .map_err(db)?
                .execute([family.as_str()])
                .map_err(db)?;
            insert_access_token(tx, &access_token)?;
            if let Some(token) = &refresh_token {
                insert_refresh(tx, token)?;
            }
            Ok(TakeCode::Taken(entry.record))
        })
        .await
    }

    async fn refresh(&self, hash: &CredentialHash) -> Result<Option<RefreshRecord>, StoreError> {
        let hash = *hash;
        self.run(move |conn| read_refresh(conn, &hash)).await
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let old = *old;
        self.write(move |tx| {
            if family_revoked(tx, &successor.family)? {
                let current = read_refresh(tx, &old)?
                    .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))?;
                return Ok(RotateOutcome::Lost(Box::new(current)));
            }
            // The compare-and-set.
            let rotated = tx
                .prepare_cached(
                    "UPDATE refresh_tokens
                     SET successor = ?2, sealed_successor = ?3, rotated_at = ?4
                     WHERE hash = ?1 AND successor IS NULL",
                )
                .map_err(db)?
                .execute(params![
                    old.as_bytes().as_slice(),
                    successor.hash.as_bytes().as_slice(),
                    sealed_successor.as_slice(),
                    time_to_sql(now),
                ])
                .map_err(db)?;
            if rotated == 0 {
                let current = read_refresh(tx, &old)?
                    .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))?;
                return Ok(RotateOutcome::Lost(Box::new(current)));
            }
            // Only the newest predecessor may open its successor.
            tx.prepare_cached(
                "UPDATE refresh_tokens SET sealed_successor = NULL
                 WHERE family = ?1 AND hash <> ?2 AND sealed_successor IS NOT NULL",
            )
            .map_err(db)?
            .execute(params![
                successor.family.as_str(),
                old.as_bytes().as_slice()
            ])
            .map_err(db)?;
            insert_refresh(tx, &successor)?;
            insert_access_token(tx, &access_token)?;
            Ok(RotateOutcome::Rotated)
        })
        .await
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), StoreError> {
        let family = family.as_str().to_owned();
        let revoked = self
            .write(move |tx| revoke_families(tx, std::slice::from_ref(&family)))
            .await?;
        self.deny.insert(revoked);
        Ok(())
    }

    async fn record_access_token(&self, token: AccessTokenRecord) -> Result<(), StoreError> {
        self.write(move |tx| {
            if family_revoked(tx, &token.family)? {
                return Err(StoreError::FamilyRevoked);
            }
            insert_access_token(tx, &token)
        })
        .await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        let entry = (jti.clone(), expires_at);
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO revoked_jtis (jti, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
            )
            .map_err(db)?
            .execute(params![jti, time_to_sql(expires_at)])
            .map_err(db)?;
            feed::announce(tx, std::slice::from_ref(&(jti, expires_at)))
        })
        .await?;
        self.deny.insert([entry]);
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.run(move |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = ?1)
                     OR EXISTS (SELECT 1 FROM access_tokens a JOIN families f ON f.id = a.family
                                WHERE a.jti = ?1 AND f.revoked = 1)",
            )
            .map_err(db)?
            .query_row([jti], |row| row.get(0))
            .map_err(db)
        })
        .await
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        let (now, sealed_before) = (time_to_sql(now), time_to_sql(sealed_before));
        let statements: [(&str, i64); 8] = [
            (
                "DELETE FROM refresh_tokens WHERE rowid IN
                 (SELECT rowid FROM refresh_tokens WHERE expires_at <= ?1 LIMIT ?2)",
                now,
            ),
            (
                "UPDATE refresh_tokens SET sealed_successor = NULL WHERE rowid IN
                 (SELECT rowid FROM refresh_tokens
                  WHERE sealed_successor IS NOT NULL AND rotated_at < ?1 LIMIT ?2)",
                sealed_before,
            ),
            (
                "DELETE FROM access_tokens WHERE rowid IN
                 (SELECT rowid FROM access_tokens WHERE expires_at <= ?1 LIMIT ?2)",
                now,
            ),
            // A redeemed code is kept while its grant has access tokens: it is how deleting a
            // user finds a grant that has no refresh token.
            (
                "DELETE FROM codes WHERE rowid IN
                 (SELECT c.rowid FROM codes c WHERE c.expires_at <= ?1
                    AND (c.redeemed_into IS NULL OR NOT EXISTS
                         (SELECT 1 FROM access_tokens a WHERE a.family = c.redeemed_into))
                  LIMIT ?2)",
                now,
            ),
            (
                "DELETE FROM revoked_jtis WHERE rowid IN
                 (SELECT rowid FROM revoked_jtis WHERE expires_at <= ?1 LIMIT ?2)",
                now,
            ),
            (
                "DELETE FROM revocation_feed WHERE rowid IN
                 (SELECT rowid FROM revocation_feed WHERE expires_at <= ?1 LIMIT ?2)",
                now,
            ),
            (
                "DELETE FROM sessions WHERE rowid IN
                 (SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2)",
                now,
            ),
            // A family with no token and no code left has nothing more to revoke.
            (
                "DELETE FROM families WHERE rowid IN
                 (SELECT f.rowid FROM families f
                  WHERE ?1 = ?1
                    AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = f.id)
                    AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family = f.id)
                    AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.redeemed_into = f.id)
                  LIMIT ?2)",
                now,
            ),
        ];
        for (sql, bound) in statements {
            loop {
                let changed = self
                    .write(move |tx| {
                        tx.prepare_cached(sql)
                            .map_err(db)?
                            .execute(params![bound, PURGE_BATCH])
                            .map_err(db)
                    })
                    .await?;
                if i64::try_from(changed).unwrap_or(i64::MAX) < PURGE_BATCH {
                    break;
                }
            }
        }
        self.deny
            .purge(UnixTime::from_secs(u64::try_from(now).unwrap_or(0)));
        Ok(())
    }
}

// ----- the rest of the server's state -----------------------------------------------------------

fn consent_row(row: &Row<'_>) -> rusqlite::Result<Result<Consent, StoreError>> {
    let subject: String = row.get(0)?;
    let client_id: String = row.get(1)?;
    let resource: String = row.get(2)?;
    let scopes: String = row.get(3)?;
    let granted_at: i64 = row.get(4)?;
    Ok((|| {
        Ok(Consent {
            subject,
            client_id: codec::client_id_from_sql(client_id)?,
            resource: codec::resource_from_sql(&resource)?,
            scopes: codec::scopes_from_sql(&scopes)?,
            granted_at: time_from_sql(granted_at)?,
        })
    })())
}

fn key_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredSigningKey, StoreError>> {
    let kid: String = row.get(0)?;
    let alg: String = row.get(1)?;
    let sealed_private_jwk: Vec<u8> = row.get(2)?;
    let created_at: i64 = row.get(3)?;
    let retired_at: Option<i64> = row.get(4)?;
    Ok((|| {
        Ok(StoredSigningKey {
            kid,
            alg,
            sealed_private_jwk,
            created_at: time_from_sql(created_at)?,
            retired_at: retired_at.map(time_from_sql).transpose()?,
        })
    })())
}

const CONSENT_COLUMNS: &str = "subject, client_id, resource, scopes, granted_at";

impl ServerStore for SqliteStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let id = client_id.as_str().to_owned();
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?1"
            ))
            .map_err(db)?
            .query_row([id], client_row)
            .optional()
            .map_err(db)?
            .transpose()
        })
        .await
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.run(|conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY client_id"
                ))
                .map_err(db)?;
            collect(statement.query_map([], client_row).map_err(db)?)
        })
        .await
    }

    async fn replace_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let values = client_params(&client);
            let changed = tx
                .prepare_cached(
                    "UPDATE clients SET metadata = ?2, secret_hash = ?3, secret_expires_at = ?4,
                     registration_token_hash = ?5, issued_at = ?6, introspection_resources = ?7
                     WHERE client_id = ?1",
                )
                .map_err(db)?
                .execute(rusqlite::params_from_iter(values.iter()))
                .map_err(db)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let id = client_id.as_str().to_owned();
        let (existed, revoked) = self
            .write(move |tx| {
                let families: Vec<String> = {
                    let mut statement = tx
                        .prepare_cached(
                            "SELECT family FROM refresh_tokens WHERE client_id = ?1
                             UNION SELECT family FROM access_tokens WHERE client_id = ?1
                             UNION SELECT redeemed_into FROM codes
                                   WHERE client_id = ?1 AND redeemed_into IS NOT NULL",
                        )
                        .map_err(db)?;
                    let rows = statement.query_map([&id], |row| row.get(0)).map_err(db)?;
                    rows.collect::<rusqlite::Result<_>>().map_err(db)?
                };
                let revoked = revoke_families(tx, &families)?;
                tx.execute("DELETE FROM codes WHERE client_id = ?1", [&id])
                    .map_err(db)?;
                tx.execute("DELETE FROM consents WHERE client_id = ?1", [&id])
                    .map_err(db)?;
                let existed = tx
                    .execute("DELETE FROM clients WHERE client_id = ?1", [&id])
                    .map_err(db)?;
                Ok((existed == 1, revoked))
            })
            .await?;
        self.deny.insert(revoked);
        Ok(existed)
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        let subject = subject.to_owned();
        self.run(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT r.family, r.client_id, r.scopes, r.resources, r.issued_at
                     FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family
                     WHERE r.subject = ?1 AND r.successor IS NULL AND r.expires_at > ?2
                       AND COALESCE(f.revoked, 0) = 0
                     ORDER BY r.issued_at DESC, r.family",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(params![subject, time_to_sql(now)], |row| {
                    let family: String = row.get(0)?;
                    let client_id: String = row.get(1)?;
                    let scopes: String = row.get(2)?;
                    let resources: String = row.get(3)?;
                    let issued_at: i64 = row.get(4)?;
                    Ok((|| {
                        Ok(Grant {
                            family: FamilyId::new(family),
                            client_id: codec::client_id_from_sql(client_id)?,
                            scopes: codec::scopes_from_sql(&scopes)?,
                            resources: codec::resources_from_sql(&resources)?,
                            last_used: time_from_sql(issued_at)?,
                        })
                    })())
                })
                .map_err(db)?;
            collect(rows)
        })
        .await
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![user.name, user.password_hash, time_to_sql(user.created_at)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let name = name.to_owned();
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {} FROM users WHERE name = ?1",
                accounts::USER_COLUMNS
            ))
            .map_err(db)?
            .query_row([name], accounts::user_row)
            .optional()
            .map_err(db)?
            .transpose()
        })
        .await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.run(|conn| accounts::users(conn)).await
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |tx| accounts::set_password(tx, &name, &password_hash))
            .await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        let (existed, revoked) = self
            .write(move |tx| accounts::delete_user(tx, &name))
            .await?;
        self.deny.insert(revoked);
        Ok(existed)
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        let name = name.to_owned();
        self.run(move |conn| accounts::sign_in_failures(conn, &name))
            .await
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        let name = name.to_owned();
        self.write(move |tx| accounts::record_sign_in_failure(tx, &name, at))
            .await
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |tx| accounts::clear_sign_in_failures(tx, &name))
            .await
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.write(move |tx| accounts::insert_session(tx, &session))
            .await
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let hash = *hash;
        self.run(move |conn| accounts::session(conn, &hash, now))
            .await
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        let hash = *hash;
        self.write(move |tx| accounts::delete_session(tx, &hash))
            .await
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (subject, client_id, resource)
                 DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at"
            ))
            .map_err(db)?
            .execute(params![
                consent.subject,
                consent.client_id.as_str(),
                consent.resource.as_str(),
                consent.scopes.to_string(),
                time_to_sql(consent.granted_at),
            ])
            .map_err(db)?;
            Ok(())
        })
        .await
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
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CONSENT_COLUMNS} FROM consents
                 WHERE subject = ?1 AND client_id = ?2 AND resource = ?3"
            ))
            .map_err(db)?
            .query_row(params![key.0, key.1, key.2], consent_row)
            .optional()
            .map_err(db)?
            .transpose()
        })
        .await
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        let subject = subject.to_owned();
        self.run(move |conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = ?1
                     ORDER BY client_id, resource"
                ))
                .map_err(db)?;
            collect(statement.query_map([subject], consent_row).map_err(db)?)
        })
        .await
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        let key = (subject.to_owned(), client_id.as_str().to_owned());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM consents WHERE subject = ?1 AND client_id = ?2",
                    params![key.0, key.1],
                )
                .map_err(db)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO signing_keys (kid, alg, sealed_private_jwk, created_at, retired_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.kid,
                    key.alg,
                    key.sealed_private_jwk,
                    time_to_sql(key.created_at),
                    key.retired_at.map(time_to_sql),
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.run(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT kid, alg, sealed_private_jwk, created_at, retired_at
                     FROM signing_keys ORDER BY created_at, kid",
                )
                .map_err(db)?;
            collect(statement.query_map([], key_row).map_err(db)?)
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE signing_keys SET retired_at = COALESCE(retired_at, ?2) WHERE kid = ?1",
                    params![kid, time_to_sql(at)],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM signing_keys WHERE kid = ?1", [kid])
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_events (at, kind, subject, client_id, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?
            .execute(params![
                time_to_sql(event.at),
                event.kind,
                event.subject,
                event.client_id,
                event.detail.to_string(),
            ])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        let before = time_to_sql(before);
        let mut purged = 0;
        loop {
            let deleted = self
                .write(move |tx| {
                    tx.prepare_cached(
                        "DELETE FROM audit_events WHERE id IN
                         (SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)",
                    )
                    .map_err(db)?
                    .execute(params![before, PURGE_BATCH])
                    .map_err(db)
                })
                .await?;
            purged += u64::try_from(deleted).unwrap_or(0);
            if i64::try_from(deleted).unwrap_or(i64::MAX) < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        self.run(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, at, kind, subject, client_id, detail FROM audit_events
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(params![after, limit], |row| {
                    let id: i64 = row.get(0)?;
                    let at: i64 = row.get(1)?;
                    let kind: String = row.get(2)?;
                    let subject: Option<String> = row.get(3)?;
                    let client_id: Option<String> = row.get(4)?;
                    let detail: String = row.get(5)?;
                    Ok((|| {
                        Ok((
                            id,
                            AuditEvent {
                                at: time_from_sql(at)?,
                                kind,
                                subject,
                                client_id,
                                detail: codec::detail_from_sql(&detail)?,
                            },
                        ))
                    })())
                })
                .map_err(db)?;
            collect(rows)
        })
        .await
    }

    fn deny_list(&self) -> &DenyList {
        &self.deny
    }
}
