//! Client identifiers ([RFC 6749 §2.2](https://www.rfc-editor.org/rfc/rfc6749#section-2.2)).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A `client_id`: `1*VSCHAR` ([RFC 6749 Appendix A.1](https://www.rfc-editor.org/rfc/rfc6749#appendix-A.1)),
/// bounded in length. It may be an `https` URL naming a Client ID Metadata Document.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

/// Why a string is not a client identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIdError {
    /// Empty.
    #[error("client_id is empty (RFC 6749 Appendix A.1: 1*VSCHAR)")]
    Empty,
    /// Longer than [`ClientId::MAX_LEN`].
    #[error("client_id is longer than 2048 bytes")]
    TooLong,
    /// A character outside `VSCHAR` (`%x20-7E`).
    #[error("client_id contains a character outside %x20-7E (RFC 6749 Appendix A.1)")]
    InvalidCharacter,
}

impl ClientId {
    /// Longest identifier accepted: generated ids are short, metadata-document URLs fit.
    pub const MAX_LEN: usize = 2048;

    /// Parses a client identifier.
    pub fn new(value: impl Into<String>) -> Result<Self, ClientIdError> {
        let value = value.into();
        if value.is_empty() {
            return Err(ClientIdError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(ClientIdError::TooLong);
        }
        if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(ClientIdError::InvalidCharacter);
        }
        Ok(Self(value))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this identifier names a Client ID Metadata Document (an `https://` URL), in which
    /// case the document, not a registration, describes the client.
    pub fn is_metadata_document_url(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for ClientId {
    type Error = ClientIdError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl std::str::FromStr for ClientId {
    type Err = ClientIdError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::new(value)
    }
}

impl From<ClientId> for String {
    fn from(value: ClientId) -> Self {
        value.0
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_appendix_a1_vschar() {
        assert!(ClientId::new("s6BhdRkqt3").is_ok());
        assert!(ClientId::new("https://app.example.com/client.json").is_ok());
        assert_eq!(ClientId::new(""), Err(ClientIdError::Empty));
        assert_eq!(ClientId::new("a\tb"), Err(ClientIdError::InvalidCharacter));
        assert_eq!(
            ClientId::new("caf\u{e9}"),
            Err(ClientIdError::InvalidCharacter)
        );
        assert_eq!(ClientId::new("a".repeat(2049)), Err(ClientIdError::TooLong));
    }

    #[test]
    fn metadata_document_urls_are_recognised() {
        assert!(
            ClientId::new("https://app.example.com/c.json")
                .unwrap()
                .is_metadata_document_url()
        );
        assert!(
            !ClientId::new("http://app.example.com/c.json")
                .unwrap()
                .is_metadata_document_url()
        );
    }
}
