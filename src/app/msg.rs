//! Messages into `update` and effects out of it.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::domain::{Instance, Release, SecretMeta};
use crate::health::probe::{ProbeResult, ScrapeError};
use crate::health::prometheus::Window;
use crate::provider::CallRecord;
use crate::state::StreamState;

/// Everything that can happen.
#[derive(Debug)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// Pasted text.
    Paste(String),
    /// The terminal changed size.
    Resize,
    /// A second passed (ages, toasts).
    Tick(DateTime<Utc>),
    /// A health probe finished.
    Health {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// Result.
        result: ProbeResult,
        /// When.
        at: DateTime<Utc>,
    },
    /// A metrics window was computed from two scrapes.
    Metrics {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// The window, or why not.
        result: Result<Window, ScrapeError>,
    },
    /// Release history arrived.
    Releases {
        /// Env index.
        env: usize,
        /// Result (error already rendered).
        result: Result<Vec<Release>, String>,
    },
    /// Secret metadata arrived.
    Secrets {
        /// Env index.
        env: usize,
        /// Result.
        result: Result<Vec<SecretMeta>, String>,
    },
    /// Instances arrived.
    Instances {
        /// Env index.
        env: usize,
        /// Result.
        result: Result<Vec<Instance>, String>,
    },
    /// Log lines arrived (batched).
    LogLines {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// Raw lines.
        lines: Vec<String>,
    },
    /// A log stream changed state.
    LogStream {
        /// Env index.
        env: usize,
        /// Service index.
        svc: usize,
        /// New state.
        state: StreamState,
    },
    /// A provider call was made.
    Call(CallRecord),
    /// SIGTERM / SIGHUP / SIGINT.
    Signal(&'static str),
}

/// Work for the effects runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Re-read releases, secrets and instances of an env now.
    Refresh {
        /// Env index.
        env: usize,
    },
}
