//! Parsing and validating `profiles.toml` by hand over the spanned TOML tree, so every error
//! can name the line, the column, the key and what was expected.
//!
//! Validation stops at the first problem. Within a table the order is: keys nobody knows (in
//! file order), then `name` and `kind`, then keys of another kind, then each value in schema
//! order. No message ever contains the value of a secret-bearing key.

use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};
use url::Url;
use zeroize::Zeroizing;

use super::endpoint::{is_loopback, parse_endpoint};
use super::error::ConfigError;
use super::model::{
    AkskVariant, BrokenProfile, Config, DcsAuth, HuaweiDcs, HuaweiIam, Kind, Operate,
    PolicyOverrides, Profile, ProviderConfig, SecretSource, SignatureMethod, StoreBackend,
    StoreConfig, TencentApi, TencentBmVpn, TencentCiam, ThemeName,
};
use super::suggest::closest;
use crate::console::keymap::{self, Keymap};

type Value<'i> = Spanned<DeValue<'i>>;
type Key<'i> = Spanned<DeString<'i>>;
type Result<T> = std::result::Result<T, ConfigError>;

/// Keys allowed at the top of the file.
const TOP_KEYS: &[&str] = &["audit", "mouse", "theme", "keys", "profile"];
/// Keys every profile may have.
const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "endpoint",
    "timeout_secs",
    "ca_file",
    "production",
    "notes",
    "policy",
    "store",
];
const BM_KEYS: &[&str] = &[
    "region",
    "secret_id",
    "secret_key",
    "session_token",
    "api",
    "operate",
    "zone_id",
    "app_id",
    "signature_method",
];
const DCS_KEYS: &[&str] = &["region", "project_id", "instance_id", "auth"];
const IAM_KEYS: &[&str] = &["iam_endpoint", "domain", "user", "email", "phone"];
const CIAM_KEYS: &[&str] = &[
    "client_id",
    "auth_source_id",
    "username",
    "client_secret",
    "access_token",
];
/// Keys of a DCS `auth` table, for either method.
const AUTH_KEYS: &[&str] = &[
    "method",
    "access_key",
    "secret_key",
    "aksk_variant",
    "iam_endpoint",
    "domain",
    "user",
    "password",
];
const AKSK_KEYS: &[&str] = &["method", "access_key", "secret_key", "aksk_variant"];
const TOKEN_KEYS: &[&str] = &["method", "iam_endpoint", "domain", "user", "password"];
const POLICY_KEYS: &[&str] = &["min_length", "max_length", "min_classes", "specials"];
const SOURCE_KEYS: &[&str] = &["env", "command", "prompt", "value"];
/// Keys of a profile's `store` table, for any backend (SPEC §10.1).
const STORE_KEYS: &[&str] = &[
    "backend",
    "entry",
    "read_current",
    "timeout_secs",
    "database",
    "database_password",
    "key_file",
    "command",
];
/// Keys every store table may have, whatever its backend.
const STORE_COMMON_KEYS: &[&str] = &["backend", "entry", "read_current", "timeout_secs"];
/// The store backends, as written in the config, with the keys only that backend uses.
const STORE_BACKENDS: &[(&str, &[&str])] = &[
    ("pass", &[]),
    ("keepassxc", &["database", "database_password", "key_file"]),
    ("secret-service", &[]),
    ("command", &["command"]),
];
/// The longest a store command may run, in seconds.
const MAX_STORE_TIMEOUT_SECS: u64 = 600;
/// Keys whose value is a secret source; their contents are never echoed.
const SECRET_KEYS: &[&str] = &[
    "secret_id",
    "secret_key",
    "session_token",
    "access_key",
    "password",
    "client_secret",
    "access_token",
    "database_password",
];
/// The longest password a policy may allow, in characters (SPEC §7: `secret::MAX_PASSWORD_CHARS`).
const MAX_POLICY_LENGTH: u64 = 128;
/// Keys only `api = "v2"` uses.
const V2_ONLY_KEYS: &[&str] = &["zone_id", "app_id", "signature_method"];

/// How to write each source, for fixes.
const SOURCE_FORMS: &str = "{ env = \"NAME\" }, { command = [\"prog\", \"arg\"] }, { prompt = true } or { value = \"...\" }";
/// The sources other than `env`, for fixes that already show `env`.
const OTHER_SOURCE_FORMS: &str =
    "{ command = [\"prog\", \"arg\"] }, { prompt = true } or { value = \"...\" }";

/// The kind-specific keys of `kind`.
fn kind_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::TencentBmVpn => BM_KEYS,
        Kind::HuaweiDcs => DCS_KEYS,
        Kind::HuaweiIam => IAM_KEYS,
        Kind::TencentCiam => CIAM_KEYS,
    }
}

/// Every key any profile may have.
fn all_profile_keys() -> &'static [&'static str] {
    static KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut keys: Vec<&'static str> = COMMON_KEYS.to_vec();
        for kind in Kind::ALL {
            for key in kind_keys(kind) {
                if !keys.contains(key) {
                    keys.push(key);
                }
            }
        }
        keys
    });
    &KEYS
}

/// The kinds whose own keys include `key`, as "`a` or `b`".
fn kinds_using(key: &str) -> String {
    Kind::ALL
        .into_iter()
        .filter(|k| kind_keys(*k).contains(&key))
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The kind names as "`a`, `b`, `c`, `d`".
fn kind_list() -> String {
    Kind::ALL
        .into_iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line to add or write for `key`, used in fixes.
fn example(key: &str) -> String {
    if SECRET_KEYS.contains(&key) {
        return format!("{key} = {{ env = \"NAME\" }} (or {OTHER_SOURCE_FORMS})");
    }
    let line = match key {
        "name" => "name = \"my-profile\"",
        "kind" => {
            "kind = \"huawei-dcs\" (one of tencent-bm-vpn, huawei-dcs, huawei-iam, tencent-ciam)"
        }
        "endpoint" => "endpoint = \"https://host.example.com\"",
        "timeout_secs" => "timeout_secs = 15",
        "ca_file" => "ca_file = \"/path/to/extra-roots.pem\"",
        "production" => "production = true",
        "notes" => "notes = \"free text\"",
        "policy" => "[profile.policy] with min_length, max_length, min_classes and specials",
        "region" => "region = \"ap-guangzhou\"",
        "api" => "api = \"v3\" (or \"v2\")",
        "operate" => "operate = \"auto\" (or \"create\", \"update\")",
        "zone_id" => "zone_id = 1000100003",
        "app_id" => "app_id = 1251001002",
        "signature_method" => "signature_method = \"HmacSHA256\" (or \"HmacSHA1\")",
        "project_id" => "project_id = \"0123456789abcdef0123456789abcdef\"",
        "instance_id" => "instance_id = \"11111111-2222-3333-4444-555555555555\"",
        "auth" => {
            "auth = { method = \"aksk\", access_key = { env = \"HUAWEICLOUD_SDK_AK\" }, \
             secret_key = { env = \"HUAWEICLOUD_SDK_SK\" } }"
        }
        "method" => "method = \"aksk\" (or \"token\")",
        "aksk_variant" => "aksk_variant = \"huawei\" (or \"otc\")",
        "iam_endpoint" => "iam_endpoint = \"https://iam.myhuaweicloud.com\"",
        "domain" => "domain = \"my-account\"",
        "user" => "user = \"alice\"",
        "email" => "email = \"alice@example.com\"",
        "phone" => "phone = \"13800000000\"",
        "client_id" => "client_id = \"app-client-id\"",
        "auth_source_id" => "auth_source_id = \"auth-source-id\"",
        "username" => "username = \"bob\"",
        "min_length" => "min_length = 12",
        "max_length" => "max_length = 64",
        "min_classes" => "min_classes = 3",
        "specials" => "specials = \"!#$%&*\"",
        "audit" => "audit = true",
        "mouse" => "mouse = false",
        "keys" => "[keys] with lines like quit = \"q\" or settle = [\"R\", \"ctrl-s\"]",
        "theme" => "theme = \"default\" (or \"light\", \"high-contrast\")",
        "profile" => "[[profile]]",
        "env" => "env = \"VARIABLE_NAME\"",
        "command" => "command = [\"pass\", \"show\", \"item\"]",
        "prompt" => "prompt = true",
        "value" => "value = \"...\"",
        "store" => "store = { backend = \"pass\", entry = \"cloud/redis-prod\" }",
        "backend" => "backend = \"pass\" (one of pass, keepassxc, secret-service, command)",
        "entry" => "entry = \"cloud/redis-prod\"",
        "read_current" => "read_current = true",
        "database" => "database = \"~/vault.kdbx\"",
        "key_file" => "key_file = \"~/vault.key\"",
        _ => return format!("{key} = ..."),
    };
    line.to_string()
}

/// A TOML type name with its article: "a string", "an integer".
fn a_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// User text safe to echo in a message: escaped by the one escaping function, at most 48
/// characters. Only for values that are never secret (names, kinds, enum words).
fn show(text: &str) -> String {
    crate::text::escape_capped(text, 48)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The document being validated and what has been found so far.
struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
    warnings: Vec<String>,
    /// The `ca_file`s already checked and found fine (or not there yet): profiles usually
    /// share one, and it is read once.
    ca_files_ok: std::cell::RefCell<std::collections::HashSet<PathBuf>>,
    /// Where each line of `text` starts, found on first use: every profile records its line.
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl Cx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// [`position`] by the line index: a file of many profiles is not scanned once per profile.
    fn position(&self, offset: usize) -> (usize, usize) {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = starts.partition_point(|&start| start <= offset);
        let line_start = starts[line - 1];
        (line, self.text[line_start..offset].chars().count() + 1)
    }

    fn error(
        &self,
        span: &Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = self.position(span.start);
        ConfigError {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
            fix: fix.into(),
        }
    }

    fn warn(&mut self, span: &Range<usize>, message: impl std::fmt::Display) {
        let (line, column) = self.position(span.start);
        self.warnings.push(format!(
            "{}:{line}:{column}: {message}",
            self.path.display()
        ));
    }

    fn syntax(&self, error: &toml::de::Error) -> ConfigError {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim();
        if message.contains("duplicate key") {
            // The span is the repeated key. It is named only when it is one of ours: a key inside
            // a secret source table could, by some mistake, be the secret itself.
            let key = self
                .text
                .get(span.clone())
                .map(|k| k.trim().trim_matches(['"', '\'']))
                .filter(|k| is_known_key(k))
                .map(|k| format!(" `{k}`"))
                .unwrap_or_default();
            return self.error(
                &span,
                format!("invalid TOML: duplicate key{key}"),
                "each key may appear only once per table (and each table header once); remove \
                 or rename the repeated one",
            );
        }
        self.error(
            &span,
            format!("invalid TOML: {message}"),
            "fix the TOML syntax here: strings are quoted (\"...\"), an inline table `{ ... }` \
             stays on one line, and each profile starts with a [[profile]] line",
        )
    }
}

/// A table under validation and how messages name it.
struct Tbl<'t, 'i> {
    map: &'t DeTable<'i>,
    span: Range<usize>,
    /// e.g. "profile `x`", "`auth` in profile `x`".
    name: String,
}

impl<'t, 'i> Tbl<'t, 'i> {
    /// Entries in file order.
    fn entries(&self) -> Vec<(&'t Key<'i>, &'t Value<'i>)> {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        entries
    }

    fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.map.get(key)
    }

    /// Refuses keys not in `allowed`. `misplaced` may explain a key that is known elsewhere;
    /// otherwise the key is unknown and the closest allowed key is suggested.
    fn check_keys(
        &self,
        cx: &Cx<'_>,
        allowed: &[&str],
        misplaced: impl Fn(&str) -> Option<(String, String)>,
    ) -> Result<()> {
        match self.key_errors(cx, allowed, misplaced).into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every key not in `allowed`, one error each in file order (see [`Tbl::check_keys`]).
    fn key_errors(
        &self,
        cx: &Cx<'_>,
        allowed: &[&str],
        misplaced: impl Fn(&str) -> Option<(String, String)>,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (key, _) in self.entries() {
            let k: &str = key.get_ref();
            if allowed.contains(&k) {
                continue;
            }
            if let Some((message, fix)) = misplaced(k) {
                errors.push(cx.error(&key.span(), message, fix));
                continue;
            }
            let (hint, fix) = match closest(k, allowed) {
                Some(s) => (
                    format!(" — did you mean `{s}`?"),
                    format!("rename it to `{s}`"),
                ),
                None => (
                    String::new(),
                    format!(
                        "remove it; the keys allowed here are {}",
                        quote_list(allowed)
                    ),
                ),
            };
            errors.push(cx.error(
                &key.span(),
                format!("unknown key `{}` in {}{hint}", show(k), self.name),
                fix,
            ));
        }
        errors
    }

    /// Like [`Tbl::check_keys`] for a secret source table, but an unknown key is named only when
    /// it is recognisably a keyword (a typo of one, or a common alias): anything else might be
    /// the secret itself, typed where a key should be.
    fn check_source_keys(&self, cx: &Cx<'_>) -> Result<()> {
        for (key, _) in self.entries() {
            let k: &str = key.get_ref();
            if SOURCE_KEYS.contains(&k) {
                continue;
            }
            let alias = match k.to_ascii_lowercase().as_str() {
                "cmd" | "exec" | "run" | "shell" | "argv" | "program" => Some("command"),
                "var" | "env_var" | "envvar" | "environment" | "variable" => Some("env"),
                "ask" | "interactive" | "input" => Some("prompt"),
                "text" | "val" | "literal" | "secret" | "plain" | "string" => Some("value"),
                "file" | "path" | "keyring" | "keychain" => None,
                _ => closest(k, SOURCE_KEYS).or(Some("")),
            };
            let (message, fix) = match alias {
                Some("") => (
                    format!(
                        "unknown key in {} (not shown: it may be a secret); expected `env`, \
                         `command`, `prompt` or `value`",
                        self.name
                    ),
                    format!("write one of {SOURCE_FORMS}"),
                ),
                Some(s) => (
                    format!(
                        "unknown key `{}` in {} — did you mean `{s}`?",
                        show(k),
                        self.name
                    ),
                    format!("rename it to `{s}`"),
                ),
                None => (
                    format!(
                        "unknown key `{}` in {}; expected `env`, `command`, `prompt` or `value`",
                        show(k),
                        self.name
                    ),
                    "to read a secret from a file or a keyring use a command, e.g. \
                     { command = [\"cat\", \"/path/to/file\"] } or \
                     { command = [\"secret-tool\", \"lookup\", \"key\", \"value\"] }"
                        .to_string(),
                ),
            };
            return Err(cx.error(&key.span(), message, fix));
        }
        Ok(())
    }

    fn missing(&self, cx: &Cx<'_>, key: &str) -> ConfigError {
        cx.error(
            &self.span,
            format!("{} is missing the required key `{key}`", self.name),
            format!("add {}", example(key)),
        )
    }

    fn wrong_type(&self, cx: &Cx<'_>, key: &str, value: &Value<'_>, expected: &str) -> ConfigError {
        cx.error(
            &value.span(),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                self.name,
                a_type(value.get_ref())
            ),
            format!("write {}", example(key)),
        )
    }

    fn string(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(&'t str, Range<usize>)>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::String(s) => Ok(Some((s.as_ref(), value.span()))),
            _ => Err(self.wrong_type(cx, key, value, "a string")),
        }
    }

    /// A non-empty string without control characters.
    fn text(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(&'t str, Range<usize>)>> {
        let Some((s, span)) = self.string(cx, key)? else {
            return Ok(None);
        };
        if s.trim().is_empty() {
            return Err(cx.error(
                &span,
                format!("`{key}` in {} is empty", self.name),
                format!("write {}", example(key)),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(cx.error(
                &span,
                format!("`{key}` in {} contains a control character", self.name),
                "remove tabs, newlines and other control characters",
            ));
        }
        Ok(Some((s, span)))
    }

    /// A non-empty identifier of letters, digits, '.', '_' and '-' (it goes into URL paths).
    fn ident(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(&'t str, Range<usize>)>> {
        let Some((s, span)) = self.text(cx, key)? else {
            return Ok(None);
        };
        if let Some(bad) = s.chars().find(|c| !is_ident_char(*c)) {
            return Err(cx.error(
                &span,
                format!(
                    "`{key}` in {} contains `{}`; expected only letters, digits, '.', '_' and '-'",
                    self.name,
                    show(&bad.to_string())
                ),
                format!("write {}", example(key)),
            ));
        }
        Ok(Some((s, span)))
    }

    fn req<T>(&self, cx: &Cx<'_>, key: &str, found: Option<T>) -> Result<T> {
        found.ok_or_else(|| self.missing(cx, key))
    }

    fn boolean(&self, cx: &Cx<'_>, key: &str) -> Result<Option<bool>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Some(*b)),
            _ => Err(self.wrong_type(cx, key, value, "`true` or `false`")),
        }
    }

    fn integer(
        &self,
        cx: &Cx<'_>,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<(u64, Range<usize>)>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Integer(int) = value.get_ref() else {
            return Err(self.wrong_type(cx, key, value, "an integer"));
        };
        let expected = if *range.end() == u64::MAX {
            format!("{} or greater", range.start())
        } else {
            format!("between {} and {}", range.start(), range.end())
        };
        let parsed = i128::from_str_radix(int.as_str(), int.radix());
        match parsed.map(|n| (n, u64::try_from(n))) {
            Ok((_, Ok(n))) if range.contains(&n) => Ok(Some((n, value.span()))),
            Ok((n, _)) => Err(cx.error(
                &value.span(),
                format!("`{key}` in {} must be {expected}, found {n}", self.name),
                format!("write {}", example(key)),
            )),
            Err(_) => Err(cx.error(
                &value.span(),
                format!(
                    "`{key}` in {} must be {expected}; this number is too large",
                    self.name
                ),
                format!("write {}", example(key)),
            )),
        }
    }

    /// An endpoint URL under the transport rule.
    fn url(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(Url, Range<usize>)>> {
        let Some((s, span)) = self.string(cx, key)? else {
            return Ok(None);
        };
        match parse_endpoint(s) {
            Ok(url) => Ok(Some((url, span))),
            Err(problem) => Err(cx.error(
                &span,
                format!("`{key}` in {} {}", self.name, problem.what),
                problem.fix,
            )),
        }
    }

    /// One of a fixed set of words.
    fn choice<T: Copy>(
        &self,
        cx: &Cx<'_>,
        key: &str,
        options: &[(&str, T)],
    ) -> Result<Option<(T, Range<usize>)>> {
        let Some((s, span)) = self.string(cx, key)? else {
            return Ok(None);
        };
        if let Some((_, v)) = options.iter().find(|(word, _)| *word == s) {
            return Ok(Some((*v, span)));
        }
        let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
        let hint = closest(s, &words)
            .map(|w| format!(" — did you mean `{w}`?"))
            .unwrap_or_default();
        Err(cx.error(
            &span,
            format!(
                "`{key}` in {} must be {}, found `{}`{hint}",
                self.name,
                or_list(&words),
                show(s)
            ),
            format!("write {}", example(key)),
        ))
    }

    fn table(&self, cx: &Cx<'_>, key: &str, name: String) -> Result<Option<Tbl<'t, 'i>>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Table(map) => Ok(Some(Tbl {
                map,
                span: value.span(),
                name,
            })),
            _ => Err(self.wrong_type(cx, key, value, "a table")),
        }
    }

    /// A secret source: a table with exactly one of `env`, `command`, `prompt`, `value`.
    fn source(&self, cx: &Cx<'_>, key: &str) -> Result<Option<(SecretSource, Range<usize>)>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let what = format!("`{key}` in {}", self.name);
        let fix = format!("write {key} = one of {SOURCE_FORMS}");
        let DeValue::Table(map) = value.get_ref() else {
            let (extra, fix) = match value.get_ref() {
                DeValue::String(_) => (
                    " (its text is not shown: it may be a secret)",
                    format!(
                        "{fix}; to keep the secret in this file write {key} = {{ value = \"...\" }}, \
                         but an environment variable, a command or a prompt is safer"
                    ),
                ),
                _ => ("", fix),
            };
            return Err(cx.error(
                &value.span(),
                format!(
                    "{what} must be a secret source table, found {}{extra}",
                    a_type(value.get_ref())
                ),
                fix,
            ));
        };
        let source = Tbl {
            map,
            span: value.span(),
            name: what.clone(),
        };
        source.check_source_keys(cx)?;
        let entries = source.entries();
        let (kind, inner) = match entries.as_slice() {
            [] => {
                return Err(cx.error(
                    &value.span(),
                    format!(
                        "{what} is an empty table; expected exactly one of `env`, `command`, \
                         `prompt` or `value`"
                    ),
                    fix,
                ));
            }
            [(kind, inner)] => (kind.get_ref().as_ref(), *inner),
            [(first, _), (second, _), ..] => {
                return Err(cx.error(
                    &second.span(),
                    format!(
                        "{what} has two sources, `{}` and `{}`; expected exactly one",
                        first.get_ref(),
                        second.get_ref()
                    ),
                    format!("keep one of them: {SOURCE_FORMS}"),
                ));
            }
        };
        let resolved = match kind {
            "env" => {
                let Some((name, span)) = source.string(cx, "env")? else {
                    return Err(source.missing(cx, "env"));
                };
                if name.is_empty() {
                    return Err(cx.error(
                        &span,
                        format!(
                            "`env` in {what} is empty; expected the name of an environment variable"
                        ),
                        "write env = \"VARIABLE_NAME\"",
                    ));
                }
                if name.contains(['=', '\0']) || name.chars().any(char::is_whitespace) {
                    return Err(cx.error(
                        &span,
                        format!(
                            "`env` in {what} is not a valid environment variable name \
                             (it contains '=', whitespace or NUL)"
                        ),
                        "write env = \"VARIABLE_NAME\"",
                    ));
                }
                SecretSource::Env(name.to_string())
            }
            "command" => {
                let DeValue::Array(array) = inner.get_ref() else {
                    return Err(source.wrong_type(cx, "command", inner, "an array of strings"));
                };
                if array.is_empty() {
                    return Err(cx.error(
                        &inner.span(),
                        format!("`command` in {what} is empty; expected the program and its arguments"),
                        "write command = [\"pass\", \"show\", \"item\"] (the program runs without a shell)",
                    ));
                }
                let mut argv = Vec::with_capacity(array.len());
                for (i, arg) in array.iter().enumerate() {
                    let DeValue::String(s) = arg.get_ref() else {
                        return Err(cx.error(
                            &arg.span(),
                            format!(
                                "element {} of `command` in {what} must be a string, found {}",
                                i + 1,
                                a_type(arg.get_ref())
                            ),
                            "quote every element: command = [\"prog\", \"arg\"]",
                        ));
                    };
                    if i == 0 && s.trim().is_empty() {
                        return Err(cx.error(
                            &arg.span(),
                            format!(
                                "the program name (first element of `command`) in {what} is empty"
                            ),
                            "write command = [\"pass\", \"show\", \"item\"]",
                        ));
                    }
                    argv.push(s.to_string());
                }
                SecretSource::Command(argv)
            }
            "prompt" => match source.boolean(cx, "prompt")? {
                Some(true) => SecretSource::Prompt,
                _ => {
                    return Err(cx.error(
                        &inner.span(),
                        format!("`prompt = false` in {what} is not a source; expected `prompt = true`"),
                        format!("write {key} = {{ prompt = true }} to be asked in the console, or use another source: {SOURCE_FORMS}"),
                    ));
                }
            },
            _ => {
                // "value": the only other key `check_source_keys` lets through.
                let DeValue::String(s) = inner.get_ref() else {
                    return Err(source.wrong_type(cx, "value", inner, "a string"));
                };
                if s.is_empty() {
                    return Err(cx.error(
                        &inner.span(),
                        format!("`value` in {what} is empty"),
                        format!(
                            "put the secret in the quotes, or use another source: {SOURCE_FORMS}"
                        ),
                    ));
                }
                let mut text = Zeroizing::new(String::with_capacity(s.len()));
                text.push_str(s);
                SecretSource::Value(text)
            }
        };
        Ok(Some((resolved, value.span())))
    }
}

/// Whether `key` is a key of this schema anywhere.
fn is_known_key(key: &str) -> bool {
    [TOP_KEYS, AUTH_KEYS, POLICY_KEYS, SOURCE_KEYS, STORE_KEYS]
        .iter()
        .any(|keys| keys.contains(&key))
        || all_profile_keys().contains(&key)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// "`a`, `b` and `c`".
fn quote_list(words: &[&str]) -> String {
    join_words(words, "and")
}

/// "`a`, `b` or `c`" (as quoted TOML strings).
fn or_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn join_words(words: &[&str], conjunction: &str) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// Parses and validates the text of a `profiles.toml` read from `path` (used in messages and
/// to resolve a relative `ca_file`). Strict, for the headless commands (SPEC §5: any error is
/// fatal): the first error of the file, as [`parse_each`] finds them.
pub fn parse(path: &Path, text: &str) -> Result<Config> {
    let config = parse_each(path, text)?;
    match config.broken.first().and_then(|b| b.errors.first()) {
        Some(first) => Err(first.clone()),
        None => Ok(config),
    }
}

/// Parses `profiles.toml` validating each `[[profile]]` table on its own, for the console: the
/// valid profiles load and the others come back in [`Config::broken`] with every error found
/// in them. Only a problem outside every profile is an `Err`: TOML syntax before the first
/// `[[profile]]`, an unknown or mistyped top-level key, a `profile` that is not an array of
/// tables. A syntax error inside a profile's lines breaks that profile only.
pub fn parse_each(path: &Path, text: &str) -> Result<Config> {
    let mut cx = Cx {
        path,
        text,
        warnings: Vec::new(),
        ca_files_ok: Default::default(),
        line_starts: Default::default(),
    };
    let mut profiles: Vec<Profile> = Vec::new();
    let mut broken: Vec<BrokenProfile> = Vec::new();
    let Top {
        audit,
        mouse,
        theme,
        keys,
    } = match toml::de::DeTable::parse(text) {
        Ok(root) => {
            let (top, items) = top_level(&cx, &root)?;
            for item in items {
                match parse_profile(&mut cx, item, &profiles) {
                    Ok(profile) => profiles.push(profile),
                    Err(b) => broken.push(b),
                }
            }
            top
        }
        Err(whole) => {
            // Find which part holds the syntax error: the lines before the first [[profile]]
            // (the whole file is unusable) or one profile's lines (that profile is).
            let sections = profile_sections(text);
            let Some((top, rest)) = sections.split_first().filter(|(_, rest)| !rest.is_empty())
            else {
                return Err(cx.syntax(&whole));
            };
            let top_text = masked(text, top.clone());
            let root = toml::de::DeTable::parse(&top_text).map_err(|e| cx.syntax(&e))?;
            let (top, _) = top_level(&cx, &root)?;
            for section in rest {
                let section_text = masked(text, section.clone());
                match toml::de::DeTable::parse(&section_text) {
                    Ok(root) => {
                        let (_, items) = top_level(&cx, &root)?;
                        for item in items {
                            match parse_profile(&mut cx, item, &profiles) {
                                Ok(profile) => profiles.push(profile),
                                Err(b) => broken.push(b),
                            }
                        }
                    }
                    Err(e) => broken.push(BrokenProfile {
                        name: section_name(&text[section.clone()]),
                        line: cx.line(section.start),
                        errors: vec![cx.syntax(&e)],
                    }),
                }
            }
            top
        }
    };
    Ok(Config {
        path: path.to_path_buf(),
        audit,
        mouse,
        theme,
        keys,
        profiles,
        broken,
        warnings: cx.warnings,
    })
}

/// The top-level settings of a file (everything but its profiles).
struct Top {
    audit: bool,
    mouse: bool,
    theme: ThemeName,
    keys: Keymap,
}

/// The top-level keys of a parsed document: `audit`, `mouse`, `theme` and the `profile` items.
fn top_level<'t, 'i>(
    cx: &Cx<'_>,
    root: &'t Spanned<DeTable<'i>>,
) -> Result<(Top, Vec<&'t Value<'i>>)> {
    let top = Tbl {
        map: root.get_ref(),
        span: 0..0,
        name: "the top level of the file".into(),
    };
    top.check_keys(cx, TOP_KEYS, |_| None)?;
    let audit = top.boolean(cx, "audit")?.unwrap_or(Config::DEFAULT_AUDIT);
    let mouse = top.boolean(cx, "mouse")?.unwrap_or(Config::DEFAULT_MOUSE);
    let theme = match top.string(cx, "theme")? {
        None => ThemeName::default(),
        Some((name, span)) => ThemeName::from_name(name).ok_or_else(|| {
            cx.error(
                &span,
                format!(
                    "unknown theme `{}`; expected one of {}",
                    show(name),
                    ThemeName::NAMES.join(", ")
                ),
                format!("write {}", example("theme")),
            )
        })?,
    };
    let keys = match top.get("keys") {
        None => Keymap::default(),
        Some(value) => parse_keys(cx, value)?,
    };
    let settings = Top {
        audit,
        mouse,
        theme,
        keys,
    };
    let Some(value) = top.get("profile") else {
        return Ok((settings, Vec::new()));
    };
    match value.get_ref() {
        DeValue::Array(items) => Ok((settings, items.iter().collect())),
        DeValue::Table(_) => Err(cx.error(
            &value.span(),
            "`profile` is a single table; expected an array of tables",
            "write each profile header as [[profile]] (double brackets), not [profile]",
        )),
        _ => Err(cx.error(
            &value.span(),
            format!(
                "`profile` must be an array of tables, found {}",
                a_type(value.get_ref())
            ),
            "start each profile with a [[profile]] line followed by its keys",
        )),
    }
}

/// The top-level `[keys]` table: per action, a key or an array of keys replacing its defaults.
fn parse_keys(cx: &Cx<'_>, value: &Value<'_>) -> Result<Keymap> {
    let DeValue::Table(table) = value.get_ref() else {
        return Err(cx.error(
            &value.span(),
            format!("`keys` must be a table, found {}", a_type(value.get_ref())),
            format!("write {}", example("keys")),
        ));
    };
    let every = || format!("the actions are {}", keymap::action_names().join(", "));
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut overrides = Vec::new();
    let mut spans = Vec::new();
    for (key, value) in entries {
        let name: &str = key.get_ref();
        let Some(action) = keymap::action_named(name) else {
            let hint = closest(name, &keymap::action_names())
                .map_or(String::new(), |s| format!(" — did you mean `{s}`?"));
            return Err(cx.error(
                &key.span(),
                format!("unknown action `{}` in [keys]{hint}", show(name)),
                every(),
            ));
        };
        let written: Vec<(&str, Range<usize>)> = match value.get_ref() {
            DeValue::String(s) => vec![(s.as_ref(), value.span())],
            DeValue::Array(items) => {
                let mut keys = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => keys.push((s.as_ref(), item.span())),
                        other => {
                            return Err(cx.error(
                                &item.span(),
                                format!(
                                    "a key of `{name}` must be a string, found {}",
                                    a_type(other)
                                ),
                                format!("write {name} = [\"ctrl-s\", \"F5\"]"),
                            ));
                        }
                    }
                }
                keys
            }
            other => {
                return Err(cx.error(
                    &value.span(),
                    format!(
                        "`{name}` in [keys] must be a key or an array of keys, found {}",
                        a_type(other)
                    ),
                    format!("write {name} = \"ctrl-s\" or {name} = [\"R\", \"ctrl-s\"]"),
                ));
            }
        };
        let mut chords = Vec::new();
        for (text, span) in written {
            let chord = keymap::Chord::parse(text).map_err(|why| {
                cx.error(
                    &span,
                    format!("{why} (in [keys] `{name}`)"),
                    "write a character (q, R, ?), a name (enter, esc, tab, space, backspace, \
                     delete, up, down, left, right, home, end, pageup, pagedown, f1…f12), \
                     optionally after ctrl-, alt- or shift- (e.g. \"ctrl-s\")",
                )
            })?;
            chords.push(chord);
        }
        overrides.push((action, chords));
        spans.push(key.span());
    }
    Keymap::with(&overrides).map_err(|e| cx.error(&spans[e.at], e.message, e.fix))
}

/// The byte ranges of the lines before the first `[[profile]]` header, then of each profile
/// (its header up to the next one).
fn profile_sections(text: &str) -> Vec<Range<usize>> {
    let mut bounds = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if squeezed.starts_with("[[profile]]") {
            bounds.push(offset);
        }
        offset += line.len();
    }
    bounds.push(text.len());
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

/// `text` with everything outside `keep` blanked (newlines kept), so a part parses on its own
/// with the spans, lines and columns of the whole file. Zeroized: it may hold secret values.
fn masked(text: &str, keep: Range<usize>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    for (i, c) in text.char_indices() {
        if keep.contains(&i) || c == '\n' {
            out.push(c);
        } else {
            // One space per byte, so every offset stays where it was.
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out
}

/// The `name = "..."` of a profile whose lines are not valid TOML, when a line says it plainly.
fn section_name(section: &str) -> Option<String> {
    section.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "name" {
            return None;
        }
        let name = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        valid_name(name).is_ok().then(|| name.to_string())
    })
}

/// The most of a `ca_file` read to check it (a bundle of every public root is ~250 KiB).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A `ca_file` that exists must hold at least one PEM certificate: a file of keys, an empty
/// file or a DER file would otherwise add no root at all, silently. A file that does not exist
/// (yet) is reported when a change is sent. Cheap: one bounded read, and the certificates are
/// only found, not parsed.
fn check_ca_file(cx: &Cx<'_>, file: &Path, span: &Range<usize>) -> Result<()> {
    if cx.ca_files_ok.borrow().contains(file) {
        return Ok(());
    }
    check_ca_file_once(cx, file, span)?;
    cx.ca_files_ok.borrow_mut().insert(file.to_path_buf());
    Ok(())
}

fn check_ca_file_once(cx: &Cx<'_>, file: &Path, span: &Range<usize>) -> Result<()> {
    use std::io::Read;
    let Ok(opened) = std::fs::File::open(file) else {
        return Ok(());
    };
    let shown = crate::text::escape(&file.display().to_string());
    if opened.metadata().is_ok_and(|m| !m.is_file()) {
        return Err(cx.error(
            span,
            format!("`ca_file` {shown} is not a regular file"),
            "point ca_file at a PEM file holding the CA certificate(s)",
        ));
    }
    let mut pem = Vec::new();
    if let Err(e) = opened.take(MAX_CA_FILE_BYTES).read_to_end(&mut pem) {
        return Err(cx.error(
            span,
            format!("cannot read `ca_file` {shown}: {e}"),
            "make the file readable by your user",
        ));
    }
    let has_certificate = pem
        .windows(CERT_HEADER.len())
        .any(|w| w == CERT_HEADER.as_bytes());
    if !has_certificate {
        return Err(cx.error(
            span,
            format!("`ca_file` {shown} holds no certificate (no \"{CERT_HEADER}\" line)"),
            "point ca_file at a PEM file holding the CA certificate(s), e.g. exported with \
             `openssl x509 -in ca.der -inform der -out ca.pem`",
        ));
    }
    Ok(())
}

/// The line that starts a PEM certificate.
const CERT_HEADER: &str = "-----BEGIN CERTIFICATE-----";

/// A `{ value = "..." }` source found in a profile, checked for the warning at the end.
struct StoredValue {
    /// e.g. `secret_key`, `auth.password`.
    label: &'static str,
    span: Range<usize>,
    /// Where the secret is sent: it may stay in the file only for a loopback endpoint.
    endpoint_is_loopback: bool,
}

/// Keeps `result`'s value, or records its error in `errors` (so one profile can report every
/// independent mistake, not just the first).
fn ok<T>(errors: &mut Vec<ConfigError>, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// Validates one `[[profile]]` table on its own. Its errors come in the order a reader meets
/// them: keys nobody knows (in file order), `name`, `kind`, keys of another kind, then each
/// value in schema order; a value that cannot be read (e.g. `policy`) does not hide the others.
/// Nothing after `kind` is checked when the kind is unknown: which keys belong depends on it.
fn parse_profile(
    cx: &mut Cx<'_>,
    item: &Value<'_>,
    earlier: &[Profile],
) -> std::result::Result<Profile, BrokenProfile> {
    let span = item.span();
    let line = cx.line(span.start);
    let DeValue::Table(map) = item.get_ref() else {
        return Err(BrokenProfile {
            name: None,
            line,
            errors: vec![cx.error(
                &span,
                format!(
                    "each `profile` must be a table, found {}",
                    a_type(item.get_ref())
                ),
                "start each profile with a [[profile]] line followed by its keys",
            )],
        });
    };
    let named = map
        .get("name")
        .and_then(|v| v.get_ref().as_str())
        .filter(|n| valid_name(n).is_ok());
    let p = Tbl {
        map,
        span: span.clone(),
        name: match named {
            Some(n) => format!("profile `{n}`"),
            None => format!("the profile at line {line}"),
        },
    };
    let broken = |errors: Vec<ConfigError>| BrokenProfile {
        name: named.map(str::to_string),
        line,
        errors,
    };
    let mut errors: Vec<ConfigError> = Vec::new();

    // Keys no kind knows first, so a misspelt `nmae` is reported as such, not as "missing".
    let known = all_profile_keys();
    errors.extend(p.key_errors(cx, known, |_| None));

    let name = match p
        .string(cx, "name")
        .and_then(|found| p.req(cx, "name", found))
    {
        Ok((name, name_span)) => {
            if let Err((message, fix)) = valid_name(name) {
                errors.push(cx.error(&name_span, message, fix));
            } else if let Some(first) = earlier.iter().find(|e| e.name == name) {
                errors.push(cx.error(
                    &name_span,
                    format!(
                        "duplicate profile name `{name}`; the first profile with this name starts at line {}",
                        first.line
                    ),
                    "give each [[profile]] a unique name",
                ));
            }
            name
        }
        Err(e) => {
            errors.push(e);
            ""
        }
    };

    let kind = match p
        .string(cx, "kind")
        .and_then(|found| p.req(cx, "kind", found))
    {
        Ok((kind_text, kind_span)) => match kind_text.parse::<Kind>() {
            Ok(kind) => Some(kind),
            Err(()) => {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                let hint = closest(kind_text, &names)
                    .map(|k| format!(" — did you mean `{k}`?"))
                    .unwrap_or_default();
                errors.push(cx.error(
                    &kind_span,
                    format!(
                        "unknown kind `{}` in {}; expected one of {}{hint}",
                        show(kind_text),
                        p.name,
                        kind_list()
                    ),
                    "set kind to one of tencent-bm-vpn, huawei-dcs, huawei-iam, tencent-ciam",
                ));
                None
            }
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let Some(kind) = kind else {
        return Err(broken(errors));
    };

    // Keys of another kind (the unknown ones were reported above).
    let mut allowed: Vec<&str> = COMMON_KEYS.to_vec();
    allowed.extend_from_slice(kind_keys(kind));
    for (key, _) in p.entries() {
        let k: &str = key.get_ref();
        if !known.contains(&k) {
            allowed.push(k);
        }
    }
    errors.extend(p.key_errors(cx, &allowed, |key| {
        if kind == Kind::HuaweiDcs && AUTH_KEYS.contains(&key) {
            let method = if AKSK_KEYS.contains(&key) {
                "aksk"
            } else {
                "token"
            };
            return Some((
                format!(
                    "key `{key}` does not belong at the top of a `huawei-dcs` profile ({})",
                    p.name
                ),
                format!(
                    "move it into the auth table: auth = {{ method = \"{method}\", {key} = ... }}"
                ),
            ));
        }
        Some((
            format!(
                "key `{key}` does not belong to a `{kind}` profile ({}); it is a {} key",
                p.name,
                kinds_using(key)
            ),
            format!(
                "remove it, or change `kind` if this profile is meant for {}",
                kinds_using(key)
            ),
        ))
    }));

    let endpoint = ok(&mut errors, p.url(cx, "endpoint"))
        .flatten()
        .map(|(url, _)| url);
    let endpoint_is_loopback = endpoint.as_ref().is_some_and(is_loopback);
    let timeout_secs = ok(&mut errors, p.integer(cx, "timeout_secs", 1..=300))
        .flatten()
        .map_or(Profile::DEFAULT_TIMEOUT_SECS, |(n, _)| n);
    let ca_file = match ok(&mut errors, p.text(cx, "ca_file")).flatten() {
        Some((s, span)) => {
            let file = PathBuf::from(s);
            let file = match cx.path.parent() {
                Some(dir) if file.is_relative() => dir.join(file),
                _ => file,
            };
            ok(&mut errors, check_ca_file(cx, &file, &span));
            Some(file)
        }
        None => None,
    };
    let production = ok(&mut errors, p.boolean(cx, "production"))
        .flatten()
        .unwrap_or(false);
    let notes = ok(&mut errors, p.string(cx, "notes"))
        .flatten()
        .map(|(s, _)| s.to_string());
    let policy = match ok(
        &mut errors,
        p.table(cx, "policy", format!("`policy` in {}", p.name)),
    )
    .flatten()
    {
        Some(t) => ok(&mut errors, parse_policy(cx, &t)).unwrap_or_default(),
        None => PolicyOverrides::default(),
    };

    let mut stored = Vec::new();
    let store = match ok(
        &mut errors,
        p.table(cx, "store", format!("`store` in {}", p.name)),
    )
    .flatten()
    {
        Some(t) => ok(&mut errors, parse_store(cx, &t, &mut stored)),
        None => None,
    };
    let provider = match kind {
        Kind::TencentBmVpn => ok(
            &mut errors,
            parse_bm(cx, &p, endpoint_is_loopback, &mut stored),
        )
        .map(ProviderConfig::TencentBmVpn),
        Kind::HuaweiDcs => ok(
            &mut errors,
            parse_dcs(cx, &p, endpoint_is_loopback, &mut stored),
        )
        .map(ProviderConfig::HuaweiDcs),
        Kind::HuaweiIam => ok(&mut errors, parse_iam(cx, &p)).map(ProviderConfig::HuaweiIam),
        Kind::TencentCiam => {
            // The portal URL is required for CIAM: there is no default.
            if endpoint.is_none() && p.get("endpoint").is_none() {
                errors.push(cx.error(
                    &span,
                    format!("{} is missing the required key `endpoint`", p.name),
                    "add endpoint = \"https://sample.portal.tencentciam.com\" (the tenant's CIAM \
                     portal URL)",
                ));
            }
            ok(
                &mut errors,
                parse_ciam(cx, &p, endpoint_is_loopback, &mut stored),
            )
            .map(ProviderConfig::TencentCiam)
        }
    };
    let Some(provider) = provider.filter(|_| errors.is_empty()) else {
        return Err(broken(errors));
    };

    for value in stored.iter().filter(|v| !v.endpoint_is_loopback) {
        cx.warn(
            &value.span,
            format!(
                "profile `{name}`: {} is stored in the file; prefer env/command/prompt",
                value.label
            ),
        );
    }

    Ok(Profile {
        name: name.to_string(),
        kind,
        endpoint,
        timeout_secs,
        ca_file,
        production,
        notes,
        policy,
        provider,
        store,
        line,
    })
}

/// Checks a profile name: 1..=64 of `[A-Za-z0-9._-]`. The error is (message, fix).
fn valid_name(name: &str) -> std::result::Result<(), (String, String)> {
    if name.is_empty() {
        return Err((
            "the profile name is empty; expected 1 to 64 letters, digits, '.', '_' or '-'".into(),
            "write name = \"my-profile\"".into(),
        ));
    }
    let length = name.chars().count();
    if length > 64 {
        return Err((
            format!("the profile name is {length} characters long; at most 64 are allowed"),
            "shorten it to 64 characters or fewer".into(),
        ));
    }
    if let Some(bad) = name.chars().find(|c| !is_ident_char(*c)) {
        let suggestion: String = name
            .chars()
            .map(|c| if is_ident_char(c) { c } else { '-' })
            .collect();
        return Err((
            format!(
                "the profile name `{}` contains `{}`; only letters, digits, '.', '_' and '-' are allowed",
                show(name),
                show(&bad.to_string())
            ),
            format!("rename it, e.g. name = \"{}\"", show(&suggestion)),
        ));
    }
    Ok(())
}

fn parse_policy(cx: &Cx<'_>, t: &Tbl<'_, '_>) -> Result<PolicyOverrides> {
    t.check_keys(cx, POLICY_KEYS, |_| None)?;
    let min_length = t.integer(cx, "min_length", 1..=MAX_POLICY_LENGTH)?;
    let max_length = t.integer(cx, "max_length", 1..=MAX_POLICY_LENGTH)?;
    let min_classes = t.integer(cx, "min_classes", 1..=4)?;
    let specials = t.string(cx, "specials")?;
    if let (Some((min, _)), Some((max, max_span))) = (&min_length, &max_length)
        && min > max
    {
        return Err(cx.error(
            max_span,
            format!(
                "`max_length` ({max}) is less than `min_length` ({min}) in {}",
                t.name
            ),
            "raise max_length or lower min_length so that min_length <= max_length",
        ));
    }
    if let Some((s, span)) = &specials {
        if s.is_empty() {
            return Err(cx.error(
                span,
                format!(
                    "`specials` in {} is empty; expected the allowed special characters",
                    t.name
                ),
                "write specials = \"!#$%&*\", or remove the key to keep the provider's set",
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| c.is_alphanumeric() || c.is_whitespace() || c.is_control())
        {
            let what = if bad.is_alphabetic() {
                "a letter"
            } else if bad.is_numeric() {
                "a digit"
            } else {
                "whitespace or a control character"
            };
            return Err(cx.error(
                span,
                format!(
                    "`specials` in {} contains `{}`, which is {what}; expected only special characters",
                    t.name,
                    crate::text::escape(&bad.to_string())
                ),
                "remove letters, digits and spaces from specials",
            ));
        }
    }
    Ok(PolicyOverrides {
        // Each was checked against its range above, so the conversions cannot fail.
        min_length: min_length.map(|(n, _)| usize::try_from(n).unwrap_or(usize::MAX)),
        max_length: max_length.map(|(n, _)| usize::try_from(n).unwrap_or(usize::MAX)),
        min_classes: min_classes.map(|(n, _)| u8::try_from(n).unwrap_or(u8::MAX)),
        specials: specials.map(|(s, _)| s.to_string()),
    })
}

/// A required secret source; a `value` one is remembered for the warning.
fn required_source(
    cx: &Cx<'_>,
    t: &Tbl<'_, '_>,
    key: &str,
    label: &'static str,
    endpoint_is_loopback: bool,
    stored: &mut Vec<StoredValue>,
) -> Result<SecretSource> {
    let found = optional_source(cx, t, key, label, endpoint_is_loopback, stored)?;
    t.req(cx, key, found)
}

fn optional_source(
    cx: &Cx<'_>,
    t: &Tbl<'_, '_>,
    key: &str,
    label: &'static str,
    endpoint_is_loopback: bool,
    stored: &mut Vec<StoredValue>,
) -> Result<Option<SecretSource>> {
    let Some((source, span)) = t.source(cx, key)? else {
        return Ok(None);
    };
    if matches!(source, SecretSource::Value(_)) {
        stored.push(StoredValue {
            label,
            span,
            endpoint_is_loopback,
        });
    }
    Ok(Some(source))
}

fn parse_bm(
    cx: &mut Cx<'_>,
    p: &Tbl<'_, '_>,
    loopback: bool,
    stored: &mut Vec<StoredValue>,
) -> Result<TencentBmVpn> {
    let (region, _) = p.req(cx, "region", p.ident(cx, "region")?)?;
    let secret_id = required_source(cx, p, "secret_id", "secret_id", loopback, stored)?;
    let secret_key = required_source(cx, p, "secret_key", "secret_key", loopback, stored)?;
    let session_token = optional_source(cx, p, "session_token", "session_token", loopback, stored)?;
    let api = p
        .choice(cx, "api", &[("v3", TencentApi::V3), ("v2", TencentApi::V2)])?
        .map_or(TencentApi::V3, |(v, _)| v);
    let operate = p
        .choice(
            cx,
            "operate",
            &[
                ("auto", Operate::Auto),
                ("create", Operate::Create),
                ("update", Operate::Update),
            ],
        )?
        .map_or(Operate::Auto, |(v, _)| v);
    let zone_id = p.integer(cx, "zone_id", 0..=u64::MAX)?.map(|(n, _)| n);
    let app_id = p.integer(cx, "app_id", 0..=u64::MAX)?.map(|(n, _)| n);
    let signature_method = p
        .choice(
            cx,
            "signature_method",
            &[
                ("HmacSHA256", SignatureMethod::HmacSha256),
                ("HmacSHA1", SignatureMethod::HmacSha1),
            ],
        )?
        .map_or(SignatureMethod::HmacSha256, |(v, _)| v);
    if api == TencentApi::V3 {
        for (key, value) in p.entries() {
            if V2_ONLY_KEYS.contains(&key.get_ref().as_ref()) {
                let message = format!(
                    "{}: `{}` is only used with api = \"v2\"; it is ignored with v3",
                    p.name,
                    key.get_ref()
                );
                cx.warn(&value.span(), message);
            }
        }
    }
    Ok(TencentBmVpn {
        region: region.to_string(),
        secret_id,
        secret_key,
        session_token,
        api,
        operate,
        zone_id,
        app_id,
        signature_method,
    })
}

fn parse_dcs(
    cx: &Cx<'_>,
    p: &Tbl<'_, '_>,
    loopback: bool,
    stored: &mut Vec<StoredValue>,
) -> Result<HuaweiDcs> {
    let (region, _) = p.req(cx, "region", p.ident(cx, "region")?)?;
    let (project_id, _) = p.req(cx, "project_id", p.ident(cx, "project_id")?)?;
    let (instance_id, _) = p.req(cx, "instance_id", p.ident(cx, "instance_id")?)?;
    let a = p.req(
        cx,
        "auth",
        p.table(cx, "auth", format!("`auth` in {}", p.name))?,
    )?;
    a.check_keys(cx, AUTH_KEYS, |_| None)?;
    let (method, _) = a.req(
        cx,
        "method",
        a.choice(cx, "method", &[("aksk", true), ("token", false)])?,
    )?;
    let (own, other) = if method {
        (AKSK_KEYS, "token")
    } else {
        (TOKEN_KEYS, "aksk")
    };
    a.check_keys(cx, own, |key| {
        Some((
            format!(
                "`{key}` in {} is only used with method = \"{other}\"",
                a.name
            ),
            format!("remove it, or set method = \"{other}\""),
        ))
    })?;
    let auth = if method {
        let access_key =
            required_source(cx, &a, "access_key", "auth.access_key", loopback, stored)?;
        let secret_key =
            required_source(cx, &a, "secret_key", "auth.secret_key", loopback, stored)?;
        let variant = a
            .choice(
                cx,
                "aksk_variant",
                &[("huawei", AkskVariant::Huawei), ("otc", AkskVariant::Otc)],
            )?
            .map_or(AkskVariant::Huawei, |(v, _)| v);
        DcsAuth::Aksk {
            access_key,
            secret_key,
            variant,
        }
    } else {
        let (iam_endpoint, _) = a.req(cx, "iam_endpoint", a.url(cx, "iam_endpoint")?)?;
        let (domain, _) = a.req(cx, "domain", a.text(cx, "domain")?)?;
        let (user, _) = a.req(cx, "user", a.text(cx, "user")?)?;
        // The password goes to IAM, so the IAM endpoint decides whether it may sit in the file.
        let iam_loopback = is_loopback(&iam_endpoint);
        let password = required_source(cx, &a, "password", "auth.password", iam_loopback, stored)?;
        DcsAuth::Token {
            iam_endpoint,
            domain: domain.to_string(),
            user: user.to_string(),
            password,
        }
    };
    Ok(HuaweiDcs {
        region: region.to_string(),
        project_id: project_id.to_string(),
        instance_id: instance_id.to_string(),
        auth,
    })
}

fn parse_iam(cx: &Cx<'_>, p: &Tbl<'_, '_>) -> Result<HuaweiIam> {
    let (iam_endpoint, _) = p.req(cx, "iam_endpoint", p.url(cx, "iam_endpoint")?)?;
    let (domain, _) = p.req(cx, "domain", p.text(cx, "domain")?)?;
    let (user, _) = p.req(cx, "user", p.text(cx, "user")?)?;
    let email = p.text(cx, "email")?.map(|(s, _)| s.to_string());
    let phone = p.text(cx, "phone")?.map(|(s, _)| s.to_string());
    Ok(HuaweiIam {
        iam_endpoint,
        domain: domain.to_string(),
        user: user.to_string(),
        email,
        phone,
    })
}

fn parse_ciam(
    cx: &Cx<'_>,
    p: &Tbl<'_, '_>,
    loopback: bool,
    stored: &mut Vec<StoredValue>,
) -> Result<TencentCiam> {
    let (client_id, _) = p.req(cx, "client_id", p.text(cx, "client_id")?)?;
    let (auth_source_id, _) = p.req(cx, "auth_source_id", p.text(cx, "auth_source_id")?)?;
    let (username, _) = p.req(cx, "username", p.text(cx, "username")?)?;
    let client_secret = optional_source(cx, p, "client_secret", "client_secret", loopback, stored)?;
    let access_token = optional_source(cx, p, "access_token", "access_token", loopback, stored)?;
    Ok(TencentCiam {
        client_id: client_id.to_string(),
        auth_source_id: auth_source_id.to_string(),
        username: username.to_string(),
        client_secret,
        access_token,
    })
}

/// A profile's `store` table (SPEC §10.1). Order: unknown keys, `backend`, keys of another
/// backend, then `entry`, `read_current`, `timeout_secs` and the backend's own keys.
fn parse_store(cx: &Cx<'_>, t: &Tbl<'_, '_>, stored: &mut Vec<StoredValue>) -> Result<StoreConfig> {
    t.check_keys(cx, STORE_KEYS, |key| {
        // Keys written after a `[profile.store]` header land in the store table.
        all_profile_keys().contains(&key).then(|| {
            (
                format!(
                    "key `{key}` is inside {}; it is a profile key, not a store key",
                    t.name
                ),
                "move it above the [profile.store] header (keys after a table header belong \
                 to that table), or write the store inline: store = { backend = ..., entry = ... }"
                    .to_string(),
            )
        })
    })?;
    let (backend, _) = t.req(cx, "backend", store_backend(cx, t)?)?;
    let own = STORE_BACKENDS
        .iter()
        .find(|(name, _)| *name == backend)
        .map_or(&[][..], |(_, keys)| *keys);
    let mut allowed = STORE_COMMON_KEYS.to_vec();
    allowed.extend_from_slice(own);
    t.check_keys(cx, &allowed, |key| {
        let users: Vec<&str> = STORE_BACKENDS
            .iter()
            .filter(|(_, keys)| keys.contains(&key))
            .map(|(name, _)| *name)
            .collect();
        let needs = or_list(&users);
        Some((
            format!(
                "`{key}` in {} is only used with backend = {needs}, not with backend = \"{backend}\"",
                t.name
            ),
            format!("remove it, or set backend = {needs}"),
        ))
    })?;

    let (entry, entry_span) = t.req(cx, "entry", t.text(cx, "entry")?)?;
    if entry.starts_with('/') {
        return Err(cx.error(
            &entry_span,
            format!(
                "`entry` in {} starts with '/'; expected a path inside the store",
                t.name
            ),
            format!(
                "write entry = \"{}\" (relative to the store's root)",
                show(entry.trim_start_matches('/'))
            ),
        ));
    }
    if entry.split(['/', '\\']).any(|part| part == "..") {
        return Err(cx.error(
            &entry_span,
            format!(
                "`entry` in {} has a `..` component; expected a path inside the store",
                t.name
            ),
            "name the entry without `..`, e.g. entry = \"cloud/redis-prod\"",
        ));
    }
    let read_current = t.boolean(cx, "read_current")?.unwrap_or(true);
    let timeout_secs = t
        .integer(cx, "timeout_secs", 1..=MAX_STORE_TIMEOUT_SECS)
        .map_err(|mut e| {
            e.fix = format!(
                "write timeout_secs = {} (how long one store command may run, 1 to \
                 {MAX_STORE_TIMEOUT_SECS} seconds)",
                crate::store::DEFAULT_TIMEOUT_SECS
            );
            e
        })?
        .map_or(crate::store::DEFAULT_TIMEOUT_SECS, |(n, _)| n);

    let backend = match backend {
        "pass" => StoreBackend::Pass,
        "secret-service" => StoreBackend::SecretService,
        "keepassxc" => {
            let database = t.req(cx, "database", store_path(cx, t, "database")?)?;
            let database_password = optional_source(
                cx,
                t,
                "database_password",
                "store.database_password",
                false,
                stored,
            )?;
            let key_file = store_path(cx, t, "key_file")?;
            if database_password.is_none() && key_file.is_none() {
                return Err(cx.error(
                    &t.span,
                    format!(
                        "{} (backend \"keepassxc\") has neither `database_password` nor \
                         `key_file`; one of them is needed to open the database",
                        t.name
                    ),
                    "add database_password = { prompt = true } (or { env = \"NAME\" }, \
                     { command = [\"prog\", \"arg\"] }), or key_file = \"~/vault.key\"",
                ));
            }
            StoreBackend::Keepassxc {
                database,
                database_password,
                key_file,
            }
        }
        _ => StoreBackend::Command {
            argv: store_command(cx, t)?,
        },
    };
    Ok(StoreConfig {
        backend,
        entry: entry.to_string(),
        read_current,
        timeout_secs,
    })
}

/// `backend` of a store table: one of [`STORE_BACKENDS`], with a hint for near misses and for
/// the names of tools that the `command` backend reaches.
fn store_backend<'t>(cx: &Cx<'_>, t: &Tbl<'t, '_>) -> Result<Option<(&'static str, Range<usize>)>> {
    let Some((s, span)) = t.string(cx, "backend")? else {
        return Ok(None);
    };
    let names: Vec<&'static str> = STORE_BACKENDS.iter().map(|(name, _)| *name).collect();
    if let Some(name) = names.iter().find(|name| **name == s) {
        return Ok(Some((name, span)));
    }
    let alias = match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "keepass" | "keepassx" | "keepassxc-cli" | "kdbx" => Some("keepassxc"),
        "secretservice" | "secret-tool" | "keyring" | "gnome-keyring" | "libsecret" | "kwallet" => {
            Some("secret-service")
        }
        "password-store" | "pass-store" => Some("pass"),
        "cmd" | "exec" | "script" | "program" | "op" | "1password" | "bw" | "bitwarden"
        | "vault" | "gopass" => Some("command"),
        _ => closest(s, &names),
    };
    let hint = alias
        .map(|a| format!(" — did you mean `{a}`?"))
        .unwrap_or_default();
    let fix = match alias {
        Some("command") => {
            "write backend = \"command\" with command = [\"my-store\", \"--vault\", \"ops\"]: \
                            rekey runs it as `COMMAND... get|put|delete SLOT` (the README has \
                            recipes for op, bw, vault and gopass)"
                .to_string()
        }
        Some(a) => format!("write backend = \"{a}\""),
        None => format!("write {}", example("backend")),
    };
    Err(cx.error(
        &span,
        format!(
            "unknown store backend `{}` in {}; expected {}{hint}",
            show(s),
            t.name,
            join_words(&names, "or")
        ),
        fix,
    ))
}

/// A store file (`database`, `key_file`): a leading `~/` is the home directory, a relative path
/// is relative to the config file's directory (as `ca_file`).
fn store_path(cx: &Cx<'_>, t: &Tbl<'_, '_>, key: &str) -> Result<Option<PathBuf>> {
    let Some((s, span)) = t.text(cx, key)? else {
        return Ok(None);
    };
    if let Some(rest) = s.strip_prefix("~/") {
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
            return Err(cx.error(
                &span,
                format!(
                    "`{key}` in {} starts with `~/`, and $HOME is not set",
                    t.name
                ),
                "write the full path, e.g. /home/me/vault.kdbx",
            ));
        };
        return Ok(Some(PathBuf::from(home).join(rest)));
    }
    if s.starts_with('~') {
        return Err(cx.error(
            &span,
            format!(
                "`{key}` in {} starts with `{}`; only `~/` (your home directory) is expanded",
                t.name,
                show(s.split('/').next().unwrap_or(s))
            ),
            format!("write the full path, or {}", example(key)),
        ));
    }
    let file = PathBuf::from(s);
    Ok(Some(match cx.path.parent() {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file,
    }))
}

/// `command` of a `backend = "command"` store: the argv prefix, run without a shell.
fn store_command(cx: &Cx<'_>, t: &Tbl<'_, '_>) -> Result<Vec<String>> {
    let fix_example = "write command = [\"my-store\", \"--vault\", \"ops\"] (one element per \
                       argument; it runs without a shell)";
    let Some(value) = t.get("command") else {
        return Err(cx.error(
            &t.span,
            format!(
                "{} (backend \"command\") is missing the required key `command`",
                t.name
            ),
            "add command = [\"my-store\", \"--vault\", \"ops\"]: rekey runs it as \
             `COMMAND... get|put|delete SLOT`",
        ));
    };
    let array = match value.get_ref() {
        DeValue::Array(array) => array,
        DeValue::String(line) => {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| format!("\"{}\"", show(w)))
                .collect();
            let fix = if words.is_empty() {
                fix_example.to_string()
            } else {
                format!(
                    "write command = [{}] (one element per argument; it runs without a shell)",
                    words.join(", ")
                )
            };
            return Err(cx.error(
                &value.span(),
                format!(
                    "`command` in {} must be an argv list of strings, found a string",
                    t.name
                ),
                fix,
            ));
        }
        other => {
            return Err(cx.error(
                &value.span(),
                format!(
                    "`command` in {} must be an argv list of strings, found {}",
                    t.name,
                    a_type(other)
                ),
                fix_example,
            ));
        }
    };
    if array.is_empty() {
        return Err(cx.error(
            &value.span(),
            format!(
                "`command` in {} is empty; expected the program and its arguments",
                t.name
            ),
            fix_example,
        ));
    }
    let mut argv = Vec::with_capacity(array.len());
    for (i, arg) in array.iter().enumerate() {
        let DeValue::String(s) = arg.get_ref() else {
            return Err(cx.error(
                &arg.span(),
                format!(
                    "element {} of `command` in {} must be a string, found {}",
                    i + 1,
                    t.name,
                    a_type(arg.get_ref())
                ),
                "quote every element: command = [\"my-store\", \"--vault\", \"ops\"]",
            ));
        };
        if i == 0 && s.trim().is_empty() {
            return Err(cx.error(
                &arg.span(),
                format!(
                    "the program name (first element of `command`) in {} is empty",
                    t.name
                ),
                fix_example,
            ));
        }
        argv.push(s.to_string());
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profiles sharing a `ca_file` read it once, but each profile that uses a bad one is still
    /// marked broken, at its own line.
    #[test]
    fn a_shared_bad_ca_file_breaks_every_profile_that_uses_it() {
        let dir = crate::fsutil::TempDir::new("rekey-ca-test-").expect("temp dir");
        let (good, bad) = (dir.path.join("good.pem"), dir.path.join("bad.pem"));
        std::fs::write(
            &good,
            format!("{CERT_HEADER}\nMIIB\n-----END CERTIFICATE-----\n"),
        )
        .expect("write");
        std::fs::write(&bad, "not a certificate\n").expect("write");
        let profile = |name: &str, ca: &Path| {
            format!(
                "[[profile]]\nname = \"{name}\"\nkind = \"tencent-ciam\"\n\
                 endpoint = \"https://ciam.example.com\"\nclient_id = \"c\"\n\
                 auth_source_id = \"a\"\nusername = \"u\"\nca_file = {:?}\n\n",
                ca.display().to_string()
            )
        };
        let text = [
            profile("one", &good),
            profile("two", &bad),
            profile("three", &good),
            profile("four", &bad),
        ]
        .concat();
        let config = parse_each(Path::new("p.toml"), &text).expect("parses");
        let names: Vec<_> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["one", "three"]);
        let broken: Vec<_> = config
            .broken
            .iter()
            .map(|b| (b.name.as_deref(), b.errors[0].line))
            .collect();
        assert_eq!(broken, [(Some("two"), 17), (Some("four"), 35)]);
        assert!(
            config.broken[1].errors[0]
                .message
                .contains("holds no certificate")
        );
    }

    /// The line index gives what a scan from the start gives, at every offset.
    #[test]
    fn indexed_positions_match_scanned_ones() {
        for text in [
            "",
            "ab\ncé\n\nx",
            "\n\n",
            "[[profile]]\nname = \"é\"\n",
            "no newline",
        ] {
            let cx = Cx {
                path: Path::new("p.toml"),
                text,
                warnings: Vec::new(),
                ca_files_ok: Default::default(),
                line_starts: Default::default(),
            };
            for offset in 0..text.len() + 3 {
                assert_eq!(
                    cx.position(offset),
                    position(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    #[test]
    fn positions() {
        let text = "ab\ncé\n\nx";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 2), (1, 3));
        assert_eq!(position(text, 3), (2, 1));
        // `é` is two bytes; the column counts characters.
        assert_eq!(position(text, 6), (2, 3));
        assert_eq!(position(text, 5), (2, 2)); // inside `é`: floored to its start
        assert_eq!(position(text, 7), (3, 1));
        assert_eq!(position(text, 8), (4, 1));
        assert_eq!(position(text, 99), (4, 2));
    }

    #[test]
    fn names() {
        assert!(valid_name("a").is_ok());
        assert!(valid_name("redis-prod.eu_1").is_ok());
        assert!(valid_name(&"x".repeat(64)).is_ok());
        assert!(valid_name(&"x".repeat(65)).is_err());
        assert!(valid_name("").is_err());
        assert!(valid_name("has space").is_err());
        assert!(valid_name("é").is_err());
    }

    #[test]
    fn every_key_has_an_example() {
        for key in all_profile_keys()
            .iter()
            .copied()
            .chain(AUTH_KEYS.iter().copied())
            .chain(POLICY_KEYS.iter().copied())
            .chain(SOURCE_KEYS.iter().copied())
            .chain(STORE_KEYS.iter().copied())
            .chain(TOP_KEYS.iter().copied())
        {
            assert!(!example(key).ends_with("= ..."), "{key}");
        }
    }
}
