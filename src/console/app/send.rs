//! Sending a change: submit, the rails (gates, locks, unknown outcomes), the send itself and
//! finishing it when the worker reports.

use std::time::Instant;

use crate::change::settle::Answers;
use crate::config::Kind;
use crate::console::editor::{CurrentSource, FieldRole};
use crate::provider::{FollowUp, Options, Outcome, Report, TypedSecrets};
use crate::secret::{PASSWORD_CAPACITY, SecretBuf, TOKEN_CAPACITY};
use crate::state::StateChange;
use crate::worker::Job;

use super::{App, Ask, Focus, Gate, InFlight, Level, Overlay, countdown};
use crate::console::keymap::Action;

impl App {
    /// Enter on the last field: the policy gate, then the safety rails, then send.
    pub(super) fn submit(&mut self, now: Instant) {
        self.proceed(Gate::default(), Options::default(), now);
    }

    /// Checks every rail not yet confirmed in `gate`; asks the first open one, or sends.
    pub(super) fn proceed(&mut self, gate: Gate, options: Options, now: Instant) {
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
                format!(
                    "Not sent: you have not seen the generated password, and without a store rekey would hold its only copy. Reveal it ({}) or copy it ({}) first",
                    self.keymap.label(Action::Reveal),
                    self.keymap.label(Action::Copy)
                ),
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
                    "Not sent: {} is locked; {} sends anyway. Locked for another {} (until {until})",
                    profile.name,
                    self.keymap.label(Action::SendAnyway),
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
    pub(super) fn offer_lock_override(&mut self) {
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
                format!(
                    "{} has nothing to override: it sends anyway only right after a send was refused because the profile is locked",
                    self.keymap.label(Action::SendAnyway)
                ),
            ));
        }
    }

    /// F5 after `unknown`: checks whether the new password now works, where the provider
    /// allows it without spending a retry (IAM: a token; CIAM: the password grant).
    pub(super) fn check_unknown(&mut self, now: Instant) {
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
                format!(
                    "{} has nothing to check: it checks a change whose outcome is unknown, and there is none",
                    self.keymap.label(Action::Check)
                ),
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
            kind => {
                let how = manual_check(kind, &self.keymap.label(Action::Check));
                self.status = Some((Level::Info, how));
            }
        }
    }

    /// Hands the change to the worker, with copies of the typed secrets (the editor keeps its
    /// own until the outcome says they can go).
    pub(super) fn send(&mut self, options: Options, now: Instant) {
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
            (Some(current), false) => Some(crate::console::refused::mac(current.expose())),
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
        // The spinner (and then the outcome) is the editor's last lines: scrolled to.
        self.editor_scroll = u16::MAX;
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

    /// Applies an outcome: secrets are wiped after `changed`/`created`, kept otherwise (after
    /// `unknown` the new password may now be the real one).
    pub(super) fn finish(
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
            let check = self.keymap.label(Action::Check);
            line.push_str(&match profile.kind {
                Kind::HuaweiIam | Kind::TencentCiam => {
                    format!("Press {check} to check whether it works (spends no attempt)")
                }
                kind => manual_check(kind, &check),
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
        // The outcome is the editor's last lines: scrolled to (the draw stops at the end).
        self.editor_scroll = u16::MAX;
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
    pub(super) fn refuse_current(
        &mut self,
        flight: &InFlight,
        report: &Report,
        same: bool,
    ) -> Option<String> {
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
}

/// What a check after `unknown` means: a token for the new password says the change was
/// applied; a refusal of it says it was not.
pub(super) fn check_result(report: Report) -> Report {
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

/// How to verify a change by hand where the provider offers no free check (`check`: the key
/// that checks where the provider does).
pub(super) fn manual_check(kind: Kind, check: &str) -> String {
    match kind {
        Kind::HuaweiDcs => {
            "No check is possible without spending an attempt: connect with redis-cli and AUTH with the new password"
        }
        Kind::TencentBmVpn => {
            "No check is possible without spending an attempt: log in to the out-of-band VPN with the new password"
        }
        Kind::HuaweiIam | Kind::TencentCiam => {
            return format!("Press {check} to check (spends no attempt)");
        }
    }
    .to_string()
}
