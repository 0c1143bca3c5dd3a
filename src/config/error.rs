//! The two error types of this module: a config file that cannot be used, and a secret that
//! cannot be resolved. Neither ever carries a secret value.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why `profiles.toml` could not be used: the file, the 1-based line and column, what was
/// expected and how to fix it.
///
/// `Display` prints `{path}:{line}:{column}: {message}` and, on the next line,
/// `  fix: {fix}`. When the file could not be read at all, `line` and `column` are 0 and the
/// location is printed as `{path}` alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}\n  fix: {fix}", Location { path, line: *line, column: *column })]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// 1-based line, or 0 when the file could not be read.
    pub line: usize,
    /// 1-based column in characters, or 0 when the file could not be read.
    pub column: usize,
    /// What is wrong and what was expected. Never contains a secret value.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl ConfigError {
    /// An error about the whole file (it could not be read), without a position.
    pub fn whole_file(path: &Path, message: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// `path:line:column`, or `path` alone for a position-less error.
struct Location<'a> {
    path: &'a Path,
    line: usize,
    column: usize,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
        }
    }
}

/// Why a secret source could not be resolved. Names the key and, for a command, the program and
/// its exit status; never the secret or anything the command printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `{ prompt = true }`: the value has to be typed into the console.
    #[error("`{key}` is prompted in the console; it cannot be resolved here")]
    Prompted {
        /// The secret's key, e.g. `secret_key`.
        key: String,
    },
    /// `{ env = "NAME" }` and the variable is not set.
    #[error("`{key}`: environment variable `{name}` is not set")]
    EnvNotSet {
        /// The secret's key.
        key: String,
        /// The variable's name.
        name: String,
    },
    /// `{ env = "NAME" }` and the variable is set but empty.
    #[error("`{key}`: environment variable `{name}` is empty")]
    EnvEmpty {
        /// The secret's key.
        key: String,
        /// The variable's name.
        name: String,
    },
    /// `{ env = "NAME" }` and the variable is not valid UTF-8.
    #[error("`{key}`: environment variable `{name}` is not valid UTF-8")]
    EnvNotUnicode {
        /// The secret's key.
        key: String,
        /// The variable's name.
        name: String,
    },
    /// `{ command = [] }`: nothing to run.
    #[error("`{key}`: the command is empty")]
    EmptyCommand {
        /// The secret's key.
        key: String,
    },
    /// The command could not be started (not found, not executable, ...).
    #[error("`{key}`: could not run `{program}`: {reason}")]
    Spawn {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The command ran and did not exit with status 0. Its output is not shown.
    #[error("`{key}`: `{program}` failed ({status}); its output is not shown")]
    CommandFailed {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
        /// e.g. `exit status 1` or `killed by signal 9`.
        status: String,
    },
    /// Reading the command's output failed.
    #[error("`{key}`: could not read the output of `{program}`: {reason}")]
    CommandRead {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The command printed more than [`crate::config::MAX_COMMAND_OUTPUT`] bytes.
    #[error("`{key}`: `{program}` printed more than {limit} bytes; expected just the secret")]
    CommandTooLong {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The command did not finish in time and was killed.
    #[error("`{key}`: `{program}` did not finish within {seconds} s and was stopped")]
    CommandTimedOut {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
        /// The limit in seconds.
        seconds: u64,
    },
    /// The command's output is not valid UTF-8.
    #[error("`{key}`: the output of `{program}` is not valid UTF-8")]
    CommandNotUtf8 {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
    },
    /// The command printed nothing (or only a newline).
    #[error("`{key}`: `{program}` printed nothing")]
    CommandEmpty {
        /// The secret's key.
        key: String,
        /// `argv[0]`.
        program: String,
    },
    /// `{ value = "" }`, only possible for a source built in code (the loader refuses it).
    #[error("`{key}`: the value is empty")]
    ValueEmpty {
        /// The secret's key.
        key: String,
    },
}
