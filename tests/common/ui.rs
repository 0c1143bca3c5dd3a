//! The console driven through its message loop in a `TestBackend`, with the real worker.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::config;
use rekey::console::editor::FieldRole;
use rekey::console::{App, Clock, Console, Focus, Loaded, Message, SystemClock};
use rekey::state::{Audit, State};
use rekey::worker::Worker;

use super::Env;

/// The console in a `TestBackend`, with the real worker, driven through its message loop.
pub struct Ui {
    /// The console.
    pub console: Console<TestBackend>,
}

impl Ui {
    /// A console on the env's profiles with the real clock, state in memory.
    pub fn new(env: &Env) -> Ui {
        Ui::with(env, Arc::new(SystemClock), None)
    }

    /// A console on the env's profiles with `clock`; state and audit in `data` when given.
    pub fn with(env: &Env, clock: Arc<dyn Clock>, data: Option<&Path>) -> Ui {
        let text = std::fs::read_to_string(&env.config).expect("profiles");
        let config = config::parse(Path::new("sim.toml"), &text).expect("valid");
        let audit = config.audit;
        let terminal = Terminal::new(TestBackend::new(140, 45)).expect("backend");
        let mut app = App::new(None, Loaded::Config(config), (140, 45));
        if let Some(dir) = data {
            let (state, warning) = State::load(dir);
            assert!(warning.is_none(), "{warning:?}");
            app.state = state;
            app.audit = Audit::new(Some(dir), audit);
        }
        let mut console = Console::new(terminal, app, clock);
        let events = console.sender();
        console.set_worker(Worker::spawn(Arc::new(move |e| {
            let _ = events.send(Message::Worker(Box::new(e)));
        })));
        console.draw().expect("draw");
        Ui { console }
    }

    /// Test helper.
    pub fn key(&mut self, code: KeyCode) {
        self.key_mod(code, KeyModifiers::NONE);
    }

    /// A key with modifiers.
    pub fn key_mod(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        self.console
            .sender()
            .send(Message::Input(Event::Key(KeyEvent::new(code, modifiers))))
            .expect("queue");
        self.console.process_queue().expect("draw");
    }

    /// Test helper.
    pub fn text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Test helper.
    pub fn app(&self) -> &App {
        self.console.app()
    }

    /// Test helper.
    pub fn screen(&self) -> String {
        super::screen_text(self.console.terminal().backend().buffer())
    }

    /// Test helper.
    pub fn select(&mut self, name: &str) {
        while self.app().focus != Focus::Profiles {
            self.key(KeyCode::BackTab);
        }
        self.key(KeyCode::Home);
        while self.app().profile().map(|p| p.name.as_str()) != Some(name) {
            let before = self.app().selected;
            self.key(KeyCode::Down);
            assert_ne!(before, self.app().selected, "no profile {name}");
        }
    }

    /// Fills current (when the kind has it), new and confirm, and presses Enter on the last.
    /// Test helper.
    pub fn submit(&mut self, current: Option<&str>, new: &str) {
        self.key(KeyCode::Enter); // into the first field
        let roles: Vec<FieldRole> = self
            .app()
            .editor
            .as_ref()
            .expect("editor")
            .fields
            .iter()
            .map(|f| f.role)
            .collect();
        for role in roles {
            match role {
                FieldRole::Current => self.text(current.unwrap_or_default()),
                FieldRole::New | FieldRole::Confirm => self.text(new),
                FieldRole::Prompt(_) => panic!("demo profiles have no prompts"),
            }
            self.key(KeyCode::Enter);
        }
    }

    /// Handles messages (from the worker) until `done` holds; fails after 10 s.
    /// Test helper.
    pub async fn wait(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        // File writes run off the loop: a test that waits for something also waits for them.
        while !done(self.app()) || self.app().disk_busy() {
            tokio::time::timeout_at(deadline, self.console.next_message())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", self.app().status))
                .expect("draw");
        }
    }

    /// Test helper.
    pub fn outcome(&self) -> String {
        self.app()
            .outcome
            .as_ref()
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    }
}
