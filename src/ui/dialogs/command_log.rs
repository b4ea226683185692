//! The command log: every provider call (method, target, status, duration).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Row, Table};

use crate::state::State;
use crate::ui::layout::centered;
use crate::ui::theme::{Role, Theme};

/// Draw the overlay, newest call first.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, scroll: usize, theme: &Theme) {
    let rect = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, rect);
    let header = Row::new([
        "TIME", "PROVIDER", "METHOD", "TARGET", "STATUS", "TOOK", "NOTE",
    ])
    .style(theme.style(Role::Header));
    let rows = state.calls.iter().rev().skip(scroll).map(|c| {
        let status = c.status.map_or("—".to_string(), |s| s.to_string());
        let role = match c.status {
            Some(s) if s < 400 => Role::Ok,
            Some(_) | None => Role::Error,
        };
        Row::new(vec![
            Cell::from(c.at.format("%H:%M:%S").to_string()),
            Cell::from(c.provider.clone()),
            Cell::from(c.method.clone()),
            Cell::from(c.target.clone()),
            Cell::from(Span::styled(status, theme.style(role))),
            Cell::from(format!("{}ms", c.duration.as_millis())),
            Cell::from(Span::styled(c.note.clone(), theme.style(Role::Muted))),
        ])
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(Role::BorderFocused))
        .title(Span::styled(
            format!(
                " Command log · {} calls · j/k scroll · esc closes ",
                state.calls.len()
            ),
            theme.style(Role::Title),
        ));
    let widths = [
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Fill(3),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Fill(1),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), rect);
}
