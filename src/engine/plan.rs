//! Plans: the named steps of a promotion or rollback, built from config, shown
//! before they start and journaled while they run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{EnvConfig, OnFail};
use crate::domain::{Artifact, Release};
use crate::provider::Target;

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// Deploy the source env's running artifact into the target env.
    Promote,
    /// Return the target env to an earlier release.
    Rollback,
}

impl PlanAction {
    /// The audit-log word.
    pub fn word(self) -> &'static str {
        match self {
            PlanAction::Promote => "promote",
            PlanAction::Rollback => "rollback",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Take the env's lock (one plan per env).
    AcquireLock,
    /// Source artifact known, target reachable, not pinned, not already running it.
    PreChecks,
    /// Run the migration command before new code starts.
    MigrateUp {
        /// The command, or None when the env configures none.
        command: Option<String>,
        /// A platform workflow that runs them instead (`[env.migrations] tool = "github_actions"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow: Option<String>,
    },
    /// Deploy a stage's units: the artifact (promote) or the earlier release (rollback).
    Deploy {
        /// Which stage.
        #[serde(default)]
        stage: usize,
    },
    /// Wait until no instance of the stage is still starting.
    WaitRollout {
        /// Which stage.
        #[serde(default)]
        stage: usize,
    },
    /// Health, error rate, p95 and HTTP checks of the stage's services must pass `samples` times in a row.
    HealthGate {
        /// Which stage.
        #[serde(default)]
        stage: usize,
    },
    /// Watch the stage's error rate and p95 for a window.
    Stabilize {
        /// Which stage.
        #[serde(default)]
        stage: usize,
        /// Window length in seconds.
        seconds: u64,
    },
    /// The post-deploy checklist (health ready, error rate, p95, release running).
    PostChecks,
    /// Pin the env so no promotion overwrites the rollback without an explicit unpin.
    Pin,
    /// Give the lock back.
    ReleaseLock,
}

impl StepKind {
    /// The name shown on the step ladder.
    pub fn name(&self) -> String {
        match self {
            StepKind::AcquireLock => "acquire lock".into(),
            StepKind::PreChecks => "pre-checks".into(),
            StepKind::MigrateUp { .. } => "migrate up".into(),
            StepKind::Deploy { .. } => "deploy".into(),
            StepKind::WaitRollout { .. } => "wait for instances".into(),
            StepKind::HealthGate { .. } => "health gate".into(),
            StepKind::Stabilize { seconds, .. } => format!("stabilize {seconds}s"),
            StepKind::PostChecks => "post-deploy checks".into(),
            StepKind::Pin => "pin env".into(),
            StepKind::ReleaseLock => "release lock".into(),
        }
    }
}

impl StepKind {
    /// The stage a step belongs to, for staged steps.
    pub fn stage(&self) -> Option<usize> {
        match self {
            StepKind::Deploy { stage }
            | StepKind::WaitRollout { stage }
            | StepKind::HealthGate { stage }
            | StepKind::Stabilize { stage, .. } => Some(*stage),
            _ => None,
        }
    }
}

/// One deploy unit of a plan: the services that deploy together, where, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitPlan {
    /// The services it carries.
    pub services: Vec<String>,
    /// Provider-side identifier (Fly app, …), journaled so a resume acts on the same place.
    pub remote: String,
    /// Part of `remote` (process group, the demo's service).
    #[serde(default)]
    pub scope: Option<String>,
    /// What it deploys.
    pub artifact: Artifact,
    /// The release the artifact comes from: the source's (promote) or the one returned to (rollback).
    pub release: Option<Release>,
    /// What the unit ran before the plan: what a failed plan returns it to.
    pub previous: Option<Release>,
    /// It already runs the artifact: the deploy skips it.
    #[serde(default)]
    pub unchanged: bool,
}

impl UnitPlan {
    /// The provider target of this unit in `env`.
    pub fn target(&self, env: &str) -> Target {
        Target {
            env: env.to_string(),
            service: self.services.first().cloned(),
            remote: self.remote.clone(),
            scope: self.scope.clone(),
        }
    }

    /// What it goes to: the release's label (`v44`), else the artifact in short.
    pub fn to_label(&self) -> String {
        self.release
            .as_ref()
            .map_or_else(|| self.artifact.short(), Release::label)
    }

    /// What it ran before: the previous release's label, or `nothing`.
    pub fn from_label(&self) -> String {
        self.previous
            .as_ref()
            .map_or_else(|| "nothing".to_string(), Release::label)
    }

    /// `api` or `api+worker`, or `all services` for an env without services.
    pub fn name(&self) -> String {
        if self.services.is_empty() {
            "all services".into()
        } else {
            self.services.join("+")
        }
    }
}

/// One stage: its services, and the units that carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Services gated in this stage.
    pub services: Vec<String>,
    /// Indexes into [`Plan::units`] deployed in this stage (a unit deploys in the first stage that names one of its services).
    pub units: Vec<usize>,
}

/// A plan: everything needed to run, resume or reverse it after a crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Unique id (`p-20261125T094100-4f2a`).
    pub id: String,
    /// Promote or rollback.
    pub action: PlanAction,
    /// The env the artifact comes from (promote only).
    pub source_env: Option<String>,
    /// The env being changed.
    pub target_env: String,
    /// What each deploy unit gets.
    pub units: Vec<UnitPlan>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// The steps, in order.
    pub steps: Vec<StepKind>,
    /// What a failed gate does.
    pub on_fail: OnFail,
    /// Schema version the target must reach before the deploy (the source's), when both envs configure migrations.
    #[serde(default)]
    pub migrate_to: Option<u64>,
    /// Who.
    pub actor: String,
    /// When planned.
    pub created_at: DateTime<Utc>,
}

impl Plan {
    /// The ladder name of step `i`: `api: deploy` in a staged plan, `deploy` otherwise.
    pub fn step_name(&self, i: usize) -> String {
        let Some(step) = self.steps.get(i) else {
            return String::new();
        };
        match step.stage() {
            Some(s) if self.stages.len() > 1 => match self.stages.get(s) {
                Some(stage) => format!("{}: {}", stage.services.join("+"), step.name()),
                None => step.name(),
            },
            _ => step.name(),
        }
    }

    /// The services of step `i`'s stage (empty for steps outside stages).
    pub fn step_services(&self, i: usize) -> Vec<String> {
        self.steps
            .get(i)
            .and_then(StepKind::stage)
            .and_then(|s| self.stages.get(s))
            .map(|s| s.services.clone())
            .unwrap_or_default()
    }

    /// `v41 → v44` over every unit (labels joined where units differ).
    pub fn from_to(&self) -> (String, String) {
        let join = |labels: Vec<String>| {
            let mut l = labels;
            l.dedup();
            l.join(",")
        };
        (
            join(self.units.iter().map(UnitPlan::from_label).collect()),
            join(self.units.iter().map(UnitPlan::to_label).collect()),
        )
    }
}

/// The stages of `target` with the units that deploy in each: a unit
/// deploys in the first stage that names one of its services.
pub fn stages_for(target: &EnvConfig, units: &[UnitPlan]) -> Vec<Stage> {
    let mut placed = vec![false; units.len()];
    let mut stages: Vec<Stage> = target
        .stages()
        .into_iter()
        .map(|services| {
            let mut mine = Vec::new();
            for (u, unit) in units.iter().enumerate() {
                if !placed[u] && unit.services.iter().any(|s| services.contains(s)) {
                    placed[u] = true;
                    mine.push(u);
                }
            }
            Stage {
                services,
                units: mine,
            }
        })
        .collect();
    // Units outside every stage (an env without services) deploy in the first.
    let rest: Vec<usize> = (0..units.len()).filter(|u| !placed[*u]).collect();
    if !rest.is_empty() {
        match stages.first_mut() {
            Some(first) => first.units.extend(rest),
            None => stages.push(Stage {
                services: Vec::new(),
                units: rest,
            }),
        }
    }
    stages
}

/// A fresh plan id.
pub fn new_plan_id(now: DateTime<Utc>) -> String {
    format!(
        "p-{}-{:04x}",
        now.format("%Y%m%dT%H%M%S"),
        fastrand::u16(..)
    )
}

/// The steps of a promotion into `target` (seed 002's staged rollout: lock,
/// checks, migrate, then per stage deploy, wait, health gate and stabilize,
/// then post-checks, unlock).
pub fn promote_steps(target: &EnvConfig, stages: usize) -> Vec<StepKind> {
    let mut steps = vec![
        StepKind::AcquireLock,
        StepKind::PreChecks,
        StepKind::MigrateUp {
            command: target.rollout.migrate_command.clone(),
            workflow: target
                .migrations
                .as_ref()
                .filter(|m| m.tool == crate::config::MigrationTool::GithubActions)
                .and_then(|m| m.workflow.clone()),
        },
    ];
    for stage in 0..stages.max(1) {
        steps.push(StepKind::Deploy { stage });
        steps.push(StepKind::WaitRollout { stage });
        steps.push(StepKind::HealthGate { stage });
        if let Some(window) = target.gates.stabilize {
            steps.push(StepKind::Stabilize {
                stage,
                seconds: window.0.as_secs().max(1),
            });
        }
    }
    steps.push(StepKind::PostChecks);
    steps.push(StepKind::ReleaseLock);
    steps
}

/// The steps of a rollback: no migration (code rollback does not roll the
/// database back), a health check that reports but never reverses, then a pin.
pub fn rollback_steps() -> Vec<StepKind> {
    vec![
        StepKind::AcquireLock,
        StepKind::PreChecks,
        StepKind::Deploy { stage: 0 },
        StepKind::WaitRollout { stage: 0 },
        StepKind::PostChecks,
        StepKind::Pin,
        StepKind::ReleaseLock,
    ]
}

/// The release a rollback goes to by default: the newest earlier release
/// that served (live or superseded) and runs an artifact not provably the current one.
pub fn previous_good(releases: &[Release]) -> Option<&Release> {
    let current = crate::provider::current_release(releases)?;
    releases.iter().find(|r| {
        !r.current
            && r.artifact
                .as_ref()
                .is_some_and(|a| current.artifact.as_ref().and_then(|c| a.same(c)) != Some(true))
            && r.created_at <= current.created_at
            && matches!(
                r.status,
                crate::domain::ReleaseStatus::Superseded | crate::domain::ReleaseStatus::Live
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReleaseStatus;

    fn rel(v: u64, status: ReleaseStatus, image: &str) -> Release {
        Release {
            id: format!("v{v}"),
            version: Some(v),
            artifact: Some(Artifact::image(image)),
            status,
            raw_status: String::new(),
            author: None,
            description: String::new(),
            created_at: Utc::now() - chrono::Duration::hours(100 - v as i64),
            current: status == ReleaseStatus::Live,
        }
    }

    #[test]
    fn previous_good_skips_failed_and_same_image() {
        let list = vec![
            rel(44, ReleaseStatus::Live, "img:44"),
            rel(43, ReleaseStatus::RolledBack, "img:43"),
            rel(42, ReleaseStatus::Superseded, "img:44"),
            rel(41, ReleaseStatus::Superseded, "img:41"),
        ];
        assert_eq!(previous_good(&list).unwrap().id, "v41");
    }

    #[test]
    fn promote_steps_follow_config() {
        let cfg = crate::config::Config::demo().unwrap();
        let steps = promote_steps(cfg.env("production").unwrap(), 2);
        let names: Vec<String> = steps.iter().map(StepKind::name).collect();
        assert_eq!(names.first().unwrap(), "acquire lock");
        assert_eq!(names.last().unwrap(), "release lock");
        assert!(names.iter().any(|n| n == "health gate"));
        let deploy = names.iter().position(|n| n == "deploy").unwrap();
        let migrate = names.iter().position(|n| n == "migrate up").unwrap();
        assert!(migrate < deploy, "migrations run before new code starts");
        let deploys: Vec<Option<usize>> = steps
            .iter()
            .filter(|s| matches!(s, StepKind::Deploy { .. }))
            .map(StepKind::stage)
            .collect();
        assert_eq!(
            deploys,
            [Some(0), Some(1)],
            "one deploy per stage, in order"
        );
    }
}
