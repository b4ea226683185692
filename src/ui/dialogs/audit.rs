//! The audit view: who did what, where, when, and how it ended.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table};

use crate::state::State;
use crate::ui::layout::centered;
use crate::ui::theme::{Role, Theme};

/// Draw the overlay, newest first.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, scroll: usize, theme: &Theme) {
    let rect = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(Role::BorderFocused))
        .title(Span::styled(
            " Audit log · j/k scroll · esc closes ",
            theme.style(Role::Title),
        ));
    let Some(records) = state.audit.data() else {
        let text = state.audit.badge().unwrap_or_default();
        frame.render_widget(Paragraph::new(text).block(block), rect);
        return;
    };
    let header = Row::new([
        "TIME", "ACTOR", "ACTION", "ENV", "FROM", "TO", "RESULT", "TOOK", "DETAIL",
    ])
    .style(theme.style(Role::Header));
    let rows = records.iter().rev().skip(scroll).map(|r| {
        let role = match r.result.as_str() {
            "ok" => Role::Ok,
            "started" => Role::Running,
            _ => Role::Error,
        };
        Row::new(vec![
            Cell::from(r.time.format("%m-%d %H:%M:%S").to_string()),
            Cell::from(format!("{}@{}", r.actor, r.host)),
            Cell::from(r.action.clone()),
            Cell::from(r.env.clone()),
            Cell::from(r.from.clone().unwrap_or_default()),
            Cell::from(r.to.clone().unwrap_or_default()),
            Cell::from(Span::styled(r.result.clone(), theme.style(role))),
            Cell::from(format!("{:.1}s", r.duration_ms as f64 / 1000.0)),
            Cell::from(Span::styled(
                r.detail.clone().unwrap_or_default(),
                theme.style(Role::Muted),
            )),
        ])
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(18),
        Constraint::Length(9),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), rect);
}
