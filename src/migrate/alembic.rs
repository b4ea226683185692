//! Alembic awareness without Python: the revision graph read from the
//! project's `versions/*.py` files (`revision = "…"`, `down_revision = …`),
//! and the applied revision read from the database's `alembic_version`
//! table. From the two, what is pending. Running revisions is left to
//! alembic itself (see [`super::command`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// `revision = "ae1027a6acf"`.
    pub id: String,
    /// `down_revision` (several for a merge revision; none for the first).
    pub down: Vec<String>,
    /// The first line of the module docstring, else the file name.
    pub title: String,
}

/// Why the revision graph could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AlembicError {
    /// The versions folder is missing.
    #[error(
        "no alembic versions folder at {0}: set [env.migrations] dir to the folder holding alembic.ini"
    )]
    NoVersions(PathBuf),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The `versions` folder of the alembic project in `dir`: `script_location`
/// from `alembic.ini` (default `alembic`), then `versions`.
pub fn versions_dir(dir: &Path) -> PathBuf {
    let script = std::fs::read_to_string(dir.join("alembic.ini"))
        .ok()
        .and_then(|ini| {
            ini.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "script_location").then(|| v.trim().to_string())
            })
        })
        .map(|s| s.replace("%(here)s", &dir.display().to_string()))
        .unwrap_or_else(|| "alembic".to_string());
    let script = PathBuf::from(script);
    let script = if script.is_absolute() {
        script
    } else {
        dir.join(script)
    };
    script.join("versions")
}

/// Every revision in the project at `dir`.
pub fn revisions(dir: &Path) -> Result<Vec<Revision>, AlembicError> {
    let versions = versions_dir(dir);
    let entries =
        std::fs::read_dir(&versions).map_err(|_| AlembicError::NoVersions(versions.clone()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("py") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| AlembicError::Read {
            path: path.clone(),
            source,
        })?;
        if let Some(rev) = parse_revision(&text, &path) {
            out.push(rev);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Read one revision module (None when it declares no `revision`).
pub fn parse_revision(text: &str, path: &Path) -> Option<Revision> {
    let mut id = None;
    let mut down = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = assignment(line) else {
            continue;
        };
        match key {
            "revision" => id = quoted(value).into_iter().next(),
            "down_revision" => down = quoted(value),
            _ => {}
        }
    }
    let title = docstring_title(text).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Some(Revision {
        id: id?,
        down,
        title,
    })
}

/// `name = value` or `name: type = value` at the start of a line.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (left, value) = line.split_once('=')?;
    let name = left.split(':').next()?.trim();
    if line.starts_with(char::is_whitespace) || value.starts_with('=') {
        return None;
    }
    Some((name, value.trim()))
}

/// Every quoted string in `value` (`"a"`, `'a'`, `("a", "b")`); `None` gives none.
fn quoted(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find(['"', '\'']) {
        let q = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(q) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

fn docstring_title(text: &str) -> Option<String> {
    let body = text.trim_start();
    let body = body
        .strip_prefix("\"\"\"")
        .or_else(|| body.strip_prefix("'''"))?;
    let first = body
        .lines()
        .next()?
        .trim()
        .trim_end_matches("\"\"\"")
        .trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// Revisions no other revision builds on.
pub fn heads(revs: &[Revision]) -> Vec<String> {
    let below: HashSet<&str> = revs
        .iter()
        .flat_map(|r| r.down.iter().map(String::as_str))
        .collect();
    revs.iter()
        .filter(|r| !below.contains(r.id.as_str()))
        .map(|r| r.id.clone())
        .collect()
}

/// Revisions between the applied ones and the heads, oldest first:
/// everything reachable from a head that is not at or below an applied one.
pub fn pending(revs: &[Revision], applied: &[String]) -> Vec<(String, String)> {
    let by_id: HashMap<&str, &Revision> = revs.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = applied.iter().map(String::as_str).collect();
    while let Some(id) = stack.pop() {
        if done.insert(id)
            && let Some(r) = by_id.get(id)
        {
            stack.extend(r.down.iter().map(String::as_str));
        }
    }
    // Walk down from each head; emit in dependency order (parents first).
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    fn visit<'a>(
        id: &'a str,
        by_id: &HashMap<&'a str, &'a Revision>,
        done: &HashSet<&'a str>,
        seen: &mut HashSet<&'a str>,
        out: &mut Vec<(String, String)>,
    ) {
        if done.contains(id) || !seen.insert(id) {
            return;
        }
        if let Some(r) = by_id.get(id) {
            for d in &r.down {
                visit(d, by_id, done, seen, out);
            }
            out.push((r.id.clone(), r.title.clone()));
        }
    }
    for head in heads(revs) {
        let head = by_id.get(head.as_str()).map(|r| r.id.as_str());
        if let Some(h) = head {
            visit(h, &by_id, &done, &mut seen, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(id: &str, down: &[&str]) -> Revision {
        Revision {
            id: id.into(),
            down: down.iter().map(|s| s.to_string()).collect(),
            title: format!("t{id}"),
        }
    }

    #[test]
    fn reads_revision_modules_as_alembic_writes_them() {
        let text = r#""""add users table

Revision ID: 1975ea83b712
Revises: None
"""
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "1975ea83b712"
down_revision: Union[str, None] = None
branch_labels = None
"#;
        let r = parse_revision(text, Path::new("1975ea83b712_add_users.py")).unwrap();
        assert_eq!(r.id, "1975ea83b712");
        assert!(r.down.is_empty());
        assert_eq!(r.title, "add users table");

        let merge = "revision = 'c3'\ndown_revision = ('a1', 'b2')\n";
        let r = parse_revision(merge, Path::new("c3_merge.py")).unwrap();
        assert_eq!(r.down, ["a1", "b2"]);
        assert_eq!(r.title, "c3_merge");
        assert!(parse_revision("x = 1\n", Path::new("helpers.py")).is_none());
    }

    #[test]
    fn pending_is_what_lies_between_applied_and_heads() {
        let revs = vec![rev("a", &[]), rev("b", &["a"]), rev("c", &["b"])];
        assert_eq!(heads(&revs), ["c"]);
        let ids = |p: Vec<(String, String)>| p.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(ids(pending(&revs, &[])), ["a", "b", "c"]);
        assert_eq!(ids(pending(&revs, &["a".into()])), ["b", "c"]);
        assert!(pending(&revs, &["c".into()]).is_empty());
        // Two branches merged: both sides pending, parents first.
        let revs = vec![
            rev("a", &[]),
            rev("b1", &["a"]),
            rev("b2", &["a"]),
            rev("m", &["b1", "b2"]),
        ];
        let got = ids(pending(&revs, &["b1".into()]));
        assert_eq!(got, ["b2", "m"]);
    }
}
