//! The arithmetic of every rate limit in Gatehouse: the generic cell rate algorithm (GCRA, ITU-T
//! I.371), as governor and Redis's `redis-cell` implement it.
//!
//! A budget of `n` a minute lets requests through one every `60 s / n` on average, and up to a
//! whole minute's worth at once after a quiet minute. What it keeps per key is one number, the
//! theoretical arrival time (`tat`): the moment the key's budget would be whole again. That is
//! what makes it fit a shared store: one row per key, updated by one conditional statement, so
//! several instances enforce one limit (the SQL spelling is in `gatehouse-store`, and its
//! behaviour suite holds it to [`spend`]).
//!
//! Times are microseconds since the Unix epoch: fine enough that `60 s / n` is exact to within a
//! millionth for any budget a deployment sets (in milliseconds, 40 000 a minute would round to
//! 60 000).

/// Microseconds in the window a budget is counted over.
const MINUTE_US: u64 = 60_000_000;

/// A budget of requests a minute (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMinute(u32);

impl PerMinute {
    /// `n` requests a minute; `0` is read as one.
    pub const fn new(n: u32) -> Self {
        Self(if n == 0 { 1 } else { n })
    }

    /// The budget.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The time one request costs: the emission interval `T`.
    pub const fn interval_us(self) -> u64 {
        // At least a microsecond, so that any budget still counts.
        let interval = MINUTE_US / self.0 as u64;
        if interval == 0 { 1 } else { interval }
    }

    /// How far ahead of now the arrival time may run: a whole budget, `n × T`.
    pub const fn window_us(self) -> u64 {
        self.interval_us().saturating_mul(self.0 as u64)
    }
}

/// Spends one request of `budget` for a key whose arrival time is `tat` (`None`: a key not seen,
/// or forgotten). `Ok` is the key's new arrival time; `Err` the microseconds until a request
/// would pass, and the arrival time stays as it was.
pub fn spend(tat: Option<u64>, now_us: u64, budget: PerMinute) -> Result<u64, u64> {
    let start = tat.map_or(now_us, |tat| tat.max(now_us));
    let next = start.saturating_add(budget.interval_us());
    let earliest = next.saturating_sub(budget.window_us());
    if earliest <= now_us {
        Ok(next)
    } else {
        Err(earliest - now_us)
    }
}

/// Whole seconds to wait for `us` microseconds, at least one: the value of `Retry-After`
/// (RFC 9110 §10.2.3), rounded up so a client that waits that long gets through.
pub const fn retry_after_secs(us: u64) -> u64 {
    let secs = us.div_ceil(1_000_000);
    if secs == 0 { 1 } else { secs }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_whole_budget_passes_at_once_and_the_next_waits_one_interval() {
        let budget = PerMinute::new(3);
        let now = 1_000_000_000;
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(spend(tat, now, budget).unwrap());
        }
        assert_eq!(spend(tat, now, budget), Err(20_000_000));
        // One interval later, exactly one more passes.
        let later = now + 20_000_000;
        let tat = spend(tat, later, budget).unwrap();
        assert_eq!(spend(Some(tat), later, budget), Err(20_000_000));
    }

    #[test]
    fn a_quiet_key_starts_again_from_now() {
        let budget = PerMinute::new(2);
        let tat = spend(None, 0, budget).unwrap();
        let tat = spend(Some(tat), 0, budget).unwrap();
        assert!(spend(Some(tat), 0, budget).is_err());
        // An hour later the old arrival time is in the past: the full budget is back.
        let hour = 3_600_000_000;
        let tat = spend(Some(tat), hour, budget).unwrap();
        assert!(spend(Some(tat), hour, budget).is_ok());
    }

    #[test]
    fn large_budgets_count_without_rounding_away() {
        // 40 000 a minute is one every 1.5 ms, not one every millisecond.
        assert_eq!(PerMinute::new(40_000).interval_us(), 1_500);
        assert_eq!(PerMinute::new(u32::MAX).interval_us(), 1);
        assert_eq!(PerMinute::new(0).get(), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1_000_001), 2);
        assert_eq!(retry_after_secs(0), 1);
    }
}
