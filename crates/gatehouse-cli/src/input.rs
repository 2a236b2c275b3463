//! Reading what the user hands over: tokens (argument or `-` for standard input), files, and
//! the clock.

use std::io::Read as _;
use std::path::Path;

use crate::error::CliError;

/// Most bytes read from a file or standard input. Tokens are capped far lower by the JOSE
/// library; key sets are a few kilobytes. This only stops a mistaken path (a disk image, `/dev/zero`)
/// from being read whole.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// The token given as an argument, or read from standard input when the argument is `-`.
/// Surrounding whitespace (the newline of `echo`, a pasted line) is removed.
pub(crate) fn token(argument: &str) -> Result<String, CliError> {
    let text = if argument == "-" {
        let bytes = read_limited(std::io::stdin().lock(), "standard input")?;
        String::from_utf8(bytes)
            .map_err(|_| CliError::Usage("standard input is not UTF-8 text".to_owned()))?
    } else {
        argument.to_owned()
    };
    let token = text.trim();
    if token.is_empty() {
        let source = if argument == "-" {
            "standard input was empty"
        } else {
            "the TOKEN argument is empty"
        };
        return Err(CliError::Usage(format!("no token given: {source}")));
    }
    Ok(token.to_owned())
}

/// The bytes of a file, or of standard input when `path` is `-`. `what` names the file in
/// messages ("key file").
pub(crate) fn file(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        return read_limited(std::io::stdin().lock(), "standard input");
    }
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("cannot read {what} {}: {e}", path.display())))?;
    read_limited(file, &format!("{what} {}", path.display()))
}

fn read_limited(reader: impl std::io::Read, name: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Usage(format!("cannot read {name}: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(CliError::Usage(format!(
            "{name} is larger than {MAX_INPUT_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Seconds since the Unix epoch: `given` if the user passed `--now`, else the system clock.
pub(crate) fn now(given: Option<u64>) -> Result<u64, CliError> {
    Ok(given.unwrap_or_else(|| gatehouse_axum::now().as_secs()))
}
