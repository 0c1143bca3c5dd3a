//! Issue 9, traps 7–9 through the real message loop (TestBackend, injected clock, no sleeps):
//! a broken profile hides only itself and a broken reload keeps the last good config (7); the
//! key hints stay, messages have their own line and a history (8); the record has no gaps (9).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::harness::Harness;
use crossterm::event::{Event, KeyCode};
use rekey::config::{self, LoadOutcome};
use rekey::console::{Loaded, ManualClock, Message};

/// Two valid profiles around two broken ones: one with three mistakes, one with a TOML slip.
const PARTLY_BROKEN: &str = include_str!("fixtures/partial/two_broken.toml");

impl Harness {
    fn new(path: Option<PathBuf>, loaded: Loaded, width: u16, height: u16) -> Harness {
        Harness::manual(path, loaded, (width, height), |_, _| {})
    }

    fn rows(&self) -> Vec<String> {
        self.screen()
            .lines()
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    /// The message line (above the key hints).
    fn message_line(&self) -> String {
        let rows = self.rows();
        rows[rows.len() - 2].clone()
    }

    /// The key hints (the last row).
    fn hints_line(&self) -> String {
        self.rows().last().cloned().unwrap_or_default()
    }
}

/// A private directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rekey-record-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn load_each(path: &Path) -> Loaded {
    match config::load_each(path) {
        Ok(LoadOutcome::Loaded(config)) => Loaded::Config(config),
        Ok(LoadOutcome::Missing(_)) => Loaded::Missing,
        Err(e) => Loaded::Broken(e),
    }
}

/// Trap 7: one config mistake used to empty the console. Every valid profile loads, the broken
/// ones are listed and marked with how many errors they have, the message line says which,
/// and `m` shows every error (not just the first) with its line and column.
#[test]
fn a_broken_profile_hides_only_itself_and_every_error_is_shown() {
    let config = config::parse_each(Path::new("profiles.toml"), PARTLY_BROKEN).expect("usable");
    let mut h = Harness::new(Some("profiles.toml".into()), Loaded::Config(config), 80, 24);
    let rows = h.rows();
    let list: Vec<String> = rows[..6]
        .iter()
        .map(|r| r.chars().take(24).collect())
        .collect();
    assert_eq!(
        list,
        [
            "┏ Profiles (2, 2 bad) ━┓",
            "┃▶ good-one         iam┃",
            "┃  good-two         iam┃",
            "┃✗ three-mist… 3 errors┃",
            "┃✗ syntax-slip  1 error┃",
            "┃                      ┃",
        ],
        "{}",
        h.screen()
    );
    assert_eq!(
        h.message_line(),
        "error: Not loaded, 4 errors (m shows them): three-mistakes, syntax-slip"
    );
    assert_eq!(
        h.hints_line(),
        "↑↓/jk select · Enter edit · / filter · r reload · Tab next · ? help · q quit"
    );

    h.key(KeyCode::Char('m'));
    // Every error of both broken profiles, whole (wrapped), with line and column; the summary
    // the message line showed is the newest entry.
    let shown: Vec<String> = h.rows()[1..16]
        .iter()
        .map(|r| r.chars().skip(1).take(78).collect())
        .collect();
    assert_eq!(
        shown,
        [
            "╭ Messages (5/100) — ↑↓ PgUp PgDn scroll, any other key closes ──────────────╮",
            "│error: profiles.toml:13:1: unknown key `domian` in profile `three-mistakes` │",
            "│— did you mean `domain`?                                                    │",
            "│fix: rename it to `domain`                                                  │",
            "│error: profiles.toml:15:16: `timeout_secs` in profile `three-mistakes` must │",
            "│be between 1 and 300, found 0                                               │",
            "│fix: write timeout_secs = 15                                                │",
            "│error: profiles.toml:12:16: `iam_endpoint` in profile `three-mistakes` must │",
            "│start with `https://`                                                       │",
            "│fix: write it like \"https://host.example.com\" or \"https://host:8443/path\";  │",
            "│http:// is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost)   │",
            "│error: profiles.toml:20:15: invalid TOML: invalid basic string, expected `\"`│",
            "│fix: fix the TOML syntax here: strings are quoted (\"...\"), an inline table  │",
            "│`{ ... }` stays on one line, and each profile starts with a [[profile]] line│",
            "│error: Not loaded, 4 errors (m shows them): three-mistakes, syntax-slip     │",
        ],
        "{}",
        h.screen()
    );
    // Any other key closes it.
    h.key(KeyCode::Char('x'));
    assert_eq!(h.app().overlay, None);
}

/// Two valid profiles.
const GOOD: &str = r#"
[[profile]]
name = "good-one"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "acct"
user = "alice"

[[profile]]
name = "good-two"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "acct"
user = "dave"
"#;

/// Trap 7: `r` on a file broken mid-session used to throw the loaded profiles away and say
/// "Reloaded". A file that cannot be used keeps the last good config and says so; a file with
/// a broken profile loads the rest and says it was reloaded *with errors*.
#[test]
fn a_reload_of_a_broken_file_keeps_the_last_good_config() {
    use rekey::console::app::Level;
    let dir = temp_dir("reload");
    let path = dir.join("profiles.toml");
    std::fs::write(&path, GOOD).expect("write");
    let mut h = Harness::new(Some(path.clone()), load_each(&path), 80, 24);
    assert_eq!(h.app().profiles.len(), 2);

    // Broken mid-session: a syntax error before the first profile.
    std::fs::write(&path, format!("audit = tru\n{GOOD}")).expect("write");
    h.key(KeyCode::Char('r'));
    let p = path.display();
    let status = h.app().status.clone().expect("a message");
    assert_eq!(status.0, Level::Error);
    assert!(
        status
            .1
            .starts_with("Reload failed, kept the 2 profiles loaded before: ")
            && status.1.contains(&format!("{p}:1:")),
        "{status:?}"
    );
    assert!(!h.screen().contains("Reloaded"), "{}", h.screen());
    let names: Vec<&str> = h.app().profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["good-one", "good-two"]);
    assert!(
        h.rows()[1].starts_with("┃▶ good-one         iam┃"),
        "{}",
        h.screen()
    );
    assert!(
        h.message_line()
            .starts_with("error: Reload failed, kept the 2 profiles")
    );
    assert_eq!(
        h.hints_line(),
        "↑↓/jk select · Enter edit · / filter · r reload · Tab next · ? help · q quit"
    );

    // Deleted mid-session: kept as well.
    std::fs::remove_file(&path).expect("remove");
    h.key(KeyCode::Char('r'));
    assert_eq!(
        h.app().status,
        Some((
            Level::Error,
            format!("Reload failed, kept the 2 profiles loaded before: {p} is missing")
        ))
    );
    assert_eq!(h.app().profiles.len(), 2);

    // One profile broken: the valid ones load, the broken one is marked, and the line says so.
    std::fs::write(&path, PARTLY_BROKEN).expect("write");
    h.key(KeyCode::Char('r'));
    assert_eq!(
        h.app().status,
        Some((
            Level::Error,
            format!(
                "Reloaded {p} with errors: Not loaded, 4 errors (m shows them): \
                 three-mistakes, syntax-slip"
            )
        ))
    );
    assert_eq!(h.app().profiles.len(), 2);
    assert!(
        h.rows()[3].starts_with("┃✗ three-mist… 3 errors┃"),
        "{}",
        h.screen()
    );

    // Fixed: a plain "Reloaded".
    std::fs::write(&path, GOOD).expect("write");
    h.key(KeyCode::Char('r'));
    assert_eq!(h.app().status, Some((Level::Info, format!("Reloaded {p}"))));
    assert!(h.app().broken.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A profile whose secret key is stored in the file: rekey warns at start-up, in a message too
/// long for 80 columns.
const STORED_SECRET: &str = r#"
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
secret_id = { env = "TENCENTCLOUD_SECRET_ID" }
secret_key = { value = "kept-in-the-file" }
"#;

/// Trap 8: the key hints vanished after the first message and long messages were cut
/// mid-word. The hints line stays whatever is said; a message has its own line, is cut only
/// between words and then says where the rest is; `m` shows the last 100 messages whole.
#[test]
fn hints_stay_and_every_message_can_be_read_whole() {
    let config = config::parse_each(Path::new("profiles.toml"), STORED_SECRET).expect("valid");
    let mut h = Harness::new(None, Loaded::Config(config), 80, 24);
    let hints = "↑↓/jk select · Enter edit · / filter · r reload · Tab next · ? help · q quit";
    assert_eq!(
        h.message_line(),
        "warning: profiles.toml:7:14: profile `bm-vpn`: secret_key is … (m: read all)"
    );
    assert_eq!(h.hints_line(), hints);

    // The history holds it whole.
    h.key(KeyCode::Char('m'));
    assert_eq!(
        h.rows()[1..4],
        [
            "┃╭ Messages (1/100) — ↑↓ PgUp PgDn scroll, any other key closes ──────────────╮│",
            "┃│warning: profiles.toml:7:14: profile `bm-vpn`: secret_key is stored in the  ││",
            "┃│file; prefer env/command/prompt                                             ││",
        ],
        "{}",
        h.screen()
    );
    h.key(KeyCode::Esc);
    assert_eq!(h.app().overlay, None);

    // Messages come and go; the hints never do.
    h.send(Message::Input(Event::Paste("text".into())));
    assert_eq!(
        h.message_line(),
        "Paste ignored: select a password field first (Tab)"
    );
    assert_eq!(h.hints_line(), hints);
    h.key(KeyCode::Char('r'));
    assert_eq!(h.message_line(), "The demo's profiles are built in");
    assert_eq!(h.hints_line(), hints);

    // The last 100 are kept, newest at the bottom; the first warning has gone.
    for _ in 0..60 {
        h.send(Message::Input(Event::Paste("text".into())));
        h.key(KeyCode::Char('r'));
    }
    assert_eq!(h.app().history.len(), 100);
    h.key(KeyCode::Char('m'));
    let rows = h.rows();
    assert!(
        rows[1].starts_with("┃╭ Messages (100/100) — "),
        "{}",
        h.screen()
    );
    assert_eq!(
        rows[21],
        "┗│The demo's profiles are built in                                            │┘"
    );
    assert_eq!(
        rows[20],
        "┃│Paste ignored: select a password field first (Tab)                          ││"
    );
    assert!(!h.screen().contains("secret_key is stored"));
    // Home goes to the oldest kept message.
    h.key(KeyCode::Home);
    assert_eq!(
        h.rows()[2],
        "┃│Paste ignored: select a password field first (Tab)                          ││"
    );
}

/// The text of the screen row holding `needle`, from `needle` to the end of the pane.
fn row_from(screen: &str, needle: &str) -> Option<String> {
    let row = screen.lines().find(|l| l.contains(needle))?;
    let at = row.find(needle)?;
    Some(row[at..].trim_end_matches([' ', '│', '┃']).to_string())
}

/// The lines of `audit.jsonl` in `dir`, parsed.
fn audit_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(rekey::state::AUDIT_FILE))
        .expect("audit.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

const NEW: &str = "New#Pass2025x";

/// Trap 9: an Esc-cancelled change request was missing from the log and audited with
/// `duration_ms: 0`, and F5's answer never reached `audit.jsonl`. Now the request that was
/// sent is in the log (no answer: cancelled), the audit line has the attempt's duration on the
/// console's clock, and the check is audited, marked `"check": true`.
#[tokio::test]
async fn a_cancelled_change_and_its_check_are_on_the_record() {
    use common::Env;
    use common::ui::Ui;
    use rekey::sim::{Fault, Route};
    let env = Env::start("record-cancel").await;
    let clock = ManualClock::default();
    let dir = env.dir.join("data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let mut ui = Ui::with(&env, Arc::new(clock.clone()), Some(&dir));
    ui.select("portal");
    env.sim.inject(Route::CiamPassword, Fault::Hold);
    ui.submit(Some(&env.password("portal")), NEW);
    env.sim.wait_requests(Route::CiamPassword, 1).await;
    clock.advance(std::time::Duration::from_millis(1500));
    ui.key(KeyCode::Esc);
    ui.wait("cancel", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("MAY have been applied"),
        "{}",
        ui.outcome()
    );

    // The log: the token request, then the change request that never got its answer.
    let log = &ui.app().log;
    assert_eq!(log.len(), 2, "{log:#?}");
    let change = &log[1];
    assert_eq!(change.method, "POST");
    assert_eq!(change.status, None);
    assert_eq!(
        change.error.as_deref(),
        Some("cancelled while waiting for the answer")
    );
    let screen = ui.screen();
    assert!(screen.contains("Requests (2)"), "{screen}");

    // The audit line: unknown, with the 1.5 s the attempt lasted on the console's clock.
    let lines = audit_lines(&dir);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "unknown");
    assert_eq!(lines[0]["duration_ms"], 1500);
    assert_eq!(lines[0].get("check"), None, "a change is not marked");

    // F5: the check's answer is audited too, marked as a check.
    ui.key(KeyCode::F(5));
    ui.wait("check", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("NOT applied"), "{}", ui.outcome());
    let lines = audit_lines(&dir);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[1]["profile"], "portal");
    assert_eq!(lines[1]["check"], true);
    assert_eq!(lines[1]["outcome"], "failed", "not applied: {:?}", lines[1]);
}

/// Trap 9: `0 retries left` stayed after a lock had ended (the provider counts afresh then).
#[tokio::test]
async fn retries_left_is_not_shown_after_the_lock_ended() {
    use common::Env;
    use common::ui::Ui;
    use rekey::provider::{Outcome, Report};
    use rekey::timefmt::local_minute;
    let env = Env::start("record-lock").await;
    let clock = ManualClock::default();
    let dir = env.dir.join("data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let at = rekey::console::Clock::wall(&clock);
    let mut locked = Report::new(Outcome::Locked, "");
    locked.lock_minutes_left = Some(3);
    let (mut state, _) = rekey::state::State::load(&dir);
    state.record("redis-aksk", &locked, at).expect("seed");
    let until = at + std::time::Duration::from_secs(180);

    let mut ui = Ui::with(&env, Arc::new(clock.clone()), Some(&dir));
    ui.select("redis-aksk");
    assert_eq!(
        row_from(&ui.screen(), "last: locked").as_deref(),
        Some(&*format!(
            "last: locked at {} · 0 retries left · locked until {} (03:00 left)",
            local_minute(at),
            local_minute(until)
        )),
        "{}",
        ui.screen()
    );
    clock.advance(std::time::Duration::from_secs(181));
    ui.console.sender().send(Message::Tick).expect("queue");
    ui.console.process_queue().expect("draw");
    assert_eq!(
        row_from(&ui.screen(), "last: locked").as_deref(),
        Some(&*format!("last: locked at {}", local_minute(at))),
        "{}",
        ui.screen()
    );
}

/// Trap 9: a refusal by rekey's own policy check (here the IAM account policy, read before
/// sending) said "The provider refused". It says it was not sent, and why.
#[tokio::test]
async fn a_local_policy_refusal_never_blames_the_provider() {
    use common::Env;
    use common::ui::Ui;
    use rekey::sim::Route;
    let env = Env::start("record-policy").await;
    let mut ui = Ui::new(&env);
    ui.select("iam-admin");
    let sent = env.sim.requests(Route::IamPassword);
    ui.submit(Some(&env.password("iam-admin")), "Short#Pass1");
    ui.wait("answer", |a| a.job.is_none()).await;
    assert_eq!(env.sim.requests(Route::IamPassword), sent, "nothing sent");
    assert_eq!(
        ui.outcome(),
        "iam-admin: Refused before sending: the account's password policy refuses it: \
         12–32 characters (now 11); nothing was sent"
    );
    assert!(!ui.screen().contains("provider refused"), "{}", ui.screen());
}
