//! Opaque credentials (codes, refresh tokens, client secrets, registration access tokens) and the
//! hashes that are all the store ever sees of them.
//!
//! Each credential is 256 bits from the caller's [`RandomSource`], base64url-encoded behind a
//! short prefix that names its kind (so that secret scanners and people can tell a leaked refresh
//! token from a code). At rest only the SHA-256 of the whole string is kept: with 256 bits of
//! entropy a plain hash cannot be reversed, and lookups stay a single indexed equality.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_types::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::RandomSource;

/// Bytes of randomness in every opaque credential (OAuth 2.1 §7.1 asks for at least 128 bits;
/// RFC 9700 §4.14 recommends unguessable refresh tokens; the design asks for 256).
pub const CREDENTIAL_BYTES: usize = 32;

/// What an opaque credential is, which decides its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An authorization code.
    Code,
    /// A refresh token.
    RefreshToken,
    /// A client secret.
    ClientSecret,
    /// An RFC 7592 registration access token.
    RegistrationToken,
}

impl CredentialKind {
    /// The prefix of credentials of this kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Code => "gthc_",
            Self::RefreshToken => "gthr_",
            Self::ClientSecret => "gths_",
            Self::RegistrationToken => "gthm_",
        }
    }
}

/// Draws a new credential of `kind`.
pub fn generate(kind: CredentialKind, rng: &mut impl RandomSource) -> SecretString {
    let mut bytes = Zeroizing::new([0u8; CREDENTIAL_BYTES]);
    rng.fill(bytes.as_mut_slice());
    from_bytes(kind, &bytes)
}

/// The credential string for `bytes` (used to rebuild a sealed refresh successor).
pub(crate) fn from_bytes(kind: CredentialKind, bytes: &[u8; CREDENTIAL_BYTES]) -> SecretString {
    let mut text = String::with_capacity(kind.prefix().len() + 43);
    text.push_str(kind.prefix());
    text.push_str(&Base64UrlUnpadded::encode_string(bytes));
    SecretString::new(text)
}

/// The SHA-256 of a credential: the only form in which a store holds it.
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
pub struct CredentialHash([u8; 32]);

impl CredentialHash {
    /// Hashes a presented credential.
    pub fn of(credential: &str) -> Self {
        Self(Sha256::digest(credential.as_bytes()).into())
    }

    /// The hash bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a hash read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Lowercase hex, for stores that keep text.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl PartialEq for CredentialHash {
    /// Constant-time: a store lookup is by equality on the hash, but comparisons the engine makes
    /// itself (a presented client secret against the stored hash) must not leak a prefix.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for CredentialHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for CredentialHash {
    /// A short prefix is enough to tell hashes apart in a log; the hash is not secret, but there
    /// is no reason to print all of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CredentialHash({}…)",
            self.to_hex().get(..8).unwrap_or_default()
        )
    }
}

/// XORs a refresh successor's bytes with a pad derived from the predecessor token, so a store
/// can keep the successor for benign retries without ever holding it in the clear: opening it
/// takes the predecessor token, which the store knows only as a hash. The pad is used once
/// (one successor per predecessor), which is what makes XOR a sound cipher here.
pub(crate) fn seal_successor(
    predecessor: &str,
    successor: &[u8; CREDENTIAL_BYTES],
) -> [u8; CREDENTIAL_BYTES] {
    let pad: [u8; 32] = Sha256::new()
        .chain_update(b"gatehouse refresh successor v1\0")
        .chain_update(predecessor.as_bytes())
        .finalize()
        .into();
    let mut sealed = [0u8; CREDENTIAL_BYTES];
    for (out, (s, p)) in sealed.iter_mut().zip(successor.iter().zip(pad.iter())) {
        *out = s ^ p;
    }
    sealed
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    #[test]
    fn credentials_carry_256_bits_behind_their_prefix() {
        let token = generate(CredentialKind::RefreshToken, &mut Counter(0));
        let text = token.expose_secret();
        assert!(text.starts_with("gthr_"));
        assert_eq!(text.len(), 5 + 43);
        let expected: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        assert_eq!(
            text,
            from_bytes(CredentialKind::RefreshToken, &expected).expose_secret()
        );
    }

    #[test]
    fn hash_hex_round_trip_and_equality() {
        let hash = CredentialHash::of("gthc_abc");
        assert_eq!(CredentialHash::from_hex(&hash.to_hex()), Some(hash));
        assert_ne!(CredentialHash::of("gthc_abd"), hash);
        assert_eq!(CredentialHash::from_hex(&"+f".repeat(32)), None);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
    }

    #[test]
    fn sealed_successor_opens_only_with_the_predecessor() {
        let successor = [7u8; 32];
        let sealed = seal_successor("gthr_old", &successor);
        assert_ne!(sealed, successor);
        assert_eq!(seal_successor("gthr_old", &sealed), successor);
        assert_ne!(seal_successor("gthr_other", &sealed), successor);
    }
}
