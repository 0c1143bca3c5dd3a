//! Issue 9's traps 1, 2, 3, 4, 5 and 10, each through the console's real message loop (a
//! `TestBackend`, an injected clock, the real worker against the simulator where a provider
//! answers): every test here fails on the console before the fix.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use common::Env;
use common::harness::{Harness, loaded};
use common::ui::Ui;
use crossterm::event::{Event, KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::config;
use rekey::console::app::Level;
use rekey::console::editor::{CurrentSource, FieldRole};
use rekey::console::{App, Clock, Console, Focus, Loaded, ManualClock, Message, Overlay};
use rekey::provider::{Outcome, Report};
use rekey::sim::{Fault, Route};
use rekey::state::{Audit, State};
use rekey::worker::Worker;

const NEW: &str = "New#Pass2025x";

const PROFILES: &str = r#"
[[profile]]
name = "iam-production-eu-west-billing-admins"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "alice"
production = true

[[profile]]
name = "iam-locked"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "bob"

[[profile]]
name = "portal"
kind = "tencent-ciam"
endpoint = "https://sample.portal.tencentciam.com"
client_id = "app-client-id"
auth_source_id = "auth-source-id"
username = "bob"
"#;

/// The console without a worker (nothing is sent), with a manual clock.
impl Harness {
    fn new(width: u16, height: u16, setup: impl FnOnce(&mut App, SystemTime)) -> Harness {
        Harness::manual(None, loaded(PROFILES), (width, height), setup)
    }

    fn status(&self) -> String {
        status(self.app())
    }
}

fn resize(console: &mut Console<TestBackend>, width: u16, height: u16) {
    console.terminal_mut().backend_mut().resize(width, height);
    console
        .sender()
        .send(Message::Input(Event::Resize(width, height)))
        .expect("queue open");
    console.process_queue().expect("draw");
}

fn status(app: &App) -> String {
    app.status
        .as_ref()
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

/// The rows of the dialog box titled `title`, from its top border to its last row inside
/// (the bottom border excluded), each cut to the box.
fn dialog_rows(screen: &str, title: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains(title))
        .take_while(|l| !l.contains('╝'))
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            let start = chars
                .iter()
                .position(|&c| c == '╔' || c == '║')
                .unwrap_or(0);
            let end = chars
                .iter()
                .rposition(|&c| c == '╗' || c == '║')
                .unwrap_or(chars.len() - 1);
            chars[start..=end].iter().collect()
        })
        .collect()
}

/// The rows of `screen` that hold `needle`.
fn rows_with<'a>(screen: &'a str, needle: &str) -> Vec<&'a str> {
    screen.lines().filter(|l| l.contains(needle)).collect()
}

/// Fills the selected profile's fields (current, new, confirm) and presses Enter on the last.
fn fill_and_send(h: &mut Harness, current: &str, new: &str) {
    h.key(KeyCode::Enter);
    h.text(current);
    h.key(KeyCode::Enter);
    h.text(new);
    h.key(KeyCode::Enter);
    h.text(new);
    h.key(KeyCode::Enter);
}

// Trap 1 -------------------------------------------------------------------------------------

#[tokio::test]
async fn trap1_a_refused_current_password_is_cleared_focused_and_never_resent() {
    let env = Env::start("traps-refused").await;
    let mut ui = Ui::new(&env);
    ui.select("redis-aksk");
    ui.submit(Some("Wrong#Pass2024"), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert_eq!(env.sim.requests(Route::DcsPassword), 1);
    let outcome = ui.outcome();
    assert!(
        outcome.ends_with(" — type the current password again: the refused one will not be resent"),
        "{outcome}"
    );
    // The refused text is gone and the cursor is in its field: Enter cannot resend it.
    let editor = ui.app().editor.as_ref().expect("editor");
    let current = editor.index_of(FieldRole::Current).expect("current");
    assert!(editor.fields[current].buf.is_empty());
    assert_eq!(ui.app().focus, Focus::Field(current));
    ui.key(KeyCode::Enter);
    ui.key(KeyCode::Enter);
    ui.key(KeyCode::Enter);
    assert_eq!(status(ui.app()), "Current password is empty");
    // Typing the same refused password again is refused before anything leaves.
    ui.text("Wrong#Pass2024");
    for _ in 0..3 {
        ui.key(KeyCode::Enter);
    }
    assert_eq!(
        status(ui.app()),
        "Not sent: redis-aksk's provider just refused this current password; sending it again would spend another attempt. Type the right one"
    );
    assert_eq!(ui.app().job, None);
    assert_eq!(env.sim.requests(Route::DcsPassword), 1, "no attempt spent");
    // The right one goes through.
    let right = env.password("redis-aksk");
    ui.text(&right);
    for _ in 0..3 {
        ui.key(KeyCode::Enter);
    }
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
    assert_eq!(env.sim.requests(Route::DcsPassword), 2);
}

/// Trap 1 with a store: the current password comes from a `command` store
/// (tests/store-script.sh) and the provider refuses it. The console says the store's password
/// was refused and never resends it, not even when selecting the profile again fills the same
/// refused password from the store: the simulator counts one request.
#[tokio::test]
async fn trap1_a_refused_current_password_from_a_store_is_never_resent() {
    let env = Env::start("traps-refused-store").await;
    let store_dir = env.dir.join("store");
    std::fs::create_dir_all(&store_dir).expect("store dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/store-script.sh");
    env.set(
        "redis-aksk",
        "store",
        &format!(
            "{{ backend = \"command\", command = [\"env\", \"REKEY_TEST_STORE_DIR={}\", \"sh\", \"{}\"], entry = \"redis-aksk\" }}",
            store_dir.display(),
            script.display()
        ),
    );
    // The store holds a current password the provider does not accept.
    let wrong = "Wrong#Pass2024";
    std::fs::write(store_dir.join("redis-aksk.current"), wrong).expect("seed current");
    let data = env.dir.join("data");
    let mut ui = store_console(&env, &data);
    let from_store = |a: &App| {
        matches!(
            a.editor.as_ref().and_then(|e| e.current_from.clone()),
            Some(CurrentSource::Store(_))
        )
    };
    ui.select("redis-aksk");
    ui.wait("current filled", from_store).await;
    send_new_from_store(&mut ui);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert_eq!(env.sim.requests(Route::DcsPassword), 1);
    let said = "the current password from command:redis-aksk was refused: it will not be resent. Type the right one, or fix it in command:redis-aksk";
    let outcome = ui.outcome();
    assert!(outcome.ends_with(said), "{outcome}");
    assert!(
        ui.screen()
            .contains("command:redis-aksk was refused: it will not be resent."),
        "{}",
        ui.screen()
    );
    // The refused text is gone and the cursor is in its field: Enter cannot resend it.
    let editor = ui.app().editor.as_ref().expect("editor");
    let current = editor.index_of(FieldRole::Current).expect("current");
    assert!(editor.fields[current].buf.is_empty());
    assert_eq!(ui.app().focus, Focus::Field(current));
    for _ in 0..3 {
        ui.key(KeyCode::Enter);
    }
    assert_eq!(status(ui.app()), "Current password is empty");
    assert_eq!(ui.app().job, None);
    assert_eq!(env.sim.requests(Route::DcsPassword), 1, "no attempt spent");

    // Selecting the profile again fills the same refused password from the store: it is not
    // sent either.
    ui.select("redis-otc");
    ui.select("redis-aksk");
    ui.wait("current filled again", from_store).await;
    send_new_from_store(&mut ui);
    assert_eq!(
        status(ui.app()),
        "Not sent: redis-aksk's provider refused the current password from command:redis-aksk; it is not resent. Type the right one, or fix it in command:redis-aksk"
    );
    assert!(
        ui.screen()
            .contains("Not sent: redis-aksk's provider refused"),
        "{}",
        ui.screen()
    );
    assert_eq!(ui.app().job, None);
    // Nothing more reached the simulator, however long the loop runs.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    ui.console.process_queue().expect("draw");
    assert_eq!(ui.app().job, None);
    assert_eq!(env.sim.requests(Route::DcsPassword), 1, "no attempt spent");
}

/// A console on the env's profiles with the real worker, state, audit and journals in `data`.
fn store_console(env: &Env, data: &Path) -> Ui {
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
    let events = console.sender();
    console.set_worker(Worker::spawn(Arc::new(move |e| {
        let _ = events.send(Message::Worker(Box::new(e)));
    })));
    console.draw().expect("draw");
    Ui { console }
}

/// Enter focuses the first empty field (New: the store filled Current); types new + confirm
/// and presses Enter on each (the last sends).
fn send_new_from_store(ui: &mut Ui) {
    ui.key(KeyCode::Enter);
    assert!(
        matches!(ui.app().focus, Focus::Field(i) if i > 0),
        "{:?}",
        ui.app().focus
    );
    for _ in 0..2 {
        ui.text(NEW);
        ui.key(KeyCode::Enter);
    }
}

// Trap 2 -------------------------------------------------------------------------------------

#[test]
fn trap2_below_the_minimum_size_keys_do_not_answer_hidden_questions_or_type() {
    let mut h = Harness::new(80, 24, |_, _| {});
    fill_and_send(&mut h, "Old#Pass2024", NEW);
    assert!(matches!(h.app().overlay, Some(Overlay::Confirm { .. })));
    h.resize(60, 20);
    let name = "iam-production-eu-west-billing-admins";
    h.key(KeyCode::Char('y'));
    h.text(name);
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Esc);
    let too_small = h.screen();
    let rows: Vec<&str> = too_small.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        rows.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        vec![
            "Terminal too small",
            "60×20 — rekey needs at least 80×24.",
            "Enlarge the window, or press q to quit.",
        ]
    );
    // The question is still open, untouched: nothing answered it behind the screen.
    h.resize(80, 24);
    assert!(matches!(h.app().overlay, Some(Overlay::Confirm { .. })));
    assert_eq!(h.app().confirm_input, "");
    assert!(
        h.screen().contains(&format!("Type {name} to send: ▏")),
        "{}",
        h.screen()
    );
    // In a field, q behind the screen quits instead of being typed.
    h.key(KeyCode::Esc);
    let field = h.app().focus;
    assert!(matches!(field, Focus::Field(_)), "{field:?}");
    h.resize(79, 24);
    h.key(KeyCode::Char('q'));
    assert!(h.app().should_quit);
    let editor = h.app().editor.as_ref().expect("editor");
    assert!(editor.fields.iter().all(|f| !f.buf.expose().contains('q')));
}

// Trap 3 -------------------------------------------------------------------------------------

#[tokio::test]
async fn trap3_fields_are_locked_while_a_change_is_in_flight() {
    let env = Env::start("traps-locked").await;
    let mut ui = Ui::new(&env);
    ui.select("redis-aksk");
    env.sim.inject(Route::DcsPassword, Fault::Hold);
    let current = env.password("redis-aksk");
    ui.submit(Some(&current), NEW);
    env.sim.wait_requests(Route::DcsPassword, 1).await;
    assert!(ui.app().job.is_some());
    ui.text("x");
    assert_eq!(
        status(ui.app()),
        "The fields are locked while the request to redis-aksk is in flight (Esc cancels)"
    );
    ui.key(KeyCode::Backspace);
    ui.key_mod(KeyCode::Char('x'), KeyModifiers::CONTROL);
    ui.key_mod(KeyCode::Char('g'), KeyModifiers::CONTROL);
    ui.key_mod(KeyCode::Char('u'), KeyModifiers::CONTROL);
    ui.key(KeyCode::Up);
    ui.key(KeyCode::Delete);
    ui.console
        .sender()
        .send(Message::Input(Event::Paste("pasted".into())))
        .expect("queue");
    ui.console.process_queue().expect("draw");
    assert_eq!(
        status(ui.app()),
        "Paste refused: the fields are locked while a request is in flight (Esc cancels)"
    );
    // The editor still holds exactly what was sent.
    let editor = ui.app().editor.as_ref().expect("editor");
    let texts: Vec<&str> = editor.fields.iter().map(|f| f.buf.expose()).collect();
    assert_eq!(texts[texts.len() - 3..], [current.as_str(), NEW, NEW]);
    env.sim.release_held();
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
}

// Trap 4 -------------------------------------------------------------------------------------

fn locked(app: &mut App, wall: SystemTime) {
    let mut report = Report::new(Outcome::Locked, "");
    report.lock_minutes_left = Some(30);
    app.state
        .record("iam-locked", &report, wall)
        .expect("seed state");
}

#[test]
fn trap4_send_although_locked_shows_its_keys_at_80x24_and_enter_does_not_send() {
    let mut h = Harness::new(80, 24, locked);
    h.key(KeyCode::Down);
    fill_and_send(&mut h, "Old#Pass2024", NEW);
    let refused = h.status();
    assert!(
        refused.starts_with(
            "Not sent: iam-locked is locked; Ctrl-O sends anyway. Locked for another 30:00 (until "
        ) && refused.ends_with(")"),
        "{refused}"
    );
    h.ctrl('o');
    let screen = h.screen();
    let dialog = dialog_rows(&screen, "Send although locked?");
    assert_eq!(
        dialog,
        vec![
            "╔ Send although locked? ═════════════════════════════════════════════╗",
            "║iam-locked is known to be locked for another 30:00.                 ║",
            "║The provider will most likely refuse, and an attempt may extend the ║",
            "║lock.                                                               ║",
            "║                                                                    ║",
            "║y  send      n / Esc / Enter  do not send                           ║",
        ],
        "{screen}"
    );
    h.key(KeyCode::Enter);
    assert_eq!(h.app().overlay, None);
    assert_eq!(h.status(), "Not sent");
    h.ctrl('o');
    assert_eq!(
        h.status(),
        "Ctrl-O has nothing to override: it sends anyway only right after a send was refused because the profile is locked"
    );
}

#[tokio::test]
async fn trap4_quit_after_unknown_shows_its_keys_at_80x24_and_enter_stays() {
    let env = Env::start("traps-quit").await;
    let mut ui = Ui::new(&env);
    ui.select("iam-alice");
    env.sim.inject(Route::IamPassword, Fault::Drop);
    ui.submit(Some(&env.password("iam-alice")), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    resize(&mut ui.console, 80, 24);
    ui.key(KeyCode::Esc);
    ui.key(KeyCode::Char('q'));
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    let screen = ui.screen();
    let dialog = dialog_rows(&screen, " Quit? ");
    assert_eq!(
        dialog,
        vec![
            "╔ Quit? ═════════════════════════════════════════════════════════════╗",
            "║The new password may be live and rekey holds the only copy:         ║",
            "║reveal it (Ctrl-R), copy it (Ctrl-Y), or discard it?                ║",
            "║                                                                    ║",
            "║d  discard and quit      n / Esc / Enter  stay                      ║",
        ],
        "{screen}"
    );
    ui.key(KeyCode::Enter);
    assert_eq!(ui.app().overlay, None);
    assert!(!ui.app().should_quit, "Enter stays");
    ui.key(KeyCode::Char('q'));
    ui.key(KeyCode::Char(' '));
    assert_eq!(ui.app().overlay, None);
    assert!(!ui.app().should_quit, "Space stays");
}

// Trap 5 -------------------------------------------------------------------------------------

#[test]
fn trap5_production_is_marked_in_the_list_and_the_banner_survives_a_long_name_at_80() {
    let h = Harness::new(80, 24, |_, _| {});
    let screen = h.screen();
    let lines: Vec<&str> = screen.lines().collect();
    // The list row carries a sign, not only a colour; the other rows do not.
    assert!(lines[1].starts_with("┃▶ ⚠ iam-productio… iam┃"), "{screen}");
    assert!(!rows_with(&screen, "iam-locked")[0].contains('⚠'));
    // The banner leads the editor's title: the long name is cut, not the banner.
    assert!(
        lines[0].ends_with("┌ ⚠ PRODUCTION  Change password — iam-production-eu-wes┐"),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn trap5_a_production_send_is_confirmed_by_typing_the_profile_name() {
    let env = Env::start("traps-prod").await;
    env.set("portal", "production", "true");
    let mut ui = Ui::new(&env);
    ui.select("portal");
    ui.submit(Some(&env.password("portal")), NEW);
    assert!(matches!(ui.app().overlay, Some(Overlay::Confirm { .. })));
    assert!(
        ui.screen().contains("Type portal to send: ▏"),
        "{}",
        ui.screen()
    );
    // A single y is only a letter of the name.
    ui.key(KeyCode::Char('y'));
    ui.key(KeyCode::Enter);
    assert_eq!(
        status(ui.app()),
        "Not sent: type portal exactly to send, or Esc"
    );
    assert!(matches!(ui.app().overlay, Some(Overlay::Confirm { .. })));
    assert_eq!(env.sim.requests(Route::CiamPassword), 0);
    ui.key(KeyCode::Backspace);
    ui.text("portal");
    assert!(ui.screen().contains("Type portal to send: portal▏"));
    ui.key(KeyCode::Enter);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
}

// Trap 10 ------------------------------------------------------------------------------------

#[test]
fn trap10_silent_keys_say_why_and_masked_fields_move_by_character() {
    let mut h = Harness::new(120, 40, |_, _| {});
    h.key(KeyCode::F(5));
    assert_eq!(
        h.status(),
        "F5 has nothing to check: it checks a change whose outcome is unknown, and there is none"
    );
    assert_eq!(h.app().status.as_ref().map(|s| s.0), Some(Level::Info));
    h.ctrl('o');
    assert!(h.status().starts_with("Ctrl-O has nothing to override"));
    // Masked: Ctrl-← moves one character, so the X lands before the last character.
    h.key(KeyCode::Enter);
    h.text("ab cd");
    h.key_mod(KeyCode::Left, KeyModifiers::CONTROL);
    h.text("X");
    h.key_mod(KeyCode::Left, KeyModifiers::ALT);
    h.key_mod(KeyCode::Left, KeyModifiers::ALT);
    h.text("Y");
    h.ctrl('r');
    let screen = h.screen();
    assert_eq!(rows_with(&screen, "(shown)").len(), 1, "{screen}");
    // By word, the Y would have gone before the c's word start and the X before "cd".
    assert!(
        screen.contains("Current password   ab YcXd (shown)"),
        "{screen}"
    );
}
