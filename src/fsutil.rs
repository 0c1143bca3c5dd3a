//! Safe file handling in the data dir (SPEC §9): every file rekey opens there is opened without
//! following a symbolic link, only when it is a regular file, without ever blocking (a FIFO or
//! a device planted under a known name is refused, not waited on) and, when read, up to a size
//! cap. Temp files get a random name and are created exclusively. The data dir itself must
//! belong to the user and be writable by nobody else, since whoever can write there could plant
//! links under the names rekey writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The largest `state.json` rekey reads (a few hundred bytes per profile in practice).
pub const STATE_CAP: u64 = 8 << 20;
/// The largest journal rekey reads (about 1 KiB per change: thousands of changes).
pub const JOURNAL_CAP: u64 = 32 << 20;

/// Why a data dir is refused.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDir {
    /// Group or others may write into it.
    #[error(
        "the data directory {dir} can be written by other users (mode {mode:04o}): they could plant links \
         there that make rekey overwrite your files. Fix it with `chmod 700 {dir}`, \
         or set REKEY_DATA_DIR to a private directory"
    )]
    WritableByOthers {
        /// The dir.
        dir: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Someone else owns it.
    #[error(
        "the data directory {dir} belongs to uid {owner}, not to you (uid {me}): its owner could make rekey \
         overwrite your files. Use a directory you own: set REKEY_DATA_DIR, or move this one aside"
    )]
    NotOwned {
        /// The dir.
        dir: String,
        /// Its owner.
        owner: u32,
        /// The user rekey runs as.
        me: u32,
    },
    /// Not a directory (or, inside the data dir, a link to one).
    #[error(
        "{0} is not a directory (rekey never follows a link inside its data directory); move it aside"
    )]
    NotADir(String),
    /// Its metadata could not be read.
    #[error("cannot inspect the data directory {0}: {1}")]
    Io(String, io::Error),
}

impl From<UnsafeDir> for io::Error {
    fn from(e: UnsafeDir) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, e.to_string())
    }
}

/// Checks that `dir` (when it exists) is a directory owned by the user and not writable by
/// group or others. `follow`: whether `dir` itself may be a symbolic link (the data dir the
/// user named may be; folders rekey makes inside it may not).
pub fn check_private_dir(dir: &Path, follow: bool) -> Result<(), UnsafeDir> {
    let shown = || dir.display().to_string();
    let meta = match if follow {
        fs::metadata(dir)
    } else {
        fs::symlink_metadata(dir)
    } {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(UnsafeDir::Io(shown(), e)),
    };
    if !meta.is_dir() {
        return Err(UnsafeDir::NotADir(shown()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(UnsafeDir::NotOwned {
                dir: shown(),
                owner: meta.uid(),
                me,
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(UnsafeDir::WritableByOthers { dir: shown(), mode });
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) readable by the owner only, then checks it as
/// [`check_private_dir`] does: a dir someone else made first is refused, not used.
pub fn private_dir(dir: &Path, follow: bool) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    check_private_dir(dir, follow)?;
    Ok(())
}

/// Flags for every open in the data dir: no link followed, never blocking, not inherited.
fn safe_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        options.mode(0o600).custom_flags(flags.bits() as i32);
    }
    options
}

/// Refuses anything at `path` that is not a regular file, before opening it (opening a device
/// can have effects of its own); a missing file passes.
fn refuse_special(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link, and rekey never follows links in its data directory; move it aside",
        )),
        Ok(meta) if !meta.is_file() => Err(not_regular()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "it is not a regular file (a FIFO, a device or a folder?); move it aside",
    )
}

/// Checks an opened file is a regular one (the name may have changed since it was inspected).
fn regular(file: File) -> io::Result<File> {
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(not_regular())
    }
}

/// Reads the regular file at `path`, up to `cap` bytes: a link, a FIFO, a device or a larger
/// file is an error (NotFound passes through as it is).
pub fn read_regular(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    refuse_special(path)?;
    let file = regular(safe_options().read(true).open(path)?)?;
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} MiB, more than rekey ever writes",
                cap >> 20
            ),
        )
    };
    let len = file.metadata()?.len();
    if len > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}

/// Opens the regular file at `path` for appending (and reading its end), creating it 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    refuse_special(path)?;
    regular(
        safe_options()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?,
    )
}

/// Opens (creating, never truncating) the regular file at `path` for a lock.
pub fn open_lock(path: &Path) -> io::Result<File> {
    refuse_special(path)?;
    regular(
        safe_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?,
    )
}

/// A private folder with a fresh random name (0700), removed with everything in it when
/// dropped. In memory (`/dev/shm`) where the system offers it, else the temp dir.
#[derive(Debug)]
pub struct TempDir {
    /// The folder.
    pub path: PathBuf,
}

impl TempDir {
    /// Makes `PREFIX<random>` in `/dev/shm` or the temp dir.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("{prefix}{name}"));
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&path)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Creates a new temp file `dir/PREFIX<random>SUFFIX`, 0600, exclusively (never an existing
/// name, never through a link).
pub fn create_temp(dir: &Path, prefix: &str, suffix: &str) -> io::Result<(PathBuf, File)> {
    for _ in 0..16 {
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{prefix}{name}{suffix}"));
        match safe_options().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temp file name",
    ))
}

/// Removes temp files `dir/PREFIX*SUFFIX` older than `age` that a killed rekey left behind.
/// Only names of that shape directly in `dir`, only files or links (a link is removed, never
/// followed), only the user's own; the caller holds the lock their writers hold.
pub fn remove_stale_temps(dir: &Path, prefix: &str, suffix: &str, age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !(name.starts_with(prefix) && name.ends_with(suffix))
            || name.len() <= prefix.len() + suffix.len()
        {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !(meta.is_file() || meta.file_type().is_symlink()) {
            continue;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.uid() != rustix::process::geteuid().as_raw() {
                continue;
            }
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|d| d >= age);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// fsyncs a folder, so a new or renamed name in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rekey-fsutil-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        private_dir(&dir, true).expect("dir");
        dir
    }

    #[test]
    fn links_fifos_and_devices_are_refused_and_never_block() {
        let dir = temp("special");
        let victim = dir.join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("link")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            dir.join("fifo"),
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        for name in ["link", "zero", "fifo"] {
            let path = dir.join(name);
            assert!(read_regular(&path, STATE_CAP).is_err(), "{name}");
            assert!(open_append(&path).is_err(), "{name}");
            assert!(open_lock(&path).is_err(), "{name}");
        }
        assert!(read_regular(Path::new("/dev/zero"), STATE_CAP).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_are_capped() {
        let dir = temp("cap");
        fs::write(dir.join("big"), vec![b'x'; 2048]).unwrap();
        assert!(read_regular(&dir.join("big"), 1024).is_err());
        assert_eq!(read_regular(&dir.join("big"), 4096).unwrap().len(), 2048);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_dir_others_can_write_is_refused() {
        let dir = temp("mode");
        assert!(check_private_dir(&dir, true).is_ok());
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_private_dir(&dir, true).unwrap_err().to_string();
        assert!(
            e.contains("can be written by other users") && e.contains("0777"),
            "{e}"
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o720)).unwrap();
        assert!(check_private_dir(&dir, true).is_err());
        assert!(
            private_dir(&dir, true).is_err(),
            "refused after creating too"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn temp_files_are_new_random_and_stale_ones_are_removed() {
        let dir = temp("tmp");
        let (a, _) = create_temp(&dir, ".x.", ".tmp").unwrap();
        let (b, _) = create_temp(&dir, ".x.", ".tmp").unwrap();
        assert_ne!(a, b);
        let old = File::options().write(true).open(&a).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        fs::write(dir.join("keep.tmp"), b"").unwrap();
        remove_stale_temps(&dir, ".x.", ".tmp", Duration::from_secs(60));
        assert!(!a.exists(), "the old one is removed");
        assert!(b.exists(), "a fresh one (a writer's) is kept");
        assert!(dir.join("keep.tmp").exists(), "other names are kept");
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Whether `file` is empty or ends with a newline.
pub fn ends_with_newline(file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len - 1)?;
        Ok(last[0] == b'\n')
    }
    #[cfg(not(unix))]
    Ok(true)
}
