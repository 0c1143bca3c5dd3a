//! The production path: `rekey change` as a real process over HTTPS (rustls, certificates
//! verified) against the simulator serving TLS with a throwaway CA, which the profiles name as
//! `ca_file`.

mod common;

use common::Env;
use rekey::sim::{Fault, Route, Tls};

/// A new password that passes every client-side policy of every demo profile.
const NEW: &str = "New#Pass2025x";

/// Every demo profile whose account exists: its route, and the outcome of a first change.
const PROFILES: [(&str, Route, &str); 11] = [
    ("bm-vpn", Route::TencentV3, "changed"),
    ("bm-vpn-v2", Route::TencentV2Set, "created"),
    ("bm-vpn-v2-sha1", Route::TencentV2Set, "changed"),
    ("redis-aksk", Route::DcsPassword, "changed"),
    ("redis-otc", Route::DcsPassword, "changed"),
    ("redis-token", Route::DcsPassword, "changed"),
    ("iam-alice", Route::IamPassword, "changed"),
    ("iam-admin", Route::IamPassword, "changed"),
    ("portal", Route::CiamPassword, "changed"),
    ("portal-web", Route::CiamPassword, "changed"),
    ("portal-token", Route::CiamPassword, "changed"),
];

/// One profile of each kind (and both Tencent APIs).
const ONE_PER_KIND: [(&str, Route); 5] = [
    ("bm-vpn", Route::TencentV3),
    ("bm-vpn-v2-sha1", Route::TencentV2Set),
    ("redis-aksk", Route::DcsPassword),
    ("iam-alice", Route::IamPassword),
    ("portal", Route::CiamPassword),
];

fn input(env: &Env, profile: &str, new: &str) -> String {
    if profile.starts_with("bm-vpn") {
        format!("{new}\n")
    } else {
        format!("{}\n{new}\n", env.password(profile))
    }
}

/// The profiles file without its `ca_file` lines.
fn drop_ca_file(env: &Env) {
    let text = std::fs::read_to_string(&env.config).expect("read profiles");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("ca_file ="))
        .collect();
    std::fs::write(&env.config, kept.join("\n") + "\n").expect("write profiles");
}

/// Requests the simulator read on every route.
fn all_requests(env: &Env) -> usize {
    Route::ALL.iter().map(|r| env.sim.requests(*r)).sum()
}

#[tokio::test]
async fn every_kind_changes_its_password_over_https_with_the_ca_file() {
    let env = Env::start_tls("tls-every", Tls::loopback()).await;
    let port = env.sim.local_addr().port();
    let text = std::fs::read_to_string(&env.config).expect("profiles");
    let ca_line = format!("ca_file = \"{}\"", env.dir.join("ca.pem").display());
    assert_eq!(
        text.matches(&ca_line).count(),
        text.matches("[[profile]]").count(),
        "every profile names the CA: {text}"
    );
    assert!(
        text.contains(&format!("\"https://127.0.0.1:{port}\"")),
        "{text}"
    );
    assert!(!text.contains("http://"), "no plain endpoint: {text}");
    for (profile, route, outcome) in PROFILES {
        let before = env.sim.requests(route);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            (outcome, 0),
            "{profile}: {run:?}"
        );
        // The simulator read the change over TLS, checked its signature or token against
        // what it received (the Host included) and applied it.
        assert_eq!(env.sim.requests(route), before + 1, "{profile}");
        assert_eq!(env.password(profile), NEW, "{profile}");
    }
    // Every handshake agreed on the post-quantum hybrid: rekey offers X25519MLKEM768 first,
    // so a password recorded in transit today cannot be decrypted later by a quantum computer.
    let groups = env.sim.tls_key_exchanges();
    assert!(!groups.is_empty());
    assert!(groups.iter().all(|g| g == "X25519MLKEM768"), "{groups:?}");
}

#[tokio::test]
async fn signatures_cover_the_https_host_and_port_actually_sent() {
    let env = Env::start_tls("tls-host", Tls::loopback()).await;
    let port = env.sim.local_addr().port();
    // Reached as `localhost`: the Host sent, and so the host signed, is `localhost:PORT`.
    let url = format!("\"https://localhost:{port}\"");
    for (profile, route) in ONE_PER_KIND {
        env.set_endpoint(profile, &url);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("changed", 0),
            "{profile}: {run:?}"
        );
        assert_eq!(env.sim.requests(route), 1, "{profile}");
    }

    // The simulator checks the Host it received over TLS: a TC3 signature over another
    // host:port is refused, the same request signed for the host sent is applied.
    let text = std::fs::read_to_string(&env.config).expect("profiles");
    let profiles: toml::Table = toml::from_str(&text).expect("toml");
    let bm = profiles["profile"]
        .as_array()
        .expect("profiles")
        .iter()
        .find(|p| p["name"].as_str() == Some("bm-vpn"))
        .expect("bm-vpn");
    let secret_id = bm["secret_id"]["value"].as_str().expect("secret_id");
    let secret_key = bm["secret_key"]["value"].as_str().expect("secret_key");
    let ca = env.sim.ca_pem().await.expect("ca");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).expect("pem"))
        .no_proxy()
        .build()
        .expect("client");
    let sent_host = format!("127.0.0.1:{port}");
    let send = |signed_host: String, password: &'static str| {
        let client = client.clone();
        let sent_host = sent_host.clone();
        async move {
            let body = serde_json::json!({"Password": password, "Operate": "Update"}).to_string();
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let auth =
                rekey::provider::sign::tc3::authorization(&rekey::provider::sign::tc3::Tc3Input {
                    secret_id,
                    secret_key,
                    service: "bm",
                    host: &signed_host,
                    method: "POST",
                    query: "",
                    content_type: "application/json",
                    payload: body.as_bytes(),
                    timestamp,
                });
            let answer = client
                .post(format!("https://{sent_host}/"))
                .header("Content-Type", "application/json")
                .header("X-TC-Action", "SetOutBandVpnAuthPassword")
                .header("X-TC-Version", "2018-04-23")
                .header("X-TC-Region", "ap-guangzhou")
                .header("X-TC-Timestamp", timestamp.to_string())
                .header("Authorization", auth)
                .body(body)
                .send()
                .await
                .expect("answered over TLS")
                .bytes()
                .await
                .expect("body");
            let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json");
            answer["Response"]["Error"]["Code"]
                .as_str()
                .map(str::to_owned)
        }
    };
    let other = format!("127.0.0.1:{}", port.wrapping_add(1).max(1));
    assert_eq!(
        send(other, "Other#Vpn2025").await.as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    assert_eq!(env.password("bm-vpn"), NEW, "nothing applied");
    assert_eq!(send(sent_host.clone(), "Other#Vpn2025").await, None);
    assert_eq!(env.password("bm-vpn"), "Other#Vpn2025");
}

#[tokio::test]
async fn without_ca_file_the_server_is_not_trusted_and_nothing_is_sent() {
    let env = Env::start_tls("tls-no-ca", Tls::loopback()).await;
    drop_ca_file(&env);
    for (profile, _) in ONE_PER_KIND {
        let before = env.password(profile);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("network_error", 5),
            "{profile}: {run:?}"
        );
        let message = run.json["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("certificate is not trusted") && message.contains("ca_file"),
            "{profile}: {message}"
        );
        assert!(!message.contains("UnknownIssuer"), "plain words: {message}");
        assert_eq!(env.password(profile), before, "{profile}");
    }
    assert_eq!(all_requests(&env), 0, "no request got past the handshake");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_network_error() {
    let tls = Tls {
        names: vec!["provider.example.com".into()],
        ca_file: None,
    };
    let env = Env::start_tls("tls-name", tls).await;
    for (profile, _) in ONE_PER_KIND {
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("network_error", 5),
            "{profile}: {run:?}"
        );
        let message = run.json["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("certificate is not valid for this host name"),
            "{profile}: {message}"
        );
        assert!(
            !message.contains("NotValidForName"),
            "plain words: {message}"
        );
    }
    assert_eq!(all_requests(&env), 0);
}

#[tokio::test]
async fn a_ca_file_without_a_certificate_is_a_config_error_at_its_line() {
    let env = Env::start_tls("tls-bad-ca", Tls::loopback()).await;
    let key_only = env.dir.join("key.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let text = std::fs::read_to_string(&env.config).expect("profiles");
    let start = text.find("name = \"redis-aksk\"").expect("profile");
    let ca_at = start + text[start..].find("ca_file = ").expect("ca_file");
    let line = text[..ca_at].lines().count() + 1;
    env.set(
        "redis-aksk",
        "ca_file",
        &format!("\"{}\"", key_only.display()),
    );
    let run = env
        .change("redis-aksk", &input(&env, "redis-aksk", NEW), &[])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    let at = format!("profiles.toml:{line}:11");
    assert!(run.stderr.contains(&at), "{at} in {}", run.stderr);
    assert!(
        run.stderr.contains("holds no certificate"),
        "{}",
        run.stderr
    );
    assert_eq!(all_requests(&env), 0);
}

#[tokio::test]
async fn a_dropped_answer_over_tls_is_unknown_and_the_change_applied() {
    let env = Env::start_tls("tls-drop", Tls::loopback()).await;
    env.sim.inject(Route::CiamPassword, Fault::Drop);
    let run = env.change("portal", &input(&env, "portal", NEW), &[]).await;
    assert_eq!(run.outcome(), "unknown", "{run:?}");
    assert_eq!(env.sim.requests(Route::CiamPassword), 1, "sent once");
    assert_eq!(env.password("portal"), NEW, "applied, the answer lost");
}

/// `rekey sim ARGS` with stdout to `out`; returns the child and its banner (stderr up to its
/// last line: by then stdout is written and flushed).
fn spawn_sim(args: &[&str], out: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        .arg("sim")
        .args(args)
        .env_remove("REKEY_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(out).expect("create"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rekey sim");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut banner = String::new();
    while !banner.contains("Press Ctrl-C to stop.") {
        let mut line = String::new();
        if lines.read_line(&mut line).expect("read stderr") == 0 {
            break;
        }
        banner.push_str(&line);
    }
    // Keep reading the access log so the simulator never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    (child, banner)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn rekey_sim_tls_prints_https_profiles_naming_its_ca_and_a_change_goes_through() {
    let dir = std::env::temp_dir().join(format!("rekey-it-{}-tls-sim", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("profiles.toml");
    let (mut child, banner) = spawn_sim(&["--tls", "--listen", "127.0.0.1:0"], &file);
    assert!(
        banner.contains("listening on https://127.0.0.1:"),
        "{banner}"
    );
    let saved = std::fs::read_to_string(&file).expect("saved");
    let config = rekey::config::parse(&file, &saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
    let ca = config.profiles[0].ca_file.clone().expect("a ca_file");
    assert!(
        config
            .profiles
            .iter()
            .all(|p| p.ca_file.as_ref() == Some(&ca)),
        "{saved}"
    );
    assert!(
        banner.contains(&ca.display().to_string()),
        "the banner says where the CA is: {banner}"
    );
    let pem = std::fs::read_to_string(&ca).expect("the CA is written before the profiles");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(mode(&ca), 0o600);
    let ca_dir = ca.parent().expect("folder").to_path_buf();
    assert_eq!(mode(&ca_dir), 0o700, "a private folder");

    let out = common::run_rekey(
        &["change", "--profile", "portal", "--json"],
        &file,
        &dir.join("data"),
        &format!("Portal#Demo2024\n{NEW}\n"),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(json["outcome"], "changed", "{out:?}");

    // Ctrl-C stops it and removes the CA's folder.
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("signal");
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
    assert!(!ca_dir.exists(), "{} removed", ca_dir.display());

    // --ca-out: the CA where asked (replacing what was there), the profiles naming it.
    let asked = dir.join("sim-ca.pem");
    std::fs::write(&asked, "old").expect("write");
    let asked_text = asked.display().to_string();
    let (mut child, banner) = spawn_sim(
        &["--tls", "--listen", "127.0.0.1:0", "--ca-out", &asked_text],
        &file,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(banner.contains(&asked_text), "{banner}");
    let saved = std::fs::read_to_string(&file).expect("saved");
    let config = rekey::config::parse(&file, &saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
    assert!(
        config
            .profiles
            .iter()
            .all(|p| p.ca_file.as_deref() == Some(asked.as_path())),
        "{saved}"
    );
    let pem = std::fs::read_to_string(&asked).expect("written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(mode(&asked), 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

/// aws-lc (rustls's crypto) is built without CPU jitter entropy (`.cargo/config.toml`): that
/// source cost every process 35-40 ms of CPU on its first random bytes, so each `rekey change`
/// over HTTPS took five times as long as curl (`benches/headless.py --tls`). Its code, when
/// built in, leaves its `jent_` functions in the binary.
#[test]
fn aws_lc_is_built_without_cpu_jitter_entropy() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_rekey")).expect("read the rekey binary");
    assert!(
        memchr::memmem::find(&binary, b"jent_entropy_init").is_none(),
        "aws-lc was built with CPU jitter entropy: AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
         (.cargo/config.toml) did not reach its build"
    );
}
