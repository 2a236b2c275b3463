//! The four signature algorithms Gatehouse speaks, and nothing else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A JWS signature algorithm ([RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1),
/// [RFC 8037 §3.1](https://www.rfc-editor.org/rfc/rfc8037#section-3.1)).
///
/// There is deliberately no `none` and no HMAC variant: a token whose header names one cannot be
/// verified by any key of this crate, so "alg: none" and "HS256 keyed with the RSA public key"
/// are refused before any cryptography runs
/// ([RFC 8725 §2.1, §3.1](https://www.rfc-editor.org/rfc/rfc8725#section-3.1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256, signature `r‖s` (RFC 7518 §3.4). The default.
    Es256,
    /// Ed25519 (RFC 8037), verified strictly.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), keys of at least 2048 bits.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 7518 §3.5).
    Ps256,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 4] = [Self::Es256, Self::EdDsa, Self::Rs256, Self::Ps256];

    /// The `alg` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }

    /// Looks up an `alg` value; names are case-sensitive (RFC 7515 §4.1.1). `None` for everything
    /// this crate does not verify, including `none` and every HMAC.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The JWK `kty` of keys for this algorithm.
    pub const fn key_type(self) -> &'static str {
        match self {
            Self::Es256 => "EC",
            Self::EdDsa => "OKP",
            Self::Rs256 | Self::Ps256 => "RSA",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnsupportedAlgorithm(s.chars().take(32).collect()))
    }
}

/// An `alg` this crate does not support (the name, cut to 32 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported algorithm {0:?}: only ES256, EdDSA, RS256 and PS256 are accepted")]
pub struct UnsupportedAlgorithm(pub String);

impl Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8725_section_3_1_no_none_no_hmac() {
        for name in [
            "none", "None", "NONE", "HS256", "HS384", "HS512", "es256", "ES512", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
    }
}
