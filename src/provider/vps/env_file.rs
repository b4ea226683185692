//! A service's env file on the host (`.env.production`, read by the unit's
//! `EnvironmentFile=`): its variables read for names and digests, and edits
//! that keep every other line (comments, order, blank lines) as it was.
//!
//! Values are written bare when that is safe, else in double quotes with
//! `\\`, `"`, `$` and `` ` `` escaped, which systemd and Docker Compose both
//! read back to the same value. A value with a line break is refused: one
//! line per variable is what both readers agree on.

/// Prints the file's mtime (or `missing`) on the first line, then the file.
/// Args: FILE.
pub const READ: &str = r#"if [ -f "$1" ]; then stat -c %Y -- "$1" && cat -- "$1"; elif [ -e "$1" ]; then echo "$1 is not a file" >&2; exit 4; else echo missing; fi
"#;

/// Replaces the file with stdin atomically: only if it still has the
/// checksum it was read with (`none`: it did not exist), through a 0600
/// temp file in the same folder that is synced before it is renamed over
/// it, the old one kept as `FILE.bak`. What arrived must have the checksum
/// of what was sent, so a sender killed mid-write (its stdin closes early,
/// which looks like the end) never renames half a file: the file stays as
/// it was. Args: FILE SHA256-READ SHA256-NEW.
pub const WRITE: &str = r#"set -e
f=$1
d=$(dirname -- "$f")
if [ -f "$f" ]; then s=$(sha256sum < "$f" | cut -c1-64); else s=none; fi
if [ "$s" != "$2" ]; then echo "$f changed since shipdeck read it; nothing was written: look again and retry" >&2; exit 6; fi
t=$(mktemp "$d/.shipdeck-env.XXXXXX")
trap 'rm -f "$t"' EXIT
chmod 600 "$t"
cat > "$t"
n=$(sha256sum < "$t" | cut -c1-64)
if [ "$n" != "$3" ]; then echo "the new $f arrived incomplete (checksum $n); nothing was replaced" >&2; exit 5; fi
sync "$t" 2>/dev/null || sync
if [ -f "$f" ]; then cp -p -- "$f" "$f.bak"; chmod 600 "$f.bak"; fi
mv -f -- "$t" "$f"
sync "$d" 2>/dev/null || true
"#;

/// One `KEY=VALUE` line's key and value, as the readers see them.
fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = value.trim();
    let value = if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.to_string()
    } else {
        value.to_string()
    };
    Some((key.to_string(), value))
}

/// The variables of an env file, in file order (a later line wins, as in
/// the readers).
pub fn variables(text: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (k, v) in text.lines().filter_map(parse_line) {
        match vars.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => vars.push((k, v)),
        }
    }
    vars
}

/// A value that cannot go in an env file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    /// The name is not a variable name.
    #[error("`{0}` is not a variable name: use letters, digits and `_`, not starting with a digit")]
    Name(String),
    /// The value spans lines.
    #[error(
        "the value of {0} has a line break, which an env file cannot hold: use one line (base64 for a key file)"
    )]
    Multiline(String),
}

fn format_value(value: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-.,:/@+=%".contains(c);
    if !value.is_empty() && value.chars().all(bare) {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `text` with each `(name, Some(value))` set (replacing its line, or
/// appended) and each `(name, None)` removed; every other line unchanged.
pub fn edit(text: &str, changes: &[(String, Option<String>)]) -> Result<String, EnvFileError> {
    for (name, value) in changes {
        if !crate::shell::is_variable_name(name) {
            return Err(EnvFileError::Name(name.clone()));
        }
        if value.as_deref().is_some_and(|v| v.contains(['\n', '\r'])) {
            return Err(EnvFileError::Multiline(name.clone()));
        }
    }
    let mut done: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in text.lines() {
        let change =
            parse_line(line).and_then(|(k, _)| changes.iter().find(|(name, _)| *name == k));
        match change {
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some((name, Some(value))) => {
                if !done.contains(&name.as_str()) {
                    out.push_str(&format!("{name}={}\n", format_value(value)));
                    done.push(name);
                }
            }
            Some((_, None)) => {}
        }
    }
    for (name, value) in changes {
        if let Some(value) = value
            && !done.contains(&name.as_str())
        {
            out.push_str(&format!("{name}={}\n", format_value(value)));
            done.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shapes_systemd_and_compose_accept() {
        let text = "# db\nPOSTGRES_USER=app\nexport API_ADDR=0.0.0.0:8080\nJWT=\"a b\\\"c\"\nQ='x y'\n\nbad line\nPOSTGRES_USER=again\n";
        assert_eq!(
            variables(text),
            [
                ("POSTGRES_USER".to_string(), "again".to_string()),
                ("API_ADDR".into(), "0.0.0.0:8080".into()),
                ("JWT".into(), "a b\"c".into()),
                ("Q".into(), "x y".into()),
            ]
        );
    }

    #[test]
    fn an_edit_keeps_every_other_line_and_reads_back_the_same() {
        let text = "# keep me\nA=1\n\nB=2\n";
        let changes = vec![
            (
                "A".to_string(),
                Some("new value with $HOME and \"quotes\"".to_string()),
            ),
            ("B".to_string(), None),
            ("C".to_string(), Some("plain".to_string())),
        ];
        let out = edit(text, &changes).unwrap();
        assert!(
            out.starts_with("# keep me\nA=\"new value with \\$HOME and \\\"quotes\\\"\"\n\n"),
            "{out}"
        );
        assert_eq!(
            variables(&out),
            [
                (
                    "A".to_string(),
                    "new value with $HOME and \"quotes\"".to_string()
                ),
                ("C".into(), "plain".into()),
            ]
        );
    }

    #[test]
    fn bad_names_and_multiline_values_are_refused() {
        assert_eq!(
            edit("", &[("1X".into(), Some("v".into()))]),
            Err(EnvFileError::Name("1X".into()))
        );
        assert!(matches!(
            edit("", &[("K".into(), Some("a\nb".into()))]),
            Err(EnvFileError::Multiline(_))
        ));
    }
}
