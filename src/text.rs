//! Text from outside the process (server messages, provider codes, request ids, header values,
//! store-command stderr, config file text): the one place it is made safe to show.
//!
//! A hostile endpoint can answer with terminal escape sequences (`ESC ] 52 ; c ; … BEL` sets
//! the clipboard, `ESC [2J` clears the screen), C1 controls (U+009B is a one-character CSI on
//! some terminals), and invisible characters that reorder or hide text (bidi overrides,
//! zero-width marks, tag characters). [`escape`] shows each of them as a visible `\u{…}`
//! escape and cuts the text to [`MAX_SHOWN_CHARS`]; [`to_json_safe`] writes them as `\uXXXX`
//! in JSON, so a JSON file or `--json` output never carries them raw either.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

/// The most characters of one outside text that are shown; the rest is cut with a note.
pub const MAX_SHOWN_CHARS: usize = 2000;

/// Whether `c` must never reach a terminal or a JSON file raw: C0 and C1 controls and DEL, and
/// the invisible format characters that reorder or hide text (ALM U+061C, Mongolian vowel
/// separator, zero-width marks, line/paragraph separators U+2028/U+2029, bidi embeddings,
/// overrides and isolates, invisible operators, BOM, interlinear annotations, and the tag
/// characters U+E0000–U+E007F).
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `text` made safe for a terminal line: every dangerous character (line breaks included) is
/// shown as `\u{…}` (`\n`, `\t` and `\r` as those two-character escapes), and the text is cut
/// to [`MAX_SHOWN_CHARS`].
pub fn escape(text: &str) -> String {
    escape_with(text, MAX_SHOWN_CHARS, false)
}

/// As [`escape`], but line breaks (`\n`) are kept: for multi-line text drawn in a box (a
/// response body), never for a line on stderr.
pub fn escape_multiline(text: &str) -> String {
    escape_with(text, MAX_SHOWN_CHARS, true)
}

/// As [`escape`] with a different cap, in characters of `text`.
pub fn escape_capped(text: &str, max_chars: usize) -> String {
    escape_with(text, max_chars, false)
}

fn escape_with(text: &str, max_chars: usize, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4) + 16);
    let mut chars = text.chars();
    for c in chars.by_ref().take(max_chars) {
        if c == '\n' && keep_newlines {
            out.push(c);
        } else if is_dangerous(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    let rest = chars.count();
    if rest > 0 {
        out.push_str(&format!("… ({rest} more characters not shown)"));
    }
    out
}

/// `text` cut to at most `max_chars` characters, raw (for a value that is stored or written as
/// JSON, where [`to_json_safe`] escapes it).
pub fn cap(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A serde_json formatter that writes every [`is_dangerous`] character inside a string as a
/// `\uXXXX` escape (a surrogate pair above U+FFFF), around an inner compact or pretty one.
#[derive(Debug, Default)]
pub struct SafeFormatter<F> {
    inner: F,
}

impl<F> SafeFormatter<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        SafeFormatter { inner }
    }
}

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_dangerous(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_value(w)
    }
}

/// Writes `value` as compact JSON to `writer`, dangerous characters as `\uXXXX`.
pub fn write_json_safe<W: io::Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = Serializer::with_formatter(writer, SafeFormatter::new(CompactFormatter));
    value.serialize(&mut ser)
}

/// `value` as compact JSON, dangerous characters as `\uXXXX`. A value that cannot be JSON
/// (a map with non-string keys) gives `null`.
pub fn to_json_safe<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    if write_json_safe(&mut out, value).is_err() {
        return b"null".to_vec();
    }
    out
}

/// As [`to_json_safe`], as a `String` (for `println!`).
pub fn to_json_string_safe<T: Serialize + ?Sized>(value: &T) -> String {
    // The serializer writes only valid UTF-8.
    String::from_utf8(to_json_safe(value)).unwrap_or_else(|_| "null".into())
}

/// `value` as indented JSON, dangerous characters as `\uXXXX`.
pub fn to_json_safe_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = Serializer::with_formatter(&mut out, SafeFormatter::new(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of character the escaping must catch, one of each.
    const HOSTILE: &str = "a\u{1b}]52;c;SGVsbG8=\u{7}b\u{1b}[2Jc\u{9b}31m\u{85}\u{202e}d\u{2066}\
                           \u{200b}\u{2028}\u{2029}\u{061c}\u{e0041}\u{7f}\r\n\t\0e";

    #[test]
    fn escape_leaves_no_dangerous_character() {
        let shown = escape(HOSTILE);
        assert!(!shown.chars().any(is_dangerous), "{shown:?}");
        for piece in [
            "\\u{1b}]52;c;",
            "\\u{7}",
            "\\u{1b}[2J",
            "\\u{9b}",
            "\\u{85}",
            "\\u{202e}",
            "\\u{2066}",
            "\\u{200b}",
            "\\u{2028}",
            "\\u{2029}",
            "\\u{61c}",
            "\\u{e0041}",
            "\\u{7f}",
            "\\r",
            "\\n",
            "\\t",
            "\\u{0}",
        ] {
            assert!(shown.contains(piece), "{piece} in {shown}");
        }
        assert_eq!(escape("plain text ✓ — ok"), "plain text ✓ — ok");
        assert_eq!(escape_multiline("a\nb\u{1b}"), "a\nb\\u{1b}");
    }

    #[test]
    fn long_text_is_cut_with_a_note() {
        let long = "x".repeat(MAX_SHOWN_CHARS + 5);
        let shown = escape(&long);
        assert!(shown.starts_with(&"x".repeat(MAX_SHOWN_CHARS)));
        assert!(shown.ends_with("(5 more characters not shown)"), "{shown}");
        assert_eq!(
            escape_capped("abcdef", 3),
            "abc… (3 more characters not shown)"
        );
        assert_eq!(cap("abcdef", 3), "abc…");
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(cap("ééé", 2), "éé…");
    }

    #[test]
    fn json_writes_dangerous_characters_as_u_escapes() {
        let value = serde_json::json!({ "message": HOSTILE, "list": [HOSTILE] });
        for bytes in [
            to_json_safe(&value),
            to_json_safe_pretty(&value).expect("json"),
        ] {
            let text = String::from_utf8(bytes).expect("utf-8");
            assert!(
                !text.chars().any(|c| is_dangerous(c) && c != '\n'),
                "{text:?}"
            );
            for piece in [
                "\\u001b",
                "\\u0007",
                "\\u009b",
                "\\u0085",
                "\\u202e",
                "\\u2066",
                "\\u200b",
                "\\u2028",
                "\\u2029",
                "\\u061c",
                "\\udb40\\udc41",
                "\\u007f",
                "\\u0000",
            ] {
                assert!(text.contains(piece), "{piece} in {text}");
            }
            // It reads back to exactly the same value.
            let back: serde_json::Value = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, value);
        }
        let compact = to_json_string_safe(&serde_json::json!({"a": [1, "b"]}));
        assert_eq!(compact, r#"{"a":[1,"b"]}"#);
        let pretty = to_json_safe_pretty(&serde_json::json!({"a": 1})).expect("json");
        assert_eq!(
            pretty,
            serde_json::to_vec_pretty(&serde_json::json!({"a": 1})).expect("json")
        );
    }
}
