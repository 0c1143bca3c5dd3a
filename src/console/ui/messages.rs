//! The two bottom rows: the message line (the latest message, cut at a word with a pointer to
//! the history when it does not fit) above the key hints, which are always shown; and the
//! message history overlay (`m`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::console::app::{App, Level};
use crate::text::escape;

/// What a cut message ends with: the rest is in the history.
const CUT: &str = " … (m: read all)";

/// The tag and colour of a level.
fn look(level: Level, t: &Theme) -> (&'static str, Style) {
    match level {
        Level::Info => ("", t.accent),
        Level::Warn => ("warning: ", t.warn),
        Level::Error => ("error: ", t.error),
    }
}

/// `text` cut to `width` characters at a word boundary, ending with [`CUT`], or whole when it
/// fits. A single word longer than the room is cut where it must.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(CUT.chars().count());
    let head: String = text.chars().take(room + 1).collect();
    let cut = match head.rfind(' ') {
        Some(at) if at > 0 => head[..at].trim_end().to_string(),
        _ => head.chars().take(room).collect(),
    };
    format!("{cut}{CUT}")
}

/// The message line: the latest message (blank when there is none).
pub fn draw_message(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some((level, text)) = &app.status else {
        return;
    };
    let t = app.styles();
    let (tag, style) = look(*level, t);
    let room = (area.width as usize).saturating_sub(tag.chars().count());
    let line = Line::from(vec![
        Span::styled(tag, style.add_modifier(Modifier::BOLD)),
        Span::styled(fit(&escape(text), room), style),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The history overlay: every kept message, wrapped, newest at the bottom, scrolled back by
/// `scroll` rows.
pub fn draw_history(frame: &mut Frame<'_>, app: &App, area: Rect, scroll: u16) {
    let t = app.styles();
    let rect = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.accent)
        .title(format!(
            " Messages ({}/{}) — ↑↓ PgUp PgDn scroll, any other key closes ",
            app.history.len(),
            crate::console::history::HISTORY_LEN
        ));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    let width = usize::from(inner.width.max(1));
    let mut rows: Vec<Line<'_>> = Vec::new();
    if app.history.is_empty() {
        rows.push(Line::from("No messages yet.").style(t.dim));
    }
    for (level, text) in app.history.iter() {
        let (tag, style) = look(*level, t);
        // A message of several lines (an error and its fix) keeps its lines.
        let wrapped = format!("{tag}{text}")
            .split('\n')
            .flat_map(|line| wrap(&escape(line), width))
            .collect::<Vec<_>>();
        for (i, row) in wrapped.into_iter().enumerate() {
            let row = if i == 0 && !tag.is_empty() {
                let body: String = row.chars().skip(tag.chars().count()).collect();
                Line::from(vec![
                    Span::styled(tag, style.add_modifier(Modifier::BOLD)),
                    Span::styled(body, style),
                ])
            } else {
                Line::from(Span::styled(row, style))
            };
            rows.push(row);
        }
    }
    // Newest at the bottom: start so the last row is in view, `scroll` rows further back.
    let height = usize::from(inner.height);
    let bottom = rows.len().saturating_sub(height);
    let top = bottom.saturating_sub(usize::from(scroll));
    let shown: Vec<Line<'_>> = rows.into_iter().skip(top).take(height).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

/// `text` in rows of at most `width` characters, broken between words (a word longer than a
/// row is broken where it must be).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let row_len = row.chars().count();
        if row_len > 0 && row_len + 1 + word.len() > width {
            rows.push(std::mem::take(&mut row));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        while word.len() > width {
            let rest = word.split_off(width);
            rows.push(word.iter().collect());
            word = rest;
        }
        row.extend(word);
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_word_and_says_where_the_rest_is() {
        assert_eq!(fit("short", 20), "short");
        let long = "the password was changed but the store could not be updated, so it was moved";
        let got = fit(long, 40);
        assert_eq!(got, "the password was changed … (m: read all)");
        assert!(got.chars().count() <= 40);
        assert_eq!(
            fit("abcdefghijklmnopqrstuvwxyz", 20),
            "abcd … (m: read all)"
        );
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefg h", 3), ["abc", "def", "g h"]);
    }
}
