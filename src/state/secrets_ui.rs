//! UI state of the Secrets panel's actions: the input form, the unset
//! confirmation and the progress of a running rotation.

use crate::engine::StepStatus;
use crate::engine::rotate::{RotationEvent, RotationOutcome, RotationStep};
use crate::secrets::SecretValue;

pub use super::secret_form::{EnvChoice, Field, FormEvent, FormKind, SecretForm};

/// Everything the Secrets actions show in front of the panels.
#[derive(Debug, Clone, Default)]
pub struct SecretsUi {
    /// The open input form.
    pub form: Option<Box<SecretForm>>,
    /// The open unset confirmation.
    pub unset: Option<UnsetConfirm>,
    /// The running (or last) rotation.
    pub rotation: Option<RotationView>,
}

impl SecretsUi {
    /// Whether something of ours has the keyboard.
    pub fn captures_keys(&self) -> bool {
        self.form.is_some() || self.unset.is_some() || self.rotation.is_some()
    }
}

/// "Unset NAME in ENV?" with typed confirmation on protected envs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetConfirm {
    /// Env.
    pub env: String,
    /// Secret.
    pub name: String,
    /// Whether the env name must be typed.
    pub protected: bool,
    /// What was typed.
    pub typed: String,
}

/// One line of rotation progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationLine {
    /// Env.
    pub env: String,
    /// Step.
    pub step: RotationStep,
    /// None while running.
    pub status: Option<StepStatus>,
    /// Detail (sanitised).
    pub detail: String,
}

/// A rotation in progress or finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationView {
    /// Secret.
    pub name: String,
    /// Envs in order.
    pub envs: Vec<String>,
    /// Steps so far.
    pub lines: Vec<RotationLine>,
    /// Latest gate sample per the env being gated (`2 ok in a row`).
    pub gate: Option<String>,
    /// How it ended.
    pub outcome: Option<RotationOutcome>,
    /// The previous value, kept only until the dialog closes, for "restore".
    pub previous: Option<SecretValue>,
}

impl RotationView {
    /// A rotation about to start.
    pub fn new(name: String, envs: Vec<String>, previous: Option<SecretValue>) -> RotationView {
        RotationView {
            name,
            envs,
            lines: Vec::new(),
            gate: None,
            outcome: None,
            previous,
        }
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// The env a restore would act on: a failed gate not restored yet, with a previous value.
    pub fn restorable(&self) -> Option<&str> {
        match (&self.outcome, &self.previous) {
            (
                Some(RotationOutcome::GateFailed {
                    env,
                    restored: false,
                    ..
                }),
                Some(_),
            ) => Some(env),
            _ => None,
        }
    }

    /// Fold one engine event in.
    pub fn apply(&mut self, event: RotationEvent) {
        match event {
            RotationEvent::StepStarted { env, step } => {
                self.gate = None;
                self.lines.push(RotationLine {
                    env,
                    step,
                    status: None,
                    detail: String::new(),
                });
            }
            RotationEvent::StepFinished {
                env,
                step,
                status,
                detail,
            } => {
                self.gate = None;
                match self
                    .lines
                    .iter_mut()
                    .rev()
                    .find(|l| l.env == env && l.step == step && l.status.is_none())
                {
                    Some(line) => {
                        line.status = Some(status);
                        line.detail = detail;
                    }
                    None => self.lines.push(RotationLine {
                        env,
                        step,
                        status: Some(status),
                        detail,
                    }),
                }
            }
            RotationEvent::Gate {
                passes,
                failures,
                failing,
                ..
            } => {
                self.gate = Some(if failing.is_empty() {
                    format!("{passes} passing in a row, {failures} failed so far")
                } else {
                    format!(
                        "{failures} failed so far: {}",
                        crate::sanitize::sanitize(&failing.join(", "))
                    )
                });
            }
            RotationEvent::Finished { outcome } => {
                self.gate = None;
                self.outcome = Some(outcome);
            }
        }
    }
}
