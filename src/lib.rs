//! shipdeck: a terminal release console. Environments, release history, live
//! health, log tails and secrets in one ratatui app, with every action also a
//! headless command sharing the same engine.

pub mod actor;
pub mod app;
pub mod child_env;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod diagnostics;
pub mod domain;
pub mod engine;
pub(crate) mod fsutil;
pub mod health;
pub mod http_body;
pub mod keymap;
pub mod logs;
pub mod migrate;
pub mod paths;
pub mod provider;
pub mod redact;
pub mod sanitize;
pub mod secrets;
pub mod shell;
pub mod state;
pub mod ui;
