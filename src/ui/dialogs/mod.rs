//! Overlays drawn on top of the panels.

pub mod command_log;
pub mod help;
