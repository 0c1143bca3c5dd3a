//! Password stores (SPEC §10.1): where the admin keeps a profile's password, with the three
//! slots `current`, `pending` and `previous`. One file per backend; every backend runs a real
//! tool as a child process (no shell, explicit stdin, a timeout), never puts a secret on a
//! command line, and holds what it reads in zeroizing buffers.
//!
//! Every call blocks (a child process runs): call it off the console's loop.

use crate::secret::SecretBuf;

/// One of a profile's three slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The password in force (as far as the store knows).
    Current,
    /// A new password staged before it is sent (SPEC §10.2).
    Pending,
    /// The password before the last promotion.
    Previous,
}

impl Slot {
    /// `current`, `pending`, `previous`.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Current => "current",
            Slot::Pending => "pending",
            Slot::Previous => "previous",
        }
    }
}

/// Why a store call failed. Messages quote the tool's stderr escaped and capped; never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The tool is not installed (or not on PATH).
    #[error("{0}")]
    Missing(String),
    /// The tool did not finish in time (it was killed).
    #[error("{0}")]
    Timeout(String),
    /// The store needs a password (a locked database or keyring) that was not given.
    #[error("{0}")]
    NeedsPassword(String),
    /// The tool failed: its exit status and stderr.
    #[error("{0}")]
    Failed(String),
    /// The tool answered something rekey cannot use (empty, too long, not UTF-8, a read-back
    /// that differs from what was written).
    #[error("{0}")]
    Invalid(String),
}

/// Default for a store's `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

mod command;
mod keepassxc;
mod pass;
mod run;
mod secret_service;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::config::{Profile, SecretSource, StoreBackend, StoreConfig};
use crate::secret::PASSWORD_CAPACITY;

/// A profile's password store, ready to run its tool. Holds a copy of the profile's `store`
/// settings and, once given, the typed unlock secret (a KeePassXC database password).
pub struct Store {
    /// The profile's name (`REKEY_PROFILE`, the keyring's `profile` attribute).
    profile: String,
    /// The entry (pass path, KeePassXC entry path, keyring label, `REKEY_ENTRY`).
    entry: String,
    /// The profile's `read_current`.
    read_current: bool,
    /// One tool run's time limit.
    timeout: Duration,
    /// Which tool, and how to reach the store.
    backend: Backend,
    /// A secret typed by the user to open the store.
    unlock: Option<SecretBuf>,
    /// A KeePassXC database password from `env`/`command`/`value`, resolved once for all the
    /// tool runs of this store (a `command` source runs once, not once per slot).
    resolved: std::sync::Mutex<Option<SecretBuf>>,
    /// Extra environment for every tool run (see [`Store::with_env`]).
    env: Vec<(OsString, OsString)>,
}

/// [`StoreBackend`], owned by the store.
enum Backend {
    Pass,
    Keepassxc {
        database: PathBuf,
        database_password: Option<SecretSource>,
        key_file: Option<PathBuf>,
    },
    SecretService,
    Command {
        argv: Vec<String>,
    },
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("label", &self.label())
            .field("profile", &self.profile)
            .field("read_current", &self.read_current)
            .field("timeout", &self.timeout)
            .field("unlocked", &self.unlock.is_some())
            .finish_non_exhaustive()
    }
}

/// A copy of a secret source (the config's type is not `Clone`; a `value` is copied into a new
/// zeroizing string).
fn copy_source(source: &SecretSource) -> SecretSource {
    match source {
        SecretSource::Env(name) => SecretSource::Env(name.clone()),
        SecretSource::Command(argv) => SecretSource::Command(argv.clone()),
        SecretSource::Prompt => SecretSource::Prompt,
        SecretSource::Value(value) => SecretSource::Value(Zeroizing::new(value.as_str().into())),
    }
}

impl Store {
    /// None when the profile has no `store`.
    pub fn for_profile(profile: &Profile) -> Option<Store> {
        profile
            .store
            .as_ref()
            .map(|config| Store::new(&profile.name, config))
    }

    /// The store of `config` for the profile named `profile`.
    pub fn new(profile: &str, config: &StoreConfig) -> Store {
        let backend = match &config.backend {
            StoreBackend::Pass => Backend::Pass,
            StoreBackend::Keepassxc {
                database,
                database_password,
                key_file,
            } => Backend::Keepassxc {
                database: database.clone(),
                database_password: database_password.as_ref().map(copy_source),
                key_file: key_file.clone(),
            },
            StoreBackend::SecretService => Backend::SecretService,
            StoreBackend::Command { argv } => Backend::Command { argv: argv.clone() },
        };
        Store {
            profile: profile.to_string(),
            entry: config.entry.clone(),
            read_current: config.read_current,
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            backend,
            unlock: None,
            resolved: std::sync::Mutex::new(None),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable for every tool this store runs (on top of rekey's own
    /// environment): e.g. `PASSWORD_STORE_DIR`, `GNUPGHOME`, `DBUS_SESSION_BUS_ADDRESS`.
    pub fn with_env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Store {
        self.env.push((name.into(), value.into()));
        self
    }

    /// "pass:cloud/redis-prod"
    pub fn label(&self) -> String {
        let backend = match self.backend {
            Backend::Pass => "pass",
            Backend::Keepassxc { .. } => "keepassxc",
            Backend::SecretService => "secret-service",
            Backend::Command { .. } => "command",
        };
        format!("{backend}:{}", self.entry)
    }

    /// The profile's `read_current` setting.
    pub fn read_current(&self) -> bool {
        self.read_current
    }

    /// True when the store needs a secret typed by the user to open (keepassxc with
    /// `database_password = { prompt = true }`) and none was given yet.
    pub fn needs_unlock(&self) -> bool {
        matches!(
            &self.backend,
            Backend::Keepassxc {
                database_password: Some(SecretSource::Prompt),
                ..
            }
        ) && self.unlock.is_none()
    }

    /// Gives the typed unlock secret (kept in a `SecretBuf`, zeroized on drop). An empty one
    /// takes the earlier one away.
    pub fn unlock(&mut self, secret: SecretBuf) {
        self.unlock = (!secret.is_empty()).then_some(secret);
    }

    /// Reads a slot: `Ok(None)` when the slot is empty.
    pub fn get(&self, slot: Slot) -> Result<Option<SecretBuf>, StoreError> {
        let read = match &self.backend {
            Backend::Pass => pass::get(self, slot)?,
            Backend::Keepassxc { .. } => keepassxc::get(self, slot)?,
            Backend::SecretService => secret_service::get(self, slot)?,
            Backend::Command { argv } => command::get(self, argv, slot)?,
        };
        read.map(|text| self.to_secret(slot, &text)).transpose()
    }

    /// Writes a slot (creating or replacing it).
    pub fn put(&self, slot: Slot, secret: &str) -> Result<(), StoreError> {
        check_secret(secret)?;
        match &self.backend {
            Backend::Pass => pass::put(self, slot, secret),
            Backend::Keepassxc { .. } => keepassxc::put(self, slot, secret),
            Backend::SecretService => secret_service::put(self, slot, secret),
            Backend::Command { argv } => command::put(self, argv, slot, secret),
        }
    }

    /// Deletes a slot; deleting an empty slot is Ok.
    pub fn delete(&self, slot: Slot) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Pass => pass::delete(self, slot),
            Backend::Keepassxc { .. } => keepassxc::delete(self, slot),
            Backend::SecretService => secret_service::delete(self, slot),
            Backend::Command { argv } => command::delete(self, argv, slot),
        }
    }

    /// `put`, then `get`, then compare in constant time; `Err(Invalid)` when the read-back
    /// differs or is missing.
    pub fn put_verified(&self, slot: Slot, secret: &str) -> Result<(), StoreError> {
        self.put(slot, secret)?;
        self.verify(slot, secret)
    }

    /// Reads `slot` back and compares it with `secret` in constant time; `Err(Invalid)` when
    /// it differs or is empty.
    pub fn verify(&self, slot: Slot, secret: &str) -> Result<(), StoreError> {
        match self.get(slot)? {
            Some(read)
                if crate::provider::sign::constant_time_eq(
                    read.expose().as_bytes(),
                    secret.as_bytes(),
                ) =>
            {
                Ok(())
            }
            Some(_) => Err(StoreError::Invalid(format!(
                "{}: the {} password read back differs from what was written; the store did \
                 not keep it",
                self.label(),
                slot.as_str()
            ))),
            None => Err(StoreError::Invalid(format!(
                "{}: the {} password was written but reading it back found nothing",
                self.label(),
                slot.as_str()
            ))),
        }
    }

    /// A tool run with this store's environment and time limit.
    fn invocation<'a>(
        &'a self,
        program: &'a str,
        args: Vec<OsString>,
        stdin: Option<&'a [u8]>,
        name: String,
        missing: String,
    ) -> run::Invocation<'a> {
        run::Invocation {
            program,
            args,
            env: &self.env,
            stdin,
            timeout: self.timeout,
            name,
            missing,
        }
    }

    /// A password read from the store, checked and moved into a `SecretBuf`.
    fn to_secret(&self, slot: Slot, text: &str) -> Result<SecretBuf, StoreError> {
        let what = || format!("{}: the {} password", self.label(), slot.as_str());
        if text.is_empty() {
            return Err(StoreError::Invalid(format!("{} is empty", what())));
        }
        if text.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "{} contains control characters (a line break?); rekey cannot use it",
                what()
            )));
        }
        let mut buf = SecretBuf::password();
        buf.insert_str(text).map_err(|_| {
            StoreError::Invalid(format!(
                "{} is longer than {PASSWORD_CAPACITY} bytes; rekey cannot use it",
                what()
            ))
        })?;
        Ok(buf)
    }
}

/// A password rekey can write: not empty, one line, fits a password buffer.
fn check_secret(secret: &str) -> Result<(), StoreError> {
    if secret.is_empty() {
        return Err(StoreError::Invalid(
            "refusing to store an empty password".into(),
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "refusing to store a password with control characters (a line break?)".into(),
        ));
    }
    if secret.len() > PASSWORD_CAPACITY {
        return Err(StoreError::Invalid(format!(
            "refusing to store a password longer than {PASSWORD_CAPACITY} bytes"
        )));
    }
    Ok(())
}

/// Text a tool printed, as UTF-8 (`Invalid` otherwise), in a zeroizing string.
fn utf8(bytes: &[u8], name: &str) -> Result<Zeroizing<String>, StoreError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| StoreError::Invalid(format!("{name} printed text that is not UTF-8")))?;
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    out.push_str(text);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn store_is_send_and_sync() {
        assert_send_sync::<Store>();
    }

    #[test]
    fn secrets_rekey_refuses_to_write() {
        assert!(check_secret("ok-Pass1").is_ok());
        for bad in ["", "two\nlines", "tab\there"] {
            assert!(matches!(check_secret(bad), Err(StoreError::Invalid(_))));
        }
        let long = "x".repeat(PASSWORD_CAPACITY + 1);
        assert!(matches!(check_secret(&long), Err(StoreError::Invalid(_))));
    }
}
