//! GitHub Actions as a deploy driver (REST API): the team's own deploy
//! workflow does the deploying; shipdeck dispatches it with inputs filled
//! from the plan, follows its jobs live, cancels it on abort, and passes on
//! approvals for protected environments. History and "what runs now" come
//! from GitHub Deployments of the env's GitHub environment (the latest
//! successful one is current); a rollback dispatches the workflow again with
//! an earlier deployment's image or commit (a redeploy, not a platform
//! rollback). Environment secrets are listed by name (GitHub shows no value
//! and no digest), sealed with the environment's public key to set, and
//! picked up by the next run. The token is resolved on the first call.
//!
//! What the deploy workflow must do for shipdeck to verify a deploy: record
//! a deployment to the GitHub environment for the commit it deployed, with
//! the image in its payload under the input name that carries
//! `{artifact.image}` (a job with `environment:` records one for the run's
//! commit automatically).

pub mod inputs;
pub mod logs;
pub mod model;
pub mod run;
pub mod seal;
pub mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use tokio::sync::OnceCell;

pub use settings::GithubSettings;

use super::http::{HttpClient, Request, query_escape as escape};
use super::token::TokenSource;
use super::{
    Approval, CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target, Task,
};
use crate::domain::{Artifact, ArtifactKind, CommitRef, Release, ReleaseStatus, SecretMeta};
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;
use model::{Deployment, DeploymentStatus, PendingDeployment, PublicKey, SecretList};

/// Largest page GitHub serves.
const PAGE: usize = 100;

/// Client for the deploy workflow and GitHub environment of one env.
pub struct GithubProvider {
    settings: GithubSettings,
    token_source: TokenSource,
    timeout: Duration,
    calls: CallSink,
    session: OnceCell<HttpClient>,
    /// The token's login (for finding a dispatched run when GitHub does not
    /// return it); None when the token is an app's.
    login: OnceCell<Option<String>>,
    /// Latest status of deployments whose state no longer changes, by id.
    settled: Mutex<HashMap<u64, String>>,
    /// Secret names set since the last run of the workflow.
    staged: super::staged::StagedNames,
}

impl std::fmt::Debug for GithubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubProvider")
            .field("settings", &self.settings)
            .field("connected", &self.session.initialized())
            .finish_non_exhaustive()
    }
}

impl GithubProvider {
    /// What GitHub Actions can do through shipdeck.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::Image, ArtifactKind::Commit],
        list_secrets: true,
        write_secrets: true,
        stage_secrets: true,
        logs: true,
        deploy_progress: true,
        cancel: true,
        approvals: true,
        ..Capabilities::NONE
    };

    /// A client; `token` is called on the first API call.
    pub fn new(
        settings: GithubSettings,
        token: TokenSource,
        timeout: Duration,
        calls: CallSink,
    ) -> GithubProvider {
        GithubProvider {
            settings,
            token_source: token,
            timeout,
            calls,
            session: OnceCell::new(),
            login: OnceCell::new(),
            settled: Mutex::new(HashMap::new()),
            staged: Default::default(),
        }
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &GithubSettings {
        &self.settings
    }

    async fn http(&self) -> Result<&HttpClient, ProviderError> {
        self.session
            .get_or_try_init(|| async {
                let token = super::token::resolve(&self.token_source, "github").await?;
                Ok(HttpClient::new("github", self.timeout, self.calls.clone())
                    .with_auth(format!("Bearer {}", token.expose()))
                    .with_permission_errors())
            })
            .await
    }

    fn repo_url(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}{rest}",
            self.settings.api_url, self.settings.repo
        )
    }

    fn env_url(&self, rest: &str) -> String {
        self.repo_url(&format!(
            "/environments/{}{rest}",
            escape(&self.settings.environment)
        ))
    }

    /// A GET with GitHub's media type and the pinned API version.
    fn get(url: String) -> Request {
        versioned(Request::get(url))
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: String) -> Result<T, ProviderError> {
        self.http().await?.json(Self::get(url)).await
    }

    /// The token's login, once (None for an app's token, which has no user).
    async fn login(&self) -> Option<String> {
        self.login
            .get_or_init(|| async {
                let user: Result<model::User, _> =
                    self.fetch(format!("{}/user", self.settings.api_url)).await;
                user.ok().map(|u| u.login)
            })
            .await
            .clone()
    }

    /// Deployments to the env's GitHub environment, newest first, that
    /// belong to `service` (its fixed inputs match the payload's).
    async fn deployments(
        &self,
        service: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Deployment>, ProviderError> {
        let markers = self.settings.service_markers(service);
        // Other services' deployments share the environment: read a full page to find ours.
        let per_page = if markers.is_empty() {
            limit.clamp(1, PAGE)
        } else {
            PAGE
        };
        let url = self.repo_url(&format!(
            "/deployments?environment={}&per_page={per_page}",
            escape(&self.settings.environment)
        ));
        let list: Vec<Deployment> = self.fetch(url).await?;
        Ok(list
            .into_iter()
            .filter(|d| {
                let payload = d.payload_object();
                markers.iter().all(|(k, v)| {
                    payload
                        .get(k)
                        .and_then(|p| p.as_str())
                        .is_none_or(|p| p == v)
                })
            })
            .take(limit)
            .collect())
    }

    /// The latest state of a deployment (`success`, `failure`, …; `pending`
    /// when it has no status yet). States that cannot change any more are
    /// remembered, so a refresh asks only about recent deployments.
    async fn state_of(
        &self,
        d: &Deployment,
        older_than_current: bool,
    ) -> Result<String, ProviderError> {
        if let Some(state) = self.settled.lock().ok().and_then(|m| m.get(&d.id).cloned()) {
            return Ok(state);
        }
        let url = self.repo_url(&format!("/deployments/{}/statuses?per_page=1", d.id));
        let statuses: Vec<DeploymentStatus> = self.fetch(url).await?;
        let state = statuses
            .first()
            .map_or_else(|| "pending".to_string(), |s| s.state.clone());
        // Failure, error and inactive are final; an older success can only become inactive.
        let settled = matches!(state.as_str(), "failure" | "error" | "inactive")
            || (older_than_current && state == "success");
        if settled && let Ok(mut m) = self.settled.lock() {
            m.insert(d.id, state.clone());
        }
        Ok(state)
    }

    /// The artifact a deployment records: the image in its payload (under
    /// the input that carries `{artifact.image}`), else its commit.
    fn artifact_of(&self, d: &Deployment, service: Option<&str>) -> Artifact {
        let (_, templates) = self.settings.run_spec(service);
        let key = inputs::image_input(&templates).unwrap_or("image");
        let image = d
            .payload_object()
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string);
        match image {
            Some(reference) => Artifact::image(&sanitize(&reference)),
            None => Artifact::Commit(CommitRef {
                sha: sanitize(&d.sha),
                reference: (!d.git_ref.is_empty() && d.git_ref != d.sha)
                    .then(|| sanitize(&d.git_ref)),
                repo: Some(self.settings.repo.clone()),
            }),
        }
    }

    fn release_of(
        &self,
        d: &Deployment,
        state: &str,
        current: bool,
        service: Option<&str>,
    ) -> Release {
        let status = match state {
            _ if current => ReleaseStatus::Live,
            "success" | "inactive" => ReleaseStatus::Superseded,
            "failure" | "error" => ReleaseStatus::Failed,
            "in_progress" | "queued" => ReleaseStatus::Deploying,
            _ => ReleaseStatus::Pending,
        };
        let description = d
            .description
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{} {}", d.task.as_deref().unwrap_or("deploy"), d.git_ref));
        Release {
            id: d.id.to_string(),
            version: None,
            artifact: Some(self.artifact_of(d, service)),
            status,
            raw_status: sanitize(state),
            author: d.creator.as_ref().map(|c| sanitize(&c.login)),
            description: sanitize(&description),
            created_at: d.created_at,
            current,
        }
    }

    /// The history of `service`'s deployments with their states. Where
    /// services share the GitHub environment, another service's success
    /// marks this one's `inactive` (GitHub's `auto_inactive`): among a
    /// service's own deployments the newest that succeeded is current.
    async fn history(
        &self,
        service: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Release>, ProviderError> {
        let shared = !self.settings.service_markers(service).is_empty();
        let mut out = Vec::new();
        let mut found_current = false;
        for d in self.deployments(service, limit).await? {
            let state = self.state_of(&d, found_current).await?;
            let served = state == "success" || (shared && state == "inactive");
            let current = !found_current && served;
            found_current |= current;
            out.push(self.release_of(&d, &state, current, service));
        }
        Ok(out)
    }

    /// After a successful run: the deployment it recorded of `artifact`, as
    /// the release now live. A run that recorded none, or another artifact,
    /// is not reported as a success.
    async fn deployed(
        &self,
        target: &Target,
        artifact: &Artifact,
        before: &HashSet<u64>,
        run: &model::Run,
    ) -> Result<Release, ProviderError> {
        let service = target.service.as_deref();
        // A job's deployment can take a moment to get its final status.
        for attempt in 0..4 {
            let recent: Vec<Deployment> = self
                .deployments(service, 20)
                .await?
                .into_iter()
                .filter(|d| !before.contains(&d.id))
                .collect();
            let mine = recent.iter().find(|d| {
                self.artifact_of(d, service).same(artifact) == Some(true)
                    || matches!(artifact, Artifact::Commit(c) if c.sha.eq_ignore_ascii_case(&d.sha))
            });
            match mine {
                Some(d) => {
                    let state = self.state_of(d, false).await?;
                    if state == "success" {
                        return Ok(self.release_of(d, &state, true, service));
                    }
                    if matches!(state.as_str(), "failure" | "error") || attempt == 3 {
                        return Err(ProviderError::Remote {
                            target: run_label(run),
                            message: format!(
                                "the run succeeded but its deployment {} to `{}` is {state}",
                                d.id, self.settings.environment
                            ),
                        });
                    }
                }
                None if attempt == 3 => {
                    let message = match recent.first() {
                        Some(other) => format!(
                            "the run succeeded but its deployment to `{}` records {}, not {}",
                            self.settings.environment,
                            self.artifact_of(other, service).short(),
                            artifact.short()
                        ),
                        None => format!(
                            "the run succeeded but recorded no deployment to GitHub environment `{}`, so shipdeck cannot confirm what runs there; let the deploy job record one (`environment: {}` on the job, or the deployments API with the image in its payload)",
                            self.settings.environment, self.settings.environment
                        ),
                    };
                    return Err(ProviderError::Remote {
                        target: run_label(run),
                        message,
                    });
                }
                None => {}
            }
            tokio::time::sleep(self.settings.poll_interval.min(Duration::from_secs(3))).await;
        }
        unreachable!("the last attempt returns")
    }

    /// Dispatch `workflow` with `values` and follow the run to its end:
    /// the run, and the deployments recorded before the dispatch (to tell
    /// the run's own deployments apart, on failure and after success).
    async fn run_workflow(
        &self,
        workflow: &str,
        values: &std::collections::BTreeMap<String, String>,
        progress: &Progress,
    ) -> Result<(model::Run, HashSet<u64>), ProviderError> {
        let before: HashSet<u64> = self
            .deployments(None, 30)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        let since = Utc::now() - chrono::Duration::seconds(10);
        let run_id = run::dispatch(self, workflow, values, since).await?;
        let run = run::follow(self, run_id, progress, &before).await?;
        Ok((run, before))
    }

    /// Dispatch the workflow for `target` with `artifact`, follow the run
    /// to its end, and confirm the deployment it recorded.
    async fn run_deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let service = target.service.as_deref();
        let (workflow, templates) = self.settings.run_spec(service);
        let ctx = inputs::Context {
            env: &self.settings.env,
            service,
            environment: &self.settings.environment,
            artifact: Some(artifact),
        };
        let values =
            inputs::render(&templates, &ctx).map_err(|message| ProviderError::Invalid {
                target: format!("{} {workflow}", self.settings.repo),
                message,
            })?;
        let (run, before) = self.run_workflow(&workflow, &values, progress).await?;
        self.staged.clear(&self.settings.environment);
        self.deployed(target, artifact, &before, &run).await
    }
}

/// Add GitHub's media type and the pinned API version to a request.
fn versioned(req: Request) -> Request {
    req.header("accept", "application/vnd.github+json")
        .header("x-github-api-version", settings::API_VERSION)
}

/// `deploy.yml #42` for messages.
fn run_label(run: &model::Run) -> String {
    format!(
        "workflow run #{} ({})",
        run.run_number,
        sanitize(&run.html_url)
    )
}

/// Why GitHub would refuse a secret name, or None (letters, digits and
/// `_`; not starting with a digit or `GITHUB_`).
pub fn secret_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Some("GitHub secret names hold only letters, digits and `_`")
    } else if name.as_bytes()[0].is_ascii_digit() {
        Some("GitHub secret names cannot start with a digit")
    } else if name.to_ascii_uppercase().starts_with("GITHUB_") {
        Some("GitHub reserves names starting with GITHUB_")
    } else {
        None
    }
}

#[async_trait]
impl Provider for GithubProvider {
    fn name(&self) -> &'static str {
        "github"
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        self.history(target.service.as_deref(), limit).await
    }

    /// GitHub reports deployments, not instances: health comes from the
    /// services' health URLs, and the deployment state is in the history.
    async fn status(
        &self,
        _target: &Target,
    ) -> Result<Vec<crate::domain::Instance>, ProviderError> {
        // One cheap call, so an unreachable API or a refused token shows.
        let _: serde_json::Value = self.fetch(self.repo_url("")).await?;
        Ok(Vec::new())
    }

    async fn deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        _description: &str,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        self.run_deploy(target, artifact, progress).await
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let Some(artifact) = &to.artifact else {
            return Err(ProviderError::Invalid {
                target: format!("deployment {}", to.id),
                message: "it records no image or commit to deploy again".into(),
            });
        };
        self.run_deploy(target, artifact, progress).await
    }

    async fn secrets(&self, _target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        let staged = self.staged.names(&self.settings.environment);
        let mut out = Vec::new();
        for page in 1..=50 {
            let list: SecretList = self
                .fetch(self.env_url(&format!("/secrets?per_page={PAGE}&page={page}")))
                .await?;
            let n = list.secrets.len();
            out.extend(list.secrets.into_iter().map(|s| SecretMeta {
                staged: staged.contains(&s.name),
                name: sanitize(&s.name),
                digest: None,
                updated_at: s.updated_at,
                write_only: true,
            }));
            if n < PAGE {
                break;
            }
        }
        Ok(out)
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        for (name, _) in &values {
            if let Some(why) = secret_name_problem(name) {
                return Err(ProviderError::Invalid {
                    target: format!("secret `{}`", sanitize(name)),
                    message: why.into(),
                });
            }
        }
        let http = self.http().await?;
        let mut key: Option<PublicKey> = None;
        for (name, value) in values {
            let url = self.env_url(&format!("/secrets/{}", escape(&name)));
            match value {
                Some(v) => {
                    if key.is_none() {
                        key = Some(self.fetch(self.env_url("/secrets/public-key")).await?);
                    }
                    let Some(k) = key.as_ref() else { continue };
                    let sealed = seal::seal(&k.key, v.expose().as_bytes()).map_err(|e| {
                        ProviderError::Decode {
                            target: self.env_url("/secrets/public-key"),
                            reason: e.to_string(),
                        }
                    })?;
                    let body = json!({ "encrypted_value": sealed, "key_id": k.key_id });
                    http.send(versioned(Request::put(url, body))).await?;
                }
                None => match http.send(versioned(Request::delete(url))).await {
                    Ok(_) => {}
                    Err(ProviderError::NotFound { .. }) => {
                        return Err(ProviderError::NotFound {
                            what: format!(
                                "secret `{}` in GitHub environment `{}`",
                                sanitize(&name),
                                self.settings.environment
                            ),
                        });
                    }
                    Err(e) => return Err(e),
                },
            }
            self.staged.add(&self.settings.environment, &name);
        }
        if !stage {
            self.apply_secrets(target).await?;
        }
        Ok(())
    }

    async fn whoami(&self) -> Result<String, ProviderError> {
        let http = self.http().await?;
        match http
            .send(Self::get(format!("{}/user", self.settings.api_url)))
            .await
        {
            Ok(resp) => {
                let expires = resp
                    .headers()
                    .get("github-authentication-token-expiration")
                    .and_then(|v| v.to_str().ok())
                    .map(sanitize);
                let user: model::User = resp.json().await.map_err(|e| ProviderError::Decode {
                    target: format!("{}/user", self.settings.api_url),
                    reason: sanitize(&e.to_string()),
                })?;
                let kind = match user.kind.as_deref() {
                    Some("Bot") => " (a bot)",
                    _ => "",
                };
                Ok(match expires {
                    Some(at) => format!("{}{kind}, token expires {at}", sanitize(&user.login)),
                    None => format!("{}{kind}", sanitize(&user.login)),
                })
            }
            // An app installation token has no user; it can still read its repositories.
            Err(ProviderError::Forbidden { .. }) => {
                let _: serde_json::Value = self.fetch(self.repo_url("")).await?;
                Ok(format!(
                    "a GitHub App installation token with access to {}",
                    self.settings.repo
                ))
            }
            Err(e) => Err(e),
        }
    }

    async fn run_task(
        &self,
        _target: &Target,
        task: &Task,
        progress: &Progress,
    ) -> Result<String, ProviderError> {
        let ctx = inputs::Context {
            env: &self.settings.env,
            service: None,
            environment: &self.settings.environment,
            artifact: task.artifact.as_ref(),
        };
        let (values, _) =
            inputs::fill(&task.inputs, &ctx).map_err(|message| ProviderError::Invalid {
                target: format!("{} {}", self.settings.repo, task.name),
                message,
            })?;
        let (run, _) = self.run_workflow(&task.name, &values, progress).await?;
        Ok(format!(
            "{} run #{} succeeded ({})",
            task.name,
            run.run_number,
            sanitize(&run.html_url)
        ))
    }

    async fn approvals(&self, _target: &Target) -> Result<Vec<Approval>, ProviderError> {
        let runs: model::RunList = self
            .fetch(self.repo_url("/actions/runs?status=waiting&per_page=20"))
            .await?;
        let mut out = Vec::new();
        for r in runs.workflow_runs {
            let pending: Vec<PendingDeployment> = self
                .fetch(self.repo_url(&format!("/actions/runs/{}/pending_deployments", r.id)))
                .await?;
            let mine: Vec<&PendingDeployment> = pending
                .iter()
                .filter(|p| {
                    p.environment.name.as_deref() == Some(self.settings.environment.as_str())
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut reviewers: Vec<String> = mine
                .iter()
                .flat_map(|p| p.reviewers.iter().map(|r| sanitize(&r.label())))
                .collect();
            reviewers.dedup();
            out.push(Approval {
                run: r.id.to_string(),
                label: format!(
                    "{} #{} by {}",
                    sanitize(r.display_title.as_deref().unwrap_or("run")),
                    r.run_number,
                    sanitize(r.actor.as_ref().map_or("?", |a| a.login.as_str()))
                ),
                environments: mine
                    .iter()
                    .map(|p| {
                        (
                            p.environment.id,
                            sanitize(p.environment.name.as_deref().unwrap_or("")),
                        )
                    })
                    .collect(),
                reviewers,
                can_approve: mine.iter().all(|p| p.current_user_can_approve),
            });
        }
        Ok(out)
    }

    async fn review(
        &self,
        _target: &Target,
        approval: &Approval,
        approve: bool,
        comment: &str,
    ) -> Result<(), ProviderError> {
        let http = self.http().await?;
        let url = self.repo_url(&format!(
            "/actions/runs/{}/pending_deployments",
            escape(&approval.run)
        ));
        let body = json!({
            "environment_ids": approval.environments.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "state": if approve { "approved" } else { "rejected" },
            "comment": comment,
        });
        http.send(versioned(Request::post(url, body)))
            .await
            .map(|_| ())
    }

    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError> {
        let http = self.http().await?.clone();
        let (workflow, _) = self
            .settings
            .run_spec(Some(service).filter(|_| target.service.is_some()));
        Ok(logs::poll(
            http,
            self.repo_url(""),
            workflow,
            self.settings.poll_interval,
        ))
    }

    fn logs_command(&self, _target: &Target, _service: &str) -> String {
        format!(
            "gh run view --repo {} --log $(gh run list --repo {} --workflow {} --limit 1 --json databaseId -q '.[0].databaseId')",
            self.settings.repo, self.settings.repo, self.settings.workflow
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_githubs_rules() {
        assert_eq!(secret_name_problem("JWT_SECRET_KEY"), None);
        assert_eq!(secret_name_problem("db_url2"), None);
        assert!(secret_name_problem("2FA").is_some());
        assert!(secret_name_problem("GITHUB_TOKEN").is_some());
        assert!(secret_name_problem("A-B").is_some());
        assert!(secret_name_problem("").is_some());
    }
}
