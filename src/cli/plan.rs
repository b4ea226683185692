//! Headless plan commands: promote, rollback, check, audit, unpin, resume.
//! They call the same engine as the TUI and print text or `--json`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use crate::demo::Fleet;
use crate::engine::{Actor, Engine, PlanEvent, PlanOutcome, Preview, ResumeMode, StepStatus};
use crate::paths::StatePaths;
use crate::provider::CallSink;
use crate::provider::registry::providers_for;

/// How the user confirms a plan from the command line.
#[derive(Debug, Clone, Default)]
pub struct Confirm {
    /// `--yes`: confirm a non-protected env.
    pub yes: bool,
    /// `--confirm NAME`: the env name, required for protected envs.
    pub typed: Option<String>,
    /// `--json`: machine output.
    pub json: bool,
}

/// Build the engine (starting the demo fleet when the config has demo envs).
pub async fn engine_for(
    mut config: Config,
    read_only: bool,
) -> Result<(Engine, Option<Fleet>), u8> {
    let fleet = match crate::demo::start_if_needed(&mut config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("shipdeck: cannot start the demo fleet: {e}");
            return Err(EXIT_FAILED);
        }
    };
    let providers = providers_for(
        &config,
        fleet.as_ref().map(|f| f.control_url.as_str()),
        CallSink::discard(),
    );
    let engine = Engine::new(
        Arc::new(config),
        providers,
        StatePaths::default_location(),
        Actor::current(),
        read_only,
    );
    Ok((engine, fleet))
}

/// `shipdeck promote FROM TO`.
pub async fn promote(
    config: Config,
    read_only: bool,
    from: &str,
    to: &str,
    confirm: Confirm,
) -> u8 {
    let Ok((engine, _fleet)) = engine_for(config, read_only).await else {
        return EXIT_FAILED;
    };
    match engine.preview_promote(from, to).await {
        Ok(preview) => confirm_and_run(&engine, preview, confirm).await,
        Err(e) => fail(&e.to_string(), confirm.json),
    }
}

/// `shipdeck rollback ENV [--to REL]`.
pub async fn rollback(
    config: Config,
    read_only: bool,
    env: &str,
    to: Option<&str>,
    service: Option<&str>,
    confirm: Confirm,
) -> u8 {
    let Ok((engine, _fleet)) = engine_for(config, read_only).await else {
        return EXIT_FAILED;
    };
    match engine.preview_rollback(env, to, service).await {
        Ok(preview) => confirm_and_run(&engine, preview, confirm).await,
        Err(e) => fail(&e.to_string(), confirm.json),
    }
}

fn fail(message: &str, json: bool) -> u8 {
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "error", "message": message})
        );
    } else {
        eprintln!("shipdeck: {message}");
    }
    if message.starts_with("no env named") {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

async fn confirm_and_run(engine: &Engine, preview: Preview, confirm: Confirm) -> u8 {
    let env = preview.plan.target_env.clone();
    if !confirm.json {
        print_preview(&preview);
    }
    // Read-only and read_only envs are refused by the engine itself; ask nothing first.
    if let Err(e) = engine.check_writable(&env) {
        return fail(&e.to_string(), confirm.json);
    }
    let typed = if preview.protected {
        match confirm.typed.clone() {
            Some(t) => Some(t),
            None if std::io::stdin().is_terminal() => Some(prompt(&format!(
                "`{env}` is protected. Type its name to confirm: "
            ))),
            None => {
                eprintln!(
                    "shipdeck: `{env}` is protected; pass --confirm {env} to confirm without a terminal"
                );
                return EXIT_USAGE;
            }
        }
    } else if confirm.yes {
        None
    } else if std::io::stdin().is_terminal() {
        let answer = prompt("Start? [y/N] ");
        if !matches!(answer.as_str(), "y" | "Y" | "yes") {
            eprintln!("shipdeck: cancelled");
            return EXIT_FAILED;
        }
        None
    } else {
        eprintln!("shipdeck: pass --yes to start without a terminal");
        return EXIT_USAGE;
    };
    let outcome = run_with_output(engine, preview, typed, confirm.json).await;
    outcome.exit_code()
}

fn prompt(question: &str) -> String {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_string()
}

fn print_preview(preview: &Preview) {
    let plan = &preview.plan;
    match &plan.source_env {
        Some(src) => println!("promote {src} → {} ({})", plan.target_env, plan.id),
        None => println!("rollback {} ({})", plan.target_env, plan.id),
    }
    for change in &preview.changes {
        let name = if change.services.is_empty() {
            "release".to_string()
        } else {
            change.services.join("+")
        };
        println!(
            "  {name:<8} {} {} → {} {}{}",
            change.from_release.as_deref().unwrap_or("nothing"),
            change.from.as_deref().unwrap_or(""),
            change.to_release.as_deref().unwrap_or(""),
            change.to,
            if change.unchanged {
                " (already running)"
            } else {
                ""
            }
        );
    }
    for note in &preview.notes {
        println!("  • {note}");
    }
    let steps: Vec<String> = (0..plan.steps.len()).map(|i| plan.step_name(i)).collect();
    println!("  steps: {}", steps.join(" → "));
}

/// Run a plan, printing progress; Ctrl-C aborts it (the engine reverses a deploy).
async fn run_with_output(
    engine: &Engine,
    preview: Preview,
    typed: Option<String>,
    json: bool,
) -> PlanOutcome {
    let (tx, rx) = mpsc::unbounded_channel();
    let (abort_tx, abort_rx) = watch::channel(false);
    let printer = tokio::spawn(print_events(rx, json));
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("shipdeck: aborting (the step in flight finishes or is reversed)…");
            let _ = abort_tx.send(true);
        }
    });
    let outcome = engine
        .run(preview.plan, typed.as_deref(), tx, abort_rx)
        .await;
    ctrl_c.abort();
    let _ = printer.await;
    outcome
}

async fn print_events(mut rx: mpsc::UnboundedReceiver<PlanEvent>, json: bool) {
    let mut names = Vec::new();
    while let Some(event) = rx.recv().await {
        if json {
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
            continue;
        }
        match event {
            PlanEvent::Started { plan, from_step } => {
                names = (0..plan.steps.len()).map(|i| plan.step_name(i)).collect();
                if from_step > 0 {
                    println!("resuming at step {}", from_step + 1);
                }
            }
            PlanEvent::StepStarted { index, .. } => {
                println!(
                    "[{:>2}/{}] {} …",
                    index + 1,
                    names.len(),
                    names.get(index).map_or("", String::as_str)
                );
            }
            PlanEvent::StepOutput { line, .. } => println!("        {line}"),
            PlanEvent::Gate {
                passes,
                failures,
                figures,
                failing,
                ..
            } => {
                println!(
                    "        sample: ok in a row {passes}, failures {failures} · {}",
                    figures.join(" · ")
                );
                for f in failing {
                    println!("        ✗ {f}");
                }
            }
            PlanEvent::StepFinished {
                status,
                detail,
                took_ms,
                ..
            } => {
                let word = match status {
                    StepStatus::Ok => "ok",
                    StepStatus::Skipped => "skipped",
                    StepStatus::Failed => "FAILED",
                };
                println!("        {word} ({:.1}s): {detail}", took_ms as f64 / 1000.0);
            }
            PlanEvent::DeployProgress {
                services, progress, ..
            } => println!(
                "        {} {}/{} {} {:?}: {}",
                services.join("+"),
                progress.index,
                progress.total,
                progress.unit,
                progress.state,
                progress.detail
            ),
            PlanEvent::Reverting { reason } => println!("↺ reverting: {reason}"),
            PlanEvent::Warning { message } => {
                eprintln!("shipdeck: warning: {}", crate::sanitize::sanitize(&message))
            }
            PlanEvent::Finished { outcome } => println!("{}", outcome.describe()),
        }
    }
}

/// `shipdeck check ENV`: the post-deploy checklist.
pub async fn check(config: Config, env: &str, json: bool) -> u8 {
    let Ok((engine, _fleet)) = engine_for(config, true).await else {
        return EXIT_FAILED;
    };
    match engine.check(env).await {
        Ok(sample) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"env": env, "passed": sample.passed(), "figures": sample.figures, "failures": sample.failures})
                );
            } else {
                println!(
                    "post-deploy checks of `{env}`: {}",
                    if sample.passed() {
                        "all passing"
                    } else {
                        "FAILING"
                    }
                );
                for f in &sample.figures {
                    println!("  ✓ {f}");
                }
                for f in &sample.failures {
                    println!("  ✗ {f}");
                }
            }
            if sample.passed() {
                EXIT_OK
            } else {
                super::EXIT_GATE
            }
        }
        Err(e) => fail(&e.to_string(), json),
    }
}

/// `shipdeck audit [--env ENV]`.
pub fn audit(env: Option<&str>, json: bool) -> u8 {
    let log = crate::engine::audit::AuditLog::new(StatePaths::default_location().audit());
    match log.read(env) {
        Ok(read) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&read.records).unwrap_or_default()
                );
            } else {
                println!(
                    "{:<20} {:<24} {:<9} {:<12} {:<6} {:<6} {:<12} {:>7}  DETAIL",
                    "TIME", "WHO", "ACTION", "ENV", "FROM", "TO", "RESULT", "TOOK"
                );
                for r in &read.records {
                    println!(
                        "{:<20} {:<24} {:<9} {:<12} {:<6} {:<6} {:<12} {:>6.1}s  {}",
                        r.time.format("%Y-%m-%d %H:%M:%S"),
                        format!("{}@{}", r.actor, r.host),
                        r.action,
                        r.env,
                        r.from.as_deref().unwrap_or(""),
                        r.to.as_deref().unwrap_or(""),
                        r.result,
                        r.duration_ms as f64 / 1000.0,
                        crate::sanitize::sanitize(r.detail.as_deref().unwrap_or(""))
                    );
                }
            }
            if read.torn > 0 {
                eprintln!(
                    "shipdeck: {} unreadable line(s) in {}",
                    read.torn,
                    log.path().display()
                );
            }
            EXIT_OK
        }
        Err(e) => fail(&e.to_string(), json),
    }
}

/// `shipdeck unpin ENV`.
pub async fn unpin(config: Config, read_only: bool, env: &str) -> u8 {
    if config.env(env).is_none() {
        eprintln!("shipdeck: {}", config.unknown_env(env));
        return EXIT_USAGE;
    }
    let engine = Engine::new(
        Arc::new(config),
        Vec::new(),
        StatePaths::default_location(),
        Actor::current(),
        read_only,
    );
    match engine.unpin(env) {
        Ok(Some(pin)) => {
            println!(
                "`{env}` unpinned (was pinned at {} by {})",
                pin.release, pin.by
            );
            EXIT_OK
        }
        Ok(None) => {
            println!("`{env}` was not pinned");
            EXIT_OK
        }
        Err(e) => fail(&e.to_string(), false),
    }
}

/// `shipdeck resume [PLAN] [--rollback]`: list interrupted plans, or resume/reverse one.
/// How `shipdeck resume PLAN` goes on.
#[derive(Debug, Clone, Default)]
pub struct ResumeHow {
    /// Undo what the plan deployed instead of carrying on.
    pub rollback: bool,
    /// Close the plan and release its lock, leaving the env as it is.
    pub abandon: bool,
    /// The env's name typed back, for a protected env.
    pub typed: Option<String>,
    /// Print JSON lines.
    pub json: bool,
}

/// `shipdeck resume [PLAN]`: list interrupted plans, or resume or reverse one.
pub async fn resume(config: Config, read_only: bool, plan_id: Option<&str>, how: ResumeHow) -> u8 {
    let ResumeHow {
        rollback,
        abandon,
        typed,
        json,
    } = how;
    let Ok((engine, _fleet)) = engine_for(config, read_only).await else {
        return EXIT_FAILED;
    };
    let Some(plan_id) = plan_id else {
        let plans = engine.interrupted();
        if plans.is_empty() {
            println!("no interrupted plan");
        }
        for r in engine.interrupted_rotations() {
            println!("{}", crate::sanitize::sanitize(&r.advice()));
        }
        for p in plans {
            let env = crate::sanitize::sanitize(p.plan["target_env"].as_str().unwrap_or("?"));
            let action = crate::sanitize::sanitize(p.plan["action"].as_str().unwrap_or("plan"));
            if let Some((step, reason)) = p.paused() {
                println!(
                    "{}  {action} of `{env}`, PAUSED at step {} after a failed gate: {}  (`shipdeck resume {} --continue` runs the gate again, --rollback reverts, --abandon keeps what is deployed; add --confirm {env} where `{env}` is protected)",
                    p.plan_id,
                    step + 1,
                    crate::sanitize::sanitize(reason),
                    p.plan_id,
                );
                continue;
            }
            let at = match p.in_flight_step().or(p.last_finished_step()) {
                Some(step) => format!("stopped at step {}", step + 1),
                None => "stopped before its first step".to_string(),
            };
            println!(
                "{}  {action} of `{env}`, {at}  (resume with `shipdeck resume {} --confirm {env}` where `{env}` is protected, or add --rollback)",
                p.plan_id, p.plan_id,
            );
        }
        return EXIT_OK;
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let (_abort_tx, abort_rx) = watch::channel(false);
    let printer = tokio::spawn(print_events(rx, json));
    let mode = if rollback {
        ResumeMode::Rollback
    } else if abandon {
        ResumeMode::Abandon
    } else {
        ResumeMode::Resume
    };
    let outcome = engine
        .resume(plan_id, mode, typed.as_deref(), tx, abort_rx)
        .await;
    let _ = printer.await;
    match outcome {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => fail(&e.to_string(), json),
    }
}
