//! Strength estimate: zxcvbn's score and English feedback, without keeping its match list.
//!
//! zxcvbn's `Entropy` holds the matched fragments of the password (`Match::token`), so only the
//! score, the crack-time text and the feedback (fixed English sentences) are taken out, and the
//! `Entropy` is dropped before [`estimate`] returns. zxcvbn also copies the password into its
//! own short-lived `String`s, which it does not zeroize; that cannot be avoided from outside.

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

/// zxcvbn with context words; the zxcvbn Entropy (which holds password fragments) is dropped
/// before returning.
pub fn estimate(password: &str, context: &[&str]) -> Strength {
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

/// Warm zxcvbn's lazily built dictionaries (called off the first-frame path).
pub fn warm_up() {
    // A fixed, non-secret text that touches the dictionary, spatial and date matchers.
    let _ = zxcvbn("warm-up Tr0ub4dor&3 qwerty 2024-01-01", &["rekey"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_scores() {
        assert_eq!(estimate("", &[]).label, "very weak");
        let s = estimate("correct horse battery staple", &[]);
        assert_eq!((s.score, s.label), (4, "strong"));
        assert!(s.warning.is_none() && s.suggestions.is_empty());
    }
}
