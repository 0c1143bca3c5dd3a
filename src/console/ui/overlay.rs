//! Modal layers: help and confirmations.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::console::app::{App, Ask, Overlay, Then, countdown};
use crate::console::keymap::Action;
use crate::provider::LogEntry;
use crate::text::escape;

/// A question or notice: `lines` wrapped in a titled box `width` wide (at most the screen),
/// centred, as tall as its wrapped lines. The last line names the answer keys: it is pinned to
/// the bottom row, so however the text wraps the keys are never cut off.
fn dialog(
    frame: &mut Frame<'_>,
    t: &Theme,
    area: Rect,
    width: u16,
    title: &str,
    mut lines: Vec<Line<'_>>,
) {
    let keys = lines.pop().unwrap_or_default();
    let inner_width = usize::from(width.min(area.width).saturating_sub(2)).max(1);
    let body_rows: usize = lines.iter().map(|l| wrapped_rows(l, inner_width)).sum();
    let keys_rows = wrapped_rows(&keys, inner_width);
    let rect = centered(area, width, (body_rows + keys_rows) as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = modal(title, t);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let keys_height = (keys_rows as u16).min(inner.height);
    let body = Rect::new(inner.x, inner.y, inner.width, inner.height - keys_height);
    let keys_rect = Rect::new(inner.x, body.bottom(), inner.width, keys_height);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
    frame.render_widget(Paragraph::new(keys).wrap(Wrap { trim: true }), keys_rect);
}

/// Rows `line` takes when word-wrapped to `width` columns (greedy, as ratatui wraps), counted
/// from the spans in place: a revealed password is never copied to be measured.
fn wrapped_rows(line: &Line<'_>, width: usize) -> usize {
    let (mut rows, mut col, mut spaces, mut word) = (1usize, 0usize, 0usize, 0usize);
    let place = |rows: &mut usize, col: &mut usize, spaces: usize, word: usize| {
        if word == 0 {
            return;
        }
        if *col == 0 {
            *col = word;
        } else if *col + spaces + word <= width {
            *col += spaces + word;
        } else {
            *rows += 1;
            *col = word;
        }
        while *col > width {
            *rows += 1;
            *col -= width;
        }
    };
    for span in &line.spans {
        for (k, piece) in span.content.split(' ').enumerate() {
            if k > 0 {
                if word > 0 {
                    place(&mut rows, &mut col, spaces, word);
                    spaces = 0;
                    word = 0;
                }
                spaces += 1;
            }
            word += Span::raw(piece).width();
        }
    }
    place(&mut rows, &mut col, spaces, word);
    rows
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A dialog's frame: a double border in the accent colour, titled.
pub(super) fn modal<'a>(title: &'a str, t: &Theme) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.accent)
        .title(title)
}

/// Draws the overlay, if any.
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let t = app.styles();
    match &app.overlay {
        None => {}
        Some(Overlay::Rotate) => super::rotate::draw(frame, app, area),
        Some(Overlay::Messages(scroll)) => super::messages::draw_history(frame, app, area, *scroll),
        Some(Overlay::Help) => {
            // Every binding, from the keymap (the config's `[keys]` included).
            let mut lines: Vec<Line<'_>> = app
                .keymap
                .help()
                .into_iter()
                .map(|(keys, what)| Line::from(format!("{keys:<19} {what}")))
                .collect();
            // Where the footer does not fit (80×24), it moves into the title so every
            // binding stays on screen.
            let title = if lines.len() + 4 <= usize::from(area.height) {
                lines.push(Line::from(""));
                lines.push(Line::from("any key closes this help").style(t.dim));
                " Keys "
            } else {
                " Keys — any key closes this help "
            };
            let rect = centered(area, 80, lines.len() as u16 + 2);
            frame.render_widget(Clear, rect);
            frame.render_widget(Paragraph::new(lines).block(modal(title, t)), rect);
        }
        Some(Overlay::OfferCreate) => {
            let lines = vec![
                Line::from("The VPN account does not exist yet.")
                    .style(t.warn.add_modifier(Modifier::BOLD)),
                Line::from("Update failed. Create the account with this password instead?"),
                Line::from(""),
                Line::from("y  send with Create      n / Esc / Enter  not now"),
            ];
            dialog(frame, t, area, 64, " Create the VPN account? ", lines);
        }
        Some(Overlay::LogDetail(index, scroll)) => {
            let Some(entry) = app.log.get(*index) else {
                return;
            };
            let rect = Rect::new(
                area.x + 2,
                area.y + 1,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(detail_lines(entry, t))
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0))
                    .block(modal(
                        " Exchange (secrets masked) — ↑↓ scroll, any other key closes ",
                        t,
                    )),
                rect,
            );
        }
        Some(Overlay::Confirm { ask, .. }) => {
            let (title, lines) = confirm_text(app, *ask);
            dialog(frame, t, area, 70, title, lines);
        }
        Some(Overlay::ConfirmQuit) if app.job.is_none() && app.holds_only_copy() => {
            kept_question(
                frame,
                app,
                area,
                " Quit? ",
                "d  discard and quit      n / Esc / Enter  stay",
            );
        }
        Some(Overlay::ConfirmDiscard(then)) => {
            let keys = match then {
                Then::Select(_) => "d  discard and switch      n / Esc / Enter  stay",
                Then::Reload => "d  discard and reload      n / Esc / Enter  stay",
            };
            kept_question(frame, app, area, " Discard the new password? ", keys);
        }
        Some(Overlay::Unlock) => {
            let label = app
                .profile()
                .and_then(|p| p.store.as_ref())
                .map_or(String::new(), |s| s.label());
            let lines = vec![
                Line::from(format!("{} needs its database password.", escape(&label)))
                    .style(t.warn.add_modifier(Modifier::BOLD)),
                Line::from(format!(
                    "Password: {}▏",
                    "•".repeat(app.unlock_input.char_count().min(50))
                )),
                Line::from(""),
                Line::from("Enter  unlock      Esc  type the current password instead"),
            ];
            dialog(frame, t, area, 70, " Unlock the store ", lines);
        }
        Some(Overlay::ConfirmResend) => {
            let name = app.profile().map_or(String::new(), |p| p.name.clone());
            let lines = vec![
                Line::from(format!("{name}: resend Update with the pending password?"))
                    .style(t.warn.add_modifier(Modifier::BOLD)),
                Line::from("Setting the same password again is safe and settles the change."),
                Line::from(""),
                Line::from("y  resend      n / Esc / Enter  not now"),
            ];
            dialog(frame, t, area, 70, " Settle ", lines);
        }
        Some(Overlay::AskApplied) => {
            let name = app.profile().map_or(String::new(), |p| p.name.clone());
            let lines = vec![
                Line::from(format!("{name}: does the new password work?"))
                    .style(t.warn.add_modifier(Modifier::BOLD)),
                Line::from("rekey cannot check without spending an attempt: verify by hand"),
                Line::from("(DCS: redis-cli AUTH; VPN: log in), then answer."),
                Line::from(""),
                Line::from("a  applied      n  not applied      Esc / Enter  later"),
            ];
            dialog(frame, t, area, 70, " Settle ", lines);
        }
        Some(Overlay::ConfirmQuit) => {
            let why = if app.rotating() {
                "A rotation is running: quitting now starts no new change and leaves a change on its way unsettled."
            } else if app.job.is_some() {
                "A change is in flight: quitting now leaves its outcome unknown."
            } else {
                "The last change may have been applied (outcome unknown) and was not checked."
            };
            let lines = vec![
                Line::from(why).style(t.warn.add_modifier(Modifier::BOLD)),
                Line::from(""),
                Line::from("y  quit anyway      n / Esc / Enter  stay"),
            ];
            dialog(frame, t, area, 70, " Quit? ", lines);
        }
    }
}

/// The question before dropping the only copy of a password that may be live: reveal it, copy
/// it, or discard it.
fn kept_question(frame: &mut Frame<'_>, app: &App, area: Rect, title: &str, keys: &str) {
    let t = app.styles();
    let mut lines = vec![
        Line::from("The new password may be live and rekey holds the only copy:")
            .style(t.warn.add_modifier(Modifier::BOLD)),
        Line::from(format!(
            "reveal it ({}), copy it ({}), or discard it?",
            app.keymap.label(Action::Reveal),
            app.keymap.label(Action::Copy)
        )),
    ];
    match app.kept_password() {
        // Borrowed from the buffer for this frame only.
        Some(kept) if app.discard_reveal.is_some() => lines.push(Line::from(vec![
            Span::raw("New password: "),
            Span::styled(kept, Style::new().add_modifier(Modifier::BOLD)),
        ])),
        _ => lines.push(Line::from("")),
    }
    lines.push(Line::from(keys));
    dialog(frame, t, area, 70, title, lines);
}

/// The full exchange, every server-supplied text escaped of control characters.
fn detail_lines(entry: &LogEntry, t: &Theme) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = t.dim;
    let mut lines = vec![
        Line::from(format!("{} {}", entry.method, escape(&entry.url))).style(bold),
        Line::from(match (entry.status, &entry.error) {
            (Some(status), _) => format!("HTTP {status} in {} ms", entry.duration.as_millis()),
            (None, Some(e)) => format!(
                "no answer after {} ms: {}",
                entry.duration.as_millis(),
                escape(e)
            ),
            (None, None) => "no answer".to_string(),
        }),
        Line::from(""),
        Line::from("Request headers").style(dim),
    ];
    for (name, value) in &entry.request_headers {
        lines.push(Line::from(format!("  {name}: {}", escape(value))));
    }
    lines.push(Line::from("Request body").style(dim));
    lines.push(Line::from(format!(
        "  {}",
        crate::text::escape_multiline(&entry.request_body)
    )));
    lines.push(Line::from(""));
    lines.push(Line::from("Response headers").style(dim));
    for (name, value) in &entry.response_headers {
        lines.push(Line::from(format!("  {}: {}", escape(name), escape(value))));
    }
    lines.push(Line::from("Response body").style(dim));
    lines.push(Line::from(format!(
        "  {}",
        crate::text::escape_multiline(&entry.response_body)
    )));
    lines
}

/// The title and words of a safety rail's question.
fn confirm_text(app: &App, ask: Ask) -> (&'static str, Vec<Line<'static>>) {
    let t = app.styles();
    let warn = t.warn.add_modifier(Modifier::BOLD);
    let name = app.profile().map_or(String::new(), |p| p.name.clone());
    let keys = Line::from("y  send      n / Esc / Enter  do not send");
    match ask {
        Ask::Weak { score, label } => (
            " Weak password ",
            vec![
                Line::from(format!("The new password is {label} ({score}/4).")).style(warn),
                Line::from("It meets every rule, but it could be guessed."),
                Line::from(""),
                keys,
            ],
        ),
        Ask::Production => (
            " Production profile ",
            vec![
                Line::from(format!("{name} is a PRODUCTION profile."))
                    .style(t.error.add_modifier(Modifier::BOLD)),
                Line::from("Changing this password affects live systems."),
                Line::from(format!(
                    "Type {name} to send: {}▏",
                    escape(&app.confirm_input)
                )),
                Line::from(""),
                Line::from(format!(
                    "Enter  send once {name} is typed      Esc / Enter on nothing typed  do not send"
                )),
            ],
        ),
        Ask::LastAttempt => {
            let left = app
                .profile()
                .and_then(|p| app.state.get(&p.name))
                .and_then(|s| s.retries_known(app.wall()))
                .map_or(String::new(), |n| format!(" ({n} left)"));
            (
                " Last attempt? ",
                vec![
                    Line::from(format!(
                        "This may be your last attempt before a lock. Send?{left}"
                    ))
                    .style(warn),
                    Line::from("Check the current password first if you are unsure."),
                    Line::from(""),
                    keys,
                ],
            )
        }
        Ask::Locked => {
            let left = app
                .selected
                .and_then(|i| app.lock_left(i, app.wall()))
                .map_or(String::new(), countdown);
            (
                " Send although locked? ",
                vec![
                    Line::from(format!("{name} is known to be locked for another {left}."))
                        .style(t.error.add_modifier(Modifier::BOLD)),
                    Line::from(
                        "The provider will most likely refuse, and an attempt may extend the lock.",
                    ),
                    Line::from(""),
                    keys,
                ],
            )
        }
    }
}
