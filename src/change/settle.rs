//! Settling an unsettled change (SPEC §10.2): decide whether the provider took the pending
//! password, without spending a retry where the provider allows, then promote or abort.
//! `rekey recover` and the console's `R` both come here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::journal::{Journal, Open, Record, Step};
use super::{abandon, blocking, lock, promote, write};
use crate::config::{Kind, Operate, Profile};
use crate::provider::{self, LogSink, Options, Outcome, SetupError, TypedSecrets};
use crate::secret::SecretBuf;
use crate::store::{Slot, Store};

/// The change id prefix of a pending password found in the store without an open journal.
const FOREIGN: &str = "found-";

/// What the admin (or `--yes`) has said about this settle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answers {
    /// `--applied` (Some(true)) / `--not-applied` (Some(false)): what the admin verified.
    pub applied: Option<bool>,
    /// `--yes` (console: the confirmation): a Tencent BM change may be resent to settle it, and
    /// a pending password left by another process may be removed when a check says it was not
    /// applied.
    pub resend: bool,
}

/// What settling one profile found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// What was unsettled, in words (empty when nothing was).
    pub found: String,
    /// What rekey did or what the admin must do, in words.
    pub did: String,
    /// Settled now (or nothing to settle).
    pub settled: bool,
    /// Whether the provider took the pending password, when that was decided.
    pub applied: Option<bool>,
}

/// The decision about an open change.
enum Decision {
    Applied(String),
    NotApplied(String),
    NeedsAdmin(String),
}

/// Settles `profile`'s open change, if any. `client` is used only for the free checks.
pub async fn settle(
    client: Option<reqwest::Client>,
    profile: Arc<Profile>,
    data_dir: PathBuf,
    store: Option<Store>,
    answers: Answers,
    log: LogSink,
) -> Result<Settled, SetupError> {
    let name = profile.name.clone();
    let dir = data_dir.clone();
    let (held, journal, open, store) = blocking(move || -> Result<_, SetupError> {
        let held = lock::profile(&dir, &name).map_err(|e| SetupError(e.to_string()))?;
        let journal = Journal::new(&dir, &name);
        let reading = journal.read();
        let mut open = reading.open;
        // A pending password without an open journal (another process or machine, or a
        // journal set aside): unsettled all the same.
        if open.is_none()
            && let Some(s) = &store
            && s.get(Slot::Pending)
                .map_err(|e| SetupError(format!("{}: cannot read pending: {e}", s.label())))?
                .is_some()
        {
            let id = format!("{FOREIGN}{}", super::change_id());
            let mut r = Record::new(&id, Step::Begin);
            r.store = Some(s.label());
            r.by = Some(super::who());
            r.note = Some("pending found in the store without an open journal".into());
            write(Some(&journal), &r).map_err(SetupError)?;
            write(Some(&journal), &Record::new(&id, Step::Sending)).map_err(SetupError)?;
            open = journal.read().open;
        }
        Ok((held, journal, open, store))
    })
    .await??;
    let Some(open) = open else {
        return Ok(Settled {
            found: String::new(),
            did: "nothing to settle".into(),
            settled: true,
            applied: None,
        });
    };
    let found = open.describe();
    let mut decision = decide(client, &profile, &open, store.as_ref(), answers, log).await;
    // A pending password this machine did not journal may belong to a change another rekey is
    // still sending: "not applied" from a check is only an answer for now. Removing it needs
    // the admin's word (`--yes`, or `--not-applied`).
    if let Decision::NotApplied(how) = &decision
        && open.change.starts_with(FOREIGN)
        && answers.applied.is_none()
        && !answers.resend
    {
        decision = Decision::NeedsAdmin(format!(
            "{how}, but this pending password was not staged by a change journaled here: another rekey (another machine?) may still be sending it. \
             If none is, remove it with `rekey recover --profile {} --yes` (or `--not-applied`)",
            profile.name
        ));
    }
    let (applied, how) = match decision {
        Decision::Applied(how) => (true, how),
        Decision::NotApplied(how) => (false, how),
        Decision::NeedsAdmin(why) => {
            return Ok(Settled {
                found,
                did: why,
                settled: false,
                applied: None,
            });
        }
    };
    let id = open.change.clone();
    let result = blocking(move || {
        let _held = held;
        let mut r = Record::new(&id, Step::Settled).note(how.clone());
        r.applied = Some(applied);
        write(Some(&journal), &r)?;
        match (applied, &store) {
            (true, Some(s)) => promote(s, Some(&journal), &id, None).map(|_| {
                format!(
                    "{how}: applied — the new password is now current in {} (previous kept)",
                    s.label()
                )
            }),
            (true, None) => write(Some(&journal), &Record::new(&id, Step::Done))
                .map(|()| format!("{how}: recorded as applied")),
            (false, s) => {
                abandon(s.as_ref(), Some(&journal), &id, "settled: not applied").map(|()| match s {
                    Some(s) => format!(
                        "{how}: not applied — pending removed from {}; current unchanged",
                        s.label()
                    ),
                    None => format!("{how}: recorded as not applied"),
                })
            }
        }
    })
    .await?;
    Ok(match result {
        Ok(did) => Settled {
            found,
            did,
            settled: true,
            applied: Some(applied),
        },
        Err(e) => Settled {
            found,
            did: e,
            settled: false,
            applied: Some(applied),
        },
    })
}

async fn decide(
    client: Option<reqwest::Client>,
    profile: &Arc<Profile>,
    open: &Open,
    store: Option<&Store>,
    answers: Answers,
    log: LogSink,
) -> Decision {
    // What the journal already proves.
    match (open.last, open.outcome, open.applied) {
        (Step::Begin | Step::Staged, _, _) => {
            return Decision::NotApplied("the request was never sent".into());
        }
        (Step::Outcome, Some(o), _) if o.is_success() => {
            return Decision::Applied("the provider confirmed the change".into());
        }
        (Step::Promoted, _, _) => {
            return Decision::Applied("the new password was already saved as current".into());
        }
        // A definite refusal, or nothing reached the provider: only the clean-up was left.
        (Step::Outcome, Some(o), _) if o != Outcome::Unknown => {
            return Decision::NotApplied(format!("the provider's answer was {}", o.as_str()));
        }
        (Step::Settled, _, Some(applied)) => {
            let how = "an earlier settle decided it".to_string();
            return if applied {
                Decision::Applied(how)
            } else {
                Decision::NotApplied(how)
            };
        }
        _ => {}
    }
    if let Some(applied) = answers.applied {
        let how = "verified (by the admin, or by a check in the console)".to_string();
        return if applied {
            Decision::Applied(how)
        } else {
            Decision::NotApplied(how)
        };
    }
    let name = &profile.name;
    let by_hand = format!(
        "verify by hand whether the new password works, then run `rekey recover --profile {name} --applied` or `--not-applied`"
    );
    let Some(store) = store else {
        return Decision::NeedsAdmin(format!(
            "there is no store, so rekey cannot check: {by_hand}"
        ));
    };
    let read = |slot: Slot| -> Result<Option<SecretBuf>, String> {
        store
            .get(slot)
            .map_err(|e| format!("{}: cannot read {}: {e}", store.label(), slot.as_str()))
    };
    let pending = match read(Slot::Pending) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Decision::NeedsAdmin(format!(
                "{} has no pending password any more: {by_hand}",
                store.label()
            ));
        }
        Err(e) => return Decision::NeedsAdmin(e),
    };
    let Some(client) = client else {
        return Decision::NeedsAdmin(by_hand);
    };
    match profile.kind {
        Kind::HuaweiIam | Kind::TencentCiam => {
            let works = |password: SecretBuf| {
                let (client, profile, log) = (client.clone(), profile.clone(), log.clone());
                async move {
                    let typed = TypedSecrets {
                        current: None,
                        new: password,
                        prompted: Vec::new(),
                    };
                    let options = Options {
                        check: true,
                        ..Options::default()
                    };
                    provider::run(
                        client,
                        profile,
                        typed,
                        options,
                        log,
                        Arc::new(AtomicBool::new(false)),
                    )
                    .await
                }
            };
            let what = if profile.kind == Kind::HuaweiIam {
                "a token"
            } else {
                "the password grant"
            };
            match works(pending).await {
                Ok(r) if r.outcome == Outcome::Changed => {
                    return Decision::Applied(format!("{what} with the pending password worked"));
                }
                Ok(r) if r.outcome == Outcome::WrongOldPassword => {}
                Ok(r) => {
                    return Decision::NeedsAdmin(format!(
                        "the check was inconclusive ({}): try again later, or {by_hand}",
                        r.summary()
                    ));
                }
                Err(e) => return Decision::NeedsAdmin(e.0),
            }
            let current = match read(Slot::Current) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    return Decision::NeedsAdmin(format!(
                        "the pending password does not work and the store has no current one: {by_hand}"
                    ));
                }
                Err(e) => return Decision::NeedsAdmin(e),
            };
            match works(current).await {
                Ok(r) if r.outcome == Outcome::Changed => Decision::NotApplied(format!(
                    "{what} with the pending password was refused and the current one worked"
                )),
                Ok(r) => Decision::NeedsAdmin(format!(
                    "neither the pending nor the current password was accepted ({}): {by_hand}",
                    r.summary()
                )),
                Err(e) => Decision::NeedsAdmin(e.0),
            }
        }
        Kind::TencentBmVpn if answers.resend => {
            let typed = TypedSecrets {
                current: None,
                new: pending,
                prompted: Vec::new(),
            };
            let options = Options {
                operate: Some(Operate::Update),
                force: true,
                check: false,
            };
            match provider::run(
                client,
                profile.clone(),
                typed,
                options,
                log,
                Arc::new(AtomicBool::new(false)),
            )
            .await
            {
                Ok(r) if r.outcome.is_success() => Decision::Applied(
                    "Update with the pending password was resent and succeeded".into(),
                ),
                Ok(r) if r.outcome == Outcome::Unknown => Decision::NeedsAdmin(format!(
                    "resending gave no definite answer ({}); try again",
                    r.summary()
                )),
                Ok(r) => Decision::NeedsAdmin(format!(
                    "resending was refused ({}): {by_hand}",
                    r.summary()
                )),
                Err(e) => Decision::NeedsAdmin(e.0),
            }
        }
        Kind::TencentBmVpn => Decision::NeedsAdmin(format!(
            "setting the pending password again settles it (an idempotent Update): confirm with `rekey recover --profile {name} --yes` (console: R, then y), or {by_hand}"
        )),
        Kind::HuaweiDcs => Decision::NeedsAdmin(format!(
            "DCS has no check that spends no attempt (a wrong password spends a retry): try `redis-cli AUTH` with the pending password, then `rekey recover --profile {name} --applied` or `--not-applied`"
        )),
    }
}
