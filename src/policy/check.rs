//! The live checklist: one line per rule, pass or fail, recomputed on every keystroke.
//!
//! A check is one pass over the password's characters plus a few comparisons; the only heap
//! work is one label per rule. Labels are built from the policy and from counts, never from the
//! password's characters.

use super::{ClassScheme, Needle, Policy, RuleSource, Specials};

/// Inputs to a check: all borrowed, nothing copied.
#[derive(Clone, Copy)]
pub struct Candidate<'a> {
    /// The new password.
    pub new: &'a str,
    /// The confirmation field.
    pub confirm: &'a str,
    /// The current password, for kinds that send it.
    pub current: Option<&'a str>,
}

/// Which rule a checklist line is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Length in characters (code points) within the policy's bounds.
    Length,
    /// Enough character classes (lowercase, uppercase, digits, symbols).
    Classes,
    /// Only characters the provider accepts.
    AllowedChars,
    /// No character repeated consecutively more often than allowed.
    Repeats,
    /// Not the user name or the user name reversed.
    NotUserName,
    /// Does not contain a context value (the email address or phone number).
    NotContains,
    /// Differs from the current password.
    DiffersFromCurrent,
    /// The confirmation equals the new password.
    ConfirmMatches,
}

impl Rule {
    /// A stable snake_case name for JSON output, e.g. `allowed_chars`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Length => "length",
            Rule::Classes => "classes",
            Rule::AllowedChars => "allowed_chars",
            Rule::Repeats => "repeats",
            Rule::NotUserName => "not_user_name",
            Rule::NotContains => "not_contains",
            Rule::DiffersFromCurrent => "differs_from_current",
            Rule::ConfirmMatches => "confirm_matches",
        }
    }
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckItem {
    /// The rule checked.
    pub rule: Rule,
    /// What the rule asks, with counts where useful; never contains password characters.
    pub label: String,
    /// Whether the typed password satisfies it.
    pub passed: bool,
    /// Who set the rule.
    pub source: RuleSource,
}

/// The result of [`check`]: every rule in display order, and an optional note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checklist {
    /// One line per rule, in display order.
    pub items: Vec<CheckItem>,
    /// A note shown under the list, e.g. that the provider checks its policy on the server.
    pub note: Option<&'static str>,
}

impl Checklist {
    /// Whether every rule passed.
    pub fn all_passed(&self) -> bool {
        self.items.iter().all(|i| i.passed)
    }

    /// The rules that failed, in display order.
    pub fn failures(&self) -> impl Iterator<Item = &CheckItem> {
        self.items.iter().filter(|i| !i.passed)
    }

    /// The first line about `rule`, if the policy has that rule.
    pub fn item(&self, rule: Rule) -> Option<&CheckItem> {
        self.items.iter().find(|i| i.rule == rule)
    }
}

/// Checks the typed fields against `policy`. Cheap enough for every keystroke.
///
/// Rules that need context appear only when the context is known: the user-name rule needs a
/// user name, the "does not contain" rules an email or phone. The differs-from-current rule is
/// always shown for kinds that send the current password; while the current password is empty
/// it passes, with "(current password not entered)" in its label, because there is nothing to
/// compare yet (the editor requires the current password separately).
pub fn check(policy: &Policy, c: &Candidate<'_>) -> Checklist {
    let scan = Scan::of(policy, c.new);
    let mut items = Vec::with_capacity(9);

    items.push(CheckItem {
        rule: Rule::Length,
        label: length_label(policy, scan.chars),
        passed: policy.length_ok(scan.chars),
        source: policy.length_source(),
    });
    if let Some(required) = policy.required_classes {
        items.push(CheckItem {
            rule: Rule::Classes,
            label: classes_label(policy, required.value, scan.class_count(policy.scheme)),
            passed: scan.class_count(policy.scheme) >= required.value,
            source: required.source,
        });
    }
    if let Some(source) = policy.restricted_chars {
        items.push(CheckItem {
            rule: Rule::AllowedChars,
            label: allowed_label(&policy.specials, scan.offences),
            passed: scan.offences == 0,
            source,
        });
    }
    if let Some(max) = policy.max_repeats {
        items.push(CheckItem {
            rule: Rule::Repeats,
            label: if max.value == 1 {
                "No character twice in a row".to_owned()
            } else {
                format!("No character more than {} times in a row", max.value)
            },
            passed: scan.longest_run <= max.value,
            source: max.source,
        });
    }
    if let (Some(source), Some(user)) = (policy.not_user_name, &policy.user_name) {
        items.push(CheckItem {
            rule: Rule::NotUserName,
            label: "Not the user name or the user name reversed".to_owned(),
            passed: !is_user_name(c.new, user),
            source,
        });
    }
    let provider = RuleSource::Provider(policy.kind);
    for (needle, what) in [
        (&policy.email, "the email address"),
        (&policy.phone, "the phone number"),
    ] {
        if let Some(needle) = needle {
            items.push(CheckItem {
                rule: Rule::NotContains,
                label: format!("Does not contain {what}"),
                passed: !contains_ci(c.new, &needle.forward),
                source: provider,
            });
        }
    }
    if policy.differs_from_current {
        let current = c.current.unwrap_or("");
        items.push(CheckItem {
            rule: Rule::DiffersFromCurrent,
            label: if current.is_empty() {
                "Differs from the current password (current password not entered)".to_owned()
            } else {
                "Differs from the current password".to_owned()
            },
            passed: current.is_empty() || c.new != current,
            source: provider,
        });
    }
    items.push(CheckItem {
        rule: Rule::ConfirmMatches,
        label: if c.confirm.is_empty() {
            "Confirmation matches (not entered)".to_owned()
        } else {
            "Confirmation matches".to_owned()
        },
        passed: !c.confirm.is_empty() && c.confirm == c.new,
        source: RuleSource::Rekey,
    });

    Checklist {
        items,
        note: policy.note,
    }
}

impl Policy {
    /// Whether a length in characters is within bounds.
    pub(crate) fn length_ok(&self, chars: usize) -> bool {
        chars >= self.min_length.value && self.max_length.is_none_or(|m| chars <= m.value)
    }

    /// Whether `text` passes every rule that does not depend on the current password or the
    /// confirmation; the generator also refuses any text containing the user name.
    pub(crate) fn accepts_generated(&self, text: &str) -> bool {
        let scan = Scan::of(self, text);
        let user_ok = self.user_name.as_ref().is_none_or(|u| {
            // A very short user name would match too many random strings to be worth avoiding.
            !is_user_name(text, u) && (u.forward.len() < 3 || !contains_ci(text, &u.forward))
        });
        let context_ok = [&self.email, &self.phone]
            .into_iter()
            .flatten()
            .all(|n| !contains_ci(text, &n.forward));
        self.length_ok(scan.chars)
            && self
                .required_classes
                .is_none_or(|r| scan.class_count(self.scheme) >= r.value)
            && (self.restricted_chars.is_none() || scan.offences == 0)
            && self.max_repeats.is_none_or(|m| scan.longest_run <= m.value)
            && user_ok
            && context_ok
    }
}

/// Class bits.
const LOWER: u8 = 1;
const UPPER: u8 = 2;
const DIGIT: u8 = 4;
const SYMBOL: u8 = 8;

/// Kinds of disallowed character, so they can be named without being shown.
const SPACE: u8 = 1;
const CONTROL: u8 = 2;
const NON_ASCII: u8 = 4;
const OTHER_SYMBOL: u8 = 8;

/// What one pass over a password found: counts and bit sets, no characters.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    /// Length in code points.
    chars: usize,
    /// Class bits present.
    classes: u8,
    /// Kinds of character outside letters, digits and the symbol set.
    offences: u8,
    /// The longest run of one repeated character.
    longest_run: usize,
}

impl Scan {
    fn of(policy: &Policy, text: &str) -> Scan {
        let mut scan = Scan::default();
        let mut prev = None;
        let mut run = 0;
        for c in text.chars() {
            scan.chars += 1;
            if prev == Some(c) {
                run += 1;
            } else {
                run = 1;
                prev = Some(c);
            }
            scan.longest_run = scan.longest_run.max(run);
            scan.classes |= if c.is_ascii_lowercase() {
                LOWER
            } else if c.is_ascii_uppercase() {
                UPPER
            } else if c.is_ascii_digit() {
                DIGIT
            } else if policy.specials.contains(c) {
                SYMBOL
            } else {
                scan.offences |= if c == ' ' {
                    SPACE
                } else if c.is_control() {
                    CONTROL
                } else if !c.is_ascii() {
                    NON_ASCII
                } else {
                    OTHER_SYMBOL
                };
                0
            };
        }
        scan
    }

    /// How many classes are present under `scheme`.
    fn class_count(&self, scheme: ClassScheme) -> u8 {
        match scheme {
            ClassScheme::LettersDigitsSymbols => {
                u8::from(self.classes & (LOWER | UPPER) != 0)
                    + u8::from(self.classes & DIGIT != 0)
                    + u8::from(self.classes & SYMBOL != 0)
            }
            // At most four bits are ever set, so the count fits.
            ClassScheme::LowerUpperDigitsSymbols => self.classes.count_ones() as u8,
        }
    }
}

/// Whether `text` is the user name or the user name reversed, ignoring case.
fn is_user_name(text: &str, user: &Needle) -> bool {
    eq_ci(text, &user.forward) || eq_ci(text, &user.reversed)
}

/// Whether `text`, lowercased, equals `needle` (already lowercased). No allocation.
fn eq_ci(text: &str, needle: &[char]) -> bool {
    text.chars()
        .flat_map(char::to_lowercase)
        .eq(needle.iter().copied())
}

/// Whether `text`, lowercased, contains `needle` (already lowercased). No allocation; the
/// quadratic worst case is bounded by the field size (128 characters).
fn contains_ci(text: &str, needle: &[char]) -> bool {
    !needle.is_empty()
        && text.char_indices().any(|(i, _)| {
            let mut rest = text[i..].chars().flat_map(char::to_lowercase);
            needle.iter().all(|&n| rest.next() == Some(n))
        })
}

fn length_label(policy: &Policy, now: usize) -> String {
    let min = policy.min_length.value;
    match policy.max_length {
        Some(max) if max.value == min => format!("Exactly {min} characters (now {now})"),
        Some(max) => format!("{min}–{} characters (now {now})", max.value),
        None => format!("At least {min} characters (now {now})"),
    }
}

fn classes_label(policy: &Policy, required: u8, now: u8) -> String {
    let names: &[&str] = match policy.scheme {
        ClassScheme::LettersDigitsSymbols => &["letters", "digits", "symbols"],
        ClassScheme::LowerUpperDigitsSymbols => &["lowercase", "uppercase", "digits", "symbols"],
    };
    // Without any symbols there is no symbol class to count.
    let names = if policy.specials.is_empty() {
        &names[..names.len() - 1]
    } else {
        names
    };
    format!("At least {required} of: {} (now {now})", names.join(", "))
}

fn allowed_label(specials: &Specials, offences: u8) -> String {
    let mut label = match specials {
        Specials::AsciiSymbols => "Only ASCII letters, digits, symbols and space".to_owned(),
        Specials::Only(set) if set.is_empty() => "Only ASCII letters and digits".to_owned(),
        Specials::Only(set) if set.contains(' ') => {
            let rest: String = set.chars().filter(|&c| c != ' ').collect();
            if rest.is_empty() {
                "Only ASCII letters, digits and space".to_owned()
            } else {
                format!("Only ASCII letters, digits, space and {rest}")
            }
        }
        Specials::Only(set) => format!("Only ASCII letters, digits and {set}"),
    };
    if offences != 0 {
        let found: Vec<&str> = [
            (SPACE, "a space"),
            (CONTROL, "a control character"),
            (NON_ASCII, "a non-ASCII character"),
            (OTHER_SYMBOL, "another symbol"),
        ]
        .into_iter()
        .filter(|(bit, _)| offences & bit != 0)
        .map(|(_, name)| name)
        .collect();
        label.push_str(" (found ");
        label.push_str(&found.join(", "));
        label.push(')');
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;

    #[test]
    fn rule_names_are_distinct_snake_case() {
        let all = [
            Rule::Length,
            Rule::Classes,
            Rule::AllowedChars,
            Rule::Repeats,
            Rule::NotUserName,
            Rule::NotContains,
            Rule::DiffersFromCurrent,
            Rule::ConfirmMatches,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert_eq!(Rule::AllowedChars.as_str(), "allowed_chars");
    }

    #[test]
    fn case_insensitive_matching_handles_unicode_and_edges() {
        let n = Needle::new("Ärger").expect("non-empty");
        assert!(eq_ci("äRGER", &n.forward));
        assert!(eq_ci("REGRä", &n.reversed));
        assert!(!eq_ci("ärge", &n.forward));
        assert!(contains_ci("x1ÄRGERy", &n.forward));
        assert!(!contains_ci("ärg", &n.forward));
        assert!(!contains_ci("anything", &[]));
        assert!(Needle::new("  ").is_none());
    }

    #[test]
    fn scan_counts_runs_classes_and_offences() {
        let p = Policy::for_kind(Kind::TencentBmVpn);
        let s = Scan::of(&p, "aaB1!  é\u{1}@");
        assert_eq!(s.chars, 10);
        assert_eq!(s.longest_run, 2);
        assert_eq!(s.class_count(ClassScheme::LettersDigitsSymbols), 3);
        assert_eq!(s.class_count(ClassScheme::LowerUpperDigitsSymbols), 4);
        assert_eq!(s.offences, SPACE | CONTROL | NON_ASCII | OTHER_SYMBOL);
        let label = allowed_label(&p.specials, s.offences);
        assert_eq!(
            label,
            "Only ASCII letters, digits and !#$%&^*() (found a space, a control character, \
             a non-ASCII character, another symbol)"
        );
    }
}
