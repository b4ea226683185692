//! The provider abstraction: one trait every platform client implements
//! (Fly.io, Railway, Render, a VPS, GitHub Actions, the demo fleet).
//!
//! The trait is shaped by what the platforms have in common (see the
//! capability matrix in the design notes): a release history, "deploy this
//! exact artifact", a rollback that is either native (Render, Railway) or a
//! redeploy of an older image (Fly), write-only or readable secrets with
//! optional digests and staging, a log feed, and instance status.

pub mod calls;
pub mod demo;
pub mod fly;
pub mod github;
pub mod graphql;
pub mod http;
pub mod poll;
pub mod progress;
pub mod railway;
pub mod registry;
pub mod render;
pub mod staged;
pub mod token;
pub mod vps;

use async_trait::async_trait;
use futures::stream::BoxStream;
use std::time::Duration;

use crate::domain::{Artifact, ArtifactKind, Instance, Release, SecretMeta};

pub use calls::{CallRecord, CallSink};
pub use progress::{Progress, UnitProgress, UnitState};

/// What a provider can do for an environment; the UI disables the rest and
/// says why (through `engine::policy`), and the promote and rollback dialogs
/// disclose what is and is not reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Deploy an exact artifact (what promote uses).
    pub deploy: bool,
    /// The artifact kinds it deploys.
    pub artifacts: &'static [ArtifactKind],
    /// The platform has its own rollback verb (else rollback = redeploy an older artifact).
    pub native_rollback: bool,
    /// A rollback also restores the release's variables (Railway does; Fly does not).
    pub rollback_restores_variables: bool,
    /// A rollback pauses the platform's auto-deploy (Render does).
    pub rollback_pauses_autodeploy: bool,
    /// Secrets can be listed (names, maybe digests).
    pub list_secrets: bool,
    /// Secrets can be set and unset.
    pub write_secrets: bool,
    /// The platform itself exposes a digest of each secret value (else drift is by name only).
    pub secret_digests: bool,
    /// Secrets can be set without restarting (then applied explicitly).
    pub stage_secrets: bool,
    /// A live log feed exists.
    pub logs: bool,
    /// The platform has its own lock a rollout takes (Fly machine leases), besides shipdeck's.
    pub remote_lock: bool,
    /// A deploy reports progress unit by unit.
    pub deploy_progress: bool,
    /// A deploy in flight stops before its next unit when cancelled.
    pub cancel: bool,
    /// Deploys can wait for a person's approval, given through shipdeck.
    pub approvals: bool,
    /// It reports running instances and their health (a gate signal of its own).
    pub instances: bool,
}

impl Capabilities {
    /// Nothing at all: the start for a provider that fills in what it can.
    pub const NONE: Capabilities = Capabilities {
        deploy: false,
        artifacts: &[],
        native_rollback: false,
        rollback_restores_variables: false,
        rollback_pauses_autodeploy: false,
        list_secrets: false,
        write_secrets: false,
        secret_digests: false,
        stage_secrets: false,
        logs: false,
        remote_lock: false,
        deploy_progress: false,
        cancel: false,
        approvals: false,
        instances: false,
    };

    /// What a rollback on this provider does and does not put back, for the dialogs.
    pub fn rollback_disclosure(&self, provider: &str) -> Vec<String> {
        let mut notes = vec![if self.native_rollback {
            format!("{provider} rolls back natively: the earlier release's artifact runs again")
        } else {
            format!("{provider} has no rollback verb: the earlier release's artifact is redeployed")
        }];
        notes.push(if self.rollback_restores_variables {
            format!("{provider} also restores that release's variables: a secret rotated since is undone")
        } else {
            "variables and secrets stay as they are now (not reverted)".to_string()
        });
        if self.rollback_pauses_autodeploy {
            notes.push(format!(
                "shipdeck turns {provider} auto-deploy off after the rollback (unless pause_autodeploy_on_rollback = false), so the next push does not undo it: turn it back on when the fix lands"
            ));
        }
        notes.push("the database is never rolled back: migrations applied since stay applied; run `migrate down` as a separate, confirmed step if needed".to_string());
        notes
    }
}

/// Which service of which env a call is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// shipdeck's env name.
    pub env: String,
    /// shipdeck's service name; None addresses the env as a whole.
    pub service: Option<String>,
    /// Provider-side identifier (Fly app, Railway environment id, …).
    pub remote: String,
    /// A part of `remote` (Fly process group, the demo's service), when narrowed.
    pub scope: Option<String>,
}

/// A deploy waiting for a person's approval (a GitHub environment's
/// required reviewers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    /// The waiting run's id.
    pub run: String,
    /// What a person calls it (`deploy.yml #42 by alice`).
    pub label: String,
    /// The environments it waits on: their ids and names.
    pub environments: Vec<(u64, String)>,
    /// Who may approve (users, `team …`).
    pub reviewers: Vec<String>,
    /// Whether this credential may approve it.
    pub can_approve: bool,
}

impl Approval {
    /// The environments it waits on, by name: `staging, production`.
    pub fn environment_names(&self) -> String {
        self.environments
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A one-off job run on the platform and followed to its end (a migration
/// workflow): what to run and its input templates, filled like a deploy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The platform's name for it (a workflow file).
    pub name: String,
    /// Input templates (`environment = "{environment}"`).
    pub inputs: std::collections::BTreeMap<String, String>,
    /// The artifact the plan deploys, for templates that name it.
    pub artifact: Option<Artifact>,
}

/// A stream of raw log lines (not yet sanitised or parsed).
pub type LogStream = BoxStream<'static, Result<String, ProviderError>>;

/// Errors from provider clients. Messages are sanitised and never carry a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Could not reach the API.
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// Host or URL (no credentials).
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The call took too long.
    #[error("{target} did not answer within {}s", .after.as_secs_f32())]
    Timeout {
        /// Host or URL.
        target: String,
        /// The limit.
        after: Duration,
    },
    /// The API answered with an error status.
    #[error("{target} answered HTTP {status}: {message}")]
    Status {
        /// Host or URL.
        target: String,
        /// HTTP status code.
        status: u16,
        /// The provider's message, sanitised and shortened.
        message: String,
    },
    /// The credential was refused.
    #[error(
        "{provider} refused the credential ({}); run `shipdeck auth set {provider}` with a valid token",
        if *.status == 0 { "in its answer".to_string() } else { format!("HTTP {}", .status) }
    )]
    Auth {
        /// Provider name.
        provider: String,
        /// 401 or 403; 0 when the API said so in its body (a GraphQL error on HTTP 200).
        status: u16,
    },
    /// The credential is valid but may not do this (GitHub: "Resource not
    /// accessible by personal access token").
    #[error(
        "{provider} refused {target}: {message}; give the token this permission (or use one that has it) with `shipdeck auth set {provider}`"
    )]
    Forbidden {
        /// Provider name.
        provider: String,
        /// What was asked (URL without query).
        target: String,
        /// The provider's message, sanitised.
        message: String,
    },
    /// Too many requests, even after waiting.
    #[error("{target} is rate limiting us; retry after {}s", .retry_after.map_or(0, |d| d.as_secs()))]
    RateLimited {
        /// Host or URL.
        target: String,
        /// The server's Retry-After, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The answer could not be read.
    #[error("{target} sent an answer shipdeck cannot read: {reason}")]
    Decode {
        /// Host or URL.
        target: String,
        /// Parser message.
        reason: String,
    },
    /// The operation exists in shipdeck but this provider cannot do it.
    #[error("{provider} cannot {operation}: {why}")]
    Unsupported {
        /// Provider name.
        provider: &'static str,
        /// What was asked.
        operation: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The API answered 200 but reported an error in its body (GraphQL `errors[]`).
    #[error("{target} reported an error: {message}")]
    Remote {
        /// Host or URL.
        target: String,
        /// The provider's messages, sanitised and shortened.
        message: String,
    },
    /// Someone else holds the lock (a Fly machine lease) on what we need.
    #[error("{what} is held by {owner} until {until}; wait or ask them to finish")]
    Held {
        /// What is locked (machine id).
        what: String,
        /// Who holds it, as the provider reports it.
        owner: String,
        /// When the hold expires, as the provider reports it.
        until: String,
    },
    /// A rollout stopped part-way; re-running it continues where it stopped.
    #[error(
        "rollout stopped at machine {machine} ({step}) with {done} of {total} machines on the new image: {reason}"
    )]
    Rollout {
        /// The machine that failed.
        machine: String,
        /// The step that failed (lease, update, wait, checks).
        step: String,
        /// Machines already on the new image.
        done: usize,
        /// Machines in the rollout.
        total: usize,
        /// What went wrong.
        reason: Box<ProviderError>,
    },
    /// The request cannot work as asked (an artifact of the wrong kind or
    /// from another repository than the service deploys).
    #[error("{target}: {message}")]
    Invalid {
        /// What it was about (a service).
        target: String,
        /// Why, and what would work.
        message: String,
    },
    /// The platform refused the new release (its build, pre-deploy command
    /// or health check failed) and kept the previous one serving.
    #[error(
        "{what} ended {status} on the platform; the previous release kept serving{}",
        .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Rejected {
        /// The deploy (its id).
        what: String,
        /// The platform's status word (`update_failed`).
        status: String,
        /// More, when the platform says more.
        detail: Option<String>,
    },
    /// The deploy stopped because it was cancelled, before its next unit.
    #[error("deploy cancelled after {done} of {total} unit(s)")]
    Cancelled {
        /// Units already on the new artifact.
        done: usize,
        /// Units in the deploy.
        total: usize,
    },
    /// The credential is not configured or cannot be read.
    #[error("no {provider} credential: {reason}")]
    Credential {
        /// Provider name.
        provider: String,
        /// Why, and the command that fixes it.
        reason: String,
    },
    /// The ssh host key is unknown or changed: shipdeck never accepts one by itself.
    #[error(
        "{host}'s ssh host key {}; shipdeck never accepts a host key by itself: {advice}",
        if *.changed { "has CHANGED since it was recorded" } else { "is not in known_hosts" }
    )]
    HostKey {
        /// `deploy@host:2222`.
        host: String,
        /// The key differs from the recorded one (else none is recorded).
        changed: bool,
        /// How to verify and record it.
        advice: String,
    },
    /// An external command (flyctl) failed or could not run.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line (never a credential).
        command: String,
        /// Why, with the last output lines (sanitised).
        reason: String,
    },
}

/// What kind of failure a provider call met, so each surface can treat it
/// its own way (a refused credential needs `auth set`, a rate limit waits,
/// a lease held by someone else names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The credential was refused or is missing.
    Auth,
    /// The platform asks us to slow down.
    RateLimited,
    /// Someone else holds what we need.
    Held,
    /// The API could not be reached or did not answer in time.
    Unreachable,
    /// What was asked for does not exist.
    NotFound,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// The words a panel title leads with.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Auth => "credential refused",
            FailureKind::RateLimited => "rate limited",
            FailureKind::Held => "held",
            FailureKind::Unreachable => "unreachable",
            FailureKind::NotFound => "not found",
            FailureKind::Other => "refresh failed",
        }
    }
}

impl ProviderError {
    /// Its kind.
    pub fn kind(&self) -> FailureKind {
        match self {
            ProviderError::Auth { .. }
            | ProviderError::Credential { .. }
            | ProviderError::Forbidden { .. }
            | ProviderError::HostKey { .. } => FailureKind::Auth,
            ProviderError::RateLimited { .. } => FailureKind::RateLimited,
            ProviderError::Held { .. } => FailureKind::Held,
            ProviderError::Unreachable { .. } | ProviderError::Timeout { .. } => {
                FailureKind::Unreachable
            }
            ProviderError::NotFound { .. } => FailureKind::NotFound,
            ProviderError::Rollout { reason, .. } => reason.kind(),
            _ => FailureKind::Other,
        }
    }

    /// Whether a deploy stopped because the platform's own health checks
    /// failed on the new release (a Fly machine's checks went critical, a
    /// systemd unit would not stay active on the new binary): the
    /// release is bad, like a failed gate, not a failure to act.
    pub fn is_unhealthy_release(&self) -> bool {
        matches!(self, ProviderError::Rollout { step, .. } if step == "health checks" || step == "start")
            || matches!(self, ProviderError::Rejected { .. })
    }

    /// Whether a failed deploy provably changed nothing, so there is nothing
    /// to revert: cancelled before its first unit, or stopped taking the
    /// first machine's lease, refused before it began, or rejected by a
    /// platform that kept the previous release serving.
    pub fn changed_nothing(&self) -> bool {
        match self {
            ProviderError::Cancelled { done, .. } => *done == 0,
            ProviderError::Rollout { done, step, .. } => *done == 0 && step == "lease",
            ProviderError::Held { .. } | ProviderError::Rejected { .. } => true,
            ProviderError::Invalid { .. } => true,
            _ => false,
        }
    }
}

/// One provider client. Every call is async and runs in a tokio task, never on the UI loop.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Short name (`fly`, `demo`).
    fn name(&self) -> &'static str;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// Release history, newest first.
    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError>;

    /// Running instances and their state.
    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError>;

    /// Deploy an exact artifact (promote uses the source env's current
    /// artifact), reporting each unit to `progress` and stopping before the
    /// next unit once it is cancelled ([`ProviderError::Cancelled`]).
    async fn deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        description: &str,
        progress: &Progress,
    ) -> Result<Release, ProviderError>;

    /// Return to an earlier release (native rollback, or a redeploy of its artifact).
    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError>;

    /// Whether `target` runs `artifact` now. The default asks the release
    /// history; a provider that sees more (Fly: each machine's tag and
    /// digest) answers better. The engine never compares artifacts itself.
    async fn runs(&self, target: &Target, artifact: &Artifact) -> Result<bool, ProviderError> {
        let releases = self.releases(target, 20).await?;
        Ok(current_release(&releases)
            .and_then(|r| r.artifact.as_ref())
            .and_then(|running| running.same(artifact))
            .unwrap_or(false))
    }

    /// Secret names and metadata; never values.
    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError>;

    /// Set (Some) or unset (None) secrets; `stage` holds them until the next deploy.
    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<crate::secrets::SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError>;

    /// Apply staged secrets to the running instances (`fly secrets deploy`).
    ///
    /// The default redeploys the current release's exact image, which is how
    /// platforms without a separate "apply" verb pick up new secrets.
    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        let releases = self.releases(target, 20).await?;
        let Some(artifact) = current_release(&releases).and_then(|r| r.artifact.clone()) else {
            return Ok(None);
        };
        self.deploy(target, &artifact, "Apply staged secrets", &Progress::none())
            .await
            .map(Some)
    }

    /// What a rollback on this provider leaves changed besides the release
    /// (Render: auto-deploy turned off), for the pin it leaves behind.
    fn rollback_leaves(&self) -> Option<String> {
        None
    }

    /// Run a one-off task (a migration workflow) and follow it to its end;
    /// what it did, in one line.
    async fn run_task(
        &self,
        _target: &Target,
        _task: &Task,
        _progress: &Progress,
    ) -> Result<String, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.name(),
            operation: "run a task",
            why: "it has no workflows",
        })
    }

    /// Deploys of `target` waiting for a person's approval.
    async fn approvals(&self, _target: &Target) -> Result<Vec<Approval>, ProviderError> {
        Ok(Vec::new())
    }

    /// Approve (or reject) a waiting deploy, with a comment for the record.
    async fn review(
        &self,
        _target: &Target,
        _approval: &Approval,
        _approve: bool,
        _comment: &str,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.name(),
            operation: "approve deploys",
            why: "its deploys never wait for an approval",
        })
    }

    /// One cheap authenticated call; the identity the provider sees (for `shipdeck auth test`).
    async fn whoami(&self) -> Result<String, ProviderError>;

    /// A live feed of one service's log lines.
    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError>;

    /// The command a person would run to see the same logs (`fly logs -a APP`), for the log panel's `!`.
    fn logs_command(&self, target: &Target, service: &str) -> String;
}

/// The current release out of a history (the one flagged current, else the newest live one).
pub fn current_release(releases: &[Release]) -> Option<&Release> {
    releases.iter().find(|r| r.current).or_else(|| {
        releases
            .iter()
            .find(|r| r.status == crate::domain::ReleaseStatus::Live)
    })
}
