//! A sign-in in flight at the identity provider, carried in the `state` parameter: sealed
//! (XChaCha20-Poly1305 under a key derived from the encryption key), so that the browser that
//! brings it back can neither read nor change it, and every instance sharing the key can open
//! it. It holds everything the callback needs: which provider, where the person was going (the
//! whole authorization request), the PKCE verifier, the nonce, the browser it was started in,
//! until when it is good, and an id that is spent once (RFC 9700 §4.7: `state` is a one-time
//! CSRF token bound to the user agent).

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_store::sealing::EncryptionKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::random_token;

/// How long a person has at the provider.
pub(crate) const PENDING_SECS: u64 = 600;

/// The longest `state` accepted back, and made: the authorization request rides in it.
pub(crate) const MAX_STATE_LEN: usize = 6 * 1024;

/// What the label of the seal says: a sealed value of another purpose does not open here.
const PURPOSE: &str = "gatehouse federation state v1";

/// Where the person goes once signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Return {
    /// Back to the authorization endpoint with this request (form-encoded).
    Authorize(String),
    /// To the connected-apps page.
    ConnectedApps,
}

/// A sign-in in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The provider's id.
    pub(crate) provider: String,
    /// Spent once, at the callback.
    pub(crate) id: String,
    /// The hex SHA-256 of the browser's session id.
    pub(crate) browser: String,
    /// RFC 7636: the verifier whose S256 challenge went to the provider.
    pub(crate) verifier: String,
    /// OpenID Connect Core §3.1.2.1: bound into the ID token.
    pub(crate) nonce: String,
    /// Unix seconds after which it is refused.
    pub(crate) expires_at: u64,
    pub(crate) then: Return,
}

/// Why a `state` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StateError {
    #[error("the sign-in's state is missing or was not made here")]
    Unreadable,
    #[error("the sign-in took too long; start again")]
    Expired,
    #[error("the sign-in was started in another browser")]
    OtherBrowser,
    #[error("the sign-in's state belongs to another identity provider")]
    OtherProvider,
}

impl Pending {
    /// A new sign-in at `provider` for the browser whose session id hashes to `browser`.
    pub(crate) fn new(provider: &str, browser: String, then: Return, now: u64) -> Self {
        Self {
            provider: provider.to_owned(),
            id: random_token(32),
            browser,
            verifier: random_token(32),
            nonce: random_token(32),
            expires_at: now.saturating_add(PENDING_SECS),
            then,
        }
    }

    /// The S256 challenge of the verifier (RFC 7636 §4.2).
    pub(crate) fn challenge(&self) -> String {
        use sha2::Digest as _;
        Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(self.verifier.as_bytes()))
    }

    /// Sealed as the `state` parameter.
    pub(crate) fn seal(&self, key: &EncryptionKey) -> Option<String> {
        let plain = Zeroizing::new(serde_json::to_vec(self).ok()?);
        let sealed = key.seal(PURPOSE, &plain).ok()?;
        let state = Base64UrlUnpadded::encode_string(&sealed);
        (state.len() <= MAX_STATE_LEN).then_some(state)
    }

    /// Opens a `state` that came back for `provider` in the browser whose session id hashes to
    /// `browser`, at `now`. Spending its id is the caller's.
    pub(crate) fn open(
        key: &EncryptionKey,
        state: &str,
        provider: &str,
        browser: Option<&str>,
        now: u64,
    ) -> Result<Self, StateError> {
        if state.len() > MAX_STATE_LEN {
            return Err(StateError::Unreadable);
        }
        let sealed = Base64UrlUnpadded::decode_vec(state).map_err(|_| StateError::Unreadable)?;
        let plain = key
            .open(PURPOSE, &sealed)
            .map_err(|_| StateError::Unreadable)?;
        let pending: Self = serde_json::from_slice(&plain).map_err(|_| StateError::Unreadable)?;
        if pending.provider != provider {
            return Err(StateError::OtherProvider);
        }
        if now >= pending.expires_at {
            return Err(StateError::Expired);
        }
        let same_browser = browser.is_some_and(|browser| {
            subtle::ConstantTimeEq::ct_eq(browser.as_bytes(), pending.browser.as_bytes()).into()
        });
        if !same_browser {
            return Err(StateError::OtherBrowser);
        }
        Ok(pending)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn key() -> EncryptionKey {
        EncryptionKey::from_bytes([7; 32])
    }

    fn pending() -> Pending {
        Pending::new(
            "corp",
            "b".repeat(64),
            Return::Authorize("client_id=x&state=y".into()),
            NOW,
        )
    }

    #[test]
    fn a_sealed_state_opens_only_for_its_provider_browser_and_time() {
        let pending = pending();
        let state = pending.seal(&key()).unwrap();
        let browser = "b".repeat(64);
        assert_eq!(
            Pending::open(&key(), &state, "corp", Some(&browser), NOW + 1).unwrap(),
            pending
        );
        assert_eq!(
            Pending::open(&key(), &state, "other", Some(&browser), NOW),
            Err(StateError::OtherProvider)
        );
        assert_eq!(
            Pending::open(&key(), &state, "corp", Some(&"c".repeat(64)), NOW),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(
            Pending::open(&key(), &state, "corp", None, NOW),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(
            Pending::open(&key(), &state, "corp", Some(&browser), NOW + PENDING_SECS),
            Err(StateError::Expired)
        );
        let other_key = EncryptionKey::from_bytes([8; 32]);
        assert_eq!(
            Pending::open(&other_key, &state, "corp", Some(&browser), NOW),
            Err(StateError::Unreadable)
        );
    }

    #[test]
    fn rfc_7636_4_2_the_challenge_is_the_s256_of_the_verifier() {
        let mut pending = pending();
        pending.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(
            pending.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn every_sign_in_has_its_own_id_verifier_and_nonce() {
        let (a, b) = (pending(), pending());
        assert_ne!(a.id, b.id);
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.nonce, b.nonce);
    }

    #[test]
    fn a_request_too_large_to_carry_is_not_sealed() {
        let mut pending = pending();
        pending.then = Return::Authorize("x".repeat(MAX_STATE_LEN));
        assert!(pending.seal(&key()).is_none());
    }

    proptest! {
        /// Whatever the browser brings back, changed in any byte or made up, it opens to
        /// nothing.
        #[test]
        fn a_changed_or_made_up_state_never_opens(flip in 0usize..4096, bit in 0u8..8, junk in ".{0,300}") {
            let state = pending().seal(&key()).unwrap();
            let mut bytes = Base64UrlUnpadded::decode_vec(&state).unwrap();
            let at = flip % bytes.len();
            bytes[at] ^= 1 << bit;
            let changed = Base64UrlUnpadded::encode_string(&bytes);
            let browser = "b".repeat(64);
            prop_assert_eq!(
                Pending::open(&key(), &changed, "corp", Some(&browser), NOW),
                Err(StateError::Unreadable)
            );
            prop_assert!(Pending::open(&key(), &junk, "corp", Some(&browser), NOW).is_err());
        }
    }
}
