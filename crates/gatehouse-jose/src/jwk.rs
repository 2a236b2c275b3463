//! JSON Web Keys ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517)) for the key types of this
//! crate, their conversion to and from keys, and RFC 7638 thumbprints.

use std::collections::BTreeMap;
use std::fmt;

use rsa::BigUint;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::keys::{SigningInner, VerifyingInner, check_rsa_size, rsa_verifying_inner};
use crate::{Algorithm, KeyError, SigningKey, VerifyingKey, b64, json};

/// A private JWK member (`d`, `p`, `q`, `dp`, `dq`, `qi`): zeroized on drop, redacted in `Debug`.
#[derive(PartialEq, Eq)]
pub struct PrivateParam(Zeroizing<String>);

impl Serialize for PrivateParam {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PrivateParam {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl PrivateParam {
    fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The base64url value.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Members that only private keys have ([RFC 7518 §6.2.2, §6.3.2, §6.4.1](https://www.rfc-editor.org/rfc/rfc7518#section-6),
/// RFC 8037 §2). `oth` (multi-prime RSA) and `k` (symmetric keys) count too.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JSON Web Key: the members this crate reads by name, everything else in `extra`.
///
/// Not `Clone`, because it may hold private members; see [`Jwk::is_private`].
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// `kty`: `EC`, `OKP` or `RSA` for keys this crate can use.
    pub kty: String,
    /// `use`: `sig` or `enc` (RFC 7517 §4.2).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// `key_ops` (RFC 7517 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// `alg` (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `kid` (RFC 7517 §4.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `crv`: `P-256` or `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC or OKP public coordinate `x`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC public coordinate `y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private: EC/OKP private key, or RSA private exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<PrivateParam>,
    /// Private: RSA first prime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<PrivateParam>,
    /// Private: RSA second prime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<PrivateParam>,
    /// Private: RSA first factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<PrivateParam>,
    /// Private: RSA second factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<PrivateParam>,
    /// Private: RSA first CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<PrivateParam>,
    /// Other members (`x5c`, `x5t#S256`, …), kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Jwk {
    fn empty(kty: &str) -> Self {
        Self {
            kty: kty.to_owned(),
            key_use: None,
            key_ops: None,
            alg: None,
            kid: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            extra: BTreeMap::new(),
        }
    }

    /// Parses a JWK, refusing duplicate members.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let object = json::parse_object(bytes).map_err(|e| KeyError::Json(e.to_string()))?;
        Self::from_object(object)
    }

    pub(crate) fn from_object(
        object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, KeyError> {
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|e| KeyError::Json(e.to_string()))
    }

    /// The JWK as JSON, private members included if it has them.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether any private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is present.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
            || self.p.is_some()
            || self.q.is_some()
            || self.dp.is_some()
            || self.dq.is_some()
            || self.qi.is_some()
            || PRIVATE_MEMBERS.iter().any(|m| self.extra.contains_key(*m))
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required public members in lexicographic order,
    /// base64url-encoded ([RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3)).
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        let member = required;
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                json_string_body(member(&self.crv, "crv")?),
                json_string_body(member(&self.x, "x")?),
                json_string_body(member(&self.y, "y")?)
            ),
            "OKP" => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                json_string_body(member(&self.crv, "crv")?),
                json_string_body(member(&self.x, "x")?)
            ),
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                json_string_body(member(&self.e, "e")?),
                json_string_body(member(&self.n, "n")?)
            ),
            other => return Err(KeyError::UnsupportedKeyType(truncate(other))),
        };
        Ok(b64::encode(&sha2::Sha256::digest(canonical.as_bytes())))
    }

    /// Whether `use` and `key_ops` allow `operation` (`"sign"` or `"verify"`)
    /// ([RFC 7517 §4.2, §4.3](https://www.rfc-editor.org/rfc/rfc7517#section-4.2)).
    fn check_use(&self, operation: &'static str) -> Result<(), KeyError> {
        if self.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::WrongUse(operation));
        }
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == operation))
        {
            return Err(KeyError::WrongUse(operation));
        }
        Ok(())
    }

    /// The algorithm the key is for: `alg` if present (it must agree with `requested`), else
    /// `requested`, else the only algorithm of its type. RSA keys name two algorithms, so an RSA
    /// key with neither is [`KeyError::AmbiguousAlgorithm`].
    fn algorithm(&self, requested: Option<Algorithm>) -> Result<Algorithm, KeyError> {
        let declared = self
            .alg
            .as_deref()
            .map(str::parse::<Algorithm>)
            .transpose()?;
        let alg = match (declared, requested) {
            (Some(declared), Some(requested)) if declared != requested => {
                return Err(KeyError::AlgorithmMismatch {
                    key_type: key_type_name(&self.kty),
                    alg: requested,
                });
            }
            (Some(alg), _) | (None, Some(alg)) => alg,
            (None, None) => match self.kty.as_str() {
                "EC" => Algorithm::Es256,
                "OKP" => Algorithm::EdDsa,
                "RSA" => return Err(KeyError::AmbiguousAlgorithm),
                other => return Err(KeyError::UnsupportedKeyType(truncate(other))),
            },
        };
        if alg.key_type() != self.kty {
            return Err(KeyError::AlgorithmMismatch {
                key_type: key_type_name(&self.kty),
                alg,
            });
        }
        Ok(alg)
    }

    fn check_curve(&self, expected: &str) -> Result<(), KeyError> {
        match self.crv.as_deref() {
            Some(crv) if crv == expected => Ok(()),
            Some(other) => Err(KeyError::UnsupportedCurve(truncate(other))),
            None => Err(KeyError::MissingMember("crv")),
        }
    }
}

fn key_type_name(kty: &str) -> &'static str {
    match kty {
        "EC" => "EC",
        "OKP" => "OKP",
        "RSA" => "RSA",
        _ => "unsupported",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// The members hashed by a thumbprint are base64url strings or short names; anything that would
/// need escaping is not a valid member value, and is escaped rather than trusted.
fn json_string_body(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map(str::to_owned)
        .unwrap_or(quoted)
}

fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, KeyError> {
    value.as_deref().ok_or(KeyError::MissingMember(name))
}

fn required_private<'a>(
    value: &'a Option<PrivateParam>,
    name: &'static str,
) -> Result<&'a str, KeyError> {
    value
        .as_ref()
        .map(PrivateParam::expose_secret)
        .ok_or(KeyError::MissingMember(name))
}

fn coordinate(value: &str, name: &'static str) -> Result<[u8; 32], KeyError> {
    b64::decode_key_array::<32>(value).ok_or(KeyError::InvalidMember(name))
}

/// A `Base64urlUInt` ([RFC 7518 §2](https://www.rfc-editor.org/rfc/rfc7518#section-2)): "The
/// octet sequence MUST utilize the minimum number of octets needed to represent the value."
fn uint(value: &str, name: &'static str) -> Result<BigUint, KeyError> {
    let bytes = b64::decode_key_material(value).ok_or(KeyError::InvalidMember(name))?;
    match bytes.as_slice() {
        [] => Err(KeyError::InvalidMember(name)),
        [0, _, ..] => Err(KeyError::InvalidMember(name)),
        _ => Ok(BigUint::from_bytes_be(&bytes)),
    }
}

fn uint_b64(value: &BigUint) -> String {
    b64::encode(&value.to_bytes_be())
}

fn ec_public(jwk: &Jwk) -> Result<p256::ecdsa::VerifyingKey, KeyError> {
    jwk.check_curve("P-256")?;
    let x = coordinate(required(&jwk.x, "x")?, "x")?;
    let y = coordinate(required(&jwk.y, "y")?, "y")?;
    // SEC1 uncompressed point: 0x04 ‖ x ‖ y.
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| KeyError::InvalidMember("x"))
}

fn okp_public(jwk: &Jwk) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    jwk.check_curve("Ed25519")?;
    let x = coordinate(required(&jwk.x, "x")?, "x")?;
    ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| KeyError::InvalidMember("x"))
}

fn rsa_public(jwk: &Jwk) -> Result<rsa::RsaPublicKey, KeyError> {
    let n = uint(required(&jwk.n, "n")?, "n")?;
    let e = uint(required(&jwk.e, "e")?, "e")?;
    check_rsa_size(n.bits())?;
    rsa::RsaPublicKey::new(n, e).map_err(|_| KeyError::InvalidMember("n"))
}

impl VerifyingKey {
    /// A verifying key from a JWK. The algorithm comes from the JWK's `alg`; without one, EC
    /// keys are ES256 and OKP keys EdDSA, and RSA keys are refused as ambiguous (use
    /// [`VerifyingKey::from_jwk_as`]). `use` and `key_ops` must allow verification; private
    /// members are ignored.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        Self::from_jwk_inner(jwk, None)
    }

    /// Like [`VerifyingKey::from_jwk`], for a JWK that is known to be for `alg`. A JWK whose own
    /// `alg` says otherwise is refused.
    pub fn from_jwk_as(jwk: &Jwk, alg: Algorithm) -> Result<Self, KeyError> {
        Self::from_jwk_inner(jwk, Some(alg))
    }

    fn from_jwk_inner(jwk: &Jwk, requested: Option<Algorithm>) -> Result<Self, KeyError> {
        jwk.check_use("verify")?;
        let alg = jwk.algorithm(requested)?;
        let inner = match alg {
            Algorithm::Es256 => VerifyingInner::Es256(ec_public(jwk)?),
            Algorithm::EdDsa => VerifyingInner::EdDsa(okp_public(jwk)?),
            Algorithm::Rs256 | Algorithm::Ps256 => rsa_verifying_inner(alg, rsa_public(jwk)?),
        };
        let kid = match &jwk.kid {
            Some(kid) => kid.clone(),
            None => jwk.thumbprint()?,
        };
        Ok(Self::from_parts(alg, Some(kid), inner))
    }

    /// The public JWK: `kty`, `crv`/`x`/`y` or `n`/`e`, `alg`, `use: sig` and `kid`.
    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = match self.inner() {
            VerifyingInner::Es256(key) => {
                let point = key.to_sec1_point(false);
                let mut jwk = Jwk::empty("EC");
                jwk.crv = Some("P-256".to_owned());
                jwk.x = point.x().map(|x| b64::encode(x));
                jwk.y = point.y().map(|y| b64::encode(y));
                jwk
            }
            VerifyingInner::EdDsa(key) => {
                let mut jwk = Jwk::empty("OKP");
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(b64::encode(key.as_bytes()));
                jwk
            }
            VerifyingInner::Rs256(key) => rsa_public_jwk(key.as_ref()),
            VerifyingInner::Ps256(key) => rsa_public_jwk(key.as_ref()),
        };
        jwk.alg = Some(self.algorithm().as_str().to_owned());
        jwk.key_use = Some("sig".to_owned());
        jwk.kid = self.kid().map(str::to_owned);
        jwk
    }

    /// The RFC 7638 thumbprint of this key.
    pub fn thumbprint(&self) -> String {
        let mut jwk = self.to_jwk();
        jwk.kid = None;
        // Every member the thumbprint needs is set by `to_jwk`.
        jwk.thumbprint().unwrap_or_default()
    }
}

fn rsa_public_jwk(key: &rsa::RsaPublicKey) -> Jwk {
    let mut jwk = Jwk::empty("RSA");
    jwk.n = Some(uint_b64(key.n()));
    jwk.e = Some(uint_b64(key.e()));
    jwk
}

impl SigningKey {
    /// A signing key from a private JWK. The algorithm is chosen as in
    /// [`VerifyingKey::from_jwk`]; `use`/`key_ops` must allow signing; the public members must
    /// belong to the private key.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        Self::from_jwk_inner(jwk, None)
    }

    /// Like [`SigningKey::from_jwk`], for a JWK known to be for `alg`.
    pub fn from_jwk_as(jwk: &Jwk, alg: Algorithm) -> Result<Self, KeyError> {
        Self::from_jwk_inner(jwk, Some(alg))
    }

    fn from_jwk_inner(jwk: &Jwk, requested: Option<Algorithm>) -> Result<Self, KeyError> {
        if jwk.d.is_none() {
            return Err(KeyError::NotAPrivateKey);
        }
        jwk.check_use("sign")?;
        let alg = jwk.algorithm(requested)?;
        let inner = match alg {
            Algorithm::Es256 => {
                let public = ec_public(jwk)?;
                let d = Zeroizing::new(coordinate(required_private(&jwk.d, "d")?, "d")?);
                let key = p256::ecdsa::SigningKey::from_slice(d.as_slice())
                    .map_err(|_| KeyError::InvalidMember("d"))?;
                if *key.verifying_key() != public {
                    return Err(KeyError::InconsistentPrivateKey);
                }
                SigningInner::Es256(key)
            }
            Algorithm::EdDsa => {
                let public = okp_public(jwk)?;
                let d = Zeroizing::new(coordinate(required_private(&jwk.d, "d")?, "d")?);
                let key = ed25519_dalek::SigningKey::from_bytes(&d);
                if key.verifying_key() != public {
                    return Err(KeyError::InconsistentPrivateKey);
                }
                SigningInner::EdDsa(key)
            }
            Algorithm::Rs256 | Algorithm::Ps256 => {
                if jwk.extra.contains_key("oth") {
                    return Err(KeyError::InvalidMember("oth"));
                }
                let public = rsa_public(jwk)?;
                let d = uint(required_private(&jwk.d, "d")?, "d")?;
                let p = uint(required_private(&jwk.p, "p")?, "p")?;
                let q = uint(required_private(&jwk.q, "q")?, "q")?;
                let key = rsa::RsaPrivateKey::from_components(
                    public.n().clone(),
                    public.e().clone(),
                    d,
                    vec![p, q],
                )
                .map_err(|_| KeyError::InconsistentPrivateKey)?;
                key.validate()
                    .map_err(|_| KeyError::InconsistentPrivateKey)?;
                check_crt_members(jwk, &key)?;
                SigningInner::rsa(alg, key)
            }
        };
        let key = Self::from_inner(alg, inner)?;
        Ok(match &jwk.kid {
            Some(kid) => key.with_kid(kid.clone()),
            None => key,
        })
    }

    /// The private JWK: the public members plus `d` (and for RSA `p`, `q`, `dp`, `dq`, `qi`).
    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = self.verifying_key().to_jwk();
        match self.inner() {
            SigningInner::Es256(key) => {
                let d = Zeroizing::new(key.to_bytes());
                jwk.d = Some(PrivateParam::new(b64::encode(d.as_slice())));
            }
            SigningInner::EdDsa(key) => {
                let d = Zeroizing::new(key.to_bytes());
                jwk.d = Some(PrivateParam::new(b64::encode(d.as_slice())));
            }
            SigningInner::Rs256(key) => rsa_private_members(&mut jwk, (**key).as_ref()),
            SigningInner::Ps256(key) => rsa_private_members(&mut jwk, (**key).as_ref()),
        }
        jwk
    }
}

/// `dp`, `dq` and `qi` are optional in a JWK, and recomputed from `p` and `q` anyway; but values
/// that are present must be the right ones, or the JWK is not one key (RFC 7518 §6.3.2).
fn check_crt_members(jwk: &Jwk, key: &rsa::RsaPrivateKey) -> Result<(), KeyError> {
    let expected = [
        ("dp", &jwk.dp, key.dp().cloned()),
        ("dq", &jwk.dq, key.dq().cloned()),
        ("qi", &jwk.qi, key.qinv().and_then(|q| q.to_biguint())),
    ];
    for (name, given, computed) in expected {
        if let Some(given) = given {
            let given = uint(given.expose_secret(), name)?;
            if Some(given) != computed {
                return Err(KeyError::InconsistentPrivateKey);
            }
        }
    }
    Ok(())
}

fn rsa_private_members(jwk: &mut Jwk, key: &rsa::RsaPrivateKey) {
    let private = |value: &BigUint| Some(PrivateParam::new(uint_b64(value)));
    jwk.d = private(key.d());
    if let [p, q] = key.primes() {
        jwk.p = private(p);
        jwk.q = private(q);
    }
    jwk.dp = key.dp().and_then(private);
    jwk.dq = key.dq().and_then(private);
    jwk.qi = key
        .qinv()
        .and_then(|qinv| qinv.to_biguint())
        .and_then(|qinv| private(&qinv));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7518_section_2_base64urluint_has_no_leading_zeros() {
        assert!(uint("AQAB", "e").is_ok());
        assert!(uint("AAEAAQ", "e").is_err());
        assert!(uint("", "e").is_err());
    }

    #[test]
    fn debug_never_prints_private_members() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let jwk = key.to_jwk();
        let secret = jwk.d.as_ref().unwrap().expose_secret().to_owned();
        assert!(!format!("{jwk:?}").contains(&secret));
        assert!(jwk.is_private());
        assert!(!key.verifying_key().to_jwk().is_private());
    }

    #[test]
    fn rfc7518_section_6_3_2_inconsistent_crt_members_are_refused() {
        let key = SigningKey::generate(Algorithm::Rs256).unwrap();
        let mut jwk = key.to_jwk();
        assert!(SigningKey::from_jwk(&jwk).is_ok());
        let dq = jwk.dq.as_ref().unwrap().expose_secret().to_owned();
        jwk.dp = Some(PrivateParam::new(dq));
        assert_eq!(
            SigningKey::from_jwk(&jwk).err(),
            Some(KeyError::InconsistentPrivateKey)
        );
    }

    #[test]
    fn jwk_round_trips_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let private = Jwk::from_json(key.to_jwk().to_json().as_bytes()).unwrap();
            let again = SigningKey::from_jwk(&private).unwrap();
            assert_eq!(again.algorithm(), alg);
            assert_eq!(again.kid(), key.kid());
            let public = VerifyingKey::from_jwk(&key.verifying_key().to_jwk()).unwrap();
            let signature = again.sign(b"message").unwrap();
            public.verify(b"message", &signature).unwrap();
        }
    }
}
