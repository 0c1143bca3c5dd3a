//! The TUI: app state + update, messages, panes under `ui/`, the loop, terminal setup.
//!
//! The loop is one queue of [`Message`]s: terminal input, timers and (next) the worker all post
//! into it; the loop handles every queued message and draws once the queue is empty. `Console`
//! takes any ratatui `Backend` and any input stream, so tests drive the real loop with a
//! `TestBackend` and a channel of key events.

pub mod app;
pub mod clipboard;
pub mod clock;
pub mod editor;
pub mod history;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod message;
pub mod refused;
pub mod terminal;
pub mod theme;
pub mod ui;

use std::io::{self, Write};
use std::sync::Arc;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

pub use app::{App, Focus, Loaded, Overlay};
pub use clock::{Clock, ManualClock, SystemClock};
pub use message::Message;

/// Terminal events that cannot change anything the console shows.
fn is_noise(event: &Event) -> bool {
    use crossterm::event::{KeyEventKind, MouseEventKind};
    match event {
        Event::Mouse(m) => matches!(m.kind, MouseEventKind::Moved | MouseEventKind::Drag(_)),
        Event::Key(k) => k.kind == KeyEventKind::Release,
        Event::FocusGained | Event::FocusLost => true,
        _ => false,
    }
}

fn backend_error<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

/// Where OSC 52 clipboard sequences go: the terminal (tests capture them).
pub type ClipboardSink = Box<dyn Write + Send>;

/// The console: its state, where it draws, its clock and its message queue.
pub struct Console<B: Backend> {
    terminal: Terminal<B>,
    app: App,
    clock: Arc<dyn Clock>,
    tx: UnboundedSender<Message>,
    rx: UnboundedReceiver<Message>,
    clipboard: ClipboardSink,
}

impl<B: Backend> Console<B> {
    /// A console drawing into `terminal`. Connects the app to the queue: it reads the
    /// journals and starts filling the selected profile's current password from its store.
    /// Clipboard sequences go to stdout once the real terminal was entered, nowhere otherwise
    /// (see [`Console::set_clipboard`]).
    pub fn new(terminal: Terminal<B>, mut app: App, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = unbounded_channel();
        app.connect(tx.clone());
        let clipboard: ClipboardSink = if terminal::entered() {
            Box::new(io::stdout())
        } else {
            Box::new(io::sink())
        };
        Console {
            terminal,
            app,
            clock,
            tx,
            rx,
            clipboard,
        }
    }

    /// Where OSC 52 clipboard sequences are written (tests capture them).
    pub fn set_clipboard(&mut self, sink: ClipboardSink) {
        self.clipboard = sink;
    }

    /// Where background work posts messages.
    pub fn sender(&self) -> UnboundedSender<Message> {
        self.tx.clone()
    }

    /// Connects the worker that sends changes.
    pub fn set_worker(&mut self, worker: crate::worker::Worker) {
        self.app.worker = Some(worker);
    }

    /// The app state (tests read it).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The terminal (tests read the backend's buffer).
    pub fn terminal(&self) -> &Terminal<B> {
        &self.terminal
    }

    /// The terminal, mutably (tests resize the backend).
    pub fn terminal_mut(&mut self) -> &mut Terminal<B> {
        &mut self.terminal
    }

    /// Draws one frame from the current state.
    pub fn draw(&mut self) -> io::Result<()> {
        let (now, wall) = (self.clock.now(), self.clock.wall());
        let app = &self.app;
        let mut scroll_max = 0;
        self.terminal
            .draw(|frame| scroll_max = ui::draw(frame, app, now, wall))
            .map_err(backend_error)?;
        // How far the editor can scroll, as drawn: PgDn stops there.
        self.app.editor_scroll_max = scroll_max;
        Ok(())
    }

    /// Handles one message.
    pub fn handle(&mut self, message: Message) {
        self.app
            .update(message, self.clock.now(), self.clock.wall());
        for sequence in self.app.take_clipboard() {
            let written = self
                .clipboard
                .write_all(&sequence)
                .and_then(|()| self.clipboard.flush());
            if let Err(e) = written {
                self.app.clipboard_failed(&e);
            }
        }
    }

    /// Handles every queued message without drawing. Returns whether any was handled.
    fn drain(&mut self) -> bool {
        let mut handled = false;
        while !self.app.should_quit
            && let Ok(message) = self.rx.try_recv()
        {
            self.handle(message);
            handled = true;
        }
        handled
    }

    /// Handles every queued message, then draws once if anything was handled and the app is
    /// still running. Returns whether the app asked to quit.
    pub fn process_queue(&mut self) -> io::Result<bool> {
        if self.drain() && !self.app.should_quit {
            self.draw()?;
        }
        Ok(self.app.should_quit)
    }

    /// Waits for the next queued message (from the worker, say), handles it and everything
    /// queued behind it, and draws. Returns whether the app asked to quit. Tests use this to
    /// drive the loop without a terminal input stream.
    pub async fn next_message(&mut self) -> io::Result<bool> {
        if let Some(message) = self.rx.recv().await {
            self.handle(message);
        }
        self.drain();
        if !self.app.should_quit {
            self.draw()?;
        }
        Ok(self.app.should_quit)
    }

    /// Runs until the app quits or the input ends. Draws the first frame at once; afterwards
    /// draws only after a message: no polling tick, so an idle console does no work.
    pub async fn run<I>(&mut self, mut input: I) -> io::Result<()>
    where
        I: Stream<Item = io::Result<Event>> + Unpin,
    {
        self.draw()?;
        loop {
            let deadline = self.app.next_deadline(self.clock.now(), self.clock.wall());
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                Some(message) = self.rx.recv() => self.handle(message),
                event = input.next() => match event {
                    // Mouse motion and key releases change nothing: no work, no frame.
                    Some(Ok(event)) if is_noise(&event) => continue,
                    Some(Ok(event)) => self.handle(Message::Input(event)),
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                () = sleep => self.handle(Message::Tick),
            }
            if terminal::panicked() {
                return Err(io::Error::other(
                    "internal error (the terminal was restored; typed secrets were wiped)",
                ));
            }
            // Batch whatever else is queued, then draw once.
            self.drain();
            if self.app.should_quit {
                return Ok(());
            }
            self.draw()?;
        }
    }

    /// Ends the console, returning the app state (secrets already wiped on quit).
    pub fn into_app(self) -> App {
        self.app
    }
}
