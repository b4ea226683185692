//! Gates: health JSON all passing, error rate and p95 under bounds, custom
//! HTTP checks. A pure tracker decides pass/fail from samples; a sampler
//! takes them over real HTTP.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::{EnvConfig, GatesConfig};
use crate::domain::Health;
use crate::health::probe::{probe_health, scrape};
use crate::health::prometheus::{MetricNames, Scrape, window};
use crate::sanitize::sanitize;

/// One observation of every gate of an env.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    /// Why this sample fails; empty when it passes.
    pub failures: Vec<String>,
    /// Figures shown on the ladder (`api err 0.02% p95 91ms`).
    pub figures: Vec<String>,
}

impl Sample {
    /// Whether every gate passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Where a gate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep sampling.
    Pending,
    /// Enough samples passed (or the window held).
    Passed,
    /// Too many failures, or out of time.
    Failed(String),
}

/// The two ways a gate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    /// Pass after `samples` passing samples in a row, within the timeout.
    Health,
    /// Hold for `window`: fail when failures exceed the budget.
    Stabilize {
        /// Window length.
        window: Duration,
    },
}

/// Pure bookkeeping of one gate run.
#[derive(Debug, Clone)]
pub struct GateTracker {
    mode: GateMode,
    needed: u32,
    budget: u32,
    timeout: Duration,
    in_row: u32,
    failures: u32,
    last_failure: Option<String>,
}

impl GateTracker {
    /// A tracker for one gate run.
    pub fn new(spec: &GatesConfig, mode: GateMode) -> GateTracker {
        GateTracker {
            mode,
            needed: spec.samples.max(1),
            budget: spec.failure_budget,
            timeout: spec.timeout.0,
            in_row: 0,
            failures: 0,
            last_failure: None,
        }
    }

    /// Fold one sample in, `elapsed` after the gate started.
    pub fn observe(&mut self, sample: &Sample, elapsed: Duration) -> Verdict {
        if sample.passed() {
            self.in_row += 1;
        } else {
            self.in_row = 0;
            self.failures += 1;
            self.last_failure = Some(sample.failures.join("; "));
        }
        if self.failures > self.budget {
            return Verdict::Failed(format!(
                "{} failing sample(s), budget {}: {}",
                self.failures,
                self.budget,
                self.last_failure.clone().unwrap_or_default()
            ));
        }
        match self.mode {
            GateMode::Health if self.in_row >= self.needed => Verdict::Passed,
            GateMode::Health if elapsed >= self.timeout => Verdict::Failed(format!(
                "not healthy within {}s: {}",
                self.timeout.as_secs(),
                self.last_failure
                    .clone()
                    .unwrap_or_else(|| "not enough passing samples".into())
            )),
            GateMode::Stabilize { window } if elapsed >= window => Verdict::Passed,
            _ => Verdict::Pending,
        }
    }

    /// Passing samples in a row so far.
    pub fn in_row(&self) -> u32 {
        self.in_row
    }

    /// Failing samples so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// How a gate run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateEnd {
    /// Enough passing samples; the last sample's figures.
    Passed(String),
    /// Failed: why.
    Failed(String),
    /// The operator aborted while it ran.
    Aborted,
}

/// Sample the gates `sampler` covers every interval until the tracker decides; `report` sees every sample (for
/// progress), `abort` stops the run.
pub async fn run_gate(
    sampler: Sampler,
    mode: GateMode,
    abort: &mut tokio::sync::watch::Receiver<bool>,
    mut report: impl FnMut(&Sample, &GateTracker),
) -> GateEnd {
    let spec = sampler.spec.clone();
    let mut sampler = sampler;
    let mut tracker = GateTracker::new(&spec, mode);
    sampler.prime().await;
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(spec.interval.0) => {}
            _ = abort.wait_for(|v| *v) => return GateEnd::Aborted,
        }
        let sample = sampler.sample().await;
        let verdict = tracker.observe(&sample, started.elapsed());
        report(&sample, &tracker);
        match verdict {
            Verdict::Pending => {}
            Verdict::Passed => return GateEnd::Passed(sample.figures.join(" · ")),
            Verdict::Failed(reason) => return GateEnd::Failed(reason),
        }
    }
}

/// A provider and the env's deploy units, for the platform's instance health.
pub type Platform = (
    std::sync::Arc<dyn crate::provider::Provider>,
    Vec<crate::provider::registry::DeployUnit>,
);

/// What a sample says when nothing at all was measured.
pub const NOTHING_MEASURED: &str = "the gates measured nothing: no health URL, metrics, HTTP check or instance answered; configure health_url, metrics_url or [env.gates] http, or check that the services run";

/// Takes samples of one env's gates over HTTP, keeping the previous scrape per service.
pub struct Sampler {
    client: reqwest::Client,
    spec: GatesConfig,
    names: MetricNames,
    services: Vec<(String, Option<String>, Option<String>)>,
    prev: BTreeMap<String, (Scrape, Instant)>,
    platform: Option<Platform>,
}

impl Sampler {
    /// A sampler for `env`'s services and gates.
    pub fn new(client: reqwest::Client, env: &EnvConfig) -> Sampler {
        Sampler {
            client,
            spec: env.gates.clone(),
            names: MetricNames {
                requests_total: env.metrics.requests_total.clone(),
                status_label: env.metrics.status_label.clone(),
                duration_histogram: env.metrics.duration_histogram.clone(),
            },
            services: env
                .services
                .iter()
                .map(|s| {
                    (
                        s.name().to_string(),
                        s.health_url.clone(),
                        s.metrics_url.clone(),
                    )
                })
                .collect(),
            prev: BTreeMap::new(),
            platform: None,
        }
    }

    /// Also sample the platform's word on the instances (Fly machine checks):
    /// a signal where no health probe is configured.
    pub fn with_platform(mut self, platform: Option<Platform>) -> Sampler {
        self.platform = platform;
        self
    }

    /// Keep only these services (a stage's); empty keeps every service.
    pub fn only(mut self, services: &[String]) -> Sampler {
        if !services.is_empty() {
            self.services.retain(|(name, _, _)| services.contains(name));
        }
        self
    }

    /// Take the baseline scrapes the first window needs.
    pub async fn prime(&mut self) {
        for (name, _, metrics) in &self.services {
            if let Some(url) = metrics
                && let Ok(s) = scrape(&self.client, url).await
            {
                self.prev.insert(name.clone(), (s, Instant::now()));
            }
        }
    }

    /// One sample of every gate. A sample in which nothing could be
    /// measured fails: a gate that sees nothing must not pass.
    pub async fn sample(&mut self) -> Sample {
        let mut failures = Vec::new();
        let mut figures = Vec::new();
        let mut measured = self.platform_sample(&mut failures, &mut figures).await;
        for (name, health_url, metrics_url) in &self.services {
            if self.spec.health
                && let Some(url) = health_url
            {
                measured += 1;
                let probe = probe_health(&self.client, url).await;
                let health = if probe.reachable {
                    crate::health::health_of(&probe.report)
                } else {
                    Health::Missing
                };
                if health != Health::Healthy {
                    let failing: Vec<String> = probe
                        .report
                        .checks
                        .iter()
                        .filter(|c| c.status != crate::health::health_json::CheckStatus::Pass)
                        .map(|c| match &c.output {
                            Some(o) => format!("{} ({o})", c.name),
                            None => c.name.clone(),
                        })
                        .collect();
                    let why = if failing.is_empty() {
                        probe
                            .report
                            .problem
                            .clone()
                            .unwrap_or_else(|| health.label().to_lowercase())
                    } else {
                        failing.join(", ")
                    };
                    failures.push(format!("{name} health {}: {why}", health.label()));
                }
            }
            let Some(url) = metrics_url else { continue };
            let cur = match scrape(&self.client, url).await {
                Ok(s) => s,
                Err(e) => {
                    if self.spec.max_error_rate.is_some() || self.spec.max_p95.is_some() {
                        failures.push(format!("{name} {e}"));
                    }
                    continue;
                }
            };
            let now = Instant::now();
            if let Some((prev, at)) = self.prev.get(name) {
                measured += 1;
                let w = window(
                    prev,
                    &cur,
                    now.duration_since(*at).as_secs_f64(),
                    &self.names,
                );
                let mut fig = name.to_string();
                match w.error_rate {
                    Some(rate) => {
                        fig.push_str(&format!(" err {:.2}%", rate * 100.0));
                        if let Some(max) = self.spec.max_error_rate
                            && rate > max
                        {
                            failures.push(format!(
                                "{name} error rate {:.2}% > {:.2}%",
                                rate * 100.0,
                                max * 100.0
                            ));
                        }
                    }
                    None => fig.push_str(" no traffic"),
                }
                if let Some(p95) = w.p95 {
                    let ms = p95.seconds * 1000.0;
                    fig.push_str(&format!(
                        " p95 {}{ms:.0}ms",
                        if p95.clipped { "≥" } else { "" }
                    ));
                    if let Some(max) = self.spec.max_p95
                        && p95.seconds > max.0.as_secs_f64()
                    {
                        failures.push(format!("{name} p95 {ms:.0}ms > {}ms", max.0.as_millis()));
                    }
                }
                figures.push(fig);
            }
            self.prev.insert(name.clone(), (cur, now));
        }
        for check in &self.spec.http {
            measured += 1;
            match self.client.get(&check.url).send().await {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    // Only what `contains` needs: the first MiB.
                    let body = crate::http_body::read_capped(resp, 1024 * 1024)
                        .await
                        .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
                        .unwrap_or_default();
                    if code != check.expect_status {
                        failures.push(format!(
                            "{} answered {code}, expected {}",
                            sanitize(&check.url),
                            check.expect_status
                        ));
                    } else if let Some(text) = &check.contains
                        && !body.contains(text.as_str())
                    {
                        failures.push(format!("{} body lacks {text:?}", sanitize(&check.url)));
                    }
                }
                Err(_) => failures.push(format!("{} unreachable", sanitize(&check.url))),
            }
        }
        if measured == 0 {
            failures.push(NOTHING_MEASURED.to_string());
        }
        Sample { failures, figures }
    }

    /// The platform's instance health per sampled service; how many services it measured.
    async fn platform_sample(
        &self,
        failures: &mut Vec<String>,
        figures: &mut Vec<String>,
    ) -> usize {
        use crate::domain::instance_health::{health_of, instances_of};
        let Some((provider, units)) = &self.platform else {
            return 0;
        };
        let known: Vec<String> = units.iter().flat_map(|u| u.services.clone()).collect();
        let wanted: Vec<&String> = self.services.iter().map(|(n, _, _)| n).collect();
        let mut measured = 0;
        for unit in units {
            let names: Vec<Option<&String>> = if unit.services.is_empty() {
                vec![None]
            } else {
                unit.services
                    .iter()
                    .filter(|s| wanted.contains(s))
                    .map(Some)
                    .collect()
            };
            if names.is_empty() {
                continue;
            }
            let Ok(list) = provider.status(&unit.target).await else {
                continue;
            };
            let list = unit.own(list);
            for name in names {
                let mine = match name {
                    Some(n) => instances_of(&list, n, known.len() == 1),
                    None => list.iter().collect(),
                };
                if mine.is_empty() {
                    continue;
                }
                measured += 1;
                let label = name.map_or("instances", String::as_str);
                let health = health_of(&mine);
                if health == Health::Healthy {
                    figures.push(format!("{label} {}/{} healthy", mine.len(), mine.len()));
                } else {
                    let states: Vec<String> = mine
                        .iter()
                        .filter(|i| i.health != Health::Healthy)
                        .map(|i| format!("{} {}", i.id, i.state))
                        .collect();
                    failures.push(format!(
                        "{label} instances {}: {}",
                        health.label(),
                        states.join("; ")
                    ));
                }
            }
        }
        measured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GatesConfig {
        GatesConfig {
            samples: 3,
            failure_budget: 1,
            ..GatesConfig::default()
        }
    }

    fn ok() -> Sample {
        Sample {
            failures: vec![],
            figures: vec![],
        }
    }

    fn bad(why: &str) -> Sample {
        Sample {
            failures: vec![why.into()],
            figures: vec![],
        }
    }

    #[tokio::test]
    async fn a_gate_that_measures_nothing_fails() {
        let cfg = crate::config::Config::parse_str(
            "[[env]]\nname = \"dev\"\nprovider = \"vps\"\n\n[[env.service]]\nname = \"api\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let mut sampler = Sampler::new(reqwest::Client::new(), &cfg.envs[0]);
        let sample = sampler.sample().await;
        assert!(!sample.passed());
        assert_eq!(sample.failures, [NOTHING_MEASURED]);
    }

    #[test]
    fn health_gate_needs_passes_in_a_row_within_budget() {
        let mut t = GateTracker::new(&spec(), GateMode::Health);
        assert_eq!(t.observe(&ok(), Duration::ZERO), Verdict::Pending);
        assert_eq!(
            t.observe(&bad("api 503"), Duration::ZERO),
            Verdict::Pending,
            "one failure is within budget"
        );
        assert_eq!(t.observe(&ok(), Duration::ZERO), Verdict::Pending);
        assert_eq!(t.observe(&ok(), Duration::ZERO), Verdict::Pending);
        assert_eq!(t.observe(&ok(), Duration::ZERO), Verdict::Passed);
    }

    #[test]
    fn exceeding_the_budget_fails_with_the_reason() {
        let mut t = GateTracker::new(&spec(), GateMode::Health);
        t.observe(&bad("api error rate 7.00% > 0.10%"), Duration::ZERO);
        match t.observe(&bad("api error rate 8.00% > 0.10%"), Duration::ZERO) {
            Verdict::Failed(why) => {
                assert!(why.contains("8.00%") && why.contains("budget 1"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn health_gate_times_out_and_stabilize_passes_after_window() {
        let mut t = GateTracker::new(&spec(), GateMode::Health);
        assert!(matches!(
            t.observe(&ok(), Duration::from_secs(61)),
            Verdict::Failed(_)
        ));
        let mut s = GateTracker::new(
            &spec(),
            GateMode::Stabilize {
                window: Duration::from_secs(10),
            },
        );
        assert_eq!(s.observe(&ok(), Duration::from_secs(5)), Verdict::Pending);
        assert_eq!(s.observe(&ok(), Duration::from_secs(10)), Verdict::Passed);
    }
}
