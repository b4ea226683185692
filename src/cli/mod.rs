//! The command line: the TUI by default, and headless commands that call the
//! same provider and probe code, printing text or `--json`.
//!
//! Exit codes: 0 ok, 1 action failed, 2 usage or config error, 3 gate failed
//! (and the plan rolled back).

use std::path::PathBuf;
use std::time::Duration;

pub mod approve;
pub mod auth;
pub mod migrate;
pub mod plan;
pub mod secrets;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::app::run::{TuiOptions, run_tui};
use crate::config::{Config, ConfigRequest};
use crate::domain::{Health, Release};
use crate::health::probe::{probe_client, probe_health, scrape};
use crate::health::prometheus::{MetricNames, Quantile, window};
use crate::keymap::Keymap;
use crate::provider::registry::providers_for;
use crate::provider::{CallSink, current_release};
use crate::ui::theme::Theme;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the action failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or config.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a gate failed and the plan rolled back.
pub const EXIT_GATE: u8 = 3;

/// shipdeck: environments, releases, health, logs and secrets in one terminal.
#[derive(Debug, Parser)]
#[command(name = "shipdeck", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: ./shipdeck.toml, then the XDG config dir, else the demo fleet).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Theme: dark, light, mono, or a path to a theme .toml (NO_COLOR forces mono).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Refuse every mutating action (promote, rollback, migrations, secret changes).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// What to do (default: open the TUI).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How a mutating command is confirmed, and its output.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfirmArgs {
    /// Confirm without a prompt (non-protected envs; for migrate up, acknowledge lint findings).
    #[arg(long)]
    pub yes: bool,
    /// Confirm a protected env by naming it.
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Use the demo fleet.
    #[arg(long)]
    pub demo: bool,
}

impl ConfirmArgs {
    fn confirm(&self) -> plan::Confirm {
        plan::Confirm {
            yes: self.yes,
            typed: self.confirm.clone(),
            json: self.json,
        }
    }
}

/// Headless commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the TUI on the embedded demo fleet, whatever config exists.
    Demo {
        /// Forget the demo fleet's saved releases and secrets and start from the seeded history.
        #[arg(long)]
        reset: bool,
    },
    /// Every env's current release, health, error rate and p95.
    Status {
        /// Only this env.
        env: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Use the demo fleet.
        #[arg(long)]
        demo: bool,
    },
    /// Release history of one env, newest first.
    Releases {
        /// The env.
        env: String,
        /// How many.
        #[arg(long, default_value_t = 25)]
        limit: usize,
        /// Whose history, where services deploy apart (default: the first service).
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Use the demo fleet.
        #[arg(long)]
        demo: bool,
    },
    /// Promote: deploy the artifact running in FROM into TO, gated, with automatic rollback.
    Promote {
        /// Source env (its running image is what gets deployed).
        from: String,
        /// Target env.
        to: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Roll an env back to an earlier release (default: the previous good one), then pin it.
    Rollback {
        /// The env.
        env: String,
        /// Release to return to, by id or label (`v41`; see `shipdeck releases ENV`).
        #[arg(long, value_name = "REL")]
        to: Option<String>,
        /// Roll back only the service (and what deploys with it), not the whole env.
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Post-deploy checklist: health ready, error rate, p95 (exit 3 when failing).
    Check {
        /// The env.
        env: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Use the demo fleet.
        #[arg(long)]
        demo: bool,
    },
    /// The audit log: who did what, where, when, and the result.
    Audit {
        /// Only this env.
        #[arg(long)]
        env: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the pin a rollback put on an env, so promotions may overwrite it again.
    Unpin {
        /// The env.
        env: String,
        /// Use the demo fleet's config.
        #[arg(long)]
        demo: bool,
    },
    /// Deploys of an env waiting for a reviewer (GitHub environment protection rules).
    Approvals {
        /// The env.
        env: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve (or --reject) the deploys of an env that wait for a reviewer.
    Approve {
        /// The env.
        env: String,
        /// Only this run (see `shipdeck approvals ENV`).
        #[arg(long, value_name = "ID")]
        run: Option<String>,
        /// Reject instead of approve.
        #[arg(long)]
        reject: bool,
        /// A comment recorded with the review (default names who reviewed with shipdeck).
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// List plans a crash interrupted, or resume (or --rollback) one.
    Resume {
        /// Plan id (omit to list).
        plan: Option<String>,
        /// Carry on (the default): a paused plan runs its failed gate again.
        #[arg(long = "continue", conflicts_with_all = ["rollback", "abandon"])]
        carry_on: bool,
        /// Undo what the plan deployed instead of carrying on.
        #[arg(long, conflicts_with = "abandon")]
        rollback: bool,
        /// Close the plan and release its lock, leaving the env as it is (a paused plan whose gate you judged).
        #[arg(long)]
        abandon: bool,
        /// Type the env's name to confirm, for a protected env (either way deploys there).
        #[arg(long, value_name = "ENV")]
        confirm: Option<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Use the demo fleet.
        #[arg(long)]
        demo: bool,
    },
    /// Database migrations of an env (golang-migrate compatible).
    Migrate {
        /// The env.
        env: String,
        /// status, up [N], down [N], goto V, force V.
        #[arg(value_enum)]
        action: migrate::MigrateAction,
        /// N or V.
        arg: Option<String>,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Secrets of an env: `ENV list | ENV set NAME | ENV unset NAME | ENV rotate NAME | diff A B`.
    ///
    /// Values are read from stdin (or generated with --generate), never from the command line.
    Secrets {
        /// ENV and an action, or `diff A B`.
        #[arg(num_args = 1.., value_name = "ARGS")]
        args: Vec<String>,
        #[command(flatten)]
        flags: secrets::SecretsFlags,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Credentials in the OS keyring: `set|list|remove|test [fly | fly:ACCOUNT | db:ENV]`.
    ///
    /// `set` reads the value from stdin or a masked prompt, never from the command line.
    Auth {
        /// What to do.
        #[arg(value_enum)]
        action: auth::AuthAction,
        /// `fly`, `fly:ACCOUNT`, `render`, `db:production`, …
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Use the demo fleet (for `auth test demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Check a config file and report the first problem.
    CheckConfig {
        /// The file (default: the one shipdeck would load).
        path: Option<PathBuf>,
    },
}

/// Run the parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let demo = matches!(
        cli.command,
        Some(Command::Demo { .. })
            | Some(Command::Status { demo: true, .. })
            | Some(Command::Releases { demo: true, .. })
            | Some(Command::Promote {
                confirm: ConfirmArgs { demo: true, .. },
                ..
            })
            | Some(Command::Rollback {
                confirm: ConfirmArgs { demo: true, .. },
                ..
            })
            | Some(Command::Check { demo: true, .. })
            | Some(Command::Unpin { demo: true, .. })
            | Some(Command::Resume { demo: true, .. })
            | Some(Command::Migrate {
                confirm: ConfirmArgs { demo: true, .. },
                ..
            })
            | Some(Command::Secrets {
                confirm: ConfirmArgs { demo: true, .. },
                ..
            })
            | Some(Command::Auth { demo: true, .. })
    );
    if let Some(Command::Demo { reset: true }) = cli.command {
        let store = crate::paths::StatePaths::default_location().demo_store();
        if let Err(e) = std::fs::remove_file(&store)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "shipdeck: cannot reset the demo store {}: {e}",
                store.display()
            );
            return EXIT_FAILED;
        }
    }
    let explicit = match &cli.command {
        Some(Command::CheckConfig { path: Some(p) }) => Some(p.clone()),
        _ => cli.config.clone(),
    };
    let config = match Config::discover(&ConfigRequest { explicit, demo }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        None | Some(Command::Demo { .. }) => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let theme = match Theme::choose(cli.theme.as_deref(), &config.ui.theme, no_color) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("shipdeck: {e}");
                    return EXIT_USAGE;
                }
            };
            let keymap = Keymap::new(config.keys.preset, &config.keys.bind);
            match run_tui(TuiOptions {
                config,
                read_only: cli.read_only,
                theme,
                keymap,
            })
            .await
            {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("shipdeck: terminal error: {e}");
                    EXIT_FAILED
                }
            }
        }
        Some(Command::CheckConfig { .. }) => {
            println!(
                "config OK: {} env(s): {}",
                config.envs.len(),
                config
                    .envs
                    .iter()
                    .map(|e| e.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            EXIT_OK
        }
        Some(Command::Status { env, json, .. }) => status(config, env, json).await,
        Some(Command::Releases {
            env,
            limit,
            service,
            json,
            ..
        }) => releases(config, &env, limit, service.as_deref(), json).await,
        Some(Command::Promote { from, to, confirm }) => {
            plan::promote(config, cli.read_only, &from, &to, confirm.confirm()).await
        }
        Some(Command::Rollback {
            env,
            to,
            service,
            confirm,
        }) => {
            plan::rollback(
                config,
                cli.read_only,
                &env,
                to.as_deref(),
                service.as_deref(),
                confirm.confirm(),
            )
            .await
        }
        Some(Command::Check { env, json, .. }) => plan::check(config, &env, json).await,
        Some(Command::Migrate {
            env,
            action,
            arg,
            confirm,
        }) => {
            migrate::migrate(
                config,
                cli.read_only,
                &env,
                action,
                arg.as_deref(),
                confirm.confirm(),
            )
            .await
        }
        Some(Command::Secrets {
            args,
            flags,
            confirm,
        }) => secrets::secrets(config, cli.read_only, &args, flags, confirm.confirm()).await,
        Some(Command::Auth {
            action, key, json, ..
        }) => auth::auth(config, action, key.as_deref(), json).await,
        Some(Command::Audit { env, json }) => plan::audit(env.as_deref(), json),
        Some(Command::Unpin { env, .. }) => plan::unpin(config, cli.read_only, &env).await,
        Some(Command::Approvals { env, json }) => approve::list(config, &env, json).await,
        Some(Command::Approve {
            env,
            run,
            reject,
            comment,
            confirm,
        }) => {
            let args = approve::ReviewArgs {
                run,
                reject,
                comment,
                typed: confirm.confirm.clone(),
                json: confirm.json,
            };
            approve::review(config, cli.read_only, &env, args).await
        }
        Some(Command::Resume {
            plan: id,
            rollback,
            abandon,
            confirm,
            json,
            ..
        }) => {
            let how = plan::ResumeHow {
                rollback,
                abandon,
                typed: confirm,
                json,
            };
            plan::resume(config, cli.read_only, id.as_deref(), how).await
        }
    }
}

#[derive(Debug, Serialize)]
struct ServiceStatus {
    name: String,
    release: Option<String>,
    artifact: Option<String>,
    health: Health,
    checks_failing: Vec<String>,
    problem: Option<String>,
    error_rate: Option<f64>,
    p95_ms: Option<f64>,
    p95_clipped: bool,
    request_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
struct EnvStatus {
    env: String,
    provider: &'static str,
    release: Option<String>,
    image: Option<String>,
    health: Health,
    /// A provider call that failed, or why the env has no provider client.
    provider_error: Option<String>,
    /// Its kind, when a call failed (`auth`, `rate_limited`, …); absent for a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_failure: Option<crate::provider::FailureKind>,
    services: Vec<ServiceStatus>,
}

async fn status(mut config: Config, only: Option<String>, json: bool) -> u8 {
    if let Some(name) = &only
        && config.env(name).is_none()
    {
        eprintln!("shipdeck: {}", config.unknown_env(name));
        return EXIT_USAGE;
    }
    let fleet = match crate::demo::start_if_needed(&mut config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("shipdeck: cannot start the demo fleet: {e}");
            return EXIT_FAILED;
        }
    };
    let providers = providers_for(
        &config,
        fleet.as_ref().map(|f| f.control_url.as_str()),
        CallSink::discard(),
    );
    let client = probe_client(config.ui.request_timeout.0);
    let mut out = Vec::new();
    for (i, env) in config.envs.iter().enumerate() {
        if only.as_deref().is_some_and(|o| o != env.name()) {
            continue;
        }
        let units = crate::provider::registry::units_of(&config, i);
        // The release each unit serves, by the services it carries, and what the platform runs.
        let mut serving: Vec<(Vec<String>, Option<Release>)> = Vec::new();
        let mut instances = Vec::new();
        let mut provider_error = None;
        let mut provider_failure = None;
        match &providers[i] {
            Some(p) => {
                for unit in &units {
                    if let Ok(list) = p.status(&unit.target).await {
                        instances.extend(unit.own(list));
                    }
                    match p.releases(&unit.target, 10).await {
                        Ok(list) => {
                            serving.push((unit.services.clone(), current_release(&list).cloned()))
                        }
                        Err(e) => {
                            provider_failure.get_or_insert(e.kind());
                            provider_error.get_or_insert(e.to_string());
                            serving.push((unit.services.clone(), None));
                        }
                    }
                }
            }
            None => provider_error = crate::provider::registry::provider_note(env),
        }
        let release = serving.first().and_then(|(_, r)| r.clone());
        let names = MetricNames {
            requests_total: env.metrics.requests_total.clone(),
            status_label: env.metrics.status_label.clone(),
            duration_histogram: env.metrics.duration_histogram.clone(),
        };
        let mut services = Vec::new();
        for svc in &env.services {
            let mut status = service_status(&client, svc, &names).await;
            if svc.health_url.is_none() && !instances.is_empty() {
                // No probe: the platform's word on the service's instances.
                let mine = crate::state::provider_health::instances_of(
                    &instances,
                    svc.name(),
                    env.services.len() == 1,
                );
                status.health = crate::state::provider_health::health_of(&mine);
            }
            if let Some((_, Some(r))) = serving
                .iter()
                .find(|(services, _)| services.iter().any(|s| s == svc.name()))
            {
                status.release = Some(r.label());
                status.artifact = r.artifact.as_ref().map(crate::domain::Artifact::full);
            }
            services.push(status);
        }
        let health = services
            .iter()
            .map(|s| s.health)
            .fold(Health::Healthy, Health::worst);
        out.push(EnvStatus {
            env: env.name().to_string(),
            provider: env.provider.label(),
            release: release.as_ref().map(Release::label),
            image: release.and_then(|r| r.artifact).map(|a| a.full()),
            health,
            provider_error,
            provider_failure,
            services,
        });
    }
    drop(fleet);
    if json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!(
            "{:<12} {:<8} {:<10} {:<12} {:>10} {:>8}  NOTE",
            "ENV", "SERVICE", "RELEASE", "HEALTH", "ERR", "P95"
        );
        for env in &out {
            for (j, svc) in env.services.iter().enumerate() {
                let p95 = svc.p95_ms.map_or("—".into(), |p| {
                    format!("{}{p:.0}ms", if svc.p95_clipped { "≥" } else { "" })
                });
                let note = svc
                    .problem
                    .clone()
                    .or_else(|| {
                        (!svc.checks_failing.is_empty())
                            .then(|| format!("failing: {}", svc.checks_failing.join(", ")))
                    })
                    .unwrap_or_default();
                println!(
                    "{:<12} {:<8} {:<10} {:<12} {:>10} {:>8}  {}",
                    if j == 0 { env.env.as_str() } else { "" },
                    svc.name,
                    svc.release.as_deref().unwrap_or("—"),
                    svc.health.label(),
                    crate::ui::format::percent(svc.error_rate),
                    p95,
                    note
                );
            }
            if let Some(e) = &env.provider_error {
                println!("{:<12} {}", "", e);
            }
        }
    }
    // A provider that could not be read is a failure (a refused token, an
    // outage); an env whose provider has no client here only carries a note.
    if out.iter().all(|e| e.provider_failure.is_none()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

async fn service_status(
    client: &reqwest::Client,
    svc: &crate::config::ServiceConfig,
    names: &MetricNames,
) -> ServiceStatus {
    let mut status = ServiceStatus {
        name: svc.name().to_string(),
        release: None,
        artifact: None,
        health: Health::Unknown,
        checks_failing: Vec::new(),
        problem: None,
        error_rate: None,
        p95_ms: None,
        p95_clipped: false,
        request_rate: None,
    };
    if let Some(url) = &svc.health_url {
        let probe = probe_health(client, url).await;
        status.health = if probe.reachable {
            crate::health::health_of(&probe.report)
        } else {
            Health::Missing
        };
        status.checks_failing = probe
            .report
            .checks
            .iter()
            .filter(|c| c.status != crate::health::health_json::CheckStatus::Pass)
            .map(|c| c.name.clone())
            .collect();
        status.problem = probe.report.problem.clone();
    }
    if let Some(url) = &svc.metrics_url {
        match scrape(client, url).await {
            Ok(first) => {
                let started = std::time::Instant::now();
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(second) = scrape(client, url).await {
                    let w = window(&first, &second, started.elapsed().as_secs_f64(), names);
                    status.error_rate = w.error_rate;
                    status.request_rate = Some(w.request_rate);
                    if let Some(Quantile { seconds, clipped }) = w.p95 {
                        status.p95_ms = Some(seconds * 1000.0);
                        status.p95_clipped = clipped;
                    }
                }
            }
            Err(e) => status.problem = Some(e.to_string()),
        }
    }
    status
}

async fn releases(
    mut config: Config,
    env: &str,
    limit: usize,
    service: Option<&str>,
    json: bool,
) -> u8 {
    let Some(idx) = config.envs.iter().position(|e| e.name() == env) else {
        eprintln!("shipdeck: {}", config.unknown_env(env));
        return EXIT_USAGE;
    };
    let fleet = match crate::demo::start_if_needed(&mut config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("shipdeck: cannot start the demo fleet: {e}");
            return EXIT_FAILED;
        }
    };
    let providers = providers_for(
        &config,
        fleet.as_ref().map(|f| f.control_url.as_str()),
        CallSink::discard(),
    );
    let Some(provider) = &providers[idx] else {
        eprintln!(
            "shipdeck: {}",
            crate::provider::registry::provider_note(&config.envs[idx]).unwrap_or_default()
        );
        return EXIT_FAILED;
    };
    let units = crate::provider::registry::units_of(&config, idx);
    let unit = match service {
        Some(name) => match units.iter().find(|u| u.services.iter().any(|s| s == name)) {
            Some(u) => u,
            None => {
                let names: Vec<&str> = config.envs[idx].services.iter().map(|s| s.name()).collect();
                eprintln!(
                    "shipdeck: env `{env}` has no service `{name}`; its services are {}",
                    names.join(", ")
                );
                return EXIT_USAGE;
            }
        },
        None => &units[0],
    };
    if !json && units.len() > 1 {
        println!(
            "history of {} (services deploy apart here; --service picks another)",
            unit.services.join("+")
        );
    }
    let list: Vec<Release> = match provider.releases(&unit.target, limit).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_FAILED;
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        let now = chrono::Utc::now();
        println!(
            "  {:<5} {:<28} {:<11} {:<16} {:>4}  DESCRIPTION",
            "VER", "IMAGE", "STATUS", "AUTHOR", "AGE"
        );
        for r in &list {
            println!(
                "{} {:<5} {:<28} {:<11} {:<16} {:>4}  {}",
                if r.current { "●" } else { " " },
                r.label(),
                r.artifact_short(),
                r.status.label(),
                r.author.as_deref().unwrap_or(""),
                crate::ui::format::age(now, r.created_at),
                crate::sanitize::sanitize(&r.description)
            );
        }
    }
    EXIT_OK
}
