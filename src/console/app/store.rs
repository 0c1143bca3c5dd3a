//! Persistence and the password store: state and audit writes off the loop, the quit-time
//! problems, reading the current password from a store, and the config reload.

use std::sync::Arc;

use crate::config::Profile;
use crate::console::editor::CurrentSource;
use crate::console::message::{Disk, Message};
use crate::provider::Report;
use crate::secret::SecretBuf;
use crate::state::StateChange;
use crate::store::{Slot, Store};

use super::{App, Level, Loaded};

impl App {
    /// Runs `job` (file I/O) off the loop, after the I/O started before it (so writes stay in
    /// order); what it gives comes back as [`Message::Disk`]. Without the loop's runtime (a
    /// console driven by hand) it runs at once and is handled once the current message was.
    pub(super) fn off_loop(&mut self, job: impl FnOnce() -> Disk + Send + 'static) {
        self.disk_pending += 1;
        match (self.tx.clone(), tokio::runtime::Handle::try_current()) {
            (Some(tx), Ok(handle)) => {
                let before = self.disk.take();
                self.disk = Some(handle.spawn(async move {
                    if let Some(before) = before {
                        let _ = before.await;
                    }
                    let done = tokio::task::spawn_blocking(job)
                        .await
                        // (Never the join error's text: it carries the panic's message.)
                        .unwrap_or(Disk::Panicked);
                    let _ = tx.send(Message::Disk(done));
                }));
            }
            _ => {
                let done = job();
                self.disk_ready.push(done);
            }
        }
    }

    /// Whether file I/O started off the loop has not reported back yet.
    pub fn disk_busy(&self) -> bool {
        self.disk_pending > 0
    }

    /// What could not be recorded when the console quit.
    pub fn quit_problems(&self) -> &[String] {
        &self.quit_problems
    }

    /// What could not be recorded when the console quit (say it once the terminal is restored).
    pub fn take_quit_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.quit_problems)
    }

    /// Records `change` for `profile`: in memory at once, in `state.json` off the loop.
    pub(super) fn save_state(&mut self, profile: &str, change: StateChange) {
        let before = self.state.clone();
        self.state.change_in_memory(profile, &change);
        self.state_seq += 1;
        let (seq, profile) = (self.state_seq, profile.to_string());
        self.off_loop(move || {
            let result = before.write(&profile, &change).map_err(|e| e.to_string());
            Disk::State {
                profile,
                seq,
                result,
            }
        });
    }

    /// Appends `report`'s line to `audit.jsonl` off the loop (a check's marked as one).
    pub(super) fn append_audit(&mut self, profile: &Arc<Profile>, report: &Report, check: bool) {
        let (audit, profile, report, at) = (
            self.audit.clone(),
            profile.clone(),
            report.clone(),
            self.wall,
        );
        self.off_loop(move || {
            let result = if check {
                audit.append_check(&profile, &report, at)
            } else {
                audit.append(&profile, &report, at)
            };
            Disk::Audit {
                profile: profile.name.clone(),
                result: result.map_err(|e| e.to_string()),
            }
        });
    }

    /// The store of profile `index`, unlocked with the typed store password if one was given.
    pub(super) fn store_for(&self, index: usize) -> Option<Store> {
        let mut store = Store::for_profile(self.profiles.get(index)?)?;
        if let Some((i, secret)) = &self.store_unlock
            && *i == index
        {
            let mut copy = SecretBuf::new(secret.capacity());
            if copy.copy_from(secret).is_ok() {
                store.unlock(copy);
            }
        }
        Some(store)
    }

    /// Fills the selected profile's current-password field from its store, off the loop
    /// (`read_current`, kinds that need it). A locked store waits for its password.
    pub(super) fn fill_current(&mut self) {
        let Some(index) = self.selected else {
            return;
        };
        if !self.profiles[index].kind.needs_current_password() {
            return;
        }
        let Some(store) = self.store_for(index).filter(Store::read_current) else {
            return;
        };
        let label = store.label();
        let locked = store.needs_unlock();
        let (selection, tx) = (self.selection, self.tx.clone());
        let Some(editor) = &mut self.editor else {
            return;
        };
        if locked {
            editor.current_from = Some(CurrentSource::Locked(label));
            return;
        }
        let (Some(tx), Ok(handle)) = (tx, tokio::runtime::Handle::try_current()) else {
            return;
        };
        editor.current_from = Some(CurrentSource::Reading(label.clone()));
        handle.spawn_blocking(move || {
            let result = store.get(Slot::Current).map_err(|e| e.to_string());
            let _ = tx.send(Message::CurrentRead {
                selection,
                label,
                result,
            });
        });
    }

    /// Re-reads the config file (after the user fixed it). Wipes typed secrets.
    pub(super) fn reload(&mut self) {
        if self.job.is_some() || self.rotation.is_some() {
            self.status = Some((Level::Info, "Reload after the change in flight ends".into()));
            return;
        }
        let Some(path) = self.config_path.clone() else {
            self.status = Some((Level::Info, "The demo's profiles are built in".into()));
            return;
        };
        // The file is read off the loop; `on_reloaded` takes what it gave.
        self.off_loop(move || {
            let loaded = match crate::config::load_each(&path) {
                Ok(crate::config::LoadOutcome::Loaded(config)) => Loaded::Config(config),
                Ok(crate::config::LoadOutcome::Missing(_)) => Loaded::Missing,
                Err(e) => Loaded::Broken(e),
            };
            Disk::Reload { path, loaded }
        });
    }

    /// Whether the selected profile's store waits for its own password.
    pub(super) fn store_locked(&self) -> bool {
        self.selected
            .and_then(|i| self.store_for(i))
            .is_some_and(|s| s.needs_unlock())
    }
}
