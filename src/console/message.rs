//! The one message type the console's loop handles. Everything that changes app state arrives
//! as a `Message`: terminal input, timers, signals, and (next) the worker's reports.

use crossterm::event::Event;

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::app::Loaded;
use crate::change::journal::Open;
use crate::change::settle::Settled;
use crate::secret::SecretBuf;
use crate::state::ProfileState;
use crate::worker::WorkerEvent;

/// One profile's journal reading: its open (unsettled) change, and a warning when the journal
/// had to be set aside.
#[derive(Debug)]
pub struct Unsettled {
    /// The profile's name.
    pub profile: String,
    /// The open change, if any.
    pub open: Option<Open>,
    /// A problem reading the journal.
    pub warning: Option<String>,
}

/// File I/O done off the loop (state and audit writes, a config reload), reporting back.
#[derive(Debug)]
pub enum Disk {
    /// `state.json` was written for `profile` (write number `seq`): every profile's state as
    /// saved, or why it was not.
    State {
        /// The profile the write was for.
        profile: String,
        /// Counts state writes: only the last one's states are taken.
        seq: u64,
        /// Every profile's state as saved, or the error.
        result: Result<BTreeMap<String, ProfileState>, String>,
    },
    /// A line was appended to `audit.jsonl` for `profile`, or why not.
    Audit {
        /// The profile the line was for.
        profile: String,
        /// The error, if the line was not written.
        result: Result<(), String>,
    },
    /// The config file at `path` was read again (`r`).
    Reload {
        /// The file.
        path: PathBuf,
        /// What reading it gave.
        loaded: Loaded,
    },
    /// The task doing the I/O panicked.
    Panicked,
}

/// What a fleet rotation (SPEC §11) started from the console reports, in order: the core's
/// events, then its end.
#[derive(Debug)]
pub enum Rotating {
    /// An event of [`crate::change::rotate::rotate`] (indices are the run's targets).
    Event(crate::change::rotate::Event),
    /// The run ended (every profile's end was an event before this), or could not start.
    Ended(Result<(), String>),
}

/// Something for the console to handle. `Debug` is manual: a paste may hold a password.
pub enum Message {
    /// A terminal event: key, paste, mouse, resize.
    Input(Event),
    /// A deadline the app asked for (reveal expiry) has passed.
    Tick,
    /// SIGTERM/SIGHUP or similar: quit now, wiping secrets.
    Terminate,
    /// The worker reports (log entries, outcomes).
    Worker(Box<WorkerEvent>),
    /// The store's current password for the selection `selection` (read off the loop).
    CurrentRead {
        /// The selection it was read for (ignored when the selection changed meanwhile).
        selection: u64,
        /// The store's label.
        label: String,
        /// The password, none when the slot is empty, or the store's error.
        result: Result<Option<SecretBuf>, String>,
    },
    /// Every profile's journal, read off the loop.
    Journals(Vec<Unsettled>),
    /// A settle (`R`) ended.
    Settled {
        /// The profile (index into the profiles).
        profile: usize,
        /// What it found and did, or why it could not start.
        result: Result<Settled, String>,
    },
    /// File I/O done off the loop ended.
    Disk(Disk),
    /// The rotation started from the console reports.
    Rotation(Rotating),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Input(Event::Paste(text)) => {
                write!(
                    f,
                    "Input(Paste([redacted], {} chars))",
                    text.chars().count()
                )
            }
            Message::Input(Event::Key(key)) if key.code.as_char().is_some() => {
                f.write_str("Input(Key([redacted]))")
            }
            Message::Input(event) => write!(f, "Input({event:?})"),
            Message::Tick => f.write_str("Tick"),
            Message::Terminate => f.write_str("Terminate"),
            Message::Worker(event) => write!(f, "Worker({event:?})"),
            Message::CurrentRead {
                selection, label, ..
            } => write!(f, "CurrentRead({selection}, {label}, [redacted])"),
            Message::Journals(readings) => write!(f, "Journals({readings:?})"),
            Message::Settled { profile, result } => write!(f, "Settled({profile}, {result:?})"),
            Message::Disk(done) => write!(f, "Disk({done:?})"),
            Message::Rotation(r) => write!(f, "Rotation({r:?})"),
        }
    }
}
