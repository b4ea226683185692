//! The TUI's heart: messages in, a pure `update`, effects out as data, and
//! the loop that ties them to a terminal.

pub mod approvals;
pub mod budget;
pub mod effects;
pub mod export;
pub mod log_actions;
pub mod msg;
pub mod plan_effects;
pub mod run;
pub mod secret_actions;
pub mod secret_effects;
pub mod update;
pub mod update_plan;

pub use msg::{Effect, Msg};
pub use update::update;
