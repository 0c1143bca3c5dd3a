//! Request signing as pure functions: Tencent API 3.0 ([`tc3`]), Tencent API 2.0
//! ([`tencent_v2`]) and Huawei / OTC `SDK-HMAC-SHA256` ([`huawei`]).
//!
//! The same functions sign requests in the client and verify them in the provider simulator
//! (recompute, then compare with [`constant_time_eq`]).

pub mod huawei;
pub mod tc3;
pub mod tencent_v2;

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, PercentEncode, percent_decode, percent_encode};
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

/// RFC 3986 unreserved characters (`A-Za-z0-9-._~`) stay as they are; every other byte becomes
/// `%XX` with upper-case hex. Huawei's canonical request (Python `quote(s, safe='~')`) and
/// Tencent's form bodies (`quote_plus`, which also turns a space into `+`) both use it.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `bytes` percent-encoded with [`UNRESERVED`], as borrowed pieces (nothing is copied, so a
/// password encoded into a zeroizing buffer leaves no other copy behind).
fn percent_encoded(bytes: &[u8]) -> PercentEncode<'_> {
    percent_encode(bytes, UNRESERVED)
}

/// `bytes` encoded like Python `quote_plus`: [`percent_encoded`], but a space becomes `+`.
/// Appended to `out`, which must have room for 3 bytes per input byte so it never grows.
fn plus_encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    for (k, piece) in bytes.split(|&b| b == b' ').enumerate() {
        if k > 0 {
            out.push(b'+');
        }
        for chunk in percent_encoded(piece) {
            out.extend_from_slice(chunk.as_bytes());
        }
    }
}

/// Percent-decodes `bytes` into a new buffer of the same capacity (`+` becomes a space when
/// `plus_as_space`); malformed `%` sequences are kept literally.
fn percent_decoded(bytes: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    if plus_as_space {
        for (k, piece) in bytes.split(|&b| b == b'+').enumerate() {
            if k > 0 {
                out.push(b' ');
            }
            out.extend(percent_decode(piece));
        }
    } else {
        out.extend(percent_decode(bytes));
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
        let mut out = Vec::with_capacity(64);
        plus_encode_into("a b/~*é+".as_bytes(), &mut out);
        assert_eq!(out, b"a+b%2F~%2A%C3%A9%2B");
        assert_eq!(percent_decoded(&out, true), "a b/~*é+".as_bytes());
        assert_eq!(percent_decoded(b"%zz%4+%41", false), b"%zz%4+A");
        assert_eq!(percent_decoded(b"%zz%4+%41", true), b"%zz%4 A");
        assert_eq!(percent_encoded(b"a b-._~!").to_string(), "a%20b-._~%21");
        // Every byte outside the unreserved set is escaped (RFC 3986 section 2.3).
        for b in 0..=255u8 {
            let kept = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            let encoded = percent_encoded(&[b]).to_string();
            assert_eq!(encoded.len() == 1, kept, "{b:#04x} -> {encoded}");
        }
    }
}
