//! The password editor's state: the masked fields a profile's kind needs, and the live policy
//! feedback computed from them after every edit.

use std::time::Instant;

use crate::config::Profile;
use crate::policy::{self, Candidate, Checklist, Policy, Strength};
use crate::secret::{PASSWORD_CAPACITY, SecretBuf, TOKEN_CAPACITY};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    /// A `{ prompt = true }` secret of the profile, by its key path (e.g. `auth.password`).
    Prompt(&'static str),
    /// The current password.
    Current,
    /// The new password.
    New,
    /// The new password again.
    Confirm,
}

impl FieldRole {
    /// The label shown before the field.
    pub fn label(self) -> &'static str {
        match self {
            FieldRole::Current => "Current password",
            FieldRole::New => "New password",
            FieldRole::Confirm => "Confirm new",
            FieldRole::Prompt(key) => match key {
                "secret_id" => "SecretId",
                "secret_key" => "SecretKey",
                "session_token" => "Session token",
                "auth.access_key" => "Access key (AK)",
                "auth.secret_key" => "Secret key (SK)",
                "auth.password" => "IAM password",
                "client_secret" => "Client secret",
                "access_token" => "Access token",
                other => other,
            },
        }
    }
}

/// Where the current-password field's content comes from, when not typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrentSource {
    /// Being read from the store (label).
    Reading(String),
    /// Filled from the store (label); masked like any field, never shown.
    Store(String),
    /// The store needs its own password first (label).
    Locked(String),
}

impl CurrentSource {
    /// What the editor shows beside the field.
    pub fn describe(&self) -> String {
        match self {
            CurrentSource::Reading(label) => format!("reading {label}…"),
            CurrentSource::Store(label) => format!("from {label}"),
            CurrentSource::Locked(label) => format!("{label} is locked — Enter unlocks"),
        }
    }
}

/// One masked input.
#[derive(Debug)]
pub struct Field {
    /// What it holds.
    pub role: FieldRole,
    /// The secret itself.
    pub buf: SecretBuf,
}

/// The editor for the selected profile.
#[derive(Debug)]
pub struct Editor {
    /// Fields in display (and Tab) order.
    pub fields: Vec<Field>,
    /// The client-side policy for the profile.
    pub policy: Policy,
    /// Context words for the strength estimate (user name, profile, provider). Not secrets.
    context: Vec<String>,
    /// The checklist for the current contents.
    pub checklist: Checklist,
    /// The strength of the new password; None while it is empty.
    pub strength: Option<Strength>,
    /// The field being revealed and until when.
    pub reveal: Option<(usize, Instant)>,
    /// The new password was generated and has not been seen yet (revealed or copied): without
    /// a store it may not be sent (SPEC §10.2).
    pub generated_unseen: bool,
    /// Where the current password came from, when the store filled it.
    pub current_from: Option<CurrentSource>,
}

impl Editor {
    /// The fields `profile`'s kind needs (SPEC §1, §6): prompted secrets, the current password
    /// where the kind asks for it, the new password and its confirmation.
    pub fn for_profile(profile: &Profile) -> Editor {
        let mut fields: Vec<Field> = profile
            .prompt_secrets()
            .into_iter()
            .map(|key| Field {
                role: FieldRole::Prompt(key),
                buf: SecretBuf::new(TOKEN_CAPACITY),
            })
            .collect();
        if profile.kind.needs_current_password() {
            fields.push(Field {
                role: FieldRole::Current,
                buf: SecretBuf::new(PASSWORD_CAPACITY),
            });
        }
        for role in [FieldRole::New, FieldRole::Confirm] {
            fields.push(Field {
                role,
                buf: SecretBuf::new(PASSWORD_CAPACITY),
            });
        }
        let policy = Policy::for_profile(profile);
        let context = policy::context_words(profile);
        let mut editor = Editor {
            fields,
            policy,
            context,
            checklist: Checklist {
                items: Vec::new(),
                note: None,
            },
            strength: None,
            reveal: None,
            generated_unseen: false,
            current_from: None,
        };
        editor.refresh_checklist();
        editor
    }

    /// The index of the field with `role`.
    pub fn index_of(&self, role: FieldRole) -> Option<usize> {
        self.fields.iter().position(|f| f.role == role)
    }

    fn text_of(&self, role: FieldRole) -> Option<&str> {
        self.index_of(role).map(|i| self.fields[i].buf.expose())
    }

    /// Recomputes the checklist (cheap; every keystroke).
    pub fn refresh_checklist(&mut self) {
        let candidate = Candidate {
            new: self.text_of(FieldRole::New).unwrap_or(""),
            confirm: self.text_of(FieldRole::Confirm).unwrap_or(""),
            current: self.text_of(FieldRole::Current),
        };
        self.checklist = policy::check(&self.policy, &candidate);
    }

    /// Recomputes the strength estimate of the new password.
    pub fn refresh_strength(&mut self) {
        let new = self.text_of(FieldRole::New).unwrap_or("");
        self.strength = if new.is_empty() {
            None
        } else {
            let context: Vec<&str> = self.context.iter().map(String::as_str).collect();
            Some(policy::estimate(new, &context))
        };
    }

    /// Recomputes whatever depends on the field at `index` after it changed.
    pub fn field_changed(&mut self, index: usize) {
        match self.fields[index].role {
            FieldRole::New => self.refresh_strength(),
            // Edited by hand: no longer the store's.
            FieldRole::Current => self.current_from = None,
            _ => {}
        }
        self.refresh_checklist();
    }

    /// Zeroes every field and drops the feedback derived from them.
    pub fn wipe(&mut self) {
        for f in &mut self.fields {
            f.buf.clear();
        }
        self.reveal = None;
        self.strength = None;
        self.generated_unseen = false;
        self.current_from = None;
        self.refresh_checklist();
    }

    /// Whether field `index` is shown in clear text at `now`.
    pub fn is_revealed(&self, index: usize, now: Instant) -> bool {
        matches!(self.reveal, Some((i, until)) if i == index && now < until)
    }

    /// The first empty field the change needs, if any.
    pub fn first_empty(&self) -> Option<usize> {
        self.fields.iter().position(|f| f.buf.is_empty())
    }
}
