//! One answer to "can this action run here, and if not, why": the footer,
//! the help overlay, the key handlers, the engine's admission of a plan and
//! the CLI all ask [`why_not`] (or [`writable`]), so no surface shows a key
//! as enabled that another refuses.
//!
//! The rules, in the order they are checked:
//! 1. a mutating action is refused under `--read-only`, then on an env that
//!    is `read_only` in config;
//! 2. an action the env's provider cannot do is refused with the provider's
//!    reason (no client in this build, no deploy, no secrets);
//! 3. one plan and one rotation at a time, each aborted by its own switch;
//! 4. what the action needs must exist (a `promote_to`, an unpinned target,
//!    a pin to remove, migrations, a selected secret).

use crate::keymap::Action;
use crate::provider::Capabilities;

/// Why an action cannot run. The text is what every surface shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disabled {
    /// `--read-only` on the command line.
    #[error("shipdeck runs with --read-only")]
    ReadOnly,
    /// `read_only = true` on the env.
    #[error("this env is read_only in config")]
    EnvReadOnly,
    /// No provider client for this env's platform in this build.
    #[error("this env's provider client is not in this build yet")]
    NoProvider,
    /// The provider cannot do this.
    #[error("the {provider} provider cannot {what}")]
    Unsupported {
        /// Provider name.
        provider: &'static str,
        /// What it cannot do.
        what: &'static str,
    },
    /// A plan runs now.
    #[error("a plan is running: a aborts it")]
    PlanRunning,
    /// A secret rotation runs now.
    #[error("a rotation is running")]
    RotationRunning,
    /// Promote needs a target.
    #[error("this env has no promote_to in config")]
    NoPromoteTarget,
    /// The promote target is pinned.
    #[error("the target env is pinned after a rollback: select it and press u to unpin")]
    TargetPinned,
    /// Nothing to abort.
    #[error("no plan is running")]
    NoPlan,
    /// Nothing to unpin.
    #[error("this env is not pinned")]
    NotPinned,
    /// No migrations configured.
    #[error("this env has no [env.migrations] in config")]
    NoMigrations,
    /// A secret action needs a row.
    #[error("no secret is selected (n adds one)")]
    NoSecretSelected,
}

/// What the rules need to know about the selected env.
#[derive(Debug, Clone, Default)]
pub struct EnvFacts {
    /// `read_only = true` in config.
    pub read_only: bool,
    /// What its provider can do; None when no client exists in this build.
    pub capabilities: Option<(&'static str, Capabilities)>,
    /// `promote_to`, when set.
    pub promote_to: Option<String>,
    /// The promote target is pinned.
    pub promote_target_pinned: bool,
    /// This env is pinned.
    pub pinned: bool,
    /// `[env.migrations]` is configured.
    pub has_migrations: bool,
}

/// What the rules need to know about the session.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `--read-only`.
    pub read_only: bool,
    /// The selected env, when there is one.
    pub env: Option<EnvFacts>,
    /// A plan runs.
    pub plan_running: bool,
    /// A secret rotation runs.
    pub rotation_running: bool,
    /// A row of the Secrets panel is selected.
    pub secret_selected: bool,
}

/// Whether an action changes an env (and so is refused by read-only rules).
pub fn mutates(action: Action) -> bool {
    matches!(
        action,
        Action::Promote
            | Action::Rollback
            | Action::Unpin
            | Action::SecretNew
            | Action::SecretSet
            | Action::SecretUnset
            | Action::SecretRotate
            | Action::Approve
    )
}

/// Rule 1 alone: may this env be changed at all?
pub fn writable(read_only: bool, env_read_only: bool) -> Result<(), Disabled> {
    if read_only {
        return Err(Disabled::ReadOnly);
    }
    if env_read_only {
        return Err(Disabled::EnvReadOnly);
    }
    Ok(())
}

/// Why `action` cannot run now, or None when it can.
pub fn why_not(facts: &Facts, action: Action) -> Option<Disabled> {
    let env = facts.env.as_ref()?;
    if mutates(action)
        && let Err(why) = writable(facts.read_only, env.read_only)
    {
        return Some(why);
    }
    let secret_action = matches!(
        action,
        Action::SecretNew | Action::SecretSet | Action::SecretUnset | Action::SecretRotate
    );
    let plan_action = matches!(action, Action::Promote | Action::Rollback);
    if plan_action || secret_action || action == Action::Approve {
        let Some((provider, caps)) = env.capabilities else {
            return Some(Disabled::NoProvider);
        };
        let missing = match action {
            Action::Promote if !caps.deploy => Some("deploy a release"),
            Action::Rollback if !caps.deploy && !caps.native_rollback => Some("roll back"),
            _ if secret_action && !caps.write_secrets => Some("change secrets"),
            Action::Approve if !caps.approvals => Some("hold deploys for approval"),
            _ => None,
        };
        if let Some(what) = missing {
            return Some(Disabled::Unsupported { provider, what });
        }
    }
    match action {
        Action::Promote | Action::Rollback if facts.plan_running => Some(Disabled::PlanRunning),
        Action::Promote if env.promote_to.is_none() => Some(Disabled::NoPromoteTarget),
        Action::Promote if env.promote_target_pinned => Some(Disabled::TargetPinned),
        Action::Abort if !facts.plan_running => Some(Disabled::NoPlan),
        Action::Unpin if !env.pinned => Some(Disabled::NotPinned),
        Action::Migrations if !env.has_migrations => Some(Disabled::NoMigrations),
        _ if secret_action && facts.rotation_running => Some(Disabled::RotationRunning),
        Action::SecretSet | Action::SecretUnset | Action::SecretRotate
            if !facts.secret_selected =>
        {
            Some(Disabled::NoSecretSelected)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Capabilities {
        Capabilities {
            deploy: true,
            write_secrets: true,
            ..Capabilities::NONE
        }
    }

    fn facts() -> Facts {
        Facts {
            env: Some(EnvFacts {
                capabilities: Some(("demo", caps())),
                promote_to: Some("production".into()),
                ..EnvFacts::default()
            }),
            secret_selected: true,
            ..Facts::default()
        }
    }

    #[test]
    fn read_only_disables_every_mutating_action_and_nothing_else() {
        let f = Facts {
            read_only: true,
            ..facts()
        };
        for action in Action::ALL {
            let why = why_not(&f, action);
            if mutates(action) {
                assert_eq!(why, Some(Disabled::ReadOnly), "{action:?}");
            } else {
                assert_ne!(why, Some(Disabled::ReadOnly), "{action:?}");
            }
        }
    }

    #[test]
    fn env_read_only_comes_after_the_flag() {
        let mut f = facts();
        f.env.as_mut().unwrap().read_only = true;
        assert_eq!(
            why_not(&f, Action::SecretRotate),
            Some(Disabled::EnvReadOnly)
        );
        f.read_only = true;
        assert_eq!(why_not(&f, Action::SecretRotate), Some(Disabled::ReadOnly));
    }

    #[test]
    fn capabilities_decide_what_a_provider_can_do() {
        let mut f = facts();
        f.env.as_mut().unwrap().capabilities = Some(("logs-only", Capabilities::NONE));
        assert_eq!(
            why_not(&f, Action::Promote).unwrap().to_string(),
            "the logs-only provider cannot deploy a release"
        );
        assert_eq!(
            why_not(&f, Action::SecretNew).unwrap().to_string(),
            "the logs-only provider cannot change secrets"
        );
        f.env.as_mut().unwrap().capabilities = None;
        assert_eq!(why_not(&f, Action::Rollback), Some(Disabled::NoProvider));
        assert_eq!(why_not(&f, Action::Follow), None);
    }

    #[test]
    fn one_plan_and_one_rotation_at_a_time() {
        let mut f = facts();
        assert_eq!(why_not(&f, Action::Abort), Some(Disabled::NoPlan));
        f.plan_running = true;
        assert_eq!(why_not(&f, Action::Promote), Some(Disabled::PlanRunning));
        assert_eq!(why_not(&f, Action::Abort), None);
        // A plan does not block secrets, a rotation does.
        assert_eq!(why_not(&f, Action::SecretSet), None);
        f.rotation_running = true;
        assert_eq!(
            why_not(&f, Action::SecretSet),
            Some(Disabled::RotationRunning)
        );
    }

    #[test]
    fn needs_are_named() {
        let mut f = facts();
        f.secret_selected = false;
        assert_eq!(
            why_not(&f, Action::SecretUnset),
            Some(Disabled::NoSecretSelected)
        );
        assert_eq!(why_not(&f, Action::SecretNew), None);
        assert_eq!(why_not(&f, Action::Unpin), Some(Disabled::NotPinned));
        assert_eq!(
            why_not(&f, Action::Migrations),
            Some(Disabled::NoMigrations)
        );
        let env = f.env.as_mut().unwrap();
        env.promote_target_pinned = true;
        assert_eq!(why_not(&f, Action::Promote), Some(Disabled::TargetPinned));
        f.env.as_mut().unwrap().promote_to = None;
        assert_eq!(
            why_not(&f, Action::Promote),
            Some(Disabled::NoPromoteTarget)
        );
    }

    #[test]
    fn no_env_selected_means_nothing_to_refuse() {
        assert_eq!(why_not(&Facts::default(), Action::Promote), None);
    }
}
