//! People on PostgreSQL: local users, their failed sign-ins and their browser sessions, and what
//! deleting one revokes.

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::StoreError;
use gatehouse_types::UnixTime;
use tokio_postgres::Row;

use super::{PURGE_BATCH, PostgresStore, db, get, revoke_families};
use crate::codec::{time_from_sql, time_to_sql};
use crate::server::{SessionRecord, SignInFailures, UserRecord};

pub(super) const USER_COLUMNS: &str = "name, password_hash, created_at";

pub(super) fn user_row(row: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        name: get(row, 0)?,
        password_hash: get(row, 1)?,
        created_at: time_from_sql(get(row, 2)?)?,
    })
}

fn failures_row(row: &Row) -> Result<SignInFailures, StoreError> {
    let count: i32 = get(row, 0)?;
    let last: Option<i64> = get(row, 1)?;
    Ok(SignInFailures {
        count: u32::try_from(count).unwrap_or(0),
        last_at: last.map(time_from_sql).transpose()?,
    })
}

impl PostgresStore {
    pub(super) async fn users_ordered(&self) -> Result<Vec<UserRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(user_row)
            .collect()
    }

    pub(super) async fn replace_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let changed = tx
            .execute(
                "UPDATE users SET password_hash = $2, failed_sign_ins = 0,
                                  last_failed_sign_in = NULL
                 WHERE name = $1",
                &[&name, &password_hash],
            )
            .await
            .map_err(db)?;
        tx.execute("DELETE FROM sessions WHERE subject = $1", &[&name])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(changed == 1)
    }

    pub(super) async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // Deleting the codes first waits for any redemption in flight (it holds the code's row
        // lock), and gives the families redeemed codes made; the SELECT after it, a new
        // snapshot, sees the refresh tokens such a redemption wrote.
        let mut families: Vec<String> = tx
            .query(
                "DELETE FROM codes WHERE subject = $1 RETURNING redeemed_into",
                &[&name],
            )
            .await
            .map_err(db)?
            .iter()
            .filter_map(|row| get::<Option<String>>(row, 0).transpose())
            .collect::<Result<_, _>>()?;
        for row in tx
            .query(
                "SELECT DISTINCT family FROM refresh_tokens WHERE subject = $1",
                &[&name],
            )
            .await
            .map_err(db)?
        {
            families.push(get(&row, 0)?);
        }
        let revoked = revoke_families(&tx, &families).await?;
        for statement in [
            "DELETE FROM sessions WHERE subject = $1",
            "DELETE FROM consents WHERE subject = $1",
        ] {
            tx.execute(statement, &[&name]).await.map_err(db)?;
        }
        let existed = tx
            .execute("DELETE FROM users WHERE name = $1", &[&name])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.deny.insert(revoked);
        Ok(existed == 1)
    }

    pub(super) async fn failures_of(
        &self,
        name: &str,
    ) -> Result<Option<SignInFailures>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT failed_sign_ins, last_failed_sign_in FROM users WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(failures_row)
            .transpose()
    }

    pub(super) async fn count_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, last_failed_sign_in = $2
                 WHERE name = $1 RETURNING failed_sign_ins, last_failed_sign_in",
                &[&name, &time_to_sql(at)],
            )
            .await
            .map_err(db)?
            .as_ref()
            .map(failures_row)
            .transpose()
    }

    pub(super) async fn clear_failures(&self, name: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE users SET failed_sign_ins = 0, last_failed_sign_in = NULL
                 WHERE name = $1 AND failed_sign_ins <> 0",
                &[&name],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(super) async fn add_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (hash, subject, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.hash.as_bytes().as_slice(),
                    &session.subject,
                    &time_to_sql(session.created_at),
                    &time_to_sql(session.expires_at),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(super) async fn find_session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT subject, created_at, expires_at FROM sessions
                 WHERE hash = $1 AND expires_at > $2",
                &[&hash.as_bytes().as_slice(), &time_to_sql(now)],
            )
            .await
            .map_err(db)?
            .map(|row| {
                Ok(SessionRecord {
                    hash: *hash,
                    subject: get(&row, 0)?,
                    created_at: time_from_sql(get(&row, 1)?)?,
                    expires_at: time_from_sql(get(&row, 2)?)?,
                })
            })
            .transpose()
    }

    pub(super) async fn end_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM sessions WHERE hash = $1",
                &[&hash.as_bytes().as_slice()],
            )
            .await
            .map_err(db)?;
        Ok(deleted == 1)
    }

    pub(super) async fn purge_audit_before(&self, before: UnixTime) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let mut purged = 0;
        loop {
            let deleted = client
                .execute(
                    "DELETE FROM audit_events WHERE id IN
                     (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
                    &[&time_to_sql(before), &PURGE_BATCH],
                )
                .await
                .map_err(db)?;
            purged += deleted;
            if i64::try_from(deleted).unwrap_or(i64::MAX) < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}
