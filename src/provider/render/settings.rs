//! How one env's Render client is set up: the API base, what a rollback
//! does to auto-deploy, and how long and how often a deploy is watched.
//! Built from `[env.render]`, with the API key read from the credential
//! store (`render:ACCOUNT`) on the first call.

use std::time::Duration;

use crate::config::RenderEnv;
use crate::credentials::{CredentialKey, CredentialKind};
use crate::provider::ProviderError;

/// Render's public API.
pub const DEFAULT_API_URL: &str = "https://api.render.com";

/// Settings of one Render client.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// API base without `/v1`.
    pub api_url: String,
    /// Turn auto-deploy off after a rollback (Render's API rollback leaves it on).
    pub pause_autodeploy_on_rollback: bool,
    /// Longest one deploy may take to go live.
    pub wait_timeout: Duration,
    /// Pause between two looks at a running deploy.
    pub poll_interval: Duration,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            api_url: DEFAULT_API_URL.into(),
            pause_autodeploy_on_rollback: true,
            wait_timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(3),
        }
    }
}

impl RenderSettings {
    /// Settings from an `[env.render]` table (defaults where it says nothing).
    pub fn from_config(table: Option<&RenderEnv>) -> RenderSettings {
        let mut s = RenderSettings::default();
        let Some(t) = table else { return s };
        if let Some(url) = &t.api_url {
            let url = url.trim_end_matches('/');
            s.api_url = url.strip_suffix("/v1").unwrap_or(url).to_string();
        }
        if let Some(pause) = t.pause_autodeploy_on_rollback {
            s.pause_autodeploy_on_rollback = pause;
        }
        if let Some(wait) = &t.wait_timeout {
            s.wait_timeout = wait.0;
        }
        if let Some(every) = &t.poll_interval {
            s.poll_interval = every.0;
        }
        s
    }
}

/// The keyring key an env's Render table uses: `render:ACCOUNT`, default `render`.
pub fn credential_key(table: Option<&RenderEnv>) -> Result<CredentialKey, ProviderError> {
    crate::provider::token::credential_key(
        CredentialKind::Render,
        table.and_then(|t| t.account.as_deref()),
    )
}

/// The Render client of env `env` (its key read on the first call).
pub fn provider_for(
    env: &crate::config::EnvConfig,
    timeout: Duration,
    calls: crate::provider::CallSink,
) -> Result<super::RenderProvider, ProviderError> {
    let table = env.render.as_ref();
    let key = credential_key(table)?;
    Ok(super::RenderProvider::new(
        RenderSettings::from_config(table),
        crate::provider::token::stored_token(key, crate::paths::state_dir()),
        timeout,
        calls,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_overrides_the_defaults() {
        let table = RenderEnv {
            api_url: Some("http://127.0.0.1:9/v1/".into()),
            pause_autodeploy_on_rollback: Some(false),
            ..RenderEnv::default()
        };
        let s = RenderSettings::from_config(Some(&table));
        assert_eq!(s.api_url, "http://127.0.0.1:9");
        assert!(!s.pause_autodeploy_on_rollback);
        assert_eq!(RenderSettings::from_config(None).api_url, DEFAULT_API_URL);
        assert_eq!(credential_key(None).unwrap().to_string(), "render:default");
    }
}
