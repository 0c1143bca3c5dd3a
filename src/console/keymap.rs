//! The console's keys: one table of action → default keys, description and context.
//!
//! The key handlers look actions up here ([`Keymap::action_for`]), the help overlay
//! ([`Keymap::help`]) and the status-bar hints ([`Keymap::hints`]) are rendered from here, and
//! the `[keys]` table of `profiles.toml` replaces an action's keys ([`Keymap::with`]). Nothing
//! about a key is written twice, so help cannot drift from behaviour.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Outside a field (in a field, plain characters are typed; other keys still act).
    Global,
    /// While a change is in flight, before anything else.
    InFlight,
    /// The profile list.
    Profiles,
    /// A focused field.
    Field,
    /// The request log.
    Log,
    /// The rotation dialog.
    Rotation,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Global => "everywhere",
            Context::InFlight => "while a change is in flight",
            Context::Profiles => "the profile list",
            Context::Field => "a field",
            Context::Log => "the log",
            Context::Rotation => "the rotation dialog",
        }
    }
}

macro_rules! actions {
    ($($variant:ident $name:literal,)*) => {
        /// Everything a key can do in the console, named as in `[keys]`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Action {
            /// Every action, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name used in `[keys]`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    FocusNext "focus_next",
    FocusPrev "focus_prev",
    Help "help",
    Quit "quit",
    SendAnyway "send_anyway",
    Check "check",
    Messages "messages",
    Cancel "cancel",
    Up "up",
    Down "down",
    First "first",
    Last "last",
    PageUp "page_up",
    PageDown "page_down",
    Filter "filter",
    Edit "edit",
    Reload "reload",
    Settle "settle",
    Generate "generate",
    Copy "copy",
    Reveal "reveal",
    ClearAll "clear",
    DeleteWordBack "delete_word_back",
    DeleteWordForward "delete_word_forward",
    DeleteToStart "delete_to_start",
    DeleteToEnd "delete_to_end",
    LineStart "line_start",
    LineEnd "line_end",
    PrevField "prev_field",
    NextField "next_field",
    NextOrSend "next_or_send",
    Back "back",
    Show "show",
    ScrollUp "scroll_up",
    ScrollDown "scroll_down",
    Mark "mark",
    Rotate "rotate",
    StopRotation "stop_rotation",
}

/// One row of the table.
pub struct Binding {
    /// The action.
    pub action: Action,
    /// Its keys unless `[keys]` says otherwise, as written in `[keys]`.
    pub keys: &'static [&'static str],
    /// Where it acts.
    pub contexts: &'static [Context],
    /// What it does (for `[keys]` errors and the README).
    pub description: &'static str,
}

use Context::{Field, Global, InFlight, Log, Profiles, Rotation};

/// The table: every action, in [`Action::ALL`] order, with its default keys.
pub const TABLE: &[Binding] = &[
    b(Action::FocusNext, &["tab"], &[Global], "move focus forward"),
    b(
        Action::FocusPrev,
        &["shift-tab"],
        &[Global],
        "move focus back",
    ),
    b(Action::Help, &["?", "f1"], &[Global], "this help"),
    b(Action::Quit, &["q"], &[Global], "quit"),
    b(
        Action::SendAnyway,
        &["ctrl-o"],
        &[Global],
        "send although locked",
    ),
    b(
        Action::Check,
        &["f5"],
        &[Global],
        "check an unknown outcome",
    ),
    b(Action::Messages, &["m"], &[Global], "the last 100 messages"),
    b(
        Action::Cancel,
        &["esc"],
        &[InFlight],
        "cancel the change in flight",
    ),
    b(
        Action::Up,
        &["up", "k"],
        &[Profiles, Log],
        "select the previous one",
    ),
    b(
        Action::Down,
        &["down", "j"],
        &[Profiles, Log],
        "select the next one",
    ),
    b(
        Action::First,
        &["home", "g"],
        &[Profiles, Log],
        "select the first one",
    ),
    b(
        Action::Last,
        &["end", "G"],
        &[Profiles, Log],
        "select the last one",
    ),
    b(Action::PageUp, &["pageup"], &[Profiles], "select 10 up"),
    b(
        Action::PageDown,
        &["pagedown"],
        &[Profiles],
        "select 10 down",
    ),
    b(Action::Filter, &["/"], &[Profiles], "filter the profiles"),
    b(
        Action::Edit,
        &["enter", "right", "l"],
        &[Profiles],
        "edit the selected profile",
    ),
    b(Action::Reload, &["r"], &[Profiles], "reload the config"),
    b(
        Action::Settle,
        &["R"],
        &[Profiles],
        "settle an unsettled change",
    ),
    b(
        Action::Generate,
        &["ctrl-g"],
        &[Field],
        "generate a new password",
    ),
    b(Action::Copy, &["ctrl-y"], &[Field], "copy the new password"),
    b(
        Action::Reveal,
        &["ctrl-r"],
        &[Field],
        "reveal the field for 5 s",
    ),
    b(Action::ClearAll, &["ctrl-x"], &[Field], "clear every field"),
    b(
        Action::DeleteWordBack,
        &["ctrl-w", "ctrl-backspace", "alt-backspace"],
        &[Field],
        "delete a word back",
    ),
    b(
        Action::DeleteWordForward,
        &["alt-d", "ctrl-delete"],
        &[Field],
        "delete a word forward",
    ),
    b(
        Action::DeleteToStart,
        &["ctrl-u"],
        &[Field],
        "delete to the start",
    ),
    b(
        Action::DeleteToEnd,
        &["ctrl-k"],
        &[Field],
        "delete to the end",
    ),
    b(
        Action::LineStart,
        &["ctrl-a", "home"],
        &[Field],
        "cursor to the start",
    ),
    b(
        Action::LineEnd,
        &["ctrl-e", "end"],
        &[Field],
        "cursor to the end",
    ),
    b(Action::PrevField, &["up"], &[Field], "previous field"),
    b(Action::NextField, &["down"], &[Field], "next field"),
    b(
        Action::NextOrSend,
        &["enter"],
        &[Field],
        "next field, or send",
    ),
    b(Action::Back, &["esc"], &[Field], "back to the list"),
    b(
        Action::Show,
        &["enter"],
        &[Log],
        "show the exchange in full",
    ),
    b(
        Action::ScrollUp,
        &["pageup"],
        &[Field],
        "scroll the editor up",
    ),
    b(
        Action::ScrollDown,
        &["pagedown"],
        &[Field],
        "scroll the editor down",
    ),
    b(
        Action::Mark,
        &["space"],
        &[Profiles],
        "mark the profile for rotation (again: unmark)",
    ),
    b(
        Action::Rotate,
        &["o"],
        &[Profiles],
        "rotate the marked profiles (or the selected one)",
    ),
    b(
        Action::StopRotation,
        &["s"],
        &[Rotation],
        "stop starting new changes (those in flight finish)",
    ),
];

const fn b(
    action: Action,
    keys: &'static [&'static str],
    contexts: &'static [Context],
    description: &'static str,
) -> Binding {
    Binding {
        action,
        keys,
        contexts,
        description,
    }
}

/// A row of the help: the actions it shows (none for keys that cannot be rebound), how their
/// default keys read, and what they do.
struct HelpRow {
    actions: &'static [Action],
    /// Between the actions' keys when some are overridden.
    sep: &'static str,
    /// The keys as shown while none of `actions` is overridden (or the fixed keys).
    keys: &'static str,
    what: &'static str,
}

const fn row(
    actions: &'static [Action],
    sep: &'static str,
    keys: &'static str,
    what: &'static str,
) -> HelpRow {
    HelpRow {
        actions,
        sep,
        keys,
        what,
    }
}

use Action as A;

/// The help, in order. Every action of [`TABLE`] is on a row (a test proves it).
const HELP: &[HelpRow] = &[
    row(
        &[A::FocusNext, A::FocusPrev],
        " / ",
        "Tab / Shift-Tab",
        "move focus: profiles, each field, log (or click)",
    ),
    row(
        &[A::Up, A::Down, A::First, A::Last, A::PageUp, A::PageDown],
        " ",
        "↑↓ jk Home End",
        "profiles: select (switching wipes typed secrets)",
    ),
    row(
        &[A::Edit],
        " ",
        "Enter → l",
        "profiles: edit the selected profile",
    ),
    row(
        &[A::Mark, A::Rotate, A::StopRotation],
        "  ",
        "Space  o  s",
        "profiles: mark / rotate the marked; dialog: stop new ones",
    ),
    row(
        &[A::Filter, A::Reload, A::Settle],
        "  ",
        "/  r  R",
        "profiles: filter / reload the config / settle (unsettled)",
    ),
    row(
        &[],
        "",
        "type / paste",
        "field: edit (bracketed paste supported)",
    ),
    row(
        &[A::LineStart, A::LineEnd],
        "  ",
        "← → Home End ^A ^E",
        "field: move the cursor (Ctrl-← → by word only while shown)",
    ),
    row(
        &[],
        "",
        "Bksp Del",
        "field: delete a character before / under the cursor",
    ),
    row(
        &[A::DeleteWordBack, A::DeleteWordForward],
        "  ",
        "Ctrl-W  Alt-D",
        "field: delete a word back / forward (Alt-Bksp, Ctrl-Del)",
    ),
    row(
        &[A::DeleteToStart, A::DeleteToEnd],
        "  ",
        "Ctrl-U  Ctrl-K",
        "field: delete to the start / to the end",
    ),
    row(
        &[
            A::PrevField,
            A::NextField,
            A::NextOrSend,
            A::ScrollUp,
            A::ScrollDown,
        ],
        "  ",
        "↑ ↓ Enter PgUp PgDn",
        "field: previous / next (Enter on the last sends) / scroll",
    ),
    row(
        &[A::Generate, A::Copy],
        "  ",
        "Ctrl-G  Ctrl-Y",
        "generate into new + confirm / copy new (clears in 45 s)",
    ),
    row(
        &[A::Reveal, A::ClearAll],
        "  ",
        "Ctrl-R  Ctrl-X",
        "reveal the focused field for 5 s / clear every field",
    ),
    row(
        &[A::Cancel, A::Back],
        " / ",
        "Esc",
        "cancel a change in flight; field: back to the list",
    ),
    row(
        &[A::SendAnyway],
        " ",
        "Ctrl-O",
        "after a locked refusal: send anyway (asks first)",
    ),
    row(
        &[A::Check],
        " ",
        "F5",
        "after an unknown outcome: check it (IAM, CIAM)",
    ),
    row(
        &[A::Show],
        " ",
        "↑ ↓  Enter",
        "log: select an exchange / show it in full",
    ),
    row(
        &[],
        "",
        "y / n  Enter",
        "answer a question (Esc and Enter give the safe answer)",
    ),
    row(
        &[A::Messages],
        " ",
        "m",
        "the last 100 messages, whole (↑↓ PgUp PgDn scroll)",
    ),
    row(&[A::Help], " ", "? or F1", "this help (F1 inside a field)"),
    row(
        &[A::Quit],
        " ",
        "q",
        "quit (outside a field; asks while a change is open)",
    ),
    row(
        &[],
        "",
        "Ctrl-C",
        "quit, wiping secrets (twice while a change is open)",
    ),
];

/// A hint of the status bar: actions, how their default keys read, the word.
struct Hint {
    actions: &'static [Action],
    keys: &'static str,
    word: &'static str,
}

const fn hint(actions: &'static [Action], keys: &'static str, word: &'static str) -> Hint {
    Hint {
        actions,
        keys,
        word,
    }
}

/// Which hints line the status bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintsFor {
    /// The profile list, an unsettled change selected.
    Unsettled,
    /// The profile list.
    Profiles,
    /// The profile list with profiles marked for rotation.
    Marked,
    /// A field.
    Field,
    /// The log.
    Log,
}

const HINTS_UNSETTLED: &[Hint] = &[
    hint(&[A::Settle], "R", "settle"),
    hint(&[A::Up, A::Down], "↑↓/jk", "select"),
    hint(&[A::Edit], "Enter", "edit"),
    hint(&[A::Filter], "/", "filter"),
    hint(&[A::Reload], "r", "reload"),
    hint(&[A::Help], "?", "help"),
    hint(&[A::Quit], "q", "quit"),
];
const HINTS_PROFILES: &[Hint] = &[
    hint(&[A::Up, A::Down], "↑↓/jk", "select"),
    hint(&[A::Edit], "Enter", "edit"),
    hint(&[A::Filter], "/", "filter"),
    hint(&[A::Reload], "r", "reload"),
    hint(&[A::FocusNext], "Tab", "next"),
    hint(&[A::Help], "?", "help"),
    hint(&[A::Quit], "q", "quit"),
];
const HINTS_MARKED: &[Hint] = &[
    hint(&[A::Rotate], "o", "rotate marked"),
    hint(&[A::Mark], "Space", "mark"),
    hint(&[A::Up, A::Down], "↑↓/jk", "select"),
    hint(&[A::Filter], "/", "filter"),
    hint(&[A::Help], "?", "help"),
    hint(&[A::Quit], "q", "quit"),
];
const HINTS_FIELD: &[Hint] = &[
    hint(&[A::NextOrSend], "Enter", "next/send"),
    hint(&[A::Generate], "^G", "generate"),
    hint(&[A::Reveal], "^R", "reveal"),
    hint(&[A::Copy], "^Y", "copy"),
    hint(&[A::ClearAll], "^X", "clear"),
    hint(&[A::Help], "F1", "help"),
];
const HINTS_LOG: &[Hint] = &[
    hint(&[A::Up, A::Down], "↑↓", "select"),
    hint(&[A::Show], "Enter", "show exchange"),
    hint(&[A::FocusNext], "Tab", "next"),
    hint(&[A::Help], "?", "help"),
    hint(&[A::Quit], "q", "quit"),
];

/// One key: a code and Ctrl/Alt (Shift is in the character, or Shift-Tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    code: KeyCode,
    mods: KeyModifiers,
}

const MODS: KeyModifiers = KeyModifiers::CONTROL.union(KeyModifiers::ALT);

impl Chord {
    /// A chord as written in `[keys]`: `q`, `R`, `?`, `ctrl-s`, `alt-d`, `shift-tab`, `f5`,
    /// `enter`, `esc`, `space`, `up`, `pagedown`… Names are case-insensitive; a single
    /// character is taken as is.
    pub fn parse(text: &str) -> Result<Chord, String> {
        let mut mods = KeyModifiers::NONE;
        let mut shift = false;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl-") {
                (Some(KeyModifiers::CONTROL), 5)
            } else if lower.starts_with("alt-") {
                (Some(KeyModifiers::ALT), 4)
            } else if lower.starts_with("shift-") {
                (None, 6)
            } else {
                break;
            };
            if rest.len() == len {
                break;
            }
            match m {
                Some(m) => mods |= m,
                None => shift = true,
            }
            rest = &rest[len..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => {
                let c = if shift {
                    c.to_uppercase().next().unwrap_or(c)
                } else if !mods.is_empty() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    c
                };
                shift = false;
                KeyCode::Char(c)
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if shift => {
                    shift = false;
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" | "bksp" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                f if f.len() > 1
                    && f.starts_with('f')
                    && let Ok(n @ 1..=12) = f[1..].parse::<u8>() =>
                {
                    KeyCode::F(n)
                }
                _ => {
                    return Err(format!(
                        "`{}` is not a key",
                        crate::text::escape_capped(text, 24)
                    ));
                }
            },
        };
        if shift {
            return Err(format!(
                "`{}`: Shift goes with letters and Tab only",
                crate::text::escape(text)
            ));
        }
        Ok(Chord { code, mods })
    }

    fn of(key: &KeyEvent) -> Chord {
        Chord {
            code: key.code,
            mods: key.modifiers & MODS,
        }
    }

    /// A plain character, which a field types rather than acts on.
    fn is_typed(self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && self.mods.is_empty()
    }

    /// How help shows it: `Ctrl-S`, `Alt-D`, `F5`, `↑`, `q`.
    pub fn label(self) -> String {
        self.show("Ctrl-")
    }

    /// How the status bar shows it: `^S`.
    fn short(self) -> String {
        self.show("^")
    }

    fn show(self, ctrl: &str) -> String {
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push_str(ctrl);
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("Alt-");
        }
        let modified = !self.mods.is_empty();
        match self.code {
            KeyCode::Char(' ') => out.push_str("Space"),
            KeyCode::Char(c) if modified => out.extend(c.to_uppercase()),
            KeyCode::Char(c) => out.push(c),
            KeyCode::Enter => out.push_str("Enter"),
            KeyCode::Esc => out.push_str("Esc"),
            KeyCode::Tab => out.push_str("Tab"),
            KeyCode::BackTab => out.push_str("Shift-Tab"),
            KeyCode::Backspace => out.push_str("Bksp"),
            KeyCode::Delete => out.push_str("Del"),
            KeyCode::Insert => out.push_str("Ins"),
            KeyCode::Up => out.push('↑'),
            KeyCode::Down => out.push('↓'),
            KeyCode::Left => out.push('←'),
            KeyCode::Right => out.push('→'),
            KeyCode::Home => out.push_str("Home"),
            KeyCode::End => out.push_str("End"),
            KeyCode::PageUp => out.push_str("PgUp"),
            KeyCode::PageDown => out.push_str("PgDn"),
            KeyCode::F(n) => out.push_str(&format!("F{n}")),
            other => out.push_str(&format!("{other:?}")),
        }
        out
    }
}

/// Why a `[keys]` table cannot be used: which override (index into what was given), what is
/// wrong and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysError {
    /// The override at fault.
    pub at: usize,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// The keys in force: the table's defaults with the config's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// Per action, in [`Action::ALL`] order.
    keys: Vec<Vec<Chord>>,
    overridden: Vec<bool>,
}

/// The table's keys, parsed once (a config and the console each start from them).
static DEFAULTS: std::sync::LazyLock<Keymap> = std::sync::LazyLock::new(|| Keymap {
    keys: TABLE
        .iter()
        .map(|b| {
            b.keys
                .iter()
                .map(|k| Chord::parse(k).expect("default keys parse"))
                .collect()
        })
        .collect(),
    overridden: vec![false; TABLE.len()],
});

impl Default for Keymap {
    fn default() -> Self {
        DEFAULTS.clone()
    }
}

/// Whether two contexts see the same keys: the same one, or the global keys beside a list
/// (which they would shadow). A field's own keys come before the global ones, and the keys
/// that cancel a change in flight come before everything while one is.
fn overlap(a: Context, b: Context) -> bool {
    a == b
        || matches!(
            (a, b),
            (Global, Profiles) | (Global, Log) | (Profiles, Global) | (Log, Global)
        )
}

fn entry(action: Action) -> &'static Binding {
    &TABLE[action as usize]
}

impl Keymap {
    /// The defaults with `overrides` (each replaces its action's keys), refused when an action
    /// would be given no key, a field action a plain character (the field types it), or two
    /// actions the same key where both act.
    pub fn with(overrides: &[(Action, Vec<Chord>)]) -> Result<Keymap, KeysError> {
        let mut map = Keymap::default();
        for (at, (action, chords)) in overrides.iter().enumerate() {
            let i = *action as usize;
            if chords.is_empty() {
                return Err(KeysError {
                    at,
                    message: format!("`{}` has no key", action.name()),
                    fix: format!(
                        "give it one or more keys, e.g. {} = {:?}, or remove the line",
                        action.name(),
                        entry(*action).keys
                    ),
                });
            }
            if entry(*action).contexts.contains(&Field)
                && let Some(typed) = chords.iter().find(|c| c.is_typed())
            {
                return Err(KeysError {
                    at,
                    message: format!(
                        "`{}` acts in a field, where `{}` is typed",
                        action.name(),
                        typed.label()
                    ),
                    fix: "bind it with Ctrl or Alt (e.g. \"ctrl-n\"), an F key or a named key"
                        .into(),
                });
            }
            map.keys[i] = chords.clone();
            map.overridden[i] = true;
        }
        // Two actions on one key where both act: name the override that made it so.
        for (at, (action, chords)) in overrides.iter().enumerate() {
            for chord in chords {
                for other in Action::ALL {
                    if other == action || !map.keys[*other as usize].contains(chord) {
                        continue;
                    }
                    // Where both act: the narrower of the two contexts.
                    let shared = entry(*action).contexts.iter().find_map(|a| {
                        entry(*other)
                            .contexts
                            .iter()
                            .find(|b| overlap(*a, **b))
                            .map(|b| if *a == Global { b } else { a })
                    });
                    if let Some(context) = shared {
                        return Err(KeysError {
                            at,
                            message: format!(
                                "`{}` is bound to both `{}` and `{}` in {}",
                                chord.label(),
                                action.name(),
                                other.name(),
                                context.name()
                            ),
                            fix: format!(
                                "choose another key for `{}`, or give `{}` other keys in [keys] too",
                                action.name(),
                                other.name()
                            ),
                        });
                    }
                }
            }
        }
        Ok(map)
    }

    /// The action `key` triggers in `context`, if any.
    pub fn action_for(&self, key: &KeyEvent, context: Context) -> Option<Action> {
        let chord = Chord::of(key);
        Action::ALL.iter().copied().find(|a| {
            entry(*a).contexts.contains(&context) && self.keys[*a as usize].contains(&chord)
        })
    }

    /// The keys of `action` now.
    pub fn keys(&self, action: Action) -> &[Chord] {
        &self.keys[action as usize]
    }

    /// Whether `[keys]` changed any of `actions`.
    fn changed(&self, actions: &[Action]) -> bool {
        actions.iter().any(|a| self.overridden[*a as usize])
    }

    /// The help's rows: (keys, what they do), every action on one.
    pub fn help(&self) -> Vec<(String, String)> {
        HELP.iter()
            .map(|r| {
                let keys = if self.changed(r.actions) {
                    r.actions
                        .iter()
                        .map(|a| {
                            self.keys(*a)
                                .iter()
                                .map(|c| c.label())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect::<Vec<_>>()
                        .join(r.sep)
                } else {
                    r.keys.to_string()
                };
                (keys, r.what.to_string())
            })
            .collect()
    }

    /// The status bar's hints line.
    pub fn hints(&self, which: HintsFor) -> String {
        self.hint_items(which).join(" · ")
    }

    /// How messages name the key of `action` as bound: its first key's help label (`Ctrl-O`),
    /// so a message never names a key that `[keys]` moved elsewhere.
    pub fn label(&self, action: Action) -> String {
        self.keys(action)
            .first()
            .map_or_else(|| "(unbound)".to_string(), |c| c.label())
    }

    /// The hint for Ctrl-O (as bound), shown first while a lock refusal is pending.
    pub fn send_anyway_hint(&self) -> String {
        let keys = self
            .keys(Action::SendAnyway)
            .first()
            .map_or_else(|| "^O".to_string(), |c| c.short());
        format!("{keys} send anyway")
    }

    /// The status bar's hints, one item each ("Enter edit"), most important first but for the
    /// last (help), which a narrow bar keeps.
    pub fn hint_items(&self, which: HintsFor) -> Vec<String> {
        let hints = match which {
            HintsFor::Unsettled => HINTS_UNSETTLED,
            HintsFor::Profiles => HINTS_PROFILES,
            HintsFor::Marked => HINTS_MARKED,
            HintsFor::Field => HINTS_FIELD,
            HintsFor::Log => HINTS_LOG,
        };
        hints
            .iter()
            .map(|h| {
                let keys = if self.changed(h.actions) {
                    h.actions
                        .iter()
                        .filter_map(|a| {
                            // In a field, plain characters are typed: show a key that acts.
                            let keys = self.keys(*a);
                            let usable = keys
                                .iter()
                                .find(|c| which != HintsFor::Field || !c.is_typed());
                            usable.or(keys.first()).map(|c| c.short())
                        })
                        .collect::<Vec<_>>()
                        .join("/")
                } else {
                    h.keys.to_string()
                };
                format!("{keys} {}", h.word)
            })
            .collect()
    }
}

/// The action called `name` in `[keys]`.
pub fn action_named(name: &str) -> Option<Action> {
    Action::ALL.iter().copied().find(|a| a.name() == name)
}

/// Every action name, for messages.
pub fn action_names() -> Vec<&'static str> {
    Action::ALL.iter().map(|a| a.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_action_order_and_its_keys_parse() {
        assert_eq!(TABLE.len(), Action::ALL.len());
        for (i, b) in TABLE.iter().enumerate() {
            assert_eq!(b.action as usize, i, "{:?}", b.action);
            for k in b.keys {
                Chord::parse(k).expect(k);
            }
        }
        Keymap::with(&[]).expect("the defaults do not conflict");
    }

    #[test]
    fn every_action_is_in_the_help() {
        for a in Action::ALL {
            assert!(
                HELP.iter().any(|r| r.actions.contains(a)),
                "{} has no help row",
                a.name()
            );
        }
    }

    #[test]
    fn chords_parse_and_show() {
        let c = Chord::parse("ctrl-S").unwrap();
        assert_eq!(c.label(), "Ctrl-S");
        assert_eq!(c.short(), "^S");
        assert_eq!(Chord::parse("shift-tab").unwrap().label(), "Shift-Tab");
        assert_eq!(Chord::parse("R").unwrap().label(), "R");
        assert_eq!(Chord::parse("F5").unwrap().label(), "F5");
        assert_eq!(Chord::parse("-").unwrap().label(), "-");
        assert!(Chord::parse("hyper-x").is_err());
        assert!(Chord::parse("f13").is_err());
    }
}
