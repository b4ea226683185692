//! The Render provider (REST API v1): each shipdeck service is one Render
//! service (`srv-…`). Releases are its deploys; promote deploys the source
//! env's exact image (by digest) or commit; rollback is Render's own
//! `POST /services/{id}/rollback`, after which auto-deploy is turned off
//! (Render's API rollback leaves it on, so the next push would undo the
//! rollback); env vars are listed by name with a digest shipdeck computes,
//! and set or unset one key at a time (never the replace-all PUT), staged
//! until one deploy applies them. Logs are polled from `GET /logs` with a
//! time cursor; health comes from the latest deploy and the service's
//! event feed. The API key is resolved on the first call, never before.

pub mod logs;
pub mod model;
pub mod settings;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;
use tokio::sync::OnceCell;

pub use settings::RenderSettings;

use super::http::{HttpClient, Request, body_bytes, display_target, query_escape as escape};
use super::token::TokenSource;
use super::{
    CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target, UnitState,
};
use crate::domain::{
    Artifact, ArtifactKind, CommitRef, Health, ImageRef, Instance, Release, ReleaseStatus,
    SecretMeta,
};
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;
use model::{DeployItem, DeployPhase, EnvVarItem, EventItem, Listed, OwnerItem, Service};

/// Largest page Render serves.
const PAGE: usize = 100;

/// Client for the Render services of one env.
pub struct RenderProvider {
    settings: RenderSettings,
    token_source: TokenSource,
    timeout: Duration,
    calls: CallSink,
    session: OnceCell<HttpClient>,
    /// Env var names set with `stage` per service, not yet applied by a deploy.
    staged: super::staged::StagedNames,
}

impl std::fmt::Debug for RenderProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderProvider")
            .field("settings", &self.settings)
            .field("connected", &self.session.initialized())
            .finish_non_exhaustive()
    }
}

impl RenderProvider {
    /// What Render can do through shipdeck.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::Image, ArtifactKind::Commit],
        native_rollback: true,
        rollback_pauses_autodeploy: true,
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
        settings: RenderSettings,
        token: TokenSource,
        timeout: Duration,
        calls: CallSink,
    ) -> RenderProvider {
        RenderProvider {
            settings,
            token_source: token,
            timeout,
            calls,
            session: OnceCell::new(),
            staged: Default::default(),
        }
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &RenderSettings {
        &self.settings
    }

    async fn http(&self) -> Result<&HttpClient, ProviderError> {
        self.session
            .get_or_try_init(|| async {
                let key = super::token::resolve(&self.token_source, "render").await?;
                Ok(HttpClient::new("render", self.timeout, self.calls.clone())
                    .with_auth(format!("Bearer {}", key.expose())))
            })
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.settings.api_url.trim_end_matches('/'))
    }

    fn service_url(&self, id: &str, rest: &str) -> String {
        self.url(&format!("/services/{}{rest}", escape(id)))
    }

    /// One service.
    pub async fn service(&self, id: &str) -> Result<Service, ProviderError> {
        let http = self.http().await?;
        http.json(Request::get(self.service_url(id, ""))).await
    }

    /// One page of a cursor-paginated list: its items and its last cursor.
    async fn page<W>(
        &self,
        url: &str,
        size: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<W::Item>, Option<String>), ProviderError>
    where
        W: Listed + serde::de::DeserializeOwned,
    {
        let http = self.http().await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut page_url = format!("{url}{sep}limit={}", size.min(PAGE));
        if let Some(c) = cursor {
            page_url.push_str("&cursor=");
            page_url.push_str(&escape(c));
        }
        let page: Vec<W> = http.json(Request::get(page_url)).await?;
        let next = page.last().and_then(|w| w.cursor().map(str::to_string));
        Ok((page.into_iter().map(Listed::into_item).collect(), next))
    }

    /// The newest `limit` items (at most one page): what status needs, with
    /// no second request to learn the list ended.
    async fn recent<W>(&self, url: &str, limit: usize) -> Result<Vec<W::Item>, ProviderError>
    where
        W: Listed + serde::de::DeserializeOwned,
    {
        Ok(self.page::<W>(url, limit, None).await?.0)
    }

    /// Up to `limit` items of a cursor-paginated list, following cursors.
    async fn list<W>(&self, url: &str, limit: usize) -> Result<Vec<W::Item>, ProviderError>
    where
        W: Listed + serde::de::DeserializeOwned,
    {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < limit {
            let (items, next) = self
                .page::<W>(url, limit - out.len(), cursor.as_deref())
                .await?;
            // Render may serve fewer than asked (its cap): only an empty page,
            // or one without a new cursor, ends the list.
            out.extend(items);
            match next {
                Some(c) if cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn deploys(&self, id: &str, limit: usize) -> Result<Vec<model::Deploy>, ProviderError> {
        self.list::<DeployItem>(&self.service_url(id, "/deploys"), limit)
            .await
    }

    async fn deploy_by_id(&self, id: &str, deploy: &str) -> Result<model::Deploy, ProviderError> {
        let http = self.http().await?;
        http.json(Request::get(
            self.service_url(id, &format!("/deploys/{}", escape(deploy))),
        ))
        .await
    }

    /// Start a deploy (`POST /deploys` or `/rollback`): the new deploy, found
    /// in the history when Render only queued it (202, no body).
    async fn start(
        &self,
        id: &str,
        path: &str,
        body: serde_json::Value,
        wanted: Option<&Artifact>,
    ) -> Result<model::Deploy, ProviderError> {
        let http = self.http().await?;
        let before: HashSet<String> = self
            .deploys(id, 20)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        // Never retried: Render allows few deploy triggers a minute per service.
        let url = self.service_url(id, path);
        let target = display_target(&url);
        let resp = http.send(Request::post(url, body)).await?;
        let status = resp.status().as_u16();
        let bytes = body_bytes(resp, &target, None).await?;
        if status != 202 && !bytes.is_empty() {
            return serde_json::from_slice(&bytes).map_err(|e| ProviderError::Decode {
                target,
                reason: sanitize(&e.to_string()),
            });
        }
        // Queued behind a running deploy: it is the newest one we did not see before.
        let after = self.deploys(id, 20).await?;
        after
            .into_iter()
            .find(|d| {
                !before.contains(&d.id)
                    && wanted
                        .is_none_or(|a| deploy_artifact(d).and_then(|x| x.same(a)) != Some(false))
            })
            .ok_or_else(|| ProviderError::NotFound {
                what: format!("the deploy Render queued for {id} (HTTP {status})"),
            })
    }

    /// Watch a deploy until it is live, refused, stopped, cancelled or too slow.
    async fn follow(
        &self,
        id: &str,
        mut deploy: model::Deploy,
        progress: &Progress,
    ) -> Result<model::Deploy, ProviderError> {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let status = deploy.status().to_string();
            if status != last {
                progress.report(
                    id,
                    1,
                    1,
                    UnitState::Started,
                    &format!("{} {status}", deploy.id),
                );
                last = status.clone();
            }
            match model::phase(&status) {
                DeployPhase::Live => {
                    progress.report(id, 1, 1, UnitState::Done, &format!("{} live", deploy.id));
                    return Ok(deploy);
                }
                DeployPhase::Rejected => {
                    progress.report(id, 1, 1, UnitState::Failed, &status);
                    return Err(ProviderError::Rejected {
                        what: format!("deploy {} of {id}", deploy.id),
                        status,
                        detail: None,
                    });
                }
                DeployPhase::Stopped => {
                    progress.report(id, 1, 1, UnitState::Failed, &status);
                    return Err(ProviderError::Remote {
                        target: id.to_string(),
                        message: format!(
                            "deploy {} ended {status} before it went live (cancelled or replaced by another deploy); the previous release kept serving",
                            deploy.id
                        ),
                    });
                }
                DeployPhase::Running => {}
            }
            if progress.cancelled() {
                self.cancel(id, &deploy.id).await?;
                progress.report(id, 1, 1, UnitState::Failed, "cancelled");
                return Err(ProviderError::Cancelled { done: 0, total: 1 });
            }
            if started.elapsed() >= self.settings.wait_timeout {
                return Err(ProviderError::Timeout {
                    target: format!(
                        "deploy {} of {id} (still {status} on Render; watch it in the dashboard)",
                        deploy.id
                    ),
                    after: self.settings.wait_timeout,
                });
            }
            tokio::time::sleep(self.settings.poll_interval).await;
            deploy = self.deploy_by_id(id, &deploy.id).await?;
        }
    }

    async fn cancel(&self, id: &str, deploy: &str) -> Result<(), ProviderError> {
        let http = self.http().await?;
        http.send(Request::post(
            self.service_url(id, &format!("/deploys/{}/cancel", escape(deploy))),
            json!({}),
        ))
        .await
        .map(|_| ())
    }

    /// The deploy body for `artifact` on `service`, or why it cannot be deployed there.
    fn deploy_body(
        service: &Service,
        artifact: &Artifact,
    ) -> Result<serde_json::Value, ProviderError> {
        let invalid = |message: String| ProviderError::Invalid {
            target: format!("Render service {} ({})", service.name, service.id),
            message,
        };
        match artifact {
            Artifact::Image(image) if service.is_image_backed() => {
                let configured = ImageRef::parse(service.image_path.as_deref().unwrap_or(""));
                if registry_path(&configured.repository) != registry_path(&image.repository) {
                    return Err(invalid(format!(
                        "it deploys {} and Render only changes the tag or digest, not the repository ({} asked); point both envs at one repository",
                        configured.repository, image.repository
                    )));
                }
                let url = match (&image.digest, &image.tag) {
                    (Some(digest), _) => format!("{}@{digest}", configured.repository),
                    (None, Some(tag)) => format!("{}:{tag}", configured.repository),
                    (None, None) => configured.repository.clone(),
                };
                Ok(json!({ "imageUrl": url }))
            }
            Artifact::Commit(commit) if !service.is_image_backed() => {
                Ok(json!({ "commitId": commit.sha }))
            }
            Artifact::Image(image) => Err(invalid(format!(
                "it builds from a repository, so it deploys a commit, not the image {}",
                image.short()
            ))),
            Artifact::Commit(commit) => Err(invalid(format!(
                "it runs an image, so it deploys an image, not commit {}",
                &commit.sha[..commit.sha.len().min(12)]
            ))),
            Artifact::File(_) => Err(invalid(
                "Render deploys images or commits, not files".into(),
            )),
        }
    }

    /// Turn a service's auto-deploy off (after a rollback).
    async fn pause_autodeploy(&self, id: &str) -> Result<(), ProviderError> {
        let http = self.http().await?;
        let req = Request {
            method: Method::PATCH,
            ..Request::post(self.service_url(id, ""), json!({ "autoDeploy": "no" }))
        }
        .retryable();
        http.send(req).await.map(|_| ())
    }
}

/// What a deploy ran.
fn deploy_artifact(d: &model::Deploy) -> Option<Artifact> {
    if let Some(image) = &d.image
        && let Some(reference) = image.reference.as_deref().filter(|r| !r.is_empty())
    {
        let mut parsed = ImageRef::parse(reference);
        if let Some(sha) = image.sha.as_deref().filter(|s| !s.is_empty()) {
            parsed.digest = Some(sha.to_string());
        }
        return Some(Artifact::Image(parsed));
    }
    d.commit
        .as_ref()
        .and_then(|c| c.id.clone())
        .filter(|sha| !sha.is_empty())
        .map(|sha| {
            Artifact::Commit(CommitRef {
                sha,
                reference: None,
                repo: None,
            })
        })
}

/// A deploy as a release.
fn release(d: &model::Deploy) -> Release {
    let raw = d.status().to_string();
    let status = match raw.as_str() {
        "live" => ReleaseStatus::Live,
        "deactivated" => ReleaseStatus::Superseded,
        "created" | "queued" => ReleaseStatus::Pending,
        "build_in_progress" | "update_in_progress" | "pre_deploy_in_progress" => {
            ReleaseStatus::Deploying
        }
        _ => ReleaseStatus::Failed,
    };
    let trigger = d.trigger.as_deref().unwrap_or("unknown trigger");
    let message = d
        .commit
        .as_ref()
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.lines().next())
        .unwrap_or("");
    let description = if message.is_empty() {
        format!("by {trigger}")
    } else {
        format!("by {trigger}: {message}")
    };
    Release {
        id: d.id.clone(),
        version: None,
        artifact: deploy_artifact(d),
        status,
        raw_status: sanitize(&raw),
        // Render records no user on a deploy; the trigger says how it came.
        author: None,
        description: sanitize(&description),
        created_at: d.created_at.unwrap_or_default(),
        current: raw == "live",
    }
}

/// A repository without Docker Hub's implied host, for comparing.
fn registry_path(repository: &str) -> &str {
    let r = repository
        .strip_prefix("docker.io/")
        .or_else(|| repository.strip_prefix("index.docker.io/"))
        .unwrap_or(repository);
    r.strip_prefix("library/").unwrap_or(r)
}

/// Event types that say an instance is failing, and those that say it recovered.
const FAILING: &[&str] = &[
    "server_failed",
    "server_hardware_failure",
    "image_pull_failed",
    "pre_deploy_failed",
];
const RECOVERED: &[&str] = &["server_available", "deploy_ended", "server_restarted"];

#[async_trait]
impl Provider for RenderProvider {
    fn name(&self) -> &'static str {
        "render"
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        let deploys = self.deploys(&target.remote, limit.max(1)).await?;
        Ok(deploys.iter().map(release).collect())
    }

    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError> {
        let id = &target.remote;
        let service = self.service(id).await?;
        let name = target
            .service
            .clone()
            .unwrap_or_else(|| service.name.clone());
        if service.is_suspended() {
            return Ok(vec![Instance {
                id: service.id.clone(),
                service: name,
                region: None,
                image: None,
                state: "suspended".into(),
                health: Health::Suspended,
            }]);
        }
        let http = self.http().await?;
        let instances: Vec<model::Instance> = http
            .json(Request::get(self.service_url(id, "/instances")))
            .await?;
        let recent = self
            .recent::<DeployItem>(&self.service_url(id, "/deploys"), 5)
            .await?;
        let live = recent.iter().find(|d| d.status() == "live");
        let running = recent
            .first()
            .filter(|d| model::phase(d.status()) == DeployPhase::Running);
        let events = self
            .recent::<EventItem>(&self.service_url(id, "/events"), 20)
            .await?;
        let mut events = events;
        events.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
        let failing = events
            .iter()
            .find(|e| FAILING.contains(&e.kind.as_str()) || RECOVERED.contains(&e.kind.as_str()))
            .filter(|e| FAILING.contains(&e.kind.as_str()));
        let (state, health) = match (running, failing, live) {
            (Some(d), _, _) => (d.status().to_string(), Health::Progressing),
            (None, Some(e), _) => (e.kind.clone(), Health::Degraded),
            (None, None, Some(_)) => ("live".to_string(), Health::Healthy),
            (None, None, None) => ("no live deploy".to_string(), Health::Missing),
        };
        let image = live.and_then(deploy_artifact).map(|a| a.full());
        if instances.is_empty() {
            return Ok(vec![Instance {
                id: service.id.clone(),
                service: name,
                region: None,
                image,
                state: sanitize(&format!("{state}, no instances")),
                health: if health == Health::Progressing {
                    health
                } else {
                    Health::Missing
                },
            }]);
        }
        Ok(instances
            .into_iter()
            .map(|i| Instance {
                id: sanitize(&i.id),
                service: name.clone(),
                region: None,
                image: image.clone(),
                state: sanitize(&state),
                health,
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
        let id = &target.remote;
        progress.stop_if_cancelled(0, 1)?;
        let service = self.service(id).await?;
        if service.is_suspended() {
            return Err(ProviderError::Invalid {
                target: format!("Render service {} ({id})", service.name),
                message: "it is suspended; resume it in Render before deploying".into(),
            });
        }
        let body = Self::deploy_body(&service, artifact)?;
        progress.report(id, 1, 1, UnitState::Started, "deploy requested");
        let started = self.start(id, "/deploys", body, Some(artifact)).await?;
        let live = self.follow(id, started, progress).await?;
        // Whatever was staged went out with this deploy.
        self.staged.clear(id);
        Ok(release(&live))
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let id = &target.remote;
        progress.report(
            id,
            1,
            1,
            UnitState::Started,
            &format!("rollback to {}", to.id),
        );
        let started = self
            .start(id, "/rollback", json!({ "deployId": to.id }), None)
            .await?;
        let live = self.follow(id, started, progress).await?;
        let mut out = release(&live);
        if self.settings.pause_autodeploy_on_rollback {
            let service = self.service(id).await?;
            if service.auto_deploys() {
                self.pause_autodeploy(id).await?;
                out.description = format!(
                    "{}; auto-deploy turned off so the next push does not undo the rollback",
                    out.description
                );
            }
        }
        Ok(out)
    }

    fn rollback_leaves(&self) -> Option<String> {
        self.settings.pause_autodeploy_on_rollback.then(|| {
            "Render auto-deploy is off: turn it back on in Render once the fix is live".to_string()
        })
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        let vars = self
            .list::<EnvVarItem>(&self.service_url(&target.remote, "/env-vars"), 1000)
            .await?;
        let staged = self.staged.names(&target.remote);
        let mut out: Vec<SecretMeta> = vars
            .iter()
            .map(|v| SecretMeta {
                name: sanitize(&v.key),
                digest: Some(crate::secrets::digest(&v.value)),
                updated_at: None,
                staged: staged.contains(&v.key),
                write_only: false,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        let http = self.http().await?;
        let id = &target.remote;
        for (name, value) in &values {
            let url = self.service_url(id, &format!("/env-vars/{}", escape(name)));
            match value {
                Some(v) => {
                    let req = Request {
                        method: Method::PUT,
                        ..Request::post(url, json!({ "value": v.expose() }))
                    }
                    .retryable();
                    http.send(req).await?;
                }
                None => match http.send(Request::delete(url)).await {
                    // Already gone (a retried delete, or never there): the wanted state.
                    Ok(_) | Err(ProviderError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                },
            }
            self.staged.add(id, name);
        }
        if stage {
            return Ok(());
        }
        self.apply_secrets(target).await.map(|_| ())
    }

    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        // Render applies env vars with a deploy: the running artifact again.
        let deploys = self.deploys(&target.remote, 20).await?;
        let Some(artifact) = deploys
            .iter()
            .find(|d| d.status() == "live")
            .and_then(deploy_artifact)
        else {
            return Err(ProviderError::NotFound {
                what: format!(
                    "a live deploy of {} to apply the variables with",
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
        let owners = self.list::<OwnerItem>(&self.url("/owners"), 20).await?;
        if owners.is_empty() {
            return Err(ProviderError::Remote {
                target: "render".into(),
                message: "the key can act for no workspace".into(),
            });
        }
        let names: Vec<String> = owners
            .iter()
            .map(|o| {
                if o.email.is_empty() {
                    format!("{} ({})", o.name, o.id)
                } else {
                    format!("{} <{}> ({})", o.name, o.email, o.id)
                }
            })
            .collect();
        Ok(sanitize(&names.join(", ")))
    }

    async fn logs(&self, target: &Target, _service: &str) -> Result<LogStream, ProviderError> {
        let service = self.service(&target.remote).await?;
        let http = self.http().await?.clone();
        Ok(logs::poll(
            http,
            self.url("/logs"),
            service.owner_id,
            service.id,
        ))
    }

    fn logs_command(&self, target: &Target, _service: &str) -> String {
        format!("render logs --resources {} --tail", target.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(image: Option<&str>, repo: Option<&str>) -> Service {
        serde_json::from_value(json!({
            "id": "srv-1", "name": "api", "ownerId": "tea-1", "autoDeploy": "yes",
            "suspended": "not_suspended", "imagePath": image, "repo": repo,
        }))
        .unwrap()
    }

    #[test]
    fn deploys_the_digest_of_an_image_from_the_same_repository_only() {
        let s = service(Some("docker.io/acme/api:1.2"), None);
        let body =
            RenderProvider::deploy_body(&s, &Artifact::image("acme/api:1.3@sha256:ab")).unwrap();
        assert_eq!(body, json!({"imageUrl": "docker.io/acme/api@sha256:ab"}));
        let other = RenderProvider::deploy_body(&s, &Artifact::image("ghcr.io/acme/api:1.3"));
        assert!(matches!(other, Err(ProviderError::Invalid { .. })));
        let commit = Artifact::Commit(CommitRef {
            sha: "0123456789abcdef".into(),
            reference: None,
            repo: None,
        });
        assert!(RenderProvider::deploy_body(&s, &commit).is_err());
        let repo = service(None, Some("https://github.com/acme/api"));
        assert_eq!(
            RenderProvider::deploy_body(&repo, &commit).unwrap(),
            json!({"commitId": "0123456789abcdef"})
        );
    }

    #[test]
    fn a_deploy_reads_as_a_release() {
        let d: model::Deploy = serde_json::from_value(json!({
            "id": "dep-9", "status": "update_failed", "trigger": "api",
            "commit": {"id": "abcdef0123", "message": "fix\nmore"},
            "createdAt": "2026-11-30T10:00:00Z"
        }))
        .unwrap();
        let r = release(&d);
        assert_eq!(r.status, ReleaseStatus::Failed);
        assert_eq!(r.label(), "abcdef0");
        assert_eq!(r.description, "by api: fix");
        assert!(!r.current);
        assert_eq!(escape("srv-1/../x"), "srv-1%2F..%2Fx");
        assert_eq!(crate::secrets::digest("a"), crate::secrets::digest("a"));
        assert_ne!(crate::secrets::digest("a"), crate::secrets::digest("b"));
    }
}
