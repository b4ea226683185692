//! Secret rotation across environments, one env at a time and health-gated:
//! set the new value (staged where the provider can), apply it with a
//! rollout, wait for the instances, run the env's health gate, then go on to
//! the next env. A failing gate stops before the next env; the previous value
//! is restored only if the person supplied it (shipdeck never reads values
//! back from providers). Every step is audited without the value.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::executor::{WaitEnd, wait_instances};
use super::gates::{GateEnd, GateMode, run_gate};
use super::lock::{self, LockHolder};
use super::secrets::SecretsAt;
use super::secrets::invalid_name;
use super::{Engine, EngineError, StepStatus};
use crate::secrets::SecretValue;

/// What to rotate, where, and what to restore on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRequest {
    /// Secret name.
    pub name: String,
    /// Envs in order (default: an env and its promotion target).
    pub envs: Vec<String>,
    /// The new value.
    pub value: SecretValue,
    /// The value to put back if a gate fails (only if the person gave it).
    pub previous: Option<SecretValue>,
    /// Put `previous` back automatically when a gate fails (headless); the TUI asks instead.
    pub restore_on_fail: bool,
    /// The service whose secret it is, where secrets live per service (a Fly
    /// app of its own); None: the env's own secrets.
    pub service: Option<String>,
}

/// One step of one env's rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStep {
    /// Set the new value (staged when possible).
    Set,
    /// Roll the instances onto it.
    Apply,
    /// Wait for the instances to come up.
    Wait,
    /// Run the env's health gate.
    Gate,
    /// Put the previous value back.
    Restore,
}

impl RotationStep {
    /// The word on screen.
    pub fn label(self) -> &'static str {
        match self {
            RotationStep::Set => "set",
            RotationStep::Apply => "apply",
            RotationStep::Wait => "wait",
            RotationStep::Gate => "health gate",
            RotationStep::Restore => "restore",
        }
    }
}

/// Progress of a rotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RotationEvent {
    /// A step began.
    StepStarted {
        /// Env.
        env: String,
        /// Step.
        step: RotationStep,
    },
    /// A step ended.
    StepFinished {
        /// Env.
        env: String,
        /// Step.
        step: RotationStep,
        /// How.
        status: StepStatus,
        /// What happened.
        detail: String,
    },
    /// A gate sample.
    Gate {
        /// Env.
        env: String,
        /// Passing samples in a row.
        passes: u32,
        /// Failing samples so far.
        failures: u32,
        /// Why this sample failed.
        failing: Vec<String>,
    },
    /// The rotation ended.
    Finished {
        /// How.
        outcome: RotationOutcome,
    },
}

/// How a rotation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RotationOutcome {
    /// Every env runs the new value and passed its gate.
    Completed {
        /// Envs rotated.
        envs: Vec<String>,
    },
    /// A health gate failed; later envs were not touched.
    GateFailed {
        /// Env whose gate failed.
        env: String,
        /// The gate's reason.
        reason: String,
        /// Envs already rotated (they keep the new value).
        rotated: Vec<String>,
        /// Envs not touched.
        untouched: Vec<String>,
        /// Whether the previous value was put back in `env`.
        restored: bool,
        /// Whether a previous value is available to restore.
        can_restore: bool,
    },
    /// A step failed (provider error, lock held, timeout).
    Failed {
        /// Env.
        env: String,
        /// What failed.
        reason: String,
        /// Envs already rotated.
        rotated: Vec<String>,
        /// Envs not touched.
        untouched: Vec<String>,
    },
    /// Stopped by the operator.
    Aborted {
        /// Env in progress.
        env: String,
        /// Envs already rotated.
        rotated: Vec<String>,
    },
    /// A safety rule refused the rotation before anything changed.
    Refused {
        /// Which rule.
        reason: String,
    },
}

impl RotationOutcome {
    /// Process exit code: 0 ok, 3 gate failed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RotationOutcome::Completed { .. } => 0,
            RotationOutcome::GateFailed { .. } => 3,
            _ => 1,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            RotationOutcome::Completed { envs } => format!("rotated in {}", envs.join(", ")),
            RotationOutcome::GateFailed {
                env,
                reason,
                untouched,
                restored,
                can_restore,
                ..
            } => {
                let mut s = format!("health gate failed in {env}: {reason}");
                if !untouched.is_empty() {
                    s.push_str(&format!("; {} not touched", untouched.join(", ")));
                }
                if *restored {
                    s.push_str("; the previous value was restored");
                } else if *can_restore {
                    s.push_str("; the previous value can be restored");
                } else {
                    s.push_str(&format!(
                        "; {env} keeps the new value (no previous value was given)"
                    ));
                }
                s
            }
            RotationOutcome::Failed { env, reason, .. } => format!("failed in {env}: {reason}"),
            RotationOutcome::Aborted { env, .. } => format!("aborted during {env}"),
            RotationOutcome::Refused { reason } => format!("refused: {reason}"),
        }
    }
}

enum EnvEnd {
    Done,
    GateFailed(String),
    Failed(String),
    Aborted,
}

impl Engine {
    /// Check every safety rule before anything changes; `typed` lists the
    /// protected env names the person typed to confirm.
    pub fn admit_rotation(
        &self,
        req: &RotationRequest,
        typed: &[String],
    ) -> Result<(), EngineError> {
        if let Some(why) = invalid_name(&req.name) {
            return Err(EngineError::Refused(why));
        }
        if req.envs.is_empty() {
            return Err(EngineError::Refused(
                "no env to rotate in; name at least one (--envs staging,production)".into(),
            ));
        }
        if req.value.expose().is_empty() {
            return Err(EngineError::Refused(format!(
                "the new value of {} is empty",
                req.name
            )));
        }
        for env in &req.envs {
            self.check_writable(env)?;
            let typed_env = typed.iter().find(|t| *t == env).map(String::as_str);
            self.check_confirmation(env, typed_env)?;
            let (idx, _) = self.env(env)?;
            self.provider(idx)?;
        }
        Ok(())
    }

    /// Rotate a secret across envs in order. Events report progress; the
    /// outcome is also the last event.
    pub async fn rotate(
        &self,
        req: RotationRequest,
        typed: &[String],
        events: mpsc::UnboundedSender<RotationEvent>,
        mut abort: watch::Receiver<bool>,
    ) -> RotationOutcome {
        crate::redact::remember(&req.value);
        if let Some(p) = &req.previous {
            crate::redact::remember(p);
        }
        let outcome = match self.admit_rotation(&req, typed) {
            Err(e) => {
                for env in &req.envs {
                    self.audit_refusal("secrets.rotate", env, &req.name, &e);
                }
                RotationOutcome::Refused {
                    reason: match e {
                        EngineError::Refused(r) => r,
                        other => other.to_string(),
                    },
                }
            }
            Ok(()) => self.rotate_admitted(&req, &events, &mut abort).await,
        };
        let _ = events.send(RotationEvent::Finished {
            outcome: outcome.clone(),
        });
        outcome
    }

    async fn rotate_admitted(
        &self,
        req: &RotationRequest,
        events: &mpsc::UnboundedSender<RotationEvent>,
        abort: &mut watch::Receiver<bool>,
    ) -> RotationOutcome {
        let mut rotated = Vec::new();
        for (i, env) in req.envs.iter().enumerate() {
            let untouched = req.envs[i + 1..].to_vec();
            let started = Instant::now();
            // On record before anything changes: a rotation killed half-way
            // leaves a `started` line with no result, not a silent new secret.
            let record = super::audit::AuditRecord {
                time: chrono::Utc::now(),
                actor: self.actor.user.clone(),
                host: self.actor.host.clone(),
                action: "secrets.rotate".into(),
                env: env.clone(),
                from: None,
                to: None,
                result: "started".into(),
                duration_ms: 0,
                plan_id: None,
                detail: Some(req.name.clone()),
            };
            if let Err(e) = self.audit().append(&record) {
                tracing::error!("audit log append failed: {e}");
            }
            let end = self.rotate_env(req, env, events, abort).await;
            let took = started.elapsed().as_millis() as u64;
            match end {
                EnvEnd::Done => {
                    self.audit_action(
                        "secrets.rotate",
                        env,
                        None,
                        true,
                        took,
                        Some(req.name.clone()),
                    );
                    rotated.push(env.clone());
                }
                EnvEnd::GateFailed(reason) => {
                    self.audit_action(
                        "secrets.rotate",
                        env,
                        None,
                        false,
                        took,
                        Some(format!("{}: gate failed: {reason}", req.name)),
                    );
                    let can_restore = req.previous.is_some();
                    let restored = if req.restore_on_fail {
                        match &req.previous {
                            Some(previous) => self
                                .restore_secret(
                                    SecretsAt {
                                        env,
                                        service: req.service.as_deref(),
                                    },
                                    &req.name,
                                    previous.clone(),
                                    events,
                                )
                                .await
                                .is_ok(),
                            None => false,
                        }
                    } else {
                        false
                    };
                    return RotationOutcome::GateFailed {
                        env: env.clone(),
                        reason,
                        rotated,
                        untouched,
                        restored,
                        can_restore,
                    };
                }
                EnvEnd::Failed(reason) => {
                    self.audit_action(
                        "secrets.rotate",
                        env,
                        None,
                        false,
                        took,
                        Some(format!("{}: {reason}", req.name)),
                    );
                    return RotationOutcome::Failed {
                        env: env.clone(),
                        reason,
                        rotated,
                        untouched,
                    };
                }
                EnvEnd::Aborted => {
                    self.audit_action(
                        "secrets.rotate",
                        env,
                        None,
                        false,
                        took,
                        Some(format!("{}: aborted by the operator", req.name)),
                    );
                    return RotationOutcome::Aborted {
                        env: env.clone(),
                        rotated,
                    };
                }
            }
        }
        RotationOutcome::Completed { envs: rotated }
    }

    async fn rotate_env(
        &self,
        req: &RotationRequest,
        env: &str,
        events: &mpsc::UnboundedSender<RotationEvent>,
        abort: &mut watch::Receiver<bool>,
    ) -> EnvEnd {
        let holder = LockHolder {
            user: self.actor.user.clone(),
            host: self.actor.host.clone(),
            pid: std::process::id(),
            started: Utc::now(),
            plan_id: format!("rotate-{}-{}", req.name, Utc::now().format("%Y%m%dT%H%M%S")),
            action: "rotate".into(),
            paused: None,
        };
        let lock = match lock::acquire(&self.paths.locks(), env, holder) {
            Ok(lock) => lock,
            Err(e) => return EnvEnd::Failed(e.to_string()),
        };
        let end = self
            .rotate_env_locked(req, env, req.value.clone(), events, abort)
            .await;
        if let Err(e) = lock.release() {
            tracing::warn!("releasing the lock of {env}: {e}");
        }
        end
    }

    async fn rotate_env_locked(
        &self,
        req: &RotationRequest,
        env: &str,
        value: SecretValue,
        events: &mpsc::UnboundedSender<RotationEvent>,
        abort: &mut watch::Receiver<bool>,
    ) -> EnvEnd {
        if let Err(reason) = self
            .set_and_apply(
                SecretsAt {
                    env,
                    service: req.service.as_deref(),
                },
                &req.name,
                value,
                events,
                abort,
            )
            .await
        {
            return reason;
        }
        let Ok((idx, _)) = self.env(env) else {
            return EnvEnd::Failed(format!("unknown env `{env}`"));
        };
        step(events, env, RotationStep::Gate, None);
        let sink = events.clone();
        let env_name = env.to_string();
        let sampler = super::gates::Sampler::new(self.client.clone(), &self.config.envs[idx])
            .with_platform(self.platform(idx));
        let end = run_gate(sampler, GateMode::Health, abort, |sample, tracker| {
            let _ = sink.send(RotationEvent::Gate {
                env: env_name.clone(),
                passes: tracker.in_row(),
                failures: tracker.failures(),
                failing: sample.failures.clone(),
            });
        })
        .await;
        match end {
            GateEnd::Passed(figures) => {
                step(
                    events,
                    env,
                    RotationStep::Gate,
                    Some((StepStatus::Ok, figures)),
                );
                EnvEnd::Done
            }
            GateEnd::Failed(reason) => {
                step(
                    events,
                    env,
                    RotationStep::Gate,
                    Some((StepStatus::Failed, reason.clone())),
                );
                EnvEnd::GateFailed(reason)
            }
            GateEnd::Aborted => EnvEnd::Aborted,
        }
    }

    /// Set the value (staged where possible), apply it and wait for the instances.
    async fn set_and_apply(
        &self,
        at: SecretsAt<'_>,
        name: &str,
        value: SecretValue,
        events: &mpsc::UnboundedSender<RotationEvent>,
        abort: &mut watch::Receiver<bool>,
    ) -> Result<(), EnvEnd> {
        let env = at.env;
        let (idx, cfg) = self.env(env).map_err(|e| EnvEnd::Failed(e.to_string()))?;
        let provider = self
            .provider(idx)
            .map_err(|e| EnvEnd::Failed(e.to_string()))?;
        let target = self
            .secret_target(idx, at.service)
            .map_err(|e| EnvEnd::Failed(e.to_string()))?;
        let stage = provider.capabilities().stage_secrets;
        step(events, env, RotationStep::Set, None);
        if let Err(e) = provider
            .set_secrets(&target, vec![(name.to_string(), Some(value))], stage)
            .await
        {
            let reason = format!("setting {name}: {e}");
            step(
                events,
                env,
                RotationStep::Set,
                Some((StepStatus::Failed, reason.clone())),
            );
            return Err(EnvEnd::Failed(reason));
        }
        let how = if stage { "staged" } else { "set" };
        step(
            events,
            env,
            RotationStep::Set,
            Some((StepStatus::Ok, format!("{name} {how}"))),
        );
        step(events, env, RotationStep::Apply, None);
        if stage {
            match provider.apply_secrets(&target).await {
                Ok(release) => step(
                    events,
                    env,
                    RotationStep::Apply,
                    Some((
                        StepStatus::Ok,
                        release.map_or("applied".into(), |r| format!("applied as {}", r.id)),
                    )),
                ),
                Err(e) => {
                    let reason = format!("applying {name}: {e}");
                    step(
                        events,
                        env,
                        RotationStep::Apply,
                        Some((StepStatus::Failed, reason.clone())),
                    );
                    return Err(EnvEnd::Failed(reason));
                }
            }
        } else {
            step(
                events,
                env,
                RotationStep::Apply,
                Some((StepStatus::Skipped, "the provider restarts on set".into())),
            );
        }
        step(events, env, RotationStep::Wait, None);
        // The platform needs a moment to start replacing instances.
        tokio::time::sleep(Duration::from_millis(200)).await;
        match wait_instances(
            provider.as_ref(),
            &target,
            cfg.rollout.wait_timeout.0,
            abort,
            true,
        )
        .await
        {
            WaitEnd::Up(detail) => {
                step(
                    events,
                    env,
                    RotationStep::Wait,
                    Some((StepStatus::Ok, detail)),
                );
                Ok(())
            }
            WaitEnd::TimedOut(detail) => {
                step(
                    events,
                    env,
                    RotationStep::Wait,
                    Some((StepStatus::Failed, detail.clone())),
                );
                Err(EnvEnd::Failed(detail))
            }
            WaitEnd::Aborted => Err(EnvEnd::Aborted),
        }
    }

    /// Put a previous value back in one env (after a failed gate), apply it and wait.
    pub async fn restore_secret(
        &self,
        at: SecretsAt<'_>,
        name: &str,
        previous: SecretValue,
        events: &mpsc::UnboundedSender<RotationEvent>,
    ) -> Result<(), String> {
        let env = at.env;
        crate::redact::remember(&previous);
        step(events, env, RotationStep::Restore, None);
        let started = Instant::now();
        let (_tx, mut no_abort) = watch::channel(false);
        let result = self
            .set_and_apply(at, name, previous, events, &mut no_abort)
            .await
            .map_err(|end| match end {
                EnvEnd::Failed(r) | EnvEnd::GateFailed(r) => r,
                EnvEnd::Done | EnvEnd::Aborted => "interrupted".into(),
            });
        self.audit_action(
            "secrets.restore",
            env,
            None,
            result.is_ok(),
            started.elapsed().as_millis() as u64,
            Some(match &result {
                Ok(()) => name.to_string(),
                Err(e) => format!("{name}: {e}"),
            }),
        );
        step(
            events,
            env,
            RotationStep::Restore,
            Some(match &result {
                Ok(()) => (StepStatus::Ok, "previous value back".into()),
                Err(e) => (StepStatus::Failed, e.clone()),
            }),
        );
        result
    }
}

fn step(
    events: &mpsc::UnboundedSender<RotationEvent>,
    env: &str,
    step: RotationStep,
    end: Option<(StepStatus, String)>,
) {
    let event = match end {
        None => RotationEvent::StepStarted {
            env: env.into(),
            step,
        },
        Some((status, detail)) => RotationEvent::StepFinished {
            env: env.into(),
            step,
            status,
            detail: crate::sanitize::sanitize(&detail),
        },
    };
    let _ = events.send(event);
}
