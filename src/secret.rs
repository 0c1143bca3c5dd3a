//! `SecretBuf`: the only place a typed password lives.
//!
//! Fixed capacity, allocated once and never grown (so no stale copy is left behind by a
//! reallocation), edited in place, locked in memory where the OS allows, and zeroized on clear
//! and on drop. There is deliberately no `Clone`, `Display` or `Serialize`; `Debug` prints the
//! length only. Rendering code asks for [`SecretBuf::char_count`], never for the text.

use std::fmt;
use std::sync::OnceLock;

use zeroize::Zeroize;

/// Bytes reserved for a password field: the longest policy allows 128 characters; UTF-8 needs
/// at most 4 bytes each, and the rest is margin so an over-long paste is refused, not cut.
pub const PASSWORD_CAPACITY: usize = 1024;

/// Bytes reserved for a prompted key or token field (CIAM access tokens are JWTs).
pub const TOKEN_CAPACITY: usize = 8192;

/// The longest password any policy may allow, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// An edit was refused because the text would not fit in the fixed capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too long: this field holds at most {capacity} bytes; nothing was inserted")]
pub struct Full {
    /// The field's fixed capacity in bytes.
    pub capacity: usize,
}

/// Why an edit was refused; nothing was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The text would not fit in the fixed capacity.
    #[error(transparent)]
    Full(#[from] Full),
    /// The text holds a control character, which no password may contain: it is refused
    /// whole rather than sent altered.
    #[error(
        "it holds a control character ({}), which a password cannot contain; nothing was inserted",
        control_name(*.0)
    )]
    Control(char),
}

/// A control character named for a message (never the password around it).
pub fn control_name(c: char) -> String {
    match c {
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        '\0' => "NUL".into(),
        '\u{1b}' => "ESC".into(),
        '\u{7}' => "BEL".into(),
        '\u{7f}' => "DEL".into(),
        c => format!("U+{:04X}", u32::from(c)),
    }
}

/// The first control character of `text`, if any (C0, DEL, C1).
pub fn first_control(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control())
}

/// Storage a [`SecretBuf`] can edit in place: a heap box by default, a borrowed slice in tests
/// that need to look at the bytes after the buffer is dropped.
pub trait Storage: AsRef<[u8]> + AsMut<[u8]> {}
impl Storage for Box<[u8]> {}
impl Storage for &mut [u8] {}

/// A fixed-capacity, zeroize-on-drop UTF-8 text buffer with a cursor.
pub struct SecretBuf<S: Storage = Box<[u8]>> {
    data: S,
    /// Bytes in use; `data[..len]` is always valid UTF-8.
    len: usize,
    /// Cursor as a byte offset on a char boundary, `0..=len`.
    cursor: usize,
    /// Characters in use, kept so rendering never scans the text.
    chars: usize,
}

/// Whether `mlock` worked once; tried per buffer, reported by [`memory_lock_works`].
static LOCK_WORKS: OnceLock<bool> = OnceLock::new();

/// Whether secret buffers could be locked in memory on this system (None before the first try).
pub fn memory_lock_works() -> Option<bool> {
    LOCK_WORKS.get().copied()
}

/// What it means when secret buffers cannot be locked in memory, said once (stderr headless,
/// the status bar in the console).
pub const MEMORY_LOCK_WARNING: &str = "passwords cannot be locked in memory (mlock failed: the \
     locked-memory limit, `ulimit -l` / RLIMIT_MEMLOCK, is too low): the system may write them \
     to swap. rekey still wipes them after use; raise the limit or use encrypted swap";

/// [`MEMORY_LOCK_WARNING`] when secret buffers cannot be locked here (tries once if no buffer
/// was made yet), else `None`.
pub fn memory_lock_warning() -> Option<&'static str> {
    if LOCK_WORKS.get().is_none() {
        drop(SecretBuf::new(1));
    }
    (memory_lock_works() == Some(false)).then_some(MEMORY_LOCK_WARNING)
}

impl SecretBuf {
    /// A zeroed buffer of exactly `capacity` bytes, locked in memory if the OS allows.
    pub fn new(capacity: usize) -> Self {
        let data = vec![0u8; capacity].into_boxed_slice();
        // Locked pages are never unlocked: munlock is per page, not per lock, so unlocking one
        // buffer would unlock its neighbours on the same page. Freed memory stays locked and is
        // reused by the allocator, so the locked total stays bounded by the heap.
        let lock = region::lock(data.as_ptr(), data.len().max(1)).ok();
        let _ = LOCK_WORKS.set(lock.is_some());
        if let Some(guard) = lock {
            std::mem::forget(guard);
        }
        SecretBuf {
            data,
            len: 0,
            cursor: 0,
            chars: 0,
        }
    }

    /// A password-sized buffer.
    pub fn password() -> Self {
        Self::new(PASSWORD_CAPACITY)
    }
}

impl<'a> SecretBuf<&'a mut [u8]> {
    /// A buffer over caller-owned storage, which it zeroes first (tests inspect it after drop).
    pub fn over(storage: &'a mut [u8]) -> Self {
        storage.zeroize();
        SecretBuf {
            data: storage,
            len: 0,
            cursor: 0,
            chars: 0,
        }
    }
}

impl<S: Storage> SecretBuf<S> {
    /// The fixed capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.data.as_ref().len()
    }

    /// Bytes in use.
    pub fn len_bytes(&self) -> usize {
        self.len
    }

    /// Characters in use (what a masked field shows as dots).
    pub fn char_count(&self) -> usize {
        self.chars
    }

    /// True when nothing has been typed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cursor position in characters from the start.
    pub fn cursor_chars(&self) -> usize {
        self.text()[..self.cursor].chars().count()
    }

    /// The text. Callers must not copy it into anything that outlives their use.
    pub fn expose(&self) -> &str {
        self.text()
    }

    fn text(&self) -> &str {
        // The buffer only ever receives whole UTF-8 chars, so this cannot fail; an empty
        // string is the safe answer if that invariant were ever broken.
        std::str::from_utf8(&self.data.as_ref()[..self.len]).unwrap_or("")
    }

    /// Inserts one character at the cursor; a control character is refused.
    pub fn insert_char(&mut self, c: char) -> Result<(), Refused> {
        let mut tmp = [0u8; 4];
        let encoded = c.encode_utf8(&mut tmp);
        let result = self.insert_str(encoded);
        tmp.zeroize();
        result.map(|_| ())
    }

    /// Inserts `s` at the cursor, all or nothing, exactly as given: text holding a control
    /// character (a tab, a line break, NUL, ESC, BEL…) is refused whole, never inserted with
    /// the character dropped, so a password is never silently altered. Returns the number of
    /// characters inserted.
    pub fn insert_str(&mut self, s: &str) -> Result<usize, Refused> {
        if let Some(c) = first_control(s) {
            return Err(Refused::Control(c));
        }
        let (bytes, count) = (s.len(), s.chars().count());
        if self.len + bytes > self.capacity() {
            return Err(Refused::Full(Full {
                capacity: self.capacity(),
            }));
        }
        let at = self.cursor;
        let data = self.data.as_mut();
        data.copy_within(at..self.len, at + bytes);
        data[at..at + bytes].copy_from_slice(s.as_bytes());
        self.len += bytes;
        self.cursor += bytes;
        self.chars += count;
        Ok(count)
    }

    /// Removes the bytes `from..to` (char boundaries) and zeroes the vacated tail.
    fn remove_range(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let removed_chars = self.text()[from..to].chars().count();
        let len = self.len;
        let data = self.data.as_mut();
        data.copy_within(to..len, from);
        let new_len = len - (to - from);
        data[new_len..len].zeroize();
        self.len = new_len;
        self.chars -= removed_chars;
        if self.cursor >= to {
            self.cursor -= to - from;
        } else if self.cursor > from {
            self.cursor = from;
        }
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text()[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text()[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        let from = self.prev_boundary(self.cursor);
        self.remove_range(from, self.cursor);
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        let to = self.next_boundary(self.cursor);
        self.remove_range(self.cursor, to);
    }

    /// Start of the word before `at`: skip separators, then word characters.
    fn word_start_before(&self, at: usize) -> usize {
        let text = &self.text()[..at];
        let mut pos = at;
        let mut seen_word = false;
        for (i, c) in text.char_indices().rev() {
            let word = c.is_alphanumeric();
            if seen_word && !word {
                break;
            }
            seen_word |= word;
            pos = i;
        }
        pos
    }

    /// End of the word after `at`: skip separators, then word characters.
    fn word_end_after(&self, at: usize) -> usize {
        let text = &self.text()[at..];
        let mut seen_word = false;
        for (i, c) in text.char_indices() {
            let word = c.is_alphanumeric();
            if seen_word && !word {
                return at + i;
            }
            seen_word |= word;
        }
        self.len
    }

    /// Deletes the word before the cursor (Ctrl-W / Alt-Backspace).
    pub fn delete_word_back(&mut self) {
        let from = self.word_start_before(self.cursor);
        self.remove_range(from, self.cursor);
    }

    /// Deletes the word after the cursor (Alt-D / Ctrl-Delete).
    pub fn delete_word_forward(&mut self) {
        let to = self.word_end_after(self.cursor);
        self.remove_range(self.cursor, to);
    }

    /// Deletes from the start to the cursor (Ctrl-U).
    pub fn delete_to_start(&mut self) {
        self.remove_range(0, self.cursor);
    }

    /// Deletes from the cursor to the end (Ctrl-K).
    pub fn delete_to_end(&mut self) {
        self.remove_range(self.cursor, self.len);
    }

    /// Moves the cursor one character left.
    pub fn move_left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves the cursor one character right.
    pub fn move_right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Moves the cursor one word left.
    pub fn move_word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    /// Moves the cursor one word right.
    pub fn move_word_right(&mut self) {
        self.cursor = self.word_end_after(self.cursor);
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.len;
    }

    /// Zeroes the whole storage and empties the buffer.
    pub fn clear(&mut self) {
        self.data.as_mut().zeroize();
        self.len = 0;
        self.cursor = 0;
        self.chars = 0;
    }

    /// Replaces the contents with a copy of `other` (e.g. confirm := generated new password).
    pub fn copy_from<T: Storage>(&mut self, other: &SecretBuf<T>) -> Result<(), Full> {
        self.clear();
        match self.insert_str(other.expose()) {
            Ok(_) => Ok(()),
            Err(Refused::Full(full)) => Err(full),
            // A buffer never holds a control character: nothing to refuse twice.
            Err(Refused::Control(_)) => Ok(()),
        }
    }

    /// Test-only view of every byte of storage, used and unused.
    #[cfg(test)]
    pub(crate) fn raw_storage(&self) -> &[u8] {
        self.data.as_ref()
    }
}

impl<S: Storage> Drop for SecretBuf<S> {
    fn drop(&mut self) {
        self.data.as_mut().zeroize();
    }
}

impl<S: Storage> fmt::Debug for SecretBuf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBuf([redacted], {} chars)", self.chars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn typed(s: &str) -> SecretBuf {
        let mut b = SecretBuf::password();
        b.insert_str(s).expect("fits");
        b
    }

    #[test]
    fn editing_moves_bytes_in_place() {
        let mut b = typed("hunter2");
        b.home();
        b.insert_char('X').expect("fits");
        assert_eq!(b.expose(), "Xhunter2");
        b.end();
        b.backspace();
        assert_eq!(b.expose(), "Xhunter");
        b.home();
        b.delete();
        assert_eq!(b.expose(), "hunter");
        b.move_right();
        b.move_right();
        b.insert_str("é€").expect("fits");
        assert_eq!(b.expose(), "hué€nter");
        assert_eq!(b.char_count(), 8);
        assert_eq!(b.cursor_chars(), 4);
        b.move_left();
        b.backspace();
        assert_eq!(b.expose(), "hu€nter");
        assert_eq!(b.char_count(), 7);
    }

    #[test]
    fn word_deletes_and_line_deletes() {
        let mut b = typed("correct horse-battery");
        b.delete_word_back();
        assert_eq!(b.expose(), "correct horse-");
        b.delete_word_back();
        assert_eq!(b.expose(), "correct ");
        b.home();
        b.delete_word_forward();
        assert_eq!(b.expose(), " ");
        let mut b = typed("abcdef");
        b.move_left();
        b.move_left();
        b.delete_to_end();
        assert_eq!(b.expose(), "abcd");
        b.move_left();
        b.delete_to_start();
        assert_eq!(b.expose(), "d");
        assert_eq!(b.cursor_chars(), 0);
    }

    #[test]
    fn control_characters_are_refused_never_dropped() {
        let mut b = typed("pass");
        for (text, name) in [
            ("word\t", "a tab"),
            ("wo\nrd", "a line break"),
            ("w\0", "NUL"),
            ("\u{1b}[2J", "ESC"),
            ("\u{7}", "BEL"),
            ("\u{9b}", "U+009B"),
        ] {
            let err = b.insert_str(text).expect_err("refused");
            assert_eq!(
                err,
                Refused::Control(text.chars().find(|c| c.is_control()).expect("c"))
            );
            assert!(err.to_string().contains(name), "{err}");
            assert_eq!(b.expose(), "pass", "nothing inserted");
        }
        assert!(matches!(b.insert_char('\t'), Err(Refused::Control('\t'))));
        assert_eq!(b.expose(), "pass");
    }

    #[test]
    fn overflow_is_refused_whole() {
        let mut b = SecretBuf::new(8);
        b.insert_str("1234567").expect("fits");
        assert_eq!(b.insert_str("89"), Err(Refused::Full(Full { capacity: 8 })));
        assert_eq!(b.expose(), "1234567");
        assert_eq!(b.insert_char('€'), Err(Refused::Full(Full { capacity: 8 })));
        b.insert_char('8').expect("fits exactly");
        assert_eq!(b.expose(), "12345678");
    }

    #[test]
    fn clear_zeroes_all_storage() {
        let mut b = typed("canary-Zx9!canary");
        b.backspace();
        b.clear();
        assert!(b.raw_storage().iter().all(|&x| x == 0));
        assert_eq!(b.char_count(), 0);
    }

    #[test]
    fn deleting_zeroes_the_vacated_tail() {
        let mut b = typed("abcdef");
        b.home();
        b.delete_word_forward();
        assert!(b.raw_storage().iter().all(|&x| x == 0));
    }

    #[test]
    fn drop_zeroes_storage_in_place() {
        let mut backing = [0u8; 64];
        {
            let mut b = SecretBuf::over(&mut backing[..]);
            b.insert_str("canary-Zx9!canary").expect("fits");
            b.move_left();
            b.backspace();
        }
        assert!(backing.iter().all(|&x| x == 0));
    }

    #[test]
    fn debug_shows_length_only() {
        let b = typed("canary-Zx9!canary");
        let shown = format!("{b:?}");
        assert!(!shown.contains("canary"));
        assert_eq!(shown, "SecretBuf([redacted], 17 chars)");
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Insert(char),
        Paste(String),
        Backspace,
        Delete,
        Left,
        Right,
        WordLeft,
        WordRight,
        WordBack,
        WordForward,
        Home,
        End,
        ToStart,
        ToEnd,
        Clear,
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            4 => any::<char>().prop_map(Edit::Insert),
            1 => ".{0,40}".prop_map(Edit::Paste),
            2 => Just(Edit::Backspace),
            1 => Just(Edit::Delete),
            1 => Just(Edit::Left),
            1 => Just(Edit::Right),
            1 => Just(Edit::WordLeft),
            1 => Just(Edit::WordRight),
            1 => Just(Edit::WordBack),
            1 => Just(Edit::WordForward),
            1 => Just(Edit::Home),
            1 => Just(Edit::End),
            1 => Just(Edit::ToStart),
            1 => Just(Edit::ToEnd),
            1 => Just(Edit::Clear),
        ]
    }

    proptest! {
        /// Capacity and storage address never change, the text stays in sync with a model
        /// String, and bytes past the end are always zero.
        #[test]
        fn capacity_never_changes(edits in proptest::collection::vec(edit(), 0..200)) {
            let mut b = SecretBuf::new(96);
            let ptr = b.raw_storage().as_ptr();
            let mut model: Vec<char> = Vec::new();
            let mut cur = 0usize;
            for e in edits {
                match e {
                    Edit::Insert(c) => {
                        if b.insert_char(c).is_ok() {
                            model.insert(cur, c);
                            cur += 1;
                        }
                    }
                    Edit::Paste(s) => {
                        if b.insert_str(&s).is_ok() {
                            for c in s.chars() {
                                model.insert(cur, c);
                                cur += 1;
                            }
                        }
                    }
                    Edit::Backspace => { b.backspace(); if cur > 0 { cur -= 1; model.remove(cur); } }
                    Edit::Delete => { b.delete(); if cur < model.len() { model.remove(cur); } }
                    Edit::Left => { b.move_left(); cur = cur.saturating_sub(1); }
                    Edit::Right => { b.move_right(); cur = (cur + 1).min(model.len()); }
                    Edit::Home => { b.home(); cur = 0; }
                    Edit::End => { b.end(); cur = model.len(); }
                    Edit::ToStart => { b.delete_to_start(); model.drain(..cur); cur = 0; }
                    Edit::ToEnd => { b.delete_to_end(); model.truncate(cur); }
                    Edit::Clear => { b.clear(); model.clear(); cur = 0; }
                    Edit::WordLeft | Edit::WordRight | Edit::WordBack | Edit::WordForward => {
                        match e {
                            Edit::WordLeft => b.move_word_left(),
                            Edit::WordRight => b.move_word_right(),
                            Edit::WordBack => b.delete_word_back(),
                            _ => b.delete_word_forward(),
                        }
                        // Word motions are checked by unit tests; resync the model here.
                        model = b.expose().chars().collect();
                        cur = b.cursor_chars();
                    }
                }
                prop_assert_eq!(b.capacity(), 96);
                prop_assert_eq!(b.raw_storage().as_ptr(), ptr);
                let text: String = model.iter().collect();
                prop_assert_eq!(b.expose(), text.as_str());
                prop_assert_eq!(b.char_count(), model.len());
                prop_assert_eq!(b.cursor_chars(), cur);
                prop_assert!(b.raw_storage()[b.len_bytes()..].iter().all(|&x| x == 0));
            }
        }
    }
}
