//! What the webhook's cache of notary metadata reads before verifying
//! (`notary::freshness`): a role's expiry, and the snapshot a timestamp names. And the one
//! RFC 3339 parser of the core (`time::parse_rfc3339`), against a model written from the
//! grammar.

use std::collections::BTreeMap;

use portieris_core::limits::MAX_ROLE_BYTES;
use portieris_core::notary::freshness::{self, FreshnessError, QUOTED_CHARS, SnapshotEntry};
use portieris_core::time::{Rfc3339, UnixTime, parse_rfc3339};
use serde_json::Value;

use crate::input;

/// 9999-12-31T23:59:59Z + 1: later times have no four-digit year to be written with.
const YEAR_10000: u64 = 253_402_300_800;

/// Target `tuf_freshness`: a role file, then after a NUL another timestamp. The first is read
/// for its expiry and both for the snapshot they name; the first is also read as a date.
pub fn run(data: &[u8]) {
    let (first, second) = input::split(data);
    if let Ok(text) = std::str::from_utf8(first) {
        check_date(text);
    }
    check_expiry(first);
    let (one, two) = (check_entry(first), check_entry(second));
    // Two timestamps name the same snapshot exactly when they list the same hashes (as text:
    // base64 has one spelling per value) and the same length.
    if let (Some((Ok(a), Some(ma))), Some((Ok(b), Some(mb)))) = (&one, &two) {
        assert_eq!(a == b, ma == mb, "{a:?} vs {b:?}");
    }
}

/// The date parser agrees with the model, and what it accepts is written back to itself.
fn check_date(text: &str) {
    let got = parse_rfc3339(text);
    assert_eq!(got, model_date(text), "{text:?}");
    if let Some(time) = got.filter(|t| t.0 < YEAR_10000) {
        let written = Rfc3339(time).to_string();
        assert_eq!(parse_rfc3339(&written), Some(time), "{written}");
        assert_eq!(written.len(), 20, "{written}");
    }
}

fn check_expiry(role: &[u8]) {
    let got = freshness::expires(role);
    if role.len() > MAX_ROLE_BYTES {
        assert!(matches!(got, Err(FreshnessError::TooLarge { .. })));
        return;
    }
    let value = serde_json::from_slice::<Value>(role);
    let expires = value
        .as_ref()
        .ok()
        .and_then(|v| v.get("signed")?.get("expires"));
    match (&got, expires.and_then(Value::as_str)) {
        (Ok(time), Some(text)) => {
            assert_eq!(Some(*time), model_date(text), "{text:?}");
            check_date(text);
        }
        (Err(FreshnessError::NotRfc3339(got)), Some(text)) => {
            let quoted: String = text.chars().take(QUOTED_CHARS).collect();
            assert_eq!(*got, quoted);
            assert_eq!(model_date(text), None, "{text:?}");
        }
        (Err(FreshnessError::NotJson(_)), _) => assert!(value.is_err()),
        (Err(FreshnessError::Missing(_)), None) => {}
        (got, text) => panic!("core {got:?}, signed.expires {text:?}"),
    }
}

/// The core's snapshot entry, checked against the model's reading of the same `Value`, with
/// the model's (hashes as text, length) when it reads one.
fn check_entry(timestamp: &[u8]) -> Option<(Result<SnapshotEntry, FreshnessError>, Option<Key>)> {
    let got = freshness::snapshot_entry(timestamp);
    if timestamp.len() > MAX_ROLE_BYTES {
        assert!(matches!(got, Err(FreshnessError::TooLarge { .. })));
        return None;
    }
    let Ok(value) = serde_json::from_slice::<Value>(timestamp) else {
        assert!(matches!(got, Err(FreshnessError::NotJson(_))));
        return None;
    };
    let want = model_entry(&value);
    match (&got, &want) {
        (Ok(entry), Ok((hashes, length))) => {
            assert_eq!(entry.length, *length);
            let decoded: BTreeMap<&String, Option<Vec<u8>>> = hashes
                .iter()
                .map(|(name, text)| (name, decode_base64(text)))
                .collect();
            let core: BTreeMap<&String, Option<Vec<u8>>> = entry
                .hashes
                .iter()
                .map(|(name, bytes)| (name, Some(bytes.clone())))
                .collect();
            assert_eq!(core, decoded);
            assert_eq!(entry.hashes.get("sha256").map(Vec::len), Some(32));
        }
        (Err(error), Err(kind)) => assert_eq!(entry_kind(error), *kind, "{error}"),
        _ => panic!("core {got:?}, model {want:?}"),
    }
    Some((got, want.ok()))
}

/// What the model compares entries by: hashes as written, and the length.
type Key = (BTreeMap<String, String>, Option<u64>);

fn entry_kind(error: &FreshnessError) -> &'static str {
    match error {
        FreshnessError::Missing(_) => "missing",
        FreshnessError::Malformed(_) => "malformed",
        FreshnessError::NoSha256 => "no sha256",
        _ => "other",
    }
}

/// `signed.meta.snapshot`: an object whose `length` (if present and not null) is a
/// non-negative integer and whose `hashes` (likewise) map names to base64 text, with a sha256
/// of 32 bytes.
fn model_entry(value: &Value) -> Result<Key, &'static str> {
    let signed = value
        .get("signed")
        .filter(|s| s.is_object())
        .ok_or("missing")?;
    let entry = signed
        .get("meta")
        .and_then(|m| m.get("snapshot"))
        .ok_or("missing")?;
    let entry = entry.as_object().ok_or("malformed")?;
    let length = match entry.get("length") {
        None | Some(Value::Null) => None,
        Some(length) => Some(length.as_i64().ok_or("malformed")?),
    };
    let hashes = match entry.get("hashes") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(hashes)) => hashes
            .iter()
            .map(|(name, hash)| Some((name.clone(), hash.as_str()?.to_string())))
            .collect::<Option<BTreeMap<_, _>>>()
            .ok_or("malformed")?,
        Some(_) => return Err("malformed"),
    };
    let length = length
        .map(|length| u64::try_from(length).map_err(|_| "malformed"))
        .transpose()?;
    let mut sha256_bytes = None;
    for (name, hash) in &hashes {
        let bytes = decode_base64(hash).ok_or("malformed")?;
        if name == "sha256" {
            sha256_bytes = Some(bytes.len());
        }
    }
    if sha256_bytes != Some(32) {
        return Err("no sha256");
    }
    Ok((hashes, length))
}

/// RFC 4648 base64 with padding, canonical (unused bits zero), written from the RFC.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let mut bits = Vec::with_capacity(bytes.len() * 6);
    for &b in &bytes[..bytes.len() - padding] {
        let value = ALPHABET.iter().position(|&a| a == b)?;
        bits.extend((0..6).rev().map(|i| (value >> i) & 1 == 1));
    }
    let whole = bits.len() / 8 * 8;
    if bits[whole..].iter().any(|&bit| bit) || (padding > 0 && bits.len() - whole != 2 * padding) {
        return None;
    }
    Some(
        bits[..whole]
            .chunks(8)
            .map(|byte| byte.iter().fold(0u8, |acc, &bit| acc << 1 | u8::from(bit)))
            .collect(),
    )
}

/// RFC 3339 as Go's JSON decoding reads it: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of one
/// to nine digits, then `Z` or `±HH:MM`; calendar dates only (no 24:00, no leap second), UTC
/// seconds since the epoch, earlier dates as 0.
fn model_date(text: &str) -> Option<UnixTime> {
    let b = text.as_bytes();
    let number = |from: usize, to: usize| b.get(from..to).and_then(number_of);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let mut rest = b.get(19..)?;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = number_of(&[*h1, *h2])?;
            let minutes = number_of(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let east = hours * 3600 + minutes * 60;
            if *sign == b'+' { east } else { -east }
        }
        _ => return None,
    };
    let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days counted one year and one month at a time, from (or back to) 1970.
    let mut days: i64 = 0;
    for y in year.min(1970)..year.max(1970) {
        let length = if leap(y) { 366 } else { 365 };
        days += if year >= 1970 { length } else { -length };
    }
    days += month_days[..(month - 1) as usize].iter().sum::<i64>() + day - 1;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(UnixTime(u64::try_from(seconds).unwrap_or(0)))
}

fn number_of(digits: &[u8]) -> Option<i64> {
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_model_reads_what_notary_writes() {
        use portieris_core::time::UnixTime;
        assert_eq!(
            super::model_date("1970-01-01T00:01:40Z"),
            Some(UnixTime(100))
        );
        assert_eq!(
            super::model_date("2026-12-11T22:14:15.008180593+01:00"),
            Some(UnixTime(1_797_023_655))
        );
        assert_eq!(super::decode_base64("AAB="), None, "not canonical");
        assert_eq!(super::decode_base64("AAE="), Some(vec![0, 1]));
    }

    #[test]
    fn the_committed_seeds_replay_clean() {
        for entry in std::fs::read_dir("corpus/tuf_freshness").expect("seeds") {
            super::run(&std::fs::read(entry.expect("seed").path()).expect("seed"));
        }
    }
}
