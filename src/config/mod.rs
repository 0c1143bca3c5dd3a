//! `profiles.toml`: schema, validation with line/column, secret sources.
//!
//! [`resolve_path`] finds the file, [`load`] reads it and [`parse`] validates its text into a
//! [`Config`]. Every error is a [`ConfigError`] naming the file, line, column and a fix.
//! [`write::profiles`] writes profiles back as text.
//! [`SecretSource::resolve`] turns a source into the secret when a request is built.

mod endpoint;
mod error;
mod load;
mod model;
mod parse;
mod source;
mod suggest;
pub mod write;

pub use endpoint::{is_loopback, shown as shown_endpoint};
pub use error::{ConfigError, SecretError};
pub use load::{LoadOutcome, load, load_each, resolve_path};
pub use model::*;
pub use parse::{parse, parse_each};
pub use source::MAX_COMMAND_OUTPUT;
