//! Fleet rotation from the console (SPEC §11): profiles marked with Space in the list, a dialog
//! that shows the plan (the §4 rails per profile), then runs [`crate::change::rotate::rotate`]
//! on the console's runtime and shows its events, posted into the one message queue, as live
//! lines and a total. Nothing of the rotation is done here: the core generates, stages, sends
//! and promotes; this file decides what to ask, and records state and audit as for one change.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::change::Interrupter;
use crate::change::rotate::rate::{Limiter, Limits, TokioClock};
use crate::change::rotate::runs::{self, RunDir};
use crate::change::rotate::{self, Event, Options, Status, Target, Unrotatable};
use crate::console::keymap::{Action, Context};
use crate::console::message::{Message, Rotating};
use crate::console::terminal::{AsJob, as_job};
use crate::state::StateChange;
use crate::store::Store;

use super::{App, Level, Overlay};

/// The word typed to start a rotation that holds profiles needing a confirmation (production,
/// 2 or fewer retries left): one word covers them all; the dialog lists which they are.
pub const CONFIRM_WORD: &str = "rotate";

/// Where the rotation dialog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The plan is shown; nothing started. Enter starts, Esc cancels.
    Plan,
    /// Changes are being made.
    Running,
    /// The run ended: the summary.
    Done,
}

/// How a profile enters the run, decided when the dialog opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Rotated.
    Ready,
    /// Rotated once the typed confirmation is given (why it asks).
    Confirm(String),
    /// Not rotated (why).
    Refused(String),
}

/// One profile of the dialog.
#[derive(Debug, Clone)]
pub struct RotationRow {
    /// Index into the profiles.
    pub profile: usize,
    /// Its name.
    pub name: String,
    /// Its store's label (empty without one).
    pub store: String,
    /// How it enters the run.
    pub verdict: Verdict,
    /// Its status in the run, once the core reported one.
    pub status: Option<Status>,
}

/// The rotation dialog's state.
#[derive(Debug)]
pub struct Rotation {
    /// Every profile asked for, in list order.
    pub rows: Vec<RotationRow>,
    /// Where the dialog is.
    pub phase: Phase,
    /// How far the rows are scrolled.
    pub scroll: u16,
    /// How the run goes (the core's defaults: a canary, 4 at a time, stop after 1 failure).
    pub options: Options,
    /// The run's id (`runs/RUN-ID`, for `rekey rotate --resume`), once started.
    pub run_id: Option<String>,
    /// Why the run could not start or ended early.
    pub error: Option<String>,
    /// "Stop starting new ones" was asked for.
    pub stop_requested: bool,
    /// The run's rows, by target index (the core's indices).
    targets: Vec<usize>,
    /// Interrupts the run's changes (quitting: one on its way is left open in its journal).
    interrupter: Option<Interrupter>,
    /// Stops new starts only (`s`): the changes in flight finish.
    stopper: Option<Interrupter>,
}

impl Rotation {
    /// Whether some profile needs the typed confirmation.
    pub fn needs_confirmation(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Confirm(_)))
    }

    /// How many profiles the run changes (not refused).
    pub fn going(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Refused(_)))
            .count()
    }

    /// Whether the run is going on.
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// How many rows of the run are at a status matching `f`.
    pub fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.targets
            .iter()
            .filter(|&&r| self.rows[r].status.as_ref().is_some_and(&f))
            .count()
    }

    /// The statuses of the run's profiles (not refused) that have one.
    pub fn statuses(&self) -> impl Iterator<Item = &Status> {
        self.targets
            .iter()
            .filter_map(|&r| self.rows[r].status.as_ref())
    }

    /// How many profiles of the run (not refused) there are.
    pub fn run_size(&self) -> usize {
        self.targets.len()
    }

    /// The last row's index (how far the rows can scroll at most).
    fn last_row(&self) -> u16 {
        u16::try_from(self.rows.len().saturating_sub(1)).unwrap_or(u16::MAX)
    }

    /// The interrupter, taken (the console quits).
    pub(super) fn take_interrupter(&mut self) -> Option<Interrupter> {
        self.interrupter.take()
    }

    fn row_of(&mut self, target: usize) -> Option<&mut RotationRow> {
        let row = *self.targets.get(target)?;
        self.rows.get_mut(row)
    }
}

impl App {
    /// Whether a rotation runs (changes may be in flight).
    pub fn rotating(&self) -> bool {
        self.rotation.as_ref().is_some_and(Rotation::running)
    }

    /// Space in the list: marks or unmarks the selected profile.
    pub(super) fn toggle_mark(&mut self) {
        let Some(i) = self.selected else {
            return;
        };
        if !self.marked.remove(&i) {
            self.marked.insert(i);
        }
    }

    /// `o` in the list: opens the rotation dialog for the marked profiles (or the selected
    /// one), with each profile's verdict.
    pub(super) fn open_rotation(&mut self) {
        if self.job.is_some() || self.settling.is_some() {
            self.status = Some((
                Level::Info,
                "Rotate after the request in flight ends".into(),
            ));
            return;
        }
        let chosen: Vec<usize> = if self.marked.is_empty() {
            self.selected.into_iter().collect()
        } else {
            self.marked.iter().copied().collect()
        };
        if chosen.is_empty() {
            return;
        }
        let rows = chosen
            .into_iter()
            .filter(|&i| i < self.profiles.len())
            .map(|i| RotationRow {
                profile: i,
                name: self.profiles[i].name.clone(),
                store: Store::for_profile(&self.profiles[i])
                    .map(|s| s.label())
                    .unwrap_or_default(),
                verdict: self.verdict(i),
                status: None,
            })
            .collect();
        self.confirm_input.clear();
        self.rotation = Some(Rotation {
            rows,
            phase: Phase::Plan,
            scroll: 0,
            options: Options::default(),
            run_id: None,
            error: None,
            stop_requested: false,
            targets: Vec::new(),
            interrupter: None,
            stopper: None,
        });
        self.overlay = Some(Overlay::Rotate);
    }

    /// Whether profile `i` is rotated, asked about, or refused, and why: SPEC §10 (a store to
    /// save the generated password in, no secret that must be typed), an unsettled change, and
    /// the rails of §4 ([`rotate::rails`]: a known lock refuses; 2 or fewer retries left or a
    /// production profile ask).
    fn verdict(&self, i: usize) -> Verdict {
        let profile = &self.profiles[i];
        match rotate::unrotatable(profile) {
            Some(Unrotatable::NoStore) => {
                return Verdict::Refused(
                    "no store: a rotation saves the generated password in one first".into(),
                );
            }
            Some(Unrotatable::StoreNeedsUnlock(label)) => {
                return Verdict::Refused(format!(
                    "{label} needs a typed password, which a rotation cannot ask for"
                ));
            }
            Some(Unrotatable::PromptSecret(key)) => {
                return Verdict::Refused(format!(
                    "{key} = {{ prompt = true }}, which a rotation cannot ask for"
                ));
            }
            None => {}
        }
        if let Some(open) = self.unsettled.get(&profile.name) {
            return Verdict::Refused(format!(
                "unsettled ({}): settle it first with R",
                open.describe()
            ));
        }
        let last = self.state.get(&profile.name).cloned().unwrap_or_default();
        if let Some(why) = rotate::rails(profile, &last, self.wall, true) {
            // (Nothing is ever sent before the run: the plan need not say so.)
            let why = why.trim_end_matches("; nothing was sent");
            return Verdict::Refused(why.to_string());
        }
        let mut asks = Vec::new();
        if profile.production {
            asks.push("production".to_string());
        }
        if let Some(n) = last.retries_known(self.wall).filter(|n| *n <= 2) {
            asks.push(format!("{n} retries left, may be the last attempt"));
        }
        if asks.is_empty() {
            Verdict::Ready
        } else {
            Verdict::Confirm(asks.join(", "))
        }
    }

    /// Keys of the rotation dialog.
    pub(super) fn on_rotation_key(&mut self, key: KeyEvent) {
        let Some(rotation) = &mut self.rotation else {
            self.overlay = None;
            return;
        };
        match key.code {
            KeyCode::Up => {
                rotation.scroll = rotation.scroll.saturating_sub(1);
                return;
            }
            KeyCode::Down => {
                rotation.scroll = rotation.scroll.saturating_add(1).min(rotation.last_row());
                return;
            }
            KeyCode::PageUp => {
                rotation.scroll = rotation.scroll.saturating_sub(10);
                return;
            }
            KeyCode::PageDown => {
                rotation.scroll = rotation.scroll.saturating_add(10).min(rotation.last_row());
                return;
            }
            _ => {}
        }
        match rotation.phase {
            Phase::Plan => match key.code {
                KeyCode::Esc => {
                    self.confirm_input.clear();
                    self.rotation = None;
                    self.overlay = None;
                    self.status =
                        Some((Level::Info, "Rotation cancelled: nothing was sent".into()));
                }
                KeyCode::Enter => self.start_rotation(),
                KeyCode::Backspace => {
                    self.confirm_input.pop();
                }
                KeyCode::Char(c)
                    if !key.modifiers.contains(KeyModifiers::CONTROL)
                        && !c.is_control()
                        && rotation.needs_confirmation()
                        && self.confirm_input.len() < 256 =>
                {
                    self.confirm_input.push(c);
                }
                _ => {}
            },
            Phase::Running => {
                if self.keymap.action_for(&key, Context::Rotation) == Some(Action::StopRotation) {
                    rotation.stop_requested = true;
                    if let Some(stopper) = rotation.stopper.take() {
                        stopper.interrupt("stopped");
                    }
                    self.status = Some((
                        Level::Info,
                        "Stopping: no new change starts; those in flight finish".into(),
                    ));
                } else if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                    let keys = self
                        .keymap
                        .keys(Action::StopRotation)
                        .first()
                        .map_or_else(String::new, |c| c.label());
                    self.status = Some((
                        Level::Info,
                        format!(
                            "Changes are in flight: {keys} stops starting new ones; the dialog closes once they end"
                        ),
                    ));
                }
            }
            Phase::Done => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                    self.rotation = None;
                    self.overlay = None;
                    self.marked.clear();
                }
            }
        }
    }

    /// Enter on the plan: checks the typed confirmation, writes the run's plan and starts the
    /// core on the runtime; its events come back as [`Message::Rotation`].
    fn start_rotation(&mut self) {
        let Some(rotation) = &self.rotation else {
            return;
        };
        if rotation.going() == 0 {
            self.status = Some((
                Level::Error,
                "Nothing to rotate: every profile is refused (Esc closes)".into(),
            ));
            return;
        }
        if rotation.needs_confirmation() && self.confirm_input != CONFIRM_WORD {
            self.status = Some((
                Level::Error,
                format!("Not started: type {CONFIRM_WORD} to confirm, or Esc"),
            ));
            return;
        }
        let Some((dir, tx, handle)) = self.background() else {
            self.status = Some((
                Level::Warn,
                "This console keeps no data directory (journals, runs): nothing was sent".into(),
            ));
            return;
        };
        let Some(rotation) = &mut self.rotation else {
            return;
        };
        let targets: Vec<usize> = (0..rotation.rows.len())
            .filter(|&r| !matches!(rotation.rows[r].verdict, Verdict::Refused(_)))
            .collect();
        let profiles: Vec<Target> = targets
            .iter()
            .map(|&r| Target {
                profile: self.profiles[rotation.rows[r].profile].clone(),
            })
            .collect();
        let id = runs::new_run_id();
        let options = rotation.options;
        let plan = rotate::plan(
            &id,
            self.wall,
            format!("the console, pid {}", std::process::id()),
            &profiles,
            &[],
            &options,
        );
        let (interrupter, interrupt) = Interrupter::new();
        let (stopper, stop_new) = Interrupter::new();
        let log_tx = tx.clone();
        let controls = rotate::Controls {
            interrupt,
            stop_new,
            // The run's exchanges reach the Requests pane as a single change's do.
            log: Arc::new(move |entry| {
                let _ = log_tx.send(Message::Worker(Box::new(crate::worker::WorkerEvent::Log {
                    job: 0,
                    entry,
                })));
            }),
        };
        rotation.targets = targets;
        rotation.phase = Phase::Running;
        rotation.run_id = Some(id.clone());
        rotation.interrupter = Some(interrupter);
        rotation.stopper = Some(stopper);
        for &r in &rotation.targets {
            rotation.rows[r].status = Some(Status::Waiting);
        }
        self.confirm_input.clear();
        let count = rotation.targets.len();
        // The plan's I/O and the run are job code: a panic in either ends the run as an
        // internal error and the console stays up with the changes in flight. (This task only
        // passes messages on; nothing would report its own end.)
        handle.spawn(async move {
            let post = |r: Rotating| {
                let _ = tx.send(Message::Rotation(r));
            };
            // The plan first (off the loop), and the run's lock held until its end.
            let run = RunDir::new(&dir, &id);
            let opened = {
                let run = run.clone();
                tokio::task::spawn_blocking(move || {
                    as_job(|| {
                        run.create(&plan).map_err(|e| {
                            format!("cannot write the plan {}: {e}", run.path().display())
                        })?;
                        match run.lock() {
                            Ok(Some(held)) => Ok(held),
                            _ => Err(format!("cannot lock the run {}", run.path().display())),
                        }
                    })
                })
                .await
                // (Never the join error's text: it carries the panic's message.)
                .unwrap_or_else(|_| Err("internal error while writing the plan".into()))
            };
            let held = match opened {
                Ok(held) => held,
                Err(e) => return post(Rotating::Ended(Err(format!("{e}; nothing was sent")))),
            };
            let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
            let limiter = Arc::new(Limiter::new(Limits::from_env(), Arc::new(TokioClock)));
            let mut core = tokio::spawn(AsJob::new(rotate::rotate(
                Arc::new(profiles),
                (0..count).collect(),
                dir,
                Some(run),
                options,
                limiter,
                events,
                controls,
            )));
            let ended = loop {
                tokio::select! {
                    biased;
                    Some(event) = received.recv() => post(Rotating::Event(event)),
                    ended = &mut core => break ended,
                }
            };
            // Every event was sent before the core returned: pass on what is still queued.
            while let Ok(event) = received.try_recv() {
                post(Rotating::Event(event));
            }
            drop(held);
            post(Rotating::Ended(ended.map(|_| ()).map_err(|_| {
                "internal error in the rotation: it stopped; a change in flight may have \
                         been sent (see the unsettled badges)"
                    .to_string()
            })));
        });
        self.status = Some((
            Level::Info,
            format!(
                "Rotating {count} profile{}…",
                if count == 1 { "" } else { "s" }
            ),
        ));
    }

    /// What the rotation reports: statuses, attempts (state and audit, as for one change), ends.
    pub(super) fn on_rotation(&mut self, message: Rotating) {
        let Some(rotation) = &mut self.rotation else {
            return;
        };
        match message {
            Rotating::Event(Event::Status(i, status)) => {
                if let Some(row) = rotation.row_of(i) {
                    row.status = Some(status);
                }
            }
            Rotating::Event(Event::Finished(i, end)) => {
                if let Some(row) = rotation.row_of(i) {
                    // The dialog cuts a long reason to its width: the history (`m`) keeps it
                    // whole.
                    let level = match &end.status {
                        Status::Failed(_) => Some(Level::Error),
                        Status::Unsettled(_) | Status::NotStarted(_) => Some(Level::Warn),
                        _ => None,
                    };
                    if let (Some(level), Some(reason)) = (level, end.status.reason()) {
                        let reason = reason.strip_prefix("not started: ").unwrap_or(reason);
                        let word = end.status.word().replace('_', " ");
                        let line = format!("{}: {word}: {reason}", row.name);
                        self.history.push(level, line);
                    }
                    row.status = Some(end.status);
                }
            }
            Rotating::Event(Event::Attempted(i, report)) => {
                let Some(profile) = rotation
                    .row_of(i)
                    .map(|r| r.profile)
                    .and_then(|p| self.profiles.get(p).cloned())
                else {
                    return;
                };
                self.save_state(
                    &profile.name,
                    StateChange::Record(report.clone(), self.wall),
                );
                self.append_audit(&profile, &report, false);
            }
            // Only a resumed run settles; the console starts new runs.
            Rotating::Event(Event::Settled(..)) => {}
            // Something the run could not record (its progress file): kept in the history.
            Rotating::Event(Event::Warning(i, warning)) => {
                let name = rotation
                    .row_of(i)
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                // (The history escapes what it draws.)
                self.history.push(Level::Warn, format!("{name}: {warning}"));
            }
            Rotating::Ended(result) => {
                rotation.phase = Phase::Done;
                rotation.interrupter = None;
                rotation.stopper = None;
                let saved = rotation.count(|s| *s == Status::Saved);
                let failed = rotation.count(|s| matches!(s, Status::Failed(_)));
                let unsettled = rotation.count(|s| matches!(s, Status::Unsettled(_)));
                let not_started = rotation.count(|s| matches!(s, Status::NotStarted(_)));
                let rotated: Vec<usize> = rotation
                    .targets
                    .iter()
                    .map(|&r| rotation.rows[r].profile)
                    .collect();
                let (level, line) = match result {
                    Err(e) => {
                        rotation.error = Some(e.clone());
                        (Level::Error, format!("Rotation ended: {e}"))
                    }
                    Ok(()) => (
                        if failed + unsettled + not_started > 0 {
                            Level::Warn
                        } else {
                            Level::Info
                        },
                        format!(
                            "Rotation done: {saved} saved, {failed} failed, {unsettled} unsettled, {not_started} not started"
                        ),
                    ),
                };
                self.status = Some((level, line));
                // The badges (unsettled) come from the journals; the selected profile's
                // current password from its store, which now holds the new one.
                self.load_journals();
                if self.selected.is_some_and(|s| rotated.contains(&s)) {
                    self.wipe_secrets();
                    self.selection += 1;
                    self.fill_current();
                }
            }
        }
    }
}
