//! JWS, JWK/JWKS and RFC 9068 JWT access tokens that cannot be misused.
//!
//! - Four algorithms: ES256 (the default), EdDSA (Ed25519), RS256 and PS256. There is no `none`
//!   and no HMAC anywhere, so the classic "alg: none" and "HS256 keyed with the RSA public key"
//!   attacks have nothing to attack.
//! - The key decides the algorithm. A [`VerifyingKey`] knows its one algorithm and a token is
//!   verified only if its header names exactly that one
//!   ([RFC 8725 §3.1](https://www.rfc-editor.org/rfc/rfc8725#section-3.1)); an RSA key for RS256
//!   does not verify PS256.
//! - Strict parsing: base64url without padding and with canonical trailing bits, duplicate header
//!   and claim names refused, `crit` and `b64` refused, size limits.
//! - The payload is reachable only from a [`jws::VerifiedJws`]; claims only from an
//!   [`AccessToken`].
//! - Private keys are not `Clone`, print no key material and are zeroized on drop. A
//!   [`PublicJwks`] is built only from public keys, so a published key set cannot leak one.
//! - The clock is an argument: [`AccessTokenValidator::validate`] takes `now`.
//!
//! - DPoP proofs ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): [`verify_proof`] makes
//!   every check of §4.3 that needs only the proof and the request, and [`DpopProver`] makes
//!   proofs for clients.
//!
//! This crate knows nothing about OAuth beyond RFC 9068's claim names and the DPoP proof.
//!
//! ```
//! use gatehouse_jose::{AccessTokenClaims, AccessTokenValidator, Algorithm, Audience, KeySet, SigningKey, sign_access_token};
//!
//! let key = SigningKey::generate(Algorithm::Es256)?;
//! let claims = AccessTokenClaims {
//!     iss: "https://auth.example.com".into(),
//!     sub: "alice".into(),
//!     aud: Audience::One("https://mcp.example.com/mcp".into()),
//!     exp: 1_700_000_600,
//!     iat: 1_700_000_000,
//!     jti: "b3f1".into(),
//!     client_id: "client-1".into(),
//!     nbf: None,
//!     scope: Some("mcp:tools".into()),
//!     extra: Default::default(),
//! };
//! let token = sign_access_token(&key, &claims)?;
//!
//! let keys = KeySet::new(vec![key.verifying_key()]);
//! let validator = AccessTokenValidator::new("https://auth.example.com", "https://mcp.example.com/mcp");
//! let verified = validator.validate(&token, &keys, 1_700_000_100)?;
//! assert_eq!(verified.claims().sub, "alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod alg;
mod assertion;
mod b64;
pub mod dpop;
mod error;
mod id_token;
mod json;
mod jwk;
mod jwks;
pub mod jws;
mod jwt;
mod keys;

pub use alg::{Algorithm, UnsupportedAlgorithm};
pub use assertion::{
    Assertion, AssertionError, AssertionExpectations, dangerous_peek_issuer_and_subject,
    verify_assertion,
};
pub use dpop::{
    DpopError, DpopProver, NonceSource, ProofExpectations, VerifiedProof, verify_proof,
};
pub use error::{JwsError, JwtError, KeyError};
pub use id_token::{IdToken, IdTokenError, IdTokenExpectations, verify_id_token};
pub use jwk::{Jwk, PrivateParam};
pub use jwks::{Jwks, KeySet, MAX_KEYS, PublicJwks};
pub use jwt::{
    ACCESS_TOKEN_TYPE, AccessToken, AccessTokenClaims, AccessTokenValidator, Audience,
    DEFAULT_LEEWAY_SECS, TokenExpectations, Validity, sign_access_token,
};
pub use keys::{MAX_RSA_BITS, MIN_RSA_BITS, SignatureError, SigningKey, VerifyingKey};
