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

/// A version as `force` takes it (`none` for no version at all).
pub fn version_word(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// The one advice for a migration that failed while the version was being
/// moved from `before` (the schema's version if nothing of the file stayed:
/// a file runs in one transaction unless it opens its own) to `dirty`.
pub fn failed_advice(dirty: u64, before: Option<u64>) -> String {
    let by_hand = if before == Some(dirty) {
        String::new()
    } else {
        format!(" (`force {dirty}` only if you finished {dirty} by hand)")
    };
    format!(
        "the database is marked dirty at version {dirty}; the file ran in one transaction (unless it opens its own), so the schema is still at version {}: fix the cause, then `shipdeck migrate ENV force {}` and run it again{by_hand}",
        version_word(before),
        version_word(before)
    )
}

/// The advice for a database found dirty, which cannot tell which way the
/// failed step went: the same words [`failed_advice`] gave for each way.
pub fn dirty_advice(dirty: u64, previous: Option<u64>) -> String {
    format!(
        "database is dirty at version {dirty}: a migration failed. After a failed `up` to {dirty} the schema is still at version {}: fix the cause, then `shipdeck migrate ENV force {}` and run it again; after a failed `down` from {dirty}: `force {dirty}`",
        version_word(previous),
        version_word(previous)
    )
}

/// The version before `version` among the files (None when it is the first).
pub fn previous_version(migrations: &[Migration], version: u64) -> Option<u64> {
    migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < version)
        .max()
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
