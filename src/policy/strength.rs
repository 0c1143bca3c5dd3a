//! Strength estimate: zxcvbn's score and English feedback, without keeping its match list.
//!
//! zxcvbn's `Entropy` holds the matched fragments of the password (`Match::token`), so only the
//! score, the crack-time text and the feedback (fixed English sentences) are taken out, and the
//! `Entropy` is dropped before [`estimate`] returns. zxcvbn also copies the password into its
//! own short-lived `String`s, which it does not zeroize; that cannot be avoided from outside.
//! The binary's allocator zeroes them when they are freed, and [`estimate`] overwrites the
//! stack zxcvbn's frames used once it returns ([`wipe_stack`]), so no copy of the password
//! outlives the call.

use zeroize::Zeroize;
use zxcvbn::zxcvbn;

use super::national_digits;
use crate::config::{DcsAuth, Profile, ProviderConfig};

/// A zxcvbn strength estimate with nothing of the password in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strength {
    /// zxcvbn score, 0..=4.
    pub score: u8,
    /// "very weak", "weak", "fair", "good" or "strong".
    pub label: &'static str,
    /// Time to crack offline against a slow hash (10⁴ guesses/s), e.g. "3 months".
    pub crack_time: String,
    /// zxcvbn's warning, if any (only for scores up to 2).
    pub warning: Option<String>,
    /// zxcvbn's suggestions (only for scores up to 2).
    pub suggestions: Vec<String>,
}

/// The word for each score.
const LABELS: [&str; 5] = ["very weak", "weak", "fair", "good", "strong"];

/// How much of the stack below [`estimate`]'s frame is overwritten after zxcvbn ran. The
/// deepest copy zxcvbn left measured 32 KiB below the caller in a debug test build (the unit
/// test below prints it); twice that leaves room for longer passwords, and costs microseconds.
pub const STACK_WIPE: usize = 64 * 1024;

/// How many characters zxcvbn looks at. Its cost grows much faster than the length (a
/// 128-character password took 10–30 ms a keystroke); a password is at least as strong as
/// its first 32 characters, so a longer one is estimated on those, and its crack time is
/// said as a lower bound ("more than …"). The estimate can only err on the safe side.
pub const ESTIMATED_CHARS: usize = 32;

/// zxcvbn with context words; the zxcvbn Entropy (which holds password fragments) is dropped
/// before returning, and the stack zxcvbn used (where it left copies of the password) is
/// overwritten.
pub fn estimate(password: &str, context: &[&str]) -> Strength {
    let cut = password.char_indices().nth(ESTIMATED_CHARS).map(|(i, _)| i);
    let mut strength = evaluate(&password[..cut.unwrap_or(password.len())], context);
    wipe_stack();
    if cut.is_some() {
        strength.crack_time = format!("more than {}", strength.crack_time);
    }
    strength
}

/// Overwrites [`STACK_WIPE`] bytes of the stack below the caller's frame with zeros: the frames
/// of whatever the caller just called (and returned from) are gone with what they held.
#[inline(never)]
pub fn wipe_stack() {
    let mut area = [0u8; STACK_WIPE];
    // Volatile writes: not optimized away although the array is never read.
    area.zeroize();
    std::hint::black_box(&mut area);
}

/// The estimate itself, in its own frame so that all of zxcvbn's frames lie below
/// [`estimate`]'s and are within reach of [`wipe_stack`].
#[inline(never)]
fn evaluate(password: &str, context: &[&str]) -> Strength {
    let entropy = zxcvbn(password, context);
    let score = u8::from(entropy.score()).min(4);
    let crack_time = entropy
        .crack_times()
        .offline_slow_hashing_1e4_per_second()
        .to_string();
    let (warning, suggestions) = match entropy.feedback() {
        Some(feedback) => (
            feedback.warning().map(|w| w.to_string()),
            feedback
                .suggestions()
                .iter()
                .map(ToString::to_string)
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    drop(entropy);
    Strength {
        score,
        label: LABELS[usize::from(score)],
        crack_time,
        warning,
        suggestions,
    }
}

/// Words a guesser would try first for this profile: the user name (when the kind has one), the
/// profile name, the provider label words and the kind words, plus the IAM account, email and
/// phone and a DCS token user. Lowercased, without repeats; never a secret.
pub fn context_words(profile: &Profile) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    // Whole values first, then their parts; parts shorter than 3 characters are left out
    // because they would match nearly any password.
    let mut add = |text: &str, whole: bool| {
        let mut push = |w: &str| {
            let w = w.to_lowercase();
            if !w.is_empty() && !words.contains(&w) {
                words.push(w);
            }
        };
        if whole {
            push(text.trim());
        }
        for part in text.split(|c: char| !c.is_alphanumeric()) {
            if part.chars().count() >= 3 {
                push(part);
            }
        }
    };
    if let Some(user) = profile.user_name() {
        add(user, true);
    }
    add(&profile.name, true);
    add(profile.kind.provider_label(), false);
    add(profile.kind.as_str(), false);
    match &profile.provider {
        ProviderConfig::HuaweiIam(iam) => {
            add(&iam.domain, true);
            if let Some(email) = &iam.email {
                add(email, true);
            }
            if let Some(phone) = &iam.phone {
                let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                add(&digits, true);
                add(&national_digits(phone), true);
            }
        }
        ProviderConfig::HuaweiDcs(dcs) => {
            if let DcsAuth::Token { domain, user, .. } = &dcs.auth {
                add(user, true);
                add(domain, true);
            }
        }
        ProviderConfig::TencentBmVpn(_) | ProviderConfig::TencentCiam(_) => {}
    }
    words
}

/// Builds zxcvbn's dictionaries on a thread, once per process, when a password is about to be
/// typed: an idle console that never opens the editor does not hold them (about 7 MiB).
pub fn warm_up_in_background() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(warm_up);
    });
}

/// Warm zxcvbn's lazily built dictionaries (called off the first-frame path).
pub fn warm_up() {
    // A fixed, non-secret text that touches the dictionary, spatial and date matchers.
    let _ = zxcvbn("warm-up Tr0ub4dor&3 qwerty 2024-01-01", &["rekey"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_password_is_estimated_on_its_first_32_characters_as_a_lower_bound() {
        let head = "Gx7(kQ2#vR9mTq4!Wz8@Lp3$Nb6^Hc1&";
        assert_eq!(head.chars().count(), ESTIMATED_CHARS);
        let whole = estimate(head, &[]);
        assert!(!whole.crack_time.starts_with("more than"), "{whole:?}");
        let long = format!("{head}{}", "é".repeat(96));
        let bounded = estimate(&long, &[]);
        assert_eq!(bounded.score, whole.score);
        assert_eq!(
            bounded.crack_time,
            format!("more than {}", whole.crack_time)
        );
        // A weak start is never made to look strong by what follows.
        let weak = format!("{}{head}", "a".repeat(40));
        assert!(estimate(&weak, &[]).score <= 1);
    }

    /// Where the calling thread's stack lies below the caller's frame: the mapping holding
    /// `here` from its start up to `here` (stacks grow down), read through /proc/self/mem.
    #[cfg(target_os = "linux")]
    fn stack_below(here: usize) -> (usize, Vec<u8>) {
        use std::os::unix::fs::FileExt;
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        let start = maps
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.split_once('-'))
            .filter_map(|(a, b)| {
                Some((
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                ))
            })
            .find(|&(a, b)| a <= here && here < b)
            .expect("the stack's mapping")
            .0;
        let mem = std::fs::File::open("/proc/self/mem").expect("/proc/self/mem");
        let mut data = vec![0u8; here - start];
        mem.read_exact_at(&mut data, start as u64)
            .expect("read the stack");
        (start, data)
    }

    /// Copies of `needle` on the stack below `here`, as distances below `here`.
    #[cfg(target_os = "linux")]
    fn copies_below(here: usize, needle: &str) -> Vec<usize> {
        let (start, data) = stack_below(here);
        let utf32: Vec<u8> = needle
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let mut found = Vec::new();
        for form in [needle.as_bytes(), &utf32] {
            for piece in form.windows(8.min(form.len())).step_by(4) {
                found.extend(memchr::memmem::find_iter(&data, piece).map(|at| here - (start + at)));
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn no_copy_of_the_password_is_left_on_the_stack() {
        // Built at run time, so the only bytes of it in the binary are not these.
        let password: String = ["Zq8#St", "ack!Ca", "nary&7"].concat();
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        // Below this frame lie only the frames still to come (the password is on the heap).
        let left = copies_below(here, &password);
        assert!(left.is_empty(), "before: {left:?}");

        // zxcvbn alone leaves copies on the stack: the measurement can fail.
        let _ = std::hint::black_box(evaluate(std::hint::black_box(&password), &["rekey"]));
        let left = copies_below(here, &password);
        eprintln!(
            "zxcvbn left {} copies on the stack, the deepest {} bytes below the caller",
            left.len(),
            left.iter().max().unwrap_or(&0)
        );
        assert!(
            !left.is_empty(),
            "the scan finds nothing: it could not fail"
        );
        assert!(
            left.iter().all(|&d| d < STACK_WIPE - 4096),
            "copies deeper than the wipe reaches: {left:?}"
        );

        let _ = std::hint::black_box(estimate(std::hint::black_box(&password), &["rekey"]));
        let left = copies_below(here, &password);
        assert!(left.is_empty(), "copies left after estimate: {left:?}");
    }

    #[test]
    fn labels_follow_scores() {
        assert_eq!(estimate("", &[]).label, "very weak");
        let s = estimate("correct horse battery staple", &[]);
        assert_eq!((s.score, s.label), (4, "strong"));
        assert!(s.warning.is_none() && s.suggestions.is_empty());
    }
}
