//! Everything the screen shows, as plain data. `app::update` changes it,
//! `ui::draw` reads it; neither does I/O.

pub mod provider_health;
mod rollout;
mod secret_form;
pub mod secrets_ui;
mod service;

pub use rollout::{Dialog, GateView, InterruptedPlan, RolloutView, StepState, StepView};
pub use service::{CheckHistory, ServiceView, StreamState};

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};

use crate::config::{Config, ProviderKind};
use crate::domain::{Health, Instance, Release, SecretMeta};
use crate::logs::LogBuffer;
use crate::provider::CallRecord;

/// Calls kept in the command log.
pub const CALL_LOG_CAP: usize = 500;

pub use crate::keymap::Panel;

/// Data that arrives asynchronously; the last good data survives a failed refresh.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    /// Not asked for yet.
    Idle,
    /// Asked, no answer yet.
    Loading,
    /// Answered.
    Loaded {
        /// The data.
        data: T,
        /// When.
        at: DateTime<Utc>,
    },
    /// The last attempt failed.
    Failed {
        /// Why (sanitised).
        error: String,
        /// What kind of failure, where the source says (a provider call).
        kind: Option<crate::provider::FailureKind>,
        /// When.
        at: DateTime<Utc>,
        /// The last good data, still shown.
        last: Option<T>,
    },
}

impl<T> Load<T> {
    /// The data to show, fresh or stale.
    pub fn data(&self) -> Option<&T> {
        match self {
            Load::Loaded { data, .. } => Some(data),
            Load::Failed { last, .. } => last.as_ref(),
            _ => None,
        }
    }

    /// Record a new result, keeping the last good data on failure.
    pub fn apply(&mut self, result: Result<T, String>, at: DateTime<Utc>) {
        self.record(result.map_err(|e| (e, None)), at);
    }

    /// Record a provider call's result: the error keeps its kind, its text is sanitised.
    pub fn apply_provider(
        &mut self,
        result: Result<T, crate::provider::ProviderError>,
        at: DateTime<Utc>,
    ) {
        self.record(
            result.map_err(|e| (crate::sanitize::sanitize(&e.to_string()), Some(e.kind()))),
            at,
        );
    }

    fn record(
        &mut self,
        result: Result<T, (String, Option<crate::provider::FailureKind>)>,
        at: DateTime<Utc>,
    ) {
        *self = match result {
            Ok(data) => Load::Loaded { data, at },
            Err((error, kind)) => {
                let last = match std::mem::replace(self, Load::Idle) {
                    Load::Loaded { data, .. } => Some(data),
                    Load::Failed { last, .. } => last,
                    _ => None,
                };
                Load::Failed {
                    error,
                    kind,
                    at,
                    last,
                }
            }
        };
    }

    /// A short status for the panel title, led by the kind of failure
    /// (`credential refused: …`, `rate limited: …`).
    pub fn badge(&self) -> Option<String> {
        match self {
            Load::Idle | Load::Loading => Some("loading…".into()),
            Load::Failed { error, kind, .. } => Some(format!(
                "{}: {error}",
                kind.map_or("refresh failed", crate::provider::FailureKind::label)
            )),
            Load::Loaded { .. } => None,
        }
    }
}

/// One environment as shown.
#[derive(Debug, Clone)]
pub struct EnvView {
    /// Name.
    pub name: String,
    /// Provider kind.
    pub provider: ProviderKind,
    /// Needs typed confirmation.
    pub protected: bool,
    /// Mutations refused.
    pub read_only: bool,
    /// Where promote goes.
    pub promote_to: Option<String>,
    /// Why provider data is unavailable (e.g. a provider client not built yet).
    pub provider_note: Option<String>,
    /// Release history of each deploy unit, newest first.
    pub releases: Vec<Load<Vec<Release>>>,
    /// The services of each deploy unit (services sharing one provider target).
    pub units: Vec<Vec<String>>,
    /// Which unit carries each service (index into `releases`).
    pub unit_of: Vec<usize>,
    /// What its provider can do, with the provider's name (None: no client in this build).
    pub capabilities: Option<(&'static str, crate::provider::Capabilities)>,
    /// Secrets metadata.
    pub secrets: Vec<Load<Vec<SecretMeta>>>,
    /// The services whose secrets each place holds (see `provider::registry::secret_scopes`).
    pub secret_scopes: Vec<Vec<String>>,
    /// Instances.
    pub instances: Load<Vec<Instance>>,
    /// Migration status, when the env configures migrations.
    pub migrations: Load<crate::migrate::run::MigrationView>,
    /// Whether the env configures migrations.
    pub has_migrations: bool,
    /// Services, in deploy order.
    pub services: Vec<ServiceView>,
    /// Where each credential this env needs comes from (None until checked).
    pub credentials: Option<Vec<crate::credentials::CredentialOrigin>>,
}

impl EnvView {
    /// The release history of the unit that carries service `svc`.
    pub fn unit_releases(&self, svc: usize) -> &Load<Vec<Release>> {
        const IDLE: &Load<Vec<Release>> = &Load::Idle;
        let unit = self.unit_of.get(svc).copied().unwrap_or(0);
        self.releases.get(unit).unwrap_or(IDLE)
    }

    /// The release service `svc` serves now.
    pub fn current_release(&self, svc: usize) -> Option<&Release> {
        self.unit_releases(svc)
            .data()
            .and_then(|r| crate::provider::current_release(r))
    }

    /// The place holding service `svc`'s secrets (an index into `secrets`).
    pub fn secret_scope(&self, svc: usize) -> usize {
        let name = self.services.get(svc).map(|s| s.name.as_str());
        self.secret_scopes
            .iter()
            .position(|s| s.iter().any(|n| Some(n.as_str()) == name))
            .unwrap_or(0)
    }

    /// The secrets service `svc` sees.
    pub fn secrets_of(&self, svc: usize) -> &Load<Vec<SecretMeta>> {
        const IDLE: &Load<Vec<SecretMeta>> = &Load::Idle;
        self.secrets.get(self.secret_scope(svc)).unwrap_or(IDLE)
    }

    /// The secrets of the service named `name` (the env's own where it has no such service).
    pub fn secrets_named(&self, name: &str) -> &Load<Vec<SecretMeta>> {
        let svc = self
            .services
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(0);
        self.secrets_of(svc)
    }

    /// Whether the env keeps secrets in more than one place (per service).
    pub fn secrets_per_service(&self) -> bool {
        self.secrets.len() > 1
    }

    /// Whether service `svc` is the first of its unit (where a table shows the unit's release).
    pub fn first_of_unit(&self, svc: usize) -> bool {
        let unit = self.unit_of.get(svc).copied();
        self.unit_of[..svc.min(self.unit_of.len())]
            .iter()
            .all(|u| Some(*u) != unit)
    }

    /// Health of one service: the probe, overridden by instances that are
    /// starting or all stopped; with no probe configured, the provider's word
    /// on its instances ([`provider_health::health_of`]).
    pub fn service_health(&self, idx: usize) -> Health {
        let Some(svc) = self.services.get(idx) else {
            return Health::Unknown;
        };
        let only = self.services.len() == 1;
        if !svc.has_health {
            let mine = self.instances.data().map_or_else(Vec::new, |all| {
                provider_health::instances_of(all, &svc.name, only)
            });
            return provider_health::health_of(&mine);
        }
        if let Some(instances) = self.instances.data() {
            let mine: Vec<&Instance> = provider_health::instances_of(instances, &svc.name, only);
            if mine.iter().any(|i| i.health == Health::Progressing) {
                return Health::Progressing;
            }
            if !mine.is_empty()
                && mine
                    .iter()
                    .all(|i| i.state == "stopped" || i.state == "suspended")
            {
                return Health::Suspended;
            }
        }
        svc.health
    }

    /// Roll-up of every service.
    pub fn health(&self) -> Health {
        (0..self.services.len())
            .map(|i| self.service_health(i))
            .fold(Health::Healthy, Health::worst)
    }
}

/// Log panel view settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogView {
    /// Stick to the newest line.
    pub follow: bool,
    /// Lines scrolled up from the bottom when not following.
    pub offset: usize,
    /// Show timestamps.
    pub timestamps: bool,
    /// Wrap long lines.
    pub wrap: bool,
    /// Lines of context around each filter match (0 = matches only), like `grep -C`.
    pub context: usize,
    /// The filter being typed (`/`), if the prompt is open.
    pub editing: Option<String>,
}

/// Overlays on top of the panels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// Every key binding.
    Help,
    /// Every provider call made.
    CommandLog {
        /// Rows scrolled.
        scroll: usize,
    },
    /// The audit log.
    Audit {
        /// Rows scrolled.
        scroll: usize,
    },
    /// Migrations of the selected env.
    Migrations,
}

/// A message at the bottom of the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// Text (already sanitised).
    pub text: String,
    /// An error rather than information.
    pub error: bool,
    /// When shown.
    pub at: DateTime<Utc>,
}

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct State {
    /// Running on the embedded demo fleet.
    pub demo: bool,
    /// Config file shown in the header.
    pub config_label: String,
    /// `--read-only`.
    pub read_only: bool,
    /// Environments.
    pub envs: Vec<EnvView>,
    /// Focused panel.
    pub focus: Panel,
    /// Selected env.
    pub env_idx: usize,
    /// Selected service within the env.
    pub svc_idx: usize,
    /// Selected release row.
    pub release_idx: usize,
    /// Selected check row.
    pub check_idx: usize,
    /// Selected secret row.
    pub secret_idx: usize,
    /// Log view settings.
    pub logs: LogView,
    /// Log buffers, per (env, service).
    pub buffers: Vec<Vec<LogBuffer>>,
    /// Provider calls, newest last.
    pub calls: VecDeque<CallRecord>,
    /// Open overlay.
    pub modal: Option<Modal>,
    /// Bottom message.
    pub toast: Option<Toast>,
    /// Clock used for ages (injected so snapshots are stable).
    pub now: DateTime<Utc>,
    /// Quit requested.
    pub quit: bool,
    /// The running (or last) plan.
    pub rollout: Option<RolloutView>,
    /// Whether the ladder overlay is shown.
    pub rollout_visible: bool,
    /// Dialog in front of everything.
    pub dialog: Option<Dialog>,
    /// Pins by env.
    pub pins: BTreeMap<String, crate::engine::pins::Pin>,
    /// Lock holders by env (`alice@host (pid 42, promote)`).
    pub locks: BTreeMap<String, String>,
    /// Audit records for the audit view, newest last.
    pub audit: Load<Vec<crate::engine::audit::AuditRecord>>,
    /// Where log exports go.
    pub export_dir: std::path::PathBuf,
    /// Secrets panel actions (form, unset confirmation, rotation progress).
    pub secrets_ui: secrets_ui::SecretsUi,
    /// Output of the last external migration tool run (alembic, a command), newest last.
    pub migration_output: Vec<String>,
}

/// Lines of migration tool output kept for the migrations panel.
pub const MIGRATION_OUTPUT_LINES: usize = 12;

impl State {
    /// The first frame's state: everything from config, nothing loaded.
    pub fn from_config(cfg: &Config, read_only: bool, now: DateTime<Utc>) -> State {
        let service_count: usize = cfg
            .envs
            .iter()
            .map(|e| e.services.len())
            .sum::<usize>()
            .max(1);
        let budget = (cfg.ui.log_buffer_mb as usize * 1024 * 1024) / service_count;
        let envs: Vec<EnvView> = cfg
            .envs
            .iter()
            .enumerate()
            .map(|(i, e)| (e, crate::provider::registry::units_of(cfg, i)))
            .map(|(e, units)| {
                let i = cfg
                    .envs
                    .iter()
                    .position(|x| x.name() == e.name())
                    .unwrap_or(0);
                (e, units, crate::provider::registry::secret_scopes(cfg, i))
            })
            .map(|(e, units, secret_scopes)| EnvView {
                name: e.name().to_string(),
                provider: e.provider,
                protected: e.protected,
                read_only: e.read_only,
                promote_to: e.promote_target().map(str::to_string),
                provider_note: crate::provider::registry::provider_note(e),
                capabilities: crate::provider::registry::capabilities_of(e.provider),
                releases: units.iter().map(|_| Load::Idle).collect(),
                unit_of: e
                    .services
                    .iter()
                    .map(|s| {
                        units
                            .iter()
                            .position(|u| u.services.iter().any(|n| n == s.name()))
                            .unwrap_or(0)
                    })
                    .collect(),
                units: units.into_iter().map(|u| u.services).collect(),
                secrets: secret_scopes.iter().map(|_| Load::Idle).collect(),
                secret_scopes: secret_scopes.into_iter().map(|u| u.services).collect(),
                instances: Load::Idle,
                migrations: Load::Idle,
                has_migrations: e.migrations.is_some(),
                services: e
                    .services
                    .iter()
                    .map(|s| {
                        ServiceView::new(s.name(), s.health_url.is_some(), s.metrics_url.is_some())
                    })
                    .collect(),
                // Nothing to look up: known now, without touching the keyring.
                credentials: crate::credentials::origin::known_without_lookup(e),
            })
            .collect();
        let buffers = envs
            .iter()
            .map(|e| e.services.iter().map(|_| LogBuffer::new(budget)).collect())
            .collect();
        State {
            demo: cfg.origin.is_demo(),
            config_label: match &cfg.origin {
                crate::config::ConfigOrigin::Demo => "embedded demo fleet".into(),
                crate::config::ConfigOrigin::File(p) => p.display().to_string(),
            },
            read_only,
            envs,
            focus: Panel::Envs,
            env_idx: 0,
            svc_idx: 0,
            release_idx: 0,
            check_idx: 0,
            secret_idx: 0,
            logs: LogView {
                follow: true,
                offset: 0,
                timestamps: cfg.ui.log_timestamps,
                wrap: cfg.ui.log_wrap,
                context: 0,
                editing: None,
            },
            buffers,
            calls: VecDeque::new(),
            modal: None,
            toast: None,
            now,
            quit: false,
            rollout: None,
            rollout_visible: false,
            dialog: None,
            pins: BTreeMap::new(),
            locks: BTreeMap::new(),
            audit: Load::Idle,
            export_dir: crate::paths::state_dir().join("exports"),
            secrets_ui: secrets_ui::SecretsUi::default(),
            migration_output: Vec::new(),
        }
    }

    /// Record which services have health and metrics URLs (the demo fleet fills them in after the first frame).
    pub fn attach_endpoints(&mut self, cfg: &Config) {
        for (view, env) in self.envs.iter_mut().zip(&cfg.envs) {
            view.has_migrations = env.migrations.is_some();
            for (svc, conf) in view.services.iter_mut().zip(&env.services) {
                svc.has_health = conf.health_url.is_some();
                svc.has_metrics = conf.metrics_url.is_some();
            }
        }
    }

    /// Show a message at the bottom of the screen.
    pub fn toast(&mut self, text: String, error: bool) {
        self.toast = Some(Toast {
            text,
            error,
            at: self.now,
        });
    }

    /// The selected env.
    pub fn env(&self) -> Option<&EnvView> {
        self.envs.get(self.env_idx)
    }

    /// Why `action` cannot run now, or None when it can: the one answer
    /// (`engine::policy`) every surface gives, from what this state knows.
    pub fn disabled(
        &self,
        action: crate::keymap::Action,
    ) -> Option<crate::engine::policy::Disabled> {
        use crate::engine::policy::{EnvFacts, Facts, why_not};
        let env = self.env().map(|e| EnvFacts {
            read_only: e.read_only,
            capabilities: e.capabilities,
            promote_to: e.promote_to.clone(),
            promote_target_pinned: e
                .promote_to
                .as_ref()
                .is_some_and(|t| self.pins.contains_key(t)),
            pinned: self.pins.contains_key(&e.name),
            has_migrations: e.has_migrations,
        });
        let facts = Facts {
            read_only: self.read_only,
            env,
            plan_running: self.rollout.as_ref().is_some_and(RolloutView::running),
            rotation_running: self
                .secrets_ui
                .rotation
                .as_ref()
                .is_some_and(secrets_ui::RotationView::running),
            secret_selected: self
                .env()
                .and_then(|e| e.secrets_of(self.svc_idx).data())
                .is_some_and(|list| self.secret_idx < list.len()),
        };
        why_not(&facts, action)
    }

    /// The service a secret action is about: the selected one where the env
    /// keeps secrets per service, else None (the env's own secrets).
    pub fn secret_service(&self) -> Option<String> {
        let env = self.env()?;
        if !env.secrets_per_service() {
            return None;
        }
        env.services.get(self.svc_idx).map(|s| s.name.clone())
    }

    /// The secrets the Secrets panel shows: the selected service's.
    pub fn secrets(&self) -> Option<&Load<Vec<SecretMeta>>> {
        self.env().map(|e| e.secrets_of(self.svc_idx))
    }

    /// The release history the Releases panel shows: the selected service's unit.
    pub fn releases(&self) -> Option<&Load<Vec<Release>>> {
        self.env().map(|e| e.unit_releases(self.svc_idx))
    }

    /// The selected service.
    pub fn service(&self) -> Option<&ServiceView> {
        self.env().and_then(|e| e.services.get(self.svc_idx))
    }

    /// The selected service's log buffer.
    pub fn buffer(&self) -> Option<&LogBuffer> {
        self.buffers
            .get(self.env_idx)
            .and_then(|b| b.get(self.svc_idx))
    }

    /// Rows of the env grid: (env index, service index).
    pub fn grid_rows(&self) -> Vec<(usize, usize)> {
        self.envs
            .iter()
            .enumerate()
            .flat_map(|(e, env)| (0..env.services.len().max(1)).map(move |s| (e, s)))
            .collect()
    }
}
