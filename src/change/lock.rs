//! Lock files (`flock`): one per profile, so two rekey processes never change one profile at
//! once (the second is refused), and one for `state.json`, so parallel updates are serialized.
//! The kernel drops a lock when its holder dies, so a crash never leaves a profile locked.

use std::fs::File;
use std::io;
use std::path::Path;

use super::journal::JOURNAL_DIR;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Held {
    file: File,
}

impl Drop for Held {
    /// Unlocks before closing. A `flock` belongs to the open file, which a child forked by
    /// another thread shares until it runs its program: closing only our descriptor would
    /// leave the lock taken for that long (and to another rekey process, busy).
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = rustix::fs::flock(&self.file, rustix::fs::FlockOperation::Unlock);
    }
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another rekey process is changing or settling `{0}` right now; wait for it to finish (nothing was sent)"
    )]
    Busy(String),
    /// The lock file could not be opened.
    #[error("cannot open the lock file {0}: {1}")]
    Io(String, io::Error),
}

/// Opens a lock file in the data dir: created 0600, a regular file only, never through a link,
/// never blocking; its folder the user's own and writable by nobody else.
fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        match dir.file_name() {
            // `journal/PROFILE.lock`: the data dir, then the journal folder (never a link).
            Some(name) if name == JOURNAL_DIR => {
                if let Some(data_dir) = dir.parent() {
                    crate::fsutil::private_dir(data_dir, true)?;
                }
                crate::fsutil::private_dir(dir, false)?;
            }
            _ => crate::fsutil::private_dir(dir, true)?,
        }
    }
    crate::fsutil::open_lock(path)
}

/// How long a profile lock may look taken before it is reported busy. A lock this process
/// let go of is unlocked at once ([`Held`]'s drop), even while a child forked by another of
/// its threads (a store command of a rotation's other profile) still shares its file; the wait
/// is a backstop for a holder that closed without unlocking. Another rekey process holds it
/// for a whole change.
const TRANSIENT: std::time::Duration = std::time::Duration::from_millis(200);

/// Takes `profile`'s change lock, waiting at most [`TRANSIENT`]: Busy when another process
/// holds it. Blocking: call it off the async thread.
pub fn profile(data_dir: &Path, profile: &str) -> Result<Held, LockError> {
    let path = data_dir.join(JOURNAL_DIR).join(format!("{profile}.lock"));
    let file = open(&path).map_err(|e| LockError::Io(path.display().to_string(), e))?;
    #[cfg(unix)]
    {
        let start = std::time::Instant::now();
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < TRANSIENT => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(LockError::Busy(profile.to_string()));
                }
                Err(e) => return Err(LockError::Io(path.display().to_string(), e.into())),
            }
        }
    }
    Ok(Held { file })
}

/// Takes the lock at `path` without waiting: None when another process holds it.
pub fn try_file(path: &Path) -> io::Result<Option<Held>> {
    let file = open(path)?;
    #[cfg(unix)]
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    Ok(Some(Held { file }))
}

/// Takes the lock at `path`, waiting for other holders (short critical sections only).
pub fn wait(path: &Path) -> io::Result<Held> {
    let file = open(path)?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Held { file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("rekey-lock-{}", std::process::id()));
        let first = profile(&dir, "p").expect("first");
        let second = profile(&dir, "p");
        assert!(matches!(second, Err(LockError::Busy(_))), "{second:?}");
        assert!(profile(&dir, "other").is_ok(), "locks are per profile");
        drop(first);
        assert!(profile(&dir, "p").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lock_let_go_is_free_while_a_forked_child_still_shares_its_file() {
        let dir = crate::fsutil::TempDir::new("rekey-lock-fork-").expect("temp dir");
        let path = dir.path.join("p.lock");
        let held = try_file(&path).expect("open").expect("free");
        // What a child forked by another thread holds until it execs: a second descriptor on
        // the same open file.
        let child_copy = held.file.try_clone().expect("dup");
        drop(held);
        // Taken at once, without waiting for the child.
        assert!(try_file(&path).expect("open").is_some());
        drop(child_copy);
    }
}
