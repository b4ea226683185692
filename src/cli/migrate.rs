//! `shipdeck migrate ENV status|up|down|goto|force [N]`: the same runner as the
//! TUI's migrations panel, with confirmation rules enforced by the engine.

use std::io::IsTerminal;

use super::plan::{Confirm, engine_for};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use crate::migrate::run::{self, Op};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MigrateAction {
    /// Current version, dirty flag, pending files and lint findings.
    Status,
    /// Apply pending migrations (all, or N).
    Up,
    /// Revert N migrations (default 1). Needs confirmation.
    Down,
    /// Move to version N, up or down. Needs confirmation.
    Goto,
    /// Set version N and clear the dirty flag without running anything. Needs confirmation.
    Force,
}

fn parse_n(arg: Option<&str>, what: &str) -> Result<Option<u64>, String> {
    arg.map(|a| {
        a.parse::<u64>()
            .map_err(|_| format!("`{a}` is not a number; {what}"))
    })
    .transpose()
}

/// Run the command; returns the exit code.
pub async fn migrate(
    config: Config,
    read_only: bool,
    env: &str,
    action: MigrateAction,
    arg: Option<&str>,
    confirm: Confirm,
) -> u8 {
    if config.env(env).is_none() {
        eprintln!("shipdeck: {}", config.unknown_env(env));
        return EXIT_USAGE;
    }
    // `force none`: no version at all (a first migration that failed).
    let none = action == MigrateAction::Force && arg == Some("none");
    let op = match (
        action,
        parse_n(arg.filter(|_| !none), "give a count or a version"),
    ) {
        (MigrateAction::Force, _) if none => Some(Op::Force(None)),
        (_, Err(e)) => {
            eprintln!("shipdeck: {e}");
            return EXIT_USAGE;
        }
        (MigrateAction::Status, _) => None,
        (MigrateAction::Up, Ok(n)) => Some(Op::Up(n.map(|n| n as usize))),
        (MigrateAction::Down, Ok(n)) => Some(Op::Down(n.unwrap_or(1) as usize)),
        (MigrateAction::Goto, Ok(Some(v))) => Some(Op::Goto(v)),
        (MigrateAction::Force, Ok(Some(v))) => Some(Op::Force(Some(v))),
        (MigrateAction::Goto | MigrateAction::Force, Ok(None)) => {
            eprintln!(
                "shipdeck: `{}` needs a version, e.g. `shipdeck migrate {env} {} 5`",
                format!("{action:?}").to_lowercase(),
                format!("{action:?}").to_lowercase()
            );
            return EXIT_USAGE;
        }
    };
    let Ok((engine, _fleet)) = engine_for(config, read_only || op.is_none()).await else {
        return EXIT_FAILED;
    };
    let Some(cfg) = engine.config.env(env).and_then(|e| e.migrations.clone()) else {
        eprintln!(
            "shipdeck: env `{env}` has no [env.migrations]; add `migrations = {{ dir = \"migrations\", sqlite = \"app.db\" }}`"
        );
        return EXIT_USAGE;
    };
    let status = match run::status_any(cfg.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_FAILED;
        }
    };
    let Some(op) = op else {
        if confirm.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&status).unwrap_or_default()
            );
        } else {
            print_status(env, &status);
        }
        return EXIT_OK;
    };
    if let Err(e) = engine.check_writable(env) {
        eprintln!("shipdeck: {e}");
        return EXIT_FAILED;
    }
    if !status.findings.is_empty() && matches!(op, Op::Up(_)) {
        print_status(env, &status);
        if !confirm.yes {
            eprintln!(
                "shipdeck: pending migrations have lint findings; read them, then pass --yes to apply anyway"
            );
            return EXIT_USAGE;
        }
    }
    if op.destructive() {
        let protected = engine.config.env(env).is_some_and(|e| e.protected);
        if protected {
            if let Err(e) = engine.check_confirmation(env, confirm.typed.as_deref()) {
                eprintln!("shipdeck: {e}");
                return EXIT_USAGE;
            }
        } else if !confirm.yes {
            if std::io::stdin().is_terminal() {
                eprint!("migrate {env} {}: continue? [y/N] ", op.describe());
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    eprintln!("shipdeck: cancelled");
                    return EXIT_FAILED;
                }
            } else {
                eprintln!(
                    "shipdeck: `{}` needs --yes (or --confirm {env} on a protected env)",
                    op.describe()
                );
                return EXIT_USAGE;
            }
        }
    }
    let started = std::time::Instant::now();
    // An external tool's output, line by line, on stderr (stdout stays JSON).
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        while let Some(line) = lines_rx.recv().await {
            eprintln!("  │ {line}");
        }
    });
    let result = run::apply_streaming(cfg, op, Some(lines_tx)).await;
    let _ = printer.await;
    engine.audit_action(
        &format!("migrate {}", op.describe()),
        env,
        Some(status.version_text()),
        result.is_ok(),
        started.elapsed().as_millis() as u64,
        result.as_ref().err().cloned(),
    );
    match result {
        Ok(summary) => {
            if confirm.json {
                println!(
                    "{}",
                    serde_json::json!({"env": env, "op": op, "result": "ok", "summary": summary})
                );
            } else {
                println!("migrate {env} {}: {summary}", op.describe());
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("shipdeck: migrate {env} {}: {e}", op.describe());
            EXIT_FAILED
        }
    }
}

fn print_status(env: &str, s: &run::MigrationView) {
    println!(
        "{env}: version {}{} · {} pending · {} files · {}",
        s.version_text(),
        if s.dirty { " (DIRTY)" } else { "" },
        s.pending_count(),
        s.total,
        s.tool
    );
    for (v, title) in &s.pending {
        println!("  pending {v:06} {title}");
    }
    for (id, title) in &s.pending_revisions {
        println!("  pending {id} {title}");
    }
    for v in &s.missing {
        println!("  applied {v} has no file here");
    }
    for f in &s.findings {
        println!(
            "  ⚠ {}:{} {}: {}\n      {}",
            f.file, f.line, f.rule, f.statement, f.advice
        );
    }
}
