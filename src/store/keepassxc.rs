//! KeePassXC through `keepassxc-cli` (2.7): the slots are the entries `ENTRY`,
//! `ENTRY (rekey pending)` and `ENTRY (rekey previous)`, in `ENTRY`'s group.
//!
//! Every command opens the database itself. What 2.7.4 reads from stdin (checked against the
//! real tool by `tests/stores.rs`): line 1 the database password (nothing with
//! `--no-password`), then for `add -p` and `edit -p` one line, the entry's password. `-q` is
//! not used: it also hides the "Invalid credentials" error of a wrong database password, and
//! without it only the unlock prompt goes to stderr (stdout of `show -a Password` is the
//! password line alone).
//!
//! `rm` moves an entry to the database's recycle bin when it has one (KeePassXC's own rule).

use std::ffi::OsString;

use zeroize::Zeroizing;

use super::run::{self, Finished, strip_one_newline};
use super::{Backend, Slot, Store, StoreError, utf8};
use crate::config::{SecretError, SecretSource};
use crate::secret::{SecretBuf, TOKEN_CAPACITY};

const PROGRAM: &str = "keepassxc-cli";

/// What keepassxc-cli says about a wrong database password or key file.
const BAD_CREDENTIALS: &str = "Invalid credentials";
/// What `show` and `edit` say about an entry that does not exist (`rm` says
/// "Entry ENTRY not found."; a missing database file is "Failed to open database file X: not
/// found", which must stay an error).
const NOT_FOUND: &str = "Could not find entry with path";
/// What `add` says when the entry's group does not exist (or the entry does).
const CANNOT_CREATE: &str = "Could not create entry";

fn entry_name(store: &Store, slot: Slot) -> String {
    match slot {
        Slot::Current => store.entry.clone(),
        Slot::Pending => format!("{} (rekey pending)", store.entry),
        Slot::Previous => format!("{} (rekey previous)", store.entry),
    }
}

/// The database password, resolved now (None with a key file only).
fn database_password(store: &Store) -> Result<Option<Zeroizing<String>>, StoreError> {
    let Backend::Keepassxc {
        database_password, ..
    } = &store.backend
    else {
        return Ok(None);
    };
    let Some(source) = database_password else {
        return Ok(None);
    };
    let password = match (source, &store.unlock) {
        (SecretSource::Prompt, Some(typed)) => {
            let mut out = Zeroizing::new(String::with_capacity(typed.len_bytes()));
            out.push_str(typed.expose());
            out
        }
        (SecretSource::Prompt, None) => {
            return Err(StoreError::NeedsPassword(format!(
                "{}: the database password is needed (it is typed, `database_password = \
                 {{ prompt = true }}`)",
                store.label()
            )));
        }
        (source, _) => {
            let mut cache = store
                .resolved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.is_none() {
                let value = source
                    .resolve("store.database_password")
                    .map_err(|e| match e {
                        SecretError::Prompted { .. } => StoreError::NeedsPassword(e.to_string()),
                        other => StoreError::Failed(format!("{}: {other}", store.label())),
                    })?;
                let mut buf = SecretBuf::new(TOKEN_CAPACITY);
                buf.insert_str(&value).map_err(|full| {
                    StoreError::Invalid(format!(
                        "{}: the database password is too long ({full})",
                        store.label()
                    ))
                })?;
                *cache = Some(buf);
            }
            let cached = cache.as_ref().map(SecretBuf::expose).unwrap_or_default();
            let mut out = Zeroizing::new(String::with_capacity(cached.len()));
            out.push_str(cached);
            out
        }
    };
    if password.contains(['\n', '\r']) {
        return Err(StoreError::Invalid(format!(
            "{}: the database password contains a line break; keepassxc-cli reads one line",
            store.label()
        )));
    }
    Ok(Some(password))
}

/// Runs `keepassxc-cli ACTION [key options] FLAGS -- DATABASE ARGS`, with the database
/// password (if any) and then `extra_line` (if any) on stdin, one line each.
fn cli(
    store: &Store,
    action: &str,
    flags: &[&str],
    positional: &[&str],
    extra_line: Option<&str>,
) -> Result<(Finished, Option<Zeroizing<String>>), StoreError> {
    let Backend::Keepassxc {
        database, key_file, ..
    } = &store.backend
    else {
        return Err(StoreError::Invalid("not a keepassxc store".into()));
    };
    let password = database_password(store)?;
    if password.is_none() && key_file.is_none() {
        return Err(StoreError::Invalid(format!(
            "{}: a keepassxc store needs `database_password` or `key_file`",
            store.label()
        )));
    }
    let mut args: Vec<OsString> = vec![action.into()];
    if let Some(key_file) = key_file {
        args.push("-k".into());
        args.push(key_file.into());
    }
    if password.is_none() {
        args.push("--no-password".into());
    }
    args.extend(flags.iter().map(OsString::from));
    args.push("--".into());
    args.push(database.into());
    args.extend(positional.iter().map(OsString::from));

    let mut input = Zeroizing::new(Vec::with_capacity(
        password.as_ref().map_or(0, |p| p.len() + 1) + extra_line.map_or(0, |l| l.len() + 1),
    ));
    for line in password
        .as_deref()
        .map(String::as_str)
        .into_iter()
        .chain(extra_line)
    {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let out = run::run(&store.invocation(
        PROGRAM,
        args,
        Some(&input),
        format!("`keepassxc-cli {action}` ({})", store.label()),
        "keepassxc-cli is not installed (Debian: apt-get install keepassxc)".into(),
    ))?;
    Ok((out, password))
}

/// The error for a failed run: a refused database password, or the tool's own words.
fn failure(store: &Store, action: &str, out: &Finished, secrets: &[&str]) -> StoreError {
    if out.stderr_text().contains(BAD_CREDENTIALS) {
        let Backend::Keepassxc { database, .. } = &store.backend else {
            return StoreError::Failed(String::new());
        };
        return StoreError::NeedsPassword(format!(
            "{}: the database {} did not open: wrong database password or key file",
            store.label(),
            crate::text::escape(&database.display().to_string())
        ));
    }
    StoreError::Failed(format!(
        "`keepassxc-cli {action}` ({}) failed: {}",
        store.label(),
        out.describe(secrets)
    ))
}

fn not_found(out: &Finished, entry: &str) -> bool {
    let said = out.stderr_text();
    said.contains(NOT_FOUND) || said.contains(&format!("Entry {entry} not found."))
}

pub(super) fn get(store: &Store, slot: Slot) -> Result<Option<Zeroizing<String>>, StoreError> {
    let entry = entry_name(store, slot);
    let (out, password) = cli(store, "show", &["-a", "Password"], &[&entry], None)?;
    if out.status.success() {
        return utf8(strip_one_newline(&out.stdout), "`keepassxc-cli show`").map(Some);
    }
    let secrets: Vec<&str> = password
        .as_deref()
        .map(String::as_str)
        .into_iter()
        .collect();
    if !out.stderr_text().contains(BAD_CREDENTIALS) && not_found(&out, &entry) {
        return Ok(None);
    }
    Err(failure(store, "show", &out, &secrets))
}

pub(super) fn put(store: &Store, slot: Slot, secret: &str) -> Result<(), StoreError> {
    let entry = entry_name(store, slot);
    let (out, password) = cli(store, "edit", &["-p"], &[&entry], Some(secret))?;
    let mut secrets: Vec<&str> = vec![secret];
    secrets.extend(password.as_deref().map(String::as_str));
    if out.status.success() {
        return Ok(());
    }
    if out.stderr_text().contains(BAD_CREDENTIALS) || !not_found(&out, &entry) {
        return Err(failure(store, "edit", &out, &secrets));
    }
    // A new entry. Its group must exist first: try, and on "could not create" make each
    // level of the group path, then try again.
    let (out, _) = cli(store, "add", &["-p"], &[&entry], Some(secret))?;
    if out.status.success() {
        return Ok(());
    }
    let parents = group_paths(&entry);
    if !out.stderr_text().contains(CANNOT_CREATE) || parents.is_empty() {
        return Err(failure(store, "add", &out, &secrets));
    }
    for group in &parents {
        let (out, _) = cli(store, "mkdir", &[], &[group], None)?;
        // An existing group is fine; anything else shows up when `add` fails again.
        if out.stderr_text().contains(BAD_CREDENTIALS) {
            return Err(failure(store, "mkdir", &out, &secrets));
        }
    }
    let (out, _) = cli(store, "add", &["-p"], &[&entry], Some(secret))?;
    if out.status.success() {
        return Ok(());
    }
    Err(failure(store, "add", &out, &secrets))
}

/// "A/B/entry" → ["A", "A/B"].
fn group_paths(entry: &str) -> Vec<String> {
    let parts: Vec<&str> = entry.trim_start_matches('/').split('/').collect();
    (1..parts.len()).map(|n| parts[..n].join("/")).collect()
}

pub(super) fn delete(store: &Store, slot: Slot) -> Result<(), StoreError> {
    let entry = entry_name(store, slot);
    let (out, password) = cli(store, "rm", &[], &[&entry], None)?;
    if out.status.success() {
        return Ok(());
    }
    if !out.stderr_text().contains(BAD_CREDENTIALS) && not_found(&out, &entry) {
        return Ok(());
    }
    let secrets: Vec<&str> = password
        .as_deref()
        .map(String::as_str)
        .into_iter()
        .collect();
    Err(failure(store, "rm", &out, &secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_an_entry_path() {
        assert_eq!(group_paths("entry"), Vec::<String>::new());
        assert_eq!(group_paths("Cloud/redis"), vec!["Cloud"]);
        assert_eq!(group_paths("/A/B/e (rekey pending)"), vec!["A", "A/B"]);
    }
}
