//! The data dir and the output streams under attack or failing (issue 8, §3 and §4): the real
//! `rekey` binary against the built-in simulator, with links, FIFOs and devices planted under
//! the names rekey uses, a data dir others can write, stdout and stderr on a full disk or a
//! closed pipe, and signals and panics in the console and headless.

#![cfg(unix)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::Env;

/// A new password every demo policy accepts.
const NEW: &str = "New#Pass2025x";
/// Another, for a second change in one test.
const NEW2: &str = "Two#Pass2026y";
/// The profile every test changes (DCS: current password, then the new one, on stdin).
const PROFILE: &str = "redis-aksk";
/// How long a rekey run may take before it counts as hung.
const DEADLINE: Duration = Duration::from_secs(20);
/// What a victim file holds before an attack; it must hold it after.
const VICTIM: &[u8] = b"the victim's own file\n";

/// What a finished run left.
#[derive(Debug)]
struct Done {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// How to run rekey.
struct Spec<'a> {
    args: Vec<String>,
    stdin: String,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    envs: Vec<(&'a str, String)>,
    /// Close the read end of stdout before rekey writes anything.
    close_stdout: bool,
}

impl<'a> Spec<'a> {
    fn new(args: &[&str], stdin: &str) -> Spec<'a> {
        Spec {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: stdin.to_string(),
            stdout: None,
            stderr: None,
            envs: Vec::new(),
            close_stdout: false,
        }
    }

    fn change(env: &Env, json: bool) -> Spec<'a> {
        Spec::change_to(env, json, NEW)
    }

    /// `rekey change --profile PROFILE [--json]` from the current password to `new`.
    fn change_to(env: &Env, json: bool, new: &str) -> Spec<'a> {
        let mut args = vec!["change", "--profile", PROFILE];
        if json {
            args.push("--json");
        }
        Spec::new(&args, &format!("{}\n{new}\n", env.password(PROFILE)))
    }
}

/// `/dev/full` as a stream: every write fails with ENOSPC.
fn full() -> Stdio {
    Stdio::from(
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// Runs rekey with `env`'s config and data dir `data`, in a memory-capped shell (2 GB: a
/// runaway read fails instead of taking the machine), killed after [`DEADLINE`]. `None` as the
/// code: it hung (and was killed) or died of a signal.
async fn run(env: &Env, data: &Path, spec: Spec<'static>) -> Done {
    let config = env.config.clone();
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -v 2000000; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_rekey"))
            .args(&spec.args)
            .env("REKEY_CONFIG", &config)
            .env("REKEY_DATA_DIR", &data)
            .envs(spec.envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(spec.stdout.unwrap_or_else(Stdio::piped))
            .stderr(spec.stderr.unwrap_or_else(Stdio::piped));
        let mut child = cmd.spawn().expect("spawn rekey");
        if spec.close_stdout {
            drop(child.stdout.take());
        }
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(spec.stdin.as_bytes());
        finish(child)
    })
    .await
    .expect("rekey ran")
}

/// Waits for `child` until [`DEADLINE`], killing it then; collects what it printed.
fn finish(mut child: Child) -> Done {
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Done {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `env`'s data dir, created as rekey would (0700).
fn data_dir(env: &Env) -> PathBuf {
    let data = env.dir.join("data");
    fs::create_dir_all(data.join("journal")).expect("data dir");
    for d in [&data, &data.join("journal")] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    data
}

/// A file outside the data dir that an attacker would like rekey to overwrite.
fn victim(env: &Env) -> PathBuf {
    let path = env.dir.join("victim.txt");
    fs::write(&path, VICTIM).expect("victim");
    path
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
}

// ---------------------------------------------------------------------------------------------
// §3: links and ownership

/// Before: `.state.json.PID.tmp` was opened O_CREAT|O_TRUNC, following a link planted under
/// the child's pid: the victim was truncated and overwritten with the state document.
#[tokio::test]
async fn a_link_at_the_old_temp_name_is_not_written_through() {
    let env = Env::start("files-tmp-link").await;
    let data = data_dir(&env);
    let victim = victim(&env);
    let (config, data2, victim2) = (env.config.clone(), data.clone(), victim.clone());
    let stdin = format!("{}\n{NEW}\n", env.password(PROFILE));
    let done = tokio::task::spawn_blocking(move || {
        let mut child = common::spawn_rekey(
            &["change", "--profile", PROFILE, "--json"],
            &config,
            &data2,
            &[],
        );
        // rekey waits for stdin before it writes anything: plant the link under its pid now.
        symlink(
            &victim2,
            data2.join(format!(".state.json.{}.tmp", child.id())),
        )
        .expect("link");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        finish(child)
    })
    .await
    .expect("ran");
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(env.password(PROFILE), NEW);
    assert_eq!(
        fs::read(&victim).expect("victim"),
        VICTIM,
        "victim untouched"
    );
    let state = fs::read_to_string(data.join("state.json")).expect("state.json written");
    assert!(state.contains("\"changed\""), "{state}");
}

/// Before: `audit.jsonl` was opened O_APPEND following links: the victim got an audit line.
#[tokio::test]
async fn a_link_at_audit_jsonl_is_not_appended_through() {
    let env = Env::start("files-audit-link").await;
    let data = data_dir(&env);
    let victim = victim(&env);
    symlink(&victim, data.join("audit.jsonl")).expect("link");
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(0), "the change stands: {done:?}");
    assert_eq!(env.password(PROFILE), NEW);
    assert_eq!(
        fs::read(&victim).expect("victim"),
        VICTIM,
        "victim untouched"
    );
    assert!(
        done.stderr.contains("audit.jsonl not written") && done.stderr.contains("symbolic link"),
        "{}",
        done.stderr
    );
}

/// A link at the journal's path is neither read nor written through: the profile cannot keep
/// a journal, so nothing is sent. (Today's code already refused here: the journal was opened
/// O_NOFOLLOW; this guards it.)
#[tokio::test]
async fn a_link_at_the_journal_is_not_followed_and_nothing_is_sent() {
    let env = Env::start("files-journal-link").await;
    let data = data_dir(&env);
    let victim = victim(&env);
    let old = env.password(PROFILE);
    symlink(
        &victim,
        data.join("journal").join(format!("{PROFILE}.jsonl")),
    )
    .expect("link");
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(2), "{done:?}");
    assert_eq!(env.password(PROFILE), old, "nothing was sent");
    assert_eq!(
        fs::read(&victim).expect("victim"),
        VICTIM,
        "victim untouched"
    );
    assert!(done.stderr.contains("nothing was sent"), "{}", done.stderr);
}

/// Before: a data dir anyone could write was used as it was (exit 0, the change sent).
#[tokio::test]
async fn a_data_dir_others_can_write_is_refused() {
    let env = Env::start("files-0777").await;
    let data = data_dir(&env);
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).expect("chmod");
    let old = env.password(PROFILE);
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(2), "{done:?}");
    assert_eq!(env.password(PROFILE), old, "nothing was sent");
    let shown = data.display().to_string();
    for words in [
        shown.as_str(),
        "can be written by other users",
        "0777",
        "chmod 700",
    ] {
        assert!(done.stderr.contains(words), "{words}: {}", done.stderr);
    }
    assert!(!data.join("state.json").exists() && !data.join("audit.jsonl").exists());
    for args in [&["profiles"][..], &["recover"][..]] {
        let done = run(&env, &data, Spec::new(args, "")).await;
        assert_eq!(done.code, Some(2), "{args:?}: {done:?}");
        assert!(done.stderr.contains("can be written by other users"));
    }
    // Group-writable is refused too; 0700 works again.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o770)).expect("chmod");
    assert_eq!(
        run(&env, &data, Spec::new(&["profiles"], "")).await.code,
        Some(2)
    );
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(
        run(&env, &data, Spec::new(&["profiles"], "")).await.code,
        Some(0)
    );
}

/// Before: a data dir another user owns was used. Needs root to give it away; skipped (and
/// said so) otherwise.
#[tokio::test]
async fn a_data_dir_another_user_owns_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED a_data_dir_another_user_owns_is_refused: needs root to chown");
        return;
    }
    let env = Env::start("files-owner").await;
    let data = data_dir(&env);
    std::os::unix::fs::chown(&data, Some(4242), Some(4242)).expect("chown");
    let old = env.password(PROFILE);
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(2), "{done:?}");
    assert_eq!(env.password(PROFILE), old, "nothing was sent");
    assert!(
        done.stderr.contains("belongs to uid 4242") && done.stderr.contains("REKEY_DATA_DIR"),
        "{}",
        done.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// §4: output that cannot be written

/// Before: `println!` panicked on /dev/full after the change was applied (exit 101).
#[tokio::test]
async fn a_change_with_stdout_on_a_full_disk_still_exits_0() {
    let env = Env::start("files-full").await;
    let data = data_dir(&env);
    for (json, new) in [(true, NEW), (false, NEW2)] {
        let mut spec = Spec::change_to(&env, json, new);
        spec.stdout = Some(full());
        let done = run(&env, &data, spec).await;
        assert_eq!(done.code, Some(0), "json {json}: {done:?}");
        assert_eq!(env.password(PROFILE), new);
        assert!(
            done.stderr.contains("could not be written to stdout")
                && done.stderr.contains("the outcome was changed"),
            "{}",
            done.stderr
        );
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
}

/// Before: both streams on /dev/full: exit 101; a closed pipe on stdout: exit 101.
#[tokio::test]
async fn a_change_with_no_writable_output_at_all_keeps_its_exit_code() {
    let env = Env::start("files-closed").await;
    let data = data_dir(&env);
    let mut spec = Spec::change(&env, true);
    spec.stdout = Some(full());
    spec.stderr = Some(full());
    let done = run(&env, &data, spec).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(env.password(PROFILE), NEW);

    let mut spec = Spec::change_to(&env, false, NEW2);
    spec.close_stdout = true;
    let done = run(&env, &data, spec).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(env.password(PROFILE), NEW2);
    assert!(
        done.stderr.contains("could not be written"),
        "{}",
        done.stderr
    );
}

/// Before: `profiles` with both streams on /dev/full panicked in `eprintln!` (exit 101).
#[tokio::test]
async fn profiles_and_check_with_unwritable_output_exit_2() {
    let env = Env::start("files-profiles").await;
    let data = data_dir(&env);
    for (args, stdin) in [
        (&["profiles"][..], ""),
        (&["profiles", "--json"][..], ""),
        (&["check", "--profile", PROFILE][..], "Tv8#pLq2!mWx\n"),
    ] {
        let mut spec = Spec::new(args, stdin);
        spec.stdout = Some(full());
        spec.stderr = Some(full());
        let done = run(&env, &data, spec).await;
        assert_eq!(done.code, Some(2), "{args:?}: {done:?}");
        let mut spec = Spec::new(args, stdin);
        spec.close_stdout = true;
        let done = run(&env, &data, spec).await;
        assert_eq!(done.code, Some(2), "{args:?}: {done:?}");
        assert!(done.stderr.contains("cannot write"), "{}", done.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// §4: files that are not what they should be

/// Before: a record appended to a file not ending in a newline was glued to its last line.
#[tokio::test]
async fn each_audit_record_is_one_parseable_line_after_a_torn_one() {
    let env = Env::start("files-audit-torn").await;
    let data = data_dir(&env);
    let torn = br#"{"time":"2026-01-01T00:00:00Z","profile":"redis-aksk","ki"#;
    fs::write(data.join("audit.jsonl"), torn).expect("torn audit");
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    let text = fs::read_to_string(data.join("audit.jsonl")).expect("audit");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].as_bytes(), torn, "the torn line is kept as it was");
    let record: rekey::state::AuditLine =
        serde_json::from_str(lines[1]).expect("the new record is a line of its own");
    assert_eq!(record.outcome, rekey::provider::Outcome::Changed);
    assert!(text.ends_with('\n'));
}

/// Before: `state.json` as a FIFO hung `profiles` and `change`; as /dev/zero (a link to it, or
/// as root a device node of its own) it was read until memory ran out (here: the 2 GB cap); a
/// huge file was read whole. Now each is refused unread, set aside, and rekey starts fresh.
#[tokio::test]
async fn state_json_as_a_fifo_a_device_or_huge_is_set_aside_without_hanging() {
    let env = Env::start("files-state-fifo").await;
    let data = data_dir(&env);
    let root = rustix::process::geteuid().is_root();
    for plant in ["fifo", "link", "device", "huge"] {
        let path = data.join("state.json");
        let _ = fs::remove_file(&path);
        let why = match plant {
            "fifo" => {
                mkfifo(&path);
                "not a regular file"
            }
            "link" => {
                symlink("/dev/zero", &path).expect("link");
                "symbolic link"
            }
            "device" if root => {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    rustix::fs::FileType::CharacterDevice,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(1, 5),
                )
                .expect("mknod /dev/zero's twin");
                "not a regular file"
            }
            "device" => {
                eprintln!("SKIPPED the device-node case: needs root to mknod");
                continue;
            }
            _ => {
                let file = fs::File::create(&path).expect("huge");
                file.set_len(512 << 20).expect("sparse 512 MiB");
                "larger than"
            }
        };
        let start = Instant::now();
        let done = run(&env, &data, Spec::new(&["profiles", "--json"], "")).await;
        assert_eq!(done.code, Some(0), "{plant}: {done:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{plant}: took {:?}",
            start.elapsed()
        );
        assert!(
            done.stderr.contains("state.json")
                && done.stderr.contains(why)
                && done.stderr.contains("starting fresh"),
            "{plant}: {}",
            done.stderr
        );
        assert!(fs::symlink_metadata(&path).is_err(), "{plant}: moved aside");
    }
    // A change goes on with a fresh state.
    mkfifo(&data.join("state.json"));
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    assert!(
        fs::symlink_metadata(data.join("state.json"))
            .expect("state")
            .is_file()
    );
}

/// Before: `audit.jsonl` as a FIFO hung rekey after the change was applied.
#[tokio::test]
async fn audit_jsonl_as_a_fifo_does_not_hang_the_change() {
    let env = Env::start("files-audit-fifo").await;
    let data = data_dir(&env);
    mkfifo(&data.join("audit.jsonl"));
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    assert_eq!(env.password(PROFILE), NEW);
    assert!(
        done.stderr.contains("audit.jsonl not written")
            && done.stderr.contains("not a regular file"),
        "{}",
        done.stderr
    );
}

/// Before: a journal that is a FIFO hung the change (and `profiles`). A journal that cannot be
/// kept cannot protect a change: nothing is sent.
#[tokio::test]
async fn a_journal_that_is_a_fifo_refuses_the_change_without_hanging() {
    let env = Env::start("files-journal-fifo").await;
    let data = data_dir(&env);
    let old = env.password(PROFILE);
    mkfifo(&data.join("journal").join(format!("{PROFILE}.jsonl")));
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(2), "{done:?}");
    assert_eq!(env.password(PROFILE), old, "nothing was sent");
    assert!(
        done.stderr.contains("not a regular file") && done.stderr.contains("nothing was sent"),
        "{}",
        done.stderr
    );
    let done = run(&env, &data, Spec::new(&["profiles", "--json"], "")).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    let rows: serde_json::Value = serde_json::from_str(&done.stdout).expect("json");
    let row = rows
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == PROFILE))
        .expect("row");
    assert_eq!(
        row["unsettled"], true,
        "an unreadable journal reads unsettled"
    );
}

/// Before: `.state.json.PID.tmp` files left by a killed rekey stayed forever.
#[tokio::test]
async fn stale_state_temp_files_are_removed() {
    let env = Env::start("files-stale").await;
    let data = data_dir(&env);
    let stale = data.join(".state.json.12345.tmp");
    let fresh = data.join(".state.json.0123456789abcdef.tmp");
    let other = data.join("notes.tmp");
    for p in [&stale, &fresh, &other] {
        fs::write(p, b"{").expect("temp");
    }
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for p in [&stale, &other] {
        fs::File::options()
            .write(true)
            .open(p)
            .and_then(|f| f.set_modified(hour_ago))
            .expect("mtime");
    }
    let done = run(&env, &data, Spec::change(&env, true)).await;
    assert_eq!(done.code, Some(0), "{done:?}");
    assert!(!stale.exists(), "a stale temp file is removed");
    assert!(fresh.exists(), "a fresh one may be another rekey's: kept");
    assert!(other.exists(), "other names are never touched");
    let temps: Vec<_> = fs::read_dir(&data)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".state.json."))
        .collect();
    assert_eq!(temps.len(), 1, "{temps:?}");
}

// ---------------------------------------------------------------------------------------------
// §4: panics and signals

/// Before: a headless panic printed its payload (std's default hook).
#[tokio::test]
async fn a_headless_panic_prints_its_location_only() {
    let env = Env::start("files-panic").await;
    let data = data_dir(&env);
    let mut spec = Spec::change(&env, true);
    spec.envs
        .push(("REKEY_CRASH_AT", "panic:after-sending".to_string()));
    let done = run(&env, &data, spec).await;
    assert_eq!(done.code, Some(101), "{done:?}");
    assert!(
        done.stderr.contains("internal error at src/"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("test panic at"),
        "the payload is not printed: {}",
        done.stderr
    );
    assert!(
        done.stdout.is_empty(),
        "nothing on stdout: {:?}",
        done.stdout
    );
}

/// The console in a pseudo-terminal: its raw output, and its exit.
struct Pty {
    raw: Arc<Mutex<Vec<u8>>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(args: &[&str], dir: &Path, data: &Path) -> Pty {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_rekey"));
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("REKEY_DATA_DIR", data);
        cmd.env("HOME", dir);
        cmd.env_remove("REKEY_CONFIG");
        let child = pair.slave.spawn_command(cmd).expect("spawn");
        drop(pair.slave);
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let sink = raw.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("raw").extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            raw,
            child,
            _master: pair.master,
        }
    }

    fn screen(&self) -> vt100::Parser {
        let mut parser = vt100::Parser::new(
            std::num::NonZeroU16::new(40).expect("rows"),
            std::num::NonZeroU16::new(120).expect("cols"),
            0,
        );
        parser.process(&self.raw.lock().expect("raw"));
        parser
    }

    fn wait_text(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let contents = self.screen().screen().contents();
            if contents.contains(text) {
                return contents;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "waited for {text:?}; screen:\n{contents}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = self
            .child
            .process_id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
            .expect("pid");
        rustix::process::kill_process(pid, signal).expect("signal");
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("rekey did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Before: SIGQUIT killed the console with the terminal left in the alternate screen, mouse
/// reporting on.
#[tokio::test]
async fn sigquit_quits_the_console_and_restores_the_terminal() {
    let env = Env::start("files-sigquit").await;
    let data = data_dir(&env);
    let config = env.config.to_str().expect("utf-8").to_string();
    let dir = env.dir.clone();
    tokio::task::spawn_blocking(move || {
        let mut pty = Pty::spawn(&["--config", &config], &dir, &data);
        pty.wait_text("Profiles (");
        assert!(pty.screen().screen().alternate_screen());
        pty.signal(rustix::process::Signal::QUIT);
        let status = pty.wait_exit();
        assert!(status.success(), "{status:?}");
        // The reader may still be draining: wait for the last sequence.
        let start = Instant::now();
        while !pty
            .raw
            .lock()
            .expect("raw")
            .ends_with(b"\x1b[?1049l\x1b[?25h")
        {
            assert!(start.elapsed() < DEADLINE, "the terminal was not restored");
            std::thread::sleep(Duration::from_millis(20));
        }
        let parser = pty.screen();
        let s = parser.screen();
        assert!(!s.alternate_screen(), "back on the main screen");
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse capture off"
        );
        assert!(!s.bracketed_paste(), "bracketed paste off");
    })
    .await
    .expect("pty test");
}

/// The console on a data dir others can write: an error in the status bar; `rekey demo` (its
/// own private dir) still opens.
#[tokio::test]
async fn the_console_says_a_data_dir_is_unsafe_and_the_demo_still_opens() {
    let env = Env::start("files-console-0777").await;
    let data = data_dir(&env);
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).expect("chmod");
    let config = env.config.to_str().expect("utf-8").to_string();
    let dir = env.dir.clone();
    tokio::task::spawn_blocking(move || {
        let mut pty = Pty::spawn(&["--config", &config], &dir, &data);
        pty.wait_text("can be written by other users");
        pty.signal(rustix::process::Signal::TERM);
        assert!(pty.wait_exit().success());
        let mut demo = Pty::spawn(&["demo"], &dir, &data);
        let screen = demo.wait_text("Profiles (");
        assert!(
            !screen.contains("can be written by other users"),
            "{screen}"
        );
        demo.signal(rustix::process::Signal::TERM);
        assert!(demo.wait_exit().success());
        assert!(!data.join("state.json").exists(), "nothing written there");
    })
    .await
    .expect("pty test");
}
