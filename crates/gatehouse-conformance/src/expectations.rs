//! The expectations file: checks known to fail or to be skipped against a given server, each
//! with a reason (like rustls' BoGo `config.json`). Every other check is expected to pass. A run
//! fails when any outcome differs from its expectation, an unexpected pass included, so the file
//! cannot silently go stale.
//!
//! ```toml
//! [[expect]]
//! id = "rfc7662-2.1-client-authentication-required"
//! outcome = "fail"
//! reason = "issue 42: the endpoint answers 400 instead of 401"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// What a check is expected to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExpectedOutcome {
    /// The default for every check not named in the file (not accepted in the file).
    #[serde(skip)]
    Pass,
    /// The server is known not to conform.
    Fail,
    /// The check is known not to apply (the server lacks the feature).
    Skip,
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
        })
    }
}

/// Why the expectations file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpectationsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid expectations file: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// An entry names a check this checker does not have.
    #[error("{path}: unknown check id `{id}`")]
    UnknownId {
        /// The file.
        path: String,
        /// The id.
        id: String,
    },
    /// Two entries name the same check.
    #[error("{path}: check `{id}` is listed twice")]
    Duplicate {
        /// The file.
        path: String,
        /// The id.
        id: String,
    },
    /// An entry has an empty reason.
    #[error("{path}: check `{id}` needs a reason")]
    NoReason {
        /// The file.
        path: String,
        /// The id.
        id: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expect: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    outcome: ExpectedOutcome,
    reason: String,
}

/// The expected outcome of every check: pass, unless the file says otherwise.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    entries: BTreeMap<String, (ExpectedOutcome, String)>,
}

impl Expectations {
    /// Reads `path`; every id must be one of `known`.
    pub(crate) fn load(path: &Path, known: &[&str]) -> Result<Self, ExpectationsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ExpectationsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown, known)
    }

    fn parse(text: &str, path: &str, known: &[&str]) -> Result<Self, ExpectationsError> {
        let file: File = toml::from_str(text).map_err(|e| ExpectationsError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut entries = BTreeMap::new();
        for entry in file.expect {
            if !known.contains(&entry.id.as_str()) {
                return Err(ExpectationsError::UnknownId {
                    path: path.to_owned(),
                    id: entry.id,
                });
            }
            if entry.reason.trim().is_empty() {
                return Err(ExpectationsError::NoReason {
                    path: path.to_owned(),
                    id: entry.id,
                });
            }
            if entries.contains_key(&entry.id) {
                return Err(ExpectationsError::Duplicate {
                    path: path.to_owned(),
                    id: entry.id,
                });
            }
            entries.insert(entry.id, (entry.outcome, entry.reason));
        }
        Ok(Self { entries })
    }

    /// The expected outcome of check `id`.
    pub(crate) fn expected(&self, id: &str) -> ExpectedOutcome {
        self.entries
            .get(id)
            .map_or(ExpectedOutcome::Pass, |(outcome, _)| *outcome)
    }

    /// The reason given for `id`, if the file names it.
    pub(crate) fn reason(&self, id: &str) -> Option<&str> {
        self.entries.get(id).map(|(_, reason)| reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read() {
        let e = Expectations::parse(
            "[[expect]]\nid = \"a\"\noutcome = \"fail\"\nreason = \"r\"\n",
            "f",
            &["a", "b"],
        )
        .unwrap();
        assert_eq!(e.expected("a"), ExpectedOutcome::Fail);
        assert_eq!(e.expected("b"), ExpectedOutcome::Pass);
    }

    #[test]
    fn unknown_ids_are_an_error() {
        let e = Expectations::parse(
            "[[expect]]\nid = \"zz\"\noutcome = \"skip\"\nreason = \"r\"\n",
            "f",
            &["a"],
        );
        assert!(matches!(e, Err(ExpectationsError::UnknownId { .. })));
    }

    #[test]
    fn pass_is_not_an_expectation_and_reasons_are_required() {
        let pass = "[[expect]]\nid = \"a\"\noutcome = \"pass\"\nreason = \"r\"\n";
        assert!(Expectations::parse(pass, "f", &["a"]).is_err());
        let empty = "[[expect]]\nid = \"a\"\noutcome = \"fail\"\nreason = \" \"\n";
        assert!(Expectations::parse(empty, "f", &["a"]).is_err());
        assert!(Expectations::parse("", "f", &["a"]).is_ok());
    }
}
