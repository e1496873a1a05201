//! Calendar arithmetic for certificate validity dates in error messages (and the demo
//! server's `Date` header), without a date crate: Howard Hinnant's `civil_from_days` for the
//! proleptic Gregorian calendar. HTTP dates from a server are read by the `httpdate` crate
//! (src/policy.rs), not here.

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`). Exact, and free of overflow, for every day a `u64` count of seconds
/// can name (|days| <= u64::MAX / 86,400), which covers any certificate's dates.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_around_the_epoch_and_leap_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(365), (1971, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn the_latest_day_a_certificate_can_name_does_not_overflow() {
        let last_day = (u64::MAX / 86_400) as i64;
        let (year, month, day) = civil_from_days(last_day);
        assert!(year > 500_000_000_000, "{year}");
        assert!((1..=12).contains(&month) && (1..=31).contains(&day));
    }
}
