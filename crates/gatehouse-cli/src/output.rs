//! Writing results: payloads as pretty JSON when they are JSON, untrusted strings quoted, and
//! standard output errors reported rather than ignored.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::error::CliError;

/// How a payload reads as JSON.
#[derive(Debug, PartialEq)]
pub(crate) enum Json {
    /// JSON without duplicate member names in its top-level object.
    Unique(Value),
    /// JSON whose top-level object repeats `member`. `value` holds the last occurrence, which is
    /// what most JSON parsers keep; the JOSE library refuses such claims (RFC 7519 §4), so the
    /// operator is told.
    Duplicate {
        /// The parsed value, last occurrence wins.
        value: Value,
        /// The first repeated member name.
        member: String,
    },
    /// Not JSON at all.
    Invalid,
}

/// Reads `bytes` as JSON, noticing repeated top-level member names.
pub(crate) fn parse_json(bytes: &[u8]) -> Json {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Json::Invalid;
    };
    if value.is_object() {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        if let Ok(Some(member)) = deserializer.deserialize_map(FirstDuplicate) {
            return Json::Duplicate { value, member };
        }
    }
    Json::Unique(value)
}

/// Finds the first repeated member name of a JSON object.
struct FirstDuplicate;

impl<'de> Visitor<'de> for FirstDuplicate {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut duplicate = None;
        while let Some(key) = access.next_key::<String>()? {
            access.next_value::<IgnoredAny>()?;
            if duplicate.is_none() && seen.contains(&key) {
                duplicate = Some(key);
            } else {
                seen.insert(key);
            }
        }
        Ok(duplicate)
    }
}

/// Pretty-printed JSON with a final newline.
pub(crate) fn pretty(value: &Value) -> String {
    // Serializing a `Value` cannot fail (its map keys are strings); the compact form is a
    // harmless fallback.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// Writes `bytes` to standard output and flushes.
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Io(format!("cannot write to standard output: {e}")))
}

/// A string from an untrusted or unusual source (a token's `kid`, a claim) as a quoted, escaped
/// literal cut to 80 characters, so that it cannot forge lines or terminal escapes.
pub(crate) fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{text:?}")
    }
}

/// A JSON value as compact JSON cut to 80 characters. JSON escapes control characters, so the
/// text is safe on a terminal.
pub(crate) fn snippet(value: &Value) -> String {
    const MAX: usize = 80;
    let text = value.to_string();
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A key id as the key file spells it: bare when it is plain (thumbprints, `key-2024`), else
/// quoted.
pub(crate) fn kid(kid: &str) -> String {
    let plain = !kid.is_empty()
        && kid.len() <= 80
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:~+/=@".contains(c));
    if plain { kid.to_owned() } else { quoted(kid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_recognised_and_duplicates_noticed() {
        assert_eq!(
            parse_json(br#"{"a":1}"#),
            Json::Unique(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            parse_json(br#"{"sub":"alice","sub":"admin"}"#),
            Json::Duplicate {
                value: serde_json::json!({"sub": "admin"}),
                member: "sub".into()
            }
        );
        assert_eq!(
            parse_json(br#"[1,2]"#),
            Json::Unique(serde_json::json!([1, 2]))
        );
        assert_eq!(parse_json(b"hello"), Json::Invalid);
        assert_eq!(parse_json(b"{\"a\":1} x"), Json::Invalid);
    }

    #[test]
    fn untrusted_strings_are_escaped_and_cut() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("a\nb\u{1b}[31m"), "\"a\\nb\\u{1b}[31m\"");
        assert!(quoted(&"x".repeat(500)).len() < 100);
        assert_eq!(
            kid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(kid("two words"), "\"two words\"");
    }
}
