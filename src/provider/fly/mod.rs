//! The Fly.io provider: status and deploys over the Machines API, release
//! history over GraphQL (merged with what machines run), secrets through the
//! Machines API, logs by polling, and `flyctl deploy` as an alternative
//! deploy path. The token is resolved on the first call, never before.

pub mod auth;
pub mod configured;
pub mod flyctl;
pub use crate::provider::graphql;
pub mod handoff;
pub mod identity;
pub mod lease;
pub mod log_line;
pub mod logs;
pub mod machines;
pub mod model;
pub mod releases;
pub mod rollout;
pub mod secrets;
pub mod settings;
pub mod status;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

pub use auth::{Token, TokenSource};
pub use settings::{DeployVia, FlySettings};

use super::http::HttpClient;
use super::{CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target};
use crate::domain::{
    Artifact, ArtifactKind, ImageRef, Instance, Release, ReleaseStatus, SecretMeta,
};
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;
use machines::Machines;

/// What the first call resolves: the authenticated client and the token (for flyctl).
struct Session {
    http: HttpClient,
    token: Token,
}

/// Client for one Fly app (one shipdeck environment).
pub struct FlyProvider {
    settings: FlySettings,
    token_source: TokenSource,
    timeout: Duration,
    calls: CallSink,
    actor: String,
    session: OnceCell<Session>,
    /// Secrets version of the last set per app, for `min_secrets_version` on the next update.
    secrets_version: Mutex<HashMap<String, u64>>,
    /// The machine list `status()` fetched, for the `releases()` that follows it.
    handoff: handoff::Handoff,
}

impl std::fmt::Debug for FlyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlyProvider")
            .field("settings", &self.settings)
            .field("timeout", &self.timeout)
            .field("actor", &self.actor)
            .field("connected", &self.session.initialized())
            .finish_non_exhaustive()
    }
}

impl FlyProvider {
    /// A client; `token` is called on the first API call (and again after a failure).
    pub fn new(
        settings: FlySettings,
        token: TokenSource,
        timeout: Duration,
        calls: CallSink,
        actor: String,
    ) -> FlyProvider {
        FlyProvider {
            handoff: handoff::Handoff::new(settings.machines_ttl),
            settings,
            token_source: token,
            timeout,
            calls,
            actor,
            session: OnceCell::new(),
            secrets_version: Mutex::new(HashMap::new()),
        }
    }

    /// A client with a token already in hand.
    pub fn with_token(
        settings: FlySettings,
        token: String,
        timeout: Duration,
        calls: CallSink,
        actor: String,
    ) -> FlyProvider {
        let token = {
            let mut raw = token;
            let t = Token::new(&raw);
            zeroize::Zeroize::zeroize(&mut raw);
            t
        };
        let source: TokenSource = Arc::new(move || {
            let token = token.clone();
            Box::pin(async move { Ok(token.expose().to_string()) })
        });
        FlyProvider::new(settings, source, timeout, calls, actor)
    }

    /// What Fly can do through shipdeck.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::Image],
        list_secrets: true,
        write_secrets: true,
        secret_digests: true,
        stage_secrets: true,
        logs: true,
        remote_lock: true,
        deploy_progress: true,
        cancel: true,
        instances: true,
        ..Capabilities::NONE
    };

    /// The settings this client was made with.
    pub fn settings(&self) -> &FlySettings {
        &self.settings
    }

    async fn session(&self) -> Result<&Session, ProviderError> {
        self.session
            .get_or_try_init(|| async {
                let raw = SecretValue::new((self.token_source)().await?);
                let token = Token::new(raw.expose());
                // From here on, any text shipdeck shows has the token redacted.
                crate::redact::remember(&SecretValue::new(token.expose().to_string()));
                let http = HttpClient::new("fly", self.timeout, self.calls.clone())
                    .with_auth(token.header_value());
                Ok(Session { http, token })
            })
            .await
    }

    fn app<'a>(&'a self, target: &'a Target) -> &'a str {
        if target.remote.is_empty() {
            &self.settings.app
        } else {
            &target.remote
        }
    }

    /// The process group a call is narrowed to: the target's, else `[env.fly]`'s.
    fn group<'a>(&'a self, target: &'a Target) -> Option<&'a str> {
        target
            .scope
            .as_deref()
            .or(self.settings.process_group.as_deref())
    }

    async fn machines(&self, target: &Target) -> Result<Machines, ProviderError> {
        let s = self.session().await?;
        Ok(Machines::new(
            s.http.clone(),
            &self.settings.api_url,
            self.app(target),
            self.timeout,
        ))
    }

    async fn roll(
        &self,
        target: &Target,
        image: Option<String>,
        force: bool,
        progress: &Progress,
    ) -> Result<rollout::Outcome, ProviderError> {
        // The machines are about to change: no list from before may serve a later read.
        self.handoff.clear();
        let machines = self.machines(target).await?;
        let min_secrets_version = self
            .secrets_version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(self.app(target))
            .copied();
        let plan = rollout::Plan {
            image,
            force,
            min_secrets_version,
            group: self.group(target).map(str::to_string),
            wait_timeout: self.settings.wait_timeout,
            lease_ttl: self.settings.lease_ttl_secs(),
        };
        rollout::run(&machines, &plan, progress).await
    }

    fn machines_label(&self, target: &Target) -> String {
        match self.group(target) {
            Some(g) => format!(
                "machines of process group {} in Fly app {} to deploy to",
                sanitize(g),
                sanitize(self.app(target))
            ),
            None => format!(
                "machines in Fly app {} to deploy to",
                sanitize(self.app(target))
            ),
        }
    }

    fn release_for(&self, image: &str, digest: Option<&str>, description: &str) -> Release {
        let mut artifact = ImageRef::parse(&sanitize(image));
        if artifact.digest.is_none() {
            artifact.digest = digest.map(sanitize);
        }
        Release {
            id: releases::image_release_id(image, digest),
            version: None,
            artifact: Some(Artifact::Image(artifact)),
            status: ReleaseStatus::Live,
            raw_status: "deployed".into(),
            author: Some(sanitize(&self.actor)),
            description: sanitize(description),
            created_at: chrono::Utc::now(),
            current: true,
        }
    }
}

#[async_trait]
impl Provider for FlyProvider {
    fn name(&self) -> &'static str {
        "fly"
    }

    fn capabilities(&self) -> Capabilities {
        FlyProvider::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        let s = self.session().await?;
        let group = self.group(target);
        let fetch = releases::fetch(&s.http, &self.settings.graphql_url, self.app(target), limit);
        // What the machines run: the list `status()` fetched a moment ago in the
        // same refresh, else a fresh one side by side with Fly's history.
        let ((fly, current), running) = match self.handoff.take(self.app(target), group) {
            Some(running) => (fetch.await?, running),
            None => {
                let machines = self.machines(target).await?;
                tokio::try_join!(fetch, machines.list(group))?
            }
        };
        Ok(releases::merge(fly, current.as_deref(), &running, limit))
    }

    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError> {
        let machines = self.machines(target).await?;
        let group = self.group(target);
        let list = machines.list(group).await?;
        self.handoff.offer(self.app(target), group, &list);
        Ok(list.iter().map(status::instance).collect())
    }

    async fn deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        description: &str,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let Some(image) = artifact.as_image() else {
            return Err(ProviderError::Unsupported {
                provider: "fly",
                operation: "deploy this artifact",
                why: "Fly machines run images; build the commit into an image first",
            });
        };
        // Pinned by digest when known, so every machine runs the same bytes.
        let reference = image.reference();
        match self.settings.deploy_via {
            DeployVia::Api => {
                let outcome = self
                    .roll(target, Some(reference.clone()), false, progress)
                    .await?;
                if outcome.total == 0 {
                    return Err(ProviderError::NotFound {
                        what: self.machines_label(target),
                    });
                }
                Ok(self.release_for(&image.full(), outcome.digest.as_deref(), description))
            }
            DeployVia::Flyctl => {
                let s = self.session().await?;
                let args = flyctl::deploy_args(self.app(target), &reference);
                flyctl::run(&self.settings.flyctl, &args, &s.token, &self.calls).await?;
                Ok(self.release_for(&image.full(), None, description))
            }
        }
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let Some(artifact) = to.artifact.clone() else {
            return Err(ProviderError::NotFound {
                what: format!(
                    "an image for release {} (Fly rolls back by redeploying one)",
                    to.id
                ),
            });
        };
        self.deploy(
            target,
            &artifact,
            &format!("Rollback to {}", to.label()),
            progress,
        )
        .await
    }

    async fn runs(&self, target: &Target, artifact: &Artifact) -> Result<bool, ProviderError> {
        let Some(image) = artifact.as_image() else {
            return Ok(false);
        };
        let list = self
            .machines(target)
            .await?
            .list(self.group(target))
            .await?;
        // Every machine must run it, by digest or by tag: flyctl's releases name a
        // tag, the machines report the digest it resolved to as well.
        Ok(!list.is_empty() && list.iter().all(|m| m.runs_image(image)))
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        secrets::list(&self.machines(target).await?).await
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        let machines = self.machines(target).await?;
        let version = secrets::set(&machines, &values).await?;
        drop(values);
        if let Some(v) = version {
            self.secrets_version
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(self.app(target).to_string(), v);
        }
        if !stage {
            self.apply_secrets(target).await?;
        }
        Ok(())
    }

    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        // Every machine is updated with its own image: an update makes it read the new secrets.
        let outcome = self.roll(target, None, true, &Progress::none()).await?;
        if outcome.total == 0 {
            return Ok(None);
        }
        let machines = self.machines(target).await?;
        let list = machines.list(self.group(target)).await?;
        let image = list.iter().find_map(|m| m.shown_image());
        Ok(image.map(|i| self.release_for(&i, outcome.digest.as_deref(), "Apply secrets")))
    }

    async fn whoami(&self) -> Result<String, ProviderError> {
        let s = self.session().await?;
        identity::whoami(&s.http, &self.settings.graphql_url, &self.settings.app).await
    }

    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError> {
        let s = self.session().await?;
        let machines = self.machines(target).await?;
        let list = machines.list(None).await?;
        // `service` names a process group or one machine; anything else shows the whole app.
        let ids: HashSet<String> = list
            .iter()
            .filter(|m| m.process_group() == Some(service) || m.id == service)
            .map(|m| m.id.clone())
            .collect();
        let filter = logs::Filter {
            instances: (!ids.is_empty()).then_some(ids),
        };
        Ok(logs::poll(
            s.http.clone(),
            &self.settings.logs_url,
            self.app(target),
            filter,
        ))
    }

    fn logs_command(&self, target: &Target, service: &str) -> String {
        let app = self.app(target);
        let mut cmd = format!("fly logs -a {app}");
        let looks_like_machine =
            service.len() >= 12 && service.chars().all(|c| c.is_ascii_hexdigit());
        if looks_like_machine {
            cmd.push_str(&format!(" --machine {service}"));
        }
        sanitize(&cmd)
    }
}
