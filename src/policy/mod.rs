//! Password policy per provider kind: rules, the live checklist, strength estimate, generator.
//!
//! A [`Policy`] is built in layers, each rule remembering which layer set it ([`RuleSource`]):
//!
//! 1. the provider's documented rules for the profile's [`Kind`];
//! 2. a fetched Huawei IAM account policy ([`Policy::apply_account_policy`]), which replaces the
//!    built-in length, character-combination, user-name and repeat rules;
//! 3. the profile's `[profile.policy]` overrides. They replace the built-in rules, but where an
//!    account policy set the same rule the stricter of the two wins: the account policy is what
//!    the server enforces, so a looser override could only produce a password it refuses.
//!
//! [`check`] turns a policy and the typed fields into a [`Checklist`] on every keystroke;
//! [`estimate`] adds a zxcvbn strength estimate and [`generate`] fills a [`SecretBuf`] with a
//! random password that passes every rule. No label or message ever contains a character of
//! the password: a disallowed character is named by its kind ("a space", "another symbol").
//!
//! Length is counted in Unicode code points, without normalization.
//!
//! [`SecretBuf`]: crate::secret::SecretBuf

mod check;
mod generate;
mod strength;

pub use check::{Candidate, CheckItem, Checklist, Rule, check};
pub use generate::{DEFAULT_GENERATED_LENGTH, GenerateError, generate};
pub use strength::{Strength, context_words, estimate, warm_up, warm_up_in_background};

use serde::Deserialize;

use crate::config::{Kind, PolicyOverrides, Profile, ProviderConfig};
use crate::secret::MAX_PASSWORD_CHARS;

/// The symbols the Tencent BM VPN password accepts (API 2.0 doc: `!#$%&^*()`).
pub const TENCENT_BM_SPECIALS: &str = "!#$%&^*()";

/// The symbols a Huawei DCS password accepts (DCS `UpdatePassword` doc; note: no `%`).
pub const HUAWEI_DCS_SPECIALS: &str = "`~!@#$^&*()-_=+\\|{},<.>/?";

/// The checklist note for Tencent CIAM, whose policy lives on the server.
pub const CIAM_NOTE: &str =
    "Tencent CIAM checks its password policy on the server; rekey can only check the minimum here.";

/// The checklist note for Huawei IAM until the account's own policy has been fetched.
pub const IAM_NOTE: &str = "Huawei IAM also applies the account's password policy on the server; \
     these are the documented defaults.";

/// Who set a rule: shown next to each checklist line so a user knows whom to ask about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// The provider's documented rule for this kind.
    Provider(Kind),
    /// A `[profile.policy]` override.
    Profile,
    /// The fetched Huawei IAM account password policy.
    Account,
    /// rekey's own rule (e.g. the confirmation must match).
    Rekey,
}

impl RuleSource {
    /// A short label for the source, e.g. "Huawei DCS" or "profile policy".
    pub fn label(&self) -> &'static str {
        match self {
            RuleSource::Provider(kind) => kind.provider_label(),
            RuleSource::Profile => "profile policy",
            RuleSource::Account => "account policy",
            RuleSource::Rekey => "rekey",
        }
    }

    /// Which layer is more specific, for a line that combines two settings (min and max length).
    fn precedence(self) -> u8 {
        match self {
            RuleSource::Provider(_) => 0,
            RuleSource::Account => 1,
            RuleSource::Profile => 2,
            RuleSource::Rekey => 3,
        }
    }
}

/// A Huawei IAM account password policy (`GET /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/
/// password-policy`, the object under `password_policy`). Fields the client cannot check
/// (password age, history, validity) are ignored when deserializing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AccountPolicy {
    /// Minimum length in characters (Huawei range 6..=32).
    pub minimum_password_length: Option<usize>,
    /// Maximum length in characters.
    pub maximum_password_length: Option<usize>,
    /// Minimum number of character types, 2..=4 (Huawei Cloud only; absent on OTC).
    pub password_char_combination: Option<u8>,
    /// Whether the password may not be the user name or the user name reversed.
    pub password_not_username_or_invert: Option<bool>,
    /// How many times one character may repeat consecutively; 0 turns the rule off.
    pub maximum_consecutive_identical_chars: Option<usize>,
}

/// Which characters count as symbols (the "special" character class).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Specials {
    /// Any printable ASCII character that is not a letter or digit, space included.
    AsciiSymbols,
    /// Exactly these characters (no ASCII letters, digits or control characters; no repeats).
    Only(String),
}

impl Specials {
    /// Whether `c` is a symbol under this set.
    pub fn contains(&self, c: char) -> bool {
        match self {
            Specials::AsciiSymbols => c == ' ' || c.is_ascii_punctuation(),
            Specials::Only(set) => set.contains(c),
        }
    }

    /// Whether the set has no characters at all.
    pub fn is_empty(&self) -> bool {
        matches!(self, Specials::Only(set) if set.is_empty())
    }

    /// A set from `[profile.policy] specials`: letters, digits and control characters are
    /// dropped (they are never symbols), and so are repeats.
    fn from_override(text: &str) -> Self {
        let mut set = String::new();
        for c in text.chars() {
            if !c.is_ascii_alphanumeric() && !c.is_control() && !set.contains(c) {
                set.push(c);
            }
        }
        Specials::Only(set)
    }
}

/// How characters are grouped into the classes a combination rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassScheme {
    /// Letters (either case), digits, symbols: Tencent BM.
    LettersDigitsSymbols,
    /// Lowercase, uppercase, digits, symbols: Huawei.
    LowerUpperDigitsSymbols,
}

impl ClassScheme {
    /// How many classes exist under this scheme, given the symbol set.
    fn available(self, specials: &Specials) -> u8 {
        let base = match self {
            ClassScheme::LettersDigitsSymbols => 2,
            ClassScheme::LowerUpperDigitsSymbols => 3,
        };
        base + u8::from(!specials.is_empty())
    }
}

/// A value together with the layer that set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sourced<T> {
    value: T,
    source: RuleSource,
}

impl<T> Sourced<T> {
    fn new(value: T, source: RuleSource) -> Self {
        Sourced { value, source }
    }
}

/// A context string the password must not be or contain, lowercased once so a check never
/// allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Needle {
    /// The text, lowercased, as characters.
    pub(crate) forward: Vec<char>,
    /// The text reversed, then lowercased.
    pub(crate) reversed: Vec<char>,
}

impl Needle {
    /// None for an empty (or all-whitespace) context value.
    fn new(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(Needle {
            forward: text.chars().flat_map(char::to_lowercase).collect(),
            reversed: text.chars().rev().flat_map(char::to_lowercase).collect(),
        })
    }
}

/// The digits of a phone number a password must not contain. In international form (`+86 …`,
/// `0086…`) the country code cannot be told apart reliably, so up to three leading digits are
/// dropped while at least seven remain: a password holding the number with or without its
/// country code then contains what is left.
pub(crate) fn national_digits(phone: &str) -> String {
    let phone = phone.trim();
    let international = phone.starts_with('+') || phone.starts_with("00");
    let mut digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if international {
        if phone.starts_with("00") {
            digits.drain(..2);
        }
        let drop = digits.len().saturating_sub(7).min(3);
        digits.drain(..drop);
    }
    digits
}

/// The rules a new password must satisfy for one profile (or one kind), with where each came
/// from. Build it with [`Policy::for_profile`] or [`Policy::for_kind`]; check with [`check`].
#[derive(Clone, Debug)]
pub struct Policy {
    /// The provider kind whose documented rules are the base layer.
    kind: Kind,
    /// The `[profile.policy]` overrides, kept so a later account policy can go beneath them.
    overrides: PolicyOverrides,
    /// The fetched IAM account policy, once applied.
    account: Option<AccountPolicy>,
    /// The account's user name (IAM, CIAM), for the user-name rule and the generator.
    user_name: Option<Needle>,
    /// The IAM user's email, for the "must not contain" rule.
    email: Option<Needle>,
    /// The IAM user's phone number (digits only), for the "must not contain" rule.
    phone: Option<Needle>,
    /// Minimum length in code points (always `1..=MAX_PASSWORD_CHARS`).
    min_length: Sourced<usize>,
    /// Maximum length in code points (never below `min_length`, never above the field size).
    max_length: Option<Sourced<usize>>,
    /// How characters are grouped into classes.
    scheme: ClassScheme,
    /// Which characters are symbols.
    specials: Specials,
    /// How many classes are required (never more than exist), if a rule asks for any.
    required_classes: Option<Sourced<u8>>,
    /// Set when characters outside the classes are refused, by whom.
    restricted_chars: Option<RuleSource>,
    /// Set when the password must not be the user name or the user name reversed.
    not_user_name: Option<RuleSource>,
    /// Most times one character may repeat consecutively, if limited.
    max_repeats: Option<Sourced<usize>>,
    /// Whether the password must differ from the current one (kinds that send the current one).
    differs_from_current: bool,
    /// A note shown under the checklist (e.g. the policy is only enforced server-side).
    note: Option<&'static str>,
}

impl Policy {
    /// Built-in provider rules for a kind, then the profile's `[profile.policy]` overrides, plus
    /// context (user name, email, phone for IAM).
    pub fn for_profile(profile: &Profile) -> Policy {
        let (email, phone) = match &profile.provider {
            ProviderConfig::HuaweiIam(iam) => (
                iam.email.as_deref().and_then(Needle::new),
                iam.phone
                    .as_deref()
                    .and_then(|p| Needle::new(&national_digits(p))),
            ),
            _ => (None, None),
        };
        let mut policy = Policy::empty(profile.kind);
        policy.overrides = profile.policy.clone();
        policy.user_name = profile.user_name().and_then(Needle::new);
        policy.email = email;
        policy.phone = phone;
        policy.resolve();
        policy
    }

    /// Built-in rules for a kind, with no overrides or context.
    pub fn for_kind(kind: Kind) -> Policy {
        let mut policy = Policy::empty(kind);
        policy.resolve();
        policy
    }

    /// Replaces the length, character-combination, user-name and repeat rules with a fetched
    /// Huawei IAM account policy. `[profile.policy]` overrides stay on top where stricter.
    /// Fields the account policy leaves out keep the built-in rule; a second call replaces the
    /// first account policy rather than adding to it.
    pub fn apply_account_policy(&mut self, p: &AccountPolicy) {
        self.account = Some(p.clone());
        self.resolve();
    }

    /// The provider kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Minimum length in characters (code points).
    pub fn min_length(&self) -> usize {
        self.min_length.value
    }

    /// Maximum length in characters, if the policy has one.
    pub fn max_length(&self) -> Option<usize> {
        self.max_length.map(|m| m.value)
    }

    /// The lengths a password may have, in characters: the minimum up to the maximum, or up
    /// to [`MAX_PASSWORD_CHARS`] (what a password field holds) without one.
    pub fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        let max = self
            .max_length()
            .unwrap_or(MAX_PASSWORD_CHARS)
            .min(MAX_PASSWORD_CHARS);
        self.min_length()..=max
    }

    /// How many character classes are required, if any.
    pub fn required_classes(&self) -> Option<u8> {
        self.required_classes.map(|r| r.value)
    }

    /// How characters are grouped into classes.
    pub fn class_scheme(&self) -> ClassScheme {
        self.scheme
    }

    /// Which characters count as symbols.
    pub fn specials(&self) -> &Specials {
        &self.specials
    }

    /// Whether characters outside letters, digits and the symbol set are refused.
    pub fn restricts_characters(&self) -> bool {
        self.restricted_chars.is_some()
    }

    /// Most times one character may repeat consecutively, if limited.
    pub fn max_repeats(&self) -> Option<usize> {
        self.max_repeats.map(|m| m.value)
    }

    /// Whether an IAM account policy has been applied.
    pub fn has_account_policy(&self) -> bool {
        self.account.is_some()
    }

    /// The note shown under the checklist, if any.
    pub fn note(&self) -> Option<&'static str> {
        self.note
    }

    /// A policy with only the kind set; [`Policy::resolve`] fills in the rules.
    fn empty(kind: Kind) -> Policy {
        Policy {
            kind,
            overrides: PolicyOverrides::default(),
            account: None,
            user_name: None,
            email: None,
            phone: None,
            min_length: Sourced::new(1, RuleSource::Rekey),
            max_length: None,
            scheme: ClassScheme::LowerUpperDigitsSymbols,
            specials: Specials::AsciiSymbols,
            required_classes: None,
            restricted_chars: None,
            not_user_name: None,
            max_repeats: None,
            differs_from_current: false,
            note: None,
        }
    }

    /// Recomputes the effective rules from the layers: provider, account policy, overrides.
    fn resolve(&mut self) {
        let provider = RuleSource::Provider(self.kind);
        // 1. The provider's documented rules (SPEC §1, seeds/, research/).
        let (min, max, scheme, specials, classes, restricted, not_user, note) = match self.kind {
            Kind::TencentBmVpn => (
                8,
                Some(16),
                ClassScheme::LettersDigitsSymbols,
                Specials::Only(TENCENT_BM_SPECIALS.to_owned()),
                Some(2),
                true,
                false,
                None,
            ),
            Kind::HuaweiDcs => (
                8,
                Some(32),
                ClassScheme::LowerUpperDigitsSymbols,
                Specials::Only(HUAWEI_DCS_SPECIALS.to_owned()),
                Some(3),
                true,
                false,
                None,
            ),
            Kind::HuaweiIam => (
                8,
                Some(32),
                ClassScheme::LowerUpperDigitsSymbols,
                Specials::AsciiSymbols,
                Some(2),
                false,
                true,
                Some(IAM_NOTE),
            ),
            Kind::TencentCiam => (
                8,
                None,
                ClassScheme::LowerUpperDigitsSymbols,
                Specials::AsciiSymbols,
                None,
                false,
                false,
                Some(CIAM_NOTE),
            ),
        };
        let mut min_length = Sourced::new(min, provider);
        let mut max_length = max.map(|m| Sourced::new(m, provider));
        let mut scheme = scheme;
        let mut specials = specials;
        let mut required_classes = classes.map(|c| Sourced::new(c, provider));
        let mut restricted_chars = restricted.then_some(provider);
        let mut not_user_name = not_user.then_some(provider);
        let mut max_repeats = None;
        let mut note = note;

        // 2. The fetched account policy replaces what it states.
        if let Some(account) = &self.account {
            fn from_account<T>(value: T) -> Sourced<T> {
                Sourced::new(value, RuleSource::Account)
            }
            if let Some(n) = account.minimum_password_length {
                min_length = from_account(n);
            }
            if let Some(n) = account.maximum_password_length {
                max_length = Some(from_account(n));
            }
            if let Some(n) = account.password_char_combination {
                scheme = ClassScheme::LowerUpperDigitsSymbols;
                required_classes = (n > 0).then(|| from_account(n));
            }
            if let Some(on) = account.password_not_username_or_invert {
                not_user_name = on.then_some(RuleSource::Account);
            }
            if let Some(n) = account.maximum_consecutive_identical_chars {
                max_repeats = (n > 0).then(|| from_account(n));
            }
            if self.kind == Kind::HuaweiIam {
                note = None;
            }
        }

        // 3. `[profile.policy]` overrides: replace, except that an account rule is only
        //    replaced by a stricter value.
        let overrides = &self.overrides;
        fn from_profile<T>(value: T) -> Sourced<T> {
            Sourced::new(value, RuleSource::Profile)
        }
        if let Some(n) = overrides.min_length
            && (min_length.source != RuleSource::Account || n > min_length.value)
        {
            min_length = from_profile(n);
        }
        if let Some(n) = overrides.max_length {
            match max_length {
                Some(m) if m.source == RuleSource::Account && m.value <= n => {}
                _ => max_length = Some(from_profile(n)),
            }
        }
        if let Some(n) = overrides.min_classes {
            match required_classes {
                Some(r) if r.source == RuleSource::Account && r.value >= n => {}
                _ => required_classes = (n > 0).then(|| from_profile(n)),
            }
        }
        if let Some(set) = &overrides.specials {
            specials = Specials::from_override(set);
            restricted_chars = Some(RuleSource::Profile);
        }

        // Make the result satisfiable: lengths within the field, min ≤ max (the maximum wins:
        // it is usually the server's hard limit), and no more classes than exist.
        min_length.value = min_length.value.clamp(1, MAX_PASSWORD_CHARS);
        if let Some(max) = &mut max_length {
            max.value = max.value.clamp(1, MAX_PASSWORD_CHARS);
            min_length.value = min_length.value.min(max.value);
        }
        if let Some(r) = &mut required_classes {
            // Four classes asked of Tencent's three-class scheme: split letters by case, which
            // only tightens the provider's rule.
            if r.value > scheme.available(&specials) {
                scheme = ClassScheme::LowerUpperDigitsSymbols;
            }
            let longest = max_length.map_or(MAX_PASSWORD_CHARS, |m| m.value);
            let cap = usize::from(scheme.available(&specials)).min(longest);
            r.value = r.value.min(u8::try_from(cap).unwrap_or(u8::MAX));
        }

        self.min_length = min_length;
        self.max_length = max_length;
        self.scheme = scheme;
        self.specials = specials;
        self.required_classes = required_classes;
        self.restricted_chars = restricted_chars;
        self.not_user_name = not_user_name;
        self.max_repeats = max_repeats;
        self.differs_from_current = self.kind.needs_current_password();
        self.note = note;
    }

    /// The source shown on the length line, which covers both bounds: the more specific one.
    fn length_source(&self) -> RuleSource {
        match self.max_length {
            Some(max) if max.source.precedence() > self.min_length.source.precedence() => {
                max.source
            }
            _ => self.min_length.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_per_kind() {
        let t = Policy::for_kind(Kind::TencentBmVpn);
        assert_eq!((t.min_length(), t.max_length()), (8, Some(16)));
        assert_eq!(t.required_classes(), Some(2));
        assert_eq!(t.class_scheme(), ClassScheme::LettersDigitsSymbols);
        assert!(t.restricts_characters());

        let d = Policy::for_kind(Kind::HuaweiDcs);
        assert_eq!((d.min_length(), d.max_length()), (8, Some(32)));
        assert_eq!(d.required_classes(), Some(3));
        assert!(!d.specials().contains('%'));
        assert!(d.specials().contains('@'));

        let i = Policy::for_kind(Kind::HuaweiIam);
        assert_eq!((i.min_length(), i.max_length()), (8, Some(32)));
        assert_eq!(i.required_classes(), Some(2));
        assert!(!i.restricts_characters());
        assert_eq!(i.note(), Some(IAM_NOTE));

        let c = Policy::for_kind(Kind::TencentCiam);
        assert_eq!((c.min_length(), c.max_length()), (8, None));
        assert_eq!(c.required_classes(), None);
        assert_eq!(c.note(), Some(CIAM_NOTE));
    }

    #[test]
    fn account_policy_replaces_builtins_and_stricter_override_wins() {
        let mut p = Policy::for_kind(Kind::HuaweiIam);
        p.apply_account_policy(&AccountPolicy {
            minimum_password_length: Some(12),
            maximum_password_length: Some(20),
            password_char_combination: Some(3),
            password_not_username_or_invert: Some(false),
            maximum_consecutive_identical_chars: Some(2),
        });
        assert_eq!((p.min_length(), p.max_length()), (12, Some(20)));
        assert_eq!(p.min_length.source, RuleSource::Account);
        assert_eq!(p.required_classes(), Some(3));
        assert_eq!(p.not_user_name, None);
        assert_eq!(p.max_repeats(), Some(2));
        assert_eq!(p.note(), None);

        // An override looser than the account policy loses; a stricter one wins.
        p.overrides = PolicyOverrides {
            min_length: Some(10),
            max_length: Some(18),
            min_classes: Some(4),
            specials: None,
        };
        p.resolve();
        assert_eq!(p.min_length(), 12);
        assert_eq!(p.min_length.source, RuleSource::Account);
        assert_eq!(p.max_length(), Some(18));
        assert_eq!(p.max_length.map(|m| m.source), Some(RuleSource::Profile));
        assert_eq!(p.required_classes(), Some(4));
        assert_eq!(p.length_source(), RuleSource::Profile);

        // Zero turns the repeat rule off; absent fields leave rules alone.
        p.apply_account_policy(&AccountPolicy {
            maximum_consecutive_identical_chars: Some(0),
            ..AccountPolicy::default()
        });
        assert_eq!(p.max_repeats(), None);
        assert_eq!((p.min_length(), p.max_length()), (10, Some(18)));
        assert_eq!(p.not_user_name, Some(RuleSource::Provider(Kind::HuaweiIam)));
    }

    #[test]
    fn account_policy_deserializes_and_ignores_unchecked_fields() {
        let json = r#"{"maximum_consecutive_identical_chars":0,"maximum_password_length":32,
            "minimum_password_age":0,"minimum_password_length":6,
            "number_of_recent_passwords_disallowed":1,"password_not_username_or_invert":true,
            "password_requirements":"two types","password_validity_period":0,
            "password_char_combination":null}"#;
        let p: AccountPolicy = serde_json::from_str(json).expect("valid policy JSON");
        assert_eq!(
            p,
            AccountPolicy {
                minimum_password_length: Some(6),
                maximum_password_length: Some(32),
                password_char_combination: None,
                password_not_username_or_invert: Some(true),
                maximum_consecutive_identical_chars: Some(0),
            }
        );
    }

    #[test]
    fn phone_numbers_lose_their_country_code() {
        assert_eq!(national_digits("13800000000"), "13800000000");
        assert_eq!(national_digits(" 138-0000-0000 "), "13800000000");
        assert_eq!(national_digits("+86 138-0000-0000"), "3800000000");
        assert_eq!(national_digits("0086 13800000000"), "3800000000");
        assert_eq!(national_digits("+1 (202) 555-0123"), "25550123");
        assert_eq!(national_digits("+49 1234567"), "1234567");
        assert_eq!(national_digits("+"), "");
    }

    #[test]
    fn nonsensical_overrides_are_made_satisfiable() {
        let mut p = Policy::empty(Kind::TencentBmVpn);
        p.overrides = PolicyOverrides {
            min_length: Some(40),
            max_length: Some(500),
            min_classes: Some(9),
            specials: Some("ab12!!\u{7}#".to_owned()),
        };
        p.resolve();
        assert_eq!(p.max_length(), Some(MAX_PASSWORD_CHARS));
        assert_eq!(p.min_length(), 40);
        assert_eq!(p.class_scheme(), ClassScheme::LowerUpperDigitsSymbols);
        assert_eq!(p.required_classes(), Some(4));
        assert_eq!(p.specials(), &Specials::Only("!#".to_owned()));

        p.overrides = PolicyOverrides {
            min_length: Some(20),
            max_length: Some(0),
            min_classes: Some(0),
            specials: Some(String::new()),
        };
        p.resolve();
        assert_eq!((p.min_length(), p.max_length()), (1, Some(1)));
        assert_eq!(p.required_classes(), None);
    }
}
