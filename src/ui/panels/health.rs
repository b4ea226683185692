//! Health of the selected service: every check with status, latency trend,
//! last failure reason and when.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::health::health_json::CheckStatus;
use crate::state::{Panel, State};
use crate::ui::format::{age, check_style, health_style, sparkline};
use crate::ui::panel_block;
use crate::ui::theme::{Role, Theme};

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let (Some(env), Some(svc)) = (state.env(), state.service()) else {
        frame.render_widget(
            Paragraph::new("no service selected").block(panel_block(
                Panel::Health,
                state,
                theme,
                None,
            )),
            area,
        );
        return;
    };
    let block = panel_block(
        Panel::Health,
        state,
        theme,
        Some(format!("{}/{}", env.name, svc.name)),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if !svc.has_health {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no health_url configured for this service",
                theme.style(Role::Muted),
            )),
            inner,
        );
        return;
    }
    let failing = svc
        .checks
        .iter()
        .find(|(_, h)| h.status != CheckStatus::Pass)
        .and_then(|(name, h)| {
            h.last_failure
                .as_ref()
                .map(|(why, _)| format!("✗ {name}: {why}"))
        });
    let [summary, reason, table_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(failing.is_some())),
        Constraint::Fill(1),
    ])
    .areas(inner);
    if let Some(text) = failing {
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.style(Role::Error))),
            reason,
        );
    }
    let health = env.service_health(state.svc_idx);
    let mut spans = vec![Span::styled(health.label(), health_style(theme, health))];
    match (&svc.report, svc.probed_at) {
        (Some(report), Some(at)) => {
            if let Some(ms) = svc.probe_ms.back() {
                spans.push(Span::styled(
                    format!(
                        " · probe {} {}",
                        if *ms == 0 {
                            "<1ms".to_string()
                        } else {
                            format!("{ms}ms")
                        },
                        sparkline(svc.probe_ms.iter().copied(), 10)
                    ),
                    theme.style(Role::Muted),
                ));
            }
            spans.push(Span::styled(
                format!(" · {} ago", age(state.now, at)),
                theme.style(Role::Muted),
            ));
            if let Some(v) = &report.version {
                spans.push(Span::styled(format!(" · {v}"), theme.style(Role::Muted)));
            }
            if let Some(m) = &report.mismatch {
                spans.push(Span::styled(format!(" · ⚠ {m}"), theme.style(Role::Warn)));
            }
            if let Some(p) = &report.problem {
                spans.push(Span::styled(format!(" · {p}"), theme.style(Role::Error)));
            }
        }
        _ => spans.push(Span::styled(
            " · waiting for the first probe…",
            theme.style(Role::Muted),
        )),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), summary);
    let header = Row::new(["CHECK", "STATUS", "LATENCY", "TREND", "LAST FAILURE"])
        .style(theme.style(Role::Header));
    let rows = svc.checks.iter().map(|(name, h)| {
        let failure = match &h.last_failure {
            Some((why, at)) => Span::styled(
                format!("{} ago: {why}", age(state.now, *at)),
                theme.style(if h.status == CheckStatus::Pass {
                    Role::Muted
                } else {
                    Role::Error
                }),
            ),
            None => Span::styled("never", theme.style(Role::Muted)),
        };
        Row::new(vec![
            Cell::from(name.clone()),
            Cell::from(Span::styled(
                format!("{:?}", h.status).to_lowercase(),
                check_style(theme, h.status),
            )),
            Cell::from(h.observed.clone().unwrap_or_else(|| "—".into())),
            Cell::from(Span::styled(
                sparkline(h.samples.iter().copied(), 8),
                theme.style(Role::Sparkline),
            )),
            Cell::from(failure),
        ])
    });
    let widths = [
        Constraint::Length(20),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(theme.style(Role::Selected));
    let selected = (state.focus == Panel::Health).then_some(state.check_idx);
    frame.render_stateful_widget(
        table,
        table_area,
        &mut TableState::default().with_selected(selected),
    );
}
