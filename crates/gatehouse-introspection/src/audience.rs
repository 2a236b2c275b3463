//! The `aud` claim: one string or an array of strings.

use serde::{Deserialize, Serialize};

/// The intended audience of a token
/// ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2), as defined by
/// [RFC 7519 §4.1.3](https://www.rfc-editor.org/rfc/rfc7519#section-4.1.3)): "In the general
/// case, the "aud" value is an array of case-sensitive strings ... In the special case when the
/// JWT has one audience, the "aud" value MAY be a single case-sensitive string".
///
/// Both forms are kept as received, so a response round-trips byte for byte; use
/// [`Audience::contains`] to ask whether a value is among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a string or an array of strings (RFC 7519 §4.1.3)"
)]
#[allow(clippy::exhaustive_enums)] // RFC 7662 §2.2: a string or an array, nothing else
pub enum Audience {
    /// A single audience, written as a string.
    Single(String),
    /// Audiences written as an array (possibly of one).
    Multiple(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of the values, compared as case-sensitive strings
    /// (RFC 7519 §4.1.3).
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }

    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let values: &[String] = match self {
            Self::Single(one) => std::slice::from_ref(one),
            Self::Multiple(many) => many,
        };
        values.iter().map(String::as_str)
    }
}

impl From<String> for Audience {
    fn from(value: String) -> Self {
        Self::Single(value)
    }
}

impl From<&str> for Audience {
    fn from(value: &str) -> Self {
        Self::Single(value.to_owned())
    }
}

impl From<Vec<String>> for Audience {
    fn from(values: Vec<String>) -> Self {
        Self::Multiple(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        for text in [
            r#""https://a.example""#,
            r#"["https://a.example","b"]"#,
            "[]",
        ] {
            let aud: Audience = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&aud).unwrap(), text);
        }
        let aud: Audience = serde_json::from_str(r#"["x","y"]"#).unwrap();
        assert!(aud.contains("y"));
        assert!(!aud.contains("Y"));
        assert!(serde_json::from_str::<Audience>("5").is_err());
        assert!(serde_json::from_str::<Audience>("[5]").is_err());
    }
}
