//! Key sets: the JWKS document ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)),
//! the public-only set a server publishes, and the set of verifying keys a verifier uses.

use serde::{Deserialize, Serialize};

use crate::{Algorithm, Jwk, KeyError, VerifyingKey, json};

/// A JWK Set as parsed: it may hold keys this crate cannot use, and private members.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The `keys` member of a JWK Set, each key an object without duplicate members.
#[derive(Deserialize)]
struct StrictKeys {
    keys: Vec<json::UniqueObject>,
}

/// Most keys a set may hold: a published set has a handful; this bounds hostile input.
pub const MAX_KEYS: usize = 64;

impl Jwks {
    /// Parses a JWK Set, refusing duplicate members in the set and in each key.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let keys = Self::key_objects(bytes)?
            .into_iter()
            .map(Jwk::from_object)
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The set's keys as strictly parsed JSON objects, not yet read as JWKs.
    fn key_objects(
        bytes: &[u8],
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, KeyError> {
        let object = json::parse_object(bytes).map_err(|e| KeyError::Json(e.to_string()))?;
        match object.get("keys") {
            Some(serde_json::Value::Array(values)) if values.len() > MAX_KEYS => {
                return Err(KeyError::Json(format!("more than {MAX_KEYS} keys")));
            }
            Some(serde_json::Value::Array(_)) => {}
            _ => return Err(KeyError::MissingMember("keys")),
        }
        // The keys are read a second time, from the text: a `serde_json::Value` silently keeps
        // the last of duplicate members, so duplicates inside a key (RFC 7517 §4) are only seen
        // while parsing.
        let StrictKeys { keys } =
            serde_json::from_slice(bytes).map_err(|e| KeyError::Json(e.to_string()))?;
        Ok(keys.into_iter().map(|key| key.0).collect())
    }

    /// Parses text that is either a JWK Set or a single JWK (what an operator hands to
    /// `gatehouse jws verify --jwk FILE`).
    pub fn from_jwk_or_jwks(bytes: &[u8]) -> Result<Self, KeyError> {
        let object = json::parse_object(bytes).map_err(|e| KeyError::Json(e.to_string()))?;
        if object.contains_key("keys") {
            Self::from_json(bytes)
        } else {
            Ok(Self {
                keys: vec![Jwk::from_object(object)?],
            })
        }
    }
}

/// A JWK Set that is safe to publish: built only from verifying keys, or from a parsed set that
/// was checked to hold no private member, so it can never leak a private key.
#[derive(Debug, PartialEq, Serialize)]
pub struct PublicJwks {
    keys: Vec<Jwk>,
}

impl PublicJwks {
    /// The set of the public JWKs of `keys`.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a VerifyingKey>) -> Self {
        Self {
            keys: keys.into_iter().map(VerifyingKey::to_jwk).collect(),
        }
    }

    /// Accepts a parsed set for publishing only if no key has a private member.
    pub fn from_jwks(jwks: Jwks) -> Result<Self, KeyError> {
        if jwks.keys.iter().any(Jwk::is_private) {
            return Err(KeyError::PrivateMembers);
        }
        Ok(Self { keys: jwks.keys })
    }

    /// The keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The set as JSON, for the `jwks_uri` document.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }
}

/// The verifying keys a verifier trusts, with key selection by `kid` and algorithm.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// A set of the given keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self { keys }
    }

    /// The usable keys of a JWK Set, and why each other key was ignored. Keys for encryption,
    /// of unsupported types, or RSA keys without `alg` are ignored rather than fatal: an issuer's
    /// set may legitimately hold keys for other purposes.
    pub fn from_jwks(jwks: &Jwks) -> (Self, Vec<KeyError>) {
        let mut keys = Vec::new();
        let mut ignored = Vec::new();
        for jwk in &jwks.keys {
            match VerifyingKey::from_jwk(jwk) {
                Ok(key) => keys.push(key),
                Err(error) => ignored.push(error),
            }
        }
        (Self { keys }, ignored)
    }

    /// The usable keys of a JWK Set document, read leniently key by key: the document itself
    /// must be a well-formed set (a JSON object with unique members and a `keys` array), but a
    /// key that does not even parse as a JWK (say `"key_ops": "sign"`) is ignored like any other
    /// unusable key instead of failing the whole set. This is what a verifier fetching an
    /// issuer's `jwks_uri` wants.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<(Self, Vec<KeyError>), KeyError> {
        Self::read_jwks(bytes, None)
    }

    /// [`KeySet::from_jwks_json`], where an RSA key without `alg` is taken as a key for
    /// `rsa_alg`, as the context defines it: an OpenID provider's ID tokens are RS256 unless
    /// registered otherwise (OpenID Connect Core §3.1.3.7 item 7, Registration's
    /// `id_token_signed_response_alg`), and some providers (Microsoft Entra ID) publish their
    /// keys without `alg`. Each key still verifies only its one algorithm.
    pub fn from_jwks_json_assuming_rsa(
        bytes: &[u8],
        rsa_alg: Algorithm,
    ) -> Result<(Self, Vec<KeyError>), KeyError> {
        Self::read_jwks(bytes, Some(rsa_alg))
    }

    fn read_jwks(
        bytes: &[u8],
        rsa_alg: Option<Algorithm>,
    ) -> Result<(Self, Vec<KeyError>), KeyError> {
        let mut keys = Vec::new();
        let mut ignored = Vec::new();
        for object in Jwks::key_objects(bytes)? {
            let key = Jwk::from_object(object).and_then(|jwk| {
                match (VerifyingKey::from_jwk(&jwk), rsa_alg) {
                    (Err(KeyError::AmbiguousAlgorithm), Some(alg)) => {
                        VerifyingKey::from_jwk_as(&jwk, alg)
                    }
                    (key, _) => key,
                }
            });
            match key {
                Ok(key) => keys.push(key),
                Err(error) => ignored.push(error),
            }
        }
        Ok((Self { keys }, ignored))
    }

    /// The keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some key has this `kid` (a verifier refetches the JWKS only for unknown ids).
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The keys that may verify a token with this header: with a `kid`, the keys with that id;
    /// without one, the keys of the header's algorithm. The caller still requires the key's
    /// algorithm to equal the header's.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys.iter().filter(move |key| match kid {
            Some(kid) => key.kid() == Some(kid),
            None => key.algorithm() == alg,
        })
    }
}

#[cfg(test)]
mod lenient_tests {
    use super::*;
    use crate::{Algorithm, SigningKey};

    #[test]
    fn a_malformed_key_does_not_hide_the_good_ones() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let good = key.verifying_key().to_jwk().to_json();
        let document = format!(r#"{{"keys":[{{"kty":"EC","key_ops":"sign"}},{good}]}}"#);
        assert!(Jwks::from_json(document.as_bytes()).is_err());
        let (set, ignored) = KeySet::from_jwks_json(document.as_bytes()).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(ignored.len(), 1);
        assert!(KeySet::from_jwks_json(br#"{"keys":[],"keys":[]}"#).is_err());
    }

    /// OpenID Connect Core §3.1.3.7 item 7: an OpenID provider's RSA key without `alg` (Entra
    /// ID publishes them so) is taken for RS256, and verifies RS256 alone (RFC 8725 §3.1).
    #[test]
    fn an_rsa_key_without_alg_is_taken_for_the_algorithm_the_context_names() {
        let key = SigningKey::generate(Algorithm::Rs256)
            .unwrap()
            .with_kid("entra");
        let mut jwk = key.verifying_key().to_jwk();
        jwk.alg = None;
        let document = format!(r#"{{"keys":[{}]}}"#, jwk.to_json());
        let (strict, ignored) = KeySet::from_jwks_json(document.as_bytes()).unwrap();
        assert!(strict.is_empty());
        assert!(matches!(ignored.as_slice(), [KeyError::AmbiguousAlgorithm]));
        let (assumed, _) =
            KeySet::from_jwks_json_assuming_rsa(document.as_bytes(), Algorithm::Rs256).unwrap();
        let [only] = assumed.keys() else {
            panic!("one key expected")
        };
        assert_eq!(only.algorithm(), Algorithm::Rs256);
        let token = crate::jws::sign(&key, Some("JWT"), b"{}").unwrap();
        assert!(
            crate::jws::parse(&token)
                .unwrap()
                .verify_with(&assumed)
                .is_ok()
        );
        let ps = SigningKey::generate(Algorithm::Ps256)
            .unwrap()
            .with_kid("entra");
        let forged = crate::jws::sign(&ps, Some("JWT"), b"{}").unwrap();
        assert!(
            crate::jws::parse(&forged)
                .unwrap()
                .verify_with(&assumed)
                .is_err()
        );
    }
}
