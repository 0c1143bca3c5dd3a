//! The validated configuration: what `profiles.toml` says once it has been checked.
//!
//! Nothing here holds a resolved secret. A `{ value = "..." }` source keeps its text in a
//! zeroizing string because the user chose to put it in the file.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use url::Url;
use zeroize::Zeroizing;

/// The provider API a profile talks to (SPEC §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Tencent Cloud Bare Metal out-of-band VPN password.
    TencentBmVpn,
    /// Huawei Cloud / OTC DCS (Redis) instance password.
    HuaweiDcs,
    /// Huawei Cloud / OTC IAM user's own login password.
    HuaweiIam,
    /// Tencent CIAM end-user password.
    TencentCiam,
}

impl Kind {
    /// Every kind, in the order the SPEC lists them.
    pub const ALL: [Kind; 4] = [
        Kind::TencentBmVpn,
        Kind::HuaweiDcs,
        Kind::HuaweiIam,
        Kind::TencentCiam,
    ];

    /// The name used in `profiles.toml` and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TencentBmVpn => "tencent-bm-vpn",
            Kind::HuaweiDcs => "huawei-dcs",
            Kind::HuaweiIam => "huawei-iam",
            Kind::TencentCiam => "tencent-ciam",
        }
    }

    /// The provider's display name, used to label policy rules.
    pub fn provider_label(self) -> &'static str {
        match self {
            Kind::TencentBmVpn => "Tencent BM",
            Kind::HuaweiDcs => "Huawei DCS",
            Kind::HuaweiIam => "Huawei IAM",
            Kind::TencentCiam => "Tencent CIAM",
        }
    }

    /// Whether the change needs the current password (SPEC §1: not for the BM VPN).
    pub fn needs_current_password(self) -> bool {
        !matches!(self, Kind::TencentBmVpn)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// Where a secret comes from. Resolving it happens only when a request is built.
pub enum SecretSource {
    /// `{ env = "NAME" }`: read from the environment.
    Env(String),
    /// `{ command = ["argv", ...] }`: run without a shell, stdout minus one trailing newline.
    Command(Vec<String>),
    /// `{ prompt = true }`: a masked field in the console.
    Prompt,
    /// `{ value = "..." }`: written in the file (warned about unless the endpoint is loopback).
    Value(Zeroizing<String>),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "Env({name:?})"),
            SecretSource::Command(argv) => write!(f, "Command({argv:?})"),
            SecretSource::Prompt => f.write_str("Prompt"),
            SecretSource::Value(_) => f.write_str("Value([redacted])"),
        }
    }
}

/// Client-side policy overrides from `[profile.policy]`; applied on top of the provider's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// Minimum length in characters.
    pub min_length: Option<usize>,
    /// Maximum length in characters.
    pub max_length: Option<usize>,
    /// Minimum number of character classes.
    pub min_classes: Option<u8>,
    /// The special characters allowed (replaces the provider's set).
    pub specials: Option<String>,
}

/// Tencent BM API generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TencentApi {
    /// API 3.0, TC3-HMAC-SHA256 (default).
    V3,
    /// Legacy API 2.0 (`/v2/index.php`).
    V2,
}

/// Whether to create or update the VPN account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operate {
    /// v2: ask `GetOutBandVPNAuthInfo`; v3: send Update, offer Create on "does not exist".
    Auto,
    /// Always create.
    Create,
    /// Always update.
    Update,
}

/// v2 signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    /// HmacSHA256 (default).
    HmacSha256,
    /// HmacSHA1.
    HmacSha1,
}

/// `kind = "tencent-bm-vpn"`.
#[derive(Debug)]
pub struct TencentBmVpn {
    /// Region, e.g. `ap-guangzhou`.
    pub region: String,
    /// SecretId source.
    pub secret_id: SecretSource,
    /// SecretKey source.
    pub secret_key: SecretSource,
    /// Optional STS session token.
    pub session_token: Option<SecretSource>,
    /// API generation.
    pub api: TencentApi,
    /// Create/update choice.
    pub operate: Operate,
    /// v2 `zoneId` for `GetOutBandVPNAuthInfo`.
    pub zone_id: Option<u64>,
    /// v2 `appId`.
    pub app_id: Option<u64>,
    /// v2 signature method.
    pub signature_method: SignatureMethod,
}

/// AK/SK signing flavour for DCS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AkskVariant {
    /// Huawei Cloud `Access=` form (default).
    Huawei,
    /// Open Telekom Cloud `Credential=AK/yyyymmdd///sdk_request` form.
    Otc,
}

/// How a DCS profile authenticates.
#[derive(Debug)]
pub enum DcsAuth {
    /// `auth = { method = "aksk", ... }`.
    Aksk {
        /// Access key source.
        access_key: SecretSource,
        /// Secret key source.
        secret_key: SecretSource,
        /// Signing flavour.
        variant: AkskVariant,
    },
    /// `auth = { method = "token", ... }`: a project-scoped IAM token.
    Token {
        /// IAM endpoint URL (under the transport rule).
        iam_endpoint: Url,
        /// Account (domain) name.
        domain: String,
        /// IAM user name.
        user: String,
        /// The IAM user's password source.
        password: SecretSource,
    },
}

/// `kind = "huawei-dcs"`.
#[derive(Debug)]
pub struct HuaweiDcs {
    /// Region, e.g. `cn-north-4`.
    pub region: String,
    /// Project ID.
    pub project_id: String,
    /// DCS instance ID.
    pub instance_id: String,
    /// Authentication.
    pub auth: DcsAuth,
}

/// `kind = "huawei-iam"`.
#[derive(Debug)]
pub struct HuaweiIam {
    /// IAM endpoint URL (under the transport rule).
    pub iam_endpoint: Url,
    /// Account (domain) name.
    pub domain: String,
    /// IAM user name.
    pub user: String,
    /// Email, for the "must not contain" rule.
    pub email: Option<String>,
    /// Phone, for the "must not contain" rule.
    pub phone: Option<String>,
}

/// `kind = "tencent-ciam"`.
#[derive(Debug)]
pub struct TencentCiam {
    /// OAuth client ID.
    pub client_id: String,
    /// Account/password authentication source ID.
    pub auth_source_id: String,
    /// End-user name.
    pub username: String,
    /// Client secret (web applications only).
    pub client_secret: Option<SecretSource>,
    /// A pasted/issued access token instead of the password grant.
    pub access_token: Option<SecretSource>,
}

/// The kind-specific part of a profile.
#[derive(Debug)]
pub enum ProviderConfig {
    /// Tencent BM VPN.
    TencentBmVpn(TencentBmVpn),
    /// Huawei DCS.
    HuaweiDcs(HuaweiDcs),
    /// Huawei IAM.
    HuaweiIam(HuaweiIam),
    /// Tencent CIAM.
    TencentCiam(TencentCiam),
}

/// One `[[profile]]`.
#[derive(Debug)]
pub struct Profile {
    /// Unique name: letters, digits, '.', '_', '-'; 1..64.
    pub name: String,
    /// Provider kind.
    pub kind: Kind,
    /// Endpoint override under the transport rule (CIAM: the tenant's portal URL, required).
    pub endpoint: Option<Url>,
    /// Request timeout, default 15 s.
    pub timeout_secs: u64,
    /// Extra PEM roots.
    pub ca_file: Option<PathBuf>,
    /// Production profile: warning banner and confirmation before every send.
    pub production: bool,
    /// Free text shown in the details.
    pub notes: Option<String>,
    /// `[profile.policy]` overrides.
    pub policy: PolicyOverrides,
    /// Kind-specific keys.
    pub provider: ProviderConfig,
    /// Where the admin keeps this profile's password (SPEC §10.1), if anywhere.
    pub store: Option<StoreConfig>,
    /// 1-based line of the `[[profile]]` header, for messages; 0 for a profile not read from
    /// a file (the demo's).
    pub line: usize,
}

impl Profile {
    /// `timeout_secs` when the file does not set it.
    pub const DEFAULT_TIMEOUT_SECS: u64 = 15;

    /// The secrets of this profile that come from `{ prompt = true }`, as (key path, label) pairs,
    /// in file order. Each becomes an extra masked field in the console.
    pub fn prompt_secrets(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut push = |key: &'static str, s: Option<&SecretSource>| {
            if matches!(s, Some(SecretSource::Prompt)) {
                out.push(key);
            }
        };
        match &self.provider {
            ProviderConfig::TencentBmVpn(t) => {
                push("secret_id", Some(&t.secret_id));
                push("secret_key", Some(&t.secret_key));
                push("session_token", t.session_token.as_ref());
            }
            ProviderConfig::HuaweiDcs(d) => match &d.auth {
                DcsAuth::Aksk {
                    access_key,
                    secret_key,
                    ..
                } => {
                    push("auth.access_key", Some(access_key));
                    push("auth.secret_key", Some(secret_key));
                }
                DcsAuth::Token { password, .. } => push("auth.password", Some(password)),
            },
            ProviderConfig::HuaweiIam(_) => {}
            ProviderConfig::TencentCiam(c) => {
                push("client_secret", c.client_secret.as_ref());
                push("access_token", c.access_token.as_ref());
            }
        }
        out
    }

    /// The account name the password belongs to, if the kind has one (a policy context word).
    pub fn user_name(&self) -> Option<&str> {
        match &self.provider {
            ProviderConfig::HuaweiIam(i) => Some(&i.user),
            ProviderConfig::TencentCiam(c) => Some(&c.username),
            ProviderConfig::HuaweiDcs(_) | ProviderConfig::TencentBmVpn(_) => None,
        }
    }
}

/// A profile's password store (SPEC §10.1): `store = { backend = "...", entry = "...", ... }`.
#[derive(Debug)]
pub struct StoreConfig {
    /// Which store, and its backend-specific settings.
    pub backend: StoreBackend,
    /// The entry (pass path, KeePassXC entry path, keyring label, or the command's name for it).
    pub entry: String,
    /// `read_current` (default true): the current password comes from the store.
    pub read_current: bool,
    /// `timeout_secs` (default 30): how long one store command may run before it is killed.
    pub timeout_secs: u64,
}

/// The backends of SPEC §10.1.
#[derive(Debug)]
pub enum StoreBackend {
    /// `pass` (the standard Unix password manager): entries `ENTRY`, `ENTRY.rekey-pending`,
    /// `ENTRY.rekey-previous`.
    Pass,
    /// `keepassxc-cli` on a `.kdbx` database.
    Keepassxc {
        /// The database file (a leading `~/` is expanded at load).
        database: PathBuf,
        /// The database password source (never a plain string); None with only a key file.
        database_password: Option<SecretSource>,
        /// An optional key file.
        key_file: Option<PathBuf>,
    },
    /// The desktop keyring over D-Bus (Secret Service), through `secret-tool`.
    SecretService,
    /// A command run as `COMMAND... get|put|delete SLOT`.
    Command {
        /// The argv prefix (no shell).
        argv: Vec<String>,
    },
}

impl StoreConfig {
    /// A `command` store running `argv` for `entry`, every other setting at its default.
    pub fn command(argv: Vec<String>, entry: String) -> StoreConfig {
        StoreConfig {
            backend: StoreBackend::Command { argv },
            entry,
            read_current: true,
            timeout_secs: crate::store::DEFAULT_TIMEOUT_SECS,
        }
    }

    /// The backend's name as written in the config.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            StoreBackend::Pass => "pass",
            StoreBackend::Keepassxc { .. } => "keepassxc",
            StoreBackend::SecretService => "secret-service",
            StoreBackend::Command { .. } => "command",
        }
    }

    /// How the store is named to the user: `pass:cloud/redis-prod`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.backend_name(), self.entry)
    }
}

/// A `[[profile]]` table that failed validation: the console lists it, marked, with every
/// error found in it, and loads the file's other profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenProfile {
    /// Its `name`, when that is present and valid.
    pub name: Option<String>,
    /// The line of its `[[profile]]` header.
    pub line: usize,
    /// Every error found in it, in the order a reader meets them (never empty).
    pub errors: Vec<crate::config::ConfigError>,
}

impl BrokenProfile {
    /// How the list names it: its name, or `line N` when it has no usable name.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("line {}", self.line),
        }
    }
}

/// The console's colours, top-level `theme` in `profiles.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    /// `"default"`: for dark terminals.
    #[default]
    Default,
    /// `"light"`: for light backgrounds.
    Light,
    /// `"high-contrast"`: bright colours, no grey text.
    HighContrast,
}

impl ThemeName {
    /// The names accepted in the config, in order.
    pub const NAMES: [&'static str; 3] = ["default", "light", "high-contrast"];

    /// The theme called `name` in the config.
    pub fn from_name(name: &str) -> Option<ThemeName> {
        match name {
            "default" => Some(ThemeName::Default),
            "light" => Some(ThemeName::Light),
            "high-contrast" => Some(ThemeName::HighContrast),
            _ => None,
        }
    }
}

/// A whole `profiles.toml`.
#[derive(Debug)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// Top-level `audit` (default true).
    pub audit: bool,
    /// Top-level `mouse` (default true): `false` leaves the mouse to the terminal, so its own
    /// text selection works (as `--no-mouse` does).
    pub mouse: bool,
    /// Top-level `theme` (default `"default"`): the console's colours.
    pub theme: ThemeName,
    /// Top-level `[keys]`: the console's keys, the defaults with the file's overrides.
    pub keys: crate::console::keymap::Keymap,
    /// Profiles in file order.
    pub profiles: Vec<Profile>,
    /// `[[profile]]` tables that failed validation, in file order, each with all its errors.
    /// The strict [`crate::config::parse`] and [`crate::config::load`] never return any.
    pub broken: Vec<BrokenProfile>,
    /// Non-fatal findings (e.g. a `value` secret with a non-loopback endpoint).
    pub warnings: Vec<String>,
}

impl Config {
    /// `audit` when the file does not set it.
    pub const DEFAULT_AUDIT: bool = true;
    /// `mouse` when the file does not set it.
    pub const DEFAULT_MOUSE: bool = true;

    /// A config of `profiles` with every top-level setting at its default: what a file holding
    /// just these profiles gives.
    pub fn of_profiles(path: PathBuf, profiles: Vec<Profile>) -> Config {
        Config {
            path,
            audit: Config::DEFAULT_AUDIT,
            mouse: Config::DEFAULT_MOUSE,
            theme: ThemeName::default(),
            keys: crate::console::keymap::Keymap::default(),
            profiles,
            broken: Vec::new(),
            warnings: Vec::new(),
        }
    }
}
