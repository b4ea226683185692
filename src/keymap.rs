//! Key bindings as data: every action has a name (used in config), a
//! description (used by the hint bar and the help overlay) and default keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// Everything a key can do. The snake_case names are what config files use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave shipdeck.
    Quit,
    /// Show every binding.
    Help,
    /// Focus the next panel.
    NextPanel,
    /// Focus the previous panel.
    PrevPanel,
    /// Jump to the Environments panel.
    FocusEnvs,
    /// Jump to the Releases panel.
    FocusReleases,
    /// Jump to the Health panel.
    FocusHealth,
    /// Jump to the Logs panel.
    FocusLogs,
    /// Jump to the Secrets panel.
    FocusSecrets,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Move the selection left (previous service in the grid).
    Left,
    /// Move the selection right (next service in the grid).
    Right,
    /// Scroll a page up.
    PageUp,
    /// Scroll a page down.
    PageDown,
    /// Go to the first row.
    Top,
    /// Go to the last row (and follow, in logs).
    Bottom,
    /// Filter the log buffer.
    Filter,
    /// Toggle follow in the log panel.
    Follow,
    /// Toggle timestamps in the log panel.
    Timestamps,
    /// Toggle wrapping in the log panel.
    Wrap,
    /// Toggle context lines around filter matches.
    Context,
    /// Jump to the first error in the buffer.
    FirstError,
    /// Copy the bottom visible log line (raw) to the clipboard.
    CopyLine,
    /// Export the whole log buffer to a file.
    Export,
    /// Show the equivalent provider CLI command for these logs.
    ShowCommand,
    /// Show the logs of the selected service.
    LogsOfSelected,
    /// Open the command log (every provider call).
    CommandLog,
    /// Re-read releases, secrets and health now.
    Refresh,
    /// Promote the selected env to its `promote_to` env.
    Promote,
    /// Roll the selected env back.
    Rollback,
    /// Open migrations of the selected env.
    Migrations,
    /// Abort the running plan.
    Abort,
    /// Remove the selected env's pin.
    Unpin,
    /// Show the audit log.
    Audit,
    /// Approve or reject a deploy of the selected env waiting for a reviewer.
    Approve,
    /// Close a dialog or clear a filter.
    Cancel,
    /// Secrets panel: add a secret.
    SecretNew,
    /// Secrets panel: set the selected secret's value.
    SecretSet,
    /// Secrets panel: unset the selected secret.
    SecretUnset,
    /// Secrets panel: rotate the selected secret across envs, health-gated.
    SecretRotate,
}

impl Action {
    /// Every action, in help-overlay order.
    pub const ALL: [Action; 41] = [
        Action::Help,
        Action::Quit,
        Action::NextPanel,
        Action::PrevPanel,
        Action::FocusEnvs,
        Action::FocusReleases,
        Action::FocusHealth,
        Action::FocusLogs,
        Action::FocusSecrets,
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::LogsOfSelected,
        Action::Filter,
        Action::Follow,
        Action::Timestamps,
        Action::Wrap,
        Action::Context,
        Action::FirstError,
        Action::CopyLine,
        Action::Export,
        Action::ShowCommand,
        Action::CommandLog,
        Action::Refresh,
        Action::Promote,
        Action::Rollback,
        Action::Migrations,
        Action::Abort,
        Action::Unpin,
        Action::Audit,
        Action::Approve,
        Action::SecretNew,
        Action::SecretSet,
        Action::SecretUnset,
        Action::SecretRotate,
        Action::Cancel,
    ];

    /// Short description for the hint bar and help.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::NextPanel => "next panel",
            Action::PrevPanel => "previous panel",
            Action::FocusEnvs => "environments",
            Action::FocusReleases => "releases",
            Action::FocusHealth => "health",
            Action::FocusLogs => "logs",
            Action::FocusSecrets => "secrets",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "previous service",
            Action::Right => "next service",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "top",
            Action::Bottom => "bottom / follow",
            Action::Filter => "filter",
            Action::Follow => "follow on/off",
            Action::Timestamps => "timestamps",
            Action::Wrap => "wrap",
            Action::Context => "context ±2",
            Action::FirstError => "first error",
            Action::CopyLine => "copy line",
            Action::Export => "export buffer",
            Action::ShowCommand => "equivalent CLI",
            Action::LogsOfSelected => "logs of selection",
            Action::CommandLog => "command log",
            Action::Refresh => "refresh",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::Migrations => "migrations",
            Action::Abort => "abort plan",
            Action::Unpin => "unpin env",
            Action::Audit => "audit log",
            Action::Approve => "approve deploy",
            Action::Cancel => "close / clear",
            Action::SecretNew => "new secret",
            Action::SecretSet => "set secret",
            Action::SecretUnset => "unset secret",
            Action::SecretRotate => "rotate secret",
        }
    }

    /// The panel an action belongs to, when its keys may repeat keys of
    /// global actions (`e` sets a secret in Secrets, jumps to the first error elsewhere).
    pub fn scope(self) -> Option<Panel> {
        match self {
            Action::SecretNew | Action::SecretSet | Action::SecretUnset | Action::SecretRotate => {
                Some(Panel::Secrets)
            }
            _ => None,
        }
    }

    /// The config name (`next_panel`).
    pub fn config_name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// A key with modifiers, written in config as `"q"`, `"ctrl-c"`, `"shift-tab"`, `"R"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl / Alt (Shift only for non-character keys; uppercase letters carry their own shift).
    pub mods: KeyModifiers,
}

impl Key {
    /// A plain character key.
    pub const fn char(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::NONE,
        }
    }

    /// A special key (Enter, Esc, arrows) without modifiers.
    pub const fn code(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    /// Ctrl plus a character.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// Normalise a terminal key event so it can be looked up.
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match ev.code {
            KeyCode::BackTab => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            other => other,
        };
        if matches!(code, KeyCode::Char(_)) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key { code, mods }
    }

    /// Parse `"ctrl-c"`, `"shift-tab"`, `"pagedown"`, `"?"`, `"R"`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let stripped = ["ctrl-", "alt-", "shift-"]
                .iter()
                .find(|p| lower.starts_with(**p) && rest.len() > p.len());
            match stripped {
                Some(p) => {
                    mods |= match *p {
                        "ctrl-" => KeyModifiers::CONTROL,
                        "alt-" => KeyModifiers::ALT,
                        _ => KeyModifiers::SHIFT,
                    };
                    rest = &rest[p.len()..];
                }
                None => break,
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "tab" => KeyCode::Tab,
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => {
                        let c = if mods.contains(KeyModifiers::SHIFT) {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        };
                        mods.remove(KeyModifiers::SHIFT);
                        KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                            c.to_ascii_lowercase()
                        } else {
                            c
                        })
                    }
                    _ => {
                        return Err(format!(
                            "`{text}` is not a key; write a character (\"p\", \"R\", \"?\"), a name (\"tab\", \"enter\", \"esc\", \"pagedown\", \"f5\") or add modifiers (\"ctrl-c\", \"shift-tab\")"
                        ));
                    }
                }
            }
        };
        Ok(Key { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One key or a list of keys in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<Key>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let texts = match OneOrMany::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a binding is a key string (\"p\") or a list of them ([\"j\", \"down\"])",
            )
        })? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        if texts.is_empty() {
            return Err(serde::de::Error::custom("a binding needs at least one key"));
        }
        texts
            .iter()
            .map(|t| Key::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map(KeyList)
            .map_err(serde::de::Error::custom)
    }
}

/// A starting set of bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyPreset {
    /// Arrows plus j/k, like k9s and lazygit.
    #[default]
    Default,
    /// Adds h/l (l then moves selection; enter opens logs), g/G, ctrl-u/ctrl-d, ctrl-f/ctrl-b.
    Vim,
}

/// Resolved bindings: action → keys, and the reverse lookup.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<Key>>,
}

impl Keymap {
    /// Build from a preset and config overrides (an override replaces that action's keys).
    pub fn new(preset: KeyPreset, overrides: &BTreeMap<Action, KeyList>) -> Keymap {
        let mut bindings = default_bindings();
        if preset == KeyPreset::Vim {
            for (action, keys) in vim_extras() {
                steal(&mut bindings, action, &keys);
                bindings.entry(action).or_default().extend(keys);
            }
        }
        for (action, keys) in overrides {
            steal(&mut bindings, *action, &keys.0);
            bindings.insert(*action, keys.0.clone());
        }
        Keymap { bindings }
    }

    /// Which action a key triggers in the focused panel, if any: an action
    /// scoped to that panel wins, actions scoped to other panels never match.
    pub fn action_in(&self, key: Key, panel: Panel) -> Option<Action> {
        let bound = |a: &Action| self.bindings.get(a).is_some_and(|keys| keys.contains(&key));
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.scope() == Some(panel) && bound(a))
            .or_else(|| {
                Action::ALL
                    .iter()
                    .copied()
                    .find(|a| a.scope().is_none() && bound(a))
            })
    }

    /// Which global action a key triggers, if any (panel-scoped actions excluded).
    pub fn action_for(&self, key: Key) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| {
            a.scope().is_none() && self.bindings.get(a).is_some_and(|keys| keys.contains(&key))
        })
    }

    /// Keys bound to an action.
    pub fn keys_for(&self, action: Action) -> &[Key] {
        self.bindings.get(&action).map_or(&[], Vec::as_slice)
    }

    /// The first key of an action, for hints (`?`).
    pub fn hint(&self, action: Action) -> String {
        self.keys_for(action)
            .first()
            .map_or_else(|| "unbound".to_string(), Key::to_string)
    }

    /// All keys of an action joined for the help overlay (`j ↓`).
    pub fn all_keys(&self, action: Action) -> String {
        let keys: Vec<String> = self.keys_for(action).iter().map(Key::to_string).collect();
        if keys.is_empty() {
            "unbound".into()
        } else {
            keys.join(" ")
        }
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new(KeyPreset::Default, &BTreeMap::new())
    }
}

/// A key moved to a new action leaves the action it had (in the same scope).
fn steal(bindings: &mut BTreeMap<Action, Vec<Key>>, to: Action, keys: &[Key]) {
    for (action, other) in bindings.iter_mut() {
        if action.scope() == to.scope() {
            other.retain(|k| !keys.contains(k));
        }
    }
}

fn default_bindings() -> BTreeMap<Action, Vec<Key>> {
    use Action::*;
    let shift_tab = Key {
        code: KeyCode::Tab,
        mods: KeyModifiers::SHIFT,
    };
    BTreeMap::from([
        (Quit, vec![Key::char('q'), Key::ctrl('c')]),
        (Help, vec![Key::char('?')]),
        (NextPanel, vec![Key::code(KeyCode::Tab)]),
        (PrevPanel, vec![shift_tab]),
        (FocusEnvs, vec![Key::char('1')]),
        (FocusReleases, vec![Key::char('2')]),
        (FocusHealth, vec![Key::char('3')]),
        (FocusLogs, vec![Key::char('4')]),
        (FocusSecrets, vec![Key::char('5')]),
        (Up, vec![Key::char('k'), Key::code(KeyCode::Up)]),
        (Down, vec![Key::char('j'), Key::code(KeyCode::Down)]),
        (Left, vec![Key::code(KeyCode::Left)]),
        (Right, vec![Key::code(KeyCode::Right)]),
        (PageUp, vec![Key::code(KeyCode::PageUp)]),
        (PageDown, vec![Key::code(KeyCode::PageDown)]),
        (Top, vec![Key::code(KeyCode::Home)]),
        (Bottom, vec![Key::code(KeyCode::End)]),
        (Filter, vec![Key::char('/')]),
        (Follow, vec![Key::char('f')]),
        (Timestamps, vec![Key::char('t')]),
        (Wrap, vec![Key::char('w')]),
        (Context, vec![Key::char('C')]),
        (FirstError, vec![Key::char('e')]),
        (CopyLine, vec![Key::char('y')]),
        (Export, vec![Key::char('E')]),
        (ShowCommand, vec![Key::char('!')]),
        (
            LogsOfSelected,
            vec![Key::char('l'), Key::code(KeyCode::Enter)],
        ),
        (CommandLog, vec![Key::char('c')]),
        (Refresh, vec![Key::ctrl('r')]),
        (Promote, vec![Key::char('p')]),
        (Rollback, vec![Key::char('R')]),
        (Migrations, vec![Key::char('m')]),
        (Abort, vec![Key::char('a')]),
        (Unpin, vec![Key::char('u')]),
        (Audit, vec![Key::char('A')]),
        (Approve, vec![Key::char('v')]),
        (Cancel, vec![Key::code(KeyCode::Esc)]),
        (SecretNew, vec![Key::char('n')]),
        (SecretSet, vec![Key::char('e')]),
        (SecretUnset, vec![Key::char('d')]),
        (SecretRotate, vec![Key::char('r')]),
    ])
}

fn vim_extras() -> Vec<(Action, Vec<Key>)> {
    use Action::*;
    vec![
        (Left, vec![Key::char('h')]),
        (Right, vec![Key::char('l')]),
        (Top, vec![Key::char('g')]),
        (Bottom, vec![Key::char('G')]),
        (PageUp, vec![Key::ctrl('u'), Key::ctrl('b')]),
        (PageDown, vec![Key::ctrl('d'), Key::ctrl('f')]),
    ]
}

/// The five panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// Env × service grid.
    Envs,
    /// Release history of the selected env.
    Releases,
    /// Checks of the selected service.
    Health,
    /// Log tail of the selected service.
    Logs,
    /// Secrets of the selected env.
    Secrets,
}

impl Panel {
    /// Tab order.
    pub const ORDER: [Panel; 5] = [
        Panel::Envs,
        Panel::Releases,
        Panel::Health,
        Panel::Logs,
        Panel::Secrets,
    ];

    /// Title shown on the panel's border.
    pub fn title(self) -> &'static str {
        match self {
            Panel::Envs => "Environments",
            Panel::Releases => "Releases",
            Panel::Health => "Health",
            Panel::Logs => "Logs",
            Panel::Secrets => "Secrets",
        }
    }

    /// 1-based number used by the jump keys.
    pub fn number(self) -> usize {
        Panel::ORDER.iter().position(|p| *p == self).unwrap_or(0) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_keys() {
        assert_eq!(Key::parse("ctrl-c").unwrap(), Key::ctrl('c'));
        assert_eq!(Key::parse("R").unwrap(), Key::char('R'));
        assert_eq!(Key::parse("shift-r").unwrap(), Key::char('R'));
        assert_eq!(Key::parse("f5").unwrap().code, KeyCode::F(5));
        assert_eq!(Key::parse("shift-tab").unwrap().to_string(), "shift-tab");
        assert!(Key::parse("ctrl-").unwrap_err().contains("not a key"));
        assert!(Key::parse("banana").is_err());
    }

    #[test]
    fn overrides_replace_and_steal_keys() {
        let overrides = BTreeMap::from([
            (Action::Promote, KeyList(vec![Key::char('P')])),
            (Action::Help, KeyList(vec![Key::char('p')])),
        ]);
        let map = Keymap::new(KeyPreset::Default, &overrides);
        assert_eq!(map.action_for(Key::char('P')), Some(Action::Promote));
        assert_eq!(map.action_for(Key::char('p')), Some(Action::Help));
        assert_eq!(map.action_for(Key::char('?')), None);
    }

    #[test]
    fn vim_preset_adds_hjkl_and_g() {
        let map = Keymap::new(KeyPreset::Vim, &BTreeMap::new());
        assert_eq!(map.action_for(Key::char('G')), Some(Action::Bottom));
        assert_eq!(map.action_for(Key::ctrl('d')), Some(Action::PageDown));
        assert_eq!(map.action_for(Key::char('j')), Some(Action::Down));
    }

    #[test]
    fn shift_tab_from_terminal_matches_binding() {
        let ev = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            Keymap::default().action_for(Key::from_event(&ev)),
            Some(Action::PrevPanel)
        );
        let upper = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(
            Keymap::default().action_for(Key::from_event(&upper)),
            Some(Action::Rollback)
        );
    }
}
