//! Log panel actions: jump to the first error, copy a line, export the
//! buffer, show the equivalent CLI command. Pure, like `update`.

use super::msg::Effect;
use crate::keymap::Action;
use crate::logs::Level;
use crate::state::{Panel, State};

/// Run a log action; returns the effects.
pub fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    let (env, svc) = (state.env_idx, state.svc_idx);
    let names = state
        .env()
        .map(|e| e.name.clone())
        .zip(state.service().map(|s| s.name.clone()));
    let Some(buf) = state.buffer() else {
        return vec![];
    };
    let total = buf.visible_len();
    match action {
        Action::FirstError => {
            let first = (0..total).find(|&i| {
                buf.visible(i)
                    .is_some_and(|e| e.level.is_some_and(|l| l >= Level::Error))
            });
            match first {
                Some(i) => {
                    state.focus = Panel::Logs;
                    state.logs.follow = false;
                    state.logs.offset = total - 1 - i;
                }
                None => state.toast("no error line in the buffer".into(), false),
            }
            vec![]
        }
        Action::CopyLine => {
            let offset = if state.logs.follow {
                0
            } else {
                state.logs.offset
            };
            let line = total
                .checked_sub(1 + offset)
                .and_then(|i| buf.visible(i))
                .map(|e| crate::redact::apply(e.raw).into_owned());
            match line {
                Some(raw) => {
                    state.toast(
                        format!(
                            "copied the bottom line ({} bytes) to the clipboard (OSC 52)",
                            raw.len()
                        ),
                        false,
                    );
                    vec![Effect::Copy(raw)]
                }
                None => {
                    state.toast("no line to copy".into(), true);
                    vec![]
                }
            }
        }
        Action::Export => {
            let Some((env_name, svc_name)) = names else {
                return vec![];
            };
            let lines: Vec<String> = buf
                .iter()
                .map(|e| crate::redact::apply(e.raw).into_owned())
                .collect();
            let file = format!(
                "{env_name}-{svc_name}-{}.log",
                state.now.format("%Y%m%dT%H%M%S")
            );
            vec![Effect::Export {
                path: state.export_dir.join(file),
                lines,
            }]
        }
        Action::ShowCommand => vec![Effect::ShowLogsCommand { env, svc }],
        _ => vec![],
    }
}
