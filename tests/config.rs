//! `profiles.toml`: every valid fixture loads with the expected values; every invalid fixture
//! fails at the line, column and with the message its first line announces; no message or
//! warning ever shows a secret; secret sources resolve as SPEC §5 says.

use std::path::{Path, PathBuf};

use rekey::config::{
    self, AkskVariant, Config, ConfigError, DcsAuth, Kind, LoadOutcome, Operate, PolicyOverrides,
    ProviderConfig, SecretError, SecretSource, SignatureMethod, StoreBackend, TencentApi,
    ThemeName,
};

/// Part of the canary `CANARY-s3cr3t-7Q` that fixtures put in every secret value. It must never
/// appear in an error or a warning.
const CANARY: &str = "s3cr3t-7Q";

fn fixture_dir(which: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(which)
}

fn fixtures(which: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir(which))
        .expect("fixture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn load_valid(name: &str) -> Config {
    let path = fixture_dir("valid").join(name);
    match config::load(&path) {
        Ok(LoadOutcome::Loaded(config)) => config,
        Ok(LoadOutcome::Missing(p)) => panic!("{} is missing", p.display()),
        Err(e) => panic!("{name} should be valid:\n{e}"),
    }
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "{what} shows a secret value:\n{text}"
    );
}

fn profile<'a>(config: &'a Config, name: &str) -> &'a config::Profile {
    config
        .profiles
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no profile `{name}`"))
}

// ---------------------------------------------------------------------------------------------
// Valid files

#[test]
fn every_valid_fixture_loads_without_leaking_secrets() {
    let files = fixtures("valid");
    assert!(files.len() >= 5, "expected several valid fixtures");
    for path in files {
        let config = match config::load(&path) {
            Ok(LoadOutcome::Loaded(config)) => config,
            Ok(LoadOutcome::Missing(_)) => panic!("{} vanished", path.display()),
            Err(e) => panic!("{} should be valid:\n{e}", path.display()),
        };
        assert_eq!(config.path, path);
        for warning in &config.warnings {
            assert_no_canary("a warning", warning);
        }
        assert_no_canary("Config's Debug", &format!("{config:?}"));
    }
}

#[test]
fn the_valid_fixtures_cover_every_kind_key_and_source() {
    let mut kinds = Vec::new();
    let mut sources = Vec::new();
    let mut aksk = Vec::new();
    let mut token = false;
    let mut bm_v2 = false;
    let mut policy = PolicyOverrides::default();
    let mut audit_false = false;
    let mut backends = Vec::new();
    let mut store_options = (false, false, false);
    let mut note = |s: &SecretSource| {
        sources.push(match s {
            SecretSource::Env(_) => "env",
            SecretSource::Command(_) => "command",
            SecretSource::Prompt => "prompt",
            SecretSource::Value(_) => "value",
        })
    };
    for path in fixtures("valid") {
        let Ok(LoadOutcome::Loaded(config)) = config::load(&path) else {
            panic!("{} should be valid", path.display());
        };
        audit_false |= !config.audit;
        for p in &config.profiles {
            kinds.push(p.kind);
            if let Some(store) = &p.store {
                backends.push(store.backend_name());
                store_options.0 |= !store.read_current;
                store_options.1 |= store.timeout_secs != 30;
                if let StoreBackend::Keepassxc {
                    database_password,
                    key_file,
                    ..
                } = &store.backend
                {
                    database_password.iter().for_each(&mut note);
                    store_options.2 |= key_file.is_some();
                }
            }
            let po = &p.policy;
            policy.min_length = policy.min_length.or(po.min_length);
            policy.max_length = policy.max_length.or(po.max_length);
            policy.min_classes = policy.min_classes.or(po.min_classes);
            policy.specials = policy.specials.clone().or(po.specials.clone());
            match &p.provider {
                ProviderConfig::TencentBmVpn(t) => {
                    note(&t.secret_id);
                    note(&t.secret_key);
                    t.session_token.iter().for_each(&mut note);
                    bm_v2 |= t.api == TencentApi::V2
                        && t.zone_id.is_some()
                        && t.app_id.is_some()
                        && t.signature_method == SignatureMethod::HmacSha1;
                }
                ProviderConfig::HuaweiDcs(d) => match &d.auth {
                    DcsAuth::Aksk {
                        access_key,
                        secret_key,
                        variant,
                    } => {
                        note(access_key);
                        note(secret_key);
                        aksk.push(*variant);
                    }
                    DcsAuth::Token { password, .. } => {
                        note(password);
                        token = true;
                    }
                },
                ProviderConfig::HuaweiIam(_) => {}
                ProviderConfig::TencentCiam(c) => {
                    c.client_secret.iter().for_each(&mut note);
                    c.access_token.iter().for_each(&mut note);
                }
            }
        }
    }
    for kind in Kind::ALL {
        assert!(kinds.contains(&kind), "no valid fixture uses {kind}");
    }
    for source in ["env", "command", "prompt", "value"] {
        assert!(sources.contains(&source), "no valid fixture uses {source}");
    }
    assert!(aksk.contains(&AkskVariant::Huawei) && aksk.contains(&AkskVariant::Otc));
    assert!(token, "no valid fixture uses DCS token auth");
    assert!(bm_v2, "no valid fixture uses the v2 options");
    assert!(audit_false, "no valid fixture sets audit = false");
    for backend in ["pass", "keepassxc", "secret-service", "command"] {
        assert!(
            backends.contains(&backend),
            "no valid fixture uses the {backend} store"
        );
    }
    assert_eq!(
        store_options,
        (true, true, true),
        "no valid fixture sets read_current = false, a store timeout_secs, or a key_file"
    );
    assert!(
        policy.min_length.is_some()
            && policy.max_length.is_some()
            && policy.min_classes.is_some()
            && policy.specials.is_some(),
        "no valid fixture uses every policy key"
    );
}

#[test]
fn empty_file_has_no_profiles() {
    let config = load_valid("empty.toml");
    assert!(config.profiles.is_empty());
    assert!(config.audit);
    assert!(config.warnings.is_empty());
}

#[test]
fn spec_example_parses_with_defaults() {
    let config = load_valid("spec_example.toml");
    assert!(config.audit);
    assert!(
        config.mouse,
        "the mouse is on unless the file says mouse = false"
    );
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bm-vpn", "redis-prod", "iam-alice", "portal"]);
    let lines: Vec<usize> = config.profiles.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 9, 17, 24]);

    let bm = profile(&config, "bm-vpn");
    assert_eq!(bm.kind, Kind::TencentBmVpn);
    assert_eq!(bm.timeout_secs, 15);
    assert!(!bm.production);
    assert_eq!(bm.endpoint, None);
    assert_eq!(bm.ca_file, None);
    assert_eq!(bm.notes, None);
    assert_eq!(bm.policy, PolicyOverrides::default());
    let ProviderConfig::TencentBmVpn(t) = &bm.provider else {
        panic!("wrong provider")
    };
    assert_eq!(t.region, "ap-guangzhou");
    assert!(matches!(&t.secret_id, SecretSource::Env(n) if n == "TENCENTCLOUD_SECRET_ID"));
    assert!(
        matches!(&t.secret_key, SecretSource::Command(argv) if argv == &["pass", "show", "tencent/secret-key"])
    );
    assert!(t.session_token.is_none());
    assert_eq!(t.api, TencentApi::V3);
    assert_eq!(t.operate, Operate::Auto);
    assert_eq!(t.signature_method, SignatureMethod::HmacSha256);
    assert_eq!((t.zone_id, t.app_id), (None, None));

    let dcs = profile(&config, "redis-prod");
    let ProviderConfig::HuaweiDcs(d) = &dcs.provider else {
        panic!("wrong provider")
    };
    assert_eq!(d.region, "cn-north-4");
    assert_eq!(d.project_id, "0123456789abcdef0123456789abcdef");
    assert_eq!(d.instance_id, "11111111-2222-3333-4444-555555555555");
    assert!(matches!(
        &d.auth,
        DcsAuth::Aksk {
            variant: AkskVariant::Huawei,
            ..
        }
    ));

    let iam = profile(&config, "iam-alice");
    let ProviderConfig::HuaweiIam(i) = &iam.provider else {
        panic!("wrong provider")
    };
    assert_eq!(i.iam_endpoint.as_str(), "https://iam.myhuaweicloud.com/");
    assert_eq!(
        (i.domain.as_str(), i.user.as_str()),
        ("my-account", "alice")
    );
    assert_eq!((i.email.as_deref(), i.phone.as_deref()), (None, None));
    assert_eq!(iam.user_name(), Some("alice"));

    let ciam = profile(&config, "portal");
    assert_eq!(
        ciam.endpoint.as_ref().map(url::Url::as_str),
        Some("https://sample.portal.tencentciam.com/")
    );
    let ProviderConfig::TencentCiam(c) = &ciam.provider else {
        panic!("wrong provider")
    };
    assert_eq!(c.client_id, "app-client-id");
    assert_eq!(c.auth_source_id, "auth-source-id");
    assert_eq!(c.username, "bob");
    assert!(c.client_secret.is_none() && c.access_token.is_none());
}

#[test]
fn mouse_false_at_the_top_leaves_the_mouse_to_the_terminal() {
    let config = load_valid("mouse_off.toml");
    assert!(!config.mouse);
    assert_eq!(config.profiles.len(), 1);
}

#[test]
fn theme_at_the_top_picks_the_console_colours() {
    let config = load_valid("theme_light.toml");
    assert_eq!(config.theme, ThemeName::Light);
    assert_eq!(config.profiles.len(), 1);
    let config = load_valid("mouse_off.toml");
    assert_eq!(
        config.theme,
        ThemeName::Default,
        "no theme key means the default theme"
    );
    let text = "theme = \"high-contrast\"\n";
    let config = config::parse(Path::new("t.toml"), text).expect("valid");
    assert_eq!(config.theme, ThemeName::HighContrast);
}

#[test]
fn tencent_v2_options_and_common_keys() {
    let config = load_valid("tencent_bm_v2.toml");
    assert!(!config.audit);
    // `bm.defaults` names a v2-only key on a v3 profile: accepted, with a warning at the key.
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].ends_with(
            "tencent_bm_v2.toml:36:20: profile `bm.defaults`: `signature_method` is only used \
             with api = \"v2\"; it is ignored with v3"
        ),
        "{:?}",
        config.warnings
    );
    let p = profile(&config, "bm-legacy_2");
    assert_eq!(p.line, 4);
    assert_eq!(
        p.endpoint.as_ref().map(url::Url::as_str),
        Some("https://bm.api.qcloud.com/v2/index.php")
    );
    assert_eq!(p.timeout_secs, 300);
    assert!(p.production);
    assert_eq!(p.notes.as_deref(), Some("Rack 4, out-of-band VPN"));
    // A relative ca_file is relative to the config file's directory.
    assert_eq!(
        p.ca_file.as_deref(),
        Some(fixture_dir("valid").join("certs/corp-root.pem").as_path())
    );
    assert_eq!(
        p.policy,
        PolicyOverrides {
            min_length: Some(12),
            max_length: Some(16),
            min_classes: Some(3),
            specials: Some("!#$%&^*()".into()),
        }
    );
    let ProviderConfig::TencentBmVpn(t) = &p.provider else {
        panic!("wrong provider")
    };
    assert_eq!(t.region, "ap-shanghai");
    assert_eq!(t.api, TencentApi::V2);
    assert_eq!(t.operate, Operate::Create);
    assert_eq!(t.zone_id, Some(1000100003));
    assert_eq!(t.app_id, Some(1251001002));
    assert_eq!(t.signature_method, SignatureMethod::HmacSha1);
    assert!(matches!(t.session_token, Some(SecretSource::Prompt)));
    assert_eq!(p.prompt_secrets(), ["session_token"]);

    let d = profile(&config, "bm.defaults");
    let ProviderConfig::TencentBmVpn(t) = &d.provider else {
        panic!("wrong provider")
    };
    assert_eq!(t.api, TencentApi::V3);
    assert_eq!(t.operate, Operate::Update);
    assert_eq!(t.signature_method, SignatureMethod::HmacSha256);
}

#[test]
fn huawei_dcs_auth_forms() {
    let config = load_valid("huawei_dcs.toml");
    assert!(config.audit);
    // Stored values are fine for a loopback endpoint: no warning.
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    let otc = profile(&config, "otc-redis");
    assert_eq!(
        otc.endpoint.as_ref().map(url::Url::as_str),
        Some("http://127.0.0.1:8707/")
    );
    assert_eq!(otc.timeout_secs, 5);
    let ProviderConfig::HuaweiDcs(d) = &otc.provider else {
        panic!("wrong provider")
    };
    assert_eq!(d.region, "eu-de");
    let DcsAuth::Aksk {
        access_key,
        secret_key,
        variant,
    } = &d.auth
    else {
        panic!("expected aksk")
    };
    assert_eq!(*variant, AkskVariant::Otc);
    assert_eq!(
        access_key.resolve("auth.access_key").unwrap().as_str(),
        "CANARY-s3cr3t-7Q-ak"
    );
    assert_eq!(
        secret_key.resolve("auth.secret_key").unwrap().as_str(),
        "CANARY-s3cr3t-7Q-sk"
    );
    assert_eq!(format!("{access_key:?}"), "Value([redacted])");

    let token = profile(&config, "redis-token");
    assert_eq!(
        token.endpoint.as_ref().map(url::Url::as_str),
        Some("http://[::1]:8707/")
    );
    let ProviderConfig::HuaweiDcs(d) = &token.provider else {
        panic!("wrong provider")
    };
    let DcsAuth::Token {
        iam_endpoint,
        domain,
        user,
        password,
    } = &d.auth
    else {
        panic!("expected token auth")
    };
    assert_eq!(iam_endpoint.as_str(), "http://localhost:8707/");
    assert_eq!((domain.as_str(), user.as_str()), ("acct", "ops"));
    assert!(matches!(password, SecretSource::Prompt));
    assert_eq!(token.prompt_secrets(), ["auth.password"]);

    let dotted = profile(&config, "redis-huawei");
    let ProviderConfig::HuaweiDcs(d) = &dotted.provider else {
        panic!("wrong provider")
    };
    assert!(matches!(
        &d.auth,
        DcsAuth::Aksk {
            variant: AkskVariant::Huawei,
            access_key: SecretSource::Env(_),
            secret_key: SecretSource::Command(_),
        }
    ));
}

#[test]
fn huawei_iam_and_tencent_ciam_optional_keys() {
    let config = load_valid("iam_and_ciam.toml");
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let iam = profile(&config, "iam-alice");
    let ProviderConfig::HuaweiIam(i) = &iam.provider else {
        panic!("wrong provider")
    };
    assert_eq!(i.domain, "OTC-EU-DE-000000000010000");
    assert_eq!(i.email.as_deref(), Some("alice@example.com"));
    assert_eq!(i.phone.as_deref(), Some("13800000000"));
    assert!(!iam.production);
    assert_eq!(iam.policy.min_length, Some(8));
    assert_eq!(iam.policy.min_classes, Some(2));
    assert_eq!(iam.policy.max_length, None);

    let ciam = profile(&config, "portal");
    let ProviderConfig::TencentCiam(c) = &ciam.provider else {
        panic!("wrong provider")
    };
    assert_eq!(c.username, "bob@example.com");
    assert!(matches!(c.client_secret, Some(SecretSource::Value(_))));
    assert!(matches!(c.access_token, Some(SecretSource::Prompt)));
    assert_eq!(ciam.prompt_secrets(), ["access_token"]);
    assert_eq!(ciam.policy.max_length, Some(128));
    assert_eq!(ciam.policy.specials.as_deref(), Some("-_.@"));
}

#[test]
fn findings_become_warnings_without_the_secret() {
    let config = load_valid("warnings.toml");
    assert_eq!(config.profiles.len(), 3);
    let w = &config.warnings;
    assert_eq!(w.len(), 4, "{w:#?}");
    for warning in w {
        assert!(warning.contains("warnings.toml:"), "{warning}");
        assert_no_canary("a warning", warning);
    }
    let expect = [
        ":8:14: profile `bm-v3`: secret_key is stored in the file; prefer env/command/prompt",
        ":9:11: profile `bm-v3`: `zone_id` is only used with api = \"v2\"",
        ":18:118: profile `dcs-token`: auth.password is stored in the file; prefer env/command/prompt",
        ":27:16: profile `portal`: access_token is stored in the file",
    ];
    for fragment in expect {
        assert!(
            w.iter().any(|x| x.contains(fragment)),
            "no warning contains {fragment:?}: {w:#?}"
        );
    }
}

#[test]
fn stores_parse_for_every_backend() {
    let config = load_valid("stores.toml");
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set for the tests"));
    let dir = fixture_dir("valid");
    // A `{ value = "..." }` database password is warned about, without its text.
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].contains(
            "stores.toml:31:21: profile `iam-keyfile`: store.database_password is stored in the \
             file; prefer env/command/prompt"
        ),
        "{:?}",
        config.warnings
    );

    let store = |name: &str| {
        profile(&config, name)
            .store
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no store"))
    };

    let pass = store("redis-pass");
    assert!(matches!(pass.backend, StoreBackend::Pass));
    assert_eq!(pass.entry, "cloud/redis-prod");
    assert!(pass.read_current, "read_current defaults to true");
    assert_eq!(pass.timeout_secs, 30, "timeout_secs defaults to 30");
    assert_eq!(pass.label(), "pass:cloud/redis-prod");

    let kp = store("iam-keepassxc");
    let StoreBackend::Keepassxc {
        database,
        database_password,
        key_file,
    } = &kp.backend
    else {
        panic!("expected keepassxc: {kp:?}")
    };
    assert_eq!(
        database,
        &home.join("vault.kdbx"),
        "~/ is the home directory"
    );
    assert!(matches!(database_password, Some(SecretSource::Prompt)));
    assert_eq!(key_file, &None);
    assert_eq!(kp.entry, "Cloud/iam-alice");
    assert_eq!((kp.read_current, kp.timeout_secs), (true, 30));
    assert_eq!(kp.label(), "keepassxc:Cloud/iam-alice");

    // The [profile.store] sub-table form gives the same value.
    let sub = store("iam-keyfile");
    let StoreBackend::Keepassxc {
        database,
        database_password,
        key_file,
    } = &sub.backend
    else {
        panic!("expected keepassxc: {sub:?}")
    };
    assert_eq!(
        database,
        &dir.join("vaults/team.kdbx"),
        "relative to the config file's directory"
    );
    assert_eq!(
        key_file.as_deref(),
        Some(home.join("keys/team.key").as_path())
    );
    let password = database_password.as_ref().expect("database_password");
    assert_eq!(
        password
            .resolve("store.database_password")
            .unwrap()
            .as_str(),
        "CANARY-s3cr3t-7Q-kdbx"
    );
    assert_eq!(sub.entry, "Team/iam bob");
    assert_eq!((sub.read_current, sub.timeout_secs), (false, 600));

    let keyring = store("portal-keyring");
    assert!(matches!(keyring.backend, StoreBackend::SecretService));
    assert_eq!(keyring.entry, "portal-bob");
    assert_eq!((keyring.read_current, keyring.timeout_secs), (true, 5));
    assert_eq!(keyring.label(), "secret-service:portal-bob");

    let command = store("bm-command");
    let StoreBackend::Command { argv } = &command.backend else {
        panic!("expected command: {command:?}")
    };
    assert_eq!(argv, &["my-store", "--vault", "ops"]);
    assert_eq!(command.entry, "bm/vpn-gz");
    assert!(!command.read_current);
    assert_eq!(command.label(), "command:bm/vpn-gz");

    let only_key = store("keyfile-only");
    let StoreBackend::Keepassxc {
        database,
        database_password,
        key_file,
    } = &only_key.backend
    else {
        panic!("expected keepassxc: {only_key:?}")
    };
    assert_eq!(
        database,
        Path::new("/srv/vaults/ops.kdbx"),
        "absolute as given"
    );
    assert!(database_password.is_none(), "a key file alone opens it");
    assert_eq!(key_file.as_deref(), Some(dir.join("ops.key").as_path()));

    assert!(profile(&config, "no-store").store.is_none());
}

#[test]
fn a_store_inline_and_as_a_sub_table_are_the_same() {
    let head = "[[profile]]\nname = \"p\"\nkind = \"huawei-iam\"\n\
                iam_endpoint = \"https://iam.example.com\"\ndomain = \"d\"\nuser = \"u\"\n";
    let inline = format!(
        "{head}store = {{ backend = \"command\", command = [\"st\", \"-v\"], entry = \"e/1\", \
         read_current = false, timeout_secs = 9 }}\n"
    );
    let table = format!(
        "{head}[profile.store]\nbackend = \"command\"\ncommand = [\"st\", \"-v\"]\n\
         entry = \"e/1\"\nread_current = false\ntimeout_secs = 9\n"
    );
    let path = Path::new("/etc/rekey/profiles.toml");
    let shown: Vec<String> = [inline, table]
        .iter()
        .map(|text| {
            let config = config::parse(path, text).unwrap_or_else(|e| panic!("{e}"));
            format!("{:?}", config.profiles[0].store)
        })
        .collect();
    assert_eq!(shown[0], shown[1]);
    assert!(shown[0].contains("[\"st\", \"-v\"]"), "{}", shown[0]);
}

// ---------------------------------------------------------------------------------------------
// Invalid files

/// `# expect: LINE[:COLUMN]: FRAGMENT` from a fixture's first line.
fn expectation(path: &Path) -> (usize, Option<usize>, String) {
    let bytes = std::fs::read(path).expect("fixture");
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or_default();
    let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| {
        panic!(
            "{}: first line must be `# expect: LINE: text`",
            path.display()
        )
    });
    let (line, rest) = rest.split_once(':').expect("LINE:");
    let line: usize = line.trim().parse().expect("line number");
    let (column, fragment) = match rest.split_once(':') {
        Some((col, fragment)) if col.trim().parse::<usize>().is_ok() => {
            (col.trim().parse().ok(), fragment)
        }
        _ => (None, rest),
    };
    (line, column, fragment.trim().to_string())
}

#[test]
fn every_invalid_fixture_fails_where_it_says() {
    let files = fixtures("invalid");
    assert!(files.len() >= 20, "expected at least 20 invalid fixtures");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (line, column, fragment) = expectation(path);
        let err: ConfigError = match config::load(path) {
            Err(e) => e,
            Ok(_) => {
                failures.push(format!("{name}: loaded, expected an error at line {line}"));
                continue;
            }
        };
        let shown = err.to_string();
        assert_no_canary(&name, &shown);
        assert_no_canary(&name, &format!("{err:?}"));
        let mut problems = Vec::new();
        if err.line != line {
            problems.push(format!("line {} (expected {line})", err.line));
        }
        if let Some(column) = column
            && err.column != column
        {
            problems.push(format!("column {} (expected {column})", err.column));
        }
        if !shown.contains(&fragment) {
            problems.push(format!("message lacks {fragment:?}"));
        }
        if !shown.starts_with(&format!("{}:{}:{}: ", path.display(), err.line, err.column)) {
            problems.push("does not start with path:line:column".into());
        }
        if !shown.contains(&name) {
            problems.push("does not name the file".into());
        }
        if err.fix.trim().is_empty() || !shown.contains("\n  fix: ") {
            problems.push("has no fix".into());
        }
        if err.column == 0 {
            problems.push("column is 0".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{shown}", problems.join(", ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Every way of getting a secret source wrong, for every secret-bearing key: an error, and the
/// canary never in it.
#[test]
fn no_secret_source_mistake_echoes_the_secret() {
    let templates: &[(&str, &str)] = &[
        (
            "secret_id",
            "[[profile]]\nname = \"bm\"\nkind = \"tencent-bm-vpn\"\nregion = \"r\"\nsecret_id = @\nsecret_key = { env = \"K\" }\n",
        ),
        (
            "secret_key",
            "[[profile]]\nname = \"bm\"\nkind = \"tencent-bm-vpn\"\nregion = \"r\"\nsecret_id = { env = \"I\" }\nsecret_key = @\n",
        ),
        (
            "session_token",
            "[[profile]]\nname = \"bm\"\nkind = \"tencent-bm-vpn\"\nregion = \"r\"\nsecret_id = { env = \"I\" }\nsecret_key = { env = \"K\" }\nsession_token = @\n",
        ),
        (
            "access_key",
            "[[profile]]\nname = \"d\"\nkind = \"huawei-dcs\"\nregion = \"r\"\nproject_id = \"p\"\ninstance_id = \"i\"\n[profile.auth]\nmethod = \"aksk\"\nsecret_key = { env = \"K\" }\naccess_key = @\n",
        ),
        (
            "secret_key",
            "[[profile]]\nname = \"d\"\nkind = \"huawei-dcs\"\nregion = \"r\"\nproject_id = \"p\"\ninstance_id = \"i\"\n[profile.auth]\nmethod = \"aksk\"\naccess_key = { env = \"A\" }\nsecret_key = @\n",
        ),
        (
            "password",
            "[[profile]]\nname = \"d\"\nkind = \"huawei-dcs\"\nregion = \"r\"\nproject_id = \"p\"\ninstance_id = \"i\"\n[profile.auth]\nmethod = \"token\"\niam_endpoint = \"https://iam.example.com\"\ndomain = \"d\"\nuser = \"u\"\npassword = @\n",
        ),
        (
            "client_secret",
            "[[profile]]\nname = \"c\"\nkind = \"tencent-ciam\"\nendpoint = \"https://x.example.com\"\nclient_id = \"c\"\nauth_source_id = \"a\"\nusername = \"u\"\nclient_secret = @\n",
        ),
        (
            "access_token",
            "[[profile]]\nname = \"c\"\nkind = \"tencent-ciam\"\nendpoint = \"https://x.example.com\"\nclient_id = \"c\"\nauth_source_id = \"a\"\nusername = \"u\"\naccess_token = @\n",
        ),
        (
            "database_password",
            "[[profile]]\nname = \"i\"\nkind = \"huawei-iam\"\niam_endpoint = \"https://iam.example.com\"\ndomain = \"d\"\nuser = \"u\"\n[profile.store]\nbackend = \"keepassxc\"\ndatabase = \"/v.kdbx\"\nentry = \"e\"\ndatabase_password = @\n",
        ),
    ];
    let c = "CANARY-s3cr3t-7Q";
    let forms = [
        format!("\"{c}\""),
        format!("'{c}'"),
        format!("\"\"\"{c}\"\"\""),
        format!("'''\n{c}'''"),
        format!("\"{c}\\q\""),
        c.to_string(),
        format!("[\"{c}\"]"),
        "{}".to_string(),
        format!("{{ value = \"{c}\", env = \"X\" }}"),
        format!("{{ env = \"X\", value = \"{c}\" }}"),
        format!("{{ valeu = \"{c}\" }}"),
        format!("{{ Value = \"{c}\" }}"),
        format!("{{ {c} = true }}"),
        format!("{{ \"{c}\" = \"x\" }}"),
        format!("{{ \"{c}\" = 1, \"{c}\" = 2 }}"),
        format!("{{ value.{c} = 1 }}"),
        format!("{{ {c} }}"),
        format!("{{ value = \"{c}\", prompt = false }}"),
        format!("{{ prompt = false, value = \"{c}\" }}"),
        "{ prompt = false }".to_string(),
        format!("{{ value = \"{c}\""),
        format!("{{ value = {c} }}"),
        format!("{{ value = [\"{c}\"] }}"),
        format!("{{ value = {{ text = \"{c}\" }} }}"),
        "{ value = \"\" }".to_string(),
        "{ env = \"\" }".to_string(),
        format!("{{ env = \"{c}=1\" }}"),
        format!("{{ env = [\"{c}\"] }}"),
        "{ command = [] }".to_string(),
        format!("{{ command = [\"\", \"{c}\"] }}"),
        format!("{{ command = [\"pass\", 1, \"{c}\"] }}"),
        format!("{{ command = \"pass {c}\" }}"),
        format!("{{ value = \"{c}\" }}\n@KEY@ = {{ env = \"X\" }}"),
        format!("{{ value = \"{c}\" }} trailing"),
    ];
    let path = Path::new("/etc/rekey/profiles.toml");
    for (key, template) in templates {
        for form in &forms {
            let form = form.replace("@KEY@", key);
            let text = template.replace('@', &form);
            match config::parse(path, &text) {
                Ok(config) => panic!("accepted {key} = {form}: {:?}", config.warnings),
                Err(e) => {
                    let context = format!("{key} = {form}");
                    assert_no_canary(&context, &e.to_string());
                    assert_no_canary(&context, &format!("{e:?}"));
                    assert!(e.line > 0 && e.column > 0, "{context}: {e}");
                }
            }
        }
    }
}

#[test]
fn the_first_error_in_a_profile_is_reported() {
    // Unknown keys come before missing ones, so a misspelt `name` is reported as a typo.
    let err = config::parse(
        Path::new("p.toml"),
        "[[profile]]\nnmae = \"x\"\nkind = \"huawei-iam\"\n",
    )
    .unwrap_err();
    assert_eq!((err.line, err.column), (2, 1));
    assert!(err.message.contains("did you mean `name`?"), "{err}");
}

#[test]
fn display_format_is_path_line_column_message_fix() {
    let err = config::parse(Path::new("dir/p.toml"), "audit = 1\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("dir/p.toml:1:9: {}\n  fix: {}", err.message, err.fix)
    );
}

#[test]
fn missing_file_is_not_an_error() {
    let path = fixture_dir("does-not-exist").join("profiles.toml");
    match config::load(&path) {
        Ok(LoadOutcome::Missing(p)) => assert_eq!(p, path),
        other => panic!("expected Missing, got {other:?}"),
    }
}

#[test]
fn unreadable_file_has_no_position() {
    // A directory cannot be read as a file.
    let path = fixture_dir("valid");
    let err = config::load(&path).unwrap_err();
    assert_eq!((err.line, err.column), (0, 0));
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}: cannot read", path.display())),
        "{shown}"
    );
    assert!(!shown.contains(":0:0"), "{shown}");
    assert!(shown.contains("\n  fix: "), "{shown}");
}

#[test]
fn resolve_path_prefers_the_command_line() {
    let cli = Path::new("/tmp/elsewhere.toml");
    assert_eq!(config::resolve_path(Some(cli)), Some(cli.to_path_buf()));
}

// ---------------------------------------------------------------------------------------------
// Secret sources

#[test]
fn resolve_env_reads_the_environment() {
    let got = SecretSource::Env("PATH".into())
        .resolve("secret_id")
        .unwrap();
    assert_eq!(
        Some(std::ffi::OsString::from(got.as_str())),
        std::env::var_os("PATH")
    );
    let err = SecretSource::Env("REKEY_TEST_SURELY_UNSET_4F1D".into())
        .resolve("secret_id")
        .unwrap_err();
    assert!(matches!(err, SecretError::EnvNotSet { .. }), "{err}");
    assert!(err.to_string().contains("REKEY_TEST_SURELY_UNSET_4F1D"));
}

#[cfg(unix)]
#[test]
fn resolve_command_strips_one_newline() {
    let run = |format: &str| {
        SecretSource::Command(vec![
            "printf".into(),
            format.into(),
            "CANARY-s3cr3t-7Q".into(),
        ])
        .resolve("secret_key")
        .unwrap()
    };
    assert_eq!(run("%s").as_str(), "CANARY-s3cr3t-7Q");
    assert_eq!(run("%s\n").as_str(), "CANARY-s3cr3t-7Q");
    assert_eq!(run("%s\r\n").as_str(), "CANARY-s3cr3t-7Q");
    assert_eq!(run("%s\n\n").as_str(), "CANARY-s3cr3t-7Q\n");
}

#[cfg(unix)]
#[test]
fn resolve_command_failure_hides_the_output() {
    let err = SecretSource::Command(vec![
        "sh".into(),
        "-c".into(),
        "echo CANARY-s3cr3t-7Q; exit 7".into(),
    ])
    .resolve("secret_key")
    .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("`sh`") && shown.contains("exit status 7"),
        "{shown}"
    );
    assert_no_canary("a command error", &shown);
}

#[test]
fn resolve_prompt_and_value() {
    let err = SecretSource::Prompt.resolve("auth.password").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`auth.password` is prompted in the console; it cannot be resolved here"
    );
    let config = load_valid("iam_and_ciam.toml");
    let ProviderConfig::TencentCiam(c) = &profile(&config, "portal").provider else {
        panic!("wrong provider")
    };
    let secret = c.client_secret.as_ref().unwrap().resolve("client_secret");
    assert_eq!(secret.unwrap().as_str(), "CANARY-s3cr3t-7Q-cs");
}

/// One broken profile does not hide the others: `load_each` (the console) loads every valid
/// profile and returns each broken one with all of its errors; `load` (headless) still refuses
/// the file with its first error, as SPEC §5 wants.
#[test]
fn each_profile_is_validated_on_its_own() {
    let path = fixture_dir("partial").join("two_broken.toml");
    let config = match config::load_each(&path) {
        Ok(LoadOutcome::Loaded(config)) => config,
        other => panic!("expected a config with broken profiles: {other:?}"),
    };
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["good-one", "good-two"]);
    assert_eq!(config.broken.len(), 2, "{:#?}", config.broken);

    let three = &config.broken[0];
    assert_eq!(three.name.as_deref(), Some("three-mistakes"));
    assert_eq!(three.line, 9);
    let found: Vec<(usize, usize, &str)> = three
        .errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!((found[0].0, found[0].1), (13, 1));
    assert!(
        found[0]
            .2
            .starts_with("unknown key `domian` in profile `three-mistakes`"),
        "{found:#?}"
    );
    assert_eq!((found[1].0, found[1].1), (15, 16), "{found:#?}");
    assert!(found[1].2.contains("timeout_secs"), "{found:#?}");
    assert_eq!(found[2].0, 12, "{found:#?}");
    assert!(found[2].2.contains("iam_endpoint"), "{found:#?}");

    let slip = &config.broken[1];
    assert_eq!(slip.name.as_deref(), Some("syntax-slip"));
    assert_eq!(slip.line, 17);
    assert_eq!(slip.errors.len(), 1);
    assert_eq!(slip.errors[0].line, 20, "{}", slip.errors[0]);
    assert!(
        slip.errors[0].message.starts_with("invalid TOML"),
        "{}",
        slip.errors[0]
    );

    // Headless: the whole file is refused, with the first error.
    let strict = config::load(&path).expect_err("strict load refuses a broken profile");
    assert_eq!((strict.line, strict.column), (13, 1), "{strict}");
}

/// A syntax error outside every profile is still an error about the whole file.
#[test]
fn syntax_error_before_the_profiles_is_file_level() {
    let text = "audit = tru\n\n[[profile]]\nname = \"a\"\nkind = \"huawei-iam\"\n\
                iam_endpoint = \"https://iam.myhuaweicloud.com\"\ndomain = \"d\"\nuser = \"u\"\n";
    let e = config::parse_each(Path::new("p.toml"), text).expect_err("file-level");
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.starts_with("invalid TOML"), "{e}");
}

#[test]
fn keys_at_the_top_override_the_console_keys() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rekey::console::keymap::{Action, Context};
    let config = load_valid("keys.toml");
    let keys = &config.keys;
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let plain = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    assert_eq!(
        keys.action_for(&ctrl('q'), Context::Global),
        Some(Action::Quit)
    );
    assert_eq!(keys.action_for(&plain('q'), Context::Global), None);
    assert_eq!(
        keys.action_for(&plain('R'), Context::Profiles),
        Some(Action::Settle)
    );
    assert_eq!(
        keys.action_for(&ctrl('s'), Context::Profiles),
        Some(Action::Settle)
    );
    let alt_g = KeyEvent::new(KeyCode::Char('g'), KeyModifiers::ALT);
    assert_eq!(
        keys.action_for(&alt_g, Context::Field),
        Some(Action::Generate)
    );
    assert_eq!(keys.action_for(&ctrl('g'), Context::Field), None);
    // The help shows the keys in force.
    let help = keys.help();
    assert!(
        help.iter()
            .any(|(k, w)| k == "Ctrl-Q" && w.starts_with("quit")),
        "{help:?}"
    );
    assert!(help.iter().any(|(k, _)| k.contains("R Ctrl-S")), "{help:?}");
}

#[test]
fn an_unknown_action_in_keys_lists_every_action() {
    let err = config::parse(Path::new("p.toml"), "[keys]\nquit = \"q\"\nsend = \"s\"\n")
        .expect_err("unknown action");
    assert_eq!((err.line, err.column), (3, 1));
    for action in rekey::console::keymap::action_names() {
        assert!(err.fix.contains(action), "{action} not in {}", err.fix);
    }
    let err = config::parse(Path::new("p.toml"), "keys = \"q\"\n").expect_err("not a table");
    assert!(err.message.contains("`keys` must be a table"), "{err}");
}
