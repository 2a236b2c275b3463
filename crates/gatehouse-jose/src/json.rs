//! JSON objects read strictly: duplicate member names are refused.
//!
//! [RFC 7515 §4](https://www.rfc-editor.org/rfc/rfc7515#section-4): "the Header Parameter names
//! within the JOSE Header MUST be unique; JWS parsers MUST either reject JWSs with duplicate
//! Header Parameter names or use a JSON parser that returns only the lexically last duplicate
//! member name". Gatehouse rejects: two parsers that pick different duplicates would see two
//! different tokens, and the same applies to claims (RFC 7519 §4).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON object without duplicate member names at its top level.
pub(crate) struct UniqueObject(pub(crate) Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueObjectVisitor)
    }
}

struct UniqueObjectVisitor;

impl<'de> Visitor<'de> for UniqueObjectVisitor {
    type Value = UniqueObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member {:?}",
                    key.chars().take(32).collect::<String>()
                )));
            }
            let value: Value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(UniqueObject(map))
    }
}

/// Parses a JSON object, refusing duplicate top-level member names and trailing data.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    serde_json::from_slice::<UniqueObject>(bytes).map(|o| o.0)
}

/// A claim that must be a non-empty string (`iss`, `sub`, `jti`): `None` when it is missing,
/// empty or not a string.
pub(crate) fn text_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
}

/// A NumericDate claim (`exp`, `iat`, `nbf`; RFC 7519 §2): `Ok(None)` when absent, `Err(())`
/// when present but not a non-negative integer.
pub(crate) fn number_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7515_section_4_duplicate_header_parameters_refused() {
        assert!(parse_object(br#"{"alg":"ES256","alg":"none"}"#).is_err());
        assert!(parse_object(br#"{"alg":"ES256","x":{"a":1}}"#).is_ok());
        assert!(parse_object(br#"[1]"#).is_err());
        assert!(parse_object(br#"{"a":1} x"#).is_err());
    }
}
