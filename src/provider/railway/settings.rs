//! How one env's Railway client is set up: the project environment it
//! acts in, which kind of token it holds (they travel in different
//! headers), the endpoint, and how long and how often a deployment is
//! watched. Built from `[env.railway]`, the token read from the credential
//! store (`railway:ACCOUNT`) on the first call.

use std::time::Duration;

use crate::config::{RailwayEnv, RailwayTokenKind};
use crate::credentials::{CredentialKey, CredentialKind};
use crate::provider::ProviderError;

/// Railway's public GraphQL endpoint.
pub const DEFAULT_API_URL: &str = "https://backboard.railway.com/graphql/v2";

/// Settings of one Railway client.
#[derive(Debug, Clone)]
pub struct RailwaySettings {
    /// GraphQL endpoint.
    pub api_url: String,
    /// The project id.
    pub project: String,
    /// The environment id.
    pub environment: String,
    /// Account/workspace token (Bearer) or project token (`Project-Access-Token`).
    pub token_kind: RailwayTokenKind,
    /// Longest one deployment may take to succeed.
    pub wait_timeout: Duration,
    /// Pause between two looks at a running deployment.
    pub poll_interval: Duration,
}

impl RailwaySettings {
    /// Settings for one project environment, with the defaults.
    pub fn new(project: impl Into<String>, environment: impl Into<String>) -> RailwaySettings {
        RailwaySettings {
            api_url: DEFAULT_API_URL.into(),
            project: project.into(),
            environment: environment.into(),
            token_kind: RailwayTokenKind::Account,
            wait_timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(3),
        }
    }

    /// Settings from an `[env.railway]` table.
    pub fn from_config(table: &RailwayEnv) -> RailwaySettings {
        let mut s = RailwaySettings::new(table.project.clone(), table.environment.clone());
        if let Some(url) = &table.api_url {
            s.api_url = url.clone();
        }
        if let Some(kind) = table.token_kind {
            s.token_kind = kind;
        }
        if let Some(wait) = &table.wait_timeout {
            s.wait_timeout = wait.0;
        }
        if let Some(every) = &table.poll_interval {
            s.poll_interval = every.0;
        }
        s
    }
}

/// The keyring key an env's Railway table uses: `railway:ACCOUNT`, default `railway`.
pub fn credential_key(table: Option<&RailwayEnv>) -> Result<CredentialKey, ProviderError> {
    crate::provider::token::credential_key(
        CredentialKind::Railway,
        table.and_then(|t| t.account.as_deref()),
    )
}

/// The Railway client of env `env` (its token read on the first call).
pub fn provider_for(
    env: &crate::config::EnvConfig,
    timeout: Duration,
    calls: crate::provider::CallSink,
) -> Result<super::RailwayProvider, ProviderError> {
    let table = env
        .railway
        .as_ref()
        .ok_or_else(|| ProviderError::Credential {
            provider: "railway".into(),
            reason: format!("env `{}` has no [env.railway] table", env.name()),
        })?;
    let key = credential_key(Some(table))?;
    Ok(super::RailwayProvider::new(
        RailwaySettings::from_config(table),
        crate::provider::token::stored_token(key, crate::paths::state_dir()),
        timeout,
        calls,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sets_the_project_environment_and_token_kind() {
        let table = RailwayEnv {
            project: "p1".into(),
            environment: "e1".into(),
            token_kind: Some(RailwayTokenKind::Project),
            ..RailwayEnv::default()
        };
        let s = RailwaySettings::from_config(&table);
        assert_eq!((s.project.as_str(), s.environment.as_str()), ("p1", "e1"));
        assert_eq!(s.token_kind, RailwayTokenKind::Project);
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(credential_key(None).unwrap().to_string(), "railway:default");
    }
}
