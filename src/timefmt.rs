//! Time as people read it: local clock time in the log, RFC 3339 UTC in files and JSON.
//!
//! Nothing here panics, whatever the time: a `SystemTime` outside the years 0000–9999 (a
//! server's number gone wrong, a broken clock) is shown as the nearest time inside them.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local UTC offset. Call once at start, before any thread is spawned (reading it
/// later is not possible safely on every platform); until then, and if it fails, UTC is used.
pub fn init_local_offset() {
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = LOCAL_OFFSET.set(offset);
}

/// The earliest and latest times shown: 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the
/// range RFC 3339 can write.
const FIRST: OffsetDateTime = datetime!(0000-01-01 0:00:00 UTC);
const LAST: OffsetDateTime = datetime!(9999-12-31 23:59:59 UTC);

/// `at` in UTC, whole seconds, clamped to [`FIRST`]..=[`LAST`].
fn utc(at: SystemTime) -> OffsetDateTime {
    let seconds: i64 = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            // Before the epoch: round down to the whole second.
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let extra = i64::from(d.subsec_nanos() > 0);
            whole.saturating_add(extra).saturating_neg()
        }
    };
    let seconds = seconds.clamp(FIRST.unix_timestamp(), LAST.unix_timestamp());
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(if seconds < 0 { FIRST } else { LAST })
}

/// `at` at `offset`; in UTC where the shifted time would leave the years 0000–9999.
fn at_offset(at: SystemTime, offset: UtcOffset) -> OffsetDateTime {
    let t = utc(at);
    t.checked_to_offset(offset)
        .filter(|l| (0..=9999).contains(&l.year()))
        .unwrap_or(t)
}

fn local(at: SystemTime) -> OffsetDateTime {
    at_offset(at, LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC))
}

/// `HH:MM:SS` in local time.
pub fn clock_time(at: SystemTime) -> String {
    clock_of(local(at))
}

fn clock_of(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// `YYYY-MM-DD HH:MM` in local time, for lock ends and expiry dates.
pub fn local_minute(at: SystemTime) -> String {
    minute_of(local(at))
}

fn minute_of(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// RFC 3339 in UTC, whole seconds (`2026-11-24T10:00:00Z`).
pub fn rfc3339_utc(at: SystemTime) -> String {
    utc(at).format(&Rfc3339).unwrap_or_default()
}

/// A parsed time as a `SystemTime`, without the panics of `SystemTime::from` on platforms with
/// a narrower range.
fn to_system(t: OffsetDateTime) -> Option<SystemTime> {
    let seconds = t.unix_timestamp();
    let nanos = Duration::from_nanos(u64::from(t.nanosecond()));
    let base = if seconds >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(seconds.unsigned_abs()))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))?
    };
    base.checked_add(nanos)
}

/// Parses RFC 3339 (as written by [`rfc3339_utc`]).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(to_system)
}

/// Parses RFC 3339, or a date-time without an offset taken as UTC (Huawei's
/// `password_expires_at` looks like `2016-11-06T15:32:17.000000`).
pub fn parse_utc_lenient(text: &str) -> Option<SystemTime> {
    if let Some(t) = parse_rfc3339(text) {
        return Some(t);
    }
    let text = text.trim().trim_end_matches('Z');
    let (seconds, _fraction) = text.split_once('.').unwrap_or((text, ""));
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(seconds, &format)
        .ok()
        .and_then(|t| to_system(t.assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_round_trip() {
        let at = UNIX_EPOCH + Duration::from_secs(1_551_113_065);
        assert_eq!(rfc3339_utc(at), "2019-02-25T16:44:25Z");
        assert_eq!(parse_rfc3339("2019-02-25T16:44:25Z"), Some(at));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            parse_utc_lenient("2019-02-25T16:44:25.000000")
                .map(rfc3339_utc)
                .as_deref(),
            Some("2019-02-25T16:44:25Z")
        );
        assert_eq!(parse_utc_lenient(""), None);
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(rfc3339_utc(before), "1969-12-31T23:59:58Z");
    }

    /// Every whole-hour offset `time` allows, and the extremes.
    fn offsets() -> Vec<UtcOffset> {
        let mut all: Vec<UtcOffset> = (-25..=25)
            .filter_map(|h| UtcOffset::from_hms(h, 0, 0).ok())
            .collect();
        all.extend(
            [
                (25, 59, 59),
                (-25, -59, -59),
                (14, 0, 0),
                (-12, 0, 0),
                (5, 30, 0),
            ]
            .into_iter()
            .filter_map(|(h, m, s)| UtcOffset::from_hms(h, m, s).ok()),
        );
        all
    }

    fn extreme_times() -> Vec<SystemTime> {
        let mut all = vec![
            UNIX_EPOCH,
            UNIX_EPOCH - Duration::from_nanos(1),
            SystemTime::now(),
            parse_utc_lenient("9999-12-31T23:59:59").expect("parses"),
            parse_utc_lenient("0000-01-01T00:00:00").expect("parses"),
        ];
        // Parsed with an offset that takes them past the range, if `time` accepts them.
        all.extend(parse_rfc3339("9999-12-31T23:59:59-23:59"));
        all.extend(parse_rfc3339("0000-01-01T00:00:00+23:59"));
        for seconds in [u64::from(u32::MAX), 1 << 40, 1 << 50, i64::MAX as u64 / 2] {
            if let Some(t) = UNIX_EPOCH.checked_add(Duration::from_secs(seconds)) {
                all.push(t);
            }
            if let Some(t) = UNIX_EPOCH.checked_sub(Duration::from_secs(seconds)) {
                all.push(t);
            }
        }
        all
    }

    #[test]
    fn the_last_second_of_9999_in_every_offset() {
        let last = parse_utc_lenient("9999-12-31T23:59:59").expect("parses");
        assert_eq!(rfc3339_utc(last), "9999-12-31T23:59:59Z");
        assert_eq!(local_minute(last), local_minute(last));
        for offset in offsets() {
            let t = at_offset(last, offset);
            let shown = minute_of(t);
            assert!(
                shown.starts_with("9999-12-3") || shown.starts_with("9999-12-31"),
                "{offset}: {shown}"
            );
            let _ = clock_of(t);
        }
        let first = parse_utc_lenient("0000-01-01T00:00:00").expect("parses");
        for offset in offsets() {
            let shown = minute_of(at_offset(first, offset));
            assert!(shown.starts_with("0000-01-0"), "{offset}: {shown}");
        }
    }

    #[test]
    fn no_time_panics_in_any_offset() {
        for at in extreme_times() {
            let text = rfc3339_utc(at);
            assert!(!text.is_empty(), "{at:?}");
            assert!(parse_rfc3339(&text).is_some(), "{text} reads back");
            let _ = clock_time(at);
            let _ = local_minute(at);
            for offset in offsets() {
                let t = at_offset(at, offset);
                assert!((0..=9999).contains(&t.year()), "{at:?} {offset}");
                let _ = (minute_of(t), clock_of(t));
            }
        }
        // Far outside the range: clamped to its ends.
        if let Some(far) = UNIX_EPOCH.checked_add(Duration::from_secs(1 << 50)) {
            assert_eq!(rfc3339_utc(far), "9999-12-31T23:59:59Z");
        }
        if let Some(early) = UNIX_EPOCH.checked_sub(Duration::from_secs(1 << 50)) {
            assert_eq!(rfc3339_utc(early), "0000-01-01T00:00:00Z");
        }
    }
}
