//! The journal of SPEC §10.2: `journal/PROFILE.jsonl` in the data dir, one JSON record per
//! step, appended and fsynced before the step it protects. No secrets: ids, steps, outcomes,
//! times. A torn last line (a crash mid-write) is ignored; a corrupt line elsewhere sets the
//! file aside with a message and leaves the profile unsettled, never silently settled.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::provider::Outcome;
use crate::timefmt;

/// The journal folder's name in the data dir.
pub const JOURNAL_DIR: &str = "journal";

/// One step of a staged change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A change starts (nothing written anywhere else yet).
    Begin,
    /// The new password is in the store's `pending`, read back and compared.
    Staged,
    /// The change request is about to leave.
    Sending,
    /// The provider's answer (or its absence) decided this outcome.
    Outcome,
    /// A settle decided whether the provider took the pending password.
    Settled,
    /// The new password is `current` in the store (read back); only `pending` is left to delete.
    Promoted,
    /// The change is complete: the store (if any) holds the new password as `current`.
    Done,
    /// The change did not happen (or was abandoned): `pending` deleted.
    Aborted,
    /// An earlier journal could not be read and was set aside; an admin must settle.
    SetAside,
}

impl Step {
    /// Whether the change this step belongs to is settled by it.
    pub fn closes(self) -> bool {
        matches!(self, Step::Done | Step::Aborted)
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When it was written, RFC 3339 UTC.
    pub at: String,
    /// The change it belongs to.
    pub change: String,
    /// The step.
    pub step: Step,
    /// `Begin`: the profile kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `Begin`: the store label (`pass:cloud/redis-prod`), if the profile has a store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// `Begin`: which process on which machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// `Outcome`: the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// `Settled`: whether the provider took the pending password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    /// Why (a settle's method, an abort's reason); never a secret or a server's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Record {
    /// A record of `step` for `change`, stamped now.
    pub fn new(change: &str, step: Step) -> Record {
        Record {
            at: timefmt::rfc3339_utc(SystemTime::now()),
            change: change.to_string(),
            step,
            kind: None,
            store: None,
            by: None,
            outcome: None,
            applied: None,
            note: None,
        }
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<String>) -> Record {
        self.note = Some(note.into());
        self
    }
}

/// A change that began and was not settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The change id.
    pub change: String,
    /// When it began.
    pub began: String,
    /// The last step written.
    pub last: Step,
    /// The outcome, when one was journaled.
    pub outcome: Option<Outcome>,
    /// The store label the change staged into, if any.
    pub store: Option<String>,
    /// Which process on which machine began it.
    pub by: Option<String>,
    /// A settle already found this (true: applied), but the promotion did not finish.
    pub applied: Option<bool>,
    /// The new password was already written as `current` (journal `promoted`).
    pub promoted: bool,
}

impl Open {
    /// What is pending where, in words, for the console's detail and `rekey recover`.
    pub fn describe(&self) -> String {
        let what = match (self.last, self.outcome) {
            (Step::Begin, _) => "began, and stopped before the new password was staged".to_string(),
            (Step::Staged, _) => {
                "staged, and stopped before the request was sent (it was probably not sent)"
                    .to_string()
            }
            (Step::Sending, _) => {
                "was being sent when rekey stopped: it may have been applied".to_string()
            }
            (Step::Outcome, Some(Outcome::Changed | Outcome::Created)) => {
                "was applied, and saving the new password as current did not finish".to_string()
            }
            (Step::Outcome, Some(o)) => format!("ended {}: it may have been applied", o.as_str()),
            (Step::Outcome, None) => {
                "ended without a readable outcome: it may have been applied".to_string()
            }
            (Step::Settled, _) if self.applied == Some(true) => {
                "was found applied, and saving it as current did not finish".to_string()
            }
            (Step::Settled, _) => "was found not applied, and clean-up did not finish".to_string(),
            (Step::Promoted, _) => {
                "was applied and saved as current; removing pending did not finish".to_string()
            }
            (Step::SetAside, _) => {
                "is unknown: the journal was unreadable and was set aside".to_string()
            }
            (Step::Done | Step::Aborted, _) => "is settled".to_string(),
        };
        let store = match (&self.store, self.last) {
            (_, Step::SetAside) => {
                "; if the profile has a store, its pending slot may hold the new password"
                    .to_string()
            }
            (Some(label), _) => format!("; the new password is in {label} (pending)"),
            (None, _) => "; there is no store, so rekey does not hold the new password".to_string(),
        };
        format!("a change begun {} {what}{store}", self.began)
    }
}

/// The journal of one profile.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct Reading {
    /// The last change, if it is not settled.
    pub open: Option<Open>,
    /// A message for the user (a corrupt journal, set aside or not).
    pub warning: Option<String>,
}

impl Reading {
    /// Whether change `id` is open and already journaled `promoted`.
    pub fn promoted(&self, id: &str) -> bool {
        self.open
            .as_ref()
            .is_some_and(|o| o.change == id && o.promoted)
    }
}

impl Journal {
    /// The journal of `profile` in `data_dir`.
    pub fn new(data_dir: &Path, profile: &str) -> Journal {
        Journal {
            path: data_dir.join(JOURNAL_DIR).join(format!("{profile}.jsonl")),
        }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and fsyncs it (and, when the file is new, its folder).
    pub fn append(&self, record: &Record) -> io::Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends records with one write and one fsync: for records no step separates.
    pub fn append_all(&self, records: &[Record]) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let new_file = !self.path.exists();
        // The data dir and the journal folder in it: the user's own, writable by nobody else,
        // the folder not a link (a planted one could point the journal anywhere).
        if let Some(data_dir) = dir.parent() {
            crate::fsutil::private_dir(data_dir, true)?;
        }
        crate::fsutil::private_dir(dir, false)?;
        let mut line = Vec::with_capacity(256 * records.len());
        for record in records {
            crate::text::write_json_safe(&mut line, record).map_err(io::Error::other)?;
            line.push(b'\n');
        }
        let mut file = fsutil::open_append(&self.path)?;
        // After a torn last line (a crash mid-append), start on a line of its own, so the torn
        // one stays a line that is ignored and this record stays readable.
        if !fsutil::ends_with_newline(&file)? {
            line.insert(0, b'\n');
        }
        file.write_all(&line)?;
        file.sync_all()?;
        if new_file {
            fsutil::sync_dir(dir)?;
        }
        Ok(())
    }

    /// Reads the journal: the last change if it is open. A torn last line is ignored; any
    /// other unreadable line reports the profile as unsettled (the file is left as it is).
    pub fn read(&self) -> Reading {
        self.read_inner(false)
    }

    /// The last change journaled, settled or not (its `last` step is `Done` or `Aborted` when
    /// it is settled); None when the journal is empty or missing, an error when it cannot be
    /// read. A rotation run reads it after a crash to tell whether the change it began for a
    /// profile happened.
    pub fn last_change(&self) -> io::Result<Option<Open>> {
        let bytes = match crate::fsutil::read_regular(&self.path, crate::fsutil::JOURNAL_CAP) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let records: Vec<Record> = bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        Ok(summarize(&records))
    }

    /// [`Journal::read`], for the holder of the profile's lock: a corrupt journal is also set
    /// aside and a new one started that says so.
    pub fn read_locked(&self) -> Reading {
        self.read_inner(true)
    }

    fn read_inner(&self, repair: bool) -> Reading {
        // A regular file only, capped, never through a link and never blocking: a FIFO or a
        // device in its place is unreadable, so the profile reads unsettled and no change is
        // sent to it (a journal that cannot be kept cannot protect one).
        let bytes = match crate::fsutil::read_regular(&self.path, crate::fsutil::JOURNAL_CAP) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Reading::default(),
            Err(e) => {
                return Reading {
                    open: Some(unreadable(&format!("cannot read it ({e})"))),
                    warning: Some(format!("{}: cannot read it ({e})", self.path.display())),
                };
            }
        };
        let ends_clean = bytes.last() == Some(&b'\n');
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut records = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => records.push(r),
                // A crash mid-append leaves a torn last line: the step it was writing never
                // became durable, so the one before it stands.
                Err(_) if i + 1 == lines.len() && !ends_clean => {}
                // A torn line followed by later records (written after the crash) is skipped
                // the same way: the step it was writing never became durable.
                Err(_) if line.first() == Some(&b'{') && !line.ends_with(b"}") => {}
                Err(e) if repair => return self.set_aside(i + 1, &e.to_string()),
                Err(e) => {
                    return Reading {
                        open: Some(unreadable("(time unknown)")),
                        warning: Some(format!(
                            "{}: line {} is not a journal record ({e}); the profile's last change may not be settled",
                            self.path.display(),
                            i + 1
                        )),
                    };
                }
            }
        }
        Reading {
            open: open_change(&records),
            warning: None,
        }
    }

    /// Moves a corrupt journal aside and starts a new one that says so (unsettled). If the new
    /// one cannot be written, the old one is put back: never a journal that reads settled.
    fn set_aside(&self, line: usize, why: &str) -> Reading {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}-{}", now.as_secs(), now.subsec_nanos());
        let aside = self.path.with_extension(format!("jsonl.corrupt-{stamp}"));
        let note = format!("journal line {line} unreadable; set aside");
        let record = Record::new(&format!("set-aside-{stamp}"), Step::SetAside).note(note);
        let mut moved = fs::rename(&self.path, &aside);
        if moved.is_ok()
            && let Some(dir) = self.path.parent()
        {
            let _ = fsutil::sync_dir(dir);
        }
        if moved.is_ok()
            && let Err(e) = self.append(&record)
        {
            let _ = fs::rename(&aside, &self.path);
            moved = Err(e);
        }
        let warning = match moved {
            Ok(()) => format!(
                "{}: line {line} is not a journal record ({why}); it was moved to {}. The last change \
                 of this profile may not be settled: verify it, then `rekey recover --profile NAME --applied` or `--not-applied`",
                self.path.display(),
                aside.display()
            ),
            Err(e) => format!(
                "{}: line {line} is not a journal record ({why}) and could not be moved aside ({e})",
                self.path.display()
            ),
        };
        Reading {
            open: Some(unreadable(&record.at)),
            warning: Some(warning),
        }
    }
}

fn unreadable(at: &str) -> Open {
    Open {
        change: "set-aside".into(),
        began: at.to_string(),
        last: Step::SetAside,
        outcome: None,
        store: None,
        by: None,
        applied: None,
        promoted: false,
    }
}

/// The last change of `records` if it is not closed.
fn open_change(records: &[Record]) -> Option<Open> {
    summarize(records).filter(|open| !open.last.closes())
}

/// The last change of `records`, closed or not.
fn summarize(records: &[Record]) -> Option<Open> {
    let last = records.last()?;
    let id = &last.change;
    let mine = records.iter().filter(|r| &r.change == id);
    let mut open = Open {
        change: id.clone(),
        began: last.at.clone(),
        last: last.step,
        outcome: None,
        store: None,
        by: None,
        applied: None,
        promoted: false,
    };
    for r in mine {
        match r.step {
            Step::Begin | Step::SetAside => {
                open.began = r.at.clone();
                open.store = r.store.clone();
                open.by = r.by.clone();
            }
            Step::Outcome => open.outcome = r.outcome,
            Step::Settled => open.applied = r.applied,
            Step::Promoted => open.promoted = true,
            _ => {}
        }
    }
    Some(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rekey-journal-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_missing_journal_has_no_last_change_and_an_unreadable_one_says_so() {
        let dir = temp("last");
        let journal = Journal::new(&dir, "p");
        assert!(matches!(journal.last_change(), Ok(None)));
        // Something that is not a regular file where the journal should be.
        fs::create_dir_all(dir.join(JOURNAL_DIR).join("p.jsonl")).expect("dir in its place");
        assert!(journal.last_change().is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_until_done_or_aborted_with_owner_only_permissions() {
        let dir = temp("open");
        let j = Journal::new(&dir, "redis");
        assert!(j.read().open.is_none());
        let mut begin = Record::new("c1", Step::Begin);
        begin.store = Some("pass:x".into());
        j.append(&begin).unwrap();
        j.append(&Record::new("c1", Step::Staged)).unwrap();
        j.append(&Record::new("c1", Step::Sending)).unwrap();
        let open = j.read().open.expect("open");
        assert_eq!(open.last, Step::Sending);
        assert_eq!(open.store.as_deref(), Some("pass:x"));
        let mut outcome = Record::new("c1", Step::Outcome);
        outcome.outcome = Some(Outcome::Unknown);
        j.append(&outcome).unwrap();
        assert_eq!(j.read().open.unwrap().outcome, Some(Outcome::Unknown));
        j.append(&Record::new("c1", Step::Done)).unwrap();
        assert!(j.read().open.is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(j.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = temp("torn");
        let j = Journal::new(&dir, "p");
        j.append(&Record::new("c1", Step::Begin)).unwrap();
        j.append(&Record::new("c1", Step::Sending)).unwrap();
        let mut f = fsutil::open_append(j.path()).unwrap();
        f.write_all(br#"{"at":"2026-01-01T00:00:00Z","change":"c1","st"#)
            .unwrap();
        let r = j.read();
        assert_eq!(r.open.unwrap().last, Step::Sending);
        assert!(r.warning.is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_record_appended_after_a_torn_line_stays_readable() {
        let dir = temp("torn-append");
        let j = Journal::new(&dir, "p");
        j.append(&Record::new("c1", Step::Begin)).unwrap();
        let mut f = fsutil::open_append(j.path()).unwrap();
        f.write_all(br#"{"at":"2026-01-01T00:00:00Z","change":"c1","st"#)
            .unwrap();
        j.append(&Record::new("c1", Step::Aborted)).unwrap();
        let r = j.read_locked();
        assert!(r.open.is_none(), "{:?}", r.open);
        assert!(r.warning.is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_journal_is_set_aside_and_stays_unsettled() {
        let dir = temp("corrupt");
        let j = Journal::new(&dir, "p");
        j.append(&Record::new("c1", Step::Begin)).unwrap();
        let mut f = fsutil::open_append(j.path()).unwrap();
        f.write_all(b"garbage\n").unwrap();
        j.append(&Record::new("c1", Step::Done)).unwrap();
        // Readers without the lock only report it.
        let r = j.read();
        assert_eq!(r.open.as_ref().unwrap().last, Step::SetAside);
        assert!(r.warning.unwrap().contains("not a journal record"));
        assert!(j.path().exists());
        let r = j.read_locked();
        assert_eq!(r.open.as_ref().unwrap().last, Step::SetAside);
        assert!(r.warning.unwrap().contains("moved to"));
        // The new journal says so too, and the old one is kept.
        assert_eq!(j.read().open.unwrap().last, Step::SetAside);
        let kept = fs::read_dir(dir.join(JOURNAL_DIR))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("corrupt")
            })
            .count();
        assert_eq!(kept, 1);
        let _ = fs::remove_dir_all(&dir);
    }
}
