//! Runs effects and background pollers as tokio tasks that report back as
//! messages. Nothing here touches the UI state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::budget::RefreshPace;
use super::msg::{Effect, Msg};
use crate::config::Config;
use crate::health::probe::{probe_client, probe_health, scrape};
use crate::health::prometheus::{MetricNames, window};
use crate::provider::registry::{DeployUnit, Providers, secret_scopes, target_of, units_of};
use crate::provider::{Provider, Target};
use crate::state::StreamState;

/// Health probes and metric scrapes in flight at once, across the whole fleet.
pub const MAX_PROBES_IN_FLIGHT: usize = 32;

/// Owns the task handles; dropping it stops every poller.
pub struct Runner {
    cfg: Arc<Config>,
    providers: Providers,
    tx: UnboundedSender<Msg>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    engine: crate::engine::Engine,
    /// The running plan's abort switch.
    plan_abort: Option<tokio::sync::watch::Sender<bool>>,
    /// The running rotation's abort switch (apart, so a rotation never takes a plan's).
    rotation_abort: Option<tokio::sync::watch::Sender<bool>>,
    plan_task: Option<tokio::task::JoinHandle<()>>,
    /// Per env: one refresh at a time, at least the health interval apart.
    paces: Vec<Arc<RefreshPace>>,
}

impl Runner {
    /// A runner sending results to `tx`.
    pub fn new(engine: crate::engine::Engine, tx: UnboundedSender<Msg>) -> Runner {
        let gap = engine.config.ui.health_interval.0;
        let paces = (0..engine.config.envs.len())
            .map(|_| Arc::new(RefreshPace::new(gap)))
            .collect();
        Runner {
            paces,
            cfg: engine.config.clone(),
            providers: engine.providers.clone(),
            tx,
            tasks: Vec::new(),
            engine,
            plan_abort: None,
            rotation_abort: None,
            plan_task: None,
        }
    }

    /// Start every poller (see [`Runner::start_polls`]) and look up where
    /// each env's credentials come from.
    pub fn start(&mut self) {
        self.check_credentials();
        self.start_polls();
    }

    /// Start the pollers alone: health, metrics, provider refresh, log streams.
    pub fn start_polls(&mut self) {
        let timeout = self.cfg.ui.request_timeout.0;
        let client = probe_client(timeout);
        // A cap on requests in flight, so hundreds of endpoints never open hundreds of sockets at once.
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_PROBES_IN_FLIGHT));
        for (e, env) in self.cfg.envs.iter().enumerate() {
            let names = MetricNames {
                requests_total: env.metrics.requests_total.clone(),
                status_label: env.metrics.status_label.clone(),
                duration_histogram: env.metrics.duration_histogram.clone(),
            };
            for (s, svc) in env.services.iter().enumerate() {
                if let Some(url) = svc.health_url.clone() {
                    let (tx, client, every, slots) = (
                        self.tx.clone(),
                        client.clone(),
                        self.cfg.ui.health_interval.0,
                        slots.clone(),
                    );
                    self.tasks.push(tokio::spawn(async move {
                        let mut tick = jittered_interval(every);
                        loop {
                            tick.tick().await;
                            let Ok(_slot) = slots.acquire().await else {
                                break;
                            };
                            let result = probe_health(&client, &url).await;
                            if tx
                                .send(Msg::Health {
                                    env: e,
                                    svc: s,
                                    result,
                                    at: chrono::Utc::now(),
                                })
                                .is_err()
                            {
                                break;
                            }
                        }
                    }));
                }
                if let Some(url) = svc.metrics_url.clone() {
                    let (tx, client, every, names, slots) = (
                        self.tx.clone(),
                        client.clone(),
                        self.cfg.ui.metrics_interval.0,
                        names.clone(),
                        slots.clone(),
                    );
                    self.tasks.push(tokio::spawn(async move {
                        let mut tick = jittered_interval(every);
                        let mut prev = None;
                        loop {
                            tick.tick().await;
                            let Ok(slot) = slots.acquire().await else {
                                break;
                            };
                            let scraped = scrape(&client, &url).await;
                            drop(slot);
                            let result = match scraped {
                                Ok(cur) => {
                                    let now = Instant::now();
                                    let out = prev.as_ref().map(|(p, at): &(_, Instant)| {
                                        window(
                                            p,
                                            &cur,
                                            now.duration_since(*at).as_secs_f64(),
                                            &names,
                                        )
                                    });
                                    prev = Some((cur, now));
                                    match out {
                                        Some(w) => Ok(w),
                                        None => continue,
                                    }
                                }
                                Err(e) => Err(e),
                            };
                            if tx
                                .send(Msg::Metrics {
                                    env: e,
                                    svc: s,
                                    result,
                                })
                                .is_err()
                            {
                                break;
                            }
                        }
                    }));
                }
                // A configured source wins over the provider's log API.
                let from = match (
                    svc.logs
                        .as_ref()
                        .map(|l| crate::logs::sources::SourceSpec::from_config(l.get_ref())),
                    self.providers.get(e).cloned().flatten(),
                ) {
                    (Some(Ok(spec)), _) => Some(TailFrom::Source(spec)),
                    (Some(Err(err)), _) => {
                        let _ = self.tx.send(Msg::LogStream {
                            env: e,
                            svc: s,
                            state: StreamState::Failed(err.to_string()),
                        });
                        None
                    }
                    (None, Some(provider)) if provider.capabilities().logs => {
                        Some(TailFrom::Provider(
                            provider,
                            target_of(&self.cfg, e),
                            svc.name().to_string(),
                        ))
                    }
                    _ => None,
                };
                if let Some(from) = from {
                    self.tasks
                        .push(tokio::spawn(tail_logs(from, e, s, self.tx.clone())));
                }
            }
            if let Some(provider) = self.providers.get(e).cloned().flatten() {
                self.tasks.push(tokio::spawn(refresh_loop(
                    provider,
                    RefreshPlan::of(&self.cfg, e),
                    e,
                    self.cfg.ui.refresh_interval.0,
                    self.paces[e].clone(),
                    self.tx.clone(),
                )));
            }
        }
    }

    /// Run one effect in a task. Every effect is named here, so a new one
    /// cannot slip through to the wrong runner.
    pub fn run(&mut self, effect: Effect) {
        self.tasks.retain(|t| !t.is_finished());
        match effect {
            Effect::Refresh { env } => {
                let (Some(provider), Some(pace)) = (
                    self.providers.get(env).cloned().flatten(),
                    self.paces.get(env).cloned(),
                ) else {
                    return;
                };
                let (plan, tx) = (RefreshPlan::of(&self.cfg, env), self.tx.clone());
                self.tasks.push(tokio::spawn(async move {
                    // Queued behind a refresh in flight; joins one already waiting.
                    if let Some(_turn) = pace.turn().await {
                        refresh(provider.as_ref(), &plan, env, &tx).await;
                    }
                }));
            }
            Effect::RunPlan { .. } | Effect::Resume { .. } => {
                // The plan task is kept apart: it is the one task a quit must not cut short silently.
                self.plan_task =
                    super::plan_effects::run(&self.engine, effect, &self.tx, &mut self.plan_abort);
            }
            // The loop owns the terminal and writes clipboard requests itself.
            Effect::Copy(_) => tracing::warn!("a clipboard request reached the effect runner"),
            Effect::AbortPlan => flip(self.plan_abort.as_ref()),
            Effect::AbortRotation => flip(self.rotation_abort.as_ref()),
            Effect::SecretSet { .. }
            | Effect::SecretUnset { .. }
            | Effect::Rotate { .. }
            | Effect::RestoreSecret { .. } => {
                let task = super::secret_effects::run(
                    &self.engine,
                    effect,
                    &self.tx,
                    &mut self.rotation_abort,
                );
                self.tasks.extend(task);
            }
            Effect::PreviewPromote { .. }
            | Effect::PreviewRollback { .. }
            | Effect::Unpin { .. }
            | Effect::LoadApprovals { .. }
            | Effect::Review { .. }
            | Effect::LoadAudit
            | Effect::LoadMarks
            | Effect::CheckInterrupted
            | Effect::ShowLogsCommand { .. }
            | Effect::Export { .. }
            | Effect::LoadMigrations { .. }
            | Effect::Migrate { .. } => {
                let task =
                    super::plan_effects::run(&self.engine, effect, &self.tx, &mut self.plan_abort);
                self.tasks.extend(task);
            }
        }
    }
}

/// Throw an abort switch, when one is set.
fn flip(switch: Option<&tokio::sync::watch::Sender<bool>>) {
    if let Some(switch) = switch {
        let _ = switch.send(true);
    }
}

impl Runner {
    /// Find out where each env's credentials come from, on the blocking
    /// pool: opening the keyring may wait on D-Bus, and the first frame
    /// must not.
    fn check_credentials(&mut self) {
        let wanted: Vec<usize> = (0..self.cfg.envs.len())
            .filter(|&e| !crate::credentials::needs_of(&self.cfg.envs[e]).is_empty())
            .collect();
        if wanted.is_empty() {
            return;
        }
        let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
        self.tasks.push(tokio::spawn(async move {
            let opened = Arc::new(
                crate::credentials::Credentials::open_async(crate::paths::state_dir()).await,
            );
            let vars = crate::credentials::EnvSource::Process;
            for e in wanted {
                let (cfg, store, vars) = (cfg.clone(), opened.clone(), vars.clone());
                let origins = tokio::task::spawn_blocking(move || {
                    crate::credentials::origins_of(&cfg.envs[e], (*store).as_ref(), &vars)
                })
                .await
                .unwrap_or_default();
                if tx.send(Msg::Credentials { env: e, origins }).is_err() {
                    break;
                }
            }
        }));
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn jittered_interval(every: Duration) -> tokio::time::Interval {
    let jitter = every.mul_f64(fastrand::f64() * 0.2);
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + jitter.min(Duration::from_millis(150)),
        every,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// The console's provider refresh of env `e`, as `Runner::start` runs it: one
/// [`refresh`] every `every` (refresh interval), queued through `pace` with
/// the refreshes asked for by hand or after an action. Ends when `tx` closes.
pub async fn refresh_loop(
    provider: Arc<dyn Provider>,
    plan: RefreshPlan,
    e: usize,
    every: Duration,
    pace: Arc<RefreshPace>,
    tx: UnboundedSender<Msg>,
) {
    let mut tick = jittered_interval(every);
    loop {
        tick.tick().await;
        if tx.is_closed() {
            break;
        }
        if let Some(_turn) = pace.turn().await {
            refresh(provider.as_ref(), &plan, e, &tx).await;
        }
    }
}

/// What one refresh of an env reads: each deploy unit's status and history,
/// and each place it keeps secrets.
#[derive(Debug, Clone)]
pub struct RefreshPlan {
    /// Deploy units, in the order `Msg::Releases` numbers them.
    pub units: Vec<DeployUnit>,
    /// Secret places, in the order `Msg::Secrets` numbers them.
    pub secret_scopes: Vec<Target>,
}

impl RefreshPlan {
    /// The plan for env `e` of `cfg`.
    pub fn of(cfg: &crate::config::Config, e: usize) -> RefreshPlan {
        RefreshPlan {
            units: units_of(cfg, e),
            secret_scopes: secret_scopes(cfg, e)
                .into_iter()
                .map(|s| s.target)
                .collect(),
        }
    }
}

/// One refresh of env `e`: per deploy unit, status first (a provider may
/// hand its machine list on to the history that follows), then history;
/// the env's secrets alongside. Instances of a unit that carries one service
/// are that service's, whatever the platform calls them (a Fly process group).
pub async fn refresh(
    provider: &dyn Provider,
    plan: &RefreshPlan,
    e: usize,
    tx: &UnboundedSender<Msg>,
) {
    let (units, secret_scopes) = (&plan.units, &plan.secret_scopes);
    let status_then_history = async {
        let mut instances: Vec<crate::domain::Instance> = Vec::new();
        let mut failed = None;
        let mut histories = Vec::new();
        for unit in units {
            match provider.status(&unit.target).await {
                Ok(list) => instances.extend(unit.own(list)),
                Err(err) => failed = Some(err),
            }
            histories.push(provider.releases(&unit.target, 50).await);
        }
        // One unit that answers is enough to show; none answering is the error.
        let result = match failed {
            Some(err) if instances.is_empty() => Err(err),
            _ => Ok(instances),
        };
        let _ = tx.send(Msg::Instances { env: e, result });
        for (unit, releases) in histories.into_iter().enumerate() {
            let _ = tx.send(Msg::Releases {
                env: e,
                unit,
                result: releases,
            });
        }
    };
    let secrets = async {
        if provider.capabilities().list_secrets {
            for (scope, target) in secret_scopes.iter().enumerate() {
                let secrets = provider.secrets(target).await;
                let _ = tx.send(Msg::Secrets {
                    env: e,
                    scope,
                    result: secrets,
                });
            }
        }
    };
    tokio::join!(status_then_history, secrets);
}

/// Where a tail reconnects to: the provider's log API, or a local source.
enum TailFrom {
    Provider(Arc<dyn Provider>, Target, String),
    Source(crate::logs::sources::SourceSpec),
}

impl TailFrom {
    async fn open(
        &self,
    ) -> Result<futures::stream::BoxStream<'static, Result<String, String>>, String> {
        match self {
            TailFrom::Provider(p, target, service) => p
                .logs(target, service)
                .await
                .map(|s| s.map(|r| r.map_err(|e| e.to_string())).boxed())
                .map_err(|e| e.to_string()),
            TailFrom::Source(spec) => Ok(crate::logs::sources::follow(spec.clone(), 500)
                .map(|r| r.map_err(|e| e.to_string()))
                .boxed()),
        }
    }
}

/// Follow one service's logs, batching lines every 100 ms and reconnecting with backoff.
async fn tail_logs(from: TailFrom, e: usize, s: usize, tx: UnboundedSender<Msg>) {
    let state = |state: StreamState| Msg::LogStream {
        env: e,
        svc: s,
        state,
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        let _ = tx.send(state(StreamState::Connecting));
        match from.open().await {
            Ok(stream) => {
                let _ = tx.send(state(StreamState::Streaming));
                backoff = Duration::from_millis(500);
                let mut batches = stream.ready_chunks(512).boxed();
                let mut pending = Vec::new();
                let mut flush = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        chunk = batches.next() => match chunk {
                            Some(items) => {
                                for item in items {
                                    match item {
                                        Ok(line) => pending.push(line),
                                        Err(err) => {
                                            let _ = tx.send(state(StreamState::Failed(err)));
                                        }
                                    }
                                }
                            }
                            None => break,
                        },
                        _ = flush.tick() => {
                            if !pending.is_empty() && tx.send(Msg::LogLines { env: e, svc: s, lines: std::mem::take(&mut pending) }).is_err() {
                                return;
                            }
                        }
                    }
                }
                if !pending.is_empty() {
                    let _ = tx.send(Msg::LogLines {
                        env: e,
                        svc: s,
                        lines: pending,
                    });
                }
                let _ = tx.send(state(StreamState::Failed(
                    "stream ended; reconnecting".into(),
                )));
            }
            Err(err) => {
                if tx.send(state(StreamState::Failed(err))).is_err() {
                    return;
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
