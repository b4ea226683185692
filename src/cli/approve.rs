//! `shipdeck approvals ENV` and `shipdeck approve ENV`: deploys waiting for
//! a reviewer (a GitHub environment's protection rules), listed, and
//! approved or rejected through the same engine rules as every change.

use serde_json::json;

use super::plan::engine_for;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use crate::engine::EngineError;

/// What `shipdeck approve` was asked.
#[derive(Debug, Clone, Default)]
pub struct ReviewArgs {
    /// Only this run.
    pub run: Option<String>,
    /// Reject instead of approve.
    pub reject: bool,
    /// A comment for the record.
    pub comment: Option<String>,
    /// The env's name typed back (protected envs).
    pub typed: Option<String>,
    /// Print JSON.
    pub json: bool,
}

fn failed(e: &EngineError, json: bool) -> u8 {
    let message = e.to_string();
    if json {
        println!("{}", json!({"event": "error", "message": message}));
    } else {
        eprintln!("shipdeck: {message}");
    }
    if matches!(e, EngineError::NoEnv(_)) {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// `shipdeck approvals ENV`: what waits for a reviewer.
pub async fn list(config: Config, env: &str, json: bool) -> u8 {
    let Ok((engine, _fleet)) = engine_for(config, false).await else {
        return EXIT_FAILED;
    };
    match engine.approvals(env).await {
        Ok(list) if json => {
            println!("{}", json!({ "env": env, "waiting": list }));
            EXIT_OK
        }
        Ok(list) => {
            if list.is_empty() {
                println!("nothing in `{env}` waits for an approval");
            }
            for a in list {
                println!(
                    "run {}  {}  waits on {} for {}{}",
                    a.run,
                    a.label,
                    a.environment_names(),
                    a.reviewers.join(", "),
                    if a.can_approve {
                        ""
                    } else {
                        "  (this token may not approve it)"
                    }
                );
            }
            EXIT_OK
        }
        Err(e) => failed(&e, json),
    }
}

/// `shipdeck approve ENV [--run ID] [--reject]`.
pub async fn review(config: Config, read_only: bool, env: &str, args: ReviewArgs) -> u8 {
    let Ok((engine, _fleet)) = engine_for(config, read_only).await else {
        return EXIT_FAILED;
    };
    let approve = !args.reject;
    let comment = args.comment.clone().unwrap_or_else(|| {
        format!(
            "{} with shipdeck by {}",
            if approve { "approved" } else { "rejected" },
            crate::actor::Actor::current().describe()
        )
    });
    match engine
        .review(
            env,
            args.run.as_deref(),
            approve,
            &comment,
            args.typed.as_deref(),
        )
        .await
    {
        Ok(done) => {
            let verb = if approve { "approved" } else { "rejected" };
            for a in &done {
                if args.json {
                    println!(
                        "{}",
                        json!({"event": verb, "env": env, "run": a.run, "label": a.label})
                    );
                } else {
                    println!("{verb} run {} ({}) for `{env}`", a.run, a.label);
                }
            }
            EXIT_OK
        }
        Err(e) => failed(&e, args.json),
    }
}
