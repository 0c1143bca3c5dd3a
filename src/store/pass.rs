//! `pass` (the standard Unix password manager, 1.7): the slots are the entries `ENTRY`,
//! `ENTRY.rekey-pending` and `ENTRY.rekey-previous`. The first line of an entry is the
//! password; writing `current` keeps the entry's other lines (user name, URL, notes).
//!
//! `pass insert -m -f` reads the whole entry from stdin; `pass show` prints it; `pass rm -f`
//! deletes it. `--` ends the options so an entry can never be read as one. `pass` and the
//! store location follow rekey's environment (`PASSWORD_STORE_DIR`, `GNUPGHOME`, ...).

use std::ffi::OsString;

use zeroize::Zeroizing;

use super::run::{self, Finished};
use super::{Slot, Store, StoreError, utf8};

const PROGRAM: &str = "pass";

/// What `pass` says (stderr) about an entry that does not exist.
const NOT_IN_STORE: &str = "is not in the password store";

fn entry_name(store: &Store, slot: Slot) -> String {
    match slot {
        Slot::Current => store.entry.clone(),
        Slot::Pending => format!("{}.rekey-pending", store.entry),
        Slot::Previous => format!("{}.rekey-previous", store.entry),
    }
}

fn pass(
    store: &Store,
    action: &str,
    flags: &[&str],
    entry: &str,
    stdin: Option<&[u8]>,
) -> Result<Finished, StoreError> {
    let mut args: Vec<OsString> = vec![action.into()];
    args.extend(flags.iter().map(OsString::from));
    args.push("--".into());
    args.push(entry.into());
    run::run(&store.invocation(
        PROGRAM,
        args,
        stdin,
        format!("`pass {action}` ({})", store.label()),
        "pass is not installed (Debian: apt-get install pass)".into(),
    ))
}

/// The whole entry, None when it does not exist.
fn show(store: &Store, entry: &str) -> Result<Option<Zeroizing<String>>, StoreError> {
    let out = pass(store, "show", &[], entry, None)?;
    if out.status.success() {
        let text = utf8(&out.stdout, "`pass show`")?;
        // `pass show FOLDER` prints the folder as a tree instead of failing: the folder's name,
        // then lines drawn with box characters.
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        let tree = lines.next().is_some_and(|l| l.contains("── "));
        if tree && first.trim_end_matches('/') == entry.trim_end_matches('/') {
            return Err(StoreError::Invalid(format!(
                "{}: `{entry}` is a folder in the password store, not an entry",
                store.label()
            )));
        }
        return Ok(Some(text));
    }
    if out.stderr_text().contains(NOT_IN_STORE) {
        return Ok(None);
    }
    Err(StoreError::Failed(format!(
        "`pass show {entry}` failed: {}",
        out.describe(&[])
    )))
}

/// The entry's text split at the end of its first line: (password, rest including its "\n").
fn split_first_line(text: &str) -> (&str, &str) {
    match text.find('\n') {
        Some(at) => (text[..at].trim_end_matches('\r'), &text[at..]),
        None => (text, ""),
    }
}

pub(super) fn get(store: &Store, slot: Slot) -> Result<Option<Zeroizing<String>>, StoreError> {
    let Some(text) = show(store, &entry_name(store, slot))? else {
        return Ok(None);
    };
    let (password, _) = split_first_line(&text);
    let mut out = Zeroizing::new(String::with_capacity(password.len()));
    out.push_str(password);
    Ok(Some(out))
}

pub(super) fn put(store: &Store, slot: Slot, secret: &str) -> Result<(), StoreError> {
    let entry = entry_name(store, slot);
    // The new entry: the password as line 1, then what followed line 1 before (current only).
    let existing = match slot {
        Slot::Current => show(store, &entry)?,
        Slot::Pending | Slot::Previous => None,
    };
    let rest = existing
        .as_deref()
        .map(|text| split_first_line(text).1)
        .filter(|rest| !rest.is_empty())
        .unwrap_or("\n");
    let mut content = Zeroizing::new(Vec::with_capacity(secret.len() + rest.len()));
    content.extend_from_slice(secret.as_bytes());
    content.extend_from_slice(rest.as_bytes());
    let mut secrets: Vec<&str> = vec![secret];
    if let Some(old) = existing.as_deref() {
        secrets.push(split_first_line(old).0);
    }
    let out = pass(store, "insert", &["-m", "-f"], &entry, Some(&content))?;
    if out.status.success() {
        return Ok(());
    }
    Err(StoreError::Failed(format!(
        "`pass insert {entry}` failed: {}",
        out.describe(&secrets)
    )))
}

pub(super) fn delete(store: &Store, slot: Slot) -> Result<(), StoreError> {
    let entry = entry_name(store, slot);
    let out = pass(store, "rm", &["-f"], &entry, None)?;
    if out.status.success() || out.stderr_text().contains(NOT_IN_STORE) {
        return Ok(());
    }
    Err(StoreError::Failed(format!(
        "`pass rm {entry}` failed: {}",
        out.describe(&[])
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_split() {
        assert_eq!(split_first_line("pw"), ("pw", ""));
        assert_eq!(split_first_line("pw\n"), ("pw", "\n"));
        assert_eq!(split_first_line("pw\r\nuser: a\n"), ("pw", "\nuser: a\n"));
        assert_eq!(split_first_line("\nnotes"), ("", "\nnotes"));
    }
}
