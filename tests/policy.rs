//! The password policy: every rule's pass and fail edge per kind, overrides, the IAM account
//! policy, the generator against the checker, and the strength estimate.

use rekey::config::{
    self, AkskVariant, DcsAuth, Kind, Operate, PolicyOverrides, Profile, ProviderConfig,
    SecretSource, SignatureMethod, TencentApi,
};
use rekey::policy::{
    AccountPolicy, CIAM_NOTE, Candidate, CheckItem, Checklist, DEFAULT_GENERATED_LENGTH,
    GenerateError, IAM_NOTE, Policy, Rule, RuleSource, Strength, check, context_words, estimate,
    generate,
};
use rekey::secret::SecretBuf;
use zeroize::Zeroizing;

const T: Kind = Kind::TencentBmVpn;
const D: Kind = Kind::HuaweiDcs;
const I: Kind = Kind::HuaweiIam;
const C: Kind = Kind::TencentCiam;

/// The IAM profile's user name, email and phone (the phone's digits are 13800000000).
const IAM_USER: &str = "Alice.Admin";
const IAM_EMAIL: &str = "alice@example.com";
const IAM_PHONE: &str = "+86 138-0000-0000";
const CIAM_USER: &str = "qzvrkmtw";

fn env(name: &str) -> SecretSource {
    SecretSource::Env(name.to_owned())
}

/// A profile of `kind` with the given overrides; IAM has a user name, email and phone.
fn profile(kind: Kind, policy: PolicyOverrides) -> Profile {
    let provider = match kind {
        Kind::TencentBmVpn => ProviderConfig::TencentBmVpn(config::TencentBmVpn {
            region: "ap-guangzhou".into(),
            secret_id: env("TENCENTCLOUD_SECRET_ID"),
            secret_key: SecretSource::Value(Zeroizing::new("sk-canary-Hx7pQ".into())),
            session_token: None,
            api: TencentApi::V3,
            operate: Operate::Auto,
            zone_id: None,
            app_id: None,
            signature_method: SignatureMethod::HmacSha256,
        }),
        Kind::HuaweiDcs => ProviderConfig::HuaweiDcs(config::HuaweiDcs {
            region: "cn-north-4".into(),
            project_id: "0123456789abcdef0123456789abcdef".into(),
            instance_id: "11111111-2222-3333-4444-555555555555".into(),
            auth: DcsAuth::Aksk {
                access_key: env("HUAWEICLOUD_SDK_AK"),
                secret_key: env("HUAWEICLOUD_SDK_SK"),
                variant: AkskVariant::Huawei,
            },
        }),
        Kind::HuaweiIam => ProviderConfig::HuaweiIam(config::HuaweiIam {
            iam_endpoint: url::Url::parse("https://iam.myhuaweicloud.com").expect("url"),
            domain: "acme-corp".into(),
            user: IAM_USER.into(),
            email: Some(IAM_EMAIL.into()),
            phone: Some(IAM_PHONE.into()),
        }),
        Kind::TencentCiam => ProviderConfig::TencentCiam(config::TencentCiam {
            client_id: "app-client-id".into(),
            auth_source_id: "auth-source-id".into(),
            username: CIAM_USER.into(),
            client_secret: Some(SecretSource::Value(Zeroizing::new(
                "cs-canary-Vb3kW".into(),
            ))),
            access_token: None,
        }),
    };
    Profile {
        name: "prod-vault".into(),
        kind,
        endpoint: None,
        timeout_secs: 15,
        ca_file: None,
        production: false,
        notes: None,
        policy,
        provider,
        store: None,
        line: 1,
    }
}

fn policy(kind: Kind) -> Policy {
    Policy::for_profile(&profile(kind, PolicyOverrides::default()))
}

/// Checks `new` with a matching confirmation and the given current password.
fn run(policy: &Policy, new: &str, current: Option<&str>) -> Checklist {
    check(
        policy,
        &Candidate {
            new,
            confirm: new,
            current,
        },
    )
}

fn item(list: &Checklist, rule: Rule) -> &CheckItem {
    list.items
        .iter()
        .find(|i| i.rule == rule)
        .unwrap_or_else(|| panic!("no {rule:?} line in {:#?}", list.items))
}

/// No label may contain the password (nor, for the disallowed-character rule, the character).
fn assert_labels_hide(list: &Checklist, password: &str) {
    if password.chars().count() < 3 {
        return;
    }
    for i in &list.items {
        assert!(
            !i.label.contains(password),
            "label {:?} shows the password",
            i.label
        );
    }
}

struct Case {
    kind: Kind,
    new: &'static str,
    current: Option<&'static str>,
    rule: Rule,
    passed: bool,
    /// For a disallowed character: the character, which its label must not contain.
    offending: Option<char>,
    /// Where a rule has several lines (NotContains): a word of the line's label.
    label_has: Option<&'static str>,
}

const fn case(kind: Kind, new: &'static str, rule: Rule, passed: bool) -> Case {
    Case {
        kind,
        new,
        current: None,
        rule,
        passed,
        offending: None,
        label_has: None,
    }
}

const fn bad_char(kind: Kind, new: &'static str, c: char) -> Case {
    Case {
        kind,
        new,
        current: None,
        rule: Rule::AllowedChars,
        passed: false,
        offending: Some(c),
        label_has: None,
    }
}

const fn not_contains(kind: Kind, new: &'static str, what: &'static str, passed: bool) -> Case {
    Case {
        kind,
        new,
        current: None,
        rule: Rule::NotContains,
        passed,
        offending: None,
        label_has: Some(what),
    }
}

const fn with_current(kind: Kind, new: &'static str, current: &'static str, passed: bool) -> Case {
    Case {
        kind,
        new,
        current: Some(current),
        rule: Rule::DiffersFromCurrent,
        passed,
        offending: None,
        label_has: None,
    }
}

// 16, 17, 32 and 33 characters.
const L16: &str = "Abcdefgh12345678";
const L17: &str = "Abcdefgh123456789";
const L32: &str = "Ab1!xxxxyyyyzzzzxxxxyyyyzzzzxxxx";
const L33: &str = "Ab1!xxxxyyyyzzzzxxxxyyyyzzzzxxxxy";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Tencent BM: 8–16.
    case(T, "Abcdef1", Rule::Length, false),
    case(T, "Abcdef12", Rule::Length, true),
    case(T, L16, Rule::Length, true),
    case(T, L17, Rule::Length, false),
    // Tencent BM: 2 of letters, digits, !#$%&^*().
    case(T, "abcdefgh", Rule::Classes, false),
    case(T, "ABCdefGH", Rule::Classes, false),
    case(T, "12345678", Rule::Classes, false),
    case(T, ")*^&%$#!", Rule::Classes, false),
    case(T, "abcdefg1", Rule::Classes, true),
    case(T, "abcdefg!", Rule::Classes, true),
    case(T, "1234567)", Rule::Classes, true),
    // `@` is not a Tencent symbol, so it adds no class either.
    case(T, "abcdefg@", Rule::Classes, false),
    // Tencent BM: only letters, digits and its symbols.
    case(T, "Abc(ef)%1^&*#$!", Rule::AllowedChars, true),
    bad_char(T, "Abcdef1@", '@'),
    bad_char(T, "Abcd ef1", ' '),
    bad_char(T, "Abcdéf12", 'é'),
    bad_char(T, "Abcdef1-", '-'),
    bad_char(T, "Abcdef1\u{7}", '\u{7}'),
    // Huawei DCS: 8–32.
    case(D, "Abcde1!", Rule::Length, false),
    case(D, "Abcdef1!", Rule::Length, true),
    case(D, L32, Rule::Length, true),
    case(D, L33, Rule::Length, false),
    // Huawei DCS: 3 of lower, upper, digits, symbols.
    case(D, "abcdefg1", Rule::Classes, false),
    case(D, "ABCDEFG!", Rule::Classes, false),
    case(D, "Abcdefgh", Rule::Classes, false),
    case(D, "Abcdefg1", Rule::Classes, true),
    case(D, "abcdef1!", Rule::Classes, true),
    case(D, "ABCDEF1@", Rule::Classes, true),
    case(D, "abcdefG~", Rule::Classes, true),
    // `%` is not a DCS symbol: it does not count as a class...
    case(D, "abcdef1%", Rule::Classes, false),
    // ...and is refused, as is anything outside the four classes.
    case(D, "Ab1`~!@#$^&*()-_=+\\|{},<.>/?", Rule::AllowedChars, true),
    bad_char(D, "Abcdef1%", '%'),
    bad_char(D, "Abcdef1;", ';'),
    bad_char(D, "Abcdef1'", '\''),
    bad_char(D, "Abcdef1\"", '"'),
    bad_char(D, "Abcdef1[", '['),
    bad_char(D, "Abcdef1:", ':'),
    bad_char(D, "Abcd ef1", ' '),
    bad_char(D, "Abcdef1€", '€'),
    // Huawei DCS: differs from the current password (empty current: nothing to compare yet).
    with_current(D, "Abcdef1!", "Abcdef1!", false),
    with_current(D, "Abcdef1!", "Abcdef1?", true),
    with_current(D, "Abcdef1!", "", true),
    // Huawei IAM: 8–32.
    case(I, "Abcdef1", Rule::Length, false),
    case(I, "Abcdef12", Rule::Length, true),
    case(I, L32, Rule::Length, true),
    case(I, L33, Rule::Length, false),
    // Huawei IAM: 2 of 4 classes, any printable ASCII symbol (space included) counts.
    case(I, "abcdefgh", Rule::Classes, false),
    case(I, "ABCDEFGH", Rule::Classes, false),
    case(I, "abcdéfgh", Rule::Classes, false),
    case(I, "abcdefg1", Rule::Classes, true),
    case(I, "abcdefg%", Rule::Classes, true),
    case(I, "abcd efg", Rule::Classes, true),
    case(I, "ABCDEFG1", Rule::Classes, true),
    // Huawei IAM: not the user name or the user name reversed, ignoring case.
    case(I, "alice.admin", Rule::NotUserName, false),
    case(I, "ALICE.ADMIN", Rule::NotUserName, false),
    case(I, "nimdA.ecilA", Rule::NotUserName, false),
    case(I, "NIMDA.ECILA", Rule::NotUserName, false),
    case(I, "alice.admin1", Rule::NotUserName, true),
    case(I, "Alice.Admi", Rule::NotUserName, true),
    // Huawei IAM: does not contain the email or the phone number, ignoring case.
    not_contains(I, "xALICE@Example.COMx1", "email", false),
    not_contains(I, "alice@example.co1", "email", true),
    not_contains(I, "Pw13800000000", "phone", false),
    not_contains(I, "Pw1380000000", "phone", true),
    // Huawei IAM: differs from the current password.
    with_current(I, "Abcdef1!", "Abcdef1!", false),
    with_current(I, "Abcdef1!", "abcdef1!", true),
    // Tencent CIAM: at least 8.
    case(C, "Abcdef1", Rule::Length, false),
    case(C, "abcdefgh", Rule::Length, true),
    case(C, "é€ü漢字ab1", Rule::Length, true),
    with_current(C, "abcdefgh", "abcdefgh", false),
];

#[test]
fn every_rule_passes_and_fails_at_its_edge() {
    for (n, c) in CASES.iter().enumerate() {
        let p = policy(c.kind);
        let list = run(&p, c.new, c.current);
        let it = match c.label_has {
            Some(word) => list
                .items
                .iter()
                .find(|i| i.rule == c.rule && i.label.contains(word))
                .unwrap_or_else(|| panic!("case {n}: no {:?} line about {word}", c.rule)),
            None => item(&list, c.rule),
        };
        assert_eq!(
            it.passed, c.passed,
            "case {n} ({} {:?}): {:?}",
            c.kind, c.rule, it.label
        );
        assert_eq!(it.source.label(), source_of(c.rule, c.kind).label());
        assert_labels_hide(&list, c.new);
        if let Some(bad) = c.offending {
            assert!(
                bad == ' ' || !it.label.contains(bad),
                "case {n}: label {:?} shows the refused character",
                it.label
            );
            let named = [
                "a space",
                "a non-ASCII character",
                "a control character",
                "another symbol",
            ]
            .iter()
            .any(|name| it.label.contains(name));
            assert!(named, "case {n}: label {:?} names no class", it.label);
        }
    }
}

/// The source each built-in rule is labelled with.
fn source_of(rule: Rule, kind: Kind) -> RuleSource {
    match rule {
        Rule::ConfirmMatches => RuleSource::Rekey,
        _ => RuleSource::Provider(kind),
    }
}

#[test]
fn refused_characters_are_named_by_class() {
    let p = policy(T);
    let label = |pw| item(&run(&p, pw, None), Rule::AllowedChars).label.clone();
    assert_eq!(
        label("Abcdef1@"),
        "Only ASCII letters, digits and !#$%&^*() (found another symbol)"
    );
    assert_eq!(
        label("Abcd ef1"),
        "Only ASCII letters, digits and !#$%&^*() (found a space)"
    );
    assert_eq!(
        label("Abcdéf1@"),
        "Only ASCII letters, digits and !#$%&^*() (found a non-ASCII character, another symbol)"
    );
    assert_eq!(
        label("Abcdef1!"),
        "Only ASCII letters, digits and !#$%&^*()"
    );
}

#[test]
fn labels_show_counts_and_rules() {
    let list = run(&policy(T), "Abc1", None);
    assert_eq!(item(&list, Rule::Length).label, "8–16 characters (now 4)");
    assert_eq!(
        item(&list, Rule::Classes).label,
        "At least 2 of: letters, digits, symbols (now 2)"
    );
    let list = run(&policy(D), "abc", None);
    assert_eq!(
        item(&list, Rule::Classes).label,
        "At least 3 of: lowercase, uppercase, digits, symbols (now 1)"
    );
    // Code points, not bytes.
    let list = run(&policy(C), "é€ü", None);
    assert_eq!(
        item(&list, Rule::Length).label,
        "At least 8 characters (now 3)"
    );
    assert_eq!(RuleSource::Provider(D).label(), "Huawei DCS");
    assert_eq!(RuleSource::Profile.label(), "profile policy");
    assert_eq!(RuleSource::Account.label(), "account policy");
    assert_eq!(RuleSource::Rekey.label(), "rekey");
}

#[test]
fn each_kind_shows_exactly_its_rules() {
    use Rule::*;
    let rules = |kind| -> Vec<Rule> {
        run(&policy(kind), "", Some("x"))
            .items
            .iter()
            .map(|i| i.rule)
            .collect()
    };
    assert_eq!(rules(T), [Length, Classes, AllowedChars, ConfirmMatches]);
    assert_eq!(
        rules(D),
        [
            Length,
            Classes,
            AllowedChars,
            DiffersFromCurrent,
            ConfirmMatches
        ]
    );
    assert_eq!(
        rules(I),
        [
            Length,
            Classes,
            NotUserName,
            NotContains,
            NotContains,
            DiffersFromCurrent,
            ConfirmMatches
        ]
    );
    assert_eq!(rules(C), [Length, DiffersFromCurrent, ConfirmMatches]);
    // Without context (for_kind), the context rules are not shown.
    let bare: Vec<Rule> = run(&Policy::for_kind(I), "", None)
        .items
        .iter()
        .map(|i| i.rule)
        .collect();
    assert_eq!(bare, [Length, Classes, DiffersFromCurrent, ConfirmMatches]);
}

#[test]
fn notes_tell_where_the_policy_is_enforced() {
    assert_eq!(run(&policy(C), "x", None).note, Some(CIAM_NOTE));
    assert!(CIAM_NOTE.contains("Tencent CIAM checks its password policy on the server"));
    assert_eq!(run(&policy(I), "x", None).note, Some(IAM_NOTE));
    assert_eq!(run(&policy(T), "x", None).note, None);
    assert_eq!(run(&policy(D), "x", None).note, None);
}

#[test]
fn current_password_rule_waits_for_the_current_password() {
    let p = policy(D);
    for current in [None, Some("")] {
        let list = run(&p, "Abcdef1!", current);
        let it = item(&list, Rule::DiffersFromCurrent);
        assert!(it.passed);
        assert!(it.label.contains("not entered"), "{}", it.label);
    }
    let list = run(&p, "Abcdef1!", Some("Abcdef1!"));
    assert!(!list.all_passed());
    assert_eq!(
        list.failures().map(|i| i.rule).collect::<Vec<_>>(),
        [Rule::DiffersFromCurrent]
    );
}

#[test]
fn confirmation_must_match_and_not_be_empty() {
    for kind in Kind::ALL {
        let p = policy(kind);
        let new = "Abcdef12!";
        let confirm_of = |confirm| {
            let list = check(
                &p,
                &Candidate {
                    new,
                    confirm,
                    current: Some("Current1!"),
                },
            );
            item(&list, Rule::ConfirmMatches).clone()
        };
        let ok = confirm_of(new);
        assert!(ok.passed, "{kind}");
        assert_eq!(ok.source, RuleSource::Rekey);
        let mismatch = confirm_of("Abcdef12?");
        assert!(!mismatch.passed, "{kind}");
        assert_eq!(mismatch.label, "Confirmation matches");
        let empty = confirm_of("");
        assert!(!empty.passed, "{kind}");
        assert_eq!(empty.label, "Confirmation matches (not entered)");
        // Everything else passes, so the list fails only on the confirmation.
        let list = check(
            &p,
            &Candidate {
                new,
                confirm: "",
                current: Some("Current1!"),
            },
        );
        assert_eq!(
            list.failures().map(|i| i.rule).collect::<Vec<_>>(),
            [Rule::ConfirmMatches],
            "{kind}"
        );
    }
    // An empty new password with an empty confirmation is not a match.
    let list = run(&policy(C), "", None);
    assert!(!item(&list, Rule::ConfirmMatches).passed);
}

fn overridden(kind: Kind, o: PolicyOverrides) -> Policy {
    Policy::for_profile(&profile(kind, o))
}

#[test]
fn overrides_replace_rules_and_are_labelled_as_the_profiles() {
    // min_length 12 on Tencent: 11 fails, 12 passes, the provider's max stays.
    let p = overridden(
        T,
        PolicyOverrides {
            min_length: Some(12),
            ..Default::default()
        },
    );
    assert_eq!((p.min_length(), p.max_length()), (12, Some(16)));
    let it = item(&run(&p, "Abcdefgh123", None), Rule::Length).clone();
    assert!(!it.passed);
    assert_eq!(it.source, RuleSource::Profile);
    assert_eq!(it.label, "12–16 characters (now 11)");
    assert!(item(&run(&p, "Abcdefgh1234", None), Rule::Length).passed);

    // max_length 64 on DCS: 33 and 64 pass, 65 fails.
    let p = overridden(
        D,
        PolicyOverrides {
            max_length: Some(64),
            ..Default::default()
        },
    );
    let l64 = format!("{L32}{L32}");
    let l65 = format!("{l64}x");
    assert!(item(&run(&p, L33, None), Rule::Length).passed);
    assert!(item(&run(&p, &l64, None), Rule::Length).passed);
    let it = item(&run(&p, &l65, None), Rule::Length).clone();
    assert!(!it.passed);
    assert_eq!(it.source, RuleSource::Profile);

    // min_classes 3 on Tencent and IAM; on CIAM it adds a class rule.
    for kind in [T, I, C] {
        let p = overridden(
            kind,
            PolicyOverrides {
                min_classes: Some(3),
                ..Default::default()
            },
        );
        let two = item(&run(&p, "abcdefg1", None), Rule::Classes).clone();
        assert!(!two.passed, "{kind}");
        assert_eq!(two.source, RuleSource::Profile);
        assert!(
            item(&run(&p, "abcdef1!", None), Rule::Classes).passed,
            "{kind}"
        );
    }
    // ...and 4 on Tencent splits letters by case.
    let p = overridden(
        T,
        PolicyOverrides {
            min_classes: Some(4),
            ..Default::default()
        },
    );
    assert!(!item(&run(&p, "abcdef1!", None), Rule::Classes).passed);
    assert!(item(&run(&p, "Abcdef1!", None), Rule::Classes).passed);

    // specials "-_" on Tencent replaces its symbol set.
    let p = overridden(
        T,
        PolicyOverrides {
            specials: Some("-_".into()),
            ..Default::default()
        },
    );
    assert!(item(&run(&p, "Abcdef1-", None), Rule::AllowedChars).passed);
    assert!(item(&run(&p, "abcdefg_", None), Rule::Classes).passed);
    let it = item(&run(&p, "Abcdef1!", None), Rule::AllowedChars).clone();
    assert!(!it.passed);
    assert_eq!(it.source, RuleSource::Profile);
    assert!(!it.label.contains('!'), "{}", it.label);
    assert_eq!(
        it.label,
        "Only ASCII letters, digits and -_ (found another symbol)"
    );

    // specials on IAM adds an allowed-characters rule the provider did not have.
    let p = overridden(
        I,
        PolicyOverrides {
            specials: Some("!#".into()),
            ..Default::default()
        },
    );
    let list = run(&p, "Abcdef1%", None);
    assert!(!item(&list, Rule::AllowedChars).passed);
    assert_eq!(item(&list, Rule::AllowedChars).source, RuleSource::Profile);
    assert!(item(&run(&p, "Abcdef1#", None), Rule::AllowedChars).passed);

    // Rules that were not overridden keep their provider source.
    let list = run(&p, "Abcdef1#", None);
    assert_eq!(item(&list, Rule::Length).source, RuleSource::Provider(I));
    assert_eq!(item(&list, Rule::Classes).source, RuleSource::Provider(I));
}

#[test]
fn account_policy_replaces_the_iam_defaults() {
    let mut p = policy(I);
    p.apply_account_policy(&AccountPolicy {
        minimum_password_length: Some(10),
        maximum_password_length: Some(20),
        password_char_combination: Some(3),
        password_not_username_or_invert: Some(false),
        maximum_consecutive_identical_chars: Some(2),
    });
    assert_eq!((p.min_length(), p.max_length()), (10, Some(20)));

    let list = run(&p, "Abcdefg1!", None);
    let len = item(&list, Rule::Length);
    assert!(!len.passed);
    assert_eq!(len.source, RuleSource::Account);
    assert_eq!(len.label, "10–20 characters (now 9)");
    assert!(item(&run(&p, "Abcdefgh1!", None), Rule::Length).passed);
    assert!(!item(&run(&p, "Abcdefgh1!Abcdefgh1!x", None), Rule::Length).passed);

    let classes = item(&run(&p, "abcdefgh12", None), Rule::Classes).clone();
    assert!(!classes.passed);
    assert_eq!(classes.source, RuleSource::Account);
    assert!(item(&run(&p, "abcdefgh1!", None), Rule::Classes).passed);

    let repeats = item(&run(&p, "Abcdefff1!", None), Rule::Repeats).clone();
    assert!(!repeats.passed);
    assert_eq!(repeats.source, RuleSource::Account);
    assert_eq!(repeats.label, "No character more than 2 times in a row");
    assert!(item(&run(&p, "Abcdeff1!!", None), Rule::Repeats).passed);

    // The account turned the user-name rule off; email and phone still apply.
    let list = run(&p, "alice.admin1", None);
    assert!(list.items.iter().all(|i| i.rule != Rule::NotUserName));
    assert_eq!(
        list.items
            .iter()
            .filter(|i| i.rule == Rule::NotContains)
            .count(),
        2
    );
    assert_eq!(list.note, None);

    // A later policy with the rule on, and repeats off (0).
    p.apply_account_policy(&AccountPolicy {
        password_not_username_or_invert: Some(true),
        maximum_consecutive_identical_chars: Some(0),
        ..AccountPolicy::default()
    });
    let list = run(&p, "nimda.ecila", None);
    let user = item(&list, Rule::NotUserName);
    assert!(!user.passed);
    assert_eq!(user.source, RuleSource::Account);
    assert!(list.items.iter().all(|i| i.rule != Rule::Repeats));
    // Fields the policy leaves out go back to the defaults.
    assert_eq!((p.min_length(), p.max_length()), (8, Some(32)));
}

#[test]
fn account_policy_keeps_a_stricter_profile_override() {
    let mut p = overridden(
        I,
        PolicyOverrides {
            min_length: Some(14),
            max_length: Some(64),
            ..Default::default()
        },
    );
    p.apply_account_policy(&AccountPolicy {
        minimum_password_length: Some(10),
        maximum_password_length: Some(32),
        ..AccountPolicy::default()
    });
    // The stricter of each wins: min from the profile, max from the account.
    assert_eq!((p.min_length(), p.max_length()), (14, Some(32)));
}

#[test]
fn account_policy_parses_from_the_iam_response() {
    let body = r#"{"maximum_consecutive_identical_chars":3,"maximum_password_length":32,
        "minimum_password_age":0,"minimum_password_length":12,
        "number_of_recent_passwords_disallowed":2,"password_not_username_or_invert":true,
        "password_requirements":"A password must contain at least two of ...",
        "password_validity_period":90,"password_char_combination":4}"#;
    let a: AccountPolicy = serde_json::from_str(body).expect("parses");
    let mut p = policy(I);
    p.apply_account_policy(&a);
    assert_eq!((p.min_length(), p.max_length()), (12, Some(32)));
    assert_eq!(p.required_classes(), Some(4));
    assert_eq!(p.max_repeats(), Some(3));
}

/// Generates `n` passwords and checks each passes every rule with itself as confirmation.
fn generate_many(p: &Policy, length: usize, n: usize) -> Vec<String> {
    let mut buf = SecretBuf::password();
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        generate(p, length, &mut buf).expect("generates");
        let text = buf.expose();
        let list = run(p, text, Some("Not-The-Same-1"));
        assert!(
            list.all_passed(),
            "{:?} failed {:?}",
            p.kind(),
            list.failures().collect::<Vec<_>>()
        );
        assert_labels_hide(&list, text);
        // Test-only copies, to compare across draws.
        seen.push(text.to_owned());
    }
    seen
}

#[test]
fn generated_passwords_pass_every_kinds_policy() {
    let override_sets = [
        PolicyOverrides::default(),
        PolicyOverrides {
            min_length: Some(20),
            specials: Some("-_".into()),
            ..Default::default()
        },
        PolicyOverrides {
            min_classes: Some(4),
            max_length: Some(64),
            ..Default::default()
        },
    ];
    for kind in Kind::ALL {
        for o in &override_sets {
            let p = overridden(kind, o.clone());
            let all = generate_many(&p, DEFAULT_GENERATED_LENGTH, 1000);
            let expected_len = DEFAULT_GENERATED_LENGTH.max(p.min_length());
            assert!(all.iter().all(|s| s.chars().count() == expected_len));
            // 1,000 draws from the CSPRNG never repeat.
            let mut unique = all.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), all.len(), "{kind}");
            if o.specials.is_some() {
                assert!(
                    all.iter()
                        .flat_map(|s| s.chars())
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                );
            }
        }
    }
}

#[test]
fn generated_passwords_meet_an_account_policy_with_repeat_limits() {
    let mut p = policy(I);
    p.apply_account_policy(&AccountPolicy {
        minimum_password_length: Some(12),
        password_char_combination: Some(4),
        maximum_consecutive_identical_chars: Some(1),
        ..AccountPolicy::default()
    });
    let all = generate_many(&p, 128, 200);
    assert!(all.iter().all(|s| s.chars().count() == 32));
    assert!(
        all.iter()
            .all(|s| s.as_bytes().windows(2).all(|w| w[0] != w[1]))
    );
}

#[test]
fn generated_length_is_clamped_to_the_policy() {
    let len = |p: &Policy, n| {
        let mut buf = SecretBuf::password();
        generate(p, n, &mut buf).expect("generates");
        buf.char_count()
    };
    assert_eq!(len(&policy(T), 100), 16);
    assert_eq!(len(&policy(T), 4), 8);
    assert_eq!(len(&policy(T), 0), 8);
    assert_eq!(len(&policy(D), 100), 32);
    assert_eq!(len(&policy(I), 12), 12);
    assert_eq!(len(&policy(C), 100), 100);
    assert_eq!(len(&policy(C), 1000), 128);
}

#[test]
fn generation_reports_a_field_too_small() {
    let mut storage = [0u8; 8];
    let mut small = SecretBuf::over(&mut storage);
    let err = generate(&policy(D), 16, &mut small).expect_err("16 chars do not fit in 8 bytes");
    assert!(matches!(err, GenerateError::Full(_)));
    assert!(small.is_empty());
}

#[test]
fn generation_replaces_what_was_in_the_field() {
    let mut buf = SecretBuf::password();
    buf.insert_str("leftover").expect("fits");
    generate(&policy(T), 16, &mut buf).expect("generates");
    assert_eq!(buf.char_count(), 16);
    assert!(!buf.expose().contains("leftover"));
}

#[test]
fn strength_flags_common_passwords() {
    let s = estimate("password", &[]);
    assert_eq!(s.score, 0);
    assert_eq!(s.label, "very weak");
    assert!(s.warning.is_some(), "{s:?}");
    assert!(!s.suggestions.is_empty());
}

#[test]
fn strength_of_generated_passwords_is_strong() {
    let mut buf = SecretBuf::password();
    for kind in Kind::ALL {
        generate(&policy(kind), 20, &mut buf).expect("generates");
        let s = estimate(buf.expose(), &[]);
        assert_eq!((s.score, s.label), (4, "strong"), "{kind}");
        assert!(s.warning.is_none());
    }
}

#[test]
fn context_words_lower_the_score() {
    let p = profile(C, PolicyOverrides::default());
    let words = context_words(&p);
    assert!(words.iter().any(|w| w == CIAM_USER), "{words:?}");
    let context: Vec<&str> = words.iter().map(String::as_str).collect();
    let pw = format!("{CIAM_USER}2024!");
    let without = estimate(&pw, &[]);
    let with = estimate(&pw, &context);
    assert_eq!(without.score, 4);
    assert!(with.score < without.score, "{without:?} vs {with:?}");
    assert!(with.score <= 2);
}

#[test]
fn context_words_name_the_account_but_no_secret() {
    let iam = context_words(&profile(I, PolicyOverrides::default()));
    for w in [
        "alice.admin",
        "alice",
        "admin",
        "prod-vault",
        "prod",
        "vault",
        "huawei",
        "iam",
        "acme-corp",
        IAM_EMAIL,
        "example",
        "8613800000000",
        "3800000000",
    ] {
        assert!(iam.iter().any(|x| x == w), "{w} missing from {iam:?}");
    }
    for kind in Kind::ALL {
        let words = context_words(&profile(kind, PolicyOverrides::default()));
        assert!(words.iter().all(|w| w == &w.to_lowercase()));
        assert!(
            words.iter().all(|w| !w.contains("canary")),
            "{kind}: {words:?}"
        );
        let mut unique = words.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), words.len());
    }
    // DCS and BM have no user name; the provider and kind words are there.
    let bm = context_words(&profile(T, PolicyOverrides::default()));
    assert!(bm.iter().any(|w| w == "tencent") && bm.iter().any(|w| w == "vpn"));
}

/// Asserts nothing in `s` shows a 3-character piece of `password`.
fn assert_strength_hides(s: &Strength, password: &str) {
    let chars: Vec<char> = password.chars().collect();
    let mut texts = vec![format!("{s:?}"), s.crack_time.clone(), s.label.to_owned()];
    texts.extend(s.warning.clone());
    texts.extend(s.suggestions.iter().cloned());
    for window in chars.windows(3) {
        let piece: String = window.iter().collect();
        for t in &texts {
            assert!(!t.contains(&piece), "{piece:?} of the password is in {t:?}");
        }
    }
}

#[test]
fn strength_holds_no_part_of_the_password() {
    // Weak canaries (so feedback is present) and a strong one.
    for canary in ["Zqxjv2024", "qzxqzxqzx", "Qwertyzqx", "Vz9#Kq7!Xw4$Jm2&"] {
        let s = estimate(canary, &[]);
        assert_strength_hides(&s, canary);
    }
    let s = estimate("Zqxjv2024", &[]);
    assert!(s.warning.is_some() || !s.suggestions.is_empty(), "{s:?}");
}

#[test]
fn warm_up_does_not_panic() {
    rekey::policy::warm_up();
}
