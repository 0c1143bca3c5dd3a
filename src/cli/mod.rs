//! The command line: parsing, and the headless commands.
//!
//! Output never panics: stdout or stderr may be a full disk or a closed pipe. A command that
//! changed something (`change`, `recover`) keeps its exit code when its output cannot be
//! written, and says so on stderr if it can; a command whose only product is its output
//! (`profiles`, `check`) exits 2.

/// `eprintln!` that never panics: a line on stderr, or nothing when stderr cannot be written
/// (there is nowhere left to say it).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod demo_store;
mod recover;
mod rotate;

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::{self, Config, LoadOutcome, Profile};
use crate::console::{self, App, Console, Loaded, SystemClock};
use crate::policy::{self, Candidate, Policy, Rule};
use crate::provider::{self, Outcome, Report, TypedSecrets};
use crate::secret::{Full, PASSWORD_CAPACITY, Refused, SecretBuf, TOKEN_CAPACITY};
use crate::state::{self, Audit, State};

/// The example profiles, built in so `rekey demo` never reads the user's files.
pub const DEMO_PROFILES: &str = include_str!("../../assets/profiles.example.toml");

/// Exit code for usage and configuration errors (SPEC §2).
pub const EXIT_USAGE: u8 = 2;

/// rekey — change cloud account passwords from a terminal console.
#[derive(Debug, Parser)]
#[command(name = "rekey", version, about, long_about = None)]
pub struct Cli {
    /// Path of profiles.toml (else $REKEY_CONFIG, else the user config dir).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Leave the mouse to the terminal, so its own text selection works (also `mouse = false`
    /// in profiles.toml).
    #[arg(long, global = true)]
    pub no_mouse: bool,
    /// What to do; without a command, open the console on your profiles.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
// Each subcommand's arguments are defined only when it is the one invoked (or for help,
// completions and the manual): building all of them took a 50 KB stack frame and ~0.1 ms
// before the console's first frame.
#[command(defer = true)]
pub enum Command {
    /// Open the console on built-in demo profiles (never reads or writes your files). The
    /// simulator serves HTTPS with a throwaway CA, as a real provider would.
    Demo {
        /// Talk to the simulator over plain HTTP instead of HTTPS.
        #[arg(long)]
        plain: bool,
    },
    /// Run the provider simulator alone: prints a profiles.toml on stdout (`rekey sim >
    /// profiles.toml`), its URL and the demo passwords on stderr.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8707", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// Serve HTTPS with a throwaway CA; the profiles name its certificate as `ca_file`.
        #[arg(long, conflicts_with = "plain")]
        tls: bool,
        /// Serve plain HTTP (the default).
        #[arg(long)]
        plain: bool,
        /// With --tls: write the CA certificate here (replaced if it exists) instead of a
        /// private temp folder removed when the simulator stops.
        #[arg(long, value_name = "PATH", requires = "tls")]
        ca_out: Option<PathBuf>,
        /// Play a fleet of N accounts across the four kinds instead of the demo (for
        /// `rekey rotate`): every profile gets a store holding its current password.
        #[arg(long, value_name = "N", conflicts_with = "tls", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        fleet: Option<u32>,
        /// With --fleet: no rate limit (Tencent API 3.0 otherwise allows 5 requests/s).
        #[arg(long, requires = "fleet")]
        unlimited: bool,
    },
    /// Change one password without the console. Reads the current password (kinds that need
    /// it) and then the new one from stdin, one per line; prompts without echo on a terminal.
    Change {
        /// The profile to change.
        #[arg(long)]
        profile: String,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Skip the client-side policy check (the provider still decides).
        #[arg(long)]
        force: bool,
        /// Confirm in advance: send with 2 or fewer retries left, and to a production profile.
        #[arg(long)]
        yes: bool,
        /// Send even though the profile is known to be locked.
        #[arg(long)]
        ignore_lock: bool,
        /// Generate the new password (never printed) instead of reading it; needs a store.
        #[arg(long)]
        generate: bool,
        /// Length of the generated password (default 16, or the policy's minimum if longer).
        #[arg(long, value_name = "N", requires = "generate")]
        length: Option<usize>,
    },
    /// The demo's built-in password store (a `command` store backend); used by `rekey demo`.
    #[command(name = "demo-store", hide = true)]
    DemoStore {
        /// The folder holding the slots.
        #[arg(long)]
        dir: PathBuf,
        /// get, put or delete.
        action: String,
        /// current, pending or previous.
        slot: String,
    },
    /// Settle changes that may have been applied: find out whether the provider took each
    /// pending password, then save it as current or drop it.
    Recover {
        /// Only this profile.
        #[arg(long)]
        profile: Option<String>,
        /// Print a JSON array, one object per profile.
        #[arg(long)]
        json: bool,
        /// Confirm in advance: a Tencent BM change may be resent to settle it; a pending password
        /// left by another process may be removed once a check shows it was not applied.
        #[arg(long)]
        yes: bool,
        /// The admin verified that the new password works (needs --profile).
        #[arg(long, conflicts_with = "not_applied", requires = "profile")]
        applied: bool,
        /// The admin verified that the old password still works (needs --profile).
        #[arg(long, requires = "profile")]
        not_applied: bool,
    },
    /// Rotate many profiles to generated passwords (each saved to its store first): a canary,
    /// then the rest in parallel, paced per provider; resumable after a crash.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["all", "profile", "pattern", "resume", "runs"])))]
    Rotate {
        /// Every profile in the config.
        #[arg(long)]
        all: bool,
        /// These profiles (repeat, or list several after one --profile).
        #[arg(long, value_name = "NAME", num_args = 1..)]
        profile: Vec<String>,
        /// Profiles whose name matches GLOB (`*` and `?`), e.g. 'redis-*'.
        #[arg(long = "match", value_name = "GLOB")]
        pattern: Option<String>,
        /// Check config, store access, policy and credentials; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Changes in flight at once after the canary.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
        /// Profiles rotated one by one first; a failure among them stops the run.
        #[arg(long, value_name = "N", default_value_t = 1)]
        canary: u16,
        /// Stop starting new changes after N definite failures.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        max_failures: u16,
        /// Confirm in advance: rotate without asking, production profiles and profiles with 2
        /// or fewer retries left included; on --resume, a Tencent BM change may be resent to
        /// settle it.
        #[arg(long)]
        yes: bool,
        /// One JSON object per profile on stdout, a summary object last.
        #[arg(long)]
        json: bool,
        /// Length of the generated passwords (default 16, or the policy's minimum if longer).
        #[arg(long, value_name = "N")]
        length: Option<usize>,
        /// Continue run RUN-ID after a crash or a stop: settle what it left unsettled, then
        /// rotate the profiles not done, with the options of its plan.
        #[arg(long, value_name = "RUN-ID", conflicts_with_all = ["all", "profile", "pattern", "dry_run"])]
        resume: Option<String>,
        /// List the runs in the data dir.
        #[arg(long)]
        runs: bool,
    },
    /// List profiles with their last known lock/retry state.
    Profiles {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a candidate password (one line on stdin) against a profile's policy.
    Check {
        /// The profile whose policy applies.
        #[arg(long)]
        profile: String,
        /// Print one JSON object instead of the checklist.
        #[arg(long)]
        json: bool,
    },
    /// Write a commented profiles.toml (one example of each kind) to the config path; never
    /// overwrites an existing file.
    Init,
    /// Print a shell completion script on stdout (e.g. `rekey completions bash >
    /// ~/.local/share/bash-completion/completions/rekey`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `rekey man | man -l -`).
    Man,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    // Before anything can panic: a panic prints its location only, never its message.
    crate::console::terminal::install_panic_hook();
    let hardening_warnings = crate::harden::harden_process();
    // Before any thread exists: the local UTC offset can only be read safely now.
    crate::timefmt::init_local_offset();
    let cli = Cli::parse();
    let mouse = !cli.no_mouse;
    let code = match cli.command {
        None => run_console(cli.config.as_deref(), mouse, &hardening_warnings),
        Some(Command::Demo { plain }) => run_demo(mouse, !plain, &hardening_warnings),
        Some(Command::Init) => init(cli.config.as_deref()),
        Some(Command::Completions { shell }) => completions(shell),
        Some(Command::Man) => man(),
        Some(Command::Check { profile, json }) => check(cli.config.as_deref(), &profile, json),
        Some(Command::Sim {
            listen,
            tls,
            plain: _,
            ca_out,
            fleet: None,
            unlimited: _,
        }) => run_sim(
            listen,
            tls.then(|| {
                let tls = crate::sim::Tls::loopback();
                match ca_out {
                    Some(path) => tls.with_ca_file(path),
                    None => tls,
                }
            }),
        ),
        Some(Command::Sim {
            listen,
            fleet: Some(n),
            unlimited,
            ..
        }) => run_fleet_sim(listen, n as usize, unlimited),
        Some(Command::Change {
            profile,
            json,
            force,
            yes,
            ignore_lock,
            generate,
            length,
        }) => change(
            cli.config.as_deref(),
            &profile,
            ChangeFlags {
                json,
                force,
                yes,
                ignore_lock,
                generate: generate.then_some(length),
            },
        ),
        Some(Command::DemoStore { dir, action, slot }) => demo_store::run(&dir, &action, &slot),
        Some(Command::Recover {
            profile,
            json,
            yes,
            applied,
            not_applied,
        }) => recover::recover(
            cli.config.as_deref(),
            profile.as_deref(),
            json,
            crate::change::settle::Answers {
                applied: (applied || not_applied).then_some(applied),
                resend: yes,
            },
        ),
        Some(Command::Profiles { json }) => profiles(cli.config.as_deref(), json),
        Some(Command::Rotate {
            all,
            profile,
            pattern,
            dry_run,
            concurrency,
            canary,
            max_failures,
            yes,
            json,
            length,
            resume,
            runs,
        }) => rotate::rotate(
            cli.config.as_deref(),
            rotate::Flags {
                all,
                profiles: profile,
                pattern,
                dry_run,
                options: crate::change::rotate::Options {
                    concurrency: usize::from(concurrency),
                    canary: usize::from(canary),
                    max_failures: usize::from(max_failures),
                    length,
                },
                yes,
                json,
                resume,
                runs,
            },
        ),
    };
    ExitCode::from(code)
}

/// Prints a usage/config error on stderr and gives exit code 2.
fn usage_error(message: impl std::fmt::Display) -> u8 {
    say!("rekey: {message}");
    EXIT_USAGE
}

fn load_for_console(cli_path: Option<&Path>) -> (Option<PathBuf>, Loaded) {
    let Some(path) = config::resolve_path(cli_path) else {
        return (None, Loaded::Missing);
    };
    let loaded = match config::load_each(&path) {
        Ok(LoadOutcome::Loaded(config)) => Loaded::Config(config),
        Ok(LoadOutcome::Missing(_)) => Loaded::Missing,
        Err(e) => Loaded::Broken(e),
    };
    (Some(path), loaded)
}

fn run_console(cli_path: Option<&Path>, mouse: bool, warnings: &[String]) -> u8 {
    let (path, loaded) = load_for_console(cli_path);
    // `mouse = false` in the file turns capture off as `--no-mouse` does; a broken file keeps
    // the flag's choice.
    let mouse = mouse && !matches!(&loaded, Loaded::Config(c) if !c.mouse);
    open_console(path, Source::Loaded(loaded), mouse, warnings)
}

fn run_demo(mouse: bool, tls: bool, warnings: &[String]) -> u8 {
    open_console(None, Source::Demo { tls }, mouse, warnings)
}

/// Writes `bytes` to stdout; exit 2 when it cannot (the output is the command's only product).
fn write_stdout(bytes: &[u8]) -> u8 {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => usage_error(format!("cannot write: {e}")),
    }
}

/// `rekey completions SHELL`: the completion script on stdout.
fn completions(shell: clap_complete::Shell) -> u8 {
    use clap::CommandFactory as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rekey", &mut script);
    write_stdout(&script)
}

/// `rekey man`: the manual page (roff) on stdout.
fn man() -> u8 {
    use clap::CommandFactory as _;
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        return usage_error(format!("cannot render the manual page: {e}"));
    }
    write_stdout(&page)
}

/// `rekey init`: writes the commented example profiles to the config path (`--config`, else
/// `$REKEY_CONFIG`, else the user config dir), its folder created 0700 and the file 0600.
/// An existing file (or link, or anything else at that path) is never overwritten: exit 2.
fn init(cli_path: Option<&Path>) -> u8 {
    let Some(path) = config::resolve_path(cli_path) else {
        return usage_error("no config directory found; pass --config PATH or set REKEY_CONFIG");
    };
    let refuse = || {
        usage_error(format!(
            "{} already exists; rekey init never overwrites it. Edit it, or move it aside and run \
             `rekey init` again",
            path.display()
        ))
    };
    if std::fs::symlink_metadata(&path).is_ok() {
        return refuse();
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        if let Err(e) = builder.create(dir) {
            return usage_error(format!("cannot create {}: {e}", dir.display()));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    // create_new: never a file (or a link's target) that appeared since the check above.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&path).and_then(|mut file| {
        file.write_all(DEMO_PROFILES.as_bytes())?;
        file.sync_all()
    });
    match written {
        Ok(()) => {
            say!(
                "rekey: wrote {}: one commented example of each kind; edit it, then run `rekey`",
                path.display()
            );
            0
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => refuse(),
        Err(e) => {
            // Nothing half written is left behind for the next `rekey init` to refuse.
            let _ = std::fs::remove_file(&path);
            usage_error(format!("cannot write {}: {e}", path.display()))
        }
    }
}

fn run_sim(listen: std::net::SocketAddr, tls: Option<crate::sim::Tls>) -> u8 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(crate::sim::serve_forever(listen, tls)) {
        Ok(()) => 0,
        Err(e) => usage_error(format!("simulator: cannot serve on {listen}: {e}")),
    }
}

/// `rekey sim --fleet N`: the fleet's profiles.toml on stdout (a store for each, seeded), the
/// URL on stderr, until Ctrl-C; the store's folder is removed then.
fn run_fleet_sim(listen: std::net::SocketAddr, n: usize, unlimited: bool) -> u8 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result: io::Result<()> = runtime.block_on(async move {
        let sim = crate::sim::Simulator::start_fleet(listen, n).await?;
        if unlimited {
            sim.set_rate_limit(crate::sim::Route::TencentV3, None);
        }
        let passwords: Vec<_> = sim
            .credentials()
            .into_iter()
            .filter_map(|a| a.password.map(|p| (a.profile, p)))
            .collect();
        let (dir, command) = demo_store::fleet(&passwords)?;
        drop(passwords);
        {
            let mut stdout = io::stdout().lock();
            stdout.write_all(sim.fleet_profiles_toml(&command).as_bytes())?;
            stdout.flush()?;
        }
        let _ = writeln!(
            io::stderr(),
            "rekey fleet simulator ({n} accounts) listening on {}
profiles.toml written to stdout; the store is {}
Press Ctrl-C to stop.",
            sim.base_url(),
            dir.path.display()
        );
        // SIGTERM (a script stopping it) ends it as Ctrl-C does, so the store is removed.
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        drop(dir);
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => usage_error(format!("fleet simulator: {e}")),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage_error(format!("cannot start: {e}")))
}

/// What the console opens on.
enum Source {
    /// The user's profiles.
    Loaded(Loaded),
    /// The demo: an in-process simulator's profiles, over HTTPS or plain HTTP.
    Demo {
        /// Serve HTTPS.
        tls: bool,
    },
}

/// Opens the console on `source`.
fn open_console(path: Option<PathBuf>, source: Source, mouse: bool, warnings: &[String]) -> u8 {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return usage_error(
            "the console needs a terminal; for scripts use `rekey change` or `rekey check` (see --help)",
        );
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // Boxed: on the stack this future would take a 36 KB frame, every page of it touched
    // (stack probes) before the first frame.
    let result = runtime.block_on(Box::pin(async move {
        // The demo's simulator listens on an ephemeral loopback port and lives as long as the
        // console; it never touches the user's files.
        // Some demo profiles keep their passwords in a store in the demo's own temp folder,
        // which also holds their journals.
        // With TLS the certificates are made on a blocking thread while the first frame is
        // drawn; the worker starts its first job only once they are (`sim_ready`).
        let (loaded, _simulator, demo, sim_ready) = match source {
            Source::Loaded(loaded) => (loaded, None, None, None),
            Source::Demo { tls } => {
                let addr = ([127, 0, 0, 1], 0).into();
                let sim = if tls {
                    crate::sim::Simulator::start_tls(addr, crate::sim::Tls::loopback()).await?
                } else {
                    crate::sim::Simulator::start(addr).await?
                };
                sim.hold_next_change_of(demo_store::DEMO_HELD);
                let passwords: Vec<_> = sim
                    .credentials()
                    .into_iter()
                    .filter_map(|a| a.password.map(|p| (a.profile, p)))
                    .collect();
                // The profiles as the simulator makes them: no text to write and parse back
                // before the first frame (the write-parse round trip is tested).
                let mut profiles = sim.profiles();
                let dir = demo_store::setup(&mut profiles, &passwords)?;
                drop(passwords);
                let loaded =
                    Loaded::Config(Config::of_profiles(PathBuf::from("<demo profiles>"), profiles));
                let ready = sim.when_ready();
                (loaded, Some(sim), Some(dir), Some(ready))
            }
        };
        // Caught from before the terminal is entered: a signal at any moment after it restores
        // the terminal (one arriving before the loop runs waits in its stream).
        let signals = catch_signals();
        let mut terminal = console::terminal::enter(mouse)?;
        // The size the terminal was made at (asking again would open /dev/tty once more).
        let size = terminal.get_frame().area();
        let audit_enabled = !matches!(&loaded, Loaded::Config(c) if !c.audit);
        let mut app = App::new(path, loaded, (size.width, size.height));
        app.no_color = console::ui::theme::no_color_from_env();
        let mut state_warning = None;
        let mut unsafe_dir = None;
        if let Some(dir) = &demo {
            app.data_dir = Some(dir.path.clone());
        } else if let Some(dir) = state::data_dir() {
            match crate::fsutil::check_private_dir(&dir, true) {
                Ok(()) => {
                    let (known, warning) = State::load(&dir);
                    app.state = known;
                    app.audit = Audit::new(Some(&dir), audit_enabled);
                    state_warning = warning;
                }
                // Nothing is read from it or written to it: a change is refused when it takes
                // the profile's lock there (the same words), and the status bar says why.
                Err(e) => unsafe_dir = Some(format!("{e}; no change can be sent")),
            }
            app.data_dir = Some(dir.clone());
        }
        if let Some(e) = unsafe_dir {
            app.status = Some((console::app::Level::Error, e));
        } else if let Some(w) = warnings.first().or(state_warning.as_ref()) {
            app.status = Some((console::app::Level::Warn, w.clone()));
        } else if demo.is_some() {
            app.status = Some((
                console::app::Level::Info,
                "Demo: a local simulator plays every provider; 5 profiles keep their passwords in a demo store".into(),
            ));
        }
        let mut console = Console::new(terminal, app, Arc::new(SystemClock));
        console.draw()?;
        // zxcvbn's dictionaries are built on a thread when the editor is first entered (see
        // `App::update`), never before the first frame, and not at all by an idle console.
        let events = console.sender();
        let post: crate::worker::EventSink = Arc::new(move |event| {
            let _ = events.send(console::Message::Worker(Box::new(event)));
        });
        console.set_worker(match sim_ready {
            // A failure to make the certificates shows as the job's `ca_file` error.
            Some(ready) => crate::worker::Worker::spawn_after(post, async move {
                let _ = ready.await;
            }),
            None => crate::worker::Worker::spawn(post),
        });
        forward_signals(signals, console.sender());
        // rekey reads the terminal itself: its buffers are wiped after every event.
        let result = console.run(console::input::TtyInput::open()?).await;
        console::terminal::restore();
        // What quitting could not record (an `unknown` outcome's state or audit line) is said
        // here, on the restored terminal.
        for problem in console.into_app().take_quit_problems() {
            eprintln!("rekey: {problem}");
        }
        result
    }));
    console::terminal::restore();
    match result {
        Ok(()) => 0,
        Err(e) => usage_error(format!("terminal error: {e}")),
    }
}

/// The signals that end the console cleanly, caught from now on.
#[cfg(unix)]
type Signals = Vec<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Signals = ();

/// Catches SIGTERM, SIGHUP, SIGINT and SIGQUIT (their default actions would leave the terminal
/// in raw mode and the alternate screen); [`forward_signals`] turns them into messages.
fn catch_signals() -> Signals {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        [
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::interrupt(),
            SignalKind::quit(),
        ]
        .into_iter()
        .filter_map(|kind| signal(kind).ok())
        .collect()
    }
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT end the console cleanly (secrets wiped, terminal
/// restored).
fn forward_signals(signals: Signals, tx: tokio::sync::mpsc::UnboundedSender<console::Message>) {
    #[cfg(unix)]
    for mut stream in signals {
        let tx = tx.clone();
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                let _ = tx.send(console::Message::Terminate);
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (signals, tx);
}

/// Loads the config for a headless command, or explains (exit 2).
fn load_config(cli_path: Option<&Path>) -> Result<Config, u8> {
    let Some(path) = config::resolve_path(cli_path) else {
        return Err(usage_error(
            "no config directory found; pass --config PATH or set REKEY_CONFIG",
        ));
    };
    match config::load(&path) {
        Ok(LoadOutcome::Loaded(config)) => Ok(config),
        Ok(LoadOutcome::Missing(p)) => Err(usage_error(format!(
            "no config file at {}; create it (see assets/profiles.example.toml) or pass --config PATH",
            p.display()
        ))),
        Err(e) => Err(usage_error(e)),
    }
}

/// Loads the config for a headless command and finds `name`, or explains (exit 2).
fn load_profile(cli_path: Option<&Path>, name: &str) -> Result<(Config, usize), u8> {
    let config = load_config(cli_path)?;
    match config.profiles.iter().position(|p| p.name == name) {
        Some(i) => Ok((config, i)),
        None => {
            let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
            let known = if names.is_empty() {
                "the file has no profiles".to_string()
            } else {
                format!("known profiles: {}", names.join(", "))
            };
            Err(usage_error(format!(
                "no profile named `{name}` in {} ({known})",
                config.path.display()
            )))
        }
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadSecretError {
    /// Standard input ended before anything was read.
    #[error("nothing on standard input")]
    Empty,
    /// The line was longer than a password field holds.
    #[error("input line is too long ({0})")]
    TooLong(Full),
    /// The bytes were not UTF-8.
    #[error("input is not valid UTF-8")]
    NotUtf8,
    /// Reading failed.
    #[error("cannot read standard input: {0}")]
    Io(#[from] io::Error),
    /// The user pressed Ctrl-C or Esc at a prompt.
    #[error("cancelled")]
    Cancelled,
    /// The password holds a control character: refused whole, never sent altered.
    #[error(
        "it holds a control character ({}), which a password cannot contain; \
         type or pipe the password without it",
        crate::secret::control_name(*.0)
    )]
    Control(char),
}

impl From<Refused> for ReadSecretError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Full(full) => ReadSecretError::TooLong(full),
            Refused::Control(c) => ReadSecretError::Control(c),
        }
    }
}

/// Says once on stderr that secret buffers cannot be locked in memory (`RLIMIT_MEMLOCK`), for
/// a headless command that reads a password.
fn say_memory_lock_once() {
    static SAID: std::sync::Once = std::sync::Once::new();
    if let Some(warning) = crate::secret::memory_lock_warning() {
        SAID.call_once(|| {
            let _ = writeln!(io::stderr(), "rekey: warning: {warning}");
        });
    }
}

/// Prints the config's warnings (a `{ value = ... }` secret for a remote endpoint, a key the
/// kind ignores) on stderr, as the console shows them: headless commands say them too.
fn say_config_warnings(config: &Config) {
    let mut err = io::stderr().lock();
    for warning in &config.warnings {
        let _ = writeln!(err, "rekey: warning: {}", crate::text::escape(warning));
    }
}

/// Standard input read straight from fd 0, a byte at a time: std's `Stdin` would keep the
/// secrets in its internal buffer until exit.
struct RawStdin;

impl Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        rustix::io::read(rustix::stdio::stdin(), buf).map_err(io::Error::from)
    }
}

/// Reads one line (without its `\n` or `\r\n`) into `out`, byte by byte so nothing past the
/// line is consumed and no growable buffer ever holds the secret.
pub fn read_secret_line(input: &mut impl Read, out: &mut SecretBuf) -> Result<(), ReadSecretError> {
    out.clear();
    let mut raw = zeroize::Zeroizing::new([0u8; PASSWORD_CAPACITY]);
    let mut len = 0;
    // Zeroized on drop, like `raw`: it holds one byte of the secret at a time.
    let mut byte = zeroize::Zeroizing::new([0u8; 1]);
    let mut saw_any = false;
    loop {
        match input.read(&mut byte[..]) {
            Ok(0) => break,
            Ok(_) => {
                saw_any = true;
                if byte[0] == b'\n' {
                    break;
                }
                if len == raw.len() {
                    return Err(ReadSecretError::TooLong(Full {
                        capacity: raw.len(),
                    }));
                }
                raw[len] = byte[0];
                len += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !saw_any {
        return Err(ReadSecretError::Empty);
    }
    if len > 0 && raw[len - 1] == b'\r' {
        len -= 1;
    }
    let text = std::str::from_utf8(&raw[..len]).map_err(|_| ReadSecretError::NotUtf8)?;
    // A tab, NUL, ESC or BEL inside the line refuses it whole: never a different password.
    out.insert_str(text)?;
    say_memory_lock_once();
    Ok(())
}

/// Prompts on stderr and reads a secret from the terminal without echo.
pub fn prompt_secret(prompt: &str, out: &mut SecretBuf) -> Result<(), ReadSecretError> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
    out.clear();
    // rekey's own reader: what it read is wiped as it is parsed (crossterm's keeps it).
    let mut tty = console::input::BlockingTty::open()?;
    // Raw mode (no echo) before the prompt shows: a password typed as soon as it appears is
    // never echoed.
    crossterm::terminal::enable_raw_mode()?;
    let _ = write!(io::stderr(), "{prompt}");
    let _ = io::stderr().flush();
    let result = loop {
        match tty.read() {
            Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => match key.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Esc => break Err(ReadSecretError::Cancelled),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(ReadSecretError::Cancelled);
                }
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => out.clear(),
                KeyCode::Backspace => out.backspace(),
                // Ctrl/Alt chords are not characters of the password.
                KeyCode::Char(_)
                    if key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {}
                KeyCode::Char(c) => {
                    if let Err(refused) = out.insert_char(c) {
                        break Err(refused.into());
                    }
                }
                // A tab is a character the terminal would have sent: refused, not skipped.
                KeyCode::Tab | KeyCode::BackTab => break Err(ReadSecretError::Control('\t')),
                _ => {}
            },
            Ok(Event::Paste(mut text)) => {
                let r = out.insert_str(&text);
                zeroize::Zeroize::zeroize(&mut text);
                if let Err(refused) = r {
                    break Err(refused.into());
                }
            }
            Ok(_) => {}
            Err(e) => break Err(e.into()),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = writeln!(io::stderr());
    if result.is_err() {
        out.clear();
    } else {
        say_memory_lock_once();
    }
    result
}

/// `rekey check`: exit 0 when every rule passes, 1 when one fails, 2 on usage/config errors.
fn check(cli_path: Option<&Path>, name: &str, as_json: bool) -> u8 {
    let (config, index) = match load_profile(cli_path, name) {
        Ok(found) => found,
        Err(code) => return code,
    };
    say_config_warnings(&config);
    let profile = &config.profiles[index];
    let mut candidate = SecretBuf::password();
    let stdin = io::stdin();
    let read = if stdin.is_terminal() {
        prompt_secret("Candidate password (not shown): ", &mut candidate)
    } else {
        read_secret_line(&mut RawStdin, &mut candidate)
    };
    if let Err(e) = read {
        return usage_error(format!("cannot read the candidate password: {e}"));
    }
    let report = CheckReport::new(profile, &candidate);
    drop(candidate);
    let mut out = io::stdout().lock();
    let written = if as_json {
        writeln!(
            out,
            "{}",
            crate::text::to_json_string_safe(&report.to_json())
        )
    } else {
        report.write_text(&mut out)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        return usage_error(format!("cannot write the result: {e}"));
    }
    let code = u8::from(!report.passed);
    drop(out);
    drop(report);
    // Tests only (debug builds): `REKEY_PAUSE_AT=check-exit` holds the process here, its work
    // done, until standard input ends, so tests/memory.rs can read its memory just before it
    // exits. Release builds have no such hook.
    #[cfg(debug_assertions)]
    if std::env::var_os("REKEY_PAUSE_AT").is_some_and(|v| v == "check-exit") {
        let _ = writeln!(io::stderr(), "rekey: paused at check-exit");
        let mut byte = [0u8; 1];
        loop {
            match RawStdin.read(&mut byte) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(1..) => {}
                Ok(0) | Err(_) => break,
            }
        }
    }
    code
}

/// Exit code for a change refused before sending because of the local policy.
const EXIT_REFUSED: u8 = 1;

/// `rekey change`: one change without the console (SPEC §2).
/// The flags of `rekey change`.
#[derive(Debug, Clone, Copy)]
struct ChangeFlags {
    json: bool,
    force: bool,
    yes: bool,
    ignore_lock: bool,
    /// `--generate [--length N]`.
    generate: Option<Option<usize>>,
}

/// Loads the state file for a headless command, reporting (not failing on) a corrupt one.
/// A data dir another user owns or may write into is refused (exit 2) before anything in it
/// is read or written.
fn load_state() -> Result<(State, Option<PathBuf>), u8> {
    match state::data_dir() {
        Some(dir) => {
            if let Err(e) = crate::fsutil::check_private_dir(&dir, true) {
                return Err(usage_error(format!("{e}; nothing was read or sent")));
            }
            let (state, warning) = State::load(&dir);
            if let Some(w) = warning {
                say!("rekey: warning: {w}");
            }
            Ok((state, Some(dir)))
        }
        None => Ok((State::in_memory(), None)),
    }
}

/// Asks y/N on the terminal (stderr prompt). Anything but y/yes is no.
fn confirm_on_tty(question: &str) -> bool {
    let _ = write!(io::stderr(), "{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn change(cli_path: Option<&Path>, name: &str, flags: ChangeFlags) -> u8 {
    let (as_json, force) = (flags.json, flags.force);
    let (config, index) = match load_profile(cli_path, name) {
        Ok(found) => found,
        Err(code) => return code,
    };
    say_config_warnings(&config);
    let (mut known, data_dir) = match load_state() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let audit = Audit::new(data_dir.as_deref(), config.audit);
    let mut profiles = config.profiles;
    let profile = Arc::new(profiles.swap_remove(index));
    let now = SystemTime::now();
    let last = known.get(&profile.name).cloned().unwrap_or_default();
    // Safety rails (SPEC §2, §4): nothing is read or sent when they refuse.
    if let Some(left) = last.lock_left(now)
        && !flags.ignore_lock
    {
        let mut report = Report::new(
            Outcome::Locked,
            format!(
                "known to be locked for another {} (until {}); nothing was sent. --ignore-lock sends anyway",
                console::app::countdown(left),
                crate::timefmt::rfc3339_utc(last.locked_until.unwrap_or(now))
            ),
        );
        report.locked_until = last.locked_until;
        report.lock_minutes_left = u32::try_from(left.as_secs().div_ceil(60)).ok();
        report.retries_left = last.retries_left;
        let label = crate::store::Store::for_profile(&profile).map(|s| s.label());
        return print_change(&profile, &report, as_json, label.as_deref(), true);
    }
    // Overriding a known lock already accepts that this may be the last try.
    if let Some(n) = last.retries_known(now).filter(|n| *n <= 2)
        && !flags.yes
        && !flags.ignore_lock
    {
        say!(
            "rekey: {}: {n} retries left — this may be your last attempt before a lock; nothing was sent. \
             Check the current password, then run again with --yes",
            profile.name
        );
        return EXIT_REFUSED;
    }
    let interactive = io::stdin().is_terminal();
    if profile.production && !flags.yes {
        let go = interactive
            && confirm_on_tty(&format!(
                "{} is a PRODUCTION profile. Send the change?",
                profile.name
            ));
        if !go {
            say!(
                "rekey: {} is a production profile: confirm on a terminal or pass --yes; nothing was sent",
                profile.name
            );
            return EXIT_REFUSED;
        }
    }
    let prompts = profile.prompt_secrets();
    if !interactive && let Some(key) = prompts.first() {
        return usage_error(format!(
            "profile `{}` has {key} = {{ prompt = true }}, and standard input is not a terminal; \
             use {{ env = \"NAME\" }} or {{ command = [...] }} for scripts",
            profile.name
        ));
    }
    let store = crate::store::Store::for_profile(&profile);
    let label = store.as_ref().map(crate::store::Store::label);
    if flags.generate.is_some() && store.is_none() {
        return usage_error(format!(
            "profile `{}` has no store: a generated password would be lost once it is live. \
             Add store = {{ backend = ..., entry = ... }} to the profile (SPEC §10), or type the new password; nothing was sent",
            profile.name
        ));
    }
    if let Some(s) = &store
        && s.needs_unlock()
    {
        return usage_error(format!(
            "{} needs a password to open ({{ prompt = true }}), which rekey change does not ask for; \
             use {{ env = \"NAME\" }} or {{ command = [...] }} for scripts, or the console; nothing was sent",
            s.label()
        ));
    }
    let from_store = store
        .as_ref()
        .is_some_and(|s| s.read_current() && profile.kind.needs_current_password());
    let secrets = match read_change_secrets(
        &profile,
        interactive,
        &prompts,
        from_store,
        flags.generate,
        force,
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !force {
        let policy = Policy::for_profile(&profile);
        let list = policy::check(
            &policy,
            &Candidate {
                new: secrets.new.expose(),
                confirm: secrets.new.expose(),
                current: secrets.current.as_ref().map(|b| b.expose()),
            },
        );
        let failed: Vec<&str> = list.failures().map(|i| i.label.as_str()).collect();
        if !failed.is_empty() {
            drop(secrets);
            let mut report = Report::new(
                Outcome::PolicyRejected,
                format!(
                    "the new password fails the policy: {}; nothing was sent",
                    failed.join("; ")
                ),
            );
            report.duration = Duration::ZERO;
            return print_change(&profile, &report, as_json, label.as_deref(), true)
                .max(EXIT_REFUSED);
        }
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // The journal is what makes an interrupted change recoverable: no data dir, no change.
    let Some(data_dir) = state::data_dir() else {
        return usage_error(
            "no data directory for the change journal; set REKEY_DATA_DIR; nothing was sent",
        );
    };
    let place = crate::change::Place {
        data_dir: Some(data_dir),
        store,
    };
    let result = runtime.block_on(async {
        let client = provider::client_for(&profile)?;
        let (interrupter, interrupt) = crate::change::Interrupter::new();
        interrupt_on_signals(interrupter);
        crate::change::run(
            client,
            profile.clone(),
            place,
            secrets,
            provider::Options {
                force,
                ..provider::Options::default()
            },
            Arc::new(|_| {}),
            Arc::new(AtomicBool::new(false)),
            interrupt,
        )
        .await
    });
    // A setup problem (lock, unsettled, store, journal, secret source, ca_file) is a
    // configuration error: nothing was sent.
    let finished = match result {
        Ok(finished) => finished,
        Err(e) => return usage_error(format!("profile `{}`: {e}", profile.name)),
    };
    if let Some(w) = &finished.warning {
        say!("rekey: warning: {}: {w}", profile.name);
    }
    let report = &finished.report;
    let at = SystemTime::now();
    if let Err(e) = known.record(&profile.name, report, at) {
        say!("rekey: warning: state.json not saved: {e}");
    }
    if let Err(e) = audit.append(&profile, report, at) {
        say!("rekey: warning: audit.jsonl not written: {e}");
    }
    let code = print_change(
        &profile,
        report,
        as_json,
        finished.store.as_deref(),
        finished.settled,
    );
    if !as_json && let Some(words) = finished.store_words() {
        say!("rekey: {}: {words}", profile.name);
    }
    if !finished.settled {
        say!(
            "rekey: {} is unsettled: run `rekey recover --profile {}` before the next change",
            profile.name,
            profile.name
        );
    }
    code
}

/// SIGINT, SIGTERM and SIGHUP during a headless change interrupt it: before the request
/// leaves nothing is sent; after, the outcome is recorded `unknown` before rekey exits.
fn interrupt_on_signals(interrupter: crate::change::Interrupter) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupter = Arc::new(interrupter);
        for (kind, name) in [
            (SignalKind::terminate(), "interrupted by SIGTERM"),
            (SignalKind::hangup(), "interrupted by SIGHUP"),
            (SignalKind::interrupt(), "interrupted by SIGINT"),
        ] {
            if let Ok(mut stream) = signal(kind) {
                let interrupter = interrupter.clone();
                tokio::spawn(async move {
                    if stream.recv().await.is_some() {
                        interrupter.interrupt(name);
                    }
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupter;
}

/// `rekey profiles`: every profile with its last known state, as a table or JSON.
fn profiles(cli_path: Option<&Path>, as_json: bool) -> u8 {
    let config = match load_config(cli_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    say_config_warnings(&config);
    let (known, dir) = match load_state() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let now = SystemTime::now();
    let time = |t: Option<SystemTime>| t.map(crate::timefmt::rfc3339_utc);
    let rows: Vec<serde_json::Value> = config
        .profiles
        .iter()
        .map(|p| {
            let s = known.get(&p.name).cloned().unwrap_or_default();
            let reading = dir
                .as_deref()
                .map(|d| crate::change::unsettled(d, &p.name))
                .unwrap_or_default();
            if let Some(w) = &reading.warning {
                say!("rekey: warning: {w}");
            }
            json!({
                "name": p.name,
                "kind": p.kind.as_str(),
                "endpoint": provider::shown_endpoint_of(p),
                "auth": provider::auth_of(p),
                "production": p.production,
                "last_attempt_at": time(s.last_attempt_at),
                "last_outcome": s.last_outcome.map(Outcome::as_str),
                "retries_left": s.retries_left,
                "locked_until": time(s.locked_until.filter(|_| s.lock_left(now).is_some())),
                "lock_seconds_left": s.lock_left(now).map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
                "last_changed_at": time(s.last_changed_at),
                "password_expires_at": time(s.password_expires_at),
                "store": p.store.as_ref().map(config::StoreConfig::label),
                "unsettled": reading.open.is_some(),
                "pending": reading.open.as_ref().map(crate::change::journal::Open::describe),
            })
        })
        .collect();
    let mut out = io::stdout().lock();
    let written = if as_json {
        writeln!(
            out,
            "{}",
            crate::text::to_json_string_safe(&serde_json::Value::Array(rows))
        )
    } else {
        write_profiles_table(&mut out, &rows)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => usage_error(format!("cannot write: {e}")),
    }
}

fn write_profiles_table(out: &mut impl Write, rows: &[serde_json::Value]) -> io::Result<()> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::Bool(true) => "unsettled".to_string(),
        serde_json::Value::Bool(false) => "yes".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let header = [
        "NAME",
        "KIND",
        "LAST OUTCOME",
        "WHEN",
        "RETRIES",
        "LOCKED UNTIL",
        "CHANGED",
        "EXPIRES",
        "SETTLED",
    ];
    let keys = [
        "name",
        "kind",
        "last_outcome",
        "last_attempt_at",
        "retries_left",
        "locked_until",
        "last_changed_at",
        "password_expires_at",
        "unsettled",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| keys.iter().map(|k| text(&r[*k])).collect())
        .collect();
    let widths: Vec<usize> = (0..keys.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<&str>| {
        cols.iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &cells {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// How many times `rekey change` asks for the new password on a terminal, as `passwd` does.
pub const NEW_PASSWORD_TRIES: usize = 3;

/// Reads the secrets `rekey change` needs: from stdin lines, or prompts on a terminal. On a
/// terminal a new password typed differently twice, empty, or (without `force`) failing the
/// policy is asked for again, up to [`NEW_PASSWORD_TRIES`] times.
fn read_change_secrets(
    profile: &Profile,
    interactive: bool,
    prompts: &[&'static str],
    current_from_store: bool,
    generate: Option<Option<usize>>,
    force: bool,
) -> Result<TypedSecrets, u8> {
    let fail = |what: &str, e: ReadSecretError| {
        usage_error(format!("cannot read {what}: {e}; nothing was sent"))
    };
    let mut current = None;
    let mut new = SecretBuf::password();
    let mut prompted = Vec::new();
    let needs_current = profile.kind.needs_current_password() && !current_from_store;
    if let Some(length) = generate {
        let policy = Policy::for_profile(profile);
        let lengths = policy.length_range();
        // An explicit length the policy does not allow is refused, never silently changed.
        if let Some(n) = length.filter(|n| !lengths.contains(n)) {
            let (min, max) = (lengths.start(), lengths.end());
            return Err(usage_error(format!(
                "--length {n} is outside what the profile's policy allows ({min}–{max} characters); nothing was sent"
            )));
        }
        let length = length.unwrap_or(policy::DEFAULT_GENERATED_LENGTH);
        policy::generate(&policy, length, &mut new).map_err(|e| {
            usage_error(format!("cannot generate a password: {e}; nothing was sent"))
        })?;
    }
    let generated = generate.is_some();
    if interactive {
        for key in prompts {
            let mut buf = SecretBuf::new(TOKEN_CAPACITY);
            prompt_secret(&format!("{key} for {}: ", profile.name), &mut buf)
                .map_err(|e| fail(key, e))?;
            prompted.push((*key, buf));
        }
        if needs_current {
            let mut buf = SecretBuf::password();
            prompt_secret(
                &format!("Current password for {}: ", profile.name),
                &mut buf,
            )
            .map_err(|e| fail("the current password", e))?;
            current = Some(buf);
        }
        if !generated {
            let policy = Policy::for_profile(profile);
            for attempt in 1..=NEW_PASSWORD_TRIES {
                prompt_secret("New password: ", &mut new)
                    .map_err(|e| fail("the new password", e))?;
                let mut again = SecretBuf::password();
                prompt_secret("New password again: ", &mut again)
                    .map_err(|e| fail("the new password", e))?;
                let differ = again.expose() != new.expose();
                drop(again);
                let problem = if differ {
                    Some("the two new passwords differ".to_string())
                } else if new.is_empty() {
                    Some("the new password is empty".to_string())
                } else if force {
                    None
                } else {
                    let list = policy::check(
                        &policy,
                        &Candidate {
                            new: new.expose(),
                            confirm: new.expose(),
                            current: current.as_ref().map(SecretBuf::expose),
                        },
                    );
                    let failed: Vec<&str> = list.failures().map(|i| i.label.as_str()).collect();
                    (!failed.is_empty()).then(|| {
                        format!("the new password fails the policy: {}", failed.join("; "))
                    })
                };
                let Some(problem) = problem else { break };
                let left = NEW_PASSWORD_TRIES - attempt;
                if left > 0 {
                    say!(
                        "rekey: {problem}; try again ({left} {} left)",
                        if left == 1 { "try" } else { "tries" }
                    );
                } else if differ {
                    return Err(usage_error(format!(
                        "{problem} ({NEW_PASSWORD_TRIES} tries); nothing was sent"
                    )));
                }
                // The last try's empty or failing password is refused below and by the
                // policy check in `change`, as a piped one is.
            }
        }
    } else {
        let mut input = RawStdin;
        if needs_current {
            let mut buf = SecretBuf::password();
            read_secret_line(&mut input, &mut buf)
                .map_err(|e| fail("the current password (line 1 of stdin)", e))?;
            current = Some(buf);
        }
        let line = if current.is_some() {
            "line 2"
        } else {
            "line 1"
        };
        if !generated {
            read_secret_line(&mut input, &mut new)
                .map_err(|e| fail(&format!("the new password ({line} of stdin)"), e))?;
        }
    }
    if new.is_empty() {
        return Err(usage_error("the new password is empty; nothing was sent"));
    }
    Ok(TypedSecrets {
        current,
        new,
        prompted,
    })
}

/// Prints a change's result (JSON on stdout, or a line) and returns its exit code. The code is
/// the outcome's even when the result cannot be written (a full disk, a closed pipe): a
/// `changed` is never turned into a failure; the outcome is also in state.json and audit.jsonl.
fn print_change(
    profile: &Profile,
    report: &Report,
    as_json: bool,
    store: Option<&str>,
    settled: bool,
) -> u8 {
    let code = report.outcome.exit_code();
    if as_json {
        let object = change_object(profile, report, store, settled);
        let mut out = io::stdout().lock();
        if let Err(e) = writeln!(out, "{}", crate::text::to_json_string_safe(&object))
            .and_then(|()| out.flush())
        {
            result_lost(profile, report, &e);
        }
    } else if code == 0 {
        let mut out = io::stdout().lock();
        if let Err(e) =
            writeln!(out, "{}: {}", profile.name, report.summary()).and_then(|()| out.flush())
        {
            result_lost(profile, report, &e);
        }
    } else {
        say!("rekey: {}: {}", profile.name, report.summary());
        if report.follow_up == Some(provider::FollowUp::OfferCreate) {
            say!("hint: set operate = \"create\" in the profile to create the VPN account");
        }
    }
    code
}

/// The JSON object of one change (SPEC §2, §10.3): also one line per profile of `rekey rotate`.
fn change_object(
    profile: &Profile,
    report: &Report,
    store: Option<&str>,
    settled: bool,
) -> serde_json::Value {
    json!({
        "profile": profile.name,
        "kind": profile.kind.as_str(),
        "outcome": report.outcome.as_str(),
        "retries_left": report.retries_left,
        "locked_until": report.locked_until.map(crate::timefmt::rfc3339_utc),
        "lock_minutes_left": report.lock_minutes_left,
        "http_status": report.http_status,
        "provider_code": report.provider_code,
        "message": report.message,
        "request_id": report.request_id,
        "duration_ms": u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        "store": store,
        "settled": settled,
    })
}

/// Says on stderr (if it can) that a change's result could not be written to stdout.
fn result_lost(profile: &Profile, report: &Report, error: &io::Error) {
    say!(
        "rekey: {}: the result could not be written to stdout ({error}); the outcome was {} \
         (also in state.json and audit.jsonl)",
        profile.name,
        report.outcome.as_str()
    );
}

/// What `rekey check` found; holds no part of the password.
struct CheckReport<'a> {
    profile: &'a Profile,
    items: Vec<policy::CheckItem>,
    note: Option<&'static str>,
    strength: policy::Strength,
    passed: bool,
}

impl<'a> CheckReport<'a> {
    fn new(profile: &'a Profile, candidate: &SecretBuf) -> Self {
        let policy = Policy::for_profile(profile);
        let text = candidate.expose();
        let checklist = policy::check(
            &policy,
            &Candidate {
                new: text,
                confirm: text,
                current: None,
            },
        );
        // No confirmation or current password is asked for: those rules do not apply here.
        let items: Vec<_> = checklist
            .items
            .into_iter()
            .filter(|i| !matches!(i.rule, Rule::ConfirmMatches | Rule::DiffersFromCurrent))
            .collect();
        let context = policy::context_words(profile);
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let strength = policy::estimate(text, &context);
        let passed = items.iter().all(|i| i.passed);
        CheckReport {
            profile,
            items,
            note: checklist.note,
            strength,
            passed,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let rules: Vec<_> = self
            .items
            .iter()
            .map(|i| {
                json!({
                    "rule": i.rule.as_str(),
                    "label": i.label,
                    "passed": i.passed,
                    "source": i.source.label(),
                })
            })
            .collect();
        let s = &self.strength;
        json!({
            "profile": self.profile.name,
            "kind": self.profile.kind.as_str(),
            "passed": self.passed,
            "rules": rules,
            "note": self.note,
            "strength": {
                "score": s.score,
                "label": s.label,
                "crack_time": s.crack_time,
                "warning": s.warning,
                "suggestions": s.suggestions,
            },
        })
    }

    fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{} ({})", self.profile.name, self.profile.kind)?;
        for i in &self.items {
            let mark = if i.passed { "✓" } else { "✗" };
            writeln!(out, "  {mark} {}  [{}]", i.label, i.source.label())?;
        }
        if let Some(note) = self.note {
            writeln!(out, "  {note}")?;
        }
        let s = &self.strength;
        writeln!(
            out,
            "strength: {}/4 {} — offline crack ~{} (advisory)",
            s.score, s.label, s.crack_time
        )?;
        if let Some(w) = &s.warning {
            writeln!(out, "  warning: {w}")?;
        }
        for tip in &s.suggestions {
            writeln!(out, "  suggestion: {tip}")?;
        }
        let failed = self.items.iter().filter(|i| !i.passed).count();
        if failed == 0 {
            writeln!(out, "result: passes every rule")
        } else {
            writeln!(
                out,
                "result: fails {failed} rule{}",
                if failed == 1 { "" } else { "s" }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_line_without_consuming_the_next() {
        let mut input: &[u8] = b"first-secret\r\nsecond\n";
        let mut buf = SecretBuf::password();
        read_secret_line(&mut input, &mut buf).expect("line");
        assert_eq!(buf.expose(), "first-secret");
        read_secret_line(&mut input, &mut buf).expect("line");
        assert_eq!(buf.expose(), "second");
        assert!(matches!(
            read_secret_line(&mut input, &mut buf),
            Err(ReadSecretError::Empty)
        ));
    }

    #[test]
    fn control_characters_refuse_the_line_whole() {
        for (line, name) in [
            (&b"pass\tword\n"[..], "a tab"),
            (b"pass\0word\n", "NUL"),
            (b"pass\x1b[2Jword\n", "ESC"),
            (b"pass\x07word\n", "BEL"),
            (b"pass\xc2\x9bword\n", "U+009B"),
        ] {
            let mut buf = SecretBuf::password();
            let mut input = line;
            let err = read_secret_line(&mut input, &mut buf).expect_err("refused");
            assert!(matches!(err, ReadSecretError::Control(_)), "{err:?}");
            assert!(err.to_string().contains(name), "{err}");
            assert!(buf.is_empty(), "nothing kept of a refused line");
        }
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_refused() {
        let long = vec![b'a'; PASSWORD_CAPACITY + 1];
        let mut buf = SecretBuf::password();
        assert!(matches!(
            read_secret_line(&mut &long[..], &mut buf),
            Err(ReadSecretError::TooLong(_))
        ));
        assert!(matches!(
            read_secret_line(&mut &b"\xff\xfe\n"[..], &mut buf),
            Err(ReadSecretError::NotUtf8)
        ));
        let mut last_line_without_newline: &[u8] = b"abc";
        read_secret_line(&mut last_line_without_newline, &mut buf).expect("line");
        assert_eq!(buf.expose(), "abc");
    }
}
