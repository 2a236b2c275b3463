//! Unix times for people: UTC dates and "5 min ago" / "in 9 min". No time-zone database and no
//! dependency: JWT times are UTC seconds and that is all an operator needs to compare them.

/// `2025-06-01 12:00:00 UTC` for seconds since the epoch (negative allowed).
pub(crate) fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Year, month, day of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`, exact for every `i64` day count we can get from seconds).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction; the fallbacks are unreachable.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
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

/// Now, as stored in the database.
pub(crate) fn now_unix() -> gatehouse_types::UnixTime {
    gatehouse_types::UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
        // Extreme values do not panic.
        let _ = utc(i64::MAX);
        let _ = utc(i64::MIN);
    }

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
