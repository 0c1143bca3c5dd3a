//! Entering and leaving the terminal: raw mode, alternate screen, mouse, bracketed paste; and
//! putting it back on exit, on panic and on SIGINT/SIGTERM/SIGHUP/SIGQUIT.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The real terminal's type: ratatui drawing through a [`FrameWriter`] on the terminal.
pub type Term = Terminal<CrosstermBackend<FrameWriter<Tty>>>;

/// The console's own handle on the terminal (a duplicate of standard output, close-on-exec so
/// no store command inherits it); standard output itself where there are no descriptors.
#[cfg(unix)]
pub type Tty = std::fs::File;
/// The console's own handle on the terminal.
#[cfg(not(unix))]
pub type Tty = io::Stdout;

#[cfg(unix)]
fn tty() -> io::Result<Tty> {
    use std::os::fd::AsFd;
    Ok(io::stdout().as_fd().try_clone_to_owned()?.into())
}

#[cfg(not(unix))]
fn tty() -> io::Result<Tty> {
    Ok(io::stdout())
}

/// Room for a full frame at 120×40 with colours (about 5 KB; a larger one grows the buffer).
const FRAME_BUFFER: usize = 16 * 1024;

/// The console's writer. A frame is gathered here and reaches the terminal in one write when
/// ratatui flushes at the end of the frame (the standard output's own buffer would cut it
/// every kilobyte: five writes for a first frame, which a slow link can show half drawn).
/// Then the buffer is wiped: a frame can hold a password the user chose to reveal. It writes
/// to its own handle on the terminal, past the standard output's buffer, which would keep the
/// last kilobyte of every frame. What is not flushed (a frame cut short by a panic) is wiped,
/// never written.
pub struct FrameWriter<W: Write> {
    out: W,
    frame: zeroize::Zeroizing<Vec<u8>>,
}

impl<W: Write> FrameWriter<W> {
    /// A writer of frames to `out`.
    pub fn new(out: W) -> FrameWriter<W> {
        FrameWriter {
            out,
            frame: zeroize::Zeroizing::new(Vec::with_capacity(FRAME_BUFFER)),
        }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.frame.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        use zeroize::Zeroize;
        let written = self
            .out
            .write_all(&self.frame)
            .and_then(|()| self.out.flush());
        // Empties it and wipes its whole capacity.
        self.frame.zeroize();
        written
    }
}

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

static PANICKED: AtomicBool = AtomicBool::new(false);
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Whether the real terminal was entered (then OSC 52 clipboard sequences go to stdout).
pub fn entered() -> bool {
    ENTERED.load(Ordering::SeqCst)
}

/// Whether a panic happened anywhere (a task's panic is caught by tokio; the console then
/// stops, since the hook already restored the terminal).
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

thread_local! {
    /// Set while a worker job is polled on this thread (the console's runtime runs jobs on
    /// its own thread): a panic there is the job's, which the worker reports as an outcome.
    static IN_JOB: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (one poll of a worker job) marked as job code: a panic inside it leaves the
/// console up, the terminal as it is and the typed secrets kept, because the worker turns the
/// panic into an outcome (`unknown` once the change request has left).
pub fn as_job<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_JOB.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_JOB.with(|c| c.replace(true)));
    f()
}

/// A future polled as job code ([`as_job`]): a panic in it ends that task (its `JoinHandle`
/// says so) and leaves the console up. Headless it changes nothing.
pub struct AsJob<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> AsJob<F> {
    /// `f`, to be polled as job code.
    pub fn new(f: F) -> AsJob<F> {
        AsJob(Box::pin(f))
    }
}

impl<F: std::future::Future> std::future::Future for AsJob<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        as_job(|| self.0.as_mut().poll(cx))
    }
}

/// Installs a panic hook that reports where the panic happened without its message: a panic
/// message could, through a bug, carry a secret. The same rule holds for the console and the
/// headless commands (installed first thing in `main`, and again on entering the console).
/// In the console it also restores the terminal; a panic in a worker job ([`as_job`]) is left
/// to the worker, which reports it as the job's outcome. Headless, raw mode (a password
/// prompt) is turned off; nothing is written to stdout. A stderr that cannot be written is
/// ignored: the hook itself never panics.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let console = ENTERED.load(Ordering::SeqCst);
        if console && IN_JOB.with(std::cell::Cell::get) {
            return;
        }
        PANICKED.store(true, Ordering::SeqCst);
        let restored = if console {
            restore();
            "The terminal was restored and typed"
        } else {
            let _ = disable_raw_mode();
            "Typed"
        };
        let location = info
            .location()
            .map_or_else(|| "unknown location".to_string(), |l| l.to_string());
        let _ = writeln!(
            io::stderr(),
            "rekey: internal error at {location}. {restored} secrets were not saved anywhere. \
             Please report this location."
        );
    }));
}

/// Enters raw mode and the alternate screen with bracketed paste, and mouse capture when
/// `mouse` (without it, `--no-mouse` or `mouse = false`, the terminal keeps the mouse and its
/// own text selection works).
pub fn enter(mouse: bool) -> io::Result<Term> {
    install_panic_hook();
    enable_raw_mode()?;
    let mut out = io::stdout();
    let entered = execute!(out, EnterAlternateScreen, EnableBracketedPaste).and_then(|()| {
        if mouse {
            execute!(out, EnableMouseCapture)
        } else {
            Ok(())
        }
    });
    if let Err(e) = entered {
        restore();
        return Err(e);
    }
    match tty().and_then(|tty| Terminal::new(CrosstermBackend::new(FrameWriter::new(tty)))) {
        Ok(t) => {
            ENTERED.store(true, Ordering::SeqCst);
            Ok(t)
        }
        Err(e) => {
            restore();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing reaches the terminal before the flush, all of it in one write then, and the
    /// buffer is empty afterwards; a frame never flushed is never written.
    #[test]
    fn a_frame_is_written_whole_on_flush_and_not_kept() {
        /// Records each write it is given.
        #[derive(Default)]
        struct Writes(Vec<Vec<u8>>);
        impl Write for Writes {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.push(bytes.to_vec());
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = FrameWriter::new(Writes::default());
        let frame = "x".repeat(3 * FRAME_BUFFER);
        for chunk in frame.as_bytes().chunks(100) {
            w.write_all(chunk).expect("write");
        }
        assert!(w.out.0.is_empty(), "written before the flush");
        w.flush().expect("flush");
        assert_eq!(w.out.0, vec![frame.into_bytes()]);
        assert!(w.frame.is_empty());
        w.write_all(b"cut short").expect("write");
        let FrameWriter { out, .. } = w;
        assert_eq!(out.0.len(), 1, "an unflushed frame was written");
    }
}
