//! The in-memory deny-list of revoked access tokens.
//!
//! Access tokens are JWTs that the guard verifies without the database. Revocation (RFC 7009,
//! refresh-token reuse, client deletion) must still reach it, and asking the database on every
//! MCP request would make the database the bottleneck of every tool call. So each store keeps the
//! `jti`s revoked and not yet expired in memory:
//!
//! - the instance that revokes adds them as soon as its transaction commits;
//! - other instances sharing a PostgreSQL database learn of them through `LISTEN/NOTIFY`
//!   (see `postgres::listener`), typically within milliseconds of the commit;
//! - at start, and after the notification connection was lost, the whole list is reloaded from
//!   the database. While it is not in sync, [`DenyList::check`] answers
//!   [`RevocationCheck::Unknown`] and the caller asks the database: a lost connection costs
//!   speed, never correctness.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_types::UnixTime;

/// What the deny-list knows about one `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_enums)] // revoked, not revoked, or not known: there is no fourth answer
pub enum RevocationCheck {
    /// Revoked.
    Revoked,
    /// Not revoked, as of the last notification.
    NotRevoked,
    /// The list is not in sync with the database: ask the store.
    Unknown,
}

#[derive(Debug, Default)]
struct Inner {
    revoked: RwLock<HashMap<String, UnixTime>>,
    synced: AtomicBool,
}

/// A shared set of revoked `jti`s with their expiry. Cloning shares the set.
#[derive(Debug, Clone, Default)]
pub struct DenyList {
    inner: Arc<Inner>,
}

impl DenyList {
    /// An empty list that is not in sync: every check is [`RevocationCheck::Unknown`] until
    /// [`replace_all`](Self::replace_all) loads it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `jti` was revoked.
    pub fn check(&self, jti: &str) -> RevocationCheck {
        if !self.inner.synced.load(Ordering::Acquire) {
            return RevocationCheck::Unknown;
        }
        match self.inner.revoked.read() {
            Ok(revoked) if revoked.contains_key(jti) => RevocationCheck::Revoked,
            Ok(_) => RevocationCheck::NotRevoked,
            Err(_) => RevocationCheck::Unknown,
        }
    }

    /// Whether the list is in sync with the database.
    pub fn is_synced(&self) -> bool {
        self.inner.synced.load(Ordering::Acquire)
    }

    /// How many `jti`s are held.
    pub fn len(&self) -> usize {
        self.inner.revoked.read().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether no `jti` is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until the list is in sync, or `timeout` passed (then checks stay
    /// [`RevocationCheck::Unknown`] and fall back to the database until it is).
    pub async fn wait_until_synced(&self, timeout: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_synced() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Adds revoked tokens.
    pub(crate) fn insert(&self, entries: impl IntoIterator<Item = (String, UnixTime)>) {
        if let Ok(mut revoked) = self.inner.revoked.write() {
            revoked.extend(entries);
        } else {
            // A poisoned lock means a panic elsewhere: stop answering from memory.
            self.set_synced(false);
        }
    }

    /// Replaces the whole list with what the database holds, and marks it in sync.
    pub(crate) fn replace_all(&self, entries: impl IntoIterator<Item = (String, UnixTime)>) {
        if let Ok(mut revoked) = self.inner.revoked.write() {
            *revoked = entries.into_iter().collect();
            self.set_synced(true);
        }
    }

    /// Marks the list in sync or not.
    pub(crate) fn set_synced(&self, synced: bool) {
        self.inner.synced.store(synced, Ordering::Release);
    }

    /// Forgets tokens expired at `now`: a verifier refuses them on `exp` anyway.
    pub fn purge(&self, now: UnixTime) {
        if let Ok(mut revoked) = self.inner.revoked.write() {
            revoked.retain(|_, expires_at| *expires_at > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_until_loaded_then_answers_from_memory() {
        let list = DenyList::new();
        assert_eq!(list.check("a"), RevocationCheck::Unknown);
        list.replace_all([("a".to_owned(), UnixTime::from_secs(100))]);
        assert_eq!(list.check("a"), RevocationCheck::Revoked);
        assert_eq!(list.check("b"), RevocationCheck::NotRevoked);
        list.insert([("b".to_owned(), UnixTime::from_secs(200))]);
        assert_eq!(list.check("b"), RevocationCheck::Revoked);
        list.purge(UnixTime::from_secs(150));
        assert_eq!(list.check("a"), RevocationCheck::NotRevoked);
        assert_eq!(list.len(), 1);
        list.set_synced(false);
        assert_eq!(list.check("b"), RevocationCheck::Unknown);
    }
}
