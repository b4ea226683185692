//! Database migrations: golang-migrate style files, a SQLite runner, and a lint for risky changes.
pub mod alembic;
pub mod command;
pub mod files;
pub mod lint;
pub mod pg_tls;
pub mod postgres;
pub mod run;
pub mod sqlite;
mod steps;

pub use steps::{dirty_advice, previous_version, version_word};
pub mod tool_run;
