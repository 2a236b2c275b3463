//! Every statement the two SQL backends share, each written once in PostgreSQL's spelling
//! ([`Statement`] derives SQLite's). The column lists are macros so that a statement is one
//! `concat!`ed literal: what is read here is what runs.

use std::sync::LazyLock;

use super::Statement;

macro_rules! client_columns {
    () => {
        "client_id, metadata, secret_hash, secret_expires_at, registration_token_hash, \
         issued_at, introspection_resources"
    };
}
macro_rules! code_columns {
    () => {
        "hash, client_id, redirect_uri, redirect_uri_explicit, challenge, scopes, resources, \
         subject, issued_at, expires_at, redeemed_into, dpop_jkt"
    };
}
macro_rules! consent_columns {
    () => {
        "subject, client_id, resource, scopes, granted_at"
    };
}
macro_rules! user_columns {
    () => {
        "name, password_hash, created_at"
    };
}
macro_rules! key_columns {
    () => {
        "kid, alg, sealed_private_jwk, created_at, retired_at"
    };
}

// ----- clients ----------------------------------------------------------------------------------

pub(crate) static INSERT_CLIENT: Statement = Statement::new(concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
));
pub(crate) static CLIENT: Statement = Statement::new(concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE client_id = $1"
));
pub(crate) static CLIENTS: Statement = Statement::new(concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients ORDER BY client_id"
));
/// A client the operator declares in the configuration (`[[clients]]`): inserted, or updated in
/// place if it was declared before (its `issued_at` kept). A client of that id that was not
/// declared (registered itself, or added on the command line) is left alone: no row returns.
pub(crate) static DECLARE_CLIENT: Statement = Statement::new(concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ", declared) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)
     ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata,
       secret_hash = EXCLUDED.secret_hash, secret_expires_at = EXCLUDED.secret_expires_at,
       introspection_resources = EXCLUDED.introspection_resources
     WHERE clients.declared
     RETURNING client_id"
));
pub(crate) static DECLARED_CLIENTS: Statement =
    Statement::new("SELECT client_id FROM clients WHERE declared ORDER BY client_id");
pub(crate) static REPLACE_CLIENT: Statement = Statement::new(
    "UPDATE clients SET metadata = $2, secret_hash = $3, secret_expires_at = $4,
     registration_token_hash = $5, issued_at = $6, introspection_resources = $7
     WHERE client_id = $1",
);
/// Deleting a client's codes first waits (on PostgreSQL) for a redemption in flight, which holds
/// the code's row lock, and returns the families redeemed codes made.
pub(crate) static DELETE_CODES_OF_CLIENT: Statement =
    Statement::new("DELETE FROM codes WHERE client_id = $1 RETURNING redeemed_into");
pub(crate) static FAMILIES_OF_CLIENT: Statement = Statement::new(
    "SELECT family FROM refresh_tokens WHERE client_id = $1
     UNION SELECT family FROM access_tokens WHERE client_id = $1",
);
pub(crate) static DELETE_CONSENTS_OF_CLIENT: Statement =
    Statement::new("DELETE FROM consents WHERE client_id = $1");
pub(crate) static DELETE_CLIENT: Statement =
    Statement::new("DELETE FROM clients WHERE client_id = $1");

// ----- codes ------------------------------------------------------------------------------------

pub(crate) static INSERT_CODE: Statement = Statement::new(concat!(
    "INSERT INTO codes (",
    code_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)"
));
pub(crate) static CODE: Statement = Statement::new(concat!(
    "SELECT ",
    code_columns!(),
    " FROM codes WHERE hash = $1"
));
/// The whole "exactly once" of a code: the conditional `UPDATE` (see `docs/storage.md`).
pub(crate) static TAKE_CODE: Statement = Statement::new(concat!(
    "UPDATE codes SET redeemed_into = $2 WHERE hash = $1 AND redeemed_into IS NULL RETURNING ",
    code_columns!()
));
pub(crate) static CODE_REDEEMED_INTO: Statement =
    Statement::new("SELECT redeemed_into FROM codes WHERE hash = $1");

// ----- families, refresh and access tokens ------------------------------------------------------

pub(crate) static INSERT_FAMILY: Statement =
    Statement::new("INSERT INTO families (id) VALUES ($1)");
pub(crate) static FAMILY_REVOKED: Statement =
    Statement::new("SELECT EXISTS (SELECT 1 FROM families WHERE id = $1 AND revoked)");
/// Marks a family revoked, creating its row if needed (on PostgreSQL the upsert also takes the
/// row's lock: it waits for rotations and insertions in flight).
pub(crate) static REVOKE_FAMILY: Statement = Statement::new(
    "INSERT INTO families (id, revoked) VALUES ($1, TRUE)
     ON CONFLICT (id) DO UPDATE SET revoked = TRUE",
);
/// The `jti`s of a family, for the deny-list.
pub(crate) static FAMILY_JTIS: Statement =
    Statement::new("SELECT jti, expires_at FROM access_tokens WHERE family = $1");
/// Every revoked, unexpired `jti`: what a deny-list loads when it (re)starts.
pub(crate) static REVOKED_JTIS: Statement = Statement::new(
    "SELECT jti, expires_at FROM revoked_jtis
     UNION
     SELECT a.jti, a.expires_at FROM access_tokens a
     JOIN families f ON f.id = a.family WHERE f.revoked",
);
pub(crate) static INSERT_REFRESH: Statement = Statement::new(
    "INSERT INTO refresh_tokens
     (hash, family, client_id, subject, scopes, resources, issued_at, expires_at, dpop_jkt)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
);
pub(crate) static REFRESH: Statement = Statement::new(
    "SELECT r.hash, r.family, r.client_id, r.subject, r.scopes, r.resources, r.issued_at,
            r.expires_at, r.successor, r.sealed_successor, r.rotated_at,
            COALESCE(f.revoked, FALSE), r.dpop_jkt
     FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family WHERE r.hash = $1",
);
/// The compare-and-set of a rotation.
pub(crate) static ROTATE_REFRESH: Statement = Statement::new(
    "UPDATE refresh_tokens SET successor = $2, sealed_successor = $3, rotated_at = $4
     WHERE hash = $1 AND successor IS NULL",
);
/// Only the newest predecessor may open its successor. The partial index `refresh_tokens_sealed`
/// (migration 6) finds the one or two rows that still hold a sealed successor, however long the
/// family's chain of rotated tokens has grown.
pub(crate) static FORGET_OLDER_SUCCESSORS: Statement = Statement::new(
    "UPDATE refresh_tokens SET sealed_successor = NULL
     WHERE family = $1 AND hash <> $2 AND sealed_successor IS NOT NULL",
);
pub(crate) static INSERT_ACCESS_TOKEN: Statement = Statement::new(
    "INSERT INTO access_tokens (jti, family, client_id, expires_at) VALUES ($1, $2, $3, $4)",
);
pub(crate) static IS_ACCESS_TOKEN_REVOKED: Statement = Statement::new(
    "SELECT EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = $1)
         OR EXISTS (SELECT 1 FROM access_tokens a JOIN families f ON f.id = a.family
                    WHERE a.jti = $1 AND f.revoked)",
);
pub(crate) static GRANTS_OF: Statement = Statement::new(
    "SELECT r.family, r.client_id, r.scopes, r.resources, r.issued_at
     FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family
     WHERE r.subject = $1 AND r.successor IS NULL AND r.expires_at > $2
       AND NOT COALESCE(f.revoked, FALSE)
     ORDER BY r.issued_at DESC, r.family",
);

// ----- users, sign-in failures, sessions --------------------------------------------------------

pub(crate) static INSERT_USER: Statement =
    Statement::new("INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3)");
pub(crate) static USER: Statement = Statement::new(concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE name = $1"
));
pub(crate) static USERS: Statement = Statement::new(concat!(
    "SELECT ",
    user_columns!(),
    " FROM users ORDER BY name"
));
pub(crate) static SET_PASSWORD: Statement = Statement::new(
    "UPDATE users SET password_hash = $2, failed_sign_ins = 0, last_failed_sign_in = NULL
     WHERE name = $1",
);
/// Deleting a user's codes first waits (on PostgreSQL) for a redemption in flight and returns
/// the families redeemed codes made.
pub(crate) static DELETE_CODES_OF_SUBJECT: Statement =
    Statement::new("DELETE FROM codes WHERE subject = $1 RETURNING redeemed_into");
pub(crate) static FAMILIES_OF_SUBJECT: Statement =
    Statement::new("SELECT DISTINCT family FROM refresh_tokens WHERE subject = $1");
pub(crate) static DELETE_SESSIONS_OF_SUBJECT: Statement =
    Statement::new("DELETE FROM sessions WHERE subject = $1");
pub(crate) static DELETE_CONSENTS_OF_SUBJECT: Statement =
    Statement::new("DELETE FROM consents WHERE subject = $1");
pub(crate) static DELETE_USER: Statement = Statement::new("DELETE FROM users WHERE name = $1");
pub(crate) static SIGN_IN_FAILURES: Statement =
    Statement::new("SELECT failed_sign_ins, last_failed_sign_in FROM users WHERE name = $1");
pub(crate) static RECORD_SIGN_IN_FAILURE: Statement = Statement::new(
    "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, last_failed_sign_in = $2
     WHERE name = $1 RETURNING failed_sign_ins, last_failed_sign_in",
);
pub(crate) static CLEAR_SIGN_IN_FAILURES: Statement = Statement::new(
    "UPDATE users SET failed_sign_ins = 0, last_failed_sign_in = NULL
     WHERE name = $1 AND failed_sign_ins <> 0",
);
pub(crate) static INSERT_SESSION: Statement = Statement::new(
    "INSERT INTO sessions (hash, subject, created_at, expires_at) VALUES ($1, $2, $3, $4)",
);
pub(crate) static SESSION: Statement = Statement::new(
    "SELECT subject, created_at, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2",
);
pub(crate) static DELETE_SESSION: Statement =
    Statement::new("DELETE FROM sessions WHERE hash = $1");

// ----- consents ---------------------------------------------------------------------------------

pub(crate) static GRANT_CONSENT: Statement = Statement::new(concat!(
    "INSERT INTO consents (",
    consent_columns!(),
    ") VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (subject, client_id, resource)
     DO UPDATE SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at"
));
pub(crate) static CONSENT: Statement = Statement::new(concat!(
    "SELECT ",
    consent_columns!(),
    " FROM consents WHERE subject = $1 AND client_id = $2 AND resource = $3"
));
pub(crate) static CONSENTS_OF: Statement = Statement::new(concat!(
    "SELECT ",
    consent_columns!(),
    " FROM consents WHERE subject = $1 ORDER BY client_id, resource"
));
pub(crate) static WITHDRAW_CONSENT: Statement =
    Statement::new("DELETE FROM consents WHERE subject = $1 AND client_id = $2");

// ----- signing keys -----------------------------------------------------------------------------

pub(crate) static INSERT_SIGNING_KEY: Statement = Statement::new(concat!(
    "INSERT INTO signing_keys (",
    key_columns!(),
    ") VALUES ($1, $2, $3, $4, $5)"
));
pub(crate) static SIGNING_KEYS: Statement = Statement::new(concat!(
    "SELECT ",
    key_columns!(),
    " FROM signing_keys ORDER BY created_at, kid"
));
pub(crate) static RETIRE_SIGNING_KEY: Statement =
    Statement::new("UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1");
pub(crate) static DELETE_SIGNING_KEY: Statement =
    Statement::new("DELETE FROM signing_keys WHERE kid = $1");

// ----- audit events -----------------------------------------------------------------------------

pub(crate) static APPEND_AUDIT: Statement = Statement::new(
    "INSERT INTO audit_events (at, kind, subject, client_id, detail, resource, tool)
     VALUES ($1, $2, $3, $4, $5, $6, $7)",
);
/// The columns `APPEND_AUDIT` writes.
pub(crate) const AUDIT_COLUMNS: usize = 7;
/// How many audit events each multi-row statement stores, largest first.
pub(crate) const AUDIT_STATEMENT_ROWS: [usize; 5] = [32, 16, 8, 4, 2];
/// Audit events one statement stores at most.
pub(crate) const AUDIT_ROWS_PER_STATEMENT: usize = AUDIT_STATEMENT_ROWS[0];
/// `APPEND_AUDIT` for several events at once: for each of [`AUDIT_STATEMENT_ROWS`]. Every
/// statement has a cost of its own beyond its rows (SQLite starts and halts its program, opens its
/// cursors and updates the `AUTOINCREMENT` counter once per statement), about twice a row's:
/// under load the audit writer stores a thousand events a batch, one for every MCP call, and a
/// quiet server's batch of a few dozen; stored 32 a statement, and what remains in at most four
/// more and `APPEND_AUDIT`, rather than one by one (issue 24).
pub(crate) static APPEND_AUDIT_ROWS: LazyLock<[Statement; 5]> =
    LazyLock::new(|| AUDIT_STATEMENT_ROWS.map(append_audit_rows));

/// The statement that stores the most of `remaining` (at least one) audit events it can, and how
/// many it stores.
pub(crate) fn append_audit_statement(remaining: usize) -> (&'static Statement, usize) {
    APPEND_AUDIT_ROWS
        .iter()
        .zip(AUDIT_STATEMENT_ROWS)
        .find(|(_, rows)| *rows <= remaining)
        .map_or((&APPEND_AUDIT, 1), |(statement, rows)| (statement, rows))
}

/// `APPEND_AUDIT` for `rows` events.
///
/// SQLite's spelling is `INSERT OR FAIL`. A statement that writes several rows and could stop
/// halfway (at a `NOT NULL`, say) makes SQLite keep, in a statement journal, every page the
/// statement changes that an earlier statement of the transaction wrote: the last leaves of the
/// table and its index, their parents, the `AUTOINCREMENT` counter. For a batch of a thousand
/// records that journal outgrew its 64 KiB in memory, and every commit created, wrote page by page
/// and deleted a temporary file: more than half the writer's system calls (issue 24). `OR FAIL`
/// keeps the rows a failed statement wrote, so SQLite needs no journal for it; the store wraps
/// each write in a savepoint (`in_savepoint`), which takes them back after a failed constraint.
/// (After a full disk, no memory or an I/O error SQLite rolls the whole transaction back, with or
/// without `OR FAIL`; the group commit then fails the group whole.) PostgreSQL takes back a failed
/// statement's rows itself.
fn append_audit_rows(rows: usize) -> Statement {
    let rows: Vec<String> = (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=AUDIT_COLUMNS)
                .map(|column| format!("${}", row * AUDIT_COLUMNS + column))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let insert = "INSERT INTO audit_events (at, kind, subject, client_id, detail, resource, tool)";
    let postgres = format!("{insert} VALUES {}", rows.join(", "));
    let sqlite = super::statement::to_sqlite(&postgres).replacen("INSERT", "INSERT OR FAIL", 1);
    // Made once per process, and static like every other statement.
    Statement::with_sqlite(Box::leak(postgres.into_boxed_str()), sqlite)
}

/// `gatehouse audit list`: newest first, each filter applied only when given. The filters
/// compare whole values, so the `at` index bounds the scan.
pub(crate) static SEARCH_AUDIT: Statement = Statement::new(
    "SELECT id, at, kind, subject, client_id, detail, resource, tool FROM audit_events
     WHERE at >= $1 AND (CAST($2 AS TEXT) IS NULL OR client_id = $2)
       AND (CAST($3 AS TEXT) IS NULL OR subject = $3) AND (CAST($4 AS TEXT) IS NULL OR tool = $4)
     ORDER BY id DESC LIMIT $5",
);
pub(crate) static AUDIT_EVENTS: Statement = Statement::new(
    "SELECT id, at, kind, subject, client_id, detail, resource, tool FROM audit_events
     WHERE id > $1 ORDER BY id LIMIT $2",
);

pub(crate) static ACCESS_TOKEN_FAMILY: Statement =
    Statement::new("SELECT family FROM access_tokens WHERE jti = $1");

// ----- assertions -------------------------------------------------------------------------------

/// A JWT assertion's `jti`, kept until the assertion expires: the row that a second use of the
/// same assertion collides with (RFC 7523 §3 item 7), on every instance that shares the database.
pub(crate) static USE_ASSERTION: Statement = Statement::new(
    "INSERT INTO used_assertions (issuer, jti, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT (issuer, jti) DO NOTHING",
);

// ----- rate limits ------------------------------------------------------------------------------

/// Spends one request of a key's budget (`gatehouse_types::rate::spend`, in SQL): with `$2` now,
/// `$3` the interval a request costs and `$4` the window, the arrival time moves on by one
/// interval unless that would put it more than a window ahead of now. One statement, so
/// instances sharing the database spend one budget; a row comes back only when the request
/// passes.
pub(crate) static SPEND_RATE: Statement = Statement::new(
    "INSERT INTO rate_limits (key, tat) VALUES ($1, CAST($2 AS BIGINT) + CAST($3 AS BIGINT))
     ON CONFLICT (key) DO UPDATE
       SET tat = (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3
       WHERE (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 - $4 <= $2
     RETURNING tat",
);
pub(crate) static RATE_TAT: Statement =
    Statement::new("SELECT tat FROM rate_limits WHERE key = $1");

// ----- identities (people signed in through identity providers) ------------------------------

pub(crate) static PUT_IDENTITY: Statement = Statement::new(
    "INSERT INTO identities (subject, groups, tokens, version, updated_at) VALUES ($1, $2, $3, 1, $4)
     ON CONFLICT (subject) DO UPDATE
       SET groups = $2, tokens = $3, version = identities.version + 1, refreshing_until = NULL,
           updated_at = $4",
);
pub(crate) static IDENTITY: Statement = Statement::new(
    "SELECT subject, groups, tokens, version, updated_at FROM identities WHERE subject = $1",
);
pub(crate) static GROUPS_OF: Statement =
    Statement::new("SELECT groups FROM identities WHERE subject = $1");
pub(crate) static REPLACE_IDENTITY_TOKENS: Statement = Statement::new(
    "UPDATE identities SET tokens = $3, version = version + 1, refreshing_until = NULL,
       updated_at = $4
     WHERE subject = $1 AND version = $2 RETURNING version",
);
pub(crate) static CLAIM_IDENTITY_REFRESH: Statement = Statement::new(
    "UPDATE identities SET refreshing_until = $3
     WHERE subject = $1 AND version = $2
       AND (refreshing_until IS NULL OR refreshing_until <= $4)
     RETURNING version",
);

// ----- purging ----------------------------------------------------------------------------------
// Each deletes at most `$2` rows whose time (`$1`) has passed, by primary key, so that a long
// clean-up runs as short transactions that requests interleave with.

pub(crate) static PURGE_REFRESH_TOKENS: Statement = Statement::new(
    "DELETE FROM refresh_tokens WHERE hash IN
     (SELECT hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
);
pub(crate) static PURGE_SEALED_SUCCESSORS: Statement = Statement::new(
    "UPDATE refresh_tokens SET sealed_successor = NULL WHERE hash IN
     (SELECT hash FROM refresh_tokens
      WHERE sealed_successor IS NOT NULL AND rotated_at < $1 LIMIT $2)",
);
pub(crate) static PURGE_ACCESS_TOKENS: Statement = Statement::new(
    "DELETE FROM access_tokens WHERE jti IN
     (SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
);
/// A redeemed code is kept while its grant has access tokens: it is how deleting a user finds a
/// grant that has no refresh token.
pub(crate) static PURGE_CODES: Statement = Statement::new(
    "DELETE FROM codes WHERE hash IN
     (SELECT c.hash FROM codes c WHERE c.expires_at <= $1
        AND (c.redeemed_into IS NULL OR NOT EXISTS
             (SELECT 1 FROM access_tokens a WHERE a.family = c.redeemed_into))
      LIMIT $2)",
);
pub(crate) static PURGE_REVOKED_JTIS: Statement = Statement::new(
    "DELETE FROM revoked_jtis WHERE jti IN
     (SELECT jti FROM revoked_jtis WHERE expires_at <= $1 LIMIT $2)",
);
pub(crate) static PURGE_USED_ASSERTIONS: Statement = Statement::new(
    "DELETE FROM used_assertions WHERE (issuer, jti) IN
     (SELECT issuer, jti FROM used_assertions WHERE expires_at <= $1 LIMIT $2)",
);
pub(crate) static PURGE_SESSIONS: Statement = Statement::new(
    "DELETE FROM sessions WHERE hash IN
     (SELECT hash FROM sessions WHERE expires_at <= $1 LIMIT $2)",
);
pub(crate) static PURGE_AUDIT: Statement = Statement::new(
    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
);
/// A key whose arrival time has passed has its whole budget back: the row says nothing.
pub(crate) static PURGE_RATE_LIMITS: Statement = Statement::new(
    "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE tat <= $1 LIMIT $2)",
);

/// Every shared statement, for the test that prepares each on both databases.
#[cfg(test)]
pub(crate) static ALL: &[&Statement] = &[
    &INSERT_CLIENT,
    &CLIENT,
    &CLIENTS,
    &DECLARE_CLIENT,
    &DECLARED_CLIENTS,
    &REPLACE_CLIENT,
    &DELETE_CODES_OF_CLIENT,
    &FAMILIES_OF_CLIENT,
    &DELETE_CONSENTS_OF_CLIENT,
    &DELETE_CLIENT,
    &INSERT_CODE,
    &CODE,
    &TAKE_CODE,
    &CODE_REDEEMED_INTO,
    &INSERT_FAMILY,
    &FAMILY_REVOKED,
    &REVOKE_FAMILY,
    &FAMILY_JTIS,
    &REVOKED_JTIS,
    &INSERT_REFRESH,
    &REFRESH,
    &ROTATE_REFRESH,
    &FORGET_OLDER_SUCCESSORS,
    &INSERT_ACCESS_TOKEN,
    &IS_ACCESS_TOKEN_REVOKED,
    &GRANTS_OF,
    &INSERT_USER,
    &USER,
    &USERS,
    &SET_PASSWORD,
    &DELETE_CODES_OF_SUBJECT,
    &FAMILIES_OF_SUBJECT,
    &DELETE_SESSIONS_OF_SUBJECT,
    &DELETE_CONSENTS_OF_SUBJECT,
    &DELETE_USER,
    &SIGN_IN_FAILURES,
    &RECORD_SIGN_IN_FAILURE,
    &CLEAR_SIGN_IN_FAILURES,
    &INSERT_SESSION,
    &SESSION,
    &DELETE_SESSION,
    &GRANT_CONSENT,
    &CONSENT,
    &CONSENTS_OF,
    &WITHDRAW_CONSENT,
    &INSERT_SIGNING_KEY,
    &SIGNING_KEYS,
    &RETIRE_SIGNING_KEY,
    &DELETE_SIGNING_KEY,
    &APPEND_AUDIT,
    &AUDIT_EVENTS,
    &PURGE_REFRESH_TOKENS,
    &PURGE_SEALED_SUCCESSORS,
    &PURGE_ACCESS_TOKENS,
    &PURGE_CODES,
    &PURGE_REVOKED_JTIS,
    &PURGE_USED_ASSERTIONS,
    &USE_ASSERTION,
    &ACCESS_TOKEN_FAMILY,
    &PURGE_SESSIONS,
    &PURGE_AUDIT,
    &SEARCH_AUDIT,
    &SPEND_RATE,
    &RATE_TAT,
    &PURGE_RATE_LIMITS,
    &PUT_IDENTITY,
    &IDENTITY,
    &GROUPS_OF,
    &REPLACE_IDENTITY_TOKENS,
    &CLAIM_IDENTITY_REFRESH,
];
