//! Secrets in memory: tokens, codes, client secrets.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string: a bearer token, a refresh token, a client secret, a registration access
/// token.
///
/// - `Debug` prints `[redacted]` and there is no `Display`, so a secret cannot reach a log by
///   accident; [`SecretString::expose_secret`] is named loudly so every use is easy to review.
/// - Not `Clone`: each copy is one more place the secret lives.
/// - Equality is constant-time in the contents (`subtle`); only the length can show.
/// - The memory is zeroed when the value is dropped (`zeroize`).
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length in bytes (not secret: it is visible on the wire anyway).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl serde::Serialize for SecretString {
    /// Secrets are serialized where a protocol document carries them (a registration response
    /// returns the client secret once); the type makes that visible, not impossible.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = SecretString::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose_secret(), "hunter2");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(SecretString::new("abc"), SecretString::new("abc"));
        assert_ne!(SecretString::new("abc"), SecretString::new("abd"));
        assert_ne!(SecretString::new("abc"), SecretString::new("abcd"));
    }

    #[test]
    fn serde_is_the_plain_string() {
        let secret: SecretString = serde_json::from_str("\"s3\"").unwrap();
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"s3\"");
    }
}
