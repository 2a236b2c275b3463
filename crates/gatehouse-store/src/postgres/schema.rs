//! The PostgreSQL schema, as numbered migrations, in step with `sqlite/schema.rs`. A migration,
//! once released, never changes: a new need is a new migration in both.

/// `(version, name, statements)`, in order.
pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "engine contract: clients, codes, refresh families, access tokens, revocations",
        "
        CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            metadata TEXT NOT NULL,
            secret_hash BYTEA,
            secret_expires_at BIGINT,
            registration_token_hash BYTEA,
            issued_at BIGINT NOT NULL,
            introspection_resources TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE families (
            id TEXT PRIMARY KEY,
            revoked BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE TABLE codes (
            hash BYTEA PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            redirect_uri_explicit BOOLEAN NOT NULL,
            challenge TEXT NOT NULL,
            scopes TEXT NOT NULL,
            resources TEXT NOT NULL,
            subject TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            redeemed_into TEXT
        );
        CREATE INDEX codes_expires_at ON codes (expires_at);
        CREATE INDEX codes_client_id ON codes (client_id);
        CREATE INDEX codes_redeemed_into ON codes (redeemed_into);
        CREATE TABLE refresh_tokens (
            hash BYTEA PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            scopes TEXT NOT NULL,
            resources TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            successor BYTEA,
            sealed_successor BYTEA,
            rotated_at BIGINT
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
        CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);
        CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject);
        CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
        CREATE TABLE access_tokens (
            jti TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX access_tokens_family ON access_tokens (family);
        CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
        CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
        CREATE TABLE revoked_jtis (
            jti TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL
        );
        ",
    ),
    (
        2,
        "server state: users, consents, signing keys, audit events",
        "
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE consents (
            subject TEXT NOT NULL,
            client_id TEXT NOT NULL,
            resource TEXT NOT NULL,
            scopes TEXT NOT NULL,
            granted_at BIGINT NOT NULL,
            PRIMARY KEY (subject, client_id, resource)
        );
        CREATE INDEX consents_client_id ON consents (client_id);
        CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            alg TEXT NOT NULL,
            sealed_private_jwk BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            retired_at BIGINT
        );
        CREATE TABLE audit_events (
            id BIGSERIAL PRIMARY KEY,
            at BIGINT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT,
            client_id TEXT,
            detail TEXT NOT NULL
        );
        ",
    ),
    (
        3,
        "sessions, sign-in failures, audit retention",
        "
        CREATE TABLE sessions (
            hash BYTEA PRIMARY KEY,
            subject TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX sessions_subject ON sessions (subject);
        CREATE INDEX sessions_expires_at ON sessions (expires_at);
        ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN last_failed_sign_in BIGINT;
        CREATE INDEX audit_events_at ON audit_events (at);
        CREATE INDEX codes_subject ON codes (subject);
        ",
    ),
    (
        4,
        "declared clients",
        "
        ALTER TABLE clients ADD COLUMN declared BOOLEAN NOT NULL DEFAULT FALSE;
        ",
    ),
    (
        5,
        "used assertions",
        "
        CREATE TABLE used_assertions (
            issuer TEXT NOT NULL,
            jti TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (issuer, jti)
        );
        CREATE INDEX used_assertions_expires_at ON used_assertions (expires_at);
        ",
    ),
    (
        6,
        "sealed successors by family",
        "
        CREATE INDEX refresh_tokens_sealed ON refresh_tokens (family)
            WHERE sealed_successor IS NOT NULL;
        ",
    ),
    (
        7,
        "DPoP key bindings of codes and refresh tokens (RFC 9449 sections 5 and 10)",
        "
        ALTER TABLE codes ADD COLUMN dpop_jkt TEXT;
        ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
        ",
    ),
    (
        8,
        "shared rate limits; the resource and tool of audited MCP calls",
        "
        CREATE TABLE rate_limits (
            key BYTEA PRIMARY KEY,
            tat BIGINT NOT NULL
        );
        CREATE INDEX rate_limits_tat ON rate_limits (tat);
        ALTER TABLE audit_events ADD COLUMN resource TEXT;
        ALTER TABLE audit_events ADD COLUMN tool TEXT;
        ",
    ),
    (
        9,
        "people signed in through identity providers: their groups and sealed upstream tokens",
        "
        CREATE TABLE identities (
            subject TEXT PRIMARY KEY,
            groups TEXT NOT NULL,
            tokens BYTEA,
            version BIGINT NOT NULL,
            refreshing_until BIGINT,
            updated_at BIGINT NOT NULL
        );
        ",
    ),
];
