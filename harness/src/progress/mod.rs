//! The live one-line progress display of `harness validate` on a terminal: the phase (such as
//! an image build), the current check, and the cases done where the check reports them.
//!
//! A tracing layer ([`ProgressLayer`]) turns the log events that the harness already emits
//! ("check started", "check finished", image builds) into [`ProgressState`] updates, and
//! [`terminal`] redraws the line on stderr. Log lines that still reach stderr clear the line
//! first and redraw it after, so the two never mix.

mod layer;
mod render;
mod state;
pub mod terminal;

pub use layer::ProgressLayer;
pub use render::render_line;
pub use state::{ProgressEvent, ProgressState};
