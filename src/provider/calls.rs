//! The command log: a record of every provider call (method, target, status,
//! duration), shown in the TUI. Never holds a header, a body or a credential.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::mpsc;

/// One provider call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallRecord {
    /// When it started.
    pub at: DateTime<Utc>,
    /// Provider name.
    pub provider: String,
    /// HTTP method (or `exec` for commands).
    pub method: String,
    /// URL without query string secrets, or the command line.
    pub target: String,
    /// HTTP status, or None when no answer came.
    pub status: Option<u16>,
    /// How long it took.
    pub duration: Duration,
    /// Short outcome note (error kind, request id of a failure).
    pub note: String,
}

/// Where clients report calls. Cloning is cheap; a closed sink drops records.
#[derive(Debug, Clone, Default)]
pub struct CallSink {
    tx: Option<mpsc::UnboundedSender<CallRecord>>,
}

impl CallSink {
    /// A sink feeding a channel.
    pub fn new(tx: mpsc::UnboundedSender<CallRecord>) -> CallSink {
        CallSink { tx: Some(tx) }
    }

    /// A sink that discards (headless one-shot commands).
    pub fn discard() -> CallSink {
        CallSink { tx: None }
    }

    /// Record a call.
    pub fn record(&self, record: CallRecord) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(record);
        }
    }
}
