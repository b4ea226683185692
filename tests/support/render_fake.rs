//! A fake Render (public REST API v1) for tests, written from Render's public
//! material only, never from shipdeck's own Render client.
//!
//! Where each shape comes from:
//! - JSON field names, enums and status codes: the OpenAPI-generated Go client
//!   of the official CLI, `render-oss/cli` @ 85c8c2c, `pkg/client/types_gen.go`
//!   (`Service`, `ServiceWithCursor`, `Deploy`, `DeployWithCursor`, `EnvVar`,
//!   `EnvVarWithCursor`, `Owner`, `OwnerWithCursor`, `User`, `ServiceInstance`,
//!   `Error`, `CreateDeployJSONBody`, `RollbackDeployJSONBody`, `ServicePATCH`,
//!   `Logs200Response`, the `*Params` query structs), `pkg/client/client_gen.go`
//!   (which status answers what: 201 or an empty 202 for create-deploy, 201 for
//!   rollback, 200 for cancel, 204-style empty answer for env-var delete, and
//!   the `RateLimit-Limit`/`-Remaining`/`-Reset` + `Retry-After` headers it
//!   parses on 429), `pkg/client/envvar/envvar_gen.go` (`{key, value}` or
//!   `{key, generateValue}` inputs), `pkg/client/logs/logs_gen.go` (`Log`,
//!   `LogLabel`, label names, `forward`/`backward`), `pkg/client/events/events_gen.go`
//!   and `eventtypes`/`eventstatuses` (`ServiceEvent{id, timestamp, serviceId,
//!   type, details}`, `deployStartedEvent`, `deployEndedEvent`,
//!   `serverFailedEvent`, `succeeded`/`failed`/`canceled`).
//! - Which statuses count as running or finished: the same CLI's
//!   `pkg/deploy/util.go`; that the CLI always sends `clearCache` and reads
//!   pages of logs with `nextStartTime`/`nextEndTime`: `pkg/deploy/repo.go`,
//!   `pkg/tui/logs.go`.
//! - Rate limits (10 deploy triggers / minute / service, 400 GETs / minute, 30
//!   other writes / minute) and the header names: api-docs.render.com
//!   reference/rate-limiting. `imageUrl` must keep host, repository and name:
//!   api-docs.render.com reference/create-deploy (also in `CreateDeployJSONBody`).
//! - That an API rollback leaves autoDeploy alone and that env-var writes do
//!   not deploy: render.com/docs/rollbacks and the API reference (see
//!   /work/shared/reference/providers.md section 3).
//!
//! Deploy lifecycle (deterministic, no wall clock): a triggered deploy starts
//! `build_in_progress` (repo-backed) or `update_in_progress` (image-backed and
//! rollbacks). Every GET that returns it (`GET …/deploys/{id}`, or a
//! `GET …/deploys` list of its service) is one poll; after
//! [`FakeState::polls_to_finish`] polls (default 2) it ends: `live` (the
//! previous live deploy becomes `deactivated`, the env vars are snapshotted
//! into [`FakeDeploy::live_env`], instances are replaced) or, when scripted,
//! the failure status (the previous deploy stays live). A repo build moves to
//! `update_in_progress` after its first poll. A deploy triggered while another
//! is running or queued is stored as `queued` (answer: empty 202) and starts
//! when the running one ends. [`RenderFake::complete_deploys`] ends them
//! without polling. `deploy_started` / `deploy_ended` events are emitted as
//! deploys start and end.
#![allow(dead_code)]
// Handlers return early with a ready response; boxing it buys nothing in a test fake.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Scripted faults
// ---------------------------------------------------------------------------

/// A scripted misbehaviour for requests matching `method` and `path_contains`
/// (matched against path and query). Only requests with the right token are
/// faulted; a faulted request never reaches a handler.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only this method (None = any).
    pub method: Option<Method>,
    /// Substring of the path (and query) to match.
    pub path_contains: String,
    /// How many matching requests it affects.
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(
        method: Option<Method>,
        path_contains: &str,
        times: usize,
        kind: FaultKind,
    ) -> Fault {
        Fault {
            method,
            path_contains: path_contains.to_string(),
            times,
            kind,
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// 429 with `Retry-After: retry_after`, `Ratelimit-Remaining: 0`,
    /// `Ratelimit-Reset` and an `{id, message}` body.
    RateLimited { retry_after: u64 },
    /// This status with this JSON body (e.g. a 503 `{id, message}`).
    Status(u16, Value),
    /// A 500 with an empty body and no content type.
    Empty500,
    /// Cloudflare's HTML "Access denied" block page, status 403. Produced by
    /// the edge, so it carries no `Ratelimit-*` headers.
    CloudflareBlock,
    /// A 200 `application/json` whose body is cut off mid-document.
    Malformed,
    /// Sleep, then answer normally (for client timeouts).
    Delay(Duration),
}

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

/// The workspace `GET /v1/owners` lists.
#[derive(Debug, Clone)]
pub struct FakeOwner {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `"team"` or `"user"`.
    pub kind: String,
}

/// One fake service. Build with [`FakeService::image`] or [`FakeService::repo`].
#[derive(Debug, Clone)]
pub struct FakeService {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// `web_service`, `private_service`, `background_worker`, …
    pub kind: String,
    pub environment_id: Option<String>,
    /// Repo-backed services: the repository URL.
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// Image-backed services: the configured image (its repository is what
    /// `imageUrl` must match).
    pub image_path: Option<String>,
    pub auto_deploy: bool,
    pub suspended: bool,
    /// `serviceDetails.runtime` (`image`, `docker`, `node`, …).
    pub runtime: String,
    pub region: String,
    pub plan: String,
    pub health_check_path: String,
    pub num_instances: u32,
    /// Repo-backed: the commit a deploy without `commitId` builds (sha, message).
    pub head_commit: (String, String),
    /// Env vars (plaintext, as the API returns them).
    pub env: BTreeMap<String, String>,
    /// Running instances (id, createdAt); replaced when a deploy goes live.
    pub instances: Vec<(String, DateTime<Utc>)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FakeService {
    /// An image-backed web service running `image_path`
    /// (e.g. `ghcr.io/acme/shop:1.4.0`).
    pub fn image(id: &str, name: &str, image_path: &str) -> FakeService {
        let mut s = FakeService::base(id, name);
        s.image_path = Some(image_path.to_string());
        s.runtime = "image".into();
        s
    }

    /// A repo-backed web service building `repo_url` at `branch` (Docker runtime).
    pub fn repo(id: &str, name: &str, repo_url: &str, branch: &str) -> FakeService {
        let mut s = FakeService::base(id, name);
        s.repo = Some(repo_url.to_string());
        s.branch = Some(branch.to_string());
        s.runtime = "docker".into();
        s
    }

    fn base(id: &str, name: &str) -> FakeService {
        let t = now_us() - chrono::Duration::days(30);
        FakeService {
            id: id.to_string(),
            name: name.to_string(),
            slug: slugify(name),
            kind: "web_service".into(),
            environment_id: None,
            repo: None,
            branch: None,
            image_path: None,
            auto_deploy: true,
            suspended: false,
            runtime: "image".into(),
            region: "oregon".into(),
            plan: "starter".into(),
            health_check_path: "/healthz".into(),
            num_instances: 1,
            head_commit: (
                "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4".into(),
                "Initial commit".into(),
            ),
            env: BTreeMap::new(),
            instances: Vec::new(),
            created_at: t,
            updated_at: t,
        }
    }

    pub fn with_environment(mut self, environment_id: &str) -> Self {
        self.environment_id = Some(environment_id.to_string());
        self
    }

    pub fn with_auto_deploy(mut self, on: bool) -> Self {
        self.auto_deploy = on;
        self
    }

    pub fn with_health_check(mut self, path: &str) -> Self {
        self.health_check_path = path.to_string();
        self
    }

    pub fn with_instances(mut self, n: u32) -> Self {
        self.num_instances = n;
        self
    }

    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_string();
        self
    }

    pub fn with_head_commit(mut self, sha: &str, message: &str) -> Self {
        self.head_commit = (sha.to_string(), message.to_string());
        self
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Image-backed (has an `imagePath`) rather than repo-backed.
    pub fn is_image(&self) -> bool {
        self.image_path.is_some() && self.repo.is_none()
    }
}

/// A deploy's commit (repo-backed services).
#[derive(Debug, Clone)]
pub struct FakeCommit {
    pub id: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// One deploy.
#[derive(Debug, Clone)]
pub struct FakeDeploy {
    pub id: String,
    pub service_id: String,
    /// `queued`, `build_in_progress`, `update_in_progress`, `live`,
    /// `deactivated`, `build_failed`, `update_failed`, `canceled`, …
    pub status: String,
    /// `api`, `rollback`, `new_commit`, …
    pub trigger: String,
    /// Image-backed: `image.ref` as requested.
    pub image_ref: Option<String>,
    /// Image-backed: `image.sha`, see [`digest_for`].
    pub image_sha: Option<String>,
    pub commit: Option<FakeCommit>,
    pub clear_cache: bool,
    /// Rollbacks: the deploy rolled back to.
    pub rollback_of: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// GETs seen while running.
    pub polls: u32,
    /// Scripted: end with this status instead of `live`.
    pub fail_as: Option<String>,
    /// The service's env vars at the moment this deploy went live.
    pub live_env: Option<BTreeMap<String, String>>,
}

/// One log line.
#[derive(Debug, Clone)]
pub struct FakeLog {
    pub id: String,
    pub service_id: String,
    pub timestamp: DateTime<Utc>,
    pub message: String,
    /// `level` label (`info`, `error`, …).
    pub level: String,
    /// `type` label (`app`, `request`, `build`).
    pub kind: String,
    pub instance: String,
}

/// One service event.
#[derive(Debug, Clone)]
pub struct FakeEvent {
    pub id: String,
    pub service_id: String,
    pub timestamp: DateTime<Utc>,
    /// `deploy_started`, `deploy_ended`, `server_failed`, …
    pub kind: String,
    pub details: Value,
}

/// What the request's `Authorization` header was (the token is never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSeen {
    /// No header.
    Missing,
    /// `Bearer <the configured token>`.
    Matched,
    /// `Bearer <something else>`.
    WrongToken,
    /// Some other scheme.
    NotBearer,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub at: Instant,
    pub auth: AuthSeen,
    /// The answer's status (0 while in flight).
    pub status: u16,
}

/// Per-minute rolling limits (api-docs.render.com/reference/rate-limiting).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// All GETs, per token.
    pub get_per_minute: usize,
    /// POST/PATCH/DELETE/PUT that are not deploy triggers.
    pub write_per_minute: usize,
    /// POST deploys, POST rollback and PATCH service, per service.
    pub deploy_per_minute_per_service: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            get_per_minute: 400,
            write_per_minute: 30,
            deploy_per_minute_per_service: 10,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Bucket {
    Get,
    Write,
    Deploy,
}

impl Limits {
    fn of(&self, b: Bucket) -> usize {
        match b {
            Bucket::Get => self.get_per_minute,
            Bucket::Write => self.write_per_minute,
            Bucket::Deploy => self.deploy_per_minute_per_service,
        }
    }
}

/// Everything the fake knows.
#[derive(Debug)]
pub struct FakeState {
    token: String,
    pub owner: FakeOwner,
    /// `GET /v1/users`: (name, email).
    pub user: (String, String),
    /// In insertion order (the order `GET /v1/services` pages through).
    pub services: Vec<FakeService>,
    /// service id → deploys, oldest first.
    pub deploys: BTreeMap<String, Vec<FakeDeploy>>,
    /// Oldest first.
    pub logs: Vec<FakeLog>,
    /// Oldest first.
    pub events: Vec<FakeEvent>,
    pub faults: Vec<Fault>,
    pub hits: Vec<Hit>,
    /// service id → POST deploys + POST rollback requests that reached the handler.
    pub deploy_triggers: BTreeMap<String, usize>,
    /// `PUT /v1/services/{id}/env-vars` (replace-all) calls.
    pub replace_all_puts: usize,
    /// (service id, body) of every PATCH /v1/services/{id}.
    pub patches: Vec<(String, Value)>,
    /// service id → statuses the next deploys end with.
    pub fail_next: BTreeMap<String, VecDeque<String>>,
    /// Normalized image refs whose deploys end `update_failed`.
    pub fail_images: BTreeSet<String>,
    /// Commit messages by sha, for deploys with `commitId`.
    pub commits: BTreeMap<String, String>,
    /// Polls after which a running deploy ends (min 1; default 2).
    pub polls_to_finish: u32,
    pub limits: Limits,
    /// Largest page served (limit is clamped to it; default 100).
    pub page_max: usize,
    /// `Ratelimit-Reset` as UTC epoch seconds (the docs' wording) instead of
    /// seconds from now (the docs' curl example, the default).
    pub reset_as_epoch: bool,
    windows: BTreeMap<String, VecDeque<Instant>>,
    seeded: i64,
    last_log_at: Option<DateTime<Utc>>,
}

impl FakeState {
    fn new(token: &str) -> FakeState {
        FakeState {
            token: token.to_string(),
            owner: FakeOwner {
                id: "tea-cfake0owner0000000".into(),
                name: "Acme".into(),
                email: "dev@example.com".into(),
                kind: "team".into(),
            },
            user: ("Dev Example".into(), "dev@example.com".into()),
            services: Vec::new(),
            deploys: BTreeMap::new(),
            logs: Vec::new(),
            events: Vec::new(),
            faults: Vec::new(),
            hits: Vec::new(),
            deploy_triggers: BTreeMap::new(),
            replace_all_puts: 0,
            patches: Vec::new(),
            fail_next: BTreeMap::new(),
            fail_images: BTreeSet::new(),
            commits: BTreeMap::new(),
            polls_to_finish: 2,
            limits: Limits::default(),
            page_max: 100,
            reset_as_epoch: false,
            windows: BTreeMap::new(),
            seeded: 0,
            last_log_at: None,
        }
    }
}

type Shared = Arc<Mutex<FakeState>>;
type St = State<Shared>;

// ---------------------------------------------------------------------------
// The running fake
// ---------------------------------------------------------------------------

/// A running fake Render. Dropping it stops the server.
pub struct RenderFake {
    /// `http://127.0.0.1:PORT` (clients append `/v1/…`).
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for RenderFake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl RenderFake {
    /// Start on 127.0.0.1:0 on the current tokio runtime, accepting
    /// `Authorization: Bearer {token}`.
    pub async fn start(token: &str) -> RenderFake {
        let state = Arc::new(Mutex::new(FakeState::new(token)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        RenderFake {
            base: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
        }
    }

    /// Start on its own thread and runtime (for tests that run the real
    /// binary from synchronous code).
    pub fn start_in_thread(token: &str) -> RenderFake {
        let state = Arc::new(Mutex::new(FakeState::new(token)));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        std::thread::Builder::new()
            .name("render-fake".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("render fake runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("render fake bind");
                    let addr = listener.local_addr().expect("render fake addr");
                    let _ = addr_tx.send(addr);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .expect("render fake thread");
        let addr = addr_rx.recv().expect("render fake started");
        RenderFake {
            base: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// Lock the state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    // --- setup -------------------------------------------------------------

    /// Add a service (no deploys yet: seed with [`RenderFake::push_deploy`]).
    pub fn add_service(&self, mut service: FakeService) {
        if service.instances.is_empty() {
            service.instances =
                fresh_instances(&service.id, service.num_instances, service.created_at);
        }
        let mut s = self.state();
        s.deploys.entry(service.id.clone()).or_default();
        s.services.retain(|x| x.id != service.id);
        s.services.push(service);
    }

    /// Seed history: a finished (or running) deploy with `status`, oldest
    /// first. `source` is the image ref (image-backed) or commit sha
    /// (repo-backed). Seeding `live` deactivates the previous live deploy,
    /// snapshots the current env and, for image services, sets `imagePath`.
    /// Seed before triggering deploys. Returns the deploy id.
    pub fn push_deploy(&self, service_id: &str, status: &str, source: &str) -> String {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let svc = service_ref(s, service_id)
            .cloned()
            .unwrap_or_else(|| panic!("the fake has no service {service_id}"));
        s.seeded += 1;
        let created = now_us() - chrono::Duration::days(1) + chrono::Duration::minutes(s.seeded);
        let (image_ref, image_sha, commit) = if svc.is_image() {
            (Some(source.to_string()), Some(digest_for(source)), None)
        } else {
            let message = s
                .commits
                .get(source)
                .cloned()
                .unwrap_or_else(|| format!("Commit {}", short(source)));
            let commit = FakeCommit {
                id: source.to_string(),
                message,
                created_at: created - chrono::Duration::minutes(10),
            };
            (None, None, Some(commit))
        };
        let finished = !is_running(status) && status != "queued";
        let live = status == "live";
        let d = FakeDeploy {
            id: new_id("dep"),
            service_id: service_id.to_string(),
            status: status.to_string(),
            trigger: if svc.is_image() { "api" } else { "new_commit" }.to_string(),
            image_ref,
            image_sha,
            commit,
            clear_cache: false,
            rollback_of: None,
            created_at: created,
            updated_at: if finished {
                created + chrono::Duration::minutes(3)
            } else {
                created
            },
            started_at: (status != "queued").then(|| created + chrono::Duration::seconds(5)),
            finished_at: finished.then(|| created + chrono::Duration::minutes(3)),
            polls: 0,
            fail_as: None,
            live_env: live.then(|| svc.env.clone()),
        };
        let id = d.id.clone();
        let list = s.deploys.entry(service_id.to_string()).or_default();
        if live {
            for other in list.iter_mut() {
                if other.status == "live" {
                    other.status = "deactivated".into();
                }
            }
        }
        list.push(d);
        if live
            && svc.is_image()
            && let Some(x) = service_mut(s, service_id)
        {
            x.image_path = Some(source.to_string());
        }
        id
    }

    /// Set one env var (no deploy, like the API).
    pub fn set_env(&self, service_id: &str, key: &str, value: &str) {
        let mut s = self.state();
        let svc = service_mut(&mut s, service_id)
            .unwrap_or_else(|| panic!("the fake has no service {service_id}"));
        svc.env.insert(key.to_string(), value.to_string());
    }

    /// The next `times` deploys of the service (triggered or rollback) end
    /// with `status` (`update_failed`, `build_failed`, `pre_deploy_failed`).
    pub fn fail_next_deploys(&self, service_id: &str, times: usize, status: &str) {
        let mut s = self.state();
        let q = s.fail_next.entry(service_id.to_string()).or_default();
        for _ in 0..times {
            q.push_back(status.to_string());
        }
    }

    /// Every deploy of this image (tag or digest ref) ends `update_failed`.
    pub fn fail_image(&self, image_ref: &str) {
        self.state().fail_images.insert(normalize_image(image_ref));
    }

    /// The message a deploy of commit `sha` reports.
    pub fn add_commit(&self, sha: &str, message: &str) {
        self.state()
            .commits
            .insert(sha.to_string(), message.to_string());
    }

    /// An `info` `app` log line from the service's first instance, stamped now.
    pub fn push_log(&self, service_id: &str, message: &str) {
        self.push_log_with(service_id, message, "info", "app");
    }

    /// A log line with a `level` and `type` label.
    pub fn push_log_with(&self, service_id: &str, message: &str, level: &str, kind: &str) {
        let mut s = self.state();
        let instance = service_ref(&s, service_id)
            .and_then(|x| x.instances.first().map(|i| i.0.clone()))
            .unwrap_or_else(|| format!("{service_id}-00000"));
        // Strictly increasing timestamps, so time-based paging is exact.
        let mut t = now_us();
        if let Some(last) = s.last_log_at
            && t <= last
        {
            t = last + chrono::Duration::microseconds(1);
        }
        s.last_log_at = Some(t);
        s.logs.push(FakeLog {
            id: uuid_like(&format!("log/{}", next_n())),
            service_id: service_id.to_string(),
            timestamp: t,
            message: message.to_string(),
            level: level.to_string(),
            kind: kind.to_string(),
            instance,
        });
    }

    /// An event (e.g. `server_failed` with `{"instanceID": …, "reason": {…}}`),
    /// stamped now. Returns its id.
    pub fn push_event(&self, service_id: &str, kind: &str, details: Value) -> String {
        emit(&mut self.state(), service_id, kind, details)
    }

    /// Script a fault.
    pub fn fault(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Polls after which a running deploy ends (min 1).
    pub fn set_polls_to_finish(&self, n: u32) {
        self.state().polls_to_finish = n.max(1);
    }

    pub fn set_limits(&self, limits: Limits) {
        self.state().limits = limits;
    }

    pub fn set_page_max(&self, n: usize) {
        self.state().page_max = n.max(1);
    }

    pub fn set_owner(&self, id: &str, name: &str, email: &str, kind: &str) {
        self.state().owner = FakeOwner {
            id: id.to_string(),
            name: name.to_string(),
            email: email.to_string(),
            kind: kind.to_string(),
        };
    }

    pub fn set_user(&self, name: &str, email: &str) {
        self.state().user = (name.to_string(), email.to_string());
    }

    /// End the running deploy of the service and every queued one after it,
    /// as if they had been polled to completion.
    pub fn complete_deploys(&self, service_id: &str) {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        loop {
            let running = s.deploys.get(service_id).and_then(|v| {
                v.iter()
                    .find(|d| is_running(&d.status))
                    .map(|d| d.id.clone())
            });
            match running {
                Some(id) => finish(s, service_id, &id),
                None => {
                    let before = s
                        .deploys
                        .get(service_id)
                        .map(|v| v.iter().filter(|d| d.status == "queued").count());
                    start_next_queued(s, service_id);
                    let after = s
                        .deploys
                        .get(service_id)
                        .map(|v| v.iter().filter(|d| d.status == "queued").count());
                    if before == after {
                        break;
                    }
                }
            }
        }
    }

    // --- getters -----------------------------------------------------------

    pub fn service(&self, id: &str) -> Option<FakeService> {
        service_ref(&self.state(), id).cloned()
    }

    /// Deploys of a service, newest first (the API's order).
    pub fn deploys(&self, service_id: &str) -> Vec<FakeDeploy> {
        self.state()
            .deploys
            .get(service_id)
            .map(|v| v.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// One deploy by id, whatever its service.
    pub fn deploy(&self, deploy_id: &str) -> Option<FakeDeploy> {
        self.state()
            .deploys
            .values()
            .flat_map(|v| v.iter())
            .find(|d| d.id == deploy_id)
            .cloned()
    }

    /// The live deploy of a service.
    pub fn live_deploy(&self, service_id: &str) -> Option<FakeDeploy> {
        self.deploys(service_id)
            .into_iter()
            .find(|d| d.status == "live")
    }

    /// The service's current env vars.
    pub fn env(&self, service_id: &str) -> BTreeMap<String, String> {
        self.service(service_id).map(|s| s.env).unwrap_or_default()
    }

    /// Env vars as they were when the deploy went live (None: never live).
    pub fn live_env_of(&self, deploy_id: &str) -> Option<BTreeMap<String, String>> {
        self.deploy(deploy_id).and_then(|d| d.live_env)
    }

    pub fn events(&self, service_id: &str) -> Vec<FakeEvent> {
        self.state()
            .events
            .iter()
            .filter(|e| e.service_id == service_id)
            .cloned()
            .collect()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Hit> {
        self.state().hits.clone()
    }

    /// Requests whose path (and query) contains `part` (and method, if given).
    pub fn hits(&self, method: Option<Method>, part: &str) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| method.as_ref().is_none_or(|m| *m == h.method) && h.path.contains(part))
            .cloned()
            .collect()
    }

    /// POST deploys + POST rollback requests for the service that reached the
    /// handler (whatever their answer).
    pub fn deploy_triggers(&self, service_id: &str) -> usize {
        self.state()
            .deploy_triggers
            .get(service_id)
            .copied()
            .unwrap_or(0)
    }

    /// Replace-all `PUT /v1/services/{id}/env-vars` calls, any service.
    pub fn replace_all_puts(&self) -> usize {
        self.state().replace_all_puts
    }

    /// Bodies of PATCH /v1/services/{id}, in order.
    pub fn patches(&self, service_id: &str) -> Vec<Value> {
        self.state()
            .patches
            .iter()
            .filter(|(id, _)| id == service_id)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------

/// (normalized `host/path`, tag, digest) of an image reference. A first
/// component without `.`/`:` (and not `localhost`) means Docker Hub.
fn split_image(image: &str) -> (String, Option<String>, Option<String>) {
    let image = image.trim();
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let (repo, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
        _ => (rest, None),
    };
    let (host, path) = match repo.split_once('/') {
        Some((h, p)) if h.contains('.') || h.contains(':') || h == "localhost" => {
            (h.to_string(), p.to_string())
        }
        _ => ("docker.io".to_string(), repo.to_string()),
    };
    let host = if host == "index.docker.io" || host == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        host
    };
    let path = if host == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (format!("{host}/{path}"), tag, digest)
}

/// The repository an image belongs to: host and path, no tag or digest
/// (`nginx:1` → `docker.io/library/nginx`).
pub fn image_repository(image: &str) -> String {
    split_image(image).0
}

/// The normalized full reference (`:latest` when neither tag nor digest).
pub fn normalize_image(image: &str) -> String {
    let (repo, tag, digest) = split_image(image);
    let mut out = repo;
    if let Some(t) = &tag {
        out.push(':');
        out.push_str(t);
    }
    if let Some(d) = &digest {
        out.push('@');
        out.push_str(d);
    }
    if tag.is_none() && digest.is_none() {
        out.push_str(":latest");
    }
    out
}

/// The `image.sha` a deploy of `image` reports: the digest itself for a
/// digest ref, else `sha256:` + hex sha256 of the normalized reference.
pub fn digest_for(image: &str) -> String {
    if let (_, _, Some(d)) = split_image(image) {
        return d;
    }
    format!(
        "sha256:{}",
        hex(&Sha256::digest(normalize_image(image).as_bytes()))
    )
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next_n() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

const XID: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// 20 characters of base32hex, the way Render ids (`dep-cph1rs3idesc73a2b2mg`) look.
fn xid_like(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(20)
        .map(|b| XID[(*b & 31) as usize] as char)
        .collect()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", xid_like(&format!("{prefix}/{}", next_n())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uuid_like(seed: &str) -> String {
    let h = hex(&Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The opaque cursor of a list item.
fn cursor_of(key: &str) -> String {
    xid_like(&format!("cursor/{key}"))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn slugify(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Now, to the microsecond (what the API prints), so times read back from
/// answers compare exactly with stored ones.
fn now_us() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// RFC 3339 (a `+` decoded to a space is put back) or Unix seconds.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(n) = s.parse::<i64>() {
        return DateTime::from_timestamp(n, 0);
    }
    DateTime::parse_from_rfc3339(&s.replace(' ', "+"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn fresh_instances(service_id: &str, n: u32, at: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
    (0..n)
        .map(|_| {
            let tail: String = xid_like(&format!("inst/{service_id}/{}", next_n()))
                .chars()
                .take(5)
                .collect();
            (format!("{service_id}-{tail}"), at)
        })
        .collect()
}

fn generated_value(key: &str) -> String {
    let h = hex(&Sha256::digest(
        format!("gen/{key}/{}", next_n()).as_bytes(),
    ));
    h[..32].to_string()
}

fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                let hexpair = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hexpair, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn q_one(q: &[(String, String)], key: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Every value of a repeated parameter, as given.
fn q_all(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Every value of a repeated parameter, also split on commas (enums, ids).
fn q_list(q: &[(String, String)], key: &str) -> Vec<String> {
    q_all(q, key)
        .iter()
        .flat_map(|v| v.split(',').map(|x| x.trim().to_string()))
        .filter(|v| !v.is_empty())
        .collect()
}

fn error_response(status: StatusCode, id: &str, message: &str) -> Response {
    (status, Json(json!({"id": id, "message": message}))).into_response()
}

fn not_found(message: &str) -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", message)
}

fn bad_request(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

/// Empty body → `{}`; otherwise it must be JSON.
fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(&format!("invalid JSON body: {e}")))
}

fn opt_str(body: &Value, key: &str) -> Result<Option<String>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(bad_request(&format!("{key} must not be empty")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(&format!("{key} must be a string"))),
    }
}

fn parse_limit(q: &[(String, String)], default: usize, page_max: usize) -> Result<usize, Response> {
    let max = page_max.max(1);
    match q_one(q, "limit") {
        None => Ok(default.min(max)),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(bad_request("limit must be a positive integer")),
        },
    }
}

/// One page of `[{wrap: item, cursor}]`: `limit` items after the item whose
/// cursor is `cursor`.
fn paged(
    q: &[(String, String)],
    items: Vec<(String, Value)>,
    wrap: &str,
    page_max: usize,
) -> Response {
    let limit = match parse_limit(q, 20, page_max) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let start = match q_one(q, "cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match items.iter().position(|(k, _)| *k == c) {
            Some(i) => i + 1,
            None => return bad_request("invalid cursor"),
        },
    };
    let out: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|(cursor, v)| {
            let mut m = Map::new();
            m.insert(wrap.to_string(), v);
            m.insert("cursor".to_string(), Value::String(cursor));
            Value::Object(m)
        })
        .collect();
    ok(Value::Array(out))
}

fn service_ref<'a>(s: &'a FakeState, id: &str) -> Option<&'a FakeService> {
    s.services.iter().find(|x| x.id == id)
}

fn service_mut<'a>(s: &'a mut FakeState, id: &str) -> Option<&'a mut FakeService> {
    s.services.iter_mut().find(|x| x.id == id)
}

fn find_deploy<'a>(s: &'a FakeState, sid: &str, did: &str) -> Option<&'a FakeDeploy> {
    s.deploys.get(sid)?.iter().find(|d| d.id == did)
}

fn find_deploy_mut<'a>(s: &'a mut FakeState, sid: &str, did: &str) -> Option<&'a mut FakeDeploy> {
    s.deploys.get_mut(sid)?.iter_mut().find(|d| d.id == did)
}

// ---------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------

fn owner_json(o: &FakeOwner) -> Value {
    json!({"id": o.id, "name": o.name, "email": o.email, "type": o.kind})
}

fn service_json(svc: &FakeService, owner_id: &str) -> Value {
    let env_specific = if svc.runtime == "image" || svc.runtime == "docker" {
        let repo_built = !svc.is_image();
        json!({
            "dockerCommand": "",
            "dockerContext": if repo_built { "." } else { "" },
            "dockerfilePath": if repo_built { "./Dockerfile" } else { "" },
        })
    } else {
        json!({"buildCommand": "", "startCommand": ""})
    };
    let mut details = json!({
        "buildPlan": "starter",
        "env": svc.runtime,
        "envSpecificDetails": env_specific,
        "numInstances": svc.num_instances,
        "plan": svc.plan,
        "region": svc.region,
        "runtime": svc.runtime,
        "pullRequestPreviewsEnabled": "no",
        "previews": {"generation": "off"},
    });
    match svc.kind.as_str() {
        "web_service" => {
            details["healthCheckPath"] = json!(svc.health_check_path);
            details["openPorts"] = json!([{"port": 10000, "protocol": "TCP"}]);
            details["url"] = json!(format!("https://{}.onrender.com", svc.slug));
        }
        "private_service" => {
            details["openPorts"] = json!([{"port": 10000, "protocol": "TCP"}]);
            details["url"] = json!(format!("{}:10000", svc.slug));
        }
        _ => {}
    }
    let dashboard_kind = match svc.kind.as_str() {
        "private_service" => "pserv",
        "background_worker" => "worker",
        "static_site" => "static",
        "cron_job" => "cron",
        _ => "web",
    };
    let mut v = json!({
        "id": svc.id,
        "name": svc.name,
        "slug": svc.slug,
        "type": svc.kind,
        "ownerId": owner_id,
        "environmentId": svc.environment_id,
        "repo": svc.repo,
        "branch": svc.branch,
        "imagePath": svc.image_path,
        "autoDeploy": if svc.auto_deploy { "yes" } else { "no" },
        "autoDeployTrigger": if svc.auto_deploy { "commit" } else { "off" },
        "suspended": if svc.suspended { "suspended" } else { "not_suspended" },
        "suspenders": [],
        "notifyOnFail": "default",
        "rootDir": "",
        "createdAt": ts(&svc.created_at),
        "updatedAt": ts(&svc.updated_at),
        "dashboardUrl": format!("https://dashboard.render.com/{dashboard_kind}/{}", svc.id),
        "serviceDetails": details,
    });
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
    }
    v
}

fn deploy_json(d: &FakeDeploy) -> Value {
    let mut v = json!({
        "id": d.id,
        "status": d.status,
        "trigger": d.trigger,
        "createdAt": ts(&d.created_at),
        "updatedAt": ts(&d.updated_at),
    });
    if let Some(t) = &d.started_at {
        v["startedAt"] = json!(ts(t));
    }
    if let Some(t) = &d.finished_at {
        v["finishedAt"] = json!(ts(t));
    }
    if let Some(c) = &d.commit {
        v["commit"] = json!({"id": c.id, "message": c.message, "createdAt": ts(&c.created_at)});
    }
    if let Some(r) = &d.image_ref {
        v["image"] = json!({"ref": r, "sha": d.image_sha});
    }
    v
}

fn event_json(e: &FakeEvent) -> Value {
    json!({
        "id": e.id,
        "timestamp": ts(&e.timestamp),
        "serviceId": e.service_id,
        "type": e.kind,
        "details": e.details,
    })
}

fn log_json(l: &FakeLog) -> Value {
    json!({
        "id": l.id,
        "timestamp": ts(&l.timestamp),
        "message": l.message,
        "labels": [
            {"name": "resource", "value": l.service_id},
            {"name": "instance", "value": l.instance},
            {"name": "type", "value": l.kind},
            {"name": "level", "value": l.level},
        ],
    })
}

// ---------------------------------------------------------------------------
// Deploy lifecycle
// ---------------------------------------------------------------------------

fn is_running(status: &str) -> bool {
    matches!(
        status,
        "created" | "build_in_progress" | "update_in_progress" | "pre_deploy_in_progress"
    )
}

/// A deploy of the service is running or queued.
fn busy(s: &FakeState, sid: &str) -> bool {
    s.deploys.get(sid).is_some_and(|v| {
        v.iter()
            .any(|d| is_running(&d.status) || d.status == "queued")
    })
}

fn emit(s: &mut FakeState, sid: &str, kind: &str, details: Value) -> String {
    let id = new_id("evt");
    s.events.push(FakeEvent {
        id: id.clone(),
        service_id: sid.to_string(),
        timestamp: now_us(),
        kind: kind.to_string(),
        details,
    });
    id
}

fn start(s: &mut FakeState, sid: &str, did: &str) {
    let t = now_us();
    let details = {
        let Some(d) = find_deploy_mut(s, sid, did) else {
            return;
        };
        let builds = d.commit.is_some() && d.rollback_of.is_none();
        d.status = if builds {
            "build_in_progress"
        } else {
            "update_in_progress"
        }
        .to_string();
        d.started_at = Some(t);
        d.updated_at = t;
        d.polls = 0;
        let mut trigger = json!({
            "clearCache": d.clear_cache,
            "deployedByRender": false,
            "envUpdated": false,
            "firstBuild": false,
            "manual": false,
            "rollback": d.rollback_of.is_some(),
        });
        if let Some(target) = &d.rollback_of {
            trigger["rollbackTargetDeployId"] = json!(target);
        }
        if d.trigger == "new_commit"
            && let Some(c) = &d.commit
        {
            trigger["newCommit"] = json!(c.id);
        }
        json!({"deployId": d.id, "trigger": trigger})
    };
    emit(s, sid, "deploy_started", details);
}

fn start_next_queued(s: &mut FakeState, sid: &str) {
    let Some(list) = s.deploys.get(sid) else {
        return;
    };
    if list.iter().any(|d| is_running(&d.status)) {
        return;
    }
    let next = list
        .iter()
        .find(|d| d.status == "queued")
        .map(|d| d.id.clone());
    if let Some(id) = next {
        start(s, sid, &id);
    }
}

/// One GET of a running deploy.
fn observe(s: &mut FakeState, sid: &str, did: &str) {
    let n = s.polls_to_finish.max(1);
    let done = {
        let Some(d) = find_deploy_mut(s, sid, did) else {
            return;
        };
        if !is_running(&d.status) {
            return;
        }
        d.polls += 1;
        if d.polls >= n {
            true
        } else {
            if d.status == "build_in_progress" && d.fail_as.as_deref() != Some("build_failed") {
                d.status = "update_in_progress".into();
                d.updated_at = now_us();
            }
            false
        }
    };
    if done {
        finish(s, sid, did);
    }
}

/// End a running deploy: live (or its scripted failure), then start the next queued one.
fn finish(s: &mut FakeState, sid: &str, did: &str) {
    let t = now_us();
    let env = service_ref(s, sid)
        .map(|x| x.env.clone())
        .unwrap_or_default();
    let fail_images = s.fail_images.clone();
    let Some(list) = s.deploys.get_mut(sid) else {
        return;
    };
    let Some(pos) = list.iter().position(|d| d.id == did) else {
        return;
    };
    let image_fails = list[pos]
        .image_ref
        .as_ref()
        .is_some_and(|r| fail_images.contains(&normalize_image(r)));
    let failure = list[pos]
        .fail_as
        .clone()
        .or_else(|| image_fails.then(|| "update_failed".to_string()));
    let succeeded = failure.is_none();
    if succeeded {
        for other in list.iter_mut() {
            if other.status == "live" {
                other.status = "deactivated".into();
                other.updated_at = t;
            }
        }
    }
    let d = &mut list[pos];
    d.status = failure.clone().unwrap_or_else(|| "live".to_string());
    d.finished_at = Some(t);
    d.updated_at = t;
    if succeeded {
        d.live_env = Some(env);
    }
    let image = d.image_ref.clone();
    let details = match failure.as_deref() {
        None => json!({"deployId": did, "deployStatus": "succeeded", "reason": {}, "status": 2}),
        Some("build_failed") => json!({
            "deployId": did,
            "deployStatus": "failed",
            "reason": {"buildFailed": {"id": format!("bld-{}", xid_like(did))}},
            "status": 3,
        }),
        Some(_) => json!({
            "deployId": did,
            "deployStatus": "failed",
            "reason": {"failure": {"evicted": false, "unhealthy": "health check failed"}},
            "status": 3,
        }),
    };
    if succeeded && let Some(svc) = service_mut(s, sid) {
        if let Some(image) = image
            && svc.image_path.is_some()
        {
            svc.image_path = Some(image);
        }
        svc.instances = fresh_instances(sid, svc.num_instances, t);
        svc.updated_at = t;
    }
    emit(s, sid, "deploy_ended", details);
    start_next_queued(s, sid);
}

// ---------------------------------------------------------------------------
// Gate: auth, request log, faults, rate limits
// ---------------------------------------------------------------------------

const MINUTE: Duration = Duration::from_secs(60);

fn bucket_for(method: &Method, path: &str) -> (String, Bucket) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let deploy = |id: &str| (format!("deploy:{id}"), Bucket::Deploy);
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "services", id, "deploys"]) => deploy(id),
        ("POST", ["v1", "services", id, "rollback"]) => deploy(id),
        ("POST", ["v1", "services", id, "resume"]) => deploy(id),
        ("POST", ["v1", "services", id, "suspend"]) => deploy(id),
        ("PATCH", ["v1", "services", id]) => deploy(id),
        ("GET", _) | ("HEAD", _) => ("get".to_string(), Bucket::Get),
        _ => ("write".to_string(), Bucket::Write),
    }
}

fn secs_until(at: Instant, now: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

fn prune(w: &mut VecDeque<Instant>, now: Instant) {
    while w.front().is_some_and(|t| now.duration_since(*t) >= MINUTE) {
        w.pop_front();
    }
}

/// Count the request in its window, or the seconds to wait.
fn admit(s: &mut FakeState, bucket: &str, limit: usize) -> Option<u64> {
    let now = Instant::now();
    let w = s.windows.entry(bucket.to_string()).or_default();
    prune(w, now);
    if w.len() >= limit {
        return Some(
            w.front()
                .map(|t| secs_until(*t + MINUTE, now))
                .unwrap_or(60),
        );
    }
    w.push_back(now);
    None
}

/// (remaining, seconds until the window frees a slot).
fn window_status(s: &mut FakeState, bucket: &str, limit: usize) -> (usize, u64) {
    let now = Instant::now();
    let w = s.windows.entry(bucket.to_string()).or_default();
    prune(w, now);
    let remaining = limit.saturating_sub(w.len());
    let reset = w
        .front()
        .map(|t| secs_until(*t + MINUTE, now))
        .unwrap_or(60);
    (remaining, reset)
}

fn reset_value(secs: u64, epoch: bool) -> u64 {
    if epoch {
        Utc::now().timestamp().max(0) as u64 + secs
    } else {
        secs
    }
}

fn rate_limited(secs: u64, limit: usize, epoch: bool) -> Response {
    let mut r = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "rate limit exceeded",
    );
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("ratelimit-limit", HeaderValue::from(limit as u64));
    h.insert("ratelimit-remaining", HeaderValue::from(0u64));
    h.insert(
        "ratelimit-reset",
        HeaderValue::from(reset_value(secs, epoch)),
    );
    r
}

fn cloudflare_page() -> Response {
    let body = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n\
<title>Access denied | api.render.com used Cloudflare to restrict access</title>\n\
<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n\
<h1>Sorry, you have been blocked</h1>\n\
<h2>You are unable to access api.render.com</h2>\n\
<p>Cloudflare Ray ID: <strong>8f00fa4e1dc0ffee</strong></p>\n\
</div>\n</body>\n</html>\n";
    Response::builder()
        .status(403)
        .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
        .header("server", "cloudflare")
        .header("cf-ray", "8f00fa4e1dc0ffee-AMS")
        .body(Body::from(body))
        .unwrap()
}

fn fault_response(kind: FaultKind, limit: usize, epoch: bool) -> Response {
    match kind {
        FaultKind::RateLimited { retry_after } => rate_limited(retry_after, limit, epoch),
        FaultKind::Status(code, body) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        )
            .into_response(),
        FaultKind::Empty500 => Response::builder().status(500).body(Body::empty()).unwrap(),
        FaultKind::CloudflareBlock => cloudflare_page(),
        FaultKind::Malformed => Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from("[{\"service\": {\"id\": \"srv-"))
            .unwrap(),
        // Handled by the gate before it gets here.
        FaultKind::Delay(_) => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "delay")
        }
    }
}

fn take_fault(s: &mut FakeState, method: &Method, path: &str) -> Option<FaultKind> {
    for f in s.faults.iter_mut() {
        if f.times > 0
            && f.method.as_ref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
        {
            f.times -= 1;
            return Some(f.kind.clone());
        }
    }
    None
}

fn classify_auth(header: Option<&str>, token: &str) -> AuthSeen {
    match header {
        None => AuthSeen::Missing,
        Some(v) => match v.strip_prefix("Bearer ") {
            Some(t) if t == token => AuthSeen::Matched,
            Some(_) => AuthSeen::WrongToken,
            None => AuthSeen::NotBearer,
        },
    }
}

enum Step {
    Unauthorized,
    Fault(FaultKind),
    Proceed,
}

async fn admit_and_run(
    st: &Shared,
    bucket: &str,
    limit: usize,
    epoch: bool,
    req: Request,
    next: Next,
) -> Response {
    let wait = {
        let mut s = st.lock().unwrap();
        admit(&mut s, bucket, limit)
    };
    match wait {
        Some(secs) => rate_limited(secs, limit, epoch),
        None => next.run(req).await,
    }
}

async fn gate(State(st): St, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_string(),
    };
    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (bucket, kind) = bucket_for(&method, req.uri().path());
    let (idx, step, limit, epoch) = {
        let mut s = st.lock().unwrap();
        let auth = classify_auth(auth_header.as_deref(), &s.token);
        s.hits.push(Hit {
            method: method.clone(),
            path: path.clone(),
            at: Instant::now(),
            auth,
            status: 0,
        });
        let idx = s.hits.len() - 1;
        let step = if auth != AuthSeen::Matched {
            Step::Unauthorized
        } else {
            match take_fault(&mut s, &method, &path) {
                Some(k) => Step::Fault(k),
                None => Step::Proceed,
            }
        };
        (idx, step, s.limits.of(kind), s.reset_as_epoch)
    };
    let mut edge_page = false;
    let mut resp = match step {
        Step::Unauthorized => {
            error_response(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized")
        }
        Step::Fault(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            admit_and_run(&st, &bucket, limit, epoch, req, next).await
        }
        Step::Fault(FaultKind::CloudflareBlock) => {
            edge_page = true;
            cloudflare_page()
        }
        Step::Fault(k) => fault_response(k, limit, epoch),
        Step::Proceed => admit_and_run(&st, &bucket, limit, epoch, req, next).await,
    };
    let mut s = st.lock().unwrap();
    if !edge_page {
        let (remaining, reset) = window_status(&mut s, &bucket, limit);
        let h = resp.headers_mut();
        if !h.contains_key("ratelimit-limit") {
            h.insert("ratelimit-limit", HeaderValue::from(limit as u64));
        }
        if !h.contains_key("ratelimit-remaining") {
            h.insert("ratelimit-remaining", HeaderValue::from(remaining as u64));
        }
        if !h.contains_key("ratelimit-reset") {
            h.insert(
                "ratelimit-reset",
                HeaderValue::from(reset_value(reset, epoch)),
            );
        }
    }
    if let Some(hit) = s.hits.get_mut(idx) {
        hit.status = resp.status().as_u16();
    }
    drop(s);
    resp
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/owners", get(list_owners))
        .route("/v1/users", get(get_user))
        .route("/v1/services", get(list_services))
        .route("/v1/services/{id}", get(get_service).patch(patch_service))
        .route(
            "/v1/services/{id}/deploys",
            get(list_deploys).post(create_deploy),
        )
        .route("/v1/services/{id}/deploys/{deploy_id}", get(get_deploy))
        .route(
            "/v1/services/{id}/deploys/{deploy_id}/cancel",
            post(cancel_deploy),
        )
        .route("/v1/services/{id}/rollback", post(rollback))
        .route("/v1/services/{id}/env-vars", get(list_env).put(replace_env))
        .route(
            "/v1/services/{id}/env-vars/{key}",
            get(get_env).put(put_env).delete(delete_env),
        )
        .route("/v1/services/{id}/events", get(list_events))
        .route("/v1/services/{id}/instances", get(list_instances))
        .route("/v1/logs", get(list_logs))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

async fn fallback(uri: Uri) -> Response {
    not_found(&format!("no route for {}", uri.path()))
}

async fn list_owners(State(st): St, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    let names = q_all(&q, "name");
    let emails = q_all(&q, "email");
    let o = &s.owner;
    let mut items = Vec::new();
    if (names.is_empty() || names.contains(&o.name))
        && (emails.is_empty() || emails.contains(&o.email))
    {
        items.push((cursor_of(&o.id), owner_json(o)));
    }
    paged(&q, items, "owner", s.page_max)
}

async fn get_user(State(st): St) -> Response {
    let s = st.lock().unwrap();
    ok(json!({"name": s.user.0, "email": s.user.1}))
}

async fn list_services(State(st): St, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    let names = q_all(&q, "name");
    let types = q_list(&q, "type");
    let envs = q_list(&q, "environmentId");
    let owners = q_list(&q, "ownerId");
    let regions = q_list(&q, "region");
    let suspended = q_list(&q, "suspended");
    if !owners.is_empty() && !owners.contains(&s.owner.id) {
        return ok(json!([]));
    }
    let items: Vec<(String, Value)> = s
        .services
        .iter()
        .filter(|x| names.is_empty() || names.contains(&x.name))
        .filter(|x| types.is_empty() || types.contains(&x.kind))
        .filter(|x| envs.is_empty() || x.environment_id.as_ref().is_some_and(|e| envs.contains(e)))
        .filter(|x| regions.is_empty() || regions.contains(&x.region))
        .filter(|x| {
            let state = if x.suspended {
                "suspended"
            } else {
                "not_suspended"
            };
            suspended.is_empty() || suspended.iter().any(|v| v == state)
        })
        .map(|x| (cursor_of(&x.id), service_json(x, &s.owner.id)))
        .collect();
    paged(&q, items, "service", s.page_max)
}

async fn get_service(State(st): St, Path(sid): Path<String>) -> Response {
    let s = st.lock().unwrap();
    match service_ref(&s, &sid) {
        Some(x) => ok(service_json(x, &s.owner.id)),
        None => not_found("service not found"),
    }
}

async fn patch_service(State(st): St, Path(sid): Path<String>, body: Bytes) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.is_object() {
        return bad_request("body must be a JSON object");
    }
    s.patches.push((sid.clone(), body.clone()));
    let mut auto = match body.get("autoDeploy") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) if v == "yes" => Some(true),
        Some(Value::String(v)) if v == "no" => Some(false),
        Some(_) => return bad_request("autoDeploy must be \"yes\" or \"no\""),
    };
    match body.get("autoDeployTrigger") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "off" => auto = Some(false),
        Some(Value::String(v)) if v == "commit" || v == "checksPass" => auto = Some(true),
        Some(_) => {
            return bad_request("autoDeployTrigger must be \"off\", \"commit\" or \"checksPass\"");
        }
    }
    let name = match opt_str(&body, "name") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let branch = match opt_str(&body, "branch") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let image_path = match body.get("image") {
        None | Some(Value::Null) => None,
        Some(img) => match img.get("imagePath").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => Some(p.to_string()),
            _ => return bad_request("image.imagePath is required"),
        },
    };
    let health = match body.pointer("/serviceDetails/healthCheckPath") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return bad_request("serviceDetails.healthCheckPath must be a string"),
    };
    let owner_id = s.owner.id.clone();
    let Some(svc) = service_mut(s, &sid) else {
        return not_found("service not found");
    };
    if image_path.is_some() && !svc.is_image() {
        return bad_request("image can only be set on an image-backed service");
    }
    if let Some(a) = auto {
        svc.auto_deploy = a;
    }
    if let Some(n) = name {
        svc.name = n;
    }
    if let Some(b) = branch {
        svc.branch = Some(b);
    }
    if let Some(p) = image_path {
        svc.image_path = Some(p);
    }
    if let Some(h) = health {
        svc.health_check_path = h;
    }
    svc.updated_at = now_us();
    ok(service_json(svc, &owner_id))
}

async fn list_deploys(State(st): St, Path(sid): Path<String>, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    let running: Vec<String> = s
        .deploys
        .get(&sid)
        .map(|v| {
            v.iter()
                .filter(|d| is_running(&d.status))
                .map(|d| d.id.clone())
                .collect()
        })
        .unwrap_or_default();
    for id in running {
        observe(s, &sid, &id);
    }
    let statuses = q_list(&q, "status");
    let items: Vec<(String, Value)> = s
        .deploys
        .get(&sid)
        .map(|v| {
            v.iter()
                .rev()
                .filter(|d| statuses.is_empty() || statuses.contains(&d.status))
                .map(|d| (cursor_of(&d.id), deploy_json(d)))
                .collect()
        })
        .unwrap_or_default();
    paged(&q, items, "deploy", s.page_max)
}

async fn get_deploy(State(st): St, Path((sid, did)): Path<(String, String)>) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    observe(s, &sid, &did);
    match find_deploy(s, &sid, &did) {
        Some(d) => ok(deploy_json(d)),
        None => not_found("deploy not found"),
    }
}

async fn create_deploy(State(st): St, Path(sid): Path<String>, body: Bytes) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let Some(svc) = service_ref(s, &sid).cloned() else {
        return not_found("service not found");
    };
    *s.deploy_triggers.entry(sid.clone()).or_default() += 1;
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.is_object() {
        return bad_request("body must be a JSON object");
    }
    let clear_cache = match body.get("clearCache") {
        None | Some(Value::Null) => false,
        Some(Value::String(v)) if v == "clear" => true,
        Some(Value::String(v)) if v == "do_not_clear" => false,
        Some(_) => return bad_request("clearCache must be \"clear\" or \"do_not_clear\""),
    };
    let commit_id = match opt_str(&body, "commitId") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let image_url = match opt_str(&body, "imageUrl") {
        Ok(v) => v,
        Err(r) => return r,
    };
    match opt_str(&body, "deployMode") {
        Err(r) => return r,
        Ok(None) => {}
        Ok(Some(mode)) if mode == "build_and_deploy" => {}
        Ok(Some(mode)) if mode == "deploy_only" => {
            if commit_id.is_some() || image_url.is_some() || clear_cache {
                return bad_request(
                    "deployMode deploy_only cannot be combined with commitId, imageUrl or clearCache",
                );
            }
        }
        Ok(Some(_)) => {
            return bad_request("deployMode must be \"build_and_deploy\" or \"deploy_only\"");
        }
    }
    let (image_ref, image_sha, commit) = if svc.is_image() {
        if commit_id.is_some() {
            return bad_request("commitId is not supported for image-backed services");
        }
        let configured = svc.image_path.clone().unwrap_or_default();
        let wanted = image_url.unwrap_or_else(|| configured.clone());
        if image_repository(&wanted) != image_repository(&configured) {
            return bad_request(&format!(
                "imageUrl {wanted} must match the service's configured image {}: the host, repository and name must be the same, only the tag or digest may change",
                image_repository(&configured)
            ));
        }
        let sha = digest_for(&wanted);
        (Some(wanted), Some(sha), None)
    } else {
        if image_url.is_some() {
            return bad_request("imageUrl is only supported for image-backed services");
        }
        let t = now_us();
        let commit = match commit_id {
            Some(c) => FakeCommit {
                message: s
                    .commits
                    .get(&c)
                    .cloned()
                    .unwrap_or_else(|| format!("Commit {}", short(&c))),
                id: c,
                created_at: t,
            },
            None => FakeCommit {
                id: svc.head_commit.0.clone(),
                message: svc.head_commit.1.clone(),
                created_at: t,
            },
        };
        (None, None, Some(commit))
    };
    let fail_as = s.fail_next.get_mut(&sid).and_then(|q| q.pop_front());
    let queued = busy(s, &sid);
    let t = now_us();
    let d = FakeDeploy {
        id: new_id("dep"),
        service_id: sid.clone(),
        status: if queued { "queued" } else { "created" }.to_string(),
        trigger: "api".into(),
        image_ref,
        image_sha,
        commit,
        clear_cache,
        rollback_of: None,
        created_at: t,
        updated_at: t,
        started_at: None,
        finished_at: None,
        polls: 0,
        fail_as,
        live_env: None,
    };
    let id = d.id.clone();
    s.deploys.entry(sid.clone()).or_default().push(d);
    if queued {
        return StatusCode::ACCEPTED.into_response();
    }
    start(s, &sid, &id);
    match find_deploy(s, &sid, &id) {
        Some(d) => (StatusCode::CREATED, Json(deploy_json(d))).into_response(),
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "deploy vanished",
        ),
    }
}

async fn cancel_deploy(State(st): St, Path((sid, did)): Path<(String, String)>) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    let t = now_us();
    let was = {
        let Some(d) = find_deploy_mut(s, &sid, &did) else {
            return not_found("deploy not found");
        };
        let was = d.status.clone();
        if !is_running(&was) && was != "queued" {
            return bad_request(&format!("deploy {did} is {was} and cannot be canceled"));
        }
        d.status = "canceled".into();
        d.finished_at = Some(t);
        d.updated_at = t;
        was
    };
    if is_running(&was) {
        emit(
            s,
            &sid,
            "deploy_ended",
            json!({"deployId": did, "deployStatus": "canceled", "reason": {}, "status": 4}),
        );
        start_next_queued(s, &sid);
    }
    match find_deploy(s, &sid, &did) {
        Some(d) => ok(deploy_json(d)),
        None => not_found("deploy not found"),
    }
}

async fn rollback(State(st): St, Path(sid): Path<String>, body: Bytes) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    *s.deploy_triggers.entry(sid.clone()).or_default() += 1;
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let target_id = match body.get("deployId").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => return bad_request("deployId is required"),
    };
    let Some(target) = find_deploy(s, &sid, &target_id).cloned() else {
        return not_found("deploy not found");
    };
    if target.status != "live" && target.status != "deactivated" {
        return bad_request(&format!(
            "cannot roll back to deploy {target_id}: it is {} and never went live",
            target.status
        ));
    }
    let fail_as = s.fail_next.get_mut(&sid).and_then(|q| q.pop_front());
    let queued = busy(s, &sid);
    let t = now_us();
    let d = FakeDeploy {
        id: new_id("dep"),
        service_id: sid.clone(),
        status: if queued { "queued" } else { "created" }.to_string(),
        trigger: "rollback".into(),
        image_ref: target.image_ref.clone(),
        image_sha: target.image_sha.clone(),
        commit: target.commit.clone(),
        clear_cache: false,
        rollback_of: Some(target_id),
        created_at: t,
        updated_at: t,
        started_at: None,
        finished_at: None,
        polls: 0,
        fail_as,
        live_env: None,
    };
    let id = d.id.clone();
    s.deploys.entry(sid.clone()).or_default().push(d);
    if !queued {
        start(s, &sid, &id);
    }
    match find_deploy(s, &sid, &id) {
        Some(d) => (StatusCode::CREATED, Json(deploy_json(d))).into_response(),
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "deploy vanished",
        ),
    }
}

/// `{value}` or `{generateValue: true}` (never both) → the value to store.
fn env_value(item: &Value, key: &str) -> Result<String, Response> {
    let generate = item
        .get("generateValue")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match (item.get("value"), generate) {
        (Some(Value::String(v)), false) => Ok(v.clone()),
        (None | Some(Value::Null), true) => Ok(generated_value(key)),
        (Some(Value::String(_)), true) => {
            Err(bad_request("value and generateValue cannot be combined"))
        }
        _ => Err(bad_request(
            "an env var needs a string value or generateValue: true",
        )),
    }
}

fn env_items(sid: &str, env: &BTreeMap<String, String>) -> Vec<(String, Value)> {
    env.iter()
        .map(|(k, v)| {
            (
                cursor_of(&format!("{sid}/{k}")),
                json!({"key": k, "value": v}),
            )
        })
        .collect()
}

async fn list_env(State(st): St, Path(sid): Path<String>, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    let Some(svc) = service_ref(&s, &sid) else {
        return not_found("service not found");
    };
    let items = env_items(&sid, &svc.env);
    paged(&q, items, "envVar", s.page_max)
}

async fn replace_env(State(st): St, Path(sid): Path<String>, body: Bytes) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    s.replace_all_puts += 1;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Value::Array(items) = body else {
        return bad_request("body must be a JSON array of {key, value} or {key, generateValue}");
    };
    let mut next = BTreeMap::new();
    for item in &items {
        let Some(key) = item
            .get("key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
        else {
            return bad_request("every env var needs a non-empty key");
        };
        let value = match env_value(item, key) {
            Ok(v) => v,
            Err(r) => return r,
        };
        next.insert(key.to_string(), value);
    }
    let Some(svc) = service_mut(s, &sid) else {
        return not_found("service not found");
    };
    svc.env = next;
    let out: Vec<Value> = env_items(&sid, &svc.env)
        .into_iter()
        .map(|(cursor, v)| json!({"envVar": v, "cursor": cursor}))
        .collect();
    ok(Value::Array(out))
}

async fn get_env(State(st): St, Path((sid, key)): Path<(String, String)>) -> Response {
    let s = st.lock().unwrap();
    let Some(svc) = service_ref(&s, &sid) else {
        return not_found("service not found");
    };
    match svc.env.get(&key) {
        Some(v) => ok(json!({"key": key, "value": v})),
        None => not_found("env var not found"),
    }
}

async fn put_env(State(st): St, Path((sid, key)): Path<(String, String)>, body: Bytes) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    if service_ref(s, &sid).is_none() {
        return not_found("service not found");
    }
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.is_object() {
        return bad_request("body must be {value} or {generateValue: true}");
    }
    let value = match env_value(&body, &key) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(svc) = service_mut(s, &sid) else {
        return not_found("service not found");
    };
    svc.env.insert(key.clone(), value.clone());
    ok(json!({"key": key, "value": value}))
}

async fn delete_env(State(st): St, Path((sid, key)): Path<(String, String)>) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let Some(svc) = service_mut(s, &sid) else {
        return not_found("service not found");
    };
    match svc.env.remove(&key) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("env var not found"),
    }
}

async fn list_events(State(st): St, Path(sid): Path<String>, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    if service_ref(&s, &sid).is_none() {
        return not_found("service not found");
    }
    let now = now_us();
    let end = match q_one(&q, "endTime") {
        None => now,
        Some(t) => match parse_time(&t) {
            Some(t) => t,
            None => return bad_request("invalid endTime"),
        },
    };
    let start = match q_one(&q, "startTime") {
        None => now - chrono::Duration::hours(1),
        Some(t) => match parse_time(&t) {
            Some(t) => t,
            None => return bad_request("invalid startTime"),
        },
    };
    let types = q_list(&q, "type");
    let items: Vec<(String, Value)> = s
        .events
        .iter()
        .rev()
        .filter(|e| e.service_id == sid)
        .filter(|e| e.timestamp >= start && e.timestamp <= end)
        .filter(|e| types.is_empty() || types.contains(&e.kind))
        .map(|e| (cursor_of(&e.id), event_json(e)))
        .collect();
    paged(&q, items, "event", s.page_max)
}

async fn list_instances(State(st): St, Path(sid): Path<String>) -> Response {
    let s = st.lock().unwrap();
    let Some(svc) = service_ref(&s, &sid) else {
        return not_found("service not found");
    };
    let out: Vec<Value> = svc
        .instances
        .iter()
        .map(|(id, at)| json!({"id": id, "createdAt": ts(at)}))
        .collect();
    ok(Value::Array(out))
}

/// `GET /v1/logs`: both directions return a page in chronological order;
/// `backward` picks the newest `limit` lines of the window, `forward` the
/// oldest. The next window excludes what was returned (1 µs past it).
async fn list_logs(State(st): St, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    let Some(owner) = q_one(&q, "ownerId").filter(|o| !o.is_empty()) else {
        return bad_request("ownerId is required");
    };
    let resources = q_list(&q, "resource");
    if resources.is_empty() {
        return bad_request("resource is required");
    }
    if owner != s.owner.id {
        return not_found("owner not found");
    }
    let direction = q_one(&q, "direction").unwrap_or_else(|| "backward".to_string());
    if direction != "forward" && direction != "backward" {
        return bad_request("direction must be \"forward\" or \"backward\"");
    }
    let now = now_us();
    let end = match q_one(&q, "endTime") {
        None => now,
        Some(t) => match parse_time(&t) {
            Some(t) => t,
            None => return bad_request("invalid endTime"),
        },
    };
    let start = match q_one(&q, "startTime") {
        None => now - chrono::Duration::hours(1),
        Some(t) => match parse_time(&t) {
            Some(t) => t,
            None => return bad_request("invalid startTime"),
        },
    };
    let limit = match parse_limit(&q, 20, s.page_max) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let types = q_list(&q, "type");
    let levels = q_list(&q, "level");
    let instances = q_list(&q, "instance");
    let texts = q_all(&q, "text");
    let matching: Vec<&FakeLog> = s
        .logs
        .iter()
        .filter(|l| resources.contains(&l.service_id))
        .filter(|l| l.timestamp >= start && l.timestamp <= end)
        .filter(|l| types.is_empty() || types.contains(&l.kind))
        .filter(|l| levels.is_empty() || levels.contains(&l.level))
        .filter(|l| instances.is_empty() || instances.contains(&l.instance))
        .filter(|l| texts.is_empty() || texts.iter().any(|t| l.message.contains(t.as_str())))
        .collect();
    let micro = chrono::Duration::microseconds(1);
    let (page, has_more, next_start, next_end) = if direction == "forward" {
        let page: Vec<&FakeLog> = matching.iter().take(limit).copied().collect();
        let next_start = page.last().map(|l| l.timestamp + micro).unwrap_or(start);
        (page, matching.len() > limit, next_start, end)
    } else {
        let skip = matching.len().saturating_sub(limit);
        let page: Vec<&FakeLog> = matching[skip..].to_vec();
        let next_end = page.first().map(|l| l.timestamp - micro).unwrap_or(end);
        (page, skip > 0, start, next_end)
    };
    let logs: Vec<Value> = page.iter().map(|l| log_json(l)).collect();
    ok(json!({
        "hasMore": has_more,
        "logs": logs,
        "nextStartTime": ts(&next_start),
        "nextEndTime": ts(&next_end),
    }))
}
