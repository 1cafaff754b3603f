//! Time as the caller gives it: the core never reads a clock. Also the one RFC 3339 reader of
//! the core, for dates as notary writes them (`2026-05-01T12:00:00.123456789Z`).
//!
//! Hand-written: the core has no date crate (chrono and time pull in std or more than
//! this needs), and the grammar is small. Accepts what Go's `time.Time` JSON decoding
//! accepts: a `T`, optional fraction of 1–9 digits, `Z` or a `±hh:mm` offset.

use core::fmt;

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Parses an RFC 3339 date-time into whole seconds since the epoch (the fraction is
/// dropped: expiry is compared at second precision, as `expires < now` with `now` in seconds).
/// Dates before 1970 become 0: such metadata has long expired.
pub fn parse_rfc3339(text: &str) -> Option<UnixTime> {
    let bytes = text.as_bytes();
    let (date, rest) = (bytes.get(..10)?, bytes.get(10..)?);
    let year = digits(date.get(0..4)?)?;
    let month = digits(date.get(5..7)?)?;
    let day = digits(date.get(8..10)?)?;
    if date.get(4) != Some(&b'-') || date.get(7) != Some(&b'-') {
        return None;
    }
    let (clock, rest) = (rest.get(..9)?, rest.get(9..)?);
    if clock.first() != Some(&b'T') || clock.get(3) != Some(&b':') || clock.get(6) != Some(&b':') {
        return None;
    }
    let hour = digits(clock.get(1..3)?)?;
    let minute = digits(clock.get(4..6)?)?;
    let second = digits(clock.get(7..9)?)?;
    let offset = offset_seconds(skip_fraction(rest)?)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
    Some(UnixTime(u64::try_from(seconds).unwrap_or(0)))
}

/// Skips `.ddddddddd` (1–9 digits) if present.
fn skip_fraction(rest: &[u8]) -> Option<&[u8]> {
    let Some(fraction) = rest.strip_prefix(b".") else {
        return Some(rest);
    };
    let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&count) {
        return None;
    }
    fraction.get(count..)
}

/// `Z` → 0, `+hh:mm` / `-hh:mm` → seconds east of UTC.
fn offset_seconds(zone: &[u8]) -> Option<i64> {
    if zone == b"Z" {
        return Some(0);
    }
    let sign = match zone.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if zone.len() != 6 || zone.get(3) != Some(&b':') {
        return None;
    }
    let hours = digits(zone.get(1..3)?)?;
    let minutes = digits(zone.get(4..6)?)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Displays a [`UnixTime`] as `2026-05-01T12:00:00Z` (UTC, whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub UnixTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Beyond i64 seconds no calendar is meaningful; show the raw value.
        let Ok(seconds) = i64::try_from(self.0.0) else {
            return write!(f, "{}", self.0);
        };
        let (days, second_of_day) = (
            seconds.div_euclid(SECONDS_PER_DAY),
            seconds.rem_euclid(SECONDS_PER_DAY),
        );
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn format_rfc3339(time: UnixTime) -> String {
        alloc::format!("{}", Rfc3339(time))
    }

    #[test]
    fn parses_notary_expiry_with_nanoseconds() {
        assert_eq!(
            parse_rfc3339("2026-05-01T12:00:00.123456789Z"),
            Some(UnixTime(1_777_636_800))
        );
    }

    #[test]
    fn parses_offsets_into_utc() {
        assert_eq!(
            parse_rfc3339("2026-05-01T14:00:00+02:00"),
            parse_rfc3339("2026-05-01T12:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-05-01T07:30:00-04:30"),
            parse_rfc3339("2026-05-01T12:00:00Z")
        );
    }

    #[test]
    fn parses_epoch_and_leap_day() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UnixTime(0)));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(UnixTime(1_709_164_800))
        );
    }

    #[test]
    fn dates_before_the_epoch_become_zero() {
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(UnixTime(0)));
    }

    #[test]
    fn refuses_malformed_dates() {
        for text in [
            "",
            "2026-05-01",
            "2026-05-01 12:00:00Z",
            "2026-05-01T12:00:00",
            "2026-05-01T12:00:00z",
            "2026-13-01T12:00:00Z",
            "2026-02-29T12:00:00Z",
            "2026-04-31T12:00:00Z",
            "2026-05-01T24:00:00Z",
            "2026-05-01T12:60:00Z",
            "2026-05-01T12:00:60Z",
            "2026-05-01T12:00:00.Z",
            "2026-05-01T12:00:00.1234567890Z",
            "2026-05-01T12:00:00+0200",
            "2026-05-01T12:00:00+24:00",
            "2026-05-01T12:00:00ZZ",
            "+026-05-01T12:00:00Z",
            "2026-05-01T12:00:00Z\u{e9}",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2026-05-01T12:00:00Z",
            "2099-12-31T00:00:01Z",
        ] {
            let time = parse_rfc3339(text).unwrap_or(UnixTime(u64::MAX));
            assert_eq!(format_rfc3339(time), text);
        }
    }

    /// What the webhook's cache reader (`parse_utc`) accepted, before this became the one
    /// parser: the dates notary writes, in UTC.
    #[test]
    fn reads_expiry_dates_as_notary_writes_them() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UnixTime(0)));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some(UnixTime(951_868_800))
        );
        assert_eq!(
            parse_rfc3339("2026-12-11T21:14:15.008180593Z"),
            Some(UnixTime(1_797_023_655))
        );
        for bad in [
            "2026-12-11 21:14:15Z",
            "2026-13-11T21:14:15Z",
            "2026-12-11T21:14:15.Z",
            "+026-12-11T21:14:15Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    /// Where the webhook's former reader differed: it normalised what Go refuses (a day past
    /// the month's end, seconds up to 99, fractions of any length) and refused offsets, which
    /// a notary client outside UTC writes.
    #[test]
    fn refuses_what_go_refuses_and_reads_offsets() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-12-31T23:59:60Z",
            "2026-12-11T21:14:99Z",
            "2026-12-11T21:14:15.0000000001Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2026-12-11T22:14:15.008180593+01:00"),
            Some(UnixTime(1_797_023_655))
        );
    }
}
