//! The console's state and its one `update` function. Nothing else mutates it; rendering reads it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;
use tokio::sync::mpsc::UnboundedSender;
use zeroize::{Zeroize, Zeroizing};

use super::clipboard;
use super::editor::{CurrentSource, Editor, FieldRole};
use super::history::History;
use super::keymap::{Action, Context};
use super::layout::{self, ProfileList};
use super::message::{Disk, Message, Unsettled};
use crate::change::journal::{Open, Step};
use crate::change::settle::{self, Answers, Settled};
use crate::config::{BrokenProfile, Config, ConfigError, Kind, Operate, Profile};
use crate::policy;
use crate::provider::{FollowUp, LogEntry, Options, Outcome, Report, TypedSecrets};
use crate::secret::{PASSWORD_CAPACITY, SecretBuf, TOKEN_CAPACITY};
use crate::state::{Audit, State, StateChange};
use crate::store::{Slot, Store};
use crate::worker::{Job, Worker, WorkerEvent};

/// How long Ctrl-R shows a field in clear text.
pub const REVEAL_FOR: Duration = Duration::from_secs(5);

pub use super::layout::MIN_SIZE;

/// What loading the config gave.
#[derive(Debug)]
pub enum Loaded {
    /// A valid file.
    Config(Config),
    /// No file at the path: first run.
    Missing,
    /// A file that could not be used; the console shows why.
    Broken(ConfigError),
}

/// Which pane (or field) has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The profile list.
    Profiles,
    /// A field of the editor, by index.
    Field(usize),
    /// The request/response log.
    Log,
}

/// A modal layer over the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The key bindings.
    Help,
    /// A safety rail asks before sending: y sends (re-checking the other rails), n does not.
    Confirm {
        /// What is asked.
        ask: Ask,
        /// Rails already confirmed for this send.
        gate: Gate,
        /// The send's options.
        options: Options,
    },
    /// Quit while a change is in flight or its outcome is unknown? (Without a store, after
    /// `unknown`: reveal, copy or discard the only copy first.)
    ConfirmQuit,
    /// Without a store, after `unknown`: rekey holds the only copy of a password that may be
    /// live. Reveal it, copy it, or discard it and then do this.
    ConfirmDiscard(Then),
    /// The profile's store needs its own password (KeePassXC), typed into a masked field.
    Unlock,
    /// Settling a Tencent BM change: resend Update with the pending password?
    ConfirmResend,
    /// Settling where rekey cannot check (DCS, no store): does the new password work?
    AskApplied,
    /// Tencent BM v3: Update said the VPN account does not exist; send with Create?
    OfferCreate,
    /// One log entry in full (index into the log), scrolled by this many lines.
    LogDetail(usize, u16),
    /// The message history (`m`), scrolled back from the newest by this many lines.
    Messages(u16),
}

/// What to do once the only copy of a password that may be live was dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Select this profile.
    Select(usize),
    /// Reload the config.
    Reload,
}

/// A question a safety rail asks before a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The profile is known to be locked; send anyway (the explicit override)?
    Locked,
    /// A production profile: send?
    Production,
    /// Two or fewer retries left: this may be the last attempt before a lock.
    LastAttempt,
    /// The new password passes every rule but scores low.
    Weak {
        /// zxcvbn score 0..=4.
        score: u8,
        /// Its words.
        label: &'static str,
    },
}

/// The rails the user has already said yes to for one send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gate {
    /// Send although the profile is known to be locked.
    pub lock_override: bool,
    /// Production confirmed.
    pub production: bool,
    /// Last attempt confirmed.
    pub last_attempt: bool,
    /// Weak password confirmed.
    pub weak: bool,
}

/// How often the spinner moves while a change is in flight.
pub const SPINNER_STEP: Duration = Duration::from_millis(100);

/// A change the worker is sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The job id.
    pub id: u64,
    /// The profile (index into `profiles`).
    pub profile: usize,
    /// When it was submitted.
    pub started: Instant,
    /// A check after `unknown`, not a change.
    pub check: bool,
}

/// How a status line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral information.
    Info,
    /// Something the user should read.
    Warn,
    /// Something went wrong or was refused.
    Error,
}

/// The console's state.
#[derive(Debug)]
pub struct App {
    /// Where the config came from (None for the demo's built-in profiles).
    pub config_path: Option<PathBuf>,
    /// What loading it gave, minus the profiles (kept below).
    pub config_error: Option<ConfigError>,
    /// True when there was no file.
    pub config_missing: bool,
    /// Non-fatal config findings.
    pub warnings: Vec<String>,
    /// Profiles of the file that failed validation, each with all its errors (not loaded).
    pub broken: Vec<BrokenProfile>,
    /// Every message shown on the message line, the last 100 (`m` shows them).
    pub history: History,
    /// The profiles, in file order (shared with jobs in flight).
    pub profiles: Vec<Arc<Profile>>,
    /// The highlighted profile (index into `profiles`); its editor is shown.
    pub selected: Option<usize>,
    /// The list filter typed after `/` (not a secret).
    pub filter: String,
    /// Whether keys currently go to the filter.
    pub filter_editing: bool,
    /// Keyboard focus.
    pub focus: Focus,
    /// The editor of the selected profile.
    pub editor: Option<Editor>,
    /// A modal layer, if any.
    pub overlay: Option<Overlay>,
    /// One line of feedback in the status bar.
    pub status: Option<(Level, String)>,
    /// The terminal's size as last reported.
    pub size: (u16, u16),
    /// Set when the loop should end.
    pub should_quit: bool,
    /// Sends changes; None when the console runs without one (nothing can be sent).
    pub worker: Option<Worker>,
    /// The change in flight.
    pub job: Option<InFlight>,
    /// The id the next job gets.
    next_job: u64,
    /// The last outcome, shown under the editor.
    pub outcome: Option<(Level, String)>,
    /// Every HTTP exchange, oldest first.
    pub log: Vec<LogEntry>,
    /// The selected log row.
    pub log_selected: usize,
    /// Last known lock/retry state per profile.
    pub state: State,
    /// The audit trail.
    pub audit: Audit,
    /// The theme the config names (`theme = ...`); a reload that fails keeps it.
    pub theme: crate::config::ThemeName,
    /// The keys in force: the table's defaults with the config's `[keys]`.
    pub keymap: super::keymap::Keymap,
    /// `NO_COLOR`: no colour whatever the theme (read once at start-up, see
    /// [`super::theme::no_color_from_env`]).
    pub no_color: bool,
    /// Where changes are journaled (SPEC §10.2); None keeps no journal.
    pub data_dir: Option<PathBuf>,
    /// A send refused because the profile is locked: Ctrl-O asks to override.
    lock_refused: Option<Options>,
    /// A profile whose last change ended `unknown` and was not checked or acknowledged.
    pub unknown: Option<usize>,
    /// A copy of the new password of the change in flight, then of the change that ended
    /// `unknown`: what F5 checks, whatever the editor holds by then.
    sent_new: Option<SecretBuf>,
    /// Wall-clock time of the message being handled (lock countdowns, state times).
    wall: SystemTime,
    /// Where background tasks (store and journal reads, settles) post their results; None
    /// until the console's loop connects (and then nothing runs in the background).
    tx: Option<UnboundedSender<Message>>,
    /// Counts selections: a store read for an earlier one is ignored.
    selection: u64,
    /// Open (unsettled) changes by profile name, from the journals (SPEC §10.2).
    pub unsettled: HashMap<String, Open>,
    /// The profile a settle (`R`) is running for.
    pub settling: Option<usize>,
    /// The selected profile's typed store password (KeePassXC), once given.
    store_unlock: Option<(usize, SecretBuf)>,
    /// What the unlock dialog holds while it is typed.
    pub unlock_input: SecretBuf,
    /// OSC 52 sequences for the terminal, written by the loop.
    clipboard_out: Vec<Zeroizing<Vec<u8>>>,
    /// When the clipboard is cleared again after a copy.
    pub clipboard_clear_at: Option<Instant>,
    /// Until when the discard question shows the kept password (Ctrl-R in it).
    pub discard_reveal: Option<Instant>,
    /// The current password a provider just refused, as a keyed hash (never a copy).
    refused_current: super::refused::RefusedCurrent,
    /// The keyed hash of the current password the change in flight carries.
    sent_current_mac: Option<[u8; 32]>,
    /// What is typed into a production confirmation (the profile's name; not a secret).
    pub confirm_input: String,
    /// The last file I/O started off the loop: the next one waits for it (writes stay in order).
    disk: Option<tokio::task::JoinHandle<()>>,
    /// File I/O started and not yet reported back.
    disk_pending: usize,
    /// File I/O done at once (no runtime), handled once the message that started it was.
    disk_ready: Vec<Disk>,
    /// Counts state writes: only the last one's saved states are taken.
    state_seq: u64,
    /// What could not be recorded when quitting (printed once the terminal is restored).
    quit_problems: Vec<String>,
}

impl App {
    /// A console over what loading the config gave.
    pub fn new(config_path: Option<PathBuf>, loaded: Loaded, size: (u16, u16)) -> App {
        let mut app = App {
            config_path,
            config_error: None,
            config_missing: false,
            warnings: Vec::new(),
            broken: Vec::new(),
            history: History::default(),
            profiles: Vec::new(),
            selected: None,
            filter: String::new(),
            filter_editing: false,
            focus: Focus::Profiles,
            editor: None,
            overlay: None,
            status: None,
            size,
            should_quit: false,
            worker: None,
            job: None,
            next_job: 1,
            outcome: None,
            log: Vec::new(),
            log_selected: 0,
            state: State::in_memory(),
            audit: Audit::default(),
            theme: crate::config::ThemeName::default(),
            keymap: super::keymap::Keymap::default(),
            no_color: false,
            data_dir: None,
            lock_refused: None,
            unknown: None,
            sent_new: None,
            wall: SystemTime::now(),
            tx: None,
            selection: 0,
            unsettled: HashMap::new(),
            settling: None,
            store_unlock: None,
            unlock_input: SecretBuf::new(TOKEN_CAPACITY),
            clipboard_out: Vec::new(),
            clipboard_clear_at: None,
            discard_reveal: None,
            refused_current: Default::default(),
            sent_current_mac: None,
            confirm_input: String::new(),
            disk: None,
            disk_pending: 0,
            disk_ready: Vec::new(),
            state_seq: 0,
            quit_problems: Vec::new(),
        };
        app.install(loaded);
        app.record_status(None);
        app
    }

    /// The styles to draw with: the config's theme, or none under `NO_COLOR`.
    pub fn styles(&self) -> &'static super::theme::Theme {
        super::theme::Theme::get(self.theme, self.no_color)
    }

    fn install(&mut self, loaded: Loaded) {
        self.wipe_secrets();
        self.store_unlock = None;
        self.editor = None;
        self.selected = None;
        self.profiles.clear();
        self.config_error = None;
        self.config_missing = false;
        self.warnings.clear();
        self.broken.clear();
        self.focus = Focus::Profiles;
        match loaded {
            Loaded::Config(config) => {
                self.audit.set_enabled(config.audit);
                self.theme = config.theme;
                self.keymap = config.keys;
                self.profiles = config.profiles.into_iter().map(Arc::new).collect();
                self.warnings = config.warnings;
                self.broken = config.broken;
                for warning in self.warnings.iter().skip(1) {
                    self.history.push(Level::Warn, warning.clone());
                }
                if let Some(first) = self.warnings.first() {
                    self.status = Some((Level::Warn, first.clone()));
                }
                if !self.broken.is_empty() {
                    self.report_broken();
                }
            }
            Loaded::Missing => self.config_missing = true,
            Loaded::Broken(e) => self.config_error = Some(e),
        }
        if !self.profiles.is_empty() {
            self.select_now(Some(0));
        }
    }

    /// Connects the loop's queue: background work posts there. Reads every journal (off the
    /// loop, so the first frame never waits for the disk) and fills the selected profile's
    /// current password from its store.
    pub fn connect(&mut self, tx: UnboundedSender<Message>) {
        self.tx = Some(tx);
        self.load_journals();
        self.fill_current();
    }

    fn profile_names(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.name.clone()).collect()
    }

    /// Runs `job` (file I/O) off the loop, after the I/O started before it (so writes stay in
    /// order); what it gives comes back as [`Message::Disk`]. Without the loop's runtime (a
    /// console driven by hand) it runs at once and is handled once the current message was.
    fn off_loop(&mut self, job: impl FnOnce() -> Disk + Send + 'static) {
        self.disk_pending += 1;
        match (self.tx.clone(), tokio::runtime::Handle::try_current()) {
            (Some(tx), Ok(handle)) => {
                let before = self.disk.take();
                self.disk = Some(handle.spawn(async move {
                    if let Some(before) = before {
                        let _ = before.await;
                    }
                    let done = tokio::task::spawn_blocking(job)
                        .await
                        .unwrap_or_else(|e| Disk::Panicked(e.to_string()));
                    let _ = tx.send(Message::Disk(done));
                }));
            }
            _ => {
                let done = job();
                self.disk_ready.push(done);
            }
        }
    }

    /// Whether file I/O started off the loop has not reported back yet.
    pub fn disk_busy(&self) -> bool {
        self.disk_pending > 0
    }

    /// What could not be recorded when the console quit.
    pub fn quit_problems(&self) -> &[String] {
        &self.quit_problems
    }

    /// What could not be recorded when the console quit (say it once the terminal is restored).
    pub fn take_quit_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.quit_problems)
    }

    /// Records `change` for `profile`: in memory at once, in `state.json` off the loop.
    fn save_state(&mut self, profile: &str, change: StateChange) {
        let before = self.state.clone();
        self.state.change_in_memory(profile, &change);
        self.state_seq += 1;
        let (seq, profile) = (self.state_seq, profile.to_string());
        self.off_loop(move || {
            let result = before.write(&profile, &change).map_err(|e| e.to_string());
            Disk::State {
                profile,
                seq,
                result,
            }
        });
    }

    /// Appends `report`'s line to `audit.jsonl` off the loop (a check's marked as one).
    fn append_audit(&mut self, profile: &Arc<Profile>, report: &Report, check: bool) {
        let (audit, profile, report, at) = (
            self.audit.clone(),
            profile.clone(),
            report.clone(),
            self.wall,
        );
        self.off_loop(move || {
            let result = if check {
                audit.append_check(&profile, &report, at)
            } else {
                audit.append(&profile, &report, at)
            };
            Disk::Audit {
                profile: profile.name.clone(),
                result: result.map_err(|e| e.to_string()),
            }
        });
    }

    /// File I/O done off the loop reported back: a failure is shown on the message line (and
    /// so kept in the history), never dropped.
    fn on_disk(&mut self, done: Disk) {
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
            Disk::Panicked(e) => Some(format!("Internal error writing a file: {e}")),
        };
        if let Some(line) = failed {
            self.status = Some((Level::Error, line));
        }
    }

    /// Re-reads every profile's journal off the loop (after a job, a settle, a reload).
    /// Without a runtime (a console driven by hand) they are read at once.
    fn load_journals(&mut self) {
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

    fn on_journals(&mut self, readings: Vec<Unsettled>) {
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

    /// The store of profile `index`, unlocked with the typed store password if one was given.
    fn store_for(&self, index: usize) -> Option<Store> {
        let mut store = Store::for_profile(self.profiles.get(index)?)?;
        if let Some((i, secret)) = &self.store_unlock
            && *i == index
        {
            let mut copy = SecretBuf::new(secret.capacity());
            if copy.copy_from(secret).is_ok() {
                store.unlock(copy);
            }
        }
        Some(store)
    }

    /// Fills the selected profile's current-password field from its store, off the loop
    /// (`read_current`, kinds that need it). A locked store waits for its password.
    fn fill_current(&mut self) {
        let Some(index) = self.selected else {
            return;
        };
        if !self.profiles[index].kind.needs_current_password() {
            return;
        }
        let Some(store) = self.store_for(index).filter(Store::read_current) else {
            return;
        };
        let label = store.label();
        let locked = store.needs_unlock();
        let (selection, tx) = (self.selection, self.tx.clone());
        let Some(editor) = &mut self.editor else {
            return;
        };
        if locked {
            editor.current_from = Some(CurrentSource::Locked(label));
            return;
        }
        let (Some(tx), Ok(handle)) = (tx, tokio::runtime::Handle::try_current()) else {
            return;
        };
        editor.current_from = Some(CurrentSource::Reading(label.clone()));
        handle.spawn_blocking(move || {
            let result = store.get(Slot::Current).map_err(|e| e.to_string());
            let _ = tx.send(Message::CurrentRead {
                selection,
                label,
                result,
            });
        });
    }

    fn on_current_read(
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
                self.status = Some((Level::Error, line));
            }
        }
    }

    /// Indices of the profiles that match the filter, in file order.
    pub fn visible(&self) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        self.profiles
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                needle.is_empty()
                    || p.name.to_lowercase().contains(&needle)
                    || p.kind.as_str().contains(&needle)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The selected profile.
    pub fn profile(&self) -> Option<&Profile> {
        self.selected
            .and_then(|i| self.profiles.get(i))
            .map(|p| p.as_ref())
    }

    /// Selects a profile; a different one wipes every typed secret and builds a fresh editor.
    /// Leaving a profile whose new password may be live asks first when rekey holds the only
    /// copy, and says where it is when a store holds it.
    fn select(&mut self, index: Option<usize>) {
        if index == self.selected && self.editor.is_some() {
            return;
        }
        if let (Some(from), Some(to)) = (self.selected, index)
            && self.unknown == Some(from)
        {
            if self.holds_only_copy() {
                self.overlay = Some(Overlay::ConfirmDiscard(Then::Select(to)));
                return;
            }
            if let Some(store) = self.profiles[from].store.as_ref() {
                self.status = Some((
                    Level::Info,
                    format!(
                        "{}: the new password stays in {} pending; R settles",
                        self.profiles[from].name,
                        store.label()
                    ),
                ));
            }
        }
        self.select_now(index);
    }

    fn select_now(&mut self, index: Option<usize>) {
        if index == self.selected && self.editor.is_some() {
            return;
        }
        self.wipe_secrets();
        if self
            .store_unlock
            .as_ref()
            .is_some_and(|(i, _)| Some(*i) != index)
        {
            self.store_unlock = None;
        }
        self.selected = index;
        self.selection += 1;
        self.editor = self.profile().map(Editor::for_profile);
        self.outcome = None;
        if let Focus::Field(_) = self.focus {
            self.focus = Focus::Profiles;
        }
        self.fill_current();
    }

    /// After `unknown` without a store, rekey holds the only copy of a password that may be
    /// live (`sent_new`).
    pub fn holds_only_copy(&self) -> bool {
        self.unknown
            .and_then(|i| self.profiles.get(i))
            .is_some_and(|p| p.store.is_none())
            && self.sent_new.is_some()
    }

    /// The password kept after `unknown`, for the discard question's reveal (borrowed).
    pub fn kept_password(&self) -> Option<&str> {
        self.sent_new.as_ref().map(SecretBuf::expose)
    }

    /// Discards the kept copy, then does `then`.
    fn discard_then(&mut self, then: Then) {
        self.sent_new = None;
        self.unknown = None;
        self.discard_reveal = None;
        match then {
            Then::Select(i) => self.select_now(Some(i)),
            Then::Reload => self.reload(),
        }
    }

    /// Puts `secret` on the clipboard (OSC 52) until the clear deadline.
    fn copy_to_clipboard(&mut self, secret: &str, now: Instant) {
        self.clipboard_out.push(clipboard::copy_sequence(secret));
        self.clipboard_clear_at = Some(now + clipboard::CLEAR_AFTER);
        self.status = Some((
            Level::Info,
            format!(
                "copied — clipboard clears in {} s",
                clipboard::CLEAR_AFTER.as_secs()
            ),
        ));
    }

    /// The OSC 52 sequences waiting for the terminal (the loop writes them).
    pub fn take_clipboard(&mut self) -> Vec<Zeroizing<Vec<u8>>> {
        std::mem::take(&mut self.clipboard_out)
    }

    /// Writing to the terminal's clipboard failed.
    pub fn clipboard_failed(&mut self, error: &std::io::Error) {
        self.status = Some((Level::Error, format!("Could not copy: {error}")));
    }

    fn wipe_secrets(&mut self) {
        if let Some(editor) = &mut self.editor {
            editor.wipe();
        }
    }

    /// The next moment the console must wake up without input (a reveal ending, the spinner's
    /// next step), if any. None when idle: no polling.
    pub fn next_deadline(&self, now: Instant, wall: SystemTime) -> Option<Instant> {
        let reveal = self.editor.as_ref().and_then(|e| e.reveal.map(|(_, t)| t));
        let spinner = self.job.map(|_| now + SPINNER_STEP);
        let clipboard = self.clipboard_clear_at;
        let discard_reveal = self.discard_reveal;
        // A lock countdown on screen ticks when its shown second changes: once a second. Rows
        // filtered or scrolled away, and the "too small" screen, show none.
        let countdown = self
            .on_screen()
            .into_iter()
            .filter_map(|i| self.lock_left(i, wall))
            .map(|left| now + sub_second(left))
            .min();
        [reveal, spinner, countdown, clipboard, discard_reveal]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time left in profile `index`'s known lock at `wall`.
    pub fn lock_left(&self, index: usize, wall: SystemTime) -> Option<Duration> {
        let profile = self.profiles.get(index)?;
        self.state.get(&profile.name)?.lock_left(wall)
    }

    /// The wall-clock time of the message being handled.
    pub fn wall(&self) -> SystemTime {
        self.wall
    }

    /// Handles one message at `now` (monotonic) and `wall` (wall clock).
    pub fn update(&mut self, message: Message, now: Instant, wall: SystemTime) {
        let said = self.status.clone();
        self.handle(message, now, wall);
        self.record_status(said);
        // A password is about to be typed: have the strength estimator's dictionaries ready
        // (built once, on a thread).
        if let Focus::Field(_) = self.focus {
            crate::policy::warm_up_in_background();
        }
        // File I/O done at once (no runtime) reports as its message would, after this one.
        for done in std::mem::take(&mut self.disk_ready) {
            let said = self.status.clone();
            self.on_disk(done);
            self.record_status(said);
        }
    }

    /// Adds the message line to the history when it now says something new.
    fn record_status(&mut self, said: Option<(Level, String)>) {
        if let Some((level, text)) = &self.status
            && said.as_ref() != self.status.as_ref()
        {
            self.history.push(*level, text.clone());
        }
    }

    /// Puts every error of every broken profile in the history, and a summary on the message
    /// line (the history holds it whole).
    fn report_broken(&mut self) {
        for broken in &self.broken {
            for error in &broken.errors {
                self.history.push(Level::Error, error.to_string());
            }
        }
        let errors: usize = self.broken.iter().map(|b| b.errors.len()).sum();
        let names: Vec<String> = self.broken.iter().map(|b| b.label()).collect();
        self.status = Some((
            Level::Error,
            format!(
                "Not loaded, {errors} error{} (m shows them): {}",
                if errors == 1 { "" } else { "s" },
                names.join(", ")
            ),
        ));
    }

    fn handle(&mut self, message: Message, now: Instant, wall: SystemTime) {
        self.wall = wall;
        match message {
            Message::Input(event) => self.on_event(event, now),
            Message::Tick => {
                if let Some(editor) = &mut self.editor
                    && matches!(editor.reveal, Some((_, until)) if now >= until)
                {
                    editor.reveal = None;
                }
                if self.discard_reveal.is_some_and(|until| now >= until) {
                    self.discard_reveal = None;
                }
                if self.clipboard_clear_at.is_some_and(|at| now >= at) {
                    self.clipboard_clear_at = None;
                    self.clipboard_out.push(clipboard::clear_sequence());
                    if self
                        .status
                        .as_ref()
                        .is_some_and(|(_, s)| s.starts_with("copied"))
                    {
                        self.status = Some((Level::Info, "clipboard cleared".into()));
                    }
                }
            }
            Message::Terminate => self.quit(),
            Message::Worker(event) => self.on_worker(*event, now),
            Message::CurrentRead {
                selection,
                label,
                result,
            } => self.on_current_read(selection, label, result),
            Message::Journals(readings) => self.on_journals(readings),
            Message::Settled { profile, result } => self.on_settled(profile, result),
            Message::Disk(done) => self.on_disk(done),
        }
    }

    /// `q`: quits, asking first while a change is in flight or its outcome is unknown.
    fn request_quit(&mut self) {
        if self.job.is_some() || self.unknown.is_some() {
            self.discard_reveal = None;
            self.overlay = Some(Overlay::ConfirmQuit);
        } else {
            self.quit();
        }
    }

    fn quit(&mut self) {
        // Quitting with a change in flight leaves its outcome unknown: say so in the state and
        // the audit trail, so the next start shows it.
        if let Some(flight) = self.job.take()
            && !flight.check
            && let Some(profile) = self.profiles.get(flight.profile).cloned()
        {
            let report = Report::new(
                Outcome::Unknown,
                "rekey quit while the change was in flight: it may have been applied",
            );
            // The last thing the console does, so it is done here, at once; what fails is
            // printed once the terminal is restored (`take_quit_problems`).
            if let Err(e) = self.state.record(&profile.name, &report, self.wall) {
                self.quit_problems.push(format!(
                    "{}: the unknown outcome was not saved to state.json: {e}",
                    profile.name
                ));
            }
            if let Err(e) = self.audit.append(&profile, &report, self.wall) {
                self.quit_problems.push(format!(
                    "{}: the unknown outcome was not written to audit.jsonl: {e}",
                    profile.name
                ));
            }
        }
        self.sent_new = None;
        self.store_unlock = None;
        self.unlock_input.clear();
        self.wipe_secrets();
        self.should_quit = true;
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        // Below the minimum size nothing but the "too small" screen shows: only a resize, `q`
        // and Ctrl-C act, so no key answers a hidden question or edits a hidden field.
        if self.too_small() {
            match event {
                Event::Resize(w, h) => self.size = (w, h),
                Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key_too_small(key),
                _ => {}
            }
            return;
        }
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key, now),
            Event::Paste(mut text) => {
                self.on_paste(&text);
                text.zeroize();
            }
            Event::Mouse(mouse) => self.on_mouse(mouse),
            Event::Resize(w, h) => self.size = (w, h),
            _ => {}
        }
    }

    fn on_paste(&mut self, text: &str) {
        if self.overlay == Some(Overlay::Unlock) {
            if let Err(full) = self.unlock_input.insert_str(text) {
                self.status = Some((Level::Error, format!("Paste refused: {full}")));
            }
            return;
        }
        if self.overlay.is_some() {
            return;
        }
        if self.filter_editing {
            self.filter.extend(text.chars().filter(|c| !c.is_control()));
            self.clamp_selection_to_filter();
            return;
        }
        let Focus::Field(i) = self.focus else {
            self.status = Some((
                Level::Info,
                "Paste ignored: select a password field first (Tab)".into(),
            ));
            return;
        };
        if self.job.is_some() {
            self.status = Some((
                Level::Info,
                "Paste refused: the fields are locked while a request is in flight (Esc cancels)"
                    .into(),
            ));
            return;
        }
        let Some(editor) = &mut self.editor else {
            return;
        };
        match editor.fields[i].buf.insert_str(text) {
            Ok(_) => {
                if editor.fields[i].role == FieldRole::New {
                    editor.generated_unseen = false;
                }
                editor.field_changed(i);
                self.status = None;
            }
            Err(full) => self.status = Some((Level::Error, format!("Paste refused: {full}"))),
        }
    }

    /// Keys on the "too small" screen: Ctrl-C as everywhere; `q` quits, asking first (the
    /// screen shows the question) while a change is in flight or unknown; a second `q` quits.
    fn on_key_too_small(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let quit_key = matches!(key.code, KeyCode::Char('c')) && ctrl
            || matches!(key.code, KeyCode::Char('q')) && !ctrl;
        if !quit_key {
            return;
        }
        if self.overlay == Some(Overlay::ConfirmQuit) {
            self.quit();
        } else {
            self.request_quit();
        }
    }

    fn on_key(&mut self, key: KeyEvent, now: Instant) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let keys = &self.keymap;
        // Ctrl-C bypasses everything: it quits, asking once only while a change is in flight
        // or its outcome is unknown (a second Ctrl-C quits).
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            if self.overlay == Some(Overlay::ConfirmQuit) {
                self.quit();
            } else {
                self.request_quit();
            }
            return;
        }
        if let Some(overlay) = self.overlay.clone() {
            self.on_overlay_key(overlay, key, now);
            return;
        }
        // Esc cancels a change that has not been answered yet, from anywhere.
        if keys.action_for(&key, Context::InFlight) == Some(Action::Cancel)
            && let (Some(job), Some(worker)) = (self.job, &self.worker)
        {
            worker.cancel(job.id);
            self.status = Some((Level::Info, "Cancelling…".into()));
            return;
        }
        if self.filter_editing {
            self.on_filter_key(key);
            return;
        }
        if let Focus::Field(i) = self.focus
            && self.on_field_key(i, key, now)
        {
            return;
        }
        match self.keymap.action_for(&key, Context::Global) {
            Some(Action::FocusNext) => self.cycle_focus(true),
            Some(Action::FocusPrev) => self.cycle_focus(false),
            Some(Action::Help) => self.overlay = Some(Overlay::Help),
            Some(Action::Quit) => self.request_quit(),
            Some(Action::SendAnyway) => self.offer_lock_override(),
            Some(Action::Check) => self.check_unknown(now),
            Some(Action::Messages) => self.overlay = Some(Overlay::Messages(0)),
            _ => match self.focus {
                Focus::Profiles => self.on_profiles_key(key),
                Focus::Log => self.on_log_key(key),
                Focus::Field(_) => {}
            },
        }
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent, now: Instant) {
        // Enter and Space answer a question with its default, the safe answer: do not send,
        // stay, keep, not now (Esc's answer). The production question takes a typed name.
        let safe_default = match &overlay {
            Overlay::Confirm { ask, .. } => *ask != Ask::Production,
            Overlay::ConfirmQuit
            | Overlay::ConfirmDiscard(_)
            | Overlay::ConfirmResend
            | Overlay::AskApplied
            | Overlay::OfferCreate => true,
            // Help, unlock (Enter unlocks), log detail, messages: no question to answer.
            _ => false,
        };
        let key = if safe_default && matches!(key.code, KeyCode::Enter | KeyCode::Char(' ')) {
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)
        } else {
            key
        };
        match overlay {
            Overlay::Help => self.overlay = None,
            Overlay::Messages(scroll) => {
                self.overlay = match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        Some(Overlay::Messages(scroll.saturating_add(1)))
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        Some(Overlay::Messages(scroll.saturating_sub(1)))
                    }
                    KeyCode::PageUp => Some(Overlay::Messages(scroll.saturating_add(10))),
                    KeyCode::PageDown => Some(Overlay::Messages(scroll.saturating_sub(10))),
                    KeyCode::Home | KeyCode::Char('g') => Some(Overlay::Messages(u16::MAX)),
                    KeyCode::End | KeyCode::Char('G') => Some(Overlay::Messages(0)),
                    _ => None,
                }
            }
            Overlay::LogDetail(i, scroll) => match key.code {
                KeyCode::Down | KeyCode::Char('j') => {
                    self.overlay = Some(Overlay::LogDetail(i, scroll.saturating_add(1)))
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.overlay = Some(Overlay::LogDetail(i, scroll.saturating_sub(1)))
                }
                KeyCode::PageDown => {
                    self.overlay = Some(Overlay::LogDetail(i, scroll.saturating_add(10)))
                }
                KeyCode::PageUp => {
                    self.overlay = Some(Overlay::LogDetail(i, scroll.saturating_sub(10)))
                }
                _ => self.overlay = None,
            },
            Overlay::OfferCreate => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    let gate = Gate {
                        weak: true,
                        last_attempt: true,
                        ..Gate::default()
                    };
                    let options = Options {
                        operate: Some(Operate::Create),
                        ..Options::default()
                    };
                    self.proceed(gate, options, now);
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.status = Some((Level::Info, "Not sent".into()));
                }
                _ => {}
            },
            Overlay::Confirm {
                ask: Ask::Production,
                gate,
                options,
            } => self.on_production_key(gate, options, key, now),
            Overlay::Confirm { ask, gate, options } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    let mut gate = gate;
                    match ask {
                        // Overriding a lock already accepts that this may be the last try.
                        Ask::Locked => {
                            gate.lock_override = true;
                            gate.last_attempt = true;
                        }
                        Ask::Production => gate.production = true,
                        Ask::LastAttempt => gate.last_attempt = true,
                        Ask::Weak { .. } => gate.weak = true,
                    }
                    self.proceed(gate, options, now);
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    let hint = match ask {
                        Ask::Weak { .. } => ". Try a stronger password (Ctrl-G generates one)",
                        _ => "",
                    };
                    self.status = Some((Level::Info, format!("Not sent{hint}")));
                }
                _ => {}
            },
            Overlay::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Char('d') => self.quit(),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.discard_reveal = None;
                }
                _ => self.on_kept_key(key, now),
            },
            Overlay::ConfirmDiscard(then) => match key.code {
                KeyCode::Char('d') | KeyCode::Char('D') => {
                    self.overlay = None;
                    self.discard_then(then);
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.discard_reveal = None;
                    self.status = Some((Level::Info, "Kept: nothing was discarded".into()));
                }
                _ => self.on_kept_key(key, now),
            },
            Overlay::Unlock => match key.code {
                KeyCode::Enter if !self.unlock_input.is_empty() => {
                    self.overlay = None;
                    if let Some(index) = self.selected {
                        let mut secret = SecretBuf::new(TOKEN_CAPACITY);
                        if secret.copy_from(&self.unlock_input).is_ok() {
                            self.store_unlock = Some((index, secret));
                        }
                    }
                    self.unlock_input.clear();
                    self.fill_current();
                }
                KeyCode::Esc => {
                    self.overlay = None;
                    self.unlock_input.clear();
                    self.status = Some((
                        Level::Info,
                        "Store not unlocked: type the current password instead".into(),
                    ));
                }
                KeyCode::Backspace => self.unlock_input.backspace(),
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    if let Err(full) = self.unlock_input.insert_char(c) {
                        self.status = Some((Level::Error, format!("Key refused: {full}")));
                    }
                }
                _ => {}
            },
            Overlay::ConfirmResend => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    self.start_settle(Answers {
                        applied: None,
                        resend: true,
                    });
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.status = Some((Level::Info, "Not settled: R asks again".into()));
                }
                _ => {}
            },
            Overlay::AskApplied => match key.code {
                KeyCode::Char('a')
                | KeyCode::Char('A')
                | KeyCode::Char('n')
                | KeyCode::Char('N') => {
                    self.overlay = None;
                    let applied = matches!(key.code, KeyCode::Char('a') | KeyCode::Char('A'));
                    self.start_settle(Answers {
                        applied: Some(applied),
                        resend: false,
                    });
                }
                KeyCode::Esc => {
                    self.overlay = None;
                    self.status = Some((Level::Info, "Not settled: R asks again".into()));
                }
                _ => {}
            },
        }
    }

    /// The production question (k9s-style): the profile's name typed in full sends; Enter
    /// with nothing typed, or Esc, does not.
    fn on_production_key(&mut self, gate: Gate, options: Options, key: KeyEvent, now: Instant) {
        let name = self.profile().map_or(String::new(), |p| p.name.clone());
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.overlay = None;
                self.confirm_input.clear();
                self.status = Some((Level::Info, "Not sent".into()));
            }
            KeyCode::Enter if self.confirm_input.is_empty() => {
                self.overlay = None;
                self.status = Some((Level::Info, "Not sent".into()));
            }
            KeyCode::Enter if self.confirm_input == name => {
                self.overlay = None;
                self.confirm_input.clear();
                let gate = Gate {
                    production: true,
                    ..gate
                };
                self.proceed(gate, options, now);
            }
            KeyCode::Enter => {
                self.status = Some((
                    Level::Error,
                    format!("Not sent: type {name} exactly to send, or Esc"),
                ));
            }
            KeyCode::Backspace => {
                self.confirm_input.pop();
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() && self.confirm_input.len() < 256 => {
                self.confirm_input.push(c);
            }
            _ => {}
        }
    }

    /// Ctrl-R / Ctrl-Y in the discard question: reveal or copy the kept password.
    fn on_kept_key(&mut self, key: KeyEvent, now: Instant) {
        if !key.modifiers.contains(KeyModifiers::CONTROL) || !self.holds_only_copy() {
            return;
        }
        match key.code {
            KeyCode::Char('r') => {
                self.discard_reveal = match self.discard_reveal {
                    Some(_) => None,
                    None => Some(now + REVEAL_FOR),
                };
            }
            KeyCode::Char('y') => {
                let mut copy = SecretBuf::password();
                if let Some(kept) = &self.sent_new
                    && copy.copy_from(kept).is_ok()
                {
                    self.copy_to_clipboard(copy.expose(), now);
                }
            }
            _ => {}
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                self.filter_editing = false;
            }
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Up => self.move_selection(-1),
            KeyCode::Down => self.move_selection(1),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c)
            }
            _ => {}
        }
        self.clamp_selection_to_filter();
    }

    /// Keeps the selection on a visible profile while the filter narrows the list.
    fn clamp_selection_to_filter(&mut self) {
        let visible = self.visible();
        if self.selected.is_some_and(|s| visible.contains(&s)) {
            return;
        }
        self.select(visible.first().copied());
    }

    fn on_profiles_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Esc && !self.filter.is_empty() {
            self.filter.clear();
            self.clamp_selection_to_filter();
            return;
        }
        match self.keymap.action_for(&key, Context::Profiles) {
            Some(Action::Up) => self.move_selection(-1),
            Some(Action::Down) => self.move_selection(1),
            Some(Action::First) => self.move_selection(isize::MIN),
            Some(Action::Last) => self.move_selection(isize::MAX),
            Some(Action::PageUp) => self.move_selection(-10),
            Some(Action::PageDown) => self.move_selection(10),
            Some(Action::Filter) => {
                self.filter_editing = true;
            }
            Some(Action::Edit) if self.editor.is_some() => {
                if self.store_locked() {
                    self.overlay = Some(Overlay::Unlock);
                } else {
                    // The first field still to fill (New, when the store gave the current one).
                    let first = self.editor.as_ref().and_then(Editor::first_empty);
                    self.focus = Focus::Field(first.unwrap_or(0));
                }
            }
            Some(Action::Reload) => {
                if self.holds_only_copy() {
                    self.overlay = Some(Overlay::ConfirmDiscard(Then::Reload));
                } else {
                    self.reload();
                }
            }
            Some(Action::Settle) => self.settle_selected(),
            _ => {}
        }
    }

    fn on_log_key(&mut self, key: KeyEvent) {
        let last = self.log.len().saturating_sub(1);
        match self.keymap.action_for(&key, Context::Log) {
            Some(Action::Up) => self.log_selected = self.log_selected.saturating_sub(1),
            Some(Action::Down) => self.log_selected = (self.log_selected + 1).min(last),
            Some(Action::First) => self.log_selected = 0,
            Some(Action::Last) => self.log_selected = last,
            Some(Action::Show) if !self.log.is_empty() => {
                self.overlay = Some(Overlay::LogDetail(self.log_selected.min(last), 0));
            }
            _ => {}
        }
    }

    /// Re-reads the config file (after the user fixed it). Wipes typed secrets.
    fn reload(&mut self) {
        if self.job.is_some() {
            self.status = Some((Level::Info, "Reload after the change in flight ends".into()));
            return;
        }
        let Some(path) = self.config_path.clone() else {
            self.status = Some((Level::Info, "The demo's profiles are built in".into()));
            return;
        };
        // The file is read off the loop; `on_reloaded` takes what it gave.
        self.off_loop(move || {
            let loaded = match crate::config::load_each(&path) {
                Ok(crate::config::LoadOutcome::Loaded(config)) => Loaded::Config(config),
                Ok(crate::config::LoadOutcome::Missing(_)) => Loaded::Missing,
                Err(e) => Loaded::Broken(e),
            };
            Disk::Reload { path, loaded }
        });
    }

    /// The config file read again (`r`): installs it, or keeps what was loaded when it cannot
    /// be used.
    fn on_reloaded(&mut self, path: PathBuf, loaded: Loaded) {
        if self.job.is_some() {
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

    fn move_selection(&mut self, delta: isize) {
        let visible = self.visible();
        if visible.is_empty() {
            return;
        }
        let current = self
            .selected
            .and_then(|s| visible.iter().position(|&v| v == s))
            .unwrap_or(0);
        let last = visible.len() - 1;
        let next = if delta == isize::MIN {
            0
        } else if delta == isize::MAX {
            last
        } else {
            current.saturating_add_signed(delta).min(last)
        };
        self.select(Some(visible[next]));
    }

    /// Tab order: profiles, each editor field, the log, and round again.
    fn cycle_focus(&mut self, forward: bool) {
        let fields = self.editor.as_ref().map_or(0, |e| e.fields.len());
        let mut stops = vec![Focus::Profiles];
        stops.extend((0..fields).map(Focus::Field));
        stops.push(Focus::Log);
        let at = stops.iter().position(|&f| f == self.focus).unwrap_or(0);
        let n = stops.len();
        self.focus = stops[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }];
    }

    /// Keys for a focused field. Returns false when the key is not the field's (global keys).
    fn on_field_key(&mut self, i: usize, key: KeyEvent, now: Instant) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        // While a change is in flight the fields hold what was sent (after `unknown` that is
        // what may now be live): every key that would edit them is refused until the answer.
        let action = self.keymap.action_for(&key, Context::Field);
        let edits = match action {
            Some(
                Action::Generate
                | Action::ClearAll
                | Action::DeleteWordBack
                | Action::DeleteToStart
                | Action::DeleteToEnd
                | Action::DeleteWordForward,
            ) => true,
            Some(_) => false,
            None => match key.code {
                KeyCode::Char(_) => !ctrl && !alt,
                KeyCode::Backspace | KeyCode::Delete => true,
                _ => false,
            },
        };
        if edits && let Some(job) = self.job {
            let name = self
                .profiles
                .get(job.profile)
                .map_or("?", |p| p.name.as_str());
            self.status = Some((
                Level::Info,
                format!(
                    "The fields are locked while the request to {name} is in flight (Esc cancels)"
                ),
            ));
            return true;
        }
        let Some(editor) = &mut self.editor else {
            return false;
        };
        let last = editor.fields.len() - 1;
        // A masked field moves by character: jumping by word would show where the spaces and
        // symbols are.
        let by_word = (ctrl || alt) && editor.is_revealed(i, now);
        let buf = &mut editor.fields[i].buf;
        let mut changed = true;
        match action {
            Some(Action::Generate) => {
                self.generate();
                return true;
            }
            Some(Action::Copy) => {
                self.copy_new(now);
                return true;
            }
            Some(Action::Reveal) => {
                if matches!(editor.fields[i].role, FieldRole::New | FieldRole::Confirm) {
                    editor.generated_unseen = false;
                }
                editor.reveal = match editor.reveal {
                    Some((j, _)) if j == i => None,
                    _ => Some((i, now + REVEAL_FOR)),
                };
                return true;
            }
            Some(Action::ClearAll) => {
                editor.wipe();
                self.status = Some((Level::Info, "All fields cleared".into()));
                return true;
            }
            Some(Action::DeleteWordBack) => buf.delete_word_back(),
            Some(Action::DeleteToStart) => buf.delete_to_start(),
            Some(Action::DeleteToEnd) => buf.delete_to_end(),
            Some(Action::LineStart) => {
                buf.home();
                changed = false;
            }
            Some(Action::LineEnd) => {
                buf.end();
                changed = false;
            }
            Some(Action::DeleteWordForward) => buf.delete_word_forward(),
            Some(Action::PrevField) => {
                self.focus = Focus::Field(i.saturating_sub(1));
                return true;
            }
            Some(Action::NextField) => {
                self.focus = Focus::Field((i + 1).min(last));
                return true;
            }
            Some(Action::NextOrSend) => {
                if i < last {
                    self.focus = Focus::Field(i + 1);
                } else {
                    self.submit(now);
                }
                return true;
            }
            Some(Action::Back) => {
                self.focus = Focus::Profiles;
                return true;
            }
            Some(_) => return false,
            None => {}
        }
        match key.code {
            KeyCode::Char(c) if !ctrl && !alt => {
                if let Err(full) = buf.insert_char(c) {
                    self.status = Some((Level::Error, format!("Key refused: {full}")));
                    return true;
                }
                // Typed into New: the user's own password now, not an unseen generated one.
                if editor.fields[i].role == FieldRole::New {
                    editor.generated_unseen = false;
                }
            }
            KeyCode::Backspace => buf.backspace(),
            KeyCode::Delete => buf.delete(),
            KeyCode::Left | KeyCode::Right => {
                changed = false;
                match (key.code, by_word) {
                    (KeyCode::Left, true) => buf.move_word_left(),
                    (KeyCode::Left, false) => buf.move_left(),
                    (KeyCode::Right, true) => buf.move_word_right(),
                    _ => buf.move_right(),
                }
            }
            _ => return false,
        }
        if changed {
            editor.field_changed(i);
            self.status = None;
        }
        true
    }

    /// Ctrl-G: fills new and confirm with a generated password that meets the policy.
    fn generate(&mut self) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        let (Some(new), Some(confirm)) = (
            editor.index_of(super::editor::FieldRole::New),
            editor.index_of(super::editor::FieldRole::Confirm),
        ) else {
            return;
        };
        let result = policy::generate(
            &editor.policy,
            policy::DEFAULT_GENERATED_LENGTH,
            &mut editor.fields[new].buf,
        );
        match result {
            Ok(()) => {
                let (head, tail) = editor.fields.split_at_mut(confirm);
                let copied = tail[0].buf.copy_from(&head[new].buf);
                editor.field_changed(new);
                editor.generated_unseen = true;
                let n = editor.fields[new].buf.char_count();
                self.status = Some(match copied {
                    Ok(()) => (
                        Level::Info,
                        format!(
                            "Generated a {n}-character password into new and confirm (Ctrl-R reveals)"
                        ),
                    ),
                    Err(full) => (Level::Error, format!("Could not fill confirm: {full}")),
                });
            }
            Err(e) => self.status = Some((Level::Error, format!("Cannot generate: {e}"))),
        }
    }

    /// Ctrl-Y: copies the new password to the terminal's clipboard (OSC 52) for 45 s.
    fn copy_new(&mut self, now: Instant) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        let Some(i) = editor.index_of(FieldRole::New) else {
            return;
        };
        if editor.fields[i].buf.is_empty() {
            self.status = Some((
                Level::Info,
                "New password is empty: nothing to copy (Ctrl-G generates one)".into(),
            ));
            return;
        }
        editor.generated_unseen = false;
        let mut copy = SecretBuf::password();
        if copy.copy_from(&editor.fields[i].buf).is_ok() {
            self.copy_to_clipboard(copy.expose(), now);
        }
    }

    /// Whether the selected profile's store waits for its own password.
    fn store_locked(&self) -> bool {
        self.selected
            .and_then(|i| self.store_for(i))
            .is_some_and(|s| s.needs_unlock())
    }

    /// `R` on the profile list: settles the selected profile's open change, asking first where
    /// rekey cannot decide alone (Tencent BM: resend? DCS and store-less: does it work?).
    fn settle_selected(&mut self) {
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
    fn start_settle(&mut self, answers: Answers) {
        let Some(index) = self.selected else {
            return;
        };
        let (Some(dir), Some(tx), Ok(handle)) = (
            self.data_dir.clone(),
            self.tx.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
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

    fn on_settled(&mut self, index: usize, result: Result<Settled, String>) {
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
        self.status = Some((level, line));
        self.load_journals();
    }

    /// Enter on the last field: the policy gate, then the safety rails, then send.
    fn submit(&mut self, now: Instant) {
        self.proceed(Gate::default(), Options::default(), now);
    }

    /// Checks every rail not yet confirmed in `gate`; asks the first open one, or sends.
    fn proceed(&mut self, gate: Gate, options: Options, now: Instant) {
        if self.job.is_some() {
            self.status = Some((
                Level::Info,
                "A change is already in flight (Esc cancels it)".into(),
            ));
            return;
        }
        let (Some(_), Some(index)) = (&self.editor, self.selected) else {
            return;
        };
        let name = &self.profiles[index].name;
        if self.settling.is_some() {
            self.status = Some((Level::Info, "A settle is running: wait for it".into()));
            return;
        }
        if let Some(open) = self.unsettled.get(name) {
            self.status = Some((
                Level::Error,
                format!(
                    "Not sent: {name} is unsettled — {}. Settle it first: R in the profile list",
                    open.describe()
                ),
            ));
            return;
        }
        if self.store_locked() {
            self.overlay = Some(Overlay::Unlock);
            return;
        }
        let Some(editor) = &self.editor else {
            return;
        };
        if let Some(empty) = editor.first_empty() {
            let label = editor.fields[empty].role.label();
            self.status = Some((Level::Error, format!("{label} is empty")));
            self.focus = Focus::Field(empty);
            return;
        }
        if let Some(i) = editor.index_of(FieldRole::Current)
            && self
                .refused_current
                .is_refused(name, editor.fields[i].buf.expose())
        {
            let from_store = match &editor.current_from {
                Some(CurrentSource::Store(label)) => Some(label.clone()),
                _ => None,
            };
            let line = match from_store {
                Some(label) => format!(
                    "Not sent: {name}'s provider refused the current password from {label}; it is not resent. Type the right one, or fix it in {label}"
                ),
                None => format!(
                    "Not sent: {name}'s provider just refused this current password; sending it again would spend another attempt. Type the right one"
                ),
            };
            self.status = Some((Level::Error, line));
            if let Some(editor) = &mut self.editor {
                editor.fields[i].buf.clear();
                editor.field_changed(i);
            }
            self.focus = Focus::Field(i);
            return;
        }
        let failures: Vec<String> = editor
            .checklist
            .failures()
            .map(|item| item.label.clone())
            .collect();
        if let Some(first) = failures.first() {
            let more = match failures.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            self.status = Some((Level::Error, format!("Not sent: {first}{more}")));
            return;
        }
        if editor.generated_unseen && self.profiles[index].store.is_none() {
            self.status = Some((
                Level::Error,
                "Not sent: you have not seen the generated password, and without a store rekey would hold its only copy. Reveal it (Ctrl-R) or copy it (Ctrl-Y) first".into(),
            ));
            return;
        }
        let weak = editor
            .strength
            .as_ref()
            .filter(|s| s.score < 3)
            .map(|s| (s.score, s.label));
        let profile = &self.profiles[index];
        let known = self.state.get(&profile.name);
        if let Some(left) = self.lock_left(index, self.wall)
            && !gate.lock_override
        {
            let until = known
                .and_then(|s| s.locked_until)
                .map(crate::timefmt::local_minute)
                .unwrap_or_default();
            self.status = Some((
                Level::Error,
                format!(
                    "Not sent: {} is locked for another {} (until {until}). Ctrl-O sends anyway",
                    profile.name,
                    countdown(left)
                ),
            ));
            self.lock_refused = Some(options);
            return;
        }
        let ask = if profile.production && !gate.production {
            Some(Ask::Production)
        } else if known
            .and_then(|s| s.retries_known(self.wall))
            .is_some_and(|r| r <= 2)
            && !gate.last_attempt
        {
            Some(Ask::LastAttempt)
        } else if let (Some((score, label)), false) = (weak, gate.weak) {
            Some(Ask::Weak { score, label })
        } else {
            None
        };
        match ask {
            Some(ask) => {
                self.confirm_input.clear();
                self.overlay = Some(Overlay::Confirm { ask, gate, options });
            }
            None => self.send(options, now),
        }
    }

    /// Ctrl-O after a refusal because of a known lock: ask, then send anyway.
    fn offer_lock_override(&mut self) {
        if let Some(options) = self.lock_refused.take() {
            self.confirm_input.clear();
            self.overlay = Some(Overlay::Confirm {
                ask: Ask::Locked,
                gate: Gate::default(),
                options,
            });
        } else {
            self.status = Some((
                Level::Info,
                "Ctrl-O has nothing to override: it sends anyway only right after a send was refused because the profile is locked".into(),
            ));
        }
    }

    /// F5 after `unknown`: checks whether the new password now works, where the provider
    /// allows it without spending a retry (IAM: a token; CIAM: the password grant).
    fn check_unknown(&mut self, now: Instant) {
        if self.job.is_some() {
            self.status = Some((
                Level::Info,
                "A request is in flight (Esc cancels it)".into(),
            ));
            return;
        }
        let Some(index) = self.unknown else {
            self.status = Some((
                Level::Info,
                "F5 has nothing to check: it checks a change whose outcome is unknown, and there is none".into(),
            ));
            return;
        };
        if self.selected != Some(index) {
            self.status = Some((
                Level::Info,
                format!("Select {} to check it", self.profiles[index].name),
            ));
            return;
        }
        match self.profiles[index].kind {
            Kind::HuaweiIam | Kind::TencentCiam => {
                let options = Options {
                    check: true,
                    ..Options::default()
                };
                self.send(options, now);
            }
            kind => self.status = Some((Level::Info, manual_check(kind).into())),
        }
    }

    /// Hands the change to the worker, with copies of the typed secrets (the editor keeps its
    /// own until the outcome says they can go).
    fn send(&mut self, options: Options, now: Instant) {
        let Some(worker) = &self.worker else {
            self.status = Some((
                Level::Warn,
                "This console has no connection to send with; nothing was sent".into(),
            ));
            return;
        };
        let (Some(index), Some(editor)) = (self.selected, &self.editor) else {
            return;
        };
        let copy = |role: FieldRole, capacity: usize| -> Option<SecretBuf> {
            let i = editor.index_of(role)?;
            let mut buf = SecretBuf::new(capacity);
            buf.copy_from(&editor.fields[i].buf).ok()?;
            Some(buf)
        };
        // A check tests the password that was sent, not whatever the editor holds now.
        let from_sent = |sent: &Option<SecretBuf>| -> Option<SecretBuf> {
            let mut buf = SecretBuf::password();
            buf.copy_from(sent.as_ref()?).ok()?;
            Some(buf)
        };
        let new = if options.check {
            from_sent(&self.sent_new)
        } else {
            copy(FieldRole::New, PASSWORD_CAPACITY)
        };
        let Some(new) = new else {
            return;
        };
        let keep = if options.check {
            None
        } else {
            let mut buf = SecretBuf::password();
            buf.copy_from(&new).ok().map(|()| buf)
        };
        let prompted = editor
            .fields
            .iter()
            .filter_map(|f| match f.role {
                FieldRole::Prompt(key) => copy(f.role, TOKEN_CAPACITY).map(|b| (key, b)),
                _ => None,
            })
            .collect();
        let secrets = TypedSecrets {
            current: copy(FieldRole::Current, PASSWORD_CAPACITY),
            new,
            prompted,
        };
        // Which current password this change carries, as a keyed hash: a refusal of it is
        // remembered without keeping a copy (trap 1).
        self.sent_current_mac = match (&secrets.current, options.check) {
            (Some(current), false) => Some(super::refused::mac(current.expose())),
            _ => None,
        };
        let id = self.next_job;
        self.next_job += 1;
        let profile = self.profiles[index].clone();
        let place = crate::change::Place {
            data_dir: self.data_dir.clone(),
            store: self.store_for(index),
        };
        worker.submit(Job {
            id,
            profile,
            secrets,
            options,
            place,
        });
        self.job = Some(InFlight {
            id,
            profile: index,
            started: now,
            check: options.check,
        });
        self.outcome = None;
        self.lock_refused = None;
        if !options.check {
            self.sent_new = keep;
        }
        let what = if options.check {
            "Checking"
        } else {
            "Sending to"
        };
        self.status = Some((
            Level::Info,
            format!("{what} {}… (Esc cancels)", self.profiles[index].name),
        ));
    }

    fn on_worker(&mut self, event: WorkerEvent, now: Instant) {
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
                            self.status = Some((Level::Info, line));
                        }
                    }
                }
            }
        }
    }

    /// Applies an outcome: secrets are wiped after `changed`/`created`, kept otherwise (after
    /// `unknown` the new password may now be the real one).
    fn finish(
        &mut self,
        flight: InFlight,
        report: Report,
        store_words: Option<String>,
        warning: Option<String>,
    ) {
        let Some(profile) = self.profiles.get(flight.profile).cloned() else {
            return;
        };
        // A definite check (F5) answers the open change's question: applied or not.
        let verdict = match report.outcome {
            _ if !flight.check => None,
            Outcome::Changed => Some(true),
            Outcome::WrongOldPassword => Some(false),
            _ => None,
        };
        let report = if flight.check {
            check_result(report)
        } else {
            report
        };
        // State and audit, written off the loop: a failure is shown, never fatal, and names
        // no secret. A check (F5) is recorded too, marked `"check": true` (README, audit).
        self.save_state(
            &profile.name,
            StateChange::Record(Box::new(report.clone()), self.wall),
        );
        self.append_audit(&profile, &report, flight.check);
        let same = self.selected == Some(flight.profile);
        let refused_from_store = self.refuse_current(&flight, &report, same);
        if let (true, Some(editor)) = (same, &mut self.editor) {
            if let Some(policy) = &report.account_policy {
                editor.policy.apply_account_policy(policy);
                editor.refresh_checklist();
            }
            if report.outcome.is_success() {
                editor.wipe();
            }
            if report.follow_up == Some(FollowUp::OfferCreate) {
                self.overlay = Some(Overlay::OfferCreate);
            }
        }
        let level = match report.outcome {
            o if o.is_success() && warning.is_none() => Level::Info,
            o if o.is_success() => Level::Warn,
            Outcome::Unknown => Level::Warn,
            _ => Level::Error,
        };
        let mut line = if flight.check {
            format!("{}: checked — {}", profile.name, report.message)
        } else {
            format!("{}: {}", profile.name, report.summary())
        };
        if let Some(code) = &report.provider_code
            && !report.outcome.is_success()
            && !flight.check
        {
            line.push_str(&format!(" [{code}]"));
        }
        if let Some(words) = &store_words {
            line.push_str(&format!(" · {words}"));
        }
        if report.outcome == Outcome::Unknown && flight.check {
            // An inconclusive check leaves the change unknown and the copy in place.
        } else if report.outcome == Outcome::Unknown && store_words.is_some() {
            // The store holds it as pending: settling decides.
            self.unknown = Some(flight.profile);
            line.push_str(" — R (in the profile list) settles it");
        } else if report.outcome == Outcome::Unknown {
            self.unknown = Some(flight.profile);
            line.push_str(if same {
                " — the new password is kept in the editor. "
            } else {
                " — rekey kept a copy of the new password. "
            });
            line.push_str(match profile.kind {
                Kind::HuaweiIam | Kind::TencentCiam => {
                    "Press F5 to check whether it works (spends no attempt)"
                }
                kind => manual_check(kind),
            });
        } else if self.unknown == Some(flight.profile) || !flight.check {
            if self.unknown == Some(flight.profile) {
                self.unknown = None;
            }
            self.sent_new = None;
        }
        if report.outcome == Outcome::WrongOldPassword && !flight.check {
            line.push_str(&match refused_from_store {
                Some(label) => format!(
                    " — the current password from {label} was refused: it will not be resent. Type the right one, or fix it in {label}"
                ),
                None => " — type the current password again: the refused one will not be resent"
                    .to_string(),
            });
        }
        if let Some(w) = &warning {
            line.push_str(&format!(" (warning: {w})"));
        }
        // The store now holds the new password as current: show where it comes from.
        if same && report.outcome.is_success() && store_words.is_some() {
            self.selection += 1;
            self.fill_current();
        }
        self.outcome = Some((level, line.clone()));
        self.status = Some((level, line));
        // The check settles the journaled change too (the badge goes), as `R` would.
        if let Some(applied) = verdict
            && same
            && self.unsettled.contains_key(&profile.name)
        {
            self.start_settle(Answers {
                applied: Some(applied),
                resend: false,
            });
        }
    }

    /// After a wrong-current-password answer to a change: remembers the refused current
    /// password by keyed hash, and (profile still selected) clears that field and focuses it,
    /// so Enter cannot spend another attempt on it. Returns the store's label when the store
    /// had filled it. A success forgets the refusal.
    fn refuse_current(&mut self, flight: &InFlight, report: &Report, same: bool) -> Option<String> {
        let mac = self.sent_current_mac.take();
        let name = self.profiles.get(flight.profile)?.name.clone();
        if flight.check {
            return None;
        }
        if report.outcome.is_success() {
            self.refused_current.forget(&name);
            return None;
        }
        if report.outcome != Outcome::WrongOldPassword {
            return None;
        }
        if let Some(mac) = mac {
            self.refused_current.remember(&name, mac);
        }
        let editor = self.editor.as_mut().filter(|_| same)?;
        let i = editor.index_of(FieldRole::Current)?;
        let from_store = match &editor.current_from {
            Some(CurrentSource::Store(label)) => Some(label.clone()),
            _ => None,
        };
        editor.fields[i].buf.clear();
        editor.reveal = None;
        editor.field_changed(i);
        self.focus = Focus::Field(i);
        from_store
    }

    /// Whether the terminal is below the minimum size (only the "too small" screen shows).
    fn too_small(&self) -> bool {
        layout::too_small(self.size)
    }

    /// The profile list as laid out: the filtered profiles, the selection, the filter line.
    fn profile_list<'a>(&self, visible: &'a [usize]) -> ProfileList<'a> {
        ProfileList {
            visible,
            selected: self.selected,
            filter_shown: self.filter_editing || !self.filter.is_empty(),
        }
    }

    /// The profiles (indices into `profiles`) whose rows are on screen now: filtered,
    /// scrolled, and none on the "too small" screen.
    pub fn on_screen(&self) -> Vec<usize> {
        let visible = self.visible();
        self.profile_list(&visible).on_screen(self.size)
    }

    fn on_mouse(&mut self, mouse: MouseEvent) {
        if self.overlay.is_some() {
            if let MouseEventKind::Down(_) = mouse.kind
                && self.overlay == Some(Overlay::Help)
            {
                self.overlay = None;
            }
            return;
        }
        let at = Position::new(mouse.column, mouse.row);
        let panes = layout::panes_for(self.size);
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if panes.profiles.contains(at) {
                    self.filter_editing = false;
                    self.focus = Focus::Profiles;
                    let visible = self.visible();
                    if let Some(row) = self.profile_list(&visible).row_at(panes.profiles, at)
                        && let Some(&index) = visible.get(row)
                    {
                        self.select(Some(index));
                    }
                } else if panes.editor.contains(at) {
                    let fields = self.editor.as_ref().map_or(0, |e| e.fields.len());
                    if let Some(i) = layout::field_at(panes.editor, at)
                        && i < fields
                    {
                        self.focus = Focus::Field(i);
                    }
                } else if panes.log.contains(at) {
                    self.focus = Focus::Log;
                    if let Some(row) =
                        layout::log_row_at(panes.log, self.log_selected, self.log.len(), at)
                    {
                        self.log_selected = row;
                    }
                }
            }
            MouseEventKind::ScrollDown if panes.profiles.contains(at) => self.move_selection(1),
            MouseEventKind::ScrollUp if panes.profiles.contains(at) => self.move_selection(-1),
            _ => {}
        }
    }
}

/// Every profile's journal in `dir` (blocking: file reads).
fn read_journals(dir: &std::path::Path, names: &[String]) -> Vec<Unsettled> {
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

/// What a check after `unknown` means: a token for the new password says the change was
/// applied; a refusal of it says it was not.
fn check_result(report: Report) -> Report {
    match report.outcome {
        Outcome::Changed => Report {
            message: "the new password works: the change was applied".into(),
            ..report
        },
        Outcome::WrongOldPassword => Report {
            outcome: Outcome::Failed,
            message: "the new password does not work: the change was NOT applied; the current password is unchanged".into(),
            retries_left: None,
            ..report
        },
        _ => Report {
            message: format!("the check was inconclusive: {}", report.message),
            ..report
        },
    }
}

/// How to verify a change by hand where the provider offers no free check.
fn manual_check(kind: Kind) -> &'static str {
    match kind {
        Kind::HuaweiDcs => {
            "No check is possible without spending an attempt: connect with redis-cli and AUTH with the new password"
        }
        Kind::TencentBmVpn => {
            "No check is possible without spending an attempt: log in to the out-of-band VPN with the new password"
        }
        Kind::HuaweiIam | Kind::TencentCiam => "Press F5 to check (spends no attempt)",
    }
}

/// Time to the next whole second of `left` (when a countdown's shown value changes).
fn sub_second(left: Duration) -> Duration {
    match left.subsec_nanos() {
        0 => Duration::from_secs(1),
        n => Duration::from_nanos(u64::from(n)),
    }
}

/// `mm:ss` (or `h:mm:ss`) of a countdown, rounded up so it never shows 00:00 while locked.
pub fn countdown(left: Duration) -> String {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{:02}:{:02}", secs / 60, secs % 60)
    }
}
