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

mod listener;
mod schema;

use std::str::FromStr;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use gatehouse_engine::Store;
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, FamilyId, RefreshRecord, RotateOutcome, StoreError, TakeCode,
};
use gatehouse_types::{ClientId, UnixTime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::DenyList;
use crate::codec::{Revocation, corrupt, time_to_sql};
use crate::sql::statements as sql;
use crate::sql::{self as shared, Database, Row, SqlBackend, Statement, Value, rows};

/// The channel revocations are announced on.
pub(crate) const REVOCATION_CHANNEL: &str = "gatehouse_revocations";

/// An arbitrary, fixed key for the advisory lock that serializes migrations between instances.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573; // "gatehous"

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

// ----- statements -------------------------------------------------------------------------------

pub(crate) fn parameters(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect()
}

/// Runs `statement` on `client` (a connection or a transaction); its rows.
pub(crate) async fn query(
    client: &impl GenericClient,
    statement: &Statement,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let prepared = client
        .prepare_cached(statement.postgres())
        .await
        .map_err(db)?;
    client
        .query(&prepared, &parameters(params))
        .await
        .map_err(db)?
        .iter()
        .map(Row::from_postgres)
        .collect()
}

/// Prepares `statements` on `client`, one after the other, before they are pipelined. A statement
/// not yet prepared on a connection waits for its preparation while the statements issued after it
/// that were prepared already run: pipelined, they would run out of the order they were issued
/// in (an audit batch's rows were stored out of order; a rotation's inserts could have run before
/// its family's lock). Prepared statements are cached per connection, so this costs a round trip
/// only the first time a connection sees a statement.
async fn prepare_in_order(
    client: &impl GenericClient,
    statements: &[&Statement],
) -> Result<(), StoreError> {
    for statement in statements {
        client
            .prepare_cached(statement.postgres())
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Runs `statement` on `client`; how many rows it changed.
///
/// Statements are prepared once per connection (deadpool's statement cache): a statement given
/// as text costs a round trip to prepare it before the one that runs it.
async fn execute(
    client: &impl GenericClient,
    statement: &Statement,
    params: &[Value],
) -> Result<u64, StoreError> {
    let prepared = client
        .prepare_cached(statement.postgres())
        .await
        .map_err(db)?;
    client
        .execute(&prepared, &parameters(params))
        .await
        .map_err(db)
}

impl Database for PostgresStore {
    async fn query(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        query(&self.client().await?, statement, &params).await
    }

    async fn execute(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<u64, StoreError> {
        execute(&self.client().await?, statement, &params).await
    }

    async fn execute_returning(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        query(&self.client().await?, statement, &params).await
    }

    async fn execute_many(
        &self,
        writes: Vec<(&'static Statement, Vec<Value>)>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let statements: Vec<&Statement> = writes.iter().map(|(statement, _)| *statement).collect();
        prepare_in_order(&tx, &statements).await?;
        // Issued together, tokio-postgres pipelines them: one round trip for the batch, not one
        // per row.
        let changed = futures_util::future::try_join_all(
            writes
                .iter()
                .map(|(statement, params)| execute(&tx, statement, params)),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(changed.iter().sum())
    }
}

/// What only PostgreSQL says this way: `GREATEST` (SQLite's two-argument `MAX`).
static REVOKE_ACCESS_TOKEN: Statement = Statement::new(
    "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2)
     ON CONFLICT (jti) DO UPDATE
     SET expires_at = GREATEST(revoked_jtis.expires_at, EXCLUDED.expires_at)",
);

/// A family with no token and no code left has nothing more to revoke. `SKIP LOCKED`: a family
/// some transaction is working on is not empty for long; leave it.
static PURGE_FAMILIES: Statement = Statement::new(
    "DELETE FROM families WHERE id IN
     (SELECT f.id FROM families f
      WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = f.id)
        AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family = f.id)
        AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.redeemed_into = f.id)
      LIMIT $1 FOR UPDATE SKIP LOCKED)",
);

/// Makes sure a family has a row to lock (a revocation creates it revoked).
static ENSURE_FAMILY: Statement =
    Statement::new("INSERT INTO families (id) VALUES ($1) ON CONFLICT (id) DO NOTHING");
static LOCK_FAMILY_FOR_UPDATE: Statement =
    Statement::new("SELECT revoked FROM families WHERE id = $1 FOR UPDATE");
static LOCK_FAMILY_FOR_SHARE: Statement =
    Statement::new("SELECT revoked FROM families WHERE id = $1 FOR SHARE");
static NOTIFY: Statement = Statement::new("SELECT pg_notify($1, $2)");

/// Every PostgreSQL-only statement, for the test that prepares each.
#[cfg(test)]
pub(crate) static OWN: &[&Statement] = &[
    &REVOKE_ACCESS_TOKEN,
    &PURGE_FAMILIES,
    &ENSURE_FAMILY,
    &LOCK_FAMILY_FOR_UPDATE,
    &LOCK_FAMILY_FOR_SHARE,
    &NOTIFY,
];

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
        let id = [Value::from(family.as_str())];
        execute(client, &sql::REVOKE_FAMILY, &id).await?;
        for row in query(client, &sql::FAMILY_JTIS, &id).await? {
            revoked.push(rows::jti_entry(&row)?);
        }
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
    // `pg_notify` returns `void`: run for its effect, no row read.
    execute(
        client,
        &NOTIFY,
        &[REVOCATION_CHANNEL.into(), payload.into()],
    )
    .await
    .map(drop)
}

/// Locks a family row `FOR SHARE`, for insertions (a rotation locks it `FOR UPDATE`, in its
/// pipeline, to exclude other rotations). Whether it is revoked; `None` if the family has no
/// row.
async fn lock_family_for_share(
    client: &impl GenericClient,
    family: &FamilyId,
) -> Result<Option<bool>, StoreError> {
    revoked(
        &query(
            client,
            &LOCK_FAMILY_FOR_SHARE,
            &[Value::from(family.as_str())],
        )
        .await?,
    )
}

/// The `revoked` column of a family lock's answer; `None` if the family has no row.
fn revoked(lock: &[Row]) -> Result<Option<bool>, StoreError> {
    lock.first().map(|row| row.boolean(0)).transpose()
}

async fn read_refresh(
    client: &impl GenericClient,
    hash: &CredentialHash,
) -> Result<RefreshRecord, StoreError> {
    query(client, &sql::REFRESH, &[rows::hash_param(hash)])
        .await?
        .first()
        .map(rows::refresh)
        .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))?
}

/// The families in the first column of `rows` (the dead ones, revoked again, are harmless).
fn families(rows: &[Row]) -> Result<Vec<String>, StoreError> {
    rows.iter()
        .filter_map(|row| rows::family(row).transpose())
        .collect()
}

// ----- the engine's contract --------------------------------------------------------------------

impl Store for PostgresStore {
    shared::shared_store_methods!();

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        let refresh = refresh_token
            .as_ref()
            .map(rows::refresh_params)
            .transpose()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Issued together, in this order, the statements are pipelined: one round trip, not
        // four. The server runs them in order; the conditional UPDATE is the whole "exactly
        // once", and if it takes nothing the inserts are rolled back with the transaction. If one
        // fails the rest fail with it. (Nothing here has a foreign key; one that did would make
        // this order a requirement, not a choice.)
        let take_params = [rows::hash_param(hash), family.as_str().into()];
        let (family_param, access_params) = (
            [family.as_str().into()],
            rows::access_token_params(&access_token),
        );
        prepare_in_order(
            &tx,
            &[
                &sql::TAKE_CODE,
                &sql::INSERT_FAMILY,
                &sql::INSERT_ACCESS_TOKEN,
                &sql::INSERT_REFRESH,
            ],
        )
        .await?;
        let (taken, ..) = tokio::try_join!(
            query(&tx, &sql::TAKE_CODE, &take_params),
            execute(&tx, &sql::INSERT_FAMILY, &family_param),
            execute(&tx, &sql::INSERT_ACCESS_TOKEN, &access_params),
            async {
                match &refresh {
                    Some(refresh) => execute(&tx, &sql::INSERT_REFRESH, refresh).await,
                    None => Ok(0),
                }
            },
        )?;
        let Some(row) = taken.first() else {
            let earlier = query(&tx, &sql::CODE_REDEEMED_INTO, &[rows::hash_param(hash)]).await?;
            return match earlier.first().map(rows::family).transpose()? {
                Some(Some(family)) => Ok(TakeCode::AlreadyUsed(FamilyId::new(family))),
                Some(None) => Err(corrupt("code redemption")),
                None => Ok(TakeCode::NotFound),
            };
        };
        let entry = rows::code(row)?;
        tx.commit().await.map_err(db)?;
        Ok(TakeCode::Taken(entry.record))
    }

    async fn rotate_refresh(
        &self,
        old: &CredentialHash,
        successor: RefreshRecord,
        sealed_successor: [u8; CREDENTIAL_BYTES],
        access_token: AccessTokenRecord,
        now: UnixTime,
    ) -> Result<RotateOutcome, StoreError> {
        let successor_params = rows::refresh_params(&successor)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Pipelined, in this order (see `redeem_code`): the family's row is made sure of (a
        // family has its row once a code was redeemed into it, but a rotation must not depend on
        // that) and locked before the compare-and-set; the writes that follow a
        // won compare-and-set go with it, and are rolled back with the transaction when the
        // family turns out revoked or the compare-and-set lost.
        let family = [Value::from(successor.family.as_str())];
        let rotate_params = [
            rows::hash_param(old),
            rows::hash_param(&successor.hash),
            sealed_successor.as_slice().into(),
            rows::time_param(now),
        ];
        let (forget_params, access_params) = (
            [successor.family.as_str().into(), rows::hash_param(old)],
            rows::access_token_params(&access_token),
        );
        prepare_in_order(
            &tx,
            &[
                &ENSURE_FAMILY,
                &LOCK_FAMILY_FOR_UPDATE,
                &sql::ROTATE_REFRESH,
                &sql::FORGET_OLDER_SUCCESSORS,
                &sql::INSERT_REFRESH,
                &sql::INSERT_ACCESS_TOKEN,
            ],
        )
        .await?;
        let (_, lock, rotated, ..) = tokio::try_join!(
            execute(&tx, &ENSURE_FAMILY, &family),
            query(&tx, &LOCK_FAMILY_FOR_UPDATE, &family),
            execute(&tx, &sql::ROTATE_REFRESH, &rotate_params),
            execute(&tx, &sql::FORGET_OLDER_SUCCESSORS, &forget_params),
            execute(&tx, &sql::INSERT_REFRESH, &successor_params),
            execute(&tx, &sql::INSERT_ACCESS_TOKEN, &access_params),
        )?;
        match revoked(&lock)? {
            Some(false) => {}
            Some(true) => {
                // The compare-and-set may have changed `old` in this transaction: read it as
                // committed.
                tx.rollback().await.map_err(db)?;
                return Ok(RotateOutcome::Lost(Box::new(
                    read_refresh(&client, old).await?,
                )));
            }
            None => return Err(corrupt("refresh family")),
        }
        if rotated == 0 {
            // Nothing in this transaction touched `old` (the others exclude it): this is the
            // row the winner committed, read under the family's lock.
            return Ok(RotateOutcome::Lost(Box::new(read_refresh(&tx, old).await?)));
        }
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
        if lock_family_for_share(&tx, &token.family).await? == Some(true) {
            return Err(StoreError::FamilyRevoked);
        }
        execute(
            &tx,
            &sql::INSERT_ACCESS_TOKEN,
            &rows::access_token_params(&token),
        )
        .await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let exp = time_to_sql(expires_at);
        execute(&tx, &REVOKE_ACCESS_TOKEN, &[jti.into(), exp.into()]).await?;
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

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        shared::purge(self, now, sealed_before, &[(&PURGE_FAMILIES, None)]).await?;
        self.deny.purge(now);
        Ok(())
    }
}

// ----- what differs of the rest of the server's state -------------------------------------------

impl SqlBackend for PostgresStore {
    async fn delete_client_and_grants(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let id = [Value::from(client_id.as_str())];
        // Deleting the codes first waits for any redemption in flight (it holds the code's row
        // lock); the SELECT after it, a new snapshot, then sees the family that redemption made.
        let mut found = query(&tx, &sql::DELETE_CODES_OF_CLIENT, &id).await?;
        found.extend(query(&tx, &sql::FAMILIES_OF_CLIENT, &id).await?);
        let revoked = revoke_families(&tx, &families(&found)?).await?;
        execute(&tx, &sql::DELETE_CONSENTS_OF_CLIENT, &id).await?;
        let existed = execute(&tx, &sql::DELETE_CLIENT, &id).await?;
        tx.commit().await.map_err(db)?;
        self.deny.insert(revoked);
        Ok(existed == 1)
    }

    async fn set_password_ending_sessions(
        &self,
        name: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let changed = execute(
            &tx,
            &sql::SET_PASSWORD,
            &[name.into(), password_hash.into()],
        )
        .await?;
        execute(&tx, &sql::DELETE_SESSIONS_OF_SUBJECT, &[name.into()]).await?;
        tx.commit().await.map_err(db)?;
        Ok(changed == 1)
    }

    async fn delete_user_and_grants(&self, name: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let name = [Value::from(name)];
        // As for a client: the codes first, then (a new snapshot) the refresh tokens a
        // redemption in flight wrote.
        let mut found = query(&tx, &sql::DELETE_CODES_OF_SUBJECT, &name).await?;
        found.extend(query(&tx, &sql::FAMILIES_OF_SUBJECT, &name).await?);
        let revoked = revoke_families(&tx, &families(&found)?).await?;
        execute(&tx, &sql::DELETE_SESSIONS_OF_SUBJECT, &name).await?;
        execute(&tx, &sql::DELETE_CONSENTS_OF_SUBJECT, &name).await?;
        let existed = execute(&tx, &sql::DELETE_USER, &name).await?;
        tx.commit().await.map_err(db)?;
        self.deny.insert(revoked);
        Ok(existed == 1)
    }

    fn deny(&self) -> &DenyList {
        &self.deny
    }
}
