//! The console's state and its one `update` function. Nothing else mutates it; rendering reads it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use zeroize::Zeroize;

use super::editor::{Editor, FieldRole};
use super::message::Message;
use super::ui;
use crate::config::{Config, ConfigError, Operate, Profile};
use crate::policy;
use crate::provider::{FollowUp, LogEntry, Options, Outcome, Report, TypedSecrets};
use crate::secret::{PASSWORD_CAPACITY, SecretBuf, TOKEN_CAPACITY};
use crate::worker::{Job, Worker, WorkerEvent};

/// How long Ctrl-R shows a field in clear text.
pub const REVEAL_FOR: Duration = Duration::from_secs(5);

/// The smallest terminal the console draws into.
pub const MIN_SIZE: (u16, u16) = (80, 24);

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
    /// The new password passes every rule but scores low: send anyway?
    ConfirmWeak {
        /// zxcvbn score 0..=4.
        score: u8,
        /// Its words.
        label: &'static str,
    },
    /// Tencent BM v3: Update said the VPN account does not exist; send with Create?
    OfferCreate,
    /// One log entry in full (index into the log), scrolled by this many lines.
    LogDetail(usize, u16),
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
}

impl App {
    /// A console over what loading the config gave.
    pub fn new(config_path: Option<PathBuf>, loaded: Loaded, size: (u16, u16)) -> App {
        let mut app = App {
            config_path,
            config_error: None,
            config_missing: false,
            warnings: Vec::new(),
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
        };
        app.install(loaded);
        app
    }

    fn install(&mut self, loaded: Loaded) {
        self.wipe_secrets();
        self.editor = None;
        self.selected = None;
        self.profiles.clear();
        self.config_error = None;
        self.config_missing = false;
        self.warnings.clear();
        self.focus = Focus::Profiles;
        match loaded {
            Loaded::Config(config) => {
                self.profiles = config.profiles.into_iter().map(Arc::new).collect();
                self.warnings = config.warnings;
                if let Some(first) = self.warnings.first() {
                    self.status = Some((Level::Warn, first.clone()));
                }
            }
            Loaded::Missing => self.config_missing = true,
            Loaded::Broken(e) => self.config_error = Some(e),
        }
        if !self.profiles.is_empty() {
            self.select(Some(0));
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
    fn select(&mut self, index: Option<usize>) {
        if index == self.selected && self.editor.is_some() {
            return;
        }
        self.wipe_secrets();
        self.selected = index;
        self.editor = self.profile().map(Editor::for_profile);
        self.outcome = None;
        if let Focus::Field(_) = self.focus {
            self.focus = Focus::Profiles;
        }
    }

    fn wipe_secrets(&mut self) {
        if let Some(editor) = &mut self.editor {
            editor.wipe();
        }
    }

    /// The next moment the console must wake up without input (a reveal ending, the spinner's
    /// next step), if any. None when idle: no polling.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let reveal = self.editor.as_ref().and_then(|e| e.reveal.map(|(_, t)| t));
        let spinner = self.job.map(|_| now + SPINNER_STEP);
        match (reveal, spinner) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message, now: Instant) {
        match message {
            Message::Input(event) => self.on_event(event, now),
            Message::Tick => {
                if let Some(editor) = &mut self.editor
                    && matches!(editor.reveal, Some((_, until)) if now >= until)
                {
                    editor.reveal = None;
                }
            }
            Message::Terminate => self.quit(),
            Message::Worker(event) => self.on_worker(*event),
        }
    }

    fn quit(&mut self) {
        self.wipe_secrets();
        self.should_quit = true;
    }

    fn on_event(&mut self, event: Event, now: Instant) {
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
        let Some(editor) = &mut self.editor else {
            return;
        };
        match editor.fields[i].buf.insert_str(text) {
            Ok(_) => {
                editor.field_changed(i);
                self.status = None;
            }
            Err(full) => self.status = Some((Level::Error, format!("Paste refused: {full}"))),
        }
    }

    fn on_key(&mut self, key: KeyEvent, now: Instant) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // Ctrl-C bypasses everything.
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            self.quit();
            return;
        }
        if let Some(overlay) = self.overlay.clone() {
            self.on_overlay_key(overlay, key, now);
            return;
        }
        // Esc cancels a change that has not been answered yet, from anywhere.
        if key.code == KeyCode::Esc
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
        match key.code {
            KeyCode::Tab => self.cycle_focus(true),
            KeyCode::BackTab => self.cycle_focus(false),
            KeyCode::F(1) => self.overlay = Some(Overlay::Help),
            KeyCode::Char('?') if !ctrl => self.overlay = Some(Overlay::Help),
            KeyCode::Char('q') if !ctrl => self.quit(),
            _ => match self.focus {
                Focus::Profiles => self.on_profiles_key(key),
                Focus::Log => self.on_log_key(key),
                Focus::Field(_) => {}
            },
        }
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent, now: Instant) {
        match overlay {
            Overlay::Help => self.overlay = None,
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
                    self.send(
                        Options {
                            operate: Some(Operate::Create),
                            force: false,
                        },
                        now,
                    );
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.status = Some((Level::Info, "Not sent".into()));
                }
                _ => {}
            },
            Overlay::ConfirmWeak { .. } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = None;
                    self.send(Options::default(), now);
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.overlay = None;
                    self.status = Some((
                        Level::Info,
                        "Not sent. Try a stronger password (Ctrl-G generates one)".into(),
                    ));
                }
                _ => {}
            },
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
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Home | KeyCode::Char('g') => self.move_selection(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.move_selection(isize::MAX),
            KeyCode::PageUp => self.move_selection(-10),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::Char('/') => {
                self.filter_editing = true;
            }
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.clamp_selection_to_filter();
            }
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') if self.editor.is_some() => {
                self.focus = Focus::Field(0);
            }
            KeyCode::Char('r') => self.reload(),
            _ => {}
        }
    }

    fn on_log_key(&mut self, key: KeyEvent) {
        let last = self.log.len().saturating_sub(1);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.log_selected = self.log_selected.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.log_selected = (self.log_selected + 1).min(last)
            }
            KeyCode::Home | KeyCode::Char('g') => self.log_selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.log_selected = last,
            KeyCode::Enter if !self.log.is_empty() => {
                self.overlay = Some(Overlay::LogDetail(self.log_selected.min(last), 0));
            }
            _ => {}
        }
    }

    /// Re-reads the config file (after the user fixed it). Wipes typed secrets.
    fn reload(&mut self) {
        let Some(path) = self.config_path.clone() else {
            self.status = Some((Level::Info, "The demo's profiles are built in".into()));
            return;
        };
        let loaded = match crate::config::load(&path) {
            Ok(crate::config::LoadOutcome::Loaded(config)) => Loaded::Config(config),
            Ok(crate::config::LoadOutcome::Missing(_)) => Loaded::Missing,
            Err(e) => Loaded::Broken(e),
        };
        self.status = None;
        self.install(loaded);
        if self.status.is_none() {
            self.status = Some((Level::Info, format!("Reloaded {}", path.display())));
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
        let Some(editor) = &mut self.editor else {
            return false;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let last = editor.fields.len() - 1;
        let buf = &mut editor.fields[i].buf;
        let mut changed = true;
        match key.code {
            KeyCode::Char('g') if ctrl => {
                self.generate();
                return true;
            }
            KeyCode::Char('r') if ctrl => {
                editor.reveal = match editor.reveal {
                    Some((j, _)) if j == i => None,
                    _ => Some((i, now + REVEAL_FOR)),
                };
                return true;
            }
            KeyCode::Char('x') if ctrl => {
                editor.wipe();
                self.status = Some((Level::Info, "All fields cleared".into()));
                return true;
            }
            KeyCode::Char('w') if ctrl => buf.delete_word_back(),
            KeyCode::Char('u') if ctrl => buf.delete_to_start(),
            KeyCode::Char('k') if ctrl => buf.delete_to_end(),
            KeyCode::Char('a') if ctrl => {
                buf.home();
                changed = false;
            }
            KeyCode::Char('e') if ctrl => {
                buf.end();
                changed = false;
            }
            KeyCode::Char('d') if alt => buf.delete_word_forward(),
            KeyCode::Char(c) if !ctrl && !alt => {
                if let Err(full) = buf.insert_char(c) {
                    self.status = Some((Level::Error, format!("Key refused: {full}")));
                    return true;
                }
            }
            KeyCode::Backspace if ctrl || alt => buf.delete_word_back(),
            KeyCode::Backspace => buf.backspace(),
            KeyCode::Delete if ctrl => buf.delete_word_forward(),
            KeyCode::Delete => buf.delete(),
            KeyCode::Left | KeyCode::Right | KeyCode::Home | KeyCode::End => {
                changed = false;
                match (key.code, ctrl || alt) {
                    (KeyCode::Left, true) => buf.move_word_left(),
                    (KeyCode::Left, false) => buf.move_left(),
                    (KeyCode::Right, true) => buf.move_word_right(),
                    (KeyCode::Right, false) => buf.move_right(),
                    (KeyCode::Home, _) => buf.home(),
                    _ => buf.end(),
                }
            }
            KeyCode::Up => {
                self.focus = Focus::Field(i.saturating_sub(1));
                return true;
            }
            KeyCode::Down => {
                self.focus = Focus::Field((i + 1).min(last));
                return true;
            }
            KeyCode::Enter => {
                if i < last {
                    self.focus = Focus::Field(i + 1);
                } else {
                    self.submit(now);
                }
                return true;
            }
            KeyCode::Esc => {
                self.focus = Focus::Profiles;
                return true;
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

    /// Enter on the last field: the policy gate, then the weak-score confirmation, then send.
    fn submit(&mut self, now: Instant) {
        if self.job.is_some() {
            self.status = Some((
                Level::Info,
                "A change is already in flight (Esc cancels it)".into(),
            ));
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
        let failures: Vec<&str> = editor
            .checklist
            .failures()
            .map(|item| item.label.as_str())
            .collect();
        if let Some(first) = failures.first() {
            let more = match failures.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            self.status = Some((Level::Error, format!("Not sent: {first}{more}")));
            return;
        }
        match &editor.strength {
            Some(s) if s.score < 3 => {
                self.overlay = Some(Overlay::ConfirmWeak {
                    score: s.score,
                    label: s.label,
                });
            }
            _ => self.send(Options::default(), now),
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
        let Some(new) = copy(FieldRole::New, PASSWORD_CAPACITY) else {
            return;
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
        let id = self.next_job;
        self.next_job += 1;
        worker.submit(Job {
            id,
            profile: self.profiles[index].clone(),
            secrets,
            options,
        });
        self.job = Some(InFlight {
            id,
            profile: index,
            started: now,
        });
        self.outcome = None;
        self.status = Some((
            Level::Info,
            format!("Sending to {}… (Esc cancels)", self.profiles[index].name),
        ));
    }

    fn on_worker(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Log { entry, .. } => {
                let follow = self.log.is_empty() || self.log_selected + 1 == self.log.len();
                self.log.push(entry);
                if follow {
                    self.log_selected = self.log.len() - 1;
                }
            }
            WorkerEvent::Finished { job, report } => {
                if let Some(flight) = self.job.filter(|f| f.id == job) {
                    self.job = None;
                    self.finish(flight, report);
                }
            }
            WorkerEvent::Cancelled { job, report } => {
                if let Some(flight) = self.job.filter(|f| f.id == job) {
                    self.job = None;
                    match report {
                        Some(report) => self.finish(flight, report),
                        None => {
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
    fn finish(&mut self, flight: InFlight, report: Report) {
        let name = self
            .profiles
            .get(flight.profile)
            .map_or("?", |p| p.name.as_str())
            .to_string();
        let same = self.selected == Some(flight.profile);
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
            o if o.is_success() => Level::Info,
            Outcome::Unknown => Level::Warn,
            _ => Level::Error,
        };
        let mut line = format!("{name}: {}", report.summary());
        if report.outcome == Outcome::Unknown {
            line.push_str(" — the new password is kept in the editor; check before sending again");
        }
        if let Some(code) = &report.provider_code
            && !report.outcome.is_success()
        {
            line.push_str(&format!(" [{code}]"));
        }
        self.outcome = Some((level, line.clone()));
        self.status = Some((level, line));
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
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let panes = ui::panes(area);
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if panes.profiles.contains(at) {
                    self.filter_editing = false;
                    self.focus = Focus::Profiles;
                    let visible = self.visible();
                    if let Some(row) = ui::profiles::row_at(self, panes.profiles, at)
                        && let Some(&index) = visible.get(row)
                    {
                        self.select(Some(index));
                    }
                } else if panes.editor.contains(at) {
                    let fields = self.editor.as_ref().map_or(0, |e| e.fields.len());
                    if let Some(i) = ui::editor::field_at(panes.editor, at)
                        && i < fields
                    {
                        self.focus = Focus::Field(i);
                    }
                } else if panes.log.contains(at) {
                    self.focus = Focus::Log;
                }
            }
            MouseEventKind::ScrollDown if panes.profiles.contains(at) => self.move_selection(1),
            MouseEventKind::ScrollUp if panes.profiles.contains(at) => self.move_selection(-1),
            _ => {}
        }
    }
}
