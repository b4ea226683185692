//! Deploys waiting for a reviewer, in the TUI: `v` on an env asks its
//! provider what waits (a GitHub environment's required reviewers), and a
//! dialog shows the run and who may review it; `a` approves, `r` rejects,
//! with the env's name typed back where it is protected. The engine audits
//! the review, exactly as `shipdeck approve` does. Pure, like `update`.

use crossterm::event::KeyCode;

use super::msg::{Effect, Msg};
use crate::keymap::Key;
use crate::provider::Approval;
use crate::sanitize::sanitize;
use crate::state::{Dialog, State};

/// `v` on the selected env (already allowed by the policy).
pub fn on_action(state: &mut State) -> Vec<Effect> {
    let Some(env) = state.env() else {
        return vec![];
    };
    let name = env.name.clone();
    state.dialog = Some(Dialog::Working(format!(
        "looking for deploys of {name} waiting for a reviewer…"
    )));
    vec![Effect::LoadApprovals { env: name }]
}

/// The provider answered.
pub fn on_loaded(state: &mut State, env: String, result: Result<Vec<Approval>, String>) -> bool {
    // Ignore an answer the user cancelled meanwhile.
    if !matches!(state.dialog, Some(Dialog::Working(_))) {
        return false;
    }
    state.dialog = None;
    let protected = state
        .envs
        .iter()
        .find(|e| e.name == env)
        .is_some_and(|e| e.protected);
    match result {
        Ok(list) => match list.into_iter().next() {
            Some(approval) => {
                state.dialog = Some(Dialog::Approve {
                    env,
                    approval,
                    protected,
                    choice: None,
                    typed: String::new(),
                });
            }
            None => state.toast(format!("nothing in {env} waits for a reviewer"), false),
        },
        Err(e) => state.dialog = Some(Dialog::Error(sanitize(&e))),
    }
    true
}

/// Keys in the approval dialog.
pub fn on_key(state: &mut State, dialog: Dialog, key: Key) -> Vec<Effect> {
    let Dialog::Approve {
        env,
        approval,
        protected,
        choice,
        mut typed,
    } = dialog
    else {
        return vec![];
    };
    let review = |approve: bool, typed: Option<String>| Effect::Review {
        env: env.clone(),
        run: approval.run.clone(),
        approve,
        typed,
    };
    let keep = |state: &mut State, choice: Option<bool>, typed: String| {
        state.dialog = Some(Dialog::Approve {
            env: env.clone(),
            approval: approval.clone(),
            protected,
            choice,
            typed,
        });
    };
    match (choice, key.code) {
        (_, KeyCode::Esc) => vec![],
        (None, KeyCode::Char(c @ ('a' | 'r'))) if !protected => vec![review(c == 'a', None)],
        (None, KeyCode::Char(c @ ('a' | 'r'))) => {
            keep(state, Some(c == 'a'), String::new());
            vec![]
        }
        (Some(approve), KeyCode::Enter) if typed == env => vec![review(approve, Some(typed))],
        (Some(approve), KeyCode::Backspace) => {
            typed.pop();
            keep(state, Some(approve), typed);
            vec![]
        }
        (Some(approve), KeyCode::Char(c)) if typed.len() < 64 => {
            typed.push(c);
            keep(state, Some(approve), typed);
            vec![]
        }
        _ => {
            keep(state, choice, typed);
            vec![]
        }
    }
}

/// The review's result, as a toast.
pub fn reviewed(result: Result<String, String>) -> Msg {
    match result {
        Ok(text) => Msg::Done { text, error: false },
        Err(text) => Msg::Done { text, error: true },
    }
}
