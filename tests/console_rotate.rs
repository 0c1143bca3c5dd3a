//! Fleet rotation from the console (SPEC §11): profiles marked with Space, `o` opens the plan,
//! Enter runs the rotation core on the console's runtime, its events come back through the
//! one message queue and the dialog shows each profile reach `saved`. Against the library
//! simulator's fleet (`Simulator::start_fleet`) with the `command` store
//! (`tests/store-script.sh`): the simulator's passwords equal the stores' `current` after it;
//! a locked profile is refused and not sent; a production profile needs the typed
//! confirmation. The plan and the finished dialog are checked as whole frames at 80×24.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::frames::assert_frame;
use common::set_key;
use common::ui::Ui;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::change::rotate::Status;
use rekey::config;
use rekey::console::app::rotate::{Phase, Verdict};
use rekey::console::editor::CurrentSource;
use rekey::console::{App, Clock, Console, Loaded, ManualClock, Message, Overlay};
use rekey::provider::{Outcome, Report};
use rekey::sim::{Fault, Route, Simulator};
use rekey::state::{Audit, State};
use rekey::worker::Worker;

/// A fleet simulator, its profiles (every one with a command store seeded with the account's
/// password) and a data dir, in a temp dir removed on drop.
struct Fleet {
    sim: Simulator,
    dir: PathBuf,
    text: String,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fleet {
    async fn start(name: &str, n: usize) -> Fleet {
        let sim = Simulator::start_fleet(([127, 0, 0, 1], 0).into(), n)
            .await
            .expect("fleet starts");
        let dir = std::env::temp_dir().join(format!("rekey-crot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("store")).expect("store dir");
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/store-script.sh");
        let command = vec![
            "env".to_string(),
            format!("REKEY_TEST_STORE_DIR={}", dir.join("store").display()),
            "sh".to_string(),
            script.display().to_string(),
        ];
        let text = sim.fleet_profiles_toml(&command);
        let fleet = Fleet { sim, dir, text };
        for account in fleet.sim.credentials() {
            let password = account.password.expect("password");
            std::fs::write(fleet.slot(&account.profile, "current"), password.as_str())
                .expect("seed current");
        }
        fleet
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn slot(&self, profile: &str, slot: &str) -> PathBuf {
        self.dir.join("store").join(format!("{profile}.{slot}"))
    }

    fn stored(&self, profile: &str, slot: &str) -> Option<String> {
        std::fs::read_to_string(self.slot(profile, slot)).ok()
    }

    fn password(&self, profile: &str) -> String {
        self.sim
            .credentials()
            .into_iter()
            .find(|a| a.profile == profile)
            .and_then(|a| a.password.map(|p| p.as_str().to_string()))
            .expect("account")
    }

    fn changes(&self, profile: &str) -> u32 {
        self.sim
            .changes()
            .into_iter()
            .find(|(p, _)| p == profile)
            .map_or(0, |(_, n)| n)
    }

    /// The console on the fleet's profiles in a `size` terminal, with the real worker, a
    /// manual clock, state, audit and journals in the data dir (seeded by `seed` first).
    fn console(&self, size: (u16, u16), seed: impl FnOnce(&mut State, &ManualClock)) -> Ui {
        let config = config::parse(Path::new("fleet.toml"), &self.text).expect("valid");
        let clock = ManualClock::default();
        let (mut state, warning) = State::load(&self.data());
        assert!(warning.is_none(), "{warning:?}");
        seed(&mut state, &clock);
        let (state, _) = State::load(&self.data());
        let terminal = Terminal::new(TestBackend::new(size.0, size.1)).expect("backend");
        let mut app = App::new(None, Loaded::Config(config), size);
        app.state = state;
        app.audit = Audit::new(Some(&self.data()), true);
        app.data_dir = Some(self.data());
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let mut console = Console::new(terminal, app, clock);
        let events = console.sender();
        console.set_worker(Worker::spawn(Arc::new(move |e| {
            let _ = events.send(Message::Worker(Box::new(e)));
        })));
        console.draw().expect("draw");
        Ui { console }
    }
}

/// Handles messages until the rotation dialog shows its summary; fails after 60 s.
async fn wait_done(ui: &mut Ui) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = |app: &App| {
        app.rotation
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Done)
            && !app.disk_busy()
    };
    while !done(ui.app()) {
        tokio::time::timeout_at(deadline, ui.console.next_message())
            .await
            .unwrap_or_else(|_| panic!("timed out: {:?}", ui.app().rotation))
            .expect("draw");
    }
}

/// Each row's name and status.
fn statuses(app: &App) -> Vec<(String, Option<Status>)> {
    app.rotation
        .as_ref()
        .expect("dialog")
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.status.clone()))
        .collect()
}

fn lines(ui: &Ui) -> Vec<String> {
    ui.screen().lines().map(str::to_string).collect()
}

/// The frame with the Requests pane's rows (right of column 24, below its title) blanked:
/// concurrent changes log in any order, with the wall time and the simulator's port; the
/// entries themselves are checked apart.
fn without_requests(ui: &Ui) -> Vec<String> {
    let mut rows = lines(ui);
    let Some(top) = rows.iter().position(|r| r.contains("┌ Requests (")) else {
        return rows;
    };
    let bottom = rows.len().saturating_sub(3);
    for row in &mut rows[top..bottom] {
        let chars: Vec<char> = row.chars().collect();
        let (left, pane) = chars.split_at(24.min(chars.len()));
        let width = pane.len().saturating_sub(2);
        let inner = if row.contains("┌ Requests (") {
            format!("┌ Requests (…) {}", "─".repeat(width.saturating_sub(14)))
        } else {
            format!("│{}", "░".repeat(width))
        };
        *row = left.iter().collect::<String>()
            + &inner
            + &pane[pane.len() - 1..].iter().collect::<String>();
    }
    rows
}

/// The dialog's box (from its `╔` row to its `╚` row, between its corners) and the frame's
/// last two rows.
fn dialog_and_bottom_rows(ui: &Ui) -> Vec<String> {
    let rows: Vec<Vec<char>> = lines(ui).iter().map(|l| l.chars().collect()).collect();
    let top = rows
        .iter()
        .position(|r| r.contains(&'╔'))
        .expect("a dialog");
    let bottom = rows
        .iter()
        .position(|r| r.contains(&'╚'))
        .expect("its bottom");
    let left = rows[top].iter().position(|c| *c == '╔').expect("corner");
    let right = rows[top].iter().position(|c| *c == '╗').expect("corner");
    let mut out: Vec<String> = rows[top..=bottom]
        .iter()
        .map(|r| r[left..=right].iter().collect())
        .collect();
    out.extend(rows[rows.len() - 2..].iter().map(|r| r.iter().collect()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_marked_profiles_are_rotated_and_a_locked_one_is_refused() {
    let fleet = Fleet::start("three", 4).await;
    let before: Vec<String> = ["vpn-0000", "redis-0001", "iam-0002", "portal-0003"]
        .iter()
        .map(|p| fleet.password(p))
        .collect();
    // portal-0003 is known to be locked for 3 minutes.
    let mut ui = fleet.console((80, 24), |state, clock| {
        let mut report = Report::new(Outcome::Locked, "");
        report.lock_minutes_left = Some(3);
        state
            .record("portal-0003", &report, clock.wall())
            .expect("seed the lock");
    });

    // Space marks the selected profile (a ✓ beside it, the count in the title); again unmarks.
    ui.key(KeyCode::Char(' '));
    assert!(
        ui.screen().contains(" Profiles (4 · ✓1) "),
        "{}",
        ui.screen()
    );
    assert!(ui.screen().contains("┃▶✓ vpn-0000"), "{}", ui.screen());
    ui.key(KeyCode::Char(' '));
    assert!(ui.screen().contains(" Profiles (4) "), "{}", ui.screen());
    for _ in 0..3 {
        ui.key(KeyCode::Char(' '));
        ui.key(KeyCode::Down);
    }
    ui.key(KeyCode::Char(' '));
    assert_eq!(ui.app().marked.len(), 4);
    assert!(ui.screen().contains(" Profiles (4 · ✓4) "));
    assert!(ui.screen().contains("o rotate marked"), "the hints say how");

    // (The frames show the selected profile's current password, masked, once its store
    // answered: wait for that first.)
    ui.wait("current filled", |a| {
        a.editor
            .as_ref()
            .is_some_and(|e| matches!(e.current_from, Some(CurrentSource::Store(_))))
    })
    .await;
    // o: the plan. Three ready, the locked one refused; nothing is sent yet.
    ui.key(KeyCode::Char('o'));
    assert_eq!(ui.app().overlay, Some(Overlay::Rotate));
    let verdicts: Vec<Verdict> = ui
        .app()
        .rotation
        .as_ref()
        .expect("dialog")
        .rows
        .iter()
        .map(|r| r.verdict.clone())
        .collect();
    assert_eq!(
        verdicts[..3],
        [Verdict::Ready, Verdict::Ready, Verdict::Ready]
    );
    assert!(
        matches!(&verdicts[3], Verdict::Refused(why) if why.contains("locked")),
        "{verdicts:?}"
    );
    assert_frame("rotate-plan-80x24", &lines(&ui));

    // Enter: the run. Its lines come from the core's events through the message queue.
    ui.key(KeyCode::Enter);
    assert_eq!(
        ui.app().rotation.as_ref().map(|r| r.phase),
        Some(Phase::Running)
    );
    wait_done(&mut ui).await;
    let rows = statuses(ui.app());
    for (name, status) in &rows[..3] {
        assert_eq!(status.as_ref(), Some(&Status::Saved), "{name}: {rows:?}");
    }
    assert_eq!(rows[3].1, None, "the locked one never entered the run");
    assert_frame("rotate-done-80x24", &without_requests(&ui));
    // The run's exchanges reach the Requests pane as one change's do: one change request per
    // rotated profile (IAM: its token and the password policy first), none for the locked one.
    let mut logged: Vec<(String, Option<u16>)> = ui
        .app()
        .log
        .iter()
        .map(|e| (e.profile.clone(), e.status))
        .collect();
    logged.sort();
    assert!(logged.iter().all(|(p, _)| p != "portal-0003"), "{logged:?}");
    for name in ["vpn-0000", "redis-0001", "iam-0002"] {
        assert!(
            logged
                .iter()
                .any(|(p, s)| p == name && s.is_some_and(|s| (200..300).contains(&s))),
            "{name}: {logged:?}"
        );
    }

    // Each account's password changed once to what its store now holds as current; the old
    // one is kept as previous, nothing pending. The locked account was not sent to.
    for (i, name) in ["vpn-0000", "redis-0001", "iam-0002"].iter().enumerate() {
        let now = fleet.password(name);
        assert_ne!(now, before[i], "{name} changed");
        assert_eq!(fleet.stored(name, "current").as_deref(), Some(now.as_str()));
        assert_eq!(
            fleet.stored(name, "previous").as_deref(),
            Some(before[i].as_str())
        );
        assert_eq!(fleet.stored(name, "pending"), None);
        assert_eq!(fleet.changes(name), 1, "{name}");
        // State and audit as for one change.
        let state = ui.app().state.get(name).expect("state");
        assert_eq!(state.last_outcome, Some(Outcome::Changed), "{name}");
    }
    assert_eq!(fleet.password("portal-0003"), before[3]);
    assert_eq!(fleet.changes("portal-0003"), 0);
    let (saved, _) = State::load(&fleet.data());
    assert_eq!(
        saved.get("iam-0002").and_then(|s| s.last_outcome),
        Some(Outcome::Changed),
        "state.json written"
    );
    let audit = std::fs::read_to_string(fleet.data().join("audit.jsonl")).expect("audit");
    for name in ["vpn-0000", "redis-0001", "iam-0002"] {
        assert!(
            audit.lines().any(|l| l.contains(&format!("\"{name}\""))),
            "{name} audited: {audit}"
        );
    }
    assert!(!audit.contains("portal-0003"), "{audit}");
    // The run is on disk for `rekey rotate --runs` / `--resume`.
    let id = ui
        .app()
        .rotation
        .as_ref()
        .and_then(|r| r.run_id.clone())
        .expect("run id");
    assert!(
        fleet
            .data()
            .join("runs")
            .join(&id)
            .join("plan.json")
            .exists()
    );

    // Enter closes the summary and clears the marks.
    ui.key(KeyCode::Enter);
    assert_eq!(ui.app().overlay, None);
    assert!(ui.app().marked.is_empty());
    assert!(ui.screen().contains(" Profiles (4) "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_profile_needs_the_typed_confirmation() {
    let mut fleet = Fleet::start("production", 4).await;
    fleet.text = set_key(&fleet.text, "iam-0002", "production", "true");
    let mut ui = fleet.console((120, 40), |_, _| {});
    // The highlighted profile alone when none is marked; Esc cancels, nothing sent.
    ui.key(KeyCode::Char('o'));
    assert_eq!(
        ui.app().rotation.as_ref().map(|r| r.rows.len()),
        Some(1),
        "the selected one"
    );
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app().overlay, None);
    assert!(ui.app().rotation.is_none());

    // Mark vpn-0000 and iam-0002 (production).
    ui.key(KeyCode::Char(' '));
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Char(' '));
    assert!(
        ui.screen().contains(" Profiles (4 · 2 selected) "),
        "{}",
        ui.screen()
    );
    ui.key(KeyCode::Char('o'));
    let rotation = ui.app().rotation.as_ref().expect("dialog");
    assert_eq!(rotation.rows[0].verdict, Verdict::Ready);
    assert!(
        matches!(&rotation.rows[1].verdict, Verdict::Confirm(why) if why == "production"),
        "{:?}",
        rotation.rows[1]
    );
    assert!(
        ui.screen()
            .contains("Type rotate to also change the profiles marked confirm: ▏"),
        "{}",
        ui.screen()
    );
    // Enter without the word: not started.
    ui.key(KeyCode::Enter);
    assert_eq!(
        ui.app().rotation.as_ref().map(|r| r.phase),
        Some(Phase::Plan)
    );
    assert_eq!(
        ui.app().status.clone().map(|(_, s)| s).as_deref(),
        Some("Not started: type rotate to confirm, or Esc")
    );
    ui.text("rotat");
    ui.key(KeyCode::Enter);
    assert_eq!(
        ui.app().rotation.as_ref().map(|r| r.phase),
        Some(Phase::Plan)
    );
    assert_eq!(fleet.changes("vpn-0000") + fleet.changes("iam-0002"), 0);
    ui.text("e");
    assert!(
        ui.screen()
            .contains("Type rotate to also change the profiles marked confirm: rotate▏")
    );
    ui.key(KeyCode::Enter);
    assert_eq!(
        ui.app().rotation.as_ref().map(|r| r.phase),
        Some(Phase::Running)
    );
    // While it runs the console asks for no wake-up: it draws on messages only.
    let now = std::time::Instant::now();
    assert_eq!(
        ui.app().next_deadline(now, std::time::SystemTime::now()),
        None
    );
    // The dialog stays while changes are in flight.
    ui.key(KeyCode::Esc);
    if ui
        .app()
        .rotation
        .as_ref()
        .is_some_and(|r| r.phase == Phase::Running)
    {
        assert_eq!(ui.app().overlay, Some(Overlay::Rotate));
    }
    wait_done(&mut ui).await;
    let rows = statuses(ui.app());
    assert!(
        rows.iter().all(|(_, s)| s.as_ref() == Some(&Status::Saved)),
        "{rows:?}"
    );
    for name in ["vpn-0000", "iam-0002"] {
        assert_eq!(
            fleet.stored(name, "current").as_deref(),
            Some(fleet.password(name).as_str())
        );
        assert_eq!(fleet.changes(name), 1, "{name}");
    }
    assert!(
        ui.screen()
            .contains("2 saved, 0 failed, 0 unsettled, 0 not started, 0 refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_stops_new_starts_and_the_change_in_flight_finishes() {
    let fleet = Fleet::start("stop", 8).await;
    let names: Vec<String> = (2..8)
        .map(|i| ["vpn", "redis", "iam", "portal"][i % 4].to_string() + &format!("-{i:04}"))
        .collect();
    let before: Vec<String> = names.iter().map(|n| fleet.password(n)).collect();
    let mut ui = fleet.console((80, 24), |_, _| {});
    // Mark iam-0002 … portal-0007: the canary (the first) is iam-0002, whose change is held.
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Down);
    for _ in 0..6 {
        ui.key(KeyCode::Char(' '));
        ui.key(KeyCode::Down);
    }
    assert_eq!(ui.app().marked.len(), 6);
    ui.key(KeyCode::Char('o'));
    // Six rows and the dialog's header and footer fit at 80×24.
    let screen = ui.screen();
    for name in &names {
        assert!(screen.contains(&format!("║{name:<11} ready")), "{screen}");
    }
    assert!(screen.contains("Enter  start 6"), "{screen}");
    fleet.sim.hold_next_change_of("iam-0002");
    ui.key(KeyCode::Enter);
    ui.wait("the canary on its way", |a| {
        a.rotation
            .as_ref()
            .is_some_and(|r| r.rows[0].status == Some(Status::Sending))
    })
    .await;
    fleet.sim.wait_requests(Route::IamPassword, 1).await;
    // The dialog cannot be closed while a change is in flight.
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app().overlay, Some(Overlay::Rotate));
    assert!(
        ui.app()
            .status
            .as_ref()
            .is_some_and(|(_, s)| s.starts_with("Changes are in flight: s stops starting new ones")),
        "{:?}",
        ui.app().status
    );
    // Quitting asks, and saying no comes back to the dialog.
    ui.key_mod(KeyCode::Char('c'), crossterm::event::KeyModifiers::CONTROL);
    assert_eq!(ui.app().overlay, Some(Overlay::ConfirmQuit));
    assert!(
        ui.screen().contains("A rotation is running"),
        "{}",
        ui.screen()
    );
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app().overlay, Some(Overlay::Rotate));
    assert!(!ui.app().should_quit);
    // s: no new change starts; the one on its way is not interrupted.
    ui.key(KeyCode::Char('s'));
    assert!(
        ui.screen()
            .contains("Stopping: no new change starts; those in flight finish"),
        "{}",
        ui.screen()
    );
    // The running dialog, whole: the canary sending, the rest waiting, the stop said (and
    // the message and hint rows below; the panes behind show ports and wall times).
    assert_frame("rotate-stopping-80x24", &dialog_and_bottom_rows(&ui));
    fleet.sim.release_held();
    wait_done(&mut ui).await;
    let rows = statuses(ui.app());
    assert_eq!(
        rows[0].1,
        Some(Status::Saved),
        "the canary finished: {rows:?}"
    );
    for (i, (name, status)) in rows.iter().enumerate() {
        let status = status.clone().expect("a status");
        assert!(status.is_final(), "{name}: {status:?}");
        let now = fleet.password(name);
        match status {
            Status::Saved => {
                assert_ne!(now, before[i], "{name}");
                assert_eq!(fleet.stored(name, "current").as_deref(), Some(now.as_str()));
            }
            Status::NotStarted(_) => {
                assert_eq!(now, before[i], "{name} not sent");
                assert_eq!(fleet.stored(name, "current").as_deref(), Some(now.as_str()));
                assert_eq!(fleet.stored(name, "pending"), None, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The dialog cuts long reasons; the message history keeps each whole.
    let history: Vec<String> = ui
        .app()
        .history
        .iter()
        .map(|(_, text)| text.clone())
        .collect();
    for (name, status) in &rows[1..] {
        if let Some(Status::NotStarted(_)) = status {
            assert!(
                history
                    .iter()
                    .any(|l| l.starts_with(&format!("{name}: not started: "))),
                "{history:?}"
            );
        }
    }
    // The summary stays until closed.
    assert!(
        ui.screen().contains(" Rotation finished "),
        "{}",
        ui.screen()
    );
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app().overlay, None);
}

const PLAN: &str = r#"
[[profile]]
name = "no-store"
kind = "tencent-bm-vpn"
endpoint = "http://127.0.0.1:1"
region = "ap-guangzhou"
secret_id = { value = "AKIDfixed" }
secret_key = { value = "fixed-key" }

[[profile]]
name = "prompted"
kind = "tencent-bm-vpn"
endpoint = "http://127.0.0.1:1"
region = "ap-guangzhou"
secret_id = { value = "AKIDfixed" }
secret_key = { prompt = true }
store = { backend = "command", command = ["false"], entry = "prompted" }

[[profile]]
name = "two-left"
kind = "huawei-iam"
iam_endpoint = "http://127.0.0.1:1"
domain = "my-account"
user = "alice"
store = { backend = "command", command = ["false"], entry = "two-left" }
"#;

#[test]
fn the_plan_refuses_what_cannot_be_rotated_and_asks_for_the_last_attempts() {
    let dir = std::env::temp_dir().join(format!("rekey-crot-{}-plan", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut h = common::harness::Harness::manual(
        None,
        common::harness::loaded(PLAN),
        (80, 24),
        |app, wall| {
            let mut report = Report::new(Outcome::WrongOldPassword, "");
            report.retries_left = Some(2);
            let (mut state, _) = State::load(&dir);
            state.record("two-left", &report, wall).expect("seed");
            app.state = state;
            app.data_dir = Some(dir.clone());
        },
    );
    for _ in 0..3 {
        h.key(KeyCode::Char(' '));
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Char('o'));
    let rows: Vec<Verdict> = h
        .app()
        .rotation
        .as_ref()
        .expect("dialog")
        .rows
        .iter()
        .map(|r| r.verdict.clone())
        .collect();
    assert_eq!(
        rows,
        [
            Verdict::Refused(
                "no store: a rotation saves the generated password in one first".into()
            ),
            Verdict::Refused(
                "secret_key = { prompt = true }, which a rotation cannot ask for".into()
            ),
            Verdict::Confirm("2 retries left, may be the last attempt".into()),
        ]
    );
    let screen = h.screen();
    assert!(
        screen.contains("║no-store refused: no store: a rotation saves the generated password"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "║two-left confirm (2 retries left, may be the last attempt) · command:two-…║"
        ),
        "{screen}"
    );
    assert!(screen.contains("Enter  start 1"), "{screen}");
    // Esc before the start: nothing happens, the marks stay.
    h.key(KeyCode::Esc);
    assert_eq!(h.app().overlay, None);
    assert_eq!(h.app().marked.len(), 3);
    // Marks of one profile only, which is refused: nothing to start.
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Up);
    h.key(KeyCode::Char(' '));
    assert_eq!(h.app().marked.iter().copied().collect::<Vec<_>>(), [0]);
    h.key(KeyCode::Char('o'));
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app().status.clone().map(|(_, s)| s).as_deref(),
        Some("Nothing to rotate: every profile is refused (Esc closes)")
    );
    assert_eq!(
        h.app().rotation.as_ref().map(|r| r.phase),
        Some(Phase::Plan)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_may_have_been_applied_ends_unsettled_with_its_badge() {
    let fleet = Fleet::start("unsettled", 4).await;
    let portal = fleet.password("portal-0003");
    let mut ui = fleet.console((120, 40), |_, _| {});
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Char(' '));
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Char(' '));
    // The canary's answer is lost after the change was applied: unknown.
    fleet.sim.inject(Route::IamPassword, Fault::Drop);
    ui.key(KeyCode::Char('o'));
    ui.key(KeyCode::Enter);
    wait_done(&mut ui).await;
    let rows = statuses(ui.app());
    assert!(matches!(&rows[0].1, Some(Status::Unsettled(_))), "{rows:?}");
    assert!(
        matches!(&rows[1].1, Some(Status::NotStarted(_))),
        "an unknown stops new starts: {rows:?}"
    );
    assert_eq!(fleet.password("portal-0003"), portal);
    // The new password that may be live is kept in the store as pending.
    assert_eq!(
        fleet.stored("iam-0002", "pending").as_deref(),
        Some(fleet.password("iam-0002").as_str())
    );
    let screen = ui.screen();
    assert!(
        screen.contains("0 saved, 0 failed, 1 unsettled, 1 not started, 0 refused"),
        "{screen}"
    );
    assert!(
        screen.contains("Unsettled ones may have changed: R in the list settles each."),
        "{screen}"
    );
    // Closed: the list shows the badge (from the journal).
    ui.key(KeyCode::Enter);
    ui.wait("the badge", |a| a.unsettled.contains_key("iam-0002"))
        .await;
    let screen = ui.screen();
    let row = screen
        .lines()
        .find(|l| l.contains("iam-0002"))
        .expect("row");
    assert!(row.contains("unsettled"), "{row}");
}

#[test]
fn keys_rebinds_marking_and_rotating() {
    let text = format!("[keys]\nmark = \"x\"\nrotate = \"ctrl-t\"\n{PLAN}");
    let mut h = common::harness::Harness::manual(
        None,
        common::harness::loaded(&text),
        (120, 40),
        |_, _| {},
    );
    h.key(KeyCode::Char(' '));
    assert!(h.app().marked.is_empty(), "Space no longer marks");
    h.key(KeyCode::Char('x'));
    assert_eq!(h.app().marked.len(), 1);
    assert!(
        h.screen().contains("^T rotate marked · x mark"),
        "{}",
        h.screen()
    );
    h.key(KeyCode::Char('o'));
    assert_eq!(h.app().overlay, None);
    h.ctrl('t');
    assert_eq!(h.app().overlay, Some(Overlay::Rotate));
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('?'));
    assert!(
        h.screen().contains(
            "║x  Ctrl-T  s        profiles: mark / rotate the marked; dialog: stop new ones"
        ),
        "{}",
        h.screen()
    );
}
