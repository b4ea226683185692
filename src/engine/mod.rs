//! The rollout engine: health-gated promotions and rollbacks shared by the TUI
//! and the CLI. Refusals (read-only, protected without typed confirmation,
//! pinned) are enforced here, not only by hiding keys. Every step is journaled
//! with fsync so a crash can be resumed or reversed; one plan per env holds a
//! lock; every action lands in the append-only audit log.

pub mod approvals;
pub mod audit;
mod executor;
pub mod gates;
pub mod journal;
pub mod lock;
pub mod pins;
pub mod plan;
pub mod policy;
pub mod rotate;
pub mod rotations;
pub mod secrets;
pub mod undone;

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, EnvConfig};
use crate::domain::{Artifact, Release};
use crate::paths::StatePaths;
use crate::provider::registry::{DeployUnit, units_of};
use crate::provider::{Provider, ProviderError, current_release};
use audit::{AuditLog, AuditRecord};

pub use crate::actor::{Actor, hostname};
use pins::{Pin, Pins};
use plan::{
    Plan, PlanAction, UnitPlan, new_plan_id, previous_good, promote_steps, rollback_steps,
    stages_for,
};

pub use executor::ResumeMode;

fn version_text(v: Option<u64>) -> String {
    v.map_or("no version".to_string(), |v| v.to_string())
}

/// Why the engine will not do something, or could not.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A safety rule refused the action.
    #[error("refused: {0}")]
    Refused(String),
    /// Unknown env.
    #[error("{0}")]
    NoEnv(String),
    /// The env's provider client is not available.
    #[error("env `{env}`: {why}")]
    NoProvider {
        /// Env.
        env: String,
        /// Why.
        why: String,
    },
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Nothing is running in the source env.
    #[error("env `{0}` has no current release to promote")]
    NothingRunning(String),
    /// The requested release does not exist.
    #[error("env `{env}` has no release `{release}`; `shipdeck releases {env}` lists them")]
    NoSuchRelease {
        /// Env.
        env: String,
        /// Asked-for id.
        release: String,
    },
    /// No such service in the env.
    #[error("env `{env}` has no service `{service}`; its services are {services}")]
    NoService {
        /// Env.
        env: String,
        /// Asked-for service.
        service: String,
        /// The env's services.
        services: String,
    },
    /// Journal, lock, pin or audit storage failed.
    #[error("state storage: {0}")]
    State(String),
}

/// How a plan ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlanOutcome {
    /// Every step passed.
    Completed,
    /// A gate failed and what the plan deployed was rolled back.
    RolledBack {
        /// The failing gate's numbers.
        reason: String,
    },
    /// A gate failed and the env waits for a human (on_fail = "pause").
    Paused {
        /// The failing gate's numbers.
        reason: String,
    },
    /// A paused plan closed by a person without reverting: the env keeps
    /// what it deployed, which its failed gate did not pass.
    Abandoned {
        /// The gate it was paused at.
        step: String,
    },
    /// Stopped by the user; `reverted` when a deploy was undone.
    Aborted {
        /// Whether the deployed artifact was rolled back.
        reverted: bool,
    },
    /// A step failed (not a gate).
    Failed {
        /// What failed.
        reason: String,
    },
    /// Something failed and putting the env back failed too: the env may run
    /// the new release, the old one, or a mix. A person must act.
    RevertFailed {
        /// What failed first, then why the revert failed.
        reason: String,
    },
    /// A safety rule refused the plan before it started.
    Refused {
        /// Which rule.
        reason: String,
    },
}

impl PlanOutcome {
    /// The audit-log word.
    pub fn word(&self) -> &'static str {
        match self {
            PlanOutcome::Completed => "ok",
            PlanOutcome::RolledBack { .. } => "rolled_back",
            PlanOutcome::Paused { .. } => "paused",
            PlanOutcome::Abandoned { .. } => "abandoned",
            PlanOutcome::Aborted { .. } => "aborted",
            PlanOutcome::Failed { .. } => "failed",
            PlanOutcome::RevertFailed { .. } => "revert_failed",
            PlanOutcome::Refused { .. } => "refused",
        }
    }

    /// Process exit code: 0 ok, 1 failed, 3 gate failed (rolled back or paused).
    pub fn exit_code(&self) -> u8 {
        match self {
            // Closing a paused plan is what was asked: done.
            PlanOutcome::Completed | PlanOutcome::Abandoned { .. } => 0,
            PlanOutcome::RolledBack { .. } | PlanOutcome::Paused { .. } => 3,
            _ => 1,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            PlanOutcome::Completed => "completed".into(),
            PlanOutcome::RolledBack { reason } => format!("gate failed, rolled back: {reason}"),
            PlanOutcome::Paused { reason } => format!(
                "gate failed, paused for a decision (lock kept; `shipdeck resume` continues, rolls back or abandons): {reason}"
            ),
            PlanOutcome::Abandoned { step } => format!(
                "abandoned at the {step}: the env keeps what the plan deployed, which did not pass that gate"
            ),
            PlanOutcome::Aborted { reverted: true } => "aborted; the deploy was rolled back".into(),
            PlanOutcome::Aborted { reverted: false } => {
                "aborted before anything was deployed".into()
            }
            PlanOutcome::Failed { reason } => format!("failed: {reason}"),
            PlanOutcome::RevertFailed { reason } => {
                format!("REVERT FAILED, the env needs a person: {reason}")
            }
            PlanOutcome::Refused { reason } => format!("refused: {reason}"),
        }
    }
}

/// Step state on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Done.
    Ok,
    /// Not needed.
    Skipped,
    /// Failed.
    Failed,
}

/// Progress reported while a plan runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PlanEvent {
    /// The plan started (or resumed at `from_step`).
    Started {
        /// The plan.
        plan: Box<Plan>,
        /// First step to run.
        from_step: usize,
    },
    /// A step began.
    StepStarted {
        /// Step index.
        index: usize,
        /// Its ladder name (`api: deploy`).
        step: String,
        /// Its stage, for staged steps.
        #[serde(skip_serializing_if = "Option::is_none")]
        stage: Option<usize>,
        /// The stage's services (empty outside stages).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        services: Vec<String>,
    },
    /// A deploy unit moved (a machine, an instance, a job).
    DeployProgress {
        /// Step index.
        index: usize,
        /// Its stage.
        stage: Option<usize>,
        /// The services of the unit being deployed.
        services: Vec<String>,
        /// What moved.
        progress: crate::provider::UnitProgress,
    },
    /// A line of step output.
    StepOutput {
        /// Step index.
        index: usize,
        /// Sanitised text.
        line: String,
    },
    /// A gate sample.
    Gate {
        /// Step index.
        index: usize,
        /// Passing samples in a row.
        passes: u32,
        /// Failing samples so far.
        failures: u32,
        /// Figures (`api err 0.02% p95 91ms`).
        figures: Vec<String>,
        /// Why this sample failed.
        failing: Vec<String>,
    },
    /// A step ended.
    StepFinished {
        /// Step index.
        index: usize,
        /// Its ladder name.
        step: String,
        /// Its stage, for staged steps.
        #[serde(skip_serializing_if = "Option::is_none")]
        stage: Option<usize>,
        /// The stage's services.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        services: Vec<String>,
        /// How.
        status: StepStatus,
        /// What it did or why it failed.
        detail: String,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Something the plan could not record (its journal, the audit log):
    /// what happened still happened, but a record of it is missing or wrong.
    Warning {
        /// What could not be written, what it means, and what to do.
        message: String,
    },
    /// Undoing what the plan deployed.
    Reverting {
        /// Why.
        reason: String,
    },
    /// The plan ended.
    Finished {
        /// How.
        outcome: PlanOutcome,
    },
}

/// What one deploy unit changes, for the confirm dialog and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct UnitChange {
    /// Its services.
    pub services: Vec<String>,
    /// The release it runs now.
    pub from_release: Option<String>,
    /// The artifact it runs now (everything known).
    pub from: Option<String>,
    /// The release it goes to.
    pub to_release: Option<String>,
    /// The artifact it gets.
    pub to: String,
    /// It already runs that artifact: nothing to deploy.
    pub unchanged: bool,
}

impl UnitChange {
    fn of(unit: &UnitPlan) -> UnitChange {
        UnitChange {
            services: unit.services.clone(),
            from_release: unit.previous.as_ref().map(Release::label),
            from: unit
                .previous
                .as_ref()
                .and_then(|p| p.artifact.as_ref())
                .map(Artifact::full),
            to_release: unit.release.as_ref().map(Release::label),
            to: unit.artifact.full(),
            unchanged: unit.unchanged,
        }
    }
}

/// What the user sees before confirming: the plan and what changes.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The plan to run.
    pub plan: Plan,
    /// Per deploy unit: from → to.
    pub changes: Vec<UnitChange>,
    /// Secrets present in the source env but missing in the target.
    pub secrets_missing: Vec<String>,
    /// Notes the confirm dialog must show (what is and is not reverted, migrations, …).
    pub notes: Vec<String>,
    /// Whether typed confirmation is required.
    pub protected: bool,
}

/// Handle to the engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    /// Config (with demo URLs filled in).
    pub config: Arc<Config>,
    /// Provider per env index.
    pub providers: crate::provider::registry::Providers,
    /// State directory layout.
    pub paths: StatePaths,
    /// Who acts.
    pub actor: Actor,
    /// `--read-only`.
    pub read_only: bool,
    client: reqwest::Client,
}

impl Engine {
    /// An engine over these providers.
    pub fn new(
        config: Arc<Config>,
        providers: crate::provider::registry::Providers,
        paths: StatePaths,
        actor: Actor,
        read_only: bool,
    ) -> Engine {
        let client = crate::health::probe::probe_client(config.ui.request_timeout.0);
        Engine {
            config,
            providers,
            paths,
            actor,
            read_only,
            client,
        }
    }

    /// The audit log.
    pub fn audit(&self) -> AuditLog {
        AuditLog::new(self.paths.audit())
    }

    /// Pins.
    pub fn pins(&self) -> Pins {
        Pins::new(self.paths.pins())
    }

    fn env(&self, name: &str) -> Result<(usize, &EnvConfig), EngineError> {
        self.config
            .envs
            .iter()
            .enumerate()
            .find(|(_, e)| e.name() == name)
            .ok_or_else(|| EngineError::NoEnv(self.config.unknown_env(name)))
    }

    fn provider(&self, idx: usize) -> Result<Arc<dyn Provider>, EngineError> {
        self.providers
            .get(idx)
            .cloned()
            .flatten()
            .ok_or_else(|| EngineError::NoProvider {
                env: self.config.envs[idx].name().to_string(),
                why: crate::provider::registry::provider_note(&self.config.envs[idx])
                    .unwrap_or_else(|| "no provider client".into()),
            })
    }

    /// The env's provider and deploy units, for the gates' platform signal.
    pub(crate) fn platform(&self, idx: usize) -> Option<gates::Platform> {
        let provider = self.providers.get(idx).cloned().flatten()?;
        Some((provider, units_of(&self.config, idx)))
    }

    fn target(&self, idx: usize) -> crate::provider::Target {
        crate::provider::registry::target_of(&self.config, idx)
    }

    /// Refuse mutations on read-only envs or in read-only mode.
    pub fn check_writable(&self, env: &str) -> Result<(), EngineError> {
        let (_, cfg) = self.env(env)?;
        policy::writable(self.read_only, cfg.read_only)
            .map_err(|why| EngineError::Refused(format!("`{env}` cannot be changed: {why}")))
    }

    /// Refuse a protected env without the env name typed back.
    pub fn check_confirmation(&self, env: &str, typed: Option<&str>) -> Result<(), EngineError> {
        let (_, cfg) = self.env(env)?;
        if cfg.protected && typed != Some(env) {
            return Err(EngineError::Refused(format!(
                "env `{env}` is protected: type its name to confirm (in the CLI: --confirm {env})"
            )));
        }
        Ok(())
    }

    /// Build a promotion plan and its diff (no change is made): per deploy
    /// unit of `to`, exactly the artifact its services run in `from`.
    pub async fn preview_promote(&self, from: &str, to: &str) -> Result<Preview, EngineError> {
        let (from_idx, _) = self.env(from)?;
        let (to_idx, to_cfg) = self.env(to)?;
        if from == to {
            return Err(EngineError::Refused(format!(
                "cannot promote `{from}` onto itself"
            )));
        }
        let (src, dst) = (self.provider(from_idx)?, self.provider(to_idx)?);
        if let Some(why) = gates::no_signal(to_cfg, dst.name(), &dst.capabilities()) {
            return Err(EngineError::Refused(why));
        }
        let (src_units, dst_units) = (
            units_of(&self.config, from_idx),
            units_of(&self.config, to_idx),
        );
        let (src_hist, dst_hist) = tokio::join!(
            histories(src.as_ref(), &src_units),
            histories(dst.as_ref(), &dst_units)
        );
        let (src_hist, dst_hist) = (src_hist?, dst_hist?);
        let mut units = Vec::new();
        for (dst_unit, dst_releases) in dst_units.iter().zip(&dst_hist) {
            let (release, artifact) = source_artifact(from, to, dst_unit, &src_units, &src_hist)?;
            let unchanged = dst.runs(&dst_unit.target, &artifact).await?;
            units.push(UnitPlan {
                services: dst_unit.services.clone(),
                remote: dst_unit.target.remote.clone(),
                scope: dst_unit.target.scope.clone(),
                artifact,
                release: Some(release),
                previous: current_release(dst_releases).cloned(),
                unchanged,
            });
        }
        let mut notes = Vec::new();
        let mut secrets_missing = Vec::new();
        if src.capabilities().list_secrets && dst.capabilities().list_secrets {
            // Per place the target keeps secrets (one per Fly app), against
            // where the same service keeps them in the source.
            let scopes = crate::provider::registry::secret_scopes(&self.config, to_idx);
            let per_service = scopes.len() > 1;
            for scope in scopes {
                let service = scope.services.first().map(String::as_str);
                let src_target =
                    crate::provider::registry::secret_target(&self.config, from_idx, service);
                let (a, b) = tokio::join!(src.secrets(&src_target), dst.secrets(&scope.target));
                if let (Ok(a), Ok(b)) = (a, b) {
                    secrets_missing.extend(
                        a.iter()
                            .filter(|s| !b.iter().any(|t| t.name == s.name))
                            .map(|s| match (per_service, service) {
                                (true, Some(svc)) => format!("{svc}: {}", s.name),
                                _ => s.name.clone(),
                            }),
                    );
                }
            }
        }
        for unit in units.iter().filter(|u| u.unchanged) {
            notes.push(format!(
                "{} in `{to}` already runs this artifact: its deploy is skipped, its gates still run",
                unit.name()
            ));
        }
        if !secrets_missing.is_empty() {
            notes.push(format!(
                "secrets in `{from}` but not in `{to}`: {}",
                secrets_missing.join(", ")
            ));
        }
        let mut migrate_to = None;
        match (
            &to_cfg.rollout.migrate_command,
            &self.config.envs[from_idx].migrations,
            &to_cfg.migrations,
        ) {
            (Some(cmd), _, _) => notes.push(format!("migrations run first: {cmd}")),
            (None, _, Some(dst_m)) if dst_m.tool == crate::config::MigrationTool::GithubActions => {
                notes.push(format!(
                    "migrations run first in `{to}` by the GitHub workflow {}",
                    dst_m.workflow.as_deref().unwrap_or("?")
                ))
            }
            (None, _, Some(dst_m)) if dst_m.tool != crate::config::MigrationTool::GolangMigrate => {
                match crate::migrate::run::status_any(dst_m.clone()).await {
                    Ok(dst) if dst.pending_count() > 0 => notes.push(format!(
                        "{} {} migration(s) pending in `{to}` are not run by this plan: set [env.rollout] migrate_command (e.g. \"alembic upgrade head\") to run them before deploying",
                        dst.pending_count(),
                        dst.tool
                    )),
                    Ok(dst) => notes.push(format!(
                        "no migration to run: `{to}` is at {} ({})",
                        dst.version_text(),
                        dst.tool
                    )),
                    Err(e) => notes.push(format!("migration status unavailable: {e}")),
                }
            }
            (None, Some(src_m), Some(dst_m)) => {
                let (src, dst) = tokio::join!(
                    crate::migrate::run::status_any(src_m.clone()),
                    crate::migrate::run::status_any(dst_m.clone())
                );
                match (src, dst) {
                    (Ok(src), Ok(dst)) => {
                        let expected = src.current;
                        let to_run: Vec<&(u64, String)> = dst
                            .pending
                            .iter()
                            .filter(|(v, _)| Some(*v) <= expected)
                            .collect();
                        if to_run.is_empty() {
                            notes.push(format!(
                                "no migration to run: `{to}` is at {}",
                                version_text(dst.current)
                            ));
                        } else {
                            let list: Vec<String> =
                                to_run.iter().map(|(v, t)| format!("{v} {t}")).collect();
                            notes.push(format!("migrations that will run in `{to}` first (to {from}'s version {}): {}", version_text(expected), list.join(", ")));
                            migrate_to = expected;
                        }
                        for f in dst.findings.iter().filter(|f| {
                            to_run.iter().any(|(v, _)| {
                                f.file.starts_with(&format!("{v:06}"))
                                    || f.file.starts_with(&format!("{v}_"))
                            })
                        }) {
                            notes.push(format!(
                                "lint: {}:{} {} — {}",
                                f.file, f.line, f.rule, f.advice
                            ));
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        notes.push(format!("migration status unavailable: {e}"))
                    }
                }
            }
            _ => notes.push("no migrations configured: no migration step".into()),
        }
        notes.push(format!(
            "if a gate fails, what this plan deployed is reverted, newest stage first; {}",
            revert_scope(dst.name(), &dst.capabilities())
        ));
        let now = Utc::now();
        let stages = stages_for(to_cfg, &units);
        let plan = Plan {
            id: new_plan_id(now),
            action: PlanAction::Promote,
            source_env: Some(from.into()),
            target_env: to.into(),
            steps: promote_steps(to_cfg, stages.len()),
            units,
            stages,
            on_fail: to_cfg.on_fail,
            migrate_to,
            actor: self.actor.describe(),
            created_at: now,
        };
        Ok(Preview {
            changes: plan.units.iter().map(UnitChange::of).collect(),
            secrets_missing,
            notes,
            protected: to_cfg.protected,
            plan,
        })
    }

    /// Build a rollback plan and its diff: every deploy unit of `env` (or
    /// the one carrying `service`) goes to release `to` (an id or a label
    /// like `v41`), else to its previous good release.
    pub async fn preview_rollback(
        &self,
        env: &str,
        to: Option<&str>,
        service: Option<&str>,
    ) -> Result<Preview, EngineError> {
        let (idx, cfg) = self.env(env)?;
        let provider = self.provider(idx)?;
        let mut all = units_of(&self.config, idx);
        if let Some(name) = service {
            all.retain(|u| u.services.iter().any(|s| s == name));
            if all.is_empty() {
                let names: Vec<&str> = cfg.services.iter().map(|s| s.name()).collect();
                return Err(EngineError::NoService {
                    env: env.into(),
                    service: name.into(),
                    services: names.join(", "),
                });
            }
        }
        let hist = histories(provider.as_ref(), &all).await?;
        let mut units = Vec::new();
        for (unit, releases) in all.iter().zip(&hist) {
            let current = current_release(releases).cloned();
            let target =
                match to {
                    Some(id) => releases
                        .iter()
                        .find(|r| r.id == id || r.label() == id)
                        .cloned()
                        .ok_or_else(|| EngineError::NoSuchRelease {
                            env: env.into(),
                            release: format!("{id} (in the history of {})", unit_name(unit)),
                        })?,
                    None => previous_good(releases).cloned().ok_or_else(|| {
                        EngineError::NoSuchRelease {
                            env: env.into(),
                            release: format!("previous good (for {})", unit_name(unit)),
                        }
                    })?,
                };
            let artifact = target
                .artifact
                .clone()
                .ok_or_else(|| EngineError::NoSuchRelease {
                    env: env.into(),
                    release: format!("{} (it names no artifact)", target.id),
                })?;
            let unchanged = provider.runs(&unit.target, &artifact).await?;
            units.push(UnitPlan {
                services: unit.services.clone(),
                remote: unit.target.remote.clone(),
                scope: unit.target.scope.clone(),
                artifact,
                release: Some(target),
                previous: current,
                unchanged,
            });
        }
        let mut notes = provider.capabilities().rollback_disclosure(provider.name());
        if provider.capabilities().rollback_restores_variables {
            notes.extend(self.undone_secret_changes(env, provider.name(), &units));
        }
        notes.push(format!(
            "`{env}` will be pinned: promotions are refused until you unpin it"
        ));
        let now = Utc::now();
        let stages = vec![plan::Stage {
            services: units.iter().flat_map(|u| u.services.clone()).collect(),
            units: (0..units.len()).collect(),
        }];
        let plan = Plan {
            id: new_plan_id(now),
            action: PlanAction::Rollback,
            source_env: None,
            target_env: env.into(),
            units,
            stages,
            steps: rollback_steps(),
            on_fail: cfg.on_fail,
            migrate_to: None,
            actor: self.actor.describe(),
            created_at: now,
        };
        Ok(Preview {
            changes: plan.units.iter().map(UnitChange::of).collect(),
            secrets_missing: Vec::new(),
            notes,
            protected: cfg.protected,
            plan,
        })
    }

    /// The warning that a rollback restoring variables undoes secret
    /// changes shipdeck made since the oldest release it returns to.
    fn undone_secret_changes(
        &self,
        env: &str,
        provider: &str,
        units: &[UnitPlan],
    ) -> Option<String> {
        let oldest = units
            .iter()
            .filter(|u| !u.unchanged)
            .filter_map(|u| u.release.as_ref())
            .min_by_key(|r| r.created_at)?;
        let records = match self.audit().read(Some(env)) {
            Ok(read) => read.records,
            Err(e) => {
                return Some(format!(
                    "cannot tell which secret changes this rollback undoes: {e}"
                ));
            }
        };
        let changes = undone::secret_changes_since(&records, oldest.created_at);
        undone::warning(provider, &oldest.label(), &changes)
    }

    /// Run a plan after checking every safety rule; `typed` is what the user typed to confirm.
    pub async fn run(
        &self,
        plan: Plan,
        typed: Option<&str>,
        events: mpsc::UnboundedSender<PlanEvent>,
        abort: watch::Receiver<bool>,
    ) -> PlanOutcome {
        if let Err(e) = self.admit(&plan, typed) {
            let reason = match e {
                EngineError::Refused(r) => r,
                other => other.to_string(),
            };
            let _ = self.record(&plan, "refused", 0, Some(reason.clone()));
            let outcome = PlanOutcome::Refused { reason };
            let _ = events.send(PlanEvent::Finished {
                outcome: outcome.clone(),
            });
            return outcome;
        }
        executor::start(self, plan, events, abort).await
    }

    /// Every rule a plan must pass before it starts.
    fn admit(&self, plan: &Plan, typed: Option<&str>) -> Result<(), EngineError> {
        self.check_writable(&plan.target_env)?;
        self.check_confirmation(&plan.target_env, typed)?;
        if plan.action == PlanAction::Promote
            && let Some(pin) = self
                .pins()
                .get(&plan.target_env)
                .map_err(|e| EngineError::State(e.to_string()))?
        {
            return Err(EngineError::Refused(format!(
                "env `{}` is pinned at {} by {} ({}); unpin it first (`u` in the TUI, `shipdeck unpin {}`)",
                pin.env, pin.release, pin.by, pin.reason, pin.env
            )));
        }
        Ok(())
    }

    /// Resume or reverse a plan a crash interrupted. Either deploys to its
    /// env, so a protected env needs its name typed back here too.
    pub async fn resume(
        &self,
        plan_id: &str,
        mode: ResumeMode,
        typed: Option<&str>,
        events: mpsc::UnboundedSender<PlanEvent>,
        abort: watch::Receiver<bool>,
    ) -> Result<PlanOutcome, EngineError> {
        let history = journal::load(&self.paths.journals(), plan_id)
            .map_err(|e| EngineError::State(e.to_string()))?;
        let plan: Plan = serde_json::from_value(history.plan.clone())
            .map_err(|e| EngineError::State(format!("journal {plan_id}: {e}")))?;
        self.check_writable(&plan.target_env)?;
        if let Err(e) = self.check_confirmation(&plan.target_env, typed) {
            let _ = self.record(&plan, "refused", 0, Some(e.to_string()));
            return Err(e);
        }
        Ok(executor::resume(self, plan, history, mode, events, abort).await)
    }

    /// Plans a crash left unfinished.
    pub fn interrupted(&self) -> Vec<journal::PlanHistory> {
        journal::interrupted(&self.paths.journals()).unwrap_or_default()
    }

    /// Remove an env's pin (an explicit, audited action).
    pub fn unpin(&self, env: &str) -> Result<Option<Pin>, EngineError> {
        self.check_writable(env)?;
        let removed = self
            .pins()
            .unpin(env)
            .map_err(|e| EngineError::State(e.to_string()))?;
        let _ = self.audit().append(&AuditRecord {
            time: Utc::now(),
            actor: self.actor.user.clone(),
            host: self.actor.host.clone(),
            action: "unpin".into(),
            env: env.into(),
            from: removed.as_ref().map(|p| p.release.clone()),
            to: None,
            result: if removed.is_some() {
                "ok".into()
            } else {
                "not_pinned".into()
            },
            duration_ms: 0,
            plan_id: None,
            detail: None,
        });
        Ok(removed)
    }

    /// The post-deploy checklist of an env: one sample of every gate.
    pub async fn check(&self, env: &str) -> Result<gates::Sample, EngineError> {
        let (idx, cfg) = self.env(env)?;
        let mut sampler =
            gates::Sampler::new(self.client.clone(), cfg).with_platform(self.platform(idx));
        sampler.prime().await;
        tokio::time::sleep(cfg.gates.interval.0.min(std::time::Duration::from_secs(2))).await;
        Ok(sampler.sample().await)
    }

    /// Append one audit line for an action outside a plan (unpin, migrations, secrets).
    pub fn audit_action(
        &self,
        action: &str,
        env: &str,
        from: Option<String>,
        ok: bool,
        duration_ms: u64,
        detail: Option<String>,
    ) {
        let record = AuditRecord {
            time: Utc::now(),
            actor: self.actor.user.clone(),
            host: self.actor.host.clone(),
            action: action.into(),
            env: env.into(),
            from,
            to: None,
            result: if ok { "ok".into() } else { "failed".into() },
            duration_ms,
            plan_id: None,
            detail,
        };
        if let Err(e) = self.audit().append(&record) {
            tracing::error!("audit log append failed: {e}");
        }
    }

    /// Append one audit line for a plan.
    fn record(
        &self,
        plan: &Plan,
        result: &str,
        duration_ms: u64,
        detail: Option<String>,
    ) -> Result<(), audit::AuditError> {
        let record = AuditRecord {
            time: Utc::now(),
            actor: self.actor.user.clone(),
            host: self.actor.host.clone(),
            action: plan.action.word().into(),
            env: plan.target_env.clone(),
            from: Some(plan.from_to().0),
            to: Some(plan.from_to().1),
            result: result.into(),
            duration_ms,
            plan_id: Some(plan.id.clone()),
            detail,
        };
        self.audit().append(&record).inspect_err(|e| {
            tracing::error!("audit log append failed: {e}");
        })
    }
}

/// Release histories of `units`, fetched side by side.
async fn histories(
    provider: &dyn Provider,
    units: &[DeployUnit],
) -> Result<Vec<Vec<Release>>, ProviderError> {
    futures::future::try_join_all(units.iter().map(|u| provider.releases(&u.target, 50))).await
}

fn unit_name(unit: &DeployUnit) -> String {
    if unit.services.is_empty() {
        "the env".into()
    } else {
        unit.services.join("+")
    }
}

/// What the services of `dst_unit` run in the source env: one artifact, or a refusal.
fn source_artifact(
    from: &str,
    to: &str,
    dst_unit: &DeployUnit,
    src_units: &[DeployUnit],
    src_hist: &[Vec<Release>],
) -> Result<(Release, Artifact), EngineError> {
    let sources: Vec<usize> = if dst_unit.services.is_empty() {
        vec![0]
    } else {
        let mut found = Vec::new();
        for svc in &dst_unit.services {
            let Some(i) = src_units
                .iter()
                .position(|u| u.services.iter().any(|s| s == svc))
            else {
                return Err(EngineError::Refused(format!(
                    "service `{svc}` of `{to}` has no counterpart in `{from}`: add it to `{from}`, or promote by hand"
                )));
            };
            if !found.contains(&i) {
                found.push(i);
            }
        }
        found
    };
    let mut picked: Option<(Release, Artifact)> = None;
    for i in sources {
        let release = src_hist
            .get(i)
            .and_then(|h| current_release(h))
            .cloned()
            .ok_or_else(|| EngineError::NothingRunning(from.into()))?;
        let artifact = release
            .artifact
            .clone()
            .ok_or_else(|| EngineError::NothingRunning(from.into()))?;
        match &picked {
            Some((_, first)) if first.same(&artifact) != Some(true) => {
                return Err(EngineError::Refused(format!(
                    "{} deploy together in `{to}` but run different artifacts in `{from}` ({} and {})",
                    unit_name(dst_unit),
                    first.short(),
                    artifact.short()
                )));
            }
            Some(_) => {}
            None => picked = Some((release, artifact)),
        }
    }
    picked.ok_or_else(|| EngineError::NothingRunning(from.into()))
}

/// What a failed promotion's revert puts back on this provider, for the dialog.
fn revert_scope(provider: &str, caps: &crate::provider::Capabilities) -> String {
    if caps.native_rollback && caps.rollback_restores_variables {
        format!("{provider} restores each unit's previous release and its variables")
    } else if caps.native_rollback {
        format!("{provider} restores each unit's previous release; variables stay as they are")
    } else {
        format!("{provider} redeploys each unit's previous artifact; variables stay as they are")
    }
}
