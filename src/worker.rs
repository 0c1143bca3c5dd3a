//! The async job runner: jobs in, events out. One job per change; a job is never retried; a
//! job can be cancelled until its answer arrives. The HTTP client is built on the first job,
//! off the console's first-frame path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::config::Profile;
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
    Run(Job),
    Cancel(u64),
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
        let (tx, mut rx) = unbounded_channel::<Command>();
        tokio::spawn(async move {
            // Clients differ by extra roots, proxy use and connect timeout.
            let mut clients: HashMap<(Option<PathBuf>, String, u64), reqwest::Client> =
                HashMap::new();
            let mut running: HashMap<u64, (AbortHandle, Arc<AtomicBool>)> = HashMap::new();
            while let Some(command) = rx.recv().await {
                running.retain(|_, (handle, _)| !handle.is_finished());
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
                        let task = tokio::spawn(provider::run(
                            client,
                            job.profile,
                            job.secrets,
                            job.options,
                            log,
                            flag,
                        ));
                        let abort = task.abort_handle();
                        // Watch the job: its result, or a panic (never left unanswered).
                        let sent_flag = sent.clone();
                        tokio::spawn(async move {
                            match task.await {
                                Ok(Ok(report)) => {
                                    post_done(WorkerEvent::Finished { job: id, report })
                                }
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
                                    post_done(WorkerEvent::Finished { job: id, report });
                                }
                            }
                        });
                        running.insert(id, (abort, sent));
                    }
                    Command::Cancel(id) => {
                        if let Some((handle, sent)) = running.remove(&id)
                            && !handle.is_finished()
                        {
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
        let _ = self.commands.send(Command::Run(job));
    }

    /// Cancels a job that has not been answered yet.
    pub fn cancel(&self, id: u64) {
        let _ = self.commands.send(Command::Cancel(id));
    }
}
