//! Overlays drawn on top of the panels.

pub mod audit;
pub mod command_log;
pub mod help;
pub mod ladder;
pub mod migrations;
pub mod plan;
pub mod secrets;
