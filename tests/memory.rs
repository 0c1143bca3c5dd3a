//! Secrets left in memory: the real `rekey` console in a pseudo-terminal is given canary
//! passwords the way people give them (typed in one write, as a fast typist or a password
//! manager's auto-type does, and pasted with bracketed paste); the fields are wiped (Ctrl-X),
//! changes succeed, profiles are switched; then the live process's memory is read through
//! `/proc/PID/mem` and no copy of any canary may be left, in UTF-8, UTF-16LE, JSON-escaped or
//! percent-encoded form, nor any 12-character piece of one.
//!
//! Also: after an IAM change (`X-Subject-Token`) and a CIAM password-grant change (access, id
//! and refresh tokens) no copy of any token the simulator issued is left in the console; and
//! `rekey check`, held just before it exits (`REKEY_PAUSE_AT=check-exit`, a debug-build-only
//! hook), holds no copy of the candidate it read from standard input or its terminal prompt.
//! Each of these finds copies when the zeroizing allocator is left out of the binary.
//!
//! Linux only, and only as root (reading another process's memory, and rekey marks itself
//! non-dumpable). Elsewhere the test prints `SKIPPED: ...`; with `REKEY_REQUIRE_MEMORY_TEST=1`
//! (CI) it fails instead of skipping.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::Env;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// How long any one wait may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// Typed then pasted into an IAM profile, then wiped with Ctrl-X. `"` and `\` make its JSON
/// form differ from its UTF-8 form.
const WIPED: &str = "Mq4\"Zv\\Kp7#Wn2@x";
/// Sent to an IAM profile (JSON body) and accepted.
const SENT_JSON: &str = "Rf8\\Lx\"Hs3$Tb6!y";
/// Sent to a Tencent BM v2 profile (form-encoded body) and accepted; `#%&` percent-encode.
const SENT_FORM: &str = "Gw5#Yd9%Nc2&Pq";

/// Typed at the end and left in its field: the scan must find it (the test can fail).
const KEPT: &str = "Ctl7#Hj2$Vb9!Wq";

/// Sent to an IAM profile, then to a CIAM profile (password grant), in the test of tokens.
const SENT_IAM: &str = "Hb4!Tq9#Lw2&Ys";
const SENT_CIAM: &str = "Nv5$Pk8!Dr3#Fm";

/// Candidates given to `rekey check` on standard input: (profile, candidate, `--json`). Strong
/// and weak ones, so that zxcvbn's matchers (dictionary, l33t, repeats, sequences, keyboard,
/// dates, the profile's own words) and its feedback all run; JSON and percent specials;
/// non-ASCII. Mostly longer than 16 bytes: glibc overwrites the first 16 bytes of a block it
/// frees with its own pointers, so a freed copy of a short password is destroyed by chance and
/// only longer ones show what is left in freed memory.
const CHECK_CANDIDATES: [(&str, &str, bool); 12] = [
    ("iam-alice", "Wq7#Ln2$Xc5!Rv9&Kanary-Tb4@Hy8", false),
    ("iam-alice", "alice1987alice!!Kanary1987alice", true),
    ("iam-admin", "Zx9zx9zx9zx9zx9QKanaryKanary", false),
    ("iam-admin", "1qaz2wsx3edc4rfvKanary5tgb6yhn", true),
    ("portal", "Tr0ub4dor&3Kanary-correct-h0rse", false),
    ("portal", "19871231Kanary#x2024-12-31Kanary", true),
    ("portal-web", "abcdefghKanary12345678Kanary", false),
    ("bm-vpn", "Ümläut€Kanary#77-Ümläut€Kanary", false),
    ("bm-vpn", "Pq\"\\Kanary%&+ 7z Pq\"\\Kanary%&+", true),
    ("redis-aksk", "Hm2(Kanary)Yt5^Bw-Hm2(Kanary)", false),
    ("redis-aksk", "kanarykanary2024kanarykanary2024", true),
    ("iam-alice", "Gx7(kQ2#Kanary!1", false),
];

/// Typed at `rekey check`'s prompt on a terminal, in one write (auto-type).
const PROMPTED: &str = "Pr0mpt#Kanary$8w-Auto-Type#Kanary";

/// In `rekey check`'s environment: always in its memory (the initial stack), so the scan
/// must find it.
const CHECK_CONTROL: &str = "Env7#Control$Kq2!Zt";

/// The shortest piece of a canary that counts as a copy.
const PIECE: usize = 12;

fn skip_or_fail(why: &str) {
    if std::env::var("REKEY_REQUIRE_MEMORY_TEST").as_deref() == Ok("1") {
        panic!("REKEY_REQUIRE_MEMORY_TEST=1 but the memory test cannot run: {why}");
    }
    eprintln!("\n*** SKIPPED: memory_after_wipes_holds_no_canary: {why} ***\n");
}

// ---------------------------------------------------------------------------------------------
// A minimal pty harness (the full one, with frame detection, is in tests/pty.rs).

struct Output {
    parser: vt100::Parser,
    eof: bool,
}

struct Shared {
    out: Mutex<Output>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Output> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Term {
    shared: Arc<Shared>,
    writer: Box<dyn Write + Send>,
    pid: u32,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Term {
    fn spawn(env: &Env) -> Term {
        Term::spawn_with(env, &[], &[])
    }

    /// `rekey --config CONFIG ARGS` in the pty, with `envs` added.
    fn spawn_with(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Term {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_rekey"));
        cmd.args(["--config", env.config.to_str().expect("utf-8 path")]);
        cmd.cwd(&env.dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("REKEY_DATA_DIR", env.dir.join("data"));
        cmd.env("HOME", &env.dir);
        cmd.env("XDG_CONFIG_HOME", env.dir.join("xdg-config"));
        cmd.env("XDG_DATA_HOME", env.dir.join("xdg-data"));
        cmd.env_remove("REKEY_CONFIG");
        cmd.args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn rekey");
        drop(pair.slave);
        let pid = child.process_id().expect("a pid");
        let shared = Arc::new(Shared {
            out: Mutex::new(Output {
                parser: vt100::Parser::new(
                    std::num::NonZeroU16::new(40).expect("rows"),
                    std::num::NonZeroU16::new(120).expect("cols"),
                    0,
                ),
                eof: false,
            }),
            wake: Condvar::new(),
        });
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let out = shared.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        out.lock().parser.process(&buf[..n]);
                        out.wake.notify_all();
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            out.lock().eof = true;
            out.wake.notify_all();
        });
        Term {
            shared,
            writer,
            pid,
            _master: pair.master,
            child,
        }
    }

    fn send(&mut self, bytes: &str) {
        self.writer
            .write_all(bytes.as_bytes())
            .and_then(|()| self.writer.flush())
            .expect("write to the pty");
    }

    /// Waits until `done` holds for the screen (checked on every output); fails after
    /// [`DEADLINE`] with the screen.
    #[track_caller]
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        let mut out = self.shared.lock();
        loop {
            let text = out.parser.screen().contents();
            if done(&text) {
                return;
            }
            let now = Instant::now();
            if out.eof || now >= deadline {
                panic!("waiting for {what} (eof {}); the screen:\n{text}", out.eof);
            }
            out = self
                .shared
                .wake
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn text(&self) -> String {
        self.shared.lock().parser.screen().contents()
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The profile named in the editor's title.
fn title(screen: &str) -> Option<String> {
    const MARK: &str = "Change password — ";
    let at = screen.find(MARK)? + MARK.len();
    screen[at..].split_whitespace().next().map(str::to_string)
}

/// The dots shown in the field labelled `label`.
fn dots(screen: &str, label: &str) -> Option<usize> {
    let line = screen.lines().find(|l| l.contains(label))?;
    let after = &line[line.find(label)? + label.len()..];
    Some(after.trim_start().chars().take_while(|&c| c == '•').count())
}

/// Whether the field labelled `label` is focused: the status bar shows field hints and the
/// focus moved there (its label is the one the cursor row holds).
fn focused(term: &Term, label: &str) -> bool {
    let out = term.shared.lock();
    let screen = out.parser.screen();
    let (row, _) = screen.cursor_position();
    !screen.hide_cursor()
        && screen
            .rows(0, 120)
            .nth(usize::from(row))
            .is_some_and(|r| r.contains(label))
}

impl Term {
    #[track_caller]
    fn select(&mut self, name: &str) {
        for _ in 0..12 {
            let current = title(&self.text()).unwrap_or_default();
            if current == name {
                return;
            }
            self.send("\x1b[B");
            self.wait_for(&format!("the selection to leave {current}"), |s| {
                title(s).is_some_and(|t| t != current)
            });
        }
        panic!("{name} not found below the selection");
    }

    #[track_caller]
    fn focus(&mut self, keys: &str, label: &str) {
        self.send(keys);
        let deadline = Instant::now() + DEADLINE;
        while !focused(self, label) {
            assert!(
                Instant::now() < deadline,
                "focus on {label}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `text` in one write (auto-type) and waits for its dots.
    #[track_caller]
    fn type_once(&mut self, label: &str, text: &str) {
        let want = dots(&self.text(), label).unwrap_or(0) + text.chars().count();
        self.send(text);
        self.wait_for(&format!("{want} dots in {label}"), |s| {
            dots(s, label) == Some(want)
        });
    }

    /// Pastes `text` (bracketed paste) and waits for its dots.
    #[track_caller]
    fn paste(&mut self, label: &str, text: &str) {
        let want = dots(&self.text(), label).unwrap_or(0) + text.chars().count();
        self.send(&format!("\x1b[200~{text}\x1b[201~"));
        self.wait_for(&format!("{want} pasted dots in {label}"), |s| {
            dots(s, label) == Some(want)
        });
    }

    /// Types `text` one key at a time (each its own read), waiting for each dot.
    #[track_caller]
    fn type_slowly(&mut self, label: &str, text: &str) {
        for c in text.chars() {
            self.type_once(label, &c.to_string());
        }
    }

    /// From the profile list: the current password (typed key by key) when given, the new one
    /// pasted, the confirmation typed in one write. In this order both copies stay where
    /// crossterm read them: the paste in its parser's buffer, the typed one in its read
    /// buffer (later keys overwrite only its first bytes).
    #[track_caller]
    fn fill(&mut self, current: Option<&str>, new: &str) {
        if let Some(current) = current {
            self.focus("\r", "Current password");
            self.type_slowly("Current password", current);
        }
        self.focus("\r", "New password");
        self.paste("New password", new);
        self.focus("\r", "Confirm new");
        self.type_once("Confirm new", new);
        self.wait_for("the confirmation to match", |s| {
            s.contains("✓ Confirmation matches")
        });
    }

    #[track_caller]
    fn back_to_list(&mut self) {
        self.send("\x1b");
        let deadline = Instant::now() + DEADLINE;
        while !self.shared.lock().parser.screen().hide_cursor() {
            assert!(
                Instant::now() < deadline,
                "back to the list:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the process's memory

/// The encodings a copy of `secret` may take.
fn forms(secret: &str) -> Vec<(String, Vec<u8>)> {
    let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let json = serde_json::to_string(secret).expect("json");
    let json = json.as_bytes()[1..json.len() - 1].to_vec();
    let percent: Vec<u8> = secret
        .bytes()
        .flat_map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                vec![b]
            } else {
                format!("%{b:02X}").into_bytes()
            }
        })
        .collect();
    let mut out = vec![
        ("utf-8".to_string(), secret.as_bytes().to_vec()),
        ("utf-16le".to_string(), utf16),
        ("json".to_string(), json),
        ("percent".to_string(), percent),
    ];
    // Any piece of PIECE characters (a partly overwritten buffer, a prefix copied alone).
    let chars: Vec<char> = secret.chars().collect();
    for start in 0..=chars.len().saturating_sub(PIECE) {
        let piece: String = chars[start..start + PIECE].iter().collect();
        out.push((format!("utf-8 piece @{start}"), piece.clone().into_bytes()));
        let utf16: Vec<u8> = piece.encode_utf16().flat_map(u16::to_le_bytes).collect();
        out.push((format!("utf-16le piece @{start}"), utf16));
    }
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// What to look for: whose copy it would be, in which form, the bytes.
struct Needle {
    what: String,
    form: String,
    bytes: Vec<u8>,
}

/// Every form of each password in `canaries` ([`forms`]).
fn password_needles(canaries: &[&str]) -> Vec<Needle> {
    canaries
        .iter()
        .flat_map(|c| {
            forms(c).into_iter().map(move |(form, bytes)| Needle {
                what: format!("{c:?}"),
                form,
                bytes,
            })
        })
        .collect()
}

/// The length of a piece of a token that counts as a copy, and the step between pieces: any
/// run of `TOKEN_PIECE + TOKEN_STEP` bytes of a token that survived holds one.
const TOKEN_PIECE: usize = 16;
const TOKEN_STEP: usize = 8;

/// A token whole, and pieces of its random part (after its last `.`: the CIAM id token starts
/// with the client id, which the config holds) as UTF-8 (tokens are ASCII: base64url, `.`, `_`).
fn token_needles(kind: &str, token: &str) -> Vec<Needle> {
    let what = format!("{kind} {}…", &token[..token.len().min(12)]);
    let mut out = vec![Needle {
        what: what.clone(),
        form: "whole".into(),
        bytes: token.as_bytes().to_vec(),
    }];
    let random = &token.as_bytes()[token.rfind('.').map_or(0, |i| i + 1)..];
    assert!(
        random.len() >= 32,
        "{kind}: a token with too short a random part: {token}"
    );
    let mut start = 0;
    while start + TOKEN_PIECE <= random.len() {
        out.push(Needle {
            what: what.clone(),
            form: format!("piece @{start}"),
            bytes: random[start..start + TOKEN_PIECE].to_vec(),
        });
        start += TOKEN_STEP;
    }
    out
}

/// One hit: whose copy, which form, where.
#[derive(Debug)]
struct Hit {
    what: String,
    form: String,
    region: String,
}

/// Scans every writable or anonymous readable mapping of `pid` for every needle. Returns the
/// hits and how many bytes were read.
fn scan(pid: u32, needles: &[Needle]) -> (Vec<Hit>, usize) {
    use std::os::unix::fs::FileExt;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    let finders: Vec<_> = needles
        .iter()
        .map(|n| memchr::memmem::Finder::new(&n.bytes))
        .collect();
    let mut hits = Vec::new();
    let mut total = 0;
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let path = parts.nth(3).unwrap_or("").to_string();
        // Read-only file mappings hold what the file holds; secrets live in writable memory.
        if !perms.starts_with('r') || path == "[vvar]" || path == "[vsyscall]" {
            continue;
        }
        if !perms.contains('w') && !path.is_empty() && !path.starts_with('[') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        let mut data = vec![0u8; (end - start) as usize];
        let Ok(n) = mem.read_at(&mut data, start) else {
            continue;
        };
        data.truncate(n);
        total += n;
        for (needle, finder) in needles.iter().zip(&finders) {
            for at in finder.find_iter(&data) {
                hits.push(Hit {
                    what: needle.what.clone(),
                    form: needle.form.clone(),
                    region: format!("{line} +{at:#x}"),
                });
            }
        }
    }
    (hits, total)
}

/// Scans `pid` for `needles` and for `control` (which must be there: the scan can find
/// things); asserts the control found and no needle. Prints what it measured.
#[track_caller]
fn assert_scan_clean(pid: u32, control: &str, needles: Vec<Needle>, what: &str) {
    if let Err(copies) = scan_clean(pid, control, needles, what) {
        panic!("{copies}");
    }
}

/// [`assert_scan_clean`] that returns the copies found (as text) instead of failing on them;
/// it still fails at once when the scan cannot work.
#[track_caller]
fn scan_clean(pid: u32, control: &str, needles: Vec<Needle>, what: &str) -> Result<(), String> {
    let mut all = needles;
    all.push(Needle {
        what: "control".into(),
        form: "utf-8".into(),
        bytes: control.as_bytes().to_vec(),
    });
    let (hits, read) = scan(pid, &all);
    let (kept, hits): (Vec<Hit>, Vec<Hit>) = hits.into_iter().partition(|h| h.what == "control");
    let mut summary = std::collections::BTreeMap::<String, usize>::new();
    for hit in &hits {
        *summary
            .entry(format!("{} {}", hit.what, hit.form))
            .or_default() += 1;
    }
    eprintln!(
        "memory scan of pid {pid} ({what}): {read} bytes read, {} copies of the control, {} copies: {summary:#?}",
        kept.len(),
        hits.len()
    );
    assert!(read > 0, "nothing of /proc/PID/mem could be read");
    assert!(
        !kept.is_empty(),
        "the scan did not find the control: it cannot find anything"
    );
    if hits.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} copies of {what} left in rekey's memory:\n{}",
        hits.len(),
        hits.iter()
            .map(|h| format!("{} {}: {}", h.what, h.form, h.region))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

// ---------------------------------------------------------------------------------------------

/// A fresh simulator and its profiles, or `None` (skipped) where the test cannot run.
fn setup() -> Option<(tokio::runtime::Runtime, Env)> {
    if !cfg!(target_os = "linux") {
        skip_or_fail("reads /proc/PID/mem, which only Linux has");
        return None;
    }
    if !rustix::process::geteuid().is_root() {
        skip_or_fail("needs root to read another process's memory (CI runs as root)");
        return None;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let env = runtime.block_on(Env::start(&format!(
        "memory-{:?}",
        std::thread::current().id()
    )));
    Some((runtime, env))
}

/// Starts the console on a fresh simulator; returns it (the runtime serves the simulator).
fn open() -> Option<(tokio::runtime::Runtime, Env, Term)> {
    let (runtime, env) = setup()?;
    let term = Term::spawn(&env);
    term.wait_for("the profile list", |s| s.contains("Profiles (12)"));
    Some((runtime, env, term))
}

/// Types a control password key by key into the focused `label` field and leaves it there,
/// lets the console go idle, scans rekey's memory, and asserts: the control found (the scan
/// works), no copy of `canaries`.
#[track_caller]
fn assert_no_copies(term: &mut Term, label: &str, canaries: &[&'static str]) {
    assert_none_left(
        term,
        label,
        password_needles(canaries),
        &format!("{canaries:?}"),
    );
}

/// [`assert_no_copies`] for any needles.
#[track_caller]
fn assert_none_left(term: &mut Term, label: &str, needles: Vec<Needle>, what: &str) {
    term.type_slowly(label, KEPT);
    // Let the console go idle (the worker's job and its connection finish).
    std::thread::sleep(Duration::from_millis(300));
    assert_scan_clean(term.pid, KEPT, needles, what);
}

#[test]
fn a_pasted_and_typed_password_is_gone_after_ctrl_x() {
    let Some((_runtime, env, mut term)) = open() else {
        return;
    };
    term.select("iam-alice");
    term.fill(Some(&env.password("iam-alice")), WIPED);
    term.send("\x18");
    term.wait_for("the fields wiped", |s| {
        s.contains("All fields cleared") && dots(s, "New password") == Some(0)
    });
    assert_no_copies(&mut term, "Confirm new", &[WIPED]);
}

#[test]
fn a_password_sent_in_json_is_gone_after_the_change_and_two_switches() {
    let Some((_runtime, env, mut term)) = open() else {
        return;
    };
    term.select("iam-alice");
    term.fill(Some(&env.password("iam-alice")), SENT_JSON);
    term.send("\r");
    term.wait_for("the IAM change", |s| {
        s.contains("iam-alice: Password changed")
    });
    assert_eq!(env.password("iam-alice"), SENT_JSON);
    term.back_to_list();
    term.select("iam-admin");
    term.select("portal");
    term.focus("\r", "Current password");
    assert_no_copies(&mut term, "Current password", &[SENT_JSON]);
}

#[test]
fn a_password_sent_form_encoded_is_gone_after_the_change_and_two_switches() {
    let Some((_runtime, env, mut term)) = open() else {
        return;
    };
    term.select("bm-vpn-v2");
    term.fill(None, SENT_FORM);
    term.send("\r");
    term.wait_for("the BM change", |s| {
        s.contains("bm-vpn-v2: Password changed") || s.contains("bm-vpn-v2: Account created")
    });
    assert_eq!(env.password("bm-vpn-v2"), SENT_FORM);
    term.back_to_list();
    term.select("bm-vpn-v2-sha1");
    term.select("redis-aksk");
    term.focus("\r", "Current password");
    assert_no_copies(&mut term, "Current password", &[SENT_FORM]);
}

#[test]
fn iam_and_ciam_tokens_are_gone_after_the_jobs_ended() {
    let Some((_runtime, env, mut term)) = open() else {
        return;
    };
    // IAM: a token from the current password (X-Subject-Token), then the change.
    term.select("iam-alice");
    term.fill(Some(&env.password("iam-alice")), SENT_IAM);
    term.send("\r");
    term.wait_for("the IAM change", |s| {
        s.contains("iam-alice: Password changed")
    });
    assert_eq!(env.password("iam-alice"), SENT_IAM);
    term.back_to_list();
    // CIAM: the password grant (access, id and refresh tokens), then the change.
    term.select("portal");
    term.fill(Some(&env.password("portal")), SENT_CIAM);
    term.send("\r");
    term.wait_for("the CIAM change", |s| {
        s.contains("portal: Password changed")
    });
    assert_eq!(env.password("portal"), SENT_CIAM);
    term.back_to_list();
    term.select("portal-web");
    term.focus("\r", "Current password");

    let tokens = env.sim.issued_tokens();
    let kinds: Vec<&str> = tokens.iter().map(|(kind, _)| *kind).collect();
    for kind in [
        "X-Subject-Token",
        "access_token",
        "id_token",
        "refresh_token",
    ] {
        assert!(kinds.contains(&kind), "no {kind} was issued: {kinds:?}");
    }
    let mut needles: Vec<Needle> = tokens
        .iter()
        .flat_map(|(kind, value)| token_needles(kind, value))
        .collect();
    needles.extend(password_needles(&[SENT_IAM, SENT_CIAM]));
    assert_none_left(
        &mut term,
        "Current password",
        needles,
        &format!(
            "the {} issued tokens {kinds:?} and the passwords",
            tokens.len()
        ),
    );
}

/// Runs `rekey ARGS` (a `check`) with `candidate` on standard input and `CHECK_CONTROL` in
/// its environment, and waits until the debug-build hook `REKEY_PAUSE_AT=check-exit` holds it
/// just before it exits. Returns the child and its standard input: ending that input lets it
/// exit.
fn held_check(
    env: &Env,
    args: &[&str],
    candidate: &str,
) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = common::spawn_rekey(
        args,
        &env.config,
        &env.dir.join("data"),
        &[
            ("REKEY_PAUSE_AT", "check-exit"),
            ("REKEY_MEMORY_CONTROL", CHECK_CONTROL),
        ],
    );
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{candidate}\n").as_bytes())
        .and_then(|()| stdin.flush())
        .expect("write the candidate");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("paused at check-exit") => break,
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("rekey {args:?} never paused before exit ({e}); stderr: {seen:#?}");
            }
        }
    }
    (child, stdin)
}

#[test]
fn check_leaves_no_copy_of_a_candidate_read_from_stdin_at_exit() {
    let Some((_runtime, env)) = setup() else {
        return;
    };
    let mut left = Vec::new();
    for (profile, candidate, json) in CHECK_CANDIDATES {
        let mut args = vec!["check", "--profile", profile];
        if json {
            args.push("--json");
        }
        let (mut child, stdin) = held_check(&env, &args, candidate);
        let pid = child.id();
        let scanned = std::panic::catch_unwind(|| {
            scan_clean(
                pid,
                CHECK_CONTROL,
                password_needles(&[candidate]),
                &format!("rekey {} <<< {candidate:?}", args.join(" ")),
            )
        });
        match scanned {
            Ok(Ok(())) => {}
            Ok(Err(copies)) => left.push(copies),
            Err(panic) => {
                let _ = child.kill();
                let _ = child.wait();
                std::panic::resume_unwind(panic);
            }
        }
        // Standard input ends: the held process goes on and exits as it would have.
        drop(stdin);
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "rekey {args:?}: {:?}, stdout {stdout}",
            out.status
        );
        if json {
            let v: serde_json::Value =
                serde_json::from_str(stdout.trim()).expect("one JSON object");
            assert!(v.is_object(), "{stdout}");
        } else {
            assert!(!stdout.trim().is_empty(), "no checklist printed");
        }
    }
    assert!(
        left.is_empty(),
        "{} of {} candidates left a copy in `rekey check`'s memory at exit:\n{}",
        left.len(),
        CHECK_CANDIDATES.len(),
        left.join("\n\n")
    );
}

#[test]
fn check_leaves_no_copy_of_a_candidate_typed_at_its_prompt_at_exit() {
    let Some((_runtime, env)) = setup() else {
        return;
    };
    let mut term = Term::spawn_with(
        &env,
        &["check", "--profile", "iam-admin"],
        &[
            ("REKEY_PAUSE_AT", "check-exit"),
            ("REKEY_MEMORY_CONTROL", CHECK_CONTROL),
        ],
    );
    term.wait_for("the prompt", |s| s.contains("Candidate password"));
    // In one write, as auto-type gives it, with its Enter.
    term.send(&format!("{PROMPTED}\r"));
    term.wait_for("the pause before exit", |s| {
        s.contains("paused at check-exit")
    });
    assert_scan_clean(
        term.pid,
        CHECK_CONTROL,
        password_needles(&[PROMPTED]),
        &format!("rekey check at its prompt <<< {PROMPTED:?}"),
    );
    // End of input on the terminal (the prompt restored cooked mode): rekey exits.
    term.send("\x04");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = term.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "rekey check did not exit:\n{}",
            term.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        matches!(status.exit_code(), 0 | 1),
        "rekey check: {status:?}\n{}",
        term.text()
    );
}
