//! Headless commands run as a real process.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::CANARY;

const PROFILES: &str = r#"
[[profile]]
name = "bm-vpn"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
secret_id = { env = "TENCENTCLOUD_SECRET_ID" }
secret_key = { env = "TENCENTCLOUD_SECRET_KEY" }

[[profile]]
name = "iam-alice"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "alice"

[[profile]]
name = "strict"
kind = "tencent-ciam"
endpoint = "https://sample.portal.tencentciam.com"
client_id = "c"
auth_source_id = "a"
username = "bob"
[profile.policy]
min_length = 12
"#;

/// A config file in a fresh temp dir, removed when dropped.
struct TempConfig {
    dir: PathBuf,
    path: PathBuf,
}

impl TempConfig {
    fn new(name: &str, text: &str) -> TempConfig {
        let dir = std::env::temp_dir().join(format!("rekey-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("profiles.toml");
        std::fs::write(&path, text).expect("write config");
        TempConfig { dir, path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rekey(args: &[&str], config: &TempConfig, stdin: &str) -> Output {
    common::run_rekey(args, &config.path, &config.dir.join("data"), stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_passes_with_exit_0_and_fails_with_exit_1() {
    let cfg = TempConfig::new("exit", PROFILES);
    let ok = rekey(&["check", "--profile", "bm-vpn"], &cfg, "Gx7(kQ2#vR9m\n");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let out = text(&ok.stdout);
    assert!(out.contains("passes every rule"), "{out}");
    assert!(out.contains("strength:"), "{out}");

    // 17 characters: too long for Tencent BM.
    let long = rekey(
        &["check", "--profile", "bm-vpn"],
        &cfg,
        "Gx7(kQ2#vR9mAbcde\n",
    );
    assert_eq!(long.status.code(), Some(1));
    assert!(text(&long.stdout).contains("✗"));

    // A weak password that passes every rule: strength is advisory, exit stays 0.
    let weak = rekey(&["check", "--profile", "iam-alice"], &cfg, "password1\n");
    assert_eq!(weak.status.code(), Some(0), "{}", text(&weak.stdout));
    assert!(
        text(&weak.stdout).contains("strength: 0/4")
            || text(&weak.stdout).contains("strength: 1/4")
    );
}

#[test]
fn check_json_has_a_fixed_shape() {
    let cfg = TempConfig::new("json", PROFILES);
    let out = rekey(
        &["check", "--profile", "strict", "--json"],
        &cfg,
        "short-pass1\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["profile"], "strict");
    assert_eq!(v["kind"], "tencent-ciam");
    assert_eq!(v["passed"], false);
    let rules = v["rules"].as_array().expect("rules");
    assert!(!rules.is_empty());
    for rule in rules {
        assert!(rule["rule"].is_string());
        assert!(rule["label"].is_string());
        assert!(rule["passed"].is_boolean());
        assert!(rule["source"].is_string());
    }
    assert!(
        rules
            .iter()
            .any(|r| r["source"] == "profile policy" && r["passed"] == false),
        "the min_length override fails and says it comes from the profile: {rules:?}"
    );
    let strength = &v["strength"];
    assert!(strength["score"].as_u64().is_some_and(|s| s <= 4));
    assert!(strength["label"].is_string());
    assert!(strength["crack_time"].is_string());
    assert!(strength["suggestions"].is_array());
}

#[test]
fn check_usage_and_config_errors_exit_2() {
    let cfg = TempConfig::new("usage", PROFILES);
    let unknown = rekey(&["check", "--profile", "nope"], &cfg, "x\n");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no profile named `nope`"));
    assert!(
        text(&unknown.stderr).contains("bm-vpn"),
        "lists known profiles"
    );

    let missing_flag = rekey(&["check"], &cfg, "x\n");
    assert_eq!(missing_flag.status.code(), Some(2));

    let empty = rekey(&["check", "--profile", "bm-vpn"], &cfg, "");
    assert_eq!(empty.status.code(), Some(2));
    assert!(text(&empty.stderr).contains("nothing on standard input"));

    let broken = TempConfig::new("broken", "[[profile]]\nname = \"a\"\nkind = 7\n");
    let out = rekey(&["check", "--profile", "a"], &broken, "x\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("profiles.toml:3"), "{err}");
    assert!(out.stdout.is_empty());

    let absent = TempConfig::new("absent", "");
    std::fs::remove_file(&absent.path).expect("remove");
    let out = rekey(&["check", "--profile", "a"], &absent, "x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no config file"));
}

#[test]
fn check_never_prints_the_candidate() {
    let cfg = TempConfig::new("canary", PROFILES);
    for profile in ["bm-vpn", "iam-alice", "strict"] {
        for json in [false, true] {
            let mut args = vec!["check", "--profile", profile];
            if json {
                args.push("--json");
            }
            let out = rekey(&args, &cfg, &format!("{CANARY}\n"));
            assert!(!text(&out.stdout).contains(CANARY), "{profile} stdout");
            assert!(!text(&out.stderr).contains(CANARY), "{profile} stderr");
            assert!(
                !text(&out.stdout).contains("Kanary"),
                "{profile} stdout part"
            );
        }
    }
}

#[test]
fn console_without_a_terminal_says_so() {
    let cfg = TempConfig::new("notty", PROFILES);
    let out = rekey(&[], &cfg, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs a terminal"));
}
