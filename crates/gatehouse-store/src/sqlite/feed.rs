//! The revocation feed of a SQLite database: how a running server learns of revocations that
//! another process made (`gatehouse clients delete`, `gatehouse users delete`), which never pass
//! through its memory.
//!
//! Every transaction that revokes access tokens also appends their `jti`s to `revocation_feed`
//! ([`announce`]). The server polls the rows above the last sequence number it saw every
//! [`POLL`] and adds them to its deny-list. `AUTOINCREMENT` makes sequence numbers grow forever,
//! never reused after a purge, so a row can be missed only if it is purged before it is read:
//! rows stay until their token expires, when the guard refuses it anyway. While a poll fails,
//! the deny-list is marked out of sync and the guard asks the database on every request.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use gatehouse_engine::store::StoreError;
use gatehouse_types::UnixTime;
use rusqlite::{Connection, params};

use super::db;
use crate::DenyList;
use crate::codec::{time_from_sql, time_to_sql};
use crate::sql::Statement;

/// Time between polls: a revocation made by another process reaches the guard within this.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// Rows read per query.
const BATCH: i64 = 1000;

/// Forgets what the feed no longer needs to say: rows whose token has expired (`$1`), at most
/// `$2` at a time.
pub(super) static PURGE: Statement = Statement::new(
    "DELETE FROM revocation_feed WHERE seq IN
     (SELECT seq FROM revocation_feed WHERE expires_at <= $1 LIMIT $2)",
);

/// Appends revoked tokens to the feed, in the revoking transaction.
pub(super) fn announce(
    conn: &Connection,
    revoked: &[(String, UnixTime)],
) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached("INSERT INTO revocation_feed (jti, expires_at) VALUES (?1, ?2)")
        .map_err(db)?;
    for (jti, expires_at) in revoked {
        statement
            .execute(params![jti, time_to_sql(*expires_at)])
            .map_err(db)?;
    }
    Ok(())
}

/// The newest sequence number in the feed.
pub(super) fn position(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM revocation_feed",
        [],
        |row| row.get(0),
    )
    .map_err(db)
}

/// The rows above `after`: at most [`BATCH`], with the last sequence number read.
fn read(conn: &Connection, after: i64) -> Result<(Vec<(String, UnixTime)>, i64), StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, jti, expires_at FROM revocation_feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(db)?;
    let rows = statement
        .query_map(params![after, BATCH], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .map_err(db)?;
    let mut last = after;
    let mut entries = Vec::new();
    for row in rows {
        let (seq, jti, exp) = row.map_err(db)?;
        last = seq;
        entries.push((jti, time_from_sql(exp)?));
    }
    Ok((entries, last))
}

/// Polls the feed from `seen` on, until the store is dropped.
pub(super) fn spawn(conn: Weak<Mutex<Connection>>, deny: DenyList, mut seen: i64) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(conn) = conn.upgrade() else {
                return;
            };
            let from = seen;
            let polled = tokio::task::spawn_blocking(move || {
                let conn = conn.lock().map_err(|_| {
                    StoreError::Unavailable("sqlite connection lock poisoned".into())
                })?;
                let mut all = Vec::new();
                let mut last = from;
                loop {
                    let (entries, newest) = read(&conn, last)?;
                    let full = i64::try_from(entries.len()).unwrap_or(i64::MAX) >= BATCH;
                    all.extend(entries);
                    last = newest;
                    if !full {
                        return Ok::<_, StoreError>((all, last));
                    }
                }
            })
            .await;
            match polled {
                Ok(Ok((entries, last))) => {
                    deny.insert(entries);
                    seen = last;
                    deny.set_synced(true);
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "revocation feed: the poll failed; the guard asks the database until it works again");
                    deny.set_synced(false);
                }
                Err(error) => {
                    tracing::warn!(%error, "revocation feed: the poll task failed");
                    deny.set_synced(false);
                }
            }
        }
    });
}
