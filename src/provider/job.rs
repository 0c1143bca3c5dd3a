//! What one change needs: the profile, the resolved secrets, and the helpers every provider
//! uses to build bodies and read answers.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use zeroize::Zeroizing;

use super::http::{Failure, Response};
use super::outcome::{Outcome, Report};
use crate::config::{Operate, Profile, SecretSource};
use crate::secret::SecretBuf;

/// Secrets typed in the console (or read by `rekey change`) for one job. Moved into the job;
/// zeroized when it is dropped.
#[derive(Debug)]
pub struct TypedSecrets {
    /// The current password, for kinds that need it.
    pub current: Option<SecretBuf>,
    /// The new password.
    pub new: SecretBuf,
    /// Values of the profile's `{ prompt = true }` secrets, by key path.
    pub prompted: Vec<(&'static str, SecretBuf)>,
}

/// The profile's other secrets, resolved from env/command/value (or the prompted fields).
#[derive(Default)]
pub struct Keys {
    values: Vec<(&'static str, Zeroizing<String>)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.values.iter().map(|(k, _)| *k).collect();
        write!(f, "Keys({names:?}, [redacted])")
    }
}

impl Keys {
    /// The value of `key`, if resolved.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Resolves `source` under `key`: prompted secrets come from `typed`, the rest from
    /// env/command/value. Blocking (a command may run): call it off the UI thread.
    pub fn resolve(
        &mut self,
        key: &'static str,
        source: Option<&SecretSource>,
        typed: &TypedSecrets,
    ) -> Result<(), Report> {
        let Some(source) = source else {
            return Ok(());
        };
        let value = match source {
            SecretSource::Prompt => {
                let buf = typed
                    .prompted
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, b)| b)
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        Report::new(
                            Outcome::BadRequest,
                            format!(
                                "{key} is prompted, and no value was entered; nothing was sent"
                            ),
                        )
                    })?;
                let mut s = Zeroizing::new(String::with_capacity(buf.len_bytes()));
                s.push_str(buf.expose());
                s
            }
            other => other.resolve(key).map_err(|e| {
                Report::new(
                    Outcome::BadRequest,
                    format!("cannot read {key}: {e}; nothing was sent"),
                )
            })?,
        };
        self.values.push((key, value));
        Ok(())
    }
}

/// Everything a provider needs for one change.
pub struct Change<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// The current password (kinds that need one).
    pub current: Option<&'a str>,
    /// The new password.
    pub new: &'a str,
    /// Resolved keys and tokens.
    pub keys: &'a Keys,
    /// Create/update chosen by the user for this attempt (overrides the profile).
    pub operate: Option<Operate>,
    /// Skip client-side policy checks (the provider still decides).
    pub force: bool,
    /// The clock used for signatures.
    pub now: fn() -> SystemTime,
}

impl Change<'_> {
    /// Seconds since the epoch, for signatures.
    pub fn unix_now(&self) -> i64 {
        (self.now)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    /// A resolved key that the config guarantees exists.
    pub fn key(&self, key: &str) -> Result<&str, Report> {
        self.keys.get(key).ok_or_else(|| {
            Report::new(
                Outcome::BadRequest,
                format!("{key} was not resolved; nothing was sent"),
            )
        })
    }
}

/// The `{"old_password","new_password"}` body DCS and CIAM share.
#[derive(Serialize)]
pub struct OldNew<'a> {
    /// The current password.
    pub old_password: &'a str,
    /// The new password.
    pub new_password: &'a str,
}

impl<'a> OldNew<'a> {
    /// The body in a zeroizing buffer, and the same body masked for the log.
    pub fn encode(old_password: &'a str, new_password: &'a str) -> (Zeroizing<Vec<u8>>, String) {
        let body = json_body(&OldNew {
            old_password,
            new_password,
        });
        let log = json_log(&OldNew {
            old_password: super::redact::MASK,
            new_password: super::redact::MASK,
        });
        (body, log)
    }
}

/// Counts the bytes written to it, and keeps none.
struct ByteCount(usize);

impl io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serializes `value` into a zeroizing buffer of exactly its length, so it never reallocates
/// (a reallocation would leave a copy of the password behind): the first pass only counts the
/// bytes, the second writes them into a buffer allocated once with that capacity.
pub fn json_body<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    let mut count = ByteCount(0);
    // Counting cannot fail; a struct of strings always serializes.
    let _ = serde_json::to_writer(&mut count, value);
    let mut buf = Zeroizing::new(Vec::with_capacity(count.0));
    let capacity = buf.capacity();
    let _ = serde_json::to_writer(&mut *buf, value);
    debug_assert!(buf.capacity() == capacity, "body buffer reallocated");
    buf
}

/// The same body with every secret masked, for the log.
pub fn json_log<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A report for a request that got no answer. Before the change was sent, nothing changed:
/// `network_error`; after, the change may have been applied: `unknown`.
pub fn no_answer(failure: Failure, what: &str, is_change: bool) -> Report {
    match failure {
        Failure::Connect(why) => Report::new(
            Outcome::NetworkError,
            format!("{what}: {why}; nothing was sent"),
        ),
        Failure::NoAnswer(why) if is_change => Report::new(
            Outcome::Unknown,
            format!(
                "{what}: {why}. The change may have been applied; it was not retried. Verify before trying again"
            ),
        ),
        Failure::NoAnswer(why) => Report::new(
            Outcome::NetworkError,
            format!("{what}: {why}; the password change was not sent"),
        ),
        Failure::TooLarge(status) => {
            let why = format!("HTTP {status}, {}", super::http::TOO_LARGE);
            let mut report = no_answer(Failure::NoAnswer(why), what, is_change);
            report.http_status = Some(status);
            report
        }
    }
}

/// A number that may arrive as a JSON number, a numeric string, or null.
pub fn lenient_u32(v: Option<&serde_json::Value>) -> Option<u32> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string field, if present and a string (or a number, shown as text).
pub fn text_of(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The request id a provider put in the answer's headers.
pub fn request_id(response: &Response, header: &str) -> Option<String> {
    response.header(header).map(str::to_string)
}

/// Builds the report for an answer the provider mapping decided.
pub fn report_from(
    response: &Response,
    outcome: Outcome,
    code: Option<String>,
    message: String,
) -> Report {
    let mut r = Report::new(outcome, message);
    r.http_status = Some(response.status);
    r.provider_code = code;
    r
}

/// The longest lock rekey believes a provider: minutes left beyond a day are taken as a day
/// (a server's number must never overflow a time).
pub const MAX_LOCK_MINUTES: u32 = 24 * 60;

/// `locked_until` from minutes left (at most [`MAX_LOCK_MINUTES`]), counted from now.
pub fn lock_end(minutes: u32) -> SystemTime {
    lock_end_from(SystemTime::now(), minutes)
}

/// `locked_until` from minutes left (at most [`MAX_LOCK_MINUTES`]), counted from `now`.
pub fn lock_end_from(now: SystemTime, minutes: u32) -> SystemTime {
    let minutes = minutes.min(MAX_LOCK_MINUTES);
    now.checked_add(Duration::from_secs(u64::from(minutes) * 60))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Body<'a> {
        old_password: &'a str,
        new_password: &'a str,
    }

    #[test]
    fn json_body_never_reallocates_even_when_every_byte_escapes() {
        let nasty = "\u{1}".repeat(128);
        let value = Body {
            old_password: &nasty,
            new_password: &nasty,
        };
        let body = json_body(&value);
        assert_eq!(body.capacity(), body.len(), "allocated exactly once");
        assert!(body.len() > 6 * 128);
        assert_eq!(
            body.as_slice(),
            serde_json::to_vec(&value).expect("serializes").as_slice()
        );
    }

    #[derive(Serialize)]
    struct Token<'a> {
        domain: &'a str,
        name: &'a str,
        password: &'a str,
    }

    #[test]
    fn json_body_is_exact_with_long_non_secret_fields() {
        // Long domain and user names (non-secret) next to a short password: a buffer sized
        // from the secret bytes alone would reallocate and leave a copy behind.
        let domain = "d\"".repeat(3000);
        let name = "n".repeat(5000);
        let value = Token {
            domain: &domain,
            name: &name,
            password: "pw",
        };
        let body = json_body(&value);
        let expected = serde_json::to_vec(&value).expect("serializes");
        assert!(
            expected.len() > 1024 + 6 * 2,
            "long enough to outgrow the old sizing"
        );
        assert_eq!(body.as_slice(), expected.as_slice());
        assert_eq!(body.capacity(), expected.len(), "capacity never changed");
    }

    #[test]
    fn lock_end_clamps_what_the_server_says() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(lock_end_from(now, 5), now + Duration::from_secs(300));
        let day = now + Duration::from_secs(u64::from(MAX_LOCK_MINUTES) * 60);
        assert_eq!(lock_end_from(now, u32::MAX), day);
        assert_eq!(lock_end_from(now, MAX_LOCK_MINUTES + 1), day);
        // Never panics, whatever the clock and the number.
        let _ = lock_end(u32::MAX);
        let far = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 - 10);
        let _ = lock_end_from(far, u32::MAX);
    }

    #[test]
    fn counters_parse_from_strings_numbers_or_null() {
        let v = serde_json::json!({"a": "4", "b": 3, "c": null, "d": "x"});
        assert_eq!(lenient_u32(v.get("a")), Some(4));
        assert_eq!(lenient_u32(v.get("b")), Some(3));
        assert_eq!(lenient_u32(v.get("c")), None);
        assert_eq!(lenient_u32(v.get("d")), None);
        assert_eq!(lenient_u32(v.get("missing")), None);
    }
}
