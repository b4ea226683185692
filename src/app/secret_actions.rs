//! The Secrets panel's actions: `n` new, `e` set, `d` unset, `r` rotate.
//! Opens the form or confirmation, turns a submitted form into an engine
//! effect, and folds rotation progress into the dialog. Pure, like `update`.

use crossterm::event::KeyCode;

use super::msg::Effect;
use crate::engine::rotate::{RotationEvent, RotationRequest};
use crate::keymap::{Action, Key};
use crate::state::State;
use crate::state::secrets_ui::{
    EnvChoice, FormEvent, FormKind, RotationView, SecretForm, UnsetConfirm,
};

fn selected_name(state: &State) -> Option<String> {
    state
        .env()
        .and_then(|e| e.secrets_of(state.svc_idx).data())
        .and_then(|list| list.get(state.secret_idx))
        .map(|s| s.name.clone())
}

/// The env, then its promote_to chain, as rotation choices.
fn chain(state: &State) -> Vec<EnvChoice> {
    let mut out: Vec<EnvChoice> = Vec::new();
    let mut cur = state.env().map(|e| e.name.clone());
    while let Some(name) = cur {
        if out.iter().any(|c| c.name == name) {
            break;
        }
        let view = state.envs.iter().find(|e| e.name == name);
        out.push(EnvChoice {
            name: name.clone(),
            on: true,
            protected: view.is_some_and(|v| v.protected),
        });
        cur = view.and_then(|v| v.promote_to.clone());
    }
    out
}

/// A secret action chosen by key.
pub fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    if let Some(why) = state.disabled(action) {
        state.toast(format!("{}: {why}", action.describe()), true);
        return vec![];
    }
    let Some(env) = state.env().map(|e| e.name.clone()) else {
        return vec![];
    };
    let name = selected_name(state);
    let single = chain(state).into_iter().take(1).collect();
    let form = match action {
        Action::SecretNew => SecretForm::new(FormKind::New, &env, None, single),
        Action::SecretSet => SecretForm::new(FormKind::Set, &env, name.as_deref(), single),
        Action::SecretRotate => {
            SecretForm::new(FormKind::Rotate, &env, name.as_deref(), chain(state))
        }
        Action::SecretUnset => {
            let protected = state.env().is_some_and(|e| e.protected);
            state.secrets_ui.unset = Some(UnsetConfirm {
                env,
                name: name.unwrap_or_default(),
                protected,
                typed: String::new(),
            });
            return vec![];
        }
        _ => return vec![],
    };
    state.secrets_ui.form = Some(Box::new(form));
    vec![]
}

/// A key while one of our dialogs is open.
pub fn on_key(state: &mut State, key: Key) -> Vec<Effect> {
    if state.secrets_ui.form.is_some() {
        return on_form_key(state, key);
    }
    // Modals keep the selection: the service is the one the action opened on.
    let service = state.secret_service();
    if let Some(mut confirm) = state.secrets_ui.unset.take() {
        return match key.code {
            KeyCode::Esc => vec![],
            KeyCode::Enter | KeyCode::Char('y') if !confirm.protected => {
                vec![Effect::SecretUnset {
                    env: confirm.env,
                    service,
                    name: confirm.name,
                    typed: None,
                }]
            }
            KeyCode::Enter if confirm.typed == confirm.env => vec![Effect::SecretUnset {
                typed: Some(confirm.typed.clone()),
                env: confirm.env,
                service,
                name: confirm.name,
            }],
            KeyCode::Backspace => {
                confirm.typed.pop();
                state.secrets_ui.unset = Some(confirm);
                vec![]
            }
            KeyCode::Char(c) if confirm.protected && confirm.typed.len() < 64 => {
                confirm.typed.push(c);
                state.secrets_ui.unset = Some(confirm);
                vec![]
            }
            _ => {
                state.secrets_ui.unset = Some(confirm);
                vec![]
            }
        };
    }
    let Some(view) = state.secrets_ui.rotation.as_mut() else {
        return vec![];
    };
    match key.code {
        KeyCode::Char('a') if view.running() => {
            state.toast("aborting the rotation…".into(), false);
            vec![Effect::AbortRotation]
        }
        KeyCode::Char('r') if view.restorable().is_some() => {
            let env = view.restorable().unwrap_or_default().to_string();
            let name = view.name.clone();
            match view.previous.take() {
                Some(previous) => {
                    vec![Effect::RestoreSecret {
                        env,
                        service,
                        name,
                        previous,
                    }]
                }
                None => vec![],
            }
        }
        KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') if !view.running() => {
            // Closing drops the previous value (zeroized).
            state.secrets_ui.rotation = None;
            vec![]
        }
        KeyCode::Esc => {
            state.toast("the rotation keeps running; a aborts it".into(), false);
            vec![]
        }
        // Quitting mid-rotation asks first, as it does mid-plan.
        KeyCode::Char('q') => {
            super::update::quit_or_warn(state);
            vec![]
        }
        _ => vec![],
    }
}

/// Pasted text while the form is open.
pub fn on_paste(state: &mut State, text: &str) {
    if let Some(form) = state.secrets_ui.form.as_mut() {
        form.on_paste(text);
    }
}

fn on_form_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(form) = state.secrets_ui.form.as_mut() else {
        return vec![];
    };
    match form.on_key(key) {
        FormEvent::Editing => vec![],
        FormEvent::Cancelled => {
            state.secrets_ui.form = None;
            vec![]
        }
        FormEvent::Submit => {
            let Some(mut form) = state.secrets_ui.form.take() else {
                return vec![];
            };
            let name = form.name_text();
            let typed = form.confirm_text();
            let envs = form.chosen_envs();
            let (value, previous) = form.take_values();
            let service = state.secret_service();
            match form.kind {
                FormKind::New | FormKind::Set => vec![Effect::SecretSet {
                    env: form.env.clone(),
                    service,
                    name,
                    value,
                    typed,
                }],
                FormKind::Rotate => {
                    state.secrets_ui.rotation = Some(RotationView::new(
                        name.clone(),
                        envs.clone(),
                        previous.clone(),
                    ));
                    vec![Effect::Rotate {
                        req: Box::new(RotationRequest {
                            name,
                            envs,
                            value,
                            previous,
                            restore_on_fail: false,
                            service,
                        }),
                        typed: typed
                            .map(|t| t.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                    }]
                }
            }
        }
    }
}

/// Rotation progress from the engine.
pub fn on_rotation(state: &mut State, event: RotationEvent) -> Vec<Effect> {
    let finished = matches!(event, RotationEvent::Finished { .. });
    let view = state
        .secrets_ui
        .rotation
        .get_or_insert_with(|| RotationView::new(String::new(), Vec::new(), None));
    view.apply(event);
    if finished {
        // Re-read every env the rotation touched.
        let touched: Vec<usize> = state
            .envs
            .iter()
            .enumerate()
            .filter(|(_, e)| view.envs.contains(&e.name))
            .map(|(i, _)| i)
            .collect();
        return touched
            .into_iter()
            .map(|env| Effect::Refresh { env })
            .collect();
    }
    vec![]
}
