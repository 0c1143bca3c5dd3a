//! Provider APIs: one module per kind, signing in `sign/`, the outcome type and its mapping,
//! the HTTP layer that records every exchange for the log.

// A `Report` is the error of many steps here; it is built once per attempt, never in a loop,
// so its size does not matter and boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod endpoint;
pub mod http;
pub mod huawei_dcs;
pub mod huawei_iam;
pub mod huawei_token;
pub mod job;
pub mod outcome;
pub mod redact;
pub mod sign;
pub mod tencent_bm;
pub mod tencent_ciam;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};

pub use endpoint::{endpoint_of, shown_endpoint_of};
pub use http::{LogEntry, LogSink, Session};
pub use job::{Change, Keys, TypedSecrets};
pub use outcome::{FollowUp, Outcome, Report};

use crate::config::{DcsAuth, Operate, Profile, ProviderConfig};

/// How a profile authenticates, in a few words.
pub fn auth_of(profile: &Profile) -> String {
    use crate::config::{AkskVariant, SignatureMethod, TencentApi};
    match &profile.provider {
        ProviderConfig::TencentBmVpn(t) => match (t.api, t.signature_method) {
            (TencentApi::V3, _) => "TC3-HMAC-SHA256 (API 3.0)".into(),
            (TencentApi::V2, SignatureMethod::HmacSha256) => "HmacSHA256 (API 2.0)".into(),
            (TencentApi::V2, SignatureMethod::HmacSha1) => "HmacSHA1 (API 2.0)".into(),
        },
        ProviderConfig::HuaweiDcs(d) => match &d.auth {
            DcsAuth::Aksk {
                variant: AkskVariant::Huawei,
                ..
            } => "AK/SK".into(),
            DcsAuth::Aksk {
                variant: AkskVariant::Otc,
                ..
            } => "AK/SK (OTC Credential= form)".into(),
            DcsAuth::Token { user, .. } => format!("IAM token of user {user}"),
        },
        ProviderConfig::HuaweiIam(i) => format!("token from the current password of {}", i.user),
        ProviderConfig::TencentCiam(c) if c.access_token.is_some() => "stored access token".into(),
        ProviderConfig::TencentCiam(c) => format!("password grant for {}", c.username),
    }
}

/// Builds the HTTP client for a profile: TLS verified (plus the profile's `ca_file` roots), no
/// redirects (a redirect could carry a password elsewhere), no automatic retries, and no
/// connection kept for a next request.
///
/// Every request opens its own connection. A kept-alive connection the server closes just
/// after answering the token or info request would otherwise take the password change: it is
/// written into the closing connection, no answer comes, and the outcome is `unknown` although
/// the provider received nothing. On a new connection the change either reaches the server or
/// fails to connect (`network_error`, nothing was sent). A change is a handful of requests, so
/// the extra handshakes cost nothing a user notices.
pub fn client_for(profile: &Profile) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(profile.timeout_secs.min(10)))
        .user_agent(concat!("rekey/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &profile.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| SetupError(format!("cannot read ca_file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| SetupError(format!("ca_file {} is not PEM: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(SetupError(format!(
                "ca_file {} holds no certificate; point it at a PEM file with the CA certificate(s)",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    // Plain http:// is allowed only to loopback, and must stay there: never via a proxy
    // (which would see the password in clear).
    let token_endpoint_is_loopback = matches!(
        &profile.provider,
        ProviderConfig::HuaweiDcs(d)
            if matches!(&d.auth, DcsAuth::Token { iam_endpoint, .. } if crate::config::is_loopback(iam_endpoint))
    );
    if endpoint_of(profile).is_some_and(|url| crate::config::is_loopback(&url))
        || token_endpoint_is_loopback
    {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| SetupError(format!("cannot set up HTTPS: {e}")))
}

/// Resolves every secret the profile needs besides the passwords: prompted ones from `typed`,
/// the others from env/command/value. Blocking: a command may run.
pub fn resolve_keys(profile: &Profile, typed: &TypedSecrets) -> Result<Keys, Report> {
    let mut keys = Keys::default();
    match &profile.provider {
        ProviderConfig::TencentBmVpn(t) => {
            keys.resolve("secret_id", Some(&t.secret_id), typed)?;
            keys.resolve("secret_key", Some(&t.secret_key), typed)?;
            keys.resolve("session_token", t.session_token.as_ref(), typed)?;
        }
        ProviderConfig::HuaweiDcs(d) => match &d.auth {
            DcsAuth::Aksk {
                access_key,
                secret_key,
                ..
            } => {
                keys.resolve("auth.access_key", Some(access_key), typed)?;
                keys.resolve("auth.secret_key", Some(secret_key), typed)?;
            }
            DcsAuth::Token { password, .. } => {
                keys.resolve("auth.password", Some(password), typed)?;
            }
        },
        ProviderConfig::HuaweiIam(_) => {}
        ProviderConfig::TencentCiam(c) => {
            keys.resolve("client_secret", c.client_secret.as_ref(), typed)?;
            keys.resolve("access_token", c.access_token.as_ref(), typed)?;
        }
    }
    Ok(keys)
}

/// Options of one attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Create/update for this attempt (the console's "send with Create").
    pub operate: Option<Operate>,
    /// Skip client-side policy checks.
    pub force: bool,
    /// Do not change anything: check whether the new password already works (after
    /// `unknown`; IAM and CIAM only, which allow it without spending a retry).
    pub check: bool,
}

/// A problem of the profile's setup (a secret source that cannot be read, an unusable
/// `ca_file`): nothing was sent, so it is not an attempt and has no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Runs one change from start to end: resolves the keys, talks to the provider, and reports.
/// Never retries. The typed secrets are zeroized when this returns.
pub async fn run(
    client: reqwest::Client,
    profile: Arc<Profile>,
    typed: TypedSecrets,
    options: Options,
    log: LogSink,
    change_sent: Arc<AtomicBool>,
) -> Result<Report, SetupError> {
    let start = Instant::now();
    let (typed, keys) = {
        let profile = profile.clone();
        match tokio::task::spawn_blocking(move || {
            let keys = resolve_keys(&profile, &typed);
            (typed, keys)
        })
        .await
        {
            Ok((typed, Ok(keys))) => (typed, keys),
            Ok((_, Err(report))) => return Err(SetupError(report.message)),
            Err(_) => {
                return Err(SetupError(
                    "reading the profile's secrets failed; nothing was sent".into(),
                ));
            }
        }
    };
    let session = Session::new(
        client,
        &profile.name,
        Duration::from_secs(profile.timeout_secs),
        log,
        change_sent,
    );
    let change = Change {
        profile: &profile,
        current: typed.current.as_ref().map(|b| b.expose()),
        new: typed.new.expose(),
        keys: &keys,
        operate: options.operate,
        force: options.force,
        now: SystemTime::now,
    };
    let mut report = if options.check {
        verify(&session, &change).await
    } else {
        dispatch(&session, &change).await
    };
    report.duration = start.elapsed();
    report.cap_outside_text();
    Ok(report)
}

async fn dispatch(s: &Session, c: &Change<'_>) -> Report {
    match &c.profile.provider {
        ProviderConfig::TencentBmVpn(cfg) => tencent_bm::change(s, c, cfg).await,
        ProviderConfig::HuaweiDcs(cfg) => huawei_dcs::change(s, c, cfg).await,
        ProviderConfig::HuaweiIam(cfg) => huawei_iam::change(s, c, cfg).await,
        ProviderConfig::TencentCiam(cfg) => tencent_ciam::change(s, c, cfg).await,
    }
}

async fn verify(s: &Session, c: &Change<'_>) -> Report {
    match &c.profile.provider {
        ProviderConfig::HuaweiIam(cfg) => huawei_iam::verify(s, cfg, c.new).await,
        ProviderConfig::TencentCiam(cfg) => tencent_ciam::verify(s, c, cfg).await,
        _ => Report::new(
            Outcome::BadRequest,
            "this provider offers no check that spends no attempt",
        ),
    }
}
