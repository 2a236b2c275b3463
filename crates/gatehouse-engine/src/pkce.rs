//! PKCE ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)), S256 only.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_types::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a PKCE parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// No `code_challenge` in the authorization request. OAuth 2.1 §4.1.1: clients "MUST use
    /// code_challenge"; MCP requires PKCE for every client.
    #[error("code_challenge is required (OAuth 2.1 section 4.1.1, PKCE)")]
    MissingChallenge,
    /// A method other than S256, including `plain` and an absent method (which RFC 7636 §4.3
    /// defaults to `plain`).
    #[error("code_challenge_method must be S256 (RFC 7636 section 4.3; plain is not accepted)")]
    UnsupportedMethod,
    /// A challenge that is not the base64url SHA-256 of anything (43 characters).
    #[error("code_challenge is not a base64url-encoded SHA-256 hash (RFC 7636 section 4.2)")]
    MalformedChallenge,
    /// No `code_verifier` in the token request.
    #[error("code_verifier is required (RFC 7636 section 4.5)")]
    MissingVerifier,
    /// A verifier outside `43*128unreserved` (RFC 7636 §4.1).
    #[error(
        "code_verifier must be 43 to 128 characters of [A-Z] / [a-z] / [0-9] / - . _ ~ (RFC 7636 section 4.1)"
    )]
    MalformedVerifier,
}

/// A `code_verifier`: 43 to 128 characters of the unreserved set
/// ([RFC 7636 §4.1](https://www.rfc-editor.org/rfc/rfc7636#section-4.1)). A secret.
pub struct CodeVerifier(SecretString);

impl CodeVerifier {
    /// Parses a verifier.
    pub fn new(value: &str) -> Result<Self, PkceError> {
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if !(43..=128).contains(&value.len()) || !value.bytes().all(unreserved) {
            return Err(PkceError::MalformedVerifier);
        }
        Ok(Self(SecretString::new(value)))
    }

    /// The verifier.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}

/// An S256 `code_challenge`: `BASE64URL(SHA256(ASCII(code_verifier)))`
/// ([RFC 7636 §4.2](https://www.rfc-editor.org/rfc/rfc7636#section-4.2)), always 43 characters.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses the `code_challenge` and `code_challenge_method` of an authorization request.
    /// Only S256 is accepted; an absent method means `plain` (RFC 7636 §4.3) and is refused.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        if method != Some("S256") {
            return Err(PkceError::UnsupportedMethod);
        }
        Self::parse(challenge)
    }

    /// Parses an S256 challenge value.
    pub fn parse(challenge: &str) -> Result<Self, PkceError> {
        let mut digest = [0u8; 32];
        match Base64UrlUnpadded::decode(challenge, &mut digest) {
            Ok(decoded) if decoded.len() == 32 => Ok(Self(challenge.to_owned())),
            _ => Err(PkceError::MalformedChallenge),
        }
    }

    /// The challenge a verifier answers.
    pub fn for_verifier(verifier: &CodeVerifier) -> Self {
        Self(Base64UrlUnpadded::encode_string(&Sha256::digest(
            verifier.expose_secret().as_bytes(),
        )))
    }

    /// Whether `verifier` answers this challenge, compared in constant time
    /// ([RFC 7636 §4.6](https://www.rfc-editor.org/rfc/rfc7636#section-4.6)).
    pub fn is_answered_by(&self, verifier: &CodeVerifier) -> bool {
        let expected = Self::for_verifier(verifier);
        expected.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }

    /// The challenge string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CodeChallenge {
    type Error = PkceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CodeChallenge> for String {
    fn from(value: CodeChallenge) -> Self {
        value.0
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [RFC 7636 Appendix B](https://www.rfc-editor.org/rfc/rfc7636#appendix-B).
    #[test]
    fn rfc7636_appendix_b_s256() {
        let verifier = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let challenge = CodeChallenge::for_verifier(&verifier);
        assert_eq!(
            challenge.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let parsed = CodeChallenge::from_request(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .unwrap();
        assert!(parsed.is_answered_by(&verifier));
        let other = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx").unwrap();
        assert!(!parsed.is_answered_by(&other));
    }

    #[test]
    fn rfc7636_section_4_1_verifier_syntax() {
        assert!(CodeVerifier::new(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::new(&"a".repeat(128)).is_ok());
        assert_eq!(
            CodeVerifier::new(&"a".repeat(42)).err(),
            Some(PkceError::MalformedVerifier)
        );
        assert_eq!(
            CodeVerifier::new(&"a".repeat(129)).err(),
            Some(PkceError::MalformedVerifier)
        );
        let with_plus = format!("{}+", "a".repeat(42));
        assert_eq!(
            CodeVerifier::new(&with_plus).err(),
            Some(PkceError::MalformedVerifier)
        );
        assert!(CodeVerifier::new(&format!("{}-._~", "A1".repeat(20))).is_ok());
    }

    #[test]
    fn rfc7636_section_4_3_plain_and_missing_are_refused() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            CodeChallenge::from_request(None, Some("S256")),
            Err(PkceError::MissingChallenge)
        );
        assert_eq!(
            CodeChallenge::from_request(Some(c), None),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::from_request(Some(c), Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::from_request(Some(c), Some("s256")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            CodeChallenge::from_request(Some("short"), Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
    }
}
