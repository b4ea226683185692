//! How much of a rollback's time is shipdeck's own, on the demo fleet over loopback:
//!   1. a confirmed rollback of a protected env (the moment the typed name is
//!      accepted) → the rollback request reaching the provider;
//!   2. a gate's failing sample → the automatic rollback starting, and reaching
//!      the provider.
//!
//! Run: `cargo bench --bench rollout_latency`. Prints medians over RUNS runs.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use shipdeck::config::{Config, HumanDuration};
use shipdeck::demo::Fleet;
use shipdeck::engine::{Actor, Engine, PlanEvent};
use shipdeck::paths::StatePaths;
use shipdeck::provider::CallSink;
use tokio::sync::{mpsc, watch};

const RUNS: usize = 7;

async fn engine(dir: &std::path::Path) -> (Engine, Fleet) {
    let mut cfg = Config::demo().unwrap();
    for env in &mut cfg.envs {
        env.gates.interval = HumanDuration(Duration::from_millis(300));
        env.gates.samples = 2;
        env.gates.stabilize = None;
    }
    let paths = StatePaths::new(dir.to_path_buf());
    let fleet = Fleet::start(&cfg, Some(&paths.demo_store())).await.unwrap();
    fleet.apply_to(&mut cfg);
    let providers = shipdeck::provider::registry::providers_for(
        &cfg,
        Some(&fleet.control_url),
        CallSink::discard(),
    );
    let actor = Actor {
        user: "bench".into(),
        host: "local".into(),
    };
    (
        Engine::new(Arc::new(cfg), providers, paths, actor, false),
        fleet,
    )
}

/// When the provider recorded the newest production release.
async fn newest_release_at(engine: &Engine) -> chrono::DateTime<Utc> {
    let idx = engine
        .config
        .envs
        .iter()
        .position(|e| e.name() == "production")
        .unwrap();
    let p = engine.providers[idx].clone().unwrap();
    let list = p
        .releases(
            &shipdeck::provider::registry::service_target(&engine.config, idx, 0),
            1,
        )
        .await
        .unwrap();
    list[0].created_at
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut confirm_to_request = Vec::new();
    let mut sample_to_revert = Vec::new();
    let mut sample_to_request = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _fleet) = engine(dir.path()).await;

        // 1. Rollback of protected production, confirmed by its typed name.
        let preview = engine
            .preview_rollback("production", None, None)
            .await
            .unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let (_abort_tx, abort_rx) = watch::channel(false);
        let t0 = Utc::now();
        engine
            .run(preview.plan, Some("production"), tx, abort_rx)
            .await;
        let reached = newest_release_at(&engine).await;
        confirm_to_request.push((reached - t0).num_microseconds().unwrap() as f64 / 1000.0);
        engine.unpin("production").unwrap();

        // 2. Promote the bad build: time from the failing sample to the revert.
        let preview = engine
            .preview_promote("staging", "production")
            .await
            .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_abort_tx, abort_rx) = watch::channel(false);
        let task = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .run(preview.plan, Some("production"), tx, abort_rx)
                    .await
            })
        };
        let mut last_failing_sample = None;
        let mut revert_at = None;
        while let Some(event) = rx.recv().await {
            match event {
                PlanEvent::Gate { failing, .. } if !failing.is_empty() => {
                    last_failing_sample = Some(Utc::now())
                }
                PlanEvent::Reverting { .. } => revert_at = Some(Utc::now()),
                PlanEvent::Finished { .. } => break,
                _ => {}
            }
        }
        task.await.unwrap();
        let (sample, revert) = (last_failing_sample.unwrap(), revert_at.unwrap());
        let reached = newest_release_at(&engine).await;
        sample_to_revert.push((revert - sample).num_microseconds().unwrap() as f64 / 1000.0);
        sample_to_request.push((reached - sample).num_microseconds().unwrap() as f64 / 1000.0);
    }
    println!("runs={RUNS}");
    println!(
        "confirmed rollback -> request at provider: median {:.1} ms",
        median(confirm_to_request)
    );
    println!(
        "failing gate sample -> rollback start:     median {:.2} ms",
        median(sample_to_revert)
    );
    println!(
        "failing gate sample -> request at provider: median {:.1} ms",
        median(sample_to_request)
    );
}
