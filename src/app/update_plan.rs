//! The plan-related half of `update`: starting promotions and rollbacks,
//! confirm dialogs (typed confirmation on protected envs), the live ladder,
//! abort, unpin, interrupted plans and the audit view. Pure, like `update`.

use crossterm::event::KeyCode;

use super::msg::{Effect, Msg};
use crate::engine::{PlanOutcome, ResumeMode};
use crate::keymap::{Action, Key};
use crate::sanitize::sanitize;
use crate::state::{Dialog, Load, Modal, Panel, RolloutView, State};

/// Run a plan action chosen by key; returns the effects.
pub fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    if action == Action::Promote && state.rollout.as_ref().is_some_and(RolloutView::running) {
        state.rollout_visible = true;
        return vec![];
    }
    if let Some(why) = state.disabled(action) {
        state.toast(format!("{}: {why}", action.describe()), true);
        return vec![];
    }
    let Some(env) = state.env() else {
        return vec![];
    };
    let name = env.name.clone();
    match action {
        Action::Promote => {
            let to = env.promote_to.clone().unwrap_or_default();
            state.dialog = Some(Dialog::Working(format!(
                "planning promotion {name} → {to}…"
            )));
            vec![Effect::PreviewPromote { from: name, to }]
        }
        Action::Rollback => {
            // From the Releases panel, roll back to the selected release; else to the previous good one.
            // From the Releases panel, the selected service's unit goes to the
            // selected release; elsewhere every unit goes to its previous good one.
            let from_panel = state.focus == Panel::Releases;
            let to = from_panel
                .then(|| {
                    state
                        .releases()
                        .and_then(Load::data)
                        .and_then(|r| r.get(state.release_idx))
                })
                .flatten()
                .filter(|r| !r.current)
                .map(|r| r.id.clone());
            let service = to
                .as_ref()
                .and_then(|_| state.service())
                .map(|s| s.name.clone());
            state.dialog = Some(Dialog::Working(format!("planning rollback of {name}…")));
            vec![Effect::PreviewRollback {
                env: name,
                to,
                service,
            }]
        }
        Action::Abort => {
            if let Some(r) = state.rollout.as_mut() {
                r.abort_requested = true;
            }
            state.rollout_visible = true;
            state.toast(
                "aborting: the step in flight finishes or is reversed".into(),
                false,
            );
            vec![Effect::AbortPlan]
        }
        Action::Unpin => {
            state.dialog = Some(Dialog::Unpin { env: name });
            vec![]
        }
        Action::Migrations => {
            state.modal = Some(Modal::Migrations);
            vec![Effect::LoadMigrations { env: state.env_idx }]
        }
        Action::Approve => super::approvals::on_action(state),
        Action::Audit => {
            state.modal = Some(Modal::Audit { scroll: 0 });
            state.audit = Load::Loading;
            vec![Effect::LoadAudit]
        }
        _ => vec![],
    }
}

/// Keys while a dialog is open. Returns the effects.
pub fn on_dialog_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(dialog) = state.dialog.take() else {
        return vec![];
    };
    match dialog {
        Dialog::Working(text) => {
            if key.code != KeyCode::Esc {
                state.dialog = Some(Dialog::Working(text));
            }
            vec![]
        }
        Dialog::Error(_) | Dialog::Info { .. } => vec![],
        Dialog::Migrate {
            env,
            op,
            protected,
            mut typed,
        } => match key.code {
            KeyCode::Esc => vec![],
            KeyCode::Enter | KeyCode::Char('y') if !protected => {
                migrate_effect(state, &env, op, None)
            }
            KeyCode::Enter if typed == env => migrate_effect(state, &env, op, Some(typed)),
            KeyCode::Backspace => {
                typed.pop();
                state.dialog = Some(Dialog::Migrate {
                    env,
                    op,
                    protected,
                    typed,
                });
                vec![]
            }
            KeyCode::Char(c) if protected && typed.len() < 64 => {
                typed.push(c);
                state.dialog = Some(Dialog::Migrate {
                    env,
                    op,
                    protected,
                    typed,
                });
                vec![]
            }
            _ => {
                state.dialog = Some(Dialog::Migrate {
                    env,
                    op,
                    protected,
                    typed,
                });
                vec![]
            }
        },
        dialog @ Dialog::Approve { .. } => super::approvals::on_key(state, dialog, key),
        Dialog::Unpin { env } => match key.code {
            KeyCode::Enter | KeyCode::Char('y') => vec![Effect::Unpin { env }],
            KeyCode::Esc | KeyCode::Char('n') => vec![],
            _ => {
                state.dialog = Some(Dialog::Unpin { env });
                vec![]
            }
        },
        Dialog::Interrupted {
            plans,
            confirm: Some((mode, mut typed)),
        } => {
            // A protected env: its name typed back before either choice deploys there.
            let Some(first) = plans.first().cloned() else {
                return vec![];
            };
            match key.code {
                KeyCode::Enter if typed == first.env => {
                    state.rollout_visible = true;
                    vec![Effect::Resume {
                        plan_id: first.plan_id,
                        mode,
                        typed: Some(typed),
                    }]
                }
                KeyCode::Esc => {
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: None,
                    });
                    vec![]
                }
                KeyCode::Backspace => {
                    typed.pop();
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: Some((mode, typed)),
                    });
                    vec![]
                }
                KeyCode::Char(c) if typed.len() < 64 => {
                    typed.push(c);
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: Some((mode, typed)),
                    });
                    vec![]
                }
                _ => {
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: Some((mode, typed)),
                    });
                    vec![]
                }
            }
        }
        Dialog::Interrupted {
            plans,
            confirm: None,
        } => {
            let first = plans.first().cloned();
            let mode = match key.code {
                KeyCode::Char('r') => Some(ResumeMode::Resume),
                KeyCode::Char('b') => Some(ResumeMode::Rollback),
                // Only a paused plan is closed as it stands.
                KeyCode::Char('x') if first.as_ref().is_some_and(|p| p.paused.is_some()) => {
                    Some(ResumeMode::Abandon)
                }
                _ => None,
            };
            match (key.code, first, mode) {
                (_, Some(first), Some(mode)) if first.protected => {
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: Some((mode, String::new())),
                    });
                    vec![]
                }
                (_, Some(first), Some(mode)) => {
                    state.rollout_visible = true;
                    vec![Effect::Resume {
                        plan_id: first.plan_id,
                        mode,
                        typed: None,
                    }]
                }
                (KeyCode::Esc, _, _) => {
                    state.toast(
                        "interrupted plan left as is; it is offered again at the next start".into(),
                        false,
                    );
                    vec![]
                }
                _ => {
                    state.dialog = Some(Dialog::Interrupted {
                        plans,
                        confirm: None,
                    });
                    vec![]
                }
            }
        }
        Dialog::Confirm { preview, mut typed } => {
            let env = preview.plan.target_env.clone();
            match key.code {
                KeyCode::Esc => {
                    state.toast(
                        format!("{} of {env} cancelled", preview.plan.action.word()),
                        false,
                    );
                    vec![]
                }
                KeyCode::Enter | KeyCode::Char('y') if !preview.protected => {
                    start(state, *preview, None)
                }
                KeyCode::Enter if typed == env => start(state, *preview, Some(typed)),
                KeyCode::Enter => {
                    state.toast(
                        format!("type `{env}` exactly to confirm, or esc to cancel"),
                        true,
                    );
                    state.dialog = Some(Dialog::Confirm { preview, typed });
                    vec![]
                }
                KeyCode::Backspace => {
                    typed.pop();
                    state.dialog = Some(Dialog::Confirm { preview, typed });
                    vec![]
                }
                KeyCode::Char(c) if preview.protected && typed.len() < 64 => {
                    typed.push(c);
                    state.dialog = Some(Dialog::Confirm { preview, typed });
                    vec![]
                }
                _ => {
                    state.dialog = Some(Dialog::Confirm { preview, typed });
                    vec![]
                }
            }
        }
    }
}

fn migrate_effect(
    state: &mut State,
    env: &str,
    op: crate::migrate::run::Op,
    typed: Option<String>,
) -> Vec<Effect> {
    let Some(idx) = state.envs.iter().position(|e| e.name == env) else {
        return vec![];
    };
    state.toast(format!("migrate {env} {}…", op.describe()), false);
    state.migration_output.clear();
    vec![Effect::Migrate {
        env: idx,
        op,
        typed,
    }]
}

/// Keys inside the migrations panel: u applies pending migrations, d reverts one.
pub fn on_migrations_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(env) = state.env() else {
        return vec![];
    };
    let op = match key.code {
        KeyCode::Char('u') => crate::migrate::run::Op::Up(None),
        KeyCode::Char('d') => crate::migrate::run::Op::Down(1),
        _ => {
            state.modal = None;
            return vec![];
        }
    };
    if state.read_only || env.read_only {
        let why = if state.read_only {
            "shipdeck runs with --read-only"
        } else {
            "this env is read_only in config"
        };
        state.toast(format!("migrate: {why}"), true);
        return vec![];
    }
    let (name, protected) = (env.name.clone(), env.protected && op.destructive());
    let needs_confirm = op.destructive()
        || env
            .migrations
            .data()
            .is_some_and(|m| !m.findings.is_empty());
    if needs_confirm {
        state.dialog = Some(Dialog::Migrate {
            env: name,
            op,
            protected,
            typed: String::new(),
        });
        vec![]
    } else {
        migrate_effect(state, &name, op, None)
    }
}

fn start(state: &mut State, preview: crate::engine::Preview, typed: Option<String>) -> Vec<Effect> {
    let plan = preview.plan;
    state.rollout = Some(RolloutView::new(plan.clone()));
    state.rollout_visible = true;
    vec![Effect::RunPlan {
        plan: Box::new(plan),
        typed,
    }]
}

/// Plan-related messages. Returns effects and whether to redraw.
pub fn on_msg(state: &mut State, msg: Msg) -> (Vec<Effect>, bool) {
    match msg {
        Msg::Approvals { env, result } => (vec![], super::approvals::on_loaded(state, env, result)),
        Msg::InterruptedRotations(advice) => {
            let text = advice
                .iter()
                .map(|a| sanitize(a))
                .collect::<Vec<_>>()
                .join("\n");
            if state.dialog.is_none() {
                state.dialog = Some(Dialog::Info {
                    title: "interrupted rotation".into(),
                    text,
                });
            } else {
                state.toast(text, true);
            }
            (vec![], true)
        }
        Msg::Preview(result) => {
            // Ignore a preview the user cancelled meanwhile.
            if !matches!(state.dialog, Some(Dialog::Working(_))) {
                return (vec![], false);
            }
            state.dialog = Some(match result {
                Ok(preview) => Dialog::Confirm {
                    preview,
                    typed: String::new(),
                },
                Err(e) => Dialog::Error(sanitize(&e)),
            });
            (vec![], true)
        }
        Msg::Plan(event) => {
            let now = state.now;
            let finished = matches!(event, crate::engine::PlanEvent::Finished { .. });
            let rollout = state.rollout.get_or_insert_with(|| match &event {
                crate::engine::PlanEvent::Started { plan, .. } => {
                    RolloutView::new((**plan).clone())
                }
                _ => RolloutView::new(placeholder_plan()),
            });
            rollout.apply(event, now);
            if !finished {
                return (vec![], true);
            }
            let (text, error, target) = match &rollout.outcome {
                Some(outcome) => (
                    format!(
                        "{} {}: {}",
                        rollout.plan.action.word(),
                        rollout.plan.target_env,
                        outcome.describe()
                    ),
                    !matches!(outcome, PlanOutcome::Completed),
                    rollout.plan.target_env.clone(),
                ),
                None => (String::new(), false, String::new()),
            };
            let paused = match &rollout.outcome {
                Some(PlanOutcome::Paused { reason }) => Some((
                    reason.clone(),
                    rollout.plan.id.clone(),
                    rollout.plan.action.word(),
                    rollout.plan.from_to().1,
                )),
                _ => None,
            };
            state.toast(sanitize(&text), error);
            // A paused plan holds for a decision: offer it now, with its numbers.
            if let Some((reason, plan_id, action, to)) = paused {
                let env = target.clone();
                let protected = state
                    .envs
                    .iter()
                    .find(|e| e.name == env)
                    .is_none_or(|e| e.protected);
                state.dialog = Some(Dialog::Interrupted {
                    plans: vec![crate::state::InterruptedPlan {
                        plan_id,
                        summary: sanitize(&format!(
                            "{action} of {env} to {to}, paused after a failed gate"
                        )),
                        paused: Some(sanitize(&reason)),
                        env,
                        protected,
                    }],
                    confirm: None,
                });
            }
            let mut effects = vec![Effect::LoadMarks];
            if let Some(idx) = state.envs.iter().position(|e| e.name == target) {
                effects.push(Effect::Refresh { env: idx });
            }
            (effects, true)
        }
        Msg::EnvMarks { pins, locks } => {
            let pins = pins.into_iter().map(|p| (p.env.clone(), p)).collect();
            let locks = locks.into_iter().collect();
            let changed = state.pins != pins || state.locks != locks;
            state.pins = pins;
            state.locks = locks;
            (vec![], changed)
        }
        Msg::Interrupted(plans) => {
            if !plans.is_empty() {
                state.dialog = Some(Dialog::Interrupted {
                    plans,
                    confirm: None,
                });
            }
            (vec![], true)
        }
        Msg::Audit(result) => {
            let now = state.now;
            state.audit.apply(result.map_err(|e| sanitize(&e)), now);
            (vec![], true)
        }
        Msg::Migrations { env, result } => {
            let now = state.now;
            if let Some(view) = state.envs.get_mut(env) {
                view.migrations.apply(result.map_err(|e| sanitize(&e)), now);
            }
            (vec![], true)
        }
        Msg::Info { title, text } => {
            state.dialog = Some(Dialog::Info {
                title: sanitize(&title),
                text: sanitize(&text),
            });
            (vec![], true)
        }
        Msg::Done { text, error } => {
            state.toast(sanitize(&text), error);
            (vec![Effect::LoadMarks], true)
        }
        _ => (vec![], false),
    }
}

/// A stand-in when events arrive for a plan this UI did not start (never drawn empty for long).
fn placeholder_plan() -> crate::engine::plan::Plan {
    crate::engine::plan::Plan {
        id: String::new(),
        action: crate::engine::plan::PlanAction::Promote,
        source_env: None,
        target_env: String::new(),
        units: Vec::new(),
        stages: Vec::new(),
        steps: Vec::new(),
        on_fail: crate::config::OnFail::Rollback,
        migrate_to: None,
        actor: String::new(),
        created_at: chrono::Utc::now(),
    }
}
