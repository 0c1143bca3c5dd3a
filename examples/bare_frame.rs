//! The baseline for the start-up budget: a bare ratatui app that draws one full frame (a border
//! and a screenful of text, like the console's first frame) and waits for a key.
//! `benches/startup.py` compares `rekey demo`'s first frame against it.

use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};

fn main() -> std::io::Result<()> {
    let mut terminal = ratatui::init();
    terminal.draw(|frame| {
        let [main, status] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
        let lines: Vec<Line> = (0..main.height)
            .map(|i| {
                Line::from(format!(
                    "row {i}: a line of text in a bare ratatui frame ✓ ✗ •••••"
                ))
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(" Profiles ")),
            main,
        );
        frame.render_widget(Paragraph::new("? help · q quit"), status);
    })?;
    let _ = crossterm::event::read();
    ratatui::restore();
    Ok(())
}
