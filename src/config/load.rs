//! Finding and reading `profiles.toml`.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use directories::ProjectDirs;
use zeroize::Zeroizing;

use super::error::ConfigError;
use super::model::Config;
use super::parse::{parse, parse_each, position};

/// What [`load`] found.
#[derive(Debug)]
pub enum LoadOutcome {
    /// The file was read and is valid.
    Loaded(Config),
    /// There is no file at this path. Not an error for the console (SPEC §2): it opens with no
    /// profiles and says how to add one.
    Missing(PathBuf),
}

/// Where the config file is: `--config`, else `$REKEY_CONFIG` (when set and not empty), else
/// `profiles.toml` in the config dir of `ProjectDirs::from("", "", "rekey")`. `None` only when
/// no home directory can be found.
pub fn resolve_path(cli: Option<&Path>) -> Option<PathBuf> {
    resolve_path_from(cli, std::env::var_os("REKEY_CONFIG"), || {
        ProjectDirs::from("", "", "rekey").map(|dirs| dirs.config_dir().join("profiles.toml"))
    })
}

/// [`resolve_path`] with the environment and the default given (for tests).
fn resolve_path_from(
    cli: Option<&Path>,
    env: Option<OsString>,
    default: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(path) = cli {
        return Some(path.to_path_buf());
    }
    match env {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => default(),
    }
}

/// Reads, parses and validates the file at `path`, strictly (the headless commands: any error
/// is fatal). A file that does not exist is `Ok(LoadOutcome::Missing)`; one that cannot be read
/// or is invalid is an error.
pub fn load(path: &Path) -> Result<LoadOutcome, ConfigError> {
    read_with(path, parse)
}

/// Like [`load`], but each profile is validated on its own ([`parse_each`]): the console loads
/// the valid ones and marks the others. Only a problem with the whole file is an error.
pub fn load_each(path: &Path) -> Result<LoadOutcome, ConfigError> {
    read_with(path, parse_each)
}

fn read_with(
    path: &Path,
    parse: fn(&Path, &str) -> Result<Config, ConfigError>,
) -> Result<LoadOutcome, ConfigError> {
    // The file may hold `{ value = "..." }` secrets: keep the raw text in zeroizing memory.
    let bytes = match std::fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(LoadOutcome::Missing(path.to_path_buf()));
        }
        Err(e) => {
            let fix = match e.kind() {
                ErrorKind::PermissionDenied => {
                    "make the file readable by your user, e.g. chmod 600 on it"
                }
                ErrorKind::IsADirectory => {
                    "point --config or $REKEY_CONFIG at a file, not a directory"
                }
                _ => "check that the path names a readable file",
            };
            return Err(ConfigError::whole_file(
                path,
                format!("cannot read the config file: {e}"),
                fix,
            ));
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            // Everything before the bad byte is valid, so its position can be counted there.
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let (line, column) = position(valid, valid.len());
            return Err(ConfigError {
                path: path.to_path_buf(),
                line,
                column,
                message: "the file is not valid UTF-8".into(),
                fix: "save the file as UTF-8".into(),
            });
        }
    };
    parse(path, text).map(LoadOutcome::Loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_wins() {
        let got = resolve_path_from(
            Some(Path::new("/a/b.toml")),
            Some("/env.toml".into()),
            || Some("/default.toml".into()),
        );
        assert_eq!(got, Some(PathBuf::from("/a/b.toml")));
    }

    #[test]
    fn env_then_default() {
        let got = resolve_path_from(None, Some("/env.toml".into()), || {
            Some("/default.toml".into())
        });
        assert_eq!(got, Some(PathBuf::from("/env.toml")));
        let got = resolve_path_from(None, Some(OsString::new()), || Some("/default.toml".into()));
        assert_eq!(got, Some(PathBuf::from("/default.toml")));
        let got = resolve_path_from(None, None, || Some("/default.toml".into()));
        assert_eq!(got, Some(PathBuf::from("/default.toml")));
        assert_eq!(resolve_path_from(None, None, || None), None);
    }

    #[test]
    fn default_is_profiles_toml() {
        // With neither --config nor $REKEY_CONFIG the file is named profiles.toml.
        if std::env::var_os("REKEY_CONFIG").is_none()
            && let Some(path) = resolve_path(None)
        {
            assert!(path.ends_with("profiles.toml"), "{}", path.display());
        }
    }
}
