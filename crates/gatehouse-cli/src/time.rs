//! Unix times for people: UTC dates and "5 min ago" / "in 9 min". No time-zone database and no
//! dependency: JWT times are UTC seconds and that is all an operator needs to compare them.

/// `2025-06-01 12:00:00 UTC` for seconds since the epoch (negative allowed).
pub(crate) use gatehouse_types::format_utc as utc;

/// A span of seconds, rounded down to what a person reads at a glance: `42 s`, `5 min`,
/// `3 h 20 min`, `12 days`.
pub(crate) fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => {
            let minutes = secs % 3600 / 60;
            if minutes == 0 {
                format!("{} h", secs / 3600)
            } else {
                format!("{} h {minutes} min", secs / 3600)
            }
        }
        _ if secs / 86_400 == 1 => "1 day".to_owned(),
        _ => format!("{} days", secs / 86_400),
    }
}

/// `when` relative to `now`: `"5 min ago"`, `"in 9 min"` or `"now"`.
pub(crate) fn relative(when: i64, now: i64) -> String {
    let delta = i128::from(when) - i128::from(now);
    let magnitude = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
    match delta {
        0 => "now".to_owned(),
        d if d < 0 => format!("{} ago", span(magnitude)),
        _ => format!("in {}", span(magnitude)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_relative_times() {
        assert_eq!(span(42), "42 s");
        assert_eq!(span(300), "5 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(12_000), "3 h 20 min");
        assert_eq!(span(86_400), "1 day");
        assert_eq!(span(30 * 86_400), "30 days");
        assert_eq!(relative(1_000, 1_300), "5 min ago");
        assert_eq!(relative(1_540, 1_000), "in 9 min");
        assert_eq!(relative(7, 7), "now");
        assert_eq!(relative(i64::MIN, i64::MAX), "213503982334601 days ago");
    }
}
