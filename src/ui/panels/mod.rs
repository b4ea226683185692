//! One module per panel; each draws from `&State` into its rectangle.

pub mod envs;
pub mod health;
pub mod logs;
pub mod releases;
pub mod secrets;
