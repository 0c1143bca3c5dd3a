//! Shared by the integration tests: a simulator with a profiles file in a temp dir, and
//! `rekey` run as a real process against it.

#![allow(dead_code)]

pub mod frames;
pub mod harness;
pub mod ui;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rekey::sim::Simulator;

/// A unique password that must never appear in any output.
pub const CANARY: &str = "Cq9!zKanary#71";

/// A running simulator and a config dir holding its profiles.
pub struct Env {
    /// The simulator.
    pub sim: Simulator,
    /// A private temp dir (removed on drop).
    pub dir: PathBuf,
    /// `profiles.toml` in it.
    pub config: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What `rekey change --json` printed.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// The JSON object on stdout (Null if none).
    pub json: serde_json::Value,
    /// Raw stdout.
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
}

impl Run {
    /// `outcome` of the JSON object.
    pub fn outcome(&self) -> &str {
        self.json["outcome"].as_str().unwrap_or("<none>")
    }
}

impl Env {
    /// Starts a simulator on an ephemeral loopback port and writes its profiles.
    pub async fn start(name: &str) -> Env {
        let sim = Simulator::start(([127, 0, 0, 1], 0).into())
            .await
            .expect("simulator starts");
        let dir = std::env::temp_dir().join(format!("rekey-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("profiles.toml");
        std::fs::write(&config, sim.profiles_toml()).expect("write profiles");
        Env { sim, dir, config }
    }

    /// Starts a simulator serving HTTPS with a certificate for `tls.names`, writes its CA to
    /// `ca.pem` in the temp dir (once made) and its profiles, which name it as `ca_file`.
    pub async fn start_tls(name: &str, mut tls: rekey::sim::Tls) -> Env {
        let dir = std::env::temp_dir().join(format!("rekey-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        tls.ca_file = Some(dir.join("ca.pem"));
        let sim = Simulator::start_tls(([127, 0, 0, 1], 0).into(), tls)
            .await
            .expect("simulator starts");
        sim.ca_pem().await.expect("certificates made");
        let config = dir.join("profiles.toml");
        std::fs::write(&config, sim.profiles_toml()).expect("write profiles");
        Env { sim, dir, config }
    }

    /// The demo profile's current password.
    pub fn password(&self, profile: &str) -> String {
        self.sim
            .credentials()
            .into_iter()
            .find(|a| a.profile == profile)
            .and_then(|a| a.password.map(|p| p.as_str().to_string()))
            .unwrap_or_default()
    }

    /// Rewrites `key = ...` of `profile` in the config (inserting it if absent).
    pub fn set(&self, profile: &str, key: &str, value: &str) {
        let text = std::fs::read_to_string(&self.config).expect("read profiles");
        std::fs::write(&self.config, set_key(&text, profile, key, value)).expect("write profiles");
    }

    /// Points `profile` at `url` (a quoted TOML string): its `iam_endpoint` for an IAM profile,
    /// else its `endpoint`.
    pub fn set_endpoint(&self, profile: &str, url: &str) {
        let key = if profile.starts_with("iam-") {
            "iam_endpoint"
        } else {
            "endpoint"
        };
        self.set(profile, key, url);
    }

    /// Runs `rekey change --profile NAME --json [extra]` with `stdin`, as a real process.
    pub async fn change(&self, profile: &str, stdin: &str, extra: &[&str]) -> Run {
        let mut args = vec!["change", "--profile", profile, "--json"];
        args.extend_from_slice(extra);
        self.rekey(&args, stdin).await
    }

    /// Runs `rekey ARGS` with `stdin`, in a blocking thread so the simulator keeps serving.
    pub async fn rekey(&self, args: &[&str], stdin: &str) -> Run {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let stdin = stdin.to_string();
        let config = self.config.clone();
        let data = self.dir.join("data");
        tokio::task::spawn_blocking(move || {
            let out = run_rekey(&args, &config, &data, &stdin);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            Run {
                code: out.status.code().unwrap_or(-1),
                json: serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null),
                stdout,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .expect("rekey ran")
    }
}

/// Runs the real `rekey ARGS` with `REKEY_CONFIG`/`REKEY_DATA_DIR` and `stdin`, to the end.
pub fn run_rekey<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    config: &Path,
    data: &Path,
    stdin: &str,
) -> Output {
    run_rekey_env(args, config, data, stdin, &[])
}

/// `rekey ARGS` as a child with `REKEY_CONFIG`/`REKEY_DATA_DIR` and `envs`, pipes for every
/// stream; the caller writes stdin and waits (or kills it).
pub fn spawn_rekey<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    config: &Path,
    data: &Path,
    envs: &[(&str, &str)],
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(args)
        .env("REKEY_CONFIG", config)
        .env("REKEY_DATA_DIR", data)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rekey")
}

/// Runs the real `rekey ARGS` with `REKEY_CONFIG`/`REKEY_DATA_DIR`, `envs` and `stdin`, to the end.
pub fn run_rekey_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    config: &Path,
    data: &Path,
    stdin: &str,
    envs: &[(&str, &str)],
) -> Output {
    let mut child = spawn_rekey(args, config, data, envs);
    // rekey may exit (usage error) before reading: a broken pipe here is expected then.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("wait")
}

/// A `TestBackend` screen as text, one line per row.
pub fn screen_text(buffer: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// `key = value` set inside the `[[profile]]` named `profile` of a profiles.toml text.
pub fn set_key(text: &str, profile: &str, key: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let name_line = format!("name = \"{profile}\"");
    let start = lines
        .iter()
        .position(|l| l.trim() == name_line)
        .unwrap_or_else(|| panic!("no profile {profile}"));
    let end = lines[start..]
        .iter()
        .position(|l| l.trim() == "[[profile]]")
        .map_or(lines.len(), |i| start + i);
    let prefix = format!("{key} =");
    let new_line = format!("{key} = {value}");
    match lines[start..end]
        .iter()
        .position(|l| l.starts_with(&prefix))
    {
        Some(i) => lines[start + i] = new_line,
        None => lines.insert(start + 1, new_line),
    }
    lines.join("\n") + "\n"
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}
