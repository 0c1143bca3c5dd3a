//! Request signing as pure functions: Tencent API 3.0 ([`tc3`]), Tencent API 2.0
//! ([`tencent_v2`]) and Huawei / OTC `SDK-HMAC-SHA256` ([`huawei`]).
//!
//! The same functions sign requests in the client and verify them in the provider simulator
//! (recompute, then compare with [`constant_time_eq`]).

pub mod huawei;
pub mod tc3;
pub mod tencent_v2;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Earliest Unix time the date helpers represent (-9999-01-01T00:00:00Z); earlier is clamped.
const MIN_UNIX: i64 = -377_705_116_800;
/// Latest Unix time the date helpers represent (9999-12-31T23:59:59Z); later is clamped.
const MAX_UNIX: i64 = 253_402_300_799;

/// Lower-case hex of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&Sha256::digest(data))
}

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Compares two byte strings in time that depends only on their lengths, not their contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The UTC date-time of a Unix time, clamped to the years -9999..=9999.
fn utc(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix.clamp(MIN_UNIX, MAX_UNIX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// UTC calendar date of a Unix time as `YYYY-MM-DD` (the TC3 credential scope date).
pub fn utc_date(unix: i64) -> String {
    let t = utc(unix);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// UTC time of a Unix time as `YYYYMMDDTHHMMSSZ` (the Huawei `X-Sdk-Date` header).
pub fn sdk_date(unix: i64) -> String {
    let t = utc(unix);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a strict `YYYYMMDDTHHMMSSZ` `X-Sdk-Date` value into a Unix time.
pub fn parse_sdk_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u16>().ok();
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::from(num(0..4)?),
        month,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let hms = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(hms).assume_utc().unix_timestamp())
}

/// `bytes` percent-encoded: RFC 3986 unreserved characters (`A-Za-z0-9-._~`) kept, everything
/// else `%XX` with upper-case hex, except a space becomes `+` when `space_as_plus`.
fn percent_encoded(bytes: &[u8], space_as_plus: bool) -> impl Iterator<Item = u8> + '_ {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    bytes.iter().flat_map(move |&b| {
        let (buf, n) = if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            ([b, 0, 0], 1)
        } else if b == b' ' && space_as_plus {
            ([b'+', 0, 0], 1)
        } else {
            (
                [b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]],
                3,
            )
        };
        buf.into_iter().take(n)
    })
}

/// Percent-decodes `bytes` into a new buffer of the same capacity (`+` becomes a space when
/// `plus_as_space`); malformed `%` sequences are kept literally.
fn percent_decode(bytes: &[u8], plus_as_space: bool) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = (b == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(if b == b'+' && plus_as_space { b' ' } else { b });
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex_lower(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(sdk_date(1_704_164_645), "20240102T030405Z");
        assert_eq!(parse_sdk_date("20240102T030405Z"), Some(1_704_164_645));
        assert_eq!(
            parse_sdk_date("20191115T033655Z").map(sdk_date).as_deref(),
            Some("20191115T033655Z")
        );
        for bad in [
            "",
            "20240102T030405",
            "20240102 030405Z",
            "2024010XT030405Z",
            "20241302T030405Z",
            "20240230T030405Z",
            "20240102T250405Z",
            "+2024012T030405Z",
            "20240102T030405Z ",
        ] {
            assert_eq!(parse_sdk_date(bad), None, "{bad:?}");
        }
        // Out-of-range times clamp instead of panicking.
        assert_eq!(utc_date(i64::MAX), "9999-12-31");
        assert_eq!(sdk_date(i64::MIN), "-99990101T000000Z");
    }

    #[test]
    fn percent_round_trip() {
        let out: Vec<u8> = percent_encoded("a b/~*é".as_bytes(), true).collect();
        assert_eq!(out, b"a+b%2F~%2A%C3%A9");
        assert_eq!(percent_decode(&out, true), "a b/~*é".as_bytes());
        assert_eq!(percent_decode(b"%zz%4+%41", false), b"%zz%4+A");
    }
}
