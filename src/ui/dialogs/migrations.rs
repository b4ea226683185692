//! The migrations panel (`m`): version, dirty flag, pending files and lint
//! findings of the selected env, with u (up) and d (down 1).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::state::State;
use crate::ui::layout::centered_for_lines;
use crate::ui::theme::{Role, Theme};

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let Some(env) = state.env() else { return };
    let mut lines = Vec::new();
    match env.migrations.data() {
        Some(m) => {
            let version = m.version_text();
            lines.push(Line::from(vec![
                Span::styled("version ", theme.style(Role::Muted)),
                Span::styled(version, theme.style(Role::Title)),
                Span::styled(
                    if m.dirty { "  DIRTY" } else { "" },
                    theme.style(Role::Error),
                ),
                Span::styled(
                    format!(
                        "  · {} pending · {} files · {}",
                        m.pending_count(),
                        m.total,
                        m.tool
                    ),
                    theme.style(Role::Muted),
                ),
            ]));
            if let Some(advice) = m.dirty_advice(&env.name) {
                lines.push(Line::from(Span::styled(
                    format!("  {advice}"),
                    theme.style(Role::Error),
                )));
            }
            for (v, title) in &m.pending {
                lines.push(Line::from(Span::styled(
                    format!("  pending {v:06}_{title}"),
                    theme.style(Role::Warn),
                )));
            }
            for (id, title) in &m.pending_revisions {
                lines.push(Line::from(Span::styled(
                    format!("  pending {id} {title}"),
                    theme.style(Role::Warn),
                )));
            }
            for v in &m.missing {
                lines.push(Line::from(Span::styled(
                    format!("  applied {v} has no file in this folder"),
                    theme.style(Role::Error),
                )));
            }
            for f in &m.findings {
                lines.push(Line::from(Span::styled(
                    format!("  ⚠ {}:{} {} — {}", f.file, f.line, f.rule, f.statement),
                    theme.style(Role::Error),
                )));
                lines.push(Line::from(Span::styled(
                    format!("      {}", f.advice),
                    theme.style(Role::Muted),
                )));
            }
        }
        None => lines.push(Line::from(Span::styled(
            env.migrations.badge().unwrap_or_default(),
            theme.style(Role::Muted),
        ))),
    }
    if let crate::state::Load::Failed { error, .. } = &env.migrations {
        lines.push(Line::from(Span::styled(
            error.clone(),
            theme.style(Role::Error),
        )));
    }
    if !state.migration_output.is_empty() {
        lines.push(Line::from(""));
        for line in &state.migration_output {
            lines.push(Line::from(Span::styled(
                format!("  │ {line}"),
                theme.style(Role::Muted),
            )));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "u apply pending · d revert one (confirm; typed on protected envs) · code rollbacks never revert the database · any other key closes",
        theme.style(Role::Key),
    )));
    let rect = centered_for_lines(area, 100, &lines);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(Role::BorderFocused))
        .title(Span::styled(
            format!(" migrations · {} ", env.name),
            theme.style(Role::Title),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}
