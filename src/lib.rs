//! rekey: a terminal console for changing account passwords at cloud providers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod policy;
pub mod secret;
pub mod harden;
pub mod console;
pub mod cli;
