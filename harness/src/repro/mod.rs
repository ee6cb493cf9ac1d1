//! Repro bundles: for each failed check, a folder with what replays and explains the failure
//! (seed, shrunk call sequence, fault schedule, redacted container logs, the schema, and one
//! replay command). docs/report.md describes the layout.

mod bundle;
mod details;
mod replay;

pub use bundle::{Bundle, BundleError, LogFile, REPRO_DIR};
pub use details::{ReproDetails, ReproFile};
pub use replay::{ReplayCommand, RunInputs};
