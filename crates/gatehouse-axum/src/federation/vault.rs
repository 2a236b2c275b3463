//! The token vault (`keep_tokens`): the identity provider's access and refresh tokens of each
//! person who signed in through it, sealed at rest (XChaCha20-Poly1305 under a key derived from
//! the encryption key, the person's subject as associated data, so that a sealed value cannot be
//! moved to another person's row), refreshed when they are about to expire, and handed to what
//! calls the APIs behind MCP servers as that person: a gateway's upstream
//! (`forward_upstream_token`), a resource server's token exchange (`audience=upstream:{id}`),
//! or a Rust embedder ([`UpstreamTokens::access_token`]).
//!
//! Several instances may refresh the same person's tokens at once, and a provider that rotates
//! refresh tokens accepts only the first: each write compares the record's version
//! (`replace_identity_tokens`), and a refusal counts as the person's removal only when nobody
//! refreshed meanwhile. When the provider refuses a refresh of the current tokens with
//! `invalid_grant` (RFC 6749 §5.2), the person's grants here are revoked: what the organisation
//! took away, it took away here too. Any other failure (an outage, a server error, credentials
//! the provider no longer accepts) is never held against the person.

use std::sync::Arc;

use gatehouse_engine::Store as _;
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

/// Lock stripes: one person's refreshes on one instance are taken one at a time.
const STRIPES: usize = 64;

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
    stripes: Vec<tokio::sync::Mutex<()>>,
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
                stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            }),
        }
    }

    /// The sealed form of `tokens` for `subject`, kept when its provider has `keep_tokens`.
    pub(crate) fn seal(&self, subject: &str, tokens: &Tokens) -> Option<Vec<u8>> {
        let kept = Kept {
            access_token: tokens.access_token.to_string(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.to_string()),
            expires_at: tokens
                .expires_in
                .map(|secs| now().as_secs().saturating_add(secs)),
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
        let unavailable =
            |e: &dyn std::fmt::Display| UpstreamTokenError::Unavailable(e.to_string());
        let store = &self.inner.store;
        let Some(identity) = store.identity(subject).await.map_err(|e| unavailable(&e))? else {
            return Ok(None);
        };
        let Some(kept) = identity
            .sealed_tokens
            .as_deref()
            .and_then(|sealed| self.open(subject, sealed))
        else {
            return Ok(None);
        };
        let now = now().as_secs();
        if kept
            .expires_at
            .is_none_or(|at| now.saturating_add(REFRESH_MARGIN_SECS) < at)
        {
            return Ok(Some(Zeroizing::new(kept.access_token.clone())));
        }
        // One refresh at a time for this person on this instance; the others wait and read
        // what it wrote.
        let stripe = stripe(subject);
        let _refreshing = match self.inner.stripes.get(stripe) {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let Some(identity) = store.identity(subject).await.map_err(|e| unavailable(&e))? else {
            return Ok(None);
        };
        let Some(kept) = identity
            .sealed_tokens
            .as_deref()
            .and_then(|sealed| self.open(subject, sealed))
        else {
            return Ok(None);
        };
        if kept
            .expires_at
            .is_none_or(|at| now.saturating_add(REFRESH_MARGIN_SECS) < at)
        {
            return Ok(Some(Zeroizing::new(kept.access_token.clone())));
        }
        let Some(refresh_token) = kept.refresh_token.as_deref() else {
            // Expired, and nothing to refresh it with: the person signs in again to renew it.
            return Ok(None);
        };
        let http = &self.inner.federation.http;
        let endpoints = upstream
            .endpoints(http)
            .await
            .map_err(|e| unavailable(&e))?;
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
                    expires_at: tokens.expires_in.map(|secs| now.saturating_add(secs)),
                };
                let sealed = self
                    .seal_kept(subject, &renewed)
                    .ok_or_else(|| unavailable(&"the tokens could not be sealed"))?;
                match store
                    .replace_identity_tokens(
                        subject,
                        identity.version,
                        Some(sealed),
                        crate::clock::now(),
                    )
                    .await
                    .map_err(|e| unavailable(&e))?
                {
                    Some(_) => Ok(Some(Zeroizing::new(renewed.access_token.clone()))),
                    // Another instance refreshed first (or the person signed in again): its
                    // tokens are the current ones.
                    None => self.current(subject).await,
                }
            }
            Err(UpstreamError::GrantRefused(reason)) => {
                // Removed at the provider, unless someone else refreshed meanwhile (a rotated
                // refresh token is refused the second time).
                let latest = store.identity(subject).await.map_err(|e| unavailable(&e))?;
                if latest.is_some_and(|latest| latest.version != identity.version) {
                    return self.current(subject).await;
                }
                self.revoke(subject, provider, &identity, &reason).await?;
                Err(UpstreamTokenError::Revoked(reason))
            }
            Err(error) => Err(unavailable(&error)),
        }
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
            .map_err(|e| UpstreamTokenError::Unavailable(e.to_string()))?;
        Ok(identity
            .and_then(|identity| identity.sealed_tokens)
            .and_then(|sealed| self.open(subject, &sealed))
            .map(|kept| Zeroizing::new(kept.access_token.clone())))
    }

    /// The provider refused the person: their kept tokens are dropped and every grant they
    /// gave here is revoked (its refresh tokens, and its access tokens through the deny-list).
    async fn revoke(
        &self,
        subject: &str,
        provider: &str,
        identity: &gatehouse_store::IdentityRecord,
        reason: &str,
    ) -> Result<(), UpstreamTokenError> {
        let store = &self.inner.store;
        let failed =
            |e: gatehouse_engine::store::StoreError| UpstreamTokenError::Unavailable(e.to_string());
        store
            .replace_identity_tokens(subject, identity.version, None, now())
            .await
            .map_err(failed)?;
        let grants = store.grants_of(subject, now()).await.map_err(failed)?;
        for grant in &grants {
            store.revoke_family(&grant.family).await.map_err(failed)?;
        }
        tracing::warn!(
            provider,
            grants = grants.len(),
            "the identity provider refused to refresh a person's tokens; their grants are revoked"
        );
        self.inner.events.emit(Event::FederatedGrantsRevoked {
            subject: subject.to_owned(),
            provider: provider.to_owned(),
            reason: reason.to_owned(),
            grants: grants.len(),
        });
        Ok(())
    }
}

/// The associated data of a person's sealed tokens.
fn label(subject: &str) -> String {
    format!("gatehouse upstream tokens v1\0{subject}")
}

fn stripe(subject: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    subject.hash(&mut hasher);
    let stripes = u64::try_from(STRIPES).unwrap_or(1);
    usize::try_from(hasher.finish() % stripes).unwrap_or(0)
}
