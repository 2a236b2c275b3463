//! Unix times for people: UTC dates and "5 min ago" / "in 9 min". No time-zone database and no
//! dependency: JWT times are UTC seconds and that is all an operator needs to compare them.

/// `2025-06-01 12:00:00 UTC` for seconds since the epoch (negative allowed).
pub(crate) use gatehouse_types::format_utc as utc;

/// `2026-12-07T10:00:00Z` (RFC 3339, UTC) for seconds since the epoch: for machines, where
/// [`utc`] is for people.
pub(crate) fn rfc3339(secs: i64) -> String {
    utc(secs).replacen(' ', "T", 1).replace(" UTC", "Z")
}

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

/// `90m` → 5400 seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("give a unit: s, m, h or d (e.g. 24h)")?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| "start with a number (e.g. 24h)".to_owned())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| "too long a duration".to_owned())
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

    #[test]
    fn durations_have_a_number_and_a_unit() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
