//! The config file: schema, discovery (`--config`, `./shipdeck.toml`, the XDG
//! config dir, else the embedded demo), and checks whose errors carry
//! file:line:col, the field and a hint.

mod credential_guard;
mod duration;
mod error;
mod github;
mod vps;

pub use credential_guard::looks_like_credential;
pub use duration::HumanDuration;
pub use error::{ConfigError, Location};

use error::Choices;
pub use github::{
    GithubEnv, PLACEHOLDERS, Piece, Placeholder, ServiceGithub, parse_template, placeholder_list,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
pub use vps::{ServiceVps, VpsEnv, VpsLayout, file_name_problem};

use crate::keymap::{Action, KeyList, KeyPreset};

/// The embedded demo fleet's config, parsed through the same loader.
pub const DEMO_CONFIG: &str = include_str!("../../assets/demo/shipdeck.toml");

/// Which provider client serves an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The embedded demo fleet on loopback.
    Demo,
    /// Fly.io (Machines API + GraphQL).
    Fly,
    /// Railway (GraphQL).
    Railway,
    /// Render (REST v1).
    Render,
    /// A VPS with systemd or Docker, over ssh.
    Vps,
    /// A GitHub Actions deploy workflow.
    GithubActions,
}

impl ProviderKind {
    /// Name shown on screen.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Demo => "demo",
            ProviderKind::Fly => "fly",
            ProviderKind::Railway => "railway",
            ProviderKind::Render => "render",
            ProviderKind::Vps => "vps",
            ProviderKind::GithubActions => "github",
        }
    }
}

/// What a failed gate does (used by the rollout engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// Roll back what the plan deployed.
    #[default]
    Rollback,
    /// Hold and ask a human.
    Pause,
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Look and feel.
    #[serde(default)]
    pub ui: UiConfig,
    /// Key bindings.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Environments, in the order they are promoted through.
    #[serde(default, rename = "env")]
    pub envs: Vec<EnvConfig>,
    /// Where this config came from (not part of the file).
    #[serde(skip)]
    pub origin: ConfigOrigin,
}

/// Where the config was loaded from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// The embedded demo fleet.
    #[default]
    Demo,
    /// A file on disk.
    File(PathBuf),
}

impl ConfigOrigin {
    /// Whether the app runs on the demo fleet.
    pub fn is_demo(&self) -> bool {
        matches!(self, ConfigOrigin::Demo)
    }
}

/// `[ui]`: look and feel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Theme name (`dark`, `light`, `mono`); `NO_COLOR` forces `mono`.
    pub theme: String,
    /// How often health endpoints are probed.
    pub health_interval: HumanDuration,
    /// How often metrics are scraped.
    pub metrics_interval: HumanDuration,
    /// How often release history and secrets are re-read.
    pub refresh_interval: HumanDuration,
    /// Timeout for one probe or provider call.
    pub request_timeout: HumanDuration,
    /// Total bytes kept across all log buffers, in MiB.
    pub log_buffer_mb: u64,
    /// Show timestamps in the log panel at start.
    pub log_timestamps: bool,
    /// Wrap long log lines at start.
    pub log_wrap: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            theme: "dark".into(),
            health_interval: HumanDuration(Duration::from_secs(2)),
            metrics_interval: HumanDuration(Duration::from_secs(2)),
            refresh_interval: HumanDuration(Duration::from_secs(15)),
            request_timeout: HumanDuration(Duration::from_secs(5)),
            log_buffer_mb: 64,
            log_timestamps: true,
            log_wrap: false,
        }
    }
}

/// `[keys]`: a preset plus per-action overrides.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// `default` or `vim`.
    pub preset: KeyPreset,
    /// Action name → one key or a list of keys, replacing that action's defaults.
    pub bind: BTreeMap<Action, KeyList>,
}

/// `[[env]]`: one environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Unique name, e.g. `staging`.
    pub name: Spanned<String>,
    /// Provider client.
    pub provider: ProviderKind,
    /// Require typing the env name before destructive actions.
    #[serde(default)]
    pub protected: bool,
    /// Refuse every mutating action on this env.
    #[serde(default)]
    pub read_only: bool,
    /// The env that `promote` from here deploys to.
    #[serde(default)]
    pub promote_to: Option<Spanned<String>>,
    /// What a failed gate does.
    #[serde(default)]
    pub on_fail: OnFail,
    /// Fly.io target (one Fly app per environment).
    #[serde(default)]
    pub fly: Option<FlyTarget>,
    /// Render account and API (each service names its Render service).
    #[serde(default)]
    pub render: Option<RenderEnv>,
    /// Railway project and environment (each service names its Railway service).
    #[serde(default)]
    pub railway: Option<RailwayEnv>,
    /// GitHub repository and deploy workflow (provider = "github_actions").
    #[serde(default)]
    pub github: Option<GithubEnv>,
    /// The host behind the env (provider = "vps").
    #[serde(default)]
    pub vps: Option<VpsEnv>,
    /// Metric and label names for this env's `/metrics`.
    #[serde(default)]
    pub metrics: MetricNamesConfig,
    /// Gates a rollout into this env must pass.
    #[serde(default)]
    pub gates: GatesConfig,
    /// How rollouts into this env run.
    #[serde(default)]
    pub rollout: RolloutConfig,
    /// Database migrations of this env.
    #[serde(default)]
    pub migrations: Option<MigrationsConfig>,
    /// Services of this env, in deploy order (backend first).
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
}

impl EnvConfig {
    /// The env's name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The promotion target's name.
    pub fn promote_target(&self) -> Option<&str> {
        self.promote_to.as_ref().map(|s| s.get_ref().as_str())
    }
}

/// `[env.fly]`: which Fly app backs the env.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyTarget {
    /// Fly app name, e.g. `kaiwa-v2-staging`.
    pub app: String,
    /// Which stored Fly token to use: keyring key `fly:ACCOUNT` (default `fly`).
    #[serde(default)]
    pub account: Option<String>,
    /// Only machines of this process group (`app`, `web`, `worker`).
    #[serde(default)]
    pub process_group: Option<String>,
    /// Machines API base URL.
    #[serde(default)]
    pub api_url: Option<String>,
    /// GraphQL endpoint.
    #[serde(default)]
    pub graphql_url: Option<String>,
    /// Base of the REST layer that serves logs (`{logs_url}/api/v1/apps/APP/logs`).
    #[serde(default)]
    pub logs_url: Option<String>,
    /// `"api"` (rolling update over the Machines API) or `"flyctl"` (`flyctl deploy --image`).
    #[serde(default)]
    pub deploy_via: Option<DeployVia>,
    /// Longest one machine may take to start and pass its checks (default 5m).
    #[serde(default)]
    pub wait_timeout: Option<HumanDuration>,
    /// The flyctl program for `deploy_via = "flyctl"` (default `flyctl` on PATH).
    #[serde(default)]
    pub flyctl: Option<String>,
}

/// `[env.render]`: which Render account (and API) an env's services live in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderEnv {
    /// Which stored Render API key to use: keyring key `render:ACCOUNT` (default `render`).
    #[serde(default)]
    pub account: Option<String>,
    /// REST API base URL (default `https://api.render.com`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// After a rollback, turn the service's auto-deploy off so the next push
    /// does not undo it (Render's API rollback leaves it on). Default true.
    #[serde(default)]
    pub pause_autodeploy_on_rollback: Option<bool>,
    /// Longest one deploy may take to go live (default 15m).
    #[serde(default)]
    pub wait_timeout: Option<HumanDuration>,
    /// Pause between two looks at a running deploy (default 3s).
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
}

/// `[env.railway]`: which Railway project environment backs the env.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailwayEnv {
    /// The project id (Project settings, or `railway status --json`).
    #[serde(default)]
    pub project: String,
    /// The environment id within the project.
    #[serde(default)]
    pub environment: String,
    /// Which stored token to use: keyring key `railway:ACCOUNT` (default `railway`).
    #[serde(default)]
    pub account: Option<String>,
    /// `"account"` (an account or workspace token, sent as Bearer; default)
    /// or `"project"` (a project token, sent as `Project-Access-Token`).
    #[serde(default)]
    pub token_kind: Option<RailwayTokenKind>,
    /// GraphQL endpoint (default `https://backboard.railway.com/graphql/v2`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Longest one deployment may take to succeed (default 15m).
    #[serde(default)]
    pub wait_timeout: Option<HumanDuration>,
    /// Pause between two looks at a running deployment (default 3s).
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
}

/// Which kind of Railway token an env uses (they go in different headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RailwayTokenKind {
    /// An account or workspace token: `Authorization: Bearer`.
    #[default]
    Account,
    /// A project token, scoped to one environment: `Project-Access-Token`.
    Project,
}

/// `render = { service = "srv-…" }` or `railway = { service = "…" }` on a
/// service: the platform's own service behind it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    /// The platform's service id (Render's `srv-…` from the dashboard URL,
    /// Railway's from the service's settings).
    pub service: String,
}

/// What the config checks and their messages say of one platform whose
/// services are named by id.
struct ServiceRefRules {
    kind: ProviderKind,
    /// The platform's name in messages.
    title: &'static str,
    /// Where its ids are found, with an example.
    find_id: &'static str,
    /// The hint for a service that names none.
    add: &'static str,
}

const SERVICE_REF_RULES: [ServiceRefRules; 2] = [
    ServiceRefRules {
        kind: ProviderKind::Railway,
        title: "Railway",
        find_id: "copy the id from the service's settings, e.g. `railway = { service = \"4f1c…\" }`",
        add: "add `railway = { service = \"…\" }` with the service id from its settings",
    },
    ServiceRefRules {
        kind: ProviderKind::Render,
        title: "Render",
        find_id: "copy the id from the service's dashboard URL, e.g. `render = { service = \"srv-d0abc123\" }`",
        add: "add `render = { service = \"srv-…\" }` with the id from its dashboard URL",
    },
];

/// Why `id` cannot be a provider's id (a Render or Railway service, a
/// Railway project or environment), or None when it can: ids go into URLs
/// and queries, so only letters, digits, `-` and `_`.
pub fn provider_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it is empty")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        Some("a service id holds only letters, digits, `-` and `_`")
    } else {
        None
    }
}

/// How deploys reach Fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployVia {
    /// A rolling update through the Machines API (no flyctl needed).
    #[default]
    Api,
    /// `flyctl deploy --image`, which also records a Fly release.
    Flyctl,
}

/// An env name as environment variables and lock files spell it: upper
/// case, every character that is not a letter or digit an underscore
/// (`prod-eu` and `prod_eu` are both `PROD_EU`).
pub fn env_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// What credential a URL carries, if any: a user name or password before
/// the host, or a query parameter named like one (`?token=…`, `api_key=…`).
pub fn url_credential(url: &str) -> Option<&'static str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Some("a user name or password before the host");
    }
    let query = path
        .split_once('?')
        .map(|(_, q)| q)
        .or_else(|| authority.split_once('?').map(|(_, q)| q))?;
    const NAMES: &[&str] = &[
        "token",
        "access_token",
        "auth",
        "key",
        "api_key",
        "apikey",
        "secret",
        "password",
        "pass",
        "signature",
        "sig",
    ];
    query
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .any(|name| NAMES.contains(&name.to_ascii_lowercase().as_str()))
        .then_some("a credential in its query string")
}

/// Longest account part of a credential name (`fly:ACCOUNT`).
pub const MAX_ACCOUNT_LEN: usize = 64;

/// Why `account` cannot name a credential account, or None when it can.
/// The one rule for `[env.fly] account` and `shipdeck auth set fly:ACCOUNT`.
pub fn account_name_problem(account: &str) -> Option<String> {
    if account.is_empty() {
        return Some("the part after `:` is empty".into());
    }
    if account.len() > MAX_ACCOUNT_LEN {
        return Some(format!(
            "the part after `:` is longer than {MAX_ACCOUNT_LEN} characters"
        ));
    }
    if !account
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("the part after `:` may only hold letters, digits, `-`, `_` and `.`".into());
    }
    None
}

/// Which tool owns an env's migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationTool {
    /// golang-migrate files, applied by shipdeck itself.
    #[default]
    GolangMigrate,
    /// An alembic project: revisions read from its files and `alembic_version`,
    /// applied by running alembic.
    Alembic,
    /// Any other tool, driven by the `up`/`down`/`current` commands.
    Command,
    /// A GitHub Actions workflow (`workflow`, `inputs`) the env's GitHub
    /// client dispatches and follows; the version lives with the workflow.
    #[serde(rename = "github_actions", alias = "github-actions")]
    GithubActions,
}

impl MigrationTool {
    /// The config word.
    pub fn label(self) -> &'static str {
        match self {
            MigrationTool::GolangMigrate => "golang-migrate",
            MigrationTool::Alembic => "alembic",
            MigrationTool::Command => "command",
            MigrationTool::GithubActions => "github_actions",
        }
    }
}

/// `[env.migrations]`: golang-migrate style files and the database they apply to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    /// Folder of `{version}_{title}.up.sql` / `.down.sql` files (every tool but `github_actions`).
    #[serde(default)]
    pub dir: PathBuf,
    /// A SQLite database file.
    #[serde(default)]
    pub sqlite: Option<PathBuf>,
    /// The environment variable holding a Postgres URL (never the URL itself).
    #[serde(default)]
    pub database_url_env: Option<String>,
    /// Who runs them: `golang-migrate` (default, in-process), `alembic` or `command`.
    #[serde(default)]
    pub tool: MigrationTool,
    /// Shell command applying pending migrations, run in `dir` with
    /// `DATABASE_URL` set (alembic default: `alembic upgrade head`).
    #[serde(default)]
    pub up: Option<String>,
    /// Shell command reverting one migration (alembic default: `alembic downgrade -1`).
    #[serde(default)]
    pub down: Option<String>,
    /// Shell command printing the current version on its last line (`tool = "command"`).
    #[serde(default)]
    pub current: Option<String>,
    /// The migration workflow (`tool = "github_actions"`): its file name.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Its inputs, templated like `[env.github] inputs` (`environment = "{environment}"`).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Longest a migration command (alembic, a `command` tool, a rollout's
    /// `migrate_command`) may run before it is stopped (default 30m).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// The env these migrations belong to (filled in after parsing; names the
    /// keyring entry `db:ENV` that holds a Postgres URL).
    #[serde(skip)]
    pub env: String,
}

/// How long a migration command may run when `[env.migrations] timeout` is not set.
pub const DEFAULT_MIGRATION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl MigrationsConfig {
    /// How long a migration command may run.
    pub fn command_timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_MIGRATION_TIMEOUT, |t| t.0)
    }
}

/// `[env.gates]`: what a rollout into this env must pass, and how it is sampled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatesConfig {
    /// Every service's health JSON must pass.
    pub health: bool,
    /// Highest tolerated 5xx ratio (0.001 = 0.1 %).
    pub max_error_rate: Option<f64>,
    /// Highest tolerated p95 latency.
    pub max_p95: Option<HumanDuration>,
    /// Extra HTTP checks.
    pub http: Vec<HttpCheck>,
    /// Command checks (`pg_isready -h db`, `redis-cli ping`), run without a shell.
    pub command: Vec<CommandCheck>,
    /// Time between samples.
    pub interval: HumanDuration,
    /// Passing samples in a row needed to pass the health gate.
    pub samples: u32,
    /// Failing samples tolerated before the gate fails.
    pub failure_budget: u32,
    /// Longest the health gate may take.
    pub timeout: HumanDuration,
    /// Watch window after the health gate (error rate and p95 must hold); omit to skip.
    pub stabilize: Option<HumanDuration>,
    /// A service with no requests in a sample passes the error-rate and p95
    /// gates (default false: no traffic means nothing was measured, a failure).
    pub allow_no_traffic: bool,
}

impl Default for GatesConfig {
    fn default() -> Self {
        GatesConfig {
            health: true,
            max_error_rate: Some(0.001),
            max_p95: Some(HumanDuration(Duration::from_millis(200))),
            http: Vec::new(),
            command: Vec::new(),
            interval: HumanDuration(Duration::from_secs(2)),
            samples: 3,
            failure_budget: 1,
            timeout: HumanDuration(Duration::from_secs(60)),
            stabilize: Some(HumanDuration(Duration::from_secs(60))),
            allow_no_traffic: false,
        }
    }
}

/// A custom HTTP check in a gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// URL to GET.
    pub url: String,
    /// Expected status code.
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// Text the body must contain.
    #[serde(default)]
    pub contains: Option<String>,
}

fn default_status() -> u16 {
    200
}

/// A command check in a gate: it passes when the command exits with the
/// expected code within its time limit (and prints `contains`, when given).
/// No shell: arguments are split like a shell would; the environment is
/// scrubbed of every credential.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    /// The command line, e.g. `pg_isready -h db.internal -p 5432`.
    pub run: String,
    /// Expected exit code.
    #[serde(default)]
    pub expect_exit: i32,
    /// Text its standard output must contain (`PONG`).
    #[serde(default)]
    pub contains: Option<String>,
    /// Longest it may run (default 10s); it is killed after that.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

/// `[env.rollout]`: how rollouts into this env run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    /// Command run as the "migrate up" step before deploying (e.g. `migrate -path migrations up`).
    pub migrate_command: Option<String>,
    /// Longest to wait for instances to come up after a deploy.
    pub wait_timeout: HumanDuration,
    /// Services deployed stage by stage (`[["api"], ["web"]]`): each stage deploys,
    /// is gated and stabilised before the next; empty means one stage of every service.
    pub stages: Vec<Spanned<Vec<String>>>,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            migrate_command: None,
            wait_timeout: HumanDuration(Duration::from_secs(120)),
            stages: Vec::new(),
        }
    }
}

impl EnvConfig {
    /// The env's stages as service names: the configured ones, else one stage of every service.
    pub fn stages(&self) -> Vec<Vec<String>> {
        if self.rollout.stages.is_empty() {
            vec![self.services.iter().map(|s| s.name().to_string()).collect()]
        } else {
            self.rollout
                .stages
                .iter()
                .map(|s| s.get_ref().clone())
                .collect()
        }
    }
}

/// `[env.metrics]`: names read from the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricNamesConfig {
    /// Request counter.
    pub requests_total: String,
    /// Label holding the HTTP status.
    pub status_label: String,
    /// Latency histogram base name.
    pub duration_histogram: String,
}

impl Default for MetricNamesConfig {
    fn default() -> Self {
        MetricNamesConfig {
            requests_total: "http_requests_total".into(),
            status_label: "status".into(),
            duration_histogram: "http_request_duration_seconds".into(),
        }
    }
}

/// `[[env.service]]`: one service of an env.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Name, unique within the env (`api`, `web`).
    pub name: Spanned<String>,
    /// Readiness endpoint returning health JSON (`…/health/ready`).
    #[serde(default)]
    pub health_url: Option<String>,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics_url: Option<String>,
    /// Where this service's logs come from, when not from the provider's API.
    #[serde(default)]
    pub logs: Option<Spanned<LogSourceConfig>>,
    /// The service's own Fly app (and process group), when not the env's `[env.fly]` app.
    #[serde(default)]
    pub fly: Option<Spanned<ServiceFly>>,
    /// The Render service behind this service (provider = "render").
    #[serde(default)]
    pub render: Option<Spanned<ServiceRef>>,
    /// The Railway service behind this service (provider = "railway").
    #[serde(default)]
    pub railway: Option<Spanned<ServiceRef>>,
    /// This service's own run of the GitHub workflow (provider = "github_actions").
    #[serde(default)]
    pub github: Option<Spanned<ServiceGithub>>,
    /// The systemd unit and release folder behind this service (provider = "vps").
    #[serde(default)]
    pub vps: Option<Spanned<ServiceVps>>,
}

/// `fly = { app = "…", process_group = "…" }` on a service.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceFly {
    /// Fly app of this service (default: the env's `[env.fly] app`).
    #[serde(default)]
    pub app: Option<String>,
    /// Only machines of this process group (default: the env's).
    #[serde(default)]
    pub process_group: Option<String>,
}

/// `logs = { … }` on a service: exactly one of journald, docker, file, command.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogSourceConfig {
    /// A systemd unit: `journalctl -u UNIT -o json -f`.
    #[serde(default)]
    pub journald: Option<String>,
    /// A container: `docker logs -f NAME`.
    #[serde(default)]
    pub docker: Option<String>,
    /// A file, followed across rotation.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Any command whose output is the log (no shell: arguments split like a shell would).
    #[serde(default)]
    pub command: Option<String>,
    /// Run journald or docker on this host over ssh (`deploy@vps.example`).
    #[serde(default)]
    pub ssh: Option<String>,
}

impl ServiceConfig {
    /// The service's name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The platform service it names for provider `kind` (Render, Railway).
    pub fn service_ref(&self, kind: ProviderKind) -> Option<&Spanned<ServiceRef>> {
        match kind {
            ProviderKind::Render => self.render.as_ref(),
            ProviderKind::Railway => self.railway.as_ref(),
            _ => None,
        }
    }

    /// The platform service id it names for provider `kind`.
    pub fn service_id(&self, kind: ProviderKind) -> Option<&str> {
        self.service_ref(kind).map(|r| r.get_ref().service.as_str())
    }
}

/// The `--config` flag and environment that decide which file is read.
#[derive(Debug, Clone, Default)]
pub struct ConfigRequest {
    /// `--config PATH`.
    pub explicit: Option<PathBuf>,
    /// Force the demo fleet (`shipdeck demo`).
    pub demo: bool,
}

impl Config {
    /// Find and load the config: `--config`, `./shipdeck.toml`, the XDG config
    /// dir, else the embedded demo fleet.
    pub fn discover(req: &ConfigRequest) -> Result<Config, ConfigError> {
        if req.demo {
            return Config::demo();
        }
        if let Some(path) = &req.explicit {
            return Config::load_file(path);
        }
        let local = PathBuf::from("shipdeck.toml");
        if local.is_file() {
            return Config::load_file(&local);
        }
        if let Some(path) = user_config_path()
            && path.is_file()
        {
            return Config::load_file(&path);
        }
        Config::demo()
    }

    /// The embedded demo fleet's config.
    pub fn demo() -> Result<Config, ConfigError> {
        let mut cfg = Config::parse_str(DEMO_CONFIG, Path::new("<embedded demo>"))?;
        cfg.origin = ConfigOrigin::Demo;
        Ok(cfg)
    }

    /// Read and check one file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Config::parse_str(&text, path)?;
        cfg.origin = ConfigOrigin::File(path.to_path_buf());
        Ok(cfg)
    }

    /// Parse and check config text; `path` is only used in messages.
    pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid =
            |offset: Option<usize>, field: Option<String>, message: String, hint: String| {
                ConfigError::Invalid {
                    path: path.to_path_buf(),
                    location: offset.map(|o| Location::from_offset(text, o)),
                    field,
                    message,
                    hint,
                }
            };
        let doc = toml::de::DeTable::parse(text).map_err(|e| {
            invalid(
                e.span().map(|s| s.start),
                None,
                first_line(e.message()),
                "this is not valid TOML; check quotes, brackets and `key = value` pairs".into(),
            )
        })?;
        if let Some(found) = credential_guard::find_credential(&doc) {
            return Err(invalid(
                Some(found.offset),
                Some(found.path),
                "credentials must not be written in the config file".into(),
                "remove it and store it in the OS keyring with `shipdeck auth set <provider>` \
                 (the value is read from stdin), or name an environment variable instead"
                    .into(),
            ));
        }
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let message = first_line(e.message());
            let hint = hint_for(&message);
            let offset = e.span().map(|s| s.start);
            let field =
                field_from_message(&message).or_else(|| offset.and_then(|o| field_at(text, o)));
            invalid(offset, field, message, hint)
        })?;
        cfg.check(text, path)?;
        for env in &mut cfg.envs {
            let name = env.name().to_string();
            if let Some(m) = env.migrations.as_mut() {
                m.env = name;
            }
        }
        cfg.origin = ConfigOrigin::File(path.to_path_buf());
        Ok(cfg)
    }

    /// Cross-field checks that serde cannot express.
    fn check(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let at = |span: std::ops::Range<usize>, field: String, message: String, hint: String| {
            ConfigError::Invalid {
                path: path.to_path_buf(),
                location: Some(Location::from_offset(text, span.start)),
                field: Some(field),
                message,
                hint,
            }
        };
        let names: Vec<&str> = self.envs.iter().map(EnvConfig::name).collect();
        for (i, env) in self.envs.iter().enumerate() {
            let name = env.name();
            if name.trim().is_empty() {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].name"),
                    "an env name cannot be empty".into(),
                    "name it, e.g. `name = \"staging\"`".into(),
                ));
            }
            if let Some(first) = self.envs[..i].iter().position(|e| e.name() == name) {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].name"),
                    format!("duplicate env name `{name}` (also env[{first}])"),
                    "each [[env]] needs a unique name".into(),
                ));
            }
            if let Some(other) = self.envs[..i]
                .iter()
                .find(|e| env_key(e.name()) == env_key(name))
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].name"),
                    format!(
                        "env names `{}` and `{name}` collide: both map to SHIPDECK_DB_{}_URL and to one lock",
                        other.name(),
                        env_key(name)
                    ),
                    "rename one so the two differ in letters or digits, not only in case or punctuation".into(),
                ));
            }
            if let Some(target) = &env.promote_to {
                let t = target.get_ref();
                if !names.contains(&t.as_str()) {
                    return Err(at(
                        target.span(),
                        format!("env[{i}].promote_to"),
                        format!("`{t}` names no env"),
                        format!("use one of the env names in this file: {}", Choices(&names)),
                    ));
                }
                if t == name {
                    return Err(at(
                        target.span(),
                        format!("env[{i}].promote_to"),
                        format!("env `{name}` cannot promote to itself"),
                        "point promote_to at the next env in the chain, e.g. staging → production"
                            .into(),
                    ));
                }
            }
            if let Some(m) = &env.migrations
                && m.tool != MigrationTool::GithubActions
                && m.dir.as_os_str().is_empty()
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].migrations.dir"),
                    format!("env `{name}` has [env.migrations] without `dir`"),
                    "name the folder holding the migration files, e.g. `dir = \"migrations\"`"
                        .into(),
                ));
            }
            if let Some(m) = &env.migrations
                && m.tool == MigrationTool::Command
                && (m.up.is_none() || m.current.is_none())
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].migrations"),
                    format!("env `{name}` uses tool = \"command\" without `up` and `current` commands"),
                    "add e.g. `up = \"npx prisma migrate deploy\"` and `current = \"npx prisma migrate status\"`".into(),
                ));
            }
            if let Some(p) = github::check_env(env, i).or_else(|| vps::check_env(env, i)) {
                return Err(at(
                    p.span.unwrap_or_else(|| env.name.span()),
                    p.field,
                    p.message,
                    p.hint,
                ));
            }
            if env.provider == ProviderKind::Fly && env.fly.is_none() {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].fly"),
                    format!("env `{name}` uses provider \"fly\" but has no [env.fly] table"),
                    "add `fly = { app = \"myapp-staging\" }` (one Fly app per env)".into(),
                ));
            }
            if let Some(account) = env.render.as_ref().and_then(|r| r.account.as_deref())
                && let Some(problem) = account_name_problem(account)
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].render.account"),
                    format!("`render:{account}` is not a credential name ({problem})"),
                    "use letters, digits, `-` or `_`, e.g. `account = \"team\"`".into(),
                ));
            }
            if env.render.is_some() && env.provider != ProviderKind::Render {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].render"),
                    format!(
                        "env `{name}` has a [env.render] table but uses provider \"{}\"",
                        env.provider.label()
                    ),
                    "set `provider = \"render\"`, or remove the [env.render] table".into(),
                ));
            }
            if let Some(account) = env.railway.as_ref().and_then(|r| r.account.as_deref())
                && let Some(problem) = account_name_problem(account)
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].railway.account"),
                    format!("`railway:{account}` is not a credential name ({problem})"),
                    "use letters, digits, `-` or `_`, e.g. `account = \"team\"`".into(),
                ));
            }
            match (&env.railway, env.provider) {
                (None, ProviderKind::Railway) => {
                    return Err(at(
                        env.name.span(),
                        format!("env[{i}].railway"),
                        format!("env `{name}` uses provider \"railway\" but has no [env.railway] table"),
                        "add `railway = { project = \"…\", environment = \"…\" }` (ids from the project's settings or `railway status --json`)".into(),
                    ));
                }
                (Some(_), kind) if kind != ProviderKind::Railway => {
                    return Err(at(
                        env.name.span(),
                        format!("env[{i}].railway"),
                        format!(
                            "env `{name}` has a [env.railway] table but uses provider \"{}\"",
                            kind.label()
                        ),
                        "set `provider = \"railway\"`, or remove the [env.railway] table".into(),
                    ));
                }
                (Some(r), _) => {
                    for (field, id) in [("project", &r.project), ("environment", &r.environment)] {
                        if let Some(problem) = provider_id_problem(id) {
                            return Err(at(
                                env.name.span(),
                                format!("env[{i}].railway.{field}"),
                                format!("`{id}` is not a Railway {field} id ({problem})"),
                                format!(
                                    "copy the {field} id from Railway (project settings, or `railway status --json`)"
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
            if matches!(env.provider, ProviderKind::Render | ProviderKind::Railway)
                && env.services.is_empty()
            {
                let kind = env.provider.label();
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].service"),
                    format!("env `{name}` uses provider \"{kind}\" but has no services"),
                    format!(
                        "add a [[env.service]] with `{kind} = {{ service = \"…\" }}` for each {kind} service"
                    ),
                ));
            }
            if let Some(account) = env.fly.as_ref().and_then(|f| f.account.as_deref())
                && let Some(problem) = account_name_problem(account)
            {
                return Err(at(
                    env.name.span(),
                    format!("env[{i}].fly.account"),
                    format!("`fly:{account}` is not a credential name ({problem})"),
                    "use letters, digits, `-` or `_`, e.g. `account = \"personal\"`".into(),
                ));
            }
            for (j, svc) in env.services.iter().enumerate() {
                let sname = svc.name();
                if let Some(first) = env.services[..j].iter().position(|s| s.name() == sname) {
                    return Err(at(
                        svc.name.span(),
                        format!("env[{i}].service[{j}].name"),
                        format!(
                            "duplicate service `{sname}` in env `{name}` (also service[{first}])"
                        ),
                        "service names must be unique within an env".into(),
                    ));
                }
                if let Some(logs) = &svc.logs {
                    let l = logs.get_ref();
                    let kinds = [
                        l.journald.is_some(),
                        l.docker.is_some(),
                        l.file.is_some(),
                        l.command.is_some(),
                    ];
                    let count = kinds.iter().filter(|k| **k).count();
                    let problem = if count != 1 {
                        Some(format!(
                            "`logs` needs exactly one of journald, docker, file or command (found {count})"
                        ))
                    } else if l.ssh.is_some() && (l.file.is_some() || l.command.is_some()) {
                        Some("`ssh` works with journald or docker; for a command, put ssh in the command itself".to_string())
                    } else if let Some(cmd) = &l.command
                        && let Err(e) = crate::shell::parse_command(cmd)
                    {
                        Some(e.to_string())
                    } else {
                        None
                    };
                    if let Some(message) = problem {
                        return Err(at(
                            logs.span(),
                            format!("env[{i}].service[{j}].logs"),
                            message,
                            "e.g. logs = { journald = \"api.service\", ssh = \"deploy@vps\" }, { docker = \"api\" }, { file = \"/var/log/api.log\" }".into(),
                        ));
                    }
                }
                for (field, url) in [
                    ("health_url", &svc.health_url),
                    ("metrics_url", &svc.metrics_url),
                ] {
                    let Some(url) = url else { continue };
                    let key = || {
                        let table_start = text[..svc.name.span().start].rfind("[[").unwrap_or(0);
                        text[table_start..]
                            .find(field)
                            .map_or(svc.name.span(), |k| {
                                (table_start + k)..(table_start + k + field.len())
                            })
                    };
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(at(
                            key(),
                            format!("env[{i}].service[{j}].{field}"),
                            format!("`{url}` is not an http(s) URL"),
                            "write the full URL, e.g. \"https://api.example.com/health/ready\""
                                .into(),
                        ));
                    }
                    if let Some(what) = url_credential(url) {
                        // The URL itself is never repeated: it holds the credential.
                        return Err(at(
                            key(),
                            format!("env[{i}].service[{j}].{field}"),
                            format!("the URL carries {what}; credentials must not be written in the config"),
                            "remove it from the URL: an endpoint that needs a credential takes it from the keyring (`shipdeck auth set`)".into(),
                        ));
                    }
                }
            }
            for (k, check) in env.gates.command.iter().enumerate() {
                if let Err(e) = crate::shell::parse_command(&check.run) {
                    return Err(at(
                        env.name.span(),
                        format!("env[{i}].gates.command[{k}].run"),
                        format!("`{}` cannot be run: {e}", check.run),
                        "write the command as you would in a shell, without pipes or `&&`, e.g. run = \"redis-cli -h cache ping\"".into(),
                    ));
                }
            }
            // URLs outside services: gate checks and provider endpoints.
            let mut urls: Vec<(String, &str)> = env
                .gates
                .http
                .iter()
                .enumerate()
                .map(|(k, c)| (format!("env[{i}].gates.http[{k}].url"), c.url.as_str()))
                .collect();
            if let Some(url) = env.railway.as_ref().and_then(|r| r.api_url.as_deref()) {
                urls.push((format!("env[{i}].railway.api_url"), url));
            }
            if let Some(url) = env.github.as_ref().and_then(|r| r.api_url.as_deref()) {
                urls.push((format!("env[{i}].github.api_url"), url));
            }
            if let Some(url) = env.render.as_ref().and_then(|r| r.api_url.as_deref()) {
                urls.push((format!("env[{i}].render.api_url"), url));
            }
            if let Some(fly) = &env.fly {
                for (field, url) in [
                    ("api_url", &fly.api_url),
                    ("graphql_url", &fly.graphql_url),
                    ("logs_url", &fly.logs_url),
                ] {
                    if let Some(url) = url {
                        urls.push((format!("env[{i}].fly.{field}"), url.as_str()));
                    }
                }
            }
            for (field, url) in urls {
                if let Some(what) = url_credential(url) {
                    return Err(at(
                        env.name.span(),
                        field,
                        format!("the URL carries {what}; credentials must not be written in the config"),
                        "remove it from the URL: an endpoint that needs a credential takes it from the keyring (`shipdeck auth set`)".into(),
                    ));
                }
            }
            for (j, svc) in env.services.iter().enumerate() {
                if let Some(fly) = &svc.fly
                    && env.provider != ProviderKind::Fly
                {
                    return Err(at(
                        fly.span(),
                        format!("env[{i}].service[{j}].fly"),
                        format!(
                            "service `{}` names a Fly app but env `{name}` uses provider \"{}\"",
                            svc.name(),
                            env.provider.label()
                        ),
                        "set `provider = \"fly\"` on the env, or remove `fly` from the service"
                            .into(),
                    ));
                }
                for rules in &SERVICE_REF_RULES {
                    let (key, title) = (rules.kind.label(), rules.title);
                    match (svc.service_ref(rules.kind), env.provider == rules.kind) {
                        (Some(named), true) => {
                            let id = &named.get_ref().service;
                            if let Some(problem) = provider_id_problem(id) {
                                return Err(at(
                                    named.span(),
                                    format!("env[{i}].service[{j}].{key}.service"),
                                    format!("`{id}` is not a {title} service id ({problem})"),
                                    rules.find_id.into(),
                                ));
                            }
                            if let Some(other) = env.services[..j]
                                .iter()
                                .find(|o| o.service_id(rules.kind) == Some(id.as_str()))
                            {
                                return Err(at(
                                    named.span(),
                                    format!("env[{i}].service[{j}].{key}.service"),
                                    format!(
                                        "services `{}` and `{}` of env `{name}` both name {title} service `{id}`",
                                        other.name(),
                                        svc.name()
                                    ),
                                    format!(
                                        "each shipdeck service maps to its own {title} service"
                                    ),
                                ));
                            }
                        }
                        (None, true) => {
                            return Err(at(
                                svc.name.span(),
                                format!("env[{i}].service[{j}].{key}"),
                                format!(
                                    "service `{}` of env `{name}` names no {title} service",
                                    svc.name()
                                ),
                                rules.add.into(),
                            ));
                        }
                        (Some(named), false) => {
                            return Err(at(
                                named.span(),
                                format!("env[{i}].service[{j}].{key}"),
                                format!(
                                    "service `{}` names a {title} service but env `{name}` uses provider \"{}\"",
                                    svc.name(),
                                    env.provider.label()
                                ),
                                format!(
                                    "set `provider = \"{key}\"` on the env, or remove `{key}` from the service"
                                ),
                            ));
                        }
                        (None, false) => {}
                    }
                }
            }
            let mut staged: Vec<&str> = Vec::new();
            for (k, stage) in env.rollout.stages.iter().enumerate() {
                let field = format!("env[{i}].rollout.stages[{k}]");
                if stage.get_ref().is_empty() {
                    return Err(at(
                        stage.span(),
                        field,
                        "an empty stage deploys nothing".into(),
                        "list the services of the stage, e.g. stages = [[\"api\"], [\"web\"]]"
                            .into(),
                    ));
                }
                for svc in stage.get_ref() {
                    if !env.services.iter().any(|s| s.name() == svc) {
                        let names: Vec<&str> =
                            env.services.iter().map(ServiceConfig::name).collect();
                        return Err(at(
                            stage.span(),
                            field,
                            format!("stage names `{svc}`, which is no service of env `{name}`"),
                            format!("this env's services are {}", Choices(&names)),
                        ));
                    }
                    if staged.contains(&svc.as_str()) {
                        return Err(at(
                            stage.span(),
                            field,
                            format!("service `{svc}` is in two stages"),
                            "each service deploys in exactly one stage".into(),
                        ));
                    }
                    staged.push(svc);
                }
            }
            if !env.rollout.stages.is_empty()
                && let Some(left) = env.services.iter().find(|s| !staged.contains(&s.name()))
            {
                return Err(at(
                    env.rollout.stages[0].span(),
                    format!("env[{i}].rollout.stages"),
                    format!("service `{}` is in no stage, so a promotion would never deploy it", left.name()),
                    "add it to a stage (a stage may hold several services: [[\"api\", \"worker\"], [\"web\"]])".into(),
                ));
            }
        }
        Ok(())
    }

    /// Look up an env by name.
    pub fn env(&self, name: &str) -> Option<&EnvConfig> {
        self.envs.iter().find(|e| e.name() == name)
    }

    /// A "did you mean" error for an unknown env name given on the command line.
    pub fn unknown_env(&self, name: &str) -> String {
        let names: Vec<&str> = self.envs.iter().map(EnvConfig::name).collect();
        format!("no env named `{name}`; this config has {}", Choices(&names))
    }
}

/// `$XDG_CONFIG_HOME/shipdeck/config.toml` (or the platform equivalent).
pub fn user_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "shipdeck").map(|d| d.config_dir().join("config.toml"))
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

/// The dotted key whose value sits at `offset`: the table header above it plus the key on its line.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let before = &text[line_start..offset];
    // The span points either at a value (`key = |value`) or at a key (`|key = value`).
    let key_text = if before.contains('=') {
        before
    } else {
        &text[offset..line_end]
    };
    let (key, _) = key_text.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match header {
        Some(h) => format!("{h}.{key}"),
        None => key.to_string(),
    })
}

/// Pull the field name out of serde's "unknown field `x`" / "missing field `x`".
fn field_from_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let field = &message[start..start + len];
    (message.starts_with("unknown field") || message.starts_with("missing field"))
        .then(|| field.to_string())
}

fn hint_for(message: &str) -> String {
    if message.starts_with("unknown field") {
        "remove it or fix its spelling; config.example.toml lists every option".into()
    } else if message.starts_with("missing field") {
        "add it; config.example.toml shows an example".into()
    } else if message.starts_with("unknown variant") {
        "use one of the values listed above".into()
    } else if message.starts_with("invalid type") {
        "check the value's type: strings need quotes, booleans are true/false, numbers are bare"
            .into()
    } else {
        "see config.example.toml for the expected shape".into()
    }
}
