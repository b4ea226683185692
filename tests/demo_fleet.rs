//! The demo fleet over real loopback HTTP: every service's health and metrics,
//! and the demo provider's releases, instances, secrets and log stream.

use std::time::Duration;

use futures::StreamExt;
use shipdeck::config::Config;
use shipdeck::demo::Fleet;
use shipdeck::domain::Health;
use shipdeck::health::probe::{probe_client, probe_health, scrape};
use shipdeck::health::prometheus::{MetricNames, window};
use shipdeck::provider::demo::DemoProvider;
use shipdeck::provider::{CallSink, Progress, Provider, Target, current_release};

async fn fleet() -> (Config, Fleet) {
    let mut cfg = Config::demo().unwrap();
    let fleet = Fleet::start(&cfg, None).await.unwrap();
    fleet.apply_to(&mut cfg);
    (cfg, fleet)
}

/// The env as a whole (instances, secrets, logs).
fn target(env: &str) -> Target {
    Target {
        env: env.into(),
        service: None,
        remote: env.into(),
        scope: None,
    }
}

/// One service of the env (releases, deploys, rollbacks are per service).
fn service(env: &str, svc: &str) -> Target {
    Target {
        service: Some(svc.into()),
        scope: Some(svc.into()),
        ..target(env)
    }
}

#[tokio::test]
async fn every_service_answers_health_and_metrics_over_loopback() {
    let (cfg, _fleet) = fleet().await;
    let client = probe_client(Duration::from_secs(5));
    let names = MetricNames::default();
    // Let traffic start, so the first scrape already has every series.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for env in &cfg.envs {
        for svc in &env.services {
            let url = svc.health_url.as_deref().unwrap();
            assert!(url.starts_with("http://127.0.0.1:"), "{url}");
            let probe = probe_health(&client, url).await;
            assert!(
                probe.reachable,
                "{}/{}: {:?}",
                env.name(),
                svc.name(),
                probe.report
            );
            assert!(
                !probe.report.checks.is_empty(),
                "{}/{} has per-dependency checks",
                env.name(),
                svc.name()
            );
            let health = shipdeck::health::health_of(&probe.report);
            // Staging's api runs the known-bad build (its storage client times out).
            if env.name() == "staging" && svc.name() == "api" {
                assert_eq!(health, Health::Degraded, "{}/{}", env.name(), svc.name());
            } else {
                assert_eq!(
                    health,
                    Health::Healthy,
                    "{}/{}: {:?}",
                    env.name(),
                    svc.name(),
                    probe.report
                );
            }
            let metrics = svc.metrics_url.as_deref().unwrap();
            let first = scrape(&client, metrics).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let second = scrape(&client, metrics).await.unwrap();
            let w = window(&first, &second, 1.2, &names);
            assert!(
                w.request_rate > 0.0,
                "{}/{} serves traffic",
                env.name(),
                svc.name()
            );
            assert!(w.p95.is_some());
        }
    }
}

#[tokio::test]
async fn staging_api_fails_its_storage_check() {
    let (cfg, _fleet) = fleet().await;
    let client = probe_client(Duration::from_secs(5));
    let url = cfg.env("staging").unwrap().services[0]
        .health_url
        .clone()
        .unwrap();
    let probe = probe_health(&client, &url).await;
    let storage = probe
        .report
        .checks
        .iter()
        .find(|c| c.name.starts_with("storage"))
        .expect("storage check");
    assert_eq!(format!("{:?}", storage.status), "Fail");
    assert!(
        storage
            .output
            .as_deref()
            .unwrap_or("")
            .contains("RequestTimeout")
    );
}

#[tokio::test]
async fn provider_reads_and_deploys_through_the_control_plane() {
    let (_cfg, fleet) = fleet().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let provider = DemoProvider::new(
        fleet.control_url.clone(),
        Duration::from_secs(5),
        CallSink::new(tx),
        "tester@host".into(),
    );
    let prod = provider
        .releases(&service("production", "api"), 50)
        .await
        .unwrap();
    assert_eq!(current_release(&prod).unwrap().id, "v41");
    let err = provider
        .releases(&target("production"), 50)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("name the service"), "{err}");
    let staging = provider
        .releases(&service("staging", "api"), 50)
        .await
        .unwrap();
    let good = staging.iter().find(|r| r.id == "v43").unwrap().clone();
    let instances = provider.status(&target("production")).await.unwrap();
    assert_eq!(instances.len(), 3);
    let secrets = provider.secrets(&target("staging")).await.unwrap();
    assert!(
        secrets
            .iter()
            .any(|s| s.name == "RESEND_API_KEY" && s.digest.is_some())
    );

    let artifact = good.artifact.clone().unwrap();
    let new = provider
        .deploy(
            &service("production", "api"),
            &artifact,
            "promote staging v43",
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(new.artifact, good.artifact);
    assert_eq!(new.author.as_deref(), Some("tester@host"));
    assert!(
        provider
            .runs(&service("production", "api"), &artifact)
            .await
            .unwrap()
    );
    assert!(
        !provider
            .runs(&service("production", "web"), &artifact)
            .await
            .unwrap(),
        "web deploys apart and still runs v41"
    );
    let after = provider.status(&target("production")).await.unwrap();
    assert!(
        after
            .iter()
            .all(|i| (i.health == Health::Progressing) == (i.service == "api")),
        "the api's instances restart after its deploy, web's do not: {after:?}"
    );

    let err = provider
        .releases(&service("nowhere", "api"), 5)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not found"), "{err}");

    // Every call went to the command log, with method, target and status; none carries a body.
    let mut calls = Vec::new();
    while let Ok(c) = rx.try_recv() {
        calls.push(c);
    }
    assert!(calls.len() >= 6);
    assert!(calls.iter().any(|c| {
        c.method == "POST"
            && c.target
                .ends_with("/v1/envs/production/services/api/deploys")
            && c.status == Some(201)
    }));
    assert!(calls.iter().any(|c| c.status == Some(404)));
    assert!(
        calls.iter().all(|c| !c.target.contains('?')),
        "query strings are not logged"
    );
}

#[tokio::test]
async fn log_stream_delivers_backlog_then_live_lines() {
    let (_cfg, fleet) = fleet().await;
    let provider = DemoProvider::new(
        fleet.control_url.clone(),
        Duration::from_secs(5),
        CallSink::discard(),
        "t@h".into(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut stream = provider.logs(&target("staging"), "api").await.unwrap();
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lines.len() < 5 && tokio::time::Instant::now() < deadline {
        if let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            lines.push(line.unwrap());
        }
    }
    assert!(lines.len() >= 5, "got {lines:?}");
    assert!(
        lines.iter().all(|l| l.starts_with('{')),
        "the API logs JSON: {lines:?}"
    );
}
