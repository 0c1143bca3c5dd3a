//! Exact frames of the main screens at 80×24 and 120×40: first run, four profiles, each kind's
//! editor, a lock countdown, the dialogs, help, the too-small screen and an unsettled profile.
//! Each screen is compared whole, line by line, with `tests/screens/NAME-WxH.txt`; a mismatch
//! prints the differing lines. `REKEY_BLESS=1 cargo test --test screens` rewrites the files
//! (read the diff before committing them).
//!
//! Deterministic: a fixed clock (monotonic and wall), profiles written here with fixed
//! loopback endpoints where nothing is ever sent (`http://127.0.0.1:1`), state and journal
//! seeded in a temp dir. The tests drive keys and read the screen only. Where a dialog follows
//! an answer (create the VPN account, the only copy after `unknown`, quit while in flight), a
//! worker whose own events never reach the console holds the change in flight and the test
//! posts the answer with fixed words.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::frames::assert_frame;
use common::harness::{Harness, loaded};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Color;
use rekey::change::journal::{Journal, Record, Step};
use rekey::config;
use rekey::console::{App, Clock, Loaded, Message};
use rekey::provider::{FollowUp, LogEntry, Outcome, Report};
use rekey::state::State;
use rekey::worker::{Worker, WorkerEvent};

const PROFILES: &str = r#"
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
endpoint = "http://127.0.0.1:1"
region = "ap-guangzhou"
secret_id = { value = "AKIDfixed" }
secret_key = { value = "fixed-key" }

[[profile]]
name = "redis-prod"
kind = "huawei-dcs"
production = true
endpoint = "http://127.0.0.1:1"
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
auth = { method = "token", iam_endpoint = "http://127.0.0.1:1", domain = "acct", user = "ops", password = { value = "fixed" } }

[[profile]]
name = "iam-alice"
kind = "huawei-iam"
iam_endpoint = "http://127.0.0.1:1"
domain = "my-account"
user = "alice"

[[profile]]
name = "portal"
kind = "tencent-ciam"
endpoint = "http://127.0.0.1:1"
client_id = "app-client-id"
auth_source_id = "auth-source-id"
username = "bob"
"#;

/// A current password (never sent: every dialog here is answered no or left open).
const CURRENT: &str = "Old#Pass2024x";

/// A strong password that meets every kind's rules.
const STRONG: &str = "Vq8#Lm2$Tz9!Rw4k";

/// 2026-05-28 08:53:20 UTC, and a monotonic instant fixed for the whole test.
#[derive(Clone)]
struct FixedClock(Instant);

impl Clock for FixedClock {
    fn now(&self) -> Instant {
        self.0
    }
    fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_779_958_400)
    }
}

/// The console on the fixed clock.
type Screen = Harness<FixedClock>;

impl Screen {
    fn open(loaded: Loaded, size: (u16, u16), data: Option<&Path>, no_color: bool) -> Screen {
        let mut app = App::new(
            Some("/home/admin/.config/rekey/profiles.toml".into()),
            loaded,
            size,
        );
        app.no_color = no_color;
        if let Some(dir) = data {
            let (state, warning) = State::load(dir);
            assert!(warning.is_none(), "{warning:?}");
            app.state = state;
            app.data_dir = Some(dir.to_path_buf());
        }
        Harness::start(app, size, FixedClock(Instant::now()))
    }

    fn with(text: &str, size: (u16, u16), data: Option<&Path>) -> Screen {
        Screen::open(loaded(text), size, data, false)
    }

    /// Moves down the list to the row naming `name` (read from the screen: the ▶ row).
    fn select(&mut self, name: &str) {
        self.key(KeyCode::Home);
        for _ in 0..8 {
            // The selected row's name, maybe cut short (…) beside a badge.
            let on = self.text_lines().iter().any(|l| {
                let Some((_, rest)) = l.split_once("▶ ") else {
                    return false;
                };
                let shown = rest
                    .trim_start_matches("⚠ ")
                    .split(' ')
                    .next()
                    .unwrap_or("");
                shown == name
                    || shown
                        .strip_suffix('…')
                        .is_some_and(|head| !head.is_empty() && name.starts_with(head))
            });
            if on {
                return;
            }
            self.key(KeyCode::Down);
        }
        panic!("no row for {name}:\n{}", self.text_lines().join("\n"));
    }

    fn text_lines(&self) -> Vec<String> {
        self.screen().lines().map(str::to_string).collect()
    }

    /// The whole frame equals `tests/screens/NAME-WxH.txt`, line by line.
    fn assert(&self, name: &str) {
        let (w, h) = self.size();
        assert_frame(&format!("{name}-{w}x{h}"), &self.text_lines());
    }
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rekey-screens-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn first_run() {
    for size in SIZES {
        Screen::open(Loaded::Missing, size, None, false).assert("first-run");
    }
}

#[test]
fn four_profiles() {
    for size in SIZES {
        Screen::with(PROFILES, size, None).assert("four-profiles");
    }
}

#[test]
fn each_kind_has_its_editor() {
    for size in SIZES {
        for name in ["bm-vpn", "redis-prod", "iam-alice", "portal"] {
            let mut s = Screen::with(PROFILES, size, None);
            s.select(name);
            s.key(KeyCode::Enter);
            s.assert(&format!("editor-{name}"));
        }
    }
}

#[test]
fn a_lock_counts_down() {
    for size in SIZES {
        let dir = temp_dir(&format!("lock-{}", size.0));
        let mut report = Report::new(Outcome::Locked, "");
        report.lock_minutes_left = Some(3);
        let (mut state, _) = State::load(&dir);
        state
            .record("iam-alice", &report, FixedClock(Instant::now()).wall())
            .expect("seed");
        let mut s = Screen::with(PROFILES, size, Some(&dir));
        s.select("iam-alice");
        s.assert("locked");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_unsettled_profile() {
    for size in SIZES {
        let dir = temp_dir(&format!("unsettled-{}", size.0));
        let journal = Journal::new(&dir, "redis-prod");
        let mut begin = Record::new("c1", Step::Begin);
        begin.kind = Some("huawei-dcs".into());
        begin.at = "2026-05-28T08:50:00Z".into();
        journal.append(&begin).expect("journal");
        let mut sending = Record::new("c1", Step::Sending);
        sending.at = "2026-05-28T08:50:01Z".into();
        journal.append(&sending).expect("journal");
        let mut s = Screen::with(PROFILES, size, Some(&dir));
        s.select("redis-prod");
        s.assert("unsettled");
        // R asks whether the change was applied.
        s.key_mod(KeyCode::Char('R'), KeyModifiers::SHIFT);
        s.assert("dialog-ask-applied");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn help_and_messages() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        s.key(KeyCode::Char('?'));
        s.assert("help");
        s.key(KeyCode::Esc);
        s.key(KeyCode::Char('m'));
        s.assert("messages");
    }
}

#[test]
fn production_send_asks_for_the_name() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        s.select("redis-prod");
        s.key(KeyCode::Enter);
        // Current, new, confirm, Enter after each: the last sends.
        for text in [CURRENT, STRONG, STRONG] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        s.assert("dialog-production");
    }
}

#[test]
fn a_weak_password_asks_first() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        s.select("iam-alice");
        s.key(KeyCode::Enter);
        for text in [CURRENT, "Password123!", "Password123!"] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        s.assert("dialog-weak");
    }
}

#[test]
fn too_small() {
    let mut s = Screen::with(PROFILES, (80, 24), None);
    s.resize(60, 16);
    s.assert("too-small");
}

/// Every theme draws the same text; the colours differ; NO_COLOR leaves every cell without a
/// colour.
#[test]
fn themes_draw_the_same_text_and_no_color_has_none() {
    let frame = |theme: &str, no_color: bool| {
        let text = format!("theme = \"{theme}\"\n{PROFILES}");
        let config = config::parse(Path::new("profiles.toml"), &text).expect("valid");
        let mut s = Screen::open(Loaded::Config(config), (120, 40), None, no_color);
        s.select("redis-prod");
        s.key(KeyCode::Enter);
        s.text("Password123!");
        let buffer = s.console.terminal().backend().buffer().clone();
        (s.text_lines(), buffer)
    };
    let (default_text, default_buf) = frame("default", false);
    let colours = |b: &ratatui::buffer::Buffer| {
        b.content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    assert!(colours(&default_buf) > 0, "the default theme has colours");
    for theme in ["light", "high-contrast"] {
        let (text, buf) = frame(theme, false);
        assert_eq!(text, default_text, "{theme} draws other text");
        assert!(colours(&buf) > 0, "{theme} has colours");
        assert_ne!(buf, default_buf, "{theme} looks like the default");
    }
    for theme in ["default", "light", "high-contrast"] {
        let (text, buf) = frame(theme, true);
        assert_eq!(text, default_text, "NO_COLOR changes the text");
        let coloured: Vec<_> = buf
            .content()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.fg != Color::Reset || c.bg != Color::Reset)
            .map(|(i, c)| (i % 120, i / 120, c.symbol().to_string(), c.fg, c.bg))
            .take(5)
            .collect();
        assert!(
            coloured.is_empty(),
            "NO_COLOR with {theme}: cells with a colour {coloured:?}"
        );
    }
}

/// A worker whose events are caught here and never reach the console: a change stays in
/// flight until the test answers it with fixed words, whatever the loopback endpoint did.
/// Gives the ids of the jobs it ran.
fn quiet_worker(s: &mut Screen) -> tokio::sync::mpsc::UnboundedReceiver<u64> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    s.console.set_worker(Worker::spawn(Arc::new(move |event| {
        let job = match &event {
            WorkerEvent::Log { job, .. }
            | WorkerEvent::Finished { job, .. }
            | WorkerEvent::SetupFailed { job, .. }
            | WorkerEvent::Cancelled { job, .. } => *job,
        };
        let _ = tx.send(job);
    })));
    rx
}

/// The id of the job the worker ran (from its first event).
async fn job_id(jobs: &mut tokio::sync::mpsc::UnboundedReceiver<u64>) -> u64 {
    tokio::time::timeout(Duration::from_secs(10), jobs.recv())
        .await
        .expect("the worker ran the job")
        .expect("worker open")
}

impl Screen {
    /// The worker's answer to job `job`, as the console receives it.
    fn finished(&mut self, job: u64, report: Report) {
        let event = WorkerEvent::Finished {
            job,
            report,
            store: None,
            settled: true,
            warning: None,
        };
        self.send(Message::Worker(Box::new(event)));
    }
}

/// Sends iam-alice's change (current, new, confirm) to a quiet worker: the change is in
/// flight. Gives its job id.
async fn in_flight(s: &mut Screen) -> u64 {
    let mut jobs = quiet_worker(s);
    s.select("iam-alice");
    s.key(KeyCode::Enter);
    for text in [CURRENT, STRONG, STRONG] {
        s.text(text);
        s.key(KeyCode::Enter);
    }
    job_id(&mut jobs).await
}

#[tokio::test]
async fn bm_vpn_offers_to_create_the_account() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        let mut jobs = quiet_worker(&mut s);
        s.select("bm-vpn");
        s.key(KeyCode::Enter);
        for text in [STRONG, STRONG] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        let job = job_id(&mut jobs).await;
        let mut report = Report::new(
            Outcome::NotFound,
            "The VPN account ops does not exist on vpngw-1",
        );
        report.http_status = Some(200);
        report.provider_code = Some("ResourceNotFound".into());
        report.follow_up = Some(FollowUp::OfferCreate);
        s.finished(job, report);
        s.assert("dialog-create");
    }
}

#[tokio::test]
async fn quit_while_a_change_is_in_flight() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        in_flight(&mut s).await;
        s.key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
        s.assert("dialog-quit-in-flight");
    }
}

#[tokio::test]
async fn after_unknown_the_only_copy_is_not_discarded_silently() {
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        let job = in_flight(&mut s).await;
        s.finished(
            job,
            Report::new(
                Outcome::Unknown,
                "No answer after the change request was sent",
            ),
        );
        // Another profile: reveal, copy or discard the password that may be live?
        s.key(KeyCode::Esc);
        s.key(KeyCode::Up);
        s.assert("dialog-discard");
        s.key(KeyCode::Esc);
        // Quit: the same question.
        s.key(KeyCode::Char('q'));
        s.assert("dialog-quit-unknown");
    }
}

#[test]
fn a_store_that_needs_its_password_asks_for_it() {
    let text = common::set_key(
        PROFILES,
        "iam-alice",
        "store",
        r#"{ backend = "keepassxc", database = "/home/admin/vault.kdbx", entry = "Cloud/iam-alice", database_password = { prompt = true } }"#,
    );
    for size in SIZES {
        let mut s = Screen::with(&text, size, None);
        s.select("iam-alice");
        s.key(KeyCode::Enter);
        s.text("vault");
        s.assert("dialog-unlock");
    }
}

#[test]
fn settling_bm_vpn_with_a_store_offers_to_resend() {
    let text = common::set_key(
        PROFILES,
        "bm-vpn",
        "store",
        r#"{ backend = "command", command = ["/usr/local/bin/vault-cli"], entry = "vpn/ops" }"#,
    );
    for size in SIZES {
        let dir = temp_dir(&format!("resend-{}", size.0));
        let journal = Journal::new(&dir, "bm-vpn");
        let mut begin = Record::new("c1", Step::Begin);
        begin.kind = Some("tencent-bm-vpn".into());
        begin.at = "2026-05-28T08:50:00Z".into();
        journal.append(&begin).expect("journal");
        let mut sending = Record::new("c1", Step::Sending);
        sending.at = "2026-05-28T08:50:01Z".into();
        journal.append(&sending).expect("journal");
        let mut s = Screen::with(&text, size, Some(&dir));
        s.select("bm-vpn");
        s.key_mod(KeyCode::Char('R'), KeyModifiers::SHIFT);
        s.assert("dialog-settle-resend");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn two_retries_left_asks_before_the_last_attempt() {
    for size in SIZES {
        let dir = temp_dir(&format!("last-{}", size.0));
        let mut report = Report::new(Outcome::WrongOldPassword, "The old password is wrong");
        report.retries_left = Some(2);
        let (mut state, _) = State::load(&dir);
        state
            .record("iam-alice", &report, FixedClock(Instant::now()).wall())
            .expect("seed");
        let mut s = Screen::with(PROFILES, size, Some(&dir));
        s.select("iam-alice");
        s.key(KeyCode::Enter);
        for text in [CURRENT, STRONG, STRONG] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        s.assert("dialog-last-attempt");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn sending_although_locked_asks_first() {
    for size in SIZES {
        let dir = temp_dir(&format!("override-{}", size.0));
        let mut report = Report::new(Outcome::Locked, "");
        report.lock_minutes_left = Some(3);
        let (mut state, _) = State::load(&dir);
        state
            .record("iam-alice", &report, FixedClock(Instant::now()).wall())
            .expect("seed");
        let mut s = Screen::with(PROFILES, size, Some(&dir));
        s.select("iam-alice");
        s.key(KeyCode::Enter);
        for text in [CURRENT, STRONG, STRONG] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        // Refused for the lock: the message and the hints both name Ctrl-O, at 80×24 too.
        s.assert("refused-locked");
        // The editor is taller than its pane at 80×24: PgDn scrolls the text below the fields
        // (which stay) to the lock details; PgUp back.
        s.key(KeyCode::PageDown);
        s.assert("refused-locked-details");
        s.key(KeyCode::PageUp);
        // Ctrl-O sends anyway, after this question.
        s.key_mod(KeyCode::Char('o'), KeyModifiers::CONTROL);
        s.assert("dialog-locked");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_exchange_in_full() {
    let entry = LogEntry {
        at: FixedClock(Instant::now()).wall(),
        profile: "bm-vpn".into(),
        method: "POST".into(),
        url: "http://127.0.0.1:1/".into(),
        status: Some(200),
        duration: Duration::from_millis(182),
        provider_code: Some("ResourceNotFound".into()),
        request_headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Host".into(), "127.0.0.1:1".into()),
            ("X-TC-Action".into(), "ModifyVpnGatewayUser".into()),
            (
                "Authorization".into(),
                "TC3-HMAC-SHA256 Credential=AKIDfixed/2026-05-28/vpc/tc3_request, SignedHeaders=content-type;host, Signature=***".into(),
            ),
        ],
        request_body: r#"{"VpnGatewayId":"vpngw-1","UserName":"ops","Password":"***"}"#.into(),
        response_headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Length".into(), "142".into()),
        ],
        response_body: r#"{"Response":{"Error":{"Code":"ResourceNotFound","Message":"The user ops does not exist"},"RequestId":"6d3c1b2a-0000-4000-8000-000000000001"}}"#.into(),
        error: None,
    };
    for size in SIZES {
        let mut s = Screen::with(PROFILES, size, None);
        s.send(Message::Worker(Box::new(WorkerEvent::Log {
            job: 1,
            entry: entry.clone(),
        })));
        // Shift-Tab from the list reaches the log: its columns fit the pane (at 80×24 the time,
        // status and provider code whole, the URL cut); Enter shows the selected exchange.
        s.key(KeyCode::BackTab);
        s.assert("log");
        s.key(KeyCode::Enter);
        s.assert("exchange-detail");
    }
}

/// With a store the new password is not rekey's only copy: after `unknown`, quitting asks
/// y/n (the change may have been applied and was not checked).
#[tokio::test]
async fn quit_after_unknown_with_a_store() {
    let text = common::set_key(
        PROFILES,
        "bm-vpn",
        "store",
        r#"{ backend = "command", command = ["/usr/local/bin/vault-cli"], entry = "vpn/ops" }"#,
    );
    for size in SIZES {
        let mut s = Screen::with(&text, size, None);
        let mut jobs = quiet_worker(&mut s);
        s.select("bm-vpn");
        s.key(KeyCode::Enter);
        for text in [STRONG, STRONG] {
            s.text(text);
            s.key(KeyCode::Enter);
        }
        let job = job_id(&mut jobs).await;
        s.finished(
            job,
            Report::new(
                Outcome::Unknown,
                "No answer after the change request was sent",
            ),
        );
        s.key(KeyCode::Esc);
        s.key(KeyCode::Char('q'));
        s.assert("dialog-quit-unchecked");
    }
}
