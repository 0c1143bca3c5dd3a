//! rekey: a terminal console for changing account passwords at cloud providers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod change;
pub mod cli;
pub mod config;
pub mod console;
pub mod fsutil;
pub mod harden;
pub mod policy;
pub mod provider;
pub mod secret;
pub mod sim;
pub mod state;
pub mod store;
pub mod text;
pub mod timefmt;
pub mod worker;
