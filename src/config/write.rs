//! Profiles back to `profiles.toml` text: what the simulator prints (`rekey sim`, `rekey sim
//! --fleet`) is written from the same [`Profile`]s the demo opens on, and [`super::parse`]
//! reads it back to equal profiles (tested with every key a profile can have).
//!
//! One key per line, every sub-table inline (`auth`, `policy`, `store`, secret sources), so a
//! script can edit a profile's keys line by line. A `{ value = ... }` secret is written as it
//! is: only for files whose secrets the user already holds (the simulator's throwaway keys).
//!
//! Paths (`ca_file`, a store's `database` and `key_file`) are written as they are held, which
//! is absolute for every profile written here: the parser joins a relative one to the folder
//! of the file it reads, so it would move with the file. TOML holds only UTF-8: a path that is
//! not is written with U+FFFD in place of what is not.

use std::fmt::Write as _;
use std::path::Path;

use url::Url;

use super::model::{
    AkskVariant, DcsAuth, Operate, PolicyOverrides, Profile, ProviderConfig, SecretSource,
    SignatureMethod, StoreBackend, StoreConfig, TencentApi,
};

/// `profiles` as `[[profile]]` tables, each after a blank line.
pub fn profiles(profiles: &[Profile]) -> String {
    let mut out = String::with_capacity(profiles.len() * 512);
    for p in profiles {
        out.push('\n');
        profile(&mut out, p);
    }
    out
}

/// One `[[profile]]` table: name, `ca_file`, kind, the kind's keys (endpoint after the keys
/// that say where the resource is), then timeout, production, policy, store and notes.
fn profile(out: &mut String, p: &Profile) {
    out.push_str("[[profile]]\n");
    key(out, "name", &string(&p.name));
    if let Some(ca) = &p.ca_file {
        key(out, "ca_file", &path(ca));
    }
    key(out, "kind", &string(p.kind.as_str()));
    let endpoint = |out: &mut String| {
        if let Some(url) = &p.endpoint {
            key(out, "endpoint", &link(url));
        }
    };
    match &p.provider {
        ProviderConfig::TencentBmVpn(t) => {
            key(out, "region", &string(&t.region));
            endpoint(out);
            key(out, "secret_id", &source(&t.secret_id));
            key(out, "secret_key", &source(&t.secret_key));
            if let Some(token) = &t.session_token {
                key(out, "session_token", &source(token));
            }
            if t.api == TencentApi::V2 {
                key(out, "api", "\"v2\"");
            }
            let operate = match t.operate {
                Operate::Auto => "\"auto\"",
                Operate::Create => "\"create\"",
                Operate::Update => "\"update\"",
            };
            key(out, "operate", operate);
            // The v2-only keys: with v3 the parser would warn that they are ignored.
            if t.api == TencentApi::V2 {
                let method = match t.signature_method {
                    SignatureMethod::HmacSha256 => "\"HmacSHA256\"",
                    SignatureMethod::HmacSha1 => "\"HmacSHA1\"",
                };
                key(out, "signature_method", method);
                if let Some(zone) = t.zone_id {
                    key(out, "zone_id", &zone.to_string());
                }
                if let Some(app) = t.app_id {
                    key(out, "app_id", &app.to_string());
                }
            }
        }
        ProviderConfig::HuaweiDcs(d) => {
            key(out, "region", &string(&d.region));
            key(out, "project_id", &string(&d.project_id));
            key(out, "instance_id", &string(&d.instance_id));
            endpoint(out);
            let auth = match &d.auth {
                DcsAuth::Aksk {
                    access_key,
                    secret_key,
                    variant,
                } => {
                    let variant = match variant {
                        AkskVariant::Huawei => "",
                        AkskVariant::Otc => ", aksk_variant = \"otc\"",
                    };
                    format!(
                        "{{ method = \"aksk\"{variant}, access_key = {}, secret_key = {} }}",
                        source(access_key),
                        source(secret_key)
                    )
                }
                DcsAuth::Token {
                    iam_endpoint,
                    domain,
                    user,
                    password,
                } => format!(
                    "{{ method = \"token\", iam_endpoint = {}, domain = {}, user = {}, \
                     password = {} }}",
                    link(iam_endpoint),
                    string(domain),
                    string(user),
                    source(password)
                ),
            };
            key(out, "auth", &auth);
        }
        ProviderConfig::HuaweiIam(i) => {
            endpoint(out);
            key(out, "iam_endpoint", &link(&i.iam_endpoint));
            key(out, "domain", &string(&i.domain));
            key(out, "user", &string(&i.user));
            if let Some(email) = &i.email {
                key(out, "email", &string(email));
            }
            if let Some(phone) = &i.phone {
                key(out, "phone", &string(phone));
            }
        }
        ProviderConfig::TencentCiam(c) => {
            endpoint(out);
            key(out, "client_id", &string(&c.client_id));
            key(out, "auth_source_id", &string(&c.auth_source_id));
            key(out, "username", &string(&c.username));
            if let Some(secret) = &c.client_secret {
                key(out, "client_secret", &source(secret));
            }
            if let Some(token) = &c.access_token {
                key(out, "access_token", &source(token));
            }
        }
    }
    if p.timeout_secs != Profile::DEFAULT_TIMEOUT_SECS {
        key(out, "timeout_secs", &p.timeout_secs.to_string());
    }
    if p.production {
        key(out, "production", "true");
    }
    if p.policy != PolicyOverrides::default() {
        key(out, "policy", &policy(&p.policy));
    }
    if let Some(s) = &p.store {
        key(out, "store", &store(s));
    }
    if let Some(notes) = &p.notes {
        key(out, "notes", &string(notes));
    }
}

fn key(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

/// `{ min_length = 12, ... }` with the overrides that are set.
fn policy(p: &PolicyOverrides) -> String {
    let mut items = Vec::new();
    if let Some(n) = p.min_length {
        items.push(format!("min_length = {n}"));
    }
    if let Some(n) = p.max_length {
        items.push(format!("max_length = {n}"));
    }
    if let Some(n) = p.min_classes {
        items.push(format!("min_classes = {n}"));
    }
    if let Some(s) = &p.specials {
        items.push(format!("specials = {}", string(s)));
    }
    format!("{{ {} }}", items.join(", "))
}

/// `{ backend = "...", ..., entry = "..." }`, defaults left out.
fn store(s: &StoreConfig) -> String {
    let mut items = vec![format!("backend = {}", string(s.backend_name()))];
    match &s.backend {
        StoreBackend::Pass | StoreBackend::SecretService => {}
        StoreBackend::Keepassxc {
            database,
            database_password,
            key_file,
        } => {
            items.push(format!("database = {}", path(database)));
            if let Some(password) = database_password {
                items.push(format!("database_password = {}", source(password)));
            }
            if let Some(file) = key_file {
                items.push(format!("key_file = {}", path(file)));
            }
        }
        StoreBackend::Command { argv } => items.push(format!("command = {}", array(argv))),
    }
    items.push(format!("entry = {}", string(&s.entry)));
    if !s.read_current {
        items.push("read_current = false".into());
    }
    if s.timeout_secs != crate::store::DEFAULT_TIMEOUT_SECS {
        items.push(format!("timeout_secs = {}", s.timeout_secs));
    }
    format!("{{ {} }}", items.join(", "))
}

/// A secret source as its inline table.
fn source(s: &SecretSource) -> String {
    match s {
        SecretSource::Env(name) => format!("{{ env = {} }}", string(name)),
        SecretSource::Command(argv) => format!("{{ command = {} }}", array(argv)),
        SecretSource::Prompt => "{ prompt = true }".into(),
        SecretSource::Value(value) => format!("{{ value = {} }}", string(value)),
    }
}

fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A URL as users write it: `https://host:port`, without the `/` the parser adds when there
/// is no path (it reads both the same).
fn link(url: &Url) -> String {
    string(super::shown_endpoint(url))
}

/// A path as a string (TOML has no other way to write one: a name that is not UTF-8 is
/// written with U+FFFD in its place).
fn path(p: &Path) -> String {
    string(&p.to_string_lossy())
}

/// `s` as a TOML basic string: `"` and `\` escaped, every control character as `\uXXXX`.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Profile, parse};

    /// Every key a profile can have, each source form, each store backend, and text that
    /// needs escaping.
    const EVERY_KEY: &str = r#"
[[profile]]
name = "bm-v3"
kind = "tencent-bm-vpn"
region = "ap-guangzhou"
endpoint = "https://bm.example.com/base/path?x=1"
ca_file = "/nonexistent/extra-roots.pem"
timeout_secs = 40
production = true
secret_id = { env = "TC_ID" }
secret_key = { command = ["pass", "show", "tc \"key\""] }
session_token = { prompt = true }
operate = "update"
notes = "quote \" backslash \\ tab \t newline \n bell \u0007 del \u007F nbsp  é 漢"
policy = { min_length = 12, max_length = 40, min_classes = 3, specials = "!#\\\"" }
store = { backend = "pass", entry = "cloud/bm", read_current = false, timeout_secs = 90 }

[[profile]]
name = "bm-v2"
kind = "tencent-bm-vpn"
region = "gz"
secret_id = { value = "AKID \"quoted\" \\ value" }
secret_key = { value = "sk" }
api = "v2"
operate = "create"
signature_method = "HmacSHA1"
zone_id = 1000100003
app_id = 1251000004
store = { backend = "keepassxc", database = "/vault.kdbx", database_password = { env = "KP" }, key_file = "/vault.key", entry = "bm" }

[[profile]]
name = "dcs-aksk"
kind = "huawei-dcs"
region = "eu-de"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
auth = { method = "aksk", aksk_variant = "otc", access_key = { env = "AK" }, secret_key = { prompt = true } }
store = { backend = "secret-service", entry = "redis" }

[[profile]]
name = "dcs-token"
kind = "huawei-dcs"
region = "cn-north-4"
project_id = "p"
instance_id = "i"
endpoint = "https://dcs.example.com"
auth = { method = "token", iam_endpoint = "https://iam.example.com", domain = "acct", user = "ops", password = { command = ["secret", "get"] } }
store = { backend = "command", command = ["my-store", "--flag"], entry = "dcs-token" }

[[profile]]
name = "iam"
kind = "huawei-iam"
iam_endpoint = "https://iam.example.com:8443"
domain = "acct"
user = "alice"
email = "alice@example.com"
phone = "13800000000"

[[profile]]
name = "ciam"
kind = "tencent-ciam"
endpoint = "https://sample.portal.tencentciam.com"
client_id = "client"
auth_source_id = "source"
username = "bob"
client_secret = { env = "CS" }
access_token = { value = "tok" }
"#;

    /// The profiles with their line numbers cleared (the written file's lines differ).
    fn shape(profiles: &mut [Profile]) -> String {
        for p in profiles.iter_mut() {
            p.line = 0;
        }
        format!("{profiles:#?}")
    }

    fn value_of(p: &Profile) -> &str {
        match &p.provider {
            ProviderConfig::TencentBmVpn(t) => match &t.secret_id {
                SecretSource::Value(v) => v,
                other => panic!("{other:?}"),
            },
            _ => panic!("not a BM profile"),
        }
    }

    #[test]
    fn written_profiles_parse_back_to_the_same_profiles() {
        let mut first = parse(Path::new("every.toml"), EVERY_KEY).expect("parses");
        let text = profiles(&first.profiles);
        let mut second =
            parse(Path::new("every.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // The same findings (at other lines): the inline values off loopback.
        let findings = |c: &crate::config::Config| -> Vec<String> {
            let text = |w: &String| w.split_once(": ").map(|(_, t)| t.to_owned());
            c.warnings.iter().filter_map(text).collect()
        };
        assert_eq!(findings(&second), findings(&first));
        assert_eq!(findings(&first).len(), 3, "{:?}", first.warnings);
        assert_eq!(value_of(&second.profiles[1]), "AKID \"quoted\" \\ value");
        assert_eq!(shape(&mut second.profiles), shape(&mut first.profiles));
        // And writing them again gives the same text (values included: Debug hides them).
        assert_eq!(profiles(&second.profiles), text);
        // Keys a script edits line by line stay on their own lines.
        assert!(text.contains("\nname = \"bm-v3\"\n"), "{text}");
        assert!(
            text.contains("\nendpoint = \"https://bm.example.com/base/path?x=1\"\n"),
            "{text}"
        );
        assert!(
            text.contains("\nendpoint = \"https://dcs.example.com\"\n"),
            "{text}"
        );
    }

    #[test]
    fn every_control_character_is_escaped() {
        let all: String = (0u32..0x100).filter_map(char::from_u32).collect();
        let quoted = string(&all);
        assert!(!quoted.chars().any(char::is_control), "{quoted:?}");
        let parsed: toml::Table = format!("k = {quoted}").parse().expect("valid TOML");
        assert_eq!(parsed["k"].as_str(), Some(all.as_str()));
    }
}
