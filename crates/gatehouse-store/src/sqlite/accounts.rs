//! People on SQLite: local users, their failed sign-ins and their browser sessions, and what
//! deleting one revokes.

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::StoreError;
use gatehouse_types::UnixTime;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{collect, db, revoke_families};
use crate::codec::{time_from_sql, time_to_sql};
use crate::server::{SessionRecord, SignInFailures, UserRecord};

pub(super) const USER_COLUMNS: &str = "name, password_hash, created_at";

pub(super) fn user_row(row: &Row<'_>) -> rusqlite::Result<Result<UserRecord, StoreError>> {
    let name: String = row.get(0)?;
    let password_hash: String = row.get(1)?;
    let created_at: i64 = row.get(2)?;
    Ok(time_from_sql(created_at).map(|created_at| UserRecord {
        name,
        password_hash,
        created_at,
    }))
}

pub(super) fn users(conn: &Connection) -> Result<Vec<UserRecord>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
        .map_err(db)?;
    let rows = statement.query_map([], user_row).map_err(db)?;
    collect(rows)
}

pub(super) fn set_password(
    tx: &Transaction<'_>,
    name: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let changed = tx
        .execute(
            "UPDATE users SET password_hash = ?2, failed_sign_ins = 0, last_failed_sign_in = NULL
             WHERE name = ?1",
            params![name, password_hash],
        )
        .map_err(db)?;
    tx.execute("DELETE FROM sessions WHERE subject = ?1", [name])
        .map_err(db)?;
    Ok(changed == 1)
}

/// Deletes the user and everything issued for them; the revoked access tokens, for the
/// deny-list.
pub(super) fn delete_user(
    tx: &Transaction<'_>,
    name: &str,
) -> Result<(bool, Vec<(String, UnixTime)>), StoreError> {
    let families: Vec<String> = {
        let mut statement = tx
            .prepare_cached(
                "SELECT family FROM refresh_tokens WHERE subject = ?1
                 UNION SELECT redeemed_into FROM codes
                       WHERE subject = ?1 AND redeemed_into IS NOT NULL",
            )
            .map_err(db)?;
        let rows = statement.query_map([name], |row| row.get(0)).map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)?
    };
    let revoked = revoke_families(tx, &families)?;
    for statement in [
        "DELETE FROM codes WHERE subject = ?1",
        "DELETE FROM sessions WHERE subject = ?1",
        "DELETE FROM consents WHERE subject = ?1",
    ] {
        tx.execute(statement, [name]).map_err(db)?;
    }
    let existed = tx
        .execute("DELETE FROM users WHERE name = ?1", [name])
        .map_err(db)?;
    Ok((existed == 1, revoked))
}

fn failures_row(row: &Row<'_>) -> rusqlite::Result<Result<SignInFailures, StoreError>> {
    let count: i64 = row.get(0)?;
    let last: Option<i64> = row.get(1)?;
    Ok(last
        .map(time_from_sql)
        .transpose()
        .map(|last_at| SignInFailures {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            last_at,
        }))
}

pub(super) fn sign_in_failures(
    conn: &Connection,
    name: &str,
) -> Result<Option<SignInFailures>, StoreError> {
    conn.prepare_cached("SELECT failed_sign_ins, last_failed_sign_in FROM users WHERE name = ?1")
        .map_err(db)?
        .query_row([name], failures_row)
        .optional()
        .map_err(db)?
        .transpose()
}

pub(super) fn record_sign_in_failure(
    tx: &Transaction<'_>,
    name: &str,
    at: UnixTime,
) -> Result<Option<SignInFailures>, StoreError> {
    tx.prepare_cached(
        "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, last_failed_sign_in = ?2
         WHERE name = ?1 RETURNING failed_sign_ins, last_failed_sign_in",
    )
    .map_err(db)?
    .query_row(params![name, time_to_sql(at)], failures_row)
    .optional()
    .map_err(db)?
    .transpose()
}

pub(super) fn clear_sign_in_failures(tx: &Transaction<'_>, name: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE users SET failed_sign_ins = 0, last_failed_sign_in = NULL
         WHERE name = ?1 AND failed_sign_ins <> 0",
    )
    .map_err(db)?
    .execute([name])
    .map_err(db)?;
    Ok(())
}

pub(super) fn insert_session(
    tx: &Transaction<'_>,
    session: &SessionRecord,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sessions (hash, subject, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(db)?
    .execute(params![
        session.hash.as_bytes().as_slice(),
        session.subject,
        time_to_sql(session.created_at),
        time_to_sql(session.expires_at),
    ])
    .map_err(db)?;
    Ok(())
}

pub(super) fn session(
    conn: &Connection,
    hash: &CredentialHash,
    now: UnixTime,
) -> Result<Option<SessionRecord>, StoreError> {
    conn.prepare_cached(
        "SELECT subject, created_at, expires_at FROM sessions WHERE hash = ?1 AND expires_at > ?2",
    )
    .map_err(db)?
    .query_row(
        params![hash.as_bytes().as_slice(), time_to_sql(now)],
        |row| {
            let subject: String = row.get(0)?;
            let created_at: i64 = row.get(1)?;
            let expires_at: i64 = row.get(2)?;
            Ok((|| {
                Ok(SessionRecord {
                    hash: *hash,
                    subject,
                    created_at: time_from_sql(created_at)?,
                    expires_at: time_from_sql(expires_at)?,
                })
            })())
        },
    )
    .optional()
    .map_err(db)?
    .transpose()
}

pub(super) fn delete_session(
    tx: &Transaction<'_>,
    hash: &CredentialHash,
) -> Result<bool, StoreError> {
    let deleted = tx
        .prepare_cached("DELETE FROM sessions WHERE hash = ?1")
        .map_err(db)?
        .execute([hash.as_bytes().as_slice()])
        .map_err(db)?;
    Ok(deleted == 1)
}
