//! Secrets of the selected env: names, digest prefix, last update, drift
//! against the other envs. Values are never part of the state, so never drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::state::{EnvView, Panel, State};
use crate::ui::format::age;
use crate::ui::panel_block;
use crate::ui::theme::{Role, Theme};

/// How a secret compares with the other envs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Same name everywhere it is expected.
    None,
    /// Missing in these envs.
    MissingIn(Vec<String>),
    /// Digest differs from these envs.
    DiffersFrom(Vec<String>),
}

/// Compare one secret of `env` (as service `service` sees it) with every other
/// env that has loaded secrets, the same service's where they keep them apart.
pub fn drift(
    state: &State,
    env: &EnvView,
    service: &str,
    name: &str,
    digest: Option<&str>,
) -> Drift {
    let mut missing = Vec::new();
    let mut differs = Vec::new();
    for other in state.envs.iter().filter(|o| o.name != env.name) {
        let Some(list) = other.secrets_named(service).data() else {
            continue;
        };
        match list.iter().find(|s| s.name == name) {
            None => missing.push(other.name.clone()),
            Some(s) if digest.is_some() && s.digest.is_some() && s.digest.as_deref() != digest => {
                differs.push(other.name.clone())
            }
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        Drift::MissingIn(missing)
    } else if !differs.is_empty() {
        Drift::DiffersFrom(differs)
    } else {
        Drift::None
    }
}

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let Some(env) = state.env() else {
        frame.render_widget(
            Paragraph::new("").block(panel_block(Panel::Secrets, state, theme, None)),
            area,
        );
        return;
    };
    let secrets = env.secrets_of(state.svc_idx);
    let service = env
        .services
        .get(state.svc_idx)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let whose = if env.secrets_per_service() {
        format!("/{service}")
    } else {
        String::new()
    };
    let title = format!(
        "{}{whose}{}",
        env.name,
        secrets
            .badge()
            .filter(|_| env.provider_note.is_none())
            .map(|b| format!(" · {b}"))
            .unwrap_or_default()
    );
    let block = panel_block(Panel::Secrets, state, theme, Some(title));
    if let Some(note) = &env.provider_note {
        frame.render_widget(
            Paragraph::new(Span::styled(note.clone(), theme.style(Role::Muted)))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let Some(secrets) = secrets.data() else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "waiting for the provider…",
                theme.style(Role::Muted),
            ))
            .block(block),
            area,
        );
        return;
    };
    let header = Row::new(["NAME", "DIGEST", "AGE", "DRIFT"]).style(theme.style(Role::Header));
    let rows = secrets.iter().map(|s| {
        let drift = match drift(state, env, &service, &s.name, s.digest.as_deref()) {
            Drift::None => Span::raw(""),
            Drift::MissingIn(envs) => Span::styled(
                format!("✗ missing: {}", envs.join(",")),
                theme.style(Role::Attention),
            ),
            Drift::DiffersFrom(envs) => {
                Span::styled(format!("≠ {}", envs.join(",")), theme.style(Role::Warn))
            }
        };
        Row::new(vec![
            Cell::from(format!(
                "{}{}",
                s.name,
                if s.staged { " (staged)" } else { "" }
            )),
            Cell::from(Span::styled(
                match (&s.digest, s.write_only) {
                    // Railway calls them sealed; GitHub never shows a value or digest.
                    (_, true) if env.provider == crate::config::ProviderKind::Railway => {
                        "sealed".to_string()
                    }
                    (_, true) => "no value".to_string(),
                    (Some(d), false) => d.chars().take(8).collect(),
                    (None, false) => "unavailable".to_string(),
                },
                theme.style(Role::Muted),
            )),
            Cell::from(s.updated_at.map(|t| age(state.now, t)).unwrap_or_default()),
            Cell::from(drift),
        ])
    });
    let widths = [
        Constraint::Length(17),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme.style(Role::Selected));
    let selected = (state.focus == Panel::Secrets).then_some(state.secret_idx);
    frame.render_stateful_widget(
        table,
        area,
        &mut TableState::default().with_selected(selected),
    );
}
