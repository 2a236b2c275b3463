//! Failures of a command and the exit status each one maps to: the only place that decides exit
//! codes and how a failure is printed.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command ran and the answer is "no": the token is invalid (`jws verify`) or cannot be decoded (`token decode`); the upstreams' tools drifted from `tool_scopes` (`resources check`) |
//! | 2 | the command could not do its job: bad flags (clap's own errors), unreadable or malformed input files, a file that would be overwritten, I/O errors |
//!
//! Keeping 1 for "invalid" alone lets a script tell a bad token from a broken invocation.

use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The token (or other input being judged) was examined and refused. Exit status 1. The
    /// message is the complete first line (`invalid: …`); hints follow on lines of their own.
    Invalid {
        /// The one-line reason.
        message: String,
        /// Further lines that help an operator find the cause.
        hints: Vec<String>,
    },
    /// The command was used wrongly or its inputs (key files, output files) are unusable.
    /// Exit status 2.
    Usage(String),
    /// Reading or writing failed. Exit status 2.
    Io(String),
}

impl CliError {
    /// The process exit status for this failure.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Invalid { .. } => ExitCode::from(1),
            Self::Usage(_) | Self::Io(_) => ExitCode::from(2),
        }
    }

    /// Prints the failure to standard error.
    fn print(&self) {
        match self {
            Self::Invalid { message, hints } => {
                eprintln!("{message}");
                for hint in hints {
                    eprintln!("hint: {hint}");
                }
            }
            Self::Usage(message) | Self::Io(message) => eprintln!("error: {message}"),
        }
    }
}

/// Turns a command's result into the process exit status, printing the failure if there is one.
pub(crate) fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.print();
            error.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_is_one_and_everything_else_is_two() {
        let invalid = CliError::Invalid {
            message: "invalid: x".into(),
            hints: Vec::new(),
        };
        assert_eq!(invalid.exit_code(), ExitCode::from(1));
        assert_eq!(CliError::Usage("x".into()).exit_code(), ExitCode::from(2));
        assert_eq!(CliError::Io("x".into()).exit_code(), ExitCode::from(2));
    }
}
