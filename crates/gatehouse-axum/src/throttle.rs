//! Throttling failed sign-ins per account (NIST SP 800-63B §5.2.2: "the verifier SHALL
//! effectively limit the number of consecutive failed authentication attempts on a single
//! subscriber account to no more than 100").
//!
//! After `login.throttle_after_failures` failures in a row, an account can be tried again only
//! after a delay that doubles with each further failure, from 30 seconds up to 15 minutes; the
//! password is not even checked before then. That caps an online guesser at about a hundred
//! guesses a day per account, whichever addresses they come from (the per-address limit is
//! `rate_limits.authorize_per_min`), while the person who forgot their password waits minutes,
//! not forever. A successful sign-in starts the count again.
//!
//! The count of a local user is in the store, so every instance sees it and a restart does not
//! reset it. Names that are not local users (mistyped, guessed, or checked by a plugged-in
//! `Authenticator`) are counted in memory the same way, keyed case-insensitively and without
//! surrounding spaces (a directory behind an `Authenticator` often matches names so), so that
//! the answer does not tell an attacker which names exist; nothing a stranger typed is written
//! to the database. When memory is full, names that are not being delayed are forgotten first.
//!
//! Attempts on one account are taken one at a time on an instance ([`SignInThrottle::hold`]):
//! otherwise a burst of concurrent guesses would all pass the check before the first failure was
//! counted. Across instances sharing a database, at most one attempt per instance can be in
//! flight at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatehouse_store::{ServerStore, SignInFailures};
use gatehouse_types::UnixTime;

/// The first delay, and the longest.
const FIRST_DELAY_SECS: u64 = 30;
const MAX_DELAY_SECS: u64 = 15 * 60;
/// Names counted in memory at most (each under 1 KiB).
const MAX_REMEMBERED: usize = 50_000;
/// A name is remembered for this long after its last failure.
const REMEMBER_SECS: u64 = 24 * 3600;
/// Characters of a name used as the key: a name is whatever the form held.
const MAX_KEY_CHARS: usize = 256;

/// Failed sign-ins per account.
pub(crate) struct SignInThrottle {
    threshold: u32,
    others: Mutex<HashMap<String, SignInFailures>>,
    /// One lock per account being tried now; an entry lives while someone holds it.
    attempts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// An account held for one attempt (see [`SignInThrottle::hold`]).
pub(crate) struct Held {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl SignInThrottle {
    pub(crate) fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1),
            others: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until no other attempt on `name` runs on this instance, and holds it until the
    /// returned value is dropped.
    pub(crate) async fn hold(&self, name: &str) -> Held {
        let lock = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            // Locks nobody holds or waits for are dropped, so the map holds only live attempts.
            attempts.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(attempts.entry(Self::key(name)).or_default())
        };
        Held {
            _guard: lock.lock_owned().await,
        }
    }

    /// How long after its last failure an account with `failures` may be tried again.
    fn delay(&self, failures: u32) -> u64 {
        let beyond = failures.saturating_sub(self.threshold);
        if failures < self.threshold {
            return 0;
        }
        FIRST_DELAY_SECS
            .saturating_mul(1u64.checked_shl(beyond.min(32)).unwrap_or(u64::MAX))
            .min(MAX_DELAY_SECS)
    }

    /// The key of a name counted in memory: trimmed, lowercase, bounded.
    fn key(name: &str) -> String {
        name.trim()
            .chars()
            .flat_map(char::to_lowercase)
            .take(MAX_KEY_CHARS)
            .collect()
    }

    async fn failures(&self, store: &impl ServerStore, name: &str) -> SignInFailures {
        match store.sign_in_failures(name).await {
            Ok(Some(failures)) => failures,
            Ok(None) => self.remembered(name),
            Err(error) => {
                tracing::warn!(%error, "could not read failed sign-ins");
                SignInFailures::default()
            }
        }
    }

    fn remembered(&self, name: &str) -> SignInFailures {
        let others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        others.get(&Self::key(name)).copied().unwrap_or_default()
    }

    /// Seconds until `name` may be tried again, if it may not be now.
    pub(crate) async fn wait(
        &self,
        store: &impl ServerStore,
        name: &str,
        now: UnixTime,
    ) -> Option<u64> {
        let failures = self.failures(store, name).await;
        let last = failures.last_at?;
        let until = last.saturating_add_secs(self.delay(failures.count));
        (now < until).then(|| until.secs_since(now))
    }

    /// Counts a failure of `name`.
    pub(crate) async fn failed(&self, store: &impl ServerStore, name: &str, now: UnixTime) {
        match store.record_sign_in_failure(name, now).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
                if others.len() >= MAX_REMEMBERED {
                    forget_old(&mut others, now);
                }
                if others.len() >= MAX_REMEMBERED {
                    // Names being delayed are kept: flooding new names must not reset them.
                    let delayed = |failures: &SignInFailures| {
                        failures.last_at.is_some_and(|last| {
                            now < last.saturating_add_secs(self.delay(failures.count))
                        })
                    };
                    let victim = others
                        .iter()
                        .filter(|(_, failures)| !delayed(failures))
                        .min_by_key(|(_, failures)| failures.last_at)
                        .or_else(|| others.iter().min_by_key(|(_, f)| f.last_at))
                        .map(|(key, _)| key.clone());
                    if let Some(victim) = victim {
                        others.remove(&victim);
                    }
                }
                let entry = others.entry(Self::key(name)).or_default();
                entry.count = entry.count.saturating_add(1);
                entry.last_at = Some(now);
            }
            Err(error) => tracing::warn!(%error, "could not count a failed sign-in"),
        }
    }

    /// Starts the count of `name` again.
    pub(crate) async fn succeeded(&self, store: &impl ServerStore, name: &str) {
        if let Err(error) = store.clear_sign_in_failures(name).await {
            tracing::warn!(%error, "could not reset failed sign-ins");
        }
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        others.remove(&Self::key(name));
    }

    /// Forgets names whose last failure is long past (the maintenance task calls it).
    pub(crate) fn shrink(&self, now: UnixTime) {
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        forget_old(&mut others, now);
        others.shrink_to_fit();
    }
}

fn forget_old(others: &mut HashMap<String, SignInFailures>, now: UnixTime) {
    others.retain(|_, failures| {
        failures
            .last_at
            .is_some_and(|last| now < last.saturating_add_secs(REMEMBER_SECS))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::{MemoryBackend, UserRecord};

    #[test]
    fn the_delay_doubles_from_the_threshold_up_to_fifteen_minutes() {
        let throttle = SignInThrottle::new(5);
        let delays: Vec<u64> = (0..=12).map(|n| throttle.delay(n)).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]
        );
        assert_eq!(throttle.delay(u32::MAX), 900);
    }

    #[tokio::test]
    async fn nist_800_63b_5_2_2_consecutive_failures_are_limited_per_account() {
        let store = MemoryBackend::new();
        store
            .add_user(UserRecord {
                name: "alice".into(),
                password_hash: "x".into(),
                created_at: UnixTime::from_secs(0),
            })
            .await
            .unwrap();
        let throttle = SignInThrottle::new(3);
        let now = UnixTime::from_secs(1_000);
        for name in ["alice", "no-such-user"] {
            for _ in 0..3 {
                assert_eq!(throttle.wait(&store, name, now).await, None, "{name}");
                throttle.failed(&store, name, now).await;
            }
            // The same answer for a user and a name that is none.
            assert_eq!(throttle.wait(&store, name, now).await, Some(30), "{name}");
            assert_eq!(
                throttle
                    .wait(&store, name, now.saturating_add_secs(30))
                    .await,
                None
            );
            throttle.succeeded(&store, name).await;
            assert_eq!(throttle.wait(&store, name, now).await, None);
        }
        // Counted in the store for the user (every instance sees it), in memory otherwise.
        throttle.failed(&store, "alice", now).await;
        assert_eq!(
            store
                .sign_in_failures("alice")
                .await
                .unwrap()
                .unwrap()
                .count,
            1
        );
        assert_eq!(store.sign_in_failures("no-such-user").await.unwrap(), None);
    }

    #[tokio::test]
    async fn names_in_memory_are_matched_case_insensitively_and_delayed_ones_kept() {
        let store = MemoryBackend::new();
        let throttle = SignInThrottle::new(2);
        let now = UnixTime::from_secs(1_000);
        throttle.failed(&store, "Bob", now).await;
        throttle.failed(&store, " bob ", now).await;
        assert!(throttle.wait(&store, "BOB", now).await.is_some());
        // A flood of other names does not reset a name being delayed.
        for n in 0..(MAX_REMEMBERED + 10) {
            throttle.failed(&store, &format!("guess-{n}"), now).await;
        }
        assert!(throttle.wait(&store, "bob", now).await.is_some());
    }

    #[tokio::test]
    async fn attempts_on_one_account_are_taken_one_at_a_time() {
        let throttle = Arc::new(SignInThrottle::new(3));
        let first = throttle.hold("alice").await;
        let waiting = {
            let throttle = Arc::clone(&throttle);
            tokio::spawn(async move { throttle.hold("ALICE").await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a second attempt waits");
        let other = throttle.hold("bob").await;
        drop(first);
        waiting.await.unwrap();
        drop(other);
        assert!(throttle.attempts.lock().unwrap().len() <= 2);
    }

    #[tokio::test]
    async fn names_in_memory_are_bounded() {
        let store = MemoryBackend::new();
        let throttle = SignInThrottle::new(1);
        let now = UnixTime::from_secs(1_000);
        for n in 0..(MAX_REMEMBERED + 10) {
            throttle.failed(&store, &format!("guess-{n}"), now).await;
        }
        let long = "x".repeat(100_000);
        throttle.failed(&store, &long, now).await;
        let others = throttle.others.lock().unwrap();
        assert!(others.len() <= MAX_REMEMBERED);
        assert!(others.keys().all(|k| k.chars().count() <= MAX_KEY_CHARS));
    }
}
