//! The conventions users expect of a command-line tool, each through the real binary:
//! `rekey completions SHELL`, `rekey man`, `rekey init`, `rekey sim > profiles.toml`,
//! `rekey change` asking again on a terminal (in a pseudo-terminal), and `--no-mouse` /
//! `mouse = false`.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::Env;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use rekey::config::{self, LoadOutcome};

const BIN: &str = env!("CARGO_BIN_EXE_rekey");
/// How long any one wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(15);

/// A fresh private temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rekey-conv-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rekey ARGS` with a clean environment: HOME and the XDG dirs in `dir`, no REKEY_CONFIG.
fn rekey(args: &[&str], dir: &Path, envs: &[(&str, &Path)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("REKEY_DATA_DIR", dir.join("data"))
        .env_remove("REKEY_CONFIG")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run rekey")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// completions and man

#[test]
fn completions_for_bash_zsh_and_fish_name_every_subcommand() {
    let dir = TempDir::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let out = rekey(&["completions", shell], &dir.0, &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.len() > 200, "{shell}: a script, not {script:?}");
        for word in [
            "change",
            "check",
            "profiles",
            "recover",
            "rotate",
            "sim",
            "init",
            "man",
            "completions",
            "no-mouse",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        assert!(out.stderr.is_empty(), "{shell}: {}", text(&out.stderr));
    }
    let bad = rekey(&["completions", "cmd.exe"], &dir.0, &[]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_prints_a_roff_page_with_every_subcommand() {
    let dir = TempDir::new("man");
    let out = rekey(&["man"], &dir.0, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH rekey 1"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    for word in [
        "change",
        "recover",
        "rotate",
        "init",
        "completions",
        "no\\-mouse",
    ] {
        assert!(page.contains(word), "the man page lacks {word}:\n{page}");
    }
}

// ---------------------------------------------------------------------------------------------
// init

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The file `rekey init` wrote loads, has the example's profiles and comments, and is private.
fn assert_written(path: &Path) {
    let written = std::fs::read_to_string(path).expect("init wrote the file");
    assert_eq!(written, rekey::cli::DEMO_PROFILES);
    assert!(written.starts_with("# "), "a commented file");
    let Ok(LoadOutcome::Loaded(config)) = config::load(path) else {
        panic!("config::load refuses what rekey init wrote");
    };
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert!(names.len() >= 4, "one profile of each kind: {names:?}");
    #[cfg(unix)]
    {
        assert_eq!(mode(path), 0o600, "the file is the owner's only");
        assert_eq!(
            mode(path.parent().expect("folder")),
            0o700,
            "the folder is the owner's only"
        );
    }
}

#[test]
fn init_writes_a_loadable_private_file_and_refuses_to_overwrite_it() {
    let dir = TempDir::new("init");
    let path = dir.0.join("new-folder/profiles.toml");
    let arg = path.to_str().expect("utf-8 path");
    let out = rekey(&["--config", arg, "init"], &dir.0, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(arg),
        "says where: {}",
        text(&out.stderr)
    );
    assert_written(&path);

    // The second time: exit 2, a clear message, the user's edits kept.
    std::fs::write(&path, "# my edits\n").expect("edit");
    let again = rekey(&["--config", arg, "init"], &dir.0, &[]);
    assert_eq!(again.status.code(), Some(2));
    let err = text(&again.stderr);
    assert!(
        err.contains(arg) && err.contains("already exists") && err.contains("never overwrites"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("kept"),
        "# my edits\n"
    );

    // A link (even a dangling one) at the path is never followed.
    #[cfg(unix)]
    {
        let link = dir.0.join("link.toml");
        let target = dir.0.join("elsewhere.toml");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let out = rekey(
            &["--config", link.to_str().expect("utf-8"), "init"],
            &dir.0,
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(!target.exists(), "nothing written through the link");
    }
}

#[test]
fn init_writes_to_rekey_config_else_the_user_config_dir() {
    let dir = TempDir::new("init-paths");
    let from_env = dir.0.join("env/profiles.toml");
    let out = rekey(&["init"], &dir.0, &[("REKEY_CONFIG", &from_env)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_written(&from_env);

    let out = rekey(&["init"], &dir.0, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let default = dir.0.join("xdg-config/rekey/profiles.toml");
    assert_written(&default);
    // `rekey profiles` then finds it where it was written.
    let listed = rekey(&["profiles"], &dir.0, &[]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("bm-vpn"));
}

// ---------------------------------------------------------------------------------------------
// sim

#[test]
fn sim_stdout_is_a_valid_profiles_toml_and_the_banner_is_on_stderr() {
    let dir = TempDir::new("sim");
    let file = dir.0.join("profiles.toml");
    let mut child = Command::new(BIN)
        .args(["sim", "--listen", "127.0.0.1:0"])
        .env_remove("REKEY_CONFIG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&file).expect("create"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rekey sim");
    // Stderr until the banner's last line: by then stdout is written and flushed.
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr"));
    let start = Instant::now();
    while !banner.contains("Press Ctrl-C to stop.") {
        assert!(start.elapsed() < DEADLINE, "no banner: {banner}");
        let mut line = String::new();
        if lines.read_line(&mut line).expect("read stderr") == 0 {
            break;
        }
        banner.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        banner.contains("listening on http://127.0.0.1:"),
        "{banner}"
    );
    assert!(banner.contains("Demo credentials"), "{banner}");

    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(
        !saved.contains("listening on"),
        "the banner is not in the file"
    );
    assert!(
        !saved.contains("Demo credentials"),
        "credentials are not in the file"
    );
    let config = config::parse(&file, &saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"bm-vpn") && names.len() >= 10, "{names:?}");
}

// ---------------------------------------------------------------------------------------------
// A small pseudo-terminal harness

/// Every byte the child wrote and its exit code once it exited, with the condvar notified on
/// each change.
type Seen = Arc<(Mutex<(Vec<u8>, Option<u32>, bool)>, Condvar)>;

/// `rekey` in a pseudo-terminal; every byte it writes is kept.
struct Pty {
    out: Seen,
    writer: Box<dyn Write + Send>,
    killer: Box<dyn portable_pty::ChildKiller + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(args: &[&str], dir: &Path, envs: &[(&str, &Path)]) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("HOME", dir);
        cmd.env("XDG_CONFIG_HOME", dir.join("xdg-config"));
        cmd.env("XDG_DATA_HOME", dir.join("xdg-data"));
        cmd.env("REKEY_DATA_DIR", dir.join("data"));
        cmd.env_remove("REKEY_CONFIG");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = pair.slave.spawn_command(cmd).expect("spawn rekey");
        drop(pair.slave);
        let killer = child.clone_killer();
        let out: Seen = Arc::new((Mutex::new((Vec::new(), None, false)), Condvar::new()));
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut o = sink.0.lock().unwrap_or_else(PoisonError::into_inner);
                        o.0.extend_from_slice(&buf[..n]);
                        sink.1.notify_all();
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // Every byte the child wrote has been read: only now is its exit reported (a
            // loaded machine may see the exit before the last output).
            sink.0.lock().unwrap_or_else(PoisonError::into_inner).2 = true;
            sink.1.notify_all();
        });
        let exit = out.clone();
        std::thread::spawn(move || {
            let code = child.wait().map_or(u32::MAX, |s| s.exit_code());
            exit.0.lock().unwrap_or_else(PoisonError::into_inner).1 = Some(code);
            exit.1.notify_all();
        });
        let writer = pair.master.take_writer().expect("writer");
        Pty {
            out,
            writer,
            killer,
            _master: pair.master,
        }
    }

    /// Waits until `done(output so far, exit code)` holds; fails with the output after
    /// [`DEADLINE`].
    #[track_caller]
    fn wait(&self, what: &str, done: impl Fn(&str, Option<u32>) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut o = self.out.0.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let seen = String::from_utf8_lossy(&o.0).into_owned();
            let exited = if o.2 { o.1 } else { None };
            if done(&seen, exited) {
                return seen;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for {what}; output:\n{seen:?}"
            );
            o = self
                .out
                .1
                .wait_timeout(o, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits for the `n`th (from 1) `text` in the output.
    #[track_caller]
    fn wait_nth(&self, text: &str, n: usize) {
        self.wait(&format!("{text:?} #{n}"), |s, _| {
            s.matches(text).count() >= n
        });
    }

    /// Waits for the exit; returns the code and the whole output.
    #[track_caller]
    fn wait_exit(&self) -> (u32, String) {
        let out = self.wait("the exit", |_, code| code.is_some());
        let code = self.out.0.lock().unwrap_or_else(PoisonError::into_inner).1;
        (code.expect("exited"), out)
    }

    fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .and_then(|()| self.writer.flush())
            .expect("write to the pty");
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.killer.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// change asks again on a terminal

/// A new password the demo's Tencent BM policy accepts.
const NEW: &str = "Tv8#pLq2!mWx";
/// Another acceptable one, typed as a mismatching confirmation.
const OTHER: &str = "Rw3$kMn7@zQy";

struct Sim {
    env: Env,
    _runtime: tokio::runtime::Runtime,
}

fn sim(name: &str) -> Sim {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let env = runtime.block_on(Env::start(&format!("conv-{name}")));
    Sim {
        env,
        _runtime: runtime,
    }
}

fn change_on_a_terminal(sim: &Sim) -> Pty {
    let env = &sim.env;
    Pty::spawn(
        &["change", "--profile", "bm-vpn"],
        &env.dir,
        &[("REKEY_CONFIG", &env.config)],
    )
}

/// Types the `n`th new password and its confirmation at their prompts.
fn type_new(pty: &mut Pty, n: usize, new: &str, again: &str) {
    pty.wait_nth("New password: ", n);
    pty.send(&format!("{new}\r"));
    pty.wait_nth("New password again: ", n);
    pty.send(&format!("{again}\r"));
}

#[test]
fn change_asks_again_after_a_mismatch_and_a_policy_failure() {
    let sim = sim("reprompt");
    let old = sim.env.password("bm-vpn");
    let mut pty = change_on_a_terminal(&sim);
    type_new(&mut pty, 1, NEW, OTHER);
    pty.wait_nth("the two new passwords differ; try again (2 tries left)", 1);
    // Too short for Tencent BM (8–16 characters).
    type_new(&mut pty, 2, "Ab1#", "Ab1#");
    pty.wait_nth("fails the policy", 1);
    pty.wait_nth("try again (1 try left)", 1);
    type_new(&mut pty, 3, NEW, NEW);
    let (code, out) = pty.wait_exit();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("bm-vpn: "), "{out}");
    assert_eq!(sim.env.password("bm-vpn"), NEW, "the third try was sent");
    assert_ne!(old, NEW);
    for typed in [NEW, OTHER, "Ab1#"] {
        assert!(!out.contains(typed), "{typed:?} echoed: {out:?}");
    }
}

#[test]
fn change_gives_up_after_three_mismatches_and_sends_nothing() {
    let sim = sim("giveup");
    let old = sim.env.password("bm-vpn");
    let mut pty = change_on_a_terminal(&sim);
    for n in 1..=3 {
        type_new(&mut pty, n, NEW, OTHER);
    }
    let (code, out) = pty.wait_exit();
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the two new passwords differ (3 tries); nothing was sent"),
        "{out}"
    );
    assert_eq!(sim.env.password("bm-vpn"), old, "nothing was sent");
}

#[test]
fn a_policy_failure_on_the_last_try_is_refused_like_a_piped_one() {
    let sim = sim("lastpolicy");
    let old = sim.env.password("bm-vpn");
    let mut pty = change_on_a_terminal(&sim);
    for n in 1..=3 {
        type_new(&mut pty, n, "Ab1#", "Ab1#");
    }
    let (code, out) = pty.wait_exit();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing was sent"), "{out}");
    assert_eq!(sim.env.password("bm-vpn"), old);
}

// ---------------------------------------------------------------------------------------------
// --no-mouse and mouse = false

/// What crossterm's `EnableMouseCapture` starts with (normal tracking).
const MOUSE_ON: &str = "\x1b[?1000h";

/// Opens the console with `args` on `config`, waits for its first frame, and returns whether
/// it turned mouse capture on.
fn captures_mouse(args: &[&str], config: &str) -> bool {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = TempDir::new(&format!("mouse-{run}"));
    let path = dir.0.join("profiles.toml");
    std::fs::write(&path, config).expect("config");
    let mut full = vec!["--config", path.to_str().expect("utf-8")];
    full.extend_from_slice(args);
    let mut pty = Pty::spawn(&full, &dir.0, &[]);
    // Bracketed paste is turned on with the alternate screen; a frame drawn after it means
    // everything the console enables was already written.
    let out = pty.wait("the first frame", |s, code| {
        code.is_some()
            || s.split_once("\x1b[?2004h")
                .is_some_and(|(_, after)| after.contains("\x1b[?25"))
    });
    assert!(
        out.contains("\x1b[?2004h"),
        "the console did not open with {args:?}: {out:?}"
    );
    pty.send("q");
    out.contains(MOUSE_ON)
}

#[test]
fn no_mouse_and_mouse_false_leave_the_mouse_to_the_terminal() {
    assert!(captures_mouse(&[], ""), "the mouse is captured by default");
    assert!(!captures_mouse(&["--no-mouse"], ""), "--no-mouse");
    assert!(!captures_mouse(&[], "mouse = false\n"), "mouse = false");
    assert!(captures_mouse(&[], "mouse = true\n"), "mouse = true");
}
