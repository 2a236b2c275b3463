//! Signing keys at rest: private JWKs are sealed with XChaCha20-Poly1305 under a 256-bit key that
//! comes from the configuration's environment variable (`keys.encryption_key_env`, by default
//! `GATEHOUSE_SECRET_KEY`), so a database file or dump alone does not give away the keys that
//! sign every access token.
//!
//! Without the variable, a loopback (development) issuer uses a generated key file beside the
//! database, with a warning; any other issuer refuses to start ([`SealingError::Missing`]).
//! The random 192-bit nonce makes nonce reuse negligible for any number of keys, and the `kid`
//! is authenticated data, so a sealed key cannot be moved to another row.

use std::path::{Path, PathBuf};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// First byte of every sealed value: the format, so it can change later.
const FORMAT_V1: u8 = 1;

/// Why sealing or opening failed, or no key could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealingError {
    /// No key in production.
    #[error(
        "signing keys are encrypted at rest, and the environment variable {var} that holds the encryption key is not set; generate one with `openssl rand -base64 32` and set {var} (a generated key file is used only for loopback development issuers)"
    )]
    Missing {
        /// The variable's name.
        var: String,
    },
    /// The variable or key file does not hold a 256-bit key.
    #[error(
        "{source_name} must hold a 256-bit key as base64 (44 characters) or hex (64 characters)"
    )]
    Malformed {
        /// Where the key came from.
        source_name: String,
    },
    /// The key file could not be read or written.
    #[error("key file {path}: {error}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A sealed value did not open: wrong key, or the value was altered.
    #[error(
        "a stored signing key does not open with this encryption key (was the encryption key changed, or the database altered?)"
    )]
    Open,
    /// No randomness for a nonce or a key.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Where the encryption key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// The environment variable.
    Environment(String),
    /// A generated key file (development only): warn the operator.
    GeneratedFile(PathBuf),
}

/// The 256-bit key that seals signing keys. Zeroized on drop; never printed.
pub struct EncryptionKey(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

impl EncryptionKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SealingError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::fill(bytes.as_mut()).map_err(|e| SealingError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Parses base64 (standard or URL-safe, padded or not) or hex.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SealingError> {
        let text = text.trim();
        let malformed = || SealingError::Malformed {
            source_name: source_name.to_owned(),
        };
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        let decoded: Zeroizing<Vec<u8>> =
            if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                Zeroizing::new(
                    (0..KEY_BYTES)
                        .map(|i| {
                            text.get(2 * i..2 * i + 2)
                                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                                .unwrap_or(0)
                        })
                        .collect(),
                )
            } else {
                let unpadded = text
                    .trim_end_matches('=')
                    .replace('+', "-")
                    .replace('/', "_");
                Zeroizing::new(Base64UrlUnpadded::decode_vec(&unpadded).map_err(|_| malformed())?)
            };
        // An all-zero key is what a placeholder like `AAAA…` decodes to: never a real key.
        if decoded.len() != KEY_BYTES || decoded.iter().all(|&b| b == 0) {
            return Err(malformed());
        }
        bytes.copy_from_slice(&decoded);
        Ok(Self(bytes))
    }

    /// The key as standard base64, for writing a key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(Base64::encode_string(self.0.as_ref()))
    }

    /// The key the server should use: from the environment variable `var` when it is set;
    /// otherwise, for a loopback development issuer only, from `key_file` (created on first use,
    /// mode 0600); otherwise [`SealingError::Missing`].
    pub fn resolve(
        var: &str,
        issuer_is_loopback: bool,
        key_file: &Path,
    ) -> Result<(Self, KeySource), SealingError> {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => {
                let key = Self::parse(&value, var)?;
                Ok((key, KeySource::Environment(var.to_owned())))
            }
            _ if issuer_is_loopback => {
                let key = Self::load_or_create_file(key_file)?;
                Ok((key, KeySource::GeneratedFile(key_file.to_owned())))
            }
            _ => Err(SealingError::Missing {
                var: var.to_owned(),
            }),
        }
    }

    /// Reads the key file, or creates it with a fresh key (readable by the owner only).
    pub fn load_or_create_file(path: &Path) -> Result<Self, SealingError> {
        let file_error = |error| SealingError::KeyFile {
            path: path.to_owned(),
            error,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                write_private_file(path, key.to_base64().as_bytes()).map_err(file_error)?;
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// Seals `plaintext` (a private JWK) for the key `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealingError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SealingError::Random(e.to_string()))?;
        let aad = aad(kid);
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealingError::Open)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`seal`](Self::seal) sealed for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealingError> {
        let (&format, rest) = sealed.split_first().ok_or(SealingError::Open)?;
        if format != FORMAT_V1 || rest.len() < NONCE_BYTES {
            return Err(SealingError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealingError::Open)?;
        let aad = aad(kid);
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealingError::Open)
    }

    /// A 256-bit key for another purpose (e.g. signing session cookies), derived as
    /// HMAC-SHA256(this key, `label`): independent of the sealing key and of other labels, and
    /// the same on every instance that shares the encryption key.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        use hmac::{KeyInit as _, Mac};
        let mut derived = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.0.as_ref()) {
            mac.update(label.as_bytes());
            derived.copy_from_slice(&mac.finalize().into_bytes());
        }
        derived
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.0))
    }
}

fn aad(kid: &str) -> Vec<u8> {
    [b"gatehouse signing key ".as_slice(), kid.as_bytes()].concat()
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_the_kid() {
        let key = EncryptionKey::generate().unwrap();
        let jwk = br#"{"kty":"OKP","crv":"Ed25519","d":"secret","x":"public"}"#;
        let sealed = key.seal("kid-1", jwk).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open("kid-1", &sealed).unwrap().as_slice(), jwk);
        assert!(matches!(
            key.open("kid-2", &sealed),
            Err(SealingError::Open)
        ));
        let other = EncryptionKey::generate().unwrap();
        assert!(matches!(
            other.open("kid-1", &sealed),
            Err(SealingError::Open)
        ));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            key.open("kid-1", &tampered),
            Err(SealingError::Open)
        ));
        assert!(matches!(key.open("kid-1", &[]), Err(SealingError::Open)));
        assert!(matches!(
            key.open("kid-1", &[1, 2]),
            Err(SealingError::Open)
        ));
    }

    #[test]
    fn derived_keys_depend_on_the_label_and_the_key() {
        let key = EncryptionKey::from_bytes([7; 32]);
        assert_eq!(*key.derive("session"), *key.derive("session"));
        assert_ne!(*key.derive("session"), *key.derive("csrf"));
        assert_ne!(*key.derive("session"), [7; 32]);
        assert_ne!(
            *EncryptionKey::from_bytes([8; 32]).derive("session"),
            *key.derive("session")
        );
    }

    #[test]
    fn parses_base64_and_hex_and_refuses_other_lengths() {
        let key = EncryptionKey::generate().unwrap();
        let b64 = key.to_base64();
        let again = EncryptionKey::parse(&b64, "test").unwrap();
        assert_eq!(*again.0, *key.0);
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(*EncryptionKey::parse(&hex, "test").unwrap().0, *key.0);
        for bad in ["", "short", &"A".repeat(43), &"zz".repeat(32)] {
            assert!(
                matches!(
                    EncryptionKey::parse(bad, "X"),
                    Err(SealingError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn production_without_the_variable_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let var = "GATEHOUSE_TEST_SEALING_UNSET_VARIABLE";
        let error = EncryptionKey::resolve(var, false, &dir.path().join("k")).unwrap_err();
        assert!(error.to_string().contains(var), "{error}");
        assert!(!dir.path().join("k").exists());
    }

    #[test]
    fn loopback_development_uses_a_private_generated_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.key");
        let var = "GATEHOUSE_TEST_SEALING_UNSET_VARIABLE_2";
        let (first, source) = EncryptionKey::resolve(var, true, &file).unwrap();
        assert_eq!(source, KeySource::GeneratedFile(file.clone()));
        let (second, _) = EncryptionKey::resolve(var, true, &file).unwrap();
        assert_eq!(*first.0, *second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
