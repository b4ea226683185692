//! Screen layout maths, in one place.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Line;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Top line.
    pub header: Rect,
    /// Environments grid.
    pub envs: Rect,
    /// Releases.
    pub releases: Rect,
    /// Health checks.
    pub health: Rect,
    /// Log tail.
    pub logs: Rect,
    /// Secrets.
    pub secrets: Rect,
    /// Key hints.
    pub footer: Rect,
}

/// Split the screen: header, env grid, releases | health, logs | secrets, footer.
pub fn split(area: Rect) -> Areas {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Percentage(30),
            Constraint::Percentage(30),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .split(area);
    let mid = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .split(rows[2]);
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(68), Constraint::Percentage(32)])
        .split(rows[3]);
    Areas {
        header: rows[0],
        envs: rows[1],
        releases: mid[0],
        health: mid[1],
        logs: bottom[0],
        secrets: bottom[1],
        footer: rows[4],
    }
}

/// A centred rectangle of at most `w` × `h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A centred, bordered box at most `max_width` wide, tall enough for `lines`
/// once wrapped to its inner width.
pub fn centered_for_lines(area: Rect, max_width: u16, lines: &[Line<'_>]) -> Rect {
    let width = max_width.min(area.width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    centered(
        area,
        width,
        u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2),
    )
}
