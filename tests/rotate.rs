//! Fleet rotation (SPEC §11) as a real process against the simulator's fleet mode, each
//! profile with a `command` store on `tests/store-script.sh`: a 200-profile run within
//! Tencent's 5 requests/s, back-off on rate-limit answers, pacing per credential, dry run,
//! refusal of a profile without a store, canary, max failures, an unknown outcome stopping
//! new starts, `--runs`, `--json` lines, and SIGKILL at 10 points of one 50-profile run
//! followed by `--resume`: no password lost, no account changed twice.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::run_rekey_env;
use rekey::sim::{Fault, Route, Simulator};

/// A fleet simulator, its profiles (a store each) and the store's folder.
struct Fleet {
    sim: Simulator,
    dir: PathBuf,
    config: PathBuf,
    store: PathBuf,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one `rekey` run printed.
#[derive(Debug)]
struct Out {
    code: i32,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    /// The JSON lines of stdout (every line must parse).
    fn lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{self:?}")))
            .collect()
    }

    /// The status of each profile's object.
    fn statuses(&self) -> Vec<(String, String)> {
        self.lines()
            .iter()
            .filter(|l| l["summary"].is_null())
            .map(|l| {
                (
                    l["profile"].as_str().unwrap_or("?").to_string(),
                    l["status"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect()
    }

    fn status_of(&self, profile: &str) -> String {
        self.statuses()
            .into_iter()
            .find(|(p, _)| p == profile)
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("{profile} reported: {self:?}"))
    }

    /// The run id printed on stderr at the start.
    fn run_id(&self) -> String {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("rekey: run "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no run id: {self:?}"))
            .to_string()
    }
}

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/store-script.sh")
        .display()
        .to_string()
}

impl Fleet {
    async fn start(name: &str, n: usize) -> Fleet {
        let sim = Simulator::start_fleet(([127, 0, 0, 1], 0).into(), n)
            .await
            .expect("simulator starts");
        let dir = std::env::temp_dir().join(format!("rekey-rotate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("store");
        std::fs::create_dir_all(&store).expect("store dir");
        let config = dir.join("profiles.toml");
        std::fs::write(
            &config,
            sim.fleet_profiles_toml(&["sh".to_string(), script()]),
        )
        .expect("profiles");
        for account in sim.credentials() {
            let password = account.password.expect("a password");
            std::fs::write(
                store.join(format!("{}.current", account.profile)),
                password.as_str(),
            )
            .expect("seed");
        }
        Fleet {
            sim,
            dir,
            config,
            store,
        }
    }

    fn names(&self) -> Vec<String> {
        self.sim
            .credentials()
            .into_iter()
            .map(|a| a.profile)
            .collect()
    }

    fn live(&self, profile: &str) -> String {
        self.sim
            .credentials()
            .into_iter()
            .find(|a| a.profile == profile)
            .and_then(|a| a.password.map(|p| p.as_str().to_string()))
            .expect("account")
    }

    fn slot(&self, profile: &str, slot: &str) -> Option<String> {
        std::fs::read_to_string(self.store.join(format!("{profile}.{slot}"))).ok()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs `rekey ARGS` with the store's folder and `extra` in the environment.
    async fn rekey(&self, args: &[&str], extra: &[(&str, &str)]) -> Out {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (config, data) = (self.config.clone(), self.data());
        let mut envs = vec![(
            "REKEY_TEST_STORE_DIR".to_string(),
            self.store.display().to_string(),
        )];
        envs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        tokio::task::spawn_blocking(move || {
            let envs: Vec<(&str, &str)> =
                envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let out = run_rekey_env(&args, &config, &data, "", &envs);
            use std::os::unix::process::ExitStatusExt;
            Out {
                code: out.status.code().unwrap_or(-1),
                signal: out.status.signal(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .expect("rekey ran")
    }

    /// Every profile of `names`: the store's current is the provider's password, nothing
    /// pending, and the account was changed exactly once.
    fn assert_rotated_once(&self, names: &[String], old: &[(String, String)]) {
        let changes = self.sim.changes();
        for name in names {
            let live = self.live(name);
            assert_eq!(
                self.slot(name, "current").as_deref(),
                Some(live.as_str()),
                "{name}: the store's current is the provider's password"
            );
            assert_eq!(self.slot(name, "pending"), None, "{name}: nothing pending");
            let before = old.iter().find(|(p, _)| p == name).map(|(_, pw)| pw);
            assert_ne!(Some(&live), before, "{name}: rotated");
            assert_eq!(
                self.slot(name, "previous").as_ref(),
                before,
                "{name}: the old password kept as previous"
            );
            let n = changes.iter().find(|(p, _)| p == name).map(|(_, n)| *n);
            assert_eq!(n, Some(1), "{name}: changed exactly once");
        }
    }

    fn passwords(&self) -> Vec<(String, String)> {
        self.names()
            .into_iter()
            .map(|n| {
                let pw = self.live(&n);
                (n, pw)
            })
            .collect()
    }

    fn remove_store_of(&self, profile: &str) {
        let text = std::fs::read_to_string(&self.config).expect("read");
        let mut out = String::new();
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with("name = ") {
                inside = line == format!("name = \"{profile}\"");
            }
            if inside && line.starts_with("store = ") {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        std::fs::write(&self.config, out).expect("write");
    }
}

/// What a spawned rekey writes to a pipe or a pseudo-terminal, gathered as it comes (a thread
/// reads it), so a test can wait for a text before it goes on.
struct Output {
    chunks: std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<Vec<u8>>>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Output {
    fn of(mut from: impl std::io::Read + Send + 'static) -> Output {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Until the writer is gone (EOF, or EIO once a pty's last slave closes).
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Output {
            chunks: std::sync::Arc::new(std::sync::Mutex::new(rx)),
            seen: std::sync::Arc::default(),
        }
    }

    /// Waits (at most 60 s) until `text` has been written.
    async fn wait_for(&self, text: &str) {
        let (chunks, seen, text) = (self.chunks.clone(), self.seen.clone(), text.to_string());
        tokio::task::spawn_blocking(move || {
            let rx = chunks.lock().expect("chunks");
            loop {
                let so_far = seen.lock().expect("seen");
                if String::from_utf8_lossy(&so_far).contains(&text) {
                    return;
                }
                drop(so_far);
                let chunk = rx
                    .recv_timeout(Duration::from_secs(60))
                    .unwrap_or_else(|e| {
                        let so_far = seen.lock().expect("seen");
                        panic!(
                            "{text:?} not written ({e}): {:?}",
                            String::from_utf8_lossy(&so_far)
                        )
                    });
                seen.lock().expect("seen").extend_from_slice(&chunk);
            }
        })
        .await
        .expect("joined");
    }

    /// All of it, once the writer is gone.
    async fn all(self) -> Vec<u8> {
        let (chunks, seen) = (self.chunks, self.seen);
        tokio::task::spawn_blocking(move || {
            let rx = chunks.lock().expect("chunks");
            let mut all = std::mem::take(&mut *seen.lock().expect("seen"));
            for chunk in rx.iter() {
                all.extend_from_slice(&chunk);
            }
            all
        })
        .await
        .expect("joined")
    }
}

/// What a spawned rekey printed and how it ended, once it has.
async fn finished(child: std::process::Child) -> Out {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("waited");
    use std::os::unix::process::ExitStatusExt;
    Out {
        code: out.status.code().unwrap_or(-1),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The most requests in any one-second window of `times`.
fn busiest_second(times: &[Instant]) -> usize {
    times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && u.duration_since(*t) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// The test that measures the request rate runs alone (the others share the CPU among
/// themselves): it takes this for writing, every other test for reading.
static CPU: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The per-credential interval tests use where they do not test it (every DCS profile of the
/// fleet shares one AK/SK).
const FAST: (&str, &str) = ("REKEY_ROTATE_INTERVAL_MS", "0");

#[tokio::test]
async fn two_hundred_profiles_are_rotated_within_tencents_five_per_second() {
    let _cpu = CPU.write().await;
    let f = Fleet::start("200", 200).await;
    let old = f.passwords();
    let out = f
        .rekey(
            &["rotate", "--all", "--yes", "--json", "--concurrency", "8"],
            &[FAST],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 201, "one object per profile and a summary");
    let summary = lines.last().expect("summary");
    assert_eq!(summary["summary"], true, "the summary is last");
    assert_eq!(summary["saved"], 200, "{summary}");
    assert_eq!(summary["run_id"].as_str(), Some(out.run_id().as_str()));
    for line in &lines[..200] {
        assert_eq!(line["outcome"], "changed", "{line}");
        assert_eq!(line["status"], "saved", "{line}");
        assert_eq!(line["settled"], true, "{line}");
        assert!(
            line["store"]
                .as_str()
                .is_some_and(|s| s.starts_with("command:"))
        );
    }
    f.assert_rotated_once(&f.names(), &old);
    let times = f.sim.request_times(Route::TencentV3);
    assert_eq!(times.len(), 50, "one request per Tencent profile");
    assert!(
        busiest_second(&times) <= 5,
        "at most 5 Tencent API 3.0 requests in any second: {}",
        busiest_second(&times)
    );
    assert_eq!(f.sim.throttled(Route::TencentV3), 0);
    // The run is listed, all saved.
    let runs = f.rekey(&["rotate", "--runs", "--json"], &[]).await;
    assert_eq!(runs.code, 0, "{runs:?}");
    let listed: serde_json::Value = serde_json::from_str(runs.stdout.trim()).expect("json");
    assert_eq!(listed[0]["run_id"].as_str(), Some(out.run_id().as_str()));
    assert_eq!(listed[0]["saved"], 200);
    assert_eq!(listed[0]["open"], 0);
    // The plan was written first, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let plan = f.data().join("runs").join(out.run_id()).join("plan.json");
    let mode = std::fs::metadata(&plan).expect("plan").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&plan).expect("plan");
    for (_, password) in &old {
        assert!(!text.contains(password.as_str()), "no secret in the plan");
    }
}

#[tokio::test]
async fn rate_limit_answers_are_backed_off_and_sent_again() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("throttled", 12).await;
    // rekey paces nothing; the simulator throttles Tencent and DCS at 1/s, and the first
    // request of each answers as throttled whatever the timing.
    f.sim.set_rate_limit(Route::TencentV3, Some(1));
    f.sim.set_rate_limit(Route::DcsPassword, Some(1));
    f.sim.inject(Route::TencentV3, Fault::Status(429));
    f.sim.inject(Route::DcsPassword, Fault::Status(429));
    let old = f.passwords();
    let out = f
        .rekey(
            &[
                "rotate",
                "--all",
                "--yes",
                "--json",
                "--canary",
                "0",
                "--concurrency",
                "12",
            ],
            &[("REKEY_ROTATE_UNLIMITED", "1")],
        )
        .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    f.assert_rotated_once(&f.names(), &old);
    // Each refused attempt is in the audit trail as rate_limited, for both providers.
    let audit = std::fs::read_to_string(f.data().join("audit.jsonl")).expect("audit");
    for kind in ["tencent-bm-vpn", "huawei-dcs"] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains("\"rate_limited\"") && l.contains(kind)),
            "{kind}: {audit}"
        );
    }
    // Accepted changes stayed within the simulator's limits (what it refused was sent again).
    let accepted = 3 + f.sim.throttled(Route::TencentV3);
    assert_eq!(f.sim.request_times(Route::TencentV3).len(), accepted);
}

#[tokio::test]
async fn dcs_changes_are_paced_one_per_second_per_credential() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("paced", 12).await;
    let out = f
        .rekey(
            &[
                "rotate",
                "--match",
                "redis-*",
                "--yes",
                "--json",
                "--concurrency",
                "3",
            ],
            &[],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let times = f.sim.request_times(Route::DcsPassword);
    assert_eq!(times.len(), 3);
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= Duration::from_millis(900),
            "one change per second with one AK/SK: {gap:?}"
        );
    }
}

#[tokio::test]
async fn dry_run_checks_and_changes_nothing() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("dry", 8).await;
    let old = f.passwords();
    let out = f
        .rekey(&["rotate", "--all", "--dry-run", "--json"], &[])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let lines = out.lines();
    assert_eq!(lines.len(), 9);
    for line in &lines[..8] {
        assert_eq!(line["status"], "ready", "{line}");
        let checks = line["checks"].to_string();
        for check in [
            "no pending",
            "current password read",
            "policy",
            "credentials",
        ] {
            assert!(checks.contains(check), "{check}: {line}");
        }
    }
    assert_eq!(lines[8]["ready"], 8);
    // A pending password left over is a problem: exit 1.
    std::fs::write(f.store.join("redis-0001.pending"), "Left#Over99").expect("pending");
    let out = f
        .rekey(&["rotate", "--match", "redis-*", "--dry-run"], &[])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("redis-0001: NOT ready") && out.stdout.contains("pending"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("redis-0005: ready"), "{}", out.stdout);
    // Nothing changed anywhere, and no run was made.
    assert_eq!(f.passwords(), old);
    assert!(f.sim.changes().iter().all(|(_, n)| *n == 0));
    for (name, pw) in &old {
        assert_eq!(f.slot(name, "current").as_ref(), Some(pw));
    }
    assert!(!f.data().join("runs").exists(), "a dry run writes no plan");
}

#[tokio::test]
async fn a_profile_without_a_store_is_refused_before_anything_starts() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("nostore", 8).await;
    f.remove_store_of("iam-0006");
    let out = f.rekey(&["rotate", "--all", "--yes", "--json"], &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("iam-0006"), "{}", out.stderr);
    assert!(out.stderr.contains("store"), "{}", out.stderr);
    assert_eq!(out.stdout, "", "nothing started, nothing reported");
    assert!(f.sim.changes().iter().all(|(_, n)| *n == 0));
    assert!(!f.data().join("runs").exists());
    // No --yes and no terminal: refused as well, nothing started.
    let out = f.rekey(&["rotate", "--match", "vpn-*"], &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(f.sim.changes().iter().all(|(_, n)| *n == 0));
}

#[tokio::test]
async fn a_failing_canary_stops_the_rest() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("canary", 16).await;
    // The first redis profile's store holds a wrong current password.
    std::fs::write(f.store.join("redis-0001.current"), "Wrong#Pass99").expect("write");
    let out = f
        .rekey(&["rotate", "--match", "redis-*", "--yes"], &[FAST])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("redis-0001: failed: canary: Wrong current password"),
        "{}",
        out.stdout
    );
    for rest in ["redis-0005", "redis-0009", "redis-0013"] {
        assert!(
            out.stdout.contains(&format!("{rest}: not started")),
            "{rest}: {}",
            out.stdout
        );
    }
    assert!(f.sim.changes().iter().all(|(_, n)| *n == 0));
    assert_eq!(
        f.sim.requests(Route::DcsPassword),
        1,
        "only the canary was sent"
    );
}

#[tokio::test]
async fn max_failures_stops_new_starts() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("maxfail", 24).await;
    for bad in ["iam-0006", "iam-0010"] {
        std::fs::write(f.store.join(format!("{bad}.current")), "Wrong#Pass99").expect("write");
    }
    let out = f
        .rekey(
            &[
                "rotate",
                "--match",
                "iam-*",
                "--yes",
                "--json",
                "--canary",
                "0",
                "--concurrency",
                "1",
                "--max-failures",
                "2",
            ],
            &[FAST],
        )
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.status_of("iam-0002"), "saved");
    assert_eq!(out.status_of("iam-0006"), "failed");
    assert_eq!(out.status_of("iam-0010"), "failed");
    for rest in ["iam-0014", "iam-0018", "iam-0022"] {
        assert_eq!(out.status_of(rest), "not_started", "{rest}");
    }
    let summary = out.lines().pop().expect("summary");
    assert_eq!(
        (
            &summary["saved"],
            &summary["failed"],
            &summary["not_started"]
        ),
        (&1.into(), &2.into(), &3.into()),
        "{summary}"
    );
}

#[tokio::test]
async fn an_unknown_outcome_stops_new_starts_and_resume_settles_it() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("unknown", 16).await;
    let old = f.passwords();
    // The first CIAM change is applied, and its answer never comes.
    f.sim.inject(Route::CiamPassword, Fault::Drop);
    let args = [
        "rotate",
        "--match",
        "portal-*",
        "--yes",
        "--json",
        "--canary",
        "0",
        "--concurrency",
        "1",
    ];
    let out = f.rekey(&args, &[FAST]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(out.status_of("portal-0003"), "unsettled");
    for rest in ["portal-0007", "portal-0011", "portal-0015"] {
        assert_eq!(out.status_of(rest), "not_started", "{rest}");
    }
    let id = out.run_id();
    let listed = f.rekey(&["rotate", "--runs"], &[]).await;
    assert!(listed.stdout.contains(&id), "{listed:?}");
    // Resume: the password grant with the pending password settles it (applied), then the rest.
    let resumed = f
        .rekey(&["rotate", "--resume", &id, "--yes", "--json"], &[FAST])
        .await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(resumed.stderr.contains("portal-0003"), "{}", resumed.stderr);
    let names: Vec<String> = ["portal-0003", "portal-0007", "portal-0011", "portal-0015"]
        .map(String::from)
        .to_vec();
    f.assert_rotated_once(&names, &old);
    // Resuming a finished run does nothing more.
    let again = f
        .rekey(&["rotate", "--resume", &id, "--yes", "--json"], &[FAST])
        .await;
    assert_eq!(again.code, 0, "{again:?}");
    f.assert_rotated_once(&names, &old);
}

/// Where the 50-profile run is killed: each process (the run, then each resume) dies at the
/// Nth time it reaches the step (steps of SPEC §10.2 and the run's own progress records).
const KILLS: [&str; 10] = [
    "rotate-start#3",
    "after-sending#2",
    "after-staged#4",
    "after-outcome#3",
    "rotate-end#5",
    "after-current#2",
    "after-begin#6",
    "after-pending-deleted#3",
    "after-previous#4",
    "after-pending-written#2",
];

/// "Lost": the store's `current` is not the provider's password at the end (or, right after a
/// kill, neither `current` nor `pending` is). "Rotated twice": the simulator saw the account's
/// password set to a different value more than once (settling a Tencent change resends the
/// same pending password: an idempotent set, not a second rotation). Each of the 50 accounts
/// must end changed exactly once, its old password in `previous`.
#[tokio::test]
async fn killed_at_ten_points_and_resumed_nothing_is_lost_or_rotated_twice() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("crash", 50).await;
    let old = f.passwords();
    let first = f
        .rekey(
            &["rotate", "--all", "--yes", "--json"],
            &[FAST, ("REKEY_CRASH_AT", KILLS[0])],
        )
        .await;
    assert_eq!(first.signal, Some(9), "killed at {}: {first:?}", KILLS[0]);
    let id = first.run_id();
    for point in &KILLS[1..] {
        let out = f
            .rekey(
                &["rotate", "--resume", &id, "--yes", "--json"],
                &[FAST, ("REKEY_CRASH_AT", point)],
            )
            .await;
        assert_eq!(out.signal, Some(9), "killed at {point}: {out:?}");
        // At every moment the provider's password is readable from the store.
        for name in f.names() {
            let live = f.live(&name);
            assert!(
                f.slot(&name, "current").as_ref() == Some(&live)
                    || f.slot(&name, "pending").as_ref() == Some(&live),
                "{name} after a kill at {point}: the live password is in the store"
            );
        }
    }
    // Resume to the end; where rekey must ask (DCS has no free check), answer as an admin who
    // tried the pending password.
    let mut done = false;
    for _ in 0..4 {
        let out = f
            .rekey(&["rotate", "--resume", &id, "--yes", "--json"], &[FAST])
            .await;
        if out.code == 0 {
            done = true;
            break;
        }
        assert_eq!(out.code, 5, "only unsettled profiles remain: {out:?}");
        for (name, status) in out.statuses() {
            if status != "unsettled" {
                continue;
            }
            let applied = f.slot(&name, "pending") == Some(f.live(&name));
            let answer = if applied {
                "--applied"
            } else {
                "--not-applied"
            };
            let r = f.rekey(&["recover", "--profile", &name, answer], &[]).await;
            assert_eq!(r.code, 0, "{name}: {r:?}");
        }
    }
    assert!(done, "the run completes after resuming");
    f.assert_rotated_once(&f.names(), &old);
    let runs = f.rekey(&["rotate", "--runs", "--json"], &[]).await;
    let listed: serde_json::Value = serde_json::from_str(runs.stdout.trim()).expect("json");
    assert_eq!(listed[0]["saved"], 50, "{listed}");
}

/// `rekey ARGS` on a 100x30 pseudo-terminal with the fleet's files: the child, and what it
/// writes.
fn on_a_pty(f: &Fleet, args: &[&str]) -> (Box<dyn portable_pty::Child + Send + Sync>, Output) {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_rekey"));
    cmd.args(args);
    cmd.env("REKEY_CONFIG", &f.config);
    cmd.env("REKEY_DATA_DIR", f.data());
    cmd.env("REKEY_TEST_STORE_DIR", &f.store);
    cmd.env("REKEY_ROTATE_INTERVAL_MS", "0");
    let child = pty.slave.spawn_command(cmd).expect("spawn");
    drop(pty.slave);
    let reader = pty.master.try_clone_reader().expect("reader");
    // The master stays open as long as the reader reads.
    let master = pty.master;
    let reader = KeepAlive(reader, master);
    (child, Output::of(reader))
}

/// A reader that keeps something alive as long as it is read (a pty's master).
struct KeepAlive<R, T>(R, T);

impl<R: std::io::Read, T> std::io::Read for KeepAlive<R, T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

#[tokio::test]
async fn on_a_terminal_each_profile_has_a_live_line_and_a_total() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("tty", 8).await;
    let (mut child, output) = on_a_pty(&f, &["rotate", "--all", "--yes"]);
    let raw = output.all().await;
    let status = tokio::task::spawn_blocking(move || child.wait().expect("waited"))
        .await
        .expect("joined");
    assert!(status.success());
    let text = String::from_utf8_lossy(&raw);
    // Live lines were drawn per profile, with a total and its bar, redrawn in place.
    for name in f.names() {
        assert!(text.contains(&format!("{name}: saved")), "{name}: {text:?}");
    }
    assert!(
        text.contains("[########################] 8/8  saved 8  failed 0  unsettled 0"),
        "{text:?}"
    );
    assert!(
        text.contains("\x1b[2K") && text.contains("A\r"),
        "redrawn in place"
    );
    // What stays on screen at the end: the summary (every profile saved).
    let size = |n| std::num::NonZeroU16::new(n).expect("not 0");
    let mut parser = vt100::Parser::new(size(30), size(100), 0);
    parser.process(&raw);
    let screen = parser.screen().contents();
    assert!(
        screen.contains(": 8 saved, 0 failed, 0 unsettled"),
        "{screen}"
    );
    assert!(!screen.contains("vpn-0000: saved"), "{screen}");
}

/// A line said during a live run (here: the signal taken) stays on screen: the live lines are
/// cleared and drawn again under it, not over it.
#[tokio::test]
async fn a_line_said_during_a_live_run_is_not_drawn_over() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("tty-note", 8).await;
    f.sim.inject(Route::CiamPassword, Fault::Hold);
    let (mut child, output) = on_a_pty(
        &f,
        &[
            "rotate",
            "--match",
            "portal-*",
            "--yes",
            "--concurrency",
            "1",
        ],
    );
    let pid = child.process_id().expect("pid");
    // The first change is held: its live line says so; then SIGINT, then the answer.
    f.sim.wait_requests(Route::CiamPassword, 1).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("pid")).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    // Answered only once rekey said it took the signal: the change in flight is then
    // interrupted, not answered.
    output
        .wait_for("interrupted by SIGINT: no new change or settle starts")
        .await;
    f.sim.release_held();
    let raw = output.all().await;
    let status = tokio::task::spawn_blocking(move || child.wait().expect("waited"))
        .await
        .expect("joined");
    assert_eq!(
        status.exit_code(),
        5,
        "the change in flight unsettled: {}",
        String::from_utf8_lossy(&raw)
    );
    let size = |n| std::num::NonZeroU16::new(n).expect("not 0");
    let mut parser = vt100::Parser::new(size(30), size(100), 0);
    parser.process(&raw);
    let screen = parser.screen().contents();
    let said =
        "rekey: interrupted by SIGINT: no new change or settle starts; what is in hand finishes";
    assert_eq!(screen.matches(said).count(), 1, "{screen}");
    // Each profile's final line once (none left over from a redraw that landed short).
    for name in ["portal-0003", "portal-0007"] {
        let lines = screen
            .lines()
            .filter(|l| l.starts_with(&format!("{name}: ")))
            .count();
        assert_eq!(lines, 1, "{name}\n{screen}");
    }
}

#[tokio::test]
async fn a_profile_known_to_be_locked_is_not_sent_to() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("locked", 8).await;
    std::fs::create_dir_all(f.data()).expect("data");
    std::fs::write(
        f.data().join("state.json"),
        r#"{"version":1,"profiles":{"redis-0001":{"locked_until":"2099-01-01T00:00:00Z","last_outcome":"locked"}}}"#,
    )
    .expect("state");
    let out = f
        .rekey(
            &["rotate", "--match", "redis-*", "--yes", "--json"],
            &[FAST],
        )
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.status_of("redis-0001"), "not_started");
    assert_eq!(out.status_of("redis-0005"), "saved");
    let locked = out
        .lines()
        .into_iter()
        .find(|l| l["profile"] == "redis-0001")
        .expect("line");
    assert!(
        locked["message"]
            .as_str()
            .is_some_and(|m| m.contains("locked")),
        "{locked}"
    );
    assert_eq!(
        f.sim.requests(Route::DcsPassword),
        1,
        "only redis-0005 was sent"
    );
}

#[tokio::test]
async fn sigterm_stops_new_starts_and_an_interrupted_change_is_settled_on_resume() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("sigterm", 16).await;
    let old = f.passwords();
    f.sim.inject(Route::CiamPassword, Fault::Hold);
    let store = f.store.display().to_string();
    let child = common::spawn_rekey(
        &[
            "rotate",
            "--match",
            "portal-*",
            "--yes",
            "--json",
            "--concurrency",
            "1",
        ],
        &f.config,
        &f.data(),
        &[("REKEY_TEST_STORE_DIR", store.as_str()), FAST],
    );
    f.sim.wait_requests(Route::CiamPassword, 1).await;
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM");
    let out = finished(child).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(out.status_of("portal-0003"), "unsettled");
    for rest in ["portal-0007", "portal-0011", "portal-0015"] {
        assert_eq!(out.status_of(rest), "not_started", "{rest}");
    }
    // The provider applies what it held; resuming finds it applied and rotates the rest.
    f.sim.release_held();
    let resumed = f
        .rekey(
            &["rotate", "--resume", &out.run_id(), "--yes", "--json"],
            &[FAST],
        )
        .await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let names: Vec<String> = ["portal-0003", "portal-0007", "portal-0011", "portal-0015"]
        .map(String::from)
        .to_vec();
    f.assert_rotated_once(&names, &old);
}

/// A signal during `--resume`'s settling: the settle in hand finishes, no other starts, and
/// the profiles left are unsettled (exit 5) for the next resume, which finishes the run.
#[tokio::test]
async fn a_signal_while_resuming_stops_after_the_settle_in_hand() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("resume-int", 16).await;
    let old = f.passwords();
    let store = f.store.display().to_string();
    let env = [("REKEY_TEST_STORE_DIR", store.as_str()), FAST];
    let term = |child: &std::process::Child, signal| {
        rustix::process::kill_process(rustix::process::Pid::from_child(child), signal)
            .expect("signal");
    };
    // Two changes in flight, both held by the provider, when SIGTERM stops the run.
    f.sim.inject(Route::CiamPassword, Fault::Hold);
    f.sim.inject(Route::CiamPassword, Fault::Hold);
    let args = ["rotate", "--match", "portal-*", "--yes", "--json"];
    let child = common::spawn_rekey(
        &[&args[..], &["--concurrency", "2", "--canary", "0"]].concat(),
        &f.config,
        &f.data(),
        &env,
    );
    f.sim.wait_requests(Route::CiamPassword, 2).await;
    term(&child, rustix::process::Signal::TERM);
    let first = finished(child).await;
    assert_eq!(first.code, 5, "{first:?}");
    for held in ["portal-0003", "portal-0007"] {
        assert_eq!(first.status_of(held), "unsettled", "{held}");
    }
    f.sim.release_held();
    // Resuming: the first settle (a password grant with the pending password) is held, and
    // SIGINT arrives while it waits.
    let grants = f.sim.requests(Route::CiamToken);
    f.sim.inject(Route::CiamToken, Fault::Hold);
    let run = first.run_id();
    let child = common::spawn_rekey(
        &["rotate", "--resume", &run, "--yes", "--json"],
        &f.config,
        &f.data(),
        &env,
    );
    f.sim.wait_requests(Route::CiamToken, grants + 1).await;
    let mut child = child;
    let stderr = Output::of(child.stderr.take().expect("piped stderr"));
    term(&child, rustix::process::Signal::INT);
    // Released only once rekey said it took the signal: nothing races.
    stderr
        .wait_for("interrupted by SIGINT: no new change or settle starts")
        .await;
    f.sim.release_held();
    let mut second = finished(child).await;
    second.stderr = String::from_utf8_lossy(&stderr.all().await).into_owned();
    assert_eq!(second.code, 5, "{second:?}");
    assert_eq!(second.status_of("portal-0003"), "saved", "{second:?}");
    assert_eq!(second.status_of("portal-0007"), "unsettled", "{second:?}");
    for rest in ["portal-0011", "portal-0015"] {
        assert_eq!(second.status_of(rest), "not_started", "{rest}");
    }
    assert_eq!(
        f.sim.requests(Route::CiamToken),
        grants + 1,
        "no settle started after the signal"
    );
    // The next resume settles the rest and rotates the others.
    let third = f
        .rekey(&["rotate", "--resume", &run, "--yes", "--json"], &[FAST])
        .await;
    assert_eq!(third.code, 0, "{third:?}");
    let names: Vec<String> = ["portal-0003", "portal-0007", "portal-0011", "portal-0015"]
        .map(String::from)
        .to_vec();
    f.assert_rotated_once(&names, &old);
}

/// rekey killed while a store command was writing `current` (another profile's crash point,
/// in a batch) leaves the slot empty: settling still promotes the new password.
#[tokio::test]
async fn a_current_slot_left_empty_by_a_kill_mid_write_is_replaced_on_resume() {
    let _cpu = CPU.read().await;
    let f = Fleet::start("emptycur", 4).await;
    let old = f.passwords();
    let first = f
        .rekey(
            &["rotate", "--profile", "iam-0002", "--yes", "--json"],
            &[FAST, ("REKEY_CRASH_AT", "after-previous")],
        )
        .await;
    assert_eq!(first.signal, Some(9), "{first:?}");
    // What a `put current` cut off by the kill leaves: an empty slot.
    std::fs::write(f.store.join("iam-0002.current"), "").expect("truncate");
    let resumed = f
        .rekey(
            &["rotate", "--resume", &first.run_id(), "--yes", "--json"],
            &[FAST],
        )
        .await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    f.assert_rotated_once(&["iam-0002".to_string()], &old);
}
