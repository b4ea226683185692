//! Runs a plan step by step: journal before and after each step, the env
//! lock held throughout, each stage deployed unit by unit with the
//! provider's progress on the ladder, gates sampled over HTTP on the stage's
//! services; on a failed gate, an abort or a failed step, every unit the
//! plan changed is put back, newest first, and the revert is verified (the
//! provider confirms the unit runs its previous artifact again) before the
//! plan says "rolled back". A revert that fails is reported as such.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};

use super::gates::{GateEnd, GateMode, Sampler, run_gate};
use super::journal::{self, Journal, JournalEvent, PlanHistory};
use super::lock::{self, EnvLock, LockHolder};
use super::pins::Pin;
use super::plan::{Plan, PlanAction, StepKind};
use super::{Engine, PlanEvent, PlanOutcome, StepStatus};
use crate::config::OnFail;
use crate::domain::{Health, Release};
use crate::provider::{Progress, Provider, ProviderError, Target};
use crate::sanitize::sanitize;

/// What to do with a plan a crash interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Carry on from the step in flight (steps are idempotent).
    Resume,
    /// Undo what it deployed and stop.
    Rollback,
    /// Leave the env as the plan left it and close the plan (a paused plan
    /// whose failed gate a person has judged).
    Abandon,
}

/// How one step ended.
enum StepResult {
    Ok(String),
    Skipped(String),
    Failed(String),
    GateFailed(String),
    Aborted,
}

/// How putting the changed units back ended.
enum Reverted {
    /// Nothing to put back (nothing changed, or a rollback plan, which is never reversed).
    Nothing,
    /// Every changed unit runs its previous artifact again.
    Done(String),
    /// At least one unit could not be put back.
    Failed(String),
}

struct Run<'a> {
    engine: &'a Engine,
    plan: Plan,
    provider: Arc<dyn Provider>,
    env_idx: usize,
    journal: Journal,
    events: mpsc::UnboundedSender<PlanEvent>,
    abort: watch::Receiver<bool>,
    lock: Option<EnvLock>,
    /// Units this plan changed (or may have: marked before the call), in the order deployed.
    changed: Vec<usize>,
    /// A unit's deploy was refused by the platform, which kept the previous
    /// release serving: the env is back on it without a revert.
    platform_kept_previous: bool,
    started: Instant,
}

/// Start a fresh plan.
pub async fn start(
    engine: &Engine,
    plan: Plan,
    events: mpsc::UnboundedSender<PlanEvent>,
    abort: watch::Receiver<bool>,
) -> PlanOutcome {
    let value = match serde_json::to_value(&plan) {
        Ok(v) => v,
        Err(e) => return fail_early(&events, format!("cannot serialise plan: {e}")),
    };
    let journal = match Journal::create(&engine.paths.journals(), &plan.id, value) {
        Ok(j) => j,
        Err(e) => return fail_early(&events, format!("cannot write the plan journal: {e}")),
    };
    let Some(mut run) = Run::new(engine, plan, journal, events.clone(), abort) else {
        return fail_early(&events, "the target env has no provider client".into());
    };
    if let Err(e) = run.engine.record(&run.plan, "started", 0, None) {
        run.warn(format!(
            "the audit log could not be written ({e}): this plan's start is not on record"
        ));
    }
    let _ = run.events.send(PlanEvent::Started {
        plan: Box::new(run.plan.clone()),
        from_step: 0,
    });
    run.steps_from(0).await
}

/// Resume or reverse an interrupted plan.
pub async fn resume(
    engine: &Engine,
    plan: Plan,
    history: PlanHistory,
    mode: ResumeMode,
    events: mpsc::UnboundedSender<PlanEvent>,
    abort: watch::Receiver<bool>,
) -> PlanOutcome {
    let journal = match Journal::open(&engine.paths.journals(), &plan.id) {
        Ok(j) => j,
        Err(e) => return fail_early(&events, format!("cannot reopen the plan journal: {e}")),
    };
    let Some(mut run) = Run::new(engine, plan, journal, events.clone(), abort) else {
        return fail_early(&events, "the target env has no provider client".into());
    };
    // Every unit of a stage whose deploy step started may have changed.
    for (i, step) in run.plan.steps.iter().enumerate() {
        let started = history
            .entries
            .iter()
            .any(|e| matches!(&e.event, JournalEvent::StepStarted { step, .. } if *step == i));
        if let (StepKind::Deploy { stage }, true) = (step, started)
            && let Some(stage) = run.plan.stages.get(*stage)
        {
            for &u in &stage.units {
                if !run.plan.units[u].unchanged && !run.changed.contains(&u) {
                    run.changed.push(u);
                }
            }
        }
    }
    run.lock = EnvLock::adopt(&engine.paths.locks(), &run.plan.target_env, &run.plan.id);
    let paused = history.paused().map(|(step, _)| step);
    let how = match (mode, paused) {
        (ResumeMode::Resume, Some(_)) => "continue",
        (ResumeMode::Resume, None) => "resume",
        (ResumeMode::Rollback, _) => "rollback",
        (ResumeMode::Abandon, _) => "abandon",
    };
    let after = if paused.is_some() {
        "the pause"
    } else {
        "interruption"
    };
    run.note(format!(
        "{how} after {after}, by {}",
        engine.actor.describe()
    ));
    let word = if paused.is_some() {
        format!("{how}_after_pause")
    } else {
        format!("{how}_after_crash")
    };
    if let Err(e) = engine.record(&run.plan, &word, 0, None) {
        run.warn(format!(
            "the audit log could not be written ({e}): this resume is not on record"
        ));
    }
    // A paused plan goes on by running its failed gate again.
    let from = paused
        .or_else(|| history.in_flight_step())
        .or_else(|| history.last_finished_step().map(|s| s + 1))
        .unwrap_or(0);
    let _ = run.events.send(PlanEvent::Started {
        plan: Box::new(run.plan.clone()),
        from_step: from,
    });
    // Never act on the env without its lock: a resume past the lock step and
    // a rollback take it again first. Held by someone else, the plan stays
    // interrupted (its journal untouched) and is offered again.
    if run.lock.is_none()
        && (mode != ResumeMode::Resume || from > 0)
        && let Err(e) = run.acquire_lock()
    {
        return fail_early(
            &run.events,
            format!("cannot take the env lock to {how}: {e}"),
        );
    }
    match mode {
        ResumeMode::Resume => run.steps_from(from).await,
        ResumeMode::Abandon => {
            let step = paused.map_or_else(|| "?".to_string(), |s| run.plan.step_name(s));
            run.finish(PlanOutcome::Abandoned { step }).await
        }
        ResumeMode::Rollback => {
            let outcome = match run
                .revert("operator chose rollback after an interrupted plan")
                .await
            {
                Reverted::Done(_) => PlanOutcome::RolledBack {
                    reason: "interrupted plan reversed".into(),
                },
                Reverted::Nothing => PlanOutcome::Aborted { reverted: false },
                Reverted::Failed(why) => PlanOutcome::RevertFailed {
                    reason: format!("reversing the interrupted plan: {why}"),
                },
            };
            run.finish(outcome).await
        }
    }
}

fn fail_early(events: &mpsc::UnboundedSender<PlanEvent>, reason: String) -> PlanOutcome {
    let outcome = PlanOutcome::Failed { reason };
    let _ = events.send(PlanEvent::Finished {
        outcome: outcome.clone(),
    });
    outcome
}

impl<'a> Run<'a> {
    fn new(
        engine: &'a Engine,
        plan: Plan,
        journal: Journal,
        events: mpsc::UnboundedSender<PlanEvent>,
        abort: watch::Receiver<bool>,
    ) -> Option<Run<'a>> {
        let env_idx = engine
            .config
            .envs
            .iter()
            .position(|e| e.name() == plan.target_env)?;
        let provider = engine.providers.get(env_idx).cloned().flatten()?;
        Some(Run {
            engine,
            plan,
            provider,
            env_idx,
            journal,
            events,
            abort,
            lock: None,
            changed: Vec::new(),
            platform_kept_previous: false,
            started: Instant::now(),
        })
    }

    /// Tell every surface about a record that could not be written.
    fn warn(&self, message: String) {
        let _ = self.events.send(PlanEvent::Warning {
            message: crate::sanitize::sanitize(&message),
        });
    }

    fn note(&mut self, text: String) {
        if let Err(e) = self.journal.record(JournalEvent::Note { text }) {
            tracing::error!("journal write failed: {e}");
        }
    }

    fn aborted(&self) -> bool {
        *self.abort.borrow()
    }

    fn target(&self, unit: usize) -> Target {
        self.plan.units[unit].target(&self.plan.target_env)
    }

    fn env_target(&self) -> Target {
        self.engine.target(self.env_idx)
    }

    /// Sleep, waking early on abort; returns true when aborted.
    async fn sleep(&mut self, d: Duration) -> bool {
        let mut abort = self.abort.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            aborted = abort_requested(&mut abort) => aborted,
        }
    }

    async fn steps_from(&mut self, from: usize) -> PlanOutcome {
        for index in from..self.plan.steps.len() {
            if self.aborted() && self.abort_applies() {
                return self.abort_now().await;
            }
            let name = self.plan.step_name(index);
            let stage = self.plan.steps[index].stage();
            let services = self.plan.step_services(index);
            if let Err(e) = self.journal.record(JournalEvent::StepStarted {
                step: index,
                name: name.clone(),
            }) {
                return self
                    .finish(PlanOutcome::Failed {
                        reason: format!("journal write failed: {e}"),
                    })
                    .await;
            }
            let _ = self.events.send(PlanEvent::StepStarted {
                index,
                step: name.clone(),
                stage,
                services: services.clone(),
            });
            let step_started = Instant::now();
            let result = self.step(index).await;
            let took_ms = step_started.elapsed().as_millis() as u64;
            let (status, detail) = match &result {
                StepResult::Ok(d) => (StepStatus::Ok, d.clone()),
                StepResult::Skipped(d) => (StepStatus::Skipped, d.clone()),
                StepResult::Failed(d) | StepResult::GateFailed(d) => {
                    (StepStatus::Failed, d.clone())
                }
                StepResult::Aborted => (StepStatus::Failed, "aborted".into()),
            };
            let outcome_word = match status {
                StepStatus::Ok => "ok",
                StepStatus::Skipped => "skipped",
                StepStatus::Failed => "failed",
            };
            let recorded = self.journal.record(JournalEvent::StepFinished {
                step: index,
                name: name.clone(),
                outcome: outcome_word.into(),
                detail: Some(detail.clone()),
            });
            let _ = self.events.send(PlanEvent::StepFinished {
                index,
                step: name,
                stage,
                services,
                status,
                detail,
                took_ms,
            });
            if let Err(e) = recorded {
                return self
                    .finish(PlanOutcome::Failed {
                        reason: format!("journal write failed: {e}"),
                    })
                    .await;
            }
            match result {
                StepResult::Ok(_) | StepResult::Skipped(_) => {}
                StepResult::Aborted => return self.abort_now().await,
                StepResult::Failed(reason) => {
                    let outcome = match self.revert(&reason).await {
                        Reverted::Nothing => PlanOutcome::Failed { reason },
                        Reverted::Done(what) => PlanOutcome::Failed {
                            reason: format!("{reason} ({what})"),
                        },
                        Reverted::Failed(why) => PlanOutcome::RevertFailed {
                            reason: format!("{reason}; then the revert failed: {why}"),
                        },
                    };
                    return self.finish(outcome).await;
                }
                StepResult::GateFailed(reason) => {
                    let outcome = match self.plan.on_fail {
                        OnFail::Pause => return self.pause(index, reason).await,
                        OnFail::Rollback => match self.revert(&reason).await {
                            Reverted::Done(_) => PlanOutcome::RolledBack { reason },
                            // The release was bad and the env is on the old one:
                            // the same news as a revert, told the same way (exit 3).
                            Reverted::Nothing if self.platform_kept_previous => {
                                PlanOutcome::RolledBack { reason }
                            }
                            Reverted::Nothing => PlanOutcome::Failed { reason },
                            Reverted::Failed(why) => PlanOutcome::RevertFailed {
                                reason: format!("{reason}; then the revert failed: {why}"),
                            },
                        },
                    };
                    return self.finish(outcome).await;
                }
            }
        }
        self.finish(PlanOutcome::Completed).await
    }

    /// A failed gate with `on_fail = "pause"`: the plan holds. Its lock
    /// stays taken (marked paused, so it never goes stale), its journal
    /// stays open with the failing numbers, and `shipdeck resume` (or the
    /// TUI at its next start) offers to continue, roll back or abandon it.
    async fn pause(&mut self, index: usize, reason: String) -> PlanOutcome {
        let step = self.plan.step_name(index);
        if let Err(e) = self.journal.record(JournalEvent::Paused {
            step: index,
            reason: reason.clone(),
        }) {
            // Unrecorded, the pause would not be offered again: end the plan as failed.
            return self
                .finish(PlanOutcome::Failed {
                    reason: format!("{reason}; the pause could not be journaled ({e})"),
                })
                .await;
        }
        if let Some(lock) = self.lock.take()
            && let Err(e) = lock.hold_paused(&step)
        {
            self.warn(format!(
                "the env lock could not be marked paused ({e}): another plan may take `{}` before you decide",
                self.plan.target_env
            ));
        }
        let outcome = PlanOutcome::Paused { reason };
        if let Err(e) = self.engine.record(
            &self.plan,
            outcome.word(),
            self.started.elapsed().as_millis() as u64,
            Some(outcome.describe()),
        ) {
            self.warn(format!(
                "the audit log could not be written ({e}): this pause is not on record"
            ));
        }
        let _ = self.events.send(PlanEvent::Finished {
            outcome: outcome.clone(),
        });
        outcome
    }

    /// A rollback that has deployed is safer finished than reversed.
    fn abort_applies(&self) -> bool {
        self.plan.action != PlanAction::Rollback || self.changed.is_empty()
    }

    async fn abort_now(&mut self) -> PlanOutcome {
        let outcome = match self.revert("aborted by the operator").await {
            Reverted::Nothing => PlanOutcome::Aborted { reverted: false },
            Reverted::Done(_) => PlanOutcome::Aborted { reverted: true },
            Reverted::Failed(why) => PlanOutcome::RevertFailed {
                reason: format!("aborted by the operator; then the revert failed: {why}"),
            },
        };
        self.finish(outcome).await
    }

    async fn step(&mut self, index: usize) -> StepResult {
        match self.plan.steps[index].clone() {
            StepKind::AcquireLock => match self.acquire_lock() {
                Ok(who) => StepResult::Ok(who),
                Err(e) => StepResult::Failed(e),
            },
            StepKind::PreChecks => self.pre_checks().await,
            StepKind::MigrateUp { command, workflow } => match (command, self.plan.migrate_to) {
                (Some(cmd), _) => self.run_command(index, &cmd).await,
                (None, _) if workflow.is_some() => self.migrate_by_workflow(index).await,
                (None, Some(version)) => self.migrate_to(version).await,
                (None, None) => StepResult::Skipped(format!(
                    "no migration to run in `{}`",
                    self.plan.target_env
                )),
            },
            StepKind::Deploy { stage } => self.deploy(index, stage).await,
            StepKind::WaitRollout { stage } => self.wait_rollout(stage).await,
            StepKind::HealthGate { stage } => self.gate(index, stage, GateMode::Health).await,
            StepKind::Stabilize { stage, seconds } => {
                self.gate(
                    index,
                    stage,
                    GateMode::Stabilize {
                        window: Duration::from_secs(seconds),
                    },
                )
                .await
            }
            StepKind::PostChecks => self.post_checks(index).await,
            StepKind::Pin => self.pin(),
            StepKind::ReleaseLock => match self.lock.take() {
                Some(lock) => match lock.release() {
                    Ok(()) => StepResult::Ok("released".into()),
                    Err(e) => StepResult::Ok(format!("release failed, it will go stale: {e}")),
                },
                None => StepResult::Skipped("no lock held".into()),
            },
        }
    }

    fn acquire_lock(&mut self) -> Result<String, String> {
        if self.lock.is_some() {
            return Ok("already held by this plan".into());
        }
        let holder = LockHolder {
            user: self.engine.actor.user.clone(),
            host: self.engine.actor.host.clone(),
            pid: std::process::id(),
            started: Utc::now(),
            plan_id: self.plan.id.clone(),
            action: self.plan.action.word().into(),
            paused: None,
        };
        let lock = lock::acquire(&self.engine.paths.locks(), &self.plan.target_env, holder)
            .map_err(|e| e.to_string())?;
        let who = format!("held by {}", lock.holder().describe());
        self.lock = Some(lock);
        Ok(who)
    }

    async fn pre_checks(&mut self) -> StepResult {
        if self.plan.action == PlanAction::Promote
            && let Ok(Some(pin)) = self.engine.pins().get(&self.plan.target_env)
        {
            return StepResult::Failed(format!(
                "`{}` was pinned at {} by {} meanwhile",
                pin.env, pin.release, pin.by
            ));
        }
        if let Err(e) = self.provider.status(&self.env_target()).await {
            return StepResult::Failed(format!("target not reachable: {e}"));
        }
        let mut lines = Vec::new();
        for u in 0..self.plan.units.len() {
            let unit = &self.plan.units[u];
            let (name, to, from) = (unit.name(), unit.to_label(), unit.from_label());
            match self.unit_runs(u).await {
                Ok(true) => lines.push(format!("{name}: already runs {to}, its deploy is skipped")),
                Ok(false) => lines.push(format!("{name}: {from} → {to}")),
                Err(e) => return StepResult::Failed(e),
            }
        }
        StepResult::Ok(lines.join("; "))
    }

    /// Run the env's migration workflow through its provider and follow it
    /// (`[env.migrations] tool = "github_actions"`); its jobs show on the ladder.
    async fn migrate_by_workflow(&mut self, index: usize) -> StepResult {
        let Some(m) = self.engine.config.envs[self.env_idx].migrations.clone() else {
            return StepResult::Skipped("no [env.migrations] for the target".into());
        };
        let Some(workflow) = m.workflow.clone() else {
            return StepResult::Skipped("no migration workflow configured".into());
        };
        let task = crate::provider::Task {
            name: workflow,
            inputs: m.inputs.clone(),
            artifact: self.plan.units.first().map(|u| u.artifact.clone()),
        };
        let progress = self.progress(index, 0, &[]);
        match self
            .provider
            .run_task(&self.env_target(), &task, &progress)
            .await
        {
            Ok(summary) => StepResult::Ok(summary),
            Err(ProviderError::Cancelled { .. }) => StepResult::Aborted,
            Err(e) => StepResult::Failed(format!("migration workflow failed: {e}")),
        }
    }

    /// Bring the target's schema up to `version` with the built-in runner (idempotent on resume).
    async fn migrate_to(&mut self, version: u64) -> StepResult {
        let Some(cfg) = self.engine.config.envs[self.env_idx].migrations.clone() else {
            return StepResult::Skipped("no [env.migrations] for the target".into());
        };
        match crate::migrate::run::status_any(cfg.clone()).await {
            Ok(s) if s.dirty => StepResult::Failed(format!(
                "`{}` {}",
                self.plan.target_env,
                s.dirty_advice(&self.plan.target_env).unwrap_or_default()
            )),
            Ok(s) if s.current >= Some(version) => {
                StepResult::Skipped(format!("already at {}", s.current.map_or(0, |v| v)))
            }
            Ok(_) => {
                match crate::migrate::run::apply_any(cfg, crate::migrate::run::Op::Goto(version))
                    .await
                {
                    Ok(summary) => StepResult::Ok(summary),
                    Err(e) => StepResult::Failed(format!("migration failed: {e}")),
                }
            }
            Err(e) => StepResult::Failed(format!("cannot read the target's migration status: {e}")),
        }
    }

    /// Whether unit `u` runs its artifact, as the provider sees it.
    async fn unit_runs(&self, u: usize) -> Result<bool, String> {
        let unit = &self.plan.units[u];
        self.provider
            .runs(&self.target(u), &unit.artifact)
            .await
            .map_err(|e| {
                format!(
                    "cannot read what {} of `{}` runs: {e}",
                    unit.name(),
                    self.plan.target_env
                )
            })
    }

    /// Deploy every unit of `stage` that does not run its artifact yet.
    async fn deploy(&mut self, index: usize, stage: usize) -> StepResult {
        let units = self
            .plan
            .stages
            .get(stage)
            .map(|s| s.units.clone())
            .unwrap_or_default();
        if units.is_empty() {
            return StepResult::Skipped("its services deployed with an earlier stage".into());
        }
        let mut done = Vec::new();
        for u in units {
            if self.aborted() && self.abort_applies() {
                return StepResult::Aborted;
            }
            let target = self.target(u);
            let unit = self.plan.units[u].clone();
            match self.unit_runs(u).await {
                Ok(true) => {
                    // Idempotent: a resumed plan whose deploy already landed does not deploy twice.
                    if !unit.unchanged && !self.changed.contains(&u) {
                        self.changed.push(u);
                    }
                    done.push(format!("{}: already running it", unit.name()));
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    return StepResult::Failed(format!(
                        "cannot read what {} runs: {e}",
                        unit.name()
                    ));
                }
            }
            // Mark before the call: if we crash mid-request, a resume treats it as changed.
            if !self.changed.contains(&u) {
                self.changed.push(u);
            }
            let progress = self.progress(index, stage, &unit.services);
            let result = match (&self.plan.action, &unit.release) {
                (PlanAction::Rollback, Some(to)) => {
                    self.provider.rollback(&target, to, &progress).await
                }
                _ => {
                    let description = format!(
                        "promote {} from {} by {}",
                        unit.release
                            .as_ref()
                            .map_or_else(|| unit.artifact.short(), Release::label),
                        self.plan.source_env.clone().unwrap_or_default(),
                        self.engine.actor.describe()
                    );
                    self.provider
                        .deploy(&target, &unit.artifact, &description, &progress)
                        .await
                }
            };
            match result {
                Ok(release) => done.push(format!(
                    "{}: {} is {}",
                    unit.name(),
                    release.label(),
                    release.status.label()
                )),
                Err(e) => {
                    if e.changed_nothing() {
                        self.changed.retain(|c| *c != u);
                    }
                    if matches!(e, ProviderError::Cancelled { .. }) {
                        self.note(format!("{}: {e}", unit.name()));
                        return StepResult::Aborted;
                    }
                    if e.is_unhealthy_release() {
                        if e.changed_nothing() {
                            self.platform_kept_previous = true;
                        }
                        // The platform's own health checks judged the release: a failed gate.
                        return StepResult::GateFailed(format!(
                            "{} failed the platform's health checks: {e}",
                            unit.name()
                        ));
                    }
                    return StepResult::Failed(format!("deploy of {} failed: {e}", unit.name()));
                }
            }
        }
        StepResult::Ok(done.join("; "))
    }

    /// Progress of a deploy into the ladder; the abort switch cancels it.
    fn progress(&self, index: usize, stage: usize, services: &[String]) -> Progress {
        let (events, services) = (self.events.clone(), services.to_vec());
        let cancel = if self.abort_applies() {
            self.abort.clone()
        } else {
            // A rollback in flight is safer finished: nothing cancels it.
            watch::channel(false).1
        };
        Progress::new(
            move |progress| {
                let _ = events.send(PlanEvent::DeployProgress {
                    index,
                    stage: Some(stage),
                    services: services.clone(),
                    progress,
                });
            },
            cancel,
        )
    }

    async fn wait_rollout(&mut self, stage: usize) -> StepResult {
        let limit = self.engine.config.envs[self.env_idx].rollout.wait_timeout.0;
        let abortable = self.abort_applies();
        let units = self
            .plan
            .stages
            .get(stage)
            .map(|s| s.units.clone())
            .unwrap_or_default();
        let mut lines = Vec::new();
        for u in units {
            let mut abort = self.abort.clone();
            let target = self.target(u);
            match wait_instances(
                self.provider.as_ref(),
                &target,
                limit,
                &mut abort,
                abortable,
            )
            .await
            {
                WaitEnd::Up(detail) => {
                    lines.push(format!("{}: {detail}", self.plan.units[u].name()))
                }
                WaitEnd::TimedOut(detail) => {
                    return StepResult::Failed(format!("{}: {detail}", self.plan.units[u].name()));
                }
                WaitEnd::Aborted => return StepResult::Aborted,
            }
        }
        if lines.is_empty() {
            return StepResult::Skipped("nothing deployed in this stage".into());
        }
        StepResult::Ok(lines.join("; "))
    }

    async fn gate(&mut self, index: usize, stage: usize, mode: GateMode) -> StepResult {
        let env = &self.engine.config.envs[self.env_idx];
        let services = self
            .plan
            .stages
            .get(stage)
            .map(|s| s.services.clone())
            .unwrap_or_default();
        let events = self.events.clone();
        let mut abort = self.abort.clone();
        let sampler = Sampler::new(self.engine.client.clone(), env)
            .only(&services)
            .with_platform(self.engine.platform(self.env_idx));
        let end = run_gate(sampler, mode, &mut abort, |sample, tracker| {
            let _ = events.send(PlanEvent::Gate {
                index,
                passes: tracker.in_row(),
                failures: tracker.failures(),
                figures: sample.figures.clone(),
                failing: sample.failures.clone(),
            });
        })
        .await;
        match end {
            GateEnd::Passed(figures) => StepResult::Ok(figures),
            GateEnd::Failed(reason) => StepResult::GateFailed(reason),
            GateEnd::Aborted => StepResult::Aborted,
        }
    }

    async fn post_checks(&mut self, index: usize) -> StepResult {
        let env = &self.engine.config.envs[self.env_idx];
        let mut sampler = Sampler::new(self.engine.client.clone(), env)
            .with_platform(self.engine.platform(self.env_idx));
        sampler.prime().await;
        if self
            .sleep(env.gates.interval.0.min(Duration::from_secs(2)))
            .await
            && self.abort_applies()
        {
            return StepResult::Aborted;
        }
        let mut sample = sampler.sample().await;
        let _ = self.events.send(PlanEvent::Gate {
            index,
            passes: 0,
            failures: 0,
            figures: sample.figures.clone(),
            failing: sample.failures.clone(),
        });
        // The provider says whether each unit runs its artifact: tag and digest
        // of one image are the same artifact, and only the provider knows both.
        let mut running = Vec::new();
        for u in 0..self.plan.units.len() {
            let unit = &self.plan.units[u];
            let (name, label) = (unit.name(), unit.to_label());
            match self.unit_runs(u).await {
                Ok(true) => running.push(format!("{name} runs {label}")),
                Ok(false) => {
                    return StepResult::Failed(format!(
                        "{name} of `{}` is not running {} ({label})",
                        self.plan.target_env,
                        unit.artifact.full()
                    ));
                }
                Err(e) => return StepResult::Failed(e),
            }
        }
        let running = running.join(", ");
        if let (Some(expected), Some(cfg)) = (
            self.plan.migrate_to,
            self.engine.config.envs[self.env_idx].migrations.clone(),
        ) {
            match crate::migrate::run::status_any(cfg).await {
                Ok(m) if m.current >= Some(expected) && !m.dirty => sample
                    .figures
                    .push(format!("schema {}", m.current.map_or(0, |v| v))),
                Ok(m) => sample.failures.push(format!(
                    "schema version {:?} (dirty {}), expected {expected}",
                    m.current, m.dirty
                )),
                Err(e) => sample
                    .failures
                    .push(format!("schema version unreadable: {e}")),
            }
        }
        match (sample.passed(), self.plan.action) {
            (true, _) => StepResult::Ok(format!("{running} · {}", sample.figures.join(" · "))),
            // A rollback is never reversed by its own checks; report instead.
            (false, PlanAction::Rollback) => StepResult::Ok(format!(
                "{running}; warning: {}",
                sample.failures.join("; ")
            )),
            (false, PlanAction::Promote) => StepResult::GateFailed(sample.failures.join("; ")),
        }
    }

    fn pin(&mut self) -> StepResult {
        let (previous, release) = self.plan.from_to();
        let pin = Pin {
            env: self.plan.target_env.clone(),
            release: release.clone(),
            by: self.engine.actor.describe(),
            at: Utc::now(),
            reason: match self.provider.rollback_leaves() {
                Some(note) => format!("rollback from {previous}; {note}"),
                None => format!("rollback from {previous}"),
            },
        };
        match self.engine.pins().pin(pin) {
            Ok(()) => StepResult::Ok(format!("`{}` pinned at {release}", self.plan.target_env)),
            Err(e) => StepResult::Failed(format!("cannot pin: {e}")),
        }
    }

    async fn run_command(&mut self, index: usize, cmd: &str) -> StepResult {
        let mut command = tokio::process::Command::new("sh");
        // Other envs' database variables are theirs: this env's migrate
        // command sees its own (named by its database_url_env) and no other.
        let own = self.engine.config.envs[self.env_idx]
            .migrations
            .as_ref()
            .and_then(|m| m.database_url_env.clone());
        let others: Vec<String> = self
            .engine
            .config
            .envs
            .iter()
            .filter_map(|e| e.migrations.as_ref()?.database_url_env.clone())
            .filter(|v| Some(v) != own.as_ref())
            .collect();
        crate::child_env::scrub(&mut command, &others);
        // With a tool's [env.migrations] (alembic, command), the command runs
        // in its folder with the env's DATABASE_URL, as `shipdeck migrate` does.
        if let Some(m) = self.engine.config.envs[self.env_idx].migrations.clone()
            && !matches!(
                m.tool,
                crate::config::MigrationTool::GolangMigrate
                    | crate::config::MigrationTool::GithubActions
            )
        {
            command.current_dir(&m.dir);
            for (k, v) in crate::migrate::tool_run::database_env(&m).await {
                command.env(k, v);
            }
        }
        let child = command
            .arg("-c")
            .arg(cmd)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return StepResult::Failed(format!("cannot start `{cmd}`: {e}")),
        };
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return StepResult::Failed("no output pipes".into());
        };
        // Output is read as bytes (non-UTF-8 never stops the reader and
        // blocks the child), and the command is stopped at its time limit.
        let mut lines = futures::stream::select(
            crate::logs::source::pipe_lines(out),
            crate::logs::source::pipe_lines(err),
        );
        let timeout = self.engine.config.envs[self.env_idx]
            .migrations
            .as_ref()
            .map_or(crate::config::DEFAULT_MIGRATION_TIMEOUT, |m| {
                m.command_timeout()
            });
        let deadline = tokio::time::Instant::now() + timeout;
        let too_long = || {
            StepResult::Failed(format!(
                "`{cmd}` did not finish within {}s and was stopped; raise [env.migrations] timeout if it needs longer",
                timeout.as_secs()
            ))
        };
        use futures::StreamExt;
        let mut last = String::new();
        loop {
            let mut abort = self.abort.clone();
            tokio::select! {
                line = lines.next() => match line {
                    Some(line) => {
                        last = sanitize(&line);
                        let _ = self.events.send(PlanEvent::StepOutput { index, line: last.clone() });
                    }
                    None => break,
                },
                aborted = abort_requested(&mut abort) => if aborted {
                    let _ = child.kill().await;
                    return StepResult::Aborted;
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = child.kill().await;
                    return too_long();
                }
            }
        }
        match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(Ok(status)) if status.success() => {
                StepResult::Ok(if last.is_empty() { "done".into() } else { last })
            }
            Ok(Ok(status)) => StepResult::Failed(format!("`{cmd}` exited with {status}: {last}")),
            Ok(Err(e)) => StepResult::Failed(format!("`{cmd}`: {e}")),
            Err(_) => {
                let _ = child.kill().await;
                too_long()
            }
        }
    }

    /// Put every unit this plan changed back on what it ran before, newest
    /// first, and verify each: instances settle and the provider confirms the
    /// unit runs its previous artifact.
    async fn revert(&mut self, reason: &str) -> Reverted {
        if self.plan.action == PlanAction::Rollback || self.changed.is_empty() {
            return Reverted::Nothing;
        }
        let _ = self.events.send(PlanEvent::Reverting {
            reason: reason.to_string(),
        });
        self.note(format!("reverting: {reason}"));
        let limit = self.engine.config.envs[self.env_idx].rollout.wait_timeout.0;
        let mut done = Vec::new();
        let mut reverted_services: Vec<String> = Vec::new();
        while let Some(&u) = self.changed.last() {
            match self.revert_unit(u, limit).await {
                Ok(line) => {
                    reverted_services.extend(self.plan.units[u].services.iter().cloned());
                    self.note(format!("reverted {line}"));
                    done.push(line);
                    self.changed.pop();
                }
                Err(why) => {
                    self.note(format!("REVERT FAILED: {why}"));
                    return Reverted::Failed(why);
                }
            }
        }
        if let Err(why) = self.verify_reverted(&reverted_services).await {
            self.note(format!("REVERT FAILED: {why}"));
            return Reverted::Failed(why);
        }
        Reverted::Done(format!("rolled back: {}", done.join(", ")))
    }

    /// "Rolled back" is claimed only once the reverted services pass a health
    /// check: health JSON, HTTP and command checks and the platform's word on
    /// the instances (not error rate or p95, which need a window of traffic
    /// the revert has not had yet). A few samples an interval apart; an env
    /// with nothing to measure is not held against the revert.
    async fn verify_reverted(&self, services: &[String]) -> Result<(), String> {
        let mut env = self.engine.config.envs[self.env_idx].clone();
        env.gates.max_error_rate = None;
        env.gates.max_p95 = None;
        let interval = env.gates.interval.0;
        let attempts = env.gates.samples.max(3);
        let mut sampler = Sampler::new(self.engine.client.clone(), &env)
            .only(services)
            .with_platform(self.engine.platform(self.env_idx));
        let mut last = Vec::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(interval).await;
            }
            let sample = sampler.sample().await;
            let failing: Vec<String> = sample
                .failures
                .into_iter()
                .filter(|f| f != super::gates::NOTHING_MEASURED)
                .collect();
            if failing.is_empty() {
                return Ok(());
            }
            last = failing;
        }
        Err(format!(
            "the reverted release is back but unhealthy after {attempts} samples: {}",
            last.join("; ")
        ))
    }

    /// Put unit `u` back on its previous release and verify it: instances
    /// settle within `limit` and the provider says it runs that artifact.
    /// `api back on v41`, or why not.
    async fn revert_unit(&self, u: usize, limit: Duration) -> Result<String, String> {
        let unit = &self.plan.units[u];
        let target = self.target(u);
        let name = unit.name();
        let previous = unit.previous.clone().ok_or_else(|| {
            format!("{name} ran no release before this plan: nothing to return it to")
        })?;
        let label = previous.label();
        let artifact = previous
            .artifact
            .clone()
            .ok_or_else(|| format!("{name}'s previous release {label} names no artifact"))?;
        self.provider
            .rollback(&target, &previous, &Progress::none())
            .await
            .map_err(|e| format!("{name} back to {label}: {e}"))?;
        let mut never = watch::channel(false).1;
        if let WaitEnd::TimedOut(detail) =
            wait_instances(self.provider.as_ref(), &target, limit, &mut never, false).await
        {
            return Err(format!("{name} back to {label}: {detail}"));
        }
        match self.provider.runs(&target, &artifact).await {
            Ok(true) => Ok(format!("{name} back on {label}")),
            Ok(false) => Err(format!(
                "{name} does not run {} after the rollback",
                artifact.full()
            )),
            Err(e) => Err(format!("cannot verify {name} after the rollback: {e}")),
        }
    }

    async fn finish(&mut self, outcome: PlanOutcome) -> PlanOutcome {
        if let PlanOutcome::RevertFailed { reason } = &outcome {
            // Until someone looks: the env is pinned (no promotion lands on a
            // mixed state) and every surface shows the alarm.
            let pin = Pin {
                env: self.plan.target_env.clone(),
                release: "mixed".into(),
                by: self.engine.actor.describe(),
                at: Utc::now(),
                reason: format!("{}: {reason}", super::pins::REVERT_FAILED),
            };
            if let Err(e) = self.engine.pins().pin(pin) {
                tracing::error!(
                    "cannot pin {} after a failed revert: {e}",
                    self.plan.target_env
                );
            }
        }
        if let Some(lock) = self.lock.take() {
            let _ = lock.release();
        }
        if let Err(e) = self.journal.record(JournalEvent::PlanFinished {
            result: outcome.word().into(),
        }) {
            tracing::error!("journal write failed: {e}");
            self.warn(format!(
                "the journal {} could not be closed ({e}): the plan ended {} all the same, but `shipdeck resume` will offer it as interrupted; once you have checked `{}`, remove that file",
                self.journal.path().display(),
                outcome.word(),
                self.plan.target_env
            ));
        } else if let Err(e) = journal::archive(&self.engine.paths.journals(), &self.plan.id) {
            tracing::warn!("journal archive failed: {e}");
        }
        let detail = match &outcome {
            PlanOutcome::Completed => None,
            other => Some(other.describe()),
        };
        if let Err(e) = self.engine.record(
            &self.plan,
            outcome.word(),
            self.started.elapsed().as_millis() as u64,
            detail,
        ) {
            self.warn(format!(
                "the audit log could not be written ({e}): this plan's result ({}) is not on record",
                outcome.word()
            ));
        }
        let _ = self.events.send(PlanEvent::Finished {
            outcome: outcome.clone(),
        });
        outcome
    }
}

/// Resolves when an abort is requested; never, when nobody can request one.
/// How waiting for instances to come up ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WaitEnd {
    /// No instance is starting any more.
    Up(String),
    /// Still starting at the limit.
    TimedOut(String),
    /// The operator aborted.
    Aborted,
}

/// Poll the provider until no instance is Progressing, up to `limit`.
pub(super) async fn wait_instances(
    provider: &dyn Provider,
    target: &Target,
    limit: Duration,
    abort: &mut watch::Receiver<bool>,
    abortable: bool,
) -> WaitEnd {
    let started = Instant::now();
    loop {
        match provider.status(target).await {
            Ok(instances) => {
                let starting = instances
                    .iter()
                    .filter(|i| i.health == Health::Progressing)
                    .count();
                if starting == 0 {
                    return WaitEnd::Up(format!(
                        "{} instance(s) up in {:.1}s",
                        instances.len(),
                        started.elapsed().as_secs_f32()
                    ));
                }
            }
            Err(e) => tracing::warn!("status during rollout: {e}"),
        }
        if started.elapsed() > limit {
            return WaitEnd::TimedOut(format!(
                "instances still starting after {}s",
                limit.as_secs()
            ));
        }
        let pause = tokio::time::sleep(Duration::from_millis(500));
        if abortable {
            tokio::select! {
                _ = pause => {}
                aborted = abort_requested(abort) => if aborted { return WaitEnd::Aborted },
            }
        } else {
            pause.await;
        }
    }
}

async fn abort_requested(abort: &mut watch::Receiver<bool>) -> bool {
    // The guard `wait_for` returns is not Send: drop it before any other await.
    let requested = abort.wait_for(|v| *v).await.is_ok();
    if !requested {
        std::future::pending::<()>().await;
    }
    true
}
