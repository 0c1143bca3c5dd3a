//! The console with password stores and the staged change (SPEC §10): the current password
//! filled from a store, "saved to" outcomes, the unsettled badge and `R`, the generate gate
//! without a store (Ctrl-R / Ctrl-Y with OSC 52 and its 45 s clear), and the question before
//! dropping the only copy of a password that may be live.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::Env;
use common::harness::{Captured, Harness, loaded};
use common::ui::Ui;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::change::journal::{Journal, Record, Step};
use rekey::config;
use rekey::console::app::{Level, Then};
use rekey::console::editor::{CurrentSource, FieldRole};
use rekey::console::{App, Clock, Console, Focus, Loaded, ManualClock, Message, Overlay};
use rekey::sim::{Fault, Route};
use rekey::state::{Audit, State};
use rekey::worker::Worker;

const NEW: &str = "New#Pass2025x";

const NO_STORE: &str = r#"
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
secret_id = { env = "TENCENTCLOUD_SECRET_ID" }
secret_key = { env = "TENCENTCLOUD_SECRET_KEY" }

[[profile]]
name = "redis-prod"
kind = "huawei-dcs"
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
auth = { method = "aksk", access_key = { env = "AK" }, secret_key = { env = "SK" } }
"#;

fn osc52(secret: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    format!("\x1b]52;c;{b64}\x07").into_bytes()
}

impl Harness {
    /// A console on `text` without a worker, with a manual clock and a captured clipboard;
    /// journals in `data` when given.
    fn new(text: &str, data: Option<&Path>) -> Harness {
        Harness::manual(None, loaded(text), (120, 40), |app, _| {
            app.data_dir = data.map(Path::to_path_buf);
        })
    }

    fn status(&self) -> Option<(Level, String)> {
        self.app().status.clone()
    }

    fn new_password(&self) -> String {
        let editor = self.app().editor.as_ref().expect("editor");
        let i = editor.index_of(FieldRole::New).expect("new");
        editor.fields[i].buf.expose().to_string()
    }
}

const NOT_SEEN: &str = "Not sent: you have not seen the generated password, and without a store rekey would hold its only copy. Reveal it (Ctrl-R) or copy it (Ctrl-Y) first";
const NO_WORKER: &str = "This console has no connection to send with; nothing was sent";

#[test]
fn a_generated_password_is_sent_only_after_it_was_revealed_or_copied() {
    let mut h = Harness::new(NO_STORE, None);
    // bm-vpn: new + confirm only.
    h.key(KeyCode::Enter);
    assert_eq!(h.app().focus, Focus::Field(0));
    h.ctrl('g');
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    assert_eq!(h.status(), Some((Level::Error, NOT_SEEN.to_string())));
    // Revealed: allowed (here, no worker says nothing was sent: the gate let it through).
    h.ctrl('r');
    h.key(KeyCode::Enter);
    assert_eq!(h.status(), Some((Level::Warn, NO_WORKER.to_string())));
    h.clock.advance(Duration::from_secs(5));
    h.send(Message::Tick);
    assert_eq!(h.app().editor.as_ref().expect("editor").reveal, None);

    // Copied with Ctrl-Y: the OSC 52 sequence is written, and cleared after 45 s.
    h.ctrl('g');
    h.key(KeyCode::Enter);
    assert_eq!(h.status(), Some((Level::Error, NOT_SEEN.to_string())));
    h.ctrl('y');
    let password = h.new_password();
    assert_eq!(h.clipboard.take(), osc52(&password));
    assert_eq!(
        h.status(),
        Some((Level::Info, "copied — clipboard clears in 45 s".to_string()))
    );
    // The message has its own line, above the key hints (which stay).
    let screen = h.screen();
    let rows: Vec<&str> = screen.lines().collect();
    assert_eq!(
        rows[rows.len() - 2].trim_end(),
        "copied — clipboard clears in 45 s"
    );
    assert!(rows[rows.len() - 1].contains("^Y copy"), "{screen}");
    let now = h.clock.now();
    assert_eq!(
        h.app().next_deadline(now, h.clock.wall()),
        Some(now + Duration::from_secs(45)),
        "the clear is a deadline of the loop, not a poll"
    );
    h.key(KeyCode::Enter);
    assert_eq!(h.status(), Some((Level::Warn, NO_WORKER.to_string())));
    h.clock.advance(Duration::from_secs(44));
    h.send(Message::Tick);
    assert!(h.clipboard.take().is_empty(), "not yet");
    h.clock.advance(Duration::from_secs(1));
    h.send(Message::Tick);
    assert_eq!(h.clipboard.take(), b"\x1b]52;c;\x07");
    assert_eq!(h.app().next_deadline(h.clock.now(), h.clock.wall()), None);

    // Typing into New after generating makes it the user's own password: no gate.
    h.ctrl('g');
    h.key(KeyCode::Up);
    h.key(KeyCode::Char('x'));
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    assert_eq!(h.status(), Some((Level::Warn, NO_WORKER.to_string())));
    assert!(h.clipboard.take().is_empty(), "nothing copied");
}

#[test]
fn quitting_within_45_s_of_a_copy_clears_the_clipboard() {
    let mut h = Harness::new(NO_STORE, None);
    h.key(KeyCode::Enter);
    h.ctrl('g');
    h.ctrl('y');
    let password = h.new_password();
    assert_eq!(h.clipboard.take(), osc52(&password));
    h.clock.advance(Duration::from_secs(10));
    h.send(Message::Tick);
    assert!(h.clipboard.take().is_empty(), "not yet");
    h.ctrl('c');
    assert!(h.app().should_quit, "Ctrl-C quits");
    assert_eq!(h.clipboard.take(), b"\x1b]52;c;\x07", "cleared on quit");
}

fn open_change(dir: &Path, profile: &str) {
    let journal = Journal::new(dir, profile);
    let mut begin = Record::new("c1", Step::Begin);
    begin.kind = Some("huawei-dcs".into());
    journal.append(&begin).expect("journal");
    journal
        .append(&Record::new("c1", Step::Sending))
        .expect("journal");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rekey-cs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn an_unsettled_profile_shows_a_badge_and_refuses_new_changes() {
    let dir = temp_dir("badge");
    open_change(&dir, "redis-prod");
    let mut h = Harness::new(NO_STORE, Some(&dir));
    let screen = h.screen();
    let row = screen
        .lines()
        .find(|l| l.contains("redis-prod"))
        .expect("row");
    assert!(row.contains("  redis-prod         dcs unsettled┃"), "{row}");
    let bm = screen.lines().find(|l| l.contains("bm-vpn")).expect("row");
    assert!(!bm.contains("unsettled"), "{bm}");
    h.key(KeyCode::Down);
    let describe = h.app().unsettled["redis-prod"].describe();
    assert!(
        describe.contains("was being sent when rekey stopped: it may have been applied"),
        "{describe}"
    );
    // The detail block says what is pending where (wrapped in the pane).
    let detail: String = h
        .screen()
        .lines()
        .map(|l| l.split('│').nth(1).unwrap_or("").trim_end().to_string())
        .skip_while(|l| !l.starts_with("Unsettled: "))
        .take_while(|l| !l.is_empty() && !l.starts_with("No attempt"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        detail,
        format!("Unsettled: {describe} — R (in the profile list) settles it")
    );
    assert!(h.screen().contains("R settle · ↑↓/jk select"), "hint");
    // A change is refused with the reason and the R hint.
    h.key(KeyCode::Enter);
    for _ in 0..3 {
        for c in "Old#Pass2024x".chars() {
            h.key(KeyCode::Char(c));
        }
        h.key(KeyCode::Enter);
    }
    assert_eq!(
        h.status(),
        Some((
            Level::Error,
            format!(
                "Not sent: redis-prod is unsettled — {describe}. Settle it first: R in the profile list"
            )
        ))
    );
    // R on a DCS profile asks the admin.
    h.key(KeyCode::Esc);
    h.key_mod(KeyCode::Char('R'), KeyModifiers::SHIFT);
    assert_eq!(h.app().overlay, Some(Overlay::AskApplied));
    assert!(
        h.screen()
            .contains("a  applied      n  not applied      Esc / Enter  later"),
        "{}",
        h.screen()
    );
    h.key(KeyCode::Esc);
    assert_eq!(h.app().overlay, None);
    assert_eq!(
        h.status(),
        Some((Level::Info, "Not settled: R asks again".to_string()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The simulator's profiles with a command store (tests/store-script.sh) for `profiles`.
fn with_store(env: &Env, store_dir: &Path, profiles: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/store-script.sh");
    for profile in profiles {
        env.set(
            profile,
            "store",
            &format!(
                "{{ backend = \"command\", command = [\"env\", \"REKEY_TEST_STORE_DIR={}\", \"sh\", \"{}\"], entry = \"{profile}\" }}",
                store_dir.display(),
                script.display()
            ),
        );
        std::fs::write(
            store_dir.join(format!("{profile}.current")),
            env.password(profile),
        )
        .expect("seed current");
    }
}

/// A console on the env's profiles with the real worker, journals in `data`.
fn store_ui(env: &Env, data: &Path) -> (Ui, Captured) {
    let text = std::fs::read_to_string(&env.config).expect("profiles");
    let config = config::parse(Path::new("sim.toml"), &text).expect("valid");
    let terminal = Terminal::new(TestBackend::new(140, 45)).expect("backend");
    let mut app = App::new(None, Loaded::Config(config), (140, 45));
    let (state, _) = State::load(data);
    app.state = state;
    app.audit = Audit::new(Some(data), true);
    app.data_dir = Some(data.to_path_buf());
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
    let mut console = Console::new(terminal, app, clock);
    let captured = Captured::default();
    console.set_clipboard(Box::new(captured.clone()));
    let events = console.sender();
    console.set_worker(Worker::spawn(Arc::new(move |e| {
        let _ = events.send(Message::Worker(Box::new(e)));
    })));
    console.draw().expect("draw");
    (Ui { console }, captured)
}

fn filled_from(app: &App) -> Option<CurrentSource> {
    app.editor.as_ref().and_then(|e| e.current_from.clone())
}

/// Types new + confirm (the current password came from the store) and sends.
fn send_new(ui: &mut Ui, new: &str) {
    ui.key(KeyCode::Enter);
    // Enter focuses the first field still empty (New, when the store filled Current).
    let first = match ui.app().focus {
        Focus::Field(i) => i,
        other => panic!("Enter focuses a field, not {other:?}"),
    };
    let roles: Vec<FieldRole> = ui
        .app()
        .editor
        .as_ref()
        .expect("editor")
        .fields
        .iter()
        .map(|f| f.role)
        .skip(first)
        .collect();
    for role in roles {
        if matches!(role, FieldRole::New | FieldRole::Confirm) {
            ui.text(new);
        }
        ui.key(KeyCode::Enter);
    }
}

#[tokio::test]
async fn the_store_fills_the_current_password_and_keeps_the_new_one() {
    let env = Env::start("console-store").await;
    let store_dir = env.dir.join("store");
    std::fs::create_dir_all(&store_dir).expect("store dir");
    with_store(&env, &store_dir, &["iam-alice", "portal"]);
    let data = env.dir.join("data");
    let (mut ui, _) = store_ui(&env, &data);

    // Selecting fills the current password from the store, masked, never shown.
    ui.select("portal");
    ui.wait("current filled", |a| {
        matches!(filled_from(a), Some(CurrentSource::Store(_)))
    })
    .await;
    let old = env.password("portal");
    let screen = ui.screen();
    let row = screen
        .lines()
        .find(|l| l.contains("Current password"))
        .expect("current row");
    let dots = "•".repeat(old.chars().count());
    assert!(
        row.contains(&format!("Current password   {dots} from command:portal")),
        "{row}"
    );
    // (The demo's notes name the password; the field never does.)
    assert!(!row.contains(&old), "never its text: {row}");

    // A change: the exact outcome line names where the new password was saved.
    send_new(&mut ui, NEW);
    ui.wait("change", |a| a.job.is_none()).await;
    assert_eq!(
        ui.outcome(),
        "portal: Password changed · saved to command:portal (previous kept)"
    );
    assert!(
        ui.screen()
            .contains("portal: Password changed · saved to command:portal (previous kept)")
    );
    assert_eq!(env.password("portal"), NEW);
    let read = |slot: &str, profile: &str| {
        std::fs::read_to_string(store_dir.join(format!("{profile}.{slot}"))).ok()
    };
    assert_eq!(read("current", "portal").as_deref(), Some(NEW));
    assert_eq!(read("previous", "portal").as_deref(), Some(old.as_str()));
    assert_eq!(read("pending", "portal"), None);

    // IAM, the answer lost after the change was applied: unsettled, pending kept.
    ui.select("iam-alice");
    ui.wait("current filled", |a| {
        matches!(filled_from(a), Some(CurrentSource::Store(_)))
    })
    .await;
    let old = env.password("iam-alice");
    env.sim.inject(Route::IamPassword, Fault::Drop);
    send_new(&mut ui, NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome()
            .contains("· the new password is kept in command:iam-alice (pending) — R (in the profile list) settles it"),
        "{}",
        ui.outcome()
    );
    ui.wait("badge", |a| a.unsettled.contains_key("iam-alice"))
        .await;
    let screen = ui.screen();
    let row = screen
        .lines()
        .find(|l| l.contains("▶ iam-alice"))
        .expect("row");
    assert!(
        row.contains("iam-alice              iam unsettled│"),
        "{row}"
    );
    assert_eq!(read("pending", "iam-alice").as_deref(), Some(NEW));
    // Switching says where the password is.
    ui.key(KeyCode::Esc);
    ui.key(KeyCode::Down);
    assert_eq!(
        ui.app().status.clone(),
        Some((
            Level::Info,
            "iam-alice: the new password stays in command:iam-alice pending; R settles".into()
        ))
    );
    ui.select("iam-alice");
    // A new change is refused.
    send_new(&mut ui, "Other#Pass2025y");
    assert!(ui.app().job.is_none());
    assert!(
        ui.app()
            .status
            .as_ref()
            .is_some_and(|(_, s)| s.starts_with("Not sent: iam-alice is unsettled — ")),
        "{:?}",
        ui.app().status
    );
    // R settles it: a token with the pending password works, so it is promoted.
    let changes = env.sim.requests(Route::IamPassword);
    ui.key(KeyCode::Esc);
    ui.key_mod(KeyCode::Char('R'), KeyModifiers::SHIFT);
    assert_eq!(ui.app().settling, ui.app().selected);
    ui.wait("settled", |a| a.settling.is_none()).await;
    assert_eq!(
        ui.outcome(),
        "iam-alice: a token with the pending password worked: applied — the new password is now current in command:iam-alice (previous kept)"
    );
    ui.wait("badge gone", |a| !a.unsettled.contains_key("iam-alice"))
        .await;
    assert!(
        !ui.screen()
            .lines()
            .any(|l| l.contains("  iam-alice") && l.contains("unsettled"))
    );
    assert_eq!(
        env.sim.requests(Route::IamPassword),
        changes,
        "no change sent"
    );
    assert_eq!(read("current", "iam-alice").as_deref(), Some(NEW));
    assert_eq!(read("previous", "iam-alice").as_deref(), Some(old.as_str()));
    assert_eq!(read("pending", "iam-alice"), None);
}

#[tokio::test]
async fn without_a_store_a_password_that_may_be_live_is_never_dropped_silently() {
    let env = Env::start("console-discard").await;
    let data = env.dir.join("data");
    let (mut ui, clipboard) = store_ui(&env, &data);
    ui.select("redis-otc");
    env.sim.inject(Route::DcsPassword, Fault::Drop);
    let current = env.password("redis-otc");
    ui.submit(Some(&current), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("MAY have been applied"));
    ui.wait("badge", |a| a.unsettled.contains_key("redis-otc"))
        .await;
    ui.key(KeyCode::Esc);
    // Switching asks first.
    let selected = ui.app().selected;
    ui.key(KeyCode::Down);
    assert_eq!(
        ui.app().overlay,
        Some(Overlay::ConfirmDiscard(Then::Select(
            selected.expect("selected") + 1
        )))
    );
    assert_eq!(ui.app().selected, selected);
    let screen = ui.screen();
    assert!(
        screen.contains("The new password may be live and rekey holds the only copy:"),
        "{screen}"
    );
    assert!(
        screen.contains("reveal it (Ctrl-R), copy it (Ctrl-Y), or discard it?"),
        "{screen}"
    );
    assert!(screen.contains("d  discard and switch      n / Esc / Enter  stay"));
    assert!(!screen.contains(NEW));
    ui.key_mod(KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert!(
        ui.screen().contains(&format!("New password: {NEW}")),
        "{}",
        ui.screen()
    );
    ui.key_mod(KeyCode::Char('y'), KeyModifiers::CONTROL);
    assert_eq!(clipboard.take(), osc52(NEW));
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app().overlay, None);
    assert_eq!(ui.app().selected, selected, "stayed");
    // Reloading and quitting ask too.
    ui.key(KeyCode::Char('r'));
    assert_eq!(
        ui.app().overlay,
        Some(Overlay::ConfirmDiscard(Then::Reload))
    );
    ui.key(KeyCode::Char('n'));
    ui.key(KeyCode::Char('q'));
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    assert!(
        ui.screen()
            .contains("The new password may be live and rekey holds the only copy:")
    );
    ui.key(KeyCode::Esc);
    assert!(!ui.app().should_quit);
    // Discarding switches.
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Char('d'));
    assert_eq!(ui.app().overlay, None);
    assert_eq!(ui.app().selected, selected.map(|s| s + 1));
    assert_eq!(ui.app().unknown, None);
}

#[tokio::test]
async fn without_a_store_an_f5_check_settles_the_journaled_change() {
    let env = Env::start("console-f5-settles").await;
    let data = env.dir.join("data");
    let (mut ui, _clipboard) = store_ui(&env, &data);
    ui.select("iam-admin");
    env.sim.inject(Route::IamPassword, Fault::Drop);
    let current = env.password("iam-admin");
    ui.submit(Some(&current), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    ui.wait("badge", |a| a.unsettled.contains_key("iam-admin"))
        .await;
    assert_eq!(env.password("iam-admin"), NEW, "Drop applied it");
    // F5: a token with the password that was sent works — applied, and the journal says so.
    ui.key(KeyCode::F(5));
    ui.wait("the check and the settle", |a| {
        a.job.is_none() && a.settling.is_none() && !a.unsettled.contains_key("iam-admin")
    })
    .await;
    let reading = rekey::change::unsettled(&data, "iam-admin");
    assert!(reading.open.is_none(), "journal closed: {:?}", reading.open);
    assert!(ui.outcome().contains("applied"), "{}", ui.outcome());
}
