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
