//! Rate limits of a fleet rotation (SPEC §11): change requests are paced per provider and
//! credential, and a rate-limit answer blocks its bucket for a back-off. The arithmetic
//! ([`Bucket::reserve`]) is pure and takes the time as an argument, so it is tested without
//! sleeping; [`Limiter`] waits on an injectable [`Clock`].

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::config::{DcsAuth, Profile, ProviderConfig, SecretSource, TencentApi};

/// The one Tencent BM API 3.0 action rekey sends.
const TENCENT_V3_ACTION: &str = "SetOutBandVpnAuthPassword";

/// At most `max` change requests start in any `per` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// How many.
    pub max: usize,
    /// In how long.
    pub per: Duration,
}

/// Tencent API 3.0 allows 5 requests per second per action; rekey sends at most 5 per 1.2 s,
/// evenly (one every 240 ms), so requests delayed unevenly on the way (by up to 200 ms) still
/// arrive inside Tencent's limit.
pub const TENCENT_V3: Window = Window {
    max: 5,
    per: Duration::from_millis(1200),
};

/// Every other provider: 1 change per second per credential (SPEC §11).
pub const PER_CREDENTIAL: Window = Window {
    max: 1,
    per: Duration::from_secs(1),
};

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// No pacing at all (benchmarks against the simulator; `REKEY_ROTATE_UNLIMITED=1`).
    pub unlimited: bool,
    /// The window for one credential of the providers without a documented limit.
    pub per_credential: Window,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            unlimited: false,
            per_credential: PER_CREDENTIAL,
        }
    }
}

impl Limits {
    /// The defaults, changed by `REKEY_ROTATE_UNLIMITED=1` (no pacing) and
    /// `REKEY_ROTATE_INTERVAL_MS=N` (the per-credential interval; Tencent's 5/s stays).
    pub fn from_env() -> Limits {
        let mut limits = Limits::default();
        if std::env::var("REKEY_ROTATE_UNLIMITED").is_ok_and(|v| v == "1") {
            limits.unlimited = true;
        }
        if let Some(ms) = std::env::var("REKEY_ROTATE_INTERVAL_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            limits.per_credential.per = Duration::from_millis(ms);
        }
        limits
    }
}

/// Which bucket a profile's change requests count in, and its window.
///
/// Tencent counts API 3.0 requests per action, region and account. rekey cannot tell which
/// SecretIds belong to one account, so it counts per endpoint, region and action: every
/// Tencent API 3.0 profile of a run shares the 5/s (the safe side). The others count per
/// credential: the key id or user that signs or logs in (the source of a key id, hashed, never
/// its value; a `value` key id is hashed too).
pub fn bucket_of(profile: &Profile, limits: &Limits) -> (String, Window) {
    let endpoint = crate::provider::shown_endpoint_of(profile);
    match &profile.provider {
        ProviderConfig::TencentBmVpn(t) if t.api == TencentApi::V3 => (
            format!("tencent-v3 {endpoint} {} {TENCENT_V3_ACTION}", t.region),
            TENCENT_V3,
        ),
        ProviderConfig::TencentBmVpn(t) => (
            format!("tencent-v2 {endpoint} {}", source_id(&t.secret_id)),
            limits.per_credential,
        ),
        ProviderConfig::HuaweiDcs(d) => match &d.auth {
            DcsAuth::Aksk { access_key, .. } => (
                format!("huawei-dcs {endpoint} ak {}", source_id(access_key)),
                limits.per_credential,
            ),
            DcsAuth::Token {
                iam_endpoint,
                domain,
                user,
                ..
            } => (
                format!("huawei-dcs {endpoint} token {iam_endpoint} {domain} {user}"),
                limits.per_credential,
            ),
        },
        ProviderConfig::HuaweiIam(i) => (
            format!("huawei-iam {} {} {}", i.iam_endpoint, i.domain, i.user),
            limits.per_credential,
        ),
        ProviderConfig::TencentCiam(c) => (
            format!("tencent-ciam {endpoint} {} {}", c.client_id, c.username),
            limits.per_credential,
        ),
    }
}

/// A short fingerprint of where a key id comes from (never the secret behind it).
fn source_id(source: &SecretSource) -> String {
    let mut h = Sha256::new();
    match source {
        SecretSource::Env(name) => h.update(format!("env {name}")),
        SecretSource::Command(argv) => h.update(format!("command {argv:?}")),
        SecretSource::Prompt => h.update("prompt"),
        SecretSource::Value(v) => {
            h.update("value ");
            h.update(v.as_bytes());
        }
    }
    crate::provider::sign::hex_lower(&h.finalize()[..8])
}

/// The starts of one bucket.
#[derive(Debug)]
pub struct Bucket {
    window: Window,
    /// The last `max` start times, oldest first (never decreasing).
    starts: VecDeque<Instant>,
    /// A rate-limit answer blocks the bucket until then.
    blocked_until: Option<Instant>,
}

impl Bucket {
    /// An empty bucket.
    pub fn new(window: Window) -> Bucket {
        Bucket {
            window,
            starts: VecDeque::with_capacity(window.max),
            blocked_until: None,
        }
    }

    /// Takes a start at `now` if the window allows one: at most `max` starts in any `per`
    /// window, spread evenly (`per / max` apart: never a burst), none before a back-off ends.
    /// Otherwise says when to ask again. Starts are recorded when they are taken, not when
    /// they were planned, so a waiter that wakes late never goes together with the next one.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        let max = self.window.max.max(1);
        let mut at = now;
        if let Some(until) = self.blocked_until {
            at = at.max(until);
        }
        if let Some(last) = self.starts.back() {
            let gap = self.window.per / u32::try_from(max).unwrap_or(u32::MAX);
            at = at.max(*last + gap);
        }
        if self.starts.len() >= max
            && let Some(oldest) = self.starts.get(self.starts.len() - max)
        {
            at = at.max(*oldest + self.window.per);
        }
        if at > now {
            return Err(at);
        }
        self.starts.push_back(now);
        while self.starts.len() > max {
            self.starts.pop_front();
        }
        Ok(())
    }

    /// A rate-limit answer: nothing starts before `now + wait`.
    pub fn back_off(&mut self, now: Instant, wait: Duration) {
        let until = now + wait;
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }
}

/// A boxed future, for [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the limiter reads the time and waits (tests inject their own).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
    /// A future that ends at `at`.
    fn sleep_until(&self, at: Instant) -> Sleep;
}

/// The real clock (tokio's timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep_until(&self, at: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at)))
    }
}

/// The buckets of one run.
pub struct Limiter {
    limits: Limits,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter with `limits` on `clock`.
    pub fn new(limits: Limits, clock: Arc<dyn Clock>) -> Limiter {
        Limiter {
            limits,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limits it applies.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn with_bucket<T>(&self, key: &str, window: Window, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .entry(key.to_string())
            .or_insert_with(|| Bucket::new(window));
        f(bucket)
    }

    /// Waits until a change request in bucket `key` may leave.
    pub async fn acquire(&self, key: &str, window: Window) {
        loop {
            let now = self.clock.now();
            let taken = self.with_bucket(key, window, |b| {
                if self.limits.unlimited && b.blocked_until.is_none() {
                    // No pacing until the provider answers that it is rate limited; from then
                    // on the bucket is paced like a limited one (else every change waiting for
                    // the back-off to end would go at once and be refused again).
                    Ok(())
                } else {
                    b.try_take(now)
                }
            });
            match taken {
                Ok(()) => return,
                Err(at) => self.clock.sleep_until(at).await,
            }
        }
    }

    /// A rate-limit answer in bucket `key`: the bucket waits `wait` (also when unlimited: the
    /// provider said so).
    pub fn back_off(&self, key: &str, window: Window, wait: Duration) {
        let now = self.clock.now();
        self.with_bucket(key, window, |b| b.back_off(now, wait));
    }

    /// Waits `wait` on the limiter's clock.
    pub async fn sleep(&self, wait: Duration) {
        let at = self.clock.now() + wait;
        self.clock.sleep_until(at).await;
    }
}

/// How long to wait after the `n`th rate-limit answer (1-based) of one profile: 1, 2, 4, 8 s.
pub fn back_off_after(n: u32) -> Duration {
    Duration::from_secs(1 << n.saturating_sub(1).min(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Takes starts as waiters would: each asks, and when refused asks again exactly when told
    /// (`late` added to every wake-up).
    fn starts(b: &mut Bucket, t0: Instant, n: usize, late: Duration) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut now = t0;
        while out.len() < n {
            match b.try_take(now) {
                Ok(()) => out.push(now - t0),
                Err(at) => now = at + late,
            }
        }
        out
    }

    #[test]
    fn five_per_window_spread_evenly() {
        let t0 = Instant::now();
        let mut b = Bucket::new(TENCENT_V3);
        let got = starts(&mut b, t0, 11, Duration::ZERO);
        let expected: Vec<Duration> = (0..11).map(|i| ms(240 * i)).collect();
        assert_eq!(got, expected);
        // Any window of 1.2 s (and so of 1 s) holds at most 5 starts.
        for (i, s) in got.iter().enumerate() {
            let inside = got
                .iter()
                .filter(|t| **t >= *s && **t < *s + ms(1200))
                .count();
            assert!(inside <= 5, "window from start {i}: {inside}");
        }
        // A request that comes after a pause goes at once.
        assert_eq!(b.try_take(t0 + ms(5000)), Ok(()));
    }

    #[test]
    fn a_waiter_that_wakes_late_takes_the_gap_from_when_it_went() {
        let t0 = Instant::now();
        let mut b = Bucket::new(TENCENT_V3);
        let got = starts(&mut b, t0, 3, ms(100));
        assert_eq!(got, vec![ms(0), ms(340), ms(680)]);
    }

    #[test]
    fn one_per_interval_and_no_wait_once_the_interval_passed() {
        let t0 = Instant::now();
        let mut b = Bucket::new(PER_CREDENTIAL);
        assert_eq!(b.try_take(t0), Ok(()));
        assert_eq!(b.try_take(t0 + ms(10)), Err(t0 + ms(1000)));
        assert_eq!(b.try_take(t0 + ms(5000)), Ok(()));
    }

    #[test]
    fn a_back_off_blocks_the_bucket() {
        let t0 = Instant::now();
        let mut b = Bucket::new(TENCENT_V3);
        assert_eq!(b.try_take(t0), Ok(()));
        b.back_off(t0 + ms(100), ms(2000));
        assert_eq!(b.try_take(t0 + ms(200)), Err(t0 + ms(2100)));
        // A shorter later back-off never shortens it.
        b.back_off(t0 + ms(300), ms(10));
        assert_eq!(b.try_take(t0 + ms(400)), Err(t0 + ms(2100)));
        assert_eq!(b.try_take(t0 + ms(2100)), Ok(()));
        assert_eq!(back_off_after(1), Duration::from_secs(1));
        assert_eq!(back_off_after(3), Duration::from_secs(4));
        assert_eq!(back_off_after(9), Duration::from_secs(8));
    }

    #[test]
    fn an_interval_of_zero_never_waits() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Window {
            max: 1,
            per: Duration::ZERO,
        });
        for _ in 0..3 {
            assert_eq!(b.try_take(t0), Ok(()));
        }
    }
}
