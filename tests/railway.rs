//! The Railway client against a fake Railway (GraphQL v2 shapes from the
//! schema the official CLI introspects, written apart from the client):
//! history, status, promote by digest or commit, failed and crashed
//! deployments, cancel, Railway's own rollback restoring variables,
//! variables staged and applied by one redeploy, project tokens in their own
//! header, logs, and faults (errors[] on 200, 429, 5xx, a Cloudflare page,
//! malformed JSON, timeouts) with bounded retries and the token in no error.

mod support {
    pub mod railway_fake;
}

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use shipdeck::config::RailwayTokenKind;
use shipdeck::domain::{Artifact, CommitRef, Health, ReleaseStatus};
use shipdeck::provider::railway::{RailwayProvider, RailwaySettings};
use shipdeck::provider::token::fixed_token;
use shipdeck::provider::{CallSink, Progress, Provider, ProviderError, Target, UnitState};
use shipdeck::secrets::SecretValue;
use support::railway_fake::{AuthHeader, Fault, FaultKind, OpType, RailwayFake, Source};

const TOKEN: &str = "5f1d-TEST-account-TOKEN-not-for-screens";
const PROJECT_TOKEN: &str = "9a7c-TEST-project-TOKEN-not-for-screens";
const OLD: &str = "ghcr.io/acme/api:1.3.0";
const NEW: &str = "ghcr.io/acme/api:1.4.0";
const SHA: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn settings(fake: &RailwayFake, env: &str) -> RailwaySettings {
    RailwaySettings {
        api_url: fake.url(),
        poll_interval: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(10),
        ..RailwaySettings::new("proj-1", env)
    }
}

fn client(fake: &RailwayFake) -> RailwayProvider {
    RailwayProvider::new(
        settings(fake, "env-prd"),
        fixed_token(TOKEN.into()),
        Duration::from_secs(2),
        CallSink::discard(),
    )
}

fn target(service: &str) -> Target {
    Target {
        env: "production".into(),
        service: Some(service.trim_start_matches("svc-").into()),
        remote: service.into(),
        scope: None,
    }
}

/// Production: `api` (image) on OLD with one older deployment and a
/// variable, `web` (repo) on one commit.
async fn fleet() -> RailwayFake {
    let fake = RailwayFake::start(TOKEN).await;
    fake.set_user("u1", "Ada Ops", "ada@acme.test");
    fake.add_project("proj-1", "shop");
    fake.add_environment("proj-1", "env-prd", "production");
    fake.add_service("proj-1", "svc-api", "api");
    fake.add_service("proj-1", "svc-web", "web");
    fake.add_instance("env-prd", "svc-api", Source::image(OLD));
    fake.set_variable("env-prd", "svc-api", "JWT_SECRET", "first-value");
    fake.push_deployment("env-prd", "svc-api", "REMOVED", "ghcr.io/acme/api:1.2.0");
    fake.push_deployment("env-prd", "svc-api", "SUCCESS", OLD);
    fake.add_instance("env-prd", "svc-web", Source::repo("acme/web", "main"));
    fake.add_commit(SHA, "first web");
    fake.push_deployment("env-prd", "svc-web", "SUCCESS", SHA);
    fake
}

#[tokio::test]
async fn history_is_the_deployments_newest_first_with_one_current() {
    let fake = fleet().await;
    let releases = client(&fake)
        .releases(&target("svc-api"), 10)
        .await
        .unwrap();
    let shape: Vec<(String, ReleaseStatus, bool)> = releases
        .iter()
        .map(|r| (r.label(), r.status, r.current))
        .collect();
    assert_eq!(
        shape,
        [
            ("1.3.0".to_string(), ReleaseStatus::Live, true),
            ("1.2.0".to_string(), ReleaseStatus::Superseded, false),
        ]
    );
    assert_eq!(releases[0].author.as_deref(), Some("Ada Ops"));
    let web = client(&fake)
        .releases(&target("svc-web"), 10)
        .await
        .unwrap();
    assert_eq!(web[0].label(), "ccccccc");
    assert!(web[0].description.contains("first web"), "{web:?}");
}

#[tokio::test]
async fn history_follows_relay_cursors() {
    let fake = fleet().await;
    for i in 0..6 {
        fake.push_deployment(
            "env-prd",
            "svc-api",
            "REMOVED",
            &format!("ghcr.io/acme/api:0.{i}"),
        );
    }
    fake.set_page_max(3);
    let releases = client(&fake).releases(&target("svc-api"), 8).await.unwrap();
    assert_eq!(releases.len(), 8);
    let ids: std::collections::HashSet<_> = releases.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn status_comes_from_the_live_deployments_instances() {
    let fake = fleet().await;
    let instances = client(&fake).status(&target("svc-api")).await.unwrap();
    assert!(!instances.is_empty());
    assert!(
        instances.iter().all(|i| i.health == Health::Healthy),
        "{instances:?}"
    );
    assert!(instances[0].image.as_deref().unwrap().contains("1.3.0"));
}

#[tokio::test]
async fn promote_points_the_service_at_the_exact_digest_and_follows_it() {
    let fake = fleet().await;
    let c = client(&fake);
    let artifact = Artifact::image(&format!("{NEW}@sha256:4444"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let progress = Progress::new(move |u| sink.lock().unwrap().push(u.state), rx);
    let release = c
        .deploy(&target("svc-api"), &artifact, "promote", &progress)
        .await
        .unwrap();
    assert_eq!(release.status, ReleaseStatus::Live);
    assert_eq!(
        fake.source("env-prd", "svc-api"),
        Some(Source::image("ghcr.io/acme/api@sha256:4444"))
    );
    let live = fake.live("env-prd", "svc-api").unwrap();
    assert_eq!(live.image.as_deref(), Some("ghcr.io/acme/api@sha256:4444"));
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 1);
    assert!(c.runs(&target("svc-api"), &artifact).await.unwrap());
    let states = seen.lock().unwrap().clone();
    assert_eq!(states.last(), Some(&UnitState::Done));
}

#[tokio::test]
async fn a_commit_deploys_by_its_sha() {
    let fake = fleet().await;
    let sha = "dddddddddddddddddddddddddddddddddddddddd";
    fake.add_commit(sha, "second web");
    let commit = Artifact::Commit(CommitRef {
        sha: sha.into(),
        reference: None,
        repo: None,
    });
    client(&fake)
        .deploy(&target("svc-web"), &commit, "promote", &Progress::none())
        .await
        .unwrap();
    assert_eq!(
        fake.live("env-prd", "svc-web").unwrap().commit.as_deref(),
        Some(sha)
    );
    let deploy = fake.requests_for("serviceInstanceDeployV2");
    assert_eq!(deploy[0].fields[0].args["commitSha"], sha);
}

#[tokio::test]
async fn a_failed_deployment_left_the_old_one_serving_and_a_crashed_one_did_not() {
    let fake = fleet().await;
    fake.fail_image(NEW);
    let err = client(&fake)
        .deploy(
            &target("svc-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err}");
    assert!(err.is_unhealthy_release() && err.changed_nothing());
    assert_eq!(
        fake.live("env-prd", "svc-api").unwrap().image.as_deref(),
        Some(OLD)
    );

    let fake = fleet().await;
    fake.fail_next_deploys("svc-api", 1, "CRASHED");
    let err = client(&fake)
        .deploy(
            &target("svc-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(err.is_unhealthy_release(), "{err}");
    assert!(
        !err.changed_nothing(),
        "a crash after start is reverted: {err}"
    );
}

#[tokio::test]
async fn cancel_stops_the_deployment_on_railway() {
    let fake = fleet().await;
    fake.set_polls_to_finish(1000);
    let c = Arc::new(client(&fake));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let progress = Progress::new(|_| {}, rx);
    let task = {
        let c = c.clone();
        tokio::spawn(async move {
            c.deploy(
                &target("svc-api"),
                &Artifact::image(NEW),
                "promote",
                &progress,
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(true).unwrap();
    let err = task.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ProviderError::Cancelled { done: 0, .. }),
        "{err}"
    );
    assert_eq!(fake.requests_for("deploymentCancel").len(), 1);
}

#[tokio::test]
async fn rollback_is_railways_own_and_brings_the_old_variables_back() {
    let fake = fleet().await;
    let c = client(&fake);
    // A rotation deployed since: JWT_SECRET changed with a new deployment.
    c.set_secrets(
        &target("svc-api"),
        vec![(
            "JWT_SECRET".into(),
            Some(SecretValue::new("rotated".into())),
        )],
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.variables("env-prd", "svc-api")["JWT_SECRET"],
        "rotated"
    );
    let history = c.releases(&target("svc-api"), 10).await.unwrap();
    let before_rotation = &history[1];
    let release = c
        .rollback(&target("svc-api"), before_rotation, &Progress::none())
        .await
        .unwrap();
    assert!(release.description.contains("variables"), "{release:?}");
    assert_eq!(fake.rollbacks(), 1);
    assert_eq!(
        fake.variables("env-prd", "svc-api")["JWT_SECRET"],
        "first-value"
    );
    assert_eq!(fake.live("env-prd", "svc-api").unwrap().trigger, "rollback");

    // Past retention: refused before anything is sent.
    fake.set_rollback_retention(0);
    let history = c.releases(&target("svc-api"), 10).await.unwrap();
    let err = c
        .rollback(
            &target("svc-api"),
            history.last().unwrap(),
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Invalid { .. }), "{err}");
    assert_eq!(fake.rollbacks(), 1);
}

#[tokio::test]
async fn variables_are_names_and_digests_staged_and_applied_by_one_redeploy() {
    let fake = fleet().await;
    fake.set_variable("env-prd", "svc-api", "SEALED_KEY", "never-shown");
    fake.seal("env-prd", "svc-api", "SEALED_KEY");
    let c = client(&fake);
    let before = c.secrets(&target("svc-api")).await.unwrap();
    let names: Vec<&str> = before.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["JWT_SECRET", "SEALED_KEY"]);
    assert!(before[0].digest.is_some());
    assert_eq!(before[1].digest, None, "sealed: Railway never returns it");
    assert!(before[1].write_only && !before[0].write_only);
    assert!(!format!("{before:?}").contains("first-value"));
    c.set_secrets(
        &target("svc-api"),
        vec![("JWT_SECRET".into(), Some(SecretValue::new("second".into())))],
        true,
    )
    .await
    .unwrap();
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 0, "staged");
    assert!(c.secrets(&target("svc-api")).await.unwrap()[0].staged);
    let applied = c.apply_secrets(&target("svc-api")).await.unwrap().unwrap();
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 1);
    assert_eq!(
        fake.variables_of(&applied.id).unwrap()["JWT_SECRET"],
        "second"
    );
    assert_eq!(
        fake.live("env-prd", "svc-api").unwrap().image.as_deref(),
        Some(OLD),
        "the same image again"
    );
    // A delete redeploys on Railway by itself: followed, not doubled.
    c.set_secrets(&target("svc-api"), vec![("JWT_SECRET".into(), None)], false)
        .await
        .unwrap();
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 2);
    assert!(
        !fake
            .variables("env-prd", "svc-api")
            .contains_key("JWT_SECRET")
    );
    assert_eq!(fake.replace_upserts(), 0);
}

#[tokio::test]
async fn a_project_token_goes_in_its_own_header_and_names_its_project() {
    let fake = fleet().await;
    fake.add_project_token(PROJECT_TOKEN, "proj-1", "env-prd");
    let c = RailwayProvider::new(
        RailwaySettings {
            token_kind: RailwayTokenKind::Project,
            ..settings(&fake, "env-prd")
        },
        fixed_token(PROJECT_TOKEN.into()),
        Duration::from_secs(2),
        CallSink::discard(),
    );
    let who = c.whoami().await.unwrap();
    assert!(who.contains("shop") && who.contains("production"), "{who}");
    assert_eq!(c.releases(&target("svc-api"), 5).await.unwrap().len(), 2);
    assert!(
        fake.requests()
            .iter()
            .all(|h| h.auth.header == AuthHeader::ProjectAccessToken && h.auth.matched)
    );
    let me = client(&fake).whoami().await.unwrap();
    assert!(me.contains("Ada Ops"), "{me}");
}

#[tokio::test]
async fn logs_of_the_live_deployment_are_polled() {
    let fake = fleet().await;
    let live = fake.live("env-prd", "svc-api").unwrap().id;
    fake.push_log(&live, "listening on :8080", "info");
    fake.push_log(&live, r#"{"level":"error","msg":"db down"}"#, "error");
    let mut stream = client(&fake).logs(&target("svc-api"), "api").await.unwrap();
    let mut lines = Vec::new();
    for _ in 0..2 {
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        lines.push(next);
    }
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["message"], "listening on :8080");
    assert_eq!(first["level"], "info");
    assert_eq!(lines[1], r#"{"level":"error","msg":"db down"}"#);
}

#[tokio::test]
async fn a_wrong_token_is_a_refused_credential_and_never_shows() {
    let fake = fleet().await;
    let c = RailwayProvider::new(
        settings(&fake, "env-prd"),
        fixed_token("wrong-TOKEN-value".into()),
        Duration::from_secs(2),
        CallSink::discard(),
    );
    let err = c.releases(&target("svc-api"), 5).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth { status: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("shipdeck auth set railway"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-TOKEN"));
}

#[tokio::test]
async fn reads_retry_within_bounds_and_writes_are_sent_once() {
    let fake = fleet().await;
    let c = client(&fake);
    fake.fault(Fault::on(
        OpType::Query,
        "deployments",
        1,
        FaultKind::RateLimited { retry_after: 1 },
    ));
    fake.fault(Fault::on(
        OpType::Query,
        "deployments",
        1,
        FaultKind::Status(502, serde_json::json!({"error": "bad gateway"})),
    ));
    assert_eq!(c.releases(&target("svc-api"), 5).await.unwrap().len(), 2);
    assert_eq!(fake.requests_for("deployments").len(), 3);
    fake.fault(Fault::on(
        OpType::Mutation,
        "serviceInstanceUpdate",
        5,
        FaultKind::Status(503, serde_json::json!({"error": "busy"})),
    ));
    let err = c
        .deploy(
            &target("svc-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 503, .. }),
        "{err}"
    );
    assert_eq!(
        fake.requests_for("serviceInstanceUpdate").len(),
        1,
        "never retried"
    );
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 0);
}

#[tokio::test]
async fn errors_in_the_body_a_cloudflare_page_malformed_json_and_slowness_are_named() {
    let fake = fleet().await;
    let c = client(&fake);
    fake.fault(Fault::new(
        "deployments",
        1,
        FaultKind::GraphqlError("Problem processing request".into()),
    ));
    let remote = c.releases(&target("svc-api"), 5).await.unwrap_err();
    assert!(matches!(remote, ProviderError::Remote { .. }), "{remote}");
    assert!(remote.to_string().contains("Problem processing request"));
    fake.fault(Fault::new("deployments", 1, FaultKind::CloudflareBlock));
    let cf = c.releases(&target("svc-api"), 5).await.unwrap_err();
    assert!(
        matches!(cf, ProviderError::Status { status: 403, .. }),
        "{cf}"
    );
    fake.fault(Fault::new("deployments", 1, FaultKind::Malformed));
    let bad = c.releases(&target("svc-api"), 5).await.unwrap_err();
    assert!(matches!(bad, ProviderError::Decode { .. }), "{bad}");
    fake.fault(Fault::new(
        "deployments",
        4,
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let slow = c.releases(&target("svc-api"), 5).await.unwrap_err();
    assert!(matches!(slow, ProviderError::Timeout { .. }), "{slow}");
    for e in [remote, cf, bad, slow] {
        assert!(!e.to_string().contains(TOKEN), "{e}");
    }
}
