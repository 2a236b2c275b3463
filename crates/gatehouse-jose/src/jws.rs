//! JWS Compact Serialization ([RFC 7515 §7.1](https://www.rfc-editor.org/rfc/rfc7515#section-7.1)):
//! signing, strict parsing, and verification. The payload of a token is reachable only from a
//! [`VerifiedJws`].

use serde::Serialize;
use serde_json::{Map, Value};

use crate::alg::UnsupportedAlgorithm;
use crate::{Algorithm, JwsError, KeySet, SigningKey, VerifyingKey, b64, json};

/// Longest token accepted. Access tokens are a few hundred bytes; this bounds the work a forged
/// token can cause.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Longest encoded header accepted.
pub const MAX_HEADER_LEN: usize = 2048;

/// A parsed, checked JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    alg: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
    /// The decoded header JSON, for [`Header::get`]; parsed again only when asked.
    json: Vec<u8>,
}

impl Header {
    /// The algorithm the header names (always one this crate supports).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// `typ`, if present.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// `kid`, if present.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Any header parameter by name.
    pub fn get(&self, name: &str) -> Option<Value> {
        json::parse_object(&self.json).ok()?.remove(name)
    }

    fn from_segment(segment: &str) -> Result<Self, JwsError> {
        if segment.len() > MAX_HEADER_LEN {
            return Err(JwsError::TooLarge);
        }
        let json = b64::decode(segment).ok_or(JwsError::Malformed("header is not base64url"))?;
        let fields: HeaderFields = serde_json::from_slice(&json)
            .map_err(|_| JwsError::Malformed("header is not a JSON object with unique members"))?;
        let alg = match fields.alg {
            Some(Value::String(name)) => Algorithm::from_name(&name)
                .ok_or_else(|| UnsupportedAlgorithm(name.chars().take(32).collect()))?,
            Some(_) => return Err(JwsError::Malformed("alg is not a string")),
            None => return Err(JwsError::Malformed("header has no alg")),
        };
        // RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood
        // and supported by the recipient, then the JWS is invalid." This verifier supports none.
        if fields.crit {
            return Err(JwsError::CriticalHeader);
        }
        // RFC 7797: an unencoded payload changes what the signature covers; not supported.
        if fields.b64 {
            return Err(JwsError::UnencodedPayload);
        }
        let string = |value: Option<Value>| match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(JwsError::Malformed("typ and kid must be strings")),
        };
        Ok(Self {
            alg,
            typ: string(fields.typ)?,
            kid: string(fields.kid)?,
            json,
        })
    }
}

/// The members of a header that verification looks at, read in one pass without building a
/// map of every member. Duplicate names are refused here, also when one is spelled with JSON
/// escapes (RFC 7515 §4: "Header Parameter names within the JOSE Header MUST be unique").
#[derive(Default)]
struct HeaderFields {
    alg: Option<Value>,
    typ: Option<Value>,
    kid: Option<Value>,
    crit: bool,
    b64: bool,
}

impl<'de> serde::Deserialize<'de> for HeaderFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> serde::de::Visitor<'de> for HeaderVisitor {
    type Value = HeaderFields;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut access: A,
    ) -> Result<HeaderFields, A::Error> {
        use std::borrow::Cow;

        use serde::de::{Error, IgnoredAny};

        let mut fields = HeaderFields::default();
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = access.next_key::<Cow<'de, str>>()? {
            if seen.contains(&key) {
                return Err(A::Error::custom("duplicate header parameter"));
            }
            match key.as_ref() {
                "alg" => fields.alg = Some(access.next_value()?),
                "typ" => fields.typ = Some(access.next_value()?),
                "kid" => fields.kid = Some(access.next_value()?),
                "crit" => {
                    fields.crit = true;
                    access.next_value::<IgnoredAny>()?;
                }
                "b64" => {
                    fields.b64 = true;
                    access.next_value::<IgnoredAny>()?;
                }
                _ => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
            seen.push(key);
        }
        Ok(fields)
    }
}

/// A token whose structure and header passed every check but whose signature has not been
/// verified. Its payload is not accessible.
#[derive(Debug)]
pub struct UnverifiedJws<'a> {
    header: Header,
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

/// The three segments of a compact JWS of acceptable size (RFC 7515 §7.1).
fn segments(token: &str) -> Result<[&str; 3], JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::TooLarge);
    }
    let mut segments = token.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(header), Some(payload), Some(signature), None) => Ok([header, payload, signature]),
        _ => Err(JwsError::Malformed("not three dot-separated segments")),
    }
}

/// Parses a compact JWS: exactly three strict base64url segments, a header that is a JSON object
/// with unique members naming a supported `alg`, no `crit`, no `b64`.
pub fn parse(token: &str) -> Result<UnverifiedJws<'_>, JwsError> {
    let [header, payload, signature] = segments(token)?;
    let header = Header::from_segment(header)?;
    let signature =
        b64::decode(signature).ok_or(JwsError::Malformed("signature is not base64url"))?;
    let signing_input_len = token.len() - signature_len_encoded(token);
    let signing_input = token
        .get(..signing_input_len)
        .ok_or(JwsError::Malformed("not three dot-separated segments"))?;
    Ok(UnverifiedJws {
        header,
        signing_input,
        payload,
        signature,
    })
}

/// Length of `.signature` at the end of `token`.
fn signature_len_encoded(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

impl<'a> UnverifiedJws<'a> {
    /// The checked header, for key selection.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Verifies with one key. The header's `alg` must be the key's algorithm (RFC 8725 §3.1).
    pub fn verify(self, key: &VerifyingKey) -> Result<VerifiedJws, JwsError> {
        if self.header.alg != key.algorithm() {
            return Err(JwsError::AlgorithmMismatch);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::InvalidSignature)?;
        let payload =
            b64::decode(self.payload).ok_or(JwsError::Malformed("payload is not base64url"))?;
        Ok(VerifiedJws {
            header: self.header,
            payload,
        })
    }

    /// Verifies with the key of `keys` that the header selects: the key with its `kid`, or
    /// without a `kid`, each key of its algorithm in turn.
    pub fn verify_with(self, keys: &KeySet) -> Result<VerifiedJws, JwsError> {
        let kid = self.header.kid.clone();
        let mut candidates = keys.candidates(kid.as_deref(), self.header.alg).peekable();
        if candidates.peek().is_none() {
            return Err(JwsError::NoMatchingKey);
        }
        let mut last = JwsError::NoMatchingKey;
        for key in candidates {
            if key.algorithm() != self.header.alg {
                last = JwsError::AlgorithmMismatch;
                continue;
            }
            if key
                .verify(self.signing_input.as_bytes(), &self.signature)
                .is_ok()
            {
                let payload = b64::decode(self.payload)
                    .ok_or(JwsError::Malformed("payload is not base64url"))?;
                return Ok(VerifiedJws {
                    header: self.header,
                    payload,
                });
            }
            last = JwsError::InvalidSignature;
        }
        Err(last)
    }
}

/// A token whose signature verified. Only here is the payload available.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The header and the payload.
    pub fn into_parts(self) -> (Header, Vec<u8>) {
        (self.header, self.payload)
    }
}

#[derive(Serialize)]
struct SigningHeader<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    kid: &'a str,
}

/// Signs `payload` as a compact JWS with header `{"alg", "typ", "kid"}` taken from the key.
pub fn sign(key: &SigningKey, typ: Option<&str>, payload: &[u8]) -> Result<String, JwsError> {
    let header = SigningHeader {
        alg: key.algorithm().as_str(),
        typ,
        kid: key.kid(),
    };
    let header_json = serde_json::to_vec(&header)
        .map_err(|_| JwsError::Malformed("header cannot be serialized"))?;
    sign_with_header(key, &header_json, payload)
}

/// Signs `payload` as a compact JWS with `header_json`, which the caller built for `key`'s
/// algorithm (a DPoP proof's carries its public key).
pub(crate) fn sign_with_header(
    key: &SigningKey,
    header_json: &[u8],
    payload: &[u8],
) -> Result<String, JwsError> {
    let mut token = b64::encode(header_json);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64::encode(&signature));
    Ok(token)
}

/// Decodes a token's header and payload WITHOUT verifying anything, for display by tools such as
/// `gatehouse token decode`. Never use what this returns to make a decision.
pub fn dangerous_decode_unverified(token: &str) -> Result<(Map<String, Value>, Vec<u8>), JwsError> {
    let [header, payload, _] = segments(token)?;
    let header = b64::decode(header).ok_or(JwsError::Malformed("header is not base64url"))?;
    let header = json::parse_object(&header)
        .map_err(|_| JwsError::Malformed("header is not a JSON object with unique members"))?;
    let payload = b64::decode(payload).ok_or(JwsError::Malformed("payload is not base64url"))?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = sign(&key, Some("JWT"), b"{\"a\":1}").unwrap();
            let verified = parse(&token).unwrap().verify(&key.verifying_key()).unwrap();
            assert_eq!(verified.payload(), b"{\"a\":1}");
            assert_eq!(verified.header().kid(), Some(key.kid()));
            assert_eq!(verified.header().typ(), Some("JWT"));
        }
    }

    #[test]
    fn rfc7515_section_7_1_exactly_three_segments() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let token = sign(&key, None, b"x").unwrap();
        assert!(parse(&format!("{token}.")).is_err());
        assert!(parse(&token.replacen('.', "", 1)).is_err());
        assert!(parse("").is_err());
    }
}
