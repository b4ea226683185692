//! The pure state transition: `update(&mut State, Msg, &Keymap) -> Vec<Effect>`.
//! No I/O, no awaiting; every branch is unit-testable.

use crossterm::event::{KeyCode, KeyModifiers};

use super::msg::{Effect, Msg};
use crate::keymap::{Action, Key, Keymap};
use crate::sanitize::sanitize;
use crate::state::Load;
use crate::state::{CALL_LOG_CAP, Modal, Panel, State};

/// Apply one message. Returns the effects to run and whether a redraw is needed.
pub fn update(state: &mut State, msg: Msg, keymap: &Keymap) -> (Vec<Effect>, bool) {
    match msg {
        Msg::Key(ev) => (on_key(state, Key::from_event(&ev), keymap), true),
        Msg::Paste(text) if state.secrets_ui.form.is_some() => {
            super::secret_actions::on_paste(state, &text);
            (vec![], true)
        }
        Msg::Paste(text) => {
            if let Some(edit) = state.logs.editing.as_mut() {
                edit.push_str(&sanitize(text.lines().next().unwrap_or("")));
            }
            (vec![], true)
        }
        Msg::Resize => (vec![], true),
        Msg::Tick(now) => {
            state.now = now;
            // Pins and lock holders change from other processes too: re-read them now and then.
            let mut effects = if now.timestamp() % 5 == 0 {
                vec![Effect::LoadMarks]
            } else {
                vec![]
            };
            if now.timestamp() % 15 == 0 {
                effects.extend(
                    state
                        .envs
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.has_migrations)
                        .map(|(env, _)| Effect::LoadMigrations { env }),
                );
            }
            if state
                .toast
                .as_ref()
                .is_some_and(|t| (now - t.at).num_seconds() >= 6)
            {
                state.toast = None;
            }
            (effects, true)
        }
        Msg::Health {
            env,
            svc,
            result,
            at,
        } => {
            if let Some(view) = state
                .envs
                .get_mut(env)
                .and_then(|e| e.services.get_mut(svc))
            {
                view.apply_probe(
                    result.report,
                    result.latency.as_millis() as u64,
                    result.reachable,
                    at,
                );
            }
            (vec![], true)
        }
        Msg::Metrics { env, svc, result } => {
            if let Some(view) = state
                .envs
                .get_mut(env)
                .and_then(|e| e.services.get_mut(svc))
            {
                match result {
                    Ok(window) => view.apply_window(window),
                    Err(e) => view.metrics_error = Some(e.0),
                }
            }
            (vec![], true)
        }
        Msg::Releases { env, unit, result } => {
            let now = state.now;
            if let Some(load) = state
                .envs
                .get_mut(env)
                .and_then(|view| view.releases.get_mut(unit))
            {
                load.apply_provider(result, now);
            }
            (vec![], true)
        }
        Msg::Secrets { env, scope, result } => {
            let now = state.now;
            if let Some(load) = state
                .envs
                .get_mut(env)
                .and_then(|view| view.secrets.get_mut(scope))
            {
                load.apply_provider(result, now);
            }
            (vec![], true)
        }
        Msg::Instances { env, result } => {
            let now = state.now;
            if let Some(view) = state.envs.get_mut(env) {
                view.instances.apply_provider(result, now);
            }
            (vec![], true)
        }
        Msg::LogLines { env, svc, lines } => {
            let Some(buf) = state.buffers.get_mut(env).and_then(|b| b.get_mut(svc)) else {
                return (vec![], false);
            };
            let added = lines.len();
            for line in lines {
                buf.push(line);
            }
            let visible = env == state.env_idx && svc == state.svc_idx;
            if visible && !state.logs.follow {
                // Keep the paused view still while lines arrive below it.
                state.logs.offset = state
                    .logs
                    .offset
                    .saturating_add(added)
                    .min(buf.visible_len());
            }
            (vec![], visible)
        }
        Msg::LogStream {
            env,
            svc,
            state: stream,
        } => {
            if let Some(view) = state
                .envs
                .get_mut(env)
                .and_then(|e| e.services.get_mut(svc))
            {
                view.stream = match stream {
                    crate::state::StreamState::Failed(e) => {
                        crate::state::StreamState::Failed(sanitize(&e))
                    }
                    other => other,
                };
            }
            (vec![], env == state.env_idx && svc == state.svc_idx)
        }
        Msg::Call(record) => {
            if state.calls.len() == CALL_LOG_CAP {
                state.calls.pop_front();
            }
            state.calls.push_back(record);
            (
                vec![],
                matches!(state.modal, Some(Modal::CommandLog { .. })),
            )
        }
        Msg::Signal(_) => {
            state.quit = true;
            (vec![], false)
        }
        Msg::Rotation(event) => (super::secret_actions::on_rotation(state, event), true),
        Msg::MigrationOutput(line) => {
            let out = &mut state.migration_output;
            if out.len() == crate::state::MIGRATION_OUTPUT_LINES {
                out.remove(0);
            }
            out.push(line);
            (vec![], matches!(state.modal, Some(Modal::Migrations)))
        }
        Msg::Credentials { env, origins } => {
            if let Some(view) = state.envs.get_mut(env) {
                view.credentials = Some(origins);
            }
            (vec![], true)
        }
        Msg::SecretChanged { env, text, error } => {
            state.toast(sanitize(&text), error);
            let effects = state
                .envs
                .iter()
                .position(|e| e.name == env)
                .map(|env| Effect::Refresh { env })
                .into_iter()
                .collect();
            (effects, true)
        }
        other => super::update_plan::on_msg(state, other),
    }
}

/// `q`: quit, unless a plan or a rotation runs; then say what quitting
/// leaves behind, and quit on the second `q`.
pub(super) fn quit_or_warn(state: &mut State) {
    let plan = state
        .rollout
        .as_ref()
        .is_some_and(crate::state::RolloutView::running);
    let rotation = state
        .secrets_ui
        .rotation
        .as_ref()
        .is_some_and(crate::state::secrets_ui::RotationView::running);
    let warning = if plan {
        "a plan is running: a aborts it; q again leaves it interrupted (offered for resume at the next start)"
    } else if rotation {
        "a rotation is running: q again stops it half-way (the next start says how to finish it)"
    } else {
        state.quit = true;
        return;
    };
    let warned = state.toast.as_ref().is_some_and(|t| t.text == warning);
    if warned {
        state.quit = true;
    } else {
        state.toast(warning.into(), true);
    }
}

fn on_key(state: &mut State, key: Key, keymap: &Keymap) -> Vec<Effect> {
    // Ctrl-C always quits, whatever the bindings or the open prompt.
    if key.code == KeyCode::Char('c') && key.mods.contains(KeyModifiers::CONTROL) {
        state.quit = true;
        return vec![];
    }
    if state.logs.editing.is_some() {
        edit_filter(state, key);
        return vec![];
    }
    if state.secrets_ui.captures_keys() {
        return super::secret_actions::on_key(state, key);
    }
    if state.dialog.is_some() {
        return super::update_plan::on_dialog_key(state, key);
    }
    let action = keymap.action_in(key, state.focus);
    if state.modal == Some(Modal::Migrations)
        && matches!(key.code, KeyCode::Char('u') | KeyCode::Char('d'))
    {
        return super::update_plan::on_migrations_key(state, key);
    }
    if let Some(modal) = state.modal.clone() {
        let scroll_by = |delta: i64| match modal {
            Modal::CommandLog { scroll } => Some(Modal::CommandLog {
                scroll: scroll.saturating_add_signed(delta as isize),
            }),
            Modal::Audit { scroll } => Some(Modal::Audit {
                scroll: scroll.saturating_add_signed(delta as isize),
            }),
            Modal::Help | Modal::Migrations => None,
        };
        state.modal = match action {
            Some(Action::Quit) => {
                quit_or_warn(state);
                None
            }
            Some(Action::Down) => scroll_by(1),
            Some(Action::Up) => scroll_by(-1),
            Some(Action::PageDown) => scroll_by(10),
            Some(Action::PageUp) => scroll_by(-10),
            _ => None,
        };
        return vec![];
    }
    let Some(action) = action else { return vec![] };
    match action {
        Action::Quit => quit_or_warn(state),
        Action::Help => state.modal = Some(Modal::Help),
        Action::CommandLog => state.modal = Some(Modal::CommandLog { scroll: 0 }),
        Action::NextPanel => state.focus = cycle(state.focus, 1),
        Action::PrevPanel => state.focus = cycle(state.focus, Panel::ORDER.len() - 1),
        Action::FocusEnvs => state.focus = Panel::Envs,
        Action::FocusReleases => state.focus = Panel::Releases,
        Action::FocusHealth => state.focus = Panel::Health,
        Action::FocusLogs => state.focus = Panel::Logs,
        Action::FocusSecrets => state.focus = Panel::Secrets,
        Action::Up => move_selection(state, -1),
        Action::Down => move_selection(state, 1),
        Action::PageUp => move_selection(state, -10),
        Action::PageDown => move_selection(state, 10),
        Action::Top => move_selection(state, i64::MIN / 2),
        Action::Bottom => {
            move_selection(state, i64::MAX / 2);
            if state.focus == Panel::Logs {
                state.logs.follow = true;
                state.logs.offset = 0;
            }
        }
        Action::Left => step_service(state, -1),
        Action::Right => step_service(state, 1),
        Action::LogsOfSelected => state.focus = Panel::Logs,
        Action::Filter => {
            state.focus = Panel::Logs;
            state.logs.editing = Some(
                state
                    .buffer()
                    .and_then(|b| b.filter())
                    .map(|q| q.describe())
                    .unwrap_or_default(),
            );
        }
        Action::Follow => {
            state.logs.follow = !state.logs.follow;
            state.logs.offset = 0;
        }
        Action::Timestamps => state.logs.timestamps = !state.logs.timestamps,
        Action::Context => state.logs.context = if state.logs.context == 0 { 2 } else { 0 },
        Action::FirstError | Action::CopyLine | Action::Export | Action::ShowCommand => {
            return super::log_actions::on_action(state, action);
        }
        Action::Wrap => state.logs.wrap = !state.logs.wrap,
        Action::Refresh => {
            let env = state.env_idx;
            state.toast(
                format!(
                    "refreshing {}",
                    state.envs.get(env).map_or("", |e| e.name.as_str())
                ),
                false,
            );
            return vec![Effect::Refresh { env }];
        }
        Action::Cancel => {
            if state.rollout_visible {
                // Hide the ladder; a finished plan's ladder is dropped.
                state.rollout_visible = false;
                if state.rollout.as_ref().is_some_and(|r| !r.running()) {
                    state.rollout = None;
                }
            } else if let Some(buf) = selected_buffer_mut(state)
                && buf.filter().is_some()
            {
                buf.set_filter(None);
            }
            state.toast = None;
        }
        Action::SecretNew | Action::SecretSet | Action::SecretUnset | Action::SecretRotate => {
            return super::secret_actions::on_action(state, action);
        }
        Action::Promote
        | Action::Rollback
        | Action::Migrations
        | Action::Abort
        | Action::Unpin
        | Action::Approve
        | Action::Audit => {
            return super::update_plan::on_action(state, action);
        }
    }
    vec![]
}

fn edit_filter(state: &mut State, key: Key) {
    let Some(text) = state.logs.editing.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Esc => state.logs.editing = None,
        KeyCode::Enter => {
            let text = text.clone();
            state.logs.offset = 0;
            let result = match selected_buffer_mut(state) {
                Some(buf) => buf.set_filter_text(&text),
                None => Ok(()),
            };
            match result {
                Ok(()) => state.logs.editing = None,
                // Keep what was typed so it can be fixed, and say what is wrong.
                Err(e) => state.toast(format!("filter: {e}"), true),
            }
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) if !key.mods.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
}

fn selected_buffer_mut(state: &mut State) -> Option<&mut crate::logs::LogBuffer> {
    state
        .buffers
        .get_mut(state.env_idx)
        .and_then(|b| b.get_mut(state.svc_idx))
}

fn cycle(panel: Panel, step: usize) -> Panel {
    let i = Panel::ORDER.iter().position(|p| *p == panel).unwrap_or(0);
    Panel::ORDER[(i + step) % Panel::ORDER.len()]
}

fn clamp_step(current: usize, delta: i64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (current as i64)
        .saturating_add(delta)
        .clamp(0, len as i64 - 1) as usize
}

fn move_selection(state: &mut State, delta: i64) {
    match state.focus {
        Panel::Envs => {
            let rows = state.grid_rows();
            let cur = rows
                .iter()
                .position(|r| *r == (state.env_idx, state.svc_idx))
                .unwrap_or(0);
            if let Some(&(e, s)) = rows.get(clamp_step(cur, delta, rows.len())) {
                let unit = |st: &State, e: usize, s: usize| {
                    st.envs.get(e).and_then(|v| v.unit_of.get(s).copied())
                };
                if e != state.env_idx
                    || unit(state, e, s) != unit(state, state.env_idx, state.svc_idx)
                {
                    state.release_idx = 0;
                }
                if e != state.env_idx {
                    state.secret_idx = 0;
                }
                state.env_idx = e;
                state.svc_idx = s;
                state.check_idx = 0;
                state.logs.offset = 0;
            }
        }
        Panel::Releases => {
            let len = state.releases().and_then(Load::data).map_or(0, Vec::len);
            state.release_idx = clamp_step(state.release_idx, delta, len);
        }
        Panel::Health => {
            let len = state.service().map_or(0, |s| s.checks.len());
            state.check_idx = clamp_step(state.check_idx, delta, len);
        }
        Panel::Secrets => {
            let len = state.secrets().and_then(Load::data).map_or(0, Vec::len);
            state.secret_idx = clamp_step(state.secret_idx, delta, len);
        }
        Panel::Logs => {
            let len = state.buffer().map_or(0, |b| b.visible_len());
            // Up scrolls back in time (offset grows), down toward the newest line.
            let offset = (state.logs.offset as i64)
                .saturating_sub(delta)
                .clamp(0, len.saturating_sub(1) as i64) as usize;
            state.logs.offset = offset;
            state.logs.follow = offset == 0;
        }
    }
}

fn step_service(state: &mut State, delta: i64) {
    let len = state.env().map_or(0, |e| e.services.len());
    state.svc_idx = clamp_step(state.svc_idx, delta, len);
    state.check_idx = 0;
    state.logs.offset = 0;
}
