//! Step planning shared by the SQLite and Postgres runners: ordering, the
//! down steps to take (checked before anything runs), and message helpers.

use super::files::Migration;

/// Why a set of steps cannot be planned; each runner turns it into its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepError {
    /// The database is at a version no file describes.
    NoSuchVersion {
        /// The version.
        version: u64,
    },
    /// A down file needed to go back is missing.
    NoDown {
        /// The version.
        version: u64,
        /// The down file name expected.
        file: String,
    },
}

/// Collapses whitespace and cuts a statement to 200 characters.
pub(crate) fn shorten(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 200 {
        let mut cut: String = one_line.chars().take(200).collect();
        cut.push('…');
        cut
    } else {
        one_line
    }
}

/// Migrations sorted by version (the caller's slice may be in any order).
pub(crate) fn sorted(migrations: &[Migration]) -> Vec<&Migration> {
    let mut v: Vec<&Migration> = migrations.iter().collect();
    v.sort_by_key(|m| m.version);
    v
}

/// The down steps from `current`: at most `n`, stopping at `stop_at` (exclusive).
/// Each entry is (migration to revert, version after reverting it).
/// Checks all down files exist before anything runs.
pub(crate) fn down_plan<'a>(
    sorted: &[&'a Migration],
    current: Option<u64>,
    n: usize,
    stop_at: Option<u64>,
) -> Result<Vec<(&'a Migration, Option<u64>)>, StepError> {
    let Some(c) = current else {
        return Ok(Vec::new());
    };
    let Some(mut idx) = sorted.iter().position(|m| m.version == c) else {
        return Err(StepError::NoSuchVersion { version: c });
    };
    let mut plan = Vec::new();
    while plan.len() < n {
        let Some(m) = sorted.get(idx).copied() else {
            break;
        };
        if stop_at.is_some_and(|s| m.version <= s) {
            break;
        }
        if m.down.is_none() {
            return Err(StepError::NoDown {
                version: m.version,
                file: expected_down(m),
            });
        }
        let after = idx
            .checked_sub(1)
            .and_then(|i| sorted.get(i))
            .map(|p| p.version);
        plan.push((m, after));
        match idx.checked_sub(1) {
            Some(i) => idx = i,
            None => break,
        }
    }
    Ok(plan)
}

/// The down file name a migration should have.
fn expected_down(m: &Migration) -> String {
    if let Some(up) = &m.up
        && let Some(name) = up.file_name().and_then(|n| n.to_str())
        && let Some(stem) = name.strip_suffix(".up.sql")
    {
        return format!("{stem}.down.sql");
    }
    format!("{}_{}.down.sql", m.version, m.title)
}
