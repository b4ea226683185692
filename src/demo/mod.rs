//! The embedded demo fleet: real HTTP servers on loopback for every demo
//! service, and a control plane the demo provider talks to through the same
//! Provider trait, HTTP layer, engine and audit as the real platforms.

pub mod migrations;
pub mod server;
pub mod sim;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::config::{Config, ProviderKind};
use crate::domain::{Health, Instance};
use sim::{Behaviour, ServiceSim};
use store::Store;

/// Shared state behind every demo server.
#[derive(Debug)]
pub struct FleetState {
    /// Releases and secrets.
    pub store: Mutex<Store>,
    sims: BTreeMap<(String, String), Arc<ServiceSim>>,
}

impl FleetState {
    /// How one service behaves now, and the release it runs.
    pub fn behaviour(&self, env: &str, service: &str) -> (Behaviour, String) {
        // try_lock: a health probe must never wait behind a deploy.
        match self.store.try_lock() {
            Ok(store) => {
                let version = store
                    .releases(env, service, 1)
                    .ok()
                    .and_then(|r| r.into_iter().next())
                    .map(|r| r.id)
                    .unwrap_or_default();
                (behaviour_of(&store, env, service), version)
            }
            Err(_) => (Behaviour::Starting, String::new()),
        }
    }

    /// What the env's applied secrets break, if anything (see [`Store::config_problem`]).
    pub fn config_problem(&self, env: &str) -> Option<String> {
        self.store.try_lock().ok()?.config_problem(env)
    }

    /// A service's simulator.
    pub fn sim(&self, env: &str, service: &str) -> Option<Arc<ServiceSim>> {
        self.sims
            .get(&(env.to_string(), service.to_string()))
            .cloned()
    }

    /// Instances of an env (or of one service): two per API service, one per web service.
    pub async fn instances(&self, env: &str, only: Option<&str>) -> Option<Vec<Instance>> {
        let store = self.store.lock().await;
        let mut out = Vec::new();
        for ((e, name), sim) in &self.sims {
            if e != env || only.is_some_and(|o| o != name) {
                continue;
            }
            let image = store.current_image(env, name)?;
            let behaviour = behaviour_of(&store, env, name);
            let count = if sim.kind == sim::ServiceKind::Api {
                2
            } else {
                1
            };
            for i in 0..count {
                let (state, health) = match behaviour {
                    Behaviour::Starting => ("starting", Health::Progressing),
                    Behaviour::Bad => ("started", Health::Degraded),
                    Behaviour::Good => ("started", Health::Healthy),
                };
                out.push(Instance {
                    id: format!(
                        "{}-{name}-{:04x}",
                        &env[..env.len().min(4)],
                        0x3a1f + i * 0x111
                    ),
                    service: name.clone(),
                    region: Some(["ams", "iad"][i % 2].to_string()),
                    image: Some(image.clone()),
                    state: state.to_string(),
                    health,
                });
            }
        }
        if out.is_empty() && only.is_some() {
            return None;
        }
        Some(out)
    }
}

/// How a service behaves: starting after a deploy, bad on a known-bad build
/// or (the api) with secrets it refuses, else good.
fn behaviour_of(store: &Store, env: &str, service: &str) -> Behaviour {
    if store.restarting(env, service) {
        Behaviour::Starting
    } else if store.runs_bad_image(env, service)
        || (service == store::BAD_SERVICE && store.config_problem(env).is_some())
    {
        Behaviour::Bad
    } else {
        Behaviour::Good
    }
}

/// A running demo fleet.
#[derive(Debug)]
pub struct Fleet {
    /// Base URL of the control plane (`http://127.0.0.1:PORT`).
    pub control_url: String,
    /// Base URL per (env, service).
    pub services: BTreeMap<(String, String), String>,
    /// Shared state (tests use it to change behaviour).
    pub state: Arc<FleetState>,
    /// Where the demo databases and migration files live (with a persistent store only).
    pub migrations_root: Option<std::path::PathBuf>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fleet {
    /// Bind every server on loopback and start serving; returns at once.
    /// With `store_path`, releases and secrets persist across restarts.
    pub async fn start(
        cfg: &Config,
        store_path: Option<&std::path::Path>,
    ) -> std::io::Result<Fleet> {
        let demo_envs: Vec<_> = cfg
            .envs
            .iter()
            .filter(|e| e.provider == ProviderKind::Demo)
            .collect();
        let names = demo_envs.iter().map(|e| {
            let services = if e.services.is_empty() {
                store::DEFAULT_SERVICES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                e.services.iter().map(|s| s.name().to_string()).collect()
            };
            (e.name(), services)
        });
        let migrations_root = match store_path.and_then(std::path::Path::parent) {
            Some(state) => {
                let root = state.join("demo");
                migrations::prepare(&root, demo_envs.iter().map(|e| e.name()))
                    .map_err(std::io::Error::other)?;
                Some(root)
            }
            None => None,
        };
        let store = match store_path {
            Some(path) => Store::open(path, names)?,
            None => Store::seeded(names),
        };
        let mut sims = BTreeMap::new();
        for env in &demo_envs {
            for svc in &env.services {
                sims.insert(
                    (env.name().to_string(), svc.name().to_string()),
                    Arc::new(ServiceSim::new(env.name(), svc.name())),
                );
            }
        }
        let state = Arc::new(FleetState {
            store: Mutex::new(store),
            sims,
        });
        let mut tasks = Vec::new();
        let mut services = BTreeMap::new();
        for (key, sim) in &state.sims {
            let (addr, task) = serve(server::service_router(state.clone(), sim.clone())).await?;
            services.insert(key.clone(), format!("http://{addr}"));
            tasks.push(task);
        }
        let (control, task) = serve(server::control_router(state.clone())).await?;
        tasks.push(task);
        tasks.push(tokio::spawn(drive(state.clone())));
        Ok(Fleet {
            control_url: format!("http://{control}"),
            services,
            state,
            migrations_root,
            tasks,
        })
    }

    /// Fill in the health and metrics URLs of demo services that have none.
    pub fn apply_to(&self, cfg: &mut Config) {
        for env in cfg
            .envs
            .iter_mut()
            .filter(|e| e.provider == ProviderKind::Demo)
        {
            let env_name = env.name().to_string();
            if let (Some(root), None) = (&self.migrations_root, &env.migrations) {
                env.migrations = Some(crate::config::MigrationsConfig {
                    dir: root.join("migrations"),
                    sqlite: Some(migrations::database(root, &env_name)),
                    database_url_env: None,
                    tool: crate::config::MigrationTool::GolangMigrate,
                    up: None,
                    down: None,
                    current: None,
                    workflow: None,
                    inputs: Default::default(),
                    timeout: None,
                    env: env_name.clone(),
                });
            }
            for svc in &mut env.services {
                if let Some(base) = self
                    .services
                    .get(&(env_name.clone(), svc.name().to_string()))
                {
                    svc.health_url
                        .get_or_insert_with(|| format!("{base}/health/ready"));
                    svc.metrics_url
                        .get_or_insert_with(|| format!("{base}/metrics"));
                }
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve(router: axum::Router) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, task))
}

/// One ticker for the whole fleet: traffic, metrics and logs.
async fn drive(state: Arc<FleetState>) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let dt = last.elapsed().as_secs_f64();
        last = Instant::now();
        let t = started.elapsed().as_secs_f64();
        for ((env, service), sim) in &state.sims {
            sim.tick(dt, t, state.behaviour(env, service).0);
        }
    }
}

/// Start the demo fleet when the config has demo envs, and fill in their URLs.
pub async fn start_if_needed(config: &mut Config) -> std::io::Result<Option<Fleet>> {
    if !config.envs.iter().any(|e| e.provider == ProviderKind::Demo) {
        return Ok(None);
    }
    let store = crate::paths::StatePaths::default_location().demo_store();
    let fleet = Fleet::start(config, Some(&store)).await?;
    fleet.apply_to(config);
    Ok(Some(fleet))
}
