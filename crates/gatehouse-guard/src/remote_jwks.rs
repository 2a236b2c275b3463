//! A [`KeySource`] that fetches the issuer's JWK Set
//! ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)) over HTTP and caches it.
//!
//! - Where: the `jwks_uri` of the issuer's RFC 8414 metadata (fetched from the path-inserted
//!   well-known URL, its `issuer` checked, §3.3), or a `jwks_uri` configured directly.
//! - How long: the response's `Cache-Control: max-age`, bounded by [`JwksCachePolicy`]'s
//!   minimum and maximum (a server saying `max-age=0` cannot make us fetch per request; one
//!   saying a year cannot pin a removed key).
//! - Unknown `kid`: at most one refetch per [`JwksCachePolicy::unknown_kid_cooldown`], whatever
//!   the number of tokens naming unknown keys. Concurrent callers wait for the one fetch in
//!   flight instead of starting their own, so a flood of forged tokens costs one fetch per
//!   interval.
//! - Failures: remembered for [`JwksCachePolicy::failure_ttl`] (no retry storm against a
//!   failing issuer); meanwhile the last good set stays in use, if there is one.
//! - Keys that cannot verify signatures (`use` other than `sig`, encryption or symmetric keys,
//!   unsupported curves) are ignored, not fatal.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use gatehouse_jose::KeySet;

use crate::fetch::{self, Http, check_fetch_url};
use crate::{GuardConfigError, KeySource, KeySourceError};

/// How a [`RemoteJwks`] caches. The defaults suit an issuer that rotates keys with overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksCachePolicy {
    /// Freshness when the response has no `max-age` (default 10 minutes).
    pub default_ttl: Duration,
    /// Least freshness, whatever the server says (default 1 minute).
    pub min_ttl: Duration,
    /// Most freshness, whatever the server says (default 24 hours).
    pub max_ttl: Duration,
    /// Least time between two fetches caused by unknown key ids (default 30 seconds).
    pub unknown_kid_cooldown: Duration,
    /// How long a failed fetch is remembered before the next attempt (default 10 seconds).
    pub failure_ttl: Duration,
}

impl Default for JwksCachePolicy {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            failure_ttl: Duration::from_secs(10),
        }
    }
}

impl JwksCachePolicy {
    /// The freshness of a response with these `Cache-Control` values.
    fn ttl(&self, max_age: Option<u64>, no_cache: bool) -> Duration {
        let wanted = match (no_cache, max_age) {
            (true, _) => Duration::ZERO,
            (false, Some(secs)) => Duration::from_secs(secs),
            (false, None) => self.default_ttl,
        };
        wanted.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

enum Location {
    /// Discover `jwks_uri` from the issuer's metadata; remembered once found.
    Issuer(String),
    Uri,
}

#[derive(Default)]
struct Snapshot {
    keys: Option<Arc<KeySet>>,
    fresh_until: Option<Instant>,
    last_attempt: Option<Instant>,
    last_failure: Option<Instant>,
    jwks_uri: Option<String>,
}

/// The issuer's JWK Set, fetched over HTTP and cached (see the module documentation).
pub struct RemoteJwks {
    location: Location,
    /// What an RSA key without `alg` is for, if the context says (`assuming_rsa_alg`).
    rsa_alg: Option<gatehouse_jose::Algorithm>,
    policy: JwksCachePolicy,
    http: Http,
    snapshot: RwLock<Snapshot>,
    /// Held while fetching: one fetch at a time, and callers that waited see its result.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// Keys from the `jwks_uri` of `issuer`'s RFC 8414 metadata, discovered on first use.
    pub fn discover(issuer: &str, policy: JwksCachePolicy) -> Result<Self, GuardConfigError> {
        gatehouse_as_metadata::well_known_url(issuer).map_err(|e| GuardConfigError::Issuer {
            issuer: issuer.to_owned(),
            reason: e.to_string(),
        })?;
        Self::new(Location::Issuer(issuer.to_owned()), None, policy)
    }

    /// Keys from this `jwks_uri` (`https`, or `http` on a loopback host).
    pub fn from_uri(jwks_uri: &str, policy: JwksCachePolicy) -> Result<Self, GuardConfigError> {
        check_fetch_url(jwks_uri)?;
        Self::new(Location::Uri, Some(jwks_uri.to_owned()), policy)
    }

    /// RSA keys published without `alg` are taken as keys for `alg`
    /// ([`KeySet::from_jwks_json_assuming_rsa`]): for an OpenID provider's ID tokens, RS256.
    pub fn assuming_rsa_alg(mut self, alg: gatehouse_jose::Algorithm) -> Self {
        self.rsa_alg = Some(alg);
        self
    }

    fn new(
        location: Location,
        jwks_uri: Option<String>,
        policy: JwksCachePolicy,
    ) -> Result<Self, GuardConfigError> {
        Ok(Self {
            location,
            rsa_alg: None,
            policy,
            http: Http::new()?,
            snapshot: RwLock::new(Snapshot {
                jwks_uri,
                ..Snapshot::default()
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> T {
        f(&mut self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The cached set if fresh; otherwise, if a fetch failed recently, the stale set or the
    /// remembered failure. `None`: a fetch is due.
    fn cached(&self, now: Instant) -> Option<Result<Arc<KeySet>, KeySourceError>> {
        self.read(|s| {
            if let (Some(keys), Some(fresh_until)) = (&s.keys, s.fresh_until)
                && now < fresh_until
            {
                return Some(Ok(Arc::clone(keys)));
            }
            let failed_recently = s
                .last_failure
                .is_some_and(|at| now.saturating_duration_since(at) < self.policy.failure_ttl);
            failed_recently.then(|| stale_or_error(s))
        })
    }

    /// The set to use for an unknown `kid` without fetching, if no fetch is allowed or needed.
    fn cooling_down(
        &self,
        kid: Option<&str>,
        now: Instant,
    ) -> Option<Result<Arc<KeySet>, KeySourceError>> {
        self.read(|s| {
            // Another caller fetched the key meanwhile.
            if let (Some(keys), Some(kid)) = (&s.keys, kid)
                && keys.contains_kid(kid)
            {
                return Some(Ok(Arc::clone(keys)));
            }
            let recent = s.last_attempt.is_some_and(|at| {
                now.saturating_duration_since(at) < self.policy.unknown_kid_cooldown
            });
            // A failure is remembered for unknown kids too: no retry storm against a failing
            // issuer, whichever path asks.
            let failed_recently = s
                .last_failure
                .is_some_and(|at| now.saturating_duration_since(at) < self.policy.failure_ttl);
            (recent || failed_recently).then(|| stale_or_error(s))
        })
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, KeySourceError> {
        let started = Instant::now();
        self.write(|s| s.last_attempt = Some(started));
        match self.fetch_keys().await {
            Ok((keys, ttl)) => {
                let keys = Arc::new(keys);
                self.write(|s| {
                    s.keys = Some(Arc::clone(&keys));
                    // A TTL beyond what `Instant` can hold means "a year" (the policy caps it
                    // lower anyway).
                    s.fresh_until = started
                        .checked_add(ttl)
                        .or_else(|| started.checked_add(Duration::from_secs(365 * 86_400)));
                    s.last_failure = None;
                });
                Ok(keys)
            }
            Err(reason) => {
                tracing::warn!(%reason, "fetching the issuer's JWKS failed");
                self.write(|s| {
                    s.last_failure = Some(Instant::now());
                    stale_or_error(s)
                })
            }
        }
    }

    async fn fetch_keys(&self) -> Result<(KeySet, Duration), String> {
        let jwks_uri = match self.read(|s| s.jwks_uri.clone()) {
            Some(uri) => uri,
            None => {
                let Location::Issuer(issuer) = &self.location else {
                    return Err("no jwks_uri".into());
                };
                let metadata = fetch::discover(&self.http, issuer).await?;
                let uri = metadata
                    .jwks_uri
                    .ok_or("the issuer's metadata has no jwks_uri")?;
                check_fetch_url(&uri).map_err(|e| e.to_string())?;
                self.write(|s| s.jwks_uri = Some(uri.clone()));
                uri
            }
        };
        let fetched = self.http.get(&jwks_uri).await?;
        if fetched.status != 200 {
            return Err(format!("{jwks_uri} answered {}", fetched.status));
        }
        let (keys, ignored) = match self.rsa_alg {
            Some(alg) => KeySet::from_jwks_json_assuming_rsa(&fetched.body, alg),
            None => KeySet::from_jwks_json(&fetched.body),
        }
        .map_err(|e| e.to_string())?;
        for reason in &ignored {
            tracing::debug!(%reason, "ignored a key of the issuer's JWKS");
        }
        if keys.is_empty() {
            tracing::warn!(%jwks_uri, "the issuer's JWKS has no key usable for signatures");
        }
        Ok((keys, self.policy.ttl(fetched.max_age, fetched.no_cache)))
    }
}

fn stale_or_error(s: &Snapshot) -> Result<Arc<KeySet>, KeySourceError> {
    s.keys
        .clone()
        .ok_or_else(|| KeySourceError::new("the issuer's JWKS could not be fetched"))
}

impl KeySource for RemoteJwks {
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
        Box::pin(async move {
            if let Some(result) = self.cached(Instant::now()) {
                return result;
            }
            let _fetching = match self.fetching.try_lock() {
                Ok(fetching) => fetching,
                Err(_) => {
                    // Another caller is refreshing: serve the stale set meanwhile rather than
                    // queue behind the network; wait only if there is nothing to serve.
                    if let Some(stale) = self.read(|s| s.keys.clone()) {
                        return Ok(stale);
                    }
                    self.fetching.lock().await
                }
            };
            if let Some(result) = self.cached(Instant::now()) {
                return result;
            }
            self.fetch().await
        })
    }

    fn refresh_for_unknown_kid<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Arc<KeySet>, KeySourceError>> {
        Box::pin(async move {
            if let Some(result) = self.cooling_down(kid, Instant::now()) {
                return result;
            }
            let _fetching = self.fetching.lock().await;
            if let Some(result) = self.cooling_down(kid, Instant::now()) {
                return result;
            }
            self.fetch().await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_bounded() {
        let policy = JwksCachePolicy::default();
        assert_eq!(policy.ttl(None, false), Duration::from_secs(600));
        assert_eq!(policy.ttl(Some(0), false), Duration::from_secs(60));
        assert_eq!(policy.ttl(Some(300), false), Duration::from_secs(300));
        assert_eq!(
            policy.ttl(Some(u64::MAX), false),
            Duration::from_secs(86_400)
        );
        assert_eq!(policy.ttl(Some(300), true), Duration::from_secs(60));
    }
}
