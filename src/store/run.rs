//! Running a store tool: no shell, an explicit stdin, a time limit, and output held in
//! zeroizing buffers of a fixed size.
//!
//! The child runs in its own process group so a timeout kills whatever it started too (pass
//! runs gpg, a wrapper script runs its tool). Its stdout and stderr are read on two threads
//! while the caller writes stdin and waits, so a chatty tool never blocks on a full pipe.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use super::StoreError;

/// The most stdout a store tool may print (a whole `pass` entry with its notes).
pub(crate) const MAX_STDOUT: usize = 64 * 1024;

/// The most stderr kept for a message; the rest is read and dropped.
const MAX_STDERR: usize = 8 * 1024;

/// How long to wait for the output pipes to close once the tool has exited.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Messages quote at most this many characters of a tool's stderr.
const MAX_QUOTED_CHARS: usize = 300;

/// One run of a store tool.
pub(crate) struct Invocation<'a> {
    /// `argv[0]`.
    pub program: &'a str,
    /// The arguments after it (never a secret).
    pub args: Vec<OsString>,
    /// Extra environment for the child.
    pub env: &'a [(OsString, OsString)],
    /// Bytes written to stdin, then closed; None gives the child `/dev/null`.
    pub stdin: Option<&'a [u8]>,
    /// The time limit; the child's process group is killed after it.
    pub timeout: Duration,
    /// How the command is named in messages: "`pass show`".
    pub name: String,
    /// The message when the program is not installed.
    pub missing: String,
}

/// What a finished tool left behind.
pub(crate) struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout (at most [`MAX_STDOUT`] bytes; more is an error before this is built).
    pub stdout: Zeroizing<Vec<u8>>,
    /// Its stderr, the first [`MAX_STDERR`] bytes.
    pub stderr: Zeroizing<Vec<u8>>,
}

impl Finished {
    /// The exit code, None when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stderr as (lossy) text, for matching a tool's known messages.
    pub fn stderr_text(&self) -> Zeroizing<String> {
        Zeroizing::new(String::from_utf8_lossy(&self.stderr).into_owned())
    }

    /// "exit status 1: <stderr, escaped and capped, secrets removed>".
    pub fn describe(&self, secrets: &[&str]) -> String {
        let status = describe_status(self.status);
        let said = quote_stderr(&self.stderr, secrets);
        if said.is_empty() {
            status
        } else {
            format!("{status}: {said}")
        }
    }
}

/// Runs the tool to the end (or the time limit).
pub(crate) fn run(inv: &Invocation<'_>) -> Result<Finished, StoreError> {
    let mut command = Command::new(inv.program);
    command
        .args(&inv.args)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::Missing(inv.missing.clone())
        } else {
            StoreError::Failed(format!("cannot run {}: {e}", inv.name))
        }
    })?;

    let (finished, watch) = mpsc::channel::<()>();
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = spawn_watchdog(child.id(), inv.timeout, watch, timed_out.clone());

    let stdout = read_in_background(child.stdout.take(), MAX_STDOUT);
    let stderr = read_in_background(child.stderr.take(), MAX_STDERR);
    let write_result = write_stdin(&mut child, inv.stdin);
    let status = child.wait();
    let _ = finished.send(());
    let _ = watchdog.join();

    if timed_out.load(Ordering::SeqCst) {
        return Err(StoreError::Timeout(format!(
            "{} did not finish within {} s and was stopped",
            inv.name,
            inv.timeout.as_secs().max(1)
        )));
    }
    let status = status
        .map_err(|e| StoreError::Failed(format!("{} could not be waited for: {e}", inv.name)))?;
    let left_open = || {
        StoreError::Failed(format!(
            "{} exited but something it started kept its output open",
            inv.name
        ))
    };
    let stdout = stdout.recv_timeout(PIPE_GRACE).map_err(|_| left_open())?;
    let stderr = stderr.recv_timeout(PIPE_GRACE).map_err(|_| left_open())?;
    let (stdout, stdout_overflow) =
        stdout.map_err(|e| StoreError::Failed(format!("reading from {} failed: {e}", inv.name)))?;
    let (stderr, _) =
        stderr.map_err(|e| StoreError::Failed(format!("reading from {} failed: {e}", inv.name)))?;
    if stdout_overflow {
        return Err(StoreError::Invalid(format!(
            "{} printed more than {MAX_STDOUT} bytes; rekey does not use such output",
            inv.name
        )));
    }
    if let Err(e) = write_result {
        return Err(StoreError::Failed(format!(
            "writing to {} failed: {e}",
            inv.name
        )));
    }
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// Kills the child's process group unless told within `limit` that it finished.
fn spawn_watchdog(
    pid: u32,
    limit: Duration,
    watch: mpsc::Receiver<()>,
    timed_out: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(limit)
            && let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        {
            timed_out.store(true, Ordering::SeqCst);
            // The group first (what the tool started), then the tool itself in case it left
            // the group; errors mean there was nothing left to kill.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    })
}

/// Writes the input and closes stdin. A tool that exits without reading it (a broken pipe) is
/// judged by its exit status instead.
fn write_stdin(child: &mut Child, input: Option<&[u8]>) -> std::io::Result<()> {
    let (Some(input), Some(mut pipe)) = (input, child.stdin.take()) else {
        return Ok(());
    };
    match pipe.write_all(input).and_then(|()| pipe.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

type Captured = std::io::Result<(Zeroizing<Vec<u8>>, bool)>;

/// Reads a pipe to its end on a thread: the first `cap` bytes are kept, the rest is read and
/// wiped (so the tool never blocks), and the flag says whether there was more.
fn read_in_background<R: PipeRead>(pipe: Option<R>, cap: usize) -> mpsc::Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = match pipe {
            Some(pipe) => read_capped(pipe, cap),
            None => Ok((Zeroizing::new(Vec::new()), false)),
        };
        let _ = tx.send(result);
    });
    rx
}

/// A child's stdout or stderr.
trait PipeRead: Read + Send + 'static {}
impl PipeRead for ChildStdout {}
impl PipeRead for ChildStderr {}

fn read_capped(mut pipe: impl Read, cap: usize) -> Captured {
    // Allocated once at full size: no reallocation leaves a copy of the output behind.
    let mut buf = Zeroizing::new(vec![0u8; cap]);
    let mut filled = 0;
    let mut overflow = false;
    let mut scratch = Zeroizing::new([0u8; 4096]);
    loop {
        let target: &mut [u8] = if filled < cap {
            &mut buf[filled..]
        } else {
            &mut scratch[..]
        };
        match pipe.read(target) {
            Ok(0) => break,
            Ok(n) if filled < cap => filled += n,
            Ok(_) => {
                overflow = true;
                scratch.zeroize();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok((buf, overflow))
}

/// "exit status 3" or "killed by signal 9".
pub(crate) fn describe_status(status: ExitStatus) -> String {
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

/// A tool's stderr fit for a message: every given secret removed, prompts dropped, lines
/// joined with "; ", control characters escaped, capped at [`MAX_QUOTED_CHARS`] with "…".
pub(crate) fn quote_stderr(stderr: &[u8], secrets: &[&str]) -> String {
    let mut text = Zeroizing::new(String::from_utf8_lossy(stderr).into_owned());
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = Zeroizing::new(text.replace(secret, "[redacted]"));
        }
    }
    let joined = text
        .lines()
        .map(str::trim)
        // keepassxc-cli's unlock prompt goes to stderr; it says nothing about the failure.
        .filter(|line| !line.is_empty() && !line.starts_with("Enter password to unlock"))
        .collect::<Vec<_>>()
        .join("; ");
    let escaped = crate::text::escape(&joined);
    cap_chars(&escaped, MAX_QUOTED_CHARS)
}

/// `text` cut to `max` characters, with "…" when it was longer.
pub(crate) fn cap_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `bytes` without one trailing `"\r\n"` or `"\n"`.
pub(crate) fn strip_one_newline(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation<'a>(program: &'a str, args: &[&str], stdin: Option<&'a [u8]>) -> Invocation<'a> {
        Invocation {
            program,
            args: args.iter().map(OsString::from).collect(),
            env: &[],
            stdin,
            timeout: Duration::from_secs(10),
            name: format!("`{program}`"),
            missing: format!("{program} is not installed"),
        }
    }

    #[test]
    fn stdin_is_passed_exactly_and_output_captured() {
        let out = run(&invocation("cat", &[], Some(b"a b\n\0c"))).expect("runs");
        assert!(out.status.success());
        assert_eq!(&out.stdout[..], b"a b\n\0c");
    }

    #[test]
    fn no_stdin_means_dev_null() {
        let out = run(&invocation("cat", &[], None)).expect("runs");
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn missing_program() {
        let err = run(&invocation("rekey-no-such-tool-4k2", &[], None)).err();
        assert_eq!(
            err,
            Some(StoreError::Missing(
                "rekey-no-such-tool-4k2 is not installed".into()
            ))
        );
    }

    #[test]
    fn a_hang_is_killed_with_what_it_started() {
        let mut inv = invocation("sh", &["-c", "sleep 30 & sleep 30; wait"], None);
        inv.timeout = Duration::from_millis(300);
        let start = std::time::Instant::now();
        let err = run(&inv).err();
        assert!(matches!(err, Some(StoreError::Timeout(_))), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn too_much_output_is_invalid_and_does_not_block() {
        let inv = invocation("head", &["-c", "200000", "/dev/zero"], None);
        let err = run(&inv).err();
        assert!(matches!(err, Some(StoreError::Invalid(_))), "{err:?}");
        let inv = invocation("head", &["-c", "65536", "/dev/zero"], None);
        assert_eq!(run(&inv).expect("fits").stdout.len(), MAX_STDOUT);
    }

    #[test]
    fn large_stderr_is_drained_and_capped() {
        let inv = invocation(
            "sh",
            &["-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 4"],
            None,
        );
        let out = run(&inv).expect("runs");
        assert_eq!(out.code(), Some(4));
        assert_eq!(out.stderr.len(), MAX_STDERR);
        let said = out.describe(&[]);
        assert!(said.starts_with("exit status 4: xxx"), "{said}");
        assert!(said.ends_with('…'), "{said}");
    }

    #[test]
    fn quoting_escapes_redacts_and_drops_prompts() {
        let said = quote_stderr(
            b"Enter password to unlock /x.kdbx: \nbad \x1b[31mred\x1b[0m hunter2\n\nnext\n",
            &["hunter2"],
        );
        assert_eq!(said, "bad \\u{1b}[31mred\\u{1b}[0m [redacted]; next");
        assert_eq!(cap_chars("ééé", 2), "éé…");
        assert_eq!(cap_chars("éé", 2), "éé");
    }
}
