//! The mouse: clicks and scrolls hit-tested with [`crate::console::layout`].

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use crate::console::layout;

use super::{App, Focus, Overlay};

impl App {
    pub(super) fn on_mouse(&mut self, mouse: MouseEvent) {
        if self.overlay.is_some() {
            if let MouseEventKind::Down(_) = mouse.kind
                && self.overlay == Some(Overlay::Help)
            {
                self.overlay = None;
            }
            return;
        }
        let at = Position::new(mouse.column, mouse.row);
        let panes = layout::panes_for(self.size);
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if panes.profiles.contains(at) {
                    self.filter_editing = false;
                    self.focus = Focus::Profiles;
                    let visible = self.visible();
                    if let Some(row) = self.profile_list(&visible).row_at(panes.profiles, at)
                        && let Some(&index) = visible.get(row)
                    {
                        self.select(Some(index));
                    }
                } else if panes.editor.contains(at) {
                    let fields = self.editor.as_ref().map_or(0, |e| e.fields.len());
                    if let Some(i) = layout::field_at(panes.editor, at)
                        && i < fields
                    {
                        self.focus = Focus::Field(i);
                    }
                } else if panes.log.contains(at) {
                    self.focus = Focus::Log;
                    if let Some(row) =
                        layout::log_row_at(panes.log, self.log_selected, self.log.len(), at)
                    {
                        self.log_selected = row;
                    }
                }
            }
            MouseEventKind::ScrollDown if panes.profiles.contains(at) => self.move_selection(1),
            MouseEventKind::ScrollUp if panes.profiles.contains(at) => self.move_selection(-1),
            _ => {}
        }
    }
}
