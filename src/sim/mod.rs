//! The built-in provider simulator (SPEC §8): one local HTTP/1.1 server (hyper, see [`http`];
//! plain, or TLS with a throwaway CA, see [`Simulator::start_tls`]) that plays Tencent BM
//! (API 3.0 and 2.0), Huawei DCS, Huawei IAM and Tencent CIAM, with real signature and token
//! checks, server-side password policies, DCS and IAM lockout, password history, an offset
//! clock, and injectable faults.
//!
//! ```text
//! POST /                                   Tencent BM API 3.0 (X-TC-Action SetOutBandVpnAuthPassword)
//! POST /v2/index.php                       Tencent BM API 2.0 (GetOutBandVPNAuthInfo, SetOutBandVPNAuthPwd)
//! PUT  /v2/{project}/instances/{id}/password               Huawei DCS
//! POST /v3/auth/tokens                     Huawei IAM token (password identity)
//! GET  /v3.0/OS-SECURITYPOLICY/domains/{domain}/password-policy
//! POST /v3/users/{user}/password           Huawei IAM change password
//! POST /oauth2/token                       Tencent CIAM password grant
//! POST /change_user_password               Tencent CIAM change password
//! ```
//!
//! Faults ([`Fault`]) replace the normal handling of the next request on a route, except
//! `Hold` and `Delay`, which only postpone it, and `Drop`, which handles the request (a change
//! is applied) and then closes the connection without answering: the classic "applied, but
//! the answer was lost" case a client must report as `unknown`.
//!
//! Behaviour the provider documents leave open, as chosen here:
//!
//! - Tencent API 3.0: `Update` of an account that does not exist is `ResourceNotFound`
//!   ("… does not exist …"); `Create` of an existing one is `FailedOperation` ("… already
//!   exists …"). Check order: action, version, region, Authorization, timestamp, SecretId,
//!   freshness (±5 min), signature, `X-TC-Token` (a temporary key requires it, a permanent key
//!   refuses one), body, account, policy.
//! - Tencent API 2.0: `create` of an existing account is 10004, `update` of a missing one
//!   10105, a weak password 4000. A nonce is remembered only once the signature is valid.
//! - Huawei DCS: a correct old password resets the failure count; the 5th wrong one answers
//!   `locked` itself. A new password equal to the old one is accepted.
//! - Huawei IAM: the 5th consecutive wrong password at the token endpoint answers `IAM.0061`
//!   and locks the user for 5 minutes (a wrong `original_password` at the change endpoint is
//!   1103 and does not count). A test-set `Locked`/`Frozen` status answers `IAM.0061` too.
//!   The account policy of the user's domain is enforced on change (demo-account: 8–32, 2
//!   classes; demo-secure: 12–32, 3 classes, ≤2 identical in a row); history is the current
//!   password plus the last 3.
//! - Tencent CIAM: a public application that sends a `client_secret` is `invalid_client`, as
//!   the documents say it must not send one. There is no lockout on wrong passwords; the user
//!   status is set by tests. Access tokens are not revoked by a change.
//!
//! The simulator never prints or logs a password, except the demo credentials that
//! [`serve_forever`] prints and [`Simulator::credentials`] / [`Simulator::profiles_toml`]
//! return on request.

mod ciam;
mod demo;
pub mod http;
mod huawei;
mod tencent;
mod tls;
mod world;

#[cfg(test)]
mod interop;
#[cfg(test)]
mod tests;

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroizing;

use http::{ReadError, Request, Response};
pub use tls::{LOOPBACK_NAMES, Tls};
use world::World;

/// The simulated APIs, for fault injection and request counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// Tencent BM API 3.0 `SetOutBandVpnAuthPassword` (`POST /`).
    TencentV3,
    /// Tencent BM API 2.0 `GetOutBandVPNAuthInfo`.
    TencentV2Info,
    /// Tencent BM API 2.0 `SetOutBandVPNAuthPwd`.
    TencentV2Set,
    /// Huawei DCS `PUT /v2/{project}/instances/{id}/password`.
    DcsPassword,
    /// Huawei IAM `POST /v3/auth/tokens`.
    IamToken,
    /// Huawei IAM `GET /v3.0/OS-SECURITYPOLICY/domains/{domain}/password-policy`.
    IamPolicy,
    /// Huawei IAM `POST /v3/users/{user}/password`.
    IamPassword,
    /// Tencent CIAM `POST /oauth2/token`.
    CiamToken,
    /// Tencent CIAM `POST /change_user_password`.
    CiamPassword,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 9] = [
        Route::TencentV3,
        Route::TencentV2Info,
        Route::TencentV2Set,
        Route::DcsPassword,
        Route::IamToken,
        Route::IamPolicy,
        Route::IamPassword,
        Route::CiamToken,
        Route::CiamPassword,
    ];

    /// Which provider family answers on this route (decides the shape of fault bodies).
    fn family(self) -> Family {
        match self {
            Route::TencentV3 => Family::TencentV3,
            Route::TencentV2Info | Route::TencentV2Set => Family::TencentV2,
            Route::DcsPassword => Family::Dcs,
            Route::IamToken | Route::IamPolicy | Route::IamPassword => Family::Iam,
            Route::CiamToken | Route::CiamPassword => Family::Ciam,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    TencentV3,
    TencentV2,
    Dcs,
    Iam,
    Ciam,
}

/// A one-shot fault for the next request on a route (see [`Simulator::inject`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Handle the request only when [`Simulator::release_held`] is called (or never):
    /// nothing is applied until then, and the change is applied by that call.
    Hold,
    /// Handle the request normally after this long.
    Delay(Duration),
    /// Read the whole request, handle it (a change IS applied), then close the socket without
    /// answering.
    Drop,
    /// Answer with this status and a provider-shaped error body instead of handling the
    /// request (nothing is applied).
    Status(u16),
    /// Answer 200 with truncated JSON instead of handling the request (nothing is applied).
    Malformed,
    /// Answer 502 with an HTML page instead of handling the request (nothing is applied).
    Html,
    /// Answer this status with an empty body, as a gateway does on a timeout (504), instead of
    /// handling the request (nothing is applied).
    Empty(u16),
    /// Answer this status with a provider-shaped error body whose message and code hold
    /// terminal escape sequences ([`HOSTILE_TEXT`]), and a request id header holding C1 and
    /// bidi characters ([`HOSTILE_REQUEST_ID`]), instead of handling the request (nothing is
    /// applied): a hostile or compromised endpoint.
    Hostile(u16),
    /// Answer this 3xx status with a `Location` elsewhere, instead of handling the request
    /// (nothing is applied here; a proxy might have passed it on).
    Redirect(u16),
    /// Answer this status with a body just over 1 MiB, instead of handling the request
    /// (nothing is applied).
    Oversized(u16),
}

/// The message of a [`Fault::Hostile`] answer: OSC 52 (set the clipboard), OSC 0 (set the
/// title), CSI 2J (clear the screen), a C1 CSI, a bidi override and isolate, a zero-width
/// space, a line separator, an Arabic letter mark and a tag character.
pub const HOSTILE_TEXT: &str = "pwned\u{1b}]52;c;SGFja2VkIGNsaXBib2FyZA==\u{7}\u{1b}]0;owned title\u{7}\
                                \u{1b}[2J\u{9b}31mred\u{85}\u{202e}evil\u{2066}\u{200b}\u{2028}\u{2029}\
                                \u{61c}\u{e0041}\u{7f}end";

/// The request id header of a [`Fault::Hostile`] answer (HTTP header values can carry C1 and
/// other non-ASCII bytes, but no C0 control).
pub const HOSTILE_REQUEST_ID: &str = "req-\u{9b}2J-\u{202e}-\u{85}-\u{2028}-\u{e0041}";

/// The status of a demo IAM or CIAM user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserStatus {
    /// Normal.
    #[default]
    Active,
    /// Locked by an administrator (IAM: `IAM.0061`; CIAM: "User is locked.").
    Locked,
    /// Frozen (IAM: `IAM.0061` "frozen"; CIAM: "User is frozen.").
    Frozen,
}

/// One demo profile's account, as [`Simulator::credentials`] reports it now.
#[derive(Clone)]
pub struct DemoAccount {
    /// Profile name in [`Simulator::profiles_toml`].
    pub profile: String,
    /// Profile kind, e.g. `huawei-dcs`.
    pub kind: &'static str,
    /// Whose password it is (VPN user, instance, IAM or CIAM user).
    pub account: String,
    /// The current password; `None` when the account does not exist yet.
    pub password: Option<Zeroizing<String>>,
    /// What the profile demonstrates.
    pub note: String,
}

impl std::fmt::Debug for DemoAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoAccount")
            .field("profile", &self.profile)
            .field("kind", &self.kind)
            .field("account", &self.account)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("note", &self.note)
            .finish()
    }
}

/// What happens to a request once it is read and counted.
enum Admission {
    /// Handle it now, after its fault (if any).
    Now(Request, Option<Fault>),
    /// Held: [`Simulator::release_held`] handles it and sends the answer here.
    Held(oneshot::Receiver<Response>),
}

/// State shared by the server tasks and the handle.
struct Shared {
    world: Mutex<World>,
    /// Bumped whenever a request is read (for [`Simulator::wait_requests`]).
    activity: watch::Sender<u64>,
    /// Print one line per request on stderr (never a secret).
    access_log: AtomicBool,
    /// The key exchange group of every TLS handshake, in order (`X25519MLKEM768`, ...).
    tls_groups: Mutex<Vec<String>>,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while the lock was held cannot leave the state half-written in a way that
        // matters to a simulator; keep serving.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request on `route` and takes its next fault; a held request is parked in the
    /// world (under the same lock) for [`Simulator::release_held`].
    fn admit(&self, route: Option<Route>, req: Request) -> Admission {
        let Some(route) = route else {
            return Admission::Now(req, None);
        };
        let mut w = self.world();
        *w.counts.entry(route).or_insert(0) += 1;
        let mut fault = w.faults.get_mut(&route).and_then(|q| q.pop_front());
        if route == Route::IamPassword
            && let Some(i) = w
                .hold_next_change
                .iter()
                .position(|id| req.path.contains(&format!("/users/{id}/")))
        {
            w.hold_next_change.remove(i);
            fault = fault.or(Some(Fault::Hold));
        }
        let admission = if fault == Some(Fault::Hold) {
            let (reply, rx) = oneshot::channel();
            w.held.push(world::Held { req, route, reply });
            Admission::Held(rx)
        } else {
            Admission::Now(req, fault)
        };
        drop(w);
        self.activity.send_modify(|n| *n += 1);
        admission
    }

    fn handle(&self, req: &Request, route: Option<Route>) -> Response {
        let mut w = self.world();
        w.prune();
        dispatch(&mut w, req, route)
    }
}

/// The certificates of a TLS simulator, made by the first one who needs them (see [`made`]).
struct TlsCell {
    /// What to make, until someone starts making it.
    pending: Mutex<Option<Tls>>,
    /// `None` until made, then the certificates or why they could not be made.
    made: watch::Sender<Option<Result<tls::Ready, String>>>,
}

type TlsState = Arc<TlsCell>;

/// A running simulator. Dropping it (or [`Simulator::shutdown`]) stops the server and every
/// open connection.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    /// With TLS: the certificates, and where the CA certificate is written.
    tls: Option<(TlsState, PathBuf)>,
    /// The private folder holding the CA certificate when no path was given (removed with the
    /// simulator).
    ca_dir: Option<crate::fsutil::TempDir>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Simulator({})", self.addr)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Simulator {
    /// Binds `addr` (tests pass `127.0.0.1:0`) and starts serving plain HTTP with fresh demo
    /// state.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Simulator> {
        Self::start_plain(addr, demo::world()).await
    }

    /// Binds `addr` and serves `world` over plain HTTP.
    async fn start_plain(addr: SocketAddr, world: World) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Self::shared(world);
        let server = tokio::spawn(accept_loop(listener, shared.clone(), None));
        Ok(Simulator {
            shared,
            addr,
            server,
            tls: None,
            ca_dir: None,
        })
    }

    /// Binds `addr` and starts serving HTTPS with fresh demo state. Returns at once: a
    /// throwaway CA and a server certificate for `tls.names` are made on a blocking thread when
    /// first needed (by the first connection, [`Simulator::ca_pem`] or
    /// [`Simulator::when_ready`]), so never on a console's first-frame path.
    /// The CA certificate is written to `tls.ca_file`, or else to `ca.pem` in a private temp
    /// folder removed with the simulator; [`Simulator::ca_file`] says where,
    /// [`Simulator::ca_pem`] waits for it and returns it.
    pub async fn start_tls(addr: SocketAddr, tls: Tls) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (ca_dir, ca_file) = match &tls.ca_file {
            Some(path) => (None, std::path::absolute(path)?),
            None => {
                let dir = crate::fsutil::TempDir::new("rekey-sim-ca-")?;
                let path = dir.path.join("ca.pem");
                (Some(dir), path)
            }
        };
        let tls = Tls {
            names: tls.names,
            ca_file: Some(ca_file.clone()),
        };
        // Made when first needed: by the first connection, `ca_pem` or `when_ready`.
        let state = Arc::new(TlsCell {
            pending: Mutex::new(Some(tls)),
            made: watch::Sender::new(None),
        });
        let shared = Self::shared(demo::world());
        let server = tokio::spawn(accept_loop(listener, shared.clone(), Some(state.clone())));
        Ok(Simulator {
            shared,
            addr,
            server,
            tls: Some((state, ca_file)),
            ca_dir,
        })
    }

    /// The state its connections share, around `world`.
    fn shared(world: World) -> Arc<Shared> {
        Arc::new(Shared {
            world: Mutex::new(world),
            activity: watch::Sender::new(0),
            access_log: AtomicBool::new(false),
            tls_groups: Mutex::new(Vec::new()),
        })
    }

    /// Where the CA certificate of a TLS simulator is (or will be, once made) written.
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|(_, path)| path.as_path())
    }

    /// Waits until a TLS simulator's certificates are made and returns the CA certificate
    /// (PEM); an error when they could not be made, or for a plain simulator.
    pub async fn ca_pem(&self) -> std::io::Result<String> {
        let Some((state, _)) = &self.tls else {
            return Err(std::io::Error::other("the simulator serves plain HTTP"));
        };
        made(state.clone())
            .await
            .map(|ready| ready.ca_pem)
            .map_err(std::io::Error::other)
    }

    /// A future that ends when the simulator can answer: at once for plain HTTP, once the
    /// certificates are made (and the CA file written) for TLS, with why not if they could not
    /// be. It does not borrow the simulator (a console waits on it before its first request).
    pub fn when_ready(
        &self,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let state = self.tls.as_ref().map(|(state, _)| state.clone());
        async move {
            match state {
                None => Ok(()),
                Some(state) => made(state).await.map(|_| ()),
            }
        }
    }

    /// Stops the server (same as dropping the handle).
    pub fn shutdown(self) {}

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://` with TLS (brackets for IPv6).
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{ip}:{}", self.addr.port())
    }

    /// [`Simulator::base_url`] as a URL.
    fn base(&self) -> url::Url {
        url::Url::parse(&self.base_url()).expect("a socket address makes a valid URL")
    }

    /// Every demo profile pointing at this server, secrets inline (`{ value = … }`). The
    /// `{ value }` password of `redis-token` is the IAM user's password as it is now. With
    /// TLS, every profile names the CA certificate as its `ca_file`.
    pub fn profiles(&self) -> Vec<crate::config::Profile> {
        demo::profiles(&self.shared.world(), &self.base(), self.ca_file())
    }

    /// [`Simulator::profiles`] as a `profiles.toml` (inline values are allowed without a
    /// warning because the endpoints are loopback).
    pub fn profiles_toml(&self) -> String {
        demo::profiles_toml(&self.shared.world(), &self.base(), self.ca_file())
    }

    /// Every demo profile's account and its password as it is NOW.
    pub fn credentials(&self) -> Vec<DemoAccount> {
        demo::credentials(&self.shared.world())
    }

    /// Moves the simulated clock (lock and token expiry) forward, by at most 100 years in
    /// all. Signature freshness keeps using the real clock.
    pub fn advance_clock(&self, by: Duration) {
        let mut w = self.shared.world();
        w.offset = w.offset.saturating_add(by).min(world::MAX_OFFSET);
    }

    /// Queues `fault` for the next request on `route` (one shot; several calls queue several).
    pub fn inject(&self, route: Route, fault: Fault) {
        self.shared
            .world()
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    /// Holds the next password change of the IAM user behind demo profile `profile` (one
    /// shot, like [`Fault::Hold`]: applied only by [`Simulator::release_held`]). The demo uses
    /// it so a new user can interrupt a change and settle it. Other profiles are ignored.
    pub fn hold_next_change_of(&self, profile: &str) {
        let mut w = self.shared.world();
        if let Some(world::Target::Iam(id)) = w.profile(profile).map(|p| p.target.clone()) {
            w.hold_next_change.push(id);
        }
    }

    /// Every token the simulator issued so far, oldest first: the kind (`X-Subject-Token` for
    /// IAM, `access_token`, `id_token`, `refresh_token` for the CIAM password grant) and the
    /// value. Tests use it to look for copies of tokens in a client's memory.
    pub fn issued_tokens(&self) -> Vec<(&'static str, Zeroizing<String>)> {
        self.shared.world().issued.clone()
    }

    /// The key exchange group each TLS handshake so far agreed on, oldest first
    /// (`X25519MLKEM768` when the client offers the post-quantum hybrid first).
    pub fn tls_key_exchanges(&self) -> Vec<String> {
        self.shared
            .tls_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many requests on `route` the server has read (a faulted one counts too).
    pub fn requests(&self, route: Route) -> usize {
        self.shared.world().counts.get(&route).copied().unwrap_or(0)
    }

    /// Waits until at least `n` requests on `route` have been read (no polling, no sleeps).
    pub async fn wait_requests(&self, route: Route, n: usize) {
        let mut rx = self.shared.activity.subscribe();
        while self.requests(route) < n {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Handles every request currently held by [`Fault::Hold`], oldest first, and lets their
    /// answers go. The changes are applied before this returns (even if the client has given
    /// up waiting); a later `Hold` waits for the next call.
    pub fn release_held(&self) {
        let mut w = self.shared.world();
        let held = std::mem::take(&mut w.held);
        w.prune();
        for h in held {
            let response = dispatch(&mut w, &h.req, Some(h.route));
            let _ = h.reply.send(response);
        }
    }

    /// Sets the status of the IAM or CIAM user behind a demo profile (`iam-alice`,
    /// `iam-admin`, `redis-token` (its IAM user `ops`), `portal`, `portal-web`,
    /// `portal-token`). `Active` also clears a lockout. Other names are ignored.
    pub fn set_user_status(&self, profile: &str, status: UserStatus) {
        let mut w = self.shared.world();
        let Some(target) = w.profile(profile).map(|p| p.target.clone()) else {
            return;
        };
        match target {
            world::Target::Iam(id) | world::Target::Dcs(_, Some(id)) => {
                if let Some(u) = w.iam_users.iter_mut().find(|u| u.id == id) {
                    u.status = status;
                    if status == UserStatus::Active {
                        u.failures = 0;
                        u.locked_until = None;
                    }
                }
            }
            world::Target::Ciam(name) => {
                if let Some(u) = w.ciam_users.iter_mut().find(|u| u.username == name) {
                    u.status = status;
                }
            }
            world::Target::Vpn(_) | world::Target::Dcs(_, None) => {}
        }
    }

    /// Prints one line per request on stderr: method, path, status, route and fault (never a
    /// header value or body). Off by default; [`serve_forever`] turns it on.
    pub fn set_access_log(&self, on: bool) {
        self.shared.access_log.store(on, Ordering::Relaxed);
    }
}

/// Runs the simulator until Ctrl-C. Stdout gets exactly a ready profiles.toml, so
/// `rekey sim > profiles.toml` saves a valid file; the banner (base URL), the demo credentials
/// and then one line per request go to stderr. With `tls`, it serves HTTPS and the profiles
/// name the CA certificate as `ca_file` (see [`Simulator::start_tls`]); the certificates are
/// made before anything is printed.
pub async fn serve_forever(addr: SocketAddr, tls: Option<Tls>) -> std::io::Result<()> {
    use std::io::Write;
    let sim = match tls {
        Some(tls) => Simulator::start_tls(addr, tls).await?,
        None => Simulator::start(addr).await?,
    };
    if sim.ca_file().is_some() {
        sim.ca_pem().await?;
    }
    let base = sim.base_url();
    {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(sim.profiles_toml().as_bytes())?;
        stdout.flush()?;
    }
    let mut banner = format!("rekey provider simulator listening on {base}\n");
    if let Some(ca) = sim.ca_file() {
        banner.push_str(&format!(
            "Its throwaway CA certificate is in {} (every profile names it as ca_file; it is \
             new each start{}).\n",
            crate::text::escape(&ca.display().to_string()),
            if sim.ca_dir.is_some() {
                " and removed when the simulator stops"
            } else {
                ""
            }
        ));
    }
    if std::io::stdout().is_terminal() {
        banner.push_str(
            "The profiles.toml above is on stdout: `rekey sim > profiles.toml` saves it, then \
             run `rekey --config profiles.toml`.\n\n",
        );
    } else {
        banner.push_str(
            "profiles.toml written to stdout; run `rekey --config FILE` on the saved file.\n\n",
        );
    }
    banner.push_str(&demo::credentials_text(&sim.credentials()));
    banner.push_str(
        "\nPasswords change as you change them (the simulator keeps state until it stops).\n\
         Press Ctrl-C to stop.\n",
    );
    // Stderr only informs: a closed stderr does not stop the simulator.
    let _ = std::io::stderr().lock().write_all(banner.as_bytes());
    sim.set_access_log(true);
    tokio::signal::ctrl_c().await?;
    sim.shutdown();
    Ok(())
}

/// Waits until the certificates are made (or could not be); the first caller starts making
/// them on a blocking thread.
async fn made(state: TlsState) -> Result<tls::Ready, String> {
    let pending = state
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut made = state.made.subscribe();
    if let Some(tls) = pending {
        let cell = state.clone();
        tokio::task::spawn_blocking(move || cell.made.send_replace(Some(tls::make(&tls))));
    }
    match made.wait_for(Option::is_some).await {
        Ok(made) => made.clone().unwrap_or_else(|| Err("no certificate".into())),
        Err(_) => Err("the simulator stopped before its certificates were made".into()),
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsState>) {
    // Connection tasks live in this set: when the server task is aborted, the set is dropped
    // and every connection (including held ones) is aborted with it.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(shared.clone(), stream, tls.clone()));
                }
                Err(_) => {
                    // Out of file descriptors or similar: back off briefly and keep serving.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One connection: with TLS, waits for the certificates and shakes hands (within the read
/// timeout), then serves one request.
async fn serve_connection(shared: Arc<Shared>, mut stream: TcpStream, tls: Option<TlsState>) {
    let _ = stream.set_nodelay(true);
    let shared_of_tls = shared.clone();
    let handle = move |read| answer(shared.clone(), read);
    let Some(state) = tls else {
        return http::serve(&mut stream, handle).await;
    };
    // Certificates that could not be made: nobody can be answered (the error was reported
    // by `ca_pem`/`when_ready`).
    let Ok(ready) = made(state).await else {
        return;
    };
    let handshake = tokio::time::timeout(http::READ_TIMEOUT, ready.acceptor.accept(stream));
    if let Ok(Ok(mut stream)) = handshake.await {
        if let Some(group) = stream.get_ref().1.negotiated_key_exchange_group() {
            let name = format!("{:?}", group.name());
            shared_of_tls
                .tls_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(name);
        }
        http::serve(&mut stream, handle).await;
    }
}

/// The answer to one request (`None`: close without one), after its fault if any.
async fn answer(shared: Arc<Shared>, read: Result<Request, ReadError>) -> Option<Response> {
    let req = match read {
        Ok(req) => req,
        Err(ReadError::Closed) => return None,
        Err(ReadError::Http(status, why)) => {
            log_line(&shared, "-", "-", status, None, None);
            return Some(Response::protocol_error(status, why));
        }
    };
    let route = route_of(&req);
    // Method and path for the access log (never secret), kept apart from the request.
    let (method, path) = (req.method.clone(), req.path.clone());
    let (req, fault) = match shared.admit(route, req) {
        Admission::Now(req, fault) => (req, fault),
        Admission::Held(rx) => {
            // Dropped unanswered if the simulator stops first.
            let response = rx.await.ok()?;
            log_line(
                &shared,
                &method,
                &path,
                response.status,
                route,
                Some(Fault::Hold),
            );
            return Some(response);
        }
    };
    let response = match fault {
        None | Some(Fault::Hold) => Some(shared.handle(&req, route)),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            Some(shared.handle(&req, route))
        }
        Some(Fault::Drop) => {
            let _ = shared.handle(&req, route);
            None
        }
        Some(Fault::Status(status)) => route.map(|r| fault_status(r, status)),
        Some(Fault::Malformed) => route.map(malformed),
        Some(Fault::Html) => Some(html_502()),
        Some(Fault::Empty(status)) => Some(Response::empty(status)),
        Some(Fault::Hostile(status)) => route.map(|r| hostile(r, status)),
        Some(Fault::Redirect(status)) => Some(
            Response::raw(status, "text/html", "<html>moved</html>")
                .with_header("Location", "https://elsewhere.invalid/"),
        ),
        Some(Fault::Oversized(status)) => Some(Response::raw(
            status,
            "application/json",
            vec![b' '; 1024 * 1024 + 1],
        )),
    };
    let status = response.as_ref().map_or(0, |r| r.status);
    log_line(&shared, &method, &path, status, route, fault);
    response
}

fn log_line(
    shared: &Shared,
    method: &str,
    path: &str,
    status: u16,
    route: Option<Route>,
    fault: Option<Fault>,
) {
    if !shared.access_log.load(Ordering::Relaxed) {
        return;
    }
    let now = time::OffsetDateTime::now_utc();
    let status = if status == 0 {
        "dropped".to_owned()
    } else {
        status.to_string()
    };
    let route = route.map(|r| format!(" {r:?}")).unwrap_or_default();
    let fault = fault.map(|f| format!(" fault={f:?}")).unwrap_or_default();
    // Paths hold ids (project, instance, user), never secrets; the query is left out.
    let path: String = path.chars().take(200).collect();
    eprintln!(
        "{:02}:{:02}:{:02} {method} {path} -> {status}{route}{fault}",
        now.hour(),
        now.minute(),
        now.second()
    );
}

/// The segments of a raw path, without the leading empty one.
fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

/// Which simulated API a request is for (decided after the whole request is read).
fn route_of(req: &Request) -> Option<Route> {
    let seg = segments(&req.path);
    match (req.method.as_str(), seg.as_slice()) {
        ("POST", [""]) => Some(Route::TencentV3),
        ("POST" | "GET", ["v2", "index.php"]) => match tencent::v2_action(req).as_deref() {
            Some("GetOutBandVPNAuthInfo") => Some(Route::TencentV2Info),
            Some("SetOutBandVPNAuthPwd") => Some(Route::TencentV2Set),
            _ => None,
        },
        ("PUT", ["v2", _, "instances", _, "password"]) => Some(Route::DcsPassword),
        ("POST", ["v3", "auth", "tokens"]) => Some(Route::IamToken),
        ("GET", ["v3.0", "OS-SECURITYPOLICY", "domains", _, "password-policy"]) => {
            Some(Route::IamPolicy)
        }
        ("POST", ["v3", "users", _, "password"]) => Some(Route::IamPassword),
        ("POST", ["oauth2", "token"]) => Some(Route::CiamToken),
        ("POST", ["change_user_password"]) => Some(Route::CiamPassword),
        _ => None,
    }
}

fn dispatch(w: &mut World, req: &Request, route: Option<Route>) -> Response {
    match route {
        Some(Route::TencentV3) => tencent::v3(w, req),
        Some(Route::TencentV2Info | Route::TencentV2Set) => tencent::v2(w, req),
        Some(Route::DcsPassword) => huawei::dcs_password(w, req),
        Some(Route::IamToken) => huawei::iam_token(w, req),
        Some(Route::IamPolicy) => huawei::iam_policy(w, req),
        Some(Route::IamPassword) => huawei::iam_password(w, req),
        Some(Route::CiamToken) => ciam::token(w, req),
        Some(Route::CiamPassword) => ciam::change_password(w, req),
        None if segments(&req.path).first() == Some(&"v2")
            && segments(&req.path).get(1) == Some(&"index.php") =>
        {
            tencent::v2_unknown_action(req)
        }
        None => Response::json(
            404,
            &serde_json::json!({
                "error": "not_found",
                "message": format!("the simulator has no API at {} {}", req.method,
                    req.path.chars().take(200).collect::<String>()),
            }),
        ),
    }
}

/// The error code a provider would use for `status`, by family.
fn fault_status(route: Route, status: u16) -> Response {
    use serde_json::json;
    let class = |s: u16| match s {
        429 => "limit",
        401 => "auth",
        403 => "denied",
        404 => "missing",
        400..=499 => "bad",
        _ => "server",
    };
    let kind = class(status);
    let request_id = world::hex_id();
    let message = format!("simulated fault: HTTP {status} {}", http::reason(status));
    let r = match route.family() {
        Family::TencentV3 => {
            let code = match kind {
                "limit" => "RequestLimitExceeded",
                "auth" => "AuthFailure",
                "denied" => "UnauthorizedOperation",
                "missing" => "ResourceNotFound",
                "bad" => "InvalidParameter",
                _ => "InternalError",
            };
            Response::json(
                status,
                &json!({"Response": {"Error": {"Code": code, "Message": message},
                                     "RequestId": world::uuid()}}),
            )
        }
        Family::TencentV2 => {
            let (code, desc) = match kind {
                "limit" => (4400, "RequestLimitExceeded"),
                "auth" => (4100, "AuthFailure"),
                "denied" => (4300, "OperationDenied"),
                "missing" => (5000, "ResourceNotFound"),
                "bad" => (4000, "InvalidParameter"),
                _ => (6000, "InternalError"),
            };
            Response::json(
                status,
                &json!({"code": code, "message": message, "codeDesc": desc}),
            )
        }
        Family::Dcs => {
            let code = match kind {
                "limit" => "APIGW.0308",
                "auth" => "DCS.1001",
                "denied" => "DCS.2003",
                "missing" => "DCS.4001",
                "bad" => "DCS.4800",
                _ => "DCS.5000",
            };
            Response::json(
                status,
                &json!({"error_code": code, "error_msg": message, "error_ext_msg": null}),
            )
        }
        Family::Iam => {
            let code = match kind {
                "limit" => "APIGW.0308",
                "auth" => "IAM.0001",
                "denied" => "IAM.0002",
                "missing" => "IAM.0004",
                "bad" => "IAM.0007",
                _ => "IAM.0006",
            };
            Response::json(status, &json!({"error_code": code, "error_msg": message}))
        }
        Family::Ciam => {
            let code = match kind {
                "limit" => "slow_down",
                "auth" => "invalid_client",
                "denied" => "access_denied",
                "missing" => "not_found",
                "bad" => "invalid_request",
                _ if status == 503 => "temporarily_unavailable",
                _ => "server_error",
            };
            Response::json(
                status,
                &json!({"error": code, "error_description": message}),
            )
        }
    };
    r.with_header("X-Request-Id", request_id)
}

/// A provider-shaped error answer whose texts are hostile (see [`Fault::Hostile`]).
fn hostile(route: Route, status: u16) -> Response {
    use serde_json::json;
    let code = "E.1\u{1b}[2J\u{9b}1m\u{202e}".to_string();
    let body = match route.family() {
        Family::TencentV3 => json!({"Response": {"Error": {"Code": code, "Message": HOSTILE_TEXT},
                                                 "RequestId": HOSTILE_REQUEST_ID}}),
        Family::TencentV2 => json!({"code": 4000, "message": HOSTILE_TEXT, "codeDesc": code}),
        Family::Dcs | Family::Iam => json!({"error_code": code, "error_msg": HOSTILE_TEXT}),
        Family::Ciam => json!({"error": code, "error_description": HOSTILE_TEXT}),
    };
    Response::json(status, &body).with_header("X-Request-Id", HOSTILE_REQUEST_ID)
}

/// 200 with JSON cut off in the middle, shaped like the route's real answer.
fn malformed(route: Route) -> Response {
    let body: &str = match route {
        Route::TencentV3 => r#"{"Response":"#,
        Route::TencentV2Info => {
            r#"{"code":0,"message":"","codeDesc":"Success","data":{"authInfo":{"vpnGw"#
        }
        Route::TencentV2Set => r#"{"code":0,"mess"#,
        Route::DcsPassword => r#"{"lock_time":"0","result":"succ"#,
        Route::IamToken => r#"{"token":{"expires_at":"#,
        Route::IamPolicy => r#"{"password_policy":{"minimum_password_length":"#,
        Route::IamPassword => r#"{"error_code":"#,
        Route::CiamToken => r#"{"access_token":""#,
        Route::CiamPassword => r#"{"error":"#,
    };
    Response::raw(200, "application/json", body).with_header("X-Request-Id", world::hex_id())
}

/// A gateway's 502 page.
fn html_502() -> Response {
    Response::raw(
        502,
        "text/html; charset=utf-8",
        "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\
         <center><h1>502 Bad Gateway</h1></center>\n<hr><center>simulated gateway</center>\n\
         </body></html>\n",
    )
}

impl Simulator {
    /// Binds `addr` and starts serving a fleet of `n` accounts across the four kinds (see
    /// `demo::fleet_world`): profiles `vpn-NNNN`, `redis-NNNN`, `iam-NNNN`, `portal-NNNN`, with
    /// Tencent API 3.0 limited to 5 requests per second as Tencent does.
    pub async fn start_fleet(addr: SocketAddr, n: usize) -> std::io::Result<Simulator> {
        Self::start_plain(addr, demo::fleet_world(n)).await
    }

    /// A `profiles.toml` for the fleet with a `command` store (`store_command`) on every
    /// profile; its `current` slots must be seeded with [`Simulator::credentials`].
    pub fn fleet_profiles_toml(&self, store_command: &[String]) -> String {
        demo::fleet_profiles_toml(&self.shared.world(), &self.base(), store_command)
    }

    /// Limits `route` to `per_second` requests in any second (None: unlimited), answering as
    /// the provider throttles: Tencent API 3.0 `RequestLimitExceeded`, Huawei DCS and IAM 429
    /// `APIGW.0308`. Only those routes have limits.
    pub fn set_rate_limit(&self, route: Route, per_second: Option<usize>) {
        let mut w = self.shared.world();
        match per_second {
            Some(n) => w.rate_limits.insert(route, n),
            None => w.rate_limits.remove(&route),
        };
    }

    /// When each request on `route` reached its handler (Tencent API 3.0, DCS and IAM
    /// password changes), oldest first, refused ones included.
    pub fn request_times(&self, route: Route) -> Vec<std::time::Instant> {
        self.shared
            .world()
            .request_times
            .get(&route)
            .cloned()
            .unwrap_or_default()
    }

    /// How many requests on `route` a rate limit refused.
    pub fn throttled(&self, route: Route) -> usize {
        self.shared
            .world()
            .throttled
            .get(&route)
            .copied()
            .unwrap_or(0)
    }

    /// How many times the password of each profile's account was changed to a different one,
    /// by profile name (every profile listed, 0 included).
    pub fn changes(&self) -> Vec<(String, u32)> {
        let w = self.shared.world();
        w.profiles
            .iter()
            .map(|p| {
                let key = world::account_key(&p.target);
                (p.name.clone(), w.changes.get(&key).copied().unwrap_or(0))
            })
            .collect()
    }
}
