//! The demo's password store: `rekey demo-store --dir DIR get|put|delete SLOT`, a `command`
//! store backend (SPEC §10.1) built into the binary so `rekey demo` needs nothing installed.
//! Slots are files `DIR/PROFILE.SLOT` (0600, written to a temp file, fsynced, renamed).
//! Hidden from `--help`: users point the `command` backend at their own store.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::config::{Profile, StoreConfig};

/// Exit code of `get` for an empty slot (SPEC §10.1).
const EMPTY: u8 = 3;

/// The largest secret the demo store takes.
const MAX: usize = 64 * 1024;

/// Runs one store command; the exit code follows the `command` backend's protocol.
pub fn run(dir: &Path, action: &str, slot: &str) -> u8 {
    if !matches!(slot, "current" | "pending" | "previous") {
        eprintln!("demo-store: unknown slot (current, pending or previous)");
        return 2;
    }
    let profile = std::env::var("REKEY_PROFILE").unwrap_or_default();
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || profile.starts_with('.')
    {
        eprintln!("demo-store: REKEY_PROFILE is missing or not a profile name");
        return 2;
    }
    let path = dir.join(format!("{profile}.{slot}"));
    let result = match action {
        "get" => get(&path),
        "put" => put(dir, &path),
        "delete" => match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(0),
        },
        _ => {
            eprintln!("demo-store: unknown action (get, put or delete)");
            return 2;
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("demo-store: {action} {slot}: {e}");
            1
        }
    }
}

fn get(path: &Path) -> io::Result<u8> {
    let bytes = match fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(EMPTY),
        Err(e) => return Err(e),
    };
    // Straight to fd 1: std's stdout buffer would keep a copy of the password.
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        match rustix::io::write(rustix::stdio::stdout(), rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(0)
}

fn put(dir: &Path, path: &Path) -> io::Result<u8> {
    // Allocated once at its limit, so reading never reallocates (a copy of the secret).
    let mut secret = Zeroizing::new(Vec::with_capacity(MAX + 1));
    // Straight from fd 0 (std's stdin buffer would keep a copy).
    super::RawStdin
        .take(MAX as u64 + 1)
        .read_to_end(&mut secret)?;
    if secret.len() > MAX {
        return Err(io::Error::other("secret too long"));
    }
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    let tmp: PathBuf = dir.join(format!(
        ".tmp-{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(&secret)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        crate::fsutil::sync_dir(dir)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| 0)
}

/// The demo profiles whose passwords live in the demo's store.
pub const DEMO_STORED: [&str; 5] = ["bm-vpn", "redis-aksk", "iam-alice", "iam-admin", "portal"];

/// The demo profile whose first change the simulator holds, so it can be interrupted and
/// settled with `R`.
pub const DEMO_HELD: &str = "iam-admin";

/// The demo's private folder (its store and journal); removed when dropped.
pub type DemoDir = crate::fsutil::TempDir;

/// Makes a private folder for a demo (0700, in memory where the system offers it: the demo's
/// passwords never reach a disk, and its journal's fsyncs cost nothing; else the temp dir)
/// with a `store` folder in it.
fn new_dir() -> io::Result<(DemoDir, PathBuf)> {
    let dir = DemoDir::new("rekey-demo-")?;
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    let store = dir.path.join("store");
    builder.create(&store)?;
    Ok((dir, store))
}

/// Writes `password` as the `current` slot of `profile` in the demo store at `store`.
fn seed(store: &Path, profile: &str, password: &str) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(store.join(format!("{profile}.current")))?
        .write_all(password.as_bytes())
}

/// For `rekey sim --fleet N`: a private folder whose store holds every fleet profile's current
/// password, and the `command` that reads it (this binary's `demo-store`).
pub fn fleet(passwords: &[(String, Zeroizing<String>)]) -> io::Result<(DemoDir, Vec<String>)> {
    let (dir, store) = new_dir()?;
    for (profile, password) in passwords {
        seed(&store, profile, password)?;
    }
    Ok((dir, store_command(&store)?))
}

/// The `command` store argv that runs this binary's `demo-store` on `store`.
fn store_command(store: &Path) -> io::Result<Vec<String>> {
    Ok(vec![
        std::env::current_exe()?.display().to_string(),
        "demo-store".into(),
        "--dir".into(),
        store.display().to_string(),
    ])
}

/// Makes the demo's folder, gives the [`DEMO_STORED`] profiles a `store` (the built-in store
/// above, run through this very binary) whose `current` is seeded with the simulator's
/// password, and says in [`DEMO_HELD`]'s notes how to settle the change the simulator holds.
pub fn setup(
    profiles: &mut [Profile],
    passwords: &[(String, Zeroizing<String>)],
) -> io::Result<DemoDir> {
    let (dir, store) = new_dir()?;
    let command = store_command(&store)?;
    for p in profiles {
        if p.name == DEMO_HELD
            && let Some(notes) = &mut p.notes
        {
            notes.push_str(
                " The simulator holds this profile's first change: press Esc while it waits, \
                 then R settles it.",
            );
        }
        if !DEMO_STORED.contains(&p.name.as_str()) {
            continue;
        }
        p.store = Some(StoreConfig::command(command.clone(), p.name.clone()));
        if let Some((_, password)) = passwords.iter().find(|(name, _)| name == &p.name) {
            seed(&store, &p.name, password)?;
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreBackend;

    #[tokio::test]
    async fn the_demo_profiles_get_stores_seeded_with_the_simulators_passwords() {
        let sim = crate::sim::Simulator::start(([127, 0, 0, 1], 0).into())
            .await
            .expect("simulator");
        let passwords: Vec<_> = sim
            .credentials()
            .into_iter()
            .filter_map(|a| a.password.map(|p| (a.profile, p)))
            .collect();
        let mut profiles = sim.profiles();
        let dir = setup(&mut profiles, &passwords).expect("setup");
        let stored: Vec<&str> = profiles
            .iter()
            .filter(|p| p.store.is_some())
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(stored, DEMO_STORED);
        for p in profiles.iter().filter(|p| p.store.is_some()) {
            let store = p.store.as_ref().expect("store");
            assert_eq!(store.entry, p.name);
            let StoreBackend::Command { argv } = &store.backend else {
                panic!("{}: {:?}", p.name, store.backend);
            };
            assert_eq!(argv[1..3], ["demo-store", "--dir"]);
            assert_eq!(Path::new(&argv[3]), dir.path.join("store"));
        }
        for name in DEMO_STORED {
            let live = passwords.iter().find(|(p, _)| p == name).expect("password");
            let seeded =
                fs::read_to_string(dir.path.join(format!("store/{name}.current"))).expect("seeded");
            assert_eq!(seeded, live.1.as_str(), "{name}");
        }
        let held = profiles.iter().find(|p| p.name == DEMO_HELD).expect("held");
        let notes = held.notes.as_deref().expect("notes");
        assert!(
            notes.ends_with("press Esc while it waits, then R settles it."),
            "{notes}"
        );
        // The demo's profiles, stores and all, are what a file of them gives.
        let text = crate::config::write::profiles(&profiles);
        let mut parsed = crate::config::parse(Path::new("/demo/profiles.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        for p in &mut parsed.profiles {
            p.line = 0;
        }
        assert_eq!(format!("{:#?}", parsed.profiles), format!("{profiles:#?}"));
        assert_eq!(crate::config::write::profiles(&parsed.profiles), text);
        let path = dir.path.clone();
        drop(dir);
        assert!(!path.exists(), "removed with the demo");
    }
}
