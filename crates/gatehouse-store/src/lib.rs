//! Durable storage for Gatehouse: the engine's [`Store`](gatehouse_engine::Store) contract, plus
//! what the server around it persists ([`ServerStore`]: users, consents, signing keys, audit
//! events, client management), behind three backends:
//!
//! - [`MemoryBackend`]: nothing survives the process; for tests and `database = "memory"`.
//! - [`SqliteStore`]: the embedded default, one file in WAL mode with the SQLite library bundled.
//! - [`PostgresStore`]: several `gatehouse` instances sharing one database.
//!
//! [`open`] picks one from the `database` configuration value ([`DatabaseUrl`]). Every backend
//! runs the same behaviour suite (`tests/behaviour.rs`); `docs/storage.md` says which statements
//! and isolation levels give each atomicity guarantee.
//!
//! Secrets never reach the database in plain text: codes, refresh tokens, client secrets and
//! registration access tokens arrive here already hashed (`gatehouse_engine::opaque`), passwords
//! are argon2id hashes ([`password`]), and signing keys are sealed with a key the database never
//! sees ([`sealing`]).

mod any;
mod codec;
mod deny_list;
mod memory;
pub mod password;
pub mod postgres;
pub mod sealing;
mod server;
mod sql;
pub mod sqlite;
mod url;

pub use any::{AnyStore, OpenError, open};
pub use deny_list::{DenyList, RevocationCheck};
pub use memory::MemoryBackend;
pub use postgres::PostgresStore;
pub use server::{
    AuditDetail, AuditEvent, AuditQuery, Consent, Grant, IdentityRecord, ServerStore,
    SessionRecord, SignInFailures, StoredSigningKey, UserRecord, is_access_token_revoked_cached,
};
pub use sqlite::SqliteStore;
pub use url::{DatabaseUrl, DatabaseUrlError};

/// The schema version this build writes. Migrations bring any older database up to it at start.
pub const SCHEMA_VERSION: u32 = 9;
