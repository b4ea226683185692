//! Plans: the named steps of a promotion or rollback, built from config, shown
//! before they start and journaled while they run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{EnvConfig, OnFail};
use crate::domain::{Artifact, Release};

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
    },
    /// Deploy the artifact (promote) or the earlier release (rollback).
    Deploy,
    /// Wait until no instance is still starting.
    WaitRollout,
    /// Health, error rate, p95 and HTTP checks must pass `samples` times in a row.
    HealthGate,
    /// Watch error rate and p95 for a window.
    Stabilize {
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
            StepKind::Deploy => "deploy".into(),
            StepKind::WaitRollout => "wait for instances".into(),
            StepKind::HealthGate => "health gate".into(),
            StepKind::Stabilize { seconds } => format!("stabilize {seconds}s"),
            StepKind::PostChecks => "post-deploy checks".into(),
            StepKind::Pin => "pin env".into(),
            StepKind::ReleaseLock => "release lock".into(),
        }
    }
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
    /// What gets deployed.
    pub artifact: Artifact,
    /// The release to roll back to (rollback only).
    pub rollback_to: Option<Release>,
    /// What the target ran before the plan: what a failed promotion returns to.
    pub previous: Option<Release>,
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

/// A fresh plan id.
pub fn new_plan_id(now: DateTime<Utc>) -> String {
    format!(
        "p-{}-{:04x}",
        now.format("%Y%m%dT%H%M%S"),
        fastrand::u16(..)
    )
}

/// The steps of a promotion into `target` (seed 002's staged rollout: lock,
/// checks, migrate, deploy, health gate, stabilize, post-checks, unlock).
pub fn promote_steps(target: &EnvConfig) -> Vec<StepKind> {
    let mut steps = vec![
        StepKind::AcquireLock,
        StepKind::PreChecks,
        StepKind::MigrateUp {
            command: target.rollout.migrate_command.clone(),
        },
        StepKind::Deploy,
        StepKind::WaitRollout,
        StepKind::HealthGate,
    ];
    if let Some(window) = target.gates.stabilize {
        steps.push(StepKind::Stabilize {
            seconds: window.0.as_secs().max(1),
        });
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
        StepKind::Deploy,
        StepKind::WaitRollout,
        StepKind::PostChecks,
        StepKind::Pin,
        StepKind::ReleaseLock,
    ]
}

/// The release a rollback goes to by default: the newest earlier release
/// that served (live or superseded) and runs a different image.
pub fn previous_good(releases: &[Release]) -> Option<&Release> {
    let current = crate::provider::current_release(releases)?;
    releases.iter().find(|r| {
        !r.current
            && r.image.is_some()
            && r.image != current.image
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
            image: Some(image.into()),
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
        let steps = promote_steps(cfg.env("production").unwrap());
        let names: Vec<String> = steps.iter().map(StepKind::name).collect();
        assert_eq!(names.first().unwrap(), "acquire lock");
        assert_eq!(names.last().unwrap(), "release lock");
        assert!(names.iter().any(|n| n == "health gate"));
        let deploy = names.iter().position(|n| n == "deploy").unwrap();
        let migrate = names.iter().position(|n| n == "migrate up").unwrap();
        assert!(migrate < deploy, "migrations run before new code starts");
    }
}
