//! How one env's GitHub client is set up: the API, the repository and its
//! deploy workflow, the input templates (the env's, and each service's
//! own), the GitHub environment, and how long and how often a run is
//! watched. Built from `[env.github]`; the token is read from the
//! credential store (`github:ACCOUNT`) on the first call.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{EnvConfig, GithubEnv, ServiceGithub};
use crate::credentials::{CredentialKey, CredentialKind};
use crate::provider::ProviderError;

/// GitHub's public REST API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version shipdeck speaks (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";

/// Settings of one GitHub client.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// API base (`https://api.github.com`, or `https://HOST/api/v3`).
    pub api_url: String,
    /// `owner/name`.
    pub repo: String,
    /// The deploy workflow (file name or id).
    pub workflow: String,
    /// The branch or tag the workflow runs from.
    pub git_ref: String,
    /// The env's input templates.
    pub inputs: BTreeMap<String, String>,
    /// The GitHub environment (deployments, secrets).
    pub environment: String,
    /// shipdeck's env name (for `{env}`).
    pub env: String,
    /// Services with their own run of the workflow, by name.
    pub services: BTreeMap<String, ServiceGithub>,
    /// Longest one run may take before it is cancelled.
    pub wait_timeout: Duration,
    /// Pause between two looks at a running run.
    pub poll_interval: Duration,
}

impl GithubSettings {
    /// Settings for env `env` (defaults where `[env.github]` says nothing).
    pub fn from_config(env: &EnvConfig) -> GithubSettings {
        let empty = GithubEnv::default();
        let t = env.github.as_ref().unwrap_or(&empty);
        GithubSettings {
            api_url: t
                .api_url
                .as_deref()
                .unwrap_or(DEFAULT_API_URL)
                .trim_end_matches('/')
                .to_string(),
            repo: t.repo.clone(),
            workflow: t.workflow.clone(),
            git_ref: t.git_ref.clone().unwrap_or_else(|| "main".into()),
            inputs: t.inputs.clone(),
            environment: t
                .environment
                .clone()
                .unwrap_or_else(|| env.name().to_string()),
            env: env.name().to_string(),
            services: env
                .services
                .iter()
                .filter_map(|s| Some((s.name().to_string(), s.github.as_ref()?.get_ref().clone())))
                .collect(),
            wait_timeout: t.wait_timeout.map_or(Duration::from_secs(60 * 60), |d| d.0),
            poll_interval: t.poll_interval.map_or(Duration::from_secs(5), |d| d.0),
        }
    }

    /// The workflow and input templates a run for `service` uses (the env's
    /// where the service has none of its own).
    pub fn run_spec(&self, service: Option<&str>) -> (String, BTreeMap<String, String>) {
        let own = service.and_then(|s| self.services.get(s));
        let mut inputs = self.inputs.clone();
        if let Some(own) = own {
            inputs.extend(own.inputs.clone());
        }
        let workflow = own
            .and_then(|o| o.workflow.clone())
            .unwrap_or_else(|| self.workflow.clone());
        (workflow, inputs)
    }

    /// The inputs that single out `service`'s deploys among the
    /// environment's (its own fixed ones, like `component = "backend"`).
    pub fn service_markers(&self, service: Option<&str>) -> BTreeMap<String, String> {
        let Some(own) = service.and_then(|s| self.services.get(s)) else {
            return BTreeMap::new();
        };
        own.inputs
            .iter()
            .filter(|(_, v)| !v.contains('{'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The keyring key an env's GitHub table uses: `github:ACCOUNT`, default `github`.
pub fn credential_key(table: Option<&GithubEnv>) -> Result<CredentialKey, ProviderError> {
    crate::provider::token::credential_key(
        CredentialKind::GithubActions,
        table.and_then(|t| t.account.as_deref()),
    )
}

/// The GitHub client of env `env` (its token read on the first call).
pub fn provider_for(
    env: &EnvConfig,
    timeout: Duration,
    calls: crate::provider::CallSink,
) -> Result<super::GithubProvider, ProviderError> {
    let key = credential_key(env.github.as_ref())?;
    Ok(super::GithubProvider::new(
        GithubSettings::from_config(env),
        crate::provider::token::stored_token(key, crate::paths::state_dir()),
        timeout,
        calls,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn services_add_their_inputs_to_the_envs() {
        let cfg = Config::parse_str(
            r#"
[[env]]
name = "production"
provider = "github_actions"
github = { repo = "acme/kaiwa", workflow = "deploy.yml", environment = "prod", inputs = { environment = "{environment}", image = "{artifact.image}" } }

[[env.service]]
name = "api"
github = { inputs = { component = "backend" } }

[[env.service]]
name = "web"
github = { workflow = "web.yml", inputs = { component = "frontend" } }
"#,
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let s = GithubSettings::from_config(&cfg.envs[0]);
        assert_eq!(s.environment, "prod");
        assert_eq!(s.git_ref, "main");
        assert_eq!(s.api_url, DEFAULT_API_URL);
        let (workflow, inputs) = s.run_spec(Some("api"));
        assert_eq!(workflow, "deploy.yml");
        assert_eq!(inputs["component"], "backend");
        assert_eq!(inputs["image"], "{artifact.image}");
        assert_eq!(s.run_spec(Some("web")).0, "web.yml");
        assert_eq!(s.service_markers(Some("web"))["component"], "frontend");
        assert!(s.service_markers(None).is_empty());
        assert_eq!(credential_key(None).unwrap().to_string(), "github:default");
    }
}
