//! What rekey remembers between runs, in the data dir: the last known lock/retry state per
//! profile (`state.json`, written atomically) and the audit trail (`audit.jsonl`, appended).
//! Both mode 0600, never a secret.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::Profile;
use crate::fsutil;
use crate::provider::{Outcome, Report};
use crate::timefmt;

/// The state file's name in the data dir.
pub const STATE_FILE: &str = "state.json";
/// The lock file that serializes `state.json` updates between processes.
pub const STATE_LOCK: &str = "state.lock";
/// The audit file's name in the data dir.
pub const AUDIT_FILE: &str = "audit.jsonl";
/// How long a lock is assumed to last when the provider says "locked" without saying how
/// long (DCS documents 5 minutes; the others say nothing).
pub const DEFAULT_LOCK: Duration = Duration::from_secs(5 * 60);

/// The data dir: `$REKEY_DATA_DIR`, else the platform data dir of `rekey`.
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("REKEY_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => directories::ProjectDirs::from("", "", "rekey").map(|d| d.data_dir().to_path_buf()),
    }
}

/// Serde for optional times as RFC 3339 UTC strings.
mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&timefmt::rfc3339_utc(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(t) => timefmt::parse_rfc3339(&t)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {t:?}"))),
        }
    }
}

/// The last known state of one profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileState {
    /// When the last attempt ended.
    #[serde(default, with = "rfc3339")]
    pub last_attempt_at: Option<SystemTime>,
    /// How it ended.
    #[serde(default)]
    pub last_outcome: Option<Outcome>,
    /// Attempts left before a lock, as the provider last said.
    #[serde(default)]
    pub retries_left: Option<u32>,
    /// When the lock ends (absolute UTC).
    #[serde(default, with = "rfc3339")]
    pub locked_until: Option<SystemTime>,
    /// When the password was last changed through rekey.
    #[serde(default, with = "rfc3339")]
    pub last_changed_at: Option<SystemTime>,
    /// IAM: when the password expires, from the token.
    #[serde(default, with = "rfc3339")]
    pub password_expires_at: Option<SystemTime>,
}

impl ProfileState {
    /// Time left in the lock at `now`, if locked.
    pub fn lock_left(&self, now: SystemTime) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.duration_since(now).ok())
            .filter(|d| !d.is_zero())
    }

    /// Attempts left before a lock as last reported, unless a lock has ended since (then the
    /// provider has reset its count and rekey no longer knows it).
    pub fn retries_known(&self, now: SystemTime) -> Option<u32> {
        match self.locked_until {
            Some(until) if until <= now => None,
            _ => self.retries_left,
        }
    }

    /// Records how a settle decided a change whose outcome was `unknown`: applied is a change
    /// made at `at`; not applied leaves the password as it was, so the `unknown` is dropped
    /// (the attempt's time stays).
    pub fn settle(&mut self, applied: bool, at: SystemTime) {
        if applied {
            self.record(&Report::new(Outcome::Changed, "settled: applied"), at);
        } else if self.last_outcome == Some(Outcome::Unknown) {
            self.last_outcome = None;
        }
    }

    /// Updates the state with the outcome of an attempt that ended at `at`.
    pub fn record(&mut self, report: &Report, at: SystemTime) {
        self.last_attempt_at = Some(at);
        self.last_outcome = Some(report.outcome);
        match report.outcome {
            Outcome::Changed | Outcome::Created => {
                self.last_changed_at = Some(at);
                self.retries_left = None;
                self.locked_until = None;
            }
            Outcome::WrongOldPassword => {
                self.retries_left = report.retries_left;
                self.locked_until = None;
            }
            Outcome::Frozen => {
                // Frozen has no end the provider tells; it is shown as frozen, not counted down.
                self.locked_until = None;
            }
            Outcome::Locked => {
                let left = report
                    .lock_minutes_left
                    .map(|m| Duration::from_secs(u64::from(m) * 60))
                    .unwrap_or(DEFAULT_LOCK);
                self.locked_until = Some(report.locked_until.unwrap_or(at + left));
                self.retries_left = Some(0);
            }
            _ => {}
        }
        if let Some(expiry) = report
            .password_expires_at
            .as_deref()
            .and_then(timefmt::parse_utc_lenient)
        {
            self.password_expires_at = Some(expiry);
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StateDocument {
    version: u32,
    profiles: BTreeMap<String, ProfileState>,
}

/// A change to one profile's state: applied in memory at once by the console, and saved to
/// `state.json` off its loop ([`State::write`]).
#[derive(Debug, Clone)]
pub enum StateChange {
    /// An attempt ended at this time ([`ProfileState::record`]).
    Record(Box<Report>, SystemTime),
    /// A settle decided an unknown change ([`ProfileState::settle`]).
    Settle {
        /// Whether the change was applied.
        applied: bool,
        /// When it was decided.
        at: SystemTime,
    },
}

impl StateChange {
    /// Applies the change to one profile's state.
    pub fn apply(&self, state: &mut ProfileState) {
        match self {
            StateChange::Record(report, at) => state.record(report, *at),
            StateChange::Settle { applied, at } => state.settle(*applied, *at),
        }
    }
}

/// Every profile's state, and where it is kept (None: in memory only, as in the demo).
#[derive(Debug, Default, Clone)]
pub struct State {
    dir: Option<PathBuf>,
    profiles: BTreeMap<String, ProfileState>,
}

impl State {
    /// State kept in memory only (the demo never touches the user's files).
    pub fn in_memory() -> State {
        State::default()
    }

    /// Loads `state.json` from `dir`. A missing file is an empty state. A corrupt or
    /// unreadable file is renamed aside (never deleted) and rekey starts fresh; the returned
    /// message says so.
    pub fn load(dir: &Path) -> (State, Option<String>) {
        let path = dir.join(STATE_FILE);
        let mut state = State {
            dir: Some(dir.to_path_buf()),
            profiles: BTreeMap::new(),
        };
        let text = match fsutil::read_regular(&path, fsutil::STATE_CAP) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (state, None),
            Err(e) => {
                let aside = set_aside(&path);
                return (
                    state,
                    Some(format!(
                        "{}: cannot read it ({e}){aside}; starting fresh",
                        path.display()
                    )),
                );
            }
        };
        match serde_json::from_slice::<StateDocument>(&text) {
            Ok(doc) => {
                state.profiles = doc.profiles;
                (state, None)
            }
            Err(e) => {
                let aside = set_aside(&path);
                (
                    state,
                    Some(format!(
                        "{}: not a valid state file ({e}){aside}; starting fresh",
                        path.display()
                    )),
                )
            }
        }
    }

    /// A profile's state.
    pub fn get(&self, profile: &str) -> Option<&ProfileState> {
        self.profiles.get(profile)
    }

    /// Records an attempt and saves the file (when there is one). The file is read again first,
    /// so an attempt another rekey recorded meanwhile is kept.
    pub fn record(&mut self, profile: &str, report: &Report, at: SystemTime) -> io::Result<()> {
        self.update(profile, |p| p.record(report, at))
    }

    /// Records how a settle decided `profile`'s unknown change (see [`ProfileState::settle`]).
    pub fn settle(&mut self, profile: &str, applied: bool, at: SystemTime) -> io::Result<()> {
        self.update(profile, |p| p.settle(applied, at))
    }

    /// Applies `change` to `profile`'s state in memory only (see [`State::write`]).
    pub fn change_in_memory(&mut self, profile: &str, change: &StateChange) {
        change.apply(self.profiles.entry(profile.to_string()).or_default());
    }

    /// Saves `change` to `profile`'s state as [`State::record`] does (the file read again
    /// under the lock, this copy's states when it cannot be read), consuming this copy: for a
    /// write off the console's loop. Returns every profile's state as saved.
    pub fn write(
        mut self,
        profile: &str,
        change: &StateChange,
    ) -> io::Result<BTreeMap<String, ProfileState>> {
        self.update(profile, |p| change.apply(p))?;
        Ok(self.profiles)
    }

    /// Takes every profile's state as a [`State::write`] saved it.
    pub fn adopt(&mut self, profiles: BTreeMap<String, ProfileState>) {
        self.profiles = profiles;
    }

    /// Saves several changes (of any profiles) as [`State::record`] does, under one lock and
    /// with one write: a fleet rotation's hundreds of attempts would otherwise each rewrite the
    /// whole file.
    pub fn write_many(&mut self, changes: &[(String, StateChange)]) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.update_all(|profiles| {
            for (profile, change) in changes {
                change.apply(profiles.entry(profile.clone()).or_default());
            }
        })
    }

    /// Reads the file again, changes `profile`'s state, and saves, all under the state lock,
    /// so parallel rekey processes never overwrite each other's records.
    fn update(&mut self, profile: &str, change: impl FnOnce(&mut ProfileState)) -> io::Result<()> {
        self.update_all(|profiles| change(profiles.entry(profile.to_string()).or_default()))
    }

    /// [`State::update`] for any change of the profiles' states.
    fn update_all(
        &mut self,
        change: impl FnOnce(&mut BTreeMap<String, ProfileState>),
    ) -> io::Result<()> {
        let _lock = match &self.dir {
            Some(dir) => Some(crate::change::lock::wait(&dir.join(STATE_LOCK))?),
            None => None,
        };
        if let Some(dir) = &self.dir
            && let Ok(bytes) = fsutil::read_regular(&dir.join(STATE_FILE), fsutil::STATE_CAP)
            && let Ok(doc) = serde_json::from_slice::<StateDocument>(&bytes)
        {
            self.profiles = doc.profiles;
        }
        change(&mut self.profiles);
        self.save()
    }

    /// Writes `state.json` atomically: a new 0600 temp file with a random name in the same
    /// dir (created exclusively, never through a link), fsynced, renamed over `state.json`,
    /// then the dir fsynced. Called under the state lock, which also makes it the moment to
    /// remove temp files a killed rekey left behind.
    pub fn save(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        fsutil::private_dir(dir, true)?;
        let doc = StateDocument {
            version: 1,
            profiles: self.profiles.clone(),
        };
        let mut text = crate::text::to_json_safe_pretty(&doc).map_err(io::Error::other)?;
        text.push(b'\n');
        let prefix = format!(".{STATE_FILE}.");
        fsutil::remove_stale_temps(dir, &prefix, TEMP_SUFFIX, STALE_TEMP);
        let (tmp, mut file) = fsutil::create_temp(dir, &prefix, TEMP_SUFFIX)?;
        let result = (|| {
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&tmp, dir.join(STATE_FILE))?;
            fsutil::sync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// How `state.json`'s temp files end: `.state.json.<random>.tmp`.
const TEMP_SUFFIX: &str = ".tmp";
/// A temp file this old was left by a rekey that was killed while saving (a save takes
/// milliseconds, under the state lock).
const STALE_TEMP: Duration = Duration::from_secs(60);

/// Renames a bad state file to `state.json.corrupt-<unix time>`; returns words for the message.
fn set_aside(path: &Path) -> String {
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = path.with_file_name(format!("{STATE_FILE}.corrupt-{stamp}"));
    match fs::rename(path, &aside) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                let _ = fsutil::sync_dir(dir);
            }
            format!(", so it was moved to {}", aside.display())
        }
        Err(e) => format!(" and could not be moved aside ({e})"),
    }
}

/// Creates `dir` (and its parents) readable by the owner only, and refuses it when another
/// user owns it or may write into it (see [`fsutil::check_private_dir`]).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fsutil::private_dir(dir, true)
}

/// One line of `audit.jsonl` (SPEC §9). No secret: ids, codes and times only.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditLine {
    /// When the attempt ended, RFC 3339 UTC.
    pub time: String,
    /// Profile name.
    pub profile: String,
    /// Profile kind.
    pub kind: String,
    /// Outcome.
    pub outcome: Outcome,
    /// HTTP status of the deciding answer.
    pub http_status: Option<u16>,
    /// The provider's code.
    pub provider_code: Option<String>,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// True for a check of an unknown outcome (F5, `rekey check`), not a change; left out of
    /// the line for a change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
}

/// The audit trail: appended with O_APPEND (never through a link, only to a regular file), one
/// JSON line per attempt, each a line of its own whatever the file ended with.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// The file, when there is a data dir (none in the demo).
    path: Option<PathBuf>,
    /// `audit = true|false` in profiles.toml.
    enabled: bool,
}

impl Audit {
    /// The audit file in `dir`, or none when turned off (`audit = false`) or in the demo.
    pub fn new(dir: Option<&Path>, enabled: bool) -> Audit {
        Audit {
            path: dir.map(|d| d.join(AUDIT_FILE)),
            enabled,
        }
    }

    /// Follows a reloaded config's `audit` setting.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Appends one line for an attempt on `profile`.
    pub fn append(&self, profile: &Profile, report: &Report, at: SystemTime) -> io::Result<()> {
        self.write(profile, report, at, false)
    }

    /// Appends one line for a check (F5, `rekey check`) of whether a change whose outcome was
    /// unknown was applied: marked `"check": true`; `changed` means the new password works.
    pub fn append_check(
        &self,
        profile: &Profile,
        report: &Report,
        at: SystemTime,
    ) -> io::Result<()> {
        self.write(profile, report, at, true)
    }

    fn write(
        &self,
        profile: &Profile,
        report: &Report,
        at: SystemTime,
        check: bool,
    ) -> io::Result<()> {
        let Some(path) = self.path.as_ref().filter(|_| self.enabled) else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let line = AuditLine {
            time: timefmt::rfc3339_utc(at),
            profile: profile.name.clone(),
            kind: profile.kind.as_str().to_string(),
            outcome: report.outcome,
            http_status: report.http_status,
            provider_code: report.provider_code.clone(),
            request_id: report.request_id.clone(),
            duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            check,
        };
        let mut text = crate::text::to_json_safe(&line);
        text.push(b'\n');
        let mut file = fsutil::open_append(path)?;
        // After a torn line (a write cut short by a full disk, a crash) or a file edited by hand
        // without a final newline, start on a line of our own: the record stays parseable.
        if !fsutil::ends_with_newline(&file)? {
            text.insert(0, b'\n');
        }
        // One write of the whole line with O_APPEND: concurrent rekeys never interleave lines.
        file.write_all(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rekey-state-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn saves_atomically_with_owner_only_permissions_and_loads_back() {
        let dir = temp_dir("save");
        let (mut state, warning) = State::load(&dir);
        assert!(warning.is_none());
        let mut report = Report::new(Outcome::WrongOldPassword, "");
        report.retries_left = Some(3);
        state
            .record("redis", &report, at(1_800_000_000))
            .expect("save");
        #[cfg(unix)]
        assert_eq!(mode(&dir.join(STATE_FILE)), 0o600);
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temp file left behind");
        let (loaded, _) = State::load(&dir);
        let s = loaded.get("redis").expect("state");
        assert_eq!(s.retries_left, Some(3));
        assert_eq!(s.last_outcome, Some(Outcome::WrongOldPassword));
        assert_eq!(s.last_attempt_at, Some(at(1_800_000_000)));
        let text = fs::read_to_string(dir.join(STATE_FILE)).expect("read");
        assert!(text.contains("\"2027-01-15T08:00:00Z\""), "{text}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_deleted() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join(STATE_FILE), b"{ not json").expect("write");
        let (state, warning) = State::load(&dir);
        let warning = warning.expect("reported");
        assert!(warning.contains("moved to"), "{warning}");
        assert!(state.get("x").is_none());
        let aside: Vec<_> = fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
            })
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read(aside[0].path()).expect("kept"), b"{ not json");
        assert!(!dir.join(STATE_FILE).exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn lock_time_comes_from_lock_time_left_or_a_default() {
        let mut s = ProfileState::default();
        let mut report = Report::new(Outcome::Locked, "");
        report.lock_minutes_left = Some(3);
        s.record(&report, at(1000));
        assert_eq!(s.locked_until, Some(at(1000 + 180)));
        assert_eq!(s.lock_left(at(1000 + 60)), Some(Duration::from_secs(120)));
        assert_eq!(s.lock_left(at(1000 + 180)), None);
        assert_eq!(s.retries_left, Some(0));
        let mut s = ProfileState::default();
        s.record(&Report::new(Outcome::Locked, ""), at(1000));
        assert_eq!(s.locked_until, Some(at(1000 + 300)));
        assert_eq!(s.retries_known(at(1000 + 299)), Some(0));
        assert_eq!(
            s.retries_known(at(1000 + 300)),
            None,
            "the count resets with the lock"
        );
        s.record(&Report::new(Outcome::Changed, ""), at(2000));
        assert_eq!((s.locked_until, s.retries_left), (None, None));
        assert_eq!(s.last_changed_at, Some(at(2000)));
    }

    #[test]
    fn iam_expiry_is_kept() {
        let mut s = ProfileState::default();
        let mut report = Report::new(Outcome::WrongOldPassword, "");
        report.password_expires_at = Some("2027-01-01T00:00:00.000000".into());
        s.record(&report, at(1000));
        assert_eq!(
            s.password_expires_at.map(timefmt::rfc3339_utc).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn audit_appends_one_line_per_attempt_with_owner_only_permissions() {
        let dir = temp_dir("audit");
        let profile = crate::config::parse(
            Path::new("p.toml"),
            "[[profile]]\nname = \"p\"\nkind = \"huawei-iam\"\niam_endpoint = \"https://iam.example.com\"\ndomain = \"d\"\nuser = \"u\"\n",
        )
        .expect("valid")
        .profiles
        .remove(0);
        let audit = Audit::new(Some(&dir), true);
        let mut report = Report::new(Outcome::ReusedPassword, "ignored words");
        report.http_status = Some(400);
        report.provider_code = Some("1108".into());
        audit
            .append(&profile, &report, at(1_800_000_000))
            .expect("append");
        audit
            .append(
                &profile,
                &Report::new(Outcome::Changed, ""),
                at(1_800_000_100),
            )
            .expect("append");
        let path = dir.join(AUDIT_FILE);
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let text = fs::read_to_string(&path).expect("read");
        let lines: Vec<AuditLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].outcome, Outcome::ReusedPassword);
        assert_eq!(lines[0].provider_code.as_deref(), Some("1108"));
        assert_eq!(lines[0].kind, "huawei-iam");
        assert!(!text.contains("ignored words"), "messages are not audited");
        let mut off = Audit::new(Some(&dir), false);
        off.append(&profile, &report, at(1)).expect("no-op");
        assert_eq!(fs::read_to_string(&path).expect("read").lines().count(), 2);
        // A reloaded config that turns it back on is followed.
        off.set_enabled(true);
        off.append(&profile, &report, at(2)).expect("append");
        assert_eq!(fs::read_to_string(&path).expect("read").lines().count(), 3);
        let _ = fs::remove_dir_all(&dir);
    }
}
