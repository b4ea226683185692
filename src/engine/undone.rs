//! What a rollback on a platform that restores variables (Railway) would
//! undo: the secret changes shipdeck made to the env after the release rolled
//! back to was created, read from the audit log. Changes made outside
//! shipdeck are not in the log; the dialog's general disclosure covers them.

use chrono::{DateTime, Utc};

use super::audit::AuditRecord;

/// One secret change a rollback would undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoneChange {
    /// The secret's name.
    pub name: String,
    /// `set`, `unset` or `rotate`.
    pub how: String,
    /// When it landed.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub by: String,
}

/// The successful secret changes in `records` after `since`, newest per name.
pub fn secret_changes_since(records: &[AuditRecord], since: DateTime<Utc>) -> Vec<UndoneChange> {
    let mut out: Vec<UndoneChange> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.time > since && r.result == "ok")
    {
        let Some(how) = r.action.strip_prefix("secrets.") else {
            continue;
        };
        if !matches!(how, "set" | "unset" | "rotate") {
            continue;
        }
        // The detail starts with the name (`JWT_SECRET`, `JWT_SECRET (staged)`).
        let Some(name) = r
            .detail
            .as_deref()
            .and_then(|d| d.split([' ', ':']).next())
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let change = UndoneChange {
            name: crate::sanitize::sanitize(name),
            how: how.to_string(),
            at: r.time,
            by: crate::sanitize::sanitize(&r.actor),
        };
        match out.iter_mut().find(|c| c.name == change.name) {
            Some(older) => *older = change,
            None => out.push(change),
        }
    }
    out
}

/// The dialog line for them, or None when there are none.
pub fn warning(provider: &str, release: &str, changes: &[UndoneChange]) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let list: Vec<String> = changes
        .iter()
        .map(|c| {
            format!(
                "{} ({} by {} at {})",
                c.name,
                c.how,
                c.by,
                c.at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect();
    Some(format!(
        "warning: {provider} puts back the variables {release} ran with, undoing {}; if an old value was rotated because it leaked, rotate it again after the rollback",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str, result: &str, detail: &str, minutes: i64) -> AuditRecord {
        AuditRecord {
            time: DateTime::<Utc>::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap(),
            actor: "ada".into(),
            host: "laptop".into(),
            action: action.into(),
            env: "production".into(),
            from: None,
            to: None,
            result: result.into(),
            duration_ms: 0,
            plan_id: None,
            detail: Some(detail.into()),
        }
    }

    #[test]
    fn only_successful_secret_changes_after_the_release_count_newest_per_name() {
        let since = DateTime::<Utc>::from_timestamp(1_800_000_000 + 10 * 60, 0).unwrap();
        let records = [
            record("secrets.set", "ok", "OLD_ONE", 5),
            record("secrets.set", "ok", "JWT_SECRET (staged)", 20),
            record("secrets.rotate", "ok", "JWT_SECRET", 30),
            record("secrets.rotate", "failed", "API_KEY: gate failed: …", 31),
            record("promote", "ok", "whatever", 32),
            record("secrets.unset", "ok", "FEATURE_X", 33),
        ];
        let changes = secret_changes_since(&records, since);
        let shape: Vec<(&str, &str)> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.how.as_str()))
            .collect();
        assert_eq!(shape, [("JWT_SECRET", "rotate"), ("FEATURE_X", "unset")]);
        let line = warning("railway", "1.2.0", &changes).unwrap();
        assert!(line.contains("JWT_SECRET (rotate by ada"), "{line}");
        assert!(warning("railway", "1.2.0", &[]).is_none());
    }
}
