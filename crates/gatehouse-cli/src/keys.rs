//! `gatehouse keys`: generate a signing key, derive the public key to publish.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use gatehouse_jose::{Algorithm, PublicJwks, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::keyfile::{KeyFile, RsaAlg};
use crate::output;

/// Signature algorithm of a key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgArg {
    /// ECDSA P-256 with SHA-256 (the default).
    #[value(name = "ES256")]
    Es256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit key.
    #[value(name = "RS256")]
    Rs256,
    /// RSASSA-PSS with SHA-256, 2048-bit key.
    #[value(name = "PS256")]
    Ps256,
}

impl From<AlgArg> for Algorithm {
    fn from(alg: AlgArg) -> Self {
        match alg {
            AlgArg::Es256 => Algorithm::Es256,
            AlgArg::EdDsa => Algorithm::EdDsa,
            AlgArg::Rs256 => Algorithm::Rs256,
            AlgArg::Ps256 => Algorithm::Ps256,
        }
    }
}

/// How to write a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    /// A private JWK (RFC 7517) with `kid`, `alg` and `use: sig`.
    Jwk,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for tools such as openssl. Carries no kid or alg.
    Pem,
}

/// The long help of `gatehouse keys generate`.
pub(crate) const GENERATE_HELP: &str = "Generate a signing key and print it as a private JWK (pretty JSON) with \
\"kid\" (its RFC 7638 thumbprint), \"alg\" and \"use\": \"sig\".\n\n\
The output is a PRIVATE key: prefer --out FILE, which creates FILE readable only by you (mode \
0600) and never replaces an existing file unless --force is given. Derive the public key to \
publish with `gatehouse keys public FILE`.";

/// `gatehouse keys generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Signature algorithm. RS256/PS256 keys are 2048-bit RSA.
    #[arg(long, value_enum, ignore_case = true, default_value = "ES256")]
    alg: AlgArg,
    /// Write the key to FILE (mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it already exists.
    #[arg(long, requires = "out")]
    force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "jwk")]
    format: KeyFormat,
}

/// The long help of `gatehouse keys public`.
pub(crate) const PUBLIC_HELP: &str = "Print the public JWK of a key file, for a JWKS document or for `gatehouse jws \
verify`. FILE is a JWK or a JWK Set, private or public; a JWK Set gives a JWK Set. Private key \
material is never printed. Each private key is checked against its public members.";

/// `gatehouse keys public`.
#[derive(Debug, Args)]
pub(crate) struct PublicArgs {
    /// The key file (a JWK or a JWK Set), or `-` to read standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print a JWK Set ({"keys": [...]}, what a jwks_uri serves) even for a single key.
    #[arg(long)]
    jwks: bool,
    /// Algorithm of RSA keys whose JWK has no "alg" (RS256 and PS256 share key types).
    #[arg(long, value_enum, ignore_case = true)]
    alg: Option<RsaAlg>,
}

/// Generates a key and writes it out.
pub(crate) fn generate(args: &GenerateArgs) -> Result<(), CliError> {
    let alg = Algorithm::from(args.alg);
    let key = SigningKey::generate(alg)
        .map_err(|e| CliError::Io(format!("cannot generate a {alg} key: {e}")))?;
    let text = private_text(&key, args.format)?;
    match &args.out {
        Some(path) => {
            write_private_file(path, &text, args.force)?;
            eprintln!(
                "generated {alg} key, kid {}, written to {} (mode 0600)",
                key.kid(),
                path.display()
            );
        }
        None => {
            output::stdout(&text)?;
            eprintln!("generated {alg} key, kid {}", key.kid());
        }
    }
    Ok(())
}

/// The private key as text, in a buffer that is zeroized when dropped. The buffer is sized up
/// front so that growing it does not leave copies of the key in freed memory.
fn private_text(key: &SigningKey, format: KeyFormat) -> Result<Zeroizing<Vec<u8>>, CliError> {
    match format {
        KeyFormat::Jwk => {
            let mut text = Zeroizing::new(Vec::with_capacity(16 * 1024));
            serde_json::to_writer_pretty(&mut *text, &key.to_jwk())
                .map_err(|e| CliError::Io(format!("cannot serialize the key: {e}")))?;
            text.push(b'\n');
            Ok(text)
        }
        KeyFormat::Pem => {
            let pem = key
                .to_pkcs8_pem()
                .map_err(|e| CliError::Io(format!("cannot encode the key: {e}")))?;
            let mut text = Zeroizing::new(Vec::with_capacity(pem.len()));
            text.extend_from_slice(pem.as_bytes());
            Ok(text)
        }
    }
}

/// Writes a private key file that only its owner can read. Without `force` the file must not
/// exist (checked atomically by the create, so a racing file or a planted symlink is not
/// followed). With `force` the key is written beside it and renamed over it, so the old file is
/// replaced whole or not at all and the new one never exists with wider permissions.
fn write_private_file(path: &Path, contents: &[u8], force: bool) -> Result<(), CliError> {
    let io_error =
        |e: std::io::Error| CliError::Io(format!("cannot write {}: {e}", path.display()));
    if !force {
        let file = create_private(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::Usage(format!(
                    "{} already exists; pass --force to replace it",
                    path.display()
                ))
            } else {
                io_error(e)
            }
        })?;
        return write_and_sync(file, contents).map_err(|e| {
            // Do not leave a truncated key behind.
            let _ = std::fs::remove_file(path);
            io_error(e)
        });
    }
    let temporary = temporary_path(path);
    let written = create_private(&temporary)
        .and_then(|file| write_and_sync(file, contents))
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io_error(e)
    })
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_and_sync(mut file: std::fs::File, contents: &[u8]) -> std::io::Result<()> {
    file.write_all(contents)?;
    file.sync_all()
}

/// A name beside `path` that no other run picks: `.NAME.PID.NANOS.tmp`.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key".to_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

/// Prints the public keys of a key file.
pub(crate) fn public(args: &PublicArgs) -> Result<(), CliError> {
    let file = KeyFile::read(&args.file, args.alg)?;
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(file.entries.len());
    for entry in file.entries {
        // A published set that silently lost a key is worse than an error.
        let key = entry
            .key
            .map_err(|reason| CliError::Usage(format!("{}: {reason}", entry.label)))?;
        keys.push(key);
    }
    // Serialized from the typed values, so members come in the same order as `keys generate`.
    let text = match keys.as_slice() {
        [key] if !file.is_set && !args.jwks => serde_json::to_string_pretty(&key.to_jwk()),
        _ => serde_json::to_string_pretty(&PublicJwks::from_keys(&keys)),
    }
    .map_err(|e| CliError::Io(format!("cannot serialize the public keys: {e}")))?;
    output::stdout(format!("{text}\n").as_bytes())
}
