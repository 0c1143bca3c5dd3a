//! rekey's own decoder of what a terminal sends: UTF-8 text, C0 control characters, CSI and
//! SS3 sequences (keys, SGR and legacy mouse reports, focus), and bracketed paste, turned into
//! crossterm's public event values so the console need not know who decoded them.
//!
//! Written from the terminal protocol (ECMA-48's sequence syntax, xterm's "Control Sequences"
//! document for what each key and mouse report looks like). It is a state machine fed one
//! byte at a time: it never re-reads input and holds at most one unfinished sequence, in
//! fixed buffers of its own that are wiped as soon as the sequence is decoded (or dropped):
//! [`SEQ_MAX`] bytes of a sequence's parameters, four bytes of a UTF-8 character, and the text
//! of one bracketed paste (up to [`PASTE_MAX`], grown by copying and wiping, never by
//! `realloc`). A paste's text is moved into its event without another copy.

use std::mem;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use zeroize::{Zeroize, Zeroizing};

const ESC: u8 = 0x1b;

/// The longest parameter string kept for one sequence; a longer one is skipped to its end.
pub const SEQ_MAX: usize = 64;

/// The largest bracketed paste taken; a larger one is read to its end and ignored.
pub const PASTE_MAX: usize = 1 << 20;

/// What ends a bracketed paste (`CSI 201 ~`).
const PASTE_END: &[u8] = b"\x1b[201~";

/// Where the decoder is in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between events.
    Ground,
    /// After an ESC: a sequence starts, or the next key was pressed with Alt.
    Escape,
    /// After `ESC [`: parameter and intermediate bytes go to `seq` until a final byte.
    Csi,
    /// A CSI longer than [`SEQ_MAX`]: consumed to its final byte and ignored.
    CsiSkip,
    /// After `ESC O`: one final byte names the key.
    Ss3,
    /// Inside a multi-byte UTF-8 character: `utf8[..utf8_len]` read, `need` bytes in all.
    Utf8 { need: usize, alt: bool },
    /// After `CSI M` (legacy X10 mouse report): three raw bytes follow.
    X10Mouse,
    /// Inside a bracketed paste.
    Paste,
}

/// Decodes terminal input into events, one byte at a time (see the module docs).
pub struct Parser {
    state: State,
    seq: [u8; SEQ_MAX],
    seq_len: usize,
    utf8: [u8; 4],
    utf8_len: usize,
    paste: Zeroizing<Vec<u8>>,
    /// How many bytes of [`PASTE_END`] were just read inside a paste (not yet in `paste`).
    paste_end: usize,
    /// The paste outgrew [`PASTE_MAX`]: the rest of it is dropped.
    paste_too_long: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            state: State::Ground,
            seq: [0; SEQ_MAX],
            seq_len: 0,
            utf8: [0; 4],
            utf8_len: 0,
            paste: Zeroizing::new(Vec::new()),
            paste_end: 0,
            paste_too_long: false,
        }
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        self.seq.zeroize();
        self.utf8.zeroize();
    }
}

impl Parser {
    /// Takes the next byte of input; returns the event it completes, if any. `more` says
    /// whether another byte is already available: an ESC with nothing after it is the Esc key,
    /// an ESC followed by more is the start of a sequence or Alt with the next key.
    pub fn advance(&mut self, byte: u8, more: bool) -> Option<Event> {
        match self.state {
            State::Ground => self.ground(byte, more, KeyModifiers::NONE),
            State::Escape => self.escape(byte, more),
            State::Csi => self.csi(byte, more),
            State::CsiSkip => {
                if is_final(byte) {
                    self.state = State::Ground;
                } else if !is_parameter(byte) {
                    self.state = State::Ground;
                    return self.advance(byte, more);
                }
                None
            }
            State::Ss3 => self.ss3(byte, more),
            State::Utf8 { need, alt } => self.utf8(byte, more, need, alt),
            State::X10Mouse => self.x10_mouse(byte),
            State::Paste => self.paste(byte),
        }
    }

    /// Whether no sequence, character or paste is half read (every buffer is then empty).
    pub fn is_idle(&self) -> bool {
        self.state == State::Ground
            && self.seq_len == 0
            && self.utf8_len == 0
            && self.paste.is_empty()
            && self.paste_end == 0
    }

    /// A byte outside any sequence; `alt` when it followed an ESC.
    fn ground(&mut self, byte: u8, more: bool, alt: KeyModifiers) -> Option<Event> {
        let ctrl = alt | KeyModifiers::CONTROL;
        let (code, modifiers) = match byte {
            ESC if more => {
                self.state = State::Escape;
                return None;
            }
            ESC => (KeyCode::Esc, alt),
            0x00 => (KeyCode::Char(' '), ctrl),
            b'\r' | b'\n' => (KeyCode::Enter, alt),
            b'\t' => (KeyCode::Tab, alt),
            0x08 | 0x7f => (KeyCode::Backspace, alt),
            0x01..=0x1a => (KeyCode::Char(char::from(b'a' + byte - 1)), ctrl),
            0x1c..=0x1f => (KeyCode::Char(char::from(b'\\' + byte - 0x1c)), ctrl),
            0x20..=0x7e => return Some(char_key(char::from(byte), alt)),
            0xc2..=0xf4 => {
                let need = match byte {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                self.utf8[0] = byte;
                self.utf8_len = 1;
                self.state = State::Utf8 {
                    need,
                    alt: alt.contains(KeyModifiers::ALT),
                };
                return None;
            }
            // A stray continuation byte, or one that never starts UTF-8.
            _ => return None,
        };
        Some(key(code, modifiers))
    }

    fn escape(&mut self, byte: u8, more: bool) -> Option<Event> {
        self.state = State::Ground;
        match byte {
            b'[' => {
                self.state = State::Csi;
                None
            }
            b'O' => {
                self.state = State::Ss3;
                None
            }
            // Esc pressed twice: the first is a key; the second may start a sequence. Alone at
            // the end of the input, the pair is Alt+Esc (how xterm sends it).
            ESC if more => {
                self.state = State::Escape;
                Some(key(KeyCode::Esc, KeyModifiers::NONE))
            }
            _ => self.ground(byte, more, KeyModifiers::ALT),
        }
    }

    fn csi(&mut self, byte: u8, more: bool) -> Option<Event> {
        if is_parameter(byte) {
            if self.seq_len == SEQ_MAX {
                self.clear_seq();
                self.state = State::CsiSkip;
            } else {
                self.seq[self.seq_len] = byte;
                self.seq_len += 1;
            }
            return None;
        }
        self.state = State::Ground;
        if is_final(byte) {
            let event = self.csi_event(byte);
            self.clear_seq();
            return event;
        }
        // A control character or non-ASCII byte cuts the sequence short: it is dropped and the
        // byte taken afresh (an ESC starts the next sequence).
        self.clear_seq();
        self.advance(byte, more)
    }

    /// The event of a complete CSI sequence with `final_byte`; unknown ones are `None`.
    fn csi_event(&mut self, final_byte: u8) -> Option<Event> {
        let seq = &self.seq[..self.seq_len];
        match seq.first() {
            Some(b'<') if matches!(final_byte, b'M' | b'm') => {
                let [b, x, y] = numbers::<3>(&seq[1..])?;
                return mouse(b, x, y, final_byte == b'M', false);
            }
            // Other private sequences are answers to queries rekey does not make.
            Some(b'<' | b'=' | b'>' | b'?') => return None,
            _ => {}
        }
        // Intermediate bytes make it something other than a key.
        if seq.iter().any(|&b| b < 0x30) {
            return None;
        }
        match final_byte {
            b'M' if seq.is_empty() => {
                self.state = State::X10Mouse;
                None
            }
            // urxvt's mouse mode 1015: `CSI b;x;y M` with the button offset by 32.
            b'M' => {
                let [b, x, y] = numbers::<3>(seq)?;
                mouse(b.checked_sub(32)?, x, y, true, true)
            }
            b'I' if seq.is_empty() => Some(Event::FocusGained),
            b'O' if seq.is_empty() => Some(Event::FocusLost),
            b'~' => self.tilde(),
            b'u' => kitty_key(seq),
            _ => letter_key(seq, final_byte),
        }
    }

    /// `CSI n ~` and `CSI n ; m ~`: editing and function keys, and the start of a paste.
    fn tilde(&mut self) -> Option<Event> {
        let seq = &self.seq[..self.seq_len];
        let mut fields = seq.split(|&b| b == b';');
        let n = number(fields.next()?)?;
        let modifier = fields.next();
        let third = fields.next();
        if fields.next().is_some() {
            return None;
        }
        // xterm's modifyOtherKeys: `CSI 27 ; m ; code ~`.
        if let Some(code) = third {
            if n != 27 {
                return None;
            }
            return code_point_key(number(code)?, modifier);
        }
        let code = match n {
            200 if modifier.is_none() => {
                self.state = State::Paste;
                return None;
            }
            1 | 7 => KeyCode::Home,
            2 => KeyCode::Insert,
            3 => KeyCode::Delete,
            4 | 8 => KeyCode::End,
            5 => KeyCode::PageUp,
            6 => KeyCode::PageDown,
            11..=15 => KeyCode::F((n - 10) as u8),
            17..=21 => KeyCode::F((n - 11) as u8),
            23..=26 => KeyCode::F((n - 12) as u8),
            28 | 29 => KeyCode::F((n - 13) as u8),
            31..=34 => KeyCode::F((n - 14) as u8),
            _ => return None,
        };
        modified_key(code, modifier, KeyModifiers::NONE)
    }

    fn ss3(&mut self, byte: u8, more: bool) -> Option<Event> {
        self.state = State::Ground;
        if !is_final(byte) {
            return self.advance(byte, more);
        }
        let code = letter_code(byte)?;
        Some(key(code, KeyModifiers::NONE))
    }

    fn utf8(&mut self, byte: u8, more: bool, need: usize, alt: bool) -> Option<Event> {
        if !(0x80..=0xbf).contains(&byte) {
            // Cut short: the partial character is dropped and the byte taken afresh.
            self.clear_utf8();
            self.state = State::Ground;
            return self.advance(byte, more);
        }
        self.utf8[self.utf8_len] = byte;
        self.utf8_len += 1;
        if self.utf8_len < need {
            return None;
        }
        self.state = State::Ground;
        let c = std::str::from_utf8(&self.utf8[..need])
            .ok()
            .and_then(|s| s.chars().next());
        self.clear_utf8();
        let alt = if alt {
            KeyModifiers::ALT
        } else {
            KeyModifiers::NONE
        };
        c.map(|c| char_key(c, alt))
    }

    fn x10_mouse(&mut self, byte: u8) -> Option<Event> {
        self.seq[self.seq_len] = byte;
        self.seq_len += 1;
        if self.seq_len < 3 {
            return None;
        }
        self.state = State::Ground;
        let [b, x, y] =
            [self.seq[0], self.seq[1], self.seq[2]].map(|v| u32::from(v).checked_sub(32));
        self.clear_seq();
        mouse(b?, x?, y?, true, true)
    }

    fn paste(&mut self, byte: u8) -> Option<Event> {
        if byte == PASTE_END[self.paste_end] {
            self.paste_end += 1;
            if self.paste_end < PASTE_END.len() {
                return None;
            }
            self.paste_end = 0;
            self.state = State::Ground;
            return self.finish_paste();
        }
        if self.paste_end > 0 {
            // What looked like the end was text after all.
            for &b in &PASTE_END[..mem::take(&mut self.paste_end)] {
                self.paste_push(b);
            }
            return self.paste(byte);
        }
        self.paste_push(byte);
        None
    }

    fn paste_push(&mut self, byte: u8) {
        if self.paste_too_long {
            return;
        }
        if self.paste.len() == PASTE_MAX {
            self.paste_too_long = true;
            // Wiped as it is dropped.
            self.paste = Zeroizing::new(Vec::new());
            return;
        }
        if self.paste.len() == self.paste.capacity() {
            let capacity = (self.paste.capacity() * 2).clamp(256, PASTE_MAX);
            let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
            grown.extend_from_slice(&self.paste);
            // The old buffer is wiped as it is dropped.
            self.paste = grown;
        }
        self.paste.push(byte);
    }

    fn finish_paste(&mut self) -> Option<Event> {
        if mem::take(&mut self.paste_too_long) {
            return None;
        }
        // Moved out, not copied: the console wipes the event's text once it has used it.
        match String::from_utf8(mem::take(&mut *self.paste)) {
            Ok(text) => Some(Event::Paste(text)),
            // Not text: ignored rather than pasted altered.
            Err(e) => {
                e.into_bytes().zeroize();
                None
            }
        }
    }

    fn clear_seq(&mut self) {
        self.seq.zeroize();
        self.seq_len = 0;
    }

    fn clear_utf8(&mut self) {
        self.utf8.zeroize();
        self.utf8_len = 0;
    }
}

/// A parameter or intermediate byte of a CSI sequence.
fn is_parameter(byte: u8) -> bool {
    (0x20..=0x3f).contains(&byte)
}

/// The byte that ends a CSI or SS3 sequence.
fn is_final(byte: u8) -> bool {
    (0x40..=0x7e).contains(&byte)
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, modifiers))
}

/// A typed character; an upper-case one was typed with Shift.
fn char_key(c: char, modifiers: KeyModifiers) -> Event {
    let shift = if c.is_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    key(KeyCode::Char(c), modifiers | shift)
}

/// The key a final byte names in `CSI X`, `CSI 1 ; m X` and `ESC O X`.
fn letter_code(byte: u8) -> Option<KeyCode> {
    Some(match byte {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'F' => KeyCode::End,
        b'H' => KeyCode::Home,
        b'P' => KeyCode::F(1),
        b'Q' => KeyCode::F(2),
        b'R' => KeyCode::F(3),
        b'S' => KeyCode::F(4),
        b'Z' => KeyCode::BackTab,
        _ => return None,
    })
}

/// `CSI X` or `CSI 1 ; m X`.
fn letter_key(seq: &[u8], final_byte: u8) -> Option<Event> {
    let code = letter_code(final_byte)?;
    let mut fields = seq.split(|&b| b == b';');
    let first = fields.next().unwrap_or_default();
    let modifier = fields.next();
    if fields.next().is_some() || !(first.is_empty() || first == b"1") {
        return None;
    }
    let shift = if code == KeyCode::BackTab {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    modified_key(code, modifier, shift)
}

/// The kitty keyboard protocol's `CSI code ; m u` (and `code:alternates`, `;text`).
fn kitty_key(seq: &[u8]) -> Option<Event> {
    let mut fields = seq.split(|&b| b == b';');
    let code = fields.next()?.split(|&b| b == b':').next()?;
    code_point_key(number(code)?, fields.next())
}

/// A key named by its code point (kitty, modifyOtherKeys), with a modifier field.
fn code_point_key(code: u32, modifier: Option<&[u8]>) -> Option<Event> {
    let code = match code {
        9 => KeyCode::Tab,
        13 => KeyCode::Enter,
        27 => KeyCode::Esc,
        8 | 127 => KeyCode::Backspace,
        _ => match char::from_u32(code) {
            Some(c) if !c.is_control() => KeyCode::Char(c),
            _ => return None,
        },
    };
    modified_key(code, modifier, KeyModifiers::NONE)
}

/// A key with the modifier field `m` or `m:event` of its sequence, if it has one: `m - 1` is
/// a bit mask (1 Shift, 2 Alt, 4 Ctrl, 8 Super, 16 Hyper, 32 Meta, 64 Caps Lock, 128 Num
/// Lock); the event is 1 press, 2 repeat, 3 release.
fn modified_key(code: KeyCode, field: Option<&[u8]>, extra: KeyModifiers) -> Option<Event> {
    let mut event = KeyEvent::new(code, extra);
    if let Some(field) = field {
        let mut parts = field.split(|&b| b == b':');
        let mask = number(parts.next().unwrap_or_default())?.max(1) - 1;
        let kind = number(parts.next().unwrap_or_default())?;
        if parts.next().is_some() {
            return None;
        }
        let bit = |n: u32| mask & n != 0;
        for (n, flag) in [
            (1, KeyModifiers::SHIFT),
            (2, KeyModifiers::ALT),
            (4, KeyModifiers::CONTROL),
            (8, KeyModifiers::SUPER),
            (16, KeyModifiers::HYPER),
            (32, KeyModifiers::META),
        ] {
            if bit(n) {
                event.modifiers |= flag;
            }
        }
        for (n, flag) in [
            (64, KeyEventState::CAPS_LOCK),
            (128, KeyEventState::NUM_LOCK),
        ] {
            if bit(n) {
                event.state |= flag;
            }
        }
        event.kind = match kind {
            0 | 1 => KeyEventKind::Press,
            2 => KeyEventKind::Repeat,
            3 => KeyEventKind::Release,
            _ => return None,
        };
    }
    Some(Event::Key(event))
}

/// A decimal parameter; empty is 0. Not digits, or too large, is `None`.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        } else {
            None
        }
    })
}

/// Exactly `N` decimal parameters separated by `;`.
fn numbers<const N: usize>(seq: &[u8]) -> Option<[u32; N]> {
    let mut out = [0; N];
    let mut fields = seq.split(|&b| b == b';');
    for slot in &mut out {
        *slot = number(fields.next()?)?;
    }
    fields.next().is_none().then_some(out)
}

/// A mouse report: `b` the button and modifier bits (xterm's encoding, without any offset), `x`
/// and `y` the 1-based cell. `press` is false for SGR's release (`m`). Legacy reports name no
/// button on release (button bits 3).
fn mouse(b: u32, x: u32, y: u32, press: bool, legacy: bool) -> Option<Event> {
    let button = match b & 0b11 {
        0 => Some(MouseButton::Left),
        1 => Some(MouseButton::Middle),
        2 => Some(MouseButton::Right),
        _ => None,
    };
    let kind = if b & 128 != 0 {
        // Buttons 8 to 11: nothing crossterm can name.
        return None;
    } else if b & 64 != 0 {
        match b & 0b11 {
            0 => MouseEventKind::ScrollUp,
            1 => MouseEventKind::ScrollDown,
            2 => MouseEventKind::ScrollLeft,
            _ => MouseEventKind::ScrollRight,
        }
    } else if b & 32 != 0 {
        button.map_or(MouseEventKind::Moved, MouseEventKind::Drag)
    } else {
        match (button, press) {
            (Some(button), true) => MouseEventKind::Down(button),
            (Some(button), false) => MouseEventKind::Up(button),
            (None, _) if legacy => MouseEventKind::Up(MouseButton::Left),
            (None, _) => return None,
        }
    };
    let mut modifiers = KeyModifiers::NONE;
    for (n, flag) in [
        (4, KeyModifiers::SHIFT),
        (8, KeyModifiers::ALT),
        (16, KeyModifiers::CONTROL),
    ] {
        if b & n != 0 {
            modifiers |= flag;
        }
    }
    let cell = |v: u32| u16::try_from(v.saturating_sub(1)).unwrap_or(u16::MAX);
    Some(Event::Mouse(MouseEvent {
        kind,
        column: cell(x),
        row: cell(y),
        modifiers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NONE: KeyModifiers = KeyModifiers::NONE;
    const SHIFT: KeyModifiers = KeyModifiers::SHIFT;
    const ALT: KeyModifiers = KeyModifiers::ALT;
    const CTRL: KeyModifiers = KeyModifiers::CONTROL;

    /// Decodes `input` as one read: only its last byte has nothing after it.
    fn decode(p: &mut Parser, input: &[u8]) -> Vec<Event> {
        input
            .iter()
            .enumerate()
            .filter_map(|(i, &b)| p.advance(b, i + 1 < input.len()))
            .collect()
    }

    fn events(input: &[u8]) -> Vec<Event> {
        let mut p = Parser::default();
        let got = decode(&mut p, input);
        assert!(p.is_idle(), "{input:?} left the parser mid-sequence");
        got
    }

    fn k(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, modifiers))
    }

    fn c(ch: char, modifiers: KeyModifiers) -> Event {
        k(KeyCode::Char(ch), modifiers)
    }

    fn m(kind: MouseEventKind, column: u16, row: u16, modifiers: KeyModifiers) -> Event {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers,
        })
    }

    /// Every sequence the console relies on, each alone in one read.
    fn table() -> Vec<(&'static [u8], Event)> {
        use KeyCode::*;
        use MouseButton::{Left as L, Middle as Mid, Right as R};
        use MouseEventKind as Mk;
        vec![
            // Text.
            (b"a", c('a', NONE)),
            (b"Z", c('Z', SHIFT)),
            (b" ", c(' ', NONE)),
            (b"~", c('~', NONE)),
            ("é".as_bytes(), c('é', NONE)),
            ("€".as_bytes(), c('€', NONE)),
            ("🔑".as_bytes(), c('🔑', NONE)),
            ("Ä".as_bytes(), c('Ä', SHIFT)),
            // C0 controls.
            (b"\r", k(Enter, NONE)),
            (b"\n", k(Enter, NONE)),
            (b"\t", k(Tab, NONE)),
            (b"\x7f", k(Backspace, NONE)),
            (b"\x08", k(Backspace, NONE)),
            (b"\x1b", k(Esc, NONE)),
            (b"\x00", c(' ', CTRL)),
            (b"\x01", c('a', CTRL)),
            (b"\x03", c('c', CTRL)),
            (b"\x07", c('g', CTRL)),
            (b"\x0f", c('o', CTRL)),
            (b"\x12", c('r', CTRL)),
            (b"\x15", c('u', CTRL)),
            (b"\x18", c('x', CTRL)),
            (b"\x1a", c('z', CTRL)),
            (b"\x1c", c('\\', CTRL)),
            (b"\x1f", c('_', CTRL)),
            // Alt: ESC and the key.
            (b"\x1ba", c('a', ALT)),
            (b"\x1bB", c('B', ALT | SHIFT)),
            (b"\x1b\x7f", k(Backspace, ALT)),
            (b"\x1b\r", k(Enter, ALT)),
            (b"\x1b\x01", c('a', ALT | CTRL)),
            ("\x1bé".as_bytes(), c('é', ALT)),
            (b"\x1b\x1b", k(Esc, ALT)),
            // CSI keys.
            (b"\x1b[A", k(Up, NONE)),
            (b"\x1b[B", k(Down, NONE)),
            (b"\x1b[C", k(Right, NONE)),
            (b"\x1b[D", k(Left, NONE)),
            (b"\x1b[H", k(Home, NONE)),
            (b"\x1b[F", k(End, NONE)),
            (b"\x1b[Z", k(BackTab, SHIFT)),
            (b"\x1b[1~", k(Home, NONE)),
            (b"\x1b[2~", k(Insert, NONE)),
            (b"\x1b[3~", k(Delete, NONE)),
            (b"\x1b[4~", k(End, NONE)),
            (b"\x1b[5~", k(PageUp, NONE)),
            (b"\x1b[6~", k(PageDown, NONE)),
            (b"\x1b[7~", k(Home, NONE)),
            (b"\x1b[8~", k(End, NONE)),
            (b"\x1b[11~", k(F(1), NONE)),
            (b"\x1b[14~", k(F(4), NONE)),
            (b"\x1b[15~", k(F(5), NONE)),
            (b"\x1b[17~", k(F(6), NONE)),
            (b"\x1b[18~", k(F(7), NONE)),
            (b"\x1b[19~", k(F(8), NONE)),
            (b"\x1b[20~", k(F(9), NONE)),
            (b"\x1b[21~", k(F(10), NONE)),
            (b"\x1b[23~", k(F(11), NONE)),
            (b"\x1b[24~", k(F(12), NONE)),
            (b"\x1b[P", k(F(1), NONE)),
            // Modifiers: 1 + (1 Shift, 2 Alt, 4 Ctrl).
            (b"\x1b[1;2A", k(Up, SHIFT)),
            (b"\x1b[1;3B", k(Down, ALT)),
            (b"\x1b[1;5C", k(Right, CTRL)),
            (b"\x1b[1;6D", k(Left, CTRL | SHIFT)),
            (b"\x1b[1;7H", k(Home, CTRL | ALT)),
            (b"\x1b[1;8F", k(End, CTRL | ALT | SHIFT)),
            (b"\x1b[1;2Z", k(BackTab, SHIFT)),
            (b"\x1b[3;5~", k(Delete, CTRL)),
            (b"\x1b[5;3~", k(PageUp, ALT)),
            (b"\x1b[6;2~", k(PageDown, SHIFT)),
            (b"\x1b[15;5~", k(F(5), CTRL)),
            (b"\x1b[24;2~", k(F(12), SHIFT)),
            (b"\x1b[1;2P", k(F(1), SHIFT)),
            (b"\x1b[1;5Q", k(F(2), CTRL)),
            (b"\x1b[1;3R", k(F(3), ALT)),
            (b"\x1b[1;5S", k(F(4), CTRL)),
            // SS3.
            (b"\x1bOP", k(F(1), NONE)),
            (b"\x1bOQ", k(F(2), NONE)),
            (b"\x1bOR", k(F(3), NONE)),
            (b"\x1bOS", k(F(4), NONE)),
            (b"\x1bOA", k(Up, NONE)),
            (b"\x1bOB", k(Down, NONE)),
            (b"\x1bOC", k(Right, NONE)),
            (b"\x1bOD", k(Left, NONE)),
            (b"\x1bOH", k(Home, NONE)),
            (b"\x1bOF", k(End, NONE)),
            // kitty and modifyOtherKeys.
            (b"\x1b[97;5u", c('a', CTRL)),
            (b"\x1b[13u", k(Enter, NONE)),
            (b"\x1b[27;5;105~", c('i', CTRL)),
            // Bracketed paste.
            (
                b"\x1b[200~Secret#Paste1\x1b[201~",
                Event::Paste("Secret#Paste1".into()),
            ),
            (b"\x1b[200~\x1b[201~", Event::Paste(String::new())),
            (
                "\x1b[200~päss wörd\r\n\x1b[201~".as_bytes(),
                Event::Paste("päss wörd\r\n".into()),
            ),
            // ESC bytes inside a paste, even ones that start like its end.
            (
                b"\x1b[200~a\x1bb\x1b[A\x1b[20\x1b[201\x1b\x1b[201~",
                Event::Paste("a\x1bb\x1b[A\x1b[20\x1b[201\x1b".into()),
            ),
            // SGR mouse: 1-based cells become 0-based.
            (b"\x1b[<0;1;1M", m(Mk::Down(L), 0, 0, NONE)),
            (b"\x1b[<0;10;5m", m(Mk::Up(L), 9, 4, NONE)),
            (b"\x1b[<1;3;4M", m(Mk::Down(Mid), 2, 3, NONE)),
            (b"\x1b[<2;3;4M", m(Mk::Down(R), 2, 3, NONE)),
            (b"\x1b[<32;7;8M", m(Mk::Drag(L), 6, 7, NONE)),
            (b"\x1b[<35;7;8M", m(Mk::Moved, 6, 7, NONE)),
            (b"\x1b[<64;2;3M", m(Mk::ScrollUp, 1, 2, NONE)),
            (b"\x1b[<65;2;3M", m(Mk::ScrollDown, 1, 2, NONE)),
            (b"\x1b[<4;1;1M", m(Mk::Down(L), 0, 0, SHIFT)),
            (b"\x1b[<8;1;1M", m(Mk::Down(L), 0, 0, ALT)),
            (b"\x1b[<16;1;1M", m(Mk::Down(L), 0, 0, CTRL)),
            (b"\x1b[<80;300;200M", m(Mk::ScrollUp, 299, 199, CTRL)),
            // Legacy mouse reports.
            (b"\x1b[M !!", m(Mk::Down(L), 0, 0, NONE)),
            (b"\x1b[M#**", m(Mk::Up(L), 9, 9, NONE)),
            (b"\x1b[32;5;6M", m(Mk::Down(L), 4, 5, NONE)),
            // Focus.
            (b"\x1b[I", Event::FocusGained),
            (b"\x1b[O", Event::FocusLost),
        ]
    }

    #[test]
    fn every_sequence_decodes_to_its_event() {
        for (input, want) in table() {
            assert_eq!(
                events(input),
                vec![want],
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn every_sequence_split_anywhere_across_two_reads_is_the_same_event() {
        for (input, want) in table() {
            // A read ending in a lone ESC is the Esc key: that split is not a split.
            for at in 1..input.len() {
                // (Inside a paste, an ESC is text: any split there is one.)
                if input[at - 1] == ESC && (at == 1 || !matches!(want, Event::Paste(_))) {
                    continue;
                }
                let mut p = Parser::default();
                let mut got = decode(&mut p, &input[..at]);
                got.extend(decode(&mut p, &input[at..]));
                assert_eq!(got, vec![want.clone()], "{input:?} split at {at}");
                assert!(p.is_idle());
            }
        }
    }

    #[test]
    fn every_sequence_byte_by_byte_is_the_same_event() {
        for (input, want) in table() {
            let mut p = Parser::default();
            let got: Vec<_> = input
                .iter()
                .enumerate()
                // Each byte is a read of its own, but an ESC has its sequence right after it.
                .filter_map(|(i, &b)| p.advance(b, b == ESC && i + 1 < input.len()))
                .collect();
            assert_eq!(got, vec![want], "{input:?}");
        }
    }

    #[test]
    fn sequences_in_a_row_decode_in_order() {
        let (mut input, mut want) = (Vec::new(), Vec::new());
        for (bytes, event) in table() {
            // A lone ESC is only the Esc key at the end of a read; Alt+Esc likewise.
            if bytes == b"\x1b" || bytes == b"\x1b\x1b" {
                continue;
            }
            input.extend_from_slice(bytes);
            want.push(event);
        }
        assert_eq!(events(&input), want);
    }

    #[test]
    fn a_lone_esc_waits_while_more_follows_and_is_alt_with_it() {
        let mut p = Parser::default();
        // ESC at the end of a read that filled the buffer: more follows at once.
        assert_eq!(p.advance(ESC, true), None);
        assert_eq!(p.advance(b'x', false), Some(c('x', ALT)));
        // ESC alone at the end of a read: the Esc key, right away.
        assert_eq!(p.advance(ESC, false), Some(k(KeyCode::Esc, NONE)));
        assert!(p.is_idle());
        // Esc, then a sequence.
        assert_eq!(
            events(b"\x1b\x1b[A"),
            vec![k(KeyCode::Esc, NONE), k(KeyCode::Up, NONE)]
        );
        // Typed Esc then typed text: two reads.
        let mut p = Parser::default();
        assert_eq!(decode(&mut p, b"\x1b"), vec![k(KeyCode::Esc, NONE)]);
        assert_eq!(decode(&mut p, b"a"), vec![c('a', NONE)]);
    }

    #[test]
    fn a_sequence_or_character_split_across_reads_waits_for_the_rest() {
        let mut p = Parser::default();
        assert_eq!(decode(&mut p, b"\x1b["), vec![]);
        assert_eq!(decode(&mut p, b"1;5"), vec![]);
        assert_eq!(decode(&mut p, b"A"), vec![k(KeyCode::Up, CTRL)]);
        let euro = "€".as_bytes();
        assert_eq!(decode(&mut p, &euro[..1]), vec![]);
        assert_eq!(decode(&mut p, &euro[1..2]), vec![]);
        assert_eq!(decode(&mut p, &euro[2..]), vec![c('€', NONE)]);
        assert!(p.is_idle());
    }

    #[test]
    fn a_paste_split_across_reads_is_whole_and_its_buffer_is_moved_out() {
        let text = "Ab3#é".repeat(2000);
        let input = format!("\x1b[200~{text}\x1b[201~");
        let mut p = Parser::default();
        let mut got = Vec::new();
        for chunk in input.as_bytes().chunks(1000) {
            got.extend(decode(&mut p, chunk));
        }
        assert_eq!(got, vec![Event::Paste(text)]);
        assert!(p.is_idle());
        assert_eq!(p.paste.capacity(), 0, "nothing left behind");
    }

    #[test]
    fn an_oversized_paste_is_read_to_its_end_and_ignored() {
        let mut p = Parser::default();
        decode(&mut p, b"\x1b[200~");
        for _ in 0..PASTE_MAX / 4096 + 2 {
            assert_eq!(decode(&mut p, &[b'x'; 4096]), vec![]);
            assert!(p.paste.capacity() <= PASTE_MAX);
        }
        assert_eq!(decode(&mut p, b"\x1b[201~a"), vec![c('a', NONE)]);
        assert!(p.is_idle());
        // The next paste is taken again.
        assert_eq!(
            events(b"\x1b[200~ok\x1b[201~"),
            vec![Event::Paste("ok".into())]
        );
        // Exactly PASTE_MAX bytes is still a paste.
        let mut p = Parser::default();
        decode(&mut p, b"\x1b[200~");
        decode(&mut p, &vec![b'y'; PASTE_MAX]);
        let got = decode(&mut p, b"\x1b[201~");
        assert!(matches!(&got[..], [Event::Paste(t)] if t.len() == PASTE_MAX));
    }

    #[test]
    fn a_paste_that_is_not_utf8_is_ignored() {
        assert_eq!(events(b"\x1b[200~ab\xffcd\x1b[201~x"), vec![c('x', NONE)]);
    }

    #[test]
    fn unknown_and_malformed_input_is_consumed_and_ignored() {
        let cases: &[(&[u8], Vec<Event>)] = &[
            // Unknown final bytes, private answers, intermediates, bad parameters.
            (b"\x1b[5n", vec![]),
            (b"\x1b[?1;2c", vec![]),
            (b"\x1b[>0;276;0c", vec![]),
            (b"\x1b[?1u", vec![]),
            (b"\x1b[ q", vec![]),
            (b"\x1b[99~", vec![]),
            (b"\x1b[201~", vec![]),
            (b"\x1b[2;A", vec![]),
            (b"\x1b[3;2;1;4~", vec![]),
            (b"\x1b[3;99999999999~", vec![]),
            (b"\x1b[1;5:9A", vec![]),
            (b"\x1b[<0;1M", vec![]),
            (b"\x1b[<0;1;2;3M", vec![]),
            (b"\x1b[<0;1;=M", vec![]),
            (b"\x1b[<3;1;1M", vec![]),
            (b"\x1b[<128;1;1M", vec![]),
            (b"\x1bOx", vec![]),
            (b"\x1b[1114112u", vec![]),
            // Stray or cut-short UTF-8.
            (b"\x80\xbf\xc0\xc1\xf5\xff", vec![]),
            (b"\xe2\x82a", vec![c('a', NONE)]),
            (b"\xed\xa0\x80b", vec![c('b', NONE)]),
            (b"\xc0\x80", vec![]),
            // A sequence cut short by a control character or another sequence.
            (b"\x1b[1;\x03", vec![c('c', CTRL)]),
            (b"\x1b[12\x1b[B", vec![k(KeyCode::Down, NONE)]),
            (b"\x1bO\x1b[C", vec![k(KeyCode::Right, NONE)]),
            (b"\x1b[\xc3\xa9", vec![c('é', NONE)]),
        ];
        for (input, want) in cases {
            assert_eq!(&events(input), want, "{input:?}");
        }
    }

    #[test]
    fn an_overlong_sequence_is_skipped_within_a_bounded_buffer() {
        let mut input = b"\x1b[".to_vec();
        input.extend(std::iter::repeat_n(b'9', 100_000));
        input.extend_from_slice(b"~x");
        let mut p = Parser::default();
        assert_eq!(decode(&mut p, &input), vec![c('x', NONE)]);
        assert!(p.is_idle());
        // Exactly at the bound, it is still decoded.
        let mut input = b"\x1b[".to_vec();
        input.extend(std::iter::repeat_n(b'0', SEQ_MAX - 1));
        input.extend_from_slice(b"3~");
        assert_eq!(events(&input), vec![k(KeyCode::Delete, NONE)]);
        // One over it, it is not, and what follows is.
        let mut input = b"\x1b[".to_vec();
        input.extend(std::iter::repeat_n(b'0', SEQ_MAX));
        input.extend_from_slice(b"3~y");
        assert_eq!(events(&input), vec![c('y', NONE)]);
    }

    #[test]
    fn its_buffers_are_wiped_after_each_event() {
        let mut p = Parser::default();
        decode(&mut p, b"\x1b[<35;123;45M\x1b[27;5;105~");
        assert_eq!(p.seq, [0; SEQ_MAX]);
        decode(&mut p, "🔑".as_bytes());
        assert_eq!(p.utf8, [0; 4]);
        // Cut short, too.
        decode(&mut p, b"\x1b[123\x1b\xf0\x9f\x1b[B");
        assert_eq!(p.seq, [0; SEQ_MAX]);
        assert_eq!(p.utf8, [0; 4]);
        assert!(p.is_idle());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_and_stay_bounded(
            reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20)
        ) {
            let mut p = Parser::default();
            for read in &reads {
                decode(&mut p, read);
                prop_assert!(p.seq_len <= SEQ_MAX);
                prop_assert!(p.utf8_len < 4);
                prop_assert!(p.paste.len() <= PASTE_MAX);
            }
            // Whatever came before, a paste end and a key get the parser back to decoding keys
            // (unless the garbage left it inside a legacy mouse report or a character).
            decode(&mut p, b"\x1b[201~\r\r\r\r");
            prop_assert!(p.is_idle());
        }

        #[test]
        fn random_sequence_like_bytes_never_panic(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(ESC), Just(b'['), Just(b'O'), Just(b'<'), Just(b';'), Just(b':'),
                    Just(b'~'), Just(b'M'), Just(b'm'), Just(b'u'), Just(b'2'), Just(b'0'),
                    Just(b'1'), Just(b'9'), Just(0xe2), Just(0x82), Just(0xac), any::<u8>(),
                ],
                0..400,
            ),
            split in any::<prop::sample::Index>(),
        ) {
            let mut p = Parser::default();
            let at = split.index(input.len() + 1);
            decode(&mut p, &input[..at]);
            decode(&mut p, &input[at..]);
            prop_assert!(p.seq_len <= SEQ_MAX);
        }
    }
}
