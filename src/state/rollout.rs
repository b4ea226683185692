//! The live step ladder of a running plan, and the dialogs around plans.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;

use crate::engine::plan::Plan;
use crate::engine::{PlanEvent, PlanOutcome, Preview, StepStatus};

/// Output lines kept per step.
const OUTPUT_LINES: usize = 4;

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Not reached.
    Pending,
    /// Running since.
    Running(DateTime<Utc>),
    /// Finished.
    Done(StepStatus),
}

/// The latest gate sample of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateView {
    /// Passing samples in a row.
    pub passes: u32,
    /// Failing samples so far.
    pub failures: u32,
    /// Figures.
    pub figures: Vec<String>,
    /// Why the last sample failed.
    pub failing: Vec<String>,
}

/// One row of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    /// Step name.
    pub name: String,
    /// State.
    pub state: StepState,
    /// Seconds it took, once done.
    pub took: Option<f64>,
    /// Result detail.
    pub detail: String,
    /// Latest output lines.
    pub output: VecDeque<String>,
    /// Latest gate sample.
    pub gate: Option<GateView>,
}

/// A plan as shown while it runs and after it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutView {
    /// The plan.
    pub plan: Plan,
    /// Its steps.
    pub steps: Vec<StepView>,
    /// Set while the deploy is being undone.
    pub reverting: Option<String>,
    /// How it ended.
    pub outcome: Option<PlanOutcome>,
    /// An abort was requested.
    pub abort_requested: bool,
    /// Records the plan could not write (journal, audit log), for the ladder's foot.
    pub warnings: Vec<String>,
}

impl RolloutView {
    /// A ladder for a plan about to start.
    pub fn new(plan: Plan) -> RolloutView {
        let steps = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, _)| StepView {
                name: plan.step_name(i),
                state: StepState::Pending,
                took: None,
                detail: String::new(),
                output: VecDeque::new(),
                gate: None,
            })
            .collect();
        RolloutView {
            warnings: Vec::new(),
            plan,
            steps,
            reverting: None,
            outcome: None,
            abort_requested: false,
        }
    }

    /// Whether the plan is still running.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// The step running now.
    pub fn current_step(&self) -> Option<&StepView> {
        self.steps
            .iter()
            .find(|s| matches!(s.state, StepState::Running(_)))
    }

    fn output(&mut self, index: usize, line: String) {
        if let Some(s) = self.steps.get_mut(index) {
            if s.output.len() == OUTPUT_LINES {
                s.output.pop_front();
            }
            s.output.push_back(line);
        }
    }

    /// A unit's progress line: it replaces the unit's earlier line, so each
    /// machine or job keeps one line with its latest state.
    fn unit_output(&mut self, index: usize, key: &str, line: String) {
        if let Some(s) = self.steps.get_mut(index)
            && let Some(old) = s.output.iter_mut().find(|l| l.starts_with(key))
        {
            *old = line;
            return;
        }
        self.output(index, line);
    }

    /// Fold an engine event in.
    pub fn apply(&mut self, event: PlanEvent, now: DateTime<Utc>) {
        match event {
            PlanEvent::Started { plan, from_step } => {
                let mut fresh = RolloutView::new(*plan);
                for step in fresh.steps.iter_mut().take(from_step) {
                    step.state = StepState::Done(StepStatus::Ok);
                    step.detail = "done before the interruption".into();
                }
                *self = fresh;
            }
            PlanEvent::StepStarted { index, .. } => {
                if let Some(s) = self.steps.get_mut(index) {
                    s.state = StepState::Running(now);
                }
            }
            PlanEvent::StepOutput { index, line } => self.output(index, line),
            PlanEvent::DeployProgress {
                index,
                services,
                progress,
                ..
            } => {
                let key = format!(
                    "{} {}/{} {} ",
                    services.join("+"),
                    progress.index,
                    progress.total,
                    progress.unit
                );
                let line = format!(
                    "{key}{}: {}",
                    match progress.state {
                        crate::provider::UnitState::Started => "…",
                        crate::provider::UnitState::Done => "✓",
                        crate::provider::UnitState::Skipped => "=",
                        crate::provider::UnitState::Failed => "✗",
                    },
                    progress.detail
                );
                self.unit_output(index, &key, line);
            }
            PlanEvent::Gate {
                index,
                passes,
                failures,
                figures,
                failing,
            } => {
                if let Some(s) = self.steps.get_mut(index) {
                    s.gate = Some(GateView {
                        passes,
                        failures,
                        figures,
                        failing,
                    });
                }
            }
            PlanEvent::StepFinished {
                index,
                status,
                detail,
                took_ms,
                ..
            } => {
                if let Some(s) = self.steps.get_mut(index) {
                    s.took = Some(took_ms as f64 / 1000.0);
                    s.state = StepState::Done(status);
                    s.detail = detail;
                }
            }
            PlanEvent::Reverting { reason } => self.reverting = Some(reason),
            PlanEvent::Warning { message } => self.warnings.push(message),
            PlanEvent::Finished { outcome } => self.outcome = Some(outcome),
        }
    }
}

/// A plan a crash interrupted, as offered at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedPlan {
    /// Plan id.
    pub plan_id: String,
    /// The env it changes.
    pub env: String,
    /// Whether that env needs its name typed back (resume and roll back both deploy there).
    pub protected: bool,
    /// One line: what, where, at which step.
    pub summary: String,
    /// Paused after a failed gate (its failing numbers), rather than cut short.
    pub paused: Option<String>,
}

/// Dialogs in front of the panels.
#[derive(Debug, Clone)]
pub enum Dialog {
    /// Waiting for a preview.
    Working(String),
    /// Confirm a plan: the diff, and (protected envs) the typed env name.
    Confirm {
        /// What will change.
        preview: Box<Preview>,
        /// What the user typed.
        typed: String,
    },
    /// Confirm a migration operation (typed on protected envs when destructive).
    Migrate {
        /// Env.
        env: String,
        /// Operation.
        op: crate::migrate::run::Op,
        /// Whether the env name must be typed.
        protected: bool,
        /// What the user typed.
        typed: String,
    },
    /// A deploy waiting for a reviewer: approve or reject it.
    Approve {
        /// Env.
        env: String,
        /// What waits.
        approval: crate::provider::Approval,
        /// Whether the env name must be typed.
        protected: bool,
        /// Approve (true) or reject, once chosen on a protected env.
        choice: Option<bool>,
        /// What the user typed.
        typed: String,
    },
    /// Confirm removing a pin.
    Unpin {
        /// Env.
        env: String,
    },
    /// Plans a crash left unfinished.
    Interrupted {
        /// Them.
        plans: Vec<InterruptedPlan>,
        /// What was chosen on a protected env, and the name typed so far.
        confirm: Option<(crate::engine::ResumeMode, String)>,
    },
    /// An error to acknowledge.
    Error(String),
    /// Information to read (a command to copy, …).
    Info {
        /// Title.
        title: String,
        /// Text (sanitised).
        text: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{UnitProgress, UnitState};

    fn plan() -> crate::engine::plan::Plan {
        crate::engine::plan::Plan {
            id: "p-1".into(),
            action: crate::engine::plan::PlanAction::Promote,
            source_env: None,
            target_env: "production".into(),
            units: Vec::new(),
            stages: Vec::new(),
            steps: vec![crate::engine::plan::StepKind::Deploy { stage: 0 }],
            on_fail: crate::config::OnFail::Rollback,
            migrate_to: None,
            actor: String::new(),
            created_at: chrono::Utc::now(),
        }
    }

    fn progress(unit: &str, index: usize, state: UnitState, detail: &str) -> PlanEvent {
        PlanEvent::DeployProgress {
            index: 0,
            stage: Some(0),
            services: vec!["api".into()],
            progress: UnitProgress {
                unit: unit.into(),
                index,
                total: 2,
                state,
                detail: detail.into(),
            },
        }
    }

    #[test]
    fn each_unit_keeps_one_line_with_its_latest_state() {
        let mut view = RolloutView::new(plan());
        let now = chrono::Utc::now();
        view.apply(progress("build", 1, UnitState::Started, "step 1/4"), now);
        view.apply(progress("build", 1, UnitState::Started, "step 3/4"), now);
        view.apply(progress("deploy", 2, UnitState::Started, "step 1/3"), now);
        view.apply(progress("build", 1, UnitState::Done, "passed in 28s"), now);
        let lines: Vec<&String> = view.steps[0].output.iter().collect();
        assert_eq!(
            lines,
            [
                "api 1/2 build ✓: passed in 28s",
                "api 2/2 deploy …: step 1/3"
            ]
        );
    }
}
