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

/// Longest a command check runs when its config sets no `timeout`.
pub const COMMAND_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Run one command check: its figure when it passes, why not when it fails.
/// No shell, a scrubbed environment, killed at its time limit; its output is
/// read up to 64 KiB and shown sanitised.
pub async fn run_check(check: &crate::config::CommandCheck) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let shown = sanitize(&check.run);
    let (program, args) =
        crate::shell::parse_command(&check.run).map_err(|e| format!("`{shown}`: {e}"))?;
    let mut command = tokio::process::Command::new(&program);
    command
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    crate::child_env::scrub(&mut command, &[]);
    let mut child = command
        .spawn()
        .map_err(|e| format!("`{shown}` cannot start: {e}"))?;
    let limit = check.timeout.map_or(COMMAND_CHECK_TIMEOUT, |t| t.0);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        // Both pipes at once: a child filling one must not stall on the other.
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut out).await;
                // The rest is drained, so a chatty command is not stalled.
                let _ = tokio::io::copy(s, &mut tokio::io::sink()).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut err).await;
                let _ = tokio::io::copy(s, &mut tokio::io::sink()).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(limit, run).await {
        Ok(done) => done,
        Err(_) => {
            return Err(format!(
                "`{shown}` did not finish within {}s (killed)",
                limit.as_secs_f32()
            ));
        }
    };
    let code = status
        .map_err(|e| format!("`{shown}` could not be waited for: {e}"))?
        .code();
    let out = String::from_utf8_lossy(&out);
    let last = |text: &str| {
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| sanitize(l.trim()))
            .unwrap_or_default()
    };
    if code != Some(check.expect_exit) {
        let said = match last(&String::from_utf8_lossy(&err)) {
            e if !e.is_empty() => e,
            _ => last(&out),
        };
        return Err(format!(
            "`{shown}` exited {}, expected {}{}",
            code.map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
            check.expect_exit,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ));
    }
    if let Some(text) = &check.contains
        && !out.contains(text.as_str())
    {
        return Err(format!("`{shown}` printed no {text:?}"));
    }
    Ok(format!("{} ok", sanitize(&program)))
}

/// A provider and the env's deploy units, for the platform's instance health.
pub type Platform = (
    std::sync::Arc<dyn crate::provider::Provider>,
    Vec<crate::provider::registry::DeployUnit>,
);

/// What a sample says when nothing at all was measured.
pub const NOTHING_MEASURED: &str = "the gates measured nothing: no health URL, metrics, HTTP or command check or instance answered; configure health_url, metrics_url, [env.gates] http or command, or check that the services run";

/// Why `env`'s gates could never measure a service, or None: with no
/// HTTP or command check and a provider that reports no instances, every
/// service needs a health URL the gate reads or a metrics URL it scrapes.
/// Refused at plan time, so a promotion never waits on a gate that cannot pass.
pub fn no_signal(
    env: &EnvConfig,
    provider: &str,
    caps: &crate::provider::Capabilities,
) -> Option<String> {
    let g = &env.gates;
    if !g.http.is_empty() || !g.command.is_empty() || caps.instances {
        return None;
    }
    let metrics_gated = g.max_error_rate.is_some() || g.max_p95.is_some();
    let blind: Vec<&str> = env
        .services
        .iter()
        .filter(|s| {
            let measured =
                (g.health && s.health_url.is_some()) || (metrics_gated && s.metrics_url.is_some());
            !measured
        })
        .map(|s| s.name())
        .collect();
    let what = match (env.services.is_empty(), blind.as_slice()) {
        (true, _) => "it has no service with a health_url or metrics_url".to_string(),
        (false, []) => return None,
        (false, names) => format!(
            "service(s) {} have no health_url (with health = true) or metrics_url (with max_error_rate or max_p95)",
            names.join(", ")
        ),
    };
    Some(format!(
        "the gates of `{}` would measure nothing: {what}, there is no [env.gates] http or command check, and the {provider} provider reports no instances; configure one of them so a promotion can be judged",
        env.name()
    ))
}

/// Takes samples of one env's gates over HTTP, keeping the previous scrape per service.
pub struct Sampler {
    client: reqwest::Client,
    spec: GatesConfig,
    names: MetricNames,
    services: Vec<(String, Option<String>, Option<String>)>,
    prev: BTreeMap<String, (Scrape, Instant)>,
    /// Each service's first scrape: "no traffic" is judged since then.
    first: BTreeMap<String, (Scrape, Instant)>,
    platform: Option<Platform>,
}

/// How long a service must go without a single request, since the
/// sampler's first scrape, before "no traffic" fails its gates: a quiet
/// interval of a second or two is not yet a service that gets none.
pub const NO_TRAFFIC_AFTER: Duration = Duration::from_secs(10);

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
            first: BTreeMap::new(),
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
                self.first
                    .entry(name.clone())
                    .or_insert_with(|| (s.clone(), Instant::now()));
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
                    None => {
                        fig.push_str(" no traffic");
                        let gated =
                            self.spec.max_error_rate.is_some() || self.spec.max_p95.is_some();
                        // Quiet since the first scrape, for long enough to mean it.
                        let quiet_since = self.first.get(name).and_then(|(first, at)| {
                            let span = now.duration_since(*at);
                            let whole = window(first, &cur, span.as_secs_f64(), &self.names);
                            (whole.error_rate.is_none() && span >= NO_TRAFFIC_AFTER).then_some(span)
                        });
                        if let Some(span) = quiet_since
                            && gated
                            && !self.spec.allow_no_traffic
                        {
                            failures.push(format!(
                                "{name} had no requests in {:.0}s, so its error rate and p95 are unknown: send it traffic (a smoke check), or set [env.gates] allow_no_traffic = true for a service that gets none",
                                span.as_secs_f64()
                            ));
                        }
                    }
                }
                if w.p95.is_none() && w.error_rate.is_some() && self.spec.max_p95.is_some() {
                    // Requests came in but no latency could be read.
                    let bucket = format!("{}_bucket", self.names.duration_histogram);
                    if cur.samples.iter().any(|s| s.name == bucket) {
                        failures.push(format!(
                            "{name} histogram `{}` recorded no request in the window: p95 unknown",
                            self.names.duration_histogram
                        ));
                    } else {
                        failures.push(format!(
                            "{name} exposes no `{bucket}` series, so its p95 cannot be measured: set [env.metrics] duration_histogram to the histogram it has, or remove max_p95"
                        ));
                    }
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
            self.first
                .entry(name.clone())
                .or_insert_with(|| (cur.clone(), now));
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
        for check in &self.spec.command {
            measured += 1;
            match run_check(check).await {
                Ok(figure) => figures.push(figure),
                Err(failure) => failures.push(failure),
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

#[cfg(test)]
mod command_checks {
    use super::*;
    use crate::config::{CommandCheck, Config};

    fn check(run: &str) -> CommandCheck {
        CommandCheck {
            run: run.into(),
            expect_exit: 0,
            contains: None,
            timeout: None,
        }
    }

    #[tokio::test]
    async fn a_command_passes_on_its_exit_code_and_text_and_fails_saying_why() {
        assert_eq!(
            run_check(&check("sh -c 'echo PONG'")).await.unwrap(),
            "sh ok"
        );
        let pong = CommandCheck {
            contains: Some("PONG".into()),
            ..check("sh -c 'echo PONG'")
        };
        assert!(run_check(&pong).await.is_ok());
        let silent = CommandCheck {
            contains: Some("PONG".into()),
            ..check("sh -c 'echo LOADING'")
        };
        assert!(
            run_check(&silent)
                .await
                .unwrap_err()
                .contains("printed no \"PONG\"")
        );
        let refused = run_check(&check(
            "sh -c 'echo \"localhost:5432 - no response\" >&2; exit 2'",
        ))
        .await
        .unwrap_err();
        assert!(
            refused.contains("exited 2, expected 0: localhost:5432 - no response"),
            "{refused}"
        );
        let missing = run_check(&check("no-such-program-here")).await.unwrap_err();
        assert!(missing.contains("cannot start"), "{missing}");
        let wanted_failure = CommandCheck {
            expect_exit: 1,
            ..check("false")
        };
        assert!(run_check(&wanted_failure).await.is_ok());
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_its_limit_and_a_chatty_one_is_not_stalled() {
        let slow = CommandCheck {
            timeout: Some(crate::config::HumanDuration(Duration::from_millis(300))),
            ..check("sleep 30")
        };
        let started = Instant::now();
        let e = run_check(&slow).await.unwrap_err();
        assert!(e.contains("did not finish within 0.3s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Far more output than is kept: drained, so it ends on its own.
        let chatty = check("sh -c 'head -c 2000000 /dev/zero; echo done'");
        assert!(run_check(&chatty).await.is_ok());
    }

    #[tokio::test]
    async fn a_command_check_counts_as_a_measurement_and_its_failure_fails_the_sample() {
        let cfg = Config::parse_str(
            r#"
[[env]]
name = "vps"
provider = "vps"
[env.gates]
command = [{ run = "sh -c 'exit 0'" }, { run = "sh -c 'echo down; exit 1'" }]
"#,
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let mut sampler = Sampler::new(reqwest::Client::new(), &cfg.envs[0]);
        let sample = sampler.sample().await;
        assert_eq!(sample.figures, ["sh ok"]);
        assert_eq!(sample.failures.len(), 1, "{:?}", sample.failures);
        assert!(sample.failures[0].contains("exited 1, expected 0: down"));
        assert!(!sample.failures.iter().any(|f| f == NOTHING_MEASURED));
    }
}

#[cfg(test)]
mod traffic {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A `/metrics` endpoint serving whatever `body` holds.
    async fn metrics_server(body: Arc<Mutex<String>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let text = body.lock().unwrap().clone();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{addr}/metrics")
    }

    fn env(url: &str, extra: &str) -> EnvConfig {
        let cfg = crate::config::Config::parse_str(
            &format!(
                "[[env]]\nname = \"dev\"\nprovider = \"vps\"\n[env.gates]\nhealth = false\nmax_error_rate = 0.01\nmax_p95 = \"200ms\"\n{extra}\n\n[[env.service]]\nname = \"api\"\nmetrics_url = \"{url}\"\n"
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        cfg.envs[0].clone()
    }

    #[tokio::test]
    async fn no_traffic_fails_unless_allowed_and_a_missing_histogram_fails() {
        let body = Arc::new(Mutex::new(
            "http_requests_total{status=\"200\"} 10\n".to_string(),
        ));
        let url = metrics_server(body.clone()).await;
        let mut sampler = Sampler::new(reqwest::Client::new(), &env(&url, ""));
        sampler.prime().await;
        // A quiet second is not yet a service without traffic.
        let short = sampler.sample().await;
        assert!(short.passed(), "{short:?}");
        assert!(short.figures.iter().any(|f| f.contains("no traffic")));
        // Quiet since the first scrape, for longer than NO_TRAFFIC_AFTER.
        for (_, at) in sampler.first.values_mut() {
            *at -= NO_TRAFFIC_AFTER + Duration::from_secs(1);
        }
        let quiet = sampler.sample().await;
        assert!(
            quiet
                .failures
                .iter()
                .any(|f| f.contains("api had no requests") && f.contains("allow_no_traffic")),
            "{quiet:?}"
        );
        let mut allowed = Sampler::new(
            reqwest::Client::new(),
            &env(&url, "allow_no_traffic = true"),
        );
        allowed.prime().await;
        for (_, at) in allowed.first.values_mut() {
            *at -= NO_TRAFFIC_AFTER + Duration::from_secs(1);
        }
        let sample = allowed.sample().await;
        assert!(sample.passed(), "{sample:?}");
        assert!(sample.figures.iter().any(|f| f.contains("no traffic")));
        // Requests, but no histogram to read a p95 from.
        *body.lock().unwrap() = "http_requests_total{status=\"200\"} 50\n".into();
        let busy = sampler.sample().await;
        assert!(
            busy.failures
                .iter()
                .any(|f| f.contains("exposes no `http_request_duration_seconds_bucket`")),
            "{busy:?}"
        );
    }
}
