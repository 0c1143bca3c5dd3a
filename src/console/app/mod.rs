//! The console's state and its one `update` function. Nothing else mutates it; rendering reads it.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, KeyEventKind};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::{Zeroize, Zeroizing};

use super::clipboard;
use super::editor::Editor;
use super::history::History;
use super::layout::{self, ProfileList};
use super::message::{Disk, Message};
use crate::change::journal::Open;
use crate::config::{BrokenProfile, Config, ConfigError, Profile};
use crate::provider::{LogEntry, Options, Outcome, Report};
use crate::secret::{SecretBuf, TOKEN_CAPACITY};
use crate::state::{Audit, State};
use crate::worker::Worker;

/// How long Ctrl-R shows a field in clear text.
pub const REVEAL_FOR: Duration = Duration::from_secs(5);

mod events;
mod keys;
mod mouse;
pub mod rotate;
mod send;
mod store;

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
    /// The rotation dialog (its state: [`App::rotation`]).
    Rotate,
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
    pub(crate) config_path: Option<PathBuf>,
    /// What loading it gave, minus the profiles (kept below).
    pub(crate) config_error: Option<ConfigError>,
    /// True when there was no file.
    pub(crate) config_missing: bool,
    /// Non-fatal config findings.
    warnings: Vec<String>,
    /// Profiles of the file that failed validation, each with all its errors (not loaded).
    pub broken: Vec<BrokenProfile>,
    /// Every message shown on the message line, the last 100 (`m` shows them).
    pub history: History,
    /// The profiles, in file order (shared with jobs in flight).
    pub profiles: Vec<Arc<Profile>>,
    /// The highlighted profile (index into `profiles`); its editor is shown.
    pub selected: Option<usize>,
    /// The list filter typed after `/` (not a secret).
    pub(crate) filter: String,
    /// Whether keys currently go to the filter.
    pub(crate) filter_editing: bool,
    /// Keyboard focus.
    pub focus: Focus,
    /// The editor of the selected profile.
    pub editor: Option<Editor>,
    /// How many rows the editor's text below the fields is scrolled (PgUp/PgDn in a field).
    pub editor_scroll: u16,
    /// The most that text can be scrolled, as the last frame drew it.
    pub(crate) editor_scroll_max: u16,
    /// A modal layer, if any.
    pub overlay: Option<Overlay>,
    /// One line of feedback in the status bar.
    pub status: Option<(Level, String)>,
    /// The terminal's size as last reported.
    size: (u16, u16),
    /// Set when the loop should end.
    pub should_quit: bool,
    /// Sends changes; None when the console runs without one (nothing can be sent).
    pub(crate) worker: Option<Worker>,
    /// The change in flight.
    pub job: Option<InFlight>,
    /// The id the next job gets.
    next_job: u64,
    /// The last outcome, shown under the editor.
    pub outcome: Option<(Level, String)>,
    /// Every HTTP exchange, oldest first.
    pub log: Vec<LogEntry>,
    /// The selected log row.
    pub(crate) log_selected: usize,
    /// Last known lock/retry state per profile.
    pub state: State,
    /// The audit trail.
    pub audit: Audit,
    /// The theme the config names (`theme = ...`); a reload that fails keeps it.
    theme: crate::config::ThemeName,
    /// The keys in force: the table's defaults with the config's `[keys]`.
    pub(crate) keymap: super::keymap::Keymap,
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
    pub(crate) unlock_input: SecretBuf,
    /// OSC 52 sequences for the terminal, written by the loop.
    clipboard_out: Vec<Zeroizing<Vec<u8>>>,
    /// When the clipboard is cleared again after a copy.
    clipboard_clear_at: Option<Instant>,
    /// Until when the discard question shows the kept password (Ctrl-R in it).
    pub(crate) discard_reveal: Option<Instant>,
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
    /// Profiles marked for rotation (Space), indices into `profiles`.
    pub marked: BTreeSet<usize>,
    /// The rotation dialog: its plan, then the run's progress and summary.
    pub rotation: Option<rotate::Rotation>,
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
            editor_scroll: 0,
            editor_scroll_max: 0,
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
            marked: BTreeSet::new(),
            rotation: None,
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
        self.marked.clear();
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

    /// What a task of its own that works in the data dir needs: the data dir, the message
    /// queue and the runtime. None in a console without them (driven by hand, or no data dir).
    fn background(&self) -> Option<(PathBuf, UnboundedSender<Message>, tokio::runtime::Handle)> {
        Some((
            self.data_dir.clone()?,
            self.tx.clone()?,
            tokio::runtime::Handle::try_current().ok()?,
        ))
    }

    fn profile_names(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.name.clone()).collect()
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
        self.editor_scroll = 0;
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

    /// How far PgUp/PgDn scroll the editor: its scrolled part's height less one row.
    pub(super) fn editor_page(&self) -> u16 {
        let fields = self.editor.as_ref().map_or(0, |e| e.fields.len() as u16);
        let rest = layout::editor_rest(layout::panes_for(self.size).editor, fields);
        rest.height.saturating_sub(1).max(1)
    }

    /// Whether a send was just refused because of a known lock (Ctrl-O would override it).
    pub fn lock_refusal_pending(&self) -> bool {
        self.lock_refused.is_some()
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
            Message::Rotation(report) => self.on_rotation(report),
        }
    }

    /// `q`: quits, asking first while a change is in flight or its outcome is unknown.
    fn request_quit(&mut self) {
        if self.job.is_some() || self.unknown.is_some() || self.rotating() {
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
        // A password copied less than 45 s ago would outlive the console on the clipboard.
        if self.clipboard_clear_at.take().is_some() {
            self.clipboard_out.push(clipboard::clear_sequence());
        }
        // A rotation starts nothing more; a request on its way is left open in its journal
        // (unsettled: `rekey rotate --resume` or R settles it).
        if let Some(interrupter) = self.rotation.as_mut().and_then(|r| r.take_interrupter()) {
            interrupter.interrupt("quit");
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
