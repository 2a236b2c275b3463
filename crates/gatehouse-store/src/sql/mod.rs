//! What the SQLite and PostgreSQL backends share, so that it is written once:
//!
//! - every statement both can run, in PostgreSQL's spelling with SQLite's derived from it
//!   mechanically ([`Statement`], [`statements`]);
//! - backend-neutral parameters and rows ([`Value`], [`Row`]) and the mapping of each record to
//!   and from them ([`rows`]);
//! - every operation that is one statement on either database, over the two primitives a backend
//!   provides ([`Database`]): the whole of [`ServerStore`] but for the three operations whose
//!   transactions differ ([`SqlBackend`]), and the shared parts of the engine's `Store`.
//!
//! What stays in each backend is what truly differs (decision 0008): connecting and migrating,
//! the transactions of the engine's atomic operations (a single SQLite writer against
//! PostgreSQL's row locks), and how other instances hear of revocations (`NOTIFY` against
//! SQLite's feed table).

pub(crate) mod rows;
mod statement;
pub(crate) mod statements;
#[cfg(test)]
mod tests;
mod value;

use std::future::Future;

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::{
    ClientRecord, CodeEntry, CodeRecord, RefreshRecord, Store, StoreError,
};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::rate::PerMinute;
use gatehouse_types::{ClientId, UnixTime};

pub(crate) use statement::Statement;
pub(crate) use value::{Row, Value};

use crate::DenyList;
use crate::server::{
    AuditEvent, AuditQuery, Consent, Grant, IdentityRecord, ServerStore, SessionRecord,
    SignInFailures, StoredSigningKey, UserRecord,
};
use rows::{hash_param, time_param};
use statements as sql;

/// Rows a purge statement deletes at a time, so that requests never wait behind a long clean-up.
pub(crate) const PURGE_BATCH: i64 = 500;

/// One statement at a time, each in a transaction of its own: what a backend gives the shared
/// code.
pub(crate) trait Database: Send + Sync {
    /// Runs a statement that reads; its rows.
    fn query(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs a statement that writes; how many rows it changed.
    fn execute(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a statement that writes and returns rows (`RETURNING`).
    fn execute_returning(
        &self,
        statement: &'static Statement,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs statements that write, in order, all in one transaction (one commit, one fsync);
    /// how many rows changed in all.
    fn execute_many(
        &self,
        writes: Vec<(&'static Statement, Vec<Value>)>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// A SQL backend: [`Database`], the engine's `Store`, and the [`ServerStore`] operations whose
/// transactions differ per database. Every such backend is a [`ServerStore`].
pub(crate) trait SqlBackend: Database + Store {
    /// Deletes a client, its codes and consents, and revokes every grant it holds.
    fn delete_client_and_grants(
        &self,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Replaces a password, clears the failed sign-ins and ends the user's sessions.
    fn set_password_ending_sessions(
        &self,
        name: &str,
        password_hash: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a user, their sessions and consents, and revokes every grant issued for them.
    fn delete_user_and_grants(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// This instance's deny-list.
    fn deny(&self) -> &DenyList;
}

fn optional<T>(
    rows: Result<Vec<Row>, StoreError>,
    map: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    rows?.first().map(map).transpose()
}

fn all<T>(
    rows: Vec<Row>,
    map: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

// ----- the shared parts of the engine's `Store` -------------------------------------------------

pub(crate) async fn insert_client(
    db: &impl Database,
    client: &ClientRecord,
) -> Result<(), StoreError> {
    db.execute(&sql::INSERT_CLIENT, rows::client_params(client))
        .await
        .map(drop)
}

pub(crate) async fn insert_code(db: &impl Database, code: &CodeRecord) -> Result<(), StoreError> {
    db.execute(&sql::INSERT_CODE, rows::code_params(code))
        .await
        .map(drop)
}

pub(crate) async fn code(
    db: &impl Database,
    hash: &CredentialHash,
) -> Result<Option<CodeEntry>, StoreError> {
    optional(
        db.query(&sql::CODE, vec![hash_param(hash)]).await,
        rows::code,
    )
}

pub(crate) async fn refresh(
    db: &impl Database,
    hash: &CredentialHash,
) -> Result<Option<RefreshRecord>, StoreError> {
    optional(
        db.query(&sql::REFRESH, vec![hash_param(hash)]).await,
        rows::refresh,
    )
}

pub(crate) async fn is_access_token_revoked(
    db: &impl Database,
    jti: &str,
) -> Result<bool, StoreError> {
    let rows = db
        .query(&sql::IS_ACCESS_TOKEN_REVOKED, vec![jti.into()])
        .await?;
    rows.first().map_or(Ok(false), |row| row.boolean(0))
}

pub(crate) async fn access_token_family(
    db: &impl Database,
    jti: &str,
) -> Result<Option<gatehouse_engine::store::FamilyId>, StoreError> {
    let rows = db
        .query(&sql::ACCESS_TOKEN_FAMILY, vec![jti.into()])
        .await?;
    rows.first()
        .map(|row| Ok(gatehouse_engine::store::FamilyId::new(row.text(0)?)))
        .transpose()
}

pub(crate) async fn use_assertion(
    db: &impl Database,
    issuer: &str,
    jti: &str,
    expires_at: UnixTime,
) -> Result<bool, StoreError> {
    let inserted = db
        .execute(
            &sql::USE_ASSERTION,
            vec![issuer.into(), jti.into(), time_param(expires_at)],
        )
        .await?;
    Ok(inserted == 1)
}

/// Deletes what `statement` selects, [`PURGE_BATCH`] rows at a time until fewer are left;
/// `bound` (a time) is its `$1` and the batch size the next parameter.
pub(crate) async fn groups_of(
    db: &impl Database,
    subject: &str,
) -> Result<Vec<String>, StoreError> {
    optional(
        db.query(&sql::GROUPS_OF, vec![subject.into()]).await,
        |row| rows::groups(row.text(0)?),
    )
    .map(Option::unwrap_or_default)
}

pub(crate) async fn delete_in_batches(
    db: &impl Database,
    statement: &'static Statement,
    bound: Option<i64>,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let params = bound
            .map(Value::Int)
            .into_iter()
            .chain([Value::Int(PURGE_BATCH)])
            .collect();
        let changed = db.execute(statement, params).await?;
        deleted += changed;
        if i64::try_from(changed).unwrap_or(i64::MAX) < PURGE_BATCH {
            return Ok(deleted);
        }
    }
}

/// The purge both backends run, then `own`: what only theirs holds (families, whose statement
/// differs, and SQLite's revocation feed). Expired rows go; sealed successors older than
/// `sealed_before` are forgotten.
pub(crate) async fn purge(
    db: &impl Database,
    now: UnixTime,
    sealed_before: UnixTime,
    own: &[(&'static Statement, Option<i64>)],
) -> Result<(), StoreError> {
    let now = crate::codec::time_to_sql(now);
    let sealed_before = crate::codec::time_to_sql(sealed_before);
    let shared = [
        (&sql::PURGE_REFRESH_TOKENS, Some(now)),
        (&sql::PURGE_SEALED_SUCCESSORS, Some(sealed_before)),
        (&sql::PURGE_ACCESS_TOKENS, Some(now)),
        (&sql::PURGE_CODES, Some(now)),
        (&sql::PURGE_REVOKED_JTIS, Some(now)),
        (&sql::PURGE_USED_ASSERTIONS, Some(now)),
        (&sql::PURGE_SESSIONS, Some(now)),
    ];
    for (statement, bound) in shared.iter().chain(own) {
        delete_in_batches(db, statement, *bound).await?;
    }
    Ok(())
}

/// The engine's `Store` methods that are one statement on either database, written into a
/// backend's `impl Store` block: the engine's trait is foreign to this crate, so no blanket impl
/// can provide them.
macro_rules! shared_store_methods {
    () => {
        async fn insert_client(
            &self,
            client: gatehouse_engine::store::ClientRecord,
        ) -> Result<(), gatehouse_engine::store::StoreError> {
            $crate::sql::insert_client(self, &client).await
        }

        async fn insert_code(
            &self,
            code: gatehouse_engine::store::CodeRecord,
        ) -> Result<(), gatehouse_engine::store::StoreError> {
            $crate::sql::insert_code(self, &code).await
        }

        async fn code(
            &self,
            hash: &gatehouse_engine::opaque::CredentialHash,
        ) -> Result<Option<gatehouse_engine::store::CodeEntry>, gatehouse_engine::store::StoreError>
        {
            $crate::sql::code(self, hash).await
        }

        async fn refresh(
            &self,
            hash: &gatehouse_engine::opaque::CredentialHash,
        ) -> Result<
            Option<gatehouse_engine::store::RefreshRecord>,
            gatehouse_engine::store::StoreError,
        > {
            $crate::sql::refresh(self, hash).await
        }

        async fn is_access_token_revoked(
            &self,
            jti: &str,
        ) -> Result<bool, gatehouse_engine::store::StoreError> {
            $crate::sql::is_access_token_revoked(self, jti).await
        }

        async fn access_token_family(
            &self,
            jti: &str,
        ) -> Result<Option<gatehouse_engine::store::FamilyId>, gatehouse_engine::store::StoreError>
        {
            $crate::sql::access_token_family(self, jti).await
        }

        async fn use_assertion(
            &self,
            issuer: &str,
            jti: &str,
            expires_at: gatehouse_types::UnixTime,
        ) -> Result<bool, gatehouse_engine::store::StoreError> {
            $crate::sql::use_assertion(self, issuer, jti, expires_at).await
        }

        async fn groups_of(
            &self,
            subject: &str,
        ) -> Result<Vec<String>, gatehouse_engine::store::StoreError> {
            $crate::sql::groups_of(self, subject).await
        }
    };
}
pub(crate) use shared_store_methods;

// ----- the server's state -----------------------------------------------------------------------

impl<B: SqlBackend> ServerStore for B {
    async fn client(&self, client_id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        optional(
            self.query(&sql::CLIENT, vec![client_id.as_str().into()])
                .await,
            rows::client,
        )
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        all(self.query(&sql::CLIENTS, Vec::new()).await?, rows::client)
    }

    async fn replace_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        let changed = self
            .execute(&sql::REPLACE_CLIENT, rows::client_params(&client))
            .await?;
        Ok(changed == 1)
    }

    async fn declare_client(&self, client: ClientRecord) -> Result<bool, StoreError> {
        let stored = self
            .execute_returning(&sql::DECLARE_CLIENT, rows::client_params(&client))
            .await?;
        Ok(!stored.is_empty())
    }

    async fn declared_clients(&self) -> Result<Vec<ClientId>, StoreError> {
        let rows = self.query(&sql::DECLARED_CLIENTS, Vec::new()).await?;
        all(rows, |row| {
            crate::codec::client_id_from_sql(row.text(0)?.to_owned())
        })
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        self.delete_client_and_grants(client_id).await
    }

    async fn grants_of(&self, subject: &str, now: UnixTime) -> Result<Vec<Grant>, StoreError> {
        let rows = self
            .query(&sql::GRANTS_OF, vec![subject.into(), time_param(now)])
            .await?;
        all(rows, rows::grant)
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        self.execute(&sql::INSERT_USER, rows::user_params(&user))
            .await
            .map(drop)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        optional(self.query(&sql::USER, vec![name.into()]).await, rows::user)
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        all(self.query(&sql::USERS, Vec::new()).await?, rows::user)
    }

    async fn set_password(&self, name: &str, password_hash: String) -> Result<bool, StoreError> {
        self.set_password_ending_sessions(name, password_hash).await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_user_and_grants(name).await
    }

    async fn sign_in_failures(&self, name: &str) -> Result<Option<SignInFailures>, StoreError> {
        optional(
            self.query(&sql::SIGN_IN_FAILURES, vec![name.into()]).await,
            rows::sign_in_failures,
        )
    }

    async fn record_sign_in_failure(
        &self,
        name: &str,
        at: UnixTime,
    ) -> Result<Option<SignInFailures>, StoreError> {
        optional(
            self.execute_returning(
                &sql::RECORD_SIGN_IN_FAILURE,
                vec![name.into(), time_param(at)],
            )
            .await,
            rows::sign_in_failures,
        )
    }

    async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        self.execute(&sql::CLEAR_SIGN_IN_FAILURES, vec![name.into()])
            .await
            .map(drop)
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.execute(&sql::INSERT_SESSION, rows::session_params(&session))
            .await
            .map(drop)
    }

    async fn session(
        &self,
        hash: &CredentialHash,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let hash = *hash;
        optional(
            self.query(&sql::SESSION, vec![hash_param(&hash), time_param(now)])
                .await,
            |row| rows::session(row, hash),
        )
    }

    async fn delete_session(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        let deleted = self
            .execute(&sql::DELETE_SESSION, vec![hash_param(hash)])
            .await?;
        Ok(deleted == 1)
    }

    async fn grant_consent(&self, consent: Consent) -> Result<(), StoreError> {
        self.execute(&sql::GRANT_CONSENT, rows::consent_params(&consent))
            .await
            .map(drop)
    }

    async fn consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> Result<Option<Consent>, StoreError> {
        let params = vec![
            subject.into(),
            client_id.as_str().into(),
            resource.as_str().into(),
        ];
        optional(self.query(&sql::CONSENT, params).await, rows::consent)
    }

    async fn consents_of(&self, subject: &str) -> Result<Vec<Consent>, StoreError> {
        all(
            self.query(&sql::CONSENTS_OF, vec![subject.into()]).await?,
            rows::consent,
        )
    }

    async fn withdraw_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
    ) -> Result<u64, StoreError> {
        self.execute(
            &sql::WITHDRAW_CONSENT,
            vec![subject.into(), client_id.as_str().into()],
        )
        .await
    }

    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        self.execute(&sql::INSERT_SIGNING_KEY, rows::key_params(&key))
            .await
            .map(drop)
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        all(self.query(&sql::SIGNING_KEYS, Vec::new()).await?, rows::key)
    }

    async fn retire_signing_key(&self, kid: &str, at: UnixTime) -> Result<bool, StoreError> {
        let changed = self
            .execute(&sql::RETIRE_SIGNING_KEY, vec![kid.into(), time_param(at)])
            .await?;
        Ok(changed == 1)
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let deleted = self
            .execute(&sql::DELETE_SIGNING_KEY, vec![kid.into()])
            .await?;
        Ok(deleted == 1)
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut remaining = events.len();
        let mut events = events.into_iter();
        let mut writes: Vec<(&'static Statement, Vec<Value>)> =
            Vec::with_capacity(remaining / sql::AUDIT_ROWS_PER_STATEMENT + 5);
        while remaining > 0 {
            let (statement, rows) = sql::append_audit_statement(remaining);
            let params = events.by_ref().take(rows).flat_map(rows::audit_params);
            writes.push((statement, params.collect()));
            remaining -= rows;
        }
        self.execute_many(writes).await.map(drop)
    }

    async fn purge_audit(&self, before: UnixTime) -> Result<u64, StoreError> {
        delete_in_batches(
            self,
            &sql::PURGE_AUDIT,
            Some(crate::codec::time_to_sql(before)),
        )
        .await
    }

    async fn audit_events(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        let rows = self
            .query(
                &sql::AUDIT_EVENTS,
                vec![after.into(), i64::from(limit).into()],
            )
            .await?;
        all(rows, rows::audit_event)
    }

    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<(i64, AuditEvent)>, StoreError> {
        let rows = self
            .query(
                &sql::SEARCH_AUDIT,
                vec![
                    time_param(query.since),
                    query.client_id.as_deref().into(),
                    query.subject.as_deref().into(),
                    query.tool.as_deref().into(),
                    i64::from(query.limit).into(),
                ],
            )
            .await?;
        all(rows, rows::audit_event)
    }

    async fn spend_rate(
        &self,
        key: &[u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> Result<Result<(), u64>, StoreError> {
        let int = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
        let passed = self
            .execute_returning(
                &sql::SPEND_RATE,
                vec![
                    key.as_slice().into(),
                    int(now_us),
                    int(budget.interval_us()),
                    int(budget.window_us()),
                ],
            )
            .await?;
        if !passed.is_empty() {
            return Ok(Ok(()));
        }
        // Refused: when the next request would pass, from the arrival time the refusal left.
        let tat = optional(
            self.query(&sql::RATE_TAT, vec![key.as_slice().into()])
                .await,
            |row| row.int(0),
        )?
        .and_then(|tat| u64::try_from(tat).ok());
        // Once the statement refused, the answer is a refusal: a row another instance purged
        // meanwhile (its clock ahead) must not turn it into a pass that spent nothing.
        Ok(Err(
            match gatehouse_types::rate::spend(tat, now_us, budget) {
                Err(wait) => wait,
                Ok(_) => 1,
            },
        ))
    }

    async fn purge_rate_limits(&self, now_us: u64) -> Result<u64, StoreError> {
        delete_in_batches(
            self,
            &sql::PURGE_RATE_LIMITS,
            Some(i64::try_from(now_us).unwrap_or(i64::MAX)),
        )
        .await
    }

    async fn put_identity(&self, identity: IdentityRecord) -> Result<(), StoreError> {
        self.execute(
            &sql::PUT_IDENTITY,
            vec![
                identity.subject.as_str().into(),
                rows::groups_text(&identity.groups).into(),
                identity.sealed_tokens.into(),
                time_param(identity.updated_at),
            ],
        )
        .await
        .map(drop)
    }

    async fn identity(&self, subject: &str) -> Result<Option<IdentityRecord>, StoreError> {
        optional(
            self.query(&sql::IDENTITY, vec![subject.into()]).await,
            rows::identity,
        )
    }

    async fn replace_identity_tokens(
        &self,
        subject: &str,
        version: i64,
        sealed_tokens: Option<Vec<u8>>,
        now: UnixTime,
    ) -> Result<Option<i64>, StoreError> {
        let rows = self
            .execute_returning(
                &sql::REPLACE_IDENTITY_TOKENS,
                vec![
                    subject.into(),
                    version.into(),
                    sealed_tokens.into(),
                    time_param(now),
                ],
            )
            .await?;
        rows.first().map(|row| row.int(0)).transpose()
    }

    async fn claim_identity_refresh(
        &self,
        subject: &str,
        version: i64,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let rows = self
            .execute_returning(
                &sql::CLAIM_IDENTITY_REFRESH,
                vec![
                    subject.into(),
                    version.into(),
                    time_param(until),
                    time_param(now),
                ],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    fn deny_list(&self) -> &DenyList {
        self.deny()
    }
}
