//! The `?` overlay: every binding with its keys, and why disabled ones are.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Row, Table};

use crate::keymap::{Action, Keymap};
use crate::state::State;
use crate::ui::layout::centered;
use crate::ui::theme::{Role, Theme};

/// Draw the overlay.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, keymap: &Keymap) {
    let rect = centered(area, 78, Action::ALL.len() as u16 + 4);
    frame.render_widget(Clear, rect);
    let rows = Action::ALL.iter().map(|a| {
        let why = state.disabled(*a);
        let desc_role = if why.is_some() {
            Role::Disabled
        } else {
            Role::Base
        };
        Row::new(vec![
            Cell::from(Span::styled(keymap.all_keys(*a), theme.style(Role::Title))),
            Cell::from(Span::styled(a.describe(), theme.style(desc_role))),
            Cell::from(Span::styled(
                why.map(|w| format!("disabled: {w}")).unwrap_or_default(),
                theme.style(Role::Disabled),
            )),
        ])
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(Role::BorderFocused))
        .title(Span::styled(
            " Keys · any key closes · remap in [keys.bind] ",
            theme.style(Role::Title),
        ));
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(20),
            Constraint::Fill(1),
        ],
    )
    .block(block);
    frame.render_widget(table, rect);
}
