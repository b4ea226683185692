//! Per-service view state: probe results, check history, metrics windows.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};

use crate::domain::Health;
use crate::health::health_json::{CheckStatus, HealthReport};
use crate::health::prometheus::Window;

/// Samples kept per sparkline.
pub const HISTORY: usize = 60;

/// The state of a log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    /// No log source for this service.
    None,
    /// Connecting.
    Connecting,
    /// Lines flowing.
    Streaming,
    /// Failed; retrying.
    Failed(String),
}

/// History of one named check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckHistory {
    /// Latest status.
    pub status: CheckStatus,
    /// Latest observed value text (`3.1 ms`).
    pub observed: Option<String>,
    /// Observed latency in ms, for the sparkline (when the check reports one).
    pub samples: VecDeque<u64>,
    /// The last failure: reason and when.
    pub last_failure: Option<(String, DateTime<Utc>)>,
}

/// One service as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    /// Name.
    pub name: String,
    /// Probe verdict.
    pub health: Health,
    /// Has a health URL.
    pub has_health: bool,
    /// Has a metrics URL.
    pub has_metrics: bool,
    /// Last report.
    pub report: Option<HealthReport>,
    /// When last probed.
    pub probed_at: Option<DateTime<Utc>>,
    /// Probe round-trip times (ms).
    pub probe_ms: VecDeque<u64>,
    /// Per-check history, by check name.
    pub checks: BTreeMap<String, CheckHistory>,
    /// Latest metrics window.
    pub window: Option<Window>,
    /// Metrics problem.
    pub metrics_error: Option<String>,
    /// Error-rate history (basis points) for the sparkline.
    pub error_bp: VecDeque<u64>,
    /// p95 history (ms).
    pub p95_ms: VecDeque<u64>,
    /// Log stream state.
    pub stream: StreamState,
}

impl ServiceView {
    /// A service before any probe.
    pub fn new(name: &str, has_health: bool, has_metrics: bool) -> ServiceView {
        ServiceView {
            name: name.to_string(),
            health: Health::Unknown,
            has_health,
            has_metrics,
            report: None,
            probed_at: None,
            probe_ms: VecDeque::new(),
            checks: BTreeMap::new(),
            window: None,
            metrics_error: None,
            error_bp: VecDeque::new(),
            p95_ms: VecDeque::new(),
            stream: StreamState::None,
        }
    }

    /// Fold a probe result in.
    pub fn apply_probe(
        &mut self,
        report: HealthReport,
        latency_ms: u64,
        reachable: bool,
        at: DateTime<Utc>,
    ) {
        self.health = if reachable {
            crate::health::health_of(&report)
        } else {
            Health::Missing
        };
        push(&mut self.probe_ms, latency_ms);
        for check in &report.checks {
            let entry = self
                .checks
                .entry(check.name.clone())
                .or_insert_with(|| CheckHistory {
                    status: check.status,
                    observed: None,
                    samples: VecDeque::new(),
                    last_failure: None,
                });
            entry.status = check.status;
            entry.observed = check.observed.clone();
            if let Some(ms) = check.observed.as_deref().and_then(parse_ms) {
                push(&mut entry.samples, ms);
            }
            if matches!(check.status, CheckStatus::Fail | CheckStatus::Warn) {
                let reason = check
                    .output
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", check.status).to_lowercase());
                entry.last_failure = Some((reason, at));
            }
        }
        self.report = Some(report);
        self.probed_at = Some(at);
    }

    /// Fold a metrics window in.
    pub fn apply_window(&mut self, window: Window) {
        if let Some(rate) = window.error_rate {
            push(&mut self.error_bp, (rate * 10_000.0).round() as u64);
        }
        if let Some(p95) = window.p95 {
            push(&mut self.p95_ms, (p95.seconds * 1000.0).round() as u64);
        }
        self.metrics_error = None;
        self.window = Some(window);
    }
}

fn push(history: &mut VecDeque<u64>, value: u64) {
    if history.len() == HISTORY {
        history.pop_front();
    }
    history.push_back(value);
}

/// `"3.1 ms"` → 3, `"1.2 s"` → 1200.
fn parse_ms(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let value: f64 = parts.next()?.parse().ok()?;
    let factor = match parts.next().unwrap_or("ms") {
        "ms" => 1.0,
        "s" => 1000.0,
        "us" | "µs" => 0.001,
        _ => return None,
    };
    Some((value * factor).round().max(0.0) as u64)
}
