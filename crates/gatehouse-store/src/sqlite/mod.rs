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

mod feed;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse_engine::Store;
use gatehouse_engine::opaque::{CREDENTIAL_BYTES, CredentialHash};
use gatehouse_engine::store::{
    AccessTokenRecord, FamilyId, RefreshRecord, RotateOutcome, StoreError, TakeCode,
};
use gatehouse_types::{ClientId, UnixTime};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::DenyList;
use crate::codec::{corrupt, time_to_sql};
use crate::sql::statements as sql;
use crate::sql::{self as shared, Database, Row, SqlBackend, Statement, Value, rows};

/// The SQLite store. Cheap to clone; clones share the connection and its writer.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for single-statement reads: in WAL mode they see every committed
    /// write without waiting for the writer, which holds `conn` through each group's fsync, and
    /// without waiting for each other.
    readers: Arc<Readers>,
    writes: std::sync::mpsc::Sender<WriteJob>,
    path: PathBuf,
    deny: DenyList,
}

/// A write waiting for the group commit: it runs inside the batch's transaction (in a savepoint
/// of its own) and returns what delivers its result once the commit's outcome is known.
type WriteJob = Box<dyn FnOnce(&Transaction<'_>) -> Deliver + Send>;
/// Hands a write its result: its own, if the batch committed; the commit's error otherwise.
type Deliver = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The most writes one transaction commits together.
const GROUP_COMMIT_MAX: usize = 64;

/// The group-commit writer: takes the writes waiting (at least one, at most
/// [`GROUP_COMMIT_MAX`]), runs each in a savepoint of one `BEGIN IMMEDIATE` transaction (a write
/// that fails is rolled back alone), commits once (one fsync for all), and only then answers
/// each: a write is acknowledged only once it is durable, as before, and concurrent requests
/// share the cost of the fsync. Ends when every store handle is dropped.
fn group_commit(
    conn: Arc<Mutex<Connection>>,
    writes: std::sync::mpsc::Receiver<WriteJob>,
    committed_some: std::sync::mpsc::SyncSender<()>,
) {
    while let Ok(first) = writes.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT_MAX {
            match writes.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let Ok(mut guard) = conn.lock() else {
            // Dropping the jobs drops their answers: each caller gets an error.
            return;
        };
        let Some((delivers, committed)) = commit_group(&mut guard, jobs) else {
            continue;
        };
        drop(guard);
        if committed.is_ok() {
            // Full means a checkpoint is already due.
            let _ = committed_some.try_send(());
        }
        for deliver in delivers {
            deliver(committed.clone());
        }
    }
}

/// Runs `jobs` in one `BEGIN IMMEDIATE` transaction, each in a savepoint of its own, and commits
/// it; what delivers each job's result, and the commit's outcome. `None` if the transaction could
/// not begin (the jobs are dropped, and their callers answered with an error).
fn commit_group(
    conn: &mut Connection,
    jobs: Vec<WriteJob>,
) -> Option<(Vec<Deliver>, Result<(), StoreError>)> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            tracing::warn!(error = %db(error), "a group of SQLite writes could not begin");
            return None;
        }
    };
    let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
    let mut panicked = false;
    for job in jobs {
        // A write that panics must not take the writer (and every later write) with it: the
        // whole group is rolled back and answered with an error instead.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&tx))) {
            Ok(deliver) => delivers.push(deliver),
            Err(_) => panicked = true,
        }
        // Some errors (a full disk, no memory, an I/O error) of a statement SQLite keeps no
        // statement journal for roll the whole transaction back: the savepoints are gone and the
        // connection is in autocommit, where each further write would commit alone, and the
        // commit below would fail for writes that were stored. The group is lost: the writes not
        // run yet are dropped (their callers get an error), and those run are answered with one.
        if tx.is_autocommit() {
            return Some((
                delivers,
                Err(StoreError::Unavailable(
                    "SQLite rolled back this group of writes (a full disk, memory or an I/O error)"
                        .into(),
                )),
            ));
        }
    }
    let committed = if panicked {
        drop(tx);
        Err(StoreError::Unavailable(
            "a write in this group failed; the group was rolled back".into(),
        ))
    } else {
        tx.commit().map_err(db)
    };
    Some((delivers, committed))
}

/// How long the checkpointer lets committed frames gather in the WAL before it copies them into
/// the database file.
const CHECKPOINT_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// The size the WAL file is cut back to once a checkpoint has emptied it.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The WAL size, in pages, at which the writer checkpoints after a commit. SQLite starts the WAL
/// over only when a write begins after a checkpoint that copied all of it, which the checkpointer,
/// running beside a busy writer, never quite does: without this the WAL grows for as long as
/// writes keep coming (6.5 GB in a 70 s soak). By then the checkpointer has copied nearly all of
/// it, so the writer's checkpoint copies the last moments' pages and syncs the database file.
const WRITER_CHECKPOINT_PAGES: i64 = 4096;

/// Copies committed WAL frames into the database file, on a connection and thread of its own,
/// some time after the writer commits. SQLite would otherwise do all of this inside a commit, on
/// the writer, whenever the WAL passes 1,000 pages: the writes of that group, and every write
/// queued behind it, waited for the whole copy and the database file's fsync. A `PASSIVE`
/// checkpoint waits for no one: it copies what no reader still needs while the writer goes on.
/// The writer still checkpoints when the WAL passes [`WRITER_CHECKPOINT_PAGES`], so that the WAL
/// starts over, but finds little left to copy. Durability does not depend on either: a commit is
/// durable once the WAL is synced. Ends after the writer does.
fn checkpointer(path: PathBuf, commits: std::sync::mpsc::Receiver<()>) {
    let conn = match Connection::open(&path).and_then(|conn| {
        conn.busy_timeout(BUSY_WAIT)?;
        Ok(conn)
    }) {
        Ok(conn) => conn,
        Err(error) => {
            tracing::warn!(error = %db(error), "the SQLite checkpointer could not open the database; the WAL will only be checkpointed when the server stops");
            return;
        }
    };
    while commits.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_DELAY);
        while commits.try_recv().is_ok() {}
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %db(error), "a SQLite WAL checkpoint failed; the next commit tries again");
        }
    }
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
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
    conn.busy_timeout(BUSY_WAIT).map_err(db)?;
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

/// How many read-only connections a store opens: one read per core at a time, and at least two so
/// that one slow read does not hold up the others.
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// How long a read that must wait for a lock waits, on the blocking pool (as the writer does).
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The read-only connections, each used by one read at a time.
///
/// A read runs on the calling thread when a connection is free: the store's reads are single
/// statements on a key or a unique index, some microseconds on pages the OS has cached, and
/// handing each to the blocking pool cost two thread switches that halved introspection's rate
/// (issue 24; `docs/storage.md`). A read never waits for a lock there: in WAL mode readers do not
/// wait for the writer, and in the rare moments they must (another connection recovering the
/// WAL index), or when every connection is in use, the read goes to the blocking pool and waits
/// there.
struct Readers {
    connections: Vec<Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Readers {
    /// Where this read starts looking: reads take turns, so that none of the connections is
    /// always the one tried first.
    fn turn(&self) -> usize {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The connection at position `i`, counted round the pool.
    fn at(&self, i: usize) -> Option<&Mutex<Connection>> {
        self.connections.get(i.checked_rem(self.connections.len())?)
    }

    /// The rows of `statement`, read on this thread if a connection is free and no lock is in the
    /// way; `None` if the read must wait.
    fn try_query(
        &self,
        statement: &Statement,
        params: &[Value],
    ) -> Option<Result<Vec<Row>, StoreError>> {
        let start = self.turn();
        let conn = (0..self.connections.len())
            .find_map(|i| self.at(start.wrapping_add(i))?.try_lock().ok())?;
        conn.busy_timeout(std::time::Duration::ZERO).ok()?;
        let rows = query_rows(&conn, statement, params);
        let restored = conn.busy_timeout(BUSY_WAIT);
        match rows {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                None
            }
            rows => Some(restored.and(rows).map_err(db)),
        }
    }

    /// The rows of `statement`, on the next connection in turn, waiting for it and for locks (on
    /// the blocking pool).
    fn query(&self, statement: &Statement, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let conn = self
            .at(self.turn())
            .ok_or_else(|| StoreError::Unavailable("sqlite has no reader".into()))?
            .lock()
            .map_err(|_| StoreError::Unavailable("sqlite reader lock poisoned".into()))?;
        query(&conn, statement, params)
    }
}

/// A read-only connection: the schema is already up to date (the writer's connection migrated
/// it).
fn read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(BUSY_WAIT).map_err(db)?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA foreign_keys = ON;")
        .map_err(db)?;
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
        let read_path = path.clone();
        let readers = tokio::task::spawn_blocking(move || {
            (0..reader_count())
                .map(|_| read_only(&read_path).map(Mutex::new))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite open task failed: {e}")))??;
        // The checkpointer below copies most of the WAL into the database file; the writer's
        // commits only finish the job, rarely.
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}; \
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))
        .map_err(db)?;
        let conn = Arc::new(Mutex::new(conn));
        let (writes, queue) = std::sync::mpsc::channel();
        let (committed_some, commits) = std::sync::mpsc::sync_channel(1);
        let checkpointed = path.clone();
        std::thread::Builder::new()
            .name("gatehouse-sqlite-checkpointer".into())
            .spawn(move || checkpointer(checkpointed, commits))
            .map_err(|e| StoreError::Unavailable(format!("sqlite checkpointer thread: {e}")))?;
        let writer = Arc::clone(&conn);
        std::thread::Builder::new()
            .name("gatehouse-sqlite-writer".into())
            .spawn(move || group_commit(writer, queue, committed_some))
            .map_err(|e| StoreError::Unavailable(format!("sqlite writer thread: {e}")))?;
        let store = Self {
            conn,
            readers: Arc::new(Readers {
                connections: readers,
                next: std::sync::atomic::AtomicUsize::new(0),
            }),
            writes,
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
                let entries = query(&tx, &sql::REVOKED_JTIS, &[])?
                    .iter()
                    .map(rows::jti_entry)
                    .collect::<Result<Vec<_>, _>>()?;
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

    /// Runs `f` in a write transaction and answers once it is committed: through the group
    /// commit ([`group_commit`]), in a savepoint of a transaction that other writes waiting at the
    /// same moment share. `f`'s effects are kept exactly when it returns `Ok` and the commit
    /// succeeds, as if it had a transaction of its own.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |tx: &Transaction<'_>| {
            let outcome = in_savepoint(tx, f);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = answer.send(committed.and(outcome));
            }) as Deliver
        });
        self.writes
            .send(job)
            .map_err(|_| StoreError::Unavailable("the sqlite writer has stopped".into()))?;
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the sqlite writer dropped a write (its group's transaction could not begin, or was rolled back)".into(),
            ))
        })
    }
}

/// Runs `f` in a savepoint of `tx`: kept if it returns `Ok`, rolled back (alone) if not.
fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.execute_batch("SAVEPOINT gatehouse_write").map_err(db)?;
    match f(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE gatehouse_write").map_err(db)?;
            Ok(value)
        }
        Err(error) => {
            tx.execute_batch("ROLLBACK TO gatehouse_write; RELEASE gatehouse_write")
                .map_err(db)?;
            Err(error)
        }
    }
}

// ----- statements -------------------------------------------------------------------------------

/// Runs `statement` on `conn` (a transaction derefs to its connection); its rows.
fn query(
    conn: &Connection,
    statement: &Statement,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    query_rows(conn, statement, params).map_err(db)
}

fn query_rows(
    conn: &Connection,
    statement: &Statement,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    conn.prepare_cached(statement.sqlite())?
        .query_map(rusqlite::params_from_iter(params), Row::from_sqlite)?
        .collect()
}

/// Runs `statement` on `conn`; how many rows it changed.
fn execute(conn: &Connection, statement: &Statement, params: &[Value]) -> Result<u64, StoreError> {
    let changed = conn
        .prepare_cached(statement.sqlite())
        .map_err(db)?
        .execute(rusqlite::params_from_iter(params))
        .map_err(db)?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

impl Database for SqliteStore {
    async fn query(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        if let Some(rows) = self.readers.try_query(statement, &params) {
            return rows;
        }
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.query(statement, &params))
            .await
            .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
    }

    async fn execute(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| execute(tx, statement, &params)).await
    }

    async fn execute_returning(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        self.write(move |tx| query(tx, statement, &params)).await
    }

    async fn execute_many(
        &self,
        writes: Vec<(&'static Statement, Vec<Value>)>,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| {
            writes.iter().try_fold(0, |changed, (statement, params)| {
                Ok(changed + execute(tx, statement, params)?)
            })
        })
        .await
    }
}

/// What only SQLite says this way: `MAX` of two values (PostgreSQL's `GREATEST`).
static REVOKE_ACCESS_TOKEN: Statement = Statement::new(
    "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2)
     ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
);

/// A family with no token and no code left has nothing more to revoke.
static PURGE_FAMILIES: Statement = Statement::new(
    "DELETE FROM families WHERE id IN
     (SELECT f.id FROM families f
      WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = f.id)
        AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family = f.id)
        AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.redeemed_into = f.id)
      LIMIT $1)",
);

/// Every SQLite-only statement, for the test that prepares each.
#[cfg(test)]
pub(crate) static OWN: &[&Statement] = &[&REVOKE_ACCESS_TOKEN, &PURGE_FAMILIES, &feed::PURGE];

fn family_revoked(tx: &Transaction<'_>, family: &FamilyId) -> Result<bool, StoreError> {
    query(tx, &sql::FAMILY_REVOKED, &[family.as_str().into()])?
        .first()
        .map_or(Ok(false), |row| row.boolean(0))
}

fn read_refresh(conn: &Connection, hash: &CredentialHash) -> Result<RefreshRecord, StoreError> {
    query(conn, &sql::REFRESH, &[rows::hash_param(hash)])?
        .first()
        .map(rows::refresh)
        .ok_or_else(|| StoreError::Unavailable("rotated token vanished".into()))?
}

/// Marks families revoked (creating their rows if needed), appends their access tokens to the
/// feed, and returns them, for the deny-list.
fn revoke_families(
    tx: &Transaction<'_>,
    families: &[String],
) -> Result<Vec<(String, UnixTime)>, StoreError> {
    let mut revoked = Vec::new();
    for family in families {
        execute(tx, &sql::REVOKE_FAMILY, &[family.as_str().into()])?;
        for row in query(tx, &sql::FAMILY_JTIS, &[family.as_str().into()])? {
            revoked.push(rows::jti_entry(&row)?);
        }
    }
    feed::announce(tx, &revoked)?;
    Ok(revoked)
}

/// The families in the first column of `rows`, each once.
fn families(rows: &[Row]) -> Result<Vec<String>, StoreError> {
    let mut families = rows
        .iter()
        .filter_map(|row| rows::family(row).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    families.sort();
    families.dedup();
    Ok(families)
}

// ----- the engine's contract --------------------------------------------------------------------

impl Store for SqliteStore {
    shared::shared_store_methods!();

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        family: &FamilyId,
        access_token: AccessTokenRecord,
        refresh_token: Option<RefreshRecord>,
    ) -> Result<TakeCode, StoreError> {
        let (hash, family) = (*hash, family.clone());
        let refresh = refresh_token
            .as_ref()
            .map(rows::refresh_params)
            .transpose()?;
        self.write(move |tx| {
            // The conditional UPDATE is the whole "exactly once": see `docs/storage.md`.
            let taken = query(
                tx,
                &sql::TAKE_CODE,
                &[rows::hash_param(&hash), family.as_str().into()],
            )?;
            let Some(row) = taken.first() else {
                let earlier = query(tx, &sql::CODE_REDEEMED_INTO, &[rows::hash_param(&hash)])?;
                return match earlier.first().map(rows::family).transpose()? {
                    Some(Some(family)) => Ok(TakeCode::AlreadyUsed(FamilyId::new(family))),
                    Some(None) => Err(corrupt("code redemption")),
                    None => Ok(TakeCode::NotFound),
                };
            };
            let entry = rows::code(row)?;
            execute(tx, &sql::INSERT_FAMILY, &[family.as_str().into()])?;
            execute(
                tx,
                &sql::INSERT_ACCESS_TOKEN,
                &rows::access_token_params(&access_token),
            )?;
            if let Some(refresh) = &refresh {
                execute(tx, &sql::INSERT_REFRESH, refresh)?;
            }
            Ok(TakeCode::Taken(entry.record))
        })
        .await
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
        let successor_params = rows::refresh_params(&successor)?;
        self.write(move |tx| {
            let lost = || Ok(RotateOutcome::Lost(Box::new(read_refresh(tx, &old)?)));
            if family_revoked(tx, &successor.family)? {
                return lost();
            }
            // The compare-and-set.
            let rotated = execute(
                tx,
                &sql::ROTATE_REFRESH,
                &[
                    rows::hash_param(&old),
                    rows::hash_param(&successor.hash),
                    sealed_successor.as_slice().into(),
                    rows::time_param(now),
                ],
            )?;
            if rotated == 0 {
                return lost();
            }
            execute(
                tx,
                &sql::FORGET_OLDER_SUCCESSORS,
                &[successor.family.as_str().into(), rows::hash_param(&old)],
            )?;
            execute(tx, &sql::INSERT_REFRESH, &successor_params)?;
            execute(
                tx,
                &sql::INSERT_ACCESS_TOKEN,
                &rows::access_token_params(&access_token),
            )?;
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
            execute(
                tx,
                &sql::INSERT_ACCESS_TOKEN,
                &rows::access_token_params(&token),
            )
            .map(drop)
        })
        .await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError> {
        let entry = (jti.to_owned(), expires_at);
        let announced = entry.clone();
        self.write(move |tx| {
            execute(
                tx,
                &REVOKE_ACCESS_TOKEN,
                &[announced.0.as_str().into(), rows::time_param(expires_at)],
            )?;
            feed::announce(tx, std::slice::from_ref(&announced))
        })
        .await?;
        self.deny.insert([entry]);
        Ok(())
    }

    async fn purge(&self, now: UnixTime, sealed_before: UnixTime) -> Result<(), StoreError> {
        let own = [
            (&feed::PURGE, Some(time_to_sql(now))),
            (&PURGE_FAMILIES, None),
        ];
        shared::purge(self, now, sealed_before, &own).await?;
        self.deny.purge(now);
        Ok(())
    }
}

// ----- what differs of the rest of the server's state -------------------------------------------

impl SqlBackend for SqliteStore {
    async fn delete_client_and_grants(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let id = Value::from(client_id.as_str());
        let (existed, revoked) = self
            .write(move |tx| {
                let id = std::slice::from_ref(&id);
                let mut found = query(tx, &sql::DELETE_CODES_OF_CLIENT, id)?;
                found.extend(query(tx, &sql::FAMILIES_OF_CLIENT, id)?);
                let revoked = revoke_families(tx, &families(&found)?)?;
                execute(tx, &sql::DELETE_CONSENTS_OF_CLIENT, id)?;
                let existed = execute(tx, &sql::DELETE_CLIENT, id)?;
                Ok((existed == 1, revoked))
            })
            .await?;
        self.deny.insert(revoked);
        Ok(existed)
    }

    async fn set_password_ending_sessions(
        &self,
        name: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        let name = Value::from(name);
        self.write(move |tx| {
            let changed = execute(
                tx,
                &sql::SET_PASSWORD,
                &[name.clone(), password_hash.into()],
            )?;
            execute(tx, &sql::DELETE_SESSIONS_OF_SUBJECT, &[name])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_user_and_grants(&self, name: &str) -> Result<bool, StoreError> {
        let name = Value::from(name);
        let (existed, revoked) = self
            .write(move |tx| {
                let name = std::slice::from_ref(&name);
                let mut found = query(tx, &sql::DELETE_CODES_OF_SUBJECT, name)?;
                found.extend(query(tx, &sql::FAMILIES_OF_SUBJECT, name)?);
                let revoked = revoke_families(tx, &families(&found)?)?;
                execute(tx, &sql::DELETE_SESSIONS_OF_SUBJECT, name)?;
                execute(tx, &sql::DELETE_CONSENTS_OF_SUBJECT, name)?;
                let existed = execute(tx, &sql::DELETE_USER, name)?;
                Ok((existed == 1, revoked))
            })
            .await?;
        self.deny.insert(revoked);
        Ok(existed)
    }

    fn deny(&self) -> &DenyList {
        &self.deny
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    /// A read finds no free connection (every reader is held): it waits on the blocking pool and
    /// answers once one is released, instead of failing or running on a held connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_waits_when_every_reader_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("state.db"))
            .await
            .unwrap();
        let readers = Arc::clone(&store.readers);
        let (held, release) = std::sync::mpsc::channel::<()>();
        let (holding, all_held) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let guards: Vec<_> = readers
                .connections
                .iter()
                .map(|c| c.lock().unwrap())
                .collect();
            holding.send(()).unwrap();
            release.recv().unwrap();
            drop(guards);
        });
        all_held.recv().unwrap();
        let read = tokio::spawn({
            let store = store.clone();
            async move { store.query(&sql::CLIENT, vec!["nobody".into()]).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !read.is_finished(),
            "the read did not wait for a connection"
        );
        held.send(()).unwrap();
        assert!(read.await.unwrap().unwrap().is_empty());
        holder.join().unwrap();
    }

    /// The audit record of a call to `tool`, the `n`th second after a fixed time.
    fn tool_call(n: u64, tool: &str, detail: serde_json::Value) -> crate::AuditEvent {
        crate::AuditEvent {
            at: UnixTime::from_secs(1_765_000_000 + n),
            kind: "tool_call".into(),
            subject: Some("alice".into()),
            client_id: Some("claude".into()),
            resource: Some("https://mcp.example.com/mcp".into()),
            tool: Some(tool.into()),
            detail: detail.into(),
        }
    }

    /// Every write's savepoint journals the pages it changes; SQLite keeps that journal in
    /// memory up to 4 MiB (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`) where its default 64 KiB
    /// made a group of refresh rotations create and delete a temporary file a dozen times a
    /// second. Past 4 MiB (a client with many grants deleted) it still spills to a file.
    #[test]
    fn the_statement_journal_spill_threshold_is_4_mib() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "STMTJRNL_SPILL=4194304"),
            "{options:?}"
        );
    }

    /// A write that makes SQLite roll the whole transaction back (a full disk here; no memory or
    /// an I/O error alike) loses its group: no write of it is stored or acknowledged, and none
    /// after it runs outside the transaction, where it would commit alone.
    #[test]
    fn a_group_sqlite_rolls_back_is_lost_whole_and_nothing_runs_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect(&dir.path().join("state.db"), crate::SCHEMA_VERSION).unwrap();
        // Room for a few pages more, not for 32 records of 4 KB.
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .unwrap();
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 4))
            .unwrap();
        let answers = Arc::new(Mutex::new(Vec::new()));
        let job = |name: &'static str, rows: usize, detail_bytes: usize| -> WriteJob {
            let answers = Arc::clone(&answers);
            Box::new(move |tx: &Transaction<'_>| {
                let outcome = in_savepoint(tx, |tx| {
                    let (statement, stored) = sql::append_audit_statement(rows);
                    let params: Vec<Value> = (0..stored)
                        .flat_map(|n| {
                            rows::audit_params(tool_call(
                                n as u64,
                                name,
                                serde_json::json!({ "pad": "x".repeat(detail_bytes) }),
                            ))
                        })
                        .collect();
                    execute(tx, statement, &params).map(drop)
                });
                Box::new(move |committed: Result<(), StoreError>| {
                    let stored = committed.and(outcome).is_ok();
                    answers.lock().unwrap().push((name, stored));
                }) as Deliver
            })
        };
        let jobs = vec![
            job("before", 1, 10),
            job("full", 32, 4000),
            job("after", 1, 10),
        ];
        let (delivers, committed) = commit_group(&mut conn, jobs).unwrap();
        assert!(committed.is_err());
        for deliver in delivers {
            deliver(committed.clone());
        }
        // `after` never ran: its caller's answer is dropped, which it reads as an error.
        assert_eq!(
            *answers.lock().unwrap(),
            [("before", false), ("full", false)]
        );
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM audit_events", [], |row| row.get(0))
            .unwrap();
        assert_eq!(stored, 0);
    }

    /// A batch of audit records is stored whole or not at all (decision 0008). SQLite stores
    /// several at once with `INSERT OR FAIL`, which keeps the rows a failed statement wrote
    /// before it failed; the write's savepoint must take them back, and the rows of the
    /// statements before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_audit_batch_that_fails_halfway_stores_nothing() {
        use crate::ServerStore as _;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("state.db"))
            .await
            .unwrap();
        let event = |n: u64| tool_call(n, "echo", serde_json::json!({ "n": n }));
        let statement = |rows: usize| {
            let (statement, stored) = sql::append_audit_statement(rows);
            assert_eq!(stored, rows);
            assert!(statement.sqlite().starts_with("INSERT OR FAIL"));
            statement
        };
        let params = |from: u64, rows: u64| -> Vec<Value> {
            (from..from + rows)
                .flat_map(|n| rows::audit_params(event(n)))
                .collect()
        };
        // Eight rows, then 32 of which the 21st has no kind (`NOT NULL`).
        let mut failing = params(8, 32);
        failing[20 * sql::AUDIT_COLUMNS + 1] = Value::Null;
        let written = store
            .execute_many(vec![(statement(8), params(0, 8)), (statement(32), failing)])
            .await;
        assert!(written.is_err(), "{written:?}");
        let stored =
            |store: SqliteStore| async move { store.audit_events(0, 1000).await.unwrap().len() };
        assert_eq!(stored(store.clone()).await, 0);
        // The next batch is stored whole.
        store
            .append_audit((0..45).map(event).collect())
            .await
            .unwrap();
        assert_eq!(stored(store.clone()).await, 45);
    }

    /// The checkpointer copies committed writes into the database file soon after they commit
    /// (the writer no longer does): a copy of the database file alone, without its WAL, holds
    /// them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_moves_commits_into_the_database_file() {
        use crate::ServerStore as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let event = |n: u64| crate::AuditEvent {
            at: UnixTime::from_secs(n),
            kind: "checkpointed".into(),
            subject: None,
            client_id: None,
            resource: None,
            tool: None,
            detail: serde_json::Value::Null.into(),
        };
        store
            .append_audit((0..500).map(event).collect())
            .await
            .unwrap();
        let copy = dir.path().join("copy.db");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            std::fs::copy(&path, &copy).unwrap();
            let rows: i64 = Connection::open(&copy)
                .unwrap()
                .query_row(
                    "SELECT count(*) FROM audit_events WHERE kind = 'checkpointed'",
                    [],
                    |row| row.get(0),
                )
                .unwrap_or(0);
            if rows == 500 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file holds {rows} of 500 committed rows after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Under writes that never pause, the WAL still starts over (its header's checkpoint
    /// sequence number moves on) instead of growing for as long as the writes go on, as it did
    /// when only the checkpointer checkpointed: 6.5 GB in a 70 s soak.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_continuous_writes() {
        use crate::ServerStore as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let wal = dir.path().join("state.db-wal");
        // The WAL header's bytes 12..16: its checkpoint sequence number, which SQLite increments
        // each time it starts the WAL over.
        let sequence = || -> Option<[u8; 4]> {
            let header = std::fs::read(&wal).ok()?;
            header.get(12..16)?.try_into().ok()
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..8u64)
            .map(|writer| {
                let (store, stop) = (store.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut batch = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let events = (0..20)
                            .map(|n| crate::AuditEvent {
                                at: UnixTime::from_secs(batch),
                                kind: "continuous".into(),
                                subject: Some(format!("subject-{writer}-{batch}-{n}")),
                                client_id: None,
                                resource: None,
                                tool: None,
                                detail: serde_json::json!({ "padding": "x".repeat(400) }).into(),
                            })
                            .collect();
                        store.append_audit(events).await.unwrap();
                        batch += 1;
                    }
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut first = None;
        let started_over = loop {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let now = sequence();
            if first.is_none() {
                first = now;
            } else if now.is_some() && now != first {
                break true;
            }
            if std::time::Instant::now() > deadline {
                break false;
            }
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for writer in writers {
            writer.await.unwrap();
        }
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert!(
            started_over,
            "the WAL never started over in 60 s of writes; it is {size} bytes"
        );
    }
}
