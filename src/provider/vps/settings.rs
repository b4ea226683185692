//! How one env's VPS client is set up, from `[env.vps]` and each service's
//! `vps = { … }`: the transport, the systemd units with their release
//! folders and env files, and the other VPS envs' transports (a promotion
//! fetches the exact binary from the source env's host).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::VpsProvider;
use super::transport::{SshTarget, Transport};
use crate::config::{Config, EnvConfig, ProviderKind, ServiceConfig};
use crate::provider::CallSink;

/// How a Docker Compose service is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeSettings {
    /// The service's name in the compose file.
    pub service: String,
    /// The compose file, relative to the project folder.
    pub file: String,
    /// The project name (`-p`), when set.
    pub project: Option<String>,
    /// The variable the compose file reads the image from.
    pub image_var: String,
    /// Pull before `up`.
    pub pull: bool,
    /// `docker compose` or `docker-compose`, as words.
    pub command: Vec<String>,
}

/// One deployable service of the env: a systemd unit, or a Compose service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSettings {
    /// shipdeck's service name.
    pub service: String,
    /// The systemd unit, or the Compose service's name.
    pub unit: String,
    /// Set for a Compose service.
    pub compose: Option<ComposeSettings>,
    /// Where a systemd service's releases are.
    pub layout: crate::config::VpsLayout,
    /// The app's folder (releases in `DIR/releases`, the running one `DIR/current`).
    pub dir: String,
    /// The binary's file name in a release.
    pub binary: String,
    /// The env file the unit reads (absolute), when configured.
    pub env_file: Option<String>,
    /// Longest to wait for the unit to be active after a restart.
    pub start_timeout: Duration,
}

/// Settings of one VPS client.
#[derive(Debug, Clone)]
pub struct VpsSettings {
    /// shipdeck's env name.
    pub env: String,
    /// Where its commands run.
    pub transport: Transport,
    /// `systemctl` through `sudo -n`.
    pub sudo: bool,
    /// Longest one remote command may run.
    pub command_timeout: Duration,
    /// Releases kept per service, the current one included.
    pub keep_releases: usize,
    /// The shared lock file on the host.
    pub lock_file: String,
    /// The env's systemd services, in config order.
    pub units: Vec<UnitSettings>,
    /// Every VPS env's transport, by env name (where promoted files come from).
    pub peers: BTreeMap<String, Transport>,
    /// Who this is, for the lock's holder line.
    pub actor: String,
}

impl VpsSettings {
    /// The unit of service `name`.
    pub fn unit(&self, name: &str) -> Option<&UnitSettings> {
        self.units.iter().find(|u| u.service == name)
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The transport `[env.vps]` describes (this machine when it names no host).
pub fn transport_of(env: &EnvConfig) -> Transport {
    let Some(v) = &env.vps else {
        return Transport::Local;
    };
    match v.host.as_deref() {
        None | Some("local") => Transport::Local,
        Some(host) => Transport::Ssh(SshTarget {
            destination: host.to_string(),
            port: v.port,
            identity_file: v.identity_file.as_deref().map(expand_home),
            known_hosts: v.known_hosts.as_deref().map(expand_home),
        }),
    }
}

/// The absolute env file service `svc` reads, when it names one.
pub fn env_file_of(svc: &ServiceConfig) -> Option<String> {
    let v = svc.vps.as_ref()?.get_ref();
    let file = v.env_file.as_deref()?;
    if file.starts_with('/') {
        Some(file.to_string())
    } else {
        let dir = v.dir.as_deref()?.trim_end_matches('/');
        Some(format!("{dir}/{file}"))
    }
}

impl VpsSettings {
    /// Settings for env `env` of `config`.
    pub fn from_config(config: &Config, env: &EnvConfig, actor: String) -> VpsSettings {
        let v = env.vps.clone().unwrap_or_default();
        let command = v
            .compose_command
            .as_deref()
            .and_then(|c| crate::shell::split_words(c).ok())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| vec!["docker".into(), "compose".into()]);
        let units = env
            .services
            .iter()
            .filter_map(|svc| {
                let s = svc.vps.as_ref()?.get_ref();
                let compose = s.compose.as_ref().map(|service| ComposeSettings {
                    service: service.clone(),
                    file: s
                        .compose_file
                        .clone()
                        .unwrap_or_else(|| "docker-compose.yml".into()),
                    project: s.project.clone(),
                    image_var: s.image_var.clone().unwrap_or_default(),
                    pull: s.pull.unwrap_or(true),
                    command: command.clone(),
                });
                Some(UnitSettings {
                    service: svc.name().to_string(),
                    unit: s.systemd.clone().or_else(|| s.compose.clone())?,
                    compose,
                    layout: s.layout.unwrap_or_default(),
                    dir: s.dir.clone()?.trim_end_matches('/').to_string(),
                    binary: s.binary.clone().unwrap_or_else(|| svc.name().to_string()),
                    env_file: env_file_of(svc),
                    start_timeout: s.start_timeout.map_or(Duration::from_secs(60), |d| d.0),
                })
            })
            .collect();
        VpsSettings {
            env: env.name().to_string(),
            transport: transport_of(env),
            sudo: v.sudo,
            command_timeout: v.command_timeout.map_or(Duration::from_secs(60), |d| d.0),
            keep_releases: v.keep_releases.unwrap_or(5),
            lock_file: v.lock_file.clone().unwrap_or_else(|| {
                format!(
                    "/tmp/shipdeck-{}.lock",
                    crate::config::env_key(env.name()).to_lowercase()
                )
            }),
            units,
            peers: config
                .envs
                .iter()
                .filter(|e| e.provider == ProviderKind::Vps)
                .map(|e| (e.name().to_string(), transport_of(e)))
                .collect(),
            actor,
        }
    }
}

/// The client of env `env`, when a service of it names a systemd unit.
pub fn provider_for(
    config: &Config,
    env: &EnvConfig,
    calls: CallSink,
    actor: String,
) -> Option<VpsProvider> {
    let settings = VpsSettings::from_config(config, env, actor);
    (!settings.units.is_empty()).then(|| VpsProvider::new(settings, calls))
}
