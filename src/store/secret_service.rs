//! The desktop keyring (Secret Service over D-Bus) through `secret-tool` (libsecret-tools):
//! one item per slot with the attributes `application=rekey`, `profile=NAME`,
//! `slot=current|pending|previous`, labelled "rekey: ENTRY (SLOT)".
//!
//! `secret-tool store` reads the secret from stdin to its end (exact bytes) and replaces an
//! item with the same attributes; `lookup` prints it as stored; `clear` deletes. Both `lookup`
//! and `clear` exit 1 without a word when there is no such item.

use std::ffi::OsString;

use zeroize::Zeroizing;

use super::run::{self, Finished};
use super::{Slot, Store, StoreError, utf8};

const PROGRAM: &str = "secret-tool";

fn attributes(store: &Store, slot: Slot) -> Vec<OsString> {
    [
        "application",
        "rekey",
        "profile",
        &store.profile,
        "slot",
        slot.as_str(),
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

fn secret_tool(
    store: &Store,
    action: &str,
    mut args: Vec<OsString>,
    slot: Slot,
    stdin: Option<&[u8]>,
) -> Result<Finished, StoreError> {
    args.insert(0, action.into());
    args.extend(attributes(store, slot));
    run::run(
        &store.invocation(
            PROGRAM,
            args,
            stdin,
            format!("`secret-tool {action}` ({})", store.label()),
            "secret-tool is not installed (Debian: apt-get install libsecret-tools gnome-keyring)"
                .into(),
        ),
    )
}

/// True for "no such item": exit 1 and nothing on stderr.
fn nothing_there(out: &Finished) -> bool {
    out.code() == Some(1) && out.stderr_text().trim().is_empty()
}

fn failure(store: &Store, action: &str, out: &Finished, secrets: &[&str]) -> StoreError {
    let said = out.stderr_text();
    let hint = if said.contains("D-Bus") || said.contains("Could not connect") {
        " (is a Secret Service, e.g. gnome-keyring-daemon, running in this session? \
         DBUS_SESSION_BUS_ADDRESS must point to its bus)"
    } else if said.contains("collection") {
        " (the keyring has no default collection, or it is locked)"
    } else {
        ""
    };
    StoreError::Failed(format!(
        "`secret-tool {action}` ({}) failed: {}{hint}",
        store.label(),
        out.describe(secrets)
    ))
}

pub(super) fn get(store: &Store, slot: Slot) -> Result<Option<Zeroizing<String>>, StoreError> {
    let out = secret_tool(store, "lookup", Vec::new(), slot, None)?;
    if out.status.success() {
        return utf8(&out.stdout, "`secret-tool lookup`").map(Some);
    }
    if nothing_there(&out) {
        return Ok(None);
    }
    Err(failure(store, "lookup", &out, &[]))
}

pub(super) fn put(store: &Store, slot: Slot, secret: &str) -> Result<(), StoreError> {
    let label = format!("--label=rekey: {} ({})", store.entry, slot.as_str());
    let out = secret_tool(
        store,
        "store",
        vec![label.into()],
        slot,
        Some(secret.as_bytes()),
    )?;
    if out.status.success() {
        return Ok(());
    }
    Err(failure(store, "store", &out, &[secret]))
}

pub(super) fn delete(store: &Store, slot: Slot) -> Result<(), StoreError> {
    let out = secret_tool(store, "clear", Vec::new(), slot, None)?;
    if out.status.success() || nothing_there(&out) {
        return Ok(());
    }
    Err(failure(store, "clear", &out, &[]))
}
