//! The `database` configuration value.

use std::fmt;
use std::path::PathBuf;

/// Where the server keeps its state: the parsed `database` configuration value.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// `memory`: nothing survives the process.
    Memory,
    /// `sqlite://relative.db` (relative to the working directory) or `sqlite:///abs/path.db`.
    Sqlite(PathBuf),
    /// `postgres://user@host:port/db` (or `postgresql://`), passed to the driver as written.
    Postgres(String),
}

/// Why a `database` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// Not one of the three forms.
    #[error(
        "`database` must be `memory`, `sqlite://relative.db`, `sqlite:///absolute/path.db` or `postgres://user@host:port/db`"
    )]
    UnknownScheme,
    /// `sqlite://` with no path.
    #[error("`database = \"sqlite://…\"` needs a file path, e.g. `sqlite://gatehouse.db`")]
    EmptySqlitePath,
    /// A query string or fragment after a SQLite path, which would silently become part of the
    /// file name.
    #[error("a SQLite path takes no `?` or `#` part")]
    SqliteOptions,
}

impl DatabaseUrl {
    /// Parses a `database` value.
    pub fn parse(value: &str) -> Result<Self, DatabaseUrlError> {
        if value == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(path) = value.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::EmptySqlitePath);
            }
            if path.contains(['?', '#']) {
                return Err(DatabaseUrlError::SqliteOptions);
            }
            // `sqlite:///abs` leaves `/abs`; `sqlite://rel` leaves `rel`.
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(Self::Postgres(value.to_owned()));
        }
        Err(DatabaseUrlError::UnknownScheme)
    }
}

impl fmt::Debug for DatabaseUrl {
    /// Never prints a PostgreSQL password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => write!(f, "{}", redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_of_the_configuration_contract() {
        assert_eq!(DatabaseUrl::parse("memory"), Ok(DatabaseUrl::Memory));
        assert_eq!(
            DatabaseUrl::parse("sqlite://gatehouse.db"),
            Ok(DatabaseUrl::Sqlite("gatehouse.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/gatehouse/state.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/gatehouse/state.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://gatehouse@127.0.0.1:5432/test"),
            Ok(DatabaseUrl::Postgres(
                "postgres://gatehouse@127.0.0.1:5432/test".into()
            ))
        );
    }

    #[test]
    fn refuses_what_would_be_misread() {
        for bad in [
            "",
            "sqlite:",
            "sqlite:/x.db",
            "mysql://x",
            "Memory",
            "file:x.db",
        ] {
            assert_eq!(
                DatabaseUrl::parse(bad),
                Err(DatabaseUrlError::UnknownScheme),
                "{bad}"
            );
        }
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db?mode=ro"),
            Err(DatabaseUrlError::SqliteOptions)
        );
    }

    #[test]
    fn debug_hides_the_postgres_password() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db:5432/auth").unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "postgres://app:***@db:5432/auth");
    }
}
