//! HTTP probes: fetch a health endpoint or a metrics endpoint once.

use std::time::{Duration, Instant};

use super::health_json::{CheckStatus, HealthReport, parse_health};
use super::prometheus::{Scrape, parse};
use crate::sanitize::sanitize;

/// Biggest body read from a health or metrics endpoint.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The result of one health probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Parsed report (sanitised strings), or a report built from the failure.
    pub report: HealthReport,
    /// Round-trip time.
    pub latency: Duration,
    /// Whether the endpoint answered at all.
    pub reachable: bool,
}

/// A client shared by all probes (connection reuse keeps probing cheap).
pub fn probe_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .user_agent(concat!(
            "shipdeck/",
            env!("CARGO_PKG_VERSION"),
            " (health probe)"
        ))
        .build()
        .unwrap_or_default()
}

/// Probe a health endpoint once.
pub async fn probe_health(client: &reqwest::Client, url: &str) -> ProbeResult {
    let started = Instant::now();
    let outcome = async {
        let resp = client
            .get(url)
            .header(
                "accept",
                "application/health+json, application/json;q=0.9, */*;q=0.1",
            )
            .send()
            .await?;
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::http_body::read_capped(resp, MAX_BODY).await?.bytes;
        Ok::<_, reqwest::Error>((status, ctype, body))
    }
    .await;
    let latency = started.elapsed();
    match outcome {
        Ok((status, ctype, body)) => {
            let report = sanitize_report(parse_health(status, ctype.as_deref(), &body));
            ProbeResult {
                report,
                latency,
                reachable: true,
            }
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {:.1}s", latency.as_secs_f32())
            } else if e.is_connect() {
                "connection refused or unreachable".to_string()
            } else {
                sanitize(&e.to_string())
            };
            let report = HealthReport {
                status: CheckStatus::Fail,
                body_status: None,
                checks: Vec::new(),
                mismatch: None,
                version: None,
                problem: Some(why),
            };
            ProbeResult {
                report,
                latency,
                reachable: false,
            }
        }
    }
}

/// Every string in a report comes from outside: sanitise them all.
fn sanitize_report(mut report: HealthReport) -> HealthReport {
    for check in &mut report.checks {
        check.name = sanitize(&check.name);
        check.output = check.output.as_deref().map(sanitize);
        check.observed = check.observed.as_deref().map(sanitize);
    }
    report.mismatch = report.mismatch.as_deref().map(sanitize);
    report.version = report.version.as_deref().map(sanitize);
    report.problem = report.problem.as_deref().map(sanitize);
    report
}

/// Why a scrape failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScrapeError(pub String);

/// Scrape a Prometheus endpoint once.
pub async fn scrape(client: &reqwest::Client, url: &str) -> Result<Scrape, ScrapeError> {
    let resp = client
        .get(url)
        .header(
            "accept",
            "text/plain;version=0.0.4, application/openmetrics-text;q=0.5",
        )
        .send()
        .await
        .map_err(|e| {
            ScrapeError(if e.is_timeout() {
                "metrics: no answer in time".into()
            } else {
                "metrics: unreachable".into()
            })
        })?;
    if !resp.status().is_success() {
        return Err(ScrapeError(format!(
            "metrics: HTTP {}",
            resp.status().as_u16()
        )));
    }
    let body = crate::http_body::read_capped(resp, MAX_BODY)
        .await
        .map_err(|e| ScrapeError(sanitize(&e.to_string())))?;
    if body.cut {
        return Err(ScrapeError(format!(
            "metrics: the answer is larger than {} MiB",
            MAX_BODY / (1024 * 1024)
        )));
    }
    let text = String::from_utf8_lossy(&body.bytes);
    Ok(parse(&text).0)
}
