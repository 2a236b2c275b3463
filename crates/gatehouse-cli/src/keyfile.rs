//! Key files: a JWK or a JWK Set, public or private, turned into the public keys that verify
//! with them. Shared by `jws verify` and `keys public`.

use std::path::Path;

use clap::ValueEnum;
use gatehouse_jose::{Algorithm, Jwk, Jwks, KeyError, KeySet, SigningKey, VerifyingKey};

use crate::error::CliError;
use crate::{input, output};

/// The algorithm of RSA keys whose JWK has no `alg`: RS256 and PS256 use the same keys, and the
/// library will not guess from a token's header (RFC 8725 §3.1), so the operator says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RsaAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
    /// RSASSA-PSS with SHA-256.
    #[value(name = "PS256")]
    Ps256,
}

impl From<RsaAlg> for Algorithm {
    fn from(alg: RsaAlg) -> Self {
        match alg {
            RsaAlg::Rs256 => Algorithm::Rs256,
            RsaAlg::Ps256 => Algorithm::Ps256,
        }
    }
}

/// One key of a key file: how to name it in messages, and its public key or why it is unusable.
pub(crate) struct Entry {
    /// `the key`, or `key #2 (kid abc)` in a set.
    pub(crate) label: String,
    /// The public key, or the reason the key cannot be used (no key material in it).
    pub(crate) key: Result<VerifyingKey, String>,
}

/// The keys of a key file.
pub(crate) struct KeyFile {
    /// Whether the file is a JWK Set (`{"keys": […]}`) rather than one JWK.
    pub(crate) is_set: bool,
    /// Every key, in file order.
    pub(crate) entries: Vec<Entry>,
}

impl KeyFile {
    /// Reads and parses `path` (`-` for standard input). Unreadable and malformed files are usage
    /// errors; keys the library cannot use are kept as entries with their reason.
    pub(crate) fn read(path: &Path, rsa_alg: Option<RsaAlg>) -> Result<Self, CliError> {
        let name = if path == Path::new("-") {
            "standard input".to_owned()
        } else {
            format!("key file {}", path.display())
        };
        let bytes = input::file(path, "key file")?;
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            return Err(CliError::Usage(format!(
                "{name} is PEM; gatehouse reads keys as a JWK or a JWK Set (JSON)"
            )));
        }
        let jwks = Jwks::from_jwk_or_jwks(&bytes)
            .map_err(|e| CliError::Usage(format!("{name} is not a usable JWK or JWK Set: {e}")))?;
        if jwks.keys.is_empty() {
            return Err(CliError::Usage(format!("{name} holds no keys")));
        }
        let is_set = serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|value| value.get("keys").is_some());
        let entries = jwks
            .keys
            .iter()
            .enumerate()
            .map(|(index, jwk)| Entry {
                label: label(index, jwk, is_set),
                key: public_key(jwk, rsa_alg.map(Algorithm::from)).map_err(|e| explain(&e)),
            })
            .collect();
        Ok(Self { is_set, entries })
    }

    /// The usable keys as a key set, or a usage error naming why each key is unusable when
    /// none is.
    pub(crate) fn key_set(&self) -> Result<KeySet, CliError> {
        let keys: Vec<VerifyingKey> = self
            .entries
            .iter()
            .filter_map(|entry| entry.key.as_ref().ok().cloned())
            .collect();
        if keys.is_empty() {
            let reasons: Vec<String> = self.unusable().collect();
            return Err(CliError::Usage(format!(
                "the key file has no usable key: {}",
                reasons.join("; ")
            )));
        }
        Ok(KeySet::new(keys))
    }

    /// `label: reason` for each unusable key.
    pub(crate) fn unusable(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().filter_map(|entry| {
            entry
                .key
                .as_ref()
                .err()
                .map(|reason| format!("{}: {reason}", entry.label))
        })
    }
}

/// The public key of a JWK. A private JWK is loaded as a signing key first, so that a private
/// part that does not belong to its public members is caught rather than silently ignored, and
/// so that `key_ops: ["sign"]` on a private key does not stop its public half from verifying.
fn public_key(jwk: &Jwk, rsa_alg: Option<Algorithm>) -> Result<VerifyingKey, KeyError> {
    let alg = rsa_alg.filter(|_| jwk.alg.is_none() && jwk.kty == "RSA");
    if jwk.d.is_some() {
        let key = match alg {
            Some(alg) => SigningKey::from_jwk_as(jwk, alg)?,
            None => SigningKey::from_jwk(jwk)?,
        };
        Ok(key.verifying_key())
    } else {
        match alg {
            Some(alg) => VerifyingKey::from_jwk_as(jwk, alg),
            None => VerifyingKey::from_jwk(jwk),
        }
    }
}

/// The library's reason, with what to do about it where the CLI has a flag for it.
fn explain(error: &KeyError) -> String {
    match error {
        KeyError::AmbiguousAlgorithm => "RSA key has no \"alg\", and RS256 and PS256 use the same \
                                         keys: pass --alg RS256 or --alg PS256"
            .to_owned(),
        _ => error.to_string(),
    }
}

fn label(index: usize, jwk: &Jwk, is_set: bool) -> String {
    let kid = match &jwk.kid {
        Some(kid) => format!("kid {}", output::kid(kid)),
        None => "no kid".to_owned(),
    };
    if is_set {
        format!("key #{} ({kid})", index + 1)
    } else {
        format!("the key ({kid})")
    }
}
