//! The profile list.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use std::time::{Duration, SystemTime};

use crate::console::app::{App, Focus, countdown};
use crate::console::layout::ProfileList;
use crate::provider::Outcome;

/// The badge for profile `index`: its last known state in a few characters, longest first
/// then shorter forms for a narrow list, and a colour. Text carries the meaning in every form;
/// colour only repeats it.
pub fn badge(app: &App, index: usize, wall: SystemTime) -> Option<(Vec<String>, Style)> {
    let t = app.styles();
    let name = &app.profiles.get(index)?.name;
    let forms = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if app.unsettled.contains_key(name) {
        return Some((
            forms(&["unsettled", "unsettl.", "!"]),
            t.unsettled.add_modifier(Modifier::BOLD),
        ));
    }
    let state = app.state.get(name)?;
    let days = |d: Duration| d.as_secs() / 86_400;
    if let Some(left) = state.lock_left(wall) {
        let left = countdown(left);
        return Some((
            vec![
                format!("locked {left}"),
                format!("lock {left}"),
                format!("L {left}"),
            ],
            t.error.add_modifier(Modifier::BOLD),
        ));
    }
    if state.last_outcome == Some(Outcome::Frozen) {
        return Some((
            forms(&["frozen", "frz"]),
            t.error.add_modifier(Modifier::BOLD),
        ));
    }
    if state.last_outcome == Some(Outcome::WrongOldPassword)
        && let Some(n) = state.retries_known(wall)
    {
        let tries = if n == 1 { "try" } else { "tries" };
        return Some((
            vec![format!("{n} {tries} left"), format!("{n} left")],
            t.warn,
        ));
    }
    if state.last_outcome == Some(Outcome::Unknown) {
        return Some((forms(&["unknown!", "unkn.!", "?!"]), t.warn));
    }
    let expiry = state
        .password_expires_at
        .map(|at| match at.duration_since(wall) {
            Ok(left) => (days(left), false),
            Err(_) => (0, true),
        });
    let expires = |d: u64| vec![format!("expires in {d}d"), format!("exp {d}d")];
    match (expiry, state.last_changed_at) {
        (Some((_, true)), _) => Some((forms(&["expired", "exp!"]), t.error)),
        (Some((d, false)), _) if d <= 30 => Some((expires(d), t.warn)),
        (_, Some(changed)) => {
            let ago = wall.duration_since(changed).map_or(0, days);
            let text = if ago == 0 {
                "changed today".to_string()
            } else {
                format!("changed {ago}d ago")
            };
            Some((vec![text, format!("chg {ago}d")], t.ok))
        }
        (Some((d, false)), None) => Some((expires(d), t.dim)),
        (None, None) => None,
    }
}

/// Draws the list.
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect, wall: SystemTime) {
    let t = app.styles();
    let focused = app.focus == Focus::Profiles;
    let visible = app.visible();
    let count = if !app.broken.is_empty() {
        format!("{}, {} bad", app.profiles.len(), app.broken.len())
    } else if app.filter.is_empty() {
        app.profiles.len().to_string()
    } else {
        format!("{}/{}", visible.len(), app.profiles.len())
    };
    // Marked for rotation: how many, in the title (the rows carry a ✓).
    // A narrow pane (80×24) says it with the ✓ the rows carry.
    let title = match app.marked.len() {
        0 => format!(" Profiles ({count}) "),
        n => {
            let long = format!(" Profiles ({count} · {n} selected) ");
            if long.chars().count() + 2 <= usize::from(area.width) {
                long
            } else {
                format!(" Profiles ({count} · ✓{n}) ")
            }
        }
    };
    frame.render_widget(pane_block(Line::from(title), focused, t), area);
    let filter_shown = app.filter_editing || !app.filter.is_empty();
    let layout = ProfileList {
        visible: &visible,
        selected: app.selected,
        filter_shown,
    };
    let list = layout.area(area);
    let width = list.width as usize;

    let mut lines = Vec::new();
    if app.profiles.is_empty() {
        let msg = if app.config_error.is_some() {
            "Config has errors (see right)"
        } else {
            "No profiles yet"
        };
        lines.push(Line::from(msg).style(t.dim));
    } else if visible.is_empty() {
        lines.push(Line::from("No profile matches").style(t.dim));
    }
    let offset = layout.offset(list.height);
    // With profiles marked for rotation, a column of ✓ beside the selection arrow: a sign, not
    // only a colour. Without, the rows are as they always were.
    let marking = !app.marked.is_empty();
    let lead = if marking { 3 } else { 2 };
    for (row, &index) in visible.iter().enumerate().skip(offset) {
        let profile = &app.profiles[index];
        let is_selected = app.selected == Some(index);
        let arrow = if is_selected { "▶" } else { " " };
        let marker = match (marking, app.marked.contains(&index)) {
            (false, _) => format!("{arrow} "),
            (true, true) => format!("{arrow}✓ "),
            (true, false) => format!("{arrow}  "),
        };
        // The kind in short, and the state badge when there is one; when both do not fit
        // beside the name, the badge wins (the editor's title names the kind in full).
        // Production rows carry a ⚠ before the name: a sign, not only a colour.
        let prod = if profile.production { "⚠ " } else { "" };
        let prod_len = prod.chars().count();
        let kind = short_kind(profile.kind);
        let name_len = profile.name.chars().count();
        // The room a tag has beside the whole name.
        let room = width.saturating_sub(lead + prod_len + name_len + 1);
        // The badge gives way before the name does: the kind goes first, then the badge takes
        // its shorter forms; the name is cut only beside the shortest one.
        let (tag, tag_style) = match badge(app, index, wall) {
            Some((forms, style)) => {
                let full = format!("{kind} {}", forms[0]);
                let tag = if full.chars().count() <= room {
                    full
                } else {
                    forms
                        .iter()
                        .find(|f| f.chars().count() <= room)
                        .or(forms.last())
                        .cloned()
                        .unwrap_or_default()
                };
                (tag, style)
            }
            None => (kind.to_string(), t.dim),
        };
        let tag_len = tag.chars().count();
        let name_width = width.saturating_sub(lead + prod_len + tag_len + 1).max(1);
        let name = truncate(&profile.name, name_width);
        let pad = width.saturating_sub(lead + prod_len + name.chars().count() + tag_len);
        let mut style = Style::new();
        if is_selected {
            style = style.add_modifier(Modifier::BOLD);
            if focused {
                style = style.patch(t.selected);
            } else {
                style = style.add_modifier(Modifier::REVERSED);
            }
        }
        let _ = row;
        lines.push(
            Line::from(vec![
                Span::raw(marker),
                Span::styled(prod, t.error.add_modifier(Modifier::BOLD)),
                Span::raw(name),
                Span::raw(" ".repeat(pad)),
                Span::styled(tag, tag_style),
            ])
            .style(style),
        );
    }
    // Broken profiles are listed (not selectable) after the others, marked, with how many
    // errors they have; the message history (`m`) holds every error in full.
    if app.filter.is_empty() {
        for broken in &app.broken {
            let errors = broken.errors.len();
            let tag = format!("{errors} error{}", if errors == 1 { "" } else { "s" });
            let name_width = width.saturating_sub(2 + tag.len() + 1).max(1);
            let name = truncate(&broken.label(), name_width);
            let pad = width.saturating_sub(2 + name.chars().count() + tag.len());
            lines.push(Line::from(vec![
                Span::styled("✗ ", t.error.add_modifier(Modifier::BOLD)),
                Span::styled(name, t.dim),
                Span::raw(" ".repeat(pad)),
                Span::styled(tag, t.error),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines), list);
    if filter_shown {
        let y = list.y + list.height;
        let rect = Rect::new(list.x, y, list.width, 1);
        let cursor = if app.filter_editing { "▏" } else { "" };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("/", t.accent),
                Span::raw(crate::text::escape(&app.filter)),
                Span::raw(cursor),
            ])),
            rect,
        );
    }
}

/// A kind in a few letters for the narrow list (the editor's title names it in full).
pub fn short_kind(kind: crate::config::Kind) -> &'static str {
    match kind {
        crate::config::Kind::TencentBmVpn => "bm",
        crate::config::Kind::HuaweiDcs => "dcs",
        crate::config::Kind::HuaweiIam => "iam",
        crate::config::Kind::TencentCiam => "ciam",
    }
}

/// Cuts `s` to `width` characters with an ellipsis.
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
