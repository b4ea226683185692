//! Drawing: a pure function of `&State`, the theme and the key map.

pub mod dialogs;
pub mod format;
pub mod layout;
pub mod panels;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use crate::keymap::{Action, Keymap};
use crate::state::{Modal, Panel, State};
use theme::{Role, Theme};

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, state: &State, theme: &Theme, keymap: &Keymap) {
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.style(Role::Base)), area);
    let areas = layout::split(area);
    draw_header(frame, areas.header, state, theme, keymap);
    panels::envs::draw(frame, areas.envs, state, theme);
    panels::releases::draw(frame, areas.releases, state, theme);
    panels::health::draw(frame, areas.health, state, theme);
    panels::logs::draw(frame, areas.logs, state, theme);
    panels::secrets::draw(frame, areas.secrets, state, theme);
    draw_footer(frame, areas.footer, state, theme, keymap);
    match &state.modal {
        Some(Modal::Help) => dialogs::help::draw(frame, area, state, theme, keymap),
        Some(Modal::CommandLog { scroll }) => {
            dialogs::command_log::draw(frame, area, state, *scroll, theme)
        }
        Some(Modal::Audit { scroll }) => dialogs::audit::draw(frame, area, state, *scroll, theme),
        Some(Modal::Migrations) => dialogs::migrations::draw(frame, area, state, theme),
        None => {}
    }
    dialogs::ladder::draw(frame, area, state, theme);
    dialogs::plan::draw(frame, area, state, theme);
    dialogs::secrets::draw(frame, area, state, theme);
}

/// A bordered block whose look says whether it has focus; its title carries the panel number.
pub fn panel_block<'a>(
    panel: Panel,
    state: &State,
    theme: &Theme,
    extra: Option<String>,
) -> Block<'a> {
    let focused = state.focus == panel && state.modal.is_none();
    let mut title = vec![
        Span::styled(format!(" {} ", panel.number()), theme.style(Role::Muted)),
        Span::styled(format!("{} ", panel.title()), theme.style(Role::Title)),
    ];
    if let Some(extra) = extra {
        title.push(Span::styled(format!("{extra} "), theme.style(Role::Muted)));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.style(if focused {
            Role::BorderFocused
        } else {
            Role::Border
        }))
        .title(Line::from(title))
}

fn draw_header(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, keymap: &Keymap) {
    if area.height == 0 {
        return;
    }
    let mut spans = vec![Span::styled(" shipdeck ", theme.style(Role::Title))];
    if state.demo {
        spans.push(Span::styled(" DEMO ", theme.style(Role::BadgeDemo)));
        spans.push(Span::raw(" "));
    }
    if state.read_only {
        spans.push(Span::styled(
            " READ-ONLY ",
            theme.style(Role::BadgeReadonly),
        ));
        spans.push(Span::raw(" "));
    }
    // A failed revert stays on screen until someone unpins the env.
    for pin in state.pins.values().filter(|p| p.is_revert_failed()) {
        spans.push(Span::styled(
            format!(
                " ✗ {}: REVERT FAILED — the env needs a person (u unpins once fixed) ",
                pin.env
            ),
            theme.style(Role::Error),
        ));
    }
    let attention = state
        .envs
        .iter()
        .filter(|e| e.health().needs_attention())
        .count();
    if attention > 0 {
        spans.push(Span::styled(
            format!("▲ {attention} env(s) need attention "),
            theme.style(Role::Attention),
        ));
    }
    spans.push(Span::styled(
        format!(" {} ", state.config_label),
        theme.style(Role::Muted),
    ));
    spans.push(Span::styled(
        format!(" {} help ", keymap.hint(Action::Help)),
        theme.style(Role::Muted),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Hints for the focused panel: key + description, disabled ones dimmed with the reason in help.
pub fn hints_for(panel: Panel) -> &'static [Action] {
    match panel {
        Panel::Envs => &[
            Action::Down,
            Action::Right,
            Action::LogsOfSelected,
            Action::Promote,
            Action::Rollback,
            Action::Migrations,
            Action::Refresh,
            Action::CommandLog,
        ],
        Panel::Releases => &[
            Action::Down,
            Action::Rollback,
            Action::Promote,
            Action::Refresh,
        ],
        Panel::Health => &[Action::Down, Action::Right, Action::LogsOfSelected],
        Panel::Logs => &[
            Action::Filter,
            Action::Context,
            Action::FirstError,
            Action::CopyLine,
            Action::Export,
            Action::ShowCommand,
            Action::Follow,
            Action::Timestamps,
            Action::Wrap,
            Action::Up,
            Action::Bottom,
            Action::Cancel,
        ],
        Panel::Secrets => &[
            Action::Down,
            Action::SecretNew,
            Action::SecretSet,
            Action::SecretUnset,
            Action::SecretRotate,
            Action::Refresh,
        ],
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, keymap: &Keymap) {
    if area.height == 0 {
        return;
    }
    if let Some(edit) = &state.logs.editing {
        let line = Line::from(vec![
            Span::styled(" filter / ", theme.style(Role::Key)),
            Span::raw(format!(" {edit}")),
            Span::styled("▏", theme.style(Role::Title)),
            Span::styled("  enter apply · esc cancel", theme.style(Role::Muted)),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Some(toast) = &state.toast {
        let role = if toast.error {
            Role::Error
        } else {
            Role::Running
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!(" {}", toast.text),
                theme.style(role),
            ))),
            area,
        );
        return;
    }
    let mut spans = Vec::new();
    let globals = [Action::NextPanel, Action::Help, Action::Quit];
    for action in hints_for(state.focus).iter().chain(globals.iter()) {
        let disabled = state.disabled(*action).is_some();
        let (key_role, desc_role) = if disabled {
            (Role::Disabled, Role::Disabled)
        } else {
            (Role::Key, Role::KeyDesc)
        };
        spans.push(Span::styled(
            format!(" {} ", keymap.hint(*action)),
            theme.style(key_role),
        ));
        spans.push(Span::styled(
            format!(" {} ", action.describe()),
            theme.style(desc_role),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
