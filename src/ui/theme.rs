//! Semantic themes: panels ask for a [`Role`], a TOML theme maps roles to styles.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// What a piece of text means; themes decide how it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Role {
    Base,
    Muted,
    Title,
    Border,
    BorderFocused,
    Selected,
    Header,
    Ok,
    Warn,
    Error,
    Running,
    Attention,
    Key,
    KeyDesc,
    Disabled,
    Marker,
    BadgeDemo,
    BadgeProtected,
    BadgeReadonly,
    LogTrace,
    LogDebug,
    LogInfo,
    LogWarn,
    LogError,
    LogTime,
    Sparkline,
    Match,
}

/// Built-in themes, embedded so the binary needs no files.
const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// Names of the built-in themes.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A resolved theme.
#[derive(Debug, Clone)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    styles: BTreeMap<Role, Style>,
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// Neither a built-in name nor a readable file.
    #[error("unknown theme `{0}`; use dark, light or mono, or a path to a theme .toml file")]
    Unknown(String),
    /// The file is not a valid theme.
    #[error(
        "theme {name}: {message}\n  hint: see themes/dark.toml for the shape: [roles] role = \"fg on bg bold\""
    )]
    Invalid {
        /// Theme name or path.
        name: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    roles: BTreeMap<Role, String>,
}

impl Theme {
    /// Load a built-in theme by name or a theme file by path.
    pub fn load(name: &str) -> Result<Theme, ThemeError> {
        if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Theme::parse(n, text);
        }
        let path = Path::new(name);
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Invalid {
                name: name.to_string(),
                message: format!("cannot read: {e}"),
            })?;
            return Theme::parse(name, &text);
        }
        Err(ThemeError::Unknown(name.to_string()))
    }

    /// Pick the theme to use: `NO_COLOR` wins, then the flag, then config.
    pub fn choose(
        flag: Option<&str>,
        configured: &str,
        no_color: bool,
    ) -> Result<Theme, ThemeError> {
        if no_color {
            return Theme::load("mono");
        }
        Theme::load(flag.unwrap_or(configured))
    }

    /// Parse theme TOML text.
    pub fn parse(name: &str, text: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Invalid {
            name: name.to_string(),
            message: e.message().to_string(),
        })?;
        let mut styles = BTreeMap::new();
        for (role, spec) in file.roles {
            let style = parse_style(&spec).map_err(|message| ThemeError::Invalid {
                name: name.to_string(),
                message: format!("role `{role:?}`: {message}"),
            })?;
            styles.insert(role, style);
        }
        Ok(Theme {
            name: name.to_string(),
            styles,
        })
    }

    /// The style for a role (falls back to `base`).
    pub fn style(&self, role: Role) -> Style {
        self.styles
            .get(&role)
            .or_else(|| self.styles.get(&Role::Base))
            .copied()
            .unwrap_or_default()
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::load("dark").unwrap_or_else(|_| Theme {
            name: "dark".into(),
            styles: BTreeMap::new(),
        })
    }
}

/// Parse `"light_red on black bold"`.
fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace().peekable();
    let mut fg_set = false;
    while let Some(word) = words.next() {
        let modifier = match word {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" => Some(Modifier::UNDERLINED),
            "reversed" => Some(Modifier::REVERSED),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
        } else if word == "on" {
            let bg = words.next().ok_or("`on` needs a colour after it")?;
            style = style.bg(parse_color(bg)?);
        } else if !fg_set {
            style = style.fg(parse_color(word)?);
            fg_set = true;
        } else {
            return Err(format!("unexpected `{word}`"));
        }
    }
    Ok(style)
}

fn parse_color(word: &str) -> Result<Color, String> {
    Color::from_str(word).map_err(|_| {
        format!("`{word}` is not a colour (use a name like light_red, an index 0-255, or #rrggbb)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_defines_every_role() {
        for name in builtin_names() {
            let theme = Theme::load(name).unwrap();
            let text = BUILTIN.iter().find(|(n, _)| *n == name).unwrap().1;
            let file: ThemeFile = toml::from_str(text).unwrap();
            assert_eq!(file.roles.len(), 27, "{name} must define all 27 roles");
            assert_eq!(theme.name, name);
        }
    }

    #[test]
    fn no_color_forces_mono_and_bad_specs_are_named() {
        let theme = Theme::choose(Some("dark"), "light", true).unwrap();
        assert_eq!(theme.name, "mono");
        assert_eq!(theme.style(Role::Error).fg, None);
        let err = Theme::parse("t", "[roles]\nok = \"purplish\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`purplish` is not a colour"), "{err}");
        assert!(
            Theme::load("neon")
                .unwrap_err()
                .to_string()
                .contains("unknown theme `neon`")
        );
    }
}
