//! A statement written once, in PostgreSQL's dialect, and its SQLite spelling derived from it.
//!
//! The two dialects we use differ in one mechanical way for the statements the backends share:
//! PostgreSQL numbers parameters `$1`, SQLite `?1` (which it also accepts, and which keeps the
//! number, so a parameter used twice stays one). Everything else in a shared statement is SQL
//! both accept: `TRUE`/`FALSE` (SQLite ≥ 3.23), `RETURNING` (≥ 3.35), `ON CONFLICT … DO UPDATE`
//! with `excluded`, `COALESCE`. What one database cannot say (row locks, `NOTIFY`, `GREATEST`,
//! casts) stays in that backend's module. `tests` in `sql/mod.rs` prepares every statement on
//! both databases at the newest schema, so a statement one of them refuses fails the build's
//! tests, not a user's request.

use std::sync::OnceLock;

/// One SQL statement, with the spelling for each backend.
#[derive(Debug)]
pub(crate) struct Statement {
    postgres: &'static str,
    sqlite: OnceLock<String>,
}

impl Statement {
    /// A statement in PostgreSQL's spelling (`$1`, `$2`, …).
    pub(crate) const fn new(postgres: &'static str) -> Self {
        Self {
            postgres,
            sqlite: OnceLock::new(),
        }
    }

    /// A statement with a SQLite spelling of its own: one that says more than PostgreSQL's with
    /// its parameters renumbered, where SQLite has a clause for what PostgreSQL does anyway
    /// (`INSERT OR FAIL`). `sqlite` numbers its parameters `?N`.
    pub(crate) fn with_sqlite(postgres: &'static str, sqlite: String) -> Self {
        Self {
            postgres,
            sqlite: OnceLock::from(sqlite),
        }
    }

    /// The PostgreSQL text, as written.
    pub(crate) fn postgres(&self) -> &'static str {
        self.postgres
    }

    /// The SQLite text: the parameters renumbered `?N`, derived once.
    pub(crate) fn sqlite(&self) -> &str {
        self.sqlite.get_or_init(|| to_sqlite(self.postgres))
    }
}

/// `$N` → `?N` outside quoted strings and identifiers; nothing else changes.
pub(crate) fn to_sqlite(postgres: &str) -> String {
    let mut out = String::with_capacity(postgres.len());
    let mut quote: Option<char> = None;
    let mut chars = postgres.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(open) => {
                if c == open {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => out.push('?'),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_and_keep_their_number() {
        assert_eq!(
            to_sqlite("SELECT a FROM t WHERE x = $1 AND (y = $2 OR z = $1) LIMIT $10"),
            "SELECT a FROM t WHERE x = ?1 AND (y = ?2 OR z = ?1) LIMIT ?10"
        );
    }

    #[test]
    fn quoted_text_is_left_alone() {
        assert_eq!(
            to_sqlite(r#"SELECT '$1', "$2" FROM t WHERE a = $3 AND b = 'it''s $4'"#),
            r#"SELECT '$1', "$2" FROM t WHERE a = ?3 AND b = 'it''s $4'"#
        );
    }

    #[test]
    fn a_dollar_that_is_not_a_parameter_is_left_alone() {
        assert_eq!(to_sqlite("SELECT $a, $ FROM t"), "SELECT $a, $ FROM t");
    }

    #[test]
    fn the_sqlite_spelling_is_derived_once() {
        let statement = Statement::new("DELETE FROM t WHERE id = $1");
        assert_eq!(statement.sqlite(), "DELETE FROM t WHERE id = ?1");
        assert!(std::ptr::eq(statement.sqlite(), statement.sqlite()));
        assert_eq!(statement.postgres(), "DELETE FROM t WHERE id = $1");
    }
}
