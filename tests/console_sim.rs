//! The console's message loop with the real worker, against the simulator over loopback HTTP:
//! typing, submitting, the spinner while waiting, cancelling, outcomes, and the request log.

mod common;

use common::ui::Ui;
use common::{CANARY, Env};
use crossterm::event::KeyCode;
use rekey::console::editor::FieldRole;
use rekey::console::{Focus, Overlay};
use rekey::sim::{Fault, Route};

const NEW: &str = "New#Pass2025x";

#[tokio::test]
async fn a_change_on_each_demo_profile_succeeds() {
    let env = Env::start("console-all").await;
    let mut ui = Ui::new(&env);
    for profile in [
        "bm-vpn",
        "bm-vpn-v2",
        "bm-vpn-v2-sha1",
        "redis-aksk",
        "redis-otc",
        "redis-token",
        "iam-alice",
        "iam-admin",
        "portal",
        "portal-web",
        "portal-token",
    ] {
        ui.select(profile);
        let current = env.password(profile);
        ui.submit(Some(&current), NEW);
        assert!(
            ui.app().job.is_some(),
            "{profile}: sent ({:?})",
            ui.app().status
        );
        ui.wait(profile, |a| a.job.is_none()).await;
        let outcome = ui.outcome();
        assert!(
            outcome.contains("Password changed") || outcome.contains("Account created"),
            "{profile}: {outcome}"
        );
        assert_eq!(env.password(profile), NEW, "{profile}");
        let editor = ui.app().editor.as_ref().expect("editor");
        assert!(
            editor.fields.iter().all(|f| f.buf.is_empty()),
            "{profile}: secrets wiped after success"
        );
    }
    // bm-vpn-new: Update says the account does not exist; the console offers Create.
    ui.select("bm-vpn-new");
    ui.submit(None, NEW);
    ui.wait("offer", |a| a.job.is_none()).await;
    assert_eq!(ui.app().overlay, Some(Overlay::OfferCreate));
    assert!(ui.screen().contains("Create the VPN account?"));
    ui.key(KeyCode::Char('y'));
    ui.wait("create", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("Account created"), "{}", ui.outcome());
    assert_eq!(env.password("bm-vpn-new"), NEW);
    assert_eq!(
        env.sim.requests(Route::TencentV3),
        3,
        "bm-vpn, Update, then Create"
    );
}

#[tokio::test]
async fn the_console_keeps_working_while_an_answer_is_slow() {
    let env = Env::start("console-slow").await;
    let mut ui = Ui::new(&env);
    ui.select("redis-aksk");
    env.sim.inject(Route::DcsPassword, Fault::Hold);
    ui.submit(Some(&env.password("redis-aksk")), NEW);
    env.sim.wait_requests(Route::DcsPassword, 1).await;
    assert!(ui.app().job.is_some());
    assert!(
        ui.screen().contains("Sending to redis-aksk"),
        "{}",
        ui.screen()
    );
    // Keys still work: leave the field, open and close help, move through the log pane.
    ui.key(KeyCode::Tab);
    ui.key(KeyCode::Char('?'));
    assert_eq!(ui.app().overlay, Some(Overlay::Help));
    assert!(ui.screen().contains("Keys"));
    ui.key(KeyCode::Char('x'));
    assert_eq!(ui.app().overlay, None);
    assert!(ui.app().job.is_some(), "still waiting");
    // The spinner wakes the loop while waiting (and only then).
    let now = std::time::Instant::now();
    assert!(
        ui.app()
            .next_deadline(now, std::time::SystemTime::now())
            .is_some()
    );
    env.sim.release_held();
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Password changed"),
        "{}",
        ui.outcome()
    );
    assert!(
        ui.app()
            .next_deadline(std::time::Instant::now(), std::time::SystemTime::now())
            .is_none(),
        "idle again"
    );
}

#[tokio::test]
async fn esc_cancels_before_sending_and_after_sending() {
    let env = Env::start("console-cancel").await;
    let mut ui = Ui::new(&env);
    // Held at the token request: the change was never sent.
    ui.select("iam-alice");
    env.sim.inject(Route::IamToken, Fault::Hold);
    ui.submit(Some(&env.password("iam-alice")), NEW);
    env.sim.wait_requests(Route::IamToken, 1).await;
    ui.key(KeyCode::Esc);
    ui.wait("cancel", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("nothing was sent"),
        "{}",
        ui.outcome()
    );
    assert_eq!(env.sim.requests(Route::IamPassword), 0);
    // Held at the change request: it may have been applied.
    ui.select("portal");
    env.sim.inject(Route::CiamPassword, Fault::Hold);
    ui.submit(Some(&env.password("portal")), NEW);
    env.sim.wait_requests(Route::CiamPassword, 1).await;
    ui.key(KeyCode::Esc);
    ui.wait("cancel", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("MAY have been applied"),
        "{}",
        ui.outcome()
    );
    let editor = ui.app().editor.as_ref().expect("editor");
    let new = editor.index_of(FieldRole::New).expect("new");
    assert_eq!(
        editor.fields[new].buf.expose(),
        NEW,
        "the new password is kept after unknown"
    );
}

#[tokio::test]
async fn outcomes_are_told_in_words() {
    let env = Env::start("console-words").await;
    let mut ui = Ui::new(&env);
    ui.select("redis-aksk");
    ui.submit(Some("Wrong#Pass2024"), NEW);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert!(
        ui.outcome()
            .contains("Wrong current password — 4 attempts left before a 5-minute lock"),
        "{}",
        ui.outcome()
    );
    assert!(ui.screen().contains("4 attempts left"));
    // The refused current password is cleared (issue 9, trap 1: Enter must not resend it);
    // the new password and its confirmation stay.
    let editor = ui.app().editor.as_ref().expect("editor");
    for f in &editor.fields {
        assert_eq!(
            f.buf.is_empty(),
            f.role == FieldRole::Current,
            "{:?}",
            f.role
        );
    }
}

#[tokio::test]
async fn the_log_shows_every_exchange_redacted() {
    let env = Env::start("console-log").await;
    let mut ui = Ui::new(&env);
    ui.select("redis-token");
    let current = env.password("redis-token");
    ui.submit(Some(&current), CANARY);
    ui.wait("answer", |a| a.job.is_none()).await;
    assert_eq!(ui.app().log.len(), 2, "token request and change request");
    let screen = ui.screen();
    assert!(screen.contains("Requests (2)"), "{screen}");
    assert!(screen.contains("/v3/auth/tokens"), "{screen}");
    assert!(
        screen.contains("success"),
        "provider code in the row: {screen}"
    );
    // Open every entry in full.
    while ui.app().focus != Focus::Log {
        ui.key(KeyCode::Tab);
    }
    for i in 0..2 {
        ui.key(KeyCode::Home);
        for _ in 0..i {
            ui.key(KeyCode::Down);
        }
        ui.key(KeyCode::Enter);
        assert!(matches!(ui.app().overlay, Some(Overlay::LogDetail(..))));
        let screen = ui.screen();
        assert!(screen.contains("Request headers"), "{screen}");
        assert!(screen.contains("•••"), "masked fields are marked: {screen}");
        for secret in [CANARY, current.as_str(), "Token#Demo2024"] {
            assert!(!screen.contains(secret), "{secret} on screen:\n{screen}");
        }
        ui.key(KeyCode::Esc);
    }
    // The demo profiles' notes print their starting passwords on purpose, so the whole app is
    // checked for the new password, and the rest of the state for the others too.
    assert!(
        !format!("{:?}", ui.app()).contains(CANARY),
        "new password in Debug"
    );
    let state = format!(
        "{:?} {:?} {:?} {:?}",
        ui.app().editor,
        ui.app().log,
        ui.app().status,
        ui.app().outcome
    );
    for secret in [CANARY, current.as_str(), "Token#Demo2024"] {
        assert!(!state.contains(secret), "{secret} in Debug");
    }
    for entry in &ui.app().log {
        let all = format!("{entry:?}");
        assert!(
            !all.contains(CANARY) && !all.contains(&current) && !all.contains("Token#Demo2024")
        );
        assert!(!all.to_ascii_lowercase().contains("x-subject-token: ") || all.contains("•••"));
    }
}

/// After `unknown` without a store, leaving the profile asks first (rekey holds the only copy
/// of a password that may be live); `d` discards it.
fn discard_kept_copy(ui: &mut Ui) {
    let selected = ui.app().selected;
    ui.key(KeyCode::Esc);
    ui.key(KeyCode::Down);
    assert!(
        matches!(ui.app().overlay, Some(Overlay::ConfirmDiscard(_))),
        "{:?}",
        ui.app().overlay
    );
    assert_eq!(
        ui.app().selected,
        selected,
        "not switched before the answer"
    );
    ui.key(KeyCode::Char('d'));
    assert_eq!(ui.app().overlay, None);
    assert_eq!(ui.app().unknown, None);
}

#[tokio::test]
async fn error_outcomes_through_the_console() {
    let env = Env::start("console-errors").await;
    env.set(
        "bm-vpn",
        "secret_key",
        "{ value = \"WrongKey0000000000000000000000000\" }",
    );
    env.set(
        "iam-alice",
        "iam_endpoint",
        &format!("\"http://127.0.0.1:{}\"", common::closed_port()),
    );
    let mut ui = Ui::new(&env);
    let attempt = |ui: &mut Ui, profile: &str, current: Option<String>| {
        ui.select(profile);
        ui.submit(current.as_deref(), NEW);
    };

    attempt(&mut ui, "bm-vpn", None);
    ui.wait("bm-vpn", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("Authentication failed"),
        "{}",
        ui.outcome()
    );
    assert!(
        ui.outcome().contains("AuthFailure.SignatureFailure"),
        "{}",
        ui.outcome()
    );

    env.sim.inject(Route::CiamPassword, Fault::Status(500));
    attempt(&mut ui, "portal", Some(env.password("portal")));
    ui.wait("portal", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("Provider error"), "{}", ui.outcome());

    env.sim.inject(Route::DcsPassword, Fault::Drop);
    attempt(&mut ui, "redis-otc", Some(env.password("redis-otc")));
    ui.wait("redis-otc", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("MAY have been applied"),
        "{}",
        ui.outcome()
    );
    assert!(
        ui.outcome().contains("kept in the editor"),
        "{}",
        ui.outcome()
    );
    assert_eq!(env.sim.requests(Route::DcsPassword), 1, "never retried");
    discard_kept_copy(&mut ui);

    // A gateway's HTML 502 in answer to the change: no definite answer either.
    env.sim.inject(Route::DcsPassword, Fault::Html);
    attempt(&mut ui, "redis-aksk", Some(env.password("redis-aksk")));
    ui.wait("redis-aksk", |a| a.job.is_none()).await;
    assert!(
        ui.outcome().contains("MAY have been applied"),
        "{}",
        ui.outcome()
    );
    assert!(
        ui.outcome().contains("kept in the editor"),
        "{}",
        ui.outcome()
    );
    assert_eq!(env.sim.requests(Route::DcsPassword), 2, "never retried");
    discard_kept_copy(&mut ui);

    attempt(&mut ui, "iam-alice", Some(env.password("iam-alice")));
    ui.wait("iam-alice", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("Could not reach"), "{}", ui.outcome());

    // iam-admin: the account policy (min 12) is read before the change; the checklist follows.
    ui.select("iam-admin");
    ui.submit(Some(&env.password("iam-admin")), "Short#Pass1");
    ui.wait("iam-admin", |a| a.job.is_none()).await;
    assert!(ui.outcome().contains("password policy"), "{}", ui.outcome());
    assert_eq!(env.sim.requests(Route::IamPassword), 0);
    let editor = ui.app().editor.as_ref().expect("editor");
    assert_eq!(
        editor.policy.min_length(),
        12,
        "the fetched policy now drives the checklist"
    );
    assert!(ui.screen().contains("12–32 characters"), "{}", ui.screen());
}
