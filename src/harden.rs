//! Process hardening done first thing in `main` (SPEC §7).

/// Disables core dumps and ptrace attach by other processes of the same user, where the OS
/// allows. Failures are returned as warnings, never fatal: rekey still works without them.
pub fn harden_process() -> Vec<String> {
    let mut warnings = Vec::new();
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let none = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, none) {
            warnings.push(format!("could not disable core dumps: {e}"));
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::process::{DumpableBehavior, set_dumpable_behavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            warnings.push(format!("could not mark the process non-dumpable: {e}"));
        }
    }
    // Said once, here: the console shows it in its status bar.
    if let Some(warning) = crate::secret::memory_lock_warning() {
        warnings.push(warning.to_string());
    }
    warnings
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn core_dumps_are_off_after_hardening() {
        let warnings = super::harden_process();
        assert!(warnings.is_empty(), "{warnings:?}");
        let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!(limit.current, Some(0));
    }
}
