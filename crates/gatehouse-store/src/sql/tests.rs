//! Every statement runs on both databases, and the two schemas stay in step: checked against a
//! SQLite file and, when `GATEHOUSE_TEST_POSTGRES` names one, a PostgreSQL database, both at the
//! newest schema version.

use std::collections::BTreeMap;

use super::Statement;
use super::statements::ALL;

/// A fresh SQLite database at the newest schema.
fn sqlite() -> (rusqlite::Connection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statements.db");
    crate::sqlite::migrate_to(&path, crate::SCHEMA_VERSION).unwrap();
    (rusqlite::Connection::open(&path).unwrap(), dir)
}

/// The PostgreSQL database under test, with a fresh schema at the newest version first on the
/// search path; `None` when `GATEHOUSE_TEST_POSTGRES` is unset.
async fn postgres() -> Option<(tokio_postgres::Client, String, String)> {
    let base = std::env::var("GATEHOUSE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("gatehouse_statements_{}_{nanos}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("GATEHOUSE_TEST_POSTGRES is set but does not answer: {e}"));
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    crate::postgres::migrate_to(&url, crate::SCHEMA_VERSION)
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    Some((client, schema, base))
}

async fn drop_schema(base: &str, schema: &str) {
    let (admin, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[test]
fn every_shared_statement_and_every_sqlite_one_prepares_on_sqlite() {
    let (conn, _dir) = sqlite();
    let own: &[&Statement] = crate::sqlite::OWN;
    let built: Vec<&Statement> = super::statements::APPEND_AUDIT_ROWS.iter().collect();
    for statement in ALL.iter().chain(own).chain(&built) {
        if let Err(error) = conn.prepare(statement.sqlite()) {
            panic!("{}\n  refused by SQLite: {error}", statement.sqlite());
        }
    }
}

#[tokio::test]
async fn every_shared_statement_and_every_postgres_one_prepares_on_postgres() {
    let Some((client, schema, base)) = postgres().await else {
        return;
    };
    let own: &[&Statement] = crate::postgres::OWN;
    let built: Vec<&Statement> = super::statements::APPEND_AUDIT_ROWS.iter().collect();
    let mut refused = Vec::new();
    for statement in ALL.iter().chain(own).chain(&built) {
        if let Err(error) = client.prepare(statement.postgres()).await {
            refused.push(format!(
                "{}\n  refused by PostgreSQL: {error}",
                statement.postgres()
            ));
        }
    }
    drop_schema(&base, &schema).await;
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

/// A column as both schemas must agree on it: its name, its kind, whether it may be null, and
/// whether it is (part of) the primary key.
type Columns = BTreeMap<String, Vec<(String, &'static str, bool, bool)>>;

fn kind_of_sqlite(declared: &str) -> &'static str {
    match declared {
        "INTEGER" => "integer",
        "TEXT" => "text",
        "BLOB" => "bytes",
        _ => "unknown",
    }
}

/// PostgreSQL's booleans are SQLite's integers (0 and 1), as `Row::boolean` reads them.
fn kind_of_postgres(declared: &str) -> &'static str {
    match declared {
        "bigint" | "integer" | "boolean" => "integer",
        "text" => "text",
        "bytea" => "bytes",
        _ => "unknown",
    }
}

#[tokio::test]
async fn the_two_schemas_have_the_same_tables_and_columns() {
    let Some((client, schema, base)) = postgres().await else {
        return;
    };
    let (conn, _dir) = sqlite();
    let mut sqlite_columns = Columns::new();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for table in tables {
        let mut statement = conn
            .prepare(&format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap();
        let columns = statement
            .query_map([], |row| {
                let name: String = row.get(0)?;
                let declared: String = row.get(1)?;
                let not_null: bool = row.get(2)?;
                let primary: i64 = row.get(3)?;
                Ok((
                    name,
                    kind_of_sqlite(&declared),
                    not_null || primary > 0,
                    primary > 0,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        sqlite_columns.insert(table, columns);
    }

    let mut postgres_columns = Columns::new();
    let rows = client
        .query(
            "SELECT c.table_name::TEXT, c.column_name::TEXT, c.data_type::TEXT,
                    c.is_nullable = 'NO',
                    EXISTS (SELECT 1 FROM information_schema.key_column_usage k
                            JOIN information_schema.table_constraints t
                              ON t.constraint_name = k.constraint_name
                             AND t.table_schema = k.table_schema
                            WHERE t.constraint_type = 'PRIMARY KEY'
                              AND k.table_schema = c.table_schema
                              AND k.table_name = c.table_name
                              AND k.column_name = c.column_name)
             FROM information_schema.columns c
             WHERE c.table_schema = $1
             ORDER BY c.table_name, c.ordinal_position",
            &[&schema],
        )
        .await
        .unwrap();
    for row in rows {
        let table: String = row.get(0);
        let declared: String = row.get(2);
        postgres_columns.entry(table).or_default().push((
            row.get(1),
            kind_of_postgres(&declared),
            row.get(3),
            row.get(4),
        ));
    }
    drop_schema(&base, &schema).await;

    // What only one backend has, by design: SQLite's revocation feed (PostgreSQL has NOTIFY),
    // and each database's own migration bookkeeping (PostgreSQL stamps a `TIMESTAMPTZ`).
    sqlite_columns.remove("revocation_feed");
    for columns in [&mut sqlite_columns, &mut postgres_columns] {
        columns.remove("gatehouse_schema_migrations");
    }
    assert_eq!(
        sqlite_columns, postgres_columns,
        "the SQLite and PostgreSQL schemas drifted apart: a migration was added to one only"
    );
}
