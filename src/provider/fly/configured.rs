//! A Fly client built from an `[env.fly]` table, with its token read from
//! the credential store on the first call (environment override, else the OS
//! keyring), so building one never touches the keyring or the network.

use std::path::PathBuf;
use std::time::Duration;

use super::{FlyProvider, FlySettings};
use crate::config::FlyTarget;
use crate::credentials::{CredentialKey, CredentialKind};
use crate::provider::token::stored_token;
use crate::provider::{CallSink, ProviderError};

/// The keyring key an `[env.fly]` table uses: `fly:ACCOUNT`, default `fly`.
pub fn credential_key(target: &FlyTarget) -> Result<CredentialKey, ProviderError> {
    crate::provider::token::credential_key(CredentialKind::Fly, target.account.as_deref())
}

/// Fly settings from the config table (Fly's public endpoints unless overridden).
pub fn settings_for(target: &FlyTarget) -> FlySettings {
    let mut s = FlySettings::new(target.app.clone());
    s.process_group = target.process_group.clone();
    if let Some(url) = &target.api_url {
        // Accept the base with or without the `/v1` the paths add.
        let url = url.trim_end_matches('/');
        s.api_url = url.strip_suffix("/v1").unwrap_or(url).to_string();
    }
    if let Some(url) = &target.graphql_url {
        s.graphql_url = url.clone();
    }
    if let Some(url) = &target.logs_url {
        s.logs_url = url.trim_end_matches('/').to_string();
    }
    if let Some(via) = target.deploy_via {
        s.deploy_via = via;
    }
    if let Some(wait) = &target.wait_timeout {
        s.wait_timeout = wait.0;
    }
    if let Some(flyctl) = &target.flyctl {
        s.flyctl = PathBuf::from(flyctl);
    }
    s
}

/// The Fly client of one env.
pub fn provider_for(
    target: &FlyTarget,
    timeout: Duration,
    calls: CallSink,
    actor: String,
) -> Result<FlyProvider, ProviderError> {
    let key = credential_key(target)?;
    Ok(FlyProvider::new(
        settings_for(target),
        stored_token(key, crate::paths::state_dir()),
        timeout,
        calls,
        actor,
    ))
}
