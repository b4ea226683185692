//! Config errors that name the file, the line and column, the field, and a fix.

use std::fmt;
use std::path::PathBuf;

/// A position in a config file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// Column number in characters, from 1.
    pub col: usize,
}

impl Location {
    /// Turn a byte offset into a line and column.
    pub fn from_offset(text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Location { line, col }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Everything that can go wrong while finding, reading or checking a config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "{path}: cannot read config: {source}\n  hint: check the path, or run without --config to use the demo fleet"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but something in it is wrong.
    #[error("{}", render_invalid(.path, .location, .field, .message, .hint))]
    Invalid {
        /// The file (or `<embedded demo>`).
        path: PathBuf,
        /// Where in it.
        location: Option<Location>,
        /// The dotted field name, when known (`env[1].promote_to`).
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
}

fn render_invalid(
    path: &std::path::Path,
    location: &Option<Location>,
    field: &Option<String>,
    message: &str,
    hint: &str,
) -> String {
    let mut out = path.display().to_string();
    if let Some(loc) = location {
        out.push_str(&format!(":{}:{}", loc.line, loc.col));
    }
    out.push_str(": ");
    if let Some(field) = field {
        out.push_str(&format!("`{field}`: "));
    }
    out.push_str(message);
    if !hint.is_empty() {
        out.push_str("\n  hint: ");
        out.push_str(hint);
    }
    out
}

impl ConfigError {
    /// The location, when the error has one (used by tests and the JSON output).
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Invalid { location, .. } => *location,
            ConfigError::Read { .. } => None,
        }
    }
}

/// Display helper used in hints: a list of choices, `a`, `b` or `c`.
pub struct Choices<'a>(pub &'a [&'a str]);

impl fmt::Display for Choices<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == self.0.len() { " or " } else { ", " })?;
            }
            write!(f, "`{c}`")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(Location::from_offset(text, 0), Location { line: 1, col: 1 });
        assert_eq!(Location::from_offset(text, 6), Location { line: 2, col: 1 });
        assert_eq!(Location::from_offset(text, 8), Location { line: 2, col: 3 });
        assert_eq!(
            Location::from_offset("é = 1", 2),
            Location { line: 1, col: 2 }
        );
    }
}
