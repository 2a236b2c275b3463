//! Where verification keys come from: the [`KeySource`] trait, a fixed set ([`StaticKeys`]) and
//! a set the host replaces at run time ([`SharedKeys`], for an authorization server in the same
//! process). The remote JWKS source is in `remote_jwks.rs`.

use std::sync::{Arc, PoisonError, RwLock};

use futures_util::future::{self, BoxFuture};
use gatehouse_jose::KeySet;

use crate::KeySourceError;

/// The keys a [`Guard`](crate::Guard) verifies access tokens with.
///
/// Object-safe, so a host can hand in `Arc<dyn KeySource>`. Both methods return the whole
/// current set: a source swaps sets atomically, and a verification uses one set from start to
/// end.
///
/// An authorization server in the same process implements it over its key ring, so that a key
/// it rotates in is trusted at once, without HTTP. The simplest way is to hold a [`SharedKeys`]
/// and call [`SharedKeys::replace`] on rotation.
pub trait KeySource: Send + Sync + 'static {
    /// The keys to verify with now. A remote source may fetch here, when its cache is stale.
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>>;

    /// Called when a token names a `kid` (or, without `kid`, an algorithm) that no key of the
    /// set from [`keys`](Self::keys) has: the issuer may have rotated keys. A remote source
    /// refetches here, at most once per cool-down interval, so that tokens with made-up key ids
    /// cannot make it fetch more often. The default returns [`keys`](Self::keys) again.
    fn refresh_for_unknown_kid<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Arc<KeySet>, KeySourceError>> {
        let _ = kid;
        self.keys()
    }
}

impl<K: KeySource + ?Sized> KeySource for Arc<K> {
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
        (**self).keys()
    }

    fn refresh_for_unknown_kid<'a>(
        &'a self,
        kid: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Arc<KeySet>, KeySourceError>> {
        (**self).refresh_for_unknown_kid(kid)
    }
}

/// A fixed set of keys (configured public keys, tests).
#[derive(Debug, Clone)]
pub struct StaticKeys {
    keys: Arc<KeySet>,
}

impl StaticKeys {
    /// A source that always gives `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }
}

impl KeySource for StaticKeys {
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
        Box::pin(future::ready(Ok(Arc::clone(&self.keys))))
    }
}

/// A set of keys the host replaces at run time; clones share the set. For an authorization
/// server in the same process: give the guard a clone and call [`replace`](Self::replace)
/// whenever the key ring rotates.
#[derive(Debug, Clone, Default)]
pub struct SharedKeys {
    keys: Arc<RwLock<Arc<KeySet>>>,
}

impl SharedKeys {
    /// A shared set starting with `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        }
    }

    /// Replaces the set; verifications that already started finish with the old one.
    pub fn replace(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// The current set.
    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl KeySource for SharedKeys {
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
        Box::pin(future::ready(Ok(self.current())))
    }
}
