//! The one message type the console's loop handles. Everything that changes app state arrives
//! as a `Message`: terminal input, timers, signals, and (next) the worker's reports.

use crossterm::event::Event;

use crate::worker::WorkerEvent;

/// Something for the console to handle. `Debug` is manual: a paste may hold a password.
pub enum Message {
    /// A terminal event: key, paste, mouse, resize.
    Input(Event),
    /// A deadline the app asked for (reveal expiry) has passed.
    Tick,
    /// SIGTERM/SIGHUP or similar: quit now, wiping secrets.
    Terminate,
    /// The worker reports (log entries, outcomes).
    Worker(Box<WorkerEvent>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Input(Event::Paste(text)) => {
                write!(
                    f,
                    "Input(Paste([redacted], {} chars))",
                    text.chars().count()
                )
            }
            Message::Input(Event::Key(key)) if key.code.as_char().is_some() => {
                f.write_str("Input(Key([redacted]))")
            }
            Message::Input(event) => write!(f, "Input({event:?})"),
            Message::Tick => f.write_str("Tick"),
            Message::Terminate => f.write_str("Terminate"),
            Message::Worker(event) => write!(f, "Worker({event:?})"),
        }
    }
}
