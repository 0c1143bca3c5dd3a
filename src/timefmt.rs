//! Time as people read it: local clock time in the log, RFC 3339 UTC in files and JSON.

use std::sync::OnceLock;
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local UTC offset. Call once at start, before any thread is spawned (reading it
/// later is not possible safely on every platform); until then, and if it fails, UTC is used.
pub fn init_local_offset() {
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = LOCAL_OFFSET.set(offset);
}

fn local(at: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(at).to_offset(LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC))
}

/// `HH:MM:SS` in local time.
pub fn clock_time(at: SystemTime) -> String {
    let t = local(at);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// `YYYY-MM-DD HH:MM` in local time, for lock ends and expiry dates.
pub fn local_minute(at: SystemTime) -> String {
    let t = local(at);
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
    let t = OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::from(at));
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses RFC 3339 (as written by [`rfc3339_utc`]).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(SystemTime::from)
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
    time::PrimitiveDateTime::parse(seconds, &format)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

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
    }
}
