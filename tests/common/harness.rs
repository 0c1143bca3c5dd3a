//! The console without a worker in a `TestBackend`, driven through its message loop: every
//! message goes through the queue and `process_queue`, which handles it and draws. Test files
//! add their own constructors and helpers in `impl Harness` blocks of their own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::config;
use rekey::console::{App, Clock, Console, Loaded, ManualClock, Message};

/// What the console wrote to the terminal's clipboard.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The bytes written since the last take.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

/// `text` parsed as `profiles.toml`, which must be valid.
pub fn loaded(text: &str) -> Loaded {
    Loaded::Config(config::parse(Path::new("profiles.toml"), text).expect("valid config"))
}

/// A console without a worker on `clock` (a [`ManualClock`] unless told), its clipboard
/// captured.
pub struct Harness<C = ManualClock> {
    /// The console.
    pub console: Console<TestBackend>,
    /// The clock the console reads.
    pub clock: C,
    /// Where the console's clipboard sequences went.
    pub clipboard: Captured,
}

impl Harness {
    /// `loaded` (read from `path`) in a `size` terminal with a manual clock; `setup` adjusts
    /// the app, given the clock's wall time, before the first frame.
    pub fn manual(
        path: Option<PathBuf>,
        loaded: Loaded,
        size: (u16, u16),
        setup: impl FnOnce(&mut App, SystemTime),
    ) -> Harness {
        let clock = ManualClock::default();
        let mut app = App::new(path, loaded, size);
        setup(&mut app, clock.wall());
        Harness::start(app, size, clock)
    }
}

impl<C: Clock + Clone + 'static> Harness<C> {
    /// `app` in a `size` terminal on `clock`, with the first frame drawn.
    pub fn start(app: App, size: (u16, u16), clock: C) -> Harness<C> {
        let terminal = Terminal::new(TestBackend::new(size.0, size.1)).expect("test backend");
        let mut console = Console::new(terminal, app, Arc::new(clock.clone()));
        let clipboard = Captured::default();
        console.set_clipboard(Box::new(clipboard.clone()));
        console.draw().expect("first frame");
        Harness {
            console,
            clock,
            clipboard,
        }
    }

    /// Posts a message through the loop's queue and lets the loop handle it and draw.
    pub fn send(&mut self, message: Message) {
        self.console.sender().send(message).expect("queue open");
        self.console.process_queue().expect("draw");
    }

    /// A key with modifiers.
    pub fn key_mod(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        self.send(Message::Input(Event::Key(KeyEvent::new(code, modifiers))));
    }

    /// A key alone.
    pub fn key(&mut self, code: KeyCode) {
        self.key_mod(code, KeyModifiers::NONE);
    }

    /// Ctrl and `c`.
    pub fn ctrl(&mut self, c: char) {
        self.key_mod(KeyCode::Char(c), KeyModifiers::CONTROL);
    }

    /// Types `text`, one key per character.
    pub fn text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// A bracketed paste of `text`.
    pub fn paste(&mut self, text: &str) {
        self.send(Message::Input(Event::Paste(text.to_string())));
    }

    /// A left click at `column`, `row`.
    pub fn click(&mut self, column: u16, row: u16) {
        self.send(Message::Input(Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })));
    }

    /// Resizes the terminal and tells the loop.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.console
            .terminal_mut()
            .backend_mut()
            .resize(width, height);
        self.send(Message::Input(Event::Resize(width, height)));
    }

    /// The app.
    pub fn app(&self) -> &App {
        self.console.app()
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        super::screen_text(self.console.terminal().backend().buffer())
    }

    /// The terminal's size.
    pub fn size(&self) -> (u16, u16) {
        let area = self.console.terminal().backend().buffer().area;
        (area.width, area.height)
    }
}
