//! Layout and hit-testing: where each pane sits, which profile and log rows are on screen, and
//! what a click at a position lands on. Plain geometry of the terminal size and a few facts
//! about the state, shared by drawing (`ui`) and `update` (mouse, countdown ticks), so the
//! state never imports drawing code.

use ratatui::layout::{Margin, Position, Rect};

/// The smallest terminal the console draws its panes in; smaller shows "too small".
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Whether a terminal of `size` (columns, rows) is below [`MIN_SIZE`].
pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < MIN_SIZE.0 || size.1 < MIN_SIZE.1
}

/// Where each pane sits for a terminal area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    /// Profile list.
    pub profiles: Rect,
    /// Password editor.
    pub editor: Rect,
    /// Request/response log.
    pub log: Rect,
    /// The message line (one row): the latest message, blank when there is none.
    pub message: Rect,
    /// Status bar (one row): the key hints, always.
    pub status: Rect,
}

/// `area` cut into its top rows and its last `bottom` rows (fewer when it has fewer).
fn cut_bottom(area: Rect, bottom: u16) -> (Rect, Rect) {
    let bottom = bottom.min(area.height);
    let top = Rect {
        height: area.height - bottom,
        ..area
    };
    let rest = Rect {
        y: area.y + top.height,
        height: bottom,
        ..area
    };
    (top, rest)
}

/// The log pane's rows in a right column `height` rows tall. At the smallest size the log
/// gives the message line its row, so the editor keeps its height (a log of 5 rows still shows
/// 3 exchanges).
fn log_height(height: u16) -> u16 {
    if height < 23 {
        5
    } else {
        (height * 3 / 10).max(6)
    }
}

/// The layout, shared by drawing and mouse hit-testing.
///
/// Plain arithmetic rather than ratatui's `Layout`: its constraint solver (and the cache it
/// builds on first use) was the largest part of the first frame's own work. A test checks
/// every size against the `Layout` it replaces.
pub fn panes(area: Rect) -> Panes {
    let (rest, status) = cut_bottom(area, 1);
    let (main, message) = cut_bottom(rest, 1);
    let left = (main.width * 3 / 10).clamp(24, 40).min(main.width);
    let profiles = Rect {
        width: left,
        ..main
    };
    let right = Rect {
        x: main.x + left,
        width: main.width - left,
        ..main
    };
    let (editor, log) = cut_bottom(right, log_height(right.height));
    Panes {
        profiles,
        editor,
        log,
        message,
        status,
    }
}

/// The panes of a terminal of `size` (columns, rows).
pub fn panes_for(size: (u16, u16)) -> Panes {
    panes(Rect::new(0, 0, size.0, size.1))
}

/// What the profile list shows: the filtered profiles (indices into the profiles), the
/// selected one, and whether the filter line is shown.
#[derive(Debug, Clone, Copy)]
pub struct ProfileList<'a> {
    /// The profiles that pass the filter, in order.
    pub visible: &'a [usize],
    /// The selected profile, if any.
    pub selected: Option<usize>,
    /// Whether the filter line takes the pane's last row.
    pub filter_shown: bool,
}

impl ProfileList<'_> {
    /// Rows inside the border available for profiles (one is kept for the filter when shown).
    pub fn area(&self, pane: Rect) -> Rect {
        let inner = pane.inner(Margin::new(1, 1));
        if self.filter_shown {
            cut_bottom(inner, 1).0
        } else {
            inner
        }
    }

    /// The first visible row's index into the filtered list, so the selection stays in view.
    pub fn offset(&self, height: u16) -> usize {
        let selected_row = self
            .selected
            .and_then(|s| self.visible.iter().position(|&v| v == s))
            .unwrap_or(0);
        selected_row.saturating_sub(usize::from(height).saturating_sub(1))
    }

    /// The profiles whose rows are on screen in a terminal of `size`: filtered, scrolled,
    /// and none on the "too small" screen.
    pub fn on_screen(&self, size: (u16, u16)) -> Vec<usize> {
        if too_small(size) {
            return Vec::new();
        }
        let list = self.area(panes_for(size).profiles);
        let offset = self.offset(list.height);
        self.visible
            .iter()
            .copied()
            .skip(offset)
            .take(list.height as usize)
            .collect()
    }

    /// Which row of the visible list is at `at` (mouse) in the pane `pane`, accounting for
    /// scrolling.
    pub fn row_at(&self, pane: Rect, at: Position) -> Option<usize> {
        let list = self.area(pane);
        if !list.contains(at) {
            return None;
        }
        let offset = self.offset(list.height);
        Some(offset + (at.y - list.y) as usize)
    }
}

/// Which editor field is at `at` (mouse): fields are the first rows inside the border.
pub fn field_at(pane: Rect, at: Position) -> Option<usize> {
    let inner = pane.inner(Margin::new(1, 1));
    inner.contains(at).then(|| (at.y - inner.y) as usize)
}

/// The editor's scrolled part: the rows inside the border below the `fields` rows (which stay
/// put, so the focused field is always in view).
pub fn editor_rest(pane: Rect, fields: u16) -> Rect {
    let inner = pane.inner(Margin::new(1, 1));
    let fields = fields.min(inner.height);
    Rect::new(
        inner.x,
        inner.y + fields,
        inner.width,
        inner.height - fields,
    )
}

/// The first log entry shown in `height` rows with entry `selected` selected.
pub fn log_offset(selected: usize, height: usize) -> usize {
    selected.saturating_sub(height.saturating_sub(1))
}

/// The log entry at `at` (mouse) in the log pane `pane` of `len` entries, accounting for
/// scrolling.
pub fn log_row_at(pane: Rect, selected: usize, len: usize, at: Position) -> Option<usize> {
    let inner = pane.inner(Margin::new(1, 1));
    if !inner.contains(at) {
        return None;
    }
    let offset = log_offset(selected, inner.height as usize);
    let row = offset + (at.y - inner.y) as usize;
    (row < len).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::{Constraint, Layout};

    /// The panes as ratatui's `Layout` placed them before (the reference for [`panes`]).
    fn by_layout(area: Rect) -> Panes {
        let [main, message, status] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let left = (main.width * 3 / 10).clamp(24, 40);
        let [profiles, right] =
            Layout::horizontal([Constraint::Length(left), Constraint::Min(1)]).areas(main);
        let [editor, log] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(log_height(right.height)),
        ])
        .areas(right);
        Panes {
            profiles,
            editor,
            log,
            message,
            status,
        }
    }

    /// Every width across the list pane's clamp (24 to 40 columns: 80 to 140 wide) and every
    /// height across the log's two rules (below and above 23 rows), then a few large sizes.
    #[test]
    fn panes_match_the_layout_solver_at_every_size_drawn() {
        let widths = (MIN_SIZE.0..=140).chain([160, 200, 255, 300, 500]);
        for width in widths {
            let heights = (MIN_SIZE.1..=40).chain([50, 64, 100, 200]);
            for height in heights {
                let area = Rect::new(0, 0, width, height);
                assert_eq!(panes(area), by_layout(area), "{width}x{height}");
            }
        }
    }

    #[test]
    fn the_filter_line_takes_the_list_pane_s_last_row() {
        let list = ProfileList {
            visible: &[],
            selected: None,
            filter_shown: true,
        };
        let pane = Rect::new(0, 0, 30, 20);
        let [expected, _] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)])
            .areas(pane.inner(Margin::new(1, 1)));
        assert_eq!(list.area(pane), expected);
    }
}
