//! DPoP at a protected resource ([RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)):
//! a token bound to a key (`cnf.jkt`, §6) is accepted only with the `DPoP` scheme and a proof
//! made with that key for this very request; an unbound token only as `Bearer`.
//!
//! The token's signature is still verified once and cached; the proof, one signature check, is
//! verified on every request, since each request carries a new one. Its `jti` is remembered until
//! the proof is too old to pass anyway (§11.1), in a [`ProofReplayCheck`]: by default a bounded
//! cache in this process, or a store that every instance of the resource shares.

use std::sync::Arc;

use axum::http::HeaderName;
use axum::http::request::Parts;
use futures_util::future::BoxFuture;
use gatehouse_jose::dpop::{self, DpopError, NonceSource, ProofExpectations};
use gatehouse_types::{ErrorCode, UnixTime};
use sha2::{Digest, Sha256};

use crate::Principal;
use crate::ReplayCheckError;
use crate::bearer::Scheme;
use crate::cache::TokenCache;
use crate::rejection::Rejection;

/// The `DPoP` request header (§4.1).
pub(crate) const DPOP_HEADER: HeaderName = HeaderName::from_static("dpop");
/// The response header that carries a server nonce (§8, §9).
pub(crate) const DPOP_NONCE_HEADER: HeaderName = HeaderName::from_static("dpop-nonce");
/// The algorithms a proof may be signed with: every asymmetric one this project verifies
/// (`algs` of the challenge, §7.1, and `dpop_signing_alg_values_supported`, RFC 9728 §2).
pub(crate) const PROOF_ALGS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];

/// Remembers the `jti` of every DPoP proof until `until`, and says whether it is new (RFC 9449
/// §11.1: "the server MUST ensure that the same proof is not used more than once").
///
/// The default, [`MemoryProofReplay`], holds them in this process. Instances of one resource
/// behind a load balancer need one shared memory, or a proof accepted by one could be replayed at
/// another: `gatehouse serve` plugs in its PostgreSQL store then. An error refuses the request
/// with `503`: the guard fails closed.
pub trait ProofReplayCheck: Send + Sync + 'static {
    /// `true` the first time the proof `jti` of the key `jkt` is seen at `now`, `false` for a
    /// replay; it need not be remembered after `until`.
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: UnixTime,
        until: UnixTime,
    ) -> BoxFuture<'a, Result<bool, ReplayCheckError>>;
}

/// The default [`ProofReplayCheck`]: a bounded cache of the SHA-256 of each key and `jti`.
///
/// When more live proofs arrive than it holds, the oldest are forgotten first, so a proof could
/// be replayed only after that many newer ones, within its few minutes of validity; the bound
/// keeps a flood of requests from growing the process without limit.
pub struct MemoryProofReplay {
    seen: TokenCache<()>,
}

impl MemoryProofReplay {
    /// The default bound.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A cache of at most `capacity` proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: TokenCache::new(capacity.max(1)),
        }
    }
}

impl Default for MemoryProofReplay {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for MemoryProofReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryProofReplay").finish_non_exhaustive()
    }
}

impl ProofReplayCheck for MemoryProofReplay {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: UnixTime,
        until: UnixTime,
    ) -> BoxFuture<'a, Result<bool, ReplayCheckError>> {
        let mut hash = Sha256::new();
        hash.update(jkt.as_bytes());
        hash.update([0]);
        hash.update(jti.as_bytes());
        let key: [u8; 32] = hash.finalize().into();
        let first = self
            .seen
            .insert_new(key, (), until.as_secs(), now.as_secs());
        Box::pin(std::future::ready(Ok(first)))
    }
}

/// A guard's DPoP settings.
pub(crate) struct DpopSettings {
    /// Only DPoP-bound tokens are accepted (`dpop_bound_access_tokens_required`, RFC 9728 §2).
    pub(crate) required: bool,
    /// The resource's nonces, when it requires them (§9).
    pub(crate) nonces: Option<NonceSource>,
    pub(crate) replay: Arc<dyn ProofReplayCheck>,
    /// `scheme://authority` of the resource: a proof's `htu` is this and the request's path.
    pub(crate) origin: String,
    /// The proof keys imported so far (a client proves with one key for its whole grant).
    pub(crate) keys: gatehouse_jose::dpop::ProofKeyCache,
}

impl DpopSettings {
    /// The nonce to hand out now, if the resource requires nonces.
    pub(crate) fn current_nonce(&self, now: u64) -> Option<String> {
        self.nonces.as_ref().map(|nonces| nonces.current(now))
    }
}

/// A refusal with a `DPoP` challenge (§7.1).
fn refuse(code: ErrorCode, description: &'static str) -> Rejection {
    Rejection::Dpop { code, description }
}

/// What the DPoP rules say about a request whose token verified as `principal`: `Ok` to go on.
pub(crate) async fn check(
    settings: &DpopSettings,
    parts: &Parts,
    scheme: Scheme,
    token: &str,
    principal: &Principal,
    now: u64,
) -> Result<(), Rejection> {
    let bound = match (scheme, principal.confirmation()) {
        (_, Confirmation::Unsupported) => {
            return Err(refuse(
                ErrorCode::InvalidToken,
                "The access token is bound by a confirmation method this resource cannot check",
            ));
        }
        // §7.2: a bound token "MUST NOT" be accepted as a bearer token: its thief has no key.
        (Scheme::Bearer, Confirmation::Jkt(_)) => {
            return Err(refuse(
                ErrorCode::InvalidToken,
                "The access token is DPoP-bound: send it with the DPoP scheme and a proof (RFC 9449 section 7.2)",
            ));
        }
        (Scheme::Bearer, Confirmation::None) if settings.required => {
            return Err(refuse(
                ErrorCode::InvalidToken,
                "This resource accepts DPoP-bound access tokens only (RFC 9449 section 7)",
            ));
        }
        (Scheme::Bearer, Confirmation::None) => return Ok(()),
        (Scheme::Dpop, Confirmation::None) => {
            return Err(refuse(
                ErrorCode::InvalidToken,
                "The access token is not DPoP-bound: send it with the Bearer scheme",
            ));
        }
        (Scheme::Dpop, Confirmation::Jkt(jkt)) => jkt,
    };
    // §4.3 item 1: exactly one proof.
    let mut proofs = parts.headers.get_all(&DPOP_HEADER).iter();
    let proof = match (proofs.next(), proofs.next()) {
        (Some(proof), None) => proof.to_str().unwrap_or_default(),
        (None, _) => {
            return Err(refuse(
                ErrorCode::InvalidDpopProof,
                "A DPoP-bound token needs a DPoP proof header (RFC 9449 section 7.1)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(refuse(
                ErrorCode::InvalidDpopProof,
                "The request carries more than one DPoP header (RFC 9449 section 4.3)",
            ));
        }
    };
    // §4.3 item 9: the URI of the request, as the resource's clients know it: the resource's
    // origin and the request's path, before any router nesting stripped a prefix from it.
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path(), |original| original.0.path());
    let uri = format!("{}{}", settings.origin, path);
    let mut expected = ProofExpectations::new(parts.method.as_str(), &uri, now)
        .access_token(token)
        .key_cache(&settings.keys);
    if let Some(nonces) = &settings.nonces {
        expected = expected.nonce_source(nonces);
    }
    let verified = dpop::verify_proof(proof, &expected).map_err(|e| proof_refused(&e))?;
    // §7.1: "the JWK thumbprint of the public key … matches the jkt" of the token.
    if verified.jkt() != bound {
        return Err(refuse(
            ErrorCode::InvalidDpopProof,
            "The DPoP proof is signed with another key than the one the token is bound to (RFC 9449 section 6.1)",
        ));
    }
    let until = UnixTime::from_secs(verified.iat()).saturating_add_secs(
        ProofExpectations::DEFAULT_MAX_AGE_SECS + ProofExpectations::DEFAULT_LEEWAY_SECS,
    );
    match settings
        .replay
        .first_use(
            verified.jkt(),
            verified.jti(),
            UnixTime::from_secs(now),
            until,
        )
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse(
            ErrorCode::InvalidDpopProof,
            "The DPoP proof was used before: make a new one for every request (RFC 9449 section 11.1)",
        )),
        Err(error) => {
            tracing::warn!(%error, "the DPoP replay check failed; refusing the request");
            Err(Rejection::Unavailable(
                "Whether the DPoP proof was used before is unknown; try again shortly",
            ))
        }
    }
}

fn proof_refused(error: &DpopError) -> Rejection {
    let description = match error {
        DpopError::UseNonce => {
            return refuse(
                ErrorCode::UseDpopNonce,
                "The DPoP proof must carry the nonce of the DPoP-Nonce header (RFC 9449 section 9)",
            );
        }
        DpopError::WrongType => "The DPoP proof's typ is not dpop+jwt",
        DpopError::PrivateKey => "The DPoP proof's jwk contains a private key",
        DpopError::Key(_) => "The DPoP proof's jwk is missing or unusable",
        DpopError::MissingClaim(_) => "The DPoP proof lacks a required claim",
        DpopError::WrongMethod => "The DPoP proof is for another HTTP method",
        DpopError::WrongUri => "The DPoP proof is for another URI",
        DpopError::Stale => "The DPoP proof was not created recently",
        DpopError::WrongAccessTokenHash => "The DPoP proof's ath is not the access token's hash",
        _ => "The DPoP proof is not a valid JWS",
    };
    refuse(ErrorCode::InvalidDpopProof, description)
}

/// How a token is bound to its presenter (RFC 7800 `cnf`).
pub(crate) enum Confirmation<'a> {
    /// Not bound: a bearer token.
    None,
    /// Bound to the DPoP key with this thumbprint (RFC 9449 §6).
    Jkt(&'a str),
    /// Bound some other way (a certificate, RFC 8705), which this guard cannot check.
    Unsupported,
}
