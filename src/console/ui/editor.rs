//! The password editor pane: masked fields, the live checklist, the strength meter; or, with no
//! profile, how to get started (or what is wrong with the config).

use std::time::{Instant, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Margin, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane_block;
use super::theme::Theme;
use crate::console::app::{App, Focus, Level, SPINNER_STEP, countdown};
use crate::console::editor::Editor;
use crate::policy::Strength;
use crate::text::escape;

/// Width of the label column before each field.
const LABEL_WIDTH: usize = 18;

/// Draws the pane. Returns how far its text below the fields can scroll.
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect, now: Instant, wall: SystemTime) -> u16 {
    let t = app.styles();
    let focused = matches!(app.focus, Focus::Field(_));
    let title = match app.profile() {
        Some(p) => {
            // The production banner comes first, so a long name or a narrow pane cuts the
            // name, never the banner.
            let mut spans = Vec::with_capacity(4);
            if p.production {
                spans.push(Span::styled(
                    " ⚠ PRODUCTION ",
                    t.production.add_modifier(Modifier::BOLD),
                ));
            }
            spans.push(Span::raw(" Change password — "));
            spans.push(Span::styled(
                p.name.as_str(),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::raw(format!(" ({}) ", p.kind)));
            Line::from(spans)
        }
        None => Line::from(" Change password "),
    };
    frame.render_widget(pane_block(title, focused, t), area);
    let inner = area.inner(Margin::new(1, 1));
    match &app.editor {
        Some(editor) => draw_editor(frame, app, editor, area, now, wall),
        None => {
            draw_placeholder(frame, app, inner);
            0
        }
    }
}

fn draw_placeholder(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let t = app.styles();
    let dim = t.dim;
    let path = app
        .config_path
        .as_ref()
        .map_or_else(|| "profiles.toml".to_string(), |p| p.display().to_string());
    let lines: Vec<Line<'_>> = if let Some(err) = &app.config_error {
        vec![
            Line::from("The config file could not be loaded")
                .style(t.error.add_modifier(Modifier::BOLD)),
            Line::from(""),
            Line::from(crate::text::escape_multiline(&err.to_string())),
            Line::from(""),
            Line::from("Fix the file, then press r in the profile list to reload.").style(dim),
        ]
    } else if app.config_missing || app.profiles.is_empty() {
        vec![
            Line::from("Welcome to rekey").style(Style::new().add_modifier(Modifier::BOLD)),
            Line::from(""),
            Line::from("No profiles yet. Add one to:"),
            Line::from(format!("  {}", escape(&path))).style(t.accent),
            Line::from(""),
            Line::from("  [[profile]]"),
            Line::from("  name = \"iam-alice\""),
            Line::from("  kind = \"huawei-iam\""),
            Line::from("  iam_endpoint = \"https://iam.myhuaweicloud.com\""),
            Line::from("  domain = \"my-account\""),
            Line::from("  user = \"alice\""),
            Line::from(""),
            Line::from("Every kind is shown in assets/profiles.example.toml. Press r to reload."),
            Line::from("To look around first, run `rekey demo`: the console against a built-in"),
            Line::from("simulator of all four providers."),
        ]
    } else {
        vec![Line::from("Select a profile on the left.").style(dim)]
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn draw_editor(
    frame: &mut Frame<'_>,
    app: &App,
    editor: &Editor,
    pane: Rect,
    now: Instant,
    wall: SystemTime,
) -> u16 {
    let area = pane.inner(Margin::new(1, 1));
    let t = app.styles();
    let mut lines: Vec<Line<'_>> = Vec::with_capacity(24);
    let value_width = (area.width as usize).saturating_sub(LABEL_WIDTH + 1).max(1);
    let mut cursor = None;
    for (i, field) in editor.fields.iter().enumerate() {
        let is_focused = app.focus == Focus::Field(i);
        let revealed = editor.is_revealed(i, now);
        let n = field.buf.char_count();
        let cursor_at = field.buf.cursor_chars();
        // Scroll so the cursor stays visible in a narrow field.
        let offset = cursor_at.saturating_sub(value_width.saturating_sub(1));
        // Revealed text is borrowed from the buffer, never copied into a String.
        let shown: Span<'_> = if revealed {
            let text = field.buf.expose();
            let start = text
                .char_indices()
                .nth(offset)
                .map_or(text.len(), |(i, _)| i);
            let end = text[start..]
                .char_indices()
                .nth(value_width)
                .map_or(text.len(), |(i, _)| start + i);
            Span::styled(&text[start..end], Style::new().add_modifier(Modifier::BOLD))
        } else {
            Span::styled(
                "•".repeat(n.saturating_sub(offset).min(value_width)),
                Style::new().add_modifier(Modifier::BOLD),
            )
        };
        let label_style = if is_focused {
            t.accent.add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let mut spans = vec![
            Span::styled(
                format!("{:<width$}", field.role.label(), width = LABEL_WIDTH),
                label_style,
            ),
            Span::raw(" "),
            shown,
        ];
        let source = editor
            .current_from
            .as_ref()
            .filter(|_| field.role == crate::console::editor::FieldRole::Current);
        if revealed {
            spans.push(Span::styled(" (shown)", t.warn));
        } else if let Some(source) = source {
            let gap = if n == 0 { "" } else { " " };
            spans.push(Span::styled(
                format!("{gap}{}", escape(&source.describe())),
                t.accent,
            ));
        } else if n == 0 && !is_focused {
            spans.push(Span::styled("(empty)", t.dim));
        }
        if is_focused {
            let x = area.x + (LABEL_WIDTH + 1 + cursor_at - offset) as u16;
            cursor = Some(Position::new(
                x.min(area.right().saturating_sub(1)),
                area.y + i as u16,
            ));
        }
        lines.push(Line::from(spans));
    }
    // The fields stay put (the focused one always in view); the rest scrolls below them.
    // (A long note beside a field, such as a locked store's, wraps under it.)
    trim_blank_end(&mut lines);
    let rows = wrapped_height(&lines, area.width).min(area.height);
    let fields = Paragraph::new(lines).wrap(Wrap { trim: false });
    // Only the rows it takes: the rest of the pane is the next paragraph's.
    frame.render_widget(
        fields,
        Rect {
            height: rows,
            ..area
        },
    );
    let mut lines: Vec<Line<'_>> = Vec::with_capacity(24);
    lines.push(Line::from(""));
    for item in &editor.checklist.items {
        let (mark, style) = if item.passed {
            ("✓ ", t.ok)
        } else {
            ("✗ ", t.error)
        };
        lines.push(Line::from(vec![
            Span::styled(mark, style.add_modifier(Modifier::BOLD)),
            Span::styled(item.label.as_str(), style),
            Span::styled(format!("  · {}", item.source.label()), t.dim),
        ]));
    }
    if let Some(note) = editor.checklist.note {
        lines.push(Line::from(note).style(t.dim));
    }
    strength_lines(&mut lines, editor.strength.as_ref(), t);
    if let Some(job) = app.job {
        const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        let elapsed = now.saturating_duration_since(job.started);
        let frame_at = (elapsed.as_millis() / SPINNER_STEP.as_millis()) as usize % FRAMES.len();
        let name = app
            .profiles
            .get(job.profile)
            .map_or("?", |p| p.name.as_str());
        lines.push(Line::from(""));
        lines.push(
            Line::from(format!(
                "{} Sending to {name}… {:.1} s  (Esc cancels)",
                FRAMES[frame_at],
                elapsed.as_secs_f32()
            ))
            .style(t.accent.add_modifier(Modifier::BOLD)),
        );
    } else if let Some((level, text)) = &app.outcome {
        let style = match level {
            Level::Info => t.ok,
            Level::Warn => t.warn,
            Level::Error => t.error,
        };
        lines.push(Line::from(""));
        lines.push(Line::from(escape(text)).style(style.add_modifier(Modifier::BOLD)));
    }
    details(&mut lines, app, wall);
    if let Some(notes) = app.profile().and_then(|p| p.notes.as_deref()) {
        lines.push(Line::from(""));
        lines.push(Line::from(format!("Notes: {}", escape(notes))).style(t.dim));
    }
    let rest = crate::console::layout::editor_rest(pane, rows);
    trim_blank_end(&mut lines);
    let height = wrapped_height(&lines, rest.width);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let max = height.saturating_sub(rest.height);
    let scroll = app.editor_scroll.min(max);
    frame.render_widget(paragraph.scroll((scroll, 0)), rest);
    // A sign in the bottom border that there is more, and which way.
    let more = match (scroll > 0, scroll < max) {
        (true, true) => Some(" ↑↓ more (PgUp/PgDn) "),
        (false, true) => Some(" ↓ more (PgDn) "),
        (true, false) => Some(" ↑ more (PgUp) "),
        (false, false) => None,
    };
    if let Some(more) = more {
        let len = more.chars().count() as u16;
        if pane.width > len + 2 && pane.height > 0 {
            let at = Rect::new(pane.right() - 1 - len, pane.bottom() - 1, len, 1);
            frame.render_widget(Paragraph::new(more).style(t.accent), at);
        }
    }
    if let Some(pos) = cursor
        && app.overlay.is_none()
    {
        frame.set_cursor_position(pos);
    }
    max
}

/// The rows `lines` take at `width` when wrapped (`Wrap { trim: false }`), by ratatui's own
/// wrapping (not by drawing them into a scratch buffer: at 120 columns that one was 1.5 MB,
/// allocated and wiped on every frame). A line of [`one_cell_each`] characters no wider than
/// `width` takes one row; only the others are wrapped to count theirs (wrapping every line cost
/// a fifth of a frame). Other text can take more rows than its width says: ratatui measures
/// each grapheme, and a lam-alef pair, a halfwidth sound mark or a zero-width space at the end
/// of a full row measure otherwise.
fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    if width == 0 {
        return 0;
    }
    let rows: usize = lines
        .iter()
        .map(|line| {
            let simple = || {
                line.spans
                    .iter()
                    .all(|s| s.content.chars().all(one_cell_each))
            };
            if line.width() <= usize::from(width) && simple() {
                1
            } else {
                Paragraph::new(line.clone())
                    .wrap(Wrap { trim: false })
                    .line_count(width)
            }
        })
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Characters that are a grapheme and a cell each, whatever they stand beside: printable ASCII
/// and the marks this pane draws itself.
fn one_cell_each(c: char) -> bool {
    c == ' '
        || c.is_ascii_graphic()
        || matches!(
            c,
            '✓' | '✗'
                | '·'
                | '–'
                | '—'
                | '…'
                | '▱'
                | '▰'
                | '•'
                | '⚠'
                | '→'
                | '↑'
                | '↓'
                | '\u{2800}'..='\u{28FF}'
        )
}

/// Drops the blank lines at the end of `lines`: they would only make the pane scroll into
/// nothing.
fn trim_blank_end(lines: &mut Vec<Line<'_>>) {
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
    }
}

fn strength_lines<'a>(lines: &mut Vec<Line<'a>>, strength: Option<&'a Strength>, t: &Theme) {
    let Some(s) = strength else {
        lines.push(Line::from("Strength  ▱▱▱▱▱ — type a new password").style(t.dim));
        return;
    };
    let color = match s.score {
        0 | 1 => t.error,
        2 => t.warn,
        _ => t.ok,
    };
    let filled = usize::from(s.score) + 1;
    let bar: String = "▰".repeat(filled) + &"▱".repeat(5 - filled);
    lines.push(Line::from(vec![
        Span::raw("Strength  "),
        Span::styled(bar, color),
        Span::styled(
            format!(" {} ({}/4)", s.label, s.score),
            color.add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" · offline crack ~{}", s.crack_time), t.dim),
    ]));
    if let Some(w) = &s.warning {
        lines.push(Line::from(format!("  ⚠ {w}")).style(t.warn));
    }
    for tip in &s.suggestions {
        lines.push(Line::from(format!("  → {tip}")).style(t.dim));
    }
}

/// The selected profile's details: where it goes, how it authenticates, and what rekey knows
/// of its state.
fn details(lines: &mut Vec<Line<'_>>, app: &App, wall: SystemTime) {
    let t = app.styles();
    let (Some(profile), Some(index)) = (app.profile(), app.selected) else {
        return;
    };
    let dim = t.dim;
    lines.push(Line::from(""));
    lines.push(
        Line::from(format!(
            "{} · {} · {}",
            profile.kind,
            escape(&crate::provider::shown_endpoint_of(profile)),
            crate::provider::auth_of(profile)
        ))
        .style(dim),
    );
    if let Some(open) = app.unsettled.get(&profile.name) {
        lines.push(
            Line::from(format!(
                "Unsettled: {} — R (in the profile list) settles it",
                escape(&open.describe())
            ))
            .style(t.unsettled.add_modifier(Modifier::BOLD)),
        );
    }
    let Some(state) = app.state.get(&profile.name) else {
        lines.push(Line::from("No attempt recorded yet.").style(dim));
        return;
    };
    let mut parts = Vec::new();
    if let (Some(outcome), Some(at)) = (state.last_outcome, state.last_attempt_at) {
        parts.push(format!(
            "last: {outcome} at {}",
            crate::timefmt::local_minute(at)
        ));
    }
    // After a lock has ended the provider counts afresh: the old count is not shown.
    if let Some(n) = state.retries_known(wall) {
        parts.push(format!("{n} retries left"));
    }
    if let (Some(left), Some(until)) = (app.lock_left(index, wall), state.locked_until) {
        parts.push(format!(
            "locked until {} ({} left)",
            crate::timefmt::local_minute(until),
            countdown(left)
        ));
    }
    if let Some(at) = state.last_changed_at {
        let days = wall.duration_since(at).map_or(0, |d| d.as_secs() / 86_400);
        parts.push(format!("password age {days}d"));
    }
    if let Some(at) = state.password_expires_at {
        parts.push(format!("expires {}", crate::timefmt::local_minute(at)));
    }
    lines.push(Line::from(parts.join(" · ")).style(dim));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rows_match_wrapping_all_the_lines_at_once() {
        let lines: Vec<Line<'_>> = vec![
            Line::from(""),
            Line::from("short"),
            Line::from("exactly ten"),
            Line::from("Notes: a long note that wraps over several rows of the pane, word by word"),
            Line::from("averyveryverylongwordwithoutanyspacethatmustbebrokenacrossrows and more"),
            Line::from("漢字漢字漢字漢字 wide characters take two columns each 漢字漢字"),
            Line::from("e\u{301}\u{301} combining marks, ✓ ✗ and 🦀 emoji"),
            Line::from(vec![
                Span::styled("✗ ", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw("8–16 characters (now 0)"),
                Span::styled("  · Tencent BM", Style::new().add_modifier(Modifier::DIM)),
            ]),
            Line::from("   leading and trailing spaces   "),
            Line::from("a b c d e f g h i j k l m n o p q r s t u v w x y z"),
            // Text whose graphemes measure wider than its characters.
            Line::from("لالالا"),
            Line::from("ｶﾞｶﾞｶﾞ"),
            Line::from("abcd\u{200B}\u{200B}"),
            Line::from("ab\u{200B}cd\u{200B} ef\u{FEFF}"),
            // The pane's own marks, packed and between words.
            Line::from("✓✗·–—…▱▰•⚠→↑↓⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓✗·–—…▱▰•⚠→↑↓"),
            Line::from("✓ a · b – c — d … ▱▰ • ⚠ → ↑↓ ⠋ end"),
        ];
        for width in 0..=90u16 {
            let whole = if width == 0 {
                0
            } else {
                Paragraph::new(lines.clone())
                    .wrap(Wrap { trim: false })
                    .line_count(width)
            };
            assert_eq!(
                usize::from(wrapped_height(&lines, width)),
                whole,
                "width {width}"
            );
        }
    }
}
