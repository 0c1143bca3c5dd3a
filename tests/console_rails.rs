//! Lockout state and safety rails through the console's message loop: badges with a live
//! countdown from an injected clock, the locked refusal and its override, the last-attempt and
//! production confirmations, the unknown-outcome check, quitting with work in flight, and the
//! state and audit files.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::ui::Ui;
use common::{CANARY, Env};
use crossterm::event::{KeyCode, KeyModifiers};
use rekey::console::app::Ask;
use rekey::console::{Clock, ManualClock, Message, Overlay};
use rekey::provider::{Outcome, Report};
use rekey::sim::{Fault, Route};
use rekey::state::{AUDIT_FILE, STATE_FILE, State};

const NEW: &str = "New#Pass2025x";

/// A data dir whose state says `profile` is locked for `minutes` from `clock`'s now, or has
/// `retries` left.
fn data_dir(env: &Env, name: &str) -> std::path::PathBuf {
    let dir = env.dir.join(name);
    std::fs::create_dir_all(&dir).expect("data dir");
    dir
}

fn seed(dir: &std::path::Path, profile: &str, report: Report, at: SystemTime) {
    let (mut state, _) = State::load(dir);
    state.record(profile, &report, at).expect("seed state");
}

fn locked(minutes: u32) -> Report {
    let mut r = Report::new(Outcome::Locked, "");
    r.lock_minutes_left = Some(minutes);
    r
}

#[tokio::test]
async fn a_lock_shows_a_live_countdown_and_refuses_until_overridden() {
    let env = Env::start("rails-lock").await;
    let clock = ManualClock::default();
    let dir = data_dir(&env, "lock");
    seed(&dir, "redis-aksk", locked(3), clock.wall());
    let mut ui = Ui::with(&env, Arc::new(clock.clone()), Some(&dir));
    ui.console.draw().expect("draw");
    assert!(ui.screen().contains("locked 03:00"), "{}", ui.screen());
    // The loop wakes once a second while the countdown is visible.
    let wake = ui
        .app()
        .next_deadline(clock.now(), clock.wall())
        .expect("countdown tick");
    let step = wake - clock.now();
    assert!(
        step > Duration::ZERO && step <= Duration::from_secs(1),
        "{step:?}"
    );
    clock.advance(Duration::from_secs(1));
    ui.console.sender().send(Message::Tick).expect("queue");
    ui.console.process_queue().expect("draw");
    assert!(ui.screen().contains("locked 02:59"), "{}", ui.screen());

    // Sending is refused with the time left, and the refusal names its override key.
    ui.select("redis-aksk");
    ui.submit(Some(&env.password("redis-aksk")), NEW);
    let (_, status) = ui.app().status.clone().expect("status");
    assert!(status.contains("Locked for another 02:59"), "{status}");
    assert!(status.contains("Ctrl-O"), "{status}");
    assert!(ui.app().job.is_none());
    assert_eq!(env.sim.requests(Route::DcsPassword), 0);
    // Ctrl-O asks; n keeps it unsent; Ctrl-O + y sends.
    ui.key_mod(KeyCode::Char('o'), KeyModifiers::CONTROL);
    assert!(matches!(
        ui.app().overlay,
        Some(Overlay::Confirm {
            ask: Ask::Locked,
            ..
        })
    ));
    assert!(
        ui.screen().contains("known to be locked"),
        "{}",
        ui.screen()
    );
    ui.key(KeyCode::Char('y'));
    ui.wait("answer", |a| a.job.is_none()).await;
    assert_eq!(env.sim.requests(Route::DcsPassword), 1);
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
    // The success clears the lock: no badge countdown, and an idle console sleeps.
    assert!(!ui.screen().contains("locked 0"), "{}", ui.screen());
    assert!(ui.app().next_deadline(clock.now(), clock.wall()).is_none());
}

#[tokio::test]
async fn the_countdown_stops_when_the_lock_ends_or_is_filtered_out() {
    let env = Env::start("rails-countdown").await;
    let clock = ManualClock::default();
    let dir = data_dir(&env, "countdown");
    seed(&dir, "iam-alice", locked(1), clock.wall());
    let mut ui = Ui::with(&env, Arc::new(clock.clone()), Some(&dir));
    ui.console.draw().expect("draw");
    assert!(ui.screen().contains("locked 01:00"));
    // Filtered out of view: no more ticks.
    ui.key(KeyCode::Char('/'));
    ui.text("portal");
    assert!(ui.app().next_deadline(clock.now(), clock.wall()).is_none());
    ui.key(KeyCode::Esc);
    assert!(ui.app().next_deadline(clock.now(), clock.wall()).is_some());
    clock.advance(Duration::from_secs(60));
    ui.console.sender().send(Message::Tick).expect("queue");
    ui.console.process_queue().expect("draw");
    assert!(!ui.screen().contains("locked"), "{}", ui.screen());
    assert!(
        ui.app().next_deadline(clock.now(), clock.wall()).is_none(),
        "idle after the lock ends"
    );
}

#[tokio::test]
async fn retries_count_down_and_the_last_attempts_ask_first() {
    let env = Env::start("rails-retries").await;
    let dir = data_dir(&env, "retries");
    let mut ui = Ui::with(&env, Arc::new(rekey::console::SystemClock), Some(&dir));
    ui.select("redis-aksk");
    for left in [4, 3, 2] {
        // A different wrong password each time: the console refuses to resend a refused one.
        ui.submit(Some(&format!("Wrong#Pass202{left}")), NEW);
        ui.wait("answer", |a| a.job.is_none()).await;
        let tries = format!("{left} tries left");
        assert!(ui.screen().contains(&tries), "{tries}\n{}", ui.screen());
        ui.key(KeyCode::Esc);
        ui.key(KeyCode::Enter);
        // Clear the fields for the next attempt.
        ui.key_mod(KeyCode::Char('x'), KeyModifiers::CONTROL);
        ui.key(KeyCode::Esc);
    }
    // 2 left: Enter asks "This may be your last attempt before a lock. Send?"
    ui.submit(Some("Wrong#Pass2021"), NEW);
    assert!(matches!(
        ui.app().overlay,
        Some(Overlay::Confirm {
            ask: Ask::LastAttempt,
            ..
        })
    ));
    assert!(
        ui.screen()
            .contains("This may be your last attempt before a lock. Send?")
    );
    ui.key(KeyCode::Char('n'));
    assert!(ui.app().job.is_none());
    assert_eq!(env.sim.requests(Route::DcsPassword), 3, "not sent");
    ui.key(KeyCode::Enter);
    ui.key(KeyCode::Char('y'));
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(ui.screen().contains("1 try left"), "{}", ui.screen());
}

#[tokio::test]
async fn production_profiles_show_a_banner_and_ask_before_every_send() {
    let env = Env::start("rails-prod").await;
    env.set("portal", "production", "true");
    let mut ui = Ui::new(&env);
    ui.select("portal");
    assert!(ui.screen().contains("PRODUCTION"), "{}", ui.screen());
    ui.submit(Some(&env.password("portal")), NEW);
    assert!(matches!(
        ui.app().overlay,
        Some(Overlay::Confirm {
            ask: Ask::Production,
            ..
        })
    ));
    ui.key(KeyCode::Esc);
    assert_eq!(env.sim.requests(Route::CiamToken), 0);
    ui.key(KeyCode::Enter);
    // Production is confirmed by typing the profile's name (issue 9, trap 5), not a `y`.
    ui.text("portal");
    ui.key(KeyCode::Enter);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
}

#[tokio::test]
async fn after_unknown_the_console_offers_a_check_where_the_provider_allows_it() {
    let env = Env::start("rails-unknown").await;
    let mut ui = Ui::new(&env);
    // IAM: the answer is lost after the change was applied; F5 asks for a token with it.
    ui.select("iam-alice");
    env.sim.inject(Route::IamPassword, Fault::Drop);
    ui.submit(Some(&env.password("iam-alice")), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("MAY have been applied"),
        "{} {:#?}",
        ui.outcome(),
        ui.app().log
    );
    assert!(ui.outcome().contains("F5"), "{}", ui.outcome());
    assert_eq!(ui.app().unknown, Some(ui.app().selected.expect("selected")));
    // Quitting now asks first.
    ui.key(KeyCode::Esc);
    ui.key(KeyCode::Char('q'));
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    ui.key(KeyCode::Char('n'));
    assert!(!ui.app().should_quit);
    let changes = env.sim.requests(Route::IamPassword);
    ui.key(KeyCode::F(5));
    ui.wait("check", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("the change was applied"),
        "{}",
        ui.outcome()
    );
    assert_eq!(
        env.sim.requests(Route::IamPassword),
        changes,
        "a check changes nothing"
    );
    assert_eq!(ui.app().unknown, None);
    let editor = ui.app().editor.as_ref().expect("editor");
    assert!(
        editor.fields.iter().all(|f| f.buf.is_empty()),
        "wiped once known applied"
    );
    // CIAM, answer lost before applying (Hold then cancel): the check says not applied.
    ui.select("portal");
    env.sim.inject(Route::CiamPassword, Fault::Hold);
    ui.submit(Some(&env.password("portal")), NEW);
    env.sim.wait_requests(Route::CiamPassword, 1).await;
    ui.key(KeyCode::Esc);
    ui.wait("cancel", |a| a.job.is_none()).await;
    ui.key(KeyCode::F(5));
    ui.wait("check", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("NOT applied"), "{}", ui.outcome());
    // DCS: no free check; the console explains how to verify by hand.
    ui.select("redis-otc");
    env.sim.inject(Route::DcsPassword, Fault::Drop);
    ui.submit(Some(&env.password("redis-otc")), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("redis-cli"), "{}", ui.outcome());
}

#[tokio::test]
async fn quitting_with_a_change_in_flight_asks_and_ctrl_c_twice_quits() {
    let env = Env::start("rails-quit").await;
    let mut ui = Ui::new(&env);
    ui.select("portal");
    env.sim.inject(Route::CiamPassword, Fault::Hold);
    ui.submit(Some(&env.password("portal")), NEW);
    env.sim.wait_requests(Route::CiamPassword, 1).await;
    ui.key(KeyCode::Tab);
    ui.key(KeyCode::Char('q'));
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    assert!(
        ui.screen().contains("A change is in flight"),
        "{}",
        ui.screen()
    );
    ui.key(KeyCode::Esc);
    assert!(!ui.app().should_quit);
    ui.key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    ui.key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(ui.app().should_quit);
}

#[tokio::test]
async fn state_and_audit_files_record_attempts_without_secrets() {
    let env = Env::start("rails-files").await;
    let dir = data_dir(&env, "files");
    let mut ui = Ui::with(&env, Arc::new(rekey::console::SystemClock), Some(&dir));
    ui.select("redis-aksk");
    ui.submit(Some("Wrong#Pass2024"), CANARY);
    ui.wait("answer", |a| a.job.is_none()).await;
    ui.key(KeyCode::Esc);
    ui.key(KeyCode::Enter);
    ui.key_mod(KeyCode::Char('x'), KeyModifiers::CONTROL);
    ui.key(KeyCode::Esc);
    let current = env.password("redis-aksk");
    ui.submit(Some(&current), CANARY);
    ui.wait("answer", |a| a.job.is_none()).await;
    let state = std::fs::read_to_string(dir.join(STATE_FILE)).expect("state.json");
    let audit = std::fs::read_to_string(dir.join(AUDIT_FILE)).expect("audit.jsonl");
    assert!(state.contains("\"last_outcome\": \"changed\""), "{state}");
    assert!(state.contains("last_changed_at"), "{state}");
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "wrong_old_password");
    assert_eq!(lines[1]["outcome"], "changed");
    assert_eq!(lines[1]["profile"], "redis-aksk");
    assert_eq!(lines[1]["kind"], "huawei-dcs");
    assert_eq!(lines[1]["http_status"], 200);
    for text in [&state, &audit] {
        assert!(
            !text.contains(CANARY) && !text.contains(&current) && !text.contains("Wrong#Pass2024")
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [STATE_FILE, AUDIT_FILE] {
            let mode = std::fs::metadata(dir.join(file))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

#[tokio::test]
async fn audit_false_turns_the_trail_off() {
    let env = Env::start("rails-audit-off").await;
    let text = std::fs::read_to_string(&env.config).expect("read");
    std::fs::write(&env.config, format!("audit = false\n{text}")).expect("write");
    let dir = data_dir(&env, "off");
    let mut ui = Ui::with(&env, Arc::new(rekey::console::SystemClock), Some(&dir));
    ui.select("portal");
    ui.submit(Some(&env.password("portal")), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(dir.join(STATE_FILE).exists());
    assert!(!dir.join(AUDIT_FILE).exists());
}

/// Issue 9: state and audit writes run off the loop and a failed one is shown, never dropped.
/// Directories where `state.json` and `audit.jsonl` should be make both writes fail.
#[tokio::test]
async fn a_failed_state_or_audit_write_is_shown() {
    let env = Env::start("rails-write-fails").await;
    let dir = data_dir(&env, "blocked");
    let mut ui = Ui::with(&env, Arc::new(rekey::console::SystemClock), Some(&dir));
    std::fs::create_dir(dir.join(STATE_FILE)).expect("a dir where state.json goes");
    std::fs::create_dir(dir.join(AUDIT_FILE)).expect("a dir where audit.jsonl goes");
    ui.select("portal");
    ui.submit(Some(&env.password("portal")), NEW);
    ui.wait("answer and writes", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("portal"), "{}", ui.outcome());
    // The message line says the last failure; the history keeps both.
    let screen = ui.screen();
    assert!(
        screen.contains("portal: audit.jsonl not written"),
        "{screen}"
    );
    let said: Vec<String> = ui.app().history.iter().map(|(_, t)| t.clone()).collect();
    assert!(
        said.iter()
            .any(|t| t.starts_with("portal: state.json not saved")),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|t| t.starts_with("portal: audit.jsonl not written")),
        "{said:#?}"
    );
    // The change itself still counts in memory: the state shows it.
    assert_eq!(
        ui.app().state.get("portal").and_then(|s| s.last_outcome),
        Some(Outcome::Changed)
    );
}

/// Issue 9: quitting with a change in flight records it as `unknown`; when that cannot be
/// written, the console keeps what failed for the terminal (`rekey` prints it once restored).
#[tokio::test]
async fn a_failed_write_at_quit_is_kept_for_the_terminal() {
    let env = Env::start("rails-quit-fails").await;
    let dir = data_dir(&env, "quit-blocked");
    let mut ui = Ui::with(&env, Arc::new(rekey::console::SystemClock), Some(&dir));
    std::fs::create_dir(dir.join(STATE_FILE)).expect("a dir where state.json goes");
    std::fs::create_dir(dir.join(AUDIT_FILE)).expect("a dir where audit.jsonl goes");
    ui.select("portal");
    env.sim.inject(Route::CiamPassword, Fault::Hold);
    ui.submit(Some(&env.password("portal")), NEW);
    env.sim.wait_requests(Route::CiamPassword, 1).await;
    ui.key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    ui.key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(ui.app().should_quit);
    let problems = ui.app().quit_problems().to_vec();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("state.json"), "{problems:#?}");
    assert!(problems[1].contains("audit.jsonl"), "{problems:#?}");
}
