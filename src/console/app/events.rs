//! Messages from outside `update`'s caller: worker events, finished disk work, journal readings,
//! a store's answer, a reloaded config, and settling an unsettled change.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::change::journal::Step;
use crate::change::settle::{self, Answers, Settled};
use crate::config::Kind;
use crate::console::editor::{CurrentSource, FieldRole};
use crate::console::message::{Disk, Message, Unsettled};
use crate::secret::SecretBuf;
use crate::state::StateChange;
use crate::store::Store;
use crate::worker::WorkerEvent;

use super::{App, Level, Loaded, Overlay};

impl App {
    /// File I/O done off the loop reported back: a failure is shown on the message line (and
    /// so kept in the history), never dropped.
    pub(super) fn on_disk(&mut self, done: Disk) {
        self.disk_pending = self.disk_pending.saturating_sub(1);
        if self.disk_pending == 0 {
            self.disk = None;
        }
        let failed = match done {
            Disk::State {
                seq,
                result: Ok(profiles),
                ..
            } => {
                // Earlier writes' states lack the changes made since.
                if seq == self.state_seq {
                    self.state.adopt(profiles);
                }
                None
            }
            Disk::State {
                profile,
                result: Err(e),
                ..
            } => Some(format!("{profile}: state.json not saved: {e}")),
            Disk::Audit { result: Ok(()), .. } => None,
            Disk::Audit {
                profile,
                result: Err(e),
            } => Some(format!("{profile}: audit.jsonl not written: {e}")),
            Disk::Reload { path, loaded } => {
                self.on_reloaded(path, loaded);
                None
            }
            Disk::Panicked => Some("Internal error writing a file (state or audit)".into()),
        };
        if let Some(line) = failed {
            self.status = Some((Level::Error, line));
        }
    }

    /// Re-reads every profile's journal off the loop (after a job, a settle, a reload).
    /// Without a runtime (a console driven by hand) they are read at once.
    pub(super) fn load_journals(&mut self) {
        let (Some(dir), Some(tx)) = (self.data_dir.clone(), self.tx.clone()) else {
            return;
        };
        let names = self.profile_names();
        match tokio::runtime::Handle::try_current() {
            // A task that starts the reader: it runs once the loop yields, so at start the
            // first frame is drawn before any thread is made for the disk.
            Ok(handle) => {
                handle.spawn(async move {
                    let _ = tokio::task::spawn_blocking(move || {
                        let _ = tx.send(Message::Journals(read_journals(&dir, &names)));
                    })
                    .await;
                });
            }
            Err(_) => {
                let readings = read_journals(&dir, &names);
                self.on_journals(readings);
            }
        }
    }

    pub(super) fn on_journals(&mut self, readings: Vec<Unsettled>) {
        self.unsettled.clear();
        for reading in readings {
            if let Some(w) = reading.warning {
                self.status = Some((Level::Warn, format!("{}: {w}", reading.profile)));
            }
            if let Some(open) = reading.open {
                self.unsettled.insert(reading.profile, open);
            }
        }
    }

    pub(super) fn on_current_read(
        &mut self,
        selection: u64,
        label: String,
        result: Result<Option<SecretBuf>, String>,
    ) {
        if selection != self.selection {
            return;
        }
        let name = self.profile().map_or(String::new(), |p| p.name.clone());
        let Some(editor) = &mut self.editor else {
            return;
        };
        let Some(i) = editor.index_of(FieldRole::Current) else {
            return;
        };
        if editor.current_from != Some(CurrentSource::Reading(label.clone())) {
            // Typed over (or wiped) meanwhile: the user's text wins.
            return;
        }
        editor.current_from = None;
        match result {
            Ok(Some(current)) => {
                if editor.fields[i].buf.copy_from(&current).is_ok() {
                    editor.refresh_checklist();
                    editor.current_from = Some(CurrentSource::Store(label));
                }
            }
            Ok(None) => {
                self.status = Some((
                    Level::Warn,
                    format!(
                        "{label} has no current password for {name}: type it here, or store it there first"
                    ),
                ));
            }
            Err(e) => {
                // A wrong store password: ask again next time.
                self.store_unlock = None;
                let line = format!("{label}: cannot read the current password: {e}");
                self.outcome = Some((Level::Error, line.clone()));
                // The outcome is the editor's last lines: scrolled to (the draw stops at the end).
                self.editor_scroll = u16::MAX;
                self.status = Some((Level::Error, line));
            }
        }
    }

    /// The config file read again (`r`): installs it, or keeps what was loaded when it cannot
    /// be used.
    pub(super) fn on_reloaded(&mut self, path: PathBuf, loaded: Loaded) {
        if self.job.is_some() || self.rotation.is_some() {
            self.status = Some((Level::Info, "Reload after the change in flight ends".into()));
            return;
        }
        // A file that cannot be used at all (or is gone) does not throw away what was loaded.
        if !self.profiles.is_empty() && !matches!(loaded, Loaded::Config(_)) {
            let why = match &loaded {
                Loaded::Broken(e) => e.to_string(),
                _ => format!("{} is missing", path.display()),
            };
            let kept = self.profiles.len();
            self.history.push(Level::Error, why.clone());
            let first = why.lines().next().unwrap_or_default().to_string();
            self.status = Some((
                Level::Error,
                format!(
                    "Reload failed, kept the {kept} profile{} loaded before: {first}",
                    if kept == 1 { "" } else { "s" }
                ),
            ));
            return;
        }
        self.status = None;
        let unknown = self
            .unknown
            .and_then(|i| self.profiles.get(i))
            .map(|p| p.name.clone());
        self.install(loaded);
        // The profiles were read again: find the unknown one by name.
        self.unknown = unknown.and_then(|name| self.profiles.iter().position(|p| p.name == name));
        if self.unknown.is_none() {
            self.sent_new = None;
        }
        self.load_journals();
        if self.status.is_none() {
            self.status = Some((Level::Info, format!("Reloaded {}", path.display())));
        }
        if !self.broken.is_empty()
            && let Some((_, line)) = &mut self.status
        {
            *line = format!("Reloaded {} with errors: {line}", path.display());
        }
    }

    /// `R` on the profile list: settles the selected profile's open change, asking first where
    /// rekey cannot decide alone (Tencent BM: resend? DCS and store-less: does it work?).
    pub(super) fn settle_selected(&mut self) {
        let Some(index) = self.selected else {
            return;
        };
        let profile = self.profiles[index].clone();
        if self.job.is_some() || self.settling.is_some() {
            self.status = Some((
                Level::Info,
                "Settle after the request in flight ends".into(),
            ));
            return;
        }
        if self.data_dir.is_none() {
            self.status = Some((
                Level::Info,
                "This console keeps no journal: nothing to settle".into(),
            ));
            return;
        }
        let open = self.unsettled.get(&profile.name);
        let store = self.store_for(index);
        if open.is_none() && store.is_none() {
            self.status = Some((
                Level::Info,
                format!("{} has nothing to settle", profile.name),
            ));
            return;
        }
        if store.as_ref().is_some_and(Store::needs_unlock) {
            self.overlay = Some(Overlay::Unlock);
            return;
        }
        // What the journal already proves needs no question.
        let decided = open.is_some_and(|o| {
            matches!(o.last, Step::Begin | Step::Staged)
                || (o.last == Step::Outcome && o.outcome.is_some_and(|x| x.is_success()))
                || (o.last == Step::Settled && o.applied.is_some())
        });
        let ask = match (profile.kind, store.is_some()) {
            _ if decided => None,
            (Kind::HuaweiDcs, _) | (_, false) => Some(Overlay::AskApplied),
            (Kind::TencentBmVpn, true) => Some(Overlay::ConfirmResend),
            _ => None,
        };
        match ask {
            Some(overlay) => self.overlay = Some(overlay),
            None => self.start_settle(Answers::default()),
        }
    }

    /// Runs `settle` for the selected profile on a task; `Message::Settled` reports.
    pub(super) fn start_settle(&mut self, answers: Answers) {
        let Some(index) = self.selected else {
            return;
        };
        let Some((dir, tx, handle)) = self.background() else {
            return;
        };
        let profile = self.profiles[index].clone();
        let store = self.store_for(index);
        let log_tx = tx.clone();
        let log: crate::provider::LogSink = Arc::new(move |entry| {
            let _ = log_tx.send(Message::Worker(Box::new(WorkerEvent::Log {
                job: 0,
                entry,
            })));
        });
        handle.spawn(async move {
            let p = profile.clone();
            let client =
                match tokio::task::spawn_blocking(move || crate::provider::client_for(&p)).await {
                    Ok(Ok(client)) => Some(client),
                    Ok(Err(e)) if answers.applied.is_none() => {
                        let _ = tx.send(Message::Settled {
                            profile: index,
                            result: Err(e.to_string()),
                        });
                        return;
                    }
                    _ => None,
                };
            let result = settle::settle(client, profile, dir, store, answers, log)
                .await
                .map_err(|e| e.to_string());
            let _ = tx.send(Message::Settled {
                profile: index,
                result,
            });
        });
        self.settling = Some(index);
        self.status = Some((
            Level::Info,
            format!("Settling {}…", self.profiles[index].name),
        ));
    }

    pub(super) fn on_settled(&mut self, index: usize, result: Result<Settled, String>) {
        self.settling = None;
        let name = self
            .profiles
            .get(index)
            .map_or_else(|| "?".to_string(), |p| p.name.clone());
        let (level, line) = match result {
            Ok(settled) => {
                // The state no longer says `unknown!` for a change that is now decided.
                if let (Some(applied), true, Some(profile)) =
                    (settled.applied, settled.settled, self.profiles.get(index))
                {
                    let name = profile.name.clone();
                    let at = self.wall;
                    self.save_state(&name, StateChange::Settle { applied, at });
                }
                if settled.settled && self.unknown == Some(index) {
                    self.unknown = None;
                    self.sent_new = None;
                }
                if settled.settled && self.selected == Some(index) {
                    if let Some(editor) = &mut self.editor {
                        editor.wipe();
                    }
                    self.selection += 1;
                    self.fill_current();
                }
                let level = if settled.settled {
                    Level::Info
                } else {
                    Level::Warn
                };
                (level, format!("{name}: {}", settled.did))
            }
            Err(e) => (Level::Error, format!("{name}: cannot settle: {e}")),
        };
        self.outcome = Some((level, line.clone()));
        // The outcome is the editor's last lines: scrolled to (the draw stops at the end).
        self.editor_scroll = u16::MAX;
        self.status = Some((level, line));
        self.load_journals();
    }

    pub(super) fn on_worker(&mut self, event: WorkerEvent, now: Instant) {
        match event {
            WorkerEvent::Log { entry, .. } => {
                let follow = self.log.is_empty() || self.log_selected + 1 == self.log.len();
                self.log.push(entry);
                if follow {
                    self.log_selected = self.log.len() - 1;
                }
            }
            WorkerEvent::Finished {
                job,
                report,
                store,
                settled,
                warning,
            } => {
                if let Some(flight) = self.job.filter(|f| f.id == job) {
                    self.job = None;
                    let finished = crate::change::Finished {
                        report,
                        store,
                        settled,
                        interrupted: false,
                        warning,
                    };
                    let words = finished.store_words();
                    self.finish(flight, finished.report, words, finished.warning);
                    self.load_journals();
                }
            }
            WorkerEvent::SetupFailed { job, message } => {
                if let Some(flight) = self.job.filter(|f| f.id == job) {
                    self.job = None;
                    if !flight.check {
                        self.sent_new = None;
                    }
                    let name = self
                        .profiles
                        .get(flight.profile)
                        .map_or("?", |p| p.name.as_str());
                    let line = format!("{name}: {message}");
                    self.outcome = Some((Level::Error, line.clone()));
                    // The outcome is the editor's last lines: scrolled to (the draw stops at the end).
                    self.editor_scroll = u16::MAX;
                    self.status = Some((Level::Error, line));
                    self.load_journals();
                }
            }
            WorkerEvent::Cancelled { job, report } => {
                if let Some(flight) = self.job.filter(|f| f.id == job) {
                    self.job = None;
                    self.load_journals();
                    match report {
                        Some(mut report) => {
                            // The worker stopped waiting, so it timed nothing: the attempt
                            // lasted from the send to this cancel.
                            if report.duration.is_zero() {
                                report.duration = now.saturating_duration_since(flight.started);
                            }
                            self.finish(flight, report, None, None)
                        }
                        None => {
                            if !flight.check {
                                self.sent_new = None;
                            }
                            let line = "Cancelled — nothing was sent".to_string();
                            self.outcome = Some((Level::Info, line.clone()));
                            // The outcome is the editor's last lines: scrolled to (the draw stops at the end).
                            self.editor_scroll = u16::MAX;
                            self.status = Some((Level::Info, line));
                        }
                    }
                }
            }
        }
    }
}

/// Every profile's journal in `dir` (blocking: file reads).
pub(super) fn read_journals(dir: &std::path::Path, names: &[String]) -> Vec<Unsettled> {
    names
        .iter()
        .map(|name| {
            let reading = crate::change::unsettled(dir, name);
            Unsettled {
                profile: name.clone(),
                open: reading.open,
                warning: reading.warning,
            }
        })
        .collect()
}
