//! The console through its real message loop, drawn into a `TestBackend`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::harness::{Harness, loaded};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::config;
use rekey::console::app::Ask;
use rekey::console::app::Level;
use rekey::console::editor::FieldRole;
use rekey::console::{App, Clock, Console, Focus, Loaded, ManualClock, Message, Overlay};

const FOUR_PROFILES: &str = r#"
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
secret_id = { env = "TENCENTCLOUD_SECRET_ID" }
secret_key = { prompt = true }

[[profile]]
name = "redis-prod"
kind = "huawei-dcs"
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
auth = { method = "token", iam_endpoint = "https://iam.myhuaweicloud.com", domain = "acct", user = "ops", password = { prompt = true } }

[[profile]]
name = "iam-alice"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "alice"
email = "alice@example.com"

[[profile]]
name = "portal"
kind = "tencent-ciam"
endpoint = "https://sample.portal.tencentciam.com"
client_id = "app-client-id"
auth_source_id = "auth-source-id"
username = "bob"
"#;

/// A unique password that must never be drawn while masked, nor appear in `Debug`.
const CANARY: &str = "Cq9!zKanary#71";

impl Harness {
    fn new(loaded: Loaded, width: u16, height: u16) -> Harness {
        let path = Some("/tmp/rekey-test/profiles.toml".into());
        Harness::manual(path, loaded, (width, height), |_, _| {})
    }

    fn with_config(text: &str) -> Harness {
        Harness::new(loaded(text), 120, 40)
    }

    fn focus_role(&mut self, role: FieldRole) {
        let index = self
            .app()
            .editor
            .as_ref()
            .and_then(|e| e.index_of(role))
            .expect("field exists");
        // Tab from the profile list walks the fields in order.
        while self.app().focus != Focus::Field(index) {
            self.key(KeyCode::Tab);
        }
    }

    fn field_roles(&self) -> Vec<FieldRole> {
        self.app()
            .editor
            .as_ref()
            .map(|e| e.fields.iter().map(|f| f.role).collect())
            .unwrap_or_default()
    }

    fn select(&mut self, name: &str) {
        while self.app().focus != Focus::Profiles {
            self.key(KeyCode::Esc);
        }
        self.key(KeyCode::Home);
        while self.app().profile().map(|p| p.name.as_str()) != Some(name) {
            let before = self.app().selected;
            self.key(KeyCode::Down);
            assert_ne!(before, self.app().selected, "profile {name} not found");
        }
    }
}

#[test]
fn first_run_without_config_explains_how_to_start() {
    let h = Harness::new(Loaded::Missing, 100, 30);
    let screen = h.screen();
    for expected in [
        "Profiles (0)",
        "Change password",
        "Requests",
        "No profiles yet",
        "/tmp/rekey-test/profiles.toml",
        "[[profile]]",
        "rekey demo",
        "? help",
    ] {
        assert!(
            screen.contains(expected),
            "missing {expected:?} in\n{screen}"
        );
    }
}

#[test]
fn four_profiles_show_three_panes_and_the_fields_each_kind_needs() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    let screen = h.screen();
    for name in ["bm-vpn", "redis-prod", "iam-alice", "portal", "Requests"] {
        assert!(screen.contains(name), "missing {name}\n{screen}");
    }
    // Each row names its kind.
    for (name, kind) in [
        ("redis-prod", "dcs"),
        ("iam-alice", "iam"),
        ("portal", "ciam"),
    ] {
        let row = screen.lines().find(|l| l.contains(name)).expect("row");
        assert!(row.contains(kind), "{row}");
    }
    // Tencent BM: no current password, an extra field for the prompted secret_key.
    assert_eq!(
        h.field_roles(),
        vec![
            FieldRole::Prompt("secret_key"),
            FieldRole::New,
            FieldRole::Confirm
        ]
    );
    assert!(screen.contains("SecretKey"));
    assert!(!screen.contains("Current password"));

    h.select("redis-prod");
    assert_eq!(
        h.field_roles(),
        vec![
            FieldRole::Prompt("auth.password"),
            FieldRole::Current,
            FieldRole::New,
            FieldRole::Confirm
        ]
    );
    assert!(h.screen().contains("Current password"));
    assert!(h.screen().contains("IAM password"));

    h.select("iam-alice");
    assert_eq!(
        h.field_roles(),
        vec![FieldRole::Current, FieldRole::New, FieldRole::Confirm]
    );
    h.select("portal");
    assert_eq!(
        h.field_roles(),
        vec![FieldRole::Current, FieldRole::New, FieldRole::Confirm]
    );
    assert!(
        h.screen().contains("server"),
        "CIAM note about server-side policy"
    );
}

#[test]
fn typing_edits_each_field_and_shows_only_dots() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.select("iam-alice");
    h.focus_role(FieldRole::Current);
    h.text("old-pass1");
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Home);
    h.key(KeyCode::Delete);
    h.key(KeyCode::Enter); // next field
    assert_eq!(
        h.app().focus,
        Focus::Field(1),
        "Enter moves to the next field"
    );
    h.text("abc def");
    h.ctrl('w');
    h.key(KeyCode::Down);
    h.text("xyz");
    let editor = h.app().editor.as_ref().expect("editor");
    assert_eq!(editor.fields[0].buf.expose(), "ld-pass");
    assert_eq!(editor.fields[1].buf.expose(), "abc ");
    assert_eq!(editor.fields[2].buf.expose(), "xyz");
    let screen = h.screen();
    assert!(screen.contains("•••••••"), "{screen}");
    assert!(!screen.contains("ld-pass"));
}

#[test]
fn checklist_flips_as_rules_are_met() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.focus_role(FieldRole::New);
    h.text("abcdefg");
    let passed = |h: &Harness| -> Vec<bool> {
        h.app()
            .editor
            .as_ref()
            .expect("editor")
            .checklist
            .items
            .iter()
            .map(|i| i.passed)
            .collect()
    };
    let before = passed(&h);
    assert!(before.iter().any(|p| !p));
    assert!(h.screen().contains("✗"));
    h.text("1");
    let after_len = passed(&h);
    assert!(after_len[0], "8 characters passes the length rule");
    h.focus_role(FieldRole::Confirm);
    h.text("abcdefg1");
    assert!(passed(&h).iter().all(|p| *p), "all pass: {:?}", passed(&h));
    let screen = h.screen();
    assert!(!screen.contains("✗"), "{screen}");
    assert!(screen.contains("Strength"));
    // One more character in confirm: mismatch fails again.
    h.text("x");
    assert!(!passed(&h).iter().all(|p| *p));
}

#[test]
fn switching_profile_wipes_typed_secrets() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.select("iam-alice");
    h.focus_role(FieldRole::New);
    h.text("something-secret");
    h.select("portal");
    h.select("iam-alice");
    let editor = h.app().editor.as_ref().expect("editor");
    assert!(editor.fields.iter().all(|f| f.buf.is_empty()));
}

#[test]
fn filter_narrows_the_list_and_mouse_selects_rows() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.key(KeyCode::Char('/'));
    h.text("dcs");
    assert_eq!(h.app().visible().len(), 1, "matches the kind");
    assert_eq!(
        h.app().profile().map(|p| p.name.as_str()),
        Some("redis-prod")
    );
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    h.text("alice");
    assert_eq!(h.app().visible().len(), 1);
    assert_eq!(
        h.app().profile().map(|p| p.name.as_str()),
        Some("iam-alice")
    );
    assert!(h.screen().contains("/alice"));
    h.key(KeyCode::Esc);
    assert_eq!(h.app().visible().len(), 4);
    // Row 3 of the list (border at row 0) is the third profile.
    h.click(5, 3);
    assert_eq!(
        h.app().profile().map(|p| p.name.as_str()),
        Some("iam-alice")
    );
    // A click in the editor's first row focuses the first field.
    h.click(60, 1);
    assert_eq!(h.app().focus, Focus::Field(0));
}

#[test]
fn help_overlay_lists_bindings_and_closes() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.key(KeyCode::Char('?'));
    assert_eq!(h.app().overlay, Some(Overlay::Help));
    let screen = h.screen();
    for binding in ["Ctrl-G", "Ctrl-R", "Tab / Shift-Tab", "Ctrl-C", "/"] {
        assert!(screen.contains(binding), "{binding}\n{screen}");
    }
    h.key(KeyCode::Char('x'));
    assert_eq!(h.app().overlay, None);
    // In a field, `?` is typed, not help (ATAC #72); F1 opens help.
    h.focus_role(FieldRole::New);
    h.text("?q");
    assert_eq!(h.app().overlay, None);
    assert!(!h.app().should_quit);
    h.key(KeyCode::F(1));
    assert_eq!(h.app().overlay, Some(Overlay::Help));
}

#[test]
fn broken_config_opens_with_the_error() {
    let err = config::parse(
        Path::new("/home/me/profiles.toml"),
        "[[profile]]\nname = \"x\"\nkind = \"tencent-bm\"\n",
    )
    .expect_err("bad kind");
    let h = Harness::new(Loaded::Broken(err), 100, 30);
    let screen = h.screen();
    assert!(screen.contains("could not be loaded"), "{screen}");
    assert!(screen.contains("profiles.toml:3"), "{screen}");
}

#[test]
fn draws_at_80x24_and_survives_resizes() {
    let config = config::parse(Path::new("p.toml"), FOUR_PROFILES).expect("valid");
    let mut h = Harness::new(Loaded::Config(config), 80, 24);
    let screen = h.screen();
    assert!(screen.contains("Profiles (4)"), "{screen}");
    assert!(screen.contains("Requests"), "{screen}");
    assert!(screen.contains("New password"), "{screen}");
    h.resize(79, 24);
    assert!(h.screen().contains("Terminal too small"));
    h.resize(120, 40);
    let screen = h.screen();
    assert!(!screen.contains("Terminal too small"));
    assert!(screen.contains("Profiles (4)"));
    assert_eq!(screen.lines().count(), 40);
}

#[test]
fn generate_fills_new_and_confirm_with_a_passing_password() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    for name in ["bm-vpn", "redis-prod", "iam-alice", "portal"] {
        h.select(name);
        h.focus_role(FieldRole::New);
        h.ctrl('g');
        let editor = h.app().editor.as_ref().expect("editor");
        let new = editor.index_of(FieldRole::New).expect("new");
        let confirm = editor.index_of(FieldRole::Confirm).expect("confirm");
        assert_eq!(
            editor.fields[new].buf.expose(),
            editor.fields[confirm].buf.expose()
        );
        assert!(editor.fields[new].buf.char_count() >= 8);
        let failing: Vec<_> = editor
            .checklist
            .failures()
            .filter(|i| i.label.contains("character") || i.label.contains("class"))
            .map(|i| i.label.clone())
            .collect();
        assert!(failing.is_empty(), "{name}: {failing:?}");
    }
}

#[test]
fn submit_is_blocked_by_rule_failures_and_weak_scores_ask_first() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.select("portal");
    h.focus_role(FieldRole::Current);
    h.text("old-password-1");
    h.key(KeyCode::Enter);
    h.text("short");
    h.key(KeyCode::Enter);
    h.text("short");
    h.key(KeyCode::Enter);
    let (level, text) = h.app().status.clone().expect("status");
    assert_eq!(level, Level::Error);
    assert!(text.starts_with("Not sent"), "{text}");
    assert_eq!(h.app().overlay, None);

    h.focus_role(FieldRole::New);
    h.ctrl('u');
    h.text("password1");
    h.key(KeyCode::Enter);
    h.ctrl('u');
    h.text("password1");
    h.key(KeyCode::Enter);
    assert!(
        matches!(
            h.app().overlay,
            Some(Overlay::Confirm {
                ask: Ask::Weak { .. },
                ..
            })
        ),
        "{:?}",
        h.app().status
    );
    assert!(h.screen().contains("Weak password"));
    h.key(KeyCode::Char('n'));
    assert_eq!(h.app().overlay, None);
}

#[test]
fn ctrl_c_quits_from_anywhere_and_q_only_outside_fields() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.focus_role(FieldRole::New);
    h.text("q");
    assert!(!h.app().should_quit);
    h.key(KeyCode::Char('?'));
    h.ctrl('c');
    assert!(h.app().should_quit);

    let mut h = Harness::with_config(FOUR_PROFILES);
    h.key(KeyCode::Char('q'));
    assert!(h.app().should_quit);
}

#[test]
fn canary_never_reaches_a_cell_or_debug_while_masked() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    for name in ["bm-vpn", "redis-prod", "iam-alice", "portal"] {
        h.select(name);
        let n = h.field_roles().len();
        for i in 0..n {
            while h.app().focus != Focus::Field(i) {
                h.key(KeyCode::Tab);
            }
            h.text(CANARY);
            h.paste(CANARY);
            let screen = h.screen();
            assert!(!screen.contains(CANARY), "{name} field {i}\n{screen}");
            // No run of five canary characters in a row shows either.
            for window in CANARY.as_bytes().windows(5) {
                let part = std::str::from_utf8(window).expect("ascii");
                assert!(
                    !screen.contains(part),
                    "{name} field {i}: {part:?}\n{screen}"
                );
            }
            let debug = format!("{:?}", h.app());
            assert!(!debug.contains(CANARY), "Debug leaks the canary");
            assert!(!debug.contains("Kanary"), "Debug leaks part of the canary");
        }
    }
}

#[test]
fn reveal_shows_the_focused_field_for_five_seconds() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.focus_role(FieldRole::New);
    h.text(CANARY);
    h.ctrl('r');
    assert!(h.screen().contains(CANARY), "revealed");
    let now = h.clock.now();
    let deadline = h
        .app()
        .next_deadline(now, h.clock.wall())
        .expect("a wake-up is scheduled");
    h.clock.advance(Duration::from_millis(4900));
    h.send(Message::Tick);
    assert!(h.screen().contains(CANARY), "still revealed at 4.9 s");
    h.clock.advance(Duration::from_millis(100));
    h.send(Message::Tick);
    assert!(!h.screen().contains(CANARY), "masked again at 5 s");
    assert!(
        h.app()
            .next_deadline(h.clock.now(), h.clock.wall())
            .is_none(),
        "idle: no wake-up left"
    );
    let _ = deadline;
}

#[test]
fn oversized_paste_is_refused_with_a_message() {
    let mut h = Harness::with_config(FOUR_PROFILES);
    h.focus_role(FieldRole::New);
    h.paste(&"x".repeat(5000));
    let editor = h.app().editor.as_ref().expect("editor");
    let new = editor.index_of(FieldRole::New).expect("new");
    assert!(editor.fields[new].buf.is_empty());
    let (level, text) = h.app().status.clone().expect("status");
    assert_eq!(level, Level::Error);
    assert!(text.contains("Paste refused"), "{text}");
}

/// The real `run` loop: events from a stream, ending when the stream ends.
#[tokio::test]
async fn run_loop_takes_input_from_a_stream() {
    let config = config::parse(Path::new("p.toml"), FOUR_PROFILES).expect("valid");
    let clock = ManualClock::default();
    let terminal = Terminal::new(TestBackend::new(100, 30)).expect("backend");
    let app = App::new(None, Loaded::Config(config), (100, 30));
    let mut console = Console::new(terminal, app, Arc::new(clock));
    let events: Vec<std::io::Result<Event>> = vec![
        Ok(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE))),
        Ok(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE))),
        Ok(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        ))),
        Ok(Event::Paste("pasted".into())),
    ];
    console
        .run(futures::stream::iter(events))
        .await
        .expect("runs");
    let app = console.app();
    assert_eq!(app.profile().map(|p| p.name.as_str()), Some("iam-alice"));
    assert_eq!(app.focus, Focus::Field(0));
    let editor = app.editor.as_ref().expect("editor");
    assert_eq!(editor.fields[0].buf.char_count(), 6);
}

#[test]
fn help_fits_every_binding_at_80x24() {
    let config = config::parse(Path::new("p.toml"), FOUR_PROFILES).expect("valid");
    let mut h = Harness::new(Loaded::Config(config), 80, 24);
    h.key(KeyCode::Char('?'));
    let screen = h.screen();
    for (keys, what) in &rekey::console::keymap::Keymap::default().help() {
        assert!(screen.contains(keys), "{keys} missing at 80x24\n{screen}");
        assert!(screen.contains(what), "{what} missing at 80x24\n{screen}");
    }
}

#[test]
fn a_key_override_works_through_the_loop_and_shows_in_help() {
    let text = format!("[keys]\nquit = \"ctrl-q\"\nhelp = \"f2\"\n{FOUR_PROFILES}");
    let mut h = Harness::with_config(&text);
    // The hints line shows the keys in force.
    let screen = h.screen();
    assert!(screen.contains("F2 help · ^Q quit"), "{screen}");
    // `q` no longer quits, `?` no longer opens help; F2 does.
    h.key(KeyCode::Char('q'));
    assert!(!h.app().should_quit);
    h.key(KeyCode::Char('?'));
    assert_eq!(h.app().overlay, None);
    h.key(KeyCode::F(2));
    assert_eq!(h.app().overlay, Some(Overlay::Help));
    let screen = h.screen();
    assert!(
        screen.contains("Ctrl-Q") && screen.contains("F2"),
        "{screen}"
    );
    h.key(KeyCode::Esc);
    assert_eq!(h.app().overlay, None);
    h.ctrl('q');
    assert!(h.app().should_quit);
}

/// Messages name keys as bound: after `[keys]` moves send-anyway, check, generate and copy,
/// no message still tells the user to press the old key.
#[test]
fn messages_name_the_keys_in_force() {
    let text = format!(
        "[keys]\nsend_anyway = \"ctrl-k\"\ncheck = \"f6\"\ngenerate = \"ctrl-n\"\n{FOUR_PROFILES}"
    );
    let mut h = Harness::with_config(&text);
    let status = |h: &Harness| {
        h.app()
            .status
            .as_ref()
            .map(|s| s.1.clone())
            .unwrap_or_default()
    };
    h.ctrl('k');
    assert!(
        status(&h).starts_with("Ctrl-K has nothing to override"),
        "{}",
        status(&h)
    );
    h.key(KeyCode::F(6));
    assert!(
        status(&h).starts_with("F6 has nothing to check"),
        "{}",
        status(&h)
    );
    // An empty new password: Ctrl-Y says which key generates one.
    h.key(KeyCode::Enter);
    h.ctrl('y');
    assert_eq!(
        status(&h),
        "New password is empty: nothing to copy (Ctrl-N generates one)"
    );
}
