//! DPoP at the token endpoint ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)):
//! the proof a token request carries is checked here, once, for every grant; the grants then bind
//! what they issue to its key.
//!
//! The checks of the proof itself are `gatehouse_jose::dpop::verify_proof`'s (§4.3). What needs
//! state is here: the nonce this deployment requires (§8), and the `jti` of every proof, kept
//! in the store's table of used assertions until the proof could no longer pass the `iat`
//! window, so that a proof is accepted once across every instance sharing the store (§11.1).

use gatehouse_jose::dpop::{self, DpopError, NonceSource, ProofExpectations, VerifiedProof};
use gatehouse_types::{ErrorCode, UnixTime};

use crate::Engine;
use crate::error::EndpointError;
use crate::store::{ClientRecord, Store};

/// How the token endpoint treats DPoP proofs.
#[derive(Debug, Clone)]
pub struct DpopPolicy {
    /// Every token request must carry a proof (a deployment where every token is bound). A
    /// client can also require it of itself with `dpop_bound_access_tokens` (§5.2).
    pub required: bool,
    /// When set, a proof must carry a nonce from this source (§8); the HTTP layer hands out
    /// the current one in `DPoP-Nonce`.
    pub nonces: Option<NonceSource>,
    /// How old a proof may be (its `jti` is remembered this long, plus the leeway).
    pub max_age_secs: u64,
    /// How far ahead of the server's clock a proof's `iat` may be.
    pub leeway_secs: u64,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            required: false,
            nonces: None,
            max_age_secs: ProofExpectations::DEFAULT_MAX_AGE_SECS,
            leeway_secs: ProofExpectations::DEFAULT_LEEWAY_SECS,
        }
    }
}

/// The `DPoP` header of a token request, as the HTTP layer found it.
#[derive(Debug, Clone, Default)]
pub(crate) enum DpopHeader {
    /// No proof.
    #[default]
    Absent,
    /// One proof.
    One(String),
    /// More than one header: refused (§4.3 item 1).
    Several,
}

impl DpopHeader {
    /// From the values of every `DPoP` header of the request.
    pub(crate) fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(one), None) => Self::One(one.to_owned()),
            (Some(_), Some(_)) => Self::Several,
        }
    }
}

/// Where the `jti`s of a key's DPoP proofs are kept in the store's table of used assertions: the
/// token endpoint's and the resources' proofs share it, so that a proof is used once anywhere.
pub fn proof_replay_issuer(jkt: &str) -> String {
    format!("dpop:{jkt}")
}

/// `invalid_dpop_proof` (§5: "the authorization server … responds with an error of
/// invalid_dpop_proof").
pub(crate) fn invalid_proof(description: impl Into<String>) -> EndpointError {
    EndpointError::new(ErrorCode::InvalidDpopProof, description)
}

fn refused(error: &DpopError) -> EndpointError {
    match error {
        // §8: "the authorization server … MUST respond with use_dpop_nonce"; the HTTP layer adds
        // the `DPoP-Nonce` header.
        DpopError::UseNonce => EndpointError::new(
            ErrorCode::UseDpopNonce,
            "the DPoP proof must carry the nonce of the DPoP-Nonce header (RFC 9449 section 8)",
        ),
        other => invalid_proof(other.to_string()),
    }
}

impl<S: Store> Engine<S> {
    /// The proof of a token request, checked, or `None` when there is none and none is required.
    pub(crate) async fn token_request_proof(
        &self,
        header: &DpopHeader,
        client: &ClientRecord,
        now: UnixTime,
    ) -> Result<Option<VerifiedProof>, EndpointError> {
        let policy = &self.config().dpop;
        let proof = match header {
            DpopHeader::One(proof) => proof,
            DpopHeader::Several => {
                return Err(invalid_proof(
                    "the request carries more than one DPoP header (RFC 9449 section 4.3)",
                ));
            }
            DpopHeader::Absent if client.metadata.dpop_bound_access_tokens() => {
                return Err(invalid_proof(
                    "this client registered dpop_bound_access_tokens: send a DPoP proof (RFC 9449 section 5.2)",
                ));
            }
            DpopHeader::Absent if policy.required => {
                return Err(invalid_proof(
                    "this server issues DPoP-bound tokens only: send a DPoP proof (RFC 9449 section 5)",
                ));
            }
            DpopHeader::Absent => return Ok(None),
        };
        let mut expected =
            ProofExpectations::new("POST", self.config().token_endpoint(), now.as_secs())
                .window(policy.max_age_secs, policy.leeway_secs);
        if let Some(nonces) = &policy.nonces {
            expected = expected.nonce_source(nonces);
        }
        let verified = dpop::verify_proof(proof, &expected).map_err(|e| refused(&e))?;
        // §11.1: a proof is accepted once. Remembered until it would be too old anyway, under
        // its key, so that two clients choosing the same `jti` do not collide.
        let forget_after = UnixTime::from_secs(verified.iat())
            .saturating_add_secs(policy.max_age_secs.saturating_add(policy.leeway_secs));
        let first_use = self
            .store()
            .use_assertion(
                &proof_replay_issuer(verified.jkt()),
                verified.jti(),
                forget_after,
            )
            .await?;
        if !first_use {
            return Err(invalid_proof(
                "the DPoP proof was used before; make a new one for every request (RFC 9449 section 11.1)",
            ));
        }
        Ok(Some(verified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9449_section_4_3_one_header_at_most() {
        assert!(matches!(DpopHeader::from_values([]), DpopHeader::Absent));
        assert!(matches!(DpopHeader::from_values(["a"]), DpopHeader::One(p) if p == "a"));
        assert!(matches!(
            DpopHeader::from_values(["a", "b"]),
            DpopHeader::Several
        ));
    }
}
