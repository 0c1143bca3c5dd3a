//! The staged change of SPEC §10.2, shared by the console and the headless commands: journal,
//! stage the new password in the store's `pending`, send once, then promote or abort. At every
//! instant the password in force at the provider is readable from the store (as `current` or
//! `pending`), and every change that may have been applied is journaled as unsettled until it
//! is settled (`settle`).

pub mod journal;
pub mod lock;
pub mod rotate;
pub mod settle;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::config::Profile;
use crate::provider::{self, LogSink, Options, Outcome, Report, SetupError, TypedSecrets};
use crate::secret::SecretBuf;
use crate::store::{Slot, Store};
use journal::{Journal, Record, Step};

/// Stops the process at a named step when `REKEY_CRASH_AT` names it (SIGKILL), or panics there
/// when it says `panic:NAME`: the crash tests' hook. `NAME#N` stops at the Nth time the step
/// is reached in this process (a batch of rotations passes each step many times). Only in
/// debug builds: the shipped (release) binary has no such hook.
pub fn crash_point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("REKEY_CRASH_AT").is_ok_and(|v| v.strip_prefix("panic:") == Some(name)) {
        panic!("test panic at {name}");
    }
    #[cfg(debug_assertions)]
    if std::env::var("REKEY_CRASH_AT").is_ok_and(|v| v == name || nth_time_at(&v, name)) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; should it not arrive at once, never go on.
        loop {
            std::thread::park();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Whether `spec` is `NAME#N` and `name` is reached now for the Nth time in this process.
#[cfg(debug_assertions)]
fn nth_time_at(spec: &str, name: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
    let Some((point, n)) = spec.split_once('#') else {
        return false;
    };
    if point != name {
        return false;
    }
    let Ok(n) = n.parse::<u64>() else {
        return false;
    };
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let count = seen
        .get_or_insert_with(HashMap::new)
        .entry(name.to_string())
        .or_insert(0);
    *count += 1;
    *count == n
}

/// A way to interrupt a staged change (Esc in the console, a signal headless). Before the
/// request leaves it stops the change (nothing sent); after, the outcome is `unknown`.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<&'static str>>);

/// The sending half of an [`Interrupt`].
#[derive(Debug)]
pub struct Interrupter(watch::Sender<Option<&'static str>>);

impl Interrupter {
    /// A new pair.
    pub fn new() -> (Interrupter, Interrupt) {
        let (tx, rx) = watch::channel(None);
        (Interrupter(tx), Interrupt(rx))
    }

    /// Interrupts, saying why ("cancelled", "SIGTERM", ...).
    pub fn interrupt(&self, why: &'static str) {
        let _ = self.0.send(Some(why));
    }
}

impl Interrupt {
    fn fired(&self) -> Option<&'static str> {
        *self.0.borrow()
    }

    /// Waits until it fires; says why.
    pub async fn wait(&mut self) -> &'static str {
        loop {
            if let Some(why) = *self.0.borrow_and_update() {
                return why;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Where a profile's change is kept: the data dir (journal, locks) and the store.
#[derive(Debug)]
pub struct Place {
    /// The data dir; None keeps no journal (tests of the console without files).
    pub data_dir: Option<PathBuf>,
    /// The profile's store, if it has one (unlocked if it needs it).
    pub store: Option<Store>,
}

impl Place {
    /// The profile's journal.
    pub fn journal(&self, profile: &str) -> Option<Journal> {
        self.data_dir.as_deref().map(|d| Journal::new(d, profile))
    }
}

/// How a staged change ended.
#[derive(Debug)]
pub struct Finished {
    /// The provider's answer (or rekey's reading of its absence).
    pub report: Report,
    /// The store's label (`pass:cloud/redis-prod`), if the profile has a store.
    pub store: Option<String>,
    /// Whether the change is settled (false: `rekey recover` or `R` must settle it).
    pub settled: bool,
    /// Interrupted (Esc, a signal) before an answer came.
    pub interrupted: bool,
    /// Something the user must read besides the outcome (the store promotion failed, the
    /// journal could not be written).
    pub warning: Option<String>,
}

impl Finished {
    /// The line the user reads about the store: "saved to pass:x (previous kept)", ...
    pub fn store_words(&self) -> Option<String> {
        let label = self.store.as_ref()?;
        Some(match (self.report.outcome.is_success(), self.settled) {
            (true, true) => format!("saved to {label} (previous kept)"),
            (true, false) => format!(
                "the new password is in {label} (pending); saving it as current did not finish — run `rekey recover`"
            ),
            (false, false) => format!("the new password is kept in {label} (pending)"),
            (false, true) => format!("{label} unchanged"),
        })
    }
}

/// Runs `f` (file or store I/O) off the async thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SetupError> {
    // Job code: a panic in it is reported as the job's end, never stops the console.
    tokio::task::spawn_blocking(move || crate::console::terminal::as_job(f))
        .await
        .map_err(|_| {
            SetupError(
                "internal error while writing the journal or the store; nothing was sent".into(),
            )
        })
}

/// A new change id: time and process, unique enough per profile.
fn change_id() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}-{}-{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    )
}

/// Which process on which machine: `pid 123 on host`.
fn who() -> String {
    let host = rustix::system::uname();
    format!(
        "pid {} on {}",
        std::process::id(),
        host.nodename().to_string_lossy()
    )
}

/// Appends a record, or says why not (nothing is sent without a journal).
fn write(journal: Option<&Journal>, record: &Record) -> Result<(), String> {
    write_all(journal, std::slice::from_ref(record))
}

/// Appends records that no step separates, with one fsync.
fn write_all(journal: Option<&Journal>, records: &[Record]) -> Result<(), String> {
    match journal {
        Some(j) => j
            .append_all(records)
            .map_err(|e| format!("cannot write the journal {}: {e}", j.path().display())),
        None => Ok(()),
    }
}

/// What `prepare` hands on: the lock, the journal and the id of the change.
struct Prepared {
    _lock: Option<lock::Held>,
    journal: Option<Journal>,
    id: String,
    typed: TypedSecrets,
    store: Option<Store>,
    promotion: Option<Promotion>,
    /// `begin`, when it is to be written together with `sending` (no store).
    begin: Option<Record>,
}

/// What a change that is answered `changed` promotes: the password that was sent (not whatever
/// `pending` holds by then), and the current password the user typed when the store's own
/// `current` is not the one in use (`read_current = false`).
pub struct Promotion {
    /// The new password, as sent.
    pub new: SecretBuf,
    /// The password it replaces, when it did not come from the store.
    pub old: Option<SecretBuf>,
}

impl std::fmt::Debug for Promotion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Promotion([redacted])")
    }
}

/// A copy of `buf` in a fresh password buffer.
fn copy(buf: &SecretBuf) -> Option<SecretBuf> {
    let mut out = SecretBuf::password();
    out.copy_from(buf).ok().map(|()| out)
}

/// Steps 1–2: lock, refuse an unsettled profile, read the current password from the store,
/// journal `begin`, stage `pending` (written, read back, compared), journal `staged`.
fn prepare(
    profile: &Profile,
    place: Place,
    mut typed: TypedSecrets,
) -> Result<Prepared, SetupError> {
    let name = &profile.name;
    let lock = match &place.data_dir {
        Some(dir) => Some(lock::profile(dir, name).map_err(|e| SetupError(e.to_string()))?),
        None => None,
    };
    let journal = place.journal(name);
    if let Some(j) = &journal {
        let reading = j.read_locked();
        if let Some(open) = reading.open {
            let mut why = format!(
                "`{name}` is unsettled: {}. No new change is sent until it is settled: run `rekey recover --profile {name}` (console: R); nothing was sent",
                open.describe()
            );
            if let Some(w) = reading.warning {
                why.push_str(&format!(" ({w})"));
            }
            return Err(SetupError(why));
        }
    }
    let store = place.store;
    if let Some(store) = &store {
        let label = store.label();
        let fail = |what: &str, e: crate::store::StoreError| {
            SetupError(format!("{label}: {what}: {e}; nothing was sent"))
        };
        if store
            .get(Slot::Pending)
            .map_err(|e| fail("cannot read the pending slot", e))?
            .is_some()
        {
            return Err(SetupError(format!(
                "{label} holds a pending password from a change that is not settled (another process or machine?). \
                 Settle it first: `rekey recover --profile {name}` decides whether the provider took it; nothing was sent"
            )));
        }
        let needs_current = profile.kind.needs_current_password()
            && typed.current.as_ref().is_none_or(SecretBuf::is_empty);
        if needs_current && store.read_current() {
            match store
                .get(Slot::Current)
                .map_err(|e| fail("cannot read the current password", e))?
            {
                Some(current) => typed.current = Some(current),
                None => {
                    return Err(SetupError(format!(
                        "{label} has no current password for `{name}`; store it there first (or set read_current = false and type it); nothing was sent"
                    )));
                }
            }
        }
    }
    let id = change_id();
    let mut begin = Record::new(&id, Step::Begin);
    begin.kind = Some(profile.kind.as_str().to_string());
    begin.store = store.as_ref().map(Store::label);
    begin.by = Some(who());
    // Without a store no step comes between `begin` and `sending`: both go in one append.
    let begin = match &store {
        Some(_) => {
            write(journal.as_ref(), &begin)
                .map_err(|e| SetupError(format!("{e}; nothing was sent")))?;
            crash_point("after-begin");
            None
        }
        None => Some(begin),
    };
    if let Some(store) = &store {
        if let Err(e) = stage(store, typed.new.expose()) {
            let why = format!(
                "{}: cannot stage the new password: {e}; nothing was sent",
                store.label()
            );
            let _ = store.delete(Slot::Pending);
            let _ = write(
                journal.as_ref(),
                &Record::new(&id, Step::Aborted).note("staging failed"),
            );
            return Err(SetupError(why));
        }
        write(journal.as_ref(), &Record::new(&id, Step::Staged)).map_err(|e| {
            SetupError(format!(
                "{e}; nothing was sent. The new password stays in {} (pending) until `rekey recover --profile {name}`",
                store.label()
            ))
        })?;
        crash_point("after-staged");
    }
    let promotion = match &store {
        Some(store) => Some(Promotion {
            new: copy(&typed.new).ok_or_else(|| {
                SetupError("the new password does not fit; nothing was sent".into())
            })?,
            old: if store.read_current() {
                None
            } else {
                typed.current.as_ref().and_then(copy)
            },
        }),
        None => None,
    };
    Ok(Prepared {
        _lock: lock,
        journal,
        id,
        typed,
        store,
        promotion,
        begin,
    })
}

/// Writes `pending` and reads it back (the crash hook sits between the two).
fn stage(store: &Store, new: &str) -> Result<(), crate::store::StoreError> {
    store.put(Slot::Pending, new)?;
    crash_point("after-pending-written");
    store.verify(Slot::Pending, new)
}

/// Runs one change through every step of SPEC §10.2. Setup problems (lock, unsettled, store,
/// journal, secret sources) are errors: nothing was sent and nothing is recorded as an attempt.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: reqwest::Client,
    profile: Arc<Profile>,
    place: Place,
    typed: TypedSecrets,
    options: Options,
    log: LogSink,
    change_sent: Arc<AtomicBool>,
    mut interrupt: Interrupt,
) -> Result<Finished, SetupError> {
    let p = profile.clone();
    let prepared = blocking(move || prepare(&p, place, typed)).await??;
    let Prepared {
        _lock,
        journal,
        id,
        typed,
        store,
        promotion,
        begin,
    } = prepared;
    let store = store.map(Arc::new);
    let journal = journal.map(Arc::new);
    // Interrupted before anything left: abort cleanly.
    if let Some(why) = interrupt.fired() {
        let report = Report::new(
            Outcome::NetworkError,
            format!("{why} before the change request was sent; nothing was sent"),
        );
        return finish(journal, store, promotion, id, report, true).await;
    }
    {
        let (j, id) = (journal.clone(), id.clone());
        blocking(move || {
            let records: Vec<Record> = begin
                .into_iter()
                .chain([Record::new(&id, Step::Sending)])
                .collect();
            write_all(j.as_deref(), &records)
                .map_err(|e| SetupError(format!("{e}; nothing was sent")))
        })
        .await??;
    }
    crash_point("after-sending");
    let sent = change_sent.clone();
    let run = provider::run(client, profile.clone(), typed, options, log, change_sent);
    let (report, interrupted) = tokio::select! {
        biased;
        why = interrupt.wait() => {
            let report = if sent.load(std::sync::atomic::Ordering::SeqCst) {
                Report::new(Outcome::Unknown, format!("{why} after the change request was sent: it may have been applied"))
            } else {
                Report::new(Outcome::NetworkError, format!("{why} before the change request was sent; nothing was sent"))
            };
            (Ok(report), true)
        }
        r = run => (r, false),
    };
    let report = match report {
        Ok(r) => r,
        Err(setup) => {
            // A setup problem inside the provider (a secret source): nothing was sent.
            let r = Report::new(Outcome::NetworkError, setup.0.clone());
            let _ = finish(journal, store, promotion, id, r, false).await;
            return Err(setup);
        }
    };
    crash_point("after-answer");
    finish(journal, store, promotion, id, report, interrupted).await
}

/// Steps 4–5: journal the outcome, then promote (success), abort (a definite refusal or
/// nothing sent), or leave the change open (`unknown`).
async fn finish(
    journal: Option<Arc<Journal>>,
    store: Option<Arc<Store>>,
    promotion: Option<Promotion>,
    id: String,
    report: Report,
    interrupted: bool,
) -> Result<Finished, SetupError> {
    let label = store.as_ref().map(|s| s.label());
    let outcome = report.outcome;
    let done = blocking(move || {
        let j = journal.as_deref();
        let mut record = Record::new(&id, Step::Outcome);
        record.outcome = Some(outcome);
        // Without a store no step comes between the outcome and the end: one append.
        if store.is_none() {
            let end = match outcome {
                Outcome::Unknown => None,
                o if o.is_success() => Some(Record::new(&id, Step::Done)),
                _ => Some(Record::new(&id, Step::Aborted).note("refused or not sent")),
            };
            let settled = end.is_some();
            let records: Vec<Record> = [record].into_iter().chain(end).collect();
            return match write_all(j, &records) {
                Ok(()) => (settled, None),
                Err(e) => (false, Some(e)),
            };
        }
        let mut warning = write(j, &record).err();
        crash_point("after-outcome");
        let settled = match outcome {
            Outcome::Unknown => false,
            o if o.is_success() => match &store {
                Some(s) => match promote(s, j, &id, promotion.as_ref()) {
                    Ok(_) => true,
                    Err(e) => {
                        warning = Some(e);
                        false
                    }
                },
                None => write(j, &Record::new(&id, Step::Done)).is_ok(),
            },
            _ => match abandon(store.as_deref(), j, &id, "refused or not sent") {
                Ok(()) => true,
                Err(e) => {
                    warning = Some(e);
                    false
                }
            },
        };
        (settled, warning)
    })
    .await;
    // The answer is in: whatever went wrong while saving it, report the outcome, unsettled.
    let (settled, warning) = done.unwrap_or_else(|_| {
        (
            false,
            Some("internal error while saving the outcome; the journal stays open — run `rekey recover`".into()),
        )
    });
    Ok(Finished {
        report,
        store: label,
        settled,
        interrupted,
        warning,
    })
}

/// What a promotion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promoted {
    /// The new password was written as `current` (and read back) now.
    Now,
    /// An earlier run had finished it (the journal says `promoted`).
    Already,
}

/// Applied: `previous` := the old `current`, `current` := the new password (both read back),
/// journal `promoted`, delete `pending`, journal `done`. The new password is `known` (the one
/// just sent), else `pending` (a settle after a crash). Safe to run again after a crash at any
/// point: a `current` that already holds the new password is not moved to `previous`.
pub fn promote(
    store: &Store,
    journal: Option<&Journal>,
    id: &str,
    known: Option<&Promotion>,
) -> Result<Promoted, String> {
    let label = store.label();
    let err = |what: &str, e: crate::store::StoreError| {
        format!("{label}: {what}: {e}; the new password stays in pending — run `rekey recover`")
    };
    // A change promoting what it just sent cannot have been promoted before; only a settle
    // (after a crash) needs the journal to tell.
    let already = known.is_none() && journal.is_some_and(|j| j.read().promoted(id));
    let pending = store
        .get(Slot::Pending)
        .map_err(|e| err("cannot read pending", e))?;
    let new = match (known, &pending) {
        (Some(k), _) => k.new.expose(),
        (None, Some(p)) => p.expose(),
        (None, None) if already => {
            write(journal, &Record::new(id, Step::Done))?;
            return Ok(Promoted::Already);
        }
        (None, None) => {
            return Err(format!(
                "{label} has no pending password, so rekey cannot tell which password is live: \
                 check by hand, then `rekey recover --profile NAME --applied` after storing it as current"
            ));
        }
    };
    let same =
        |a: &str, b: &str| crate::provider::sign::constant_time_eq(a.as_bytes(), b.as_bytes());
    if !already {
        let current = match store.get(Slot::Current) {
            Ok(current) => current,
            // Unusable (empty, as a store can leave a slot when rekey is killed while writing
            // it): the provider has the new password, so `current` is replaced; `previous`
            // keeps what it holds.
            Err(crate::store::StoreError::Invalid(_)) => None,
            Err(e) => return Err(err("cannot read current", e)),
        };
        if !current.as_ref().is_some_and(|c| same(c.expose(), new)) {
            let old = known
                .and_then(|k| k.old.as_ref())
                .map(SecretBuf::expose)
                .or(current.as_ref().map(SecretBuf::expose));
            if let Some(old) = old {
                store
                    .put_verified(Slot::Previous, old)
                    .map_err(|e| err("cannot write previous", e))?;
                crash_point("after-previous");
            }
            store
                .put_verified(Slot::Current, new)
                .map_err(|e| err("cannot write current", e))?;
            crash_point("after-current");
        }
        write(journal, &Record::new(id, Step::Promoted))?;
    }
    // Only the pending password of this change is removed: another one (a second machine's)
    // stays for its own settle.
    match &pending {
        Some(p) if same(p.expose(), new) => {
            store
                .delete(Slot::Pending)
                .map_err(|e| err("cannot delete pending", e))?;
            crash_point("after-pending-deleted");
        }
        Some(_) => {
            write(journal, &Record::new(id, Step::Done))?;
            return Err(format!(
                "saved to {label}, but its pending slot holds another password (another rekey?): settle it with `rekey recover`"
            ));
        }
        None => {}
    }
    write(journal, &Record::new(id, Step::Done))?;
    Ok(if already {
        Promoted::Already
    } else {
        Promoted::Now
    })
}

/// Not applied: delete `pending`, journal `aborted`.
pub fn abandon(
    store: Option<&Store>,
    journal: Option<&Journal>,
    id: &str,
    why: &str,
) -> Result<(), String> {
    if let Some(store) = store {
        store
            .delete(Slot::Pending)
            .map_err(|e| format!("{}: cannot delete pending: {e}", store.label()))?;
        crash_point("after-pending-deleted");
    }
    write(journal, &Record::new(id, Step::Aborted).note(why))
}

/// The open (unsettled) change of `profile` in `data_dir`, if any, with a warning when the
/// journal had to be set aside.
pub fn unsettled(data_dir: &Path, profile: &str) -> journal::Reading {
    Journal::new(data_dir, profile).read()
}
