//! Drawing: a pure function of the app state and the time. No I/O, no clock reads, no locks.

pub mod editor;
pub mod messages;
pub mod overlay;
pub mod profiles;
pub mod rotate;

use std::time::{Instant, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use super::app::{App, Focus};
use super::layout::{self, MIN_SIZE};
use crate::text::escape;
use theme::Theme;

pub use super::layout::{Panes, panes};
pub use super::theme;

/// A pane's frame, highlighted when it has the focus.
pub(crate) fn pane_block<'a>(title: Line<'a>, focused: bool, t: &Theme) -> Block<'a> {
    let (border, kind) = if focused {
        (t.border_focused, BorderType::Thick)
    } else {
        (t.border, BorderType::Plain)
    };
    Block::new()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(border)
        .title(title)
}

/// Draws the whole console. Returns how far the editor can scroll (0 when all of it shows).
pub fn draw(frame: &mut Frame<'_>, app: &App, now: Instant, wall: SystemTime) -> u16 {
    let area = frame.area();
    if layout::too_small((area.width, area.height)) {
        draw_too_small(frame, app, area);
        return 0;
    }
    let panes = panes(area);
    profiles::draw(frame, app, panes.profiles, wall);
    let scroll_max = editor::draw(frame, app, panes.editor, now, wall);
    draw_log(frame, app, panes.log);
    messages::draw_message(frame, app, panes.message);
    draw_status(frame, app, panes.status);
    overlay::draw(frame, app, area);
    scroll_max
}

fn draw_too_small(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let mut text = vec![
        Line::from("Terminal too small").style(Style::new().add_modifier(Modifier::BOLD)),
        Line::from(format!(
            "{}×{} — rekey needs at least {}×{}.",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        )),
        Line::from("Enlarge the window, or press q to quit."),
    ];
    // The only question that can be answered here: quitting with a change open.
    if app.overlay == Some(super::app::Overlay::ConfirmQuit) {
        text.push(
            Line::from("A change is open: q again quits anyway.")
                .style(Style::new().add_modifier(Modifier::BOLD)),
        );
    }
    let rows = text.len() as u16;
    let y = area.height.saturating_sub(rows) / 2;
    let rect = Rect::new(area.x, area.y + y, area.width, area.height.min(rows));
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}

/// The log's inner width from which every column is shown.
const WIDE_LOG: usize = 70;

fn draw_log(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let t = app.styles();
    let focused = app.focus == Focus::Log;
    let title = format!(" Requests ({}) ", app.log.len());
    let block = pane_block(Line::from(title), focused, t);
    if app.log.is_empty() {
        let hint = Paragraph::new(vec![
            Line::from("No requests yet.").style(t.dim),
            Line::from("Every HTTP exchange of a change appears here, with secrets redacted.")
                .style(t.dim),
        ])
        .wrap(Wrap { trim: true })
        .block(block);
        frame.render_widget(hint, area);
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let width = inner.width as usize;
    let offset = layout::log_offset(app.log_selected, height);
    let lines: Vec<Line<'_>> = app
        .log
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, e)| {
            let status = match (e.status, &e.error) {
                (Some(s), _) => s.to_string(),
                (None, _) => "---".to_string(),
            };
            let status_style = match e.status {
                Some(200..=299) => t.ok,
                Some(_) => t.error,
                None => t.warn,
            };
            let mut style = Style::new();
            if i == app.log_selected && focused {
                style = style.add_modifier(Modifier::REVERSED);
            }
            let code = escape(e.provider_code.as_deref().unwrap_or(""));
            let url = escape(&e.url);
            let time = format!("{} ", crate::timefmt::clock_time(e.at));
            if width >= WIDE_LOG {
                return Line::from(vec![
                    Span::raw(time),
                    Span::styled(
                        format!("{:<12} ", profiles::truncate(&e.profile, 12)),
                        t.accent,
                    ),
                    Span::raw(format!("{:<4} ", e.method)),
                    Span::styled(format!("{status:>3} "), status_style),
                    Span::raw(format!("{:>5}ms ", e.duration.as_millis())),
                    Span::styled(code, t.warn),
                    Span::raw(" "),
                    Span::styled(url, t.dim),
                ])
                .style(style);
            }
            // Narrow (80×24): the time, status and provider code come first and whole; the
            // method and duration (in the exchange's full view, Enter) are left out, the
            // profile is shortened, and the URL takes what is left, cut with an ellipsis.
            let profile = format!("{:<8} ", profiles::truncate(&e.profile, 8));
            let status = format!("{status:>3} ");
            let used = time.chars().count() + profile.chars().count() + status.chars().count();
            let code = profiles::truncate(&code, width.saturating_sub(used));
            let used = used + code.chars().count() + usize::from(!code.is_empty());
            let url = profiles::truncate(&url, width.saturating_sub(used));
            let gap = if code.is_empty() { "" } else { " " };
            Line::from(vec![
                Span::raw(time),
                Span::styled(status, status_style),
                Span::styled(profile, t.accent),
                Span::styled(code, t.warn),
                Span::raw(gap),
                Span::styled(url, t.dim),
            ])
            .style(style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The hints line for a bar `width` columns wide. While a send refused for a known lock is
/// pending, its override (Ctrl-O) comes first; items are dropped from the end (keeping the
/// last, help) until the line fits.
fn hints(app: &App, width: usize) -> String {
    use crate::console::keymap::HintsFor;
    // A dialog takes the keys it shows itself: the list's or a field's would not do what
    // they say here.
    if app.overlay.is_some() {
        return String::new();
    }
    if app.filter_editing {
        return "type to filter · Enter keep · Esc clear · ↑↓ select".into();
    }
    let unsettled = app
        .profile()
        .is_some_and(|p| app.unsettled.contains_key(&p.name));
    let mut items = app.keymap.hint_items(match app.focus {
        Focus::Profiles if !app.marked.is_empty() => HintsFor::Marked,
        Focus::Profiles if unsettled => HintsFor::Unsettled,
        Focus::Profiles => HintsFor::Profiles,
        Focus::Field(_) => HintsFor::Field,
        Focus::Log => HintsFor::Log,
    });
    if app.lock_refusal_pending() {
        items.insert(0, app.keymap.send_anyway_hint());
    }
    let len = |items: &[String]| items.join(" · ").chars().count();
    while items.len() > 2 && len(&items) > width {
        items.remove(items.len() - 2);
    }
    items.join(" · ")
}

fn draw_status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let t = app.styles();
    let line = Line::from(hints(app, area.width as usize)).style(t.dim);
    frame.render_widget(Paragraph::new(line), area);
}
