//! The engine is sans-IO (decision 0014): it must not depend, even transitively, on a runtime, an
//! HTTP client or a socket library. `cargo tree` over its normal dependencies proves it; clippy's
//! `disallowed-methods` in `crates/gatehouse-engine/clippy.toml` keeps clocks and sockets out of
//! its own code.

use std::path::Path;

use crate::cargo;

/// Crates that would mean the engine does IO or brings a runtime along.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "mio",
    "socket2",
    "reqwest",
    "hyper",
    "ureq",
    "axum",
    "sqlx",
    "rusqlite",
    "tokio-postgres",
    "postgres",
];

/// Fails when a crate in [`FORBIDDEN`] is among the engine's normal dependencies.
pub(crate) fn check(root: &Path) -> Result<(), String> {
    let output = cargo(
        root,
        &[
            "tree",
            "--package",
            "gatehouse-engine",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ],
    )
    .output()
    .map_err(|e| format!("cargo tree: could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let found = forbidden_in(&String::from_utf8_lossy(&output.stdout));
    if found.is_empty() {
        println!("xtask ci: gatehouse-engine depends on no runtime, HTTP client or socket crate");
        Ok(())
    } else {
        Err(format!(
            "gatehouse-engine must stay sans-IO, but depends on: {}",
            found.join(", ")
        ))
    }
}

/// The forbidden crate names among `cargo tree --prefix none --format {p}` lines
/// (`name vX.Y.Z (path)`), each once.
fn forbidden_in(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| FORBIDDEN.contains(name))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::forbidden_in;

    #[test]
    fn a_runtime_anywhere_in_the_tree_is_found() {
        let tree = "gatehouse-engine v0.1.0 (/w/crates/gatehouse-engine)\n\
                    serde v1.0.228\n\
                    tokio v1.48.0\n\
                    tokio-macros v2.6.0 (proc-macro)\n\
                    tokio v1.48.0 (*)\n\
                    hyper-util v0.1.17\n";
        assert_eq!(forbidden_in(tree), vec!["tokio".to_owned()]);
    }

    #[test]
    fn a_clean_tree_passes() {
        let tree = "gatehouse-engine v0.1.0 (/w)\nserde v1.0.228\nsha2 v0.10.9\n";
        assert!(forbidden_in(tree).is_empty());
    }
}
