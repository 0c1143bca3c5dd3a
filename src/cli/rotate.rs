//! `rekey rotate`: fleet rotation (SPEC §11) without the console. Selects profiles, refuses
//! the batch before anything starts when one has no store, checks the rails, writes the plan,
//! then runs [`crate::change::rotate`] and shows its events: live lines on a terminal, one
//! JSON object per profile and a summary with `--json`, plain lines otherwise.
//!
//! Exit codes (SPEC §2's scheme; the SPEC has no table for `rotate`): 0 every profile rotated
//! (dry run: every profile ready); 1 some refused, failed or not started, none unsettled (dry
//! run: some not ready); 2 usage or configuration error, nothing started; 5 some profile is
//! unsettled (its change may have been applied): `rekey rotate --resume RUN-ID` or
//! `rekey recover` settles it.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::{change_object, load_config, load_state, runtime, usage_error};
use crate::change::rotate::rate::{Limiter, Limits, TokioClock};
use crate::change::rotate::runs::{self, Plan, RunDir};
use crate::change::rotate::{self, End, Event, Options, Status, Target, Unrotatable};
use crate::change::settle::Answers;
use crate::config::{Config, Profile};
use crate::policy::{self, Candidate, Policy};
use crate::provider::{self, TypedSecrets};
use crate::state::{Audit, State, StateChange};
use crate::store::{Slot, Store};

/// The flags of `rekey rotate`.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--all`.
    pub all: bool,
    /// `--profile NAME...`.
    pub profiles: Vec<String>,
    /// `--match GLOB`.
    pub pattern: Option<String>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--concurrency`, `--canary`, `--max-failures`, `--length`.
    pub options: Options,
    /// `--yes`.
    pub yes: bool,
    /// `--json`.
    pub json: bool,
    /// `--resume RUN-ID`.
    pub resume: Option<String>,
    /// `--runs`.
    pub runs: bool,
}

/// Exit code: some profile may have been changed and is not settled.
const EXIT_UNSETTLED: u8 = 5;

/// Runs `rekey rotate`.
pub fn rotate(cli_path: Option<&Path>, flags: Flags) -> u8 {
    let (mut known, data_dir) = match load_state() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(data_dir) = data_dir else {
        return usage_error("no data directory for the run and the journals; set REKEY_DATA_DIR");
    };
    if flags.runs {
        return list_runs(&data_dir, flags.json);
    }
    let config = match load_config(cli_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::say_config_warnings(&config);
    let audit = Audit::new(Some(&data_dir), config.audit);
    // The run: a new plan, or the one being resumed.
    let (run, plan, targets) = match &flags.resume {
        Some(id) => match open_run(&data_dir, id, config) {
            Ok(found) => found,
            Err(code) => return code,
        },
        None => {
            let selected = match select(config, &flags) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if let Err(code) = usable(&selected, flags.options.length) {
                return code;
            }
            if flags.dry_run {
                return dry_run(&selected, &known, &data_dir, &flags);
            }
            let now = SystemTime::now();
            let refused: Vec<Option<String>> = selected
                .iter()
                .map(|p| refusal(p, &known, &data_dir, now, flags.yes))
                .collect();
            if !flags.yes && !confirm(&refused) {
                return usage_error(
                    "rotating changes live passwords: confirm on a terminal or pass --yes (try --dry-run first); nothing was started",
                );
            }
            let targets: Vec<Target> = selected
                .into_iter()
                .map(|p| Target {
                    profile: Arc::new(p),
                })
                .collect();
            let (run, plan) = match rotate::new_run(&data_dir, &targets, &refused, &flags.options) {
                Ok(made) => made,
                Err(e) => {
                    return usage_error(format!(
                        "cannot write the plan in {}: {e}; nothing was started",
                        data_dir.join(runs::RUNS_DIR).display()
                    ));
                }
            };
            (run, plan, targets)
        }
    };
    let Ok(Some(_held)) = run.lock() else {
        return usage_error(format!(
            "run {} is being run by another rekey process right now (or its lock cannot be taken); nothing was started",
            run.id()
        ));
    };
    say!(
        "rekey: run {} ({} profiles). If it is interrupted: rekey rotate --resume {}",
        run.id(),
        plan.profiles.len(),
        run.id()
    );
    let options = Options {
        concurrency: plan.concurrency.max(1),
        canary: plan.canary,
        max_failures: plan.max_failures.max(1),
        length: plan.length,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let targets: Arc<Vec<Target>> = Arc::new(targets);
    let refused: Vec<Option<String>> = plan.profiles.iter().map(|e| e.refused.clone()).collect();
    let mut view = View::new(&targets, flags.json);
    let resuming = flags.resume.is_some();
    let answers = Answers {
        applied: None,
        resend: flags.yes,
    };
    let ends = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (interrupter, interrupt) = crate::change::Interrupter::new();
        super::interrupt_on_signals(interrupter);
        let mut signalled = interrupt.clone();
        let core = {
            let (targets, run, data_dir) = (targets.clone(), run.clone(), data_dir.clone());
            let refused = refused.clone();
            tokio::spawn(async move {
                let mut ends: Vec<(usize, End)> = Vec::new();
                let mut todo: Vec<usize> = Vec::new();
                let mut options = options;
                for (i, why) in refused.iter().enumerate() {
                    match why {
                        Some(why) => {
                            let end = End {
                                status: Status::NotStarted(format!("refused: {why}")),
                                report: None,
                                store: String::new(),
                                settled: true,
                            };
                            let _ = tx.send(Event::Finished(i, Box::new(end.clone())));
                            ends.push((i, end));
                        }
                        None => todo.push(i),
                    }
                }
                if resuming {
                    match rotate::resume(
                        targets.clone(),
                        &run,
                        data_dir.clone(),
                        answers,
                        tx.clone(),
                        &interrupt,
                    )
                    .await
                    {
                        Ok(resumed) => {
                            for (i, end) in resumed.done {
                                if refused[i].is_none() {
                                    let _ = tx.send(Event::Finished(i, Box::new(end.clone())));
                                    ends.push((i, end));
                                }
                            }
                            todo.retain(|i| resumed.todo.contains(i));
                            options.canary = options.canary.saturating_sub(resumed.saved_before);
                        }
                        Err(e) => return Err(e),
                    }
                }
                let limiter = Arc::new(Limiter::new(Limits::from_env(), Arc::new(TokioClock)));
                let rotated = rotate::rotate(
                    targets,
                    todo,
                    data_dir,
                    Some(run),
                    options,
                    limiter,
                    tx,
                    rotate::Controls::interrupt_only(interrupt),
                )
                .await;
                ends.extend(rotated);
                Ok(ends)
            })
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut said_stop = false;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => view.handle(event, &targets, &mut known, &audit),
                    None => break,
                },
                // Said at once, so a signal is seen to be taken while what is in hand ends.
                why = signalled.wait(), if !said_stop => {
                    said_stop = true;
                    view.note(&format!(
                        "rekey: {why}: no new change or settle starts; what is in hand finishes"
                    ));
                }
                _ = tick.tick() => {
                    view.draw(false);
                    view.save_state(&mut known, false);
                }
            }
        }
        view.save_state(&mut known, true);
        view.draw(true);
        match core.await {
            Ok(r) => r,
            Err(_) => Err("internal error in the rotation".into()),
        }
    });
    let ends = match ends {
        Ok(e) => e,
        Err(e) => return usage_error(e),
    };
    let code = exit_code(&ends);
    view.summary(run.id(), &ends, code);
    code
}

/// The exit code of a run from its ends (see the module doc).
fn exit_code(ends: &[(usize, End)]) -> u8 {
    if ends
        .iter()
        .any(|(_, e)| matches!(e.status, Status::Unsettled(_)))
    {
        EXIT_UNSETTLED
    } else if ends.iter().all(|(_, e)| e.status == Status::Saved) {
        0
    } else {
        1
    }
}

/// `--runs`: every run in the data dir.
fn list_runs(data_dir: &Path, as_json: bool) -> u8 {
    let list = match runs::list(data_dir) {
        Ok(l) => l,
        Err(e) => return usage_error(format!("cannot read {}: {e}", data_dir.display())),
    };
    let mut out = io::stdout().lock();
    let written = if as_json {
        writeln!(out, "{}", crate::text::to_json_string_safe(&list))
    } else if list.is_empty() {
        writeln!(out, "no rotation runs")
    } else {
        writeln!(
            out,
            "{:<24} {:<21} {:>8} {:>6} {:>6} {:>9} {:>6}",
            "RUN", "CREATED", "PROFILES", "SAVED", "FAILED", "UNSETTLED", "OPEN"
        )
        .and_then(|()| {
            list.iter().try_for_each(|r| {
                writeln!(
                    out,
                    "{:<24} {:<21} {:>8} {:>6} {:>6} {:>9} {:>6}",
                    crate::text::escape(&r.run_id),
                    crate::text::escape(&r.created_at),
                    r.profiles,
                    r.saved,
                    r.failed,
                    r.unsettled,
                    r.open
                )
            })
        })
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => super::EXIT_USAGE,
    }
}

/// The profiles `--all`, `--profile` or `--match` select, in file order; an unknown
/// `--profile` or a selection of none is a usage error.
fn select(config: Config, flags: &Flags) -> Result<Vec<Profile>, u8> {
    for name in &flags.profiles {
        if !config.profiles.iter().any(|p| &p.name == name) {
            return Err(usage_error(format!(
                "no profile named `{name}` in {}",
                config.path.display()
            )));
        }
    }
    let path = config.path.clone();
    let selected: Vec<Profile> = config
        .profiles
        .into_iter()
        .filter(|p| {
            flags.all
                || flags.profiles.contains(&p.name)
                || flags
                    .pattern
                    .as_deref()
                    .is_some_and(|g| glob_match(g, &p.name))
        })
        .collect();
    if selected.is_empty() {
        return Err(usage_error(format!(
            "no profile in {} matches {}",
            path.display(),
            match &flags.pattern {
                Some(g) => format!("--match '{}'", crate::text::escape(g)),
                None => "the selection".into(),
            }
        )));
    }
    Ok(selected)
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Refuses the whole batch before anything starts (exit 2) when a profile has no store (a
/// generated password would be lost), a store or secret that needs a prompt, or `--length`
/// outside its policy.
fn usable(profiles: &[Profile], length: Option<usize>) -> Result<(), u8> {
    let no_store: Vec<&str> = profiles
        .iter()
        .filter(|p| rotate::unrotatable(p) == Some(Unrotatable::NoStore))
        .map(|p| p.name.as_str())
        .collect();
    if !no_store.is_empty() {
        return Err(usage_error(format!(
            "refused before anything started: {} without a store ({}). A rotation generates each password and must save it first (SPEC §10); add store = {{ ... }} or leave them out",
            if no_store.len() == 1 {
                "a profile"
            } else {
                "profiles"
            },
            no_store.join(", ")
        )));
    }
    for p in profiles {
        match rotate::unrotatable(p) {
            Some(Unrotatable::PromptSecret(key)) => {
                return Err(usage_error(format!(
                    "refused before anything started: profile `{}` has {key} = {{ prompt = true }}, which a rotation cannot ask for; use env or command",
                    p.name
                )));
            }
            Some(Unrotatable::StoreNeedsUnlock(label)) => {
                return Err(usage_error(format!(
                    "refused before anything started: {label} (profile `{}`) needs a password to open ({{ prompt = true }}); use env or command",
                    p.name
                )));
            }
            Some(Unrotatable::NoStore) | None => {}
        }
        if let Some(n) = length {
            let lengths = Policy::for_profile(p).length_range();
            if !lengths.contains(&n) {
                let (min, max) = (lengths.start(), lengths.end());
                return Err(usage_error(format!(
                    "--length {n} is outside what the policy of `{}` allows ({min}–{max} characters); nothing was started",
                    p.name
                )));
            }
        }
    }
    Ok(())
}

/// Why a profile is refused before the run (SPEC §4 rails, or an unsettled change), if so.
fn refusal(
    profile: &Profile,
    known: &State,
    data_dir: &Path,
    now: SystemTime,
    yes: bool,
) -> Option<String> {
    let last = known.get(&profile.name).cloned().unwrap_or_default();
    rotate::rails(profile, &last, now, yes).or_else(|| {
        crate::change::unsettled(data_dir, &profile.name)
            .open
            .map(|open| {
                format!(
                    "unsettled: {}; run `rekey recover --profile {}` first",
                    open.describe(),
                    profile.name
                )
            })
    })
}

/// Asks on a terminal whether to rotate; false without one.
fn confirm(refused: &[Option<String>]) -> bool {
    if !io::stdin().is_terminal() {
        return false;
    }
    let go = refused.iter().filter(|r| r.is_none()).count();
    super::confirm_on_tty(&format!(
        "Rotate {go} profile(s) to generated passwords (saved to their stores)?"
    ))
}

/// Opens run `id` for `--resume`: its plan, and its profiles from the config (every one must
/// still be there, with its store).
fn open_run(data_dir: &Path, id: &str, config: Config) -> Result<(RunDir, Plan, Vec<Target>), u8> {
    if !runs::valid_run_id(id) {
        return Err(usage_error(format!(
            "`{}` is not a run id (see rekey rotate --runs)",
            crate::text::escape(id)
        )));
    }
    let run = RunDir::new(data_dir, id);
    let plan = run.plan().map_err(|e| {
        usage_error(format!(
            "no run {id} in {} ({e}); see rekey rotate --runs",
            data_dir.display()
        ))
    })?;
    let path = config.path.clone();
    let mut by_name: HashMap<String, Profile> = config
        .profiles
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let mut targets = Vec::with_capacity(plan.profiles.len());
    for entry in &plan.profiles {
        let Some(profile) = by_name.remove(&entry.name) else {
            return Err(usage_error(format!(
                "run {id} rotates `{}`, which is no longer in {}; put it back to resume",
                entry.name,
                path.display()
            )));
        };
        targets.push(profile);
    }
    usable(&targets, plan.length)?;
    let targets = targets
        .into_iter()
        .map(|p| Target {
            profile: Arc::new(p),
        })
        .collect();
    Ok((run, plan, targets))
}

/// `--dry-run`: per profile, the rails, the journal, the store (current readable, no pending
/// left over), a generated password against the policy, and the credentials (resolved from
/// their sources, never sent). Nothing is written and nothing is sent: a login to check a
/// credential could count toward a lock (IAM, CIAM and DCS have no check that spends nothing).
fn dry_run(profiles: &[Profile], known: &State, data_dir: &Path, flags: &Flags) -> u8 {
    let now = SystemTime::now();
    let mut ready = 0usize;
    let mut out = io::stdout().lock();
    let mut lost = false;
    for profile in profiles {
        let mut problems: Vec<String> = Vec::new();
        let mut checks: Vec<String> = Vec::new();
        if let Some(why) = refusal(profile, known, data_dir, now, flags.yes) {
            problems.push(why);
        }
        let store = Store::for_profile(profile);
        let label = store.as_ref().map(Store::label).unwrap_or_default();
        if let Some(store) = &store {
            match store.get(Slot::Pending) {
                Ok(None) => checks.push("no pending password left over".into()),
                Ok(Some(_)) => problems.push(format!(
                    "{label} holds a pending password from an unsettled change: `rekey recover --profile {}`",
                    profile.name
                )),
                Err(e) => problems.push(format!("{label}: cannot read pending: {e}")),
            }
            let needed = profile.kind.needs_current_password() && store.read_current();
            match store.get(Slot::Current) {
                Ok(Some(_)) => checks.push("current password read".into()),
                Ok(None) if needed => problems.push(format!(
                    "{label} has no current password, which a change of this kind needs"
                )),
                Ok(None) => checks.push("no current password (not needed)".into()),
                Err(e) => problems.push(format!("{label}: cannot read current: {e}")),
            }
        }
        match rotate::generate(profile, flags.options.length) {
            Ok(new) => {
                let list = policy::check(
                    &Policy::for_profile(profile),
                    &Candidate {
                        new: new.expose(),
                        confirm: new.expose(),
                        current: None,
                    },
                );
                let failed: Vec<&str> = list.failures().map(|i| i.label.as_str()).collect();
                if failed.is_empty() {
                    checks.push("a generated password passes the policy".into());
                } else {
                    problems.push(format!(
                        "a generated password fails the policy: {}",
                        failed.join("; ")
                    ));
                }
            }
            Err(e) => problems.push(e),
        }
        let typed = TypedSecrets {
            current: None,
            new: crate::secret::SecretBuf::password(),
            prompted: Vec::new(),
        };
        match provider::resolve_keys(profile, &typed) {
            Ok(_) => checks.push("credentials resolved".into()),
            Err(report) => problems.push(format!("credentials: {}", report.message)),
        }
        if problems.is_empty() {
            ready += 1;
        }
        let written = if flags.json {
            let object = json!({
                "profile": profile.name,
                "kind": profile.kind.as_str(),
                "store": label,
                "status": if problems.is_empty() { "ready" } else { "not_ready" },
                "checks": checks,
                "problems": problems,
            });
            writeln!(out, "{}", crate::text::to_json_string_safe(&object))
        } else if problems.is_empty() {
            writeln!(out, "{}: ready ({})", profile.name, checks.join("; "))
        } else {
            writeln!(
                out,
                "{}: NOT ready: {}",
                profile.name,
                crate::text::escape(&problems.join("; "))
            )
        };
        lost |= written.is_err();
    }
    let summary = if flags.json {
        crate::text::to_json_string_safe(&json!({
            "summary": true,
            "dry_run": true,
            "profiles": profiles.len(),
            "ready": ready,
            "not_ready": profiles.len() - ready,
        }))
    } else {
        format!(
            "dry run: {ready} of {} ready; nothing was changed",
            profiles.len()
        )
    };
    lost |= writeln!(out, "{summary}")
        .and_then(|()| out.flush())
        .is_err();
    if lost {
        return super::EXIT_USAGE;
    }
    u8::from(ready < profiles.len())
}

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One JSON object per profile, a summary last.
    Json,
    /// Redrawn lines on a terminal.
    Live,
    /// A line per finished profile.
    Plain,
}

/// What the user sees of a run.
struct View {
    mode: Mode,
    names: Vec<String>,
    status: Vec<Status>,
    drawn: usize,
    last_draw: Option<Instant>,
    dirty: bool,
    /// State changes not saved yet, and when state.json was last saved.
    state_changes: Vec<(String, StateChange)>,
    state_saved: Instant,
}

/// How often `state.json` is saved during a run (it is rewritten whole each time; the journals
/// and the audit trail record every attempt at once).
const STATE_EVERY: Duration = Duration::from_secs(1);

impl View {
    fn new(targets: &[Target], as_json: bool) -> View {
        let mode = if as_json {
            Mode::Json
        } else if io::stdout().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        };
        View {
            mode,
            names: targets.iter().map(|t| t.profile.name.clone()).collect(),
            status: vec![Status::Waiting; targets.len()],
            drawn: 0,
            last_draw: None,
            dirty: true,
            state_changes: Vec::new(),
            state_saved: Instant::now(),
        }
    }

    fn handle(&mut self, event: Event, targets: &[Target], known: &mut State, audit: &Audit) {
        let at = SystemTime::now();
        match event {
            Event::Status(i, s) => {
                if let Some(slot) = self.status.get_mut(i) {
                    *slot = s;
                    self.dirty = true;
                }
            }
            Event::Attempted(i, report) => {
                let profile = &targets[i].profile;
                if let Err(e) = audit.append(profile, &report, at) {
                    self.note(&format!("rekey: warning: audit.jsonl not written: {e}"));
                }
                self.state_changes
                    .push((profile.name.clone(), StateChange::Record(report, at)));
            }
            Event::Settled(i, s) => {
                let name = &targets[i].profile.name;
                if let (Some(applied), true) = (s.applied, s.settled) {
                    self.state_changes
                        .push((name.clone(), StateChange::Settle { applied, at }));
                    self.save_state(known, true);
                }
                if !s.found.is_empty() {
                    self.note(&format!(
                        "rekey: {name}: {} — {}",
                        crate::text::escape(&s.found),
                        crate::text::escape(&s.did)
                    ));
                }
            }
            Event::Warning(i, why) => self.note(&format!(
                "rekey: {}: warning: {}",
                targets[i].profile.name,
                crate::text::escape(&why)
            )),
            Event::Finished(i, end) => {
                if let Some(slot) = self.status.get_mut(i) {
                    *slot = end.status.clone();
                    self.dirty = true;
                }
                self.finished(&targets[i].profile, &end);
            }
        }
    }

    /// Saves the state changes gathered so far: every [`STATE_EVERY`] (or now, with `now`).
    /// The journal and the audit trail record each attempt at once; `state.json` (the
    /// lock/retry state the rails read) is written in batches, since each write rewrites the
    /// whole file.
    fn save_state(&mut self, known: &mut State, now: bool) {
        if self.state_changes.is_empty() || (!now && self.state_saved.elapsed() < STATE_EVERY) {
            return;
        }
        let changes = std::mem::take(&mut self.state_changes);
        self.state_saved = Instant::now();
        if let Err(e) = known.write_many(&changes) {
            self.note(&format!("rekey: warning: state.json not saved: {e}"));
        }
    }

    /// Prints a finished profile (JSON or plain modes).
    fn finished(&mut self, profile: &Profile, end: &End) {
        let line = match self.mode {
            Mode::Live => return,
            Mode::Json => {
                let mut object = match &end.report {
                    Some(report) => change_object(
                        profile,
                        report,
                        Some(end.store.as_str()).filter(|s| !s.is_empty()),
                        end.settled,
                    ),
                    None => json!({
                        "profile": profile.name,
                        "kind": profile.kind.as_str(),
                        "outcome": null,
                        "retries_left": null,
                        "locked_until": null,
                        "lock_minutes_left": null,
                        "http_status": null,
                        "provider_code": null,
                        "message": end.status.reason(),
                        "request_id": null,
                        "duration_ms": null,
                        "store": Some(end.store.as_str()).filter(|s| !s.is_empty()),
                        "settled": end.settled,
                    }),
                };
                object["status"] = json!(end.status.word());
                crate::text::to_json_string_safe(&object)
            }
            Mode::Plain => line_of(&profile.name, &end.status),
        };
        let mut out = io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            say!(
                "rekey: {}: the result could not be written to stdout ({}); the journal and audit.jsonl have it",
                profile.name,
                end.status.word()
            );
        }
    }

    /// A line on stderr during the run. On a terminal the live lines are cleared first and
    /// drawn again below it: written under them, it would throw their count off and be
    /// overwritten by the next redraw.
    fn note(&mut self, line: &str) {
        if self.mode == Mode::Live && self.drawn > 0 {
            let mut out = io::stdout().lock();
            let _ = write!(out, "\x1b[{}A\r\x1b[J", self.drawn).and_then(|()| out.flush());
            self.drawn = 0;
            self.dirty = true;
        }
        say!("{line}");
    }

    /// Redraws the live lines (at most every 100 ms unless `force`).
    fn draw(&mut self, force: bool) {
        if self.mode != Mode::Live || !(self.dirty || force) {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        self.dirty = false;
        let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
        let room = usize::from(rows).saturating_sub(2).max(1);
        // All lines when they fit; else the profiles in progress or in trouble first.
        let shown: Vec<usize> = if self.names.len() <= room {
            (0..self.names.len()).collect()
        } else {
            let busy: Vec<usize> = (0..self.names.len())
                .filter(|i| !matches!(self.status[*i], Status::Waiting | Status::Saved))
                .collect();
            busy.into_iter().rev().take(room).rev().collect()
        };
        let width = usize::from(cols).max(20);
        let mut frame = String::new();
        if self.drawn > 0 {
            frame.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for i in &shown {
            let line = line_of(&self.names[*i], &self.status[*i]);
            let line: String = line.chars().take(width - 1).collect();
            frame.push_str("\r\x1b[2K");
            frame.push_str(&line);
            frame.push('\n');
        }
        frame.push_str("\r\x1b[2K");
        frame.push_str(&self.total_line(width));
        frame.push('\n');
        frame.push_str("\x1b[J");
        self.drawn = shown.len() + 1;
        let mut out = io::stdout().lock();
        let _ = out.write_all(frame.as_bytes()).and_then(|()| out.flush());
    }

    fn total_line(&self, width: usize) -> String {
        rotate::progress_line(&self.status, self.names.len(), width)
    }

    /// The last word: the summary object (JSON), or a line.
    fn summary(&mut self, run_id: &str, ends: &[(usize, End)], code: u8) {
        let count = |f: &dyn Fn(&Status) -> bool| ends.iter().filter(|(_, e)| f(&e.status)).count();
        let saved = count(&|s| *s == Status::Saved);
        let failed = count(&|s| matches!(s, Status::Failed(_)));
        let unsettled = count(&|s| matches!(s, Status::Unsettled(_)));
        let not_started = count(&|s| matches!(s, Status::NotStarted(_)));
        let text = if self.mode == Mode::Json {
            crate::text::to_json_string_safe(&json!({
                "summary": true,
                "run_id": run_id,
                "profiles": self.names.len(),
                "saved": saved,
                "failed": failed,
                "unsettled": unsettled,
                "not_started": not_started,
                "exit_code": code,
            }))
        } else {
            if self.mode == Mode::Live {
                // The full list once more, now that it is final (no redraw after this).
                let mut out = io::stdout().lock();
                // (Not `ESC[0A`: terminals read a count of 0 as 1.)
                if self.drawn > 0 {
                    let _ = write!(out, "\x1b[{}A", self.drawn);
                }
                let _ = write!(out, "\r\x1b[J");
                for (name, status) in self.names.iter().zip(&self.status) {
                    if *status != Status::Saved {
                        let _ = writeln!(out, "{}", line_of(name, status));
                    }
                }
            }
            format!(
                "run {run_id}: {saved} saved, {failed} failed, {unsettled} unsettled, {not_started} not started, of {}",
                self.names.len()
            )
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
        if unsettled > 0 {
            say!(
                "rekey: {unsettled} profile(s) may have been changed and are unsettled: rekey rotate --resume {run_id} --yes settles them (or rekey recover)"
            );
        } else if not_started > 0 {
            say!("rekey: to rotate the profiles not started: rekey rotate --resume {run_id}");
        }
    }
}

/// `NAME: status[: reason]`, escaped.
fn line_of(name: &str, status: &Status) -> String {
    format!("{name}: {}", status.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("redis-*", "redis-prod"));
        assert!(glob_match("redis-*", "redis-"));
        assert!(!glob_match("redis-*", "xredis-prod"));
        assert!(glob_match("*-prod", "redis-prod"));
        assert!(glob_match("r?dis*d", "redis-prod"));
        assert!(!glob_match("r?dis", "rdis"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn lines_escape_outside_text() {
        let line = line_of(
            "redis-prod",
            &Status::Failed("server said \u{1b}]52;c;x\u{7}\u{1b}[2J".into()),
        );
        assert!(
            line.starts_with("redis-prod: failed: server said "),
            "{line}"
        );
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
        assert_eq!(
            line_of(
                "a",
                &Status::NotStarted("not started: the canary a failed".into())
            ),
            "a: not started: the canary a failed"
        );
        assert_eq!(line_of("a", &Status::Sending), "a: sending");
    }

    #[test]
    fn exit_codes() {
        let end = |status| {
            (
                0,
                End {
                    status,
                    report: None,
                    store: String::new(),
                    settled: true,
                },
            )
        };
        assert_eq!(exit_code(&[end(Status::Saved)]), 0);
        assert_eq!(
            exit_code(&[end(Status::Saved), end(Status::Failed("x".into()))]),
            1
        );
        assert_eq!(
            exit_code(&[
                end(Status::NotStarted("x".into())),
                end(Status::Unsettled("y".into()))
            ]),
            5
        );
    }
}
