//! The Render client against a fake Render (REST v1 shapes from Render's
//! OpenAPI as the official CLI generates them, written apart from the
//! client): history, status from deploys and events, promote by digest,
//! rejected deploys, queued (202) deploys, cancel, rollback with auto-deploy
//! turned off, env vars staged and applied by one deploy, logs, and faults
//! (429, 5xx, a Cloudflare page, malformed JSON, timeouts) with bounded
//! retries and the key in no error.

mod support {
    pub mod render_fake;
}

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use futures::StreamExt;
use shipdeck::domain::{Artifact, Health, ReleaseStatus};
use shipdeck::provider::render::{RenderProvider, RenderSettings};
use shipdeck::provider::token::fixed_token;
use shipdeck::provider::{
    CallRecord, CallSink, Progress, Provider, ProviderError, Target, UnitState,
};
use shipdeck::secrets::SecretValue;
use support::render_fake::{FakeService, Fault, FaultKind, RenderFake, digest_for};

const KEY: &str = "rnd_TESTkeyVALUEneverOnScreen";
const OLD: &str = "docker.io/acme/api:1.3.0";
const NEW: &str = "docker.io/acme/api:1.4.0";

fn settings(fake: &RenderFake) -> RenderSettings {
    RenderSettings {
        api_url: fake.base_url(),
        poll_interval: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(10),
        ..RenderSettings::default()
    }
}

fn client(fake: &RenderFake) -> RenderProvider {
    client_with(fake, settings(fake), CallSink::discard())
}

fn client_with(fake: &RenderFake, s: RenderSettings, calls: CallSink) -> RenderProvider {
    let _ = fake;
    RenderProvider::new(s, fixed_token(KEY.into()), Duration::from_secs(2), calls)
}

fn target(id: &str) -> Target {
    Target {
        env: "production".into(),
        service: Some("api".into()),
        remote: id.into(),
        scope: None,
    }
}

/// An image service on OLD with two older deploys, and a repo service.
async fn fleet() -> RenderFake {
    let fake = RenderFake::start(KEY).await;
    fake.add_service(FakeService::image("srv-api", "api", OLD).with_env("JWT_SECRET", "old-value"));
    fake.push_deploy("srv-api", "live", "docker.io/acme/api:1.2.0");
    fake.push_deploy("srv-api", "update_failed", "docker.io/acme/api:1.2.9");
    fake.push_deploy("srv-api", "live", OLD);
    fake.add_service(FakeService::repo(
        "srv-web",
        "web",
        "https://github.com/acme/web",
        "main",
    ));
    fake.add_commit("1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "first");
    fake.push_deploy(
        "srv-web",
        "live",
        "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    fake
}

#[tokio::test]
async fn history_is_the_deploys_newest_first_with_their_artifacts() {
    let fake = fleet().await;
    let releases = client(&fake)
        .releases(&target("srv-api"), 10)
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
            ("1.2.9".to_string(), ReleaseStatus::Failed, false),
            ("1.2.0".to_string(), ReleaseStatus::Superseded, false),
        ]
    );
    let digest = releases[0].artifact.as_ref().unwrap().as_image().unwrap();
    assert_eq!(digest.digest.as_deref(), Some(digest_for(OLD).as_str()));
    let web = client(&fake)
        .releases(&target("srv-web"), 10)
        .await
        .unwrap();
    assert_eq!(web[0].label(), "1111111");
    assert!(web[0].description.contains("first"), "{web:?}");
}

#[tokio::test]
async fn history_follows_cursors_across_pages() {
    let fake = fleet().await;
    for i in 0..7 {
        fake.push_deploy(
            "srv-api",
            "deactivated",
            &format!("docker.io/acme/api:0.{i}"),
        );
    }
    fake.set_page_max(3);
    let releases = client(&fake).releases(&target("srv-api"), 9).await.unwrap();
    assert_eq!(releases.len(), 9);
    let ids: std::collections::HashSet<_> = releases.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 9, "no page read twice");
    assert!(fake.hits(Some(Method::GET), "cursor=").len() >= 2);
}

#[tokio::test]
async fn status_is_healthy_live_and_degraded_after_a_server_failed_event() {
    let fake = fleet().await;
    let c = client(&fake);
    let instances = c.status(&target("srv-api")).await.unwrap();
    assert!(!instances.is_empty());
    assert!(
        instances.iter().all(|i| i.health == Health::Healthy),
        "{instances:?}"
    );
    assert_eq!(instances[0].service, "api");
    fake.push_event(
        "srv-api",
        "server_failed",
        serde_json::json!({"reason": {"nonZeroExit": 1}}),
    );
    let instances = c.status(&target("srv-api")).await.unwrap();
    assert!(
        instances.iter().all(|i| i.health == Health::Degraded),
        "{instances:?}"
    );
    fake.push_event("srv-api", "server_available", serde_json::json!({}));
    let instances = c.status(&target("srv-api")).await.unwrap();
    assert!(instances.iter().all(|i| i.health == Health::Healthy));
}

#[tokio::test]
async fn promote_deploys_the_exact_digest_and_waits_until_live() {
    let fake = fleet().await;
    let c = client(&fake);
    let staging_artifact = Artifact::image(&format!("{NEW}@{}", digest_for(NEW)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let progress = Progress::new(move |u| sink.lock().unwrap().push(u.state), rx);
    let release = c
        .deploy(&target("srv-api"), &staging_artifact, "promote", &progress)
        .await
        .unwrap();
    assert_eq!(release.status, ReleaseStatus::Live);
    let live = fake.live_deploy("srv-api").unwrap();
    assert_eq!(live.image_sha.as_deref(), Some(digest_for(NEW).as_str()));
    assert!(
        live.image_ref.as_deref().unwrap().contains("@sha256:"),
        "by digest"
    );
    assert!(c.runs(&target("srv-api"), &staging_artifact).await.unwrap());
    assert_eq!(fake.deploy_triggers("srv-api"), 1);
    let states = seen.lock().unwrap().clone();
    assert_eq!(states.first(), Some(&UnitState::Started));
    assert_eq!(states.last(), Some(&UnitState::Done));
}

#[tokio::test]
async fn an_image_from_another_repository_or_a_commit_is_refused_before_any_call() {
    let fake = fleet().await;
    let c = client(&fake);
    let err = c
        .deploy(
            &target("srv-api"),
            &Artifact::image("ghcr.io/other/api:1.4.0"),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("ghcr.io/other/api"), "{err}");
    assert!(err.changed_nothing());
    assert_eq!(fake.deploy_triggers("srv-api"), 0);
}

#[tokio::test]
async fn a_deploy_render_rejects_leaves_the_old_one_live_and_reads_as_a_bad_release() {
    let fake = fleet().await;
    fake.fail_image(NEW);
    let err = client(&fake)
        .deploy(
            &target("srv-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err}");
    assert!(err.is_unhealthy_release() && err.changed_nothing(), "{err}");
    assert!(err.to_string().contains("update_failed"), "{err}");
    let live = fake.live_deploy("srv-api").unwrap();
    assert_eq!(live.image_ref.as_deref(), Some(OLD));
}

#[tokio::test]
async fn a_queued_deploy_answered_202_is_found_and_followed() {
    let fake = fleet().await;
    fake.set_polls_to_finish(3);
    let c = client(&fake);
    // A deploy already under way: the next trigger is queued (202, no body).
    fake.push_deploy("srv-api", "update_in_progress", "docker.io/acme/api:1.3.5");
    let fake = Arc::new(fake);
    let finisher = {
        let fake = fake.clone();
        tokio::spawn(async move {
            // Render finishes the running deploy on its own; then ours starts.
            tokio::time::sleep(Duration::from_millis(300)).await;
            fake.complete_deploys("srv-api");
        })
    };
    let release = c
        .deploy(
            &target("srv-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap();
    assert_eq!(release.status, ReleaseStatus::Live);
    assert!(
        fake.hits(Some(Method::POST), "/deploys")
            .iter()
            .any(|h| h.status == 202),
        "the fake queued it"
    );
    assert_eq!(fake.live_deploy("srv-api").unwrap().id, release.id);
    finisher.await.unwrap();
}

#[tokio::test]
async fn cancel_stops_the_running_deploy_on_render() {
    let fake = fleet().await;
    fake.set_polls_to_finish(1000);
    let c = Arc::new(client(&fake));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let progress = Progress::new(|_| {}, rx);
    let task = {
        let c = c.clone();
        tokio::spawn(async move {
            c.deploy(
                &target("srv-api"),
                &Artifact::image(NEW),
                "promote",
                &progress,
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(true).unwrap();
    let err = task.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ProviderError::Cancelled { done: 0, total: 1 }),
        "{err}"
    );
    assert_eq!(fake.hits(Some(Method::POST), "/cancel").len(), 1);
    assert_eq!(fake.deploys("srv-api")[0].status, "canceled");
    assert_eq!(
        fake.live_deploy("srv-api").unwrap().image_ref.as_deref(),
        Some(OLD)
    );
}

#[tokio::test]
async fn rollback_is_renders_own_and_turns_auto_deploy_off() {
    let fake = fleet().await;
    let c = client(&fake);
    let history = c.releases(&target("srv-api"), 10).await.unwrap();
    let to = history.iter().find(|r| r.label() == "1.2.0").unwrap();
    let release = c
        .rollback(&target("srv-api"), to, &Progress::none())
        .await
        .unwrap();
    assert!(
        release.description.contains("auto-deploy turned off"),
        "{release:?}"
    );
    let live = fake.live_deploy("srv-api").unwrap();
    assert_eq!(live.trigger, "rollback");
    assert_eq!(live.image_ref.as_deref(), Some("docker.io/acme/api:1.2.0"));
    assert!(!fake.service("srv-api").unwrap().auto_deploy);
    assert_eq!(
        fake.patches("srv-api"),
        [serde_json::json!({"autoDeploy": "no"})]
    );

    // Asked not to: auto-deploy stays as it is.
    let fake = fleet().await;
    let keep = RenderSettings {
        pause_autodeploy_on_rollback: false,
        ..settings(&fake)
    };
    let c = client_with(&fake, keep, CallSink::discard());
    let history = c.releases(&target("srv-api"), 10).await.unwrap();
    c.rollback(&target("srv-api"), &history[2], &Progress::none())
        .await
        .unwrap();
    assert!(fake.service("srv-api").unwrap().auto_deploy);
    assert!(fake.patches("srv-api").is_empty());
}

#[tokio::test]
async fn env_vars_are_names_and_digests_staged_one_key_at_a_time_and_applied_by_one_deploy() {
    let fake = fleet().await;
    let c = client(&fake);
    let before = c.secrets(&target("srv-api")).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].name, "JWT_SECRET");
    let shown = format!("{before:?}");
    assert!(!shown.contains("old-value"), "{shown}");
    c.set_secrets(
        &target("srv-api"),
        vec![(
            "JWT_SECRET".into(),
            Some(SecretValue::new("new-value".into())),
        )],
        true,
    )
    .await
    .unwrap();
    assert_eq!(fake.deploy_triggers("srv-api"), 0, "staged: no deploy yet");
    let staged = c.secrets(&target("srv-api")).await.unwrap();
    assert!(staged[0].staged);
    assert_ne!(
        staged[0].digest, before[0].digest,
        "the digest follows the value"
    );
    let applied = c.apply_secrets(&target("srv-api")).await.unwrap().unwrap();
    assert_eq!(
        fake.deploy_triggers("srv-api"),
        1,
        "one redeploy applies them"
    );
    let env = fake.live_env_of(&applied.id).unwrap();
    assert_eq!(env.get("JWT_SECRET").map(String::as_str), Some("new-value"));
    assert_eq!(
        fake.live_deploy("srv-api").unwrap().image_sha.as_deref(),
        Some(digest_for(OLD).as_str()),
        "the same artifact again"
    );
    assert!(!c.secrets(&target("srv-api")).await.unwrap()[0].staged);
    // Unset is one DELETE; unsetting a missing key is not an error.
    c.set_secrets(&target("srv-api"), vec![("JWT_SECRET".into(), None)], true)
        .await
        .unwrap();
    c.set_secrets(&target("srv-api"), vec![("NEVER_SET".into(), None)], true)
        .await
        .unwrap();
    assert!(fake.env("srv-api").is_empty());
    assert_eq!(fake.replace_all_puts(), 0, "never the replace-all PUT");
}

#[tokio::test]
async fn logs_are_polled_as_json_lines() {
    let fake = fleet().await;
    fake.push_log_with("srv-api", "GET /health 200", "info", "app");
    fake.push_log("srv-api", r#"{"level":"error","msg":"db down"}"#);
    let mut stream = client(&fake).logs(&target("srv-api"), "api").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["message"], "GET /health 200");
    assert_eq!(v["level"], "info");
    let second = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        second, r#"{"level":"error","msg":"db down"}"#,
        "the app's own line"
    );
    let logs = fake.hits(Some(Method::GET), "/v1/logs");
    assert!(logs[0].path.contains("ownerId=") && logs[0].path.contains("resource=srv-api"));
}

#[tokio::test]
async fn whoami_names_the_workspaces_the_key_acts_for() {
    let fake = fleet().await;
    fake.set_owner("tea-1", "Acme", "ops@acme.test", "team");
    let who = client(&fake).whoami().await.unwrap();
    assert!(who.contains("Acme") && who.contains("tea-1"), "{who}");
}

fn recorded() -> (CallSink, tokio::sync::mpsc::UnboundedReceiver<CallRecord>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (CallSink::new(tx), rx)
}

#[tokio::test]
async fn reads_retry_a_429_and_a_5xx_a_bounded_number_of_times() {
    let fake = fleet().await;
    fake.fault(Fault::new(
        Some(Method::GET),
        "/services/srv-api/deploys",
        1,
        FaultKind::RateLimited { retry_after: 1 },
    ));
    fake.fault(Fault::new(
        Some(Method::GET),
        "/services/srv-api/deploys",
        1,
        FaultKind::Status(
            503,
            serde_json::json!({"id": "unavailable", "message": "try later"}),
        ),
    ));
    let c = client(&fake);
    let releases = c.releases(&target("srv-api"), 5).await.unwrap();
    assert_eq!(releases.len(), 3);
    let first_page = fake
        .hits(Some(Method::GET), "/services/srv-api/deploys")
        .into_iter()
        .filter(|h| !h.path.contains("cursor="))
        .count();
    assert_eq!(first_page, 3, "429, then 503, then the answer");
    // A failure that never ends stops after the policy's attempts.
    fake.fault(Fault::new(
        None,
        "/services/srv-web",
        100,
        FaultKind::Empty500,
    ));
    let err = c.releases(&target("srv-web"), 5).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { status: 500, .. }),
        "{err}"
    );
    assert_eq!(fake.hits(None, "/services/srv-web").len(), 4);
}

#[tokio::test]
async fn a_deploy_trigger_is_never_retried() {
    let fake = fleet().await;
    fake.fault(Fault::new(
        Some(Method::POST),
        "/deploys",
        1,
        FaultKind::Status(
            503,
            serde_json::json!({"id": "unavailable", "message": "busy"}),
        ),
    ));
    let err = client(&fake)
        .deploy(
            &target("srv-api"),
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
    assert_eq!(fake.hits(Some(Method::POST), "/deploys").len(), 1);
    fake.fault(Fault::new(
        Some(Method::POST),
        "/deploys",
        1,
        FaultKind::RateLimited { retry_after: 42 },
    ));
    let err = client(&fake)
        .deploy(
            &target("srv-api"),
            &Artifact::image(NEW),
            "promote",
            &Progress::none(),
        )
        .await
        .unwrap_err();
    match err {
        ProviderError::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(42)))
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_cloudflare_page_malformed_json_and_a_slow_answer_are_named_and_the_key_never_shows() {
    let fake = fleet().await;
    let (calls, mut records) = recorded();
    let c = client_with(&fake, settings(&fake), calls);
    fake.fault(Fault::new(
        None,
        "/services/srv-api/deploys",
        1,
        FaultKind::CloudflareBlock,
    ));
    let cf = c.releases(&target("srv-api"), 5).await.unwrap_err();
    assert!(
        matches!(cf, ProviderError::Status { status: 403, .. }),
        "{cf}"
    );
    assert!(cf.to_string().contains("HTML error page"), "{cf}");
    fake.fault(Fault::new(
        None,
        "/services/srv-api/deploys",
        1,
        FaultKind::Malformed,
    ));
    let bad = c.releases(&target("srv-api"), 5).await.unwrap_err();
    assert!(matches!(bad, ProviderError::Decode { .. }), "{bad}");
    fake.fault(Fault::new(
        None,
        "/services/srv-api/deploys",
        4,
        FaultKind::Delay(Duration::from_secs(4)),
    ));
    let slow = c.releases(&target("srv-api"), 5).await.unwrap_err();
    assert!(matches!(slow, ProviderError::Timeout { .. }), "{slow}");
    // A wrong key is the credential's fault, and says how to fix it.
    let wrong = RenderProvider::new(
        settings(&fake),
        fixed_token("rnd_wrongKEYvalue".into()),
        Duration::from_secs(2),
        CallSink::discard(),
    );
    let auth = wrong.releases(&target("srv-api"), 5).await.unwrap_err();
    assert!(
        matches!(auth, ProviderError::Auth { status: 401, .. }),
        "{auth}"
    );
    assert!(
        auth.to_string().contains("shipdeck auth set render"),
        "{auth}"
    );
    for text in [
        cf.to_string(),
        bad.to_string(),
        slow.to_string(),
        auth.to_string(),
    ]
    .into_iter()
    .chain(std::iter::from_fn(|| records.try_recv().ok()).map(|r| format!("{r:?}")))
    {
        assert!(!text.contains(KEY) && !text.contains("rnd_wrong"), "{text}");
    }
    assert!(fake.requests().iter().all(|h| !h.path.contains("rnd_")));
}
