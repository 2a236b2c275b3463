//! `gatehouse config check --config F`: everything `serve` would refuse at start, without
//! starting (no database opened, no port bound, nothing fetched).

use std::path::PathBuf;

use crate::error::CliError;
use crate::serve::load_config;

/// Arguments of `gatehouse config check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "gatehouse.toml")]
    config: PathBuf,
}

/// Exit 0 when `serve` would accept the file; exit 2 naming the key and the reason otherwise.
pub(crate) fn check(args: &CheckArgs) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    gatehouse_axum::check_config(&config)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.config.display())))?;
    println!(
        "{}: valid (issuer {}, {} resource(s))",
        args.config.display(),
        config.issuer,
        config.resources.len()
    );
    Ok(())
}
