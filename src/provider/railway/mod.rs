//! The Railway provider (public GraphQL API v2): an env is one environment
//! of one project, and each shipdeck service is one Railway service there
//! (a service instance). Releases are its deployments (Relay pages);
//! promote points the instance at the source's exact image (by digest) and
//! deploys it, or deploys the source's commit; rollback is Railway's own
//! `deploymentRollback`, which also restores that deployment's variables;
//! variables are listed by name with a digest shipdeck computes, set one at
//! a time with `skipDeploys` (staged) and applied by one redeploy of the
//! running artifact. Logs are polled from `deploymentLogs`. GraphQL
//! `errors[]` are errors even on HTTP 200. The token (account or workspace:
//! `Authorization: Bearer`; project: `Project-Access-Token`) is resolved on
//! the first call, never before.

pub mod logs;
pub mod model;
pub mod settings;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

pub use settings::RailwaySettings;

use super::graphql::{self, Kind};
use super::http::HttpClient;
use super::token::TokenSource;
use super::{
    CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target, UnitState,
};
use crate::config::RailwayTokenKind;
use crate::domain::{Artifact, ArtifactKind, Health, Instance, Release, ReleaseStatus, SecretMeta};
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;
use model::{Deployment, DeploymentData, DeploymentsData, Phase};

/// Largest page asked for.
const PAGE: usize = 50;

/// Client for the Railway services of one env (one project environment).
pub struct RailwayProvider {
    settings: RailwaySettings,
    token_source: TokenSource,
    timeout: Duration,
    calls: CallSink,
    session: OnceCell<HttpClient>,
    /// Variable names set with `skipDeploys` per service, not yet applied.
    staged: super::staged::StagedNames,
}

impl std::fmt::Debug for RailwayProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RailwayProvider")
            .field("settings", &self.settings)
            .field("connected", &self.session.initialized())
            .finish_non_exhaustive()
    }
}

impl RailwayProvider {
    /// What Railway can do through shipdeck.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::Image, ArtifactKind::Commit],
        native_rollback: true,
        rollback_restores_variables: true,
        list_secrets: true,
        write_secrets: true,
        secret_digests: true,
        stage_secrets: true,
        logs: true,
        deploy_progress: true,
        cancel: true,
        instances: true,
        ..Capabilities::NONE
    };

    /// A client; `token` is called on the first API call (and again after a failure).
    pub fn new(
        settings: RailwaySettings,
        token: TokenSource,
        timeout: Duration,
        calls: CallSink,
    ) -> RailwayProvider {
        RailwayProvider {
            settings,
            token_source: token,
            timeout,
            calls,
            session: OnceCell::new(),
            staged: Default::default(),
        }
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &RailwaySettings {
        &self.settings
    }

    async fn http(&self) -> Result<&HttpClient, ProviderError> {
        self.session
            .get_or_try_init(|| async {
                let raw = super::token::resolve(&self.token_source, "railway").await?;
                let http = HttpClient::new("railway", self.timeout, self.calls.clone());
                Ok(match self.settings.token_kind {
                    RailwayTokenKind::Account => http.with_auth(format!("Bearer {}", raw.expose())),
                    RailwayTokenKind::Project => {
                        http.with_auth_header("project-access-token", raw.expose().to_string())
                    }
                })
            })
            .await
    }

    /// One operation; a GraphQL error that says the token is not allowed is a refused credential.
    async fn run<T: DeserializeOwned>(
        &self,
        kind: Kind,
        query: &str,
        variables: Value,
    ) -> Result<T, ProviderError> {
        let http = self.http().await?;
        match graphql::run(http, &self.settings.api_url, kind, query, variables).await {
            Err(ProviderError::Remote { message, .. }) if is_not_authorized(&message) => {
                Err(ProviderError::Auth {
                    provider: "railway".into(),
                    status: 0,
                })
            }
            other => other,
        }
    }

    /// Up to `limit` deployments of a service, newest first.
    async fn deployments(
        &self,
        service: &str,
        limit: usize,
    ) -> Result<Vec<Deployment>, ProviderError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        while out.len() < limit {
            let first = (limit - out.len()).min(PAGE);
            let data: DeploymentsData = self
                .run(
                    Kind::Query,
                    model::DEPLOYMENTS,
                    json!({
                        "input": {
                            "projectId": self.settings.project,
                            "environmentId": self.settings.environment,
                            "serviceId": service,
                        },
                        "first": first,
                        "after": after,
                    }),
                )
                .await?;
            let page = data.deployments;
            let got = page.edges.len();
            out.extend(page.edges.into_iter().map(|e| e.node));
            match page.page_info.end_cursor {
                Some(c)
                    if page.page_info.has_next_page && got > 0 && after.as_deref() != Some(&c) =>
                {
                    after = Some(c)
                }
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn deployment(&self, id: &str) -> Result<Deployment, ProviderError> {
        let data: DeploymentData = self
            .run(Kind::Query, model::DEPLOYMENT, json!({ "id": id }))
            .await?;
        Ok(data.deployment)
    }

    /// The deployment serving now (the newest that succeeded).
    async fn live(&self, service: &str) -> Result<Option<Deployment>, ProviderError> {
        Ok(self
            .deployments(service, 20)
            .await?
            .into_iter()
            .find(|d| d.phase() == Phase::Live))
    }

    /// Watch a deployment until it succeeds, fails, stops, is cancelled or is too slow.
    async fn follow(
        &self,
        service: &str,
        id: String,
        progress: &Progress,
    ) -> Result<Deployment, ProviderError> {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let d = self.deployment(&id).await?;
            if d.status != last {
                progress.report(
                    service,
                    1,
                    1,
                    UnitState::Started,
                    &format!("{id} {}", d.status),
                );
                last = d.status.clone();
            }
            match d.phase() {
                Phase::Live => {
                    progress.report(
                        service,
                        1,
                        1,
                        UnitState::Done,
                        &format!("{id} {}", d.status),
                    );
                    return Ok(d);
                }
                Phase::Failed if d.status == "CRASHED" => {
                    // It went live and then crashed: the old deployment is gone.
                    progress.report(service, 1, 1, UnitState::Failed, "crashed");
                    return Err(ProviderError::Rollout {
                        machine: id,
                        step: "health checks".into(),
                        done: 1,
                        total: 1,
                        reason: Box::new(ProviderError::Remote {
                            target: service.to_string(),
                            message: "the deployment crashed after it started".into(),
                        }),
                    });
                }
                Phase::Failed => {
                    progress.report(service, 1, 1, UnitState::Failed, &d.status);
                    return Err(ProviderError::Rejected {
                        what: format!("deployment {id} of {service}"),
                        status: d.status,
                        detail: Some("its build or health check failed".into()),
                    });
                }
                Phase::Stopped => {
                    progress.report(service, 1, 1, UnitState::Failed, &d.status);
                    return Err(ProviderError::Remote {
                        target: service.to_string(),
                        message: format!(
                            "deployment {id} ended {} before it went live (removed, skipped, or waiting for an approval in Railway); the previous deployment kept serving",
                            d.status
                        ),
                    });
                }
                Phase::Running => {}
            }
            if progress.cancelled() {
                let _: Value = self
                    .run(
                        Kind::Mutation,
                        model::DEPLOYMENT_CANCEL,
                        json!({ "id": id }),
                    )
                    .await?;
                progress.report(service, 1, 1, UnitState::Failed, "cancelled");
                return Err(ProviderError::Cancelled { done: 0, total: 1 });
            }
            if started.elapsed() >= self.settings.wait_timeout {
                return Err(ProviderError::Timeout {
                    target: format!(
                        "deployment {id} of {service} (still {} on Railway; watch it in the dashboard)",
                        d.status
                    ),
                    after: self.settings.wait_timeout,
                });
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
    }

    /// The id of the newest deployment of `service` not in `before`.
    async fn newest_since(
        &self,
        service: &str,
        before: &HashSet<String>,
    ) -> Result<String, ProviderError> {
        self.deployments(service, 10)
            .await?
            .into_iter()
            .find(|d| !before.contains(&d.id))
            .map(|d| d.id)
            .ok_or_else(|| ProviderError::NotFound {
                what: format!("the deployment Railway started for service {service}"),
            })
    }
}

fn is_not_authorized(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not authorized") || m.contains("unauthorized") || m.contains("invalid token")
}

/// A deployment as a release (`current` is set by the caller).
fn release(d: &Deployment) -> Release {
    let status = match d.status.as_str() {
        "SUCCESS" | "SLEEPING" => ReleaseStatus::Live,
        "REMOVED" | "REMOVING" => ReleaseStatus::Superseded,
        "QUEUED" | "WAITING" | "NEEDS_APPROVAL" | "INITIALIZING" => ReleaseStatus::Pending,
        "BUILDING" | "DEPLOYING" => ReleaseStatus::Deploying,
        "SKIPPED" => ReleaseStatus::Superseded,
        _ => ReleaseStatus::Failed,
    };
    let author = d.creator.as_ref().and_then(|c| {
        c.name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| c.email.clone())
    });
    Release {
        id: d.id.clone(),
        version: None,
        artifact: d.artifact(),
        status,
        raw_status: sanitize(&d.status),
        author: author.map(|a| sanitize(&a)),
        description: sanitize(&d.message().unwrap_or_default()),
        created_at: d.created_at.unwrap_or_default(),
        current: false,
    }
}

/// The image reference a deploy points the service at: by digest where known.
fn image_source(artifact: &Artifact) -> Option<String> {
    let image = artifact.as_image()?;
    Some(match (&image.digest, &image.tag) {
        (Some(d), _) => format!("{}@{d}", image.repository),
        (None, Some(t)) => format!("{}:{t}", image.repository),
        (None, None) => image.repository.clone(),
    })
}

#[async_trait]
impl Provider for RailwayProvider {
    fn name(&self) -> &'static str {
        "railway"
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        let deployments = self.deployments(&target.remote, limit.max(1)).await?;
        let mut seen_live = false;
        Ok(deployments
            .iter()
            .map(|d| {
                let mut r = release(d);
                if r.status == ReleaseStatus::Live {
                    if seen_live {
                        // An older success, replaced since.
                        r.status = ReleaseStatus::Superseded;
                    } else {
                        r.current = true;
                        seen_live = true;
                    }
                }
                r
            })
            .collect())
    }

    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError> {
        let name = target
            .service
            .clone()
            .unwrap_or_else(|| target.remote.clone());
        let recent = self.deployments(&target.remote, 10).await?;
        let running = recent.first().filter(|d| d.phase() == Phase::Running);
        let Some(live) = recent.iter().find(|d| d.phase() == Phase::Live) else {
            let (state, health) = match running {
                Some(d) => (d.status.clone(), Health::Progressing),
                None => ("no active deployment".to_string(), Health::Missing),
            };
            return Ok(vec![Instance {
                id: target.remote.clone(),
                service: name,
                region: None,
                image: None,
                state: sanitize(&state),
                health,
            }]);
        };
        let image = live.artifact().map(|a| a.full());
        if live.status == "SLEEPING" {
            return Ok(vec![Instance {
                id: live.id.clone(),
                service: name,
                region: None,
                image,
                state: "sleeping".into(),
                health: Health::Suspended,
            }]);
        }
        let instances = live.instances.clone().unwrap_or_default();
        if instances.is_empty() {
            return Ok(vec![Instance {
                id: live.id.clone(),
                service: name,
                region: None,
                image,
                state: sanitize(&format!("{}, no instances", live.status)),
                health: if running.is_some() {
                    Health::Progressing
                } else {
                    Health::Missing
                },
            }]);
        }
        Ok(instances
            .iter()
            .map(|i| {
                let health = match (running, i.status.as_str()) {
                    (Some(_), _) => Health::Progressing,
                    (None, "RUNNING") => Health::Healthy,
                    (None, "CRASHED" | "EXITED") => Health::Degraded,
                    (None, "INITIALIZING" | "CREATED" | "RESTARTING") => Health::Progressing,
                    (None, _) => Health::Missing,
                };
                let state = match running {
                    Some(d) => format!("{} ({} under way)", i.status, d.status),
                    None => i.status.clone(),
                };
                Instance {
                    id: sanitize(&i.id),
                    service: name.clone(),
                    region: None,
                    image: image.clone(),
                    state: sanitize(&state.to_ascii_lowercase()),
                    health,
                }
            })
            .collect())
    }

    async fn deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        _description: &str,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let service = &target.remote;
        progress.stop_if_cancelled(0, 1)?;
        let commit = match artifact {
            Artifact::Commit(c) => Some(c.sha.clone()),
            Artifact::Image(_) => None,
            Artifact::File(_) => {
                return Err(ProviderError::Invalid {
                    target: format!("Railway service {service}"),
                    message: "Railway deploys images or commits, not files".into(),
                });
            }
        };
        progress.report(service, 1, 1, UnitState::Started, "deploy requested");
        if let Some(image) = image_source(artifact) {
            let _: Value = self
                .run(
                    Kind::Mutation,
                    model::SERVICE_INSTANCE_UPDATE,
                    json!({
                        "serviceId": service,
                        "environmentId": self.settings.environment,
                        "input": { "source": { "image": image } },
                    }),
                )
                .await?;
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Deployed {
            service_instance_deploy_v2: String,
        }
        let started: Deployed = self
            .run(
                Kind::Mutation,
                model::SERVICE_INSTANCE_DEPLOY,
                json!({
                    "serviceId": service,
                    "environmentId": self.settings.environment,
                    "commitSha": commit,
                }),
            )
            .await?;
        let live = self
            .follow(service, started.service_instance_deploy_v2, progress)
            .await?;
        self.staged.clear(service);
        let mut out = release(&live);
        out.current = true;
        Ok(out)
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let service = &target.remote;
        let old = self.deployment(&to.id).await?;
        if !old.can_rollback {
            return Err(ProviderError::Invalid {
                target: format!("Railway service {service}"),
                message: format!(
                    "Railway cannot roll back to deployment {} (past the plan's retention, or never live); promote its artifact instead",
                    to.id
                ),
            });
        }
        progress.report(
            service,
            1,
            1,
            UnitState::Started,
            &format!("rollback to {}", to.id),
        );
        let before: HashSet<String> = self
            .deployments(service, 10)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        let _: Value = self
            .run(
                Kind::Mutation,
                model::DEPLOYMENT_ROLLBACK,
                json!({ "id": to.id }),
            )
            .await?;
        let id = self.newest_since(service, &before).await?;
        let live = self.follow(service, id, progress).await?;
        // The rollback restored that deployment's variables: nothing staged remains.
        self.staged.clear(service);
        let mut out = release(&live);
        out.current = true;
        out.description = format!(
            "rollback to {}: its image and its variables (a secret rotated since is undone)",
            to.label()
        );
        Ok(out)
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Vars {
            variables: serde_json::Map<String, Value>,
        }
        let mut vars: Vars = self
            .run(
                Kind::Query,
                model::VARIABLES,
                json!({
                    "projectId": self.settings.project,
                    "environmentId": self.settings.environment,
                    "serviceId": target.remote,
                }),
            )
            .await?;
        let staged = self.staged.names(&target.remote);
        let mut out: Vec<SecretMeta> = vars
            .variables
            .iter()
            .map(|(name, value)| SecretMeta {
                name: sanitize(name),
                digest: value.as_str().map(crate::secrets::digest),
                updated_at: None,
                staged: staged.contains(name),
                // Sealed: Railway returns the name with a null value.
                write_only: value.is_null(),
            })
            .collect();
        // Values were only read to hash them: wipe them now.
        for value in vars.variables.values_mut() {
            if let Value::String(s) = value {
                zeroize::Zeroize::zeroize(s);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        let service = &target.remote;
        // Railway has no staged delete: removing a variable redeploys the
        // service by itself. That deployment is followed like any other.
        let mut railway_deployed = false;
        let only_deletes = values.iter().all(|(_, v)| v.is_none());
        for (name, value) in &values {
            let before: HashSet<String> = if value.is_none() {
                self.deployments(service, 10)
                    .await?
                    .into_iter()
                    .map(|d| d.id)
                    .collect()
            } else {
                HashSet::new()
            };
            let result: Result<Value, ProviderError> = match value {
                // Always staged: one redeploy applies every change at once.
                Some(v) => {
                    self.run(
                        Kind::Mutation,
                        model::VARIABLE_UPSERT,
                        json!({ "input": {
                            "projectId": self.settings.project,
                            "environmentId": self.settings.environment,
                            "serviceId": service,
                            "name": name,
                            "value": v.expose(),
                            "skipDeploys": true,
                        }}),
                    )
                    .await
                }
                None => {
                    self.run(
                        Kind::Mutation,
                        model::VARIABLE_DELETE,
                        json!({ "input": {
                            "projectId": self.settings.project,
                            "environmentId": self.settings.environment,
                            "serviceId": service,
                            "name": name,
                        }}),
                    )
                    .await
                }
            };
            result?;
            if value.is_none() {
                match self.newest_since(service, &before).await {
                    Ok(id) => {
                        self.follow(service, id, &Progress::none()).await?;
                        railway_deployed = true;
                    }
                    // Nothing deployed (the service never ran): nothing to follow.
                    Err(ProviderError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            self.staged.add(service, name);
        }
        if stage || (only_deletes && railway_deployed) {
            return Ok(());
        }
        self.apply_secrets(target).await.map(|_| ())
    }

    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        // Railway applies variables with a deployment: the running artifact again.
        let live = self.live(&target.remote).await?;
        let Some(artifact) = live.as_ref().and_then(Deployment::artifact) else {
            return Err(ProviderError::NotFound {
                what: format!(
                    "a live deployment of Railway service {} to apply the variables with",
                    target.remote
                ),
            });
        };
        self.deploy(
            target,
            &artifact,
            "Apply staged variables",
            &Progress::none(),
        )
        .await
        .map(Some)
    }

    async fn whoami(&self) -> Result<String, ProviderError> {
        match self.settings.token_kind {
            RailwayTokenKind::Account => {
                #[derive(serde::Deserialize)]
                struct Me {
                    me: User,
                }
                #[derive(serde::Deserialize)]
                struct User {
                    #[serde(default)]
                    name: Option<String>,
                    #[serde(default)]
                    email: Option<String>,
                }
                let me: Me = self.run(Kind::Query, model::ME, json!({})).await?;
                let name = me.me.name.unwrap_or_default();
                let email = me.me.email.unwrap_or_default();
                Ok(sanitize(&format!("{name} <{email}>")))
            }
            RailwayTokenKind::Project => {
                let data: Value = self
                    .run(Kind::Query, model::PROJECT_TOKEN, json!({}))
                    .await?;
                let token = &data["projectToken"];
                let project = token["project"]["name"].as_str().unwrap_or("?");
                let env = token["environment"]["name"].as_str().unwrap_or("?");
                Ok(sanitize(&format!("project token for {project} / {env}")))
            }
        }
    }

    async fn logs(&self, target: &Target, _service: &str) -> Result<LogStream, ProviderError> {
        let live = self
            .live(&target.remote)
            .await?
            .ok_or_else(|| ProviderError::NotFound {
                what: format!("a live deployment of Railway service {}", target.remote),
            })?;
        let http = self.http().await?.clone();
        Ok(logs::poll(http, self.settings.api_url.clone(), live.id))
    }

    fn logs_command(&self, target: &Target, _service: &str) -> String {
        format!(
            "railway logs --service {} --environment {}",
            target.remote, self.settings.environment
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promote_points_the_service_at_the_digest() {
        let a = Artifact::image("ghcr.io/acme/api:1.4.0@sha256:ab");
        assert_eq!(
            image_source(&a).as_deref(),
            Some("ghcr.io/acme/api@sha256:ab")
        );
        let t = Artifact::image("ghcr.io/acme/api:1.4.0");
        assert_eq!(image_source(&t).as_deref(), Some("ghcr.io/acme/api:1.4.0"));
        assert!(is_not_authorized("Not Authorized"));
        assert!(!is_not_authorized("Deployment not found"));
    }
}
