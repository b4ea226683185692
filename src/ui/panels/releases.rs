//! Releases of the selected env: version, image, status, author, age, description.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::domain::CredentialSource;
use crate::state::{EnvView, Panel, State};
use crate::ui::format::{age, release_style};
use crate::ui::panel_block;
use crate::ui::theme::{Role, Theme};

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let Some(env) = state.env() else {
        frame.render_widget(
            Paragraph::new("no environments configured").block(panel_block(
                Panel::Releases,
                state,
                theme,
                None,
            )),
            area,
        );
        return;
    };
    let releases = env.unit_releases(state.svc_idx);
    // Per-service histories name the service whose history this is.
    let whose = match env
        .units
        .get(env.unit_of.get(state.svc_idx).copied().unwrap_or(0))
    {
        Some(services) if env.units.len() > 1 => format!("/{}", services.join("+")),
        _ => String::new(),
    };
    let title = format!(
        "{}{whose}{}",
        env.name,
        releases
            .badge()
            .filter(|_| env.provider_note.is_none())
            .map(|b| format!(" · {b}"))
            .unwrap_or_default()
    );
    let block = panel_block(Panel::Releases, state, theme, Some(title))
        .title_bottom(credentials_line(env, theme));
    if let Some(note) = &env.provider_note {
        frame.render_widget(
            Paragraph::new(Span::styled(note.clone(), theme.style(Role::Muted)))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let Some(releases) = releases.data() else {
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
    let header = Row::new(["", "VER", "IMAGE", "STATUS", "AUTHOR", "AGE", "DESCRIPTION"])
        .style(theme.style(Role::Header));
    let rows = releases.iter().map(|r| {
        Row::new(vec![
            Cell::from(if r.current {
                Span::styled("●", theme.style(Role::Ok))
            } else {
                Span::raw(" ")
            }),
            Cell::from(r.label()),
            Cell::from(r.artifact_short()),
            Cell::from(Span::styled(
                r.status.label(),
                release_style(theme, r.status),
            )),
            Cell::from(r.author.clone().unwrap_or_default()),
            Cell::from(age(state.now, r.created_at)),
            Cell::from(r.description.clone()),
        ])
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(
            releases
                .iter()
                .map(|r| r.label().chars().count())
                .max()
                .unwrap_or(3)
                .clamp(3, 14) as u16,
        ),
        Constraint::Length(24),
        Constraint::Length(11),
        Constraint::Length(14),
        Constraint::Length(4),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme.style(Role::Selected));
    let selected = (state.focus == Panel::Releases).then_some(state.release_idx);
    frame.render_stateful_widget(
        table,
        area,
        &mut TableState::default().with_selected(selected),
    );
}

/// Where the env's credentials come from, for the panel's bottom border:
/// `fly token: Secret Service`, or the fix when one is missing.
fn credentials_line<'a>(env: &EnvView, theme: &Theme) -> Line<'a> {
    let Some(origins) = &env.credentials else {
        return Line::from(Span::styled(
            " credentials: checking… ",
            theme.style(Role::Muted),
        ));
    };
    // Missing ones first: a narrow panel cuts the end of the line.
    let mut origins: Vec<_> = origins.iter().collect();
    origins.sort_by_key(|o| o.source != CredentialSource::Missing);
    let mut spans = Vec::new();
    for (i, o) in origins.into_iter().enumerate() {
        spans.push(Span::raw(if i == 0 { " " } else { " · " }));
        let role = if o.source == CredentialSource::Missing {
            Role::Warn
        } else {
            Role::Muted
        };
        spans.push(Span::styled(o.line(), theme.style(role)));
    }
    if !spans.is_empty() {
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}
