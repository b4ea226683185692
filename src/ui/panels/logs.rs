//! Log tail of the selected service: level colours, follow/pause, filter over
//! the whole buffer, timestamps and wrap toggles. Work is proportional to the
//! visible lines, not to the buffer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::logs::filter::Query;
use crate::logs::{Level, LogEntry};
use crate::state::{Panel, State, StreamState};
use crate::ui::panel_block;
use crate::ui::theme::{Role, Theme};

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let (Some(env), Some(svc), Some(buf)) = (state.env(), state.service(), state.buffer()) else {
        frame.render_widget(
            Paragraph::new("no service selected").block(panel_block(
                Panel::Logs,
                state,
                theme,
                None,
            )),
            area,
        );
        return;
    };
    let mut title = format!(
        "{}/{} · {}",
        env.name,
        svc.name,
        if state.logs.follow {
            "following"
        } else {
            "paused"
        }
    );
    if let Some(f) = buf.filter() {
        title.push_str(&format!(
            " · filter {} {}/{}",
            f.describe(),
            buf.visible_len(),
            buf.len()
        ));
        if state.logs.context > 0 {
            title.push_str(&format!(" · ±{} lines", state.logs.context));
        }
    }
    match &svc.stream {
        StreamState::Connecting => title.push_str(" · connecting…"),
        StreamState::Failed(e) => title.push_str(&format!(" · {e}")),
        StreamState::None if env.provider_note.is_some() => title.push_str(" · no log source yet"),
        _ => {}
    }
    let block = panel_block(Panel::Logs, state, theme, Some(title));
    let inner = block.inner(area);
    let height = inner.height as usize;
    let total = buf.visible_len();
    let offset = if state.logs.follow {
        0
    } else {
        state.logs.offset.min(total)
    };
    let query = buf.filter();
    let mut lines: Vec<Line> = if let (Some(_), context @ 1..) = (query, state.logs.context) {
        buf.context_rows(context, offset, height)
            .into_iter()
            .map(|row| match row {
                Some(e) => render_line(&e, state.logs.timestamps, query, theme),
                None => Line::from(Span::styled("--", theme.style(Role::Muted))),
            })
            .collect()
    } else {
        let end = total - offset;
        let start = end.saturating_sub(height);
        (start..end)
            .filter_map(|i| buf.visible(i))
            .map(|e| render_line(&e, state.logs.timestamps, query, theme))
            .collect()
    };
    if lines.is_empty() {
        let msg = if buf.filter().is_some() {
            "no line in the buffer matches the filter"
        } else {
            "no log lines yet"
        };
        lines.push(Line::from(Span::styled(msg, theme.style(Role::Muted))));
    }
    let mut para = Paragraph::new(lines).block(block);
    if state.logs.wrap {
        para = para.wrap(Wrap { trim: false });
        // Keep the newest line at the bottom when wrapped lines take extra rows.
        let rows = para.line_count(inner.width);
        para = para.scroll((rows.saturating_sub(height) as u16, 0));
    }
    frame.render_widget(para, area);
}

fn level_role(level: Option<Level>) -> Role {
    match level {
        Some(Level::Trace) => Role::LogTrace,
        Some(Level::Debug) => Role::LogDebug,
        Some(Level::Warn) => Role::LogWarn,
        Some(Level::Error) | Some(Level::Fatal) => Role::LogError,
        _ => Role::LogInfo,
    }
}

fn render_line(
    entry: &LogEntry<'_>,
    timestamps: bool,
    query: Option<&Query>,
    theme: &Theme,
) -> Line<'static> {
    let shown = entry.display();
    let mut spans = Vec::with_capacity(4);
    if timestamps {
        spans.push(Span::styled(
            format!("{:<12} ", shown.time.as_deref().unwrap_or("")),
            theme.style(Role::LogTime),
        ));
    }
    let role = level_role(entry.level);
    spans.push(Span::styled(
        format!("{:<5} ", entry.level.map_or("", |l| l.as_str())),
        theme.style(role),
    ));
    let ranges = query.map(|q| q.highlights(&shown.text)).unwrap_or_default();
    let mut at = 0;
    for r in ranges {
        if r.start > at {
            spans.push(Span::styled(
                shown.text[at..r.start].to_string(),
                theme.style(role),
            ));
        }
        spans.push(Span::styled(
            shown.text[r.clone()].to_string(),
            theme.style(Role::Match),
        ));
        at = r.end;
    }
    spans.push(Span::styled(
        shown.text[at..].to_string(),
        theme.style(role),
    ));
    Line::from(spans)
}
