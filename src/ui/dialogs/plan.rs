//! Plan dialogs: the promotion diff / rollback sheet with typed confirmation,
//! unpin, interrupted plans, errors and "working…".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::state::{Dialog, State};
use crate::ui::format::short_image;
use crate::ui::layout::centered;
use crate::ui::theme::{Role, Theme};

/// A dialog frame: double border, red when the action is dangerous.
pub(crate) fn frame_block<'a>(title: String, theme: &Theme, danger: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(if danger {
            Role::Error
        } else {
            Role::BorderFocused
        }))
        .title(Span::styled(format!(" {title} "), theme.style(Role::Title)))
}

/// Draw the open dialog, if any.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let Some(dialog) = &state.dialog else { return };
    let (title, lines, danger, height) = match dialog {
        Dialog::Working(text) => (
            "working".to_string(),
            vec![
                Line::from(text.clone()),
                Line::from(Span::styled("esc closes", theme.style(Role::Muted))),
            ],
            false,
            4,
        ),
        Dialog::Error(text) => (
            "cannot do that".to_string(),
            vec![
                Line::from(Span::styled(text.clone(), theme.style(Role::Error))),
                Line::from(Span::styled("any key closes", theme.style(Role::Muted))),
            ],
            true,
            6,
        ),
        Dialog::Info { title, text } => {
            let mut lines: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
            // Long lines wrap at the dialog's width (96 less its borders).
            let rows: usize = text.lines().map(|l| l.chars().count() / 92 + 1).sum();
            lines.push(Line::from(Span::styled(
                "any key closes",
                theme.style(Role::Muted),
            )));
            (title.clone(), lines, false, (rows as u16 + 3).min(20))
        }
        Dialog::Migrate {
            env,
            op,
            protected,
            typed,
        } => {
            let mut lines = vec![Line::from(format!("migrate `{env}` {}", op.describe()))];
            if matches!(op, crate::migrate::run::Op::Up(_)) {
                lines.push(Line::from(Span::styled(
                    "pending migrations have lint findings (see the panel): apply anyway?",
                    theme.style(Role::Warn),
                )));
            } else {
                lines.push(Line::from(Span::styled(
                    "this reverts schema changes; data in dropped columns or tables is lost",
                    theme.style(Role::Warn),
                )));
            }
            if *protected {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("`{env}` is protected. Type its name to confirm: "),
                        theme.style(Role::Warn),
                    ),
                    Span::styled(format!("{typed}▏"), theme.style(Role::Title)),
                ]));
            } else {
                lines.push(Line::from(Span::styled(
                    "enter/y run · esc cancel",
                    theme.style(Role::Key),
                )));
            }
            (format!("migrate {env}"), lines, true, 7)
        }
        Dialog::Approve {
            env,
            approval,
            choice,
            typed,
            ..
        } => {
            let mut lines = vec![
                Line::from(format!(
                    "{} waits to deploy to {}",
                    approval.label,
                    approval.environment_names()
                )),
                Line::from(format!("reviewers: {}", approval.reviewers.join(", "))),
            ];
            if !approval.can_approve {
                lines.push(Line::from(Span::styled(
                    "this token's user is not among them: GitHub will refuse the review",
                    theme.style(Role::Warn),
                )));
            }
            lines.push(Line::from(""));
            match choice {
                Some(approve) => {
                    let verb = if *approve { "approve" } else { "reject" };
                    lines.extend(typed_prompt(env, verb, typed, "esc cancels", theme));
                }
                None => lines.push(Line::from(Span::styled(
                    "a approve · r reject · esc decide later",
                    theme.style(Role::Key),
                ))),
            }
            (format!("review deploy to {env}"), lines, true, 8)
        }
        Dialog::Unpin { env } => (
            format!("unpin {env}"),
            vec![
                Line::from(format!(
                    "`{env}` was pinned after a rollback so no promotion overwrites it."
                )),
                Line::from(match state.pins.get(env) {
                    Some(p) => format!("pinned at {} by {} ({})", p.release, p.by, p.reason),
                    None => String::new(),
                }),
                Line::from(Span::styled(
                    "enter/y unpin · esc keep the pin",
                    theme.style(Role::Key),
                )),
            ],
            false,
            6,
        ),
        Dialog::Interrupted { plans, confirm } => {
            let paused = plans.first().and_then(|p| p.paused.as_ref());
            let mut lines = vec![Line::from(Span::styled(
                if paused.is_some() {
                    "A plan holds after a failed gate (its lock is kept until you decide):"
                } else {
                    "A plan was interrupted (crash, kill or quit while running):"
                },
                theme.style(Role::Warn),
            ))];
            for p in plans.iter().take(5) {
                lines.push(Line::from(format!("  {} · {}", p.plan_id, p.summary)));
            }
            if let Some(reason) = paused {
                lines.push(Line::from(Span::styled(
                    format!("  failing: {reason}"),
                    theme.style(Role::Error),
                )));
            }
            lines.push(Line::from(""));
            match (confirm, plans.first()) {
                (Some((mode, typed)), Some(first)) => {
                    let what = match mode {
                        crate::engine::ResumeMode::Resume if paused.is_some() => "continue",
                        crate::engine::ResumeMode::Resume => "resume",
                        crate::engine::ResumeMode::Rollback => "roll back",
                        crate::engine::ResumeMode::Abandon => "abandon",
                    };
                    lines.extend(typed_prompt(&first.env, what, typed, "esc goes back", theme));
                }
                _ if paused.is_some() => lines.push(Line::from(Span::styled(
                    "r continue (run the gate again) · b roll back what it deployed · x abandon (keep it, free the env) · esc decide later",
                    theme.style(Role::Key),
                ))),
                _ => lines.push(Line::from(Span::styled(
                    "r resume from the step in flight · b roll back what it deployed · esc decide later",
                    theme.style(Role::Key),
                ))),
            }
            (
                if paused.is_some() {
                    "paused plan".to_string()
                } else {
                    "interrupted plan".to_string()
                },
                lines,
                true,
                7 + plans.len().min(5) as u16,
            )
        }
        Dialog::Confirm { preview, typed } => {
            let plan = &preview.plan;
            let (_, to) = plan.from_to();
            let title = match &plan.source_env {
                Some(src) => format!("promote {src} → {}", plan.target_env),
                None => format!("rollback {} to {to}", plan.target_env),
            };
            let mut lines = Vec::new();
            let width = preview
                .changes
                .iter()
                .map(|c| c.services.join("+").chars().count())
                .max()
                .unwrap_or(0)
                .max(7);
            for change in &preview.changes {
                let name = if change.services.is_empty() {
                    "release".to_string()
                } else {
                    change.services.join("+")
                };
                let from = match (&change.from_release, &change.from) {
                    (Some(r), Some(a)) => format!("{r} {}", short_image(a)),
                    (Some(r), None) => r.clone(),
                    (None, _) => "nothing".into(),
                };
                let to = format!(
                    "{} {}",
                    change.to_release.clone().unwrap_or_default(),
                    short_image(&change.to)
                );
                let mut spans = vec![
                    Span::styled(format!("{name:<width$}  "), theme.style(Role::Muted)),
                    Span::raw(from),
                    Span::styled("  →  ", theme.style(Role::Title)),
                    Span::styled(to.trim().to_string(), theme.style(Role::Ok)),
                ];
                if change.unchanged {
                    spans.push(Span::styled(
                        "  (already running)",
                        theme.style(Role::Muted),
                    ));
                }
                lines.push(Line::from(spans));
            }
            lines.push(Line::from(Span::styled(
                format!("on gate failure: {:?}", plan.on_fail).to_lowercase(),
                theme.style(Role::Muted),
            )));
            for note in &preview.notes {
                let role = if note.contains("never rolled back")
                    || note.contains("not reverted")
                    || note.contains("undone")
                    || note.contains("secrets in")
                {
                    Role::Warn
                } else {
                    Role::Base
                };
                lines.push(Line::from(Span::styled(
                    format!("• {note}"),
                    theme.style(role),
                )));
            }
            let steps: Vec<String> = (0..plan.steps.len()).map(|i| plan.step_name(i)).collect();
            lines.push(Line::from(Span::styled(
                format!("steps: {}", steps.join(" → ")),
                theme.style(Role::Muted),
            )));
            lines.push(Line::from(""));
            if preview.protected {
                lines.extend(typed_prompt(
                    &plan.target_env,
                    "confirm",
                    typed,
                    "esc cancels",
                    theme,
                ));
            } else {
                lines.push(Line::from(Span::styled(
                    "enter/y start · esc cancel",
                    theme.style(Role::Key),
                )));
            }
            let h = lines.len() as u16 + 4;
            (title, lines, preview.protected, h)
        }
    };
    let rect = centered(area, 96, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame_block(title, theme, danger)),
        rect,
    );
}

/// The typed confirmation of a protected env: the prompt with what was typed, and how to leave.
fn typed_prompt(
    env: &str,
    verb: &str,
    typed: &str,
    leave: &str,
    theme: &Theme,
) -> [Line<'static>; 2] {
    [
        Line::from(vec![
            Span::styled(
                format!("`{env}` is protected. Type its name to {verb}: "),
                theme.style(Role::Warn),
            ),
            Span::styled(format!("{typed}▏"), theme.style(Role::Title)),
        ]),
        Line::from(Span::styled(
            format!("enter confirms once the name matches · {leave}"),
            theme.style(Role::Muted),
        )),
    ]
}
