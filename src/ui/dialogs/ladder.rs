//! The live step ladder of a running plan: step, state, elapsed, output and
//! gate figures, then the outcome.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::engine::{PlanOutcome, StepStatus};
use crate::state::{State, StepState};
use crate::ui::layout::centered_for_lines;
use crate::ui::theme::{Role, Theme};

/// Draw the ladder when it is visible.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let (Some(rollout), true) = (&state.rollout, state.rollout_visible) else {
        return;
    };
    let plan = &rollout.plan;
    let mut lines = Vec::new();
    // Names line up however long a stage's names make them.
    let width = rollout
        .steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(22);
    for step in &rollout.steps {
        let (icon, role) = match &step.state {
            StepState::Pending => ("·", Role::Muted),
            StepState::Running(_) => ("▶", Role::Running),
            StepState::Done(StepStatus::Ok) => ("✓", Role::Ok),
            StepState::Done(StepStatus::Skipped) => ("–", Role::Muted),
            StepState::Done(StepStatus::Failed) => ("✗", Role::Error),
        };
        let elapsed = match (&step.state, step.took) {
            (StepState::Running(since), _) => format!(
                "{:>5.1}s",
                (state.now - *since).num_milliseconds().max(0) as f64 / 1000.0
            ),
            (_, Some(t)) => format!("{t:>5.1}s"),
            _ => "      ".into(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {icon} "), theme.style(role)),
            Span::styled(format!("{:<width$}", step.name), theme.style(role)),
            Span::styled(format!("{elapsed}  "), theme.style(Role::Muted)),
            Span::raw(step.detail.clone()),
        ]));
        if matches!(step.state, StepState::Running(_)) {
            if let Some(gate) = &step.gate {
                lines.push(Line::from(Span::styled(
                    format!(
                        "      samples ok in a row {} · failures {} · {}",
                        gate.passes,
                        gate.failures,
                        gate.figures.join(" · ")
                    ),
                    theme.style(Role::Running),
                )));
                for f in gate.failing.iter().take(3) {
                    lines.push(Line::from(Span::styled(
                        format!("      ✗ {f}"),
                        theme.style(Role::Error),
                    )));
                }
            }
            for out in &step.output {
                lines.push(Line::from(Span::styled(
                    format!("      {out}"),
                    theme.style(Role::Muted),
                )));
            }
        }
    }
    if let Some(reason) = &rollout.reverting {
        lines.push(Line::from(Span::styled(
            format!(" ↺ reverting: {reason}"),
            theme.style(Role::Warn),
        )));
    }
    for warning in &rollout.warnings {
        lines.push(Line::from(Span::styled(
            format!(" ⚠ {warning}"),
            theme.style(Role::Error),
        )));
    }
    let footer = match &rollout.outcome {
        None if rollout.abort_requested => Span::styled(
            " aborting… the step in flight finishes or is reversed",
            theme.style(Role::Warn),
        ),
        None => Span::styled(
            " a abort · esc hide (the plan keeps running)",
            theme.style(Role::Key),
        ),
        Some(outcome) => {
            let role = if matches!(outcome, PlanOutcome::Completed) {
                Role::Ok
            } else {
                Role::Error
            };
            Span::styled(
                format!(" {} · esc closes", outcome.describe()),
                theme.style(role),
            )
        }
    };
    lines.push(Line::from(""));
    lines.push(Line::from(footer));
    let (_, to) = plan.from_to();
    let title = match &plan.source_env {
        Some(src) => format!(" promote {src} → {} · {to} · {} ", plan.target_env, plan.id),
        None => format!(" rollback {} → {to} · {} ", plan.target_env, plan.id),
    };
    let rect = centered_for_lines(area, 110, &lines);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.style(Role::BorderFocused))
        .title(Span::styled(title, theme.style(Role::Title)));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}
