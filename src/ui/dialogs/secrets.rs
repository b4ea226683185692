//! The Secrets actions' dialogs: the input form (values masked unless
//! revealed, never drawn unsanitised), the unset confirmation and rotation
//! progress.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::plan::frame_block;
use crate::engine::StepStatus;
use crate::state::State;
use crate::state::secrets_ui::{Field, FormKind, RotationView, SecretForm, UnsetConfirm};
use crate::ui::layout::{centered, centered_for_lines};
use crate::ui::theme::{Role, Theme};

/// Lines of the value fields shown at most.
const VALUE_ROWS: usize = 4;

/// Draw whichever secrets dialog is open.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let ui = &state.secrets_ui;
    if let Some(view) = &ui.rotation {
        draw_rotation(frame, area, view, theme);
    }
    if let Some(confirm) = &ui.unset {
        draw_unset(frame, area, confirm, theme);
    }
    if let Some(form) = &ui.form {
        draw_form(frame, area, form, theme);
    }
}

fn label(text: &str, focused: bool, theme: &Theme) -> Span<'static> {
    let role = if focused { Role::Title } else { Role::Muted };
    Span::styled(format!(" {text:<9}"), theme.style(role))
}

/// The rows of a value field: bullets when masked, sanitised text when revealed.
fn value_rows(area: &TextArea<'static>, revealed: bool) -> Vec<String> {
    area.lines()
        .iter()
        .map(|l| {
            if revealed {
                crate::sanitize::sanitize(l)
            } else {
                "•".repeat(l.chars().count())
            }
        })
        .collect()
}

fn draw_form(frame: &mut Frame, area: Rect, form: &SecretForm, theme: &Theme) {
    let name = form.name_text();
    let title = match form.kind {
        FormKind::New => format!("new secret in {}", form.env),
        FormKind::Set => format!("set {name} in {}", form.env),
        FormKind::Rotate => format!("rotate {name}"),
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut cursor: Option<(u16, u16)> = None;
    let focus = |f: Field| form.field == f;
    if form.kind == FormKind::New {
        cursor =
            focus(Field::Name).then_some((lines.len() as u16, 10 + name.chars().count() as u16));
        lines.push(Line::from(vec![
            label("name", focus(Field::Name), theme),
            Span::raw(crate::sanitize::sanitize(&form.name_text())),
        ]));
    } else {
        lines.push(Line::from(vec![
            label("name", false, theme),
            Span::styled(name.clone(), theme.style(Role::Title)),
            Span::styled(
                if form.kind == FormKind::Set {
                    format!("  in {}", form.env)
                } else {
                    String::new()
                },
                theme.style(Role::Muted),
            ),
        ]));
    }
    let mut value_field =
        |field: Field, text: &str, area: &TextArea<'static>, lines: &mut Vec<Line>| {
            let rows = value_rows(area, form.revealed);
            let ratatui_textarea::DataCursor(row, col) = area.cursor();
            let first = row.saturating_sub(VALUE_ROWS - 1);
            let empty = area.is_empty() || rows.iter().all(String::is_empty);
            if focus(field) {
                cursor = Some(((lines.len() + row - first) as u16, 10 + col.min(60) as u16));
            }
            if empty {
                let hint = match field {
                    Field::Previous => "optional: the current value, restored if a gate fails",
                    _ => "type or paste the value, or ctrl-g to generate one",
                };
                lines.push(Line::from(vec![
                    label(text, focus(field), theme),
                    Span::styled(hint, theme.style(Role::Muted)),
                ]));
                return;
            }
            for (i, r) in rows.iter().enumerate().skip(first).take(VALUE_ROWS) {
                let shown: String = r.chars().take(60).collect();
                lines.push(Line::from(vec![
                    if i == first {
                        label(text, focus(field), theme)
                    } else {
                        Span::raw(" ".repeat(10))
                    },
                    Span::raw(shown),
                ]));
            }
            if rows.len() > 1 {
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(10)),
                    Span::styled(format!("{} lines", rows.len()), theme.style(Role::Muted)),
                ]));
            }
        };
    value_field(Field::Value, "value", &form.value, &mut lines);
    if form.generated {
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(10)),
            Span::styled(
                format!(
                    "generated: {} {} characters (~{:.0} bits)",
                    form.gen_len,
                    form.gen_alphabet.label(),
                    form.gen_len as f64 * form.gen_alphabet.bits_per_char()
                ),
                theme.style(Role::Ok),
            ),
        ]));
    }
    if form.kind == FormKind::Rotate {
        value_field(Field::Previous, "previous", &form.previous, &mut lines);
        let mut spans = vec![label("envs", focus(Field::Envs), theme)];
        for (i, e) in form.envs.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" → ", theme.style(Role::Muted)));
            }
            let role = if focus(Field::Envs) && i == form.env_cursor {
                Role::Selected
            } else if e.protected {
                Role::BadgeProtected
            } else {
                Role::Base
            };
            spans.push(Span::styled(
                format!("[{}] {}", if e.on { "x" } else { " " }, e.name),
                theme.style(role),
            ));
        }
        lines.push(Line::from(spans));
        lines.push(Line::from(Span::styled(
            "           each env: set (staged) → apply → wait → health gate; a failed gate stops there",
            theme.style(Role::Muted),
        )));
    }
    if let Some(expected) = form.confirm_text() {
        if focus(Field::Confirm) {
            cursor = Some((lines.len() as u16, 10 + form.typed.chars().count() as u16));
        }
        lines.push(Line::from(vec![
            label("confirm", focus(Field::Confirm), theme),
            Span::raw(crate::sanitize::sanitize(&form.typed)),
            Span::styled(
                format!("   type `{expected}`: protected"),
                theme.style(Role::Warn),
            ),
        ]));
    }
    if let Some(err) = &form.error {
        lines.push(Line::from(Span::styled(
            format!(" ✗ {}", crate::sanitize::sanitize(err)),
            theme.style(Role::Error),
        )));
    }
    lines.push(Line::from(Span::styled(
        format!(
            " ^G generate ({} {}) · ^L length · ^A alphabet · ^R {} · alt-enter newline",
            form.gen_len,
            form.gen_alphabet.label(),
            if form.revealed { "mask" } else { "reveal" }
        ),
        theme.style(Role::Key),
    )));
    lines.push(Line::from(Span::styled(
        " enter save · tab next field · esc cancel (the value is wiped)",
        theme.style(Role::Key),
    )));
    let danger = form.confirm_text().is_some();
    let rect = centered(area, 92, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(frame_block(title, theme, danger)),
        rect,
    );
    if let Some((row, col)) = cursor {
        let x = (rect.x + 1 + col).min(rect.right().saturating_sub(2));
        let y = rect.y + 1 + row;
        if y < rect.bottom().saturating_sub(1) {
            frame.set_cursor_position(Position { x, y });
        }
    }
}

fn draw_unset(frame: &mut Frame, area: Rect, c: &UnsetConfirm, theme: &Theme) {
    let mut lines = vec![
        Line::from(format!("unset {} in {}", c.name, c.env)),
        Line::from(Span::styled(
            "the running app loses this variable at its next restart; shipdeck cannot read the value back to undo this",
            theme.style(Role::Warn),
        )),
    ];
    if c.protected {
        lines.push(Line::from(vec![
            Span::styled(
                format!("`{}` is protected. Type its name to confirm: ", c.env),
                theme.style(Role::Warn),
            ),
            Span::styled(format!("{}▏", c.typed), theme.style(Role::Title)),
        ]));
    } else {
        lines.push(Line::from(Span::styled(
            "enter/y unset · esc keep it",
            theme.style(Role::Key),
        )));
    }
    let rect = centered_for_lines(area, 80, &lines);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame_block(format!("unset {}", c.name), theme, true)),
        rect,
    );
}

fn draw_rotation(frame: &mut Frame, area: Rect, view: &RotationView, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled(
        format!("{} across {}", view.name, view.envs.join(" → ")),
        theme.style(Role::Title),
    ))];
    for l in &view.lines {
        let (mark, role) = match l.status {
            None => ("…", Role::Running),
            Some(StepStatus::Ok) => ("✓", Role::Ok),
            Some(StepStatus::Skipped) => ("–", Role::Muted),
            Some(StepStatus::Failed) => ("✗", Role::Error),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} "), theme.style(role)),
            Span::raw(format!("{:<12} {:<12} ", l.env, l.step.label())),
            Span::styled(l.detail.clone(), theme.style(Role::Muted)),
        ]));
    }
    if let Some(gate) = &view.gate {
        lines.push(Line::from(Span::styled(
            format!("   gate: {gate}"),
            theme.style(Role::Running),
        )));
    }
    let mut danger = false;
    match &view.outcome {
        None => lines.push(Line::from(Span::styled(
            "a abort · esc keeps it running",
            theme.style(Role::Key),
        ))),
        Some(outcome) => {
            danger = outcome.exit_code() != 0;
            lines.push(Line::from(Span::styled(
                crate::sanitize::sanitize(&outcome.describe()),
                theme.style(if danger { Role::Error } else { Role::Ok }),
            )));
            let keys = match view.restorable() {
                Some(env) => format!("r restore the previous value in {env} · esc close"),
                None => "esc close".into(),
            };
            lines.push(Line::from(Span::styled(keys, theme.style(Role::Key))));
        }
    }
    let rect = centered_for_lines(area, 100, &lines);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame_block(format!("rotate {}", view.name), theme, danger)),
        rect,
    );
}
