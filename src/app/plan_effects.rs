//! Effects that go through the rollout engine: previews, plans, abort,
//! resume, unpin, the audit log, pins and locks. Each runs in a tokio task
//! and reports back as messages.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::msg::{Effect, Msg};
use crate::engine::Engine;
use crate::state::InterruptedPlan;

/// Run one engine effect. `abort` holds the running plan's abort switch.
pub fn run(
    engine: &Engine,
    effect: Effect,
    tx: &mpsc::UnboundedSender<Msg>,
    abort: &mut Option<watch::Sender<bool>>,
) -> Option<JoinHandle<()>> {
    let (engine, tx) = (engine.clone(), tx.clone());
    match effect {
        Effect::PreviewPromote { from, to } => Some(tokio::spawn(async move {
            let result = engine
                .preview_promote(&from, &to)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::Preview(result));
        })),
        Effect::PreviewRollback { env, to, service } => Some(tokio::spawn(async move {
            let result = engine
                .preview_rollback(&env, to.as_deref(), service.as_deref())
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::Preview(result));
        })),
        Effect::RunPlan { plan, typed } => {
            let (abort_tx, abort_rx) = watch::channel(false);
            *abort = Some(abort_tx);
            Some(tokio::spawn(async move {
                let events = forward_events(tx);
                engine.run(*plan, typed.as_deref(), events, abort_rx).await;
            }))
        }
        Effect::Resume {
            plan_id,
            mode,
            typed,
        } => {
            let (abort_tx, abort_rx) = watch::channel(false);
            *abort = Some(abort_tx);
            Some(tokio::spawn(async move {
                let events = forward_events(tx.clone());
                if let Err(e) = engine
                    .resume(&plan_id, mode, typed.as_deref(), events, abort_rx)
                    .await
                {
                    let _ = tx.send(Msg::Done {
                        text: format!("resume {plan_id}: {e}"),
                        error: true,
                    });
                }
            }))
        }
        Effect::LoadApprovals { env } => Some(tokio::spawn(async move {
            let result = engine.approvals(&env).await.map_err(|e| e.to_string());
            let _ = tx.send(Msg::Approvals { env, result });
        })),
        Effect::Review {
            env,
            run,
            approve,
            typed,
        } => Some(tokio::spawn(async move {
            let comment = format!(
                "{} with shipdeck by {}",
                if approve { "approved" } else { "rejected" },
                crate::actor::Actor::current().describe()
            );
            let result = engine
                .review(&env, Some(&run), approve, &comment, typed.as_deref())
                .await
                .map(|done| {
                    let verb = if approve { "approved" } else { "rejected" };
                    done.iter()
                        .map(|a| format!("{verb} {} for {env}", a.label))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(super::approvals::reviewed(result));
        })),
        Effect::Unpin { env } => Some(tokio::spawn(async move {
            let msg = match engine.unpin(&env) {
                Ok(Some(pin)) => Msg::Done {
                    text: format!("{env} unpinned (was pinned at {})", pin.release),
                    error: false,
                },
                Ok(None) => Msg::Done {
                    text: format!("{env} was not pinned"),
                    error: false,
                },
                Err(e) => Msg::Done {
                    text: e.to_string(),
                    error: true,
                },
            };
            let _ = tx.send(msg);
        })),
        Effect::LoadAudit => Some(tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || engine.audit().read(None))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map(|read| read.records).map_err(|e| e.to_string()));
            let _ = tx.send(Msg::Audit(result));
        })),
        Effect::LoadMarks => Some(tokio::spawn(async move {
            let marks = tokio::task::spawn_blocking(move || {
                let pins = engine.pins().all().unwrap_or_default();
                let locks = engine
                    .config
                    .envs
                    .iter()
                    .filter_map(|e| {
                        crate::engine::lock::holder(&engine.paths.locks(), e.name())
                            .map(|h| (e.name().to_string(), h.describe()))
                    })
                    .collect();
                (pins, locks)
            })
            .await;
            if let Ok((pins, locks)) = marks {
                let _ = tx.send(Msg::EnvMarks { pins, locks });
            }
        })),
        Effect::CheckInterrupted => Some(tokio::spawn(async move {
            let rotations = {
                let reader = engine.clone();
                tokio::task::spawn_blocking(move || reader.interrupted_rotations())
                    .await
                    .unwrap_or_default()
            };
            if !rotations.is_empty() {
                let advice = rotations.iter().map(|r| r.advice()).collect();
                let _ = tx.send(Msg::InterruptedRotations(advice));
            }
            let reader = engine.clone();
            let plans = tokio::task::spawn_blocking(move || reader.interrupted())
                .await
                .unwrap_or_default();
            let list = plans
                .into_iter()
                .map(|h| {
                    let plan: Option<crate::engine::plan::Plan> =
                        serde_json::from_value(h.plan.clone()).ok();
                    let step = h
                        .paused()
                        .map(|(s, _)| s)
                        .or(h.in_flight_step())
                        .or(h.last_finished_step());
                    let stopped = if h.paused().is_some() {
                        "PAUSED"
                    } else {
                        "stopped"
                    };
                    let summary = match plan {
                        Some(p) => format!(
                            "{} of {} to {} (by {}), {stopped} at step {}: {}",
                            p.action.word(),
                            p.target_env,
                            p.from_to().1,
                            p.actor,
                            step.map_or(0, |s| s + 1),
                            step.map_or("start".to_string(), |s| p.step_name(s))
                        ),
                        None => format!("plan {} (journal unreadable)", h.plan_id),
                    };
                    let env = h.plan["target_env"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let paused = h
                        .paused()
                        .map(|(_, reason)| crate::sanitize::sanitize(reason));
                    InterruptedPlan {
                        paused,
                        plan_id: h.plan_id,
                        protected: engine.config.env(&env).is_none_or(|e| e.protected),
                        env: crate::sanitize::sanitize(&env),
                        summary,
                    }
                })
                .collect();
            let _ = tx.send(Msg::Interrupted(list));
        })),
        Effect::Export { path, lines } => Some(tokio::spawn(async move {
            let count = lines.len();
            let result = tokio::task::spawn_blocking(move || {
                super::export::write_lines(&path, &lines).map(|()| path)
            })
            .await;
            let msg = match result {
                Ok(Ok(path)) => Msg::Done {
                    text: format!("exported {count} lines to {}", path.display()),
                    error: false,
                },
                Ok(Err(e)) => Msg::Done {
                    text: e,
                    error: true,
                },
                Err(e) => Msg::Done {
                    text: format!("export failed: {e}"),
                    error: true,
                },
            };
            let _ = tx.send(msg);
        })),
        Effect::ShowLogsCommand { env, svc } => {
            let cfg = engine.config.clone();
            let service = cfg.envs.get(env).and_then(|e| e.services.get(svc));
            let source = service
                .and_then(|s| s.logs.as_ref())
                .and_then(|l| crate::logs::sources::SourceSpec::from_config(l.get_ref()).ok());
            let msg = match (
                engine.providers.get(env).cloned().flatten(),
                service,
                source,
            ) {
                (_, Some(_), Some(source)) => Msg::Info {
                    title: "equivalent command".into(),
                    text: source.shell_equivalent(),
                },
                (Some(provider), Some(service), None) => Msg::Info {
                    title: "equivalent command".into(),
                    text: provider.logs_command(
                        &crate::provider::registry::target_of(&cfg, env),
                        service.name(),
                    ),
                },
                _ => Msg::Done {
                    text: "this service has no log source".into(),
                    error: true,
                },
            };
            let _ = tx.send(msg);
            None
        }
        Effect::LoadMigrations { env } => {
            let cfg = engine
                .config
                .envs
                .get(env)
                .and_then(|e| e.migrations.clone())?;
            Some(tokio::spawn(async move {
                let result = crate::migrate::run::status_any(cfg).await;
                let _ = tx.send(Msg::Migrations { env, result });
            }))
        }
        Effect::Migrate { env, op, typed } => Some(tokio::spawn(async move {
            let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(line) = lines_rx.recv().await {
                        if tx.send(Msg::MigrationOutput(line)).is_err() {
                            break;
                        }
                    }
                })
            };
            let text = migrate(&engine, env, op, typed, lines_tx).await;
            let _ = forward.await;
            let _ = tx.send(match text {
                Ok(t) => Msg::Done {
                    text: t,
                    error: false,
                },
                Err(t) => Msg::Done {
                    text: t,
                    error: true,
                },
            });
            if let Some(cfg) = engine
                .config
                .envs
                .get(env)
                .and_then(|e| e.migrations.clone())
            {
                let result = crate::migrate::run::status_any(cfg).await;
                let _ = tx.send(Msg::Migrations { env, result });
            }
        })),
        Effect::Refresh { .. }
        | Effect::Copy(_)
        | Effect::AbortPlan
        | Effect::AbortRotation
        | Effect::SecretSet { .. }
        | Effect::SecretUnset { .. }
        | Effect::Rotate { .. }
        | Effect::RestoreSecret { .. } => None,
    }
}

fn forward_events(
    tx: mpsc::UnboundedSender<Msg>,
) -> mpsc::UnboundedSender<crate::engine::PlanEvent> {
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if tx.send(Msg::Plan(event)).is_err() {
                break;
            }
        }
    });
    events_tx
}

/// A migration operation with the engine's refusals, run off the UI loop and audited.
async fn migrate(
    engine: &Engine,
    env: usize,
    op: crate::migrate::run::Op,
    typed: Option<String>,
    lines: mpsc::UnboundedSender<String>,
) -> Result<String, String> {
    let env_cfg = engine.config.envs.get(env).ok_or("no such env")?;
    let name = env_cfg.name().to_string();
    engine.check_writable(&name).map_err(|e| e.to_string())?;
    if op.destructive() {
        engine
            .check_confirmation(&name, typed.as_deref())
            .map_err(|e| e.to_string())?;
    }
    let cfg = env_cfg
        .migrations
        .clone()
        .ok_or("this env has no [env.migrations]")?;
    let started = std::time::Instant::now();
    let result = crate::migrate::run::apply_streaming(cfg, op, Some(lines)).await;
    engine.audit_action(
        &format!("migrate {}", op.describe()),
        &name,
        None,
        result.is_ok(),
        started.elapsed().as_millis() as u64,
        result.as_ref().err().cloned(),
    );
    result.map(|summary| format!("migrate {name} {}: {summary}", op.describe()))
}
