//! Points in time as the wire carries them: whole seconds since the Unix epoch.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z, as in `exp`, `iat` and `client_id_issued_at`
/// ([RFC 7519 §2](https://www.rfc-editor.org/rfc/rfc7519#section-2) "NumericDate", without
/// fractions and without dates before the epoch).
///
/// This crate never reads the clock: the caller passes the time in (see `From<SystemTime>`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The epoch.
    pub const EPOCH: Self = Self(0);

    /// A time from seconds since the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This time plus `secs`, saturating at the far future rather than wrapping to the past.
    pub const fn saturating_add_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// This time minus `secs`, saturating at the epoch.
    pub const fn saturating_sub_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }

    /// Seconds from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn secs_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl From<SystemTime> for UnixTime {
    /// Whole seconds, rounded down; times before the epoch become the epoch.
    fn from(time: SystemTime) -> Self {
        Self(
            time.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    }
}

impl From<UnixTime> for SystemTime {
    fn from(time: UnixTime) -> Self {
        UNIX_EPOCH + Duration::from_secs(time.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(u64::MAX - 1);
        assert_eq!(t.saturating_add_secs(10).as_secs(), u64::MAX);
        assert_eq!(
            UnixTime::from_secs(5).saturating_sub_secs(10),
            UnixTime::EPOCH
        );
        assert_eq!(
            UnixTime::from_secs(10).secs_since(UnixTime::from_secs(20)),
            0
        );
    }

    #[test]
    fn serializes_as_a_bare_integer() {
        assert_eq!(
            serde_json::to_string(&UnixTime::from_secs(1418823866)).unwrap(),
            "1418823866"
        );
        assert!(serde_json::from_str::<UnixTime>("-1").is_err());
        assert!(serde_json::from_str::<UnixTime>("1.5").is_err());
    }
}
