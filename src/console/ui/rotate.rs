//! The rotation dialog: the plan (each profile's verdict), then one live line per profile and a
//! total with a progress bar, then the summary. Every line is cut to the width, never wrapped;
//! the rows scroll (↑↓ PgUp PgDn) between a fixed header and footer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::overlay::modal;
use super::profiles::truncate;
use crate::change::rotate::Status;
use crate::console::app::App;
use crate::console::app::rotate::{CONFIRM_WORD, Phase, Rotation, RotationRow, Verdict};
use crate::console::keymap::Action;
use crate::text::escape;

/// Draws the dialog over `area` (all of it but a margin).
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(rotation) = &app.rotation else {
        return;
    };
    let t = app.styles();
    let n = rotation.rows.len();
    let plural = if n == 1 { "" } else { "s" };
    let title = match rotation.phase {
        Phase::Plan => format!(" Rotate {n} profile{plural} "),
        Phase::Running => format!(" Rotating {n} profile{plural} "),
        Phase::Done => " Rotation finished ".to_string(),
    };
    let width = usize::from(area.width.saturating_sub(6));
    let bold = Style::new().add_modifier(Modifier::BOLD);

    let mut header: Vec<Line<'_>> = Vec::new();
    let mut footer: Vec<Line<'_>> = Vec::new();
    let stop_key = app
        .keymap
        .keys(Action::StopRotation)
        .first()
        .map_or_else(String::new, |c| c.label());
    match rotation.phase {
        Phase::Plan => {
            header.push(Line::from(
                "Each gets a generated password, saved to its store before it is sent.",
            ));
            let o = rotation.options;
            header.push(Line::from(format!(
                "{} canary first, then {} at a time; stops after {} failure{} or any unknown.",
                o.canary,
                o.concurrency,
                o.max_failures,
                if o.max_failures == 1 { "" } else { "s" }
            )));
            if rotation.needs_confirmation() {
                footer.push(
                    Line::from(format!(
                        "Type {CONFIRM_WORD} to also change the profiles marked confirm: {}▏",
                        escape(&app.confirm_input)
                    ))
                    .style(t.warn.add_modifier(Modifier::BOLD)),
                );
            }
            let go = rotation.going();
            footer.push(Line::from(if go == 0 {
                "Nothing to rotate: every profile is refused      Esc  close".to_string()
            } else {
                format!("Enter  start {go}      Esc  cancel (nothing is sent)      ↑↓  scroll")
            }));
        }
        Phase::Running => {
            header.push(Line::from(
                "Each gets a generated password, saved to its store before it is sent.",
            ));
            footer.push(Line::from(total(rotation, width)));
            footer.push(Line::from(if rotation.stop_requested {
                "Stopping: no new change starts; those in flight finish      ↑↓  scroll".to_string()
            } else {
                format!(
                    "{stop_key}  stop starting new changes (those in flight finish)      ↑↓  scroll"
                )
            }));
        }
        Phase::Done => {
            let count = |f: &dyn Fn(&Status) -> bool| rotation.count(f);
            let saved = count(&|s| *s == Status::Saved);
            let failed = count(&|s| matches!(s, Status::Failed(_)));
            let unsettled = count(&|s| matches!(s, Status::Unsettled(_)));
            let not_started = count(&|s| matches!(s, Status::NotStarted(_)));
            let refused = rotation.rows.len() - rotation.run_size();
            header.push(
                Line::from(format!(
                    "{saved} saved, {failed} failed, {unsettled} unsettled, {not_started} not started, {refused} refused"
                ))
                .style(bold),
            );
            if let Some(e) = &rotation.error {
                header.push(Line::from(escape(e)).style(t.error));
            }
            if unsettled > 0 {
                header.push(
                    Line::from("Unsettled ones may have changed: R in the list settles each.")
                        .style(t.warn),
                );
            }
            if (unsettled > 0 || not_started > 0)
                && let Some(id) = &rotation.run_id
            {
                header.push(Line::from(format!(
                    "rekey rotate --resume {id} continues it."
                )));
            }
            footer.push(Line::from(total(rotation, width)));
            footer.push(Line::from("Enter / Esc  close      ↑↓  scroll"));
        }
    }
    header.push(Line::from(""));
    footer.insert(0, Line::from(""));
    // As tall as its lines, at most the screen less a margin; the rows scroll inside.
    let wanted = (header.len() + n + footer.len() + 2).min(usize::from(u16::MAX)) as u16;
    let height = wanted.min(area.height.saturating_sub(2));
    let rect = Rect::new(
        area.x + 2,
        area.y + (area.height - height) / 2,
        area.width.saturating_sub(4),
        height,
    );
    frame.render_widget(Clear, rect);
    let block = modal(&title, t);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);

    let header_rows = (header.len() as u16).min(inner.height);
    let footer_rows = (footer.len() as u16).min(inner.height - header_rows);
    let body_rows = inner.height - header_rows - footer_rows;
    let name_width = rotation
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let max_scroll = rotation.rows.len().saturating_sub(usize::from(body_rows));
    let scroll = usize::from(rotation.scroll).min(max_scroll);
    let body: Vec<Line<'_>> = rotation
        .rows
        .iter()
        .skip(scroll)
        .take(usize::from(body_rows))
        .map(|row| row_line(app, rotation.phase, row, name_width, width))
        .collect();
    let cut = |lines: Vec<Line<'static>>| -> Vec<Line<'static>> {
        lines
            .into_iter()
            .map(|l| {
                let style = l.style;
                let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                Line::from(truncate(&text, width)).style(style)
            })
            .collect()
    };
    let header = cut(header.into_iter().map(owned).collect());
    let footer = cut(footer.into_iter().map(owned).collect());
    frame.render_widget(
        Paragraph::new(header),
        Rect::new(inner.x, inner.y, inner.width, header_rows),
    );
    frame.render_widget(
        Paragraph::new(body),
        Rect::new(inner.x, inner.y + header_rows, inner.width, body_rows),
    );
    frame.render_widget(
        Paragraph::new(footer),
        Rect::new(
            inner.x,
            inner.y + header_rows + body_rows,
            inner.width,
            footer_rows,
        ),
    );
}

fn owned(line: Line<'_>) -> Line<'static> {
    let style = line.style;
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    Line::from(text).style(style)
}

/// One profile's line: its name, then its verdict (plan) or its status (run).
fn row_line(
    app: &App,
    phase: Phase,
    row: &RotationRow,
    name_width: usize,
    width: usize,
) -> Line<'static> {
    let t = app.styles();
    let name = format!("{:<name_width$} ", truncate(&escape(&row.name), name_width));
    let (what, style) = match (&row.verdict, &row.status, phase) {
        (Verdict::Refused(why), _, Phase::Plan) => (format!("refused: {}", escape(why)), t.error),
        (Verdict::Refused(why), _, _) => (format!("refused, not sent: {}", escape(why)), t.error),
        (Verdict::Confirm(why), _, Phase::Plan) => (
            format!("confirm ({}) · {}", escape(why), escape(&row.store)),
            t.warn,
        ),
        (_, _, Phase::Plan) => (format!("ready · {}", escape(&row.store)), Style::new()),
        (_, status, _) => status_words(status.as_ref().unwrap_or(&Status::Waiting), t),
    };
    let mut line = Line::from(vec![
        Span::styled(name, t.accent),
        Span::styled(what, style),
    ]);
    // Cut to the width (never wrapped): the name is short, the words take what is left.
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    if text.chars().count() > width {
        let name_len = line.spans[0].content.chars().count();
        let rest = truncate(&line.spans[1].content, width.saturating_sub(name_len));
        line.spans[1] = Span::styled(rest, style);
    }
    line
}

/// A status in words (the core's, as the headless view shows it) and its style.
fn status_words(status: &Status, t: &crate::console::theme::Theme) -> (String, Style) {
    let style = match status {
        Status::RateLimited(_) | Status::NotStarted(_) => t.warn,
        Status::Saved => t.ok,
        Status::Failed(_) => t.error,
        Status::Unsettled(_) => t.unsettled.add_modifier(Modifier::BOLD),
        _ => t.dim,
    };
    (status.describe(), style)
}

/// `[####----] 2/3  saved 1  failed 0  unsettled 0`: the run's profiles (refused ones are not
/// in it).
fn total(rotation: &Rotation, width: usize) -> String {
    crate::change::rotate::progress_line(rotation.statuses(), rotation.run_size(), width)
}
