//! Environments: an env × service grid with provider, release, health,
//! error rate, p95, migration version and lock holder.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};

use crate::state::{Panel, State};
use crate::ui::format::{health_style, percent, sparkline};
use crate::ui::panel_block;
use crate::ui::theme::{Role, Theme};

/// Draw the panel.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let header = Row::new([
        "", "ENV", "SERVICE", "PROVIDER", "RELEASE", "HEALTH", "ERR", "P95", "TREND", "MIGR",
        "LOCK",
    ])
    .style(theme.style(Role::Header));
    let mut rows = Vec::new();
    let mut selected = None;
    for (i, (e, s)) in state.grid_rows().into_iter().enumerate() {
        let env = &state.envs[e];
        if (e, s) == (state.env_idx, state.svc_idx) {
            selected = Some(i);
        }
        let first = s == 0;
        let mut env_cell = vec![Span::styled(env.name.clone(), theme.style(Role::Title))];
        if first && env.protected {
            env_cell.push(Span::styled(" ⛨", theme.style(Role::BadgeProtected)));
        }
        if first && (env.read_only || state.read_only) {
            env_cell.push(Span::styled(" RO", theme.style(Role::BadgeReadonly)));
        }
        if first && state.pins.contains_key(&env.name) {
            env_cell.push(Span::styled(" PINNED", theme.style(Role::BadgeReadonly)));
        }
        let running_here = state
            .rollout
            .as_ref()
            .filter(|r| r.running() && r.plan.target_env == env.name)
            .map(|r| {
                r.current_step().map_or_else(
                    || r.plan.action.word().to_string(),
                    |s| format!("{} {}", r.plan.action.word(), s.name),
                )
            });
        let migr = match (first, env.migrations.data()) {
            (false, _) => Span::raw(""),
            (true, Some(m)) => {
                let version = m.version_text();
                let text = match (m.dirty, m.pending_count()) {
                    (true, _) => format!("{version}!"),
                    (false, 0) => version,
                    (false, n) => format!("{version} +{n}"),
                };
                let role = if m.dirty {
                    Role::Error
                } else if m.pending_count() == 0 {
                    Role::Base
                } else {
                    Role::Warn
                };
                Span::styled(text, theme.style(role))
            }
            (true, None) if env.has_migrations => Span::styled("…", theme.style(Role::Muted)),
            (true, None) => Span::styled("—", theme.style(Role::Muted)),
        };
        let lock = match (first, state.locks.get(&env.name), running_here) {
            (false, _, _) => Span::raw(""),
            (true, _, Some(step)) => Span::styled(format!("▶ {step}"), theme.style(Role::Running)),
            (true, Some(holder), None) => Span::styled(holder.clone(), theme.style(Role::Warn)),
            (true, None, None) => Span::styled("—", theme.style(Role::Muted)),
        };
        let Some(svc) = env.services.get(s) else {
            rows.push(Row::new(vec![
                Cell::from(""),
                Cell::from(Line::from(env_cell)),
                Cell::from(Span::styled(
                    "no services configured",
                    theme.style(Role::Muted),
                )),
            ]));
            continue;
        };
        let health = env.service_health(s);
        let marker = if health.needs_attention() {
            Span::styled("▲", theme.style(Role::Attention))
        } else {
            Span::raw(" ")
        };
        // Each deploy unit's release shows on its first service's row.
        let release = if env.first_of_unit(s) {
            match (env.current_release(s), &env.provider_note) {
                (Some(r), _) => Span::raw(r.label()),
                (None, Some(_)) => Span::styled("n/a", theme.style(Role::Muted)),
                (None, None) => Span::styled(
                    env.unit_releases(s)
                        .badge()
                        .map_or_else(|| "—".into(), |_| "…".to_string()),
                    theme.style(Role::Muted),
                ),
            }
        } else {
            Span::raw("")
        };
        let (err, p95) = match (&svc.window, &svc.metrics_error) {
            (Some(w), _) => {
                let err_role = match w.error_rate {
                    Some(r) if r >= 0.01 => Role::Error,
                    Some(r) if r >= 0.001 => Role::Warn,
                    _ => Role::Base,
                };
                let p95 = w.p95.map_or("—".to_string(), |q| {
                    format!(
                        "{}{:.0}ms",
                        if q.clipped { "≥" } else { "" },
                        q.seconds * 1000.0
                    )
                });
                (
                    Span::styled(percent(w.error_rate), theme.style(err_role)),
                    Span::raw(p95),
                )
            }
            (None, Some(_)) => (
                Span::styled("error", theme.style(Role::Error)),
                Span::raw("—"),
            ),
            (None, None) if svc.has_metrics => {
                (Span::styled("…", theme.style(Role::Muted)), Span::raw("…"))
            }
            (None, None) => (Span::styled("—", theme.style(Role::Muted)), Span::raw("—")),
        };
        rows.push(Row::new(vec![
            Cell::from(marker),
            Cell::from(if first {
                Line::from(env_cell)
            } else {
                Line::from("")
            }),
            Cell::from(svc.name.clone()),
            Cell::from(if first { env.provider.label() } else { "" }),
            Cell::from(release),
            Cell::from(Span::styled(health.label(), health_style(theme, health))),
            Cell::from(err),
            Cell::from(p95),
            Cell::from(Span::styled(
                sparkline(svc.error_bp.iter().copied(), 12),
                theme.style(Role::Sparkline),
            )),
            Cell::from(migr),
            Cell::from(lock),
        ]));
    }
    // The env column fits the longest name with its badges (PINNED must not
    // be cut to a lone `P`), within bounds.
    let env_width = state
        .envs
        .iter()
        .map(|env| {
            let mut w = env.name.chars().count();
            w += if env.protected { 2 } else { 0 };
            w += if env.read_only || state.read_only {
                3
            } else {
                0
            };
            w += if state.pins.contains_key(&env.name) {
                7
            } else {
                0
            };
            w
        })
        .max()
        .unwrap_or(0)
        .clamp(14, 30) as u16;
    let widths = [
        Constraint::Length(1),
        Constraint::Length(env_width),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(panel_block(Panel::Envs, state, theme, None))
        .row_highlight_style(theme.style(Role::Selected))
        .column_spacing(1);
    let mut ts = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut ts);
}
