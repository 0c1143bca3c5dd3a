//! Resolving a [`SecretSource`] to the secret itself, at the moment a request is built.
//!
//! The secret goes straight into a zeroizing string. Commands run without a shell, with stdin
//! and stderr closed, and their output is read into one fixed buffer (no reallocation leaves a
//! stray copy behind). Errors name the key, the program and its exit status, never the output.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};

use zeroize::Zeroizing;

use super::error::SecretError;
use super::model::SecretSource;

/// The most a `{ command = [...] }` source may print, in bytes.
pub const MAX_COMMAND_OUTPUT: usize = 64 * 1024;

impl SecretSource {
    /// Resolves the secret: reads the environment variable, runs the command (its stdout minus
    /// one trailing `"\n"` or `"\r\n"`) or copies the value. `key` names the secret in errors
    /// (e.g. `secret_key`). A `Prompt` source is an error: the console asks for it. This blocks
    /// until the command exits; call it off the UI thread.
    pub fn resolve(&self, key: &str) -> Result<Zeroizing<String>, SecretError> {
        self.resolve_with_env(key, |name| std::env::var_os(name))
    }

    /// [`SecretSource::resolve`] with the environment given as a lookup (for tests).
    pub(crate) fn resolve_with_env(
        &self,
        key: &str,
        env: impl FnOnce(&str) -> Option<OsString>,
    ) -> Result<Zeroizing<String>, SecretError> {
        match self {
            SecretSource::Prompt => Err(SecretError::Prompted { key: key.into() }),
            SecretSource::Env(name) => {
                let Some(value) = env(name) else {
                    return Err(SecretError::EnvNotSet {
                        key: key.into(),
                        name: name.clone(),
                    });
                };
                let value = value
                    .into_string()
                    .map_err(|_| SecretError::EnvNotUnicode {
                        key: key.into(),
                        name: name.clone(),
                    })?;
                let value = Zeroizing::new(value);
                if value.is_empty() {
                    return Err(SecretError::EnvEmpty {
                        key: key.into(),
                        name: name.clone(),
                    });
                }
                Ok(value)
            }
            SecretSource::Command(argv) => run(key, argv),
            SecretSource::Value(value) => {
                if value.is_empty() {
                    return Err(SecretError::ValueEmpty { key: key.into() });
                }
                let mut out = Zeroizing::new(String::with_capacity(value.len()));
                out.push_str(value);
                Ok(out)
            }
        }
    }
}

/// Runs `argv` without a shell and returns its stdout minus one trailing newline.
fn run(key: &str, argv: &[String]) -> Result<Zeroizing<String>, SecretError> {
    run_within(key, argv, COMMAND_TIMEOUT)
}

/// [`run`] with a time limit.
fn run_within(
    key: &str,
    argv: &[String],
    limit: std::time::Duration,
) -> Result<Zeroizing<String>, SecretError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(SecretError::EmptyCommand { key: key.into() });
    };
    let program_name = || crate::text::escape(program);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SecretError::Spawn {
            key: key.into(),
            program: program_name(),
            reason: e.to_string(),
        })?;

    // A command that hangs (a stuck pinentry, a network-backed vault) is stopped after
    // COMMAND_TIMEOUT so nothing waits forever: a watchdog kills it unless told it finished.
    let (finished, watch) = std::sync::mpsc::channel::<()>();
    let pid = child.id();
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = timed_out.clone();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(limit)
            && let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    });
    let result = read_output(key, &mut child, &program_name);
    let _ = finished.send(());
    if timed_out.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(SecretError::CommandTimedOut {
            key: key.into(),
            program: program_name(),
            seconds: limit.as_secs(),
        });
    }
    result
}

/// How long a `command` secret source may run.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Reads the child's stdout (capped), waits for it, and checks its status and output.
fn read_output(
    key: &str,
    child: &mut std::process::Child,
    program_name: &dyn Fn() -> String,
) -> Result<Zeroizing<String>, SecretError> {
    // One byte more than allowed, so "exactly the limit" and "too long" can be told apart.
    let mut buf = Zeroizing::new(vec![0u8; MAX_COMMAND_OUTPUT + 1]);
    let mut filled = 0;
    let read_result = match child.stdout.take() {
        Some(mut stdout) => loop {
            if filled == buf.len() {
                break Ok(());
            }
            match stdout.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        },
        None => Err(std::io::Error::other("stdout was not captured")),
    };
    if read_result.is_err() || filled > MAX_COMMAND_OUTPUT {
        // Best effort: the child is of no further use and must not linger.
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Err(e) = read_result {
        return Err(SecretError::CommandRead {
            key: key.into(),
            program: program_name(),
            reason: e.to_string(),
        });
    }
    if filled > MAX_COMMAND_OUTPUT {
        return Err(SecretError::CommandTooLong {
            key: key.into(),
            program: program_name(),
            limit: MAX_COMMAND_OUTPUT,
        });
    }
    let status = child.wait().map_err(|e| SecretError::CommandRead {
        key: key.into(),
        program: program_name(),
        reason: e.to_string(),
    })?;
    if !status.success() {
        return Err(SecretError::CommandFailed {
            key: key.into(),
            program: program_name(),
            status: describe(status),
        });
    }

    let output = strip_one_newline(&buf[..filled]);
    let text = std::str::from_utf8(output).map_err(|_| SecretError::CommandNotUtf8 {
        key: key.into(),
        program: program_name(),
    })?;
    if text.is_empty() {
        return Err(SecretError::CommandEmpty {
            key: key.into(),
            program: program_name(),
        });
    }
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    out.push_str(text);
    Ok(out)
}

/// `bytes` without one trailing `"\r\n"` or `"\n"`.
fn strip_one_newline(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes)
}

/// "exit status 3" or, on Unix, "killed by signal 9".
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY-s3cr3t-7Q";

    fn command(argv: &[&str]) -> SecretSource {
        SecretSource::Command(argv.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn env_found() {
        let source = SecretSource::Env("REKEY_TEST_VAR".into());
        let got = source
            .resolve_with_env("secret_key", |name| {
                assert_eq!(name, "REKEY_TEST_VAR");
                Some(OsString::from("abc\n"))
            })
            .unwrap();
        // Environment values are taken as they are: no newline is stripped.
        assert_eq!(got.as_str(), "abc\n");
    }

    #[test]
    fn env_missing_and_empty() {
        let source = SecretSource::Env("REKEY_TEST_VAR".into());
        let err = source.resolve_with_env("secret_id", |_| None).unwrap_err();
        assert!(matches!(err, SecretError::EnvNotSet { .. }));
        assert_eq!(
            err.to_string(),
            "`secret_id`: environment variable `REKEY_TEST_VAR` is not set"
        );
        let err = source
            .resolve_with_env("secret_id", |_| Some(OsString::new()))
            .unwrap_err();
        assert!(matches!(err, SecretError::EnvEmpty { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn env_not_unicode() {
        use std::os::unix::ffi::OsStringExt;
        let source = SecretSource::Env("V".into());
        let err = source
            .resolve_with_env("k", |_| Some(OsString::from_vec(vec![0xff, 0xfe])))
            .unwrap_err();
        assert!(matches!(err, SecretError::EnvNotUnicode { .. }));
    }

    #[test]
    fn env_real_environment() {
        // PATH is set in every environment the tests run in.
        let got = SecretSource::Env("PATH".into()).resolve("k").unwrap();
        assert_eq!(Some(got.as_str().into()), std::env::var_os("PATH"));
    }

    #[test]
    fn value_and_prompt() {
        let got = SecretSource::Value(Zeroizing::new(CANARY.into()))
            .resolve("password")
            .unwrap();
        assert_eq!(got.as_str(), CANARY);
        let err = SecretSource::Prompt.resolve("password").unwrap_err();
        assert!(err.to_string().contains("prompted in the console"));
        let err = SecretSource::Value(Zeroizing::new(String::new()))
            .resolve("password")
            .unwrap_err();
        assert!(matches!(err, SecretError::ValueEmpty { .. }));
    }

    #[test]
    fn newline_handling() {
        assert_eq!(strip_one_newline(b"abc"), b"abc");
        assert_eq!(strip_one_newline(b"abc\n"), b"abc");
        assert_eq!(strip_one_newline(b"abc\r\n"), b"abc");
        assert_eq!(strip_one_newline(b"abc\n\n"), b"abc\n");
        assert_eq!(strip_one_newline(b"abc\r"), b"abc\r");
        assert_eq!(strip_one_newline(b"\n"), b"");
        assert_eq!(strip_one_newline(b""), b"");
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_command_is_stopped() {
        let argv: Vec<String> = ["sleep", "30"].iter().map(|s| s.to_string()).collect();
        let start = std::time::Instant::now();
        let err = super::run_within("secret_key", &argv, std::time::Duration::from_millis(200))
            .expect_err("stopped");
        assert!(matches!(err, SecretError::CommandTimedOut { .. }), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert!(err.to_string().contains("did not finish"), "{err}");
    }

    #[test]
    fn command_output() {
        for (format, expected) in [
            ("%s", CANARY.to_string()),
            ("%s\n", CANARY.to_string()),
            ("%s\r\n", CANARY.to_string()),
            ("%s\n\n", format!("{CANARY}\n")),
            (" %s \n", format!(" {CANARY} ")),
        ] {
            let got = command(&["printf", format, CANARY]).resolve("k").unwrap();
            assert_eq!(got.as_str(), expected, "format {format:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn command_arguments_are_not_shell_expanded() {
        let got = command(&["printf", "%s", "$HOME;`x`*"])
            .resolve("k")
            .unwrap();
        assert_eq!(got.as_str(), "$HOME;`x`*");
    }

    #[cfg(unix)]
    #[test]
    fn command_failure_names_program_and_status_not_output() {
        let script = format!("printf '%s\\n' {CANARY}; printf '%s' {CANARY} >&2; exit 3");
        let err = command(&["sh", "-c", &script])
            .resolve("secret_key")
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SecretError::CommandFailed { .. }), "{text}");
        assert!(text.contains("`sh`"), "{text}");
        assert!(text.contains("exit status 3"), "{text}");
        assert!(text.contains("secret_key"), "{text}");
        assert!(!text.contains(CANARY), "{text}");
        assert!(!format!("{err:?}").contains(CANARY));
    }

    #[cfg(unix)]
    #[test]
    fn command_killed_by_signal() {
        let err = command(&["sh", "-c", "kill -9 $$"])
            .resolve("k")
            .unwrap_err();
        assert!(err.to_string().contains("signal 9"), "{err}");
    }

    #[test]
    fn command_not_found() {
        let err = command(&["rekey-no-such-program-9f2c", CANARY])
            .resolve("k")
            .unwrap_err();
        assert!(matches!(err, SecretError::Spawn { .. }), "{err}");
        assert!(err.to_string().contains("rekey-no-such-program-9f2c"));
        assert!(!err.to_string().contains(CANARY));
    }

    #[test]
    fn command_empty_argv() {
        let err = command(&[]).resolve("k").unwrap_err();
        assert!(matches!(err, SecretError::EmptyCommand { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn command_empty_output() {
        let err = command(&["printf", "\n"]).resolve("k").unwrap_err();
        assert!(matches!(err, SecretError::CommandEmpty { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn command_not_utf8() {
        let err = command(&["printf", "\\377"]).resolve("k").unwrap_err();
        assert!(matches!(err, SecretError::CommandNotUtf8 { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn command_too_long() {
        let err = command(&["head", "-c", "70000", "/dev/zero"])
            .resolve("k")
            .unwrap_err();
        assert!(matches!(err, SecretError::CommandTooLong { .. }), "{err}");
        let ok = command(&["sh", "-c", "head -c 65535 /dev/zero | tr '\\0' a; echo"])
            .resolve("k")
            .unwrap();
        assert_eq!(ok.len(), 65535);
    }
}
