//! Health probes and metrics: parsing health JSON and Prometheus text, and
//! the HTTP probes that fetch them.

pub mod health_json;
pub mod probe;
pub mod prometheus;

use crate::domain::Health;
use health_json::{CheckStatus, HealthReport};

/// Map a probe's overall status onto the shared health vocabulary.
pub fn health_of(report: &HealthReport) -> Health {
    match report.status {
        CheckStatus::Pass => Health::Healthy,
        CheckStatus::Warn | CheckStatus::Fail => Health::Degraded,
        CheckStatus::Unknown => Health::Unknown,
    }
}
