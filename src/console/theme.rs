//! Themes: the colours of the console by role, so panes name what a colour means (`warn`,
//! `ok`, `dim`) and never pick one themselves. Colour only ever repeats what the text says
//! (a badge, a ✓/✗, a `warning:` tag), so every theme, and no colour at all, reads the same.
//!
//! `theme = "default" | "light" | "high-contrast"` in `profiles.toml` picks one; `NO_COLOR`
//! (set and not empty) overrides any choice with [`PLAIN`]: no colour in any cell, selection
//! and the production banner shown reversed.

use ratatui::style::{Color, Modifier, Style};

pub use crate::config::ThemeName;

/// The styles of the console by role. Modifiers that carry structure (bold titles, the
/// reversed selection of an unfocused list) stay with the panes; the theme gives colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// A pane's border.
    pub border: Style,
    /// The focused pane's border (also drawn thick).
    pub border_focused: Style,
    /// Secondary text: hints, placeholders, details.
    pub dim: Style,
    /// Information and emphasis: names, paths, the focused field's label, overlay borders.
    pub accent: Style,
    /// Success: ✓, applied, changed.
    pub ok: Style,
    /// Caution: warnings, retries left, unknown.
    pub warn: Style,
    /// Failure and danger: ✗, errors, locks, production marks.
    pub error: Style,
    /// A change whose result is not settled yet.
    pub unsettled: Style,
    /// The production banner in the editor's title.
    pub production: Style,
    /// The selected row of the focused list.
    pub selected: Style,
}

/// The default theme, for dark terminals.
pub const DEFAULT: Theme = Theme {
    border: Style::new().fg(Color::DarkGray),
    border_focused: Style::new().fg(Color::Cyan),
    dim: Style::new().fg(Color::DarkGray),
    accent: Style::new().fg(Color::Cyan),
    ok: Style::new().fg(Color::Green),
    warn: Style::new().fg(Color::Yellow),
    error: Style::new().fg(Color::Red),
    unsettled: Style::new().fg(Color::Magenta),
    production: Style::new().fg(Color::White).bg(Color::Red),
    selected: Style::new().fg(Color::White).bg(Color::Blue),
};

/// For light backgrounds: no yellow or cyan text (unreadable on white), darker greys.
pub const LIGHT: Theme = Theme {
    border: Style::new().fg(Color::Gray),
    border_focused: Style::new().fg(Color::Blue),
    dim: Style::new().fg(Color::Indexed(243)),
    accent: Style::new().fg(Color::Blue),
    ok: Style::new().fg(Color::Indexed(28)),
    warn: Style::new().fg(Color::Indexed(130)),
    error: Style::new().fg(Color::Indexed(160)),
    unsettled: Style::new().fg(Color::Indexed(90)),
    production: Style::new().fg(Color::White).bg(Color::Indexed(160)),
    selected: Style::new().fg(Color::White).bg(Color::Blue),
};

/// High contrast: bright colours on the terminal's background, no grey text, black on white
/// for the selection.
pub const HIGH_CONTRAST: Theme = Theme {
    border: Style::new().fg(Color::White),
    border_focused: Style::new().fg(Color::LightYellow),
    dim: Style::new().fg(Color::White),
    accent: Style::new().fg(Color::LightCyan),
    ok: Style::new().fg(Color::LightGreen),
    warn: Style::new().fg(Color::LightYellow),
    error: Style::new().fg(Color::LightRed),
    unsettled: Style::new().fg(Color::LightMagenta),
    production: Style::new().fg(Color::Black).bg(Color::LightYellow),
    selected: Style::new().fg(Color::Black).bg(Color::White),
};

/// No colour at all (`NO_COLOR`): what a colour marked is shown reversed, or by its text.
pub const PLAIN: Theme = Theme {
    border: Style::new(),
    border_focused: Style::new(),
    dim: Style::new(),
    accent: Style::new(),
    ok: Style::new(),
    warn: Style::new(),
    error: Style::new(),
    unsettled: Style::new(),
    production: Style::new().add_modifier(Modifier::REVERSED),
    selected: Style::new().add_modifier(Modifier::REVERSED),
};

impl Theme {
    /// The theme named `name`, or [`PLAIN`] when `no_color`.
    pub fn get(name: ThemeName, no_color: bool) -> &'static Theme {
        if no_color {
            return &PLAIN;
        }
        match name {
            ThemeName::Default => &DEFAULT,
            ThemeName::Light => &LIGHT,
            ThemeName::HighContrast => &HIGH_CONTRAST,
        }
    }
}

/// Whether the environment asks for no colour: `NO_COLOR` set and not empty (no-color.org).
/// Read once at start-up, never while drawing.
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
