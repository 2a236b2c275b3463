//! The token vault (`keep_tokens`): the identity provider's access and refresh tokens of each
//! person who signed in through it, sealed at rest (XChaCha20-Poly1305 under a key derived from
//! the encryption key, the person's subject as associated data, so that a sealed value cannot be
//! moved to another person's row), refreshed when they are about to expire, and handed to what
//! calls the APIs behind MCP servers as that person: a gateway's upstream
//! (`forward_upstream_token`), a resource server's token exchange (`audience=upstream:{id}`),
//! or a Rust embedder ([`UpstreamTokens::access_token`]).
//!
//! Several instances may need the same person's fresh token at once, and a provider that
//! rotates refresh tokens accepts each only once: the instance that takes the database lease
//! (`claim_identity_refresh`, on the record's version) refreshes, the others wait for what it
//! writes, and only the lease holder's refusal counts as the person's removal. When the provider refuses a refresh of the current tokens with
//! `invalid_grant` (RFC 6749 §5.2), the person's grants here are revoked: what the organisation
//! took away, it took away here too. Any other failure (an outage, a server error, credentials
//! the provider no longer accepts) is never held against the person.

use std::sync::Arc;

use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{AnyStore, ServerStore as _};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::Federation;
use super::upstream::{Tokens, UpstreamError};
use crate::clock::now;
use crate::events::{Event, Events};

/// Refreshed this long before the provider's expiry: a token handed out stays good for the call
/// it is handed to.
const REFRESH_MARGIN_SECS: u64 = 60;

/// How long one instance may hold the right to refresh a person's tokens: longer than the
/// provider's discovery and token calls take at most.
const LEASE_SECS: u64 = 30;

/// How long a request waits for another instance's refresh.
const WAIT_FOR_REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

/// The lifetime assumed for an access token whose provider did not say (`expires_in` absent).
const UNSTATED_LIFETIME_SECS: u64 = 300;

/// What is sealed: the provider's tokens and when the access token expires.
#[derive(Serialize, Deserialize)]
struct Kept {
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds; `None` when the provider did not say.
    expires_at: Option<u64>,
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.access_token.zeroize();
        if let Some(refresh) = &mut self.refresh_token {
            refresh.zeroize();
        }
    }
}

/// Why no upstream access token could be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamTokenError {
    /// The provider refused to refresh the person's tokens: they were removed there, or their
    /// grant revoked. Their grants here were revoked too.
    #[error("the identity provider no longer vouches for this person: {0}")]
    Revoked(String),
    /// The provider or the store could not be reached; try again.
    #[error("the person's token at the identity provider cannot be refreshed now: {0}")]
    Unavailable(String),
}

/// The identity providers' tokens of the people who signed in through them (see the module
/// documentation). Cheap to clone.
#[derive(Clone)]
pub struct UpstreamTokens {
    inner: Arc<Inner>,
}

struct Inner {
    federation: Arc<Federation>,
    store: Arc<AnyStore>,
    key: EncryptionKey,
    events: Arc<Events>,
}

impl std::fmt::Debug for UpstreamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTokens").finish_non_exhaustive()
    }
}

impl UpstreamTokens {
    pub(crate) fn new(
        federation: Arc<Federation>,
        store: Arc<AnyStore>,
        key: EncryptionKey,
        events: Arc<Events>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                federation,
                store,
                key,
                events,
            }),
        }
    }

    /// The sealed form of `tokens` for `subject`, kept when its provider has `keep_tokens`.
    pub(crate) fn seal(&self, subject: &str, tokens: &Tokens) -> Option<Vec<u8>> {
        let kept = Kept {
            access_token: tokens.access_token.to_string(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.to_string()),
            expires_at: Some(expiry(tokens.expires_in, now().as_secs())),
        };
        self.seal_kept(subject, &kept)
    }

    fn seal_kept(&self, subject: &str, kept: &Kept) -> Option<Vec<u8>> {
        let plain = Zeroizing::new(serde_json::to_vec(kept).ok()?);
        self.inner.key.seal(&label(subject), &plain).ok()
    }

    fn open(&self, subject: &str, sealed: &[u8]) -> Option<Kept> {
        let plain = self.inner.key.open(&label(subject), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// A fresh access token of `subject` at the identity provider `provider`: `None` when the
    /// person did not sign in through it, or its tokens are not kept, or the token expired and
    /// there is no refresh token. Refreshes it first when it is about to expire.
    pub async fn access_token(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<Option<Zeroizing<String>>, UpstreamTokenError> {
        let ours = subject
            .split_once(':')
            .is_some_and(|(prefix, _)| prefix == provider);
        let Some(upstream) = self.inner.federation.signing_in(provider) else {
            return Ok(None);
        };
        if !ours || !upstream.config.keep_tokens {
            return Ok(None);
        }
        let store = &self.inner.store;
        let Some(identity) = store.identity(subject).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let Some(kept) = identity
            .sealed_tokens
            .as_deref()
            .and_then(|sealed| self.open(subject, sealed))
        else {
            return Ok(None);
        };
        let now = now();
        if fresh(&kept, now.as_secs()) {
            return Ok(Some(Zeroizing::new(kept.access_token.clone())));
        }
        let Some(refresh_token) = kept.refresh_token.as_deref() else {
            // Expired, and nothing to refresh it with: the person signs in again to renew it.
            return Ok(None);
        };
        // One refresh at a time across every instance: a provider that rotates refresh tokens
        // must never see the old one twice (it would refuse the second, and may revoke the
        // whole grant as a replay). The others wait for the holder's result.
        let lease = now.saturating_add_secs(LEASE_SECS);
        if !store
            .claim_identity_refresh(subject, identity.version, lease, now)
            .await
            .map_err(unavailable)?
        {
            return self.refreshed_elsewhere(subject, identity.version).await;
        }
        let http = &self.inner.federation.http;
        let endpoints = upstream.endpoints(http).await.map_err(unavailable)?;
        match upstream.refresh(http, &endpoints, refresh_token).await {
            Ok(tokens) => {
                let renewed = Kept {
                    access_token: tokens.access_token.to_string(),
                    // RFC 6749 §6: the provider may keep the refresh token; then it stays.
                    refresh_token: tokens
                        .refresh_token
                        .as_ref()
                        .map(|t| t.to_string())
                        .or_else(|| kept.refresh_token.clone()),
                    expires_at: Some(expiry(tokens.expires_in, crate::clock::now().as_secs())),
                };
                let sealed = self
                    .seal_kept(subject, &renewed)
                    .ok_or_else(|| unavailable("the tokens could not be sealed"))?;
                match store
                    .replace_identity_tokens(
                        subject,
                        identity.version,
                        Some(sealed),
                        crate::clock::now(),
                    )
                    .await
                    .map_err(unavailable)?
                {
                    Some(_) => Ok(Some(Zeroizing::new(renewed.access_token.clone()))),
                    // The person signed in again meanwhile: those tokens are the current ones.
                    None => self.current(subject).await,
                }
            }
            // RFC 6749 §5.2 `invalid_grant`, to the holder of the lease on the current tokens:
            // nobody else refreshed them, so the provider no longer honours this person's grant.
            Err(UpstreamError::GrantRefused(reason)) => {
                self.revoke(subject, provider, &identity, &reason).await?;
                Err(UpstreamTokenError::Revoked(reason))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Another instance holds the refresh: its result, once written, or `Unavailable` after a
    /// short wait (a provider that is down must not hold every request for long).
    async fn refreshed_elsewhere(
        &self,
        subject: &str,
        version: i64,
    ) -> Result<Option<Zeroizing<String>>, UpstreamTokenError> {
        let deadline = std::time::Instant::now() + WAIT_FOR_REFRESH;
        while std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let identity = self
                .inner
                .store
                .identity(subject)
                .await
                .map_err(unavailable)?;
            match identity {
                Some(identity) if identity.version == version => {}
                Some(identity) => {
                    return Ok(identity
                        .sealed_tokens
                        .and_then(|sealed| self.open(subject, &sealed))
                        .map(|kept| Zeroizing::new(kept.access_token.clone())));
                }
                None => return Ok(None),
            }
        }
        Err(unavailable(
            "another refresh of this person's tokens is under way",
        ))
    }

    /// The access token as another writer left it.
    async fn current(
        &self,
        subject: &str,
    ) -> Result<Option<Zeroizing<String>>, UpstreamTokenError> {
        let identity = self
            .inner
            .store
            .identity(subject)
            .await
            .map_err(unavailable)?;
        Ok(identity
            .and_then(|identity| identity.sealed_tokens)
            .and_then(|sealed| self.open(subject, &sealed))
            .map(|kept| Zeroizing::new(kept.access_token.clone())))
    }

    /// The provider refused the person: everything they hold here ends, as when an operator
    /// deletes a user (their codes, every grant's tokens, their sessions, their remembered
    /// consents, in one transaction), so an MCP client that re-authorizes sends them back to the
    /// provider, which refuses them. Only then are the kept tokens dropped: a store failure in
    /// between leaves them, and the next call refreshes, is refused and revokes again.
    async fn revoke(
        &self,
        subject: &str,
        provider: &str,
        identity: &gatehouse_store::IdentityRecord,
        reason: &str,
    ) -> Result<(), UpstreamTokenError> {
        let store = &self.inner.store;
        let grants = store
            .grants_of(subject, now())
            .await
            .map_err(unavailable)?
            .len();
        store.delete_user(subject).await.map_err(unavailable)?;
        store
            .replace_identity_tokens(subject, identity.version, None, now())
            .await
            .map_err(unavailable)?;
        tracing::warn!(
            provider,
            grants,
            "the identity provider refused to refresh a person's tokens; their grants are revoked and their sessions ended"
        );
        self.inner.events.emit(Event::FederatedGrantsRevoked {
            subject: subject.to_owned(),
            provider: provider.to_owned(),
            reason: reason.to_owned(),
            grants,
        });
        Ok(())
    }
}

fn unavailable(error: impl std::fmt::Display) -> UpstreamTokenError {
    UpstreamTokenError::Unavailable(error.to_string())
}

/// Whether the kept access token is good for a while yet.
fn fresh(kept: &Kept, now: u64) -> bool {
    kept.expires_at
        .is_some_and(|at| now.saturating_add(REFRESH_MARGIN_SECS) < at)
}

/// When a token the provider just issued expires: `expires_in` (RFC 6749 §5.1), or, when the
/// provider does not say, [`UNSTATED_LIFETIME_SECS`]: a token never refreshed would never learn
/// that the person was removed.
fn expiry(expires_in: Option<u64>, now: u64) -> u64 {
    now.saturating_add(expires_in.unwrap_or(UNSTATED_LIFETIME_SECS))
}

/// The associated data of a person's sealed tokens.
fn label(subject: &str) -> String {
    format!("gatehouse upstream tokens v1\0{subject}")
}
