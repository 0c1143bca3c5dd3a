//! The files of a rotation run, in `runs/RUN-ID/` in the data dir (0700): `plan.json`, written
//! atomically before anything starts, and `progress.jsonl`, one fsynced record per profile
//! start and end. No secrets: names, kinds, store labels, outcomes. With the per-profile
//! journals they tell `rekey rotate --resume RUN-ID` what happened before a crash.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::provider::Outcome;
use crate::timefmt;

/// The runs folder's name in the data dir.
pub const RUNS_DIR: &str = "runs";
const PLAN: &str = "plan.json";
const PROGRESS: &str = "progress.jsonl";
/// A plan or progress file larger than this is refused (a run of 100,000 profiles fits).
const CAP: u64 = 64 << 20;

/// What a run was asked to do, written before anything starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The run id (`runs/RUN-ID`).
    pub run_id: String,
    /// When the plan was made, RFC 3339 UTC.
    pub created_at: String,
    /// Which process on which machine made it.
    pub by: String,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--canary`.
    pub canary: usize,
    /// `--max-failures`.
    pub max_failures: usize,
    /// `--length`, if given.
    pub length: Option<usize>,
    /// The profiles, in the order they are rotated.
    pub profiles: Vec<PlanEntry>,
}

/// One profile of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// Profile name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its store's label.
    pub store: String,
    /// Why it is not rotated (a rail refused it before the run), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A start or an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The profile's change is about to begin (`before` names the journal's last change).
    Start,
    /// The profile is finished in this run (`status`).
    End,
}

/// How a profile ended in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// Rotated: the new password is current in the store.
    Saved,
    /// Refused or failed; nothing changed (not retried by `--resume`).
    Failed,
    /// May have been applied: `--resume` (or `rekey recover`) settles it.
    Unsettled,
}

/// One line of `progress.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The profile.
    pub profile: String,
    /// Start or end.
    pub step: Step,
    /// `Start`: the id of the last change in the profile's journal before this one began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// `End`: how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EndStatus>,
    /// `End`: the last attempt's outcome, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Progress {
    /// A start of `profile`, whose journal's last change was `before`.
    pub fn start(profile: &str, before: Option<String>) -> Progress {
        Progress {
            at: timefmt::rfc3339_utc(SystemTime::now()),
            profile: profile.to_string(),
            step: Step::Start,
            before,
            status: None,
            outcome: None,
        }
    }

    /// An end of `profile`.
    pub fn end(profile: &str, status: EndStatus, outcome: Option<Outcome>) -> Progress {
        Progress {
            at: timefmt::rfc3339_utc(SystemTime::now()),
            profile: profile.to_string(),
            step: Step::End,
            before: None,
            status: Some(status),
            outcome,
        }
    }
}

/// A new run id: UTC time to the second and 4 random hex digits (`20261130T201500Z-3fa2`),
/// sortable and easy to type.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let mut random = [0u8; 2];
    let _ = getrandom::fill(&mut random);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:02x}{:02x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        random[0],
        random[1]
    )
}

/// Whether `id` has the shape of a run id (it becomes a folder name).
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    id: String,
}

impl RunDir {
    /// The folder of run `id` in `data_dir` (not created).
    pub fn new(data_dir: &Path, id: &str) -> RunDir {
        RunDir {
            path: data_dir.join(RUNS_DIR).join(id),
            id: id.to_string(),
        }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the folder and writes `plan.json` atomically (temp file, fsync, rename, fsync of
    /// the folder), 0600. Refuses a run id that exists.
    pub fn create(&self, plan: &Plan) -> io::Result<()> {
        let runs = self.path.parent().unwrap_or(Path::new("."));
        if let Some(data_dir) = runs.parent() {
            fsutil::private_dir(data_dir, true)?;
        }
        fsutil::private_dir(runs, false)?;
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.path)?;
        fsutil::sync_dir(runs)?;
        let mut text = crate::text::to_json_safe_pretty(plan).map_err(io::Error::other)?;
        text.push(b'\n');
        let (tmp, mut file) = fsutil::create_temp(&self.path, ".plan.", ".tmp")?;
        let result = (|| {
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&tmp, self.path.join(PLAN))?;
            fsutil::sync_dir(&self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Reads `plan.json`.
    pub fn plan(&self) -> io::Result<Plan> {
        fsutil::check_private_dir(&self.path, false).map_err(io::Error::other)?;
        let bytes = fsutil::read_regular(&self.path.join(PLAN), CAP)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: not a rotation plan ({e})",
                    self.path.join(PLAN).display()
                ),
            )
        })
    }

    /// Appends a progress record and fsyncs it.
    pub fn append(&self, record: &Progress) -> io::Result<()> {
        let path = self.path.join(PROGRESS);
        let new_file = !path.exists();
        let mut line = crate::text::to_json_safe(record);
        line.push(b'\n');
        let mut file = fsutil::open_append(&path)?;
        // After a torn last line (a crash mid-append), start on a line of its own.
        if !fsutil::ends_with_newline(&file)? {
            line.insert(0, b'\n');
        }
        file.write_all(&line)?;
        file.sync_all()?;
        if new_file {
            fsutil::sync_dir(&self.path)?;
        }
        Ok(())
    }

    /// Every readable progress record, in order (a torn line from a crash is skipped).
    pub fn progress(&self) -> io::Result<Vec<Progress>> {
        let bytes = match fsutil::read_regular(&self.path.join(PROGRESS), CAP) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect())
    }

    /// Takes the run's lock without waiting (two processes never run one plan at once).
    pub fn lock(&self) -> io::Result<Option<super::super::lock::Held>> {
        super::super::lock::try_file(&self.path.join("lock"))
    }
}

/// What `rekey rotate --runs` shows of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// When it was planned.
    pub created_at: String,
    /// Profiles in the plan.
    pub profiles: usize,
    /// Rotated.
    pub saved: usize,
    /// Failed or refused.
    pub failed: usize,
    /// Unsettled at their last record.
    pub unsettled: usize,
    /// Not finished (never started, or started and not ended: a crash).
    pub open: usize,
}

/// The last end status of every profile in `progress`.
pub fn ends(progress: &[Progress]) -> std::collections::HashMap<&str, EndStatus> {
    let mut out = std::collections::HashMap::new();
    for p in progress {
        match (p.step, p.status) {
            (Step::End, Some(s)) => {
                out.insert(p.profile.as_str(), s);
            }
            (Step::Start, _) => {
                out.remove(p.profile.as_str());
            }
            _ => {}
        }
    }
    out
}

/// Every run in `data_dir`, oldest first.
pub fn list(data_dir: &Path) -> io::Result<Vec<RunSummary>> {
    let runs = data_dir.join(RUNS_DIR);
    let entries = match fs::read_dir(&runs) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|id| valid_run_id(id))
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let dir = RunDir::new(data_dir, &id);
        let Ok(plan) = dir.plan() else { continue };
        let progress = dir.progress().unwrap_or_default();
        let ends = ends(&progress);
        let count = |s: EndStatus| ends.values().filter(|v| **v == s).count();
        let refused = plan.profiles.iter().filter(|p| p.refused.is_some()).count();
        let (saved, failed, unsettled) = (
            count(EndStatus::Saved),
            count(EndStatus::Failed),
            count(EndStatus::Unsettled),
        );
        out.push(RunSummary {
            run_id: plan.run_id.clone(),
            created_at: plan.created_at.clone(),
            profiles: plan.profiles.len(),
            saved,
            failed: failed + refused,
            unsettled,
            open: plan
                .profiles
                .len()
                .saturating_sub(saved + failed + unsettled + refused),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_and_progress_round_trip_with_owner_only_files() {
        let data = std::env::temp_dir().join(format!("rekey-runs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&data);
        let id = new_run_id();
        assert!(valid_run_id(&id), "{id}");
        assert!(!valid_run_id("../x") && !valid_run_id(".x") && !valid_run_id(""));
        let dir = RunDir::new(&data, &id);
        let plan = Plan {
            run_id: id.clone(),
            created_at: "2026-01-01T00:00:00Z".into(),
            by: "pid 1 on h".into(),
            concurrency: 4,
            canary: 1,
            max_failures: 1,
            length: None,
            profiles: vec![
                PlanEntry {
                    name: "a".into(),
                    kind: "huawei-dcs".into(),
                    store: "pass:a".into(),
                    refused: None,
                },
                PlanEntry {
                    name: "b".into(),
                    kind: "huawei-iam".into(),
                    store: "pass:b".into(),
                    refused: None,
                },
            ],
        };
        dir.create(&plan).expect("created");
        assert!(
            dir.create(&plan).is_err(),
            "an existing run is never overwritten"
        );
        assert_eq!(dir.plan().expect("read"), plan);
        dir.append(&Progress::start("a", None)).expect("start");
        dir.append(&Progress::end(
            "a",
            EndStatus::Saved,
            Some(Outcome::Changed),
        ))
        .expect("end");
        dir.append(&Progress::start("b", Some("c1".into())))
            .expect("start b");
        let progress = dir.progress().expect("progress");
        assert_eq!(progress.len(), 3);
        assert_eq!(progress[2].before.as_deref(), Some("c1"));
        let listed = list(&data).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].saved, listed[0].open), (1, 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [PLAN, PROGRESS] {
                let mode = fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        let held = dir.lock().expect("lock").expect("free");
        assert!(dir.lock().expect("lock").is_none(), "held");
        drop(held);
        let _ = fs::remove_dir_all(&data);
    }
}
