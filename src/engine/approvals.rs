//! Deploys waiting for a person's approval (a GitHub environment's required
//! reviewers): listed for an env, and approved or rejected through the
//! env's provider. Approving lets a deploy into the env go on, so it obeys
//! the same rules as any change: refused under `--read-only` or on a
//! `read_only` env, the env's name typed back where it is protected, and
//! audited with the run, the reviewers and the comment.

use std::time::Instant;

use super::{Engine, EngineError};
use crate::provider::Approval;
use crate::sanitize::sanitize;

impl Engine {
    /// The deploys of env `env` that wait for an approval.
    pub async fn approvals(&self, env: &str) -> Result<Vec<Approval>, EngineError> {
        let (idx, _) = self.env(env)?;
        let provider = self.provider(idx)?;
        let target = crate::provider::registry::target_of(&self.config, idx);
        Ok(provider.approvals(&target).await?)
    }

    /// Approve (or reject) what waits in env `env`: every waiting run, or
    /// only run `run`. Returns what was reviewed.
    pub async fn review(
        &self,
        env: &str,
        run: Option<&str>,
        approve: bool,
        comment: &str,
        typed: Option<&str>,
    ) -> Result<Vec<Approval>, EngineError> {
        self.check_writable(env)?;
        self.check_confirmation(env, typed)?;
        let (idx, _) = self.env(env)?;
        let provider = self.provider(idx)?;
        let target = crate::provider::registry::target_of(&self.config, idx);
        let waiting: Vec<Approval> = provider
            .approvals(&target)
            .await?
            .into_iter()
            .filter(|a| run.is_none_or(|r| r == a.run))
            .collect();
        if waiting.is_empty() {
            return Err(EngineError::Refused(match run {
                Some(r) => format!(
                    "run {} of `{env}` does not wait for an approval",
                    sanitize(r)
                ),
                None => format!("nothing in `{env}` waits for an approval"),
            }));
        }
        if let Some(a) = waiting.iter().find(|a| !a.can_approve) {
            return Err(EngineError::Refused(format!(
                "the token's user may not review {} (reviewers: {}); ask one of them, or use their token",
                a.label,
                a.reviewers.join(", ")
            )));
        }
        let verb = if approve { "approve" } else { "reject" };
        for a in &waiting {
            let started = Instant::now();
            let result = provider.review(&target, a, approve, comment).await;
            let detail = format!(
                "{} (environments {}; reviewers {}){}",
                a.label,
                a.environment_names(),
                a.reviewers.join(", "),
                if comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", sanitize(comment))
                }
            );
            self.audit_action(
                verb,
                env,
                Some(format!("run {}", a.run)),
                result.is_ok(),
                started.elapsed().as_millis() as u64,
                Some(detail),
            );
            result?;
        }
        Ok(waiting)
    }
}
