//! The simulated providers' state: keys, accounts, instances, users, tokens, and the offset
//! clock that lock and token expiry use. Every password lives in a [`Zeroizing`] string.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::http::{Request, Response};
use super::{Fault, Route, UserStatus};

/// How many failed DCS password checks lock an instance, and for how long.
pub const DCS_MAX_FAILURES: u32 = 5;
/// DCS lock length.
pub const DCS_LOCK: Duration = Duration::from_secs(5 * 60);
/// How many consecutive wrong IAM passwords lock a user, and for how long.
pub const IAM_MAX_FAILURES: u32 = 5;
/// IAM lock length.
pub const IAM_LOCK: Duration = Duration::from_secs(5 * 60);
/// IAM token lifetime.
pub const IAM_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// CIAM access token lifetime (the documented example's `expires_in`).
pub const CIAM_TOKEN_SECS: u64 = 299;
/// How many previous passwords IAM and CIAM refuse (besides the current one).
pub const HISTORY: usize = 3;
/// The furthest [`World::offset`] may move the clock (keeps every date formattable).
pub const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Signature freshness windows (real time): Tencent ±5 minutes, Huawei ±15 minutes.
pub const TENCENT_SKEW: i64 = 300;
/// Huawei `X-Sdk-Date` window.
pub const HUAWEI_SKEW: i64 = 15 * 60;

/// Bytes of the per-thread pool small draws are served from.
const POOL_BYTES: usize = 512;

thread_local! {
    /// OS randomness fetched [`POOL_BYTES`] at a time, and how much of it is used: the demo's
    /// world takes about 30 small draws before the console's first frame, a system call each
    /// otherwise. A byte handed out is wiped from the pool.
    static POOL: std::cell::RefCell<(zeroize::Zeroizing<[u8; POOL_BYTES]>, usize)> =
        std::cell::RefCell::new((zeroize::Zeroizing::new([0; POOL_BYTES]), POOL_BYTES));
}

/// Fills `buf` from the OS CSPRNG (small draws through a per-thread pool); if that ever fails,
/// from a hash of the time and a counter (the simulator only needs unpredictable-looking ids,
/// never real key material).
pub fn fill_random(buf: &mut [u8]) {
    use zeroize::Zeroize;
    if buf.len() <= POOL_BYTES / 8 {
        let drawn = POOL.with_borrow_mut(|(pool, used)| {
            if *used + buf.len() > POOL_BYTES {
                if getrandom::fill(&mut pool[..]).is_err() {
                    return false;
                }
                *used = 0;
            }
            let end = *used + buf.len();
            buf.copy_from_slice(&pool[*used..end]);
            pool[*used..end].zeroize();
            *used = end;
            true
        });
        if drawn {
            return;
        }
    }
    if getrandom::fill(buf).is_ok() {
        return;
    }
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for (k, chunk) in buf.chunks_mut(32).enumerate() {
        let mut h = Sha256::new();
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes(),
        );
        h.update(k.to_le_bytes());
        let digest = h.finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
}

/// A random string of `len` characters from `alphabet` (ASCII).
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect()
}

/// Upper-case letters and digits.
pub const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Letters and digits.
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// base64url characters.
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A random UUID (version 4 layout), as Tencent request ids look.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::provider::sign::hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A random 32-hex-digit id (Huawei request ids and object ids look like this).
pub fn hex_id() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    crate::provider::sign::hex_lower(&b)
}

/// Unix seconds of the real clock (signature freshness).
pub fn real_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` of a time (UTC), with `Z` when `zulu`.
pub fn iso_micros(t: SystemTime, zulu: bool) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        if zulu { "Z" } else { "" }
    )
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn secret_eq(a: &str, b: &str) -> bool {
    crate::provider::sign::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// A copy of `s` in a zeroizing string.
pub fn secret(s: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len()));
    out.push_str(s);
    out
}

/// A JSON string field deserialized straight into a zeroizing buffer (request passwords).
pub struct SecretString(pub Zeroizing<String>);

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SecretString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretString, E> {
                Ok(SecretString(secret(v)))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretString, E> {
                Ok(SecretString(Zeroizing::new(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl SecretString {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Server-side password policies.

/// Character classes used by the policies.
#[derive(Default)]
struct Classes {
    lower: bool,
    upper: bool,
    digit: bool,
    special: bool,
    other: bool,
}

fn classes(p: &str, specials: Option<&str>) -> Classes {
    let mut c = Classes::default();
    for ch in p.chars() {
        if ch.is_ascii_lowercase() {
            c.lower = true;
        } else if ch.is_ascii_uppercase() {
            c.upper = true;
        } else if ch.is_ascii_digit() {
            c.digit = true;
        } else if specials.is_none_or(|set| set.contains(ch))
            && (ch.is_ascii_punctuation() || specials.is_some())
        {
            c.special = true;
        } else {
            c.other = true;
        }
    }
    c
}

/// Tencent BM VPN: 8–16 characters, at least 2 of letters, digits and `!#$%&^*()`, nothing
/// else.
pub fn tencent_policy(p: &str) -> Result<(), &'static str> {
    const MESSAGE: &str = "The password must be 8-16 characters and contain at least two of: \
                           letters, digits and the symbols !#$%&^*()";
    let n = p.chars().count();
    let c = classes(p, Some(crate::policy::TENCENT_BM_SPECIALS));
    let kinds = u8::from(c.lower || c.upper) + u8::from(c.digit) + u8::from(c.special);
    if !(8..=16).contains(&n) || c.other || kinds < 2 {
        return Err(MESSAGE);
    }
    Ok(())
}

/// Huawei DCS: 8–32 characters, at least 3 of lower, upper, digit and a special from
/// `` `~!@#$^&*()-_=+\|{},<.>/? ``, nothing else.
pub fn dcs_policy(p: &str) -> Result<(), &'static str> {
    let n = p.chars().count();
    let c = classes(p, Some(crate::policy::HUAWEI_DCS_SPECIALS));
    let kinds = u8::from(c.lower) + u8::from(c.upper) + u8::from(c.digit) + u8::from(c.special);
    if !(8..=32).contains(&n) || c.other || kinds < 3 {
        return Err("The password does not meet complexity requirements.");
    }
    Ok(())
}

/// The rules of an IAM account's password policy the simulator enforces.
#[derive(Clone, Debug)]
pub struct IamPolicy {
    /// Minimum length.
    pub min_len: usize,
    /// Maximum length.
    pub max_len: usize,
    /// Minimum number of character classes (lower, upper, digit, special).
    pub classes: u8,
    /// Refuse the user name and the user name reversed.
    pub not_username: bool,
    /// Most identical characters in a row (0 = off).
    pub max_identical: usize,
}

impl IamPolicy {
    /// The policy of the simulated accounts unless one says otherwise: 8–32 characters of at
    /// least two classes, not the user name.
    pub const DEFAULT: IamPolicy = IamPolicy {
        min_len: 8,
        max_len: 32,
        classes: 2,
        not_username: true,
        max_identical: 0,
    };

    /// Checks `p` for `user`; the error is the reason.
    pub fn check(&self, p: &str, user: &str) -> Result<(), String> {
        let n = p.chars().count();
        if n < self.min_len || n > self.max_len {
            return Err(format!(
                "The password must be {}-{} characters.",
                self.min_len, self.max_len
            ));
        }
        let c = classes(p, None);
        let kinds = u8::from(c.lower)
            + u8::from(c.upper)
            + u8::from(c.digit)
            + u8::from(c.special || c.other);
        if kinds < self.classes {
            return Err(format!(
                "The password must contain at least {} of: uppercase letters, lowercase \
                 letters, digits and special characters.",
                self.classes
            ));
        }
        if self.not_username {
            let lower = p.to_lowercase();
            let name = user.to_lowercase();
            let reversed: String = name.chars().rev().collect();
            if lower == name || lower == reversed {
                return Err(
                    "The password cannot be the username or the username spelled \
                            backwards."
                        .into(),
                );
            }
        }
        if self.max_identical > 0 {
            let mut run = 0;
            let mut prev = None;
            for ch in p.chars() {
                run = if Some(ch) == prev { run + 1 } else { 1 };
                prev = Some(ch);
                if run > self.max_identical {
                    return Err(format!(
                        "The password cannot contain more than {} identical characters in a row.",
                        self.max_identical
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Tencent CIAM (the simulated tenant's policy): at least 8 characters and 3 of lower, upper,
/// digit and special.
pub fn ciam_policy(p: &str) -> Result<(), &'static str> {
    let c = classes(p, None);
    let kinds =
        u8::from(c.lower) + u8::from(c.upper) + u8::from(c.digit) + u8::from(c.special || c.other);
    if p.chars().count() < 8 || kinds < 3 {
        return Err(
            "The new password does not satisfy the password policy: at least 8 \
                    characters and 3 of lowercase, uppercase, digits and symbols.",
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// State.

/// A Tencent API key and the out-of-band VPN account it manages.
pub struct TcKey {
    /// SecretId.
    pub secret_id: String,
    /// SecretKey.
    pub secret_key: Zeroizing<String>,
    /// The session token a temporary key requires (`X-TC-Token` / `Token`).
    pub token: Option<Zeroizing<String>>,
    /// The VPN account.
    pub vpn: VpnAccount,
}

/// An out-of-band VPN account.
pub struct VpnAccount {
    /// appId (also the VPN user name).
    pub app_id: u64,
    /// The password; `None` while the account does not exist.
    pub password: Option<Zeroizing<String>>,
    /// API 2.0 answers `be_first` as the strings "true"/"false" instead of a JSON bool.
    pub be_first_as_string: bool,
    /// API 2.0 answers `code` as a string, e.g. `"4100"`.
    pub code_as_string: bool,
}

/// A Huawei AK/SK pair.
pub struct AkSk {
    /// Access key.
    pub ak: String,
    /// Secret key.
    pub sk: Zeroizing<String>,
}

/// A DCS instance.
pub struct DcsInstance {
    /// Project.
    pub project_id: String,
    /// Instance id.
    pub instance_id: String,
    /// The Redis password.
    pub password: Zeroizing<String>,
    /// Failed password checks since the last success or lock end.
    pub failures: u32,
    /// Locked until (simulated clock).
    pub locked_until: Option<SystemTime>,
}

/// An IAM account (domain).
pub struct IamDomain {
    /// Domain id.
    pub id: String,
    /// Domain (account) name.
    pub name: String,
    /// Projects: (id, name).
    pub projects: Vec<(String, String)>,
    /// The account password policy.
    pub policy: IamPolicy,
}

/// An IAM user.
pub struct IamUser {
    /// User id.
    pub id: String,
    /// User name.
    pub name: String,
    /// Domain id.
    pub domain_id: String,
    /// Current password.
    pub password: Zeroizing<String>,
    /// The previous passwords, newest first (at most [`HISTORY`]).
    pub history: VecDeque<Zeroizing<String>>,
    /// Consecutive wrong passwords at the token endpoint.
    pub failures: u32,
    /// Locked until (simulated clock) after too many wrong passwords.
    pub locked_until: Option<SystemTime>,
    /// Status set by tests.
    pub status: UserStatus,
    /// Security administrator: may read the password policy.
    pub security_admin: bool,
    /// Password validity (None = never expires).
    pub password_validity: Option<Duration>,
    /// When the password was last set (simulated clock).
    pub password_set_at: SystemTime,
}

/// What an IAM token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// Domain-scoped (IAM APIs).
    Domain(String),
    /// Project-scoped (DCS).
    Project(String),
}

/// An issued IAM token.
pub struct IamToken {
    /// The `X-Subject-Token` value.
    pub value: Zeroizing<String>,
    /// Whose.
    pub user_id: String,
    /// Scope.
    pub scope: TokenScope,
    /// Expiry (simulated clock).
    pub expires: SystemTime,
}

/// A CIAM application.
pub struct CiamClient {
    /// client_id.
    pub id: String,
    /// client_secret (confidential clients only).
    pub secret: Option<Zeroizing<String>>,
    /// The auth source associated with it.
    pub auth_source_id: String,
}

/// A CIAM end user.
pub struct CiamUser {
    /// User name.
    pub username: String,
    /// Current password.
    pub password: Zeroizing<String>,
    /// Previous passwords, newest first.
    pub history: VecDeque<Zeroizing<String>>,
    /// Status set by tests.
    pub status: UserStatus,
}

/// A CIAM access token.
pub struct CiamToken {
    /// The bearer value.
    pub value: Zeroizing<String>,
    /// Whose.
    pub username: String,
    /// Expiry (simulated clock); `None` for a configured static token.
    pub expires: Option<SystemTime>,
}

/// What a demo profile points at.
#[derive(Clone, Debug)]
pub enum Target {
    /// A Tencent key's VPN account (by SecretId).
    Vpn(String),
    /// A DCS instance (by instance id); plus the IAM user whose token it uses, if any.
    Dcs(String, Option<String>),
    /// An IAM user (by id).
    Iam(String),
    /// A CIAM user (by name).
    Ciam(String),
}

/// A demo profile.
#[derive(Clone, Debug)]
pub struct DemoProfile {
    /// Profile name.
    pub name: String,
    /// What it changes.
    pub target: Target,
    /// Extra text for the note.
    pub note: &'static str,
}

/// A request held by [`Fault::Hold`], handled when the test releases it.
pub struct Held {
    /// The request, as read.
    pub req: Request,
    /// Its route.
    pub route: Route,
    /// Where its answer goes (the connection task waits on the other end).
    pub reply: tokio::sync::oneshot::Sender<Response>,
}

/// Everything the simulator knows.
#[derive(Default)]
pub struct World {
    /// Added to the real clock for lock and token expiry.
    pub offset: Duration,
    /// Tencent keys.
    pub tc_keys: Vec<TcKey>,
    /// API 2.0 nonces seen: (SecretId, Nonce) → real Unix time first seen.
    pub nonces: HashMap<(String, String), i64>,
    /// Huawei AK/SK pairs.
    pub aksk: Vec<AkSk>,
    /// DCS instances.
    pub dcs: Vec<DcsInstance>,
    /// IAM accounts.
    pub domains: Vec<IamDomain>,
    /// IAM users.
    pub iam_users: Vec<IamUser>,
    /// IAM tokens.
    pub iam_tokens: Vec<IamToken>,
    /// CIAM applications.
    pub ciam_clients: Vec<CiamClient>,
    /// CIAM users.
    pub ciam_users: Vec<CiamUser>,
    /// CIAM tokens.
    pub ciam_tokens: Vec<CiamToken>,
    /// The demo profiles.
    pub profiles: Vec<DemoProfile>,
    /// Faults waiting for the next request on a route.
    pub faults: HashMap<Route, VecDeque<Fault>>,
    /// Requests read per route.
    pub counts: HashMap<Route, usize>,
    /// IAM users (by id) whose next password change is held (the demo's interruptible change).
    pub hold_next_change: Vec<String>,
    /// Requests held by [`Fault::Hold`], oldest first.
    pub held: Vec<Held>,
    /// Every token issued, in order (what kind, its value), kept for tests
    /// ([`super::Simulator::issued_tokens`]); never pruned.
    pub issued: Vec<(&'static str, Zeroizing<String>)>,
    /// Rate limits per route (requests per second), as providers throttle: Tencent API 3.0
    /// answers `RequestLimitExceeded` beyond 5/s per action, Huawei's gateway 429
    /// `APIGW.0308`. None: unlimited (the demo's default).
    pub rate_limits: HashMap<Route, usize>,
    /// When each request on a rate-limited or change route reached its handler (fleet tests).
    pub request_times: HashMap<Route, Vec<Instant>>,
    /// The requests a rate limit accepted, per route (the sliding window's contents).
    pub accepted: HashMap<Route, VecDeque<Instant>>,
    /// Requests refused by a rate limit, per route.
    pub throttled: HashMap<Route, usize>,
    /// Password changes per account (to a password different from the one it had), keyed
    /// `vpn:SECRET_ID`, `dcs:INSTANCE`, `iam:USER_ID`, `ciam:USERNAME`.
    pub changes: HashMap<String, u32>,
}

impl World {
    /// The simulated clock: real time plus the offset.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        now.checked_add(self.offset).unwrap_or(now)
    }

    /// The Tencent key with this SecretId.
    pub fn tc_key(&self, id: &str) -> Option<usize> {
        self.tc_keys.iter().position(|k| k.secret_id == id)
    }

    /// A valid (unexpired) IAM token by value.
    pub fn iam_token(&self, value: &str) -> Option<&IamToken> {
        let now = self.now();
        self.iam_tokens
            .iter()
            .find(|t| secret_eq(&t.value, value))
            .filter(|t| t.expires > now)
    }

    /// A valid CIAM token by value.
    pub fn ciam_token(&self, value: &str) -> Option<&CiamToken> {
        let now = self.now();
        self.ciam_tokens
            .iter()
            .find(|t| secret_eq(&t.value, value))
            .filter(|t| t.expires.is_none_or(|e| e > now))
    }

    /// Drops expired tokens and old nonces (called now and then).
    pub fn prune(&mut self) {
        let now = self.now();
        self.iam_tokens.retain(|t| t.expires > now);
        self.ciam_tokens
            .retain(|t| t.expires.is_none_or(|e| e > now));
        let real = real_unix();
        self.nonces
            .retain(|_, seen| real.saturating_sub(*seen) <= 2 * TENCENT_SKEW);
    }

    /// The demo profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&DemoProfile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Records a request on `route` and applies its rate limit, if any: true when it is over
    /// the limit (more than `limit` accepted in the last second) and must be refused before
    /// anything is done.
    pub fn throttle(&mut self, route: Route) -> bool {
        let now = Instant::now();
        self.request_times.entry(route).or_default().push(now);
        let Some(&limit) = self.rate_limits.get(&route) else {
            return false;
        };
        let window = self.accepted.entry(route).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= limit {
            *self.throttled.entry(route).or_insert(0) += 1;
            return true;
        }
        window.push_back(now);
        false
    }

    /// Counts a change of `account`'s password when `changed` (the new one differs).
    pub fn count_change(&mut self, account: String, changed: bool) {
        if changed {
            *self.changes.entry(account).or_insert(0) += 1;
        }
    }
}

/// The account key of a target in [`World::changes`].
pub fn account_key(target: &Target) -> String {
    match target {
        Target::Vpn(id) => format!("vpn:{id}"),
        Target::Dcs(id, _) => format!("dcs:{id}"),
        Target::Iam(id) => format!("iam:{id}"),
        Target::Ciam(name) => format!("ciam:{name}"),
    }
}

/// Pushes `old` onto a password history, keeping the newest [`HISTORY`].
pub fn remember(history: &mut VecDeque<Zeroizing<String>>, old: Zeroizing<String>) {
    history.push_front(old);
    history.truncate(HISTORY);
}

/// Whether `candidate` is the current password or one of the remembered ones.
pub fn reused(
    current: &str,
    history: &VecDeque<Zeroizing<String>>,
    candidate: &str,
) -> (bool, bool) {
    (
        secret_eq(current, candidate),
        history.iter().any(|h| secret_eq(h, candidate)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small draws come from the pool, across its refills, and never repeat; large ones bypass it.
    #[test]
    fn random_draws_are_distinct_across_pool_refills() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(4 * POOL_BYTES / 16) {
            let mut b = [0u8; 16];
            fill_random(&mut b);
            assert!(seen.insert(b), "a 16-byte draw repeated");
        }
        let mut big = [0u8; POOL_BYTES];
        fill_random(&mut big);
        assert!(big.iter().any(|&b| b != 0));
    }

    #[test]
    fn policies() {
        assert!(tencent_policy("Vpn#Demo2024").is_ok());
        assert!(tencent_policy("abcdefgh1").is_ok());
        assert!(tencent_policy("abcdefgh").is_err(), "one class");
        assert!(tencent_policy("abc@efgh1").is_err(), "@ is not allowed");
        assert!(tencent_policy("Abc#1234567890123").is_err(), "17 chars");
        assert!(tencent_policy("Ab#1").is_err(), "short");

        assert!(dcs_policy("Redis#Demo2024").is_ok());
        assert!(
            dcs_policy("redis#demo2024").is_ok(),
            "lower, digit, special"
        );
        assert!(dcs_policy("redisdemo2024").is_err(), "two classes");
        assert!(dcs_policy("Redis%Demo2024").is_err(), "% is not in the set");
        assert!(dcs_policy("Re#1").is_err());

        let p = IamPolicy {
            min_len: 8,
            max_len: 32,
            classes: 2,
            not_username: true,
            max_identical: 0,
        };
        assert!(p.check("alicealice1", "alice").is_ok());
        assert!(p.check("abcdefgh", "alice").is_err());
        assert!(p.check("ecila123", "ecila123").is_err());
        assert!(
            p.check("321ALICE", "ecila123").is_err(),
            "reversed, any case"
        );
        let strict = IamPolicy {
            min_len: 12,
            classes: 3,
            max_identical: 2,
            ..p
        };
        assert!(strict.check("Secure#Demo2024", "secadmin").is_ok());
        assert!(strict.check("Secure#Demo1", "secadmin").is_ok());
        assert!(strict.check("Secure#Dem1", "secadmin").is_err(), "11 chars");
        assert!(
            strict.check("Secure#Demo111", "secadmin").is_err(),
            "three 1s"
        );

        assert!(ciam_policy("Portal#Demo2024").is_ok());
        assert!(ciam_policy("portal2024x").is_err(), "two classes");
        assert!(ciam_policy("Ab1#").is_err());
    }

    #[test]
    fn a_rate_limit_refuses_beyond_its_count_in_a_second_and_records_every_request() {
        let mut w = World::default();
        assert!(!w.throttle(Route::DcsPassword), "no limit set");
        w.rate_limits.insert(Route::TencentV3, 5);
        let refused: Vec<bool> = (0..7).map(|_| w.throttle(Route::TencentV3)).collect();
        assert_eq!(refused, [false, false, false, false, false, true, true]);
        assert_eq!(w.throttled.get(&Route::TencentV3), Some(&2));
        assert_eq!(w.request_times[&Route::TencentV3].len(), 7);
        assert_eq!(w.request_times[&Route::DcsPassword].len(), 1);
        w.count_change("vpn:x".into(), true);
        w.count_change("vpn:x".into(), false);
        assert_eq!(
            w.changes.get("vpn:x"),
            Some(&1),
            "only a different password counts"
        );
    }

    #[test]
    fn ids() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(uuid(), u);
        assert_eq!(hex_id().len(), 32);
        assert_eq!(random_string(12, UPPER_DIGITS).len(), 12);
        assert_eq!(
            iso_micros(
                UNIX_EPOCH + Duration::from_micros(1_704_164_645_000_123),
                true
            ),
            "2024-01-02T03:04:05.000123Z"
        );
    }
}
