//! Rotations a crash cut short. Each env's rotation writes a `started`
//! audit line before it changes anything and a result line when it ends,
//! so a `started` line with nothing after it for the same env and secret
//! (and no live rotation holding that env's lock) is a rotation killed
//! half-way: the new value may be set and not applied, or applied without
//! its gate. The next start says so and how to finish it; shipdeck keeps
//! no value, so running the rotation again (or setting the old value back)
//! is the way out, and either one closes the record.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Engine;
use super::audit::AuditRecord;

/// One rotation cut short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterruptedRotation {
    /// The env.
    pub env: String,
    /// The secret.
    pub name: String,
    /// Who ran it (`user@host`).
    pub by: String,
    /// When it started.
    pub at: DateTime<Utc>,
}

impl InterruptedRotation {
    /// What happened and the commands that finish it.
    pub fn advice(&self) -> String {
        format!(
            "the rotation of `{name}` in `{env}` started {} by {} never finished: the new value may be set and not applied, or applied without its gate. Run it again: `shipdeck secrets {env} rotate {name} --envs {env}`, or put the old value back: `shipdeck secrets {env} set {name}`",
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.by,
            name = self.name,
            env = self.env,
        )
    }
}

/// The secret a secrets audit line is about (`NAME` or `NAME: why`).
fn secret_of(record: &AuditRecord) -> Option<&str> {
    let detail = record.detail.as_deref()?;
    Some(detail.split(':').next().unwrap_or(detail).trim())
}

/// The `started` rotation lines of `records` (oldest first) with no later
/// line about the same env and secret, leaving out envs where `running`
/// says a rotation is live now.
pub fn unfinished(
    records: &[AuditRecord],
    running: impl Fn(&str) -> bool,
) -> Vec<InterruptedRotation> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.action != "secrets.rotate" || r.result != "started" {
            continue;
        }
        let Some(name) = secret_of(r) else { continue };
        let closed = records[i + 1..].iter().any(|later| {
            later.env == r.env
                && later.action.starts_with("secrets.")
                && secret_of(later) == Some(name)
        });
        if !closed && !running(&r.env) {
            out.push(InterruptedRotation {
                env: r.env.clone(),
                name: name.to_string(),
                by: format!("{}@{}", r.actor, r.host),
                at: r.time,
            });
        }
    }
    out
}

impl Engine {
    /// Rotations a crash or kill cut short, oldest first.
    pub fn interrupted_rotations(&self) -> Vec<InterruptedRotation> {
        let Ok(read) = self.audit().read(None) else {
            return Vec::new();
        };
        let locks = self.paths.locks();
        unfinished(&read.records, |env| {
            super::lock::holder(&locks, env).is_some_and(|h| h.action == "rotate")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(env: &str, action: &str, result: &str, detail: &str) -> AuditRecord {
        AuditRecord {
            time: Utc::now(),
            actor: "alice".into(),
            host: "laptop".into(),
            action: action.into(),
            env: env.into(),
            from: None,
            to: None,
            result: result.into(),
            duration_ms: 0,
            plan_id: None,
            detail: Some(detail.into()),
        }
    }

    #[test]
    fn a_started_rotation_with_nothing_after_it_is_unfinished() {
        let records = vec![
            record("staging", "secrets.rotate", "started", "JWT"),
            record("staging", "secrets.rotate", "ok", "JWT"),
            record("production", "secrets.rotate", "started", "JWT"),
            record("production", "secrets.rotate", "started", "SMTP"),
            record("production", "secrets.set", "ok", "SMTP"),
            record("dev", "secrets.rotate", "started", "JWT"),
        ];
        let found = unfinished(&records, |env| env == "dev");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].env.as_str(), found[0].name.as_str()),
            ("production", "JWT")
        );
        let advice = found[0].advice();
        assert!(
            advice.contains("shipdeck secrets production rotate JWT"),
            "{advice}"
        );
        assert!(advice.contains("alice@laptop"), "{advice}");
        // A failed result closes it too (`NAME: why`).
        let failed = vec![
            record("production", "secrets.rotate", "started", "JWT"),
            record(
                "production",
                "secrets.rotate",
                "failed",
                "JWT: gate failed: api 503",
            ),
        ];
        assert!(unfinished(&failed, |_| false).is_empty());
    }
}
