//! The errors of this crate: one enum for keys, one for JWS, one for JWT access tokens.

use crate::Algorithm;
use crate::alg::UnsupportedAlgorithm;

/// Why a key could not be parsed, built, imported or exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A `kty` other than `EC`, `OKP` and `RSA`; `oct` (symmetric keys) is refused on purpose.
    #[error("unsupported key type {0:?}: only EC (P-256), OKP (Ed25519) and RSA keys are accepted")]
    UnsupportedKeyType(String),
    /// A curve other than P-256 (EC) or Ed25519 (OKP).
    #[error("unsupported curve {0:?}")]
    UnsupportedCurve(String),
    /// An `alg` outside ES256, EdDSA, RS256, PS256.
    #[error(transparent)]
    UnsupportedAlgorithm(#[from] UnsupportedAlgorithm),
    /// The key's type cannot be used with the algorithm named for it.
    #[error("a {key_type} key cannot be used with {alg}")]
    AlgorithmMismatch {
        /// The key's `kty`.
        key_type: &'static str,
        /// The algorithm asked for.
        alg: Algorithm,
    },
    /// An RSA key without `alg`: RS256 and PS256 share keys, and guessing from a token header is
    /// what RFC 8725 §3.1 forbids. Name the algorithm.
    #[error("RSA key has no \"alg\": say whether it is for RS256 or PS256")]
    AmbiguousAlgorithm,
    /// A required JWK member is missing.
    #[error("JWK member {0:?} is missing")]
    MissingMember(&'static str),
    /// A JWK member is malformed: bad base64url, wrong length, or not a valid key.
    #[error("JWK member {0:?} is invalid")]
    InvalidMember(&'static str),
    /// RSA modulus below 2048 bits (RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used").
    #[error("RSA key has {0} bits; at least 2048 are required (RFC 7518 §3.3)")]
    RsaKeyTooSmall(usize),
    /// RSA modulus above 4096 bits: refused to bound verification cost.
    #[error("RSA key has {0} bits; at most 4096 are accepted")]
    RsaKeyTooLarge(usize),
    /// The private members do not belong to the public ones.
    #[error("the private key does not match the public members of the JWK")]
    InconsistentPrivateKey,
    /// Private members where only a public key may be (a JWKS to publish).
    #[error("JWK contains private key members; a published key set must be public only")]
    PrivateMembers,
    /// A private key was needed and the JWK has only public members.
    #[error("JWK has no private key members")]
    NotAPrivateKey,
    /// `use` or `key_ops` say the key is not for this operation (RFC 7517 §4.2, §4.3).
    #[error("key is not for {0}: its \"use\" or \"key_ops\" says otherwise")]
    WrongUse(&'static str),
    /// A PEM document could not be read or written.
    #[error("PEM: {0}")]
    Pem(String),
    /// The operating system's random number generator failed.
    #[error("random number generation failed")]
    Random,
    /// Signing failed (RSA only; ECDSA and Ed25519 signing cannot fail).
    #[error("signing failed")]
    Signing,
    /// A JSON document of keys is malformed.
    #[error("malformed JWK or JWKS JSON: {0}")]
    Json(String),
}

/// Why a compact JWS was refused.
///
/// Signature failures are deliberately opaque: [`JwsError::InvalidSignature`] says nothing about
/// why, so that an attacker learns nothing from the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Longer than [`crate::jws::MAX_TOKEN_LEN`].
    #[error("token is too large")]
    TooLarge,
    /// Not three strict base64url segments, or a header that is not a JSON object with unique
    /// members.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm this crate does not verify (`none`, HMAC, …).
    #[error(transparent)]
    UnsupportedAlgorithm(#[from] UnsupportedAlgorithm),
    /// A `crit` header parameter: this crate understands no extensions, so RFC 7515 §4.1.11
    /// requires rejecting the JWS.
    #[error(
        "token has critical header parameters this verifier does not understand (RFC 7515 §4.1.11)"
    )]
    CriticalHeader,
    /// A `b64` header parameter (RFC 7797 unencoded payloads are not supported).
    #[error("unencoded payloads (b64) are not supported")]
    UnencodedPayload,
    /// The header's `alg` is not the key's algorithm (RFC 8725 §3.1).
    #[error("token algorithm does not match the key's algorithm")]
    AlgorithmMismatch,
    /// No key of the key set has the token's `kid` (or, without `kid`, its algorithm).
    #[error("no key matches the token")]
    NoMatchingKey,
    /// The signature does not verify.
    #[error("signature verification failed")]
    InvalidSignature,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Key(#[from] KeyError),
}

/// Why an RFC 9068 access token was refused.
///
/// Every variant is answered with RFC 6750 `invalid_token` (401); [`JwtError::error_code`] says
/// so and [`JwtError::public_description`] gives text that is safe to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The JWS itself was refused.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// `typ` is not `at+jwt` (RFC 9068 §4: "Resource servers MUST verify that the typ header
    /// value is "at+jwt" or "application/at+jwt" and reject tokens carrying any other value").
    #[error("token type is not at+jwt (RFC 9068 §4)")]
    WrongType,
    /// The claims are not a JSON object of the RFC 9068 §2.2 shape.
    #[error("malformed claims: {0}")]
    MalformedClaims(String),
    /// `iss` is not the expected issuer (RFC 9068 §4).
    #[error("token issuer is not the expected issuer (RFC 9068 §4)")]
    WrongIssuer,
    /// `aud` does not contain the expected audience (RFC 9068 §4).
    #[error("token audience does not include this resource (RFC 9068 §4)")]
    WrongAudience,
    /// `exp` has passed, leeway included (RFC 9068 §4, RFC 7519 §4.1.4).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future, leeway included (RFC 7519 §4.1.5).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, leeway included.
    #[error("token was issued in the future")]
    IssuedInFuture,
}

impl JwtError {
    /// The RFC 6750 §3.1 error code to answer with: always `invalid_token`.
    pub fn error_code(&self) -> &'static str {
        "invalid_token"
    }

    /// A description safe to send to the client in `error_description`: specific about time and
    /// audience, which a client can act on, silent about signatures and keys.
    pub fn public_description(&self) -> &'static str {
        match self {
            Self::Expired => "The access token expired",
            Self::NotYetValid | Self::IssuedInFuture => "The access token is not valid yet",
            Self::WrongAudience => "The access token was not issued for this resource",
            Self::WrongIssuer => "The access token was not issued by the expected issuer",
            Self::WrongType => "The token is not an access token",
            Self::Jws(_) | Self::MalformedClaims(_) => "The access token is invalid",
        }
    }
}
