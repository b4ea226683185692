#![allow(dead_code)]
// Handlers return early with a ready response; boxing it buys nothing in a test fake.
#![allow(clippy::result_large_err)]
//! A fake of Railway's public GraphQL API (v2) for tests, written from
//! Railway's public material only, never from shipdeck's own Railway client.
//!
//! Where each shape comes from:
//! - Root fields, their arguments, input objects, return types, object fields
//!   and enums (`DeploymentStatus`, `DeploymentInstanceStatus`, `Builder`,
//!   `RestartPolicyType`): the introspected schema of the official CLI,
//!   `railwayapp/cli` @ df3838b, `src/gql/schema.json`, and the operation
//!   documents it sends, `src/gql/{queries,mutations,subscriptions}/strings/*.graphql`
//!   (`Deployments`, `DeploymentLogs`, `BuildLogs`, `LatestDeployment`,
//!   `Environments`, `Project`, `ProjectToken`, `ServiceInstance`, `UserMeta`,
//!   `VariablesForServiceDeployment`, `DeploymentRedeploy`, `DeploymentRestart`,
//!   `DeploymentRemove`, `ServiceInstanceDeploy`, `ServiceInstanceDeployLatestCommit`,
//!   `ServiceInstanceUpdate`, `VariableCollectionUpsert`, `VariableDelete`).
//!   The tables at the end of this file (`ROOT_FIELDS`, `INPUT_TYPES`,
//!   `OBJECT_FIELDS`, `QUERY_ROOTS`, `MUTATION_ROOTS`) are transcribed
//!   from that schema, so a selection of a field the real schema does not have
//!   is refused the way Railway refuses it.
//! - Transport and auth: `POST /graphql/v2`, `Authorization: Bearer <account or
//!   workspace token>` or `Project-Access-Token: <project token>` (the CLI's
//!   `src/client.rs` `GQLClient::new_authorized`; docs.railway.com
//!   integrations/api.md, which also says `me` cannot be used with a workspace
//!   or project token and that a project token is scoped to one environment).
//! - Error envelope: the CLI's `parse_graphql_response` (a 429 is read before
//!   the body and carries `Retry-After`; otherwise the body is GraphQL JSON and
//!   `errors[0].message` decides: "project token not found" → invalid
//!   `RAILWAY_TOKEN`, "not authorized" → unauthorized) and its `src/testkit.rs`
//!   (`stub_graphql_error`: HTTP 200, `{"errors":[{message}],"data":null}`,
//!   "the shape backboard uses for resolver/UserError failures"). The details
//!   of each error object (`locations`, `path`, `extensions.code`
//!   `INTERNAL_SERVER_ERROR` for "Not Authorized" and "Deployment not found",
//!   `BAD_USER_INPUT` for refused input such as "Deployment is not stoppable",
//!   `traceId` next to `message`, HTTP 400 + `GRAPHQL_VALIDATION_FAILED` and no
//!   `data` key for a field the schema lacks, `{"message":"Not Found",
//!   "requestId"}` for an unrouted path) are from public write-ups of probes
//!   against the live API (third-party, 2026), not from Railway itself.
//! - Deployment lifecycle (`INITIALIZING` → `DEPLOYING` → `SUCCESS`, the
//!   previous one `REMOVED`; `deploymentStopped` true until `SUCCESS`; a stopped
//!   deployment stays `SUCCESS` with `deploymentStopped: true` and an `EXITED`
//!   instance; `serviceInstanceRedeploy` re-ships the latest deployment, not the
//!   source just set): the same third-party probe write-ups. Rollback restores
//!   both the image and the custom variables; successful, failed and crashed
//!   deployments can be redeployed; old deployments fall out of rollback
//!   retention: docs.railway.com deployments/deployment-actions.md.
//! - Variables: docs.railway.com integrations/api/manage-variables.md
//!   (`skipDeploys`, `replace`, `unrendered`, shared variables without
//!   `serviceId`), variables.md (sealed values are never returned). A sealed
//!   variable comes back as a present key with a `null` value: railwayapp/cli
//!   PR #1164 (maintainer: "The API has always reported a sealed variable as a
//!   present key with a null value") and the CLI's `controllers/variables.rs`,
//!   which drops `None` values.
//! - Rate limits (100/1000/10000 requests per hour on Free/Hobby/Pro; 10/50
//!   per second on Hobby/Pro; `X-RateLimit-Limit/-Remaining/-Reset`, and
//!   `Retry-After` once the window is used up): docs.railway.com
//!   integrations/api.md. A probe write-up saw only `RateLimit-Policy:
//!   "default";q=1000;w=3600` instead, so the fake sends both.
//! - Logs come oldest first and `limit` returns one line too many (the CLI's
//!   `controllers/deployment.rs` `take_last_n_logs`, "the API has a bug and
//!   returns limit+1"); `environmentLogs` windows (`beforeDate`, `anchorDate`,
//!   `afterDate`, `beforeLimit`, `afterLimit`) as the same file builds them.
//! - Deployment `meta` (an untyped `DeploymentMeta` scalar): the CLI reads
//!   `commitHash` (`commands/mcp/handler.rs`) and `serviceManifest.deploy`
//!   (`controllers/regions.rs`: `multiRegionConfig` or `region`+`numReplicas`).
//!   Public third-party clients also read `commitMessage`, `branch`, `repo` and,
//!   for image deploys, `image`. So image deploys answer
//!   `{"image", "serviceManifest": {"deploy": {…}}}` and repo deploys
//!   `{"repo", "branch", "commitHash", "commitMessage", "serviceManifest"}`.
//!   Nothing else (no `reason`, no `imageDigest`): neither is confirmed anywhere.
//!
//! The fake parses GraphQL: the operation (by `operationName` when there are
//! several), variable definitions, aliases, arguments (variables *and* inline
//! literals: the CLI itself inlines `latestCommit: true` and input objects
//! built from `$variables`), fragments and `@skip`/`@include`. An argument it
//! cannot read is a syntax error (HTTP 400, `GRAPHQL_PARSE_FAILED`), never a
//! default. A field the schema lacks, a selection on a scalar (e.g.
//! `deploymentRollback(id) { id }`, as `deploymentRollback` is `Boolean!`), an
//! unknown or missing argument, or an undeclared/unused/mistyped variable is
//! HTTP 400 `GRAPHQL_VALIDATION_FAILED` without a `data` key (as probed; see
//! [`RailwayFake::set_validation_status`]). Variable values are then checked
//! against their declared types and the schema's input types (unknown input
//! fields such as `skipDeploys` on `VariableDeleteInput`, missing required
//! ones, enum values): HTTP 400 `BAD_USER_INPUT`. Answers follow the selection
//! set (aliases, `__typename`); a field that exists in Railway's schema but is
//! not modeled here is a GraphQL error with code `FAKE_NOT_MODELED`, so a test
//! never reads an invented value. Bodies must be `application/json`; batched
//! (array) bodies and subscriptions (WebSocket only) are refused with 400.
//!
//! Deployment lifecycle (deterministic, no wall clock): a triggered deployment
//! starts `INITIALIZING` (and supersedes any unfinished deployment of the same
//! service instance, which becomes `REMOVED`). Every read that can show it
//! (`deployment(id)`, a `deployments` list matching its service, a
//! `serviceInstance`/`environment`/`project` read that selects
//! `latestDeployment`/`activeDeployments`) is one poll. Polls before the last
//! show `BUILDING` (repo sources, first half) or `DEPLOYING`; poll number
//! [`FakeState::polls_to_finish`] (default 3) ends it: `SUCCESS` (the previous
//! `SUCCESS` becomes `REMOVED`; an image deployment's image becomes the
//! instance's source image) or, when scripted with [`RailwayFake::fail_image`]
//! / [`RailwayFake::fail_next_deploys`], `FAILED`/`CRASHED` while the previous
//! one stays `SUCCESS`. Each deployment keeps a snapshot of its instance's
//! variables as they were when it was created ([`RailwayFake::variables_of`]).
//! `canRollback` is true for a formerly live deployment (`REMOVED` after
//! `SUCCESS`) among the newest [`FakeState::rollback_retention`] such ones.
//!
//! Auth failures are GraphQL errors on HTTP 200 (`data: null`): no or a wrong
//! bearer token → "Not Authorized"; an unknown `Project-Access-Token`, or
//! `projectToken` asked without one → "Project Token not found"; a project
//! token asking about another project or environment, or a workspace/project
//! token asking for `me` → "Not Authorized". Unknown project, environment or
//! service ids also answer "Not Authorized" (a probe saw that for
//! `serviceDelete`); an unknown deployment id answers "Deployment not found".
//! Messages marked "fake wording" in the code are this fake's own.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// `DeploymentStatus` enum values (schema.json).
pub const DEPLOYMENT_STATUSES: &[&str] = &[
    "BUILDING",
    "CRASHED",
    "DEPLOYING",
    "FAILED",
    "INITIALIZING",
    "NEEDS_APPROVAL",
    "QUEUED",
    "REMOVED",
    "REMOVING",
    "SKIPPED",
    "SLEEPING",
    "SUCCESS",
    "WAITING",
];

/// `DeploymentInstanceStatus` enum values (schema.json).
pub const INSTANCE_STATUSES: &[&str] = &[
    "CRASHED",
    "CREATED",
    "EXITED",
    "INITIALIZING",
    "REMOVED",
    "REMOVING",
    "RESTARTING",
    "RUNNING",
    "SKIPPED",
    "STOPPED",
];

const BUILDERS: &[&str] = &["HEROKU", "NIXPACKS", "PAKETO", "RAILPACK"];
const RESTART_POLICIES: &[&str] = &["ALWAYS", "NEVER", "ON_FAILURE"];

/// Where a service instance deploys from (`ServiceInstance.source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Docker image reference, e.g. `ghcr.io/acme/api:1.4.0`.
    Image(String),
    /// A GitHub repository (`owner/name`) and the branch it deploys.
    Repo { repo: String, branch: String },
}

impl Source {
    pub fn image(reference: &str) -> Source {
        Source::Image(reference.to_string())
    }

    pub fn repo(repo: &str, branch: &str) -> Source {
        Source::Repo {
            repo: repo.to_string(),
            branch: branch.to_string(),
        }
    }

    pub fn is_image(&self) -> bool {
        matches!(self, Source::Image(_))
    }
}

/// The GraphQL operation type (the GraphQL counterpart of an HTTP method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpType {
    Query,
    Mutation,
    Subscription,
}

impl OpType {
    fn root(self) -> &'static str {
        match self {
            OpType::Query => "Query",
            OpType::Mutation => "Mutation",
            OpType::Subscription => "Subscription",
        }
    }
}

/// A scripted misbehaviour for requests whose operation has a root field
/// named `field` (empty: any request). Faults act before auth and before the
/// rate limiter, like an edge or a crashing server would; a faulted request
/// never reaches a resolver (except [`FaultKind::Delay`], which then answers
/// normally).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only this operation type (None = any).
    pub op: Option<OpType>,
    /// Root field name, e.g. `deploymentRollback` ("" = any request).
    pub field: String,
    /// How many matching requests it affects.
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault on requests with root field `field`, any operation type.
    pub fn new(field: &str, times: usize, kind: FaultKind) -> Fault {
        Fault {
            op: None,
            field: field.to_string(),
            times,
            kind,
        }
    }

    /// Only for this operation type.
    pub fn on(op: OpType, field: &str, times: usize, kind: FaultKind) -> Fault {
        Fault {
            op: Some(op),
            field: field.to_string(),
            times,
            kind,
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// 429 with `Retry-After: retry_after`, `X-RateLimit-Remaining: 0`.
    RateLimited { retry_after: u64 },
    /// This status (e.g. 502/503) with this JSON body.
    Status(u16, Value),
    /// Cloudflare's HTML "Access denied" page for backboard, status 403, no
    /// rate-limit headers (the edge answers, not backboard).
    CloudflareBlock,
    /// A 200 `application/json` whose body is cut off mid-document.
    Malformed,
    /// HTTP 200 `{"errors":[{message, extensions:{code:"INTERNAL_SERVER_ERROR"}}], "data": null}`.
    GraphqlError(String),
    /// Sleep, then answer normally (for client timeouts).
    Delay(Duration),
}

/// Which auth header a request carried (the token itself is never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeader {
    Missing,
    /// `Authorization: Bearer …`.
    Bearer,
    /// `Project-Access-Token: …`.
    ProjectAccessToken,
    /// Both headers (the project token decides, as the CLI never sends both).
    Both,
    /// `Authorization` with a scheme other than Bearer.
    OtherScheme,
}

/// What the fake made of a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSeen {
    pub header: AuthHeader,
    /// The token is one the fake knows (account, workspace or project token).
    pub matched: bool,
}

/// One root field of a logged request, with its resolved arguments (from
/// variables and literals). `value` fields and `variables` maps are redacted.
#[derive(Debug, Clone)]
pub struct LoggedField {
    pub name: String,
    pub alias: Option<String>,
    pub args: Value,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    /// None when the body or document could not be parsed.
    pub operation: Option<OpType>,
    pub operation_name: Option<String>,
    pub fields: Vec<LoggedField>,
    /// The request's `variables`, with secret values redacted.
    pub variables: Value,
    pub auth: AuthSeen,
    /// HTTP status answered (0 while in flight).
    pub status: u16,
    /// `errors[].message` answered, if any.
    pub errors: Vec<String>,
}

impl Hit {
    /// Root field names, in document order.
    pub fn root_fields(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    /// Whether `field` is one of the root fields.
    pub fn is(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.name == field)
    }
}

/// Request budget per token (docs.railway.com integrations/api.md). Default:
/// the Pro plan, 50 per second and 10000 per hour. Hobby is 10 and 1000.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_second: usize,
    pub per_hour: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_second: 50,
            per_hour: 10_000,
        }
    }
}

/// The account behind the account token (`me`, deployment `creator`).
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct FakeProject {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct FakeEnvironment {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct FakeService {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A service in one environment (`ServiceInstance`).
#[derive(Debug, Clone)]
pub struct FakeInstance {
    pub id: String,
    pub environment_id: String,
    pub service_id: String,
    pub source: Source,
    /// Repo sources: the commit a deploy without `commitSha` builds.
    pub head_commit: Option<String>,
    pub healthcheck_path: Option<String>,
    pub healthcheck_timeout: Option<i64>,
    pub num_replicas: i64,
    pub region: String,
    pub start_command: Option<String>,
    /// Service variables (sealed ones included, with their values).
    pub variables: BTreeMap<String, String>,
    pub sealed: BTreeSet<String>,
    /// Public domain (`Deployment.url`/`staticUrl`); None = none configured.
    pub domain: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One deployment.
#[derive(Debug, Clone)]
pub struct FakeDeployment {
    pub id: String,
    pub project_id: String,
    pub environment_id: String,
    pub service_id: String,
    /// A `DeploymentStatus` value.
    pub status: String,
    /// Image sources: the image deployed.
    pub image: Option<String>,
    /// Repo sources: the commit deployed.
    pub commit: Option<String>,
    pub commit_message: Option<String>,
    pub repo: Option<String>,
    pub branch: Option<String>,
    /// Fake-only: `seed`, `deploy`, `redeploy`, `rollback`, `variables`.
    pub trigger: String,
    /// Rollbacks: the deployment rolled back to.
    pub rollback_of: Option<String>,
    /// The instance's variables when this deployment was created.
    pub variables: BTreeMap<String, String>,
    pub sealed: BTreeSet<String>,
    /// None when a project or workspace token triggered it.
    pub creator: Option<FakeUser>,
    pub num_replicas: i64,
    pub region: String,
    pub healthcheck_path: Option<String>,
    pub start_command: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status_updated_at: DateTime<Utc>,
    /// Reads seen while unfinished.
    pub polls: u32,
    /// Scripted: end with this status instead of `SUCCESS`.
    pub fail_as: Option<String>,
    /// It reached `SUCCESS` (or was seeded as a formerly live one).
    pub was_live: bool,
    /// `deploymentStop` was called (and no restart since).
    pub stopped: bool,
    /// `deploymentRemove` was called (hidden unless `includeDeleted`).
    pub deleted: bool,
    pub snapshot_id: Option<String>,
}

/// One log line.
#[derive(Debug, Clone)]
pub struct FakeLog {
    pub deployment_id: String,
    /// Build log (`buildLogs`) rather than deploy log (`deploymentLogs`).
    pub build: bool,
    pub timestamp: DateTime<Utc>,
    pub message: String,
    pub severity: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct ProjectTokenEntry {
    /// sha256 of the token: the fake never keeps a token in the clear.
    token_hash: String,
    id: String,
    name: String,
    project_id: String,
    environment_id: String,
    created_at: DateTime<Utc>,
}

/// Everything the fake knows.
#[derive(Debug)]
pub struct FakeState {
    /// sha256 of the account token (tokens are never kept in the clear).
    account_token_hash: String,
    /// sha256 of each workspace token.
    workspace_tokens: BTreeSet<String>,
    project_tokens: Vec<ProjectTokenEntry>,
    pub user: FakeUser,
    pub projects: Vec<FakeProject>,
    pub environments: Vec<FakeEnvironment>,
    pub services: Vec<FakeService>,
    pub instances: Vec<FakeInstance>,
    /// environment id → shared variables.
    pub shared_variables: BTreeMap<String, BTreeMap<String, String>>,
    /// In creation order (oldest first).
    pub deployments: Vec<FakeDeployment>,
    /// Oldest first.
    pub logs: Vec<FakeLog>,
    /// Commit messages by sha.
    pub commits: BTreeMap<String, String>,
    pub faults: Vec<Fault>,
    pub hits: Vec<Hit>,
    /// (environment, service) → deployments created through the API.
    pub deploys_triggered: BTreeMap<(String, String), usize>,
    /// (rolled-back-to deployment, new deployment), in order.
    pub rollbacks: Vec<(String, String)>,
    /// `variableCollectionUpsert` calls with `replace: true` that reached the resolver.
    pub replace_upserts: usize,
    /// service id → statuses the next deployments end with.
    pub fail_next: BTreeMap<String, VecDeque<String>>,
    /// Image refs whose deployments end `FAILED`.
    pub fail_images: BTreeSet<String>,
    /// Reads after which a deployment finishes (min 1; default 3).
    pub polls_to_finish: u32,
    /// How many formerly live deployments per instance can be rolled back to (default 10).
    pub rollback_retention: usize,
    pub limits: Limits,
    /// Largest page a connection serves (0 = no cap, the default).
    pub page_max: usize,
    /// `deploymentLogs`/`buildLogs` return `limit + 1` lines (default true, as the CLI reports).
    pub logs_off_by_one: bool,
    /// HTTP status of validation/parse failures (default 400, as probed).
    pub validation_status: u16,
    windows: BTreeMap<String, (VecDeque<Instant>, VecDeque<Instant>)>,
    seeded: i64,
    last_time: Option<DateTime<Utc>>,
    last_log_at: Option<DateTime<Utc>>,
}

impl FakeState {
    fn new(account_token: &str) -> FakeState {
        FakeState {
            account_token_hash: token_hash(account_token),
            workspace_tokens: BTreeSet::new(),
            project_tokens: Vec::new(),
            user: FakeUser {
                id: uuid_like("user/dev"),
                name: "Dev Example".into(),
                email: "dev@example.com".into(),
            },
            projects: Vec::new(),
            environments: Vec::new(),
            services: Vec::new(),
            instances: Vec::new(),
            shared_variables: BTreeMap::new(),
            deployments: Vec::new(),
            logs: Vec::new(),
            commits: BTreeMap::new(),
            faults: Vec::new(),
            hits: Vec::new(),
            deploys_triggered: BTreeMap::new(),
            rollbacks: Vec::new(),
            replace_upserts: 0,
            fail_next: BTreeMap::new(),
            fail_images: BTreeSet::new(),
            polls_to_finish: 3,
            rollback_retention: 10,
            limits: Limits::default(),
            page_max: 0,
            logs_off_by_one: true,
            validation_status: 400,
            windows: BTreeMap::new(),
            seeded: 0,
            last_time: None,
            last_log_at: None,
        }
    }

    fn project(&self, id: &str) -> Option<&FakeProject> {
        self.projects.iter().find(|p| p.id == id)
    }

    fn environment(&self, id: &str) -> Option<&FakeEnvironment> {
        self.environments.iter().find(|e| e.id == id)
    }

    fn service(&self, id: &str) -> Option<&FakeService> {
        self.services.iter().find(|s| s.id == id)
    }

    fn instance(&self, env: &str, service: &str) -> Option<&FakeInstance> {
        self.instances
            .iter()
            .find(|i| i.environment_id == env && i.service_id == service)
    }

    fn instance_mut(&mut self, env: &str, service: &str) -> Option<&mut FakeInstance> {
        self.instances
            .iter_mut()
            .find(|i| i.environment_id == env && i.service_id == service)
    }

    fn deployment(&self, id: &str) -> Option<&FakeDeployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut FakeDeployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    /// Deployments of one instance, newest first.
    fn deployments_of(&self, env: &str, service: &str) -> Vec<&FakeDeployment> {
        self.deployments
            .iter()
            .rev()
            .filter(|d| d.environment_id == env && d.service_id == service)
            .collect()
    }

    /// Now, to the millisecond, strictly after the previous call.
    fn tick(&mut self) -> DateTime<Utc> {
        let mut t = Utc::now().trunc_subsecs(3);
        if let Some(last) = self.last_time
            && t <= last
        {
            t = last + chrono::Duration::milliseconds(1);
        }
        self.last_time = Some(t);
        t
    }
}

type Shared = Arc<Mutex<FakeState>>;
type St = State<Shared>;

// ---------------------------------------------------------------------------
// The running fake
// ---------------------------------------------------------------------------

/// A running fake Railway. Dropping it stops the server.
pub struct RailwayFake {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for RailwayFake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl RailwayFake {
    /// Start on 127.0.0.1:0 on the current tokio runtime, accepting
    /// `Authorization: Bearer {account_token}`.
    pub async fn start(account_token: &str) -> RailwayFake {
        let state = Arc::new(Mutex::new(FakeState::new(account_token)));
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
        RailwayFake {
            base: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
        }
    }

    /// Start on its own thread and runtime (for tests that run the real
    /// binary from synchronous code).
    pub fn start_in_thread(account_token: &str) -> RailwayFake {
        let state = Arc::new(Mutex::new(FakeState::new(account_token)));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        std::thread::Builder::new()
            .name("railway-fake".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("railway fake runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("railway fake bind");
                    let addr = listener.local_addr().expect("railway fake addr");
                    let _ = addr_tx.send(addr);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .expect("railway fake thread");
        let addr = addr_rx.recv().expect("railway fake started");
        RailwayFake {
            base: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT/graphql/v2`.
    pub fn url(&self) -> String {
        format!("{}/graphql/v2", self.base)
    }

    /// Lock the state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    // --- setup -------------------------------------------------------------

    pub fn add_project(&self, id: &str, name: &str) {
        let mut s = self.state();
        s.projects.retain(|p| p.id != id);
        s.projects.push(FakeProject {
            id: id.to_string(),
            name: name.to_string(),
            created_at: now_ms() - chrono::Duration::days(90),
        });
    }

    pub fn add_environment(&self, project: &str, id: &str, name: &str) {
        let mut s = self.state();
        assert!(
            s.project(project).is_some(),
            "the fake has no project {project}"
        );
        s.environments.retain(|e| e.id != id);
        s.environments.push(FakeEnvironment {
            id: id.to_string(),
            project_id: project.to_string(),
            name: name.to_string(),
            created_at: now_ms() - chrono::Duration::days(60),
        });
    }

    pub fn add_service(&self, project: &str, id: &str, name: &str) {
        let mut s = self.state();
        assert!(
            s.project(project).is_some(),
            "the fake has no project {project}"
        );
        s.services.retain(|x| x.id != id);
        s.services.push(FakeService {
            id: id.to_string(),
            project_id: project.to_string(),
            name: name.to_string(),
            created_at: now_ms() - chrono::Duration::days(60),
        });
    }

    /// The service in one environment, deploying from `source`; no
    /// deployments yet (seed with [`RailwayFake::push_deployment`]). Repo
    /// sources get a head commit (see [`RailwayFake::set_head_commit`]).
    /// Returns the service instance id.
    pub fn add_instance(&self, env: &str, service: &str, source: Source) -> String {
        let mut s = self.state();
        let e = s
            .environment(env)
            .unwrap_or_else(|| panic!("the fake has no environment {env}"))
            .clone();
        let svc = s
            .service(service)
            .unwrap_or_else(|| panic!("the fake has no service {service}"))
            .clone();
        assert_eq!(
            e.project_id, svc.project_id,
            "environment {env} and service {service} are in different projects"
        );
        let head_commit = match &source {
            Source::Repo { repo, branch } => {
                let sha =
                    hex(&Sha256::digest(format!("{repo}@{branch}").as_bytes()))[..40].to_string();
                s.commits
                    .entry(sha.clone())
                    .or_insert_with(|| format!("Latest commit on {branch}"));
                Some(sha)
            }
            Source::Image(_) => None,
        };
        let t = now_ms() - chrono::Duration::days(30);
        let id = uuid_like(&format!("instance/{env}/{service}"));
        s.instances
            .retain(|i| !(i.environment_id == env && i.service_id == service));
        s.instances.push(FakeInstance {
            id: id.clone(),
            environment_id: env.to_string(),
            service_id: service.to_string(),
            source,
            head_commit,
            healthcheck_path: None,
            healthcheck_timeout: None,
            num_replicas: 1,
            region: "us-west2".into(),
            start_command: None,
            variables: BTreeMap::new(),
            sealed: BTreeSet::new(),
            domain: None,
            created_at: t,
            updated_at: t,
        });
        id
    }

    /// Change an instance in place (healthcheck path, replicas, domain, …).
    pub fn set_instance(&self, env: &str, service: &str, change: impl FnOnce(&mut FakeInstance)) {
        let mut s = self.state();
        let inst = s
            .instance_mut(env, service)
            .unwrap_or_else(|| panic!("the fake has no instance {env}/{service}"));
        change(inst);
    }

    /// Repo sources: the commit a deploy without `commitSha` builds.
    pub fn set_head_commit(&self, env: &str, service: &str, sha: &str, message: &str) {
        let mut s = self.state();
        s.commits.insert(sha.to_string(), message.to_string());
        let inst = s
            .instance_mut(env, service)
            .unwrap_or_else(|| panic!("the fake has no instance {env}/{service}"));
        inst.head_commit = Some(sha.to_string());
    }

    /// The message a deployment of commit `sha` reports in `meta.commitMessage`.
    pub fn add_commit(&self, sha: &str, message: &str) {
        self.state()
            .commits
            .insert(sha.to_string(), message.to_string());
    }

    /// Seed history, oldest first: a deployment with `status` of
    /// `image_or_commit` (the image ref for image sources, the commit sha for
    /// repo sources), snapshotting the instance's current variables. Seeding
    /// `SUCCESS` (or `SLEEPING`) makes the previous live one `REMOVED` and, for
    /// image sources, sets the instance's source image. A seeded `REMOVED` one
    /// counts as formerly live (rollback-able within retention). Unfinished
    /// statuses advance with polls like triggered ones. Seed before
    /// triggering deployments through the API (order is creation order).
    /// Returns the id.
    pub fn push_deployment(
        &self,
        env: &str,
        service: &str,
        status: &str,
        image_or_commit: &str,
    ) -> String {
        let status = status.to_ascii_uppercase();
        assert!(
            DEPLOYMENT_STATUSES.contains(&status.as_str()),
            "{status} is not a DeploymentStatus"
        );
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let inst = s
            .instance(env, service)
            .unwrap_or_else(|| panic!("the fake has no instance {env}/{service}"))
            .clone();
        s.seeded += 1;
        let created = now_ms() - chrono::Duration::days(1) + chrono::Duration::minutes(s.seeded);
        let spec = spec_for(s, &inst, image_or_commit);
        let user = s.user.clone();
        let mut d = build_deployment(s, &inst, spec, "seed", Some(user), created);
        let live = status == "SUCCESS" || status == "SLEEPING";
        d.was_live = live || status == "REMOVED";
        if !is_pending(&status) {
            d.updated_at = created + chrono::Duration::minutes(3);
            d.status_updated_at = d.updated_at;
        }
        d.status = status;
        let id = d.id.clone();
        if live {
            demote_live(s, env, service, created + chrono::Duration::minutes(3));
            if let (Source::Image(_), Some(img)) = (&inst.source, d.image.clone())
                && let Some(i) = s.instance_mut(env, service)
            {
                i.source = Source::Image(img);
            }
        }
        s.deployments.push(d);
        id
    }

    /// Set one service variable (no deploy).
    pub fn set_variable(&self, env: &str, service: &str, key: &str, value: &str) {
        let mut s = self.state();
        let inst = s
            .instance_mut(env, service)
            .unwrap_or_else(|| panic!("the fake has no instance {env}/{service}"));
        inst.variables.insert(key.to_string(), value.to_string());
    }

    /// Set one shared (environment) variable (no deploy).
    pub fn set_shared_variable(&self, env: &str, key: &str, value: &str) {
        self.state()
            .shared_variables
            .entry(env.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
    }

    /// Seal a service variable: its value is kept (and deployed) but
    /// `variables` answers `null` for it. Panics if the variable is not set.
    pub fn seal(&self, env: &str, service: &str, key: &str) {
        let mut s = self.state();
        let inst = s
            .instance_mut(env, service)
            .unwrap_or_else(|| panic!("the fake has no instance {env}/{service}"));
        assert!(
            inst.variables.contains_key(key),
            "seal: {key} is not set on {env}/{service}"
        );
        inst.sealed.insert(key.to_string());
    }

    /// A project token scoped to one environment of one project.
    pub fn add_project_token(&self, token: &str, project: &str, env: &str) {
        let mut s = self.state();
        assert!(
            s.environment(env).is_some_and(|e| e.project_id == project),
            "the fake has no environment {env} in project {project}"
        );
        let n = s.project_tokens.len() + 1;
        let hash = token_hash(token);
        s.project_tokens.retain(|t| t.token_hash != hash);
        s.project_tokens.push(ProjectTokenEntry {
            token_hash: hash,
            id: uuid_like(&format!("project-token/{n}/{project}/{env}")),
            name: format!("token-{n}"),
            project_id: project.to_string(),
            environment_id: env.to_string(),
            created_at: now_ms() - chrono::Duration::days(7),
        });
    }

    /// A workspace token (Bearer): like the account token, but `me` is refused.
    pub fn add_workspace_token(&self, token: &str) {
        self.state().workspace_tokens.insert(token_hash(token));
    }

    pub fn set_user(&self, id: &str, name: &str, email: &str) {
        self.state().user = FakeUser {
            id: id.to_string(),
            name: name.to_string(),
            email: email.to_string(),
        };
    }

    /// Every deployment of this image ends `FAILED`.
    pub fn fail_image(&self, image: &str) {
        self.state().fail_images.insert(image.trim().to_string());
    }

    /// The next `n` deployments of the service (any environment; triggered,
    /// redeployed or rolled back) end with `status` (`FAILED` or `CRASHED`).
    pub fn fail_next_deploys(&self, service: &str, n: usize, status: &str) {
        let status = status.to_ascii_uppercase();
        assert!(
            DEPLOYMENT_STATUSES.contains(&status.as_str()),
            "{status} is not a DeploymentStatus"
        );
        let mut s = self.state();
        let q = s.fail_next.entry(service.to_string()).or_default();
        for _ in 0..n {
            q.push_back(status.clone());
        }
    }

    /// Reads after which a deployment finishes (min 1).
    pub fn set_polls_to_finish(&self, n: u32) {
        self.state().polls_to_finish = n.max(1);
    }

    pub fn set_rollback_retention(&self, n: usize) {
        self.state().rollback_retention = n;
    }

    pub fn set_limits(&self, limits: Limits) {
        self.state().limits = limits;
    }

    pub fn set_page_max(&self, n: usize) {
        self.state().page_max = n;
    }

    /// HTTP status of parse/validation failures (default 400, as probed
    /// against the live API; 200 makes them look like resolver errors).
    pub fn set_validation_status(&self, status: u16) {
        self.state().validation_status = status;
    }

    /// Whether `deploymentLogs`/`buildLogs` return `limit + 1` lines (default true).
    pub fn set_logs_off_by_one(&self, on: bool) {
        self.state().logs_off_by_one = on;
    }

    /// A deploy log line (`deploymentLogs`), stamped now.
    pub fn push_log(&self, deployment: &str, message: &str, severity: &str) {
        self.push_log_with(deployment, message, severity, &[]);
    }

    /// A deploy log line with structured attributes (`attributes{key value}`).
    pub fn push_log_with(
        &self,
        deployment: &str,
        message: &str,
        severity: &str,
        attributes: &[(&str, &str)],
    ) {
        self.push_any_log(deployment, false, message, severity, attributes);
    }

    /// A build log line (`buildLogs`), stamped now.
    pub fn push_build_log(&self, deployment: &str, message: &str) {
        self.push_any_log(deployment, true, message, "info", &[]);
    }

    fn push_any_log(
        &self,
        deployment: &str,
        build: bool,
        message: &str,
        severity: &str,
        attributes: &[(&str, &str)],
    ) {
        let mut s = self.state();
        assert!(
            s.deployment(deployment).is_some(),
            "the fake has no deployment {deployment}"
        );
        // Strictly increasing timestamps, so time windows are exact.
        let mut t = Utc::now().trunc_subsecs(6);
        if let Some(last) = s.last_log_at
            && t <= last
        {
            t = last + chrono::Duration::microseconds(1);
        }
        s.last_log_at = Some(t);
        s.logs.push(FakeLog {
            deployment_id: deployment.to_string(),
            build,
            timestamp: t,
            message: message.to_string(),
            severity: severity.to_string(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }

    /// Script a fault.
    pub fn fault(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Finish every unfinished deployment of the instance, as if polled to the end.
    pub fn complete_deploys(&self, env: &str, service: &str) {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let ids: Vec<String> = s
            .deployments
            .iter()
            .filter(|d| {
                d.environment_id == env && d.service_id == service && is_advancing(&d.status)
            })
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            finish(s, &id);
        }
    }

    // --- getters -----------------------------------------------------------

    /// Deployments of the instance, newest first (removed ones included).
    pub fn deployments(&self, env: &str, service: &str) -> Vec<FakeDeployment> {
        self.state()
            .deployments_of(env, service)
            .into_iter()
            .cloned()
            .collect()
    }

    pub fn deployment(&self, id: &str) -> Option<FakeDeployment> {
        self.state().deployment(id).cloned()
    }

    /// The `SUCCESS` deployment of the instance.
    pub fn live(&self, env: &str, service: &str) -> Option<FakeDeployment> {
        self.state()
            .deployments_of(env, service)
            .into_iter()
            .find(|d| d.status == "SUCCESS" && !d.deleted)
            .cloned()
    }

    /// The instance's current service variables (sealed values included).
    pub fn variables(&self, env: &str, service: &str) -> BTreeMap<String, String> {
        self.state()
            .instance(env, service)
            .map(|i| i.variables.clone())
            .unwrap_or_default()
    }

    pub fn sealed(&self, env: &str, service: &str) -> BTreeSet<String> {
        self.state()
            .instance(env, service)
            .map(|i| i.sealed.clone())
            .unwrap_or_default()
    }

    pub fn shared_variables(&self, env: &str) -> BTreeMap<String, String> {
        self.state()
            .shared_variables
            .get(env)
            .cloned()
            .unwrap_or_default()
    }

    /// The variables snapshot a deployment was created with.
    pub fn variables_of(&self, deployment: &str) -> Option<BTreeMap<String, String>> {
        self.state()
            .deployment(deployment)
            .map(|d| d.variables.clone())
    }

    pub fn instance(&self, env: &str, service: &str) -> Option<FakeInstance> {
        self.state().instance(env, service).cloned()
    }

    /// The instance's source (what the next deploy ships).
    pub fn source(&self, env: &str, service: &str) -> Option<Source> {
        self.state()
            .instance(env, service)
            .map(|i| i.source.clone())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Hit> {
        self.state().hits.clone()
    }

    /// Requests with a root field named `field`.
    pub fn requests_for(&self, field: &str) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| h.is(field))
            .cloned()
            .collect()
    }

    /// Deployments of the instance created through the API (deploy, redeploy,
    /// rollback, variable change), whatever their outcome. Seeds don't count.
    pub fn deploys_triggered(&self, env: &str, service: &str) -> usize {
        self.state()
            .deploys_triggered
            .get(&(env.to_string(), service.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Successful `deploymentRollback` calls, any service.
    pub fn rollbacks(&self) -> usize {
        self.state().rollbacks.len()
    }

    /// `variableCollectionUpsert` calls with `replace: true`, any service.
    pub fn replace_upserts(&self) -> usize {
        self.state().replace_upserts
    }
}

// ---------------------------------------------------------------------------
// Deployment lifecycle
// ---------------------------------------------------------------------------

/// Unfinished: a newer deployment supersedes these.
fn is_pending(status: &str) -> bool {
    matches!(
        status,
        "QUEUED" | "INITIALIZING" | "BUILDING" | "DEPLOYING" | "WAITING" | "NEEDS_APPROVAL"
    )
}

/// Unfinished and moving on by itself (approval states wait for `deploymentApprove`).
fn is_advancing(status: &str) -> bool {
    matches!(status, "QUEUED" | "INITIALIZING" | "BUILDING" | "DEPLOYING")
}

/// What a deployment ships.
#[derive(Debug, Clone, Default)]
struct Spec {
    image: Option<String>,
    commit: Option<String>,
    commit_message: Option<String>,
}

/// The spec of `image_or_commit` for this instance's kind of source.
fn spec_for(s: &FakeState, inst: &FakeInstance, image_or_commit: &str) -> Spec {
    match &inst.source {
        Source::Image(_) => Spec {
            image: Some(image_or_commit.to_string()),
            ..Spec::default()
        },
        Source::Repo { .. } => Spec {
            image: None,
            commit: Some(image_or_commit.to_string()),
            commit_message: Some(
                s.commits
                    .get(image_or_commit)
                    .cloned()
                    .unwrap_or_else(|| format!("Commit {}", short(image_or_commit))),
            ),
        },
    }
}

/// The same artifact as an existing deployment.
fn spec_of(d: &FakeDeployment) -> Spec {
    Spec {
        image: d.image.clone(),
        commit: d.commit.clone(),
        commit_message: d.commit_message.clone(),
    }
}

fn build_deployment(
    s: &FakeState,
    inst: &FakeInstance,
    spec: Spec,
    trigger: &str,
    creator: Option<FakeUser>,
    at: DateTime<Utc>,
) -> FakeDeployment {
    let project_id = s
        .service(&inst.service_id)
        .map(|x| x.project_id.clone())
        .unwrap_or_default();
    let (repo, branch) = match &inst.source {
        Source::Repo { repo, branch } => (Some(repo.clone()), Some(branch.clone())),
        Source::Image(_) => (None, None),
    };
    let seed = format!("deployment/{}/{}", inst.id, next_n());
    let is_repo = spec.commit.is_some();
    FakeDeployment {
        id: uuid_like(&seed),
        project_id,
        environment_id: inst.environment_id.clone(),
        service_id: inst.service_id.clone(),
        status: "INITIALIZING".into(),
        image: spec.image,
        commit: spec.commit,
        commit_message: spec.commit_message,
        repo,
        branch,
        trigger: trigger.to_string(),
        rollback_of: None,
        variables: inst.variables.clone(),
        sealed: inst.sealed.clone(),
        creator,
        num_replicas: inst.num_replicas,
        region: inst.region.clone(),
        healthcheck_path: inst.healthcheck_path.clone(),
        start_command: inst.start_command.clone(),
        created_at: at,
        updated_at: at,
        status_updated_at: at,
        polls: 0,
        fail_as: None,
        was_live: false,
        stopped: false,
        deleted: false,
        snapshot_id: is_repo.then(|| uuid_like(&format!("snapshot/{seed}"))),
    }
}

/// The live (`SUCCESS`/`SLEEPING`) deployments of the instance become `REMOVED`.
fn demote_live(s: &mut FakeState, env: &str, service: &str, at: DateTime<Utc>) {
    for d in s.deployments.iter_mut() {
        if d.environment_id == env
            && d.service_id == service
            && (d.status == "SUCCESS" || d.status == "SLEEPING")
        {
            d.status = "REMOVED".into();
            d.updated_at = at;
            d.status_updated_at = at;
        }
    }
}

/// Create a deployment through the API: unfinished ones of the instance are
/// superseded (`REMOVED`), the new one starts `INITIALIZING`. Returns its id.
fn trigger_deploy(
    s: &mut FakeState,
    env: &str,
    service: &str,
    spec: Spec,
    trigger: &str,
    creator: Option<FakeUser>,
) -> String {
    let at = s.tick();
    for d in s.deployments.iter_mut() {
        if d.environment_id == env && d.service_id == service && is_pending(&d.status) {
            d.status = "REMOVED".into();
            d.updated_at = at;
            d.status_updated_at = at;
        }
    }
    let inst = s
        .instance(env, service)
        .cloned()
        .expect("trigger_deploy: instance checked by the caller");
    let mut d = build_deployment(s, &inst, spec, trigger, creator, at);
    let scripted = s.fail_next.get_mut(service).and_then(|q| q.pop_front());
    let image_fails = d
        .image
        .as_ref()
        .is_some_and(|i| s.fail_images.contains(i.trim()));
    d.fail_as = scripted.or_else(|| image_fails.then(|| "FAILED".to_string()));
    let id = d.id.clone();
    s.deployments.push(d);
    *s.deploys_triggered
        .entry((env.to_string(), service.to_string()))
        .or_insert(0) += 1;
    id
}

/// One read of an unfinished deployment.
fn observe(s: &mut FakeState, id: &str) {
    let n = s.polls_to_finish.max(1);
    let at = s.tick();
    let done = {
        let Some(d) = s.deployment_mut(id) else {
            return;
        };
        if !is_advancing(&d.status) {
            return;
        }
        d.polls += 1;
        if d.polls >= n {
            true
        } else {
            let building = d.commit.is_some() && d.polls <= n.saturating_sub(1).div_ceil(2);
            let next = if building { "BUILDING" } else { "DEPLOYING" };
            if d.status != next {
                d.status = next.into();
                d.updated_at = at;
                d.status_updated_at = at;
            }
            false
        }
    };
    if done {
        finish(s, id);
    }
}

/// End an unfinished deployment: `SUCCESS` (the previous live one `REMOVED`)
/// or its scripted failure (the previous live one stays).
fn finish(s: &mut FakeState, id: &str) {
    let at = s.tick();
    let Some(d) = s.deployment(id).cloned() else {
        return;
    };
    match d.fail_as.clone() {
        Some(failure) => {
            if let Some(x) = s.deployment_mut(id) {
                x.status = failure;
                x.updated_at = at;
                x.status_updated_at = at;
            }
        }
        None => {
            demote_live(s, &d.environment_id, &d.service_id, at);
            if let Some(x) = s.deployment_mut(id) {
                x.status = "SUCCESS".into();
                x.was_live = true;
                x.updated_at = at;
                x.status_updated_at = at;
            }
            if let Some(img) = d.image.clone()
                && let Some(inst) = s.instance_mut(&d.environment_id, &d.service_id)
                && inst.source.is_image()
            {
                inst.source = Source::Image(img);
                inst.updated_at = at;
            }
        }
    }
}

/// Formerly live deployments of the instance, newest first.
fn rollback_candidates(s: &FakeState, env: &str, service: &str) -> Vec<String> {
    s.deployments_of(env, service)
        .into_iter()
        .filter(|d| d.was_live && d.status == "REMOVED" && !d.deleted)
        .map(|d| d.id.clone())
        .collect()
}

fn can_rollback(s: &FakeState, d: &FakeDeployment) -> bool {
    rollback_candidates(s, &d.environment_id, &d.service_id)
        .iter()
        .take(s.rollback_retention)
        .any(|id| *id == d.id)
}

/// docs: "A successful, failed, or crashed deployment can be re-deployed".
fn can_redeploy(d: &FakeDeployment) -> bool {
    !d.deleted && matches!(d.status.as_str(), "SUCCESS" | "FAILED" | "CRASHED")
}

fn deployment_stopped(d: &FakeDeployment) -> bool {
    d.status != "SUCCESS" || d.stopped
}

/// `DeploymentDeploymentInstance` statuses, one per replica.
fn instance_status(d: &FakeDeployment) -> Option<&'static str> {
    match d.status.as_str() {
        "SUCCESS" if d.stopped => Some("EXITED"),
        "SUCCESS" | "SLEEPING" => Some("RUNNING"),
        "DEPLOYING" => Some("CREATED"),
        "CRASHED" => Some("CRASHED"),
        "REMOVING" => Some("REMOVING"),
        _ => None,
    }
}

/// `Deployment.meta` (see the module docs for the keys).
fn meta_of(d: &FakeDeployment) -> Value {
    let mut m = Map::new();
    if let Some(img) = &d.image {
        m.insert("image".into(), json!(img));
    }
    if let Some(c) = &d.commit {
        m.insert("commitHash".into(), json!(c));
        m.insert("commitMessage".into(), json!(d.commit_message));
        m.insert("branch".into(), json!(d.branch));
        m.insert("repo".into(), json!(d.repo));
    }
    let mut deploy = Map::new();
    deploy.insert("numReplicas".into(), json!(d.num_replicas));
    let mut regions = Map::new();
    regions.insert(d.region.clone(), json!({"numReplicas": d.num_replicas}));
    deploy.insert("multiRegionConfig".into(), Value::Object(regions));
    if let Some(p) = &d.healthcheck_path {
        deploy.insert("healthcheckPath".into(), json!(p));
    }
    if let Some(c) = &d.start_command {
        deploy.insert("startCommand".into(), json!(c));
    }
    m.insert("serviceManifest".into(), json!({ "deploy": deploy }));
    Value::Object(m)
}

// ---------------------------------------------------------------------------
// GraphQL: lexer and parser (executable documents only)
// ---------------------------------------------------------------------------

/// One error answered in `errors[]`.
#[derive(Debug, Clone)]
struct GqlError {
    message: String,
    code: &'static str,
    loc: Option<(usize, usize)>,
    path: Option<String>,
}

impl GqlError {
    fn new(message: impl Into<String>, code: &'static str) -> GqlError {
        GqlError {
            message: message.into(),
            code,
            loc: None,
            path: None,
        }
    }

    fn at(mut self, line: usize, col: usize) -> GqlError {
        self.loc = Some((line, col));
        self
    }
}

const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
const NOT_MODELED: &str = "FAKE_NOT_MODELED";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(String),
    Float(String),
    Str(String),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

fn syntax(message: String, line: usize, col: usize) -> GqlError {
    GqlError::new(format!("Syntax Error: {message}"), PARSE_FAILED).at(line, col)
}

fn lex(src: &str) -> Result<Vec<Token>, GqlError> {
    let cs: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    while i < cs.len() {
        let c = cs[i];
        let (tl, tc) = (line, col);
        match c {
            '\n' => {
                i += 1;
                line += 1;
                col = 1;
            }
            '\r' => {
                i += 1;
                if i < cs.len() && cs[i] == '\n' {
                    i += 1;
                }
                line += 1;
                col = 1;
            }
            ' ' | '\t' | ',' | '\u{feff}' => {
                i += 1;
                col += 1;
            }
            '#' => {
                while i < cs.len() && cs[i] != '\n' && cs[i] != '\r' {
                    i += 1;
                }
            }
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                out.push(Token {
                    tok: Tok::Punct(c),
                    line: tl,
                    col: tc,
                });
                i += 1;
                col += 1;
            }
            '.' => {
                if cs[i..].starts_with(&['.', '.', '.']) {
                    out.push(Token {
                        tok: Tok::Spread,
                        line: tl,
                        col: tc,
                    });
                    i += 3;
                    col += 3;
                } else {
                    return Err(syntax("Unexpected \".\".".into(), tl, tc));
                }
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < cs.len() && (cs[i] == '_' || cs[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                col += i - start;
                out.push(Token {
                    tok: Tok::Name(cs[start..i].iter().collect()),
                    line: tl,
                    col: tc,
                });
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                if cs[i] == '-' {
                    i += 1;
                }
                let digits = |i: &mut usize| {
                    let s = *i;
                    while *i < cs.len() && cs[*i].is_ascii_digit() {
                        *i += 1;
                    }
                    *i > s
                };
                if !digits(&mut i) {
                    return Err(syntax("Invalid number, expected digit.".into(), tl, tc));
                }
                let mut float = false;
                if i < cs.len() && cs[i] == '.' {
                    float = true;
                    i += 1;
                    if !digits(&mut i) {
                        return Err(syntax("Invalid number, expected digit.".into(), tl, tc));
                    }
                }
                if i < cs.len() && (cs[i] == 'e' || cs[i] == 'E') {
                    float = true;
                    i += 1;
                    if i < cs.len() && (cs[i] == '+' || cs[i] == '-') {
                        i += 1;
                    }
                    if !digits(&mut i) {
                        return Err(syntax("Invalid number, expected digit.".into(), tl, tc));
                    }
                }
                if i < cs.len() && (cs[i] == '_' || cs[i].is_ascii_alphabetic() || cs[i] == '.') {
                    return Err(syntax(
                        format!("Invalid number, unexpected character \"{}\".", cs[i]),
                        tl,
                        tc,
                    ));
                }
                let text: String = cs[start..i].iter().collect();
                col += i - start;
                out.push(Token {
                    tok: if float {
                        Tok::Float(text)
                    } else {
                        Tok::Int(text)
                    },
                    line: tl,
                    col: tc,
                });
            }
            '"' if cs[i..].starts_with(&['"', '"', '"']) => {
                i += 3;
                col += 3;
                let mut text = String::new();
                loop {
                    if i >= cs.len() {
                        return Err(syntax("Unterminated string.".into(), tl, tc));
                    }
                    if cs[i..].starts_with(&['\\', '"', '"', '"']) {
                        text.push_str("\"\"\"");
                        i += 4;
                        col += 4;
                    } else if cs[i..].starts_with(&['"', '"', '"']) {
                        i += 3;
                        col += 3;
                        break;
                    } else {
                        if cs[i] == '\n' {
                            line += 1;
                            col = 1;
                        } else {
                            col += 1;
                        }
                        text.push(cs[i]);
                        i += 1;
                    }
                }
                out.push(Token {
                    tok: Tok::Str(block_string(&text)),
                    line: tl,
                    col: tc,
                });
            }
            '"' => {
                i += 1;
                col += 1;
                let mut text = String::new();
                loop {
                    if i >= cs.len() || cs[i] == '\n' || cs[i] == '\r' {
                        return Err(syntax("Unterminated string.".into(), tl, tc));
                    }
                    let ch = cs[i];
                    if ch == '"' {
                        i += 1;
                        col += 1;
                        break;
                    }
                    if ch == '\\' {
                        let Some(&e) = cs.get(i + 1) else {
                            return Err(syntax("Unterminated string.".into(), tl, tc));
                        };
                        let decoded = match e {
                            '"' => '"',
                            '\\' => '\\',
                            '/' => '/',
                            'b' => '\u{8}',
                            'f' => '\u{c}',
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            'u' => {
                                let hexs: String = cs.iter().skip(i + 2).take(4).collect();
                                let Ok(n) = u32::from_str_radix(&hexs, 16) else {
                                    return Err(syntax(
                                        format!("Invalid Unicode escape sequence: \"\\u{hexs}\"."),
                                        line,
                                        col,
                                    ));
                                };
                                i += 4;
                                col += 4;
                                char::from_u32(n).unwrap_or('\u{fffd}')
                            }
                            other => {
                                return Err(syntax(
                                    format!("Invalid character escape sequence: \"\\{other}\"."),
                                    line,
                                    col,
                                ));
                            }
                        };
                        text.push(decoded);
                        i += 2;
                        col += 2;
                    } else {
                        text.push(ch);
                        i += 1;
                        col += 1;
                    }
                }
                out.push(Token {
                    tok: Tok::Str(text),
                    line: tl,
                    col: tc,
                });
            }
            other => {
                return Err(syntax(
                    format!("Unexpected character: \"{other}\"."),
                    tl,
                    tc,
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        line,
        col,
    });
    Ok(out)
}

/// Block string value: common indentation removed, blank first/last lines dropped.
fn block_string(raw: &str) -> String {
    let lines: Vec<&str> = raw.split('\n').collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            if n == 0 {
                l.to_string()
            } else {
                l.chars().skip(indent).collect()
            }
        })
        .collect();
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// A GraphQL input value as written in the document.
#[derive(Debug, Clone)]
enum GVal {
    Var(String),
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Enum(String),
    List(Vec<GVal>),
    Obj(Vec<(String, GVal)>),
}

#[derive(Debug, Clone)]
struct Directive {
    name: String,
    args: Vec<(String, GVal)>,
}

#[derive(Debug, Clone)]
enum Sel {
    Field {
        alias: Option<String>,
        name: String,
        args: Vec<(String, GVal)>,
        dirs: Vec<Directive>,
        sel: Vec<Sel>,
        line: usize,
        col: usize,
    },
    Spread {
        name: String,
        dirs: Vec<Directive>,
        line: usize,
        col: usize,
    },
    Inline {
        on: Option<String>,
        dirs: Vec<Directive>,
        sel: Vec<Sel>,
    },
}

#[derive(Debug, Clone)]
struct VarDef {
    name: String,
    /// As written, without whitespace: `String!`, `[DeploymentStatus!]`.
    ty: String,
    default: Option<GVal>,
}

#[derive(Debug, Clone)]
struct Operation {
    kind: OpType,
    name: Option<String>,
    vars: Vec<VarDef>,
    dirs: Vec<Directive>,
    sel: Vec<Sel>,
}

#[derive(Debug, Clone)]
struct Fragment {
    on: String,
    sel: Vec<Sel>,
}

#[derive(Debug, Default)]
struct Document {
    ops: Vec<Operation>,
    frags: BTreeMap<String, Fragment>,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Punct(c) => format!("\"{c}\""),
        Tok::Spread => "\"...\"".into(),
        Tok::Name(n) => format!("Name \"{n}\""),
        Tok::Int(n) => format!("Int \"{n}\""),
        Tok::Float(n) => format!("Float \"{n}\""),
        Tok::Str(s) => format!("String \"{s}\""),
        Tok::Eof => "<EOF>".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn here(&self) -> (usize, usize) {
        let t = &self.toks[self.pos];
        (t.line, t.col)
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn expected(&self, what: &str) -> GqlError {
        let (l, c) = self.here();
        syntax(
            format!("Expected {what}, found {}.", describe(self.peek())),
            l,
            c,
        )
    }

    fn unexpected(&self) -> GqlError {
        let (l, c) = self.here();
        syntax(format!("Unexpected {}.", describe(self.peek())), l, c)
    }

    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), GqlError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.expected(&format!("\"{c}\"")))
        }
    }

    fn expect_name(&mut self) -> Result<String, GqlError> {
        match self.peek().clone() {
            Tok::Name(n) => {
                self.bump();
                Ok(n)
            }
            _ => Err(self.expected("Name")),
        }
    }

    fn document(&mut self) -> Result<Document, GqlError> {
        let mut doc = Document::default();
        if *self.peek() == Tok::Eof {
            return Err(self.unexpected());
        }
        while *self.peek() != Tok::Eof {
            match self.peek().clone() {
                Tok::Punct('{') => {
                    let sel = self.selection_set()?;
                    doc.ops.push(Operation {
                        kind: OpType::Query,
                        name: None,
                        vars: Vec::new(),
                        dirs: Vec::new(),
                        sel,
                    });
                }
                Tok::Name(n) if n == "query" || n == "mutation" || n == "subscription" => {
                    self.bump();
                    let kind = match n.as_str() {
                        "query" => OpType::Query,
                        "mutation" => OpType::Mutation,
                        _ => OpType::Subscription,
                    };
                    let name = match self.peek() {
                        Tok::Name(_) => Some(self.expect_name()?),
                        _ => None,
                    };
                    let vars = if self.is_punct('(') {
                        self.var_defs()?
                    } else {
                        Vec::new()
                    };
                    let dirs = self.directives(false)?;
                    let sel = self.selection_set()?;
                    doc.ops.push(Operation {
                        kind,
                        name,
                        vars,
                        dirs,
                        sel,
                    });
                }
                Tok::Name(n) if n == "fragment" => {
                    self.bump();
                    let name = self.expect_name()?;
                    if name == "on" {
                        return Err(self.unexpected());
                    }
                    match self.peek().clone() {
                        Tok::Name(on) if on == "on" => {
                            self.bump();
                        }
                        _ => return Err(self.expected("\"on\"")),
                    }
                    let on = self.expect_name()?;
                    self.directives(false)?;
                    let sel = self.selection_set()?;
                    doc.frags.insert(name, Fragment { on, sel });
                }
                _ => return Err(self.unexpected()),
            }
        }
        Ok(doc)
    }

    fn var_defs(&mut self) -> Result<Vec<VarDef>, GqlError> {
        self.expect_punct('(')?;
        let mut out = Vec::new();
        loop {
            self.expect_punct('$')?;
            let name = self.expect_name()?;
            self.expect_punct(':')?;
            let ty = self.type_ref()?;
            let default = if self.eat_punct('=') {
                Some(self.value(true)?)
            } else {
                None
            };
            self.directives(true)?;
            out.push(VarDef { name, ty, default });
            if self.eat_punct(')') {
                break;
            }
        }
        Ok(out)
    }

    fn type_ref(&mut self) -> Result<String, GqlError> {
        let mut t = if self.eat_punct('[') {
            let inner = self.type_ref()?;
            self.expect_punct(']')?;
            format!("[{inner}]")
        } else {
            self.expect_name()?
        };
        if self.eat_punct('!') {
            t.push('!');
        }
        Ok(t)
    }

    fn directives(&mut self, konst: bool) -> Result<Vec<Directive>, GqlError> {
        let mut out = Vec::new();
        while self.eat_punct('@') {
            let name = self.expect_name()?;
            let args = if self.is_punct('(') {
                self.arguments(konst)?
            } else {
                Vec::new()
            };
            out.push(Directive { name, args });
        }
        Ok(out)
    }

    fn arguments(&mut self, konst: bool) -> Result<Vec<(String, GVal)>, GqlError> {
        self.expect_punct('(')?;
        let mut out = Vec::new();
        loop {
            let name = self.expect_name()?;
            self.expect_punct(':')?;
            let v = self.value(konst)?;
            out.push((name, v));
            if self.eat_punct(')') {
                break;
            }
        }
        Ok(out)
    }

    fn value(&mut self, konst: bool) -> Result<GVal, GqlError> {
        match self.peek().clone() {
            Tok::Punct('$') if !konst => {
                self.bump();
                Ok(GVal::Var(self.expect_name()?))
            }
            Tok::Int(n) => {
                self.bump();
                Ok(n.parse::<i64>()
                    .map(GVal::Int)
                    .unwrap_or_else(|_| GVal::Float(n.parse::<f64>().unwrap_or(f64::INFINITY))))
            }
            Tok::Float(n) => {
                self.bump();
                Ok(GVal::Float(n.parse::<f64>().unwrap_or(f64::NAN)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(GVal::Str(s))
            }
            Tok::Name(n) => {
                self.bump();
                Ok(match n.as_str() {
                    "true" => GVal::Bool(true),
                    "false" => GVal::Bool(false),
                    "null" => GVal::Null,
                    _ => GVal::Enum(n),
                })
            }
            Tok::Punct('[') => {
                self.bump();
                let mut items = Vec::new();
                while !self.eat_punct(']') {
                    if *self.peek() == Tok::Eof {
                        return Err(self.unexpected());
                    }
                    items.push(self.value(konst)?);
                }
                Ok(GVal::List(items))
            }
            Tok::Punct('{') => {
                self.bump();
                let mut fields = Vec::new();
                while !self.eat_punct('}') {
                    let name = self.expect_name()?;
                    self.expect_punct(':')?;
                    fields.push((name, self.value(konst)?));
                }
                Ok(GVal::Obj(fields))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn selection_set(&mut self) -> Result<Vec<Sel>, GqlError> {
        self.expect_punct('{')?;
        let mut out = Vec::new();
        loop {
            out.push(self.selection()?);
            if self.eat_punct('}') {
                break;
            }
        }
        Ok(out)
    }

    fn selection(&mut self) -> Result<Sel, GqlError> {
        let (line, col) = self.here();
        if *self.peek() == Tok::Spread {
            self.bump();
            match self.peek().clone() {
                Tok::Name(n) if n == "on" => {
                    self.bump();
                    let on = self.expect_name()?;
                    let dirs = self.directives(false)?;
                    let sel = self.selection_set()?;
                    Ok(Sel::Inline {
                        on: Some(on),
                        dirs,
                        sel,
                    })
                }
                Tok::Name(n) => {
                    self.bump();
                    let dirs = self.directives(false)?;
                    Ok(Sel::Spread {
                        name: n,
                        dirs,
                        line,
                        col,
                    })
                }
                _ => {
                    let dirs = self.directives(false)?;
                    let sel = self.selection_set()?;
                    Ok(Sel::Inline {
                        on: None,
                        dirs,
                        sel,
                    })
                }
            }
        } else {
            let first = self.expect_name()?;
            let (alias, name) = if self.eat_punct(':') {
                (Some(first), self.expect_name()?)
            } else {
                (None, first)
            };
            let args = if self.is_punct('(') {
                self.arguments(false)?
            } else {
                Vec::new()
            };
            let dirs = self.directives(false)?;
            let sel = if self.is_punct('{') {
                self.selection_set()?
            } else {
                Vec::new()
            };
            Ok(Sel::Field {
                alias,
                name,
                args,
                dirs,
                sel,
                line,
                col,
            })
        }
    }
}

fn parse_document(src: &str) -> Result<Document, GqlError> {
    let toks = lex(src)?;
    Parser { toks, pos: 0 }.document()
}

// ---------------------------------------------------------------------------
// GraphQL: validation against the schema tables, and the execution plan
// ---------------------------------------------------------------------------

/// A field ready to run: fragments inlined, `@skip`/`@include` applied,
/// arguments resolved to JSON (an argument whose variable was not sent is absent).
#[derive(Debug, Clone)]
struct Field {
    key: String,
    name: String,
    args: Map<String, Value>,
    sel: Vec<Field>,
    line: usize,
    col: usize,
}

struct Prepared {
    kind: Option<OpType>,
    name: Option<String>,
    logged: Vec<LoggedField>,
    /// Variables that feed a `value` or `variables` input field (redacted in the log).
    secret_vars: BTreeSet<String>,
    /// Root fields to run, or the errors to answer with `validation_status`.
    plan: Result<Vec<Field>, Vec<GqlError>>,
}

impl Prepared {
    fn failed(kind: Option<OpType>, name: Option<String>, errors: Vec<GqlError>) -> Prepared {
        Prepared {
            kind,
            name,
            logged: Vec::new(),
            secret_vars: BTreeSet::new(),
            plan: Err(errors),
        }
    }
}

fn select_op<'a>(doc: &'a Document, name: Option<&str>) -> Result<&'a Operation, GqlError> {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => doc
            .ops
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .ok_or_else(|| {
                GqlError::new(
                    format!("Unknown operation named \"{n}\"."),
                    "OPERATION_RESOLUTION_FAILURE",
                )
            }),
        None => match doc.ops.len() {
            1 => Ok(&doc.ops[0]),
            0 => Err(GqlError::new(
                "Must provide an operation.",
                "OPERATION_RESOLUTION_FAILURE",
            )),
            _ => Err(GqlError::new(
                "Must provide operation name if query contains multiple operations.",
                "OPERATION_RESOLUTION_FAILURE",
            )),
        },
    }
}

fn prepare(query: &str, op_name: Option<&str>, vars: &Map<String, Value>) -> Prepared {
    let doc = match parse_document(query) {
        Ok(d) => d,
        Err(e) => return Prepared::failed(None, None, vec![e]),
    };
    let op = match select_op(&doc, op_name) {
        Ok(op) => op.clone(),
        Err(e) => return Prepared::failed(None, None, vec![e]),
    };
    if op.kind == OpType::Subscription {
        return Prepared::failed(
            Some(op.kind),
            op.name.clone(),
            vec![GqlError::new(
                "railway_fake: subscriptions go over WebSocket (graphql-transport-ws); this fake serves none",
                "BAD_REQUEST",
            )],
        );
    }
    // Values of the declared variables: sent, else the default, else absent.
    let mut values = Map::new();
    for vd in &op.vars {
        if let Some(v) = vars.get(&vd.name) {
            values.insert(vd.name.clone(), v.clone());
        } else if let Some(d) = &vd.default
            && let Some(j) = gval_json(d, &Map::new())
        {
            values.insert(vd.name.clone(), j);
        }
    }
    let mut fl = Flat {
        doc: &doc,
        var_defs: &op.vars,
        values: &values,
        op_kind: op.kind,
        errors: Vec::new(),
        used: BTreeSet::new(),
        stack: Vec::new(),
        secret_vars: BTreeSet::new(),
    };
    for d in &op.dirs {
        for (_, v) in &d.args {
            collect_vars(v, &mut fl.used);
        }
    }
    let mut roots = Vec::new();
    fl.selection(op.kind.root(), &op.sel, &mut roots);
    let mut errors = std::mem::take(&mut fl.errors);
    let used = std::mem::take(&mut fl.used);
    let secret_vars = std::mem::take(&mut fl.secret_vars);
    let declared: BTreeSet<String> = op.vars.iter().map(|v| v.name.clone()).collect();
    for u in used.difference(&declared) {
        errors.push(GqlError::new(
            match &op.name {
                Some(n) => format!("Variable \"${u}\" is not defined by operation \"{n}\"."),
                None => format!("Variable \"${u}\" is not defined."),
            },
            VALIDATION_FAILED,
        ));
    }
    for d in declared.difference(&used) {
        errors.push(GqlError::new(
            match &op.name {
                Some(n) => format!("Variable \"${d}\" is never used in operation \"{n}\"."),
                None => format!("Variable \"${d}\" is never used."),
            },
            VALIDATION_FAILED,
        ));
    }
    let logged = roots
        .iter()
        .map(|f| LoggedField {
            name: f.name.clone(),
            alias: (f.key != f.name).then(|| f.key.clone()),
            args: redact(&Value::Object(f.args.clone())),
        })
        .collect();
    if errors.is_empty() {
        // Variable coercion against the declared types (after validation, like a server).
        for vd in &op.vars {
            match vars.get(&vd.name) {
                None => {
                    if vd.ty.ends_with('!') && vd.default.is_none() {
                        errors.push(GqlError::new(
                            format!(
                                "Variable \"${}\" of required type \"{}\" was not provided.",
                                vd.name, vd.ty
                            ),
                            BAD_USER_INPUT,
                        ));
                    }
                }
                Some(Value::Null) if vd.ty.ends_with('!') => {
                    errors.push(GqlError::new(
                        format!(
                            "Variable \"${}\" of non-null type \"{}\" must not be null.",
                            vd.name, vd.ty
                        ),
                        BAD_USER_INPUT,
                    ));
                }
                Some(v) => {
                    if let Err(detail) = check_json(v, &vd.ty, &vd.name) {
                        errors.push(GqlError::new(
                            format!(
                                "Variable \"${}\" got invalid value {}; {detail}",
                                vd.name,
                                redact(v)
                            ),
                            BAD_USER_INPUT,
                        ));
                    }
                }
            }
        }
    }
    Prepared {
        kind: Some(op.kind),
        name: op.name.clone(),
        logged,
        secret_vars,
        plan: if errors.is_empty() {
            Ok(roots)
        } else {
            Err(errors)
        },
    }
}

/// Flattens selections against the (static) schema tables, validating as it goes.
struct Flat<'a> {
    doc: &'a Document,
    var_defs: &'a [VarDef],
    values: &'a Map<String, Value>,
    op_kind: OpType,
    errors: Vec<GqlError>,
    used: BTreeSet<String>,
    stack: Vec<String>,
    secret_vars: BTreeSet<String>,
}

impl Flat<'_> {
    fn error(&mut self, message: String, line: usize, col: usize) {
        self.errors
            .push(GqlError::new(message, VALIDATION_FAILED).at(line, col));
    }

    fn included(&mut self, dirs: &[Directive]) -> bool {
        let mut keep = true;
        for d in dirs {
            for (_, v) in &d.args {
                collect_vars(v, &mut self.used);
            }
            let cond = d
                .args
                .iter()
                .find(|(n, _)| n == "if")
                .and_then(|(_, v)| gval_json(v, self.values))
                .and_then(|j| j.as_bool());
            match d.name.as_str() {
                "skip" if cond == Some(true) => keep = false,
                "include" if cond != Some(true) => keep = false,
                _ => {}
            }
        }
        keep
    }

    fn selection(&mut self, parent: &str, items: &[Sel], out: &mut Vec<Field>) {
        let doc = self.doc;
        for item in items {
            match item {
                Sel::Field {
                    alias,
                    name,
                    args,
                    dirs,
                    sel,
                    line,
                    col,
                } => {
                    for (_, v) in args {
                        collect_vars(v, &mut self.used);
                    }
                    if !self.included(dirs) {
                        continue;
                    }
                    let Some(ty) = self.field_type(parent, name, args, *line, *col) else {
                        continue;
                    };
                    let named = base_type(&ty).to_string();
                    if named != "?" {
                        if is_leaf(&named) && !sel.is_empty() {
                            self.error(
                                format!(
                                    "Field \"{name}\" must not have a selection since type \"{ty}\" has no subfields."
                                ),
                                *line,
                                *col,
                            );
                            continue;
                        }
                        if !is_leaf(&named) && sel.is_empty() {
                            self.error(
                                format!(
                                    "Field \"{name}\" of type \"{ty}\" must have a selection of subfields. Did you mean \"{name} {{ ... }}\"?"
                                ),
                                *line,
                                *col,
                            );
                            continue;
                        }
                    }
                    let mut sub = Vec::new();
                    if !sel.is_empty() {
                        self.selection(&named, sel, &mut sub);
                    }
                    let mut resolved = Map::new();
                    for (n, v) in args {
                        if let Some(j) = gval_json(v, self.values) {
                            resolved.insert(n.clone(), j);
                        }
                    }
                    let field = Field {
                        key: alias.clone().unwrap_or_else(|| name.clone()),
                        name: name.clone(),
                        args: resolved,
                        sel: sub,
                        line: *line,
                        col: *col,
                    };
                    merge_field(out, field, &mut self.errors);
                }
                Sel::Spread {
                    name,
                    dirs,
                    line,
                    col,
                } => {
                    if !self.included(dirs) {
                        continue;
                    }
                    let Some(frag) = doc.frags.get(name) else {
                        self.error(format!("Unknown fragment \"{name}\"."), *line, *col);
                        continue;
                    };
                    if self.stack.contains(name) {
                        self.error(
                            format!("Cannot spread fragment \"{name}\" within itself."),
                            *line,
                            *col,
                        );
                        continue;
                    }
                    if frag.on == parent || parent == "?" {
                        self.stack.push(name.clone());
                        self.selection(parent, &frag.sel, out);
                        self.stack.pop();
                    }
                }
                Sel::Inline { on, dirs, sel } => {
                    if !self.included(dirs) {
                        continue;
                    }
                    if on.as_deref().is_none_or(|t| t == parent || parent == "?") {
                        self.selection(parent, sel, out);
                    }
                }
            }
        }
    }

    /// The field's type as written in the schema (`"?"`: exists, shape unknown
    /// to the fake), or None after recording an error.
    fn field_type(
        &mut self,
        parent: &str,
        name: &str,
        args: &[(String, GVal)],
        line: usize,
        col: usize,
    ) -> Option<String> {
        if name == "__typename" {
            return Some("String!".into());
        }
        match parent {
            "Query" | "Mutation" => {
                if let Some(def) = root_def(self.op_kind, name) {
                    self.check_root_args(def, args, line, col);
                    Some(def.2.to_string())
                } else if name.starts_with("__") || known_root(self.op_kind, name) {
                    Some("?".into())
                } else {
                    self.error(
                        format!("Cannot query field \"{name}\" on type \"{parent}\"."),
                        line,
                        col,
                    );
                    None
                }
            }
            "?" => Some("?".into()),
            _ => match object_field_type(parent, name) {
                Some(Some(t)) => Some(t.to_string()),
                Some(None) => {
                    self.error(
                        format!("Cannot query field \"{name}\" on type \"{parent}\"."),
                        line,
                        col,
                    );
                    None
                }
                None => Some("?".into()),
            },
        }
    }

    fn check_root_args(
        &mut self,
        def: &(OpType, &str, &str, &str),
        args: &[(String, GVal)],
        line: usize,
        col: usize,
    ) {
        let (op, fname, _, sig) = *def;
        let expected = parse_sig(sig);
        for (n, v) in args {
            match expected.iter().find(|(a, _)| a == n) {
                None => self.error(
                    format!(
                        "Unknown argument \"{n}\" on field \"{}.{fname}\".",
                        op.root()
                    ),
                    line,
                    col,
                ),
                Some((_, ty)) => self.check_position(v, ty, line, col),
            }
        }
        for (a, ty) in &expected {
            if ty.ends_with('!') && !args.iter().any(|(n, _)| n == a) {
                self.error(
                    format!(
                        "Field \"{fname}\" argument \"{a}\" of type \"{ty}\" is required, but it was not provided."
                    ),
                    line,
                    col,
                );
            }
        }
        if fname.starts_with("variable") {
            for (_, v) in args {
                secret_vars_in(v, &mut self.secret_vars);
            }
        }
    }

    /// A value written in the document, at a position of type `ty`.
    fn check_position(&mut self, v: &GVal, ty: &str, line: usize, col: usize) {
        let nullable = ty.trim_end_matches('!');
        match v {
            GVal::Var(n) => {
                let var_defs = self.var_defs;
                let Some(vd) = var_defs.iter().find(|d| d.name == *n) else {
                    return; // reported as an undefined variable
                };
                let has_default = vd
                    .default
                    .as_ref()
                    .is_some_and(|d| !matches!(d, GVal::Null));
                if !(type_fits(&vd.ty, ty) || has_default && type_fits(&format!("{}!", vd.ty), ty))
                {
                    self.error(
                        format!(
                            "Variable \"${n}\" of type \"{}\" used in position expecting type \"{ty}\".",
                            vd.ty
                        ),
                        line,
                        col,
                    );
                }
            }
            GVal::Null => {
                if ty.ends_with('!') {
                    self.error(
                        format!("Expected value of type \"{ty}\", found null."),
                        line,
                        col,
                    );
                }
            }
            GVal::List(items) => match list_inner(nullable) {
                Some(inner) => {
                    for it in items {
                        self.check_position(it, inner, line, col);
                    }
                }
                None => self.error(
                    format!("Expected value of type \"{ty}\", found {}.", print_gval(v)),
                    line,
                    col,
                ),
            },
            _ => {
                if let Some(inner) = list_inner(nullable) {
                    // A single value where a list is expected is a one-item list.
                    self.check_position(v, inner, line, col);
                    return;
                }
                if let GVal::Obj(fields) = v {
                    if let Some(sig) = input_type(nullable) {
                        let expected = parse_sig(sig);
                        for (k, fv) in fields {
                            match expected.iter().find(|(a, _)| a == k) {
                                None => self.error(
                                    format!("Field \"{k}\" is not defined by type \"{nullable}\"."),
                                    line,
                                    col,
                                ),
                                Some((_, fty)) => self.check_position(fv, fty, line, col),
                            }
                        }
                        for (a, fty) in &expected {
                            if fty.ends_with('!') && !fields.iter().any(|(k, _)| k == a) {
                                self.error(
                                    format!(
                                        "Field \"{nullable}.{a}\" of required type \"{fty}\" was not provided."
                                    ),
                                    line,
                                    col,
                                );
                            }
                        }
                        return;
                    }
                    if nullable == "EnvironmentVariables" {
                        for (k, fv) in fields {
                            if !matches!(fv, GVal::Str(_) | GVal::Var(_)) {
                                self.error(
                                    format!(
                                        "Expected value of type \"EnvironmentVariables\", found {} at \"{k}\".",
                                        print_gval(fv)
                                    ),
                                    line,
                                    col,
                                );
                            }
                        }
                        return;
                    }
                }
                if let Some(msg) = literal_mismatch(v, nullable) {
                    self.error(msg, line, col);
                }
            }
        }
    }
}

fn merge_field(out: &mut Vec<Field>, f: Field, errors: &mut Vec<GqlError>) {
    if let Some(existing) = out.iter_mut().find(|x| x.key == f.key) {
        if existing.name != f.name {
            errors.push(
                GqlError::new(
                    format!(
                        "Fields \"{}\" conflict because \"{}\" and \"{}\" are different fields. Use different aliases on the fields to fetch both if this was intentional.",
                        f.key, existing.name, f.name
                    ),
                    VALIDATION_FAILED,
                )
                .at(f.line, f.col),
            );
            return;
        }
        for sub in f.sel {
            merge_field(&mut existing.sel, sub, errors);
        }
    } else {
        out.push(f);
    }
}

fn collect_vars(v: &GVal, out: &mut BTreeSet<String>) {
    match v {
        GVal::Var(n) => {
            out.insert(n.clone());
        }
        GVal::List(items) => items.iter().for_each(|i| collect_vars(i, out)),
        GVal::Obj(fields) => fields.iter().for_each(|(_, i)| collect_vars(i, out)),
        _ => {}
    }
}

/// Variables that feed `value` or `variables` input fields.
fn secret_vars_in(v: &GVal, out: &mut BTreeSet<String>) {
    match v {
        GVal::Obj(fields) => {
            for (k, fv) in fields {
                if k == "value" || k == "variables" {
                    collect_vars(fv, out);
                } else {
                    secret_vars_in(fv, out);
                }
            }
        }
        GVal::List(items) => items.iter().for_each(|i| secret_vars_in(i, out)),
        _ => {}
    }
}

/// The JSON of a document value (None: a variable that was not sent).
fn gval_json(v: &GVal, values: &Map<String, Value>) -> Option<Value> {
    Some(match v {
        GVal::Var(n) => return values.get(n).cloned(),
        GVal::Null => Value::Null,
        GVal::Bool(b) => json!(b),
        GVal::Int(n) => json!(n),
        GVal::Float(x) => json!(x),
        GVal::Str(s) => json!(s),
        GVal::Enum(e) => json!(e),
        GVal::List(items) => Value::Array(
            items
                .iter()
                .map(|i| gval_json(i, values).unwrap_or(Value::Null))
                .collect(),
        ),
        GVal::Obj(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|(k, fv)| gval_json(fv, values).map(|j| (k.clone(), j)))
                .collect(),
        ),
    })
}

fn print_gval(v: &GVal) -> String {
    match v {
        GVal::Var(n) => format!("${n}"),
        GVal::Null => "null".into(),
        GVal::Bool(b) => b.to_string(),
        GVal::Int(n) => n.to_string(),
        GVal::Float(x) => x.to_string(),
        GVal::Str(s) => json!(s).to_string(),
        GVal::Enum(e) => e.clone(),
        GVal::List(items) => format!(
            "[{}]",
            items.iter().map(print_gval).collect::<Vec<_>>().join(", ")
        ),
        GVal::Obj(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, fv)| format!("{k}: {}", print_gval(fv)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `[T]` → `T`.
fn list_inner(ty: &str) -> Option<&str> {
    ty.strip_prefix('[').and_then(|x| x.strip_suffix(']'))
}

/// The named type of a type reference (`[Log!]!` → `Log`).
fn base_type(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// Whether a variable declared `declared` may be used where `expected` is wanted.
fn type_fits(declared: &str, expected: &str) -> bool {
    if let Some(e) = expected.strip_suffix('!') {
        return match declared.strip_suffix('!') {
            Some(d) => type_fits(d, e),
            None => false,
        };
    }
    if let Some(d) = declared.strip_suffix('!') {
        return type_fits(d, expected);
    }
    match (list_inner(declared), list_inner(expected)) {
        (Some(d), Some(e)) => type_fits(d, e),
        (None, None) => declared == expected,
        _ => false,
    }
}

/// `name:Type name:Type` → pairs.
fn parse_sig(sig: &str) -> Vec<(String, String)> {
    sig.split_whitespace()
        .filter_map(|p| p.split_once(':'))
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect()
}

fn enum_values(ty: &str) -> Option<&'static [&'static str]> {
    match ty {
        "DeploymentStatus" => Some(DEPLOYMENT_STATUSES),
        "DeploymentInstanceStatus" => Some(INSTANCE_STATUSES),
        "Builder" => Some(BUILDERS),
        "RestartPolicyType" => Some(RESTART_POLICIES),
        _ => None,
    }
}

fn is_leaf(named: &str) -> bool {
    LEAF_TYPES.contains(&named)
}

/// Why a literal scalar does not fit `ty` (None: it fits).
fn literal_mismatch(v: &GVal, ty: &str) -> Option<String> {
    let printed = print_gval(v);
    let ok = match ty {
        "String" => matches!(v, GVal::Str(_)),
        "ID" => matches!(v, GVal::Str(_) | GVal::Int(_)),
        "Int" => matches!(v, GVal::Int(n) if i32::try_from(*n).is_ok()),
        "Float" => matches!(v, GVal::Int(_) | GVal::Float(_)),
        "Boolean" => matches!(v, GVal::Bool(_)),
        "DateTime" => matches!(v, GVal::Str(s) if parse_time(s).is_some()),
        "JSON" | "DeploymentMeta" => true,
        "EnvironmentVariables" => false,
        t => match enum_values(t) {
            Some(values) => {
                return match v {
                    GVal::Enum(e) if values.contains(&e.as_str()) => None,
                    GVal::Enum(e) => Some(format!("Value \"{e}\" does not exist in \"{t}\" enum.")),
                    _ => Some(format!(
                        "Enum \"{t}\" cannot represent non-enum value: {printed}."
                    )),
                };
            }
            None => input_type(t).is_none(),
        },
    };
    (!ok).then(|| format!("Expected value of type \"{ty}\", found {printed}."))
}

/// Input coercion of a variable's JSON against a declared type.
fn check_json(v: &Value, ty: &str, path: &str) -> Result<(), String> {
    let at = if path.contains('.') || path.contains('[') {
        format!(" at \"{path}\"")
    } else {
        String::new()
    };
    if let Some(inner) = ty.strip_suffix('!') {
        if v.is_null() {
            return Err(format!(
                "Expected non-nullable type \"{ty}\" not to be null{at}."
            ));
        }
        return check_json(v, inner, path);
    }
    if v.is_null() {
        return Ok(());
    }
    if let Some(inner) = list_inner(ty) {
        return match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, it)| check_json(it, inner, &format!("{path}[{i}]"))),
            other => check_json(other, inner, path),
        };
    }
    let fail = |what: &str| Err(format!("{what}: {v}{at}"));
    match ty {
        "String" => {
            if !v.is_string() {
                return fail("String cannot represent a non string value");
            }
        }
        "ID" => {
            if !(v.is_string() || v.is_i64() || v.is_u64()) {
                return fail("ID cannot represent value");
            }
        }
        "Int" => {
            if v.as_i64().is_none_or(|n| i32::try_from(n).is_err()) {
                return fail("Int cannot represent non-integer value");
            }
        }
        "Float" => {
            if !v.is_number() {
                return fail("Float cannot represent non numeric value");
            }
        }
        "Boolean" => {
            if !v.is_boolean() {
                return fail("Boolean cannot represent a non boolean value");
            }
        }
        "DateTime" => {
            if v.as_str().is_none_or(|s| parse_time(s).is_none()) {
                return fail("DateTime cannot represent an invalid date-time-string");
            }
        }
        "JSON" | "DeploymentMeta" => {}
        "EnvironmentVariables" => {
            let ok = v
                .as_object()
                .is_some_and(|m| m.values().all(|x| x.is_string()));
            if !ok {
                return Err(format!(
                    "EnvironmentVariables must be an object of string values{at}."
                ));
            }
        }
        t => {
            if let Some(values) = enum_values(t) {
                if !v.as_str().is_some_and(|s| values.contains(&s)) {
                    return Err(format!("Value {v} does not exist in \"{t}\" enum{at}."));
                }
            } else if let Some(sig) = input_type(t) {
                let Some(m) = v.as_object() else {
                    return Err(format!("Expected type \"{t}\" to be an object{at}."));
                };
                let expected = parse_sig(sig);
                for (k, fv) in m {
                    let sub = format!("{path}.{k}");
                    match expected.iter().find(|(a, _)| a == k) {
                        None => {
                            return Err(format!(
                                "Field \"{k}\" is not defined by type \"{t}\"{at}."
                            ));
                        }
                        Some((_, fty)) => check_json(fv, fty, &sub)?,
                    }
                }
                for (a, fty) in &expected {
                    if fty.ends_with('!') && !m.contains_key(a) {
                        return Err(format!(
                            "Field \"{a}\" of required type \"{fty}\" was not provided{at}."
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

const REDACTED: &str = "[REDACTED]";

/// `value` fields and `variables` maps replaced by `[REDACTED]`, at any depth.
fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let nv = match (k.as_str(), x) {
                        ("value", Value::Null) => Value::Null,
                        ("value", _) => json!(REDACTED),
                        ("variables", Value::Object(vars)) => Value::Object(
                            vars.keys()
                                .map(|kk| (kk.clone(), json!(REDACTED)))
                                .collect(),
                        ),
                        _ => redact(x),
                    };
                    (k.clone(), nv)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// The request's variables as logged: secret-fed variables and nested secrets redacted.
fn redact_variables(vars: &Map<String, Value>, secret: &BTreeSet<String>) -> Value {
    Value::Object(
        vars.iter()
            .map(|(k, v)| {
                let nv = if secret.contains(k) {
                    match v {
                        Value::Object(m) => Value::Object(
                            m.keys().map(|kk| (kk.clone(), json!(REDACTED))).collect(),
                        ),
                        Value::Null => Value::Null,
                        _ => json!(REDACTED),
                    }
                } else {
                    redact(v)
                };
                (k.clone(), nv)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    Account,
    Workspace,
    Project {
        token_id: String,
        project: String,
        env: String,
    },
    /// No usable credential. `project_token`: an unknown `Project-Access-Token` was sent.
    Denied {
        project_token: bool,
    },
}

struct Ctx {
    ident: Identity,
    /// `creator` of deployments this request triggers (account tokens only).
    creator: Option<FakeUser>,
}

/// A resolver failure (answered on HTTP 200 with `data: null`).
#[derive(Debug, Clone)]
struct FieldErr {
    message: String,
    code: &'static str,
}

fn ferr(message: impl Into<String>, code: &'static str) -> FieldErr {
    FieldErr {
        message: message.into(),
        code,
    }
}

fn not_authorized() -> FieldErr {
    ferr("Not Authorized", INTERNAL)
}

fn token_not_found() -> FieldErr {
    ferr("Project Token not found", INTERNAL)
}

fn bad_input(message: &str) -> FieldErr {
    ferr(message, BAD_USER_INPUT)
}

fn unmodeled(ty: &str, field: &str) -> FieldErr {
    ferr(
        format!("railway_fake: {ty}.{field} is in Railway's schema but not modeled by this fake"),
        NOT_MODELED,
    )
}

#[derive(Debug, Clone)]
struct PageInfo {
    has_next: bool,
    has_prev: bool,
    start: Option<String>,
    end: Option<String>,
}

/// An object being answered.
#[derive(Debug, Clone)]
enum Obj {
    User,
    ProjectToken(String),
    Project(String),
    Environment(String),
    Service(String),
    /// (environment, service)
    Instance(String, String),
    /// (image, repo)
    Source(Option<String>, Option<String>),
    Deployment(String),
    Creator(FakeUser),
    /// (id, status)
    DeploymentInstance(String, &'static str),
    Conn {
        ty: &'static str,
        edge: &'static str,
        edges: Vec<(String, Obj)>,
        info: PageInfo,
    },
    Edge {
        ty: &'static str,
        cursor: String,
        node: Box<Obj>,
    },
    PageInfo(PageInfo),
    Log(usize),
    LogAttribute(String, String),
    LogTags(usize),
}

fn obj_type(o: &Obj) -> &'static str {
    match o {
        Obj::User => "User",
        Obj::ProjectToken(_) => "ProjectToken",
        Obj::Project(_) => "Project",
        Obj::Environment(_) => "Environment",
        Obj::Service(_) => "Service",
        Obj::Instance(..) => "ServiceInstance",
        Obj::Source(..) => "ServiceSource",
        Obj::Deployment(_) => "Deployment",
        Obj::Creator(_) => "DeploymentCreator",
        Obj::DeploymentInstance(..) => "DeploymentDeploymentInstance",
        Obj::Conn { ty, .. } => ty,
        Obj::Edge { ty, .. } => ty,
        Obj::PageInfo(_) => "PageInfo",
        Obj::Log(_) => "Log",
        Obj::LogAttribute(..) => "LogAttribute",
        Obj::LogTags(_) => "LogTags",
    }
}

/// What a resolver produced, before the selection set is applied.
enum Out {
    Val(Value),
    Obj(Obj),
    List(Vec<Out>),
    /// In Railway's schema, not modeled here.
    Unmodeled,
}

fn val(v: Value) -> Result<Out, FieldErr> {
    Ok(Out::Val(v))
}

fn arg_str(f: &Field, k: &str) -> Option<String> {
    f.args.get(k).and_then(Value::as_str).map(str::to_string)
}

fn arg_bool(f: &Field, k: &str) -> Option<bool> {
    f.args.get(k).and_then(Value::as_bool)
}

fn arg_i64(f: &Field, k: &str) -> Option<i64> {
    f.args.get(k).and_then(Value::as_i64)
}

fn arg_obj(f: &Field, k: &str) -> Map<String, Value> {
    f.args
        .get(k)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn obj_str(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

fn can_see_env(ctx: &Ctx, s: &FakeState, env: &str) -> bool {
    match &ctx.ident {
        Identity::Project { env: e, .. } => e == env,
        Identity::Denied { .. } => false,
        _ => s.environment(env).is_some(),
    }
}

fn need_project(s: &FakeState, ctx: &Ctx, id: &str) -> Result<FakeProject, FieldErr> {
    let p = s.project(id).ok_or_else(not_authorized)?;
    if let Identity::Project { project, .. } = &ctx.ident
        && *project != p.id
    {
        return Err(not_authorized());
    }
    Ok(p.clone())
}

fn need_env(s: &FakeState, ctx: &Ctx, id: &str) -> Result<FakeEnvironment, FieldErr> {
    let e = s.environment(id).ok_or_else(not_authorized)?;
    if !can_see_env(ctx, s, id) {
        return Err(not_authorized());
    }
    Ok(e.clone())
}

fn need_service(s: &FakeState, ctx: &Ctx, id: &str) -> Result<FakeService, FieldErr> {
    let svc = s.service(id).ok_or_else(not_authorized)?;
    need_project(s, ctx, &svc.project_id)?;
    Ok(svc.clone())
}

fn need_instance(
    s: &FakeState,
    ctx: &Ctx,
    env: &str,
    service: &str,
) -> Result<FakeInstance, FieldErr> {
    let e = need_env(s, ctx, env)?;
    let svc = need_service(s, ctx, service)?;
    if e.project_id != svc.project_id {
        return Err(not_authorized());
    }
    s.instance(env, service)
        .cloned()
        // fake wording
        .ok_or_else(|| ferr("ServiceInstance not found", INTERNAL))
}

fn need_deployment(s: &FakeState, ctx: &Ctx, id: &str) -> Result<FakeDeployment, FieldErr> {
    let d = s
        .deployment(id)
        .ok_or_else(|| ferr("Deployment not found", INTERNAL))?;
    if !can_see_env(ctx, s, &d.environment_id) {
        return Err(not_authorized());
    }
    Ok(d.clone())
}

/// Whether a selection (at any depth) reads deployments of service instances.
fn wants_deployments(sel: &[Field]) -> bool {
    sel.iter().any(|f| {
        f.name == "latestDeployment" || f.name == "activeDeployments" || wants_deployments(&f.sel)
    })
}

/// One poll of every unfinished deployment that `pick` selects.
fn observe_where(s: &mut FakeState, pick: impl Fn(&FakeDeployment) -> bool) {
    let ids: Vec<String> = s
        .deployments
        .iter()
        .filter(|d| is_advancing(&d.status) && pick(d))
        .map(|d| d.id.clone())
        .collect();
    for id in ids {
        observe(s, &id);
    }
}

/// A Relay connection over `items` (key → node), paged by `first`/`after`.
fn connection(
    s: &FakeState,
    f: &Field,
    ty: &'static str,
    edge: &'static str,
    items: Vec<(String, Obj)>,
) -> Result<Out, FieldErr> {
    let given = |k: &str| f.args.get(k).is_some_and(|v| !v.is_null());
    if given("last") || given("before") {
        return Err(ferr(
            "railway_fake: backward pagination (last/before) is not modeled",
            NOT_MODELED,
        ));
    }
    let cursors: Vec<String> = items.iter().map(|(k, _)| cursor_of(k)).collect();
    let start = match arg_str(f, "after") {
        Some(c) => match cursors.iter().position(|x| *x == c) {
            Some(p) => p + 1,
            // fake wording
            None => return Err(bad_input("Invalid cursor")),
        },
        None => 0,
    };
    let mut first = arg_i64(f, "first").map(|n| n.max(0) as usize);
    if s.page_max > 0 {
        first = Some(first.unwrap_or(s.page_max).min(s.page_max));
    }
    let end = match first {
        Some(n) => (start + n).min(items.len()),
        None => items.len(),
    };
    let start = start.min(end);
    let edges: Vec<(String, Obj)> = items[start..end]
        .iter()
        .zip(&cursors[start..end])
        .map(|((_, o), c)| (c.clone(), o.clone()))
        .collect();
    let info = PageInfo {
        has_next: end < items.len(),
        has_prev: start > 0,
        start: edges.first().map(|e| e.0.clone()),
        end: edges.last().map(|e| e.0.clone()),
    };
    Ok(Out::Obj(Obj::Conn {
        ty,
        edge,
        edges,
        info,
    }))
}

fn run_root(s: &mut FakeState, ctx: &Ctx, kind: OpType, f: &Field) -> Result<Value, FieldErr> {
    if f.name == "__typename" {
        return Ok(json!(kind.root()));
    }
    if f.name.starts_with("__") {
        return Err(ferr(
            format!("railway_fake: introspection ({}) is not modeled", f.name),
            NOT_MODELED,
        ));
    }
    if let Identity::Denied { project_token } = ctx.ident {
        return Err(if project_token || f.name == "projectToken" {
            token_not_found()
        } else {
            not_authorized()
        });
    }
    if root_def(kind, &f.name).is_none() {
        return Err(unmodeled(kind.root(), &f.name));
    }
    let out = match kind {
        OpType::Query => run_query(s, ctx, f)?,
        OpType::Mutation => run_mutation(s, ctx, f)?,
        OpType::Subscription => return Err(unmodeled("Subscription", &f.name)),
    };
    complete(s, ctx, out, &f.sel)
}

fn run_query(s: &mut FakeState, ctx: &Ctx, f: &Field) -> Result<Out, FieldErr> {
    let req = |k: &str| arg_str(f, k).unwrap_or_default();
    match f.name.as_str() {
        "me" => match ctx.ident {
            Identity::Account => Ok(Out::Obj(Obj::User)),
            _ => Err(not_authorized()),
        },
        "projectToken" => match &ctx.ident {
            Identity::Project { token_id, .. } => Ok(Out::Obj(Obj::ProjectToken(token_id.clone()))),
            _ => Err(token_not_found()),
        },
        "project" => {
            let p = need_project(s, ctx, &req("id"))?;
            if wants_deployments(&f.sel) {
                observe_where(s, |d| d.project_id == p.id);
            }
            Ok(Out::Obj(Obj::Project(p.id)))
        }
        "environments" => {
            let p = need_project(s, ctx, &req("projectId"))?;
            let items: Vec<(String, Obj)> = if arg_bool(f, "isEphemeral") == Some(true) {
                Vec::new()
            } else {
                s.environments
                    .iter()
                    .filter(|e| e.project_id == p.id)
                    .map(|e| (e.id.clone(), Obj::Environment(e.id.clone())))
                    .collect()
            };
            if wants_deployments(&f.sel) {
                observe_where(s, |d| d.project_id == p.id);
            }
            connection(
                s,
                f,
                "QueryEnvironmentsConnection",
                "QueryEnvironmentsConnectionEdge",
                items,
            )
        }
        "environment" => {
            let e = need_env(s, ctx, &req("id"))?;
            if let Some(p) = arg_str(f, "projectId")
                && p != e.project_id
            {
                return Err(not_authorized());
            }
            if wants_deployments(&f.sel) {
                observe_where(s, |d| d.environment_id == e.id);
            }
            Ok(Out::Obj(Obj::Environment(e.id)))
        }
        "serviceInstance" => {
            let i = need_instance(s, ctx, &req("environmentId"), &req("serviceId"))?;
            if wants_deployments(&f.sel) {
                observe_where(s, |d| {
                    d.environment_id == i.environment_id && d.service_id == i.service_id
                });
            }
            Ok(Out::Obj(Obj::Instance(i.environment_id, i.service_id)))
        }
        "deployments" => {
            let input = arg_obj(f, "input");
            let project = obj_str(&input, "projectId");
            let env = obj_str(&input, "environmentId");
            let service = obj_str(&input, "serviceId");
            if let Some(p) = &project {
                need_project(s, ctx, p)?;
            }
            if let Some(e) = &env {
                need_env(s, ctx, e)?;
            }
            if let Some(x) = &service {
                need_service(s, ctx, x)?;
            }
            let scope = match &ctx.ident {
                Identity::Project { env, .. } => Some(env.clone()),
                _ => None,
            };
            let matches = |d: &FakeDeployment| {
                project.as_ref().is_none_or(|x| *x == d.project_id)
                    && env.as_ref().is_none_or(|x| *x == d.environment_id)
                    && service.as_ref().is_none_or(|x| *x == d.service_id)
                    && scope.as_ref().is_none_or(|x| *x == d.environment_id)
            };
            observe_where(s, matches);
            let status = input.get("status").and_then(Value::as_object);
            let list = |k: &str| -> Option<Vec<String>> {
                status
                    .and_then(|st| st.get(k))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
            };
            let (inn, not_in) = (list("in"), list("notIn"));
            let include_deleted = input
                .get("includeDeleted")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let items: Vec<(String, Obj)> = s
                .deployments
                .iter()
                .rev()
                .filter(|d| {
                    matches(d)
                        && (include_deleted || !d.deleted)
                        && inn.as_ref().is_none_or(|v| v.contains(&d.status))
                        && not_in.as_ref().is_none_or(|v| !v.contains(&d.status))
                })
                .map(|d| (d.id.clone(), Obj::Deployment(d.id.clone())))
                .collect();
            connection(
                s,
                f,
                "QueryDeploymentsConnection",
                "QueryDeploymentsConnectionEdge",
                items,
            )
        }
        "deployment" => {
            let d = need_deployment(s, ctx, &req("id"))?;
            observe(s, &d.id);
            Ok(Out::Obj(Obj::Deployment(d.id)))
        }
        "variables" | "variablesForServiceDeployment" => {
            let e = need_env(s, ctx, &req("environmentId"))?;
            if e.project_id != req("projectId") {
                return Err(not_authorized());
            }
            let render = f.name == "variablesForServiceDeployment"
                || arg_bool(f, "unrendered") != Some(true);
            match arg_str(f, "serviceId") {
                Some(sid) => {
                    let inst = need_instance(s, ctx, &e.id, &sid)?;
                    val(service_variables(s, &inst, render))
                }
                None => val(json!(
                    s.shared_variables.get(&e.id).cloned().unwrap_or_default()
                )),
            }
        }
        "deploymentLogs" | "buildLogs" => {
            let d = need_deployment(s, ctx, &req("deploymentId"))?;
            Ok(deployment_logs(s, f, &d.id, f.name == "buildLogs"))
        }
        "environmentLogs" => {
            let e = need_env(s, ctx, &req("environmentId"))?;
            Ok(environment_logs(s, f, &e.id))
        }
        _ => Ok(Out::Unmodeled),
    }
}

/// Service variables as `variables` answers them: sealed ones `null`,
/// `${{shared.K}}`, `${{Service.K}}` and `${{K}}` references resolved when `render`.
fn service_variables(s: &FakeState, inst: &FakeInstance, render: bool) -> Value {
    let mut m = Map::new();
    for (k, v) in &inst.variables {
        if inst.sealed.contains(k) {
            m.insert(k.clone(), Value::Null);
        } else if render {
            m.insert(k.clone(), json!(render_refs(s, inst, v)));
        } else {
            m.insert(k.clone(), json!(v));
        }
    }
    Value::Object(m)
}

fn render_refs(s: &FakeState, inst: &FakeInstance, v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match resolve_ref(s, inst, after[..end].trim()) {
            Some(x) => out.push_str(&x),
            None => out.push_str(&rest[start..start + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn resolve_ref(s: &FakeState, inst: &FakeInstance, inner: &str) -> Option<String> {
    match inner.split_once('.') {
        Some(("shared", key)) => s
            .shared_variables
            .get(&inst.environment_id)?
            .get(key)
            .cloned(),
        Some((service_name, key)) => {
            let project = s.service(&inst.service_id)?.project_id.clone();
            let svc = s
                .services
                .iter()
                .find(|x| x.project_id == project && x.name == service_name)?;
            let other = s.instance(&inst.environment_id, &svc.id)?;
            if other.sealed.contains(key) {
                return None;
            }
            other.variables.get(key).cloned()
        }
        None => {
            if inst.sealed.contains(inner) {
                return None;
            }
            inst.variables.get(inner).cloned()
        }
    }
}

/// Filter terms: whitespace-separated, double quotes group and are dropped.
fn filter_terms(filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in filter.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Railway's log filter, simplified: every term must hold. `@level:x` /
/// `@severity:x` match the severity, `@key:value` an attribute, `-term`
/// negates, anything else is a case-insensitive substring of the message.
fn log_matches(l: &FakeLog, filter: &str) -> bool {
    for term in filter_terms(filter) {
        let (negate, term) = match term.strip_prefix('-') {
            Some(t) if !t.is_empty() => (true, t.to_string()),
            _ => (false, term),
        };
        let hit = match term.strip_prefix('@') {
            Some(kv) => match kv.split_once(':') {
                Some((k, v)) if k == "level" || k == "severity" => {
                    l.severity.eq_ignore_ascii_case(v)
                }
                Some((k, v)) => l
                    .attributes
                    .iter()
                    .any(|(ak, av)| ak == k && av.trim_matches('"') == v),
                None => false,
            },
            None => l.message.to_lowercase().contains(&term.to_lowercase()),
        };
        if hit == negate {
            return false;
        }
    }
    true
}

/// `deploymentLogs`/`buildLogs`: oldest first; `limit` keeps the newest
/// `limit` lines (+1, see [`FakeState::logs_off_by_one`]).
fn deployment_logs(s: &FakeState, f: &Field, deployment: &str, build: bool) -> Out {
    let start = arg_str(f, "startDate").and_then(|x| parse_time(&x));
    let end = arg_str(f, "endDate").and_then(|x| parse_time(&x));
    let filter = arg_str(f, "filter").unwrap_or_default();
    let mut idx: Vec<usize> = s
        .logs
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.deployment_id == deployment
                && l.build == build
                && start.is_none_or(|t| l.timestamp >= t)
                && end.is_none_or(|t| l.timestamp <= t)
                && log_matches(l, &filter)
        })
        .map(|(i, _)| i)
        .collect();
    if let Some(n) = arg_i64(f, "limit") {
        let n = n.max(0) as usize + usize::from(s.logs_off_by_one);
        if idx.len() > n {
            idx.drain(..idx.len() - n);
        }
    }
    Out::List(idx.into_iter().map(|i| Out::Obj(Obj::Log(i))).collect())
}

/// `environmentLogs`: deploy logs of every deployment in the environment,
/// oldest first. Lines at or before `anchorDate` (default now) and at or after
/// `beforeDate`: the newest `beforeLimit` of them; then lines after the anchor
/// (up to `afterDate`): the oldest `afterLimit` (none unless `afterLimit` or
/// `afterDate` is given).
fn environment_logs(s: &FakeState, f: &Field, env: &str) -> Out {
    let anchor = arg_str(f, "anchorDate")
        .and_then(|x| parse_time(&x))
        .unwrap_or_else(Utc::now);
    let before_date = arg_str(f, "beforeDate").and_then(|x| parse_time(&x));
    let after_date = arg_str(f, "afterDate").and_then(|x| parse_time(&x));
    let filter = arg_str(f, "filter").unwrap_or_default();
    let in_env: Vec<usize> = s
        .logs
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            !l.build
                && s.deployment(&l.deployment_id)
                    .is_some_and(|d| d.environment_id == env)
                && log_matches(l, &filter)
        })
        .map(|(i, _)| i)
        .collect();
    let mut before: Vec<usize> = in_env
        .iter()
        .copied()
        .filter(|i| {
            let t = s.logs[*i].timestamp;
            t <= anchor && before_date.is_none_or(|b| t >= b)
        })
        .collect();
    if let Some(n) = arg_i64(f, "beforeLimit") {
        let n = n.max(0) as usize;
        if before.len() > n {
            before.drain(..before.len() - n);
        }
    }
    let after_n = match arg_i64(f, "afterLimit") {
        Some(n) => n.max(0) as usize,
        None if after_date.is_some() => usize::MAX,
        None => 0,
    };
    let after = in_env
        .iter()
        .copied()
        .filter(|i| {
            let t = s.logs[*i].timestamp;
            t > anchor && after_date.is_none_or(|a| t <= a)
        })
        .take(after_n);
    Out::List(
        before
            .into_iter()
            .chain(after)
            .map(|i| Out::Obj(Obj::Log(i)))
            .collect(),
    )
}

fn run_mutation(s: &mut FakeState, ctx: &Ctx, f: &Field) -> Result<Out, FieldErr> {
    let req = |k: &str| arg_str(f, k).unwrap_or_default();
    match f.name.as_str() {
        "serviceInstanceUpdate" => {
            let sid = req("serviceId");
            let svc = need_service(s, ctx, &sid)?;
            let targets: Vec<String> = match arg_str(f, "environmentId") {
                Some(eid) => {
                    need_instance(s, ctx, &eid, &sid)?;
                    vec![eid]
                }
                None => s
                    .instances
                    .iter()
                    .filter(|i| i.service_id == svc.id && can_see_env(ctx, s, &i.environment_id))
                    .map(|i| i.environment_id.clone())
                    .collect(),
            };
            let input = arg_obj(f, "input");
            if let Some(n) = input.get("numReplicas").and_then(Value::as_i64)
                && n < 1
            {
                return Err(bad_input("Error in numReplicas - Invalid input"));
            }
            let source = input.get("source").and_then(Value::as_object).cloned();
            let image = source.as_ref().and_then(|m| obj_str(m, "image"));
            let repo = source.as_ref().and_then(|m| obj_str(m, "repo"));
            if image.is_some() && repo.is_some() {
                // fake wording
                return Err(bad_input("A service source is either an image or a repo"));
            }
            let at = s.tick();
            for eid in targets {
                let Some(inst) = s.instance_mut(&eid, &sid) else {
                    continue;
                };
                if let Some(img) = &image {
                    inst.source = Source::Image(img.clone());
                }
                if let Some(r) = &repo {
                    let branch = match &inst.source {
                        Source::Repo { branch, .. } => branch.clone(),
                        Source::Image(_) => "main".to_string(),
                    };
                    if inst.head_commit.is_none() {
                        inst.head_commit = Some(
                            hex(&Sha256::digest(format!("{r}@{branch}").as_bytes()))[..40]
                                .to_string(),
                        );
                    }
                    inst.source = Source::Repo {
                        repo: r.clone(),
                        branch,
                    };
                }
                if let Some(v) = input.get("healthcheckPath") {
                    inst.healthcheck_path = v.as_str().map(str::to_string);
                }
                if let Some(v) = input.get("healthcheckTimeout") {
                    inst.healthcheck_timeout = v.as_i64();
                }
                if let Some(n) = input.get("numReplicas").and_then(Value::as_i64) {
                    inst.num_replicas = n;
                }
                if let Some(r) = input.get("region").and_then(Value::as_str) {
                    inst.region = r.to_string();
                }
                if let Some(v) = input.get("startCommand") {
                    inst.start_command = v.as_str().map(str::to_string);
                }
                inst.updated_at = at;
            }
            val(json!(true))
        }
        "serviceInstanceDeployV2" | "serviceInstanceDeploy" => {
            let (eid, sid) = (req("environmentId"), req("serviceId"));
            let inst = need_instance(s, ctx, &eid, &sid)?;
            let commit = arg_str(f, "commitSha");
            let spec = match &inst.source {
                Source::Image(img) => {
                    if commit.is_some() {
                        // fake wording
                        return Err(bad_input(
                            "commitSha can only be deployed to a service with a repo source",
                        ));
                    }
                    Spec {
                        image: Some(img.clone()),
                        ..Spec::default()
                    }
                }
                Source::Repo { .. } => {
                    let sha = match commit.or_else(|| inst.head_commit.clone()) {
                        Some(sha) => sha,
                        // fake wording
                        None => return Err(bad_input("No commit to deploy")),
                    };
                    spec_for(s, &inst, &sha)
                }
            };
            let id = trigger_deploy(s, &eid, &sid, spec, "deploy", ctx.creator.clone());
            if f.name == "serviceInstanceDeployV2" {
                val(json!(id))
            } else {
                val(json!(true))
            }
        }
        "serviceInstanceRedeploy" => {
            let (eid, sid) = (req("environmentId"), req("serviceId"));
            need_instance(s, ctx, &eid, &sid)?;
            let Some(latest) = s
                .deployments_of(&eid, &sid)
                .into_iter()
                .find(|d| !d.deleted)
                .cloned()
            else {
                // fake wording
                return Err(bad_input("No deployment to redeploy"));
            };
            trigger_deploy(
                s,
                &eid,
                &sid,
                spec_of(&latest),
                "redeploy",
                ctx.creator.clone(),
            );
            val(json!(true))
        }
        "deploymentRedeploy" => {
            let d = need_deployment(s, ctx, &req("id"))?;
            need_instance(s, ctx, &d.environment_id, &d.service_id)?;
            if !can_redeploy(&d) {
                // fake wording
                return Err(bad_input("Deployment cannot be redeployed"));
            }
            let id = trigger_deploy(
                s,
                &d.environment_id,
                &d.service_id,
                spec_of(&d),
                "redeploy",
                ctx.creator.clone(),
            );
            Ok(Out::Obj(Obj::Deployment(id)))
        }
        "deploymentRollback" => {
            let d = need_deployment(s, ctx, &req("id"))?;
            need_instance(s, ctx, &d.environment_id, &d.service_id)?;
            if !can_rollback(s, &d) {
                // fake wording
                return Err(bad_input("Deployment cannot be rolled back"));
            }
            // docs: "Both the Docker image and custom variables are restored".
            if let Some(inst) = s.instance_mut(&d.environment_id, &d.service_id) {
                let still_sealed: BTreeSet<String> = inst
                    .sealed
                    .iter()
                    .filter(|k| d.variables.contains_key(k.as_str()))
                    .cloned()
                    .collect();
                inst.variables = d.variables.clone();
                let mut sealed = d.sealed.clone();
                sealed.extend(still_sealed);
                inst.sealed = sealed;
                if inst.source.is_image()
                    && let Some(img) = &d.image
                {
                    inst.source = Source::Image(img.clone());
                }
            }
            let id = trigger_deploy(
                s,
                &d.environment_id,
                &d.service_id,
                spec_of(&d),
                "rollback",
                ctx.creator.clone(),
            );
            if let Some(x) = s.deployment_mut(&id) {
                x.rollback_of = Some(d.id.clone());
            }
            s.rollbacks.push((d.id.clone(), id));
            val(json!(true))
        }
        "deploymentCancel" | "deploymentStop" | "deploymentRestart" | "deploymentRemove"
        | "deploymentApprove" => {
            let d = need_deployment(s, ctx, &req("id"))?;
            let at = s.tick();
            let status = d.status.clone();
            let (env, service) = (d.environment_id.clone(), d.service_id.clone());
            match f.name.as_str() {
                "deploymentCancel" => {
                    if !is_pending(&status) {
                        // fake wording, after the probed "is not stoppable"
                        return Err(bad_input("Deployment is not cancellable"));
                    }
                    set_status(s, &d.id, "REMOVED", at);
                }
                "deploymentStop" => {
                    if status != "SUCCESS" {
                        return Err(bad_input("Deployment is not stoppable"));
                    }
                    if let Some(x) = s.deployment_mut(&d.id) {
                        x.stopped = true;
                        x.updated_at = at;
                    }
                }
                "deploymentRestart" => match status.as_str() {
                    "SUCCESS" => {
                        if let Some(x) = s.deployment_mut(&d.id) {
                            x.stopped = false;
                            x.updated_at = at;
                        }
                    }
                    "CRASHED" => {
                        demote_live(s, &env, &service, at);
                        set_status(s, &d.id, "SUCCESS", at);
                        if let Some(x) = s.deployment_mut(&d.id) {
                            x.was_live = true;
                            x.stopped = false;
                        }
                    }
                    _ => return Err(bad_input("Deployment is not restartable")),
                },
                "deploymentRemove" => {
                    set_status(s, &d.id, "REMOVED", at);
                    if let Some(x) = s.deployment_mut(&d.id) {
                        x.deleted = true;
                    }
                }
                _ => {
                    if status != "WAITING" && status != "NEEDS_APPROVAL" {
                        // fake wording
                        return Err(bad_input("Deployment does not need approval"));
                    }
                    set_status(s, &d.id, "INITIALIZING", at);
                }
            }
            val(json!(true))
        }
        "variableUpsert" | "variableDelete" | "variableCollectionUpsert" => {
            let input = arg_obj(f, "input");
            let replace = input.get("replace").and_then(Value::as_bool) == Some(true);
            if f.name == "variableCollectionUpsert" && replace {
                s.replace_upserts += 1;
            }
            let eid = obj_str(&input, "environmentId").unwrap_or_default();
            let e = need_env(s, ctx, &eid)?;
            if Some(e.project_id.clone()) != obj_str(&input, "projectId") {
                return Err(not_authorized());
            }
            let skip = input.get("skipDeploys").and_then(Value::as_bool) == Some(true);
            let sid = obj_str(&input, "serviceId");
            if let Some(sid) = &sid {
                need_instance(s, ctx, &eid, sid)?;
            }
            let name = obj_str(&input, "name").unwrap_or_default();
            let value = obj_str(&input, "value").unwrap_or_default();
            let incoming: BTreeMap<String, String> = input
                .get("variables")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let apply = |vars: &mut BTreeMap<String, String>| -> bool {
                let before = vars.clone();
                match f.name.as_str() {
                    "variableUpsert" => {
                        vars.insert(name.clone(), value.clone());
                    }
                    "variableDelete" => {
                        vars.remove(&name);
                    }
                    _ => {
                        if replace {
                            vars.retain(|k, _| incoming.contains_key(k));
                        }
                        vars.extend(incoming.clone());
                    }
                }
                *vars != before
            };
            match sid {
                Some(sid) => {
                    let changed = {
                        let inst = s.instance_mut(&eid, &sid).expect("instance checked above");
                        let changed = apply(&mut inst.variables);
                        let kept: BTreeSet<String> = inst
                            .sealed
                            .iter()
                            .filter(|k| inst.variables.contains_key(k.as_str()))
                            .cloned()
                            .collect();
                        inst.sealed = kept;
                        changed
                    };
                    // A change deploys unless staged; variableDelete has no skipDeploys.
                    if changed && !skip {
                        variables_deploy(s, ctx, &eid, &sid);
                    }
                }
                None => {
                    // Shared variables: stored, no deploy (fake simplification).
                    let vars = s.shared_variables.entry(eid.clone()).or_default();
                    apply(vars);
                }
            }
            val(json!(true))
        }
        _ => Ok(Out::Unmodeled),
    }
}

fn set_status(s: &mut FakeState, id: &str, status: &str, at: DateTime<Utc>) {
    if let Some(x) = s.deployment_mut(id) {
        x.status = status.to_string();
        x.updated_at = at;
        x.status_updated_at = at;
    }
}

/// The deployment a variable change triggers: the instance's current source
/// (image), or the commit of its latest deployment (repo). None before the
/// first deployment.
fn variables_deploy(s: &mut FakeState, ctx: &Ctx, env: &str, service: &str) {
    let Some(latest) = s
        .deployments_of(env, service)
        .into_iter()
        .find(|d| !d.deleted)
        .cloned()
    else {
        return;
    };
    let Some(inst) = s.instance(env, service).cloned() else {
        return;
    };
    let spec = match &inst.source {
        Source::Image(img) => Spec {
            image: Some(img.clone()),
            ..Spec::default()
        },
        Source::Repo { .. } => spec_of(&latest),
    };
    trigger_deploy(s, env, service, spec, "variables", ctx.creator.clone());
}

/// Apply a selection set to a resolver's output.
fn complete(s: &FakeState, ctx: &Ctx, out: Out, sel: &[Field]) -> Result<Value, FieldErr> {
    match out {
        Out::Val(v) => Ok(v),
        Out::Unmodeled => Err(ferr("railway_fake: not modeled", NOT_MODELED)),
        Out::List(items) => items
            .into_iter()
            .map(|o| complete(s, ctx, o, sel))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Out::Obj(obj) => {
            let ty = obj_type(&obj);
            let mut m = Map::new();
            for f in sel {
                let v = if f.name == "__typename" {
                    json!(ty)
                } else {
                    match obj_field(s, ctx, &obj, f)? {
                        Out::Unmodeled => return Err(unmodeled(ty, &f.name)),
                        o => complete(s, ctx, o, &f.sel)?,
                    }
                };
                m.insert(f.key.clone(), v);
            }
            Ok(Value::Object(m))
        }
    }
}

fn opt(v: &Option<String>) -> Value {
    match v {
        Some(x) => json!(x),
        None => Value::Null,
    }
}

fn obj_field(s: &FakeState, ctx: &Ctx, obj: &Obj, f: &Field) -> Result<Out, FieldErr> {
    let name = f.name.as_str();
    match obj {
        Obj::User => {
            let u = &s.user;
            match name {
                "id" => val(json!(u.id)),
                "name" => val(json!(u.name)),
                "email" => val(json!(u.email)),
                "avatar" | "username" => val(Value::Null),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::ProjectToken(id) => {
            let Some(t) = s.project_tokens.iter().find(|t| t.id == *id) else {
                return Err(token_not_found());
            };
            match name {
                "id" => val(json!(t.id)),
                "name" => val(json!(t.name)),
                "projectId" => val(json!(t.project_id)),
                "environmentId" => val(json!(t.environment_id)),
                "createdAt" => val(json!(ts(&t.created_at))),
                "project" => Ok(Out::Obj(Obj::Project(t.project_id.clone()))),
                "environment" => Ok(Out::Obj(Obj::Environment(t.environment_id.clone()))),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Project(id) => {
            let Some(p) = s.project(id) else {
                return Err(not_authorized());
            };
            match name {
                "id" => val(json!(p.id)),
                "name" => val(json!(p.name)),
                "description" | "deletedAt" | "expiredAt" => val(Value::Null),
                "createdAt" | "updatedAt" => val(json!(ts(&p.created_at))),
                "isPublic"
                | "isTempProject"
                | "prDeploys"
                | "botPrEnvironments"
                | "focusedPrEnvironments" => val(json!(false)),
                "workspaceId" => val(json!(uuid_like("workspace/fake"))),
                "environments" => {
                    let items: Vec<(String, Obj)> = if arg_bool(f, "isEphemeral") == Some(true) {
                        Vec::new()
                    } else {
                        s.environments
                            .iter()
                            .filter(|e| e.project_id == p.id)
                            .map(|e| (e.id.clone(), Obj::Environment(e.id.clone())))
                            .collect()
                    };
                    connection(
                        s,
                        f,
                        "ProjectEnvironmentsConnection",
                        "ProjectEnvironmentsConnectionEdge",
                        items,
                    )
                }
                "services" => {
                    let items: Vec<(String, Obj)> = s
                        .services
                        .iter()
                        .filter(|x| x.project_id == p.id)
                        .map(|x| (x.id.clone(), Obj::Service(x.id.clone())))
                        .collect();
                    connection(
                        s,
                        f,
                        "ProjectServicesConnection",
                        "ProjectServicesConnectionEdge",
                        items,
                    )
                }
                "buckets" => connection(
                    s,
                    f,
                    "ProjectBucketsConnection",
                    "ProjectBucketsConnectionEdge",
                    Vec::new(),
                ),
                "volumes" => connection(
                    s,
                    f,
                    "ProjectVolumesConnection",
                    "ProjectVolumesConnectionEdge",
                    Vec::new(),
                ),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Environment(id) => {
            let Some(e) = s.environment(id) else {
                return Err(not_authorized());
            };
            match name {
                "id" => val(json!(e.id)),
                "name" => val(json!(e.name)),
                "projectId" => val(json!(e.project_id)),
                "isEphemeral" => val(json!(false)),
                "createdAt" | "updatedAt" => val(json!(ts(&e.created_at))),
                "deletedAt" | "sourceEnvironment" | "meta" => val(Value::Null),
                "canAccess" => val(json!(can_see_env(ctx, s, &e.id))),
                "unmergedChangesCount" => val(json!(0)),
                "serviceInstances" => {
                    let items: Vec<(String, Obj)> = s
                        .instances
                        .iter()
                        .filter(|i| i.environment_id == e.id)
                        .map(|i| {
                            (
                                i.id.clone(),
                                Obj::Instance(i.environment_id.clone(), i.service_id.clone()),
                            )
                        })
                        .collect();
                    connection(
                        s,
                        f,
                        "EnvironmentServiceInstancesConnection",
                        "EnvironmentServiceInstancesConnectionEdge",
                        items,
                    )
                }
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Service(id) => {
            let Some(x) = s.service(id) else {
                return Err(not_authorized());
            };
            match name {
                "id" => val(json!(x.id)),
                "name" => val(json!(x.name)),
                "projectId" => val(json!(x.project_id)),
                "createdAt" | "updatedAt" => val(json!(ts(&x.created_at))),
                "deletedAt" | "icon" | "templateId" | "templateServiceId" | "groupId" => {
                    val(Value::Null)
                }
                "isRestricted" => val(json!(false)),
                "serviceInstances" => {
                    let items: Vec<(String, Obj)> = s
                        .instances
                        .iter()
                        .filter(|i| i.service_id == x.id && can_see_env(ctx, s, &i.environment_id))
                        .map(|i| {
                            (
                                i.id.clone(),
                                Obj::Instance(i.environment_id.clone(), i.service_id.clone()),
                            )
                        })
                        .collect();
                    connection(
                        s,
                        f,
                        "ServiceServiceInstancesConnection",
                        "ServiceServiceInstancesConnectionEdge",
                        items,
                    )
                }
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Instance(env, service) => {
            let Some(i) = s.instance(env, service) else {
                return Err(ferr("ServiceInstance not found", INTERNAL));
            };
            let svc_name = s
                .service(service)
                .map(|x| x.name.clone())
                .unwrap_or_default();
            match name {
                "id" => val(json!(i.id)),
                "serviceId" => val(json!(i.service_id)),
                "serviceName" => val(json!(svc_name)),
                "environmentId" => val(json!(i.environment_id)),
                "source" => Ok(Out::Obj(match &i.source {
                    Source::Image(img) => Obj::Source(Some(img.clone()), None),
                    Source::Repo { repo, .. } => Obj::Source(None, Some(repo.clone())),
                })),
                "latestDeployment" => Ok(
                    match s
                        .deployments_of(env, service)
                        .into_iter()
                        .find(|d| !d.deleted)
                    {
                        Some(d) => Out::Obj(Obj::Deployment(d.id.clone())),
                        None => Out::Val(Value::Null),
                    },
                ),
                "activeDeployments" => Ok(Out::List(
                    s.deployments_of(env, service)
                        .into_iter()
                        .filter(|d| !d.deleted && (d.status == "SUCCESS" || d.status == "SLEEPING"))
                        .map(|d| Out::Obj(Obj::Deployment(d.id.clone())))
                        .collect(),
                )),
                "healthcheckPath" => val(opt(&i.healthcheck_path)),
                "healthcheckTimeout" => val(json!(i.healthcheck_timeout)),
                "numReplicas" => val(json!(i.num_replicas)),
                "region" => val(json!(i.region)),
                "startCommand" => val(opt(&i.start_command)),
                "createdAt" => val(json!(ts(&i.created_at))),
                "updatedAt" => val(json!(ts(&i.updated_at))),
                "deletedAt" | "rootDirectory" | "buildCommand" | "cronSchedule"
                | "nextCronRunAt" | "upstreamUrl" | "dockerfilePath" | "railwayConfigFile"
                | "preDeployCommand" => val(Value::Null),
                "restartPolicyType" => val(json!("ON_FAILURE")),
                "restartPolicyMaxRetries" => val(json!(10)),
                "sleepApplication" => val(json!(false)),
                "isUpdatable" => val(json!(true)),
                "watchPatterns" => val(json!([])),
                "builder" => val(json!("RAILPACK")),
                "service" => Ok(Out::Obj(Obj::Service(i.service_id.clone()))),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Source(image, repo) => match name {
            "image" => val(opt(image)),
            "repo" => val(opt(repo)),
            _ => Ok(Out::Unmodeled),
        },
        Obj::Deployment(id) => {
            let Some(d) = s.deployment(id) else {
                return Err(ferr("Deployment not found", INTERNAL));
            };
            let domain = s
                .instance(&d.environment_id, &d.service_id)
                .and_then(|i| i.domain.clone());
            match name {
                "id" => val(json!(d.id)),
                "status" => val(json!(d.status)),
                "createdAt" => val(json!(ts(&d.created_at))),
                "updatedAt" => val(json!(ts(&d.updated_at))),
                "statusUpdatedAt" => val(json!(ts(&d.status_updated_at))),
                "canRollback" => val(json!(can_rollback(s, d))),
                "canRedeploy" => val(json!(can_redeploy(d))),
                "deploymentStopped" => val(json!(deployment_stopped(d))),
                "creator" => Ok(match &d.creator {
                    Some(u) => Out::Obj(Obj::Creator(u.clone())),
                    None => Out::Val(Value::Null),
                }),
                "meta" => val(meta_of(d)),
                "url" => val(opt(&domain.as_ref().map(|x| format!("https://{x}")))),
                "staticUrl" => val(opt(&domain)),
                "serviceId" => val(json!(d.service_id)),
                "environmentId" => val(json!(d.environment_id)),
                "projectId" => val(json!(d.project_id)),
                "snapshotId" => val(opt(&d.snapshot_id)),
                "diagnosis" => val(Value::Null),
                "sockets" => val(json!([])),
                "suggestAddServiceDomain" => val(json!(false)),
                "instances" => Ok(Out::List(match instance_status(d) {
                    Some(st) => (0..d.num_replicas.max(1))
                        .map(|n| {
                            Out::Obj(Obj::DeploymentInstance(
                                uuid_like(&format!("{}/instance/{n}", d.id)),
                                st,
                            ))
                        })
                        .collect(),
                    None => Vec::new(),
                })),
                "service" => Ok(Out::Obj(Obj::Service(d.service_id.clone()))),
                "environment" => Ok(Out::Obj(Obj::Environment(d.environment_id.clone()))),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::Creator(u) => match name {
            "id" => val(json!(u.id)),
            "name" => val(json!(u.name)),
            "email" => val(json!(u.email)),
            "avatar" => val(Value::Null),
            _ => Ok(Out::Unmodeled),
        },
        Obj::DeploymentInstance(id, status) => match name {
            "id" => val(json!(id)),
            "status" => val(json!(status)),
            _ => Ok(Out::Unmodeled),
        },
        Obj::Conn {
            edge, edges, info, ..
        } => match name {
            "edges" => Ok(Out::List(
                edges
                    .iter()
                    .map(|(c, o)| {
                        Out::Obj(Obj::Edge {
                            ty: edge,
                            cursor: c.clone(),
                            node: Box::new(o.clone()),
                        })
                    })
                    .collect(),
            )),
            "pageInfo" => Ok(Out::Obj(Obj::PageInfo(info.clone()))),
            _ => Ok(Out::Unmodeled),
        },
        Obj::Edge { cursor, node, .. } => match name {
            "cursor" => val(json!(cursor)),
            "node" => Ok(Out::Obj((**node).clone())),
            _ => Ok(Out::Unmodeled),
        },
        Obj::PageInfo(p) => match name {
            "hasNextPage" => val(json!(p.has_next)),
            "hasPreviousPage" => val(json!(p.has_prev)),
            "startCursor" => val(opt(&p.start)),
            "endCursor" => val(opt(&p.end)),
            _ => Ok(Out::Unmodeled),
        },
        Obj::Log(i) => {
            let l = &s.logs[*i];
            match name {
                "timestamp" => val(json!(
                    l.timestamp.to_rfc3339_opts(SecondsFormat::Nanos, true)
                )),
                "message" => val(json!(l.message)),
                "severity" => val(json!(l.severity)),
                "attributes" => Ok(Out::List(
                    l.attributes
                        .iter()
                        .map(|(k, v)| Out::Obj(Obj::LogAttribute(k.clone(), v.clone())))
                        .collect(),
                )),
                "tags" => Ok(Out::Obj(Obj::LogTags(*i))),
                _ => Ok(Out::Unmodeled),
            }
        }
        Obj::LogAttribute(k, v) => match name {
            "key" => val(json!(k)),
            "value" => val(json!(v)),
            _ => Ok(Out::Unmodeled),
        },
        Obj::LogTags(i) => {
            let l = &s.logs[*i];
            let d = s.deployment(&l.deployment_id);
            let get = |x: fn(&FakeDeployment) -> Value| d.map(x).unwrap_or(Value::Null);
            match name {
                "deploymentId" => val(json!(l.deployment_id)),
                "deploymentInstanceId" => {
                    val(json!(uuid_like(&format!("{}/instance/0", l.deployment_id))))
                }
                "environmentId" => val(get(|d| json!(d.environment_id))),
                "projectId" => val(get(|d| json!(d.project_id))),
                "serviceId" => val(get(|d| json!(d.service_id))),
                "snapshotId" => val(get(|d| opt(&d.snapshot_id))),
                "pluginId" => val(Value::Null),
                _ => Ok(Out::Unmodeled),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP: auth, request log, faults, rate limits
// ---------------------------------------------------------------------------

fn identify(
    s: &FakeState,
    authorization: Option<&str>,
    project_token: Option<&str>,
) -> (Identity, AuthSeen, String) {
    let bearer = authorization.and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
            .map(str::trim)
    });
    let header = match (authorization.is_some(), project_token.is_some()) {
        (true, true) => AuthHeader::Both,
        (false, true) => AuthHeader::ProjectAccessToken,
        (true, false) if bearer.is_some() => AuthHeader::Bearer,
        (true, false) => AuthHeader::OtherScheme,
        (false, false) => AuthHeader::Missing,
    };
    let denied = |project_token: bool| {
        (
            Identity::Denied { project_token },
            AuthSeen {
                header,
                matched: false,
            },
            "anonymous".to_string(),
        )
    };
    if let Some(t) = project_token {
        let hash = token_hash(t.trim());
        return match s.project_tokens.iter().find(|e| e.token_hash == hash) {
            Some(e) => (
                Identity::Project {
                    token_id: e.id.clone(),
                    project: e.project_id.clone(),
                    env: e.environment_id.clone(),
                },
                AuthSeen {
                    header,
                    matched: true,
                },
                format!("project:{}", e.id),
            ),
            None => denied(true),
        };
    }
    let matched = AuthSeen {
        header,
        matched: true,
    };
    match bearer.map(token_hash) {
        Some(h) if h == s.account_token_hash => (Identity::Account, matched, "account".into()),
        Some(h) if s.workspace_tokens.contains(&h) => (
            Identity::Workspace,
            matched,
            format!("workspace:{}", &h[..12]),
        ),
        _ => denied(false),
    }
}

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

fn prune(w: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while w.front().is_some_and(|t| now.duration_since(*t) >= span) {
        w.pop_front();
    }
}

fn secs_until(at: Instant, now: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Count the request against its token's budget, or the seconds to wait.
fn admit(s: &mut FakeState, bucket: &str) -> Option<u64> {
    let now = Instant::now();
    let limits = s.limits;
    let (sec, hour) = s.windows.entry(bucket.to_string()).or_default();
    prune(sec, now, SECOND);
    prune(hour, now, HOUR);
    if hour.len() >= limits.per_hour {
        return Some(
            hour.front()
                .map(|t| secs_until(*t + HOUR, now))
                .unwrap_or(3600),
        );
    }
    if sec.len() >= limits.per_second {
        return Some(
            sec.front()
                .map(|t| secs_until(*t + SECOND, now))
                .unwrap_or(1),
        );
    }
    sec.push_back(now);
    hour.push_back(now);
    None
}

/// (remaining this hour, Unix time the oldest counted request leaves the window).
fn window_status(s: &mut FakeState, bucket: &str) -> (usize, i64) {
    let now = Instant::now();
    let limit = s.limits.per_hour;
    let (_, hour) = s.windows.entry(bucket.to_string()).or_default();
    prune(hour, now, HOUR);
    let reset_in = hour
        .front()
        .map(|t| secs_until(*t + HOUR, now))
        .unwrap_or(3600);
    (
        limit.saturating_sub(hour.len()),
        Utc::now().timestamp() + reset_in as i64,
    )
}

fn trace_id() -> String {
    // An 18-19 digit snowflake-like number, sent as a string like Railway's.
    let h = Sha256::digest(format!("trace/{}", next_n()).as_bytes());
    let n = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
    (n % 9_000_000_000_000_000_000 + 100_000_000_000_000_000).to_string()
}

fn error_json(e: &GqlError) -> Value {
    let mut m = Map::new();
    m.insert("message".into(), json!(e.message));
    if let Some((line, column)) = e.loc {
        m.insert(
            "locations".into(),
            json!([{"line": line, "column": column}]),
        );
    }
    if let Some(p) = &e.path {
        m.insert("path".into(), json!([p]));
    }
    m.insert("extensions".into(), json!({"code": e.code}));
    m.insert("traceId".into(), json!(trace_id()));
    Value::Object(m)
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A 429 from the budget or a scripted fault. Body: the fake's own wording.
fn rate_limited(secs: u64) -> Response {
    let mut r = json_response(
        429,
        &json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATE_LIMITED"}}]}),
    );
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
    r
}

fn cloudflare_page() -> Response {
    let body = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n\
<title>Access denied | backboard.railway.com used Cloudflare to restrict access</title>\n\
<meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n\
<h1>Sorry, you have been blocked</h1>\n\
<h2>You are unable to access backboard.railway.com</h2>\n\
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

fn fault_response(kind: FaultKind) -> (Response, Vec<String>) {
    match kind {
        FaultKind::RateLimited { retry_after } => (
            rate_limited(retry_after),
            vec!["Rate limit exceeded".into()],
        ),
        FaultKind::Status(code, body) => (json_response(code, &body), Vec::new()),
        FaultKind::CloudflareBlock => (cloudflare_page(), Vec::new()),
        FaultKind::Malformed => (
            Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Body::from("{\"data\": {\"deployment\": {\"id\": \""))
                .unwrap(),
            Vec::new(),
        ),
        FaultKind::GraphqlError(message) => {
            let e = GqlError::new(message.clone(), INTERNAL);
            (
                json_response(200, &json!({"errors": [error_json(&e)], "data": null})),
                vec![message],
            )
        }
        FaultKind::Delay(_) => (
            json_response(500, &json!({"errors": [{"message": "delay"}]})),
            Vec::new(),
        ),
    }
}

fn take_fault(s: &mut FakeState, kind: Option<OpType>, roots: &[String]) -> Option<FaultKind> {
    for f in s.faults.iter_mut() {
        if f.times > 0
            && f.op.is_none_or(|o| Some(o) == kind)
            && (f.field.is_empty() || roots.contains(&f.field))
        {
            f.times -= 1;
            return Some(f.kind.clone());
        }
    }
    None
}

struct GqlRequest {
    query: String,
    operation_name: Option<String>,
    variables: Map<String, Value>,
}

fn read_request(headers: &HeaderMap, body: &Bytes) -> Result<GqlRequest, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.to_ascii_lowercase().contains("json") {
        return Err("railway_fake: send the body as application/json".into());
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "POST body sent invalid JSON.".to_string())?;
    if v.is_array() {
        return Err("railway_fake: batched operations are not supported".into());
    }
    let Some(o) = v.as_object() else {
        return Err("POST body must be a JSON object".into());
    };
    let Some(query) = o
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return Err(
            "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension."
                .into(),
        );
    };
    let variables = match o.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err("`variables` in a POST body should be provided as an object.".into());
        }
    };
    Ok(GqlRequest {
        query: query.to_string(),
        operation_name: o
            .get("operationName")
            .and_then(Value::as_str)
            .map(str::to_string),
        variables,
    })
}

/// Answer a well-formed request: HTTP 200 with `data` (all fields resolved)
/// or `errors` + `data: null`; parse/validation failures with `validation_status`.
fn answer(
    s: &mut FakeState,
    ctx: &Ctx,
    request: Result<GqlRequest, String>,
    prep: Prepared,
) -> (Response, Vec<String>) {
    if let Err(message) = request {
        let e = GqlError::new(message.clone(), "BAD_REQUEST");
        return (
            json_response(400, &json!({"errors": [error_json(&e)]})),
            vec![message],
        );
    }
    let fields = match prep.plan {
        Ok(f) => f,
        Err(errors) => {
            let body = json!({"errors": errors.iter().map(error_json).collect::<Vec<_>>()});
            return (
                json_response(s.validation_status, &body),
                errors.into_iter().map(|e| e.message).collect(),
            );
        }
    };
    let kind = prep.kind.unwrap_or(OpType::Query);
    let mut data = Map::new();
    let mut errors = Vec::new();
    for f in &fields {
        match run_root(s, ctx, kind, f) {
            Ok(v) => {
                data.insert(f.key.clone(), v);
            }
            Err(e) => errors.push(GqlError {
                message: e.message,
                code: e.code,
                loc: Some((f.line, f.col)),
                path: Some(f.key.clone()),
            }),
        }
    }
    if errors.is_empty() {
        (json_response(200, &json!({"data": data})), Vec::new())
    } else {
        // Every modeled root field is non-null, so an error nulls `data`.
        let body =
            json!({"errors": errors.iter().map(error_json).collect::<Vec<_>>(), "data": null});
        (
            json_response(200, &body),
            errors.into_iter().map(|e| e.message).collect(),
        )
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn graphql(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = header_str(&headers, "authorization");
    let project_token = header_str(&headers, "project-access-token");
    let (ident, seen, bucket, creator) = {
        let s = st.lock().unwrap();
        let (ident, seen, bucket) =
            identify(&s, authorization.as_deref(), project_token.as_deref());
        let creator = (ident == Identity::Account).then(|| s.user.clone());
        (ident, seen, bucket, creator)
    };
    let request = read_request(&headers, &body);
    let prep = match &request {
        Ok(r) => prepare(&r.query, r.operation_name.as_deref(), &r.variables),
        Err(_) => Prepared::failed(None, None, Vec::new()),
    };
    let logged_vars = match &request {
        Ok(r) => redact_variables(&r.variables, &prep.secret_vars),
        Err(_) => Value::Null,
    };
    let roots: Vec<String> = prep.logged.iter().map(|f| f.name.clone()).collect();
    let (idx, fault) = {
        let mut s = st.lock().unwrap();
        s.hits.push(Hit {
            at: Instant::now(),
            operation: prep.kind,
            operation_name: prep.name.clone(),
            fields: prep.logged.clone(),
            variables: logged_vars,
            auth: seen,
            status: 0,
            errors: Vec::new(),
        });
        let idx = s.hits.len() - 1;
        (idx, take_fault(&mut s, prep.kind, &roots))
    };
    let mut edge_page = false;
    let mut early: Option<(Response, Vec<String>)> = None;
    match fault {
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::CloudflareBlock) => {
            edge_page = true;
            early = Some(fault_response(FaultKind::CloudflareBlock));
        }
        Some(k) => early = Some(fault_response(k)),
        None => {}
    }
    let mut s = st.lock().unwrap();
    if early.is_none()
        && let Some(secs) = admit(&mut s, &bucket)
    {
        early = Some((rate_limited(secs), vec!["Rate limit exceeded".into()]));
    }
    let (mut resp, messages) = match early {
        Some(r) => r,
        None => {
            let ctx = Ctx { ident, creator };
            answer(&mut s, &ctx, request, prep)
        }
    };
    if !edge_page {
        let (remaining, reset) = window_status(&mut s, &bucket);
        let limit = s.limits.per_hour;
        let h = resp.headers_mut();
        if !h.contains_key("x-ratelimit-limit") {
            h.insert("x-ratelimit-limit", HeaderValue::from(limit as u64));
        }
        if !h.contains_key("x-ratelimit-remaining") {
            h.insert("x-ratelimit-remaining", HeaderValue::from(remaining as u64));
        }
        if !h.contains_key("x-ratelimit-reset") {
            h.insert("x-ratelimit-reset", HeaderValue::from(reset));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("\"default\";q={limit};w=3600")) {
            h.insert("ratelimit-policy", v);
        }
    }
    if let Some(hit) = s.hits.get_mut(idx) {
        hit.status = resp.status().as_u16();
        hit.errors = messages;
    }
    drop(s);
    resp
}

/// An unrouted path, as backboard answers it (probed).
async fn not_found() -> Response {
    json_response(
        404,
        &json!({"message": "Not Found", "requestId": uuid_like(&format!("request/{}", next_n()))}),
    )
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/graphql/v2", post(graphql))
        .fallback(not_found)
        .with_state(state)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next_n() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID-shaped id derived from `seed` (Railway ids are UUIDs).
fn uuid_like(seed: &str) -> String {
    let h = hex(&Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The opaque cursor of a connection item.
fn cursor_of(key: &str) -> String {
    base64(format!("cursor:{key}").as_bytes())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// Now, to the millisecond (what the API prints).
fn now_ms() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------
// Schema tables, transcribed from railwayapp/cli @ df3838b src/gql/schema.json
// ---------------------------------------------------------------------------

/// Modeled root fields: (operation, name, return type, `arg:Type` list).
const ROOT_FIELDS: &[(OpType, &str, &str, &str)] = &[
    (OpType::Query, "me", "User!", ""),
    (OpType::Query, "projectToken", "ProjectToken!", ""),
    (OpType::Query, "project", "Project!", "id:String!"),
    (
        OpType::Query,
        "environments",
        "QueryEnvironmentsConnection!",
        concat!(
            "after:String before:String first:Int isEphemeral:Boolean last:Int ",
            "projectId:String! ",
        ),
    ),
    (
        OpType::Query,
        "environment",
        "Environment!",
        "id:String! projectId:String",
    ),
    (
        OpType::Query,
        "serviceInstance",
        "ServiceInstance!",
        "environmentId:String! serviceId:String!",
    ),
    (
        OpType::Query,
        "deployments",
        "QueryDeploymentsConnection!",
        concat!(
            "after:String before:String first:Int input:DeploymentListInput! ",
            "last:Int ",
        ),
    ),
    (OpType::Query, "deployment", "Deployment!", "id:String!"),
    (
        OpType::Query,
        "variables",
        "EnvironmentVariables!",
        concat!(
            "environmentId:String! projectId:String! serviceId:String ",
            "unrendered:Boolean ",
        ),
    ),
    (
        OpType::Query,
        "variablesForServiceDeployment",
        "EnvironmentVariables!",
        "environmentId:String! projectId:String! serviceId:String!",
    ),
    (
        OpType::Query,
        "deploymentLogs",
        "[Log!]!",
        concat!(
            "deploymentId:String! endDate:DateTime filter:String limit:Int ",
            "startDate:DateTime ",
        ),
    ),
    (
        OpType::Query,
        "buildLogs",
        "[Log!]!",
        concat!(
            "deploymentId:String! endDate:DateTime filter:String limit:Int ",
            "startDate:DateTime ",
        ),
    ),
    (
        OpType::Query,
        "environmentLogs",
        "[Log!]!",
        concat!(
            "afterDate:String afterLimit:Int anchorDate:String beforeDate:String ",
            "beforeLimit:Int environmentId:String! filter:String ",
        ),
    ),
    (
        OpType::Mutation,
        "serviceInstanceUpdate",
        "Boolean!",
        concat!(
            "environmentId:String input:ServiceInstanceUpdateInput! ",
            "serviceId:String! ",
        ),
    ),
    (
        OpType::Mutation,
        "serviceInstanceDeployV2",
        "String!",
        "commitSha:String environmentId:String! serviceId:String!",
    ),
    (
        OpType::Mutation,
        "serviceInstanceDeploy",
        "Boolean!",
        concat!(
            "commitSha:String environmentId:String! latestCommit:Boolean ",
            "serviceId:String! ",
        ),
    ),
    (
        OpType::Mutation,
        "serviceInstanceRedeploy",
        "Boolean!",
        "environmentId:String! serviceId:String!",
    ),
    (
        OpType::Mutation,
        "deploymentRedeploy",
        "Deployment!",
        "id:String! usePreviousImageTag:Boolean",
    ),
    (
        OpType::Mutation,
        "deploymentRollback",
        "Boolean!",
        "id:String!",
    ),
    (
        OpType::Mutation,
        "deploymentCancel",
        "Boolean!",
        "id:String!",
    ),
    (
        OpType::Mutation,
        "deploymentRestart",
        "Boolean!",
        "id:String!",
    ),
    (OpType::Mutation, "deploymentStop", "Boolean!", "id:String!"),
    (
        OpType::Mutation,
        "deploymentRemove",
        "Boolean!",
        "id:String!",
    ),
    (
        OpType::Mutation,
        "deploymentApprove",
        "Boolean!",
        "id:String!",
    ),
    (
        OpType::Mutation,
        "variableUpsert",
        "Boolean!",
        "input:VariableUpsertInput!",
    ),
    (
        OpType::Mutation,
        "variableDelete",
        "Boolean!",
        "input:VariableDeleteInput!",
    ),
    (
        OpType::Mutation,
        "variableCollectionUpsert",
        "Boolean!",
        "input:VariableCollectionUpsertInput!",
    ),
];

/// Input objects the modeled root fields take: (name, `field:Type` list).
const INPUT_TYPES: &[(&str, &str)] = &[
    (
        "DeploymentListInput",
        concat!(
            "environmentId:String includeDeleted:Boolean projectId:String ",
            "serviceId:String status:DeploymentStatusInput ",
        ),
    ),
    (
        "DeploymentStatusInput",
        "in:[DeploymentStatus!] notIn:[DeploymentStatus!] ",
    ),
    (
        "ServiceInstanceUpdateInput",
        concat!(
            "buildCommand:String builder:Builder cronSchedule:String ",
            "dockerfilePath:String drainingSeconds:Int healthcheckPath:String ",
            "healthcheckTimeout:Int ipv6EgressEnabled:Boolean ",
            "multiRegionConfig:JSON nixpacksPlan:JSON numReplicas:Int ",
            "overlapSeconds:Int preDeployCommand:[String!] ",
            "railwayConfigFile:String region:String ",
            "registryCredentials:RegistryCredentialsInput ",
            "restartPolicyMaxRetries:Int restartPolicyType:RestartPolicyType ",
            "rootDirectory:String sleepApplication:Boolean ",
            "source:ServiceSourceInput startCommand:String watchPatterns:[String!] ",
        ),
    ),
    ("ServiceSourceInput", "image:String repo:String "),
    (
        "RegistryCredentialsInput",
        "password:String! username:String! ",
    ),
    (
        "VariableUpsertInput",
        concat!(
            "environmentId:String! name:String! projectId:String! serviceId:String ",
            "skipDeploys:Boolean value:String! ",
        ),
    ),
    (
        "VariableDeleteInput",
        "environmentId:String! name:String! projectId:String! serviceId:String ",
    ),
    (
        "VariableCollectionUpsertInput",
        concat!(
            "environmentId:String! projectId:String! replace:Boolean ",
            "serviceId:String skipDeploys:Boolean variables:EnvironmentVariables! ",
        ),
    ),
];

/// Object types the fake answers: (name, every `field:NamedType` of the schema).
/// Fields not modeled answer a `FAKE_NOT_MODELED` error rather than a made-up value.
const OBJECT_FIELDS: &[(&str, &str)] = &[
    (
        "User",
        concat!(
            "agreedFairUse:Boolean apiTokenRateLimit:ApiTokenRateLimit ",
            "avatar:String banReason:String createdAt:DateTime email:String ",
            "featureFlags:ActiveFeatureFlag flags:UserFlag githubProviderId:String ",
            "githubUsername:String has2FA:Boolean hasPasskeys:Boolean id:ID ",
            "isAdmin:Boolean isConductor:Boolean isVerified:Boolean ",
            "lastLogin:DateTime name:String ",
            "platformFeatureFlags:ActivePlatformFlag profile:UserProfile ",
            "projects:UserProjectsConnection ",
            "providerAuths:UserProviderAuthsConnection ",
            "registrationStatus:RegistrationStatus riskLevel:Float ",
            "termsAgreedOn:DateTime username:String workspace:Workspace ",
            "workspaces:Workspace ",
        ),
    ),
    (
        "ProjectToken",
        concat!(
            "createdAt:DateTime displayToken:String environment:Environment ",
            "environmentId:String id:ID name:String project:Project ",
            "projectId:String ",
        ),
    ),
    (
        "Project",
        concat!(
            "baseEnvironment:Environment baseEnvironmentId:String ",
            "botPrEnvironments:Boolean buckets:ProjectBucketsConnection ",
            "createdAt:DateTime deletedAt:DateTime ",
            "deploymentTriggers:ProjectDeploymentTriggersConnection ",
            "deployments:ProjectDeploymentsConnection description:String ",
            "environments:ProjectEnvironmentsConnection expiredAt:DateTime ",
            "featureFlags:ActiveProjectFeatureFlag focusedPrEnvironments:Boolean ",
            "groups:ProjectGroupsConnection id:ID isPublic:Boolean ",
            "isTempProject:Boolean members:ProjectMember name:String ",
            "plugins:ProjectPluginsConnection prDeploys:Boolean ",
            "primaryEnvironmentId:String ",
            "projectPermissions:ProjectProjectPermissionsConnection ",
            "services:ProjectServicesConnection ",
            "subscriptionPlanLimit:SubscriptionPlanLimit ",
            "subscriptionType:SubscriptionPlanType team:Team teamId:String ",
            "updatedAt:DateTime volumes:ProjectVolumesConnection ",
            "workspace:Workspace workspaceId:String ",
        ),
    ),
    (
        "ProjectEnvironmentsConnection",
        "edges:ProjectEnvironmentsConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "ProjectEnvironmentsConnectionEdge",
        "cursor:String node:Environment ",
    ),
    (
        "ProjectServicesConnection",
        "edges:ProjectServicesConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "ProjectServicesConnectionEdge",
        "cursor:String node:Service ",
    ),
    (
        "Environment",
        concat!(
            "canAccess:Boolean canvasGroupRefs:JSON config:EnvironmentConfig ",
            "configEtag:String createdAt:DateTime deletedAt:DateTime ",
            "deploymentTriggers:EnvironmentDeploymentTriggersConnection ",
            "deployments:EnvironmentDeploymentsConnection id:ID ",
            "isEphemeral:Boolean meta:EnvironmentMeta name:String projectId:String ",
            "serviceInstances:EnvironmentServiceInstancesConnection ",
            "sourceEnvironment:Environment unmergedChangesCount:Int ",
            "updatedAt:DateTime variables:EnvironmentVariablesConnection ",
            "volumeInstances:EnvironmentVolumeInstancesConnection ",
        ),
    ),
    (
        "EnvironmentMeta",
        concat!(
            "baseBranch:String branch:String ",
            "latestSuccessfulGitHubDeploymentId:Int prCommentId:Int prNumber:Int ",
            "prRepo:String prTitle:String skippedResourceIds:SkippedResourceIds ",
        ),
    ),
    (
        "EnvironmentServiceInstancesConnection",
        "edges:EnvironmentServiceInstancesConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "EnvironmentServiceInstancesConnectionEdge",
        "cursor:String node:ServiceInstance ",
    ),
    (
        "Service",
        concat!(
            "createdAt:DateTime deletedAt:DateTime ",
            "deployments:ServiceDeploymentsConnection ",
            "featureFlags:ActiveServiceFeatureFlag groupId:String ",
            "hasHiddenRegistryCredentialsFromTemplate:Boolean icon:String id:ID ",
            "isRestricted:Boolean name:String project:Project projectId:String ",
            "repoTriggers:ServiceRepoTriggersConnection ",
            "serviceInstances:ServiceServiceInstancesConnection templateId:String ",
            "templateServiceId:String templateThreadSlug:String updatedAt:DateTime ",
        ),
    ),
    (
        "ServiceServiceInstancesConnection",
        "edges:ServiceServiceInstancesConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "ServiceServiceInstancesConnectionEdge",
        "cursor:String node:ServiceInstance ",
    ),
    (
        "ServiceInstance",
        concat!(
            "activeDeployments:Deployment buildCommand:String builder:Builder ",
            "createdAt:DateTime cronSchedule:String deletedAt:DateTime ",
            "dockerfilePath:String domains:AllDomains drainingSeconds:Int ",
            "edgeConfig:EdgeConfig environmentId:String healthcheckPath:String ",
            "healthcheckTimeout:Int id:ID ipv6EgressEnabled:Boolean ",
            "isUpdatable:Boolean latestDeployment:Deployment ",
            "nextCronRunAt:DateTime nixpacksPlan:JSON numReplicas:Int ",
            "overlapSeconds:Int preDeployCommand:JSON railpackInfo:RailpackInfo ",
            "railwayConfigFile:String region:String restartPolicyMaxRetries:Int ",
            "restartPolicyType:RestartPolicyType rootDirectory:String ",
            "service:Service serviceId:String serviceName:String ",
            "sleepApplication:Boolean source:ServiceSource startCommand:String ",
            "updatedAt:DateTime upstreamUrl:String watchPatterns:String ",
        ),
    ),
    ("ServiceSource", "image:String repo:String "),
    (
        "QueryEnvironmentsConnection",
        "edges:QueryEnvironmentsConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "QueryEnvironmentsConnectionEdge",
        "cursor:String node:Environment ",
    ),
    (
        "QueryDeploymentsConnection",
        "edges:QueryDeploymentsConnectionEdge pageInfo:PageInfo ",
    ),
    (
        "QueryDeploymentsConnectionEdge",
        "cursor:String node:Deployment ",
    ),
    (
        "PageInfo",
        concat!(
            "endCursor:String hasNextPage:Boolean hasPreviousPage:Boolean ",
            "startCursor:String ",
        ),
    ),
    (
        "Deployment",
        concat!(
            "canRedeploy:Boolean canRollback:Boolean createdAt:DateTime ",
            "creator:DeploymentCreator deploymentStopped:Boolean ",
            "diagnosis:DeploymentDiagnosis environment:Environment ",
            "environmentId:String id:ID instances:DeploymentDeploymentInstance ",
            "meta:DeploymentMeta projectId:String service:Service serviceId:String ",
            "snapshotId:String sockets:DeploymentSocket staticUrl:String ",
            "status:DeploymentStatus statusUpdatedAt:DateTime ",
            "suggestAddServiceDomain:Boolean updatedAt:DateTime url:String ",
        ),
    ),
    (
        "DeploymentCreator",
        "avatar:String email:String id:String name:String ",
    ),
    (
        "DeploymentDeploymentInstance",
        "id:String status:DeploymentInstanceStatus ",
    ),
    (
        "Log",
        concat!(
            "attributes:LogAttribute message:String severity:String tags:LogTags ",
            "timestamp:String ",
        ),
    ),
    ("LogAttribute", "key:String value:String "),
    (
        "LogTags",
        concat!(
            "deploymentId:String deploymentInstanceId:String environmentId:String ",
            "pluginId:String projectId:String serviceId:String snapshotId:String ",
        ),
    ),
];

/// Scalars and enums among the types above (no sub-selection allowed).
const LEAF_TYPES: &[&str] = &[
    "ActiveFeatureFlag",
    "ActivePlatformFlag",
    "ActiveProjectFeatureFlag",
    "ActiveServiceFeatureFlag",
    "Boolean",
    "Builder",
    "DateTime",
    "DeploymentDiagnosis",
    "DeploymentInstanceStatus",
    "DeploymentMeta",
    "DeploymentStatus",
    "EnvironmentConfig",
    "EnvironmentVariables",
    "Float",
    "ID",
    "Int",
    "JSON",
    "RailpackInfo",
    "RegistrationStatus",
    "RestartPolicyType",
    "SkippedResourceIds",
    "String",
    "SubscriptionPlanLimit",
    "SubscriptionPlanType",
    "UserFlag",
];

/// Every `Query` field of the schema (the ones outside [`ROOT_FIELDS`] answer `FAKE_NOT_MODELED`).
const QUERY_ROOTS: &str = concat!(
    "adminVolumeInstancesForVolume agentUsage allPlatformFeatureFlags apiToken apiTokens ",
    "auditLog auditLogEventTypeInfo auditLogs botScopeBindings bucketInstanceDetails ",
    "bucketS3Credentials buildLogs canvasViewMergePreview changelogBlockImage cloudAgent ",
    "cloudAgentConsoleSessions cloudAgents complianceAgreements customDomain ",
    "customDomainAvailable deployment deploymentEvents deploymentInstanceExecutions ",
    "deploymentLogs deploymentSessions deploymentSnapshot deploymentTriggers deployments ",
    "dnsQueryLogs domainStatus domains egressGatewayHAPreview egressGatewayLegacyPreview ",
    "egressGateways environment environmentChangeSetApply ",
    "environmentHasLegacyStaticEgress environmentLogs environmentPatch ",
    "environmentPatches environmentStagedChanges environments estimatedUsage events ",
    "externalWorkspaces functionRuntime functionRuntimes gitHubRepoAccessAvailable ",
    "gitHubSshKeys githubIsRepoNameAvailable githubPRInfo githubPRInfoResult githubRepo ",
    "githubRepoBranches githubRepos githubWritableScopes herokuApps httpDurationMetrics ",
    "httpLogs httpMetrics httpMetricsGroupedByStatus integrationAuth integrationAuths ",
    "integrations inviteCode me metrics myCloudAgents networkFlowLogs ",
    "notificationDeliveries notificationDelivery notificationRules ",
    "observabilityDashboards passkeys pitrHaClusterReplicationHealth ",
    "pitrHaWorkflowProgress platformStatus plugin pluginLogs preferences ",
    "privateNetworkEndpoint privateNetworkEndpointNameAvailable privateNetworks project ",
    "projectCompliance projectInvitation projectInvitations projectInviteCode ",
    "projectMembers projectResourceAccess projectServiceUsage projectToken projectTokens ",
    "projectWorkspaceMembers projects projectsByIds publicStats railwayDomain ",
    "railwayDomainByName railwayDomainDnsRecords railwayDomains referralInfo regions ",
    "resourceAccess sandbox sandboxCheckpoints sandboxSessions sandboxTemplateBuild ",
    "sandboxes service serviceDomainAvailable serviceInstance ",
    "serviceInstanceAutoDeployStatus serviceInstanceIsUpdatable ",
    "serviceInstanceLimitOverride serviceInstanceLimits sessions signal signalChanges ",
    "signalEvaluate signals sshPublicKeys sshSignupInfo tcpProxies team teamTemplates ",
    "template templateMetrics templateSearch templateSourceForProject templates ",
    "templatesCount trustedDomains twoFactorInfo usage userKickbackEarnings userProfile ",
    "userTemplates validateServiceEdgeRules variables variablesForServiceDeployment ",
    "vercelInfo volumeInstance volumeInstanceBackupList volumeInstanceBackupScheduleList ",
    "workflowStatus workspace workspaceByCode workspaceIdentityProviders workspacePolicy ",
    "workspacePolicySelectableDeploySources workspaceTemplates ",
);

/// Every `Mutation` field of the schema (the ones outside [`ROOT_FIELDS`] answer `FAKE_NOT_MODELED`).
const MUTATION_ROOTS: &str = concat!(
    "agentUsageLimitSet apiTokenCreate apiTokenDelete baseEnvironmentOverride ",
    "botScopeBindingRemove bucketCreate bucketCredentialsReset bucketUpdate ",
    "cancelPitrHaWorkflow canvasViewMerge clearPitrHaWorkflowProgress cliAuthEventTrack ",
    "cliEventTrack cloudAgentCreate cloudAgentDelete cloudAgentSleep ",
    "cloudAgentStateReport cloudAgentWake customDomainCreate customDomainDelete ",
    "customDomainIssueCertificate customDomainUpdate customerCreateFreePlanSubscription ",
    "customerTogglePayoutsToCredits deploymentApprove deploymentCancel ",
    "deploymentInstanceExecutionCreate deploymentRedeploy deploymentRemove ",
    "deploymentRestart deploymentRollback deploymentStop deploymentTriggerCreate ",
    "deploymentTriggerDelete deploymentTriggerUpdate disablePitrForHaCluster ",
    "disableServiceCdn dockerComposeImport egressGatewayAssociationCreate ",
    "egressGatewayAssociationsClear egressGatewayHAMigrationPreview ",
    "egressGatewayRollbackFromHA egressGatewayUpgradeToHA emailChangeConfirm ",
    "emailChangeInitiate enablePitrForHaCluster enableServiceCdn ",
    "environmentApplyChangeSet environmentCreate environmentDelete ",
    "environmentPatchCommit environmentPatchCommitStaged environmentPreviewChangeSet ",
    "environmentRename environmentStageChanges environmentTriggersDeploy ",
    "environmentUnskipService fairUseAgree featureFlagAdd featureFlagRemove ",
    "generateShellToken githubRepoDeploy githubRepoUpdate herokuImportVariables ",
    "integrationCreate integrationDelete integrationUpdate inviteCodeUse ",
    "jobApplicationCreate loginSessionAuth loginSessionCancel loginSessionConsume ",
    "loginSessionCreate loginSessionVerify notificationDeliveriesMarkAsRead ",
    "notificationRuleCreate notificationRuleDelete notificationRuleUpdate ",
    "observabilityDashboardCreate observabilityDashboardReset ",
    "observabilityDashboardUpdate passkeyDelete pluginCreate pluginDelete pluginReset ",
    "pluginResetCredentials pluginRestart pluginStart pluginUpdate preferencesUpdate ",
    "privateNetworkCreateOrGet privateNetworkEndpointCreateOrGet ",
    "privateNetworkEndpointDelete privateNetworkEndpointRename ",
    "privateNetworksForEnvironmentDelete projectClaim projectCreate projectDelete ",
    "projectFeatureFlagAdd projectFeatureFlagRemove projectInvitationAccept ",
    "projectInvitationCreate projectInvitationDelete projectInvitationResend ",
    "projectInviteUser projectLeave projectMemberAdd projectMemberRemove ",
    "projectMemberUpdate projectScheduleDelete projectScheduleDeleteCancel ",
    "projectScheduleDeleteForce projectTokenCreate projectTokenDelete projectTransfer ",
    "projectTransferConfirm projectTransferInitiate projectTransferToTeam projectUpdate ",
    "providerAuthRemove purgeServiceCache railwayDomainDnsRecordCreate ",
    "railwayDomainDnsRecordDelete railwayDomainDnsRecordUpdate ",
    "railwayDomainNameserversSet railwayDomainUpdate recoveryCodeGenerate ",
    "recoveryCodeValidate referralInfoUpdate sandboxCheckpointCreate ",
    "sandboxCheckpointDelete sandboxCheckpointRename sandboxCreate sandboxDestroy ",
    "sandboxExec sandboxHeartbeat sandboxTemplateBuild serviceConnect serviceCreate ",
    "serviceDelete serviceDisconnect serviceDomainCreate serviceDomainDelete ",
    "serviceDomainUpdate serviceDuplicate serviceFeatureFlagAdd serviceFeatureFlagRemove ",
    "serviceInstanceAutoDeployUpdate serviceInstanceDeploy serviceInstanceDeployV2 ",
    "serviceInstanceLimitsUpdate serviceInstanceRedeploy serviceInstanceUpdate ",
    "serviceInstanceVulnRemediationDismiss serviceInstanceVulnRemediationPatchNow ",
    "serviceRemoveUpstreamUrl serviceUpdate sessionDelete setServiceUnderAttackMode ",
    "setupAgentEventTrack sharedVariableConfigure signalCreate signalDefaultSet ",
    "signalDelete signalReplace signalRollback signalRuleSet signalRuleUnset ",
    "sshPublicKeyCreate sshPublicKeyDelete sshSignupApprove tcpProxyCreate ",
    "tcpProxyDelete templateClone templateDelete templateDeploy templateDeployV2 ",
    "templateGenerate templatePublish templateRevert templateServiceSourceEject ",
    "templateUnpublish templateVolumeUpdate trustedDomainCreate trustedDomainDelete ",
    "trustedDomainRetriggerVerification trustedDomainUpdate twoFactorInfoCreate ",
    "twoFactorInfoDelete twoFactorInfoSecret twoFactorInfoValidate ",
    "updateServiceEdgeConfig updateServiceEdgeRules upsertSlackChannel usageLimitRemove ",
    "usageLimitSet userBetaLeave userDelete userDiscordDisconnect userFlagsRemove ",
    "userFlagsSet userProfileUpdate userTermsUpdate variableCollectionUpsert ",
    "variableDelete variableUpsert volumeCreate volumeDelete volumeInstanceBackupCreate ",
    "volumeInstanceBackupDelete volumeInstanceBackupLock volumeInstanceBackupRestore ",
    "volumeInstanceBackupScheduleUpdate volumeInstancePITRRestore volumeInstanceUpdate ",
    "volumeUpdate webhookTest workspaceDelete workspaceInviteCodeCreate ",
    "workspaceInviteCodeUse workspaceLeave workspacePermissionChange ",
    "workspacePolicyDeploySourceAllowlistAdd workspacePolicyDeploySourceAllowlistRemove ",
    "workspacePolicyItemUpdate workspaceTwoFactorEnforcementUpdate workspaceUpdate ",
    "workspaceUpsertSlackChannel workspaceUserInvite workspaceUserRemove ",
);

fn root_def(
    op: OpType,
    name: &str,
) -> Option<&'static (OpType, &'static str, &'static str, &'static str)> {
    ROOT_FIELDS.iter().find(|r| r.0 == op && r.1 == name)
}

fn known_root(op: OpType, name: &str) -> bool {
    let all = match op {
        OpType::Query => QUERY_ROOTS,
        OpType::Mutation => MUTATION_ROOTS,
        OpType::Subscription => "",
    };
    all.split_whitespace().any(|n| n == name)
}

fn input_type(name: &str) -> Option<&'static str> {
    INPUT_TYPES.iter().find(|t| t.0 == name).map(|t| t.1)
}

/// None: the fake has no table for `ty`. Some(None): `ty` has no such field.
fn object_field_type(ty: &str, field: &str) -> Option<Option<&'static str>> {
    let (_, fields) = OBJECT_FIELDS.iter().find(|t| t.0 == ty)?;
    Some(
        fields
            .split_whitespace()
            .filter_map(|p| p.split_once(':'))
            .find(|(n, _)| *n == field)
            .map(|(_, t)| t),
    )
}
