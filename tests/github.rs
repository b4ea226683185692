//! The GitHub Actions client against a fake GitHub REST API (shapes from
//! GitHub's OpenAPI description, docs and public clients, written apart from
//! the client): history and the current release from Deployments, a deploy
//! that dispatches the workflow and follows its jobs, the 204 fallback that
//! finds the run, a failing step with its log, cancel, approvals, sealed
//! secrets, and faults (secondary and primary rate limits, a 502 page,
//! timeouts, a 422 on an undeclared input, a missing permission) with the
//! token in no error, call record or `Debug`.

mod support {
    pub mod github_fake;
}

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use futures::StreamExt;
use serde_json::json;
use shipdeck::domain::{Artifact, ReleaseStatus};
use shipdeck::provider::github::{GithubProvider, GithubSettings};
use shipdeck::provider::token::fixed_token;
use shipdeck::provider::{
    CallRecord, CallSink, Progress, Provider, ProviderError, Target, UnitProgress, UnitState,
};
use shipdeck::secrets::SecretValue;
use support::github_fake::{FakeEnvironment, FakeJob, FakeWorkflow, Fault, FaultKind, GithubFake};

const TOKEN: &str = "ghp_TESTtokenVALUEneverOnScreen0001";
const REPO: &str = "acme/kaiwa";
const OLD: &str = "ghcr.io/acme/kaiwa:1.3.0";
const NEW: &str = "ghcr.io/acme/kaiwa:1.4.0";
const MAIN: &str = "1111111111111111111111111111111111111111";

fn settings(fake: &GithubFake) -> GithubSettings {
    let inputs: BTreeMap<String, String> = [
        ("environment", "{environment}"),
        ("image", "{artifact.image}"),
        ("sha", "{artifact.commit}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    GithubSettings {
        api_url: fake.base_url(),
        repo: REPO.into(),
        workflow: "deploy.yml".into(),
        git_ref: "main".into(),
        inputs,
        environment: "production".into(),
        env: "production".into(),
        services: BTreeMap::new(),
        wait_timeout: Duration::from_secs(20),
        poll_interval: Duration::from_millis(20),
    }
}

fn client(fake: &GithubFake) -> GithubProvider {
    client_with(settings(fake), CallSink::discard())
}

fn client_with(s: GithubSettings, calls: CallSink) -> GithubProvider {
    GithubProvider::new(s, fixed_token(TOKEN.into()), Duration::from_secs(2), calls)
}

fn target() -> Target {
    Target {
        env: "production".into(),
        service: None,
        remote: REPO.into(),
        scope: None,
    }
}

/// A repo with a three-job deploy workflow, staging and production, and
/// production running OLD (deployed by an earlier run).
async fn fleet() -> GithubFake {
    let fake = GithubFake::start(TOKEN).await;
    fake.add_repo(REPO);
    fake.set_ref(REPO, "main", MAIN);
    fake.set_identity("alice", 1001, Some("Alice"));
    fake.add_workflow(
        REPO,
        FakeWorkflow::dispatchable("deploy.yml", "Deploy")
            .input("environment", true)
            .input("image", false)
            .input("sha", false)
            .job(FakeJob::new("build").steps(&["Checkout", "Build image"]))
            .job(
                FakeJob::new("deploy")
                    .environment("{inputs.environment}")
                    .steps(&["Deploy", "Smoke test"]),
            )
            .job(FakeJob::new("verify").steps(&["Health"])),
    );
    fake.add_environment(REPO, FakeEnvironment::new("staging"));
    fake.add_environment(
        REPO,
        FakeEnvironment::new("production").url("https://kaiwa.example"),
    );
    seed(&fake, "production", OLD);
    fake
}

/// Run the deploy workflow through the fake itself (as a person would on github.com).
fn seed(fake: &GithubFake, env: &str, image: &str) {
    let id = fake
        .dispatch(
            REPO,
            "deploy.yml",
            "main",
            json!({"environment": env, "image": image}),
        )
        .unwrap();
    fake.complete_run(id);
}

type Reports = Arc<Mutex<Vec<UnitProgress>>>;

fn progress() -> (Progress, Reports, tokio::sync::watch::Sender<bool>) {
    let seen: Reports = Arc::default();
    let sink = seen.clone();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let p = Progress::new(move |u| sink.lock().unwrap().push(u), rx);
    (p, seen, tx)
}

fn image(reference: &str) -> Artifact {
    Artifact::image(reference)
}

#[tokio::test]
async fn history_comes_from_deployments_and_the_latest_success_is_current() {
    let fake = fleet().await;
    seed(&fake, "production", NEW);
    let gh = client(&fake);
    let releases = gh.releases(&target(), 10).await.unwrap();
    assert_eq!(releases.len(), 2, "{releases:?}");
    assert!(releases[0].current);
    assert_eq!(releases[0].status, ReleaseStatus::Live);
    assert_eq!(releases[0].artifact, Some(image(NEW)));
    assert_eq!(releases[0].author.as_deref(), Some("alice"));
    assert_eq!(releases[1].status, ReleaseStatus::Superseded);
    assert_eq!(releases[1].artifact, Some(image(OLD)));
    assert!(gh.runs(&target(), &image(NEW)).await.unwrap());
    // A second look asks only about deployments whose state can still change.
    let before = fake.hits(Some(Method::GET), "/statuses").len();
    gh.releases(&target(), 10).await.unwrap();
    let after = fake.hits(Some(Method::GET), "/statuses").len();
    assert_eq!(after - before, 1, "the older success is settled");
    assert!(
        fake.requests_without_api_version().is_empty(),
        "every call pins X-GitHub-Api-Version"
    );
}

#[tokio::test]
async fn a_deploy_dispatches_follows_every_job_and_confirms_the_deployment() {
    let fake = fleet().await;
    // Two reads (the run, its jobs) per look: one step per look.
    fake.set_polls_per_step(2);
    let gh = client(&fake);
    let (p, seen, _cancel) = progress();
    let release = gh
        .deploy(&target(), &image(NEW), "promote", &p)
        .await
        .unwrap();
    assert!(release.current);
    assert_eq!(release.artifact, Some(image(NEW)));
    let sent = fake.dispatches(REPO);
    let last = sent.last().unwrap();
    assert_eq!(last["ref"], "main");
    assert_eq!(last["inputs"]["image"], NEW);
    assert_eq!(last["inputs"]["environment"], "production");
    assert_eq!(last["inputs"]["sha"], "", "an image has no commit");
    assert_eq!(last["return_run_details"], true);
    let reports = seen.lock().unwrap().clone();
    for job in ["build", "deploy", "verify"] {
        assert!(
            reports
                .iter()
                .any(|r| r.unit == job && r.state == UnitState::Done && r.total == 3),
            "{job} done: {reports:?}"
        );
        assert!(
            reports
                .iter()
                .any(|r| r.unit == job && r.state == UnitState::Started),
            "{job} seen running: {reports:?}"
        );
    }
    assert!(
        reports.iter().any(|r| r.detail.contains("Smoke test")),
        "steps are named live: {reports:?}"
    );
    let current = gh.releases(&target(), 5).await.unwrap();
    assert_eq!(current[0].artifact, Some(image(NEW)));
    assert_eq!(current[1].status, ReleaseStatus::Superseded);
}

#[tokio::test]
async fn a_server_that_answers_204_has_its_run_found_by_event_branch_and_actor() {
    let fake = fleet().await;
    fake.set_dispatch_details(false);
    fake.set_dispatch_list_lag(2);
    let gh = client(&fake);
    let release = gh
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap();
    assert_eq!(release.artifact, Some(image(NEW)));
    // A server that does not know `return_run_details` at all (GHES): asked again without it.
    fake.set_dispatch_mode(support::github_fake::DispatchMode::RejectParam);
    gh.deploy(&target(), &image(OLD), "rollback", &Progress::none())
        .await
        .unwrap();
    let last = fake.dispatches(REPO).last().cloned().unwrap();
    assert!(last.get("return_run_details").is_none(), "{last}");
    let lookups = fake.hits(Some(Method::GET), "event=workflow_dispatch");
    assert!(lookups.len() >= 3, "it looked again while the list lagged");
    let query = &lookups[0].path;
    assert!(
        query.contains("actor=alice") && query.contains("branch=main"),
        "{query}"
    );
    assert!(query.contains("created=%3E%3D"), "{query}");
}

#[tokio::test]
async fn a_failing_step_after_the_deploy_began_reports_its_log_and_is_not_silent() {
    let fake = fleet().await;
    fake.fail_job_step(
        REPO,
        "deploy.yml",
        "deploy",
        "Smoke test",
        "curl: (22) The requested URL returned error: 503",
    );
    let gh = client(&fake);
    let err = gh
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Remote { .. }), "{err:?}");
    assert!(!err.changed_nothing(), "the deploy job ran: revert");
    assert!(text.contains("Smoke test"), "{text}");
    assert!(
        text.contains("returned error: 503"),
        "the failed job's log: {text}"
    );
    assert_eq!(
        fake.blob_fetches_with_auth(),
        0,
        "the token never goes to the blob host"
    );
    assert!(!fake.blob_fetches().is_empty());
    // Still serving the old one.
    let releases = gh.releases(&target(), 5).await.unwrap();
    let current = releases.iter().find(|r| r.current).unwrap();
    assert_eq!(current.artifact, Some(image(OLD)));
}

#[tokio::test]
async fn a_build_that_fails_before_any_deployment_changed_nothing() {
    let fake = fleet().await;
    fake.fail_job_step(
        REPO,
        "deploy.yml",
        "build",
        "Build image",
        "error: exit status 2",
    );
    let gh = client(&fake);
    let err = gh
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err:?}");
    assert!(err.changed_nothing() && err.is_unhealthy_release());
    assert!(err.to_string().contains("Build image"), "{err}");
}

#[tokio::test]
async fn an_abort_cancels_the_run_on_github() {
    let fake = fleet().await;
    fake.set_polls_per_step(3);
    let gh = client(&fake);
    let (p, seen, cancel) = progress();
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                if seen.lock().unwrap().iter().any(|r| r.unit == "build") {
                    let _ = cancel.send(true);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let err = gh
        .deploy(&target(), &image(NEW), "promote", &p)
        .await
        .unwrap_err();
    watcher.await.unwrap();
    assert!(matches!(err, ProviderError::Cancelled { .. }), "{err:?}");
    assert!(err.changed_nothing(), "cancelled during the build: {err:?}");
    assert_eq!(fake.hits(Some(Method::POST), "/cancel").len(), 1);
    let run = fake.latest_run(REPO).unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn a_run_waiting_for_a_reviewer_says_who_and_goes_on_once_approved() {
    let fake = fleet().await;
    fake.add_environment(
        REPO,
        FakeEnvironment::new("production").required_reviewers(&["alice", "bob"]),
    );
    let gh = Arc::new(client(&fake));
    let (p, seen, _cancel) = progress();
    let deploying = {
        let gh = gh.clone();
        tokio::spawn(async move { gh.deploy(&target(), &image(NEW), "promote", &p).await })
    };
    let waiting = loop {
        let list = gh.approvals(&target()).await.unwrap();
        if let Some(a) = list.into_iter().next() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(waiting.reviewers, ["alice", "bob"]);
    assert!(waiting.can_approve);
    assert_eq!(waiting.environments[0].1, "production");
    gh.review(&target(), &waiting, true, "go").await.unwrap();
    let release = deploying.await.unwrap().unwrap();
    assert_eq!(release.artifact, Some(image(NEW)));
    let reports = seen.lock().unwrap().clone();
    assert!(
        reports
            .iter()
            .any(|r| r.detail.contains("waiting for approval by alice, bob")),
        "{reports:?}"
    );
    let run: u64 = waiting.run.parse().unwrap();
    assert_eq!(fake.reviews(run).len(), 1);
}

#[tokio::test]
async fn a_rejected_run_changed_nothing() {
    let fake = fleet().await;
    fake.add_environment(
        REPO,
        FakeEnvironment::new("production").required_reviewers(&["bob"]),
    );
    let gh = Arc::new(client(&fake));
    let deploying = {
        let gh = gh.clone();
        tokio::spawn(async move {
            gh.deploy(&target(), &image(NEW), "promote", &Progress::none())
                .await
        })
    };
    let waiting = loop {
        if let Some(a) = gh.approvals(&target()).await.unwrap().into_iter().next() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    gh.review(&target(), &waiting, false, "not today")
        .await
        .unwrap();
    let err = deploying.await.unwrap().unwrap_err();
    assert!(
        err.changed_nothing(),
        "a rejected deploy never ran: {err:?}"
    );
}

#[tokio::test]
async fn secrets_are_sealed_to_the_environments_key_and_never_read_back() {
    let fake = fleet().await;
    fake.set_secret(REPO, "production", "JWT_SECRET", "first");
    let gh = client(&fake);
    let listed = gh.secrets(&target()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].write_only && listed[0].digest.is_none());
    gh.set_secrets(
        &target(),
        vec![
            (
                "JWT_SECRET".into(),
                Some(SecretValue::new("rotated-válue".into())),
            ),
            (
                "SMTP_PASSWORD".into(),
                Some(SecretValue::new("p4ss".into())),
            ),
        ],
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.secret_value(REPO, "production", "JWT_SECRET")
            .as_deref(),
        Some("rotated-válue"),
        "the fake opened the sealed box with its private key"
    );
    assert_eq!(
        fake.secret_value(REPO, "production", "SMTP_PASSWORD")
            .as_deref(),
        Some("p4ss")
    );
    let listed = gh.secrets(&target()).await.unwrap();
    assert!(
        listed.iter().all(|s| s.staged),
        "picked up by the next run: {listed:?}"
    );
    gh.set_secrets(&target(), vec![("SMTP_PASSWORD".into(), None)], true)
        .await
        .unwrap();
    assert_eq!(fake.secret_names(REPO, "production"), ["JWT_SECRET"]);
    let err = gh
        .set_secrets(&target(), vec![("SMTP_PASSWORD".into(), None)], true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SMTP_PASSWORD"), "{err}");
    let puts = fake.hits(Some(Method::PUT), "/secrets/").len();
    let err = gh
        .set_secrets(
            &target(),
            vec![("GITHUB_TOKEN".into(), Some(SecretValue::new("x".into())))],
            true,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GITHUB_"), "{err}");
    assert_eq!(
        fake.hits(Some(Method::PUT), "/secrets/").len(),
        puts,
        "refused before any call"
    );
}

#[tokio::test]
async fn a_dispatch_github_refuses_changed_nothing_and_says_why() {
    let fake = fleet().await;
    let mut s = settings(&fake);
    s.inputs.insert("region".into(), "eu".into());
    let gh = client_with(s, CallSink::discard());
    let err = gh
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Invalid { .. }), "{err:?}");
    assert!(err.changed_nothing());
    assert!(
        err.to_string().contains("Unexpected inputs provided"),
        "{err}"
    );
    let mut s = settings(&fake);
    s.workflow = "deploy-prod.yml".into();
    let err = client_with(s, CallSink::discard())
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no workflow `deploy-prod.yml`"),
        "{err}"
    );
    // An image through inputs that only take a commit: refused before dispatch.
    let mut s = settings(&fake);
    s.inputs.remove("image");
    let dispatched = fake.dispatches(REPO).len();
    let err = client_with(s, CallSink::discard())
        .deploy(&target(), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("take no part of image"), "{err}");
    assert_eq!(fake.dispatches(REPO).len(), dispatched);
}

#[tokio::test]
async fn rate_limits_are_honoured_without_hammering() {
    let fake = fleet().await;
    let gh = client(&fake);
    // A secondary limit asking for a short pause is waited out.
    fake.fault(Fault::new(
        Some(Method::GET),
        "/deployments?",
        1,
        FaultKind::SecondaryRateLimit {
            retry_after_secs: 1,
        },
    ));
    let started = std::time::Instant::now();
    gh.releases(&target(), 5).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A spent hourly limit is not asked again and again.
    fake.fault(Fault::new(
        Some(Method::GET),
        "/deployments?",
        usize::MAX,
        FaultKind::PrimaryRateLimit {
            reset_in_secs: 3000,
        },
    ));
    let before = fake.hits(Some(Method::GET), "/deployments?").len();
    let err = gh.releases(&target(), 5).await.unwrap_err();
    match &err {
        ProviderError::RateLimited { retry_after, .. } => {
            assert!(retry_after.unwrap() > Duration::from_secs(2000), "{err:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.hits(Some(Method::GET), "/deployments?").len() - before,
        1
    );
    fake.clear_faults();
    // GitHub's 502 page is retried, then read as a page, not JSON.
    fake.fault(Fault::new(
        Some(Method::GET),
        "/deployments?",
        1,
        FaultKind::unicorn_502(),
    ));
    gh.releases(&target(), 5).await.unwrap();
    fake.fault(Fault::new(
        Some(Method::GET),
        "/deployments?",
        10,
        FaultKind::unicorn_502(),
    ));
    let err = gh.releases(&target(), 5).await.unwrap_err();
    assert!(err.to_string().contains("Unicorn"), "{err}");
}

#[tokio::test]
async fn permissions_timeouts_and_the_token_in_no_error() {
    let fake = fleet().await;
    let records: Arc<Mutex<Vec<CallRecord>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = records.clone();
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            sink.lock().unwrap().push(r);
        }
    });
    let gh = client_with(settings(&fake), CallSink::new(tx));
    fake.fault(Fault::forbidden(
        Some(Method::GET),
        "/environments/production/secrets",
    ));
    let err = gh.secrets(&target()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("Resource not accessible"), "{err}");
    fake.fault(Fault::new(
        Some(Method::GET),
        "/deployments?",
        usize::MAX,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    let err = gh.releases(&target(), 5).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    let bad = GithubProvider::new(
        settings(&fake),
        fixed_token("ghp_wrong".into()),
        Duration::from_secs(2),
        CallSink::discard(),
    );
    let err = bad.whoami().await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth { status: 401, .. }),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let shown = format!("{:?} {gh:?}", records.lock().unwrap());
    assert!(
        !shown.contains(TOKEN) && !err.to_string().contains("ghp_"),
        "{shown}"
    );
}

#[tokio::test]
async fn whoami_names_the_user_and_the_tokens_expiry() {
    let fake = fleet().await;
    fake.set_token_expiration(Some("2027-01-31 00:00:00 UTC"));
    let who = client(&fake).whoami().await.unwrap();
    assert_eq!(who, "alice, token expires 2027-01-31 00:00:00 UTC");
}

#[tokio::test]
async fn the_log_feed_shows_the_latest_runs_jobs() {
    let fake = fleet().await;
    let gh = client(&fake);
    let mut feed = gh.logs(&target(), "api").await.unwrap();
    let mut lines = Vec::new();
    while lines.len() < 5 {
        let line = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        lines.push(line);
    }
    let all = lines.join("\n");
    assert!(all.contains("run #1"), "{all}");
    assert!(all.contains("[build]"), "{all}");
    assert_eq!(fake.blob_fetches_with_auth(), 0);
}

#[tokio::test]
async fn services_with_their_own_inputs_deploy_and_keep_history_apart() {
    let fake = GithubFake::start(TOKEN).await;
    fake.add_repo(REPO);
    fake.add_workflow(
        REPO,
        FakeWorkflow::dispatchable("deploy.yml", "Deploy Staged")
            .input("environment", true)
            .input("image", false)
            .input("sha", false)
            .input("component", true)
            .job(
                FakeJob::new("deploy")
                    .environment("{inputs.environment}")
                    .steps(&["Deploy"]),
            ),
    );
    fake.add_environment(REPO, FakeEnvironment::new("production"));
    let mut s = settings(&fake);
    for (service, component) in [("backend", "backend"), ("frontend", "frontend")] {
        s.services.insert(
            service.into(),
            shipdeck::config::ServiceGithub {
                workflow: None,
                inputs: [("component".to_string(), component.to_string())].into(),
            },
        );
    }
    let gh = client_with(s, CallSink::discard());
    let unit = |service: &str| Target {
        service: Some(service.into()),
        scope: Some(service.into()),
        ..target()
    };
    gh.deploy(&unit("backend"), &image(NEW), "promote", &Progress::none())
        .await
        .unwrap();
    let web = "ghcr.io/acme/kaiwa-web:2.0.0";
    gh.deploy(&unit("frontend"), &image(web), "promote", &Progress::none())
        .await
        .unwrap();
    let sent = fake.dispatches(REPO);
    assert_eq!(sent[0]["inputs"]["component"], "backend");
    assert_eq!(sent[1]["inputs"]["component"], "frontend");
    let backend = gh.releases(&unit("backend"), 10).await.unwrap();
    assert_eq!(backend.len(), 1, "{backend:?}");
    assert_eq!(backend[0].artifact, Some(image(NEW)));
    assert!(
        backend[0].current,
        "the frontend's deploy does not supersede it"
    );
    let frontend = gh.releases(&unit("frontend"), 10).await.unwrap();
    assert_eq!(frontend[0].artifact, Some(image(web)));
}
