//! Terminal input read by rekey itself, so that every buffer that held typed or pasted bytes
//! is wiped once they are decoded.
//!
//! crossterm's reader keeps what it read for the life of the process: its 1 KiB read buffer
//! and its parser's sequence buffer are overwritten only by later input, never wiped, so a
//! password typed in one write (auto-type) or pasted stays there after the fields are wiped
//! (measured: see `tests/memory.rs`). Here the terminal is read into a [`Decoder`]: each byte
//! is wiped from the read buffer as it is handed to rekey's own [`parser`], which keeps at
//! most one unfinished sequence and wipes it once decoded. The events are crossterm's values.
//! They come out one at a time, with no queue keeping old ones; a paste's text is handed over
//! once, and the console wipes it after copying it into the field.
//!
//! [`TtyInput`] is the console's event stream (tokio, non-blocking); [`BlockingTty`] reads one
//! event at a time for the headless prompts.

pub mod parser;

use std::io;
use std::mem;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crossterm::event::Event;
use futures::Stream;
use rustix::fs::{Mode, OFlags};
use tokio::io::unix::AsyncFd;
use zeroize::Zeroizing;

use parser::Parser;

/// One read's worth, as crossterm reads (terminals hand over at most about 1 KiB at a time).
const CHUNK: usize = 1024;

/// Bytes read from the terminal, decoded into events; wipes each byte as it is decoded.
pub struct Decoder {
    /// The last read; bytes before `pos` are already wiped.
    chunk: Zeroizing<[u8; CHUNK]>,
    pos: usize,
    len: usize,
    parser: Parser,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            chunk: Zeroizing::new([0; CHUNK]),
            pos: 0,
            len: 0,
            parser: Parser::default(),
        }
    }
}

impl Decoder {
    /// Reads once with `read` into the (fully decoded) chunk. Returns the count read.
    pub fn fill(&mut self, read: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
        debug_assert!(
            self.pos >= self.len,
            "fill only once everything was decoded"
        );
        self.pos = 0;
        self.len = 0;
        let n = read(&mut self.chunk[..])?;
        self.len = n.min(CHUNK);
        Ok(self.len)
    }

    /// Takes up to one read's worth of `bytes` as if read (tests, the bench); returns how many
    /// it took. `bytes` is the caller's to wipe.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(CHUNK);
        let _ = self.fill(|buf| {
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        });
        n
    }

    /// The next event from what was read, or `None` when more must be read.
    pub fn next_event(&mut self) -> Option<Event> {
        while self.pos < self.len {
            let byte = mem::take(&mut self.chunk[self.pos]);
            self.pos += 1;
            // A lone ESC at the end of a read is the Esc key, unless the read filled the buffer
            // (more may follow at once).
            let more = self.pos < self.len || self.len == CHUNK;
            if let Some(event) = self.parser.advance(byte, more) {
                return Some(event);
            }
        }
        None
    }

    /// Whether read bytes wait to be decoded.
    pub fn pending(&self) -> bool {
        self.pos < self.len
    }
}

/// Opens the controlling terminal for reading: a new open file description, so its flags
/// (non-blocking) are rekey's own and never leak to the shell sharing standard input.
fn open_tty(nonblocking: bool) -> io::Result<OwnedFd> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    if nonblocking {
        flags |= OFlags::NONBLOCK;
    }
    match rustix::fs::open("/dev/tty", flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        // No controlling terminal (a detached session): reopen standard input, a terminal.
        #[cfg(target_os = "linux")]
        Err(_) => rustix::fs::open("/proc/self/fd/0", flags, Mode::empty()).map_err(Into::into),
        #[cfg(not(target_os = "linux"))]
        Err(e) => Err(e.into()),
    }
}

fn read_fd(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    rustix::io::read(fd, buf).map_err(io::Error::from)
}

/// The console's terminal events, read from the terminal by rekey (see the module docs).
pub struct TtyInput {
    fd: AsyncFd<OwnedFd>,
    decoder: Decoder,
    #[cfg(unix)]
    resized: Option<tokio::signal::unix::Signal>,
}

impl TtyInput {
    /// Opens the terminal. Needs a tokio runtime with I/O and signals enabled.
    pub fn open() -> io::Result<TtyInput> {
        // `with_interest` is deprecated for wrappers whose raw fd may change or close while
        // registered; an `OwnedFd` owned by the `AsyncFd` keeps the same open fd for its whole
        // life, which is exactly what the unsafe `register` would require.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(open_tty(true)?, tokio::io::Interest::READABLE)?;
        #[cfg(unix)]
        let resized =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
        Ok(TtyInput {
            fd,
            decoder: Decoder::default(),
            #[cfg(unix)]
            resized,
        })
    }
}

impl Stream for TtyInput {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.decoder.next_event() {
                return Poll::Ready(Some(Ok(event)));
            }
            #[cfg(unix)]
            if let Some(signal) = &mut this.resized
                && signal.poll_recv(cx).is_ready()
            {
                let (cols, rows) = crossterm::terminal::size()?;
                return Poll::Ready(Some(Ok(Event::Resize(cols, rows))));
            }
            let mut guard = ready!(this.fd.poll_read_ready(cx))?;
            let decoder = &mut this.decoder;
            match guard.try_io(|fd| decoder.fill(|buf| read_fd(fd.get_ref(), buf))) {
                // The terminal went away (hangup): the input ends.
                Ok(Ok(0)) => return Poll::Ready(None),
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                // Not readable after all: readiness was cleared, poll again.
                Err(_would_block) => {}
            }
        }
    }
}

/// The terminal read one event at a time, blocking (the headless password prompts).
pub struct BlockingTty {
    fd: OwnedFd,
    decoder: Decoder,
}

impl BlockingTty {
    /// Opens the terminal.
    pub fn open() -> io::Result<BlockingTty> {
        Ok(BlockingTty {
            fd: open_tty(false)?,
            decoder: Decoder::default(),
        })
    }

    /// Blocks until the next event. End of input is an `UnexpectedEof` error.
    pub fn read(&mut self) -> io::Result<Event> {
        loop {
            if let Some(event) = self.decoder.next_event() {
                return Ok(event);
            }
            let fd = &self.fd;
            match self.decoder.fill(|buf| read_fd(fd, buf)) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn events(decoder: &mut Decoder) -> Vec<Event> {
        std::iter::from_fn(|| decoder.next_event()).collect()
    }

    #[test]
    fn keys_and_a_paste_come_out_as_crossterm_values_and_the_buffers_are_wiped() {
        let mut d = Decoder::default();
        d.feed(b"ab\x1b[A\x1b[200~Secret#Paste1\x1b[201~\r\x1b");
        assert_eq!(
            events(&mut d),
            vec![
                Event::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
                Event::Key(KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE)),
                Event::Key(KeyCode::Up.into()),
                Event::Paste("Secret#Paste1".into()),
                Event::Key(KeyCode::Enter.into()),
                Event::Key(KeyCode::Esc.into()),
            ]
        );
        assert!(d.chunk.iter().all(|&b| b == 0), "the read buffer is wiped");
        assert!(d.parser.is_idle());
    }

    #[test]
    fn a_long_paste_grows_the_sequence_buffer_and_stays_whole() {
        let text: String = "Ab3#".repeat(1000);
        let bytes = format!("\x1b[200~{text}\x1b[201~");
        let mut d = Decoder::default();
        let (mut rest, mut got) = (bytes.as_bytes(), Vec::new());
        while !rest.is_empty() {
            rest = &rest[d.feed(rest)..];
            got.extend(events(&mut d));
        }
        assert_eq!(got, vec![Event::Paste(text)]);
        assert!(d.chunk.iter().all(|&b| b == 0));
    }

    #[test]
    fn an_escape_sequence_split_across_reads_is_one_key() {
        let mut d = Decoder::default();
        d.feed(b"\x1b[");
        // Not the end of a read that filled the buffer: `ESC [` alone is not a key yet.
        assert_eq!(d.next_event(), None);
        d.feed(b"B");
        assert_eq!(d.next_event(), Some(Event::Key(KeyCode::Down.into())));
    }
}
