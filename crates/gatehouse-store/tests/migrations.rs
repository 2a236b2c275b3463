//! Schema migrations: from an empty database, from the previous schema version with data in it,
//! concurrently from two instances, and refusal of a database newer than the build.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use gatehouse_engine::Store;
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::TakeCode;
use gatehouse_store::{SCHEMA_VERSION, ServerStore, UserRecord, postgres, sqlite};
use gatehouse_types::ClientId;
use support::*;

/// A client and a code as schema version 1 wrote them.
const V1_CLIENT_METADATA: &str = r#"{"redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"Written by v1"}"#;

fn v1_code_hash() -> CredentialHash {
    CredentialHash::of("gthc_written_by_schema_version_1")
}

/// After the upgrade, what v1 wrote reads back and works, and what v2 added works.
async fn assert_upgraded<S: ServerStore>(store: &S) {
    let client = store
        .client(&ClientId::new("v1-client").unwrap())
        .await
        .unwrap()
        .expect("the v1 client survived the upgrade");
    assert_eq!(client.metadata.client_name(), Some("Written by v1"));
    let code_hash = v1_code_hash();
    assert_eq!(
        store
            .code(&code_hash)
            .await
            .unwrap()
            .unwrap()
            .record
            .subject,
        "alice"
    );
    let f = family("after-upgrade");
    assert!(matches!(
        store
            .redeem_code(&code_hash, &f, access("v2-jti", &f, "v1-client"), None)
            .await
            .unwrap(),
        TakeCode::Taken(_)
    ));
    store
        .add_user(UserRecord {
            name: "bob".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert!(store.user("bob").await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_from_empty_to_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    let store = gatehouse_store::SqliteStore::open(&path).await.unwrap();
    assert_eq!(sqlite::schema_version(&path).unwrap(), SCHEMA_VERSION);
    assert!(store.signing_keys().await.unwrap().is_empty());
    drop(store);
    // Opening again applies nothing twice.
    gatehouse_store::SqliteStore::open(&path).await.unwrap();
    assert_eq!(sqlite::schema_version(&path).unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn sqlite_from_the_previous_version_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    sqlite::migrate_to(&path, 1).unwrap();
    assert_eq!(sqlite::schema_version(&path).unwrap(), 1);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO clients (client_id, metadata, issued_at) VALUES ('v1-client', ?1, 1700000000)",
            [V1_CLIENT_METADATA],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO codes (hash, client_id, redirect_uri, redirect_uri_explicit, challenge,
                                scopes, resources, subject, issued_at, expires_at)
             VALUES (?1, 'v1-client', 'http://127.0.0.1:33418/callback', 1, ?2,
                     'mcp:tools', ?3, 'alice', 1800000000, 1800000600)",
            rusqlite::params![
                v1_code_hash().as_bytes().as_slice(),
                CHALLENGE,
                format!("[\"{RESOURCE}\"]")
            ],
        )
        .unwrap();
    }
    let store = gatehouse_store::SqliteStore::open(&path).await.unwrap();
    assert_eq!(sqlite::schema_version(&path).unwrap(), SCHEMA_VERSION);
    assert_upgraded(&store).await;
}

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(gatehouse_store::SqliteStore::open(&path).await.unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO gatehouse_schema_migrations VALUES (?1, 'from the future', 0)",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    let error = gatehouse_store::SqliteStore::open(&path).await.unwrap_err();
    assert!(error.to_string().contains("upgrade gatehouse"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_from_empty_by_two_instances_at_once() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let url = schema.url();
    let (a, b) = tokio::join!(
        gatehouse_store::PostgresStore::open(&url),
        gatehouse_store::PostgresStore::open(&url)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        postgres::schema_version(&url).await.unwrap(),
        SCHEMA_VERSION
    );
    let raw = schema.raw().await;
    let applied: i64 = raw
        .query_one("SELECT COUNT(*) FROM gatehouse_schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        applied,
        i64::from(SCHEMA_VERSION),
        "each migration applied once"
    );
    a.insert_client(client("from-a")).await.unwrap();
    assert!(
        b.client(&ClientId::new("from-a").unwrap())
            .await
            .unwrap()
            .is_some()
    );
    drop((a, b, raw));
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_from_the_previous_version_with_data() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("{POSTGRES_ENV} unset: PostgreSQL skipped");
        return;
    };
    let url = schema.url();
    postgres::migrate_to(&url, 1).await.unwrap();
    assert_eq!(postgres::schema_version(&url).await.unwrap(), 1);
    let raw = schema.raw().await;
    raw.execute(
        "INSERT INTO clients (client_id, metadata, issued_at) VALUES ('v1-client', $1, 1700000000)",
        &[&V1_CLIENT_METADATA],
    )
    .await
    .unwrap();
    raw.execute(
        "INSERT INTO codes (hash, client_id, redirect_uri, redirect_uri_explicit, challenge,
                            scopes, resources, subject, issued_at, expires_at)
         VALUES ($1, 'v1-client', 'http://127.0.0.1:33418/callback', TRUE, $2,
                 'mcp:tools', $3, 'alice', 1800000000, 1800000600)",
        &[
            &v1_code_hash().as_bytes().as_slice(),
            &CHALLENGE,
            &format!("[\"{RESOURCE}\"]"),
        ],
    )
    .await
    .unwrap();
    let store = gatehouse_store::PostgresStore::open(&url).await.unwrap();
    assert_eq!(
        postgres::schema_version(&url).await.unwrap(),
        SCHEMA_VERSION
    );
    assert_upgraded(&store).await;
    drop((store, raw));
    schema.drop_schema().await;
}
