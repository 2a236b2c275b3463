//! Per-caller rate limits: a budget of requests a minute for each client and subject on a
//! resource, spent by every authenticated request, answered `429 Too Many Requests` with
//! `Retry-After` (RFC 6585 §4) past it.
//!
//! A caller is who the token names, not where the request comes from: agents behind one NAT do
//! not share a budget, and one agent does not escape its own by changing address. The budget is
//! spent after the token (and its DPoP proof) is verified, so a stranger can spend no one's.
//!
//! The arithmetic is [`gatehouse_types::rate`]; where arrival times live is a [`RateLimiter`]:
//! in this process by default ([`MemoryRateLimiter`]), or shared by every instance behind a load
//! balancer (`gatehouse serve` on PostgreSQL spends them in the database, so that several
//! instances enforce one limit, not one each).

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use gatehouse_types::rate::{PerMinute, spend};
use sha2::{Digest, Sha256};

use crate::Principal;
use crate::error::RateLimitError;

/// Where the arrival times of callers' budgets are kept. An error refuses the request with
/// `503`: the guard fails closed, as for the revocation check.
pub trait RateLimiter: Send + Sync + 'static {
    /// Spends one request of `budget` for `key` at `now_us` (microseconds since the Unix epoch):
    /// `Ok(Ok(()))` if it passes, `Ok(Err(us))` if it must wait that long
    /// ([`gatehouse_types::rate::spend`]).
    fn spend<'a>(
        &'a self,
        key: &'a [u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> BoxFuture<'a, Result<Result<(), u64>, RateLimitError>>;
}

/// Shards of the in-memory limiter: requests of different callers rarely wait for one lock.
const SHARDS: usize = 16;

/// The default [`RateLimiter`]: arrival times in this process, at most
/// [`MemoryRateLimiter::DEFAULT_CAPACITY`] keys.
///
/// A key whose arrival time has passed has its whole budget back, so it is forgotten first when
/// a shard is full. Should a shard be full of callers who are all spending (far more than any
/// deployment has), one of them is forgotten, which gives it a fresh budget: memory stays
/// bounded, and the limit errs on letting a request through.
pub struct MemoryRateLimiter {
    shards: Vec<Mutex<HashMap<[u8; 32], u64>>>,
    per_shard: usize,
}

impl MemoryRateLimiter {
    /// The default bound on keys.
    pub const DEFAULT_CAPACITY: usize = 1 << 20;

    /// A limiter of at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Spends at once; what [`RateLimiter::spend`] answers.
    pub fn spend_now(&self, key: &[u8; 32], now_us: u64, budget: PerMinute) -> Result<(), u64> {
        let shard = usize::from(key[0]) % SHARDS;
        let Some(shard) = self.shards.get(shard) else {
            return Ok(());
        };
        let mut times = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = times.get(key).copied();
        let next = spend(tat, now_us, budget)?;
        if tat.is_none() && times.len() >= self.per_shard {
            times.retain(|_, tat| *tat > now_us);
            if times.len() >= self.per_shard
                && let Some(any) = times.keys().next().copied()
            {
                times.remove(&any);
            }
        }
        times.insert(*key, next);
        Ok(())
    }

    /// Forgets the keys whose budget is whole again at `now_us`.
    pub fn purge(&self, now_us: u64) {
        for shard in &self.shards {
            let mut times = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            times.retain(|_, tat| *tat > now_us);
        }
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn spend<'a>(
        &'a self,
        key: &'a [u8; 32],
        now_us: u64,
        budget: PerMinute,
    ) -> BoxFuture<'a, Result<Result<(), u64>, RateLimitError>> {
        Box::pin(std::future::ready(Ok(self.spend_now(key, now_us, budget))))
    }
}

/// A guard's limit: the budget and where it is kept.
pub(crate) struct CallerLimit {
    pub(crate) budget: PerMinute,
    pub(crate) limiter: std::sync::Arc<dyn RateLimiter>,
}

/// The key of a caller on a resource: a hash, so that whoever keeps arrival times (a shared
/// database) holds neither subjects nor client ids, and every key has one size.
pub(crate) fn caller_key(resource: &str, principal: &Principal) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [resource, principal.client_id(), principal.subject()] {
        // Length-prefixed: ("a", "bc") and ("ab", "c") are different callers.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_shard_forgets_whole_budgets_first_and_stays_bounded() {
        let limiter = MemoryRateLimiter::new(SHARDS * 2);
        let budget = PerMinute::new(1);
        // Three keys of one shard (the first byte picks it).
        let key = |n: u8| {
            let mut key = [0u8; 32];
            key[1] = n;
            key
        };
        assert_eq!(limiter.spend_now(&key(1), 0, budget), Ok(()));
        assert!(limiter.spend_now(&key(1), 0, budget).is_err());
        assert_eq!(limiter.spend_now(&key(2), 0, budget), Ok(()));
        // Full of spending callers: a third still gets in, one is forgotten.
        assert_eq!(limiter.spend_now(&key(3), 0, budget), Ok(()));
        let held = limiter.shards[0]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        assert_eq!(held, 2);
        // A minute later every budget is whole again; the purge forgets them all.
        limiter.purge(60_000_000);
        assert_eq!(
            limiter.shards[0]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len(),
            0
        );
    }
}
