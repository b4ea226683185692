//! Which provider client serves which env, and what each call is about: the
//! one place the TUI, the CLI and the engine get their clients and targets.

use std::sync::Arc;

use super::demo::DemoProvider;
use super::{CallSink, Capabilities, Provider, Target};
use crate::actor::Actor;
use crate::config::{Config, ProviderKind};

/// Providers per env index (None where no client exists yet).
pub type Providers = Vec<Option<Arc<dyn Provider>>>;

/// What the client for `kind` can do, with its name; None where this build has no client.
pub fn capabilities_of(kind: ProviderKind) -> Option<(&'static str, Capabilities)> {
    match kind {
        ProviderKind::Demo => Some(("demo", DemoProvider::CAPABILITIES)),
        ProviderKind::Fly => Some(("fly", crate::provider::fly::FlyProvider::CAPABILITIES)),
        ProviderKind::Railway => Some((
            "railway",
            crate::provider::railway::RailwayProvider::CAPABILITIES,
        )),
        ProviderKind::Render => Some((
            "render",
            crate::provider::render::RenderProvider::CAPABILITIES,
        )),
        ProviderKind::GithubActions => Some((
            "github",
            crate::provider::github::GithubProvider::CAPABILITIES,
        )),
        ProviderKind::Vps => Some(("vps", crate::provider::vps::VpsProvider::CAPABILITIES)),
    }
}

/// Why an env's provider data is not available, when it is not.
pub fn provider_note(env: &crate::config::EnvConfig) -> Option<String> {
    let kind = env.provider;
    match capabilities_of(kind) {
        Some(_) if kind == ProviderKind::Vps && !env.services.iter().any(|s| s.vps.is_some()) => {
            Some("no service names its systemd unit: add `vps = { systemd = \"UNIT\", dir = \"/opt/app\" }` to a service to deploy it; health and metrics come from the configured URLs".to_string())
        }
        Some(_) => None,
        None => Some(format!(
            "the {} client is not in this build yet; health and metrics come from the configured URLs",
            kind.label()
        )),
    }
}

/// The provider target of env `e` as a whole (secrets, env-wide calls).
pub fn target_of(cfg: &Config, e: usize) -> Target {
    let env = &cfg.envs[e];
    let (remote, scope) = match (&env.fly, env.provider) {
        (Some(fly), ProviderKind::Fly) => (fly.app.clone(), fly.process_group.clone()),
        // Railway and Render address services only: the env as a whole is its first one.
        (_, kind @ (ProviderKind::Railway | ProviderKind::Render)) => (
            env.services
                .first()
                .and_then(|s| s.service_id(kind))
                .unwrap_or(env.name())
                .to_string(),
            None,
        ),
        _ => (env.name().to_string(), None),
    };
    Target {
        env: env.name().to_string(),
        service: None,
        remote,
        scope,
    }
}

/// The provider target of service `s` of env `e`: its own `fly = { app }`
/// where it names one, else the env's, narrowed to the service where the
/// platform addresses services (the demo control plane).
pub fn service_target(cfg: &Config, e: usize, s: usize) -> Target {
    let env = &cfg.envs[e];
    let svc = &env.services[s];
    let mut target = target_of(cfg, e);
    target.service = Some(svc.name().to_string());
    match env.provider {
        ProviderKind::Fly => {
            if let Some(fly) = svc.fly.as_ref().map(|f| f.get_ref()) {
                if let Some(app) = &fly.app {
                    target.remote = app.clone();
                }
                if fly.process_group.is_some() {
                    target.scope = fly.process_group.clone();
                }
            }
        }
        ProviderKind::Demo => target.scope = Some(svc.name().to_string()),
        kind @ (ProviderKind::Render | ProviderKind::Railway) => {
            if let Some(id) = svc.service_id(kind) {
                target.remote = id.to_string();
            }
        }
        // Each systemd unit deploys, rolls back and keeps releases on its own.
        ProviderKind::Vps if svc.vps.is_some() => {
            target.scope = Some(svc.name().to_string());
        }
        // A service with its own workflow inputs deploys by its own run.
        ProviderKind::GithubActions if svc.github.is_some() => {
            target.scope = Some(svc.name().to_string());
        }
        _ => {}
    }
    target
}

/// Services that share one provider target deploy, roll back and report
/// releases together: one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployUnit {
    /// Where it deploys (named after its first service).
    pub target: Target,
    /// The services it carries, in config order.
    pub services: Vec<String>,
}

impl DeployUnit {
    /// Instances the provider reported for this unit, each named after the
    /// service it runs: a unit of one service owns every instance its target
    /// reports, whatever the platform calls them (a Fly process group); a unit
    /// of several keeps the platform's names (process groups named like the
    /// services).
    pub fn own(&self, instances: Vec<crate::domain::Instance>) -> Vec<crate::domain::Instance> {
        instances
            .into_iter()
            .map(|mut i| {
                if let [only] = self.services.as_slice() {
                    i.service = only.clone();
                }
                i
            })
            .collect()
    }
}

/// The deploy units of env `e`, in service order.
pub fn units_of(cfg: &Config, e: usize) -> Vec<DeployUnit> {
    let mut units: Vec<DeployUnit> = Vec::new();
    for (s, svc) in cfg.envs[e].services.iter().enumerate() {
        let target = service_target(cfg, e, s);
        match units
            .iter_mut()
            .find(|u| u.target.remote == target.remote && u.target.scope == target.scope)
        {
            Some(unit) => unit.services.push(svc.name().to_string()),
            None => units.push(DeployUnit {
                target,
                services: vec![svc.name().to_string()],
            }),
        }
    }
    if units.is_empty() {
        // An env without services still deploys as a whole.
        units.push(DeployUnit {
            target: target_of(cfg, e),
            services: Vec::new(),
        });
    }
    units
}

/// The target holding service `service`'s secrets: on Fly its own app's
/// (Fly keeps secrets per app), on Render and Railway its own service's, elsewhere, and
/// with no service, the env's.
pub fn secret_target(cfg: &Config, e: usize, service: Option<&str>) -> Target {
    let env = &cfg.envs[e];
    let found = service.and_then(|name| env.services.iter().position(|s| s.name() == name));
    match (env.provider, found) {
        (ProviderKind::Fly | ProviderKind::Render | ProviderKind::Railway, Some(s)) => Target {
            scope: None,
            ..service_target(cfg, e, s)
        },
        // A VPS service's secrets are its env file: services reading one file share it.
        (ProviderKind::Vps, Some(s)) => {
            match crate::provider::vps::settings::env_file_of(&env.services[s]) {
                Some(file) => Target {
                    remote: file,
                    scope: None,
                    ..service_target(cfg, e, s)
                },
                None => target_of(cfg, e),
            }
        }
        _ => target_of(cfg, e),
    }
}

/// The distinct places env `e` keeps secrets, each with the services whose
/// secrets it holds (one for most envs; one per Fly app where services live
/// in apps of their own).
pub fn secret_scopes(cfg: &Config, e: usize) -> Vec<DeployUnit> {
    let mut scopes: Vec<DeployUnit> = Vec::new();
    for svc in &cfg.envs[e].services {
        let target = secret_target(cfg, e, Some(svc.name()));
        match scopes.iter_mut().find(|u| u.target.remote == target.remote) {
            Some(scope) => scope.services.push(svc.name().to_string()),
            None => scopes.push(DeployUnit {
                target,
                services: vec![svc.name().to_string()],
            }),
        }
    }
    if scopes.is_empty() {
        scopes.push(DeployUnit {
            target: target_of(cfg, e),
            services: Vec::new(),
        });
    }
    scopes
}

/// The unit that carries service `name` of env `e`.
pub fn unit_of_service(cfg: &Config, e: usize, name: &str) -> Option<DeployUnit> {
    units_of(cfg, e)
        .into_iter()
        .find(|u| u.services.iter().any(|s| s == name))
}

/// A provider client per env (None where the client is not built yet).
pub fn providers_for(
    config: &Config,
    demo_control_url: Option<&str>,
    calls: CallSink,
) -> Providers {
    let timeout = config.ui.request_timeout.0;
    let actor = Actor::current().describe();
    config
        .envs
        .iter()
        .map(|env| match (env.provider, demo_control_url) {
            (ProviderKind::Demo, Some(url)) => Some(Arc::new(DemoProvider::new(
                url.to_string(),
                timeout,
                calls.clone(),
                actor.clone(),
            )) as Arc<dyn Provider>),
            // The token is read on the first call, off the UI loop; an
            // unusable account name was already refused by config validation.
            (ProviderKind::Fly, _) => env.fly.as_ref().and_then(|fly| {
                crate::provider::fly::configured::provider_for(
                    fly,
                    timeout,
                    calls.clone(),
                    actor.clone(),
                )
                .ok()
                .map(|p| Arc::new(p) as Arc<dyn Provider>)
            }),
            (ProviderKind::Railway, _) => {
                crate::provider::railway::settings::provider_for(env, timeout, calls.clone())
                    .ok()
                    .map(|p| Arc::new(p) as Arc<dyn Provider>)
            }
            (ProviderKind::Render, _) => {
                crate::provider::render::settings::provider_for(env, timeout, calls.clone())
                    .ok()
                    .map(|p| Arc::new(p) as Arc<dyn Provider>)
            }
            (ProviderKind::GithubActions, _) => {
                crate::provider::github::settings::provider_for(env, timeout, calls.clone())
                    .ok()
                    .map(|p| Arc::new(p) as Arc<dyn Provider>)
            }
            (ProviderKind::Vps, _) => crate::provider::vps::settings::provider_for(
                config,
                env,
                calls.clone(),
                actor.clone(),
            )
            .map(|p| Arc::new(p) as Arc<dyn Provider>),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse_str(text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn services_in_one_app_deploy_together_and_apps_of_their_own_apart() {
        let cfg = config(
            r#"
[[env]]
name = "production"
provider = "fly"
fly = { app = "shop", process_group = "app" }

[[env.service]]
name = "api"

[[env.service]]
name = "worker"

[[env.service]]
name = "web"
fly = { app = "shop-web" }
"#,
        );
        let units = units_of(&cfg, 0);
        let shape: Vec<(&str, Vec<&str>)> = units
            .iter()
            .map(|u| {
                (
                    u.target.remote.as_str(),
                    u.services.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [("shop", vec!["api", "worker"]), ("shop-web", vec!["web"])]
        );
        assert_eq!(
            units[0].target.scope.as_deref(),
            Some("app"),
            "the env's process group"
        );
        // Secrets are per Fly app: two places, whatever the process groups.
        let scopes: Vec<String> = secret_scopes(&cfg, 0)
            .into_iter()
            .map(|s| s.target.remote)
            .collect();
        assert_eq!(scopes, ["shop", "shop-web"]);
        assert_eq!(secret_target(&cfg, 0, Some("web")).remote, "shop-web");
        assert_eq!(secret_target(&cfg, 0, None).remote, "shop");
    }

    #[test]
    fn the_demo_deploys_each_service_alone_and_keeps_secrets_per_env() {
        let cfg = Config::demo().unwrap();
        let units = units_of(&cfg, 1);
        assert_eq!(units.len(), 2);
        assert_eq!(units[1].target.scope.as_deref(), Some("web"));
        assert_eq!(secret_scopes(&cfg, 1).len(), 1);
    }
}
