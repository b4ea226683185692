//! The rollout engine against the demo provider over real loopback HTTP:
//! good promotions complete, the bad release rolls back by itself, pause
//! pauses, abort leaves one consistent release, and every safety refusal is
//! enforced by the engine itself.

use std::sync::Arc;
use std::time::Duration;

use shipdeck::config::{Config, HumanDuration, OnFail};
use shipdeck::demo::Fleet;
use shipdeck::demo::store::{BAD_VERSION, image_for};
use shipdeck::engine::plan::StepKind;
use shipdeck::engine::{Actor, Engine, PlanEvent, PlanOutcome, ResumeMode};
use shipdeck::paths::StatePaths;
use shipdeck::provider::registry::service_target;
use shipdeck::provider::{CallSink, current_release};
use tokio::sync::{mpsc, watch};

struct Setup {
    engine: Engine,
    fleet: Fleet,
    _dir: tempfile::TempDir,
}

/// The demo fleet with fast gates, state in a temp dir.
async fn setup(tweak: impl FnOnce(&mut Config)) -> Setup {
    setup_with_calls(tweak, CallSink::discard()).await
}

/// As [`setup`], with every provider call recorded in `calls`.
async fn setup_with_calls(tweak: impl FnOnce(&mut Config), calls: CallSink) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::demo().unwrap();
    for env in &mut cfg.envs {
        env.gates.interval = HumanDuration(Duration::from_millis(300));
        env.gates.samples = 2;
        env.gates.timeout = HumanDuration(Duration::from_secs(20));
        env.gates.stabilize = Some(HumanDuration(Duration::from_secs(1)));
    }
    tweak(&mut cfg);
    let paths = StatePaths::new(dir.path().to_path_buf());
    let fleet = Fleet::start(&cfg, Some(&paths.demo_store())).await.unwrap();
    fleet.apply_to(&mut cfg);
    let providers =
        shipdeck::provider::registry::providers_for(&cfg, Some(&fleet.control_url), calls);
    let actor = Actor {
        user: "tester".into(),
        host: "ci".into(),
    };
    Setup {
        engine: Engine::new(Arc::new(cfg), providers, paths, actor, false),
        fleet,
        _dir: dir,
    }
}

/// The image service `svc` of `env` runs, as the provider reports it.
async fn service_image(engine: &Engine, env: &str, svc: &str) -> String {
    let idx = engine
        .config
        .envs
        .iter()
        .position(|e| e.name() == env)
        .unwrap();
    let s = engine.config.envs[idx]
        .services
        .iter()
        .position(|x| x.name() == svc)
        .unwrap();
    let provider = engine.providers[idx].clone().unwrap();
    let releases = provider
        .releases(&service_target(&engine.config, idx, s), 50)
        .await
        .unwrap();
    let artifact = current_release(&releases)
        .unwrap()
        .artifact
        .clone()
        .unwrap();
    artifact.as_image().unwrap().full()
}

/// The image every service of `env` runs (they must agree).
async fn current_image(engine: &Engine, env: &str) -> String {
    let (api, web) = (
        service_image(engine, env, "api").await,
        service_image(engine, env, "web").await,
    );
    assert_eq!(api, web, "api and web of `{env}` run different images");
    api
}

/// Run a plan to the end, collecting its events.
async fn run(
    engine: &Engine,
    plan: shipdeck::engine::plan::Plan,
    typed: Option<&str>,
) -> (PlanOutcome, Vec<PlanEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_abort_tx, abort_rx) = watch::channel(false);
    let outcome = engine.run(plan, typed, tx, abort_rx).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (outcome, events)
}

/// Staging runs the bad build; roll it back to v43 first so it has a good one to promote.
async fn make_staging_good(engine: &Engine) {
    let preview = engine
        .preview_rollback("staging", Some("v43"), None)
        .await
        .unwrap();
    let (outcome, _) = run(engine, preview.plan, None).await;
    assert_eq!(outcome, PlanOutcome::Completed);
    engine.unpin("staging").unwrap();
}

#[tokio::test]
async fn good_promotion_completes_and_deploys_the_exact_source_image() {
    let s = setup(|_| {}).await;
    make_staging_good(&s.engine).await;
    let source_image = current_image(&s.engine, "staging").await;
    assert_eq!(source_image, image_for(43));
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    assert!(
        preview.changes.iter().all(|c| c.to == source_image),
        "promote deploys what runs in the source, never latest: {:?}",
        preview.changes
    );
    assert_eq!(
        preview.plan.stages.len(),
        2,
        "the demo promotes api, then web"
    );
    assert!(preview.protected);
    assert!(
        preview
            .secrets_missing
            .contains(&"RESEND_API_KEY".to_string()),
        "the diff shows secrets missing in the target"
    );
    assert_eq!(
        preview.plan.migrate_to,
        Some(7),
        "the target's schema is brought to the source's version"
    );
    assert!(
        preview
            .notes
            .iter()
            .any(|n| n.contains("migrations that will run in `production`")
                && n.contains("6 create_webhook_signatures_v2.0")),
        "{:?}",
        preview.notes
    );
    let (outcome, events) = run(&s.engine, preview.plan, Some("production")).await;
    assert_eq!(outcome, PlanOutcome::Completed, "{events:#?}");
    assert_eq!(current_image(&s.engine, "production").await, source_image);
    let prod_cfg = s
        .engine
        .config
        .env("production")
        .unwrap()
        .migrations
        .clone()
        .unwrap();
    let schema = shipdeck::migrate::run::status_any(prod_cfg).await.unwrap();
    assert_eq!(
        schema.current,
        Some(7),
        "migrate up ran before the deploy, up to staging's version"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, PlanEvent::StepFinished { detail, .. } if detail.contains("now at 7"))
        ),
        "{events:#?}"
    );
    let gate_samples = events
        .iter()
        .filter(|e| matches!(e, PlanEvent::Gate { .. }))
        .count();
    assert!(gate_samples >= 2, "gates were sampled");
    let audit = s.engine.audit().read(Some("production")).unwrap();
    assert_eq!(audit.torn, 0);
    let results: Vec<&str> = audit.records.iter().map(|r| r.result.as_str()).collect();
    assert_eq!(results, ["started", "ok"]);
    assert_eq!(audit.records[1].actor, "tester");
    // `to` names the source releases the artifacts came from (staging's rollback
    // releases running v43's image: api's v45, then web's v46).
    assert_eq!(audit.records[1].to.as_deref(), Some("v45,v46"));
    assert_eq!(audit.records[1].from.as_deref(), Some("v41"));
}

#[tokio::test]
async fn bad_release_fails_its_gate_and_rolls_back_automatically() {
    let s = setup(|_| {}).await;
    let before = current_image(&s.engine, "production").await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let api = &preview.changes[0];
    assert_eq!(
        (api.services.as_slice(), api.to.as_str()),
        (&["api".to_string()][..], image_for(BAD_VERSION).as_str())
    );
    let (outcome, events) = run(&s.engine, preview.plan, Some("production")).await;
    let PlanOutcome::RolledBack { reason } = &outcome else {
        panic!("expected a rollback, got {outcome:?}: {events:#?}")
    };
    assert!(
        reason.contains("storage") || reason.contains("error rate"),
        "the failing numbers are shown: {reason}"
    );
    assert_eq!(outcome.exit_code(), 3);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PlanEvent::Reverting { .. }))
    );
    assert_eq!(
        current_image(&s.engine, "production").await,
        before,
        "production is back on what it ran"
    );
}

/// Production pauses on a failed gate; staging's bad api promoted into it has just paused.
async fn paused_promotion() -> Setup {
    let s = setup(|cfg| {
        cfg.envs
            .iter_mut()
            .find(|e| e.name() == "production")
            .unwrap()
            .on_fail = OnFail::Pause;
    })
    .await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (outcome, _) = run(&s.engine, preview.plan, Some("production")).await;
    assert!(matches!(outcome, PlanOutcome::Paused { .. }), "{outcome:?}");
    s
}

#[tokio::test]
async fn on_fail_pause_holds_for_a_human() {
    let s = paused_promotion().await;
    assert_eq!(
        service_image(&s.engine, "production", "api").await,
        image_for(BAD_VERSION),
        "nothing was reverted"
    );
    assert_eq!(
        service_image(&s.engine, "production", "web").await,
        image_for(41),
        "the plan held at the api stage: web was never deployed"
    );
    // It holds: the lock stays taken, marked paused, and no other plan gets in.
    let locks = s.engine.paths.locks();
    let holder = shipdeck::engine::lock::holder(&locks, "production").expect("lock kept");
    assert!(
        holder.paused.as_deref().unwrap().contains("health gate"),
        "{holder:?}"
    );
    let again = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (second, _) = run(&s.engine, again.plan, Some("production")).await;
    assert!(
        second.describe().contains("paused at"),
        "another plan is refused and told why: {second:?}"
    );
    // It is offered to go on, with its failing numbers.
    let paused = s.engine.interrupted();
    assert_eq!(paused.len(), 1, "the second plan left no journal behind");
    let (step, reason) = paused[0].paused().unwrap();
    assert!(
        reason.contains("storage") || reason.contains("error"),
        "{reason}"
    );
    let plan_id = paused[0].plan_id.clone();
    // Continue: the gate runs again, fails again, and the plan holds again.
    let (outcome, _) = resume(&s.engine, &plan_id, ResumeMode::Resume).await;
    assert!(matches!(outcome, PlanOutcome::Paused { .. }), "{outcome:?}");
    assert_eq!(s.engine.interrupted()[0].paused().unwrap().0, step);
    // Roll back: production is back on what it ran, the lock is free.
    let (outcome, _) = resume(&s.engine, &plan_id, ResumeMode::Rollback).await;
    assert!(
        matches!(outcome, PlanOutcome::RolledBack { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        service_image(&s.engine, "production", "api").await,
        image_for(41)
    );
    assert!(shipdeck::engine::lock::holder(&locks, "production").is_none());
    assert!(s.engine.interrupted().is_empty());
}

async fn resume(engine: &Engine, plan_id: &str, mode: ResumeMode) -> (PlanOutcome, Vec<PlanEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_abort_tx, abort_rx) = watch::channel(false);
    let outcome = engine
        .resume(plan_id, mode, Some("production"), tx, abort_rx)
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (outcome, events)
}

#[tokio::test]
async fn a_paused_plan_abandoned_keeps_what_it_deployed_and_frees_the_env() {
    let s = paused_promotion().await;
    let plan_id = s.engine.interrupted()[0].plan_id.clone();
    let (outcome, _) = resume(&s.engine, &plan_id, ResumeMode::Abandon).await;
    assert!(
        matches!(outcome, PlanOutcome::Abandoned { .. }),
        "{outcome:?}"
    );
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(
        service_image(&s.engine, "production", "api").await,
        image_for(BAD_VERSION),
        "abandoning reverts nothing"
    );
    assert!(shipdeck::engine::lock::holder(&s.engine.paths.locks(), "production").is_none());
    assert!(s.engine.interrupted().is_empty());
    let audit = std::fs::read_to_string(s.engine.paths.audit()).unwrap();
    assert!(audit.contains("\"abandoned\""), "{audit}");
    assert!(audit.contains("\"paused\""), "{audit}");
}

#[tokio::test]
async fn abort_mid_plan_leaves_one_consistent_release() {
    let s = setup(|cfg| {
        let prod = cfg
            .envs
            .iter_mut()
            .find(|e| e.name() == "production")
            .unwrap();
        prod.gates.stabilize = Some(HumanDuration(Duration::from_secs(30)));
    })
    .await;
    make_staging_good(&s.engine).await;
    let before = current_image(&s.engine, "production").await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let stabilize = preview
        .plan
        .steps
        .iter()
        .position(|k| matches!(k, StepKind::Stabilize { .. }))
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (abort_tx, abort_rx) = watch::channel(false);
    let engine = s.engine.clone();
    let task = tokio::spawn(async move {
        engine
            .run(preview.plan, Some("production"), tx, abort_rx)
            .await
    });
    while let Some(event) = rx.recv().await {
        if matches!(event, PlanEvent::StepStarted { index, .. } if index == stabilize) {
            abort_tx.send(true).unwrap();
            break;
        }
    }
    let outcome = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, PlanOutcome::Aborted { reverted: true });
    assert_eq!(
        current_image(&s.engine, "production").await,
        before,
        "the deploy was reversed, not left half-done"
    );
    assert!(
        s.engine.interrupted().is_empty(),
        "an aborted plan is finished in the journal"
    );
}

#[tokio::test]
async fn refusals_are_enforced_by_the_engine() {
    let s = setup(|cfg| {
        cfg.envs
            .iter_mut()
            .find(|e| e.name() == "dev")
            .unwrap()
            .read_only = true;
    })
    .await;
    // Protected: no typed name, or the wrong one.
    for typed in [None, Some("prod"), Some("staging")] {
        let preview = s
            .engine
            .preview_promote("staging", "production")
            .await
            .unwrap();
        let (outcome, _) = run(&s.engine, preview.plan, typed).await;
        let PlanOutcome::Refused { reason } = outcome else {
            panic!("{typed:?} must be refused")
        };
        assert!(reason.contains("protected"), "{reason}");
    }
    // Per-env read_only.
    let preview = s.engine.preview_rollback("dev", None, None).await.unwrap();
    let (outcome, _) = run(&s.engine, preview.plan, None).await;
    assert!(
        matches!(outcome, PlanOutcome::Refused { ref reason } if reason.contains("read_only")),
        "{outcome:?}"
    );
    // --read-only refuses everything, whatever was typed.
    let mut ro = s.engine.clone();
    ro.read_only = true;
    let preview = ro.preview_promote("staging", "production").await.unwrap();
    let (outcome, _) = run(&ro, preview.plan, Some("production")).await;
    assert!(
        matches!(outcome, PlanOutcome::Refused { ref reason } if reason.contains("--read-only")),
        "{outcome:?}"
    );
    assert!(ro.unpin("production").is_err());
    // Nothing changed, and every refusal was audited.
    assert_eq!(current_image(&s.engine, "production").await, image_for(41));
    let audit = s.engine.audit().read(None).unwrap();
    assert_eq!(
        audit
            .records
            .iter()
            .filter(|r| r.result == "refused")
            .count(),
        5
    );
}

#[tokio::test]
async fn rollback_pins_and_promotion_waits_for_an_explicit_unpin() {
    let s = setup(|_| {}).await;
    let preview = s
        .engine
        .preview_rollback("production", None, None)
        .await
        .unwrap();
    let to: Vec<String> = preview
        .plan
        .units
        .iter()
        .map(|u| u.release.as_ref().unwrap().label())
        .collect();
    assert_eq!(
        to,
        ["v40", "v40"],
        "default is each service's previous good release"
    );
    assert!(
        preview
            .notes
            .iter()
            .any(|n| n.contains("database is never rolled back")),
        "{:?}",
        preview.notes
    );
    let (outcome, _) = run(&s.engine, preview.plan, Some("production")).await;
    assert_eq!(outcome, PlanOutcome::Completed);
    assert_eq!(current_image(&s.engine, "production").await, image_for(40));
    assert!(s.engine.pins().get("production").unwrap().is_some());
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (outcome, _) = run(&s.engine, preview.plan, Some("production")).await;
    assert!(
        matches!(outcome, PlanOutcome::Refused { ref reason } if reason.contains("pinned")),
        "{outcome:?}"
    );
    s.engine.unpin("production").unwrap();
    assert!(s.engine.pins().get("production").unwrap().is_none());
}

#[tokio::test]
async fn a_tools_migrate_command_runs_in_its_folder_with_the_database_url() {
    let project = tempfile::tempdir().unwrap();
    let db = project.path().join("app.db");
    let (dir, db_path) = (project.path().to_path_buf(), db.clone());
    let s = setup(move |cfg| {
        let prod = cfg
            .envs
            .iter_mut()
            .find(|e| e.name() == "production")
            .unwrap();
        prod.migrations = Some(shipdeck::config::MigrationsConfig {
            dir,
            sqlite: Some(db_path),
            database_url_env: None,
            tool: shipdeck::config::MigrationTool::Alembic,
            up: None,
            down: None,
            current: None,
            workflow: None,
            inputs: Default::default(),
            timeout: None,
            env: "production".into(),
        });
        prod.rollout.migrate_command =
            Some("pwd > ran-in.txt; echo \"$DATABASE_URL\" > url.txt; echo migrated".into());
    })
    .await;
    make_staging_good(&s.engine).await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (outcome, events) = run(&s.engine, preview.plan, Some("production")).await;
    assert_eq!(outcome, PlanOutcome::Completed, "{events:#?}");
    let ran_in = std::fs::read_to_string(project.path().join("ran-in.txt")).unwrap();
    assert_eq!(
        std::fs::canonicalize(ran_in.trim()).unwrap(),
        std::fs::canonicalize(project.path()).unwrap()
    );
    let url = std::fs::read_to_string(project.path().join("url.txt")).unwrap();
    assert_eq!(url.trim(), format!("sqlite:///{}", db.display()));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PlanEvent::StepOutput { line, .. } if line == "migrated")),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_staged_promotion_goes_api_then_web_and_a_failing_web_reverts_both_newest_first() {
    let (calls_tx, mut calls_rx) = mpsc::unbounded_channel();
    let s = setup_with_calls(|_| {}, CallSink::new(calls_tx)).await;
    make_staging_good(&s.engine).await;
    // v43 is fine for the api, but breaks the web front end.
    s.fleet
        .state
        .store
        .lock()
        .await
        .mark_bad(&image_for(43), Some("web"));
    let before = current_image(&s.engine, "production").await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let stages: Vec<Vec<String>> = preview
        .plan
        .stages
        .iter()
        .map(|s| s.services.clone())
        .collect();
    assert_eq!(stages, [["api"], ["web"]]);
    while calls_rx.try_recv().is_ok() {}
    let (outcome, events) = run(&s.engine, preview.plan, Some("production")).await;
    let PlanOutcome::RolledBack { reason } = &outcome else {
        panic!("expected a rollback, got {outcome:?}: {events:#?}")
    };
    assert!(
        reason.contains("web"),
        "the failing service is named: {reason}"
    );
    assert_eq!(outcome.exit_code(), 3);

    // api deployed and passed its gate before web deployed; web failed its gate.
    let finished: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            PlanEvent::StepFinished { step, status, .. } => {
                Some((step.clone(), format!("{status:?}")))
            }
            _ => None,
        })
        .collect();
    let pos = |name: &str| {
        finished
            .iter()
            .position(|(s, _)| s == name)
            .unwrap_or_else(|| panic!("{name}: {finished:?}"))
    };
    assert!(pos("api: deploy") < pos("api: health gate"));
    assert!(pos("api: stabilize 1s") < pos("web: deploy"));
    assert_eq!(finished[pos("api: health gate")].1, "Ok");
    assert_eq!(finished[pos("web: health gate")].1, "Failed");

    // The revert went newest first: web, then api; both run what they ran before.
    let mut rollbacks = Vec::new();
    while let Ok(c) = calls_rx.try_recv() {
        if c.method == "POST" && c.target.ends_with("/rollback") {
            rollbacks.push(c.target.clone());
        }
    }
    assert_eq!(rollbacks.len(), 2, "{rollbacks:?}");
    assert!(
        rollbacks[0].ends_with("/services/web/rollback"),
        "{rollbacks:?}"
    );
    assert!(
        rollbacks[1].ends_with("/services/api/rollback"),
        "{rollbacks:?}"
    );
    assert_eq!(current_image(&s.engine, "production").await, before);

    // `--json` step events name the stage and its services.
    let json: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let web_deploy = json
        .iter()
        .find(|e| e["event"] == "step_started" && e["step"] == "web: deploy")
        .expect("a step_started event for web's deploy");
    assert_eq!(web_deploy["stage"], 1);
    assert_eq!(web_deploy["services"], serde_json::json!(["web"]));
    assert!(
        json.iter().any(|e| e["event"] == "deploy_progress" && e["services"] == serde_json::json!(["api"])),
        "deploys report progress with their services"
    );
}

#[tokio::test]
async fn a_failed_revert_is_reported_as_such_not_as_rolled_back() {
    let s = setup(|_| {}).await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let mut plan = preview.plan;
    // The api has no earlier release to return to (a first deploy): the revert must fail loudly.
    plan.units[0].previous = None;
    let (outcome, events) = run(&s.engine, plan, Some("production")).await;
    let PlanOutcome::RevertFailed { reason } = &outcome else {
        panic!("expected a failed revert, got {outcome:?}: {events:#?}")
    };
    assert!(reason.contains("api ran no release before"), "{reason}");
    assert_eq!(
        outcome.exit_code(),
        1,
        "not the gate's 3: the env needs a person"
    );
    let audit = s.engine.audit().read(Some("production")).unwrap();
    assert_eq!(audit.records.last().unwrap().result, "revert_failed");
    // Until someone acts, the env is pinned with the alarm: no promotion lands on it.
    let pin = s.engine.pins().get("production").unwrap().unwrap();
    assert!(pin.is_revert_failed(), "{pin:?}");
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (outcome, _) = run(&s.engine, preview.plan, Some("production")).await;
    assert!(
        matches!(outcome, PlanOutcome::Refused { ref reason } if reason.contains("revert failed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_revert_onto_an_unhealthy_env_is_not_called_rolled_back() {
    // A command check that production fails whatever it runs (its cache is
    // down): the gate fails, the revert lands, and the health check after it
    // must still say no.
    let s = setup(|cfg| {
        let prod = cfg
            .envs
            .iter_mut()
            .find(|e| e.name() == "production")
            .unwrap();
        prod.gates.command = vec![shipdeck::config::CommandCheck {
            run: "sh -c 'echo cache down; exit 1'".into(),
            expect_exit: 0,
            contains: None,
            timeout: None,
        }];
    })
    .await;
    let before = current_image(&s.engine, "production").await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (outcome, events) = run(&s.engine, preview.plan, Some("production")).await;
    let PlanOutcome::RevertFailed { reason } = &outcome else {
        panic!("expected a failed revert, got {outcome:?}: {events:#?}")
    };
    assert!(
        reason.contains("back but unhealthy") && reason.contains("cache down"),
        "{reason}"
    );
    assert_eq!(outcome.exit_code(), 1);
    assert_eq!(
        current_image(&s.engine, "production").await,
        before,
        "the release itself is back; only its health is not"
    );
}

#[tokio::test]
async fn a_rotation_started_during_a_plan_cannot_take_the_plans_abort() {
    use shipdeck::app::{Effect, Msg, effects::Runner};
    use shipdeck::engine::rotate::{RotationEvent, RotationOutcome, RotationRequest};
    let s = setup(|cfg| {
        let prod = cfg
            .envs
            .iter_mut()
            .find(|e| e.name() == "production")
            .unwrap();
        prod.gates.stabilize = Some(HumanDuration(Duration::from_secs(30)));
    })
    .await;
    make_staging_good(&s.engine).await;
    let preview = s
        .engine
        .preview_promote("staging", "production")
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(s.engine.clone(), tx);
    runner.run(Effect::RunPlan {
        plan: Box::new(preview.plan),
        typed: Some("production".into()),
    });
    // Wait until the plan is past its first deploy, then start a rotation in dev.
    let mut rotation_started = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut plan_outcome = None;
    let mut rotation_outcome = None;
    let mut aborted = false;
    while (plan_outcome.is_none() || rotation_outcome.is_none())
        && tokio::time::Instant::now() < deadline
    {
        let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await else {
            break;
        };
        match msg {
            Msg::Plan(PlanEvent::StepStarted { step, .. })
                if step == "api: stabilize 30s" && !rotation_started =>
            {
                rotation_started = true;
                runner.run(Effect::Rotate {
                    req: Box::new(RotationRequest {
                        name: "JWT_SECRET_KEY".into(),
                        envs: vec!["dev".into()],
                        value: shipdeck::secrets::SecretValue::new(
                            "a-new-signing-key-of-well-over-32-bytes".into(),
                        ),
                        previous: None,
                        restore_on_fail: false,
                        service: None,
                    }),
                    typed: Vec::new(),
                });
            }
            Msg::Rotation(RotationEvent::StepStarted { .. }) if !aborted => {
                // The rotation is running: `a` on the ladder must still stop the plan.
                aborted = true;
                runner.run(Effect::AbortPlan);
            }
            Msg::Plan(PlanEvent::Finished { outcome }) => plan_outcome = Some(outcome),
            Msg::Rotation(RotationEvent::Finished { outcome }) => rotation_outcome = Some(outcome),
            _ => {}
        }
    }
    assert!(aborted, "the rotation started while the plan ran");
    assert_eq!(
        plan_outcome,
        Some(PlanOutcome::Aborted { reverted: true }),
        "the plan's own switch stopped it"
    );
    // However dev's gate judges it, the plan's abort did not stop the rotation.
    assert!(
        rotation_outcome.is_some()
            && !matches!(rotation_outcome, Some(RotationOutcome::Aborted { .. })),
        "the rotation was not aborted by the plan's abort: {rotation_outcome:?}"
    );
}
