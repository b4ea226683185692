//! What one Fly.io environment needs: the app, an optional process group,
//! endpoints (overridable for tests and private networks) and rollout limits.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::config::DeployVia;

/// Settings of one Fly app as shipdeck uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlySettings {
    /// Fly app name (used when a [`crate::provider::Target`] has an empty `remote`).
    pub app: String,
    /// Only machines of this process group (`metadata.fly_process_group`).
    pub process_group: Option<String>,
    /// Machines API base URL.
    pub api_url: String,
    /// GraphQL endpoint.
    pub graphql_url: String,
    /// Base of the REST layer that serves logs (`/api/v1/apps/{app}/logs`).
    pub logs_url: String,
    /// How deploys run.
    pub deploy_via: DeployVia,
    /// How long one machine may take to start and pass its checks.
    pub wait_timeout: Duration,
    /// Lease time-to-live; the lease is refreshed at half this while held.
    pub lease_ttl: Duration,
    /// The flyctl program: a name looked up on `PATH`, or a path.
    pub flyctl: PathBuf,
    /// How long a machine list from `status()` may serve the `releases()` right
    /// after it (zero: never); keep it at or below the health interval.
    pub machines_ttl: Duration,
}

impl FlySettings {
    /// Settings for `app` with Fly's public endpoints and default limits.
    pub fn new(app: impl Into<String>) -> FlySettings {
        FlySettings {
            app: app.into(),
            process_group: None,
            api_url: "https://api.machines.dev".into(),
            graphql_url: "https://api.fly.io/graphql".into(),
            logs_url: "https://api.fly.io".into(),
            deploy_via: DeployVia::Api,
            wait_timeout: Duration::from_secs(300),
            lease_ttl: Duration::from_secs(60),
            flyctl: PathBuf::from("flyctl"),
            machines_ttl: Duration::from_secs(1),
        }
    }

    /// The lease TTL in whole seconds as the API takes it (at least 1).
    pub fn lease_ttl_secs(&self) -> u64 {
        self.lease_ttl.as_secs().max(1)
    }
}
