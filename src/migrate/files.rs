//! Migration files named the golang-migrate way.
//!
//! Every migration is a pair of files in one directory:
//! `{version}_{title}.up.sql` and `{version}_{title}.down.sql`, where
//! `version` is an unsigned 64-bit integer (leading zeros allowed, e.g.
//! `000056`) and `title` is free text for humans (it may contain dots, e.g.
//! `000056_upgrade_channels_v6.0.up.sql`). Either half may be missing.
//! Files that do not end in `.sql` are ignored; sub-directories are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One migration version with its optional up and down files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version number parsed from the file name.
    pub version: u64,
    /// The title part of the file name (taken from the up file when both exist).
    pub title: String,
    /// Path of the `.up.sql` file, if present.
    pub up: Option<PathBuf>,
    /// Path of the `.down.sql` file, if present.
    pub down: Option<PathBuf>,
}

/// Why the migration directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The directory or a file in it could not be read.
    #[error("cannot read {}: {source} (check that the path exists and is readable)", path.display())]
    Read {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `.sql` file whose name is not `{version}_{title}.(up|down).sql`.
    #[error(
        "bad migration file name {file}: {why} (rename it to {{version}}_{{title}}.up.sql or \
         {{version}}_{{title}}.down.sql, e.g. 000001_create_users.up.sql, or move it out of the directory)"
    )]
    BadName {
        /// The offending file name.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// Two up files (or two down files) share a version.
    #[error(
        "duplicate migration version {version}: {a} and {b} (each version needs exactly one up and \
         at most one down file; renumber or delete one of them)"
    )]
    Duplicate {
        /// The shared version.
        version: u64,
        /// The first file name.
        a: String,
        /// The second file name.
        b: String,
    },
}

/// Direction of one migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Parses a `.sql` file name into (version, title, direction).
fn parse_name(name: &str) -> Result<(u64, String, Direction), String> {
    let stem = name
        .strip_suffix(".sql")
        .ok_or_else(|| "it does not end in .sql".to_string())?;
    let (rest, dir) = if let Some(rest) = stem.strip_suffix(".up") {
        (rest, Direction::Up)
    } else if let Some(rest) = stem.strip_suffix(".down") {
        (rest, Direction::Down)
    } else {
        return Err("it ends in neither .up.sql nor .down.sql".to_string());
    };
    let (digits, title) = rest
        .split_once('_')
        .ok_or_else(|| "there is no '_' between the version and the title".to_string())?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the version {digits:?} is not a number"));
    }
    let version = digits
        .parse::<u64>()
        .map_err(|_| format!("the version {digits} does not fit in 64 bits"))?;
    Ok((version, title.to_string(), dir))
}

/// All migrations in `dir`, sorted by version. Ignores non-.sql files; empty files are fine.
pub fn discover(dir: &Path) -> Result<Vec<Migration>, FilesError> {
    let read_err = |path: &Path, source| FilesError::Read {
        path: path.to_path_buf(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| read_err(&path, e))?;
        // Follow symlinks to decide whether this is a file.
        let is_file = if file_type.is_symlink() {
            path.is_file()
        } else {
            file_type.is_file()
        };
        if !is_file {
            continue;
        }
        let os_name = entry.file_name();
        let lossy = os_name.to_string_lossy().into_owned();
        if !lossy.ends_with(".sql") {
            continue;
        }
        if os_name.to_str().is_none() {
            return Err(FilesError::BadName {
                file: lossy,
                why: "the name is not valid UTF-8".to_string(),
            });
        }
        files.push((lossy, path));
    }
    // Deterministic order so duplicate reports are stable.
    files.sort();

    let mut by_version: BTreeMap<u64, Migration> = BTreeMap::new();
    for (name, path) in files {
        let (version, title, dir) = parse_name(&name).map_err(|why| FilesError::BadName {
            file: name.clone(),
            why,
        })?;
        let m = by_version.entry(version).or_insert_with(|| Migration {
            version,
            title: title.clone(),
            up: None,
            down: None,
        });
        let slot = match dir {
            Direction::Up => &mut m.up,
            Direction::Down => &mut m.down,
        };
        if let Some(existing) = slot {
            return Err(FilesError::Duplicate {
                version,
                a: file_name(existing),
                b: name,
            });
        }
        *slot = Some(path);
        if dir == Direction::Up {
            m.title = title;
        }
    }
    Ok(by_version.into_values().collect())
}

/// The last component of a path as text.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn discovers_pairs_sorted() {
        let d = tempfile::tempdir().unwrap();
        touch(
            d.path(),
            "000002_add_email.up.sql",
            "ALTER TABLE t ADD c int;",
        );
        touch(d.path(), "000002_add_email.down.sql", "");
        touch(
            d.path(),
            "000001_create_users.up.sql",
            "CREATE TABLE t (id int);",
        );
        touch(d.path(), "000001_create_users.down.sql", "DROP TABLE t;");
        touch(d.path(), "10_only_up.up.sql", "");
        touch(d.path(), "README.md", "hello");
        touch(d.path(), "notes.txt", "x");
        std::fs::create_dir(d.path().join("sub.sql")).unwrap();
        let ms = discover(d.path()).unwrap();
        assert_eq!(
            ms.iter().map(|m| m.version).collect::<Vec<_>>(),
            vec![1, 2, 10]
        );
        assert_eq!(ms[0].title, "create_users");
        assert!(ms[0].up.is_some() && ms[0].down.is_some());
        assert!(ms[2].up.is_some() && ms[2].down.is_none());
    }

    #[test]
    fn dotted_title() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "000056_upgrade_channels_v6.0.up.sql", "");
        touch(d.path(), "000056_upgrade_channels_v6.0.down.sql", "");
        let ms = discover(d.path()).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].version, 56);
        assert_eq!(ms[0].title, "upgrade_channels_v6.0");
    }

    #[test]
    fn bad_names() {
        for bad in [
            "create.up.sql",
            "x1_a.up.sql",
            "1_a.sql",
            "1_a.sideways.sql",
            "_a.up.sql",
            "99999999999999999999999_a.up.sql",
            "1.up.sql",
        ] {
            let d = tempfile::tempdir().unwrap();
            touch(d.path(), bad, "");
            match discover(d.path()) {
                Err(FilesError::BadName { file, .. }) => assert_eq!(file, bad),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "create.up.sql", "");
        let msg = discover(d.path()).unwrap_err().to_string();
        assert!(
            msg.contains("create.up.sql") && msg.contains("rename"),
            "{msg}"
        );
    }

    #[test]
    fn duplicate_versions() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "1_a.up.sql", "");
        touch(d.path(), "001_b.up.sql", "");
        match discover(d.path()) {
            Err(e @ FilesError::Duplicate { version: 1, .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("001_b.up.sql") && msg.contains("1_a.up.sql"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_dir() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        assert!(matches!(discover(&missing), Err(FilesError::Read { .. })));
    }

    #[test]
    fn empty_dir() {
        let d = tempfile::tempdir().unwrap();
        assert!(discover(d.path()).unwrap().is_empty());
    }
}
