//! The async job runner: jobs in, events out. One job per change; a job is never retried; a
//! job can be cancelled until its answer arrives. The HTTP client is built on the first job,
//! off the console's first-frame path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::change::{Interrupter, Place};
use crate::config::Profile;
use crate::console::terminal::AsJob;
use crate::provider::{self, LogEntry, Options, Outcome, Report, TypedSecrets};

/// One change to send.
#[derive(Debug)]
pub struct Job {
    /// Chosen by the submitter; events carry it back.
    pub id: u64,
    /// The profile.
    pub profile: Arc<Profile>,
    /// The typed secrets, moved in and zeroized when the job ends.
    pub secrets: TypedSecrets,
    /// Create/update override, force.
    pub options: Options,
    /// Where the change is journaled and staged (SPEC §10.2). Checks (`options.check`) change
    /// nothing and ignore it.
    pub place: Place,
}

/// What the worker reports.
#[derive(Debug)]
pub enum WorkerEvent {
    /// One HTTP exchange of a job, redacted.
    Log {
        /// The job.
        job: u64,
        /// The exchange.
        entry: LogEntry,
    },
    /// The job ended with an outcome.
    Finished {
        /// The job.
        job: u64,
        /// How it ended.
        report: Report,
        /// The store's label, if the profile has one.
        store: Option<String>,
        /// Settled (false: the change is journaled as unsettled; `R` settles it).
        settled: bool,
        /// A problem beside the outcome (the store promotion or the journal failed).
        warning: Option<String>,
    },
    /// The job could not start: a secret source or `ca_file` problem. Nothing was sent; it is
    /// not an attempt.
    SetupFailed {
        /// The job.
        job: u64,
        /// What is wrong, naming no secret.
        message: String,
    },
    /// The job was cancelled. If the change request had been sent, the outcome is unknown.
    Cancelled {
        /// The job.
        job: u64,
        /// The report when the change request was already sent (`unknown`); None otherwise.
        report: Option<Report>,
    },
}

enum Command {
    Run(Box<Job>),
    Cancel(u64),
}

/// A job being run: how to stop it, and whether its change request has left.
struct Running {
    abort: AbortHandle,
    sent: Arc<AtomicBool>,
    interrupter: Option<Interrupter>,
}

/// A handle to the worker task. Cheap to clone; the task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Worker {
    commands: UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Run(job) => write!(f, "Run({})", job.id),
            Command::Cancel(id) => write!(f, "Cancel({id})"),
        }
    }
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(WorkerEvent) + Send + Sync>;

impl Worker {
    /// Spawns the worker on the current tokio runtime.
    pub fn spawn(post: EventSink) -> Worker {
        Worker::spawn_after(post, std::future::ready(()))
    }

    /// Spawns the worker; it takes its first command once `ready` has ended (commands sent
    /// before wait, in order). The TLS demo waits for its simulator's certificates this way.
    pub fn spawn_after(
        post: EventSink,
        ready: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Worker {
        let (tx, mut rx) = unbounded_channel::<Command>();
        tokio::spawn(async move {
            ready.await;
            // Clients differ by extra roots, proxy use and connect timeout.
            let mut clients: HashMap<(Option<PathBuf>, Option<url::Url>, u64), reqwest::Client> =
                HashMap::new();
            let mut running: HashMap<u64, Running> = HashMap::new();
            while let Some(command) = rx.recv().await {
                running.retain(|_, r| !r.abort.is_finished());
                match command {
                    Command::Run(job) => {
                        let key = (
                            job.profile.ca_file.clone(),
                            provider::endpoint_of(&job.profile),
                            job.profile.timeout_secs,
                        );
                        let client = match clients.get(&key) {
                            Some(c) => c.clone(),
                            None => match provider::client_for(&job.profile) {
                                Ok(c) => {
                                    clients.insert(key, c.clone());
                                    c
                                }
                                Err(e) => {
                                    let report = Report::new(
                                        Outcome::NetworkError,
                                        format!("{e}; nothing was sent"),
                                    );
                                    post(WorkerEvent::Finished {
                                        job: job.id,
                                        report,
                                        store: None,
                                        settled: true,
                                        warning: None,
                                    });
                                    continue;
                                }
                            },
                        };
                        let id = job.id;
                        let sent = Arc::new(AtomicBool::new(false));
                        let post_log = post.clone();
                        let post_done = post.clone();
                        let log: provider::LogSink = Arc::new(move |entry| {
                            post_log(WorkerEvent::Log { job: id, entry });
                        });
                        let flag = sent.clone();
                        let staged = !job.options.check;
                        let (interrupter, interrupt) = Interrupter::new();
                        let task = tokio::spawn(AsJob::new(async move {
                            if staged {
                                crate::change::run(
                                    client,
                                    job.profile,
                                    job.place,
                                    job.secrets,
                                    job.options,
                                    log,
                                    flag,
                                    interrupt,
                                )
                                .await
                            } else {
                                provider::run(
                                    client,
                                    job.profile,
                                    job.secrets,
                                    job.options,
                                    log,
                                    flag,
                                )
                                .await
                                .map(|report| {
                                    crate::change::Finished {
                                        report,
                                        store: None,
                                        settled: true,
                                        interrupted: false,
                                        warning: None,
                                    }
                                })
                            }
                        }));
                        let abort = task.abort_handle();
                        // Watch the job: its result, or a panic (never left unanswered).
                        let sent_flag = sent.clone();
                        tokio::spawn(async move {
                            match task.await {
                                Ok(Ok(f)) if f.interrupted => {
                                    let report =
                                        (f.report.outcome == Outcome::Unknown).then_some(f.report);
                                    post_done(WorkerEvent::Cancelled { job: id, report })
                                }
                                Ok(Ok(f)) => post_done(WorkerEvent::Finished {
                                    job: id,
                                    report: f.report,
                                    store: f.store,
                                    settled: f.settled,
                                    warning: f.warning,
                                }),
                                Ok(Err(setup)) => post_done(WorkerEvent::SetupFailed {
                                    job: id,
                                    message: setup.to_string(),
                                }),
                                // Cancelled: the Cancel command already reported it.
                                Err(e) if e.is_cancelled() => {}
                                Err(_) => {
                                    let report = if sent_flag.load(Ordering::SeqCst) {
                                        Report::new(
                                            Outcome::Unknown,
                                            "internal error after the change request was sent: it may have been applied",
                                        )
                                    } else {
                                        Report::new(
                                            Outcome::NetworkError,
                                            "internal error before anything was sent",
                                        )
                                    };
                                    post_done(WorkerEvent::Finished {
                                        job: id,
                                        report,
                                        store: None,
                                        settled: false,
                                        warning: None,
                                    });
                                }
                            }
                        });
                        running.insert(
                            id,
                            Running {
                                abort,
                                sent,
                                interrupter: staged.then_some(interrupter),
                            },
                        );
                    }
                    Command::Cancel(id) => {
                        if let Some(Running {
                            abort: handle,
                            sent,
                            interrupter,
                        }) = running.remove(&id)
                            && !handle.is_finished()
                        {
                            // A staged change is interrupted, not aborted: it journals and
                            // cleans up its own end, and reports it.
                            if let Some(interrupter) = interrupter {
                                interrupter.interrupt("cancelled");
                                continue;
                            }
                            handle.abort();
                            let report = sent.load(Ordering::SeqCst).then(|| {
                                Report::new(
                                    Outcome::Unknown,
                                    "cancelled after the change request was sent: it may have been applied",
                                )
                            });
                            post(WorkerEvent::Cancelled { job: id, report });
                        }
                    }
                }
            }
        });
        Worker { commands: tx }
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        // The task lives as long as any handle, so sending only fails during shutdown.
        let _ = self.commands.send(Command::Run(Box::new(job)));
    }

    /// Cancels a job that has not been answered yet.
    pub fn cancel(&self, id: u64) {
        let _ = self.commands.send(Command::Cancel(id));
    }
}
