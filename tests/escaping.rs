//! Hostile text from outside never reaches a terminal or a file raw (issue 8 §1), and the
//! smaller holes of issue 8 §5: each test runs the real `rekey` against the simulator.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{CANARY, Env, run_rekey_env};
use rekey::sim::{Fault, HOSTILE_REQUEST_ID, HOSTILE_TEXT, Route};
use rekey::text::is_dangerous;

/// A new password that passes every client-side policy of every demo profile.
const NEW: &str = "New#Pass2025x";

/// Every character of `text` that must never be written raw (a final line break is fine).
fn raw_dangerous(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| is_dangerous(*c) && *c != '\n')
        .collect()
}

fn dcs_input(env: &Env, new: &str) -> String {
    format!("{}\n{new}\n", env.password("redis-aksk"))
}

fn data(env: &Env) -> std::path::PathBuf {
    env.dir.join("data")
}

#[tokio::test]
async fn a_hostile_error_message_is_escaped_on_stderr_in_json_and_in_the_audit() {
    let env = Env::start("esc-hostile").await;

    // Without --json: the summary on stderr shows every escape as visible text.
    env.sim.inject(Route::DcsPassword, Fault::Hostile(400));
    let run = env
        .rekey(
            &["change", "--profile", "redis-aksk"],
            &dcs_input(&env, NEW),
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        raw_dangerous(&run.stderr),
        Vec::<char>::new(),
        "stderr: {:?}",
        run.stderr
    );
    assert_eq!(raw_dangerous(&run.stdout), Vec::<char>::new());
    for shown in [
        "\\u{1b}]52;c;",
        "\\u{7}",
        "\\u{1b}[2J",
        "\\u{9b}31m",
        "\\u{202e}",
    ] {
        assert!(run.stderr.contains(shown), "{shown} in {}", run.stderr);
    }

    // With --json: one object, every such character written as \uXXXX, nothing raw.
    env.sim.inject(Route::DcsPassword, Fault::Hostile(400));
    let run = env.change("redis-aksk", &dcs_input(&env, NEW), &[]).await;
    assert_eq!(run.outcome(), "bad_request", "{run:?}");
    assert_eq!(
        raw_dangerous(&run.stdout),
        Vec::<char>::new(),
        "{:?}",
        run.stdout
    );
    assert_eq!(
        raw_dangerous(&run.stderr),
        Vec::<char>::new(),
        "{:?}",
        run.stderr
    );
    for escape in [
        "\\u001b]52;c;",
        "\\u0007",
        "\\u001b[2J",
        "\\u009b",
        "\\u0085",
        "\\u202e",
        "\\u2066",
        "\\u200b",
        "\\u2028",
        "\\u2029",
        "\\u061c",
        "\\udb40\\udc41",
        "\\u007f",
    ] {
        assert!(run.stdout.contains(escape), "{escape} in {}", run.stdout);
    }
    // The escapes read back to exactly what the provider said.
    assert!(
        run.json["message"]
            .as_str()
            .is_some_and(|m| m.contains(HOSTILE_TEXT)),
        "{}",
        run.json["message"]
    );
    assert_eq!(run.json["request_id"], HOSTILE_REQUEST_ID);
    assert!(
        run.json["provider_code"]
            .as_str()
            .is_some_and(|c| c.contains('\u{1b}'))
    );

    // state.json and audit.jsonl: no raw character either; the audit keeps code and id.
    let state = std::fs::read_to_string(data(&env).join("state.json")).expect("state.json");
    assert_eq!(raw_dangerous(&state), Vec::<char>::new(), "{state:?}");
    let audit = std::fs::read_to_string(data(&env).join("audit.jsonl")).expect("audit");
    assert_eq!(raw_dangerous(&audit), Vec::<char>::new(), "{audit:?}");
    assert!(
        audit.contains("\\u009b") && audit.contains("\\u202e"),
        "{audit}"
    );
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("one parseable line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["request_id"], HOSTILE_REQUEST_ID);
        assert!(
            line["provider_code"]
                .as_str()
                .is_some_and(|c| c.contains("\u{1b}[2J"))
        );
    }
}

#[tokio::test]
async fn a_redirect_answering_the_change_request_is_unknown() {
    let env = Env::start("esc-redirect").await;
    for status in [302, 307, 308] {
        env.sim.inject(Route::DcsPassword, Fault::Redirect(status));
        let run = env.change("redis-aksk", &dcs_input(&env, NEW), &[]).await;
        assert_eq!(run.outcome(), "unknown", "{status}: {run:?}");
        assert_eq!(run.code, 5);
        assert_eq!(run.json["http_status"], status);
        assert!(
            run.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("may have been applied")),
            "{run:?}"
        );
        // An unknown leaves the profile unsettled: settle it before the next change.
        let settled = env
            .rekey(&["recover", "--profile", "redis-aksk", "--not-applied"], "")
            .await;
        assert_eq!(settled.code, 0, "{settled:?}");
    }
}

#[tokio::test]
async fn an_oversized_answer_keeps_its_http_status() {
    let env = Env::start("esc-oversized").await;
    for status in [200, 503] {
        env.sim.inject(Route::DcsPassword, Fault::Oversized(status));
        let run = env.change("redis-aksk", &dcs_input(&env, NEW), &[]).await;
        assert_eq!(run.outcome(), "unknown", "{status}: {run:?}");
        assert_eq!(run.json["http_status"], status, "{run:?}");
        assert!(
            run.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("too large")),
            "{run:?}"
        );
        let settled = env
            .rekey(&["recover", "--profile", "redis-aksk", "--not-applied"], "")
            .await;
        assert_eq!(settled.code, 0, "{settled:?}");
    }
    // The token request (before the change) keeps its status too, and nothing was sent.
    env.sim.inject(Route::IamToken, Fault::Oversized(401));
    let input = format!("{}\n{NEW}\n", env.password("iam-alice"));
    let run = env.change("iam-alice", &input, &[]).await;
    assert_eq!(run.outcome(), "network_error", "{run:?}");
    assert_eq!(run.json["http_status"], 401);
    assert_eq!(env.sim.requests(Route::IamPassword), 0);
}

#[tokio::test]
async fn a_tls_failure_reads_as_plain_words() {
    let env = Env::start("esc-tls").await;
    // https:// to a plain-HTTP server (one that answers at once, as a misconfigured port or a
    // captive proxy does): a real TLS failure from the real client.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    env.set(
        "redis-aksk",
        "endpoint",
        &format!("\"https://127.0.0.1:{port}\""),
    );
    let run = env.change("redis-aksk", &dcs_input(&env, NEW), &[]).await;
    assert_eq!(run.outcome(), "network_error", "{run:?}");
    let message = run.json["message"].as_str().unwrap_or_default();
    assert!(message.contains("did not answer in TLS"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    for debug in ["InvalidContentType", "Custom {", "kind:", "Error {"] {
        assert!(!message.contains(debug), "{debug} in {message}");
    }
    assert_eq!(env.sim.requests(Route::DcsPassword), 0);
}

#[tokio::test]
async fn a_ca_file_without_a_certificate_is_a_config_error_at_its_line() {
    let env = Env::start("esc-cafile").await;
    let key_only = env.dir.join("not-a-ca.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    env.set("redis-aksk", "ca_file", "\"not-a-ca.pem\"");
    let text = std::fs::read_to_string(&env.config).expect("config");
    let line = 1 + text
        .lines()
        .position(|l| l.starts_with("ca_file ="))
        .expect("ca_file line");
    for args in [
        &["profiles"][..],
        &["change", "--profile", "redis-aksk", "--json"][..],
    ] {
        let run = env.rekey(args, &dcs_input(&env, NEW)).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let at = format!("profiles.toml:{line}:11");
        assert!(run.stderr.contains(&at), "{at} in {}", run.stderr);
        assert!(
            run.stderr.contains("holds no certificate"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.sim.requests(Route::DcsPassword), 0);
    // An empty file too.
    std::fs::write(&key_only, "").expect("write");
    let run = env.rekey(&["profiles"], "").await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test]
async fn a_control_character_in_a_password_is_refused_and_nothing_is_sent() {
    let env = Env::start("esc-control").await;
    for (profile, token_route, change_route) in [
        ("iam-alice", Route::IamToken, Route::IamPassword),
        ("portal", Route::CiamToken, Route::CiamPassword),
        ("redis-aksk", Route::DcsPassword, Route::DcsPassword),
    ] {
        let before = env.password(profile);
        for (bad, name) in [
            ('\t', "a tab"),
            ('\0', "NUL"),
            ('\u{1b}', "ESC"),
            ('\u{7}', "BEL"),
        ] {
            // In the new password, and in the current one.
            for input in [
                format!("{before}\nNew#Pass{bad}2025x\n"),
                format!("{before}{bad}\n{NEW}\n"),
            ] {
                let run = env.change(profile, &input, &[]).await;
                assert_eq!(run.code, 2, "{profile} {name}: {run:?}");
                assert!(
                    run.stderr.contains("control character")
                        && run.stderr.contains(name)
                        && run.stderr.contains("nothing was sent"),
                    "{profile}: {}",
                    run.stderr
                );
                assert!(!run.stderr.contains(&before), "no password in the message");
                assert_eq!(run.json, serde_json::Value::Null, "nothing was attempted");
            }
        }
        assert_eq!(env.sim.requests(token_route), 0, "{profile}");
        assert_eq!(env.sim.requests(change_route), 0, "{profile}");
        assert_eq!(env.password(profile), before, "{profile}: unchanged");
    }
    // `rekey check` refuses such a candidate too, rather than checking a different one.
    let run = env
        .rekey(&["check", "--profile", "iam-alice"], "New#Pass\t2025x\n")
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("a tab"), "{}", run.stderr);
}

/// A profile whose secret is written in the file (`{ value = ... }`) for a remote endpoint.
const VALUE_SECRET_CONFIG: &str = r#"
[[profile]]
name = "remote"
kind = "huawei-dcs"
region = "cn-north-4"
project_id = "0123456789abcdef0123456789abcdef"
instance_id = "11111111-2222-3333-4444-555555555555"
endpoint = "https://dcs.example.invalid"
auth = { method = "aksk", access_key = { value = "AKEXAMPLE" }, secret_key = { value = "SKEXAMPLEsecret" } }
"#;

#[test]
fn headless_commands_print_config_warnings_on_stderr() {
    let dir = std::env::temp_dir().join(format!("rekey-it-{}-esc-warn", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("profiles.toml");
    std::fs::write(&config, VALUE_SECRET_CONFIG).expect("write");
    let data = dir.join("data");
    for (args, stdin) in [
        (&["profiles"][..], ""),
        (&["check", "--profile", "remote"][..], "New#Pass2025x\n"),
        // A new password that fails the policy: refused before anything is sent.
        (
            &["change", "--profile", "remote", "--json"][..],
            "old-one\nshort\n",
        ),
    ] {
        let out = run_rekey_env(args, &config, &data, stdin, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("warning:") && stderr.contains("profiles.toml:9:"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("secret_key"), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("SKEXAMPLEsecret"),
            "never the secret: {stderr}"
        );
        assert_eq!(
            stderr.matches("secret_key").count(),
            1,
            "said once: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `rekey ARGS` with the locked-memory limit at 0 (and, as root, without CAP_IPC_LOCK, which
/// would let mlock ignore the limit). `None` when this machine cannot set that up.
fn run_without_mlock(args: &[&str], config: &Path, data: &Path, stdin: &str) -> Option<String> {
    use std::io::Write;
    let root = rustix::process::geteuid().is_root();
    let script = if root {
        "ulimit -l 0 && exec setpriv --bounding-set=-ipc_lock -- \"$0\" \"$@\""
    } else {
        "ulimit -l 0 && exec \"$0\" \"$@\""
    };
    if root
        && Command::new("setpriv")
            .arg("--version")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
    {
        return None;
    }
    let mut child = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_rekey")])
        .args(args)
        .env("REKEY_CONFIG", config)
        .env("REKEY_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    let out = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn a_memory_lock_failure_is_said_once() {
    let env = Env::start("esc-mlock").await;
    let data = data(&env);
    // `check` reads one password, `change` two (and fails the policy: nothing sent).
    for (args, stdin) in [
        (
            &["check", "--profile", "iam-alice"][..],
            "New#Pass2025x\n".to_string(),
        ),
        (
            &["change", "--profile", "iam-alice"][..],
            format!("{}\nshort\n", env.password("iam-alice")),
        ),
    ] {
        let Some(stderr) = run_without_mlock(args, &env.config, &data, &stdin) else {
            eprintln!("skipped: setpriv is needed to drop CAP_IPC_LOCK as root");
            return;
        };
        assert_eq!(
            stderr.matches("cannot be locked in memory").count(),
            1,
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("ulimit -l"), "{stderr}");
    }
    // With the limit as it is, nothing is said.
    let run = env
        .rekey(&["check", "--profile", "iam-alice"], "New#Pass2025x\n")
        .await;
    if !run.stderr.contains("cannot be locked") {
        assert_eq!(run.code, 0, "{run:?}");
    }
}

#[tokio::test]
async fn a_panic_in_a_headless_change_prints_no_secret() {
    let env = Env::start("esc-panic").await;
    let old = env.password("redis-aksk");
    let input = format!("{old}\n{CANARY}\n");
    let data = data(&env);
    let config = env.config.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_rekey_env(
            &["change", "--profile", "redis-aksk", "--json"],
            &config,
            &data,
            &input,
            &[
                ("REKEY_CRASH_AT", "panic:after-answer"),
                ("RUST_BACKTRACE", "1"),
            ],
        )
    })
    .await
    .expect("ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "it panicked: {stderr}");
    for secret in [CANARY, old.as_str()] {
        assert!(!stdout.contains(secret), "stdout: {stdout}");
        assert!(!stderr.contains(secret), "stderr: {stderr}");
    }
    assert_eq!(raw_dangerous(&stderr), Vec::<char>::new(), "{stderr:?}");
}

#[tokio::test]
async fn a_paste_that_would_be_altered_is_refused_and_says_why() {
    use crossterm::event::{Event, KeyCode};
    use rekey::console::{Focus, Message};
    let env = Env::start("esc-paste").await;
    let mut ui = common::ui::Ui::new(&env);
    ui.select("iam-alice");
    ui.key(KeyCode::Enter);
    assert!(matches!(ui.app().focus, Focus::Field(_)));
    for (text, name) in [
        ("New#Pass2025x\n", "a line break"),
        ("New#Pass\t2025x", "a tab"),
        ("New#\u{1b}[2JPass", "ESC"),
        ("New#\u{7}Pass", "BEL"),
    ] {
        ui.console
            .sender()
            .send(Message::Input(Event::Paste(text.to_string())))
            .expect("queue");
        ui.console.process_queue().expect("draw");
        let status = ui.app().status.as_ref().map(|(_, t)| t.clone());
        let status = status.unwrap_or_default();
        assert!(
            status.contains("Paste refused") && status.contains(name),
            "{name}: {status}"
        );
        let editor = ui.app().editor.as_ref().expect("editor");
        assert!(
            editor.fields.iter().all(|f| f.buf.is_empty()),
            "nothing was inserted"
        );
        // The status bar shows it: it names the character, never the pasted text.
        assert!(ui.screen().contains("Paste refused"), "{}", ui.screen());
    }
    // A clean paste still works.
    ui.console
        .sender()
        .send(Message::Input(Event::Paste("New#Pass2025x".into())))
        .expect("queue");
    ui.console.process_queue().expect("draw");
    let editor = ui.app().editor.as_ref().expect("editor");
    assert!(editor.fields.iter().any(|f| f.buf.char_count() == 13));
}

/// A config mistake quotes what the user wrote through the one escaping function: a bidi
/// override or a zero-width mark in a kind or a key name is shown as `\u{…}`, never raw
/// (`char::escape_debug`, used before, let U+202E and U+200B through).
#[test]
fn config_errors_quote_hostile_names_escaped() {
    let dir = std::env::temp_dir().join(format!("rekey-it-{}-esc-config", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("profiles.toml");
    let data = dir.join("data");
    let cases = [
        "[[profile]]\nname = \"x\"\nkind = \"huawei\u{202e}-dcs\"\n",
        "[keys]\n\"quit\u{200b}\" = \"q\"\n",
        "[keys]\nquit = \"Ctrl-\u{202e}x\"\n",
    ];
    for text in cases {
        std::fs::write(&config, text).expect("write");
        let out = run_rekey_env(&["profiles"], &config, &data, "", &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(raw_dangerous(&stderr).is_empty(), "raw in: {stderr:?}");
        assert!(
            stderr.contains("\\u{202e}") || stderr.contains("\\u{200b}"),
            "{stderr}"
        );
    }
}
