//! Signing and verifying keys. The key decides the algorithm: each key knows its one algorithm,
//! and a token is verified only when its header names exactly that algorithm
//! ([RFC 8725 §3.1](https://www.rfc-editor.org/rfc/rfc8725#section-3.1)).
//!
//! Keys are held as RustCrypto types, which generate, import and export them (JWK, PKCS#8, SPKI).
//! The signatures of ES256, RS256 and PS256 are made and checked by ring, 5 to 16 times faster than
//! the RustCrypto primitives on this hardware; EdDSA stays on ed25519-dalek, whose strict
//! verification refuses small-order keys and points, which ring's does not (decision 0016).

use std::fmt;

use ed25519_dalek::Signer as _;
use rsa::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use crate::{Algorithm, KeyError};

/// Smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted: bounds the cost of a verification an attacker can ask for.
pub const MAX_RSA_BITS: usize = 4096;

pub(crate) type RsaSha256 = rsa::sha2::Sha256;

/// A private key with its algorithm and key id. Not `Clone`; `Debug` shows no key material;
/// the secret is zeroized on drop by the underlying RustCrypto types.
pub struct SigningKey {
    alg: Algorithm,
    kid: String,
    inner: SigningInner,
    signer: Signer,
}

/// ring's form of a private key, built once from the RustCrypto key.
enum Signer {
    Ecdsa(ring::signature::EcdsaKeyPair),
    Rsa(ring::signature::RsaKeyPair),
    /// EdDSA signs with ed25519-dalek.
    Dalek,
}

impl Signer {
    fn of(inner: &SigningInner) -> Result<Self, KeyError> {
        Ok(match inner {
            SigningInner::Es256(key) => {
                let public = key.verifying_key().to_sec1_point(false);
                Self::Ecdsa(
                    ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
                        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        key.to_bytes().as_slice(),
                        public.as_bytes(),
                        &ring::rand::SystemRandom::new(),
                    )
                    .map_err(|e| KeyError::Pem(format!("the P-256 key is refused: {e}")))?,
                )
            }
            SigningInner::Rs256(key) => Self::rsa((**key).as_ref())?,
            SigningInner::Ps256(key) => Self::rsa((**key).as_ref())?,
            SigningInner::EdDsa(_) => Self::Dalek,
        })
    }

    fn rsa(key: &rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map(Self::Rsa)
            .map_err(|e| KeyError::Pem(format!("the RSA key is refused: {e}")))
    }
}

/// ring's form of a public key: the bytes it verifies with.
#[derive(Clone)]
enum Checker {
    /// The uncompressed SEC1 point (65 bytes).
    Ecdsa(std::sync::Arc<[u8]>),
    /// The big-endian modulus and exponent.
    Rsa(std::sync::Arc<(Vec<u8>, Vec<u8>)>),
    /// EdDSA verifies with ed25519-dalek.
    Dalek,
}

impl Checker {
    fn of(inner: &VerifyingInner) -> Self {
        match inner {
            VerifyingInner::Es256(key) => Self::Ecdsa(key.to_sec1_point(false).as_bytes().into()),
            VerifyingInner::Rs256(key) => Self::rsa(key.as_ref()),
            VerifyingInner::Ps256(key) => Self::rsa(key.as_ref()),
            VerifyingInner::EdDsa(_) => Self::Dalek,
        }
    }

    fn rsa(key: &rsa::RsaPublicKey) -> Self {
        Self::Rsa(std::sync::Arc::new((
            key.n().to_bytes_be(),
            key.e().to_bytes_be(),
        )))
    }
}

pub(crate) enum SigningInner {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<RsaSha256>>),
    Ps256(Box<rsa::pss::BlindedSigningKey<RsaSha256>>),
}

impl SigningInner {
    /// Wraps an RSA private key for `alg` (RS256 unless PS256).
    pub(crate) fn rsa(alg: Algorithm, key: rsa::RsaPrivateKey) -> Self {
        match alg {
            Algorithm::Ps256 => Self::Ps256(Box::new(rsa::pss::BlindedSigningKey::new(key))),
            _ => Self::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(key))),
        }
    }
}

/// A public key with its algorithm and optional key id.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: Option<String>,
    inner: VerifyingInner,
    checker: Checker,
}

#[derive(Clone)]
pub(crate) enum VerifyingInner {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
    Rs256(rsa::pkcs1v15::VerifyingKey<RsaSha256>),
    Ps256(rsa::pss::VerifyingKey<RsaSha256>),
}

fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeyError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|_| KeyError::Random)?;
    Ok(bytes)
}

/// `bits` is the bit length of the modulus (`n.bits()`), not eight times its byte length, which
/// would let a 2041- to 2047-bit modulus pass as 2048 bits.
pub(crate) fn check_rsa_size(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaKeyTooSmall(bits));
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::RsaKeyTooLarge(bits));
    }
    Ok(())
}

impl SigningKey {
    /// Generates a new key for `alg` from the operating system's random number generator. Its
    /// `kid` is its RFC 7638 thumbprint. RSA keys are 2048 bits (generated by `rsa`, signed with
    /// by ring, which RUSTSEC-2023-0071 does not concern; decision 0016).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let inner = match alg {
            Algorithm::Es256 => {
                // A uniformly random 32-byte string is a valid scalar except with probability
                // about 2^-32; retry in that case rather than bias the key.
                let mut attempts = 0;
                loop {
                    let bytes = random_bytes::<32>()?;
                    if let Ok(key) = p256::ecdsa::SigningKey::from_slice(bytes.as_slice()) {
                        break SigningInner::Es256(key);
                    }
                    attempts += 1;
                    if attempts > 8 {
                        return Err(KeyError::Random);
                    }
                }
            }
            Algorithm::EdDsa => SigningInner::EdDsa(ed25519_dalek::SigningKey::from_bytes(
                &*random_bytes::<32>()?,
            )),
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, MIN_RSA_BITS)
                    .map_err(|_| KeyError::Random)?;
                SigningInner::rsa(alg, key)
            }
        };
        Self::from_inner(alg, inner)
    }

    pub(crate) fn from_inner(alg: Algorithm, inner: SigningInner) -> Result<Self, KeyError> {
        let signer = Signer::of(&inner)?;
        let mut key = Self {
            alg,
            kid: String::new(),
            inner,
            signer,
        };
        key.kid = key.verifying_key().thumbprint();
        Ok(key)
    }

    pub(crate) fn inner(&self) -> &SigningInner {
        &self.inner
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id written into every header this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Replaces the key id (by default the RFC 7638 thumbprint).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The public half, with the same algorithm and key id.
    pub fn verifying_key(&self) -> VerifyingKey {
        let inner = match &self.inner {
            SigningInner::Es256(key) => VerifyingInner::Es256(*key.verifying_key()),
            SigningInner::EdDsa(key) => VerifyingInner::EdDsa(key.verifying_key()),
            SigningInner::Rs256(key) => {
                rsa_verifying_inner(self.alg, (**key).as_ref().to_public_key())
            }
            SigningInner::Ps256(key) => {
                rsa_verifying_inner(self.alg, (**key).as_ref().to_public_key())
            }
        };
        VerifyingKey::from_parts(
            self.alg,
            (!self.kid.is_empty()).then(|| self.kid.clone()),
            inner,
        )
    }

    /// Signs `message` (the JWS signing input) and returns the JWS signature bytes: `r‖s` for
    /// ES256 (RFC 7518 §3.4), 64 bytes for EdDSA, the modulus length for RSA.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        match (&self.signer, &self.inner) {
            (Signer::Ecdsa(pair), _) => pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            // ring blinds the private-key operation; PSS draws its salt from `rng`.
            (Signer::Rsa(pair), _) => {
                let padding: &'static dyn ring::signature::RsaEncoding = match self.alg {
                    Algorithm::Ps256 => &ring::signature::RSA_PSS_SHA256,
                    _ => &ring::signature::RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(padding, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
            (Signer::Dalek, SigningInner::EdDsa(key)) => Ok(key.sign(message).to_bytes().to_vec()),
            (Signer::Dalek, _) => Err(KeyError::Signing),
        }
    }

    /// Reads a PKCS#8 private key in PEM form (`-----BEGIN PRIVATE KEY-----`). The algorithm is
    /// given because an RSA key serves RS256 and PS256 alike; it must fit the key's type.
    pub fn from_pkcs8_pem(pem: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let pem_error = |e: &dyn fmt::Display| KeyError::Pem(e.to_string());
        let inner = match alg {
            Algorithm::Es256 => SigningInner::Es256(
                <p256::ecdsa::SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem)
                    .map_err(|e| pem_error(&e))?,
            ),
            Algorithm::EdDsa => SigningInner::EdDsa(
                <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem)
                    .map_err(|e| pem_error(&e))?,
            ),
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| pem_error(&e))?;
                check_rsa_size(key.n().bits())?;
                SigningInner::rsa(alg, key)
            }
        };
        Self::from_inner(alg, inner)
    }

    /// Writes the private key as PKCS#8 PEM. The string is zeroized when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let line_ending = rsa::pkcs8::LineEnding::LF;
        let pem_error = |e: &dyn fmt::Display| KeyError::Pem(e.to_string());
        match &self.inner {
            SigningInner::Es256(key) => {
                use p256::pkcs8::EncodePrivateKey as _;
                key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                    .map_err(|e| pem_error(&e))
            }
            SigningInner::EdDsa(key) => {
                use ed25519_dalek::pkcs8::EncodePrivateKey as _;
                key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                    .map_err(|e| pem_error(&e))
            }
            SigningInner::Rs256(key) => (**key)
                .as_ref()
                .to_pkcs8_pem(line_ending)
                .map_err(|e| pem_error(&e)),
            SigningInner::Ps256(key) => (**key)
                .as_ref()
                .to_pkcs8_pem(line_ending)
                .map_err(|e| pem_error(&e)),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

pub(crate) fn rsa_verifying_inner(alg: Algorithm, key: rsa::RsaPublicKey) -> VerifyingInner {
    match alg {
        Algorithm::Ps256 => VerifyingInner::Ps256(rsa::pss::VerifyingKey::new(key)),
        _ => VerifyingInner::Rs256(rsa::pkcs1v15::VerifyingKey::new(key)),
    }
}

/// Why a signature did not verify. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature verification failed")]
pub struct SignatureError;

impl VerifyingKey {
    pub(crate) fn from_parts(alg: Algorithm, kid: Option<String>, inner: VerifyingInner) -> Self {
        let checker = Checker::of(&inner);
        Self {
            alg,
            kid,
            inner,
            checker,
        }
    }

    pub(crate) fn inner(&self) -> &VerifyingInner {
        &self.inner
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Verifies a JWS signature over `message`.
    ///
    /// ES256 signatures must be the 64-byte `r‖s` form (RFC 7518 §3.4); DER is refused by its
    /// length, and `r` or `s` equal to zero or not below the group order are refused. EdDSA uses
    /// strict verification (canonical `S`, no small-order keys or `R`). RSA signatures must be
    /// exactly the modulus length.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        use ring::signature::{self as ring_signature, VerificationAlgorithm as _};
        match (&self.checker, &self.inner) {
            (Checker::Ecdsa(point), _) => {
                if signature.len() != 64 {
                    return Err(SignatureError);
                }
                ring_signature::ECDSA_P256_SHA256_FIXED
                    .verify(point.as_ref().into(), message.into(), signature.into())
                    .map_err(|_| SignatureError)
            }
            (Checker::Rsa(parts), _) => {
                let (n, e) = parts.as_ref();
                if signature.len() != n.len() {
                    return Err(SignatureError);
                }
                let params = match self.alg {
                    Algorithm::Ps256 => &ring_signature::RSA_PSS_2048_8192_SHA256,
                    _ => &ring_signature::RSA_PKCS1_2048_8192_SHA256,
                };
                ring_signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .map_err(|_| SignatureError)
            }
            (Checker::Dalek, VerifyingInner::EdDsa(key)) => {
                let bytes: &[u8; 64] = signature.try_into().map_err(|_| SignatureError)?;
                let signature = ed25519_dalek::Signature::from_bytes(bytes);
                key.verify_strict(message, &signature)
                    .map_err(|_| SignatureError)
            }
            (Checker::Dalek, _) => Err(SignatureError),
        }
    }

    /// Reads an SPKI public key in PEM form (`-----BEGIN PUBLIC KEY-----`) for `alg`.
    pub fn from_spki_pem(pem: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let pem_error = |e: &dyn fmt::Display| KeyError::Pem(e.to_string());
        let inner = match alg {
            Algorithm::Es256 => {
                use p256::pkcs8::DecodePublicKey as _;
                VerifyingInner::Es256(
                    p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
                        .map_err(|e| pem_error(&e))?,
                )
            }
            Algorithm::EdDsa => {
                use ed25519_dalek::pkcs8::DecodePublicKey as _;
                VerifyingInner::EdDsa(
                    ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                        .map_err(|e| pem_error(&e))?,
                )
            }
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let key = rsa::RsaPublicKey::from_public_key_pem(pem).map_err(|e| pem_error(&e))?;
                check_rsa_size(key.n().bits())?;
                rsa_verifying_inner(alg, key)
            }
        };
        let mut key = Self::from_parts(alg, None, inner);
        key.kid = Some(key.thumbprint());
        Ok(key)
    }

    /// Writes the public key as SPKI PEM.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        let pem_error = |e: &dyn fmt::Display| KeyError::Pem(e.to_string());
        match &self.inner {
            VerifyingInner::Es256(key) => {
                use p256::pkcs8::EncodePublicKey as _;
                key.to_public_key_pem(p256::pkcs8::LineEnding::LF)
                    .map_err(|e| pem_error(&e))
            }
            VerifyingInner::EdDsa(key) => {
                use ed25519_dalek::pkcs8::EncodePublicKey as _;
                key.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                    .map_err(|e| pem_error(&e))
            }
            VerifyingInner::Rs256(key) => key
                .as_ref()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| pem_error(&e)),
            VerifyingInner::Ps256(key) => key
                .as_ref()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| pem_error(&e)),
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
