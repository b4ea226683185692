//! The demo provider: a real HTTP client for the demo fleet's control plane,
//! implementing the same trait (and going through the same HTTP layer and
//! command log) as the platform clients.

use async_trait::async_trait;
use futures::StreamExt;
use std::time::Duration;

use super::http::{HttpClient, Request, display_target};
use super::{
    CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target, UnitState,
};
use crate::domain::{Artifact, ArtifactKind, Instance, Release, SecretMeta};
use crate::secrets::SecretValue;

/// Client for the demo control plane.
#[derive(Debug, Clone)]
pub struct DemoProvider {
    base: String,
    http: HttpClient,
    actor: String,
}

impl DemoProvider {
    /// A client for the control plane at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: String, timeout: Duration, calls: CallSink, actor: String) -> DemoProvider {
        DemoProvider {
            base,
            http: HttpClient::new("demo", timeout, calls),
            actor,
        }
    }

    /// What the demo control plane can do.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::Image],
        native_rollback: true,
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

    /// `…/v1/envs/ENV/PATH`, or `…/v1/envs/ENV/services/SVC/PATH` for a service's target.
    fn url(&self, target: &Target, path: &str) -> String {
        match &target.scope {
            Some(svc) => format!(
                "{}/v1/envs/{}/services/{svc}/{path}",
                self.base, target.remote
            ),
            None => format!("{}/v1/envs/{}/{path}", self.base, target.remote),
        }
    }

    /// A demo deploy is one unit (the service): reported as it starts and
    /// ends; a cancel before it starts stops it.
    async fn one_unit(
        &self,
        target: &Target,
        progress: &Progress,
        what: &str,
        request: Request,
    ) -> Result<Release, ProviderError> {
        let unit = target
            .scope
            .clone()
            .unwrap_or_else(|| target.remote.clone());
        progress.stop_if_cancelled(0, 1)?;
        progress.report(
            &unit,
            1,
            1,
            UnitState::Started,
            &format!("deploying {what}"),
        );
        match self.http.json::<Release>(request).await {
            Ok(release) => {
                let line = format!("{} {}", release.label(), release.status.label());
                progress.report(&unit, 1, 1, UnitState::Done, &line);
                Ok(release)
            }
            Err(e) => {
                progress.report(&unit, 1, 1, UnitState::Failed, &e.to_string());
                Err(e)
            }
        }
    }

    /// `…/v1/envs/ENV/PATH`: env-wide resources (secrets, restart).
    fn env_url(&self, target: &Target, path: &str) -> String {
        format!("{}/v1/envs/{}/{path}", self.base, target.remote)
    }

    fn service_url(&self, target: &Target, path: &str) -> Result<String, ProviderError> {
        if target.scope.is_none() {
            return Err(ProviderError::Unsupported {
                provider: "demo",
                operation: "address a whole env here",
                why: "the demo fleet keeps releases per service: name the service",
            });
        }
        Ok(self.url(target, path))
    }
}

#[derive(serde::Deserialize)]
struct SecretsBody {
    secrets: Vec<SecretMeta>,
}

#[async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn capabilities(&self) -> Capabilities {
        DemoProvider::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        self.http
            .json(Request::get(
                self.service_url(target, &format!("releases?limit={limit}"))?,
            ))
            .await
    }

    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError> {
        self.http
            .json(Request::get(self.url(target, "instances")))
            .await
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
                provider: "demo",
                operation: "deploy this artifact",
                why: "the demo fleet deploys images only",
            });
        };
        let body = serde_json::json!({"image": image.full(), "description": description, "author": self.actor});
        let url = self.service_url(target, "deploys")?;
        self.one_unit(target, progress, &image.short(), Request::post(url, body))
            .await
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let body = serde_json::json!({"release_id": to.id, "author": self.actor});
        let url = self.service_url(target, "rollback")?;
        self.one_unit(target, progress, &to.label(), Request::post(url, body))
            .await
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        let body: SecretsBody = self
            .http
            .json(Request::get(self.env_url(target, "secrets")))
            .await?;
        Ok(body.secrets)
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        let map: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_ref()
                        .map_or(serde_json::Value::Null, |v| v.expose().into()),
                )
            })
            .collect();
        let body = serde_json::json!({"values": map, "stage": stage});
        self.http
            .send(Request::post(self.env_url(target, "secrets"), body))
            .await
            .map(|_| ())
    }

    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        // The demo platform restarts every service with the staged values.
        self.http
            .send(Request::post(
                self.env_url(target, "restart"),
                serde_json::json!({}),
            ))
            .await?;
        Ok(None)
    }

    async fn whoami(&self) -> Result<String, ProviderError> {
        #[derive(serde::Deserialize)]
        struct WhoAmI {
            identity: String,
        }
        let who: WhoAmI = self
            .http
            .json(Request::get(format!("{}/v1/whoami", self.base)))
            .await?;
        Ok(who.identity)
    }

    fn logs_command(&self, target: &Target, service: &str) -> String {
        format!(
            "curl -N {}",
            self.env_url(target, &format!("services/{service}/logs"))
        )
    }

    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError> {
        let url = self.env_url(target, &format!("services/{service}/logs"));
        // A stream has no overall timeout: only the connect is bounded.
        let resp = self.http.send_stream(Request::get(url.clone())).await?;
        let shown = display_target(&url);
        let bytes = resp.bytes_stream();
        let lines = crate::logs::source::split_lines(bytes.map(move |chunk| {
            chunk.map_err(|e| ProviderError::Unreachable {
                target: shown.clone(),
                reason: e.to_string(),
            })
        }));
        Ok(lines.boxed())
    }
}
