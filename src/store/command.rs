//! The generic backend: `COMMAND... get|put|delete SLOT`, with `REKEY_PROFILE` and
//! `REKEY_ENTRY` in its environment. `put` reads the secret on stdin (exact bytes, no trailing
//! newline); `get` prints it on stdout (one trailing newline is removed). Exit 0 is success;
//! exit 3 from `get` means "slot empty" (and is accepted from `delete` as "already empty");
//! anything else is an error quoting the command's stderr, escaped and capped.

use std::ffi::OsString;

use zeroize::Zeroizing;

use super::run::{self, Finished, strip_one_newline};
use super::{Slot, Store, StoreError, utf8};

/// The exit code that means "this slot is empty".
pub const EXIT_EMPTY: i32 = 3;

fn run_command(
    store: &Store,
    argv: &[String],
    action: &str,
    slot: Slot,
    stdin: Option<&[u8]>,
) -> Result<Finished, StoreError> {
    let Some((program, prefix)) = argv.split_first() else {
        return Err(StoreError::Invalid(format!(
            "{}: `store.command` is empty",
            store.label()
        )));
    };
    let mut args: Vec<OsString> = prefix.iter().map(OsString::from).collect();
    args.push(action.into());
    args.push(slot.as_str().into());
    let mut env = store.env.clone();
    env.push(("REKEY_PROFILE".into(), store.profile.clone().into()));
    env.push(("REKEY_ENTRY".into(), store.entry.clone().into()));
    let shown = crate::text::escape(program);
    let inv = run::Invocation {
        program,
        args,
        env: &env,
        stdin,
        timeout: store.timeout,
        name: format!("store command `{shown} {action} {}`", slot.as_str()),
        missing: format!(
            "store command `{shown}` was not found (check `store.command` of profile `{}`)",
            crate::text::escape(&store.profile)
        ),
    };
    run::run(&inv)
}

fn failure(
    argv: &[String],
    action: &str,
    slot: Slot,
    out: &Finished,
    secrets: &[&str],
) -> StoreError {
    let program = argv.first().map_or("", String::as_str);
    StoreError::Failed(format!(
        "store command `{} {action} {}` failed: {}",
        crate::text::escape(program),
        slot.as_str(),
        out.describe(secrets)
    ))
}

pub(super) fn get(
    store: &Store,
    argv: &[String],
    slot: Slot,
) -> Result<Option<Zeroizing<String>>, StoreError> {
    let out = run_command(store, argv, "get", slot, None)?;
    match out.code() {
        Some(0) => {
            let text = utf8(strip_one_newline(&out.stdout), "the store command")?;
            if text.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "{}: `get {}` succeeded but printed nothing (exit {EXIT_EMPTY} means an \
                     empty slot)",
                    store.label(),
                    slot.as_str()
                )));
            }
            Ok(Some(text))
        }
        Some(EXIT_EMPTY) => Ok(None),
        _ => {
            // Whatever it printed on stdout may be the secret: keep it out of the message.
            let printed = String::from_utf8_lossy(strip_one_newline(&out.stdout)).into_owned();
            let printed = Zeroizing::new(printed);
            Err(failure(argv, "get", slot, &out, &[&printed]))
        }
    }
}

pub(super) fn put(
    store: &Store,
    argv: &[String],
    slot: Slot,
    secret: &str,
) -> Result<(), StoreError> {
    let out = run_command(store, argv, "put", slot, Some(secret.as_bytes()))?;
    if out.code() == Some(0) {
        return Ok(());
    }
    Err(failure(argv, "put", slot, &out, &[secret]))
}

pub(super) fn delete(store: &Store, argv: &[String], slot: Slot) -> Result<(), StoreError> {
    let out = run_command(store, argv, "delete", slot, None)?;
    if matches!(out.code(), Some(0 | EXIT_EMPTY)) {
        return Ok(());
    }
    Err(failure(argv, "delete", slot, &out, &[]))
}
