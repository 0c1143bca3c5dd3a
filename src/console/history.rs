//! The message history: every line the console said on its message line, newest last, so a
//! message cut to fit (or replaced by the next one) can still be read whole (`m`).

use std::collections::VecDeque;

use super::app::Level;

/// How many messages the history keeps.
pub const HISTORY_LEN: usize = 100;

/// The last [`HISTORY_LEN`] messages, oldest first.
#[derive(Debug, Default)]
pub struct History {
    entries: VecDeque<(Level, String)>,
}

impl History {
    /// Records a message, dropping the oldest beyond [`HISTORY_LEN`].
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        if self.entries.len() == HISTORY_LEN {
            self.entries.pop_front();
        }
        self.entries.push_back((level, text.into()));
    }

    /// The messages, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &(Level, String)> + ExactSizeIterator {
        self.entries.iter()
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was said yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_hundred() {
        let mut history = History::default();
        for i in 0..150 {
            history.push(Level::Info, format!("m{i}"));
        }
        assert_eq!(history.len(), HISTORY_LEN);
        assert_eq!(history.iter().next().map(|(_, t)| t.as_str()), Some("m50"));
        assert_eq!(history.iter().last().map(|(_, t)| t.as_str()), Some("m149"));
    }
}
