//! A bounded cache keyed by the SHA-256 of a token, never by the token itself, so that a memory
//! dump of the resource server holds no usable bearer token.
//!
//! Entries expire at a time their inserter chooses (never after the token's `exp`); when the
//! cache is full, expired entries go first, then the oldest.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{PoisonError, RwLock};

use sha2::{Digest, Sha256};

/// The SHA-256 of a token.
pub(crate) type TokenHash = [u8; 32];

/// Hashes a token for use as a cache key.
pub(crate) fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The keys are SHA-256 outputs already: uniformly distributed, and an attacker cannot choose
/// them without a preimage. Their first eight bytes are a perfectly good hash, and skipping
/// SipHash keeps the warm path short.
#[derive(Clone, Copy, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as a length prefix then the bytes; keep the first 8 bytes of the
        // longest write, which is the digest.
        if bytes.len() >= 8 {
            let mut first = [0u8; 8];
            first.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
            self.0 = u64::from_le_bytes(first);
        }
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct DigestState;

impl BuildHasher for DigestState {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

struct Entry<V> {
    value: V,
    /// Seconds since the epoch; the entry is usable while `now < expires_at`.
    expires_at: u64,
}

struct State<V> {
    entries: HashMap<TokenHash, Entry<V>, DigestState>,
    /// Insertion order, oldest first. May hold keys already removed; see [`TokenCache::insert`].
    order: VecDeque<TokenHash>,
    /// The latest expiry of a live entry removed to make room: until then, an absent key may
    /// have been forgotten rather than never seen ([`TokenCache::insert_new`] fails closed).
    evicted_until: u64,
}

/// The cache. A capacity of zero disables it.
pub(crate) struct TokenCache<V> {
    capacity: usize,
    state: RwLock<State<V>>,
}

impl<V: Clone> TokenCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: RwLock::new(State {
                entries: HashMap::with_hasher(DigestState),
                order: VecDeque::new(),
                evicted_until: 0,
            }),
        }
    }

    /// The value for `key`, if present and not expired at `now`.
    pub(crate) fn get(&self, key: &TokenHash, now: u64) -> Option<V> {
        if self.capacity == 0 {
            return None;
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .entries
            .get(key)
            .filter(|entry| now < entry.expires_at)
            .map(|entry| entry.value.clone())
    }

    /// Stores `value` until `expires_at` (seconds since the epoch). Nothing is stored if it has
    /// expired already.
    pub(crate) fn insert(&self, key: TokenHash, value: V, expires_at: u64, now: u64) {
        if self.capacity == 0 || expires_at <= now {
            return;
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        self.put(&mut state, key, value, expires_at, now);
    }

    /// Stores `value` until `expires_at` unless a live entry for `key` exists: `true` if it was
    /// stored. One lock for the test and the insertion, so of two concurrent calls with one key
    /// exactly one gets `true`. Fails closed once live entries had to be dropped for room: a key
    /// that expires no later than the latest of them may be one of them, and gets `false`.
    pub(crate) fn insert_new(&self, key: TokenHash, value: V, expires_at: u64, now: u64) -> bool {
        if self.capacity == 0 || expires_at <= now {
            return true;
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if expires_at <= state.evicted_until
            || state
                .entries
                .get(&key)
                .is_some_and(|entry| now < entry.expires_at)
        {
            return false;
        }
        self.put(&mut state, key, value, expires_at, now);
        true
    }

    fn put(&self, state: &mut State<V>, key: TokenHash, value: V, expires_at: u64, now: u64) {
        if state.entries.len() >= self.capacity && !state.entries.contains_key(&key) {
            state.entries.retain(|_, entry| now < entry.expires_at);
            // Down to nine tenths when live entries must go, so that a cache full of them sweeps
            // once per tenth of its capacity, not on every insertion.
            let room = if state.entries.len() >= self.capacity {
                self.capacity - self.capacity / 10 - 1
            } else {
                self.capacity
            };
            while state.entries.len() > room.min(self.capacity - 1) {
                match state.order.pop_front() {
                    Some(oldest) => {
                        if let Some(gone) = state.entries.remove(&oldest) {
                            state.evicted_until = state.evicted_until.max(gone.expires_at);
                        }
                    }
                    None => break,
                }
            }
        }
        state.entries.insert(key, Entry { value, expires_at });
        state.order.push_back(key);
        // Keys removed by the expiry sweep stay in `order`; drop them before it grows past
        // twice the capacity, so memory stays bounded whatever the insertion pattern.
        if state.order.len() > self.capacity.saturating_mul(2) {
            let State { entries, order, .. } = state;
            let mut seen = std::collections::HashSet::with_hasher(DigestState);
            // Keep the newest occurrence of each live key, in order.
            let mut kept: VecDeque<TokenHash> = order
                .iter()
                .rev()
                .filter(|key| entries.contains_key(*key) && seen.insert(**key))
                .copied()
                .collect();
            kept.make_contiguous().reverse();
            *order = kept;
        }
    }

    /// Removes every entry (tests, key compromise).
    pub(crate) fn clear(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.entries.clear();
        state.order.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn entries_expire_and_capacity_is_kept() {
        let cache = TokenCache::new(3);
        cache.insert(token_hash("a"), 1, 100, 10);
        assert_eq!(cache.get(&token_hash("a"), 99), Some(1));
        assert_eq!(cache.get(&token_hash("a"), 100), None);
        cache.insert(token_hash("expired"), 0, 10, 10);
        assert_eq!(cache.get(&token_hash("expired"), 5), None);

        cache.insert(token_hash("b"), 2, 20, 10);
        cache.insert(token_hash("c"), 3, 100, 10);
        // Full: at time 30, "b" has expired and goes first; "a" (older) stays.
        cache.insert(token_hash("d"), 4, 100, 30);
        assert_eq!(cache.get(&token_hash("a"), 30), Some(1));
        assert_eq!(cache.get(&token_hash("d"), 30), Some(4));
        // Full of live entries: the oldest ("a") goes.
        cache.insert(token_hash("e"), 5, 100, 30);
        assert_eq!(cache.get(&token_hash("a"), 30), None);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn order_stays_bounded() {
        let cache = TokenCache::new(4);
        for i in 0..1_000u64 {
            // Every entry expires before the next insertion: all removals are sweeps.
            cache.insert(token_hash(&i.to_string()), i, i + 1, i);
        }
        let state = cache.state.read().unwrap();
        assert!(state.order.len() <= 8);
        assert!(state.entries.len() <= 4);
    }

    #[test]
    fn insert_new_fails_closed_after_live_entries_were_dropped() {
        let cache = TokenCache::new(10);
        for i in 0..10u64 {
            assert!(cache.insert_new(token_hash(&i.to_string()), (), 100 + i, 1));
        }
        // Full of live entries: the oldest go to make room, and whatever expires no later than
        // they do may be one of them.
        assert!(cache.insert_new(token_hash("new"), (), 200, 1));
        assert!(!cache.insert_new(token_hash("0"), (), 100, 1));
        assert!(!cache.insert_new(token_hash("another"), (), 100, 1));
        assert!(cache.len() <= 10);
    }

    #[test]
    fn insert_new_refuses_a_live_key_only() {
        let cache = TokenCache::new(4);
        assert!(cache.insert_new(token_hash("a"), (), 100, 10));
        assert!(!cache.insert_new(token_hash("a"), (), 100, 50));
        // Once expired, the key is new again.
        assert!(cache.insert_new(token_hash("a"), (), 200, 100));
    }

    #[test]
    fn zero_capacity_disables() {
        let cache = TokenCache::new(0);
        cache.insert(token_hash("a"), 1, 100, 10);
        assert_eq!(cache.get(&token_hash("a"), 10), None);
    }
}
