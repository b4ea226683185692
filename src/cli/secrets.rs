//! `shipdeck secrets ENV list|set NAME|unset NAME|rotate NAME` and
//! `shipdeck secrets diff A B`: the same engine calls as the Secrets panel.
//! Values come from stdin (or a masked prompt on a terminal), or are
//! generated; they are never taken from argv and never printed.

use crate::engine::secrets::SecretsAt;
use std::io::IsTerminal;

use tokio::sync::{mpsc, watch};

use super::plan::{Confirm, engine_for};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use crate::engine::rotate::{RotationEvent, RotationRequest};
use crate::engine::{Engine, StepStatus};
use crate::secrets::SecretValue;
use crate::secrets::generate::{Alphabet, generate};

/// Flags of `shipdeck secrets`.
#[derive(Debug, Clone, clap::Args)]
pub struct SecretsFlags {
    /// rotate: envs in order (default: ENV then its promote_to chain).
    #[arg(long, value_delimiter = ',', value_name = "ENV,ENV")]
    pub envs: Vec<String>,
    /// set/rotate: generate a random value of this many characters instead of reading one.
    #[arg(long, value_name = "LEN", num_args = 0..=1, default_missing_value = "48")]
    pub generate: Option<usize>,
    /// Alphabet of generated values.
    #[arg(long, value_enum, default_value_t = Alphabet::Alnum)]
    pub alphabet: Alphabet,
    /// set: stage the value (applied by the next deploy) where the provider can.
    #[arg(long)]
    pub stage: bool,
    /// rotate: the environment variable that holds the previous value, to restore on a failed gate.
    #[arg(long, value_name = "VAR")]
    pub previous_from_env: Option<String>,
    /// The service whose secrets these are, where an env keeps them per service (a Fly app each).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

/// What `secrets` was asked to do.
#[derive(Debug, PartialEq, Eq)]
enum Op {
    List(String),
    Set(String, String),
    Unset(String, String),
    Rotate(String, String),
    Diff(String, String),
}

const USAGE: &str = "usage: shipdeck secrets ENV list | ENV set NAME | ENV unset NAME | ENV rotate NAME [--envs a,b] | diff A B";

fn parse(args: &[String]) -> Result<Op, String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["diff", x, y] => Ok(Op::Diff(x.to_string(), y.to_string())),
        ["diff", ..] => Err(format!("`secrets diff` compares two envs; {USAGE}")),
        [env] | [env, "list"] => Ok(Op::List(env.to_string())),
        [env, "set", name] => Ok(Op::Set(env.to_string(), name.to_string())),
        [env, "unset", name] => Ok(Op::Unset(env.to_string(), name.to_string())),
        [env, "rotate", name] => Ok(Op::Rotate(env.to_string(), name.to_string())),
        [_, op @ ("set" | "unset" | "rotate")] => {
            Err(format!("`{op}` needs a secret name; {USAGE}"))
        }
        // Not echoed: the extra word is most likely the value itself.
        [_, "set" | "unset" | "rotate", _, _, ..] => Err(format!(
            "unexpected extra argument: values are read from stdin (or --generate), never from the command line; {USAGE}"
        )),
        [_, op, ..] => Err(format!("unknown secrets action `{op}`; {USAGE}")),
        [] => Err(USAGE.into()),
    }
}

/// Run the command; returns the exit code.
pub async fn secrets(
    config: Config,
    read_only: bool,
    args: &[String],
    flags: SecretsFlags,
    confirm: Confirm,
) -> u8 {
    let op = match parse(args) {
        Ok(op) => op,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_USAGE;
        }
    };
    let envs: Vec<&str> = match &op {
        Op::List(e) | Op::Set(e, _) | Op::Unset(e, _) | Op::Rotate(e, _) => vec![e.as_str()],
        Op::Diff(a, b) => vec![a.as_str(), b.as_str()],
    };
    for env in envs
        .into_iter()
        .chain(flags.envs.iter().map(String::as_str))
    {
        if config.env(env).is_none() {
            eprintln!("shipdeck: {}", config.unknown_env(env));
            return EXIT_USAGE;
        }
    }
    let Ok((engine, _fleet)) = engine_for(config, read_only).await else {
        return EXIT_FAILED;
    };
    match op {
        Op::List(env) => list(&engine, &env, flags.service.as_deref(), confirm.json).await,
        Op::Diff(a, b) => diff(&engine, &a, &b, flags.service.as_deref(), confirm.json).await,
        Op::Set(env, name) => {
            let Some(value) = value_for(&name, &flags) else {
                return EXIT_USAGE;
            };
            if !confirmed(&engine, &env, &format!("set {name}"), &confirm) {
                return EXIT_USAGE;
            }
            let at = SecretsAt {
                env: &env,
                service: flags.service.as_deref(),
            };
            let result = engine
                .secret_set(at, &name, value, flags.stage, confirm.typed.as_deref())
                .await;
            report(result, &env, &name, "set", confirm.json)
        }
        Op::Unset(env, name) => {
            if !confirmed(&engine, &env, &format!("unset {name}"), &confirm) {
                return EXIT_USAGE;
            }
            let at = SecretsAt {
                env: &env,
                service: flags.service.as_deref(),
            };
            let result = engine
                .secret_unset(at, &name, confirm.typed.as_deref())
                .await;
            report(result, &env, &name, "unset", confirm.json)
        }
        Op::Rotate(env, name) => rotate(&engine, &env, &name, &flags, &confirm).await,
    }
}

async fn list(engine: &Engine, env: &str, service: Option<&str>, json: bool) -> u8 {
    match engine.secrets_list(env, service).await {
        Ok(list) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
            EXIT_OK
        }
        Ok(list) => {
            println!("{:<28} {:<18} {:<20} STATE", "NAME", "DIGEST", "UPDATED");
            for s in list {
                println!(
                    "{:<28} {:<18} {:<20} {}",
                    s.name,
                    s.digest.as_deref().unwrap_or("digest unavailable"),
                    s.updated_at
                        .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                    if s.staged { "staged" } else { "deployed" }
                );
            }
            EXIT_OK
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn diff(engine: &Engine, a: &str, b: &str, service: Option<&str>, json: bool) -> u8 {
    match engine.secrets_diff(a, b, service).await {
        Ok(d) if json => {
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
            EXIT_OK
        }
        Ok(d) => {
            let show = |label: &str, names: &[String]| {
                if !names.is_empty() {
                    println!("{label}: {}", names.join(", "));
                }
            };
            show(&format!("only in {a} (missing in {b})"), &d.only_in_a);
            show(&format!("only in {b} (missing in {a})"), &d.only_in_b);
            show("different values", &d.differ);
            show("same value", &d.same);
            show("digest unavailable", &d.unknown);
            EXIT_OK
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// The value to set: generated, or read from stdin / a masked prompt.
fn value_for(name: &str, flags: &SecretsFlags) -> Option<SecretValue> {
    if let Some(len) = flags.generate {
        return match generate(len, flags.alphabet) {
            Ok(v) => {
                eprintln!(
                    "generated a {len}-character {} value for {name} (not shown)",
                    flags.alphabet.label()
                );
                Some(v)
            }
            Err(e) => {
                eprintln!("shipdeck: {e}");
                None
            }
        };
    }
    match crate::credentials::read_secret(&format!("new value for {name}: ")) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("shipdeck: {e}; pipe the value on stdin, or pass --generate");
            None
        }
    }
}

/// Confirmation for non-protected envs (protected ones are checked by the engine).
fn confirmed(engine: &Engine, env: &str, what: &str, confirm: &Confirm) -> bool {
    let protected = engine.config.env(env).is_some_and(|e| e.protected);
    if protected || confirm.yes || what.starts_with("set") {
        return true;
    }
    if std::io::stdin().is_terminal() {
        eprint!("{what} in {env}: continue? [y/N] ");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        if matches!(line.trim(), "y" | "Y" | "yes") {
            return true;
        }
        eprintln!("shipdeck: cancelled");
        return false;
    }
    eprintln!("shipdeck: `{what}` needs --yes (or --confirm {env} on a protected env)");
    false
}

fn report(
    result: Result<(), crate::engine::EngineError>,
    env: &str,
    name: &str,
    verb: &str,
    json: bool,
) -> u8 {
    match result {
        Ok(()) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"env": env, "name": name, "action": verb, "result": "ok"})
                );
            } else {
                println!("{verb} {name} in {env}");
            }
            EXIT_OK
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn rotate(
    engine: &Engine,
    env: &str,
    name: &str,
    flags: &SecretsFlags,
    confirm: &Confirm,
) -> u8 {
    let envs = if flags.envs.is_empty() {
        chain_from(engine, env)
    } else {
        flags.envs.clone()
    };
    let previous = match &flags.previous_from_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(SecretValue::new(v)),
            _ => {
                eprintln!(
                    "shipdeck: --previous-from-env {var}: the variable is unset or empty; export the previous value in it, or drop the flag"
                );
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let Some(value) = value_for(name, flags) else {
        return EXIT_USAGE;
    };
    let typed: Vec<String> = confirm
        .typed
        .as_deref()
        .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let req = RotationRequest {
        name: name.to_string(),
        envs,
        value,
        restore_on_fail: previous.is_some(),
        previous,
        service: flags.service.clone(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_abort_tx, abort_rx) = watch::channel(false);
    let json = confirm.json;
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if json {
                println!("{}", serde_json::to_string(&event).unwrap_or_default());
            } else {
                print_event(&event);
            }
        }
    });
    let outcome = engine.rotate(req, &typed, tx, abort_rx).await;
    let _ = printer.await;
    if !json {
        println!("rotate {name}: {}", outcome.describe());
    }
    outcome.exit_code()
}

/// `env`, then its promote_to chain (staging → production), without loops.
fn chain_from(engine: &Engine, env: &str) -> Vec<String> {
    let mut out = vec![env.to_string()];
    let mut cur = engine.config.env(env).and_then(|e| e.promote_target());
    while let Some(next) = cur {
        if out.iter().any(|e| e == next) {
            break;
        }
        out.push(next.to_string());
        cur = engine.config.env(next).and_then(|e| e.promote_target());
    }
    out
}

fn print_event(event: &RotationEvent) {
    match event {
        RotationEvent::StepStarted { env, step } => println!("{env}: {} …", step.label()),
        RotationEvent::StepFinished {
            env,
            step,
            status,
            detail,
        } => {
            let mark = match status {
                StepStatus::Ok => "✓",
                StepStatus::Skipped => "–",
                StepStatus::Failed => "✗",
            };
            println!("{env}: {mark} {} {detail}", step.label());
        }
        RotationEvent::Gate {
            env,
            passes,
            failures,
            failing,
        } => {
            if failing.is_empty() {
                println!("{env}:   gate sample ok ({passes} in a row)");
            } else {
                println!(
                    "{env}:   gate sample failing ({failures} so far): {}",
                    failing.join(", ")
                );
            }
        }
        RotationEvent::Finished { .. } => {}
    }
}

fn fail(message: &str) -> u8 {
    eprintln!("shipdeck: {message}");
    EXIT_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn argument_shapes() {
        assert_eq!(parse(&args("staging")), Ok(Op::List("staging".into())));
        assert_eq!(
            parse(&args("diff staging production")),
            Ok(Op::Diff("staging".into(), "production".into()))
        );
        assert_eq!(
            parse(&args("production rotate JWT")),
            Ok(Op::Rotate("production".into(), "JWT".into()))
        );
        assert!(
            parse(&args("staging set"))
                .unwrap_err()
                .contains("needs a secret name")
        );
        assert!(
            parse(&args("staging set JWT hunter2"))
                .unwrap_err()
                .contains("never from the command line")
        );
        assert!(
            parse(&args("staging frob X"))
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            parse(&args("diff staging"))
                .unwrap_err()
                .contains("two envs")
        );
    }
}
