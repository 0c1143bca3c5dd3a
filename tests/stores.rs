//! The password-store backends (SPEC §10.1) against the real tools: `pass` with a throwaway GPG
//! key, `keepassxc-cli` on a fresh database, `secret-tool` on a private D-Bus session with
//! gnome-keyring, and the `command` backend with `tests/store-script.sh`.
//!
//! A missing tool skips its test loudly (SKIPPED on stderr), unless `REKEY_REQUIRE_STORE_TOOLS=1`
//! (CI) makes it a failure. Debian: `apt-get install pass gnupg keepassxc gnome-keyring
//! libsecret-tools dbus`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekey::config::{SecretSource, StoreBackend, StoreConfig};
use rekey::secret::SecretBuf;
use rekey::store::{Slot, Store, StoreError};
use zeroize::Zeroizing;

/// Must never show up in a message or a `Debug`.
const CANARY: &str = "Canary-7f3Q!x9#Zp";
const SECOND: &str = "Second-pw_42%Lk";
const SLOTS: [Slot; 3] = [Slot::Current, Slot::Pending, Slot::Previous];

/// The one skip rule: true when `tool` is on PATH; otherwise SKIPPED on stderr, or a failure
/// when `REKEY_REQUIRE_STORE_TOOLS=1`.
fn have_tool(tool: &str, packages: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if found {
        return true;
    }
    let why = format!("{tool} not installed (Debian: apt-get install {packages})");
    if std::env::var("REKEY_REQUIRE_STORE_TOOLS").as_deref() == Ok("1") {
        panic!("{why}, and REKEY_REQUIRE_STORE_TOOLS=1 requires it");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: {why}; set REKEY_REQUIRE_STORE_TOOLS=1 to fail instead ***\n"
    );
    false
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "rekey-stores-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        set_mode(&dir, 0o700);
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn config(backend: StoreBackend, entry: &str, timeout_secs: u64) -> StoreConfig {
    StoreConfig {
        backend,
        entry: entry.into(),
        read_current: true,
        timeout_secs,
    }
}

/// Runs a setup command (not the code under test), with `input` on stdin; panics on failure.
fn setup(cmd: &mut Command, input: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setup command runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("setup command finishes");
    assert!(
        out.status.success(),
        "setup {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(store: &Store, slot: Slot) -> Option<String> {
    store
        .get(slot)
        .unwrap_or_else(|e| panic!("get {} from {}: {e}", slot.as_str(), store.label()))
        .map(|buf| buf.expose().to_string())
}

/// Panics when a secret shows up in a message or a Debug.
fn assert_clean(text: &str) {
    for secret in [CANARY, SECOND] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

fn assert_err_clean(err: &StoreError) {
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
}

/// Every slot: empty, written (verified), read, replaced, deleted, deleted again; slots are
/// independent of each other.
fn exercise_all_slots(store: &Store) {
    for slot in SLOTS {
        store.delete(slot).expect("clean start");
        assert_eq!(read(store, slot), None, "{} starts empty", slot.as_str());
    }
    for slot in SLOTS {
        store.put_verified(slot, CANARY).expect("put_verified");
        assert_eq!(read(store, slot).as_deref(), Some(CANARY));
        store.put(slot, SECOND).expect("replace");
        assert_eq!(read(store, slot).as_deref(), Some(SECOND));
    }
    store.delete(Slot::Pending).expect("delete pending");
    assert_eq!(read(store, Slot::Pending), None);
    assert_eq!(read(store, Slot::Current).as_deref(), Some(SECOND));
    assert_eq!(read(store, Slot::Previous).as_deref(), Some(SECOND));
    store
        .delete(Slot::Pending)
        .expect("deleting an empty slot is fine");
    for slot in SLOTS {
        store.delete(slot).expect("delete");
        assert_eq!(read(store, slot), None);
    }
    // A password with spaces, quotes and non-ASCII travels exactly.
    let odd = "a b'\"$(x)`;\\ é€ ";
    store
        .put_verified(Slot::Pending, odd)
        .expect("odd password");
    assert_eq!(read(store, Slot::Pending).as_deref(), Some(odd));
    store.delete(Slot::Pending).expect("delete");
    assert_clean(&format!("{store:?}"));
}

/// Every backend says "not installed" with the Debian package when its tool is not on PATH.
#[test]
fn a_missing_tool_is_named_with_its_package() {
    let empty = TempDir::new("nopath");
    let cases = [
        (
            StoreBackend::Pass,
            "pass is not installed (Debian: apt-get install pass)",
        ),
        (
            StoreBackend::Keepassxc {
                database: "/nonexistent.kdbx".into(),
                database_password: Some(SecretSource::Value(Zeroizing::new(CANARY.into()))),
                key_file: None,
            },
            "keepassxc-cli is not installed (Debian: apt-get install keepassxc)",
        ),
        (StoreBackend::SecretService, "secret-tool is not installed"),
        (
            StoreBackend::Command {
                argv: vec!["rekey-no-such-store".into()],
            },
            "store command `rekey-no-such-store` was not found",
        ),
    ];
    for (backend, expected) in cases {
        let store = Store::new("p", &config(backend, "e", 5)).with_env("PATH", empty.path());
        for result in [
            store.get(Slot::Current).map(|_| ()),
            store.put(Slot::Pending, CANARY),
            store.delete(Slot::Previous),
        ] {
            let err = result.expect_err("missing tool");
            assert!(matches!(err, StoreError::Missing(_)), "{err:?}");
            assert!(err.to_string().contains(expected), "{err}");
            assert_err_clean(&err);
        }
    }
}

// ---------------------------------------------------------------- pass

/// A GPG home with a throwaway key and an initialized password store; stops its gpg-agent.
struct PassHome {
    dir: TempDir,
}

impl PassHome {
    fn new() -> PassHome {
        let dir = TempDir::new("pass");
        let gnupg = dir.path().join("gnupg");
        std::fs::create_dir(&gnupg).expect("gnupg dir");
        set_mode(&gnupg, 0o700);
        let home = PassHome { dir };
        setup(
            home.command("gpg").args([
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "rekey test <rekey-test@example.invalid>",
                "default",
                "default",
                "never",
            ]),
            b"",
        );
        let keys = setup(
            home.command("gpg")
                .args(["--batch", "--list-keys", "--with-colons"]),
            b"",
        );
        let fingerprint = keys
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .expect("fingerprint")
            .to_string();
        setup(home.command("pass").args(["init", &fingerprint]), b"");
        home
    }

    fn gnupg(&self) -> PathBuf {
        self.dir.path().join("gnupg")
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("GNUPGHOME", self.gnupg())
            .env("PASSWORD_STORE_DIR", self.store_dir());
        cmd
    }

    fn store(&self, entry: &str) -> Store {
        Store::new("redis-prod", &config(StoreBackend::Pass, entry, 30))
            .with_env("GNUPGHOME", self.gnupg())
            .with_env("PASSWORD_STORE_DIR", self.store_dir())
    }
}

impl Drop for PassHome {
    fn drop(&mut self) {
        let _ = self
            .command("gpgconf")
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn pass_slots_and_the_other_lines_of_the_entry() {
    if !have_tool("pass", "pass gnupg") || !have_tool("gpg", "gnupg") {
        return;
    }
    let home = PassHome::new();
    let store = home.store("cloud/redis-prod");
    assert_eq!(store.label(), "pass:cloud/redis-prod");
    exercise_all_slots(&store);

    // The slots are the entries ENTRY, ENTRY.rekey-pending, ENTRY.rekey-previous.
    for slot in SLOTS {
        store.put(slot, CANARY).expect("put");
    }
    for file in [
        "redis-prod.gpg",
        "redis-prod.rekey-pending.gpg",
        "redis-prod.rekey-previous.gpg",
    ] {
        assert!(
            home.store_dir().join("cloud").join(file).is_file(),
            "{file}"
        );
    }
    for slot in SLOTS {
        store.delete(slot).expect("delete");
    }

    // Writing current replaces line 1 only: the entry's other lines stay as they were.
    setup(
        home.command("pass")
            .args(["insert", "-m", "-f", "cloud/redis-prod"]),
        b"old-Pw1\nuser: ops\nurl: https://redis.example\n\nnotes: keep me\n",
    );
    assert_eq!(read(&store, Slot::Current).as_deref(), Some("old-Pw1"));
    store.put_verified(Slot::Current, CANARY).expect("put");
    let entry = setup(home.command("pass").args(["show", "cloud/redis-prod"]), b"");
    assert_eq!(
        entry,
        format!("{CANARY}\nuser: ops\nurl: https://redis.example\n\nnotes: keep me\n")
    );
    // Pending is an entry of its own: the password and nothing else.
    store.put(Slot::Pending, SECOND).expect("put");
    let pending = setup(
        home.command("pass")
            .args(["show", "cloud/redis-prod.rekey-pending"]),
        b"",
    );
    assert_eq!(pending, format!("{SECOND}\n"));

    // A missing entry is an empty slot; a folder is not an entry.
    assert_eq!(read(&home.store("cloud/nothing-here"), Slot::Current), None);
    let err = home
        .store("cloud")
        .get(Slot::Current)
        .expect_err("a folder");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("folder"), "{err}");

    // An entry whose first line is empty has no password to read.
    setup(
        home.command("pass")
            .args(["insert", "-m", "-f", "cloud/blank"]),
        b"\nuser: ops\n",
    );
    let err = home
        .store("cloud/blank")
        .get(Slot::Current)
        .expect_err("empty first line");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // A store pass cannot use fails with pass's words and no secret.
    let broken = Store::new("p", &config(StoreBackend::Pass, "cloud/redis-prod", 30))
        .with_env("GNUPGHOME", home.gnupg())
        .with_env("PASSWORD_STORE_DIR", home.dir.path().join("no-store"));
    let err = broken.put(Slot::Current, CANARY).expect_err("no store");
    assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
    assert_err_clean(&err);
}

// ---------------------------------------------------------------- keepassxc

const KDBX_PASSWORD: &str = "Db-pass 9!x";

fn keepassxc_store(
    database: &Path,
    password: Option<SecretSource>,
    key_file: Option<PathBuf>,
    home: &Path,
) -> Store {
    let backend = StoreBackend::Keepassxc {
        database: database.into(),
        database_password: password,
        key_file,
    };
    Store::new("redis-prod", &config(backend, "Cloud/redis-prod", 30)).with_env("HOME", home)
}

fn value(secret: &str) -> Option<SecretSource> {
    Some(SecretSource::Value(Zeroizing::new(secret.into())))
}

#[test]
fn keepassxc_slots_groups_and_database_passwords() {
    if !have_tool("keepassxc-cli", "keepassxc") {
        return;
    }
    let dir = TempDir::new("keepassxc");
    let database = dir.path().join("vault.kdbx");
    setup(
        Command::new("keepassxc-cli")
            .env("HOME", dir.path())
            .args(["db-create", "-p"])
            .arg(&database),
        format!("{KDBX_PASSWORD}\n{KDBX_PASSWORD}\n").as_bytes(),
    );
    let store = keepassxc_store(&database, value(KDBX_PASSWORD), None, dir.path());
    assert_eq!(store.label(), "keepassxc:Cloud/redis-prod");
    assert!(!store.needs_unlock());
    // The group Cloud does not exist yet: the first put makes it.
    exercise_all_slots(&store);

    // The slots are the entries ENTRY, "ENTRY (rekey pending)", "ENTRY (rekey previous)".
    for slot in SLOTS {
        store.put(slot, CANARY).expect("put");
    }
    let listing = setup(
        Command::new("keepassxc-cli")
            .env("HOME", dir.path())
            .args(["ls", "-R", "-f"])
            .arg(&database),
        format!("{KDBX_PASSWORD}\n").as_bytes(),
    );
    for name in [
        "Cloud/redis-prod",
        "Cloud/redis-prod (rekey pending)",
        "Cloud/redis-prod (rekey previous)",
    ] {
        assert!(listing.lines().any(|l| l == name), "{name} in {listing}");
    }

    // Nested groups are made level by level; an entry at the root needs none.
    for entry in ["Ops/Cloud/deep/db", "root-entry"] {
        let backend = StoreBackend::Keepassxc {
            database: database.clone(),
            database_password: value(KDBX_PASSWORD),
            key_file: None,
        };
        let nested = Store::new("n", &config(backend, entry, 30)).with_env("HOME", dir.path());
        nested.put_verified(Slot::Pending, SECOND).expect(entry);
        assert_eq!(read(&nested, Slot::Pending).as_deref(), Some(SECOND));
    }

    // A database password from a command source works like a written one, and its command
    // runs once for all the tool runs of the store.
    let runs = dir.path().join("password-command-runs");
    let from_command = keepassxc_store(
        &database,
        Some(SecretSource::Command(vec![
            "sh".into(),
            "-c".into(),
            format!(
                "echo run >> '{}'; printf '%s\\n' '{KDBX_PASSWORD}'",
                runs.display()
            ),
        ])),
        None,
        dir.path(),
    );
    assert_eq!(read(&from_command, Slot::Current).as_deref(), Some(CANARY));
    from_command
        .put_verified(Slot::Previous, SECOND)
        .expect("put");
    let count = std::fs::read_to_string(&runs)
        .expect("runs")
        .lines()
        .count();
    assert_eq!(
        count, 1,
        "the password command ran once for three tool runs"
    );

    // A wrong database password is refused clearly, with no secret in the message.
    let wrong = keepassxc_store(&database, value(SECOND), None, dir.path());
    for result in [
        wrong.get(Slot::Current).map(|_| ()),
        wrong.put(Slot::Pending, CANARY),
        wrong.delete(Slot::Previous),
    ] {
        let err = result.expect_err("wrong password");
        assert!(matches!(err, StoreError::NeedsPassword(_)), "{err:?}");
        assert!(err.to_string().contains("wrong database password"), "{err}");
        assert!(!err.to_string().contains(KDBX_PASSWORD), "{err}");
        assert_err_clean(&err);
    }
    assert_eq!(read(&store, Slot::Pending).as_deref(), Some(CANARY));

    // A typed database password: needed until given.
    let mut prompted = keepassxc_store(&database, Some(SecretSource::Prompt), None, dir.path());
    assert!(prompted.needs_unlock());
    let err = prompted.get(Slot::Current).expect_err("locked");
    assert!(matches!(err, StoreError::NeedsPassword(_)), "{err:?}");
    let mut typed = SecretBuf::password();
    typed.insert_str(KDBX_PASSWORD).expect("fits");
    prompted.unlock(typed);
    assert!(!prompted.needs_unlock());
    assert_eq!(read(&prompted, Slot::Current).as_deref(), Some(CANARY));
    let debug = format!("{prompted:?}");
    assert!(!debug.contains(KDBX_PASSWORD), "{debug}");
    assert_clean(&debug);

    // A database that is not there is an error, not an empty slot.
    let gone = keepassxc_store(
        &dir.path().join("gone.kdbx"),
        value(KDBX_PASSWORD),
        None,
        dir.path(),
    );
    let err = gone.get(Slot::Current).expect_err("no database");
    assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
    assert_err_clean(&err);
}

#[test]
fn keepassxc_with_a_key_file_only() {
    if !have_tool("keepassxc-cli", "keepassxc") {
        return;
    }
    let dir = TempDir::new("keepassxc-key");
    let database = dir.path().join("vault.kdbx");
    let key_file = dir.path().join("vault.key");
    setup(
        Command::new("keepassxc-cli")
            .env("HOME", dir.path())
            .args(["db-create", "--set-key-file"])
            .arg(&key_file)
            .arg(&database),
        b"",
    );
    let store = keepassxc_store(&database, None, Some(key_file.clone()), dir.path());
    store.put_verified(Slot::Pending, CANARY).expect("put");
    assert_eq!(read(&store, Slot::Pending).as_deref(), Some(CANARY));
    store.delete(Slot::Pending).expect("delete");
    assert_eq!(read(&store, Slot::Pending), None);
    // The wrong key file is refused.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, b"not the key").expect("write");
    let wrong = keepassxc_store(&database, None, Some(other_key), dir.path());
    let err = wrong.get(Slot::Current).expect_err("wrong key");
    assert!(matches!(err, StoreError::NeedsPassword(_)), "{err:?}");
}

// ---------------------------------------------------------------- secret-service

/// A private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked; both
/// processes are killed on drop. The bus has no service directories, so nothing is
/// auto-started behind the test's back.
struct Keyring {
    _dir: TempDir,
    bus: Child,
    keyring: Child,
    address: String,
}

impl Keyring {
    fn start() -> Keyring {
        let dir = TempDir::new("keyring");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().join("bus").display()
            ),
        )
        .expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("bus address");
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address {address:?}");

        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        set_mode(&runtime, 0o700);
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        // The login keyring's password, read to end of input.
        drop(
            keyring
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"keyring-login-pw"),
        );
        let ready = Keyring {
            _dir: dir,
            bus,
            keyring,
            address,
        };
        ready.wait_until_serving();
        ready
    }

    /// Waits (with a deadline) until a lookup gets a plain "no such item" answer.
    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("secret-tool")
                .args(["lookup", "application", "rekey-readiness-probe"])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .stdin(Stdio::null())
                .output()
                .expect("secret-tool runs");
            if out.status.code() == Some(1) && out.stderr.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Secret Service did not come up: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn store(&self, profile: &str, entry: &str) -> Store {
        Store::new(profile, &config(StoreBackend::SecretService, entry, 30))
            .with_env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        for child in [&mut self.keyring, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn secret_service_slots_per_profile() {
    if !have_tool("secret-tool", "libsecret-tools")
        || !have_tool("gnome-keyring-daemon", "gnome-keyring")
        || !have_tool("dbus-daemon", "dbus")
    {
        return;
    }
    let keyring = Keyring::start();
    let store = keyring.store("redis-prod", "redis-prod");
    assert_eq!(store.label(), "secret-service:redis-prod");
    exercise_all_slots(&store);

    // Items are keyed by application, profile and slot: another profile's slots are apart.
    store.put(Slot::Current, CANARY).expect("put");
    let other = keyring.store("redis-test", "redis-prod");
    assert_eq!(read(&other, Slot::Current), None);
    other.put(Slot::Current, SECOND).expect("put");
    assert_eq!(read(&store, Slot::Current).as_deref(), Some(CANARY));
    let found = Command::new("secret-tool")
        .args([
            "lookup",
            "application",
            "rekey",
            "profile",
            "redis-prod",
            "slot",
            "current",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
        .stdin(Stdio::null())
        .output()
        .expect("secret-tool");
    assert_eq!(found.stdout, CANARY.as_bytes());
    other.delete(Slot::Current).expect("delete");
    assert_eq!(read(&store, Slot::Current).as_deref(), Some(CANARY));

    // No bus: a clear failure naming D-Bus, no secret.
    let nowhere = Store::new("redis-prod", &config(StoreBackend::SecretService, "x", 30)).with_env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/rekey-bus",
    );
    let err = nowhere.put(Slot::Pending, CANARY).expect_err("no bus");
    assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
    assert!(
        err.to_string().contains("DBUS_SESSION_BUS_ADDRESS"),
        "{err}"
    );
    assert_err_clean(&err);
}

// ---------------------------------------------------------------- command

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/store-script.sh")
        .display()
        .to_string()
}

fn command_store(dir: &Path, timeout_secs: u64, hooks: &[(&str, &str)]) -> Store {
    let backend = StoreBackend::Command {
        argv: vec!["sh".into(), script()],
    };
    let mut store = Store::new(
        "redis-prod",
        &config(backend, "cloud/redis-prod", timeout_secs),
    )
    .with_env("REKEY_TEST_STORE_DIR", dir);
    for (name, value) in hooks {
        store = store.with_env(*name, *value);
    }
    store
}

#[test]
fn command_backend_contract() {
    if !have_tool("sh", "dash") {
        return;
    }
    let dir = TempDir::new("command");
    let log = dir.path().join("calls.log");
    let store = command_store(
        dir.path(),
        30,
        &[("REKEY_TEST_STORE_LOG", log.to_str().expect("utf-8 path"))],
    );
    assert_eq!(store.label(), "command:cloud/redis-prod");
    exercise_all_slots(&store);

    // `put` gets the exact bytes (no newline); the command sees the profile and the entry.
    store.put(Slot::Pending, CANARY).expect("put");
    let stored = std::fs::read(dir.path().join("redis-prod.pending")).expect("slot file");
    assert_eq!(stored, CANARY.as_bytes());
    let calls = std::fs::read_to_string(&log).expect("log");
    assert!(
        calls.contains("put pending redis-prod cloud/redis-prod\n"),
        "{calls}"
    );
    assert!(calls.contains("get current redis-prod cloud/redis-prod\n"));
    assert!(calls.contains("delete previous redis-prod cloud/redis-prod\n"));

    // `get`: one trailing newline is removed, no more.
    let current = dir.path().join("redis-prod.current");
    std::fs::write(&current, format!("{CANARY}\n")).expect("write");
    assert_eq!(read(&store, Slot::Current).as_deref(), Some(CANARY));
    std::fs::write(&current, format!("{CANARY}\r\n")).expect("write");
    assert_eq!(read(&store, Slot::Current).as_deref(), Some(CANARY));
    std::fs::write(&current, format!("{CANARY}\n\n")).expect("write");
    let err = store.get(Slot::Current).expect_err("two newlines");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_err_clean(&err);
    // More than a password buffer holds.
    std::fs::write(&current, "x".repeat(2000)).expect("write");
    let err = store.get(Slot::Current).expect_err("too long");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    std::fs::remove_file(&current).expect("rm");

    // rekey refuses to write what it could not read back as one line.
    for bad in ["", "two\nlines"] {
        let err = store.put(Slot::Pending, bad).expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}

#[test]
fn command_backend_failures() {
    if !have_tool("sh", "dash") {
        return;
    }
    let dir = TempDir::new("command-faults");
    command_store(dir.path(), 30, &[])
        .put(Slot::Current, CANARY)
        .expect("put");

    // A failure shows the command's stderr, escaped, capped, with the secret taken out.
    let noisy = format!(
        "store says no \x1b[2J\x1b]0;owned\x07 \u{202e}rtl {CANARY} {}",
        "y".repeat(500)
    );
    let failing = command_store(
        dir.path(),
        30,
        &[
            ("REKEY_TEST_STORE_FAIL", "*"),
            ("REKEY_TEST_STORE_STDERR", noisy.as_str()),
        ],
    );
    let err = failing.put(Slot::Pending, CANARY).expect_err("fails");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
    assert!(text.contains("put pending"), "{text}");
    assert!(text.contains("exit status 1"), "{text}");
    assert!(
        text.contains("store says no \\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
        "{text}"
    );
    assert!(text.contains("\\u{202e}rtl"), "{text}");
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
    assert!(text.ends_with('…'), "capped: {text}");
    assert!(text.chars().count() < 450, "capped: {text}");
    assert_err_clean(&err);
    // (A secret the store never handed over cannot be recognised in stderr: `get` and
    // `delete` quote a plain failure.)
    let failing = command_store(dir.path(), 30, &[("REKEY_TEST_STORE_FAIL", "*")]);
    for result in [
        failing.get(Slot::Current).map(|_| ()),
        failing.delete(Slot::Current),
    ] {
        let err = result.expect_err("fails");
        assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
        assert_err_clean(&err);
    }

    // A hang is stopped at timeout_secs.
    let hanging = command_store(dir.path(), 1, &[("REKEY_TEST_STORE_HANG", "get:*")]);
    let start = Instant::now();
    let err = hanging.get(Slot::Current).expect_err("hangs");
    assert!(matches!(err, StoreError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("get current"), "{err}");
    assert!(err.to_string().contains("within 1 s"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );

    // Exit 0 with nothing printed is not an empty slot (that is exit 3).
    let silent = command_store(dir.path(), 30, &[("REKEY_TEST_STORE_EMPTY", "get:*")]);
    let err = silent.get(Slot::Current).expect_err("empty output");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // Output that is not UTF-8.
    let garbled = command_store(dir.path(), 30, &[("REKEY_TEST_STORE_NOT_UTF8", "get:*")]);
    let err = garbled.get(Slot::Current).expect_err("not utf-8");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // A read-back that differs, or finds nothing, fails put_verified.
    let liar = command_store(dir.path(), 30, &[("REKEY_TEST_STORE_WRONG", "get:*")]);
    let err = liar
        .put_verified(Slot::Pending, CANARY)
        .expect_err("differs");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("differs"), "{err}");
    assert_err_clean(&err);
    let forgetful = command_store(dir.path(), 30, &[("REKEY_TEST_STORE_EMPTY", "get:*")]);
    let err = forgetful
        .put_verified(Slot::Pending, CANARY)
        .expect_err("empty");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let write_only = Store::new(
        "redis-prod",
        &config(
            StoreBackend::Command {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "[ \"$1\" = get ] && exit 3; cat >/dev/null".into(),
                    "store".into(),
                ],
            },
            "e",
            30,
        ),
    );
    let err = write_only
        .put_verified(Slot::Pending, CANARY)
        .expect_err("missing");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("found nothing"), "{err}");

    // A failing `get` that printed the secret on stdout does not leak it into the message.
    let leaky = Store::new(
        "redis-prod",
        &config(
            StoreBackend::Command {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    format!("echo {CANARY}; echo {CANARY} >&2; exit 5"),
                ],
            },
            "e",
            30,
        ),
    );
    let err = leaky.get(Slot::Current).expect_err("exit 5");
    assert!(err.to_string().contains("exit status 5"), "{err}");
    assert_err_clean(&err);

    // An empty command.
    let empty = Store::new(
        "p",
        &config(StoreBackend::Command { argv: vec![] }, "e", 30),
    );
    assert!(matches!(
        empty.get(Slot::Current),
        Err(StoreError::Invalid(_))
    ));

    // The slot written at the start is untouched by all of the above.
    assert_eq!(
        read(&command_store(dir.path(), 30, &[]), Slot::Current).as_deref(),
        Some(CANARY)
    );
}

/// From `profiles.toml` to a working store: `for_profile`, label, `read_current`, unlock state,
/// and a Debug that holds no database password.
#[test]
fn a_parsed_profile_gets_its_store() {
    if !have_tool("sh", "dash") {
        return;
    }
    let dir = TempDir::new("parsed");
    let text = format!(
        r#"
[[profile]]
name = "bm-command"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
secret_id = {{ env = "TENCENTCLOUD_SECRET_ID" }}
secret_key = {{ env = "TENCENTCLOUD_SECRET_KEY" }}
store = {{ backend = "command", command = ["sh", "{script}"], entry = "bm/vpn", read_current = false, timeout_secs = 7 }}

[[profile]]
name = "iam-keepassxc"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "alice"
store = {{ backend = "keepassxc", database = "/v.kdbx", entry = "Cloud/iam", database_password = {{ prompt = true }} }}

[[profile]]
name = "iam-value"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "bob"
store = {{ backend = "keepassxc", database = "/v.kdbx", entry = "Cloud/iam", database_password = {{ value = "{CANARY}" }} }}

[[profile]]
name = "no-store"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "carol"
"#,
        script = script()
    );
    let config = rekey::config::parse(&dir.path().join("profiles.toml"), &text)
        .unwrap_or_else(|e| panic!("config: {e}"));
    let profile = |name: &str| {
        config
            .profiles
            .iter()
            .find(|p| p.name == name)
            .expect("profile")
    };

    let command = Store::for_profile(profile("bm-command"))
        .expect("a store")
        .with_env("REKEY_TEST_STORE_DIR", dir.path());
    assert_eq!(command.label(), "command:bm/vpn");
    assert!(!command.read_current());
    assert!(!command.needs_unlock());
    command.put_verified(Slot::Pending, CANARY).expect("put");
    // REKEY_PROFILE is the profile's name: the script keeps the slot in a file named after it.
    assert!(dir.path().join("bm-command.pending").is_file());

    let mut prompted = Store::for_profile(profile("iam-keepassxc")).expect("a store");
    assert_eq!(prompted.label(), "keepassxc:Cloud/iam");
    assert!(prompted.read_current());
    assert!(prompted.needs_unlock());
    let mut typed = SecretBuf::password();
    typed.insert_str(SECOND).expect("fits");
    prompted.unlock(typed);
    assert!(!prompted.needs_unlock());
    assert_clean(&format!("{prompted:?}"));

    let valued = Store::for_profile(profile("iam-value")).expect("a store");
    assert!(!valued.needs_unlock());
    assert_clean(&format!("{valued:?}"));

    assert!(Store::for_profile(profile("no-store")).is_none());
}

/// The issue's walk-through with the real `pass`: a DCS profile whose password lives in
/// `pass:cloud/redis-prod` changes to a generated password against the simulator; `pass show`
/// then prints the new password, the entry's other lines are unchanged, and the old password is
/// in `cloud/redis-prod.rekey-previous`.
#[tokio::test]
async fn rekey_change_generate_saves_to_pass_and_keeps_the_other_lines() {
    if !have_tool("pass", "pass gnupg") || !have_tool("gpg", "gnupg") {
        return;
    }
    let home = PassHome::new();
    let sim = rekey::sim::Simulator::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator");
    let live = |sim: &rekey::sim::Simulator| {
        sim.credentials()
            .into_iter()
            .find(|a| a.profile == "redis-otc")
            .and_then(|a| a.password.map(|p| p.to_string()))
            .expect("redis-otc password")
    };
    let old = live(&sim);
    let notes = "url: redis://10.0.0.5:6379\nuser: default\n";
    setup(
        home.command("pass")
            .args(["insert", "-m", "-f", "cloud/redis-prod"]),
        format!("{old}\n{notes}").as_bytes(),
    );
    let toml = sim.profiles_toml().replace(
        "name = \"redis-otc\"\n",
        "name = \"redis-otc\"\nstore = { backend = \"pass\", entry = \"cloud/redis-prod\" }\n",
    );
    let config = home.dir.path().join("profiles.toml");
    std::fs::write(&config, toml).expect("profiles");
    let mut cmd = home.command(env!("CARGO_BIN_EXE_rekey"));
    cmd.args(["change", "--profile", "redis-otc", "--generate", "--json"])
        .env("REKEY_CONFIG", &config)
        .env("REKEY_DATA_DIR", home.dir.path().join("data"))
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("joined")
        .expect("rekey ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(
        json["outcome"],
        "changed",
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json["store"], "pass:cloud/redis-prod");
    assert_eq!(json["settled"], true);
    let new = live(&sim);
    assert_ne!(new, old);
    assert!(
        !stdout.contains(&new),
        "the generated password is never printed"
    );
    let shown = setup(home.command("pass").args(["show", "cloud/redis-prod"]), b"");
    assert_eq!(
        shown,
        format!("{new}\n{notes}"),
        "new first line, other lines unchanged"
    );
    let previous = setup(
        home.command("pass")
            .args(["show", "cloud/redis-prod.rekey-previous"]),
        b"",
    );
    assert_eq!(previous.trim_end(), old);
    assert!(
        !home
            .store_dir()
            .join("cloud/redis-prod.rekey-pending.gpg")
            .exists(),
        "pending deleted"
    );
}
