//! The Fly.io provider against a fake Fly (Machines API, GraphQL, logs) that
//! speaks the real shapes: reads, promote, rolling deploys under leases,
//! failure handling, retries, auth header forms and credential hygiene.

mod support {
    pub mod fly_fake;
}

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::Method;
use futures::StreamExt;
use shipdeck::domain::{Artifact, Health, Release, ReleaseStatus};
use shipdeck::provider::fly::{DeployVia, FlyProvider, FlySettings, TokenSource};
use shipdeck::provider::{CallRecord, CallSink, Progress, Provider, ProviderError, Target};
use shipdeck::secrets::SecretValue;
use support::fly_fake::{
    FaultKind, FlyFake, deployment_image, log_entry, pinned, release_id, release_node,
};
use tokio::sync::mpsc;

const TOKEN: &str = "fm2_lJPECAAAAAAAAMtestTOKENsecretPART";
const AUTH: &str = "FlyV1 fm2_lJPECAAAAAAAAMtestTOKENsecretPART";
const IMG_A: &str = "registry.fly.io/shop:deployment-a";
const IMG_B: &str = "registry.fly.io/shop:deployment-b";

fn settings(fake: &FlyFake, app: &str) -> FlySettings {
    let mut s = FlySettings::new(app);
    s.api_url = fake.base.clone();
    s.graphql_url = format!("{}/graphql", fake.base);
    s.logs_url = fake.base.clone();
    s.wait_timeout = Duration::from_secs(2);
    s.lease_ttl = Duration::from_secs(2);
    s
}

fn provider_with(settings: FlySettings, token: &str, calls: CallSink) -> FlyProvider {
    FlyProvider::with_token(
        settings,
        token.to_string(),
        Duration::from_millis(800),
        calls,
        "tester".into(),
    )
}

fn provider(fake: &FlyFake, app: &str) -> FlyProvider {
    provider_with(settings(fake, app), TOKEN, CallSink::discard())
}

fn target(app: &str) -> Target {
    Target {
        env: app.to_string(),
        service: None,
        remote: app.to_string(),
        scope: None,
    }
}

fn artifact(image: &str) -> Artifact {
    Artifact::image(image)
}

/// The image a release names, as deployed (pinned by digest where known).
fn image_of(r: &Release) -> Option<String> {
    r.artifact.as_ref()?.as_image().map(|i| i.reference())
}

#[tokio::test]
async fn releases_paginate_and_mark_what_machines_run() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_B);
    {
        let mut st = fake.state();
        st.graphql_page_max = 2;
        let app = st.apps.get_mut("shop").unwrap();
        app.releases = vec![
            release_node(3, IMG_B, "complete"),
            release_node(2, "registry.fly.io/shop:deployment-x", "failed"),
            release_node(1, IMG_A, "complete"),
        ];
        app.current_release = Some(release_id(3));
    }
    let fly = provider(&fake, "shop");
    let releases = fly.releases(&target("shop"), 10).await.unwrap();
    assert_eq!(
        fake.hits(Some(Method::POST), "/graphql").len(),
        2,
        "two pages"
    );
    let versions: Vec<_> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, vec![Some(3), Some(2), Some(1)]);
    assert!(releases[0].current);
    assert_eq!(releases[0].status, ReleaseStatus::Live);
    // The serving release names the digest the machines run.
    assert_eq!(
        image_of(&releases[0]).as_deref(),
        Some(pinned(IMG_B).as_str())
    );
    assert_eq!(releases[0].author.as_deref(), Some("dev@example.com"));
    assert_eq!(releases[1].status, ReleaseStatus::Failed);
    assert_eq!(releases[2].status, ReleaseStatus::Superseded);
    assert!(!releases[2].current);

    // The machines now run an image no Fly release carries (a Machines API deploy).
    let img_c = "registry.fly.io/shop:deployment-c";
    for m in fake
        .state()
        .apps
        .get_mut("shop")
        .unwrap()
        .machines
        .values_mut()
    {
        m.image = img_c.into();
    }
    let releases = fly.releases(&target("shop"), 10).await.unwrap();
    assert_eq!(releases.len(), 4);
    let top = &releases[0];
    assert!(top.id.starts_with("img:"), "{}", top.id);
    assert_eq!(top.version, None);
    assert!(top.current);
    assert_eq!(image_of(top).as_deref(), Some(pinned(img_c).as_str()));
    assert_eq!(top.description, "deployed through the Machines API");
    assert!(releases[1..].iter().all(|r| !r.current));
    assert_eq!(releases[1].status, ReleaseStatus::Superseded);
}

/// What a person reads in the history is Fly's `vN`, so every release from
/// GraphQL carries its `version`, whatever the opaque id looks like; only a
/// Machines-API-only image (`img:…`) has none.
#[tokio::test]
async fn releases_carry_fly_versions_not_graphql_ids() {
    let fake = FlyFake::start(AUTH).await;
    let images: Vec<String> = (1..=5).map(|n| deployment_image("shop", n)).collect();
    fake.add_app("shop", 2, &images[4]);
    {
        let mut st = fake.state();
        st.graphql_page_max = 3;
        let app = st.apps.get_mut("shop").unwrap();
        app.releases = (1..=5u64)
            .rev()
            .map(|n| release_node(n, &images[n as usize - 1], "complete"))
            .collect();
        app.current_release = Some(release_id(5));
    }
    assert_eq!(release_id(1), "UmVsZWFzZS0x");
    assert!(images[0].starts_with("registry.fly.io/shop:deployment-01J"));
    let fly = provider(&fake, "shop");
    let releases = fly.releases(&target("shop"), 25).await.unwrap();
    let got: Vec<(String, Option<u64>)> =
        releases.iter().map(|r| (r.id.clone(), r.version)).collect();
    let want: Vec<(String, Option<u64>)> =
        (1..=5u64).rev().map(|n| (release_id(n), Some(n))).collect();
    assert_eq!(got, want);
    assert!(releases[0].current, "v5 runs on the machines");
    // The GraphQL page size does not change what arrives.
    assert_eq!(fake.hits(Some(Method::POST), "/graphql").len(), 2);
    // History images keep flyctl's tags; the serving one is pinned by digest.
    assert_eq!(image_of(&releases[1]).as_deref(), Some(images[3].as_str()));
    assert_eq!(
        image_of(&releases[0]).as_deref(),
        Some(pinned(&images[4]).as_str())
    );
    // …and still names the tag it was given, next to the digest.
    let serving = releases[0].artifact.as_ref().unwrap().as_image().unwrap();
    assert_eq!(
        serving.full(),
        format!("{}@{}", images[4], serving.digest.clone().unwrap())
    );
    assert_eq!(releases[0].label(), "v5");

    // A Machines API deploy of an image no Fly release carries: that entry alone has no version.
    let api_image = deployment_image("shop", 6);
    for m in fake
        .state()
        .apps
        .get_mut("shop")
        .unwrap()
        .machines
        .values_mut()
    {
        m.image = api_image.clone();
    }
    let releases = fly.releases(&target("shop"), 25).await.unwrap();
    assert!(releases[0].id.starts_with("img:") && releases[0].version.is_none());
    assert!(releases[1..].iter().all(|r| r.version.is_some()));
    assert_eq!(releases[1].version, Some(5));
}

#[tokio::test]
async fn status_maps_machines_to_health() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 4, IMG_A);
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop").unwrap();
        let m2 = app.machines.get_mut("shop-m2").unwrap();
        m2.checks.push((
            "tcp".into(),
            "critical".into(),
            "dial tcp: connection refused\x1b[2J".into(),
        ));
        app.machines.get_mut("shop-m3").unwrap().state = "stopped".into();
        let m4 = app.machines.get_mut("shop-m4").unwrap();
        m4.state = "destroyed".into();
        let mut worker = app.machines["shop-m1"].clone();
        worker.id = "shop-w1".into();
        worker.group = "worker".into();
        worker.state = "starting".into();
        app.machines.insert(worker.id.clone(), worker);
    }
    let mut s = settings(&fake, "shop");
    s.process_group = Some("web".into());
    let fly = provider_with(s, TOKEN, CallSink::discard());
    let instances = fly.status(&target("shop")).await.unwrap();
    let ids: Vec<_> = instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["shop-m1", "shop-m2", "shop-m3"],
        "group filter, no destroyed"
    );
    assert!(
        fake.hits(Some(Method::GET), "metadata.fly_process_group=web")
            .len()
            == 1
    );
    assert_eq!(instances[0].health, Health::Healthy);
    assert_eq!(instances[0].service, "web");
    assert_eq!(instances[0].region.as_deref(), Some("ams"));
    assert_eq!(instances[0].image.as_deref(), Some(pinned(IMG_A).as_str()));
    assert_eq!(instances[1].health, Health::Degraded);
    assert!(
        instances[1].state.contains("1/2 checks passing")
            && instances[1].state.contains("connection refused"),
        "{}",
        instances[1].state
    );
    assert!(
        !instances[1].state.contains('\x1b'),
        "check output is sanitised"
    );
    assert_eq!(instances[2].health, Health::Suspended);

    // Without the group filter the starting worker shows as progressing.
    let all = provider(&fake, "shop")
        .status(&target("shop"))
        .await
        .unwrap();
    let worker = all.iter().find(|i| i.id == "shop-w1").unwrap();
    assert_eq!(worker.health, Health::Progressing);
    assert_eq!(worker.service, "worker");

    // No machines: an empty list, not an error.
    fake.add_app("empty", 0, IMG_A);
    // …and a deploy there is an error, not a release that never ran.
    let err = provider(&fake, "empty")
        .deploy(&target("empty"), &artifact(IMG_B), "x", &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("machines in Fly app empty"),
        "{err}"
    );
    assert!(
        provider(&fake, "empty")
            .status(&target("empty"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn secrets_list_set_stage_and_apply() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    fake.state().apps.get_mut("shop").unwrap().secrets.insert(
        "DATABASE_URL".into(),
        ("a1b2c3d4".into(), "2026-11-01T10:00:00Z".into()),
    );
    let fly = provider(&fake, "shop");
    let list = fly.secrets(&target("shop")).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "DATABASE_URL");
    assert_eq!(list[0].digest.as_deref(), Some("a1b2c3d4"));
    assert!(list[0].updated_at.is_some());
    assert!(!list[0].staged);

    // Staged: set and unset in one call, no machine touched.
    let values = vec![
        (
            "JWT_KEY".to_string(),
            Some(SecretValue::new("s3cr3t-value".into())),
        ),
        ("DATABASE_URL".to_string(), None),
    ];
    fly.set_secrets(&target("shop"), values, true)
        .await
        .unwrap();
    assert_eq!(fake.state().secret_posts, 1);
    assert!(fake.state().updates.is_empty());
    let names: Vec<_> = fly
        .secrets(&target("shop"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["JWT_KEY"]);

    // Not staged: every machine is updated (same image) with the new secrets version.
    let values = vec![("API_KEY".to_string(), Some(SecretValue::new("k".into())))];
    fly.set_secrets(&target("shop"), values, false)
        .await
        .unwrap();
    let updates = fake.state().updates.clone();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert!(
        updates
            .iter()
            .all(|u| u.image == IMG_A && u.min_secrets_version == Some(2))
    );
    // A secrets POST that fails with 500 is not retried.
    fake.fault(
        Some(Method::POST),
        "/secrets",
        1,
        FaultKind::Status(500, serde_json::json!({"error": "boom"}), None),
    );
    let values = vec![("X".to_string(), Some(SecretValue::new("y".into())))];
    let err = fly
        .set_secrets(&target("shop"), values, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 500, .. }),
        "{err}"
    );
    assert_eq!(fake.hits(Some(Method::POST), "/secrets").len(), 3);
}

#[tokio::test]
async fn promote_deploys_the_source_image_under_leases() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop-staging", 2, IMG_B);
    fake.add_app("shop-prod", 3, IMG_A);
    let staging = provider(&fake, "shop-staging");
    let prod = provider(&fake, "shop-prod");

    // The source's exact image, pinned by digest.
    let source = staging.status(&target("shop-staging")).await.unwrap();
    let image = source[0].image.clone().unwrap();
    assert!(image.contains("@sha256:"), "{image}");

    let release = prod
        .deploy(
            &target("shop-prod"),
            &artifact(&image),
            "Promote from staging",
            &Progress::none(),
        )
        .await
        .unwrap();
    assert!(release.current);
    assert_eq!(release.status, ReleaseStatus::Live);
    assert_eq!(image_of(&release).as_deref(), Some(image.as_str()));
    assert_eq!(release.description, "Promote from staging");
    assert!(release.id.starts_with("img:"));

    let images = fake.images("shop-prod");
    assert!(images.values().all(|i| *i == image), "{images:?}");
    {
        let st = fake.state();
        for m in st.apps["shop-prod"].machines.values() {
            assert!(m.lease.is_none(), "lease of {} released", m.id);
            let events: Vec<_> = st
                .lease_events
                .iter()
                .filter(|e| e.1 == m.id && e.2 != "refresh")
                .map(|e| e.2.as_str())
                .collect();
            assert_eq!(events, vec!["acquire", "release"], "{}", m.id);
        }
        assert_eq!(st.updates.len(), 3);
        assert!(
            st.updates
                .iter()
                .all(|u| u.nonce.as_deref().is_some_and(|n| n.starts_with("nonce"))),
            "nonce header on every update"
        );
    }
    // The deploy shows up on top of the history as what the machines run.
    let releases = prod.releases(&target("shop-prod"), 5).await.unwrap();
    assert!(releases[0].current && image_of(&releases[0]).as_deref() == Some(image.as_str()));
}

#[tokio::test]
async fn failing_checks_stop_the_rollout_and_rollback_restores() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 3, IMG_A);
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop").unwrap();
        app.releases = vec![release_node(1, IMG_A, "complete")];
        app.current_release = Some(release_id(1));
        app.machines.get_mut("shop-m2").unwrap().critical_on = Some(IMG_B.into());
    }
    let fly = provider(&fake, "shop");
    let err = fly
        .deploy(&target("shop"), &artifact(IMG_B), "v2", &Progress::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, ProviderError::Rollout { machine, step, done: 1, total: 3, .. }
            if machine == "shop-m2" && step == "health checks"),
        "{text}"
    );
    assert!(
        text.contains("500 Internal Server Error"),
        "check output: {text}"
    );
    let images = fake.images("shop");
    assert_eq!(images["shop-m1"], IMG_B);
    assert_eq!(images["shop-m2"], IMG_B);
    assert_eq!(images["shop-m3"], IMG_A, "later machines untouched");
    assert!(
        fake.state().apps["shop"]
            .machines
            .values()
            .all(|m| m.lease.is_none())
    );

    // Deploying again does not walk past the broken machine.
    let again = fly
        .deploy(&target("shop"), &artifact(IMG_B), "v2", &Progress::none())
        .await
        .unwrap_err();
    assert!(
        matches!(&again, ProviderError::Rollout { machine, step, .. }
            if machine == "shop-m2" && step == "health checks"),
        "{again}"
    );
    assert_eq!(fake.images("shop")["shop-m3"], IMG_A);
    assert_eq!(fake.state().updates.len(), 2, "nothing re-sent");
    let releases = fly.releases(&target("shop"), 10).await.unwrap();
    let previous = releases
        .iter()
        .find(|r| r.version == Some(1))
        .unwrap()
        .clone();
    let back = fly
        .rollback(&target("shop"), &previous, &Progress::none())
        .await
        .unwrap();
    assert_eq!(back.description, "Rollback to v1");
    assert!(fake.images("shop").values().all(|i| i == IMG_A));
    let health: Vec<_> = fly
        .status(&target("shop"))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.health)
        .collect();
    assert_eq!(health, vec![Health::Healthy; 3]);

    // A release without an image cannot be rolled back to.
    let mut no_image = previous;
    no_image.artifact = None;
    assert!(
        fly.rollback(&target("shop"), &no_image, &Progress::none())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_stopped_rollout_resumes_where_it_stopped() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 3, IMG_A);
    fake.fault(
        Some(Method::POST),
        "machines/shop-m2/lease",
        1,
        FaultKind::Status(
            500,
            serde_json::json!({"error": "lease service down"}),
            None,
        ),
    );
    let fly = provider(&fake, "shop");
    let err = fly
        .deploy(&target("shop"), &artifact(IMG_B), "v2", &Progress::none())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rollout { machine, step, done: 1, .. } if machine == "shop-m2" && step == "lease"),
        "{err}"
    );
    assert_eq!(fake.state().updates.len(), 1);

    fly.deploy(&target("shop"), &artifact(IMG_B), "v2", &Progress::none())
        .await
        .unwrap();
    let updated: Vec<_> = fake
        .state()
        .updates
        .iter()
        .map(|u| u.machine.clone())
        .collect();
    assert_eq!(
        updated,
        vec!["shop-m1", "shop-m2", "shop-m3"],
        "m1 not updated twice"
    );
    assert!(fake.images("shop").values().all(|i| i == IMG_B));
}

#[tokio::test]
async fn a_lease_held_by_someone_else_stops_before_any_update() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    fake.machine("shop", "shop-m1", |m| {
        m.lease = Some(support::fly_fake::FakeLease {
            owner: "alice@example.com".into(),
            nonce: "theirs".into(),
            expires_at_ms: chrono::Utc::now().timestamp_millis() + 600_000,
        })
    });
    let fly = provider(&fake, "shop");
    let err = fly
        .deploy(&target("shop"), &artifact(IMG_B), "v2", &Progress::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(text.contains("shop-m1"), "{text}");
    match err {
        ProviderError::Rollout {
            reason, done: 0, ..
        } => {
            assert!(matches!(*reason, ProviderError::Held { .. }), "{reason}")
        }
        other => panic!("{other}"),
    }
    assert!(fake.state().updates.is_empty());
    assert!(fake.images("shop").values().all(|i| i == IMG_A));
}

#[tokio::test]
async fn retries_honour_retry_after_and_only_repeat_safe_calls() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    let fly = provider(&fake, "shop");

    fake.fault(
        Some(Method::GET),
        "/v1/apps/shop/machines",
        1,
        FaultKind::Status(429, serde_json::json!({"error": "rate limited"}), Some(1)),
    );
    fly.status(&target("shop")).await.unwrap();
    let hits = fake.hits(Some(Method::GET), "/v1/apps/shop/machines");
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");

    fake.state().hits.clear();
    fake.fault(
        Some(Method::GET),
        "/v1/apps/shop/machines",
        1,
        FaultKind::Status(500, serde_json::json!({"error": "internal"}), None),
    );
    fly.status(&target("shop")).await.unwrap();
    assert_eq!(
        fake.hits(Some(Method::GET), "/v1/apps/shop/machines").len(),
        2
    );

    // A GraphQL query is a read: retried after a 500.
    fake.fault(
        Some(Method::POST),
        "/graphql",
        1,
        FaultKind::Status(500, serde_json::json!({"error": "internal"}), None),
    );
    assert_eq!(fly.whoami().await.unwrap(), "dev@example.com");
    assert_eq!(fake.hits(Some(Method::POST), "/graphql").len(), 2);
}

async fn shop() -> (FlyFake, FlyProvider) {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    let fly = provider(&fake, "shop");
    (fake, fly)
}

#[tokio::test]
async fn graphql_errors_on_200_become_errors() {
    let (fake, fly) = shop().await;
    fake.fault(
        None,
        "/graphql",
        1,
        FaultKind::GraphqlErrors("Could not find App \"shop\"".into()),
    );
    let err = fly.releases(&target("shop"), 5).await.unwrap_err();
    assert!(matches!(err, ProviderError::Remote { .. }), "{err}");
    assert!(err.to_string().contains("Could not find App"), "{err}");
    assert!(err.to_string().contains("request id 01FAKE"), "{err}");
}

#[tokio::test]
async fn an_html_502_becomes_one_readable_line() {
    let (fake, fly) = shop().await;
    fake.fault(Some(Method::GET), "/machines", 10, FaultKind::Html502);
    let err = fly.status(&target("shop")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ProviderError::Status { status: 502, .. }),
        "{text}"
    );
    assert!(
        text.contains("an HTML error page: 502 Bad Gateway"),
        "{text}"
    );
    assert!(text.contains("request id 01FAKE"), "{text}");
    assert!(!text.contains('\n') && !text.contains("<html"), "{text}");
    assert_eq!(
        fake.hits(Some(Method::GET), "/machines").len(),
        4,
        "GETs retried"
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let (fake, fly) = shop().await;
    fake.fault(Some(Method::GET), "/machines", 1, FaultKind::Malformed);
    let err = fly.status(&target("shop")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let (fake, _) = shop().await;
    let slow = FlyProvider::with_token(
        settings(&fake, "shop"),
        TOKEN.into(),
        Duration::from_millis(150),
        CallSink::discard(),
        "t".into(),
    );
    fake.fault(
        Some(Method::GET),
        "/machines",
        10,
        FaultKind::Delay(Duration::from_millis(500)),
    );
    let err = slow.status(&target("shop")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_reset_connection_is_unreachable() {
    let (fake, _) = shop().await;
    let mut s = settings(&fake, "shop");
    s.api_url = support::fly_fake::resetting_server().await;
    let err = provider_with(s, TOKEN, CallSink::discard())
        .status(&target("shop"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn auth_header_forms_and_the_token_never_leaks() {
    for (token, header) in [
        ("fm2_abcDEF123", "FlyV1 fm2_abcDEF123"),
        ("fm1r_aaa,fm2_bbb", "FlyV1 fm1r_aaa,fm2_bbb"),
        ("FlyV1 fm2_kept", "FlyV1 fm2_kept"),
        ("  plainUserToken42\n", "Bearer plainUserToken42"),
    ] {
        let fake = FlyFake::start(header).await;
        fake.add_app("shop", 1, IMG_A);
        let fly = provider_with(settings(&fake, "shop"), token, CallSink::discard());
        fly.status(&target("shop"))
            .await
            .unwrap_or_else(|e| panic!("{token:?}: {e}"));
        assert_eq!(
            fake.hits(None, "/machines")[0].auth.as_deref(),
            Some(header)
        );
    }

    // Every error, every call record and the Debug form stay free of the token.
    let fake = FlyFake::start("Bearer something-else").await;
    fake.add_app("shop", 1, IMG_A);
    let (tx, mut rx) = mpsc::unbounded_channel::<CallRecord>();
    let fly = provider_with(settings(&fake, "shop"), TOKEN, CallSink::new(tx));
    let mut texts = vec![format!("{fly:?}")];
    let e = fly.status(&target("shop")).await.unwrap_err();
    assert!(matches!(e, ProviderError::Auth { status: 401, .. }), "{e}");
    texts.push(format!("{e} {e:?}"));
    texts.push(format!("{:?}", fly.whoami().await.unwrap_err()));
    texts.push(format!(
        "{:?}",
        fly.deploy(&target("shop"), &artifact(IMG_B), "x", &Progress::none())
            .await
            .unwrap_err()
    ));
    texts.push(format!("{fly:?}"));
    drop(fly);
    while let Ok(record) = rx.try_recv() {
        texts.push(format!("{record:?}"));
    }
    assert!(texts.len() > 5);
    let secret = "testTOKENsecretPART";
    for t in &texts {
        assert!(!t.contains(secret), "token leaked: {t}");
    }
}

#[tokio::test]
async fn the_token_is_resolved_on_first_use_and_errors_are_not_cached() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source: TokenSource = Arc::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                Err(ProviderError::NotFound {
                    what: "fly token in the keyring".into(),
                })
            } else {
                Ok(TOKEN.to_string())
            }
        })
    });
    let fly = FlyProvider::new(
        settings(&fake, "shop"),
        source,
        Duration::from_secs(1),
        CallSink::discard(),
        "t".into(),
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "nothing resolved at construction"
    );
    let err = fly.status(&target("shop")).await.unwrap_err();
    assert!(err.to_string().contains("keyring"), "{err}");
    assert!(fake.hits(None, "").is_empty(), "no call without a token");
    fly.status(&target("shop")).await.unwrap();
    fly.status(&target("shop")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "retried once, then kept");
}

#[tokio::test]
async fn whoami_falls_back_to_the_app_for_deploy_tokens() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    let fly = provider(&fake, "shop");
    assert_eq!(fly.whoami().await.unwrap(), "dev@example.com");
    fake.state().viewer = None;
    assert_eq!(fly.whoami().await.unwrap(), "token for app shop (org acme)");
}

#[tokio::test]
async fn logs_poll_with_next_token() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop").unwrap();
        let mut worker = app.machines["shop-m1"].clone();
        worker.id = "shop-w1".into();
        worker.group = "worker".into();
        app.machines.insert(worker.id.clone(), worker);
        app.log_pages = vec![
            vec![
                log_entry("shop-m1", "info", "GET / 200"),
                log_entry("shop-w1", "info", "job done"),
            ],
            vec![
                log_entry("shop-m2", "error", "panic: boom"),
                log_entry("shop-m1", "info", "GET /health 200"),
            ],
        ];
    }
    let fly = provider(&fake, "shop");
    let stream = fly.logs(&target("shop"), "web").await.unwrap();
    let lines: Vec<String> = tokio::time::timeout(
        Duration::from_secs(3),
        stream.take(3).map(|l| l.unwrap()).collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<_> = parsed
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        vec!["GET / 200", "panic: boom", "GET /health 200"],
        "worker filtered out"
    );
    assert_eq!(parsed[1]["level"], "error");
    assert_eq!(parsed[1]["instance"], "shop-m2");
    assert!(parsed[0]["timestamp"].is_string());
    assert_eq!(fake.hits(Some(Method::GET), "logs?next_token=t1").len(), 1);
    assert_eq!(fly.logs_command(&target("shop"), "web"), "fly logs -a shop");
}

/// An app that logs JSON or logfmt itself: the line the console gets is the
/// app's own (its level and message), with Fly's machine added; plain text
/// keeps Fly's level.
#[tokio::test]
async fn app_log_lines_keep_their_own_level_through_fly() {
    use shipdeck::logs::{Level, parse_line};
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    fake.state().apps.get_mut("shop").unwrap().log_pages = vec![vec![
        log_entry(
            "shop-m1",
            "info",
            r#"{"level":"debug","time":"2026-12-01T10:00:00.000Z","msg":"cache stats","hits":42}"#,
        ),
        log_entry(
            "shop-m1",
            "info",
            "ts=2026-12-01T10:00:01Z level=warn msg=\"slow query\" ms=812",
        ),
        log_entry("shop-m1", "error", "panic: boom \x1b[2J"),
    ]];
    let fly = provider(&fake, "shop");
    let stream = fly.logs(&target("shop"), "web").await.unwrap();
    let lines: Vec<String> = tokio::time::timeout(
        Duration::from_secs(3),
        stream.take(3).map(|l| l.unwrap()).collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let read: Vec<_> = lines.iter().map(|l| parse_line(l)).collect();
    assert_eq!(read[0].level, Some(Level::Debug), "{}", lines[0]);
    assert_eq!(read[0].msg, "cache stats");
    assert_eq!(read[0].field("hits"), Some("42"));
    assert_eq!(read[0].field("fly_instance"), Some("shop-m1"));
    assert_eq!(read[1].level, Some(Level::Warn), "{}", lines[1]);
    assert_eq!(read[1].msg, "slow query");
    assert_eq!(read[2].level, Some(Level::Error));
    assert_eq!(
        read[2].msg, "panic: boom \x1b[2J",
        "raw; the display sanitises"
    );
    let mut buf = shipdeck::logs::LogBuffer::new(1 << 16);
    for l in lines {
        buf.push(l);
    }
    let shown: Vec<String> = buf.iter().map(|e| e.display().text).collect();
    assert!(
        shown[2].contains("⟨CSI 2J⟩") && !shown[2].contains('\x1b'),
        "{shown:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn deploy_via_flyctl_passes_the_token_in_env_only() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.txt");
    let script = dir.path().join("flyctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf 'argv=%s\\n' \"$*\" > '{rec}'\nprintf 'token=%s\\n' \"$FLY_API_TOKEN\" >> '{rec}'\n\
             if [ \"$FAKE_FLYCTL_FAIL\" = 1 ]; then echo 'Error: image not found'; exit 1; fi\necho 'Deployed'\n",
            rec = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut s = settings(&fake, "shop");
    s.deploy_via = DeployVia::Flyctl;
    s.flyctl = script.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<CallRecord>();
    let fly = provider_with(s.clone(), TOKEN, CallSink::new(tx));
    let release = fly
        .deploy(
            &target("shop"),
            &artifact(IMG_B),
            "via flyctl",
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(image_of(&release).as_deref(), Some(IMG_B));
    let written = std::fs::read_to_string(&record).unwrap();
    assert!(
        written.contains(&format!("argv=deploy --app shop --image {IMG_B} --yes")),
        "{written}"
    );
    assert!(written.contains(&format!("token={TOKEN}")), "{written}");
    let argv_line = written.lines().next().unwrap();
    assert!(!argv_line.contains("fm2_"), "token in argv: {argv_line}");
    let rec = rx.try_recv().unwrap();
    assert_eq!(rec.method, "exec");
    assert!(!format!("{rec:?}").contains(TOKEN));
    assert!(fake.state().updates.is_empty(), "no Machines API writes");

    // A failing flyctl: its output is in the error, the token is not.
    let failing = dir.path().join("flyctl-fail");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho 'Error: image not found'\necho \"token was $FLY_API_TOKEN\"\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut f = s.clone();
    f.flyctl = failing;
    let err = provider_with(f, TOKEN, CallSink::discard())
        .deploy(&target("shop"), &artifact(IMG_B), "x", &Progress::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("image not found"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");

    // flyctl missing: say how to fix it.
    let mut m = s;
    m.flyctl = "flyctl-not-installed-here".into();
    let err = provider_with(m, TOKEN, CallSink::discard())
        .deploy(&target("shop"), &artifact(IMG_B), "x", &Progress::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Command { .. }), "{text}");
    assert!(
        text.contains("not installed") && text.contains("deploy_via = \"api\""),
        "{text}"
    );
}

#[tokio::test]
async fn slow_starts_loop_the_wait_and_keep_the_lease_fresh() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 1, IMG_A);
    fake.machine("shop", "shop-m1", |m| {
        m.starts_after = Some(Duration::from_millis(1400))
    });
    let mut s = settings(&fake, "shop");
    s.lease_ttl = Duration::from_secs(1);
    s.wait_timeout = Duration::from_millis(1900);
    let fly = provider_with(s, TOKEN, CallSink::discard());
    fly.deploy(&target("shop"), &artifact(IMG_B), "slow", &Progress::none())
        .await
        .unwrap();
    let waits = fake.hits(
        Some(Method::GET),
        "/wait?state=started&timeout=1&instance_id=inst",
    );
    assert_eq!(waits.len(), 2, "a 408 from the wait endpoint loops");
    let events: Vec<_> = fake
        .state()
        .lease_events
        .iter()
        .map(|e| e.2.clone())
        .collect();
    assert_eq!(events.first().map(String::as_str), Some("acquire"));
    assert_eq!(events.last().map(String::as_str), Some("release"));
    assert!(events.iter().any(|e| e == "refresh"), "{events:?}");
    let refresh = fake.hits(Some(Method::POST), "/lease?ttl=1");
    assert!(
        refresh.iter().skip(1).all(|h| h.nonce.is_some()),
        "refresh sends the nonce"
    );
}

#[tokio::test]
async fn a_machine_that_never_starts_times_out_and_stopped_ones_stay_down() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop").unwrap();
        app.machines.get_mut("shop-m1").unwrap().state = "stopped".into();
        app.machines.get_mut("shop-m2").unwrap().starts_after = Some(Duration::from_secs(30));
    }
    let mut s = settings(&fake, "shop");
    s.wait_timeout = Duration::from_secs(1);
    let fly = provider_with(s, TOKEN, CallSink::discard());
    let err = fly
        .deploy(&target("shop"), &artifact(IMG_B), "x", &Progress::none())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rollout { machine, step, done: 1, .. }
            if machine == "shop-m2" && step == "wait for started"),
        "{err}"
    );
    let st = fake.state();
    let m1 = &st.apps["shop"].machines["shop-m1"];
    assert_eq!((m1.image.as_str(), m1.state.as_str()), (IMG_B, "stopped"));
    assert!(st.apps["shop"].machines.values().all(|m| m.lease.is_none()));
}

#[tokio::test]
async fn deploy_reports_each_machine_and_stops_before_the_next_once_cancelled() {
    use shipdeck::provider::{UnitProgress, UnitState};
    use std::sync::Mutex;
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 3, IMG_A);
    let fly = provider(&fake, "shop");

    // Every machine reports as it starts and as it ends.
    let seen: Arc<Mutex<Vec<UnitProgress>>> = Arc::default();
    let (_never, no_cancel) = tokio::sync::watch::channel(false);
    let sink = seen.clone();
    let progress = Progress::new(move |p| sink.lock().unwrap().push(p), no_cancel);
    fly.deploy(&target("shop"), &artifact(IMG_B), "v2", &progress)
        .await
        .unwrap();
    let done: Vec<(usize, usize)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.state == UnitState::Done)
        .map(|p| (p.index, p.total))
        .collect();
    assert_eq!(
        done,
        [(1, 3), (2, 3), (3, 3)],
        "one report per machine, in order"
    );

    // Cancel as the first machine finishes: the rollout stops before the second.
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let progress = Progress::new(
        move |p| {
            if p.state == UnitState::Done {
                let _ = cancel_tx.send(true);
            }
        },
        cancel_rx,
    );
    let before = fake.state().updates.len();
    let err = fly
        .deploy(&target("shop"), &artifact(IMG_A), "back", &progress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Cancelled { done: 1, total: 3 }),
        "{err:?}"
    );
    assert!(
        !err.changed_nothing(),
        "one machine moved: a revert is owed"
    );
    assert_eq!(
        fake.state().updates.len() - before,
        1,
        "only the first machine was updated"
    );
    let on_a = fake.images("shop").values().filter(|i| *i == IMG_A).count();
    assert_eq!(on_a, 1);
}

#[tokio::test]
async fn runs_knows_a_tag_and_its_digest_are_one_image() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    let fly = provider(&fake, "shop");
    let t = target("shop");
    // flyctl's releases name the tag; the machines report the digest it resolved to.
    assert!(fly.runs(&t, &artifact(IMG_A)).await.unwrap());
    assert!(fly.runs(&t, &artifact(&pinned(IMG_A))).await.unwrap());
    assert!(!fly.runs(&t, &artifact(IMG_B)).await.unwrap());
    assert!(!fly.runs(&t, &artifact(&pinned(IMG_B))).await.unwrap());
    // The engine alone could not tell: tag against digest is undecided in the data.
    assert_eq!(artifact(IMG_A).same(&artifact(&pinned(IMG_A))), None);
}

/// One console refresh of env 0 through `update`, then the screen as text.
async fn refreshed_screen(
    fly: &FlyProvider,
    target: &Target,
    state: &mut shipdeck::state::State,
) -> String {
    use shipdeck::keymap::Keymap;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let plan = shipdeck::app::effects::RefreshPlan {
        units: vec![shipdeck::provider::registry::DeployUnit {
            target: target.clone(),
            services: Vec::new(),
        }],
        secret_scopes: vec![target.clone()],
    };
    shipdeck::app::effects::refresh(fly, &plan, 0, &tx).await;
    drop(tx);
    while let Some(msg) = rx.recv().await {
        shipdeck::app::update(state, msg, &Keymap::default());
    }
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).unwrap();
    let theme = shipdeck::ui::theme::Theme::default();
    terminal
        .draw(|f| shipdeck::ui::draw(f, state, &theme, &Keymap::default()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The console's Environments panel with a Fly env whose service has no
/// health URL: health comes from the machines' Fly checks (the real refresh
/// feeding `update`), so passing checks do not flag the env.
#[tokio::test]
async fn without_a_probe_the_console_shows_health_from_fly_checks() {
    let fake = FlyFake::start(AUTH).await;
    fake.add_app("shop", 2, IMG_A);
    let text = format!(
        "[[env]]\nname = \"production\"\nprovider = \"fly\"\n\
         fly = {{ app = \"shop\", api_url = \"{b}/v1\", graphql_url = \"{b}/graphql\", logs_url = \"{b}\" }}\n\n\
         [[env.service]]\nname = \"web\"\n",
        b = fake.base
    );
    let cfg = shipdeck::config::Config::parse_str(&text, std::path::Path::new("fly.toml")).unwrap();
    let mut state = shipdeck::state::State::from_config(&cfg, true, chrono::Utc::now());
    let fly = provider(&fake, "shop");
    let target = Target {
        env: "production".into(),
        service: None,
        remote: "shop".into(),
        scope: None,
    };
    assert_eq!(
        state.envs[0].service_health(0),
        Health::Unknown,
        "nothing yet"
    );

    let shown = refreshed_screen(&fly, &target, &mut state).await;
    assert_eq!(state.envs[0].service_health(0), Health::Healthy);
    let row = shown.lines().find(|l| l.contains("production")).unwrap();
    assert!(row.contains("Healthy"), "{shown}");
    assert!(!shown.contains("need attention"), "{shown}");

    // One machine's check goes critical: the env is flagged again.
    fake.machine("shop", "shop-m2", |m| {
        m.checks = vec![("http".into(), "critical".into(), "500".into())];
    });
    let shown = refreshed_screen(&fly, &target, &mut state).await;
    assert_eq!(state.envs[0].service_health(0), Health::Degraded);
    let row = shown.lines().find(|l| l.contains("production")).unwrap();
    assert!(row.contains("Degraded"), "{shown}");
    assert!(shown.contains("1 env(s) need attention"), "{shown}");
}
