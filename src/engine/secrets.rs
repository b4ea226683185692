//! Secret changes through the engine: list, set, unset and diff, with the
//! same safety rules as deploys (read-only, typed confirmation on protected
//! envs) and an audit line for each change that names the secret, never its value.

use std::time::Instant;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::domain::SecretMeta;
use crate::secrets::SecretValue;

/// Why a secret name is not acceptable, or `None` when it is.
pub fn invalid_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (!ok).then(|| {
        format!(
            "invalid secret name `{}`: use A-Z, 0-9 and _, not starting with a digit (e.g. JWT_SECRET_KEY)",
            crate::sanitize::sanitize(name)
        )
    })
}

/// How two envs' secrets compare, by name and (where the provider exposes one) digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretDiff {
    /// First env.
    pub a: String,
    /// Second env.
    pub b: String,
    /// Names only `a` has.
    pub only_in_a: Vec<String>,
    /// Names only `b` has.
    pub only_in_b: Vec<String>,
    /// Names in both whose digests differ.
    pub differ: Vec<String>,
    /// Names in both with the same digest.
    pub same: Vec<String>,
    /// Names in both where at least one side has no digest ("digest unavailable").
    pub unknown: Vec<String>,
}

/// Compare two secret lists.
pub fn diff(a: &str, left: &[SecretMeta], b: &str, right: &[SecretMeta]) -> SecretDiff {
    let find = |list: &[SecretMeta], name: &str| list.iter().find(|s| s.name == name).cloned();
    let mut out = SecretDiff {
        a: a.into(),
        b: b.into(),
        only_in_a: Vec::new(),
        only_in_b: Vec::new(),
        differ: Vec::new(),
        same: Vec::new(),
        unknown: Vec::new(),
    };
    for s in left {
        match find(right, &s.name) {
            None => out.only_in_a.push(s.name.clone()),
            Some(r) => match (&s.digest, &r.digest) {
                (Some(x), Some(y)) if x == y => out.same.push(s.name.clone()),
                (Some(_), Some(_)) => out.differ.push(s.name.clone()),
                _ => out.unknown.push(s.name.clone()),
            },
        }
    }
    for s in right {
        if find(left, &s.name).is_none() {
            out.only_in_b.push(s.name.clone());
        }
    }
    for list in [
        &mut out.only_in_a,
        &mut out.only_in_b,
        &mut out.differ,
        &mut out.same,
        &mut out.unknown,
    ] {
        list.sort();
    }
    out
}

/// Which secrets a change is about: an env's, or one service's where the
/// provider keeps them per service (a Fly app of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretsAt<'a> {
    /// The env.
    pub env: &'a str,
    /// The service, when it matters.
    pub service: Option<&'a str>,
}

impl<'a> SecretsAt<'a> {
    /// The env's own secrets.
    pub fn env(env: &'a str) -> SecretsAt<'a> {
        SecretsAt { env, service: None }
    }
}

impl Engine {
    /// Where `service`'s secrets live in env `idx` (the env's, without a
    /// service); an unknown service is refused with the env's services.
    pub(super) fn secret_target(
        &self,
        idx: usize,
        service: Option<&str>,
    ) -> Result<crate::provider::Target, EngineError> {
        let cfg = &self.config.envs[idx];
        if let Some(name) = service
            && !cfg.services.iter().any(|s| s.name() == name)
        {
            let names: Vec<&str> = cfg.services.iter().map(|s| s.name()).collect();
            return Err(EngineError::NoService {
                env: cfg.name().into(),
                service: name.into(),
                services: names.join(", "),
            });
        }
        Ok(crate::provider::registry::secret_target(
            &self.config,
            idx,
            service,
        ))
    }

    /// An env's (or one service's) secret names and metadata (never values).
    pub async fn secrets_list(
        &self,
        env: &str,
        service: Option<&str>,
    ) -> Result<Vec<SecretMeta>, EngineError> {
        let (idx, _) = self.env(env)?;
        let provider = self.provider(idx)?;
        let mut list = provider.secrets(&self.secret_target(idx, service)?).await?;
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// Compare two envs' secrets (of one service where they live per service).
    pub async fn secrets_diff(
        &self,
        a: &str,
        b: &str,
        service: Option<&str>,
    ) -> Result<SecretDiff, EngineError> {
        let (left, right) =
            tokio::join!(self.secrets_list(a, service), self.secrets_list(b, service));
        Ok(diff(a, &left?, b, &right?))
    }

    /// Set one secret; `stage` holds it until the next deploy where the provider can.
    /// Protected envs need `typed` = the env name.
    pub async fn secret_set(
        &self,
        at: SecretsAt<'_>,
        name: &str,
        value: SecretValue,
        stage: bool,
        typed: Option<&str>,
    ) -> Result<(), EngineError> {
        self.secret_change(at, name, Some(value), stage, typed)
            .await
    }

    /// Unset one secret. Protected envs need `typed` = the env name.
    pub async fn secret_unset(
        &self,
        at: SecretsAt<'_>,
        name: &str,
        typed: Option<&str>,
    ) -> Result<(), EngineError> {
        self.secret_change(at, name, None, false, typed).await
    }

    async fn secret_change(
        &self,
        at: SecretsAt<'_>,
        name: &str,
        value: Option<SecretValue>,
        stage: bool,
        typed: Option<&str>,
    ) -> Result<(), EngineError> {
        let env = at.env;
        if let Some(why) = invalid_name(name) {
            return Err(EngineError::Refused(why));
        }
        let action = if value.is_some() {
            "secrets.set"
        } else {
            "secrets.unset"
        };
        if let Some(v) = &value {
            if v.expose().is_empty() {
                return Err(EngineError::Refused(format!(
                    "the new value of {name} is empty; give a value or use unset"
                )));
            }
            crate::redact::remember(v);
        }
        let admitted = self
            .check_writable(env)
            .and_then(|()| self.check_confirmation(env, typed));
        if let Err(e) = admitted {
            self.audit_refusal(action, env, name, &e);
            return Err(e);
        }
        let (idx, _) = self.env(env)?;
        let provider = self.provider(idx)?;
        let target = self.secret_target(idx, at.service)?;
        let stage = stage && provider.capabilities().stage_secrets;
        // A change that restarts instances (on Fly, a rolling update of every
        // machine) must not run beside a plan or a rotation: it takes the env lock.
        let holder = super::lock::LockHolder {
            user: self.actor.user.clone(),
            host: self.actor.host.clone(),
            pid: std::process::id(),
            started: chrono::Utc::now(),
            plan_id: format!("{action}-{name}"),
            action: action.into(),
            paused: None,
        };
        let lock = match super::lock::acquire(&self.paths.locks(), env, holder) {
            Ok(lock) => lock,
            Err(e) => {
                let refused = EngineError::Refused(e.to_string());
                self.audit_refusal(action, env, name, &refused);
                return Err(refused);
            }
        };
        let started = Instant::now();
        let result = provider
            .set_secrets(&target, vec![(name.to_string(), value)], stage)
            .await;
        if let Err(e) = lock.release() {
            tracing::warn!("releasing the lock of {env}: {e}");
        }
        let detail = match &result {
            Ok(()) if stage => format!("{name} (staged)"),
            Ok(()) => name.to_string(),
            Err(e) => format!("{name}: {e}"),
        };
        self.audit_action(
            action,
            env,
            None,
            result.is_ok(),
            started.elapsed().as_millis() as u64,
            Some(detail),
        );
        result.map_err(EngineError::from)
    }

    /// Audit a refused secret change.
    pub(super) fn audit_refusal(&self, action: &str, env: &str, name: &str, e: &EngineError) {
        let record = super::audit::AuditRecord {
            time: chrono::Utc::now(),
            actor: self.actor.user.clone(),
            host: self.actor.host.clone(),
            action: action.into(),
            env: env.into(),
            from: None,
            to: None,
            result: "refused".into(),
            duration_ms: 0,
            plan_id: None,
            detail: Some(format!("{name}: {e}")),
        };
        if let Err(err) = self.audit().append(&record) {
            tracing::error!("audit log append failed: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, digest: Option<&str>) -> SecretMeta {
        SecretMeta {
            name: name.into(),
            digest: digest.map(str::to_string),
            updated_at: None,
            staged: false,
            write_only: false,
        }
    }

    #[test]
    fn diff_sorts_names_into_buckets() {
        let staging = [
            meta("A", Some("1")),
            meta("B", Some("2")),
            meta("NEW", Some("3")),
            meta("X", None),
        ];
        let prod = [
            meta("A", Some("1")),
            meta("B", Some("9")),
            meta("OLD", Some("4")),
            meta("X", None),
        ];
        let d = diff("staging", &staging, "production", &prod);
        assert_eq!(d.only_in_a, ["NEW"]);
        assert_eq!(d.only_in_b, ["OLD"]);
        assert_eq!(d.differ, ["B"]);
        assert_eq!(d.same, ["A"]);
        assert_eq!(d.unknown, ["X"]);
    }

    #[test]
    fn names_are_checked() {
        assert!(invalid_name("JWT_SECRET_KEY").is_none());
        assert!(invalid_name("_X1").is_none());
        for bad in ["", "jwt", "1ABC", "A-B", "A B", "A\u{1b}[2J"] {
            let why = invalid_name(bad).expect(bad);
            assert!(why.contains("A-Z"), "{why}");
            assert!(!why.contains('\u{1b}'));
        }
    }
}
