//! Keys: the handlers for each screen, overlay and pane, looked up in the keymap.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::change::settle::Answers;
use crate::config::Operate;
use crate::console::editor::{Editor, FieldRole};
use crate::console::keymap::{Action, Context};
use crate::policy;
use crate::provider::Options;
use crate::secret::{SecretBuf, TOKEN_CAPACITY};

use super::{App, Ask, Focus, Gate, Level, Overlay, REVEAL_FOR, Then};

impl App {
    pub(super) fn on_paste(&mut self, text: &str) {
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
    pub(super) fn on_key_too_small(&mut self, key: KeyEvent) {
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

    pub(super) fn on_key(&mut self, key: KeyEvent, now: Instant) {
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

    pub(super) fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent, now: Instant) {
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
            Overlay::Rotate => self.on_rotation_key(key),
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
                        Ask::Weak { .. } => format!(
                            ". Try a stronger password ({} generates one)",
                            self.keymap.label(Action::Generate)
                        ),
                        _ => String::new(),
                    };
                    self.status = Some((Level::Info, format!("Not sent{hint}")));
                }
                _ => {}
            },
            Overlay::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Char('d') => self.quit(),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    // Back to the rotation dialog when one is open.
                    self.overlay = self.rotation.as_ref().map(|_| Overlay::Rotate);
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
    pub(super) fn on_production_key(
        &mut self,
        gate: Gate,
        options: Options,
        key: KeyEvent,
        now: Instant,
    ) {
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
    pub(super) fn on_kept_key(&mut self, key: KeyEvent, now: Instant) {
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

    pub(super) fn on_filter_key(&mut self, key: KeyEvent) {
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
    pub(super) fn clamp_selection_to_filter(&mut self) {
        let visible = self.visible();
        if self.selected.is_some_and(|s| visible.contains(&s)) {
            return;
        }
        self.select(visible.first().copied());
    }

    pub(super) fn on_profiles_key(&mut self, key: KeyEvent) {
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
            Some(Action::Mark) => self.toggle_mark(),
            Some(Action::Rotate) => self.open_rotation(),
            _ => {}
        }
    }

    pub(super) fn on_log_key(&mut self, key: KeyEvent) {
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

    pub(super) fn move_selection(&mut self, delta: isize) {
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
    pub(super) fn cycle_focus(&mut self, forward: bool) {
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
    pub(super) fn on_field_key(&mut self, i: usize, key: KeyEvent, now: Instant) -> bool {
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
            Some(Action::ScrollUp) => {
                let page = self.editor_page();
                self.editor_scroll = self
                    .editor_scroll
                    .min(self.editor_scroll_max)
                    .saturating_sub(page);
                return true;
            }
            Some(Action::ScrollDown) => {
                let page = self.editor_page();
                self.editor_scroll = (self.editor_scroll + page).min(self.editor_scroll_max);
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
    pub(super) fn generate(&mut self) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        let (Some(new), Some(confirm)) = (
            editor.index_of(crate::console::editor::FieldRole::New),
            editor.index_of(crate::console::editor::FieldRole::Confirm),
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
                            "Generated a {n}-character password into new and confirm ({} reveals)",
                            self.keymap.label(Action::Reveal)
                        ),
                    ),
                    Err(full) => (Level::Error, format!("Could not fill confirm: {full}")),
                });
            }
            Err(e) => self.status = Some((Level::Error, format!("Cannot generate: {e}"))),
        }
    }

    /// Ctrl-Y: copies the new password to the terminal's clipboard (OSC 52) for 45 s.
    pub(super) fn copy_new(&mut self, now: Instant) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        let Some(i) = editor.index_of(FieldRole::New) else {
            return;
        };
        if editor.fields[i].buf.is_empty() {
            self.status = Some((
                Level::Info,
                format!(
                    "New password is empty: nothing to copy ({} generates one)",
                    self.keymap.label(Action::Generate)
                ),
            ));
            return;
        }
        editor.generated_unseen = false;
        let mut copy = SecretBuf::password();
        if copy.copy_from(&editor.fields[i].buf).is_ok() {
            self.copy_to_clipboard(copy.expose(), now);
        }
    }
}
