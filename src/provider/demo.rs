//! The demo provider: a real HTTP client for the demo fleet's control plane,
//! implementing the same trait (and going through the same HTTP layer and
//! command log) as the platform clients.

use async_trait::async_trait;
use futures::StreamExt;
use std::time::Duration;

use super::http::{HttpClient, Request, display_target};
use super::{CallSink, Capabilities, LogStream, Provider, ProviderError, Target};
use crate::domain::{Artifact, Instance, Release, SecretMeta};
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

    fn url(&self, target: &Target, path: &str) -> String {
        format!("{}/v1/envs/{}/{path}", self.base, target.remote)
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
        Capabilities {
            deploy: true,
            native_rollback: true,
            list_secrets: true,
            secret_digests: true,
            stage_secrets: true,
            logs: true,
            leases: false,
        }
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        self.http
            .json(Request::get(
                self.url(target, &format!("releases?limit={limit}")),
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
    ) -> Result<Release, ProviderError> {
        let body = serde_json::json!({"image": artifact.image, "description": description, "author": self.actor});
        self.http
            .json(Request::post(self.url(target, "deploys"), body))
            .await
    }

    async fn rollback(&self, target: &Target, to: &Release) -> Result<Release, ProviderError> {
        let body = serde_json::json!({"release_id": to.id, "author": self.actor});
        self.http
            .json(Request::post(self.url(target, "rollback"), body))
            .await
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        let body: SecretsBody = self
            .http
            .json(Request::get(self.url(target, "secrets")))
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
            .send(Request::post(self.url(target, "secrets"), body))
            .await
            .map(|_| ())
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
            self.url(target, &format!("services/{service}/logs"))
        )
    }

    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError> {
        let url = self.url(target, &format!("services/{service}/logs"));
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
