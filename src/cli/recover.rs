//! `rekey recover`: settles unsettled changes (SPEC §10.2), printing per profile what it found
//! and did. Exit 0 when all are settled, 1 when some still need an admin's answer, 2 on a
//! usage or configuration error.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use super::{load_config, load_state, runtime, usage_error};
use crate::change::settle::{self, Answers};
use crate::provider;
use crate::store::Store;

/// Runs `rekey recover`.
pub fn recover(cli_path: Option<&Path>, only: Option<&str>, as_json: bool, answers: Answers) -> u8 {
    let config = match load_config(cli_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Checks the data dir (refused when another user owns it or may write into it).
    let (mut known, dir) = match load_state() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(dir) = dir else {
        return usage_error("no data directory found; set REKEY_DATA_DIR");
    };
    if let Some(name) = only
        && !config.profiles.iter().any(|p| p.name == name)
    {
        return usage_error(format!(
            "no profile named `{name}` in {}",
            config.path.display()
        ));
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut rows = Vec::new();
    let mut open_left = false;
    for profile in config.profiles {
        if only.is_some_and(|n| n != profile.name) {
            continue;
        }
        let profile = Arc::new(profile);
        let reading = crate::change::unsettled(&dir, &profile.name);
        if let Some(w) = &reading.warning {
            say!("rekey: warning: {w}");
        }
        let store = Store::for_profile(&profile);
        // Profiles without an open journal and without a store have nothing to settle;
        // with a store, a pending password left by another machine is looked for.
        if reading.open.is_none() && store.is_none() {
            if only.is_some() {
                rows.push(row(
                    &profile.name,
                    &store,
                    "",
                    "nothing to settle",
                    true,
                    None,
                ));
            }
            continue;
        }
        if let Some(s) = &store
            && s.needs_unlock()
        {
            open_left |= reading.open.is_some();
            rows.push(row(
                &profile.name,
                &store,
                &reading.open.map(|o| o.describe()).unwrap_or_default(),
                &format!("{} needs a password to open ({{ prompt = true }}): settle it in the console (R)", s.label()),
                false,
                None,
            ));
            continue;
        }
        let client = match provider::client_for(&profile) {
            Ok(c) => Some(c),
            Err(e) => {
                say!(
                    "rekey: {}: cannot check with the provider: {e}",
                    profile.name
                );
                None
            }
        };
        let label = store.as_ref().map(Store::label);
        let result = runtime.block_on(settle::settle(
            client,
            profile.clone(),
            dir.clone(),
            store,
            answers,
            Arc::new(|_| {}),
        ));
        match result {
            Ok(s) => {
                if s.found.is_empty() && only.is_none() {
                    continue;
                }
                if let (Some(applied), true) = (s.applied, s.settled)
                    && let Err(e) = known.settle(&profile.name, applied, SystemTime::now())
                {
                    say!("rekey: warning: state.json not saved: {e}");
                }
                open_left |= !s.settled;
                let store = label.map(|l| l.to_string());
                rows.push(json!({
                    "profile": profile.name,
                    "store": store,
                    "found": (!s.found.is_empty()).then_some(s.found),
                    "did": s.did,
                    "settled": s.settled,
                    "applied": s.applied,
                }));
            }
            Err(e) => {
                open_left = true;
                rows.push(row(&profile.name, &None, "", &e.to_string(), false, None));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let written = if as_json {
        writeln!(
            out,
            "{}",
            crate::text::to_json_string_safe(&serde_json::Value::Array(rows))
        )
    } else if rows.is_empty() {
        writeln!(out, "nothing to settle")
    } else {
        rows.iter().try_for_each(|r| {
            let name = r["profile"].as_str().unwrap_or("?");
            if let Some(found) = r["found"].as_str() {
                writeln!(out, "{name}: {found}")?;
            }
            let mark = if r["settled"] == json!(true) {
                "settled"
            } else {
                "NOT settled"
            };
            writeln!(out, "{name}: {mark} — {}", r["did"].as_str().unwrap_or(""))
        })
    };
    // What was settled stays settled (and journaled): the exit code stands when the report
    // cannot be written.
    if let Err(e) = written.and_then(|()| out.flush()) {
        say!(
            "rekey: the report could not be written to stdout ({e}); the journal has what was done"
        );
    }
    u8::from(open_left)
}

fn row(
    name: &str,
    store: &Option<Store>,
    found: &str,
    did: &str,
    settled: bool,
    applied: Option<bool>,
) -> serde_json::Value {
    json!({
        "profile": name,
        "store": store.as_ref().map(Store::label),
        "found": (!found.is_empty()).then_some(found),
        "did": did,
        "settled": settled,
        "applied": applied,
    })
}
