//! Fleet rotation (SPEC §11): many profiles, each changed to a generated password through the
//! staged change of §10.2 ([`super::run`]; nothing of it is done again here), a canary first,
//! then the rest with bounded concurrency, stopping new starts after too many definite
//! failures or any `unknown`, paced per provider and credential ([`rate`]), and recorded per
//! profile in `runs/RUN-ID/` ([`runs`]) so a run killed at any point can be resumed: unsettled
//! profiles are settled ([`super::settle::settle`]) and no profile is rotated twice.
//!
//! # Using it from a front end
//!
//! [`new_run`] writes the plan of the selected profiles ([`Target`]s, all with a store; the
//! [`rails`] say which to refuse) and gives its [`runs::RunDir`]. [`rotate`] takes the targets,
//! the indexes to rotate, the run, the [`Options`], a [`rate::Limiter`] (on
//! [`rate::TokioClock`], limits from [`rate::Limits::from_env`]), an [`Events`] channel and an
//! [`Interrupt`], and returns one [`End`] per profile. While it runs it sends [`Event`]s: every status change of a profile
//! ([`Status`]: waiting, staging, sending, saved, failed, unsettled, ...), every attempt's
//! report (for `state.json` and `audit.jsonl`, which the front end writes as it does for one
//! change), and each profile's end. It draws nothing: `rekey rotate` renders the events as
//! lines, the console can render them in a dialog. [`resume`] does the same for a run found on
//! disk: it settles what a crash left open, then rotates what is not done.

pub mod rate;
pub mod runs;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use super::journal::{Journal, Step as JournalStep};
use super::settle::{self, Answers, Settled};
use super::{Interrupt, Place, crash_point};
use crate::config::Profile;
use crate::policy::{self, Policy};
use crate::provider::{self, Outcome, Report, TypedSecrets};
use crate::secret::SecretBuf;
use crate::state::ProfileState;
use crate::store::Store;
use rate::Limiter;
use runs::{EndStatus, Progress, RunDir};

/// How many times one profile's change is sent again after a rate-limit answer.
pub const RATE_LIMIT_RETRIES: u32 = 4;

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Changes in flight at once after the canaries (at least 1).
    pub concurrency: usize,
    /// Profiles rotated one by one first; any of them failing stops the run.
    pub canary: usize,
    /// New starts stop after this many definite failures (at least 1).
    pub max_failures: usize,
    /// Length of the generated passwords (default: the generator's).
    pub length: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 4,
            canary: 1,
            max_failures: 1,
            length: None,
        }
    }
}

/// One profile to rotate. Its store comes from the profile (`Store::for_profile`).
#[derive(Debug, Clone)]
pub struct Target {
    /// The profile (it has a store).
    pub profile: Arc<Profile>,
}

/// Where a profile is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not started yet.
    Waiting,
    /// Settling what an earlier (crashed) run left open.
    Settling,
    /// Staging the new password in the store (and waiting for its turn to send).
    Staging,
    /// The change request is leaving.
    Sending,
    /// The provider said it is rate limited: sent again after a back-off (nothing changed).
    RateLimited(u32),
    /// Changed; the new password is current in the store.
    Saved,
    /// Refused or failed; nothing changed.
    Failed(String),
    /// May have been applied: settle it (`rekey rotate --resume`, `rekey recover`).
    Unsettled(String),
    /// Not started (the run stopped, or a rail refused it).
    NotStarted(String),
}

impl Status {
    /// One word for lines and JSON: waiting, settling, staging, sending, rate_limited, saved,
    /// failed, unsettled, not_started.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Settling => "settling",
            Status::Staging => "staging",
            Status::Sending => "sending",
            Status::RateLimited(_) => "rate_limited",
            Status::Saved => "saved",
            Status::Failed(_) => "failed",
            Status::Unsettled(_) => "unsettled",
            Status::NotStarted(_) => "not_started",
        }
    }

    /// The reason that goes with it (outside text: escape it before showing it).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Failed(r) | Status::Unsettled(r) | Status::NotStarted(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the profile is finished in this run.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::Saved | Status::Failed(_) | Status::Unsettled(_) | Status::NotStarted(_)
        )
    }

    /// How both faces (the headless live view and the console's dialog) show it: `saved`,
    /// `failed: why`, `rate limited, sending again after a back-off (2)`… The reason is outside
    /// text, escaped here.
    pub fn describe(&self) -> String {
        let reason = self
            .reason()
            .filter(|r| !r.is_empty())
            .map(|r| crate::text::escape(r.strip_prefix("not started: ").unwrap_or(r)));
        let word = match self {
            Status::RateLimited(n) => {
                return format!("rate limited, sending again after a back-off ({n})");
            }
            Status::NotStarted(_) => "not started",
            s => s.word(),
        };
        match reason {
            Some(r) => format!("{word}: {r}"),
            None => word.to_string(),
        }
    }
}

/// `[####----] 2/3  saved 1  failed 0  unsettled 0`: the progress of a run of `n` profiles
/// whose statuses are `statuses`, with a bar sized for a line of `width` columns.
pub fn progress_line<'a>(
    statuses: impl IntoIterator<Item = &'a Status>,
    n: usize,
    width: usize,
) -> String {
    let (mut done, mut saved, mut failed, mut unsettled) = (0, 0, 0, 0);
    for s in statuses {
        done += usize::from(s.is_final());
        match s {
            Status::Saved => saved += 1,
            Status::Failed(_) => failed += 1,
            Status::Unsettled(_) => unsettled += 1,
            _ => {}
        }
    }
    let bar_width = 24usize.min(width.saturating_sub(50)).max(8);
    let filled = (done * bar_width)
        .checked_div(n)
        .unwrap_or(bar_width)
        .min(bar_width);
    format!(
        "[{}{}] {done}/{n}  saved {saved}  failed {failed}  unsettled {unsettled}",
        "#".repeat(filled),
        "-".repeat(bar_width - filled)
    )
}

/// How a profile ended.
#[derive(Debug, Clone)]
pub struct End {
    /// Its last status (final).
    pub status: Status,
    /// The last attempt's report, when one was made in this run.
    pub report: Option<Report>,
    /// Its store's label.
    pub store: String,
    /// Whether its change is settled.
    pub settled: bool,
}

/// What [`rotate`] and [`resume`] report while they run.
#[derive(Debug)]
pub enum Event {
    /// Profile `index` is now at this status.
    Status(usize, Status),
    /// One attempt of profile `index` ended with this report (write state and audit).
    Attempted(usize, Box<Report>),
    /// An earlier run's change of profile `index` was settled (or could not be).
    Settled(usize, Settled),
    /// Profile `index` is finished.
    Finished(usize, Box<End>),
    /// Something about profile `index` the user must read (its end could not be recorded in
    /// the run's progress file: its journal still tells `--resume` what happened).
    Warning(usize, String),
}

/// Where events go.
pub type Events = UnboundedSender<Event>;

/// How a run is stopped, and where its HTTP exchanges go.
pub struct Controls {
    /// Interrupts the changes themselves (a signal, quitting): one not yet sent is not sent,
    /// one on its way ends `unknown` (journaled, settled later). Also stops new starts.
    pub interrupt: Interrupt,
    /// Only stops new starts: changes already started finish undisturbed (the console's "stop
    /// starting new ones").
    pub stop_new: Interrupt,
    /// Every change's request/response log entries (secrets masked), as for one change.
    pub log: crate::provider::LogSink,
}

impl Controls {
    /// Controls that only `interrupt` fires, with no log (the headless command).
    pub fn interrupt_only(interrupt: Interrupt) -> Controls {
        let (_never, stop_new) = super::Interrupter::new();
        Controls {
            interrupt,
            stop_new,
            log: std::sync::Arc::new(|_| {}),
        }
    }
}

/// Why a profile cannot be rotated at all (SPEC §10–§11), whatever its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrotatable {
    /// No store: the generated password would have nowhere to be saved first.
    NoStore,
    /// A secret of the profile (this key) is `{ prompt = true }`: a run cannot ask for it.
    PromptSecret(&'static str),
    /// Its store (this label) needs a typed password to open.
    StoreNeedsUnlock(String),
}

/// The one rule both faces (`rekey rotate` and the console's dialog) refuse profiles by.
pub fn unrotatable(profile: &Profile) -> Option<Unrotatable> {
    let Some(store) = Store::for_profile(profile) else {
        return Some(Unrotatable::NoStore);
    };
    if let Some(key) = profile.prompt_secrets().first() {
        return Some(Unrotatable::PromptSecret(key));
    }
    if store.needs_unlock() {
        return Some(Unrotatable::StoreNeedsUnlock(store.label()));
    }
    None
}

/// Why a profile may not be sent to now (SPEC §4), or None: known to be locked (always
/// refused: a rotation never overrides a lock), 2 or fewer retries left or a production
/// profile (both need `yes`).
pub fn rails(profile: &Profile, last: &ProfileState, now: SystemTime, yes: bool) -> Option<String> {
    if let Some(left) = last.lock_left(now) {
        return Some(format!(
            "known to be locked for another {}; nothing was sent",
            crate::console::app::countdown(left)
        ));
    }
    if let Some(n) = last.retries_known(now).filter(|n| *n <= 2)
        && !yes
    {
        return Some(format!(
            "{n} retries left — this may be the last attempt before a lock; confirm with --yes"
        ));
    }
    if profile.production && !yes {
        return Some("a production profile: confirm with --yes".into());
    }
    None
}

/// A generated password for `profile` (`length`, else the generator's default).
pub fn generate(profile: &Profile, length: Option<usize>) -> Result<SecretBuf, String> {
    let mut new = SecretBuf::password();
    let policy = Policy::for_profile(profile);
    policy::generate(
        &policy,
        length.unwrap_or(policy::DEFAULT_GENERATED_LENGTH),
        &mut new,
    )
    .map_err(|e| format!("cannot generate a password: {e}"))?;
    Ok(new)
}

/// Starts a run on disk: a new run id and its plan, written (atomically, 0600) before anything
/// starts. `refused[i]` says why `targets[i]` is not rotated (a rail), if so.
pub fn new_run(
    data_dir: &std::path::Path,
    targets: &[Target],
    refused: &[Option<String>],
    options: &Options,
) -> std::io::Result<(RunDir, runs::Plan)> {
    let id = runs::new_run_id();
    let plan = plan(
        &id,
        SystemTime::now(),
        super::who(),
        targets,
        refused,
        options,
    );
    let run = RunDir::new(data_dir, &id);
    run.create(&plan)?;
    Ok((run, plan))
}

/// The plan of run `id`, started at `at` by `by` (who ran it, for `--runs`). `refused[i]` says
/// why `targets[i]` is not rotated (a rail), if so; missing entries are `None`.
pub fn plan(
    id: &str,
    at: SystemTime,
    by: String,
    targets: &[Target],
    refused: &[Option<String>],
    options: &Options,
) -> runs::Plan {
    runs::Plan {
        run_id: id.to_string(),
        created_at: crate::timefmt::rfc3339_utc(at),
        by,
        concurrency: options.concurrency,
        canary: options.canary,
        max_failures: options.max_failures,
        length: options.length,
        profiles: targets
            .iter()
            .zip(refused.iter().chain(std::iter::repeat(&None)))
            .map(|(t, refused)| runs::PlanEntry {
                name: t.profile.name.clone(),
                kind: t.profile.kind.as_str().to_string(),
                store: store_label(&t.profile),
                refused: refused.clone(),
            })
            .collect(),
    }
}

/// What every profile's task shares.
struct Shared {
    data_dir: PathBuf,
    run: Option<RunDir>,
    limiter: Arc<Limiter>,
    events: Events,
    interrupt: Interrupt,
    stop_new: Interrupt,
    log: crate::provider::LogSink,
    length: Option<usize>,
}

impl Shared {
    fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Appends a progress record; a run that cannot record its progress must not go on.
    fn record(&self, record: &Progress) -> Result<(), String> {
        match &self.run {
            Some(run) => run.append(record).map_err(|e| {
                format!(
                    "cannot write {}: {e}",
                    run.path().join("progress.jsonl").display()
                )
            }),
            None => Ok(()),
        }
    }
}

/// Runs `f` off the async thread as [`super::blocking`] does (a panic in it ends that step,
/// never the console); None when it panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    super::blocking(f).await.ok()
}

/// Rotates `targets[i]` for every `i` of `todo`, in that order: the first `options.canary` one
/// by one (any of them not saved stops the run), then the rest `options.concurrency` at a time,
/// starting no new one after `options.max_failures` definite failures, any unsettled outcome,
/// `controls.stop_new` (changes in flight finish) or `controls.interrupt` (which also
/// interrupts the changes in flight: see [`Controls`]). Returns the end of every profile of `todo`, in
/// `todo` order. With `run`, each start and end is appended to its progress file first.
#[allow(clippy::too_many_arguments)]
pub async fn rotate(
    targets: Arc<Vec<Target>>,
    todo: Vec<usize>,
    data_dir: PathBuf,
    run: Option<RunDir>,
    options: Options,
    limiter: Arc<Limiter>,
    events: Events,
    controls: Controls,
) -> Vec<(usize, End)> {
    let shared = Arc::new(Shared {
        data_dir,
        run,
        limiter,
        events,
        interrupt: controls.interrupt,
        stop_new: controls.stop_new,
        log: controls.log,
        length: options.length,
    });
    for &i in &todo {
        shared.send(Event::Status(i, Status::Waiting));
    }
    let mut ends: Vec<(usize, End)> = Vec::with_capacity(todo.len());
    let mut queue = todo.into_iter();
    let mut stop: Option<String> = None;
    let mut failures = 0usize;
    let mut canaries = options.canary;
    let mut canary_set = std::collections::HashSet::new();
    let mut in_flight: JoinSet<(usize, End)> = JoinSet::new();
    // Which profile each task changes, for a task that panics (it returns no end).
    let mut profile_of: std::collections::HashMap<tokio::task::Id, usize> =
        std::collections::HashMap::new();
    loop {
        if stop.is_none()
            && let Some(why) = shared.interrupt.fired().or_else(|| shared.stop_new.fired())
        {
            stop = Some(format!("{why}: the run stopped starting new changes"));
        }
        let limit = if canaries > 0 {
            1
        } else {
            options.concurrency.max(1)
        };
        while stop.is_none() && in_flight.len() < limit {
            let Some(i) = queue.next() else { break };
            let target = targets[i].clone();
            let canary = canaries > 0;
            canaries = canaries.saturating_sub(1);
            if canary {
                canary_set.insert(i);
            }
            let shared = shared.clone();
            // Job code: a panic in one profile's change stops the run (below), never the
            // console.
            let task = in_flight.spawn(crate::console::terminal::AsJob::new(async move {
                let end = one(i, target, &shared).await;
                let end = End {
                    status: match end.status {
                        Status::Failed(why) if canary => Status::Failed(format!("canary: {why}")),
                        s => s,
                    },
                    ..end
                };
                (i, end)
            }));
            profile_of.insert(task.id(), i);
            if canary {
                break;
            }
        }
        let Some(joined) = in_flight.join_next_with_id().await else {
            break;
        };
        let (i, end) = match joined {
            Ok((id, ended)) => {
                profile_of.remove(&id);
                ended
            }
            Err(e) => {
                // A bug in its change (a panic): whether its request left is not known, so
                // it is unsettled, for `R` or `rekey recover` to look at its journal.
                stop.get_or_insert_with(|| "internal error in a change task".into());
                let Some(i) = profile_of.remove(&e.id()) else {
                    continue;
                };
                let end = End {
                    status: Status::Unsettled(
                        "internal error during its change: it may have been sent; settle it".into(),
                    ),
                    report: None,
                    store: store_label(&targets[i].profile),
                    settled: false,
                };
                shared.send(Event::Finished(i, Box::new(end.clone())));
                ends.push((i, end));
                continue;
            }
        };
        match &end.status {
            Status::Saved => {}
            Status::Failed(_) => {
                failures += 1;
                if canary_set.contains(&i) {
                    stop.get_or_insert_with(|| {
                        format!("the canary {} failed", targets[i].profile.name)
                    });
                } else if failures >= options.max_failures.max(1) {
                    stop.get_or_insert_with(|| {
                        format!(
                            "{failures} failed (--max-failures {})",
                            options.max_failures
                        )
                    });
                }
            }
            Status::Unsettled(_) => {
                stop.get_or_insert_with(|| {
                    format!(
                        "{} may have been applied (unknown): settle it first",
                        targets[i].profile.name
                    )
                });
            }
            Status::NotStarted(why) => {
                stop.get_or_insert_with(|| why.clone());
            }
            _ => {}
        }
        shared.send(Event::Finished(i, Box::new(end.clone())));
        ends.push((i, end));
    }
    // What was never started is reported as such (and left for `--resume`).
    let why = stop.unwrap_or_else(|| "the run stopped".into());
    for i in queue {
        let end = End {
            status: Status::NotStarted(format!("not started: {why}")),
            report: None,
            store: store_label(&targets[i].profile),
            settled: true,
        };
        shared.send(Event::Finished(i, Box::new(end.clone())));
        ends.push((i, end));
    }
    ends
}

fn store_label(profile: &Profile) -> String {
    Store::for_profile(profile)
        .map(|s| s.label())
        .unwrap_or_default()
}

/// Rotates one profile: records its start, then sends its change (again after a rate-limit
/// answer, a bounded number of times, each with a new password: a rate-limited change was
/// refused before the provider acted, and its journal is closed), then records its end.
async fn one(index: usize, target: Target, shared: &Arc<Shared>) -> End {
    let profile = target.profile;
    let label = store_label(&profile);
    let end = |status: Status, report: Option<Report>, settled: bool| End {
        status,
        report,
        store: label.clone(),
        settled,
    };
    let journal = Journal::new(&shared.data_dir, &profile.name);
    let start = {
        let (journal, name, shared) = (journal.clone(), profile.name.clone(), shared.clone());
        blocking(move || {
            // What `--resume` compares with: not knowing it, the profile is not started.
            let before = journal
                .last_change()
                .map_err(|e| format!("cannot read its journal ({e})"))?
                .map(|o| o.change);
            shared.record(&Progress::start(&name, before))
        })
        .await
        .unwrap_or_else(|| Err("internal error while recording progress".into()))
    };
    if let Err(e) = start {
        return end(Status::NotStarted(e), None, true);
    }
    crash_point("rotate-start");
    let client = match provider::client_for(&profile) {
        Ok(c) => c,
        Err(e) => {
            return finish(
                index,
                shared,
                &profile,
                end(Status::Failed(e.0), None, true),
            )
            .await;
        }
    };
    let (key, window) = rate::bucket_of(&profile, &shared.limiter.limits());
    let mut attempt = 0u32;
    let result = loop {
        attempt += 1;
        shared.send(Event::Status(index, Status::Staging));
        let new = match generate(&profile, shared.length) {
            Ok(n) => n,
            Err(e) => break end(Status::Failed(e), None, true),
        };
        let typed = TypedSecrets {
            current: None,
            new,
            prompted: Vec::new(),
        };
        let place = Place {
            data_dir: Some(shared.data_dir.clone()),
            store: Store::for_profile(&profile),
        };
        let pace: provider::http::Pace = {
            let (limiter, key, events) =
                (shared.limiter.clone(), key.clone(), shared.events.clone());
            Arc::new(move || {
                let (limiter, key, events) = (limiter.clone(), key.clone(), events.clone());
                Box::pin(async move {
                    limiter.acquire(&key, window).await;
                    let _ = events.send(Event::Status(index, Status::Sending));
                })
            })
        };
        let job = super::run(
            client.clone(),
            profile.clone(),
            place,
            typed,
            provider::Options::default(),
            shared.log.clone(),
            Arc::new(AtomicBool::new(false)),
            shared.interrupt.clone(),
        );
        let finished = match provider::http::paced(pace, job).await {
            Ok(f) => f,
            Err(setup) => break end(Status::Failed(setup.0), None, true),
        };
        let report = finished.report;
        shared.send(Event::Attempted(index, Box::new(report.clone())));
        let outcome = report.outcome;
        if outcome == Outcome::RateLimited
            && finished.settled
            && attempt <= RATE_LIMIT_RETRIES
            && !finished.interrupted
        {
            let wait = rate::back_off_after(attempt);
            shared.limiter.back_off(&key, window, wait);
            shared.send(Event::Status(index, Status::RateLimited(attempt)));
            continue;
        }
        let warning = finished
            .warning
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        let status = match (outcome, finished.settled) {
            (_, true) if finished.interrupted && !outcome.is_success() => {
                Status::NotStarted(format!("interrupted before the change was sent{warning}"))
            }
            (o, true) if o.is_success() => Status::Saved,
            (o, false) if o.is_success() => Status::Unsettled(format!(
                "changed, but saving the new password as current did not finish{warning}"
            )),
            (Outcome::Unknown, _) => Status::Unsettled(format!("{}{warning}", report.summary())),
            (_, false) => Status::Unsettled(format!(
                "{}; cleaning up the pending password did not finish{warning}",
                report.summary()
            )),
            (_, true) => Status::Failed(report.summary()),
        };
        let settled = finished.settled;
        break end(status, Some(report), settled);
    };
    finish(index, shared, &profile, result).await
}

/// Records a profile's end (not for one never started: `--resume` starts it) and passes it on.
async fn finish(index: usize, shared: &Arc<Shared>, profile: &Profile, end: End) -> End {
    let status = match &end.status {
        Status::Saved => Some(EndStatus::Saved),
        Status::Failed(_) => Some(EndStatus::Failed),
        Status::Unsettled(_) => Some(EndStatus::Unsettled),
        _ => None,
    };
    if let Some(status) = status {
        let record = Progress::end(
            &profile.name,
            status,
            end.report.as_ref().map(|r| r.outcome),
        );
        let shared2 = shared.clone();
        let written = blocking(move || shared2.record(&record)).await;
        match written {
            Some(Ok(())) => {}
            Some(Err(e)) => shared.send(Event::Warning(index, e)),
            None => shared.send(Event::Warning(
                index,
                "internal error while recording progress".into(),
            )),
        }
        crash_point("rotate-end");
    }
    end
}

/// What [`resume`] decided about the profiles of a run found on disk.
#[derive(Debug)]
pub struct Resumed {
    /// Finished profiles (earlier, or settled now): their ends.
    pub done: Vec<(usize, End)>,
    /// Profiles still to rotate, in plan order.
    pub todo: Vec<usize>,
    /// How many were rotated earlier in this run (they count as canaries that passed).
    pub saved_before: usize,
}

/// After a crash: settles every profile whose change the run began and did not end
/// ([`settle::settle`], SPEC §10.2), then decides from its journal whether that change
/// happened (saved), was definitely refused (failed) or never took effect (to rotate again).
/// Profiles the run finished are done; profiles never started are to rotate. `targets` are in
/// plan order. No profile is rotated twice: a change that may have been applied is settled
/// first, and one that was applied is never sent again. Once `interrupt` fires (a signal), the
/// settle in hand finishes and no other starts: those profiles stay unsettled, for the next
/// resume.
pub async fn resume(
    targets: Arc<Vec<Target>>,
    run: &RunDir,
    data_dir: PathBuf,
    answers: Answers,
    events: Events,
    interrupt: &Interrupt,
) -> Result<Resumed, String> {
    let progress = {
        let run = run.clone();
        blocking(move || run.progress())
            .await
            .ok_or("internal error while reading progress")?
            .map_err(|e| format!("cannot read the run's progress: {e}"))?
    };
    let ends = runs::ends(&progress);
    let mut before: std::collections::HashMap<&str, Option<String>> =
        std::collections::HashMap::new();
    for p in &progress {
        if p.step == runs::Step::Start {
            before.insert(p.profile.as_str(), p.before.clone());
        }
    }
    let mut out = Resumed {
        done: Vec::new(),
        todo: Vec::new(),
        saved_before: 0,
    };
    for (i, target) in targets.iter().enumerate() {
        let profile = target.profile.clone();
        let name = profile.name.as_str();
        let label = store_label(&profile);
        let ended = |status: Status| End {
            status,
            report: None,
            store: label.clone(),
            settled: true,
        };
        // Left for `R`, `rekey recover` or the next resume.
        let unsettled = |why: String| End {
            settled: false,
            ..ended(Status::Unsettled(why))
        };
        match ends.get(name) {
            Some(EndStatus::Saved) => {
                out.saved_before += 1;
                out.done.push((i, ended(Status::Saved)));
                continue;
            }
            Some(EndStatus::Failed) => {
                out.done.push((
                    i,
                    ended(Status::Failed("failed earlier in this run".into())),
                ));
                continue;
            }
            _ => {}
        }
        let Some(before) = before.get(name) else {
            out.todo.push(i);
            continue;
        };
        if let Some(why) = interrupt.fired() {
            // Nothing is recorded: the next resume settles it.
            out.done
                .push((i, unsettled(format!("not settled yet: {why}"))));
            continue;
        }
        let _ = events.send(Event::Status(i, Status::Settling));
        let client = provider::client_for(&profile).ok();
        let settled = settle::settle(
            client,
            profile.clone(),
            data_dir.clone(),
            Store::for_profile(&profile),
            answers,
            Arc::new(|_| {}),
        )
        .await;
        let settled = match settled {
            Ok(s) => s,
            Err(e) => {
                out.done.push((i, unsettled(e.0)));
                continue;
            }
        };
        let _ = events.send(Event::Settled(i, settled.clone()));
        if !settled.settled {
            record_end(run, name, EndStatus::Unsettled, None).await;
            out.done.push((i, unsettled(settled.did)));
            continue;
        }
        let journal = Journal::new(&data_dir, name);
        let last = match blocking(move || journal.last_change()).await {
            Some(Ok(last)) => last,
            // Whether the change it settled happened is in that journal: not knowing, the
            // profile is not rotated again.
            failed => {
                let why = match failed {
                    Some(Err(e)) => format!("cannot read its journal after settling it ({e})"),
                    _ => "internal error while reading its journal".into(),
                };
                out.done.push((i, unsettled(why)));
                continue;
            }
        };
        let status = match last {
            Some(l) if Some(&l.change) != before.as_ref() => match (l.last, l.outcome) {
                (JournalStep::Done, _) => Some((Status::Saved, EndStatus::Saved, l.outcome)),
                (JournalStep::Aborted, Some(o)) if definite_refusal(o) => Some((
                    Status::Failed(format!("the provider's answer was {}", o.as_str())),
                    EndStatus::Failed,
                    Some(o),
                )),
                _ => None,
            },
            _ => None,
        };
        match status {
            Some((status, record, outcome)) => {
                if status == Status::Saved {
                    out.saved_before += 1;
                }
                record_end(run, name, record, outcome).await;
                out.done.push((i, ended(status)));
            }
            None => out.todo.push(i),
        }
    }
    Ok(out)
}

/// An outcome that ends a profile's rotation as failed: the provider refused (not a rate
/// limit, which is sent again, and not "nothing reached it" or "unknown").
fn definite_refusal(o: Outcome) -> bool {
    !o.is_success()
        && !matches!(
            o,
            Outcome::RateLimited | Outcome::NetworkError | Outcome::Unknown
        )
}

async fn record_end(run: &RunDir, name: &str, status: EndStatus, outcome: Option<Outcome>) {
    let (run, record) = (run.clone(), Progress::end(name, status, outcome));
    let _ = blocking(move || run.append(&record)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn profile(extra: &str) -> Profile {
        let text = format!(
            "[[profile]]\nname = \"p\"\nkind = \"huawei-iam\"\niam_endpoint = \"https://iam.example.com\"\ndomain = \"d\"\nuser = \"u\"\n{extra}"
        );
        crate::config::parse(std::path::Path::new("t.toml"), &text)
            .expect("parses")
            .profiles
            .remove(0)
    }

    #[test]
    fn rails_refuse_a_lock_always_and_few_retries_or_production_without_yes() {
        let now = SystemTime::now();
        let plain = profile("");
        let fresh = ProfileState::default();
        assert_eq!(rails(&plain, &fresh, now, false), None);
        let locked = ProfileState {
            locked_until: Some(now + Duration::from_secs(120)),
            ..ProfileState::default()
        };
        let why = rails(&plain, &locked, now, true).expect("locked");
        assert!(why.contains("locked"), "{why}");
        let two_left = ProfileState {
            retries_left: Some(2),
            ..ProfileState::default()
        };
        assert!(rails(&plain, &two_left, now, false).is_some_and(|w| w.contains("--yes")));
        assert_eq!(rails(&plain, &two_left, now, true), None);
        let production = profile("production = true\n");
        assert!(rails(&production, &fresh, now, false).is_some_and(|w| w.contains("production")));
        assert_eq!(rails(&production, &fresh, now, true), None);
    }

    #[test]
    fn only_provider_refusals_end_a_profile_as_failed() {
        assert!(definite_refusal(Outcome::WrongOldPassword));
        assert!(definite_refusal(Outcome::PolicyRejected));
        for o in [
            Outcome::RateLimited,
            Outcome::NetworkError,
            Outcome::Unknown,
            Outcome::Changed,
            Outcome::Created,
        ] {
            assert!(!definite_refusal(o), "{o}");
        }
    }
}
