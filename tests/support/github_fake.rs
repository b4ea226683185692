//! A fake GitHub REST API (Actions workflows, dispatch, runs, jobs and job
//! logs, pending deployments; Deployments and their statuses; Environments,
//! environment secrets and variables) for tests, written from GitHub's public
//! material only, never from shipdeck's own GitHub client.
//!
//! Where each shape comes from:
//! - Object fields (`workflow`, `workflow-run`, `job` + `steps`, `deployment`,
//!   `deployment-status`, `environment`, `pending-deployment`,
//!   `actions-secret`, `actions-public-key`, `actions-variable`,
//!   `simple-user`, `workflow-dispatch-response`) and which operation answers
//!   200/201/202/204/302/409: GitHub's OpenAPI description
//!   (github/rest-api-description) as rendered per schema and per operation
//!   in `Yuyz0112/public-api-skills` `apis/github/github-v3-rest-api/references`
//!   (snapshot of 2026-02); run statuses and conclusions also from cli/cli
//!   `pkg/cmd/run/shared/shared.go`.
//! - `return_run_details` → 200 `{workflow_run_id, run_url, html_url}`, else
//!   204: github.blog changelog 2026-02-19 "Workflow dispatch API now returns
//!   run IDs", the `workflow-dispatch-response` schema, PyGithub PR #3470.
//!   Older servers answer 422 `"return_run_details" is not a permitted key.`
//!   (benc-uk/workflow-dispatch #86, GHES 3.19): [`DispatchMode::RejectParam`].
//! - Dispatch errors, verbatim from public error bodies: `No ref found for: X`
//!   (convictional/trigger-workflow-and-wait #25, #44; dispatch resolves only
//!   branches and tags, day8/re-frame2 #9287), `Unexpected inputs provided:
//!   ["a", "b"]` (benc-uk/workflow-dispatch #80, peter-evans/slash-command-dispatch
//!   #115), `Required input 'x' not provided` (backstage #18511), `Workflow does
//!   not have 'workflow_dispatch' trigger` (benc-uk/workflow-dispatch #65, elastic
//!   terraform-provider PR #1829), `For 'additionalProperties', nil is not a
//!   string.` (a public write-up of a 422 for a null input).
//! - `Cannot cancel a workflow run that is completed.` with 409
//!   (technote-space/auto-cancel-redundant-workflow #68); cancelling "cancels all
//!   jobs and steps" (docs.github.com, canceling a workflow).
//! - A rejected review: "If a job is rejected, the workflow will fail"
//!   (github/docs reviewing-deployments); the rejected job has no steps and no
//!   log, its deployment goes `waiting` → `failure`, the run concludes
//!   `failure` (public run read-back in damianvtran/local-operator PR #691).
//!   Deployments that Actions creates for `environment:` jobs show a `waiting`
//!   status while protected and `queued` after it (runs-on/runs-on #386);
//!   `waiting` is not in the OpenAPI status enum, clients must tolerate it.
//! - Job logs: 302 to a short-lived plain-text URL (OpenAPI operation text:
//!   "expires after 1 minute"); lines `2026-12-02T05:00:01.1234567Z text`, the
//!   first one preceded by a UTF-8 BOM (makoni/actioneer-gtk PR #13); steps
//!   `Set up job` … `Complete job` (cli/cli PR #11172 log listing); a job that
//!   never ran has no log (`log not found` in the read-back above).
//! - `auto_inactive` (default true): a new `success` adds `inactive` to earlier
//!   non-transient deployments to the same environment whose state was
//!   `success` (OpenAPI parameter text as generated in octorust/openapi-github;
//!   the production exception needed a preview media type, now the default).
//!   `409 Conflict: Commit status checks failed for <ref>.`:
//!   /work/shared/reference/providers.md section 4.
//! - Secrets: sealed boxes (libsodium `crypto_box_seal`) to the environment's
//!   public key, 201 created / 204 updated; names are upper-cased as GitHub
//!   has done since 2020 (galaxyproject/tools-iuc #3325, pypa PR #52); the
//!   422 `Bad request - validation failed due to an improperly encrypted secret`
//!   (integrations/terraform-provider-github #2315).
//! - Headers: `x-ratelimit-limit/-remaining/-used/-reset/-resource`, secondary
//!   limits with `retry-after`, `github-authentication-token-expiration`,
//!   `X-GitHub-Api-Version` (2022-11-28 default, 2026-03-10 added: changelog
//!   2026-03-12) and its 400 for an unknown version (expipiplus1/update-nix-fetchgit
//!   #79), the 403 for a missing `User-Agent` (docs.github.com, "User agent
//!   required"): providers.md section 4 and the docs.
//!
//! Choices made without evidence (say so if a test depends on them):
//! - A job log for a job that is `in_progress` is served with the lines so far;
//!   queued, waiting, skipped, rejected and never-started cancelled jobs → 404.
//! - Cancel takes effect at the run's next tick (next poll), like GitHub's
//!   asynchronous cancel: the running step → `cancelled`, its later steps →
//!   `skipped`, every unfinished job → `cancelled`, its deployment → `failure`.
//! - Reviewing an environment that is not waiting → 422 `No pending deployment
//!   requests to approve or reject`; a reviewer the fake was told cannot
//!   approve → 422 `User is not a required reviewer for this environment`.
//! - Wrong `key_id` answers the same 422 as an undecryptable value. An
//!   unparsable `created` filter matches nothing. `auto_merge` is recorded but
//!   never merges. A 40-hex `ref` is accepted by create-deployment as is.
//! - Deployments of an `environment:` job model a deploy workflow that creates
//!   its deployment with its dispatch inputs as `payload` and the `sha` input
//!   (when non-empty, else the run's head sha) as `sha`; task `deploy`, ref the
//!   dispatched branch/tag, creator the actor. Statuses: (`waiting` while a
//!   review is pending), `queued`, `in_progress`, then `success` (with the
//!   environment's `url` as `environment_url`) or `failure`.
//! - Job logs live on a second listener ([`GithubFake::blob_base`], another
//!   origin, like GitHub's blob host) unless [`GithubFake::set_blob_same_origin`].
//!
//! Run lifecycle (deterministic, no wall clock): a dispatch creates a run
//! `queued` (created_at = the real current second, so `created>=` filters with
//! a wall-clock time work); every GET of it, of its jobs, of one of its jobs,
//! or of a runs page that lists it is one poll, and every
//! [`FakeState::polls_per_step`] polls it ticks once: queued → in_progress;
//! then per job: start (or `waiting` for a protected environment), one step
//! per tick (`Set up job`, the scripted steps, `Complete job`), jobs one after
//! another. Each tick moves the run's fake clock by [`FakeState::step_secs`].
//! A scripted failing step fails its job and run; later jobs are `skipped`.
#![allow(dead_code)]
// Handlers return early with a ready response; boxing it buys nothing in a test fake.
#![allow(clippy::result_large_err)]

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use crypto_box::SecretKey;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

const DOCS: &str = "https://docs.github.com/rest";
const DOCS_DISPATCH: &str =
    "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
const DOCS_RUNS: &str = "https://docs.github.com/rest/actions/workflow-runs";
const DOCS_DEPLOY: &str = "https://docs.github.com/rest/deployments/deployments";
const DOCS_STATUSES: &str = "https://docs.github.com/rest/deployments/statuses";
const DOCS_SECRETS: &str = "https://docs.github.com/rest/actions/secrets";
const DOCS_RATE: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const DOCS_SECONDARY: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
/// The API versions the fake accepts in `X-GitHub-Api-Version`.
pub const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];
const IMPROPER_SECRET: &str =
    "Bad request - validation failed due to an improperly encrypted secret";

const REPO_BASE: u64 = 700_000_000;
const WORKFLOW_BASE: u64 = 161_000_000;
const RUN_BASE: u64 = 19_000_000_000;
const JOB_BASE: u64 = 53_000_000_000;
const SUITE_BASE: u64 = 38_000_000_000;
const DEPLOYMENT_BASE: u64 = 3_100_000_000;
const STATUS_BASE: u64 = 6_400_000_000;
const ENV_BASE: u64 = 4_100_000_000;

// ---------------------------------------------------------------------------
// Scripted faults
// ---------------------------------------------------------------------------

/// A scripted misbehaviour for requests matching `method` and `path_contains`
/// (matched against path and query). API requests are faulted only once they
/// carry the right token; a faulted request never reaches a handler.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only this method (None = any).
    pub method: Option<Method>,
    /// Substring of the path (and query) to match.
    pub path_contains: String,
    /// How many matching requests it affects (`usize::MAX` = always).
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault for `times` matching requests.
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

    /// A token without the permission for a route family, for good:
    /// 403 `Resource not accessible by personal access token`.
    pub fn forbidden(method: Option<Method>, path_contains: &str) -> Fault {
        Fault::new(
            method,
            path_contains,
            usize::MAX,
            FaultKind::Forbidden("Resource not accessible by personal access token".into()),
        )
    }
}

/// What a fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// This status with this body (JSON when it starts with `{`/`[`, else HTML).
    Status(u16, String),
    /// 403 secondary rate limit with `retry-after`.
    SecondaryRateLimit {
        /// Seconds in `retry-after`.
        retry_after_secs: u64,
    },
    /// 429 secondary rate limit with `retry-after`.
    SecondaryRateLimit429 {
        /// Seconds in `retry-after`.
        retry_after_secs: u64,
    },
    /// 403 primary limit: `x-ratelimit-remaining: 0`, reset in this many seconds.
    PrimaryRateLimit {
        /// Seconds until `x-ratelimit-reset`.
        reset_in_secs: u64,
    },
    /// 403 with this message (a permission the token lacks).
    Forbidden(String),
    /// Sleep, then answer normally (for client timeouts).
    Delay(Duration),
    /// 200 headers and half a JSON body, then the connection drops.
    TruncatedBody,
}

impl FaultKind {
    /// GitHub's HTML "Unicorn!" 502 page.
    pub fn unicorn_502() -> FaultKind {
        FaultKind::Status(
            502,
            "<!DOCTYPE html>\n<html>\n<head><title>Unicorn! &middot; GitHub</title></head>\n\
<body>\n<div class=\"container\">\n<p><strong>We couldn't respond to your request in time.</strong></p>\n\
<p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>\n\
</div>\n</body>\n</html>\n"
                .into(),
        )
    }
}

// ---------------------------------------------------------------------------
// Model: setup
// ---------------------------------------------------------------------------

/// A GitHub account as the fake renders it (`simple-user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// `login`.
    pub login: String,
    /// Numeric `id`.
    pub id: u64,
    /// Display name (`GET /user`).
    pub name: Option<String>,
    /// `type`: `User`, `Bot` or `Organization`.
    pub kind: String,
}

impl FakeUser {
    /// A `User` account.
    pub fn user(login: &str, id: u64) -> FakeUser {
        FakeUser {
            login: login.to_string(),
            id,
            name: None,
            kind: "User".into(),
        }
    }
}

/// A `workflow_dispatch` input declared by a workflow.
#[derive(Debug, Clone)]
pub struct FakeInput {
    /// Input name.
    pub name: String,
    /// `required: true`.
    pub required: bool,
    /// `default:` (used when the input is omitted).
    pub default: Option<String>,
}

/// One job of a scripted workflow.
#[derive(Debug, Clone)]
pub struct FakeJob {
    /// Job name.
    pub name: String,
    /// Step names between `Set up job` and `Complete job`.
    pub steps: Vec<String>,
    /// `environment:` (may use `{inputs.X}` or `${{ inputs.X }}`).
    pub environment: Option<String>,
    /// `runs-on` labels.
    pub labels: Vec<String>,
    /// Extra log lines per step (templated like the environment).
    pub step_logs: BTreeMap<String, Vec<String>>,
}

impl FakeJob {
    /// A job with no steps yet, on `ubuntu-latest`.
    pub fn new(name: &str) -> FakeJob {
        FakeJob {
            name: name.to_string(),
            steps: Vec::new(),
            environment: None,
            labels: vec!["ubuntu-latest".into()],
            step_logs: BTreeMap::new(),
        }
    }

    /// Its steps, in order.
    pub fn steps(mut self, steps: &[&str]) -> FakeJob {
        self.steps = steps.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Deploys to this environment (template allowed).
    pub fn environment(mut self, env: &str) -> FakeJob {
        self.environment = Some(env.to_string());
        self
    }

    /// `runs-on` label.
    pub fn runs_on(mut self, label: &str) -> FakeJob {
        self.labels = vec![label.to_string()];
        self
    }

    /// A log line the step prints (template allowed).
    pub fn step_log(mut self, step: &str, line: &str) -> FakeJob {
        self.step_logs
            .entry(step.to_string())
            .or_default()
            .push(line.to_string());
        self
    }
}

/// A workflow file. Build with [`FakeWorkflow::dispatchable`].
#[derive(Debug, Clone)]
pub struct FakeWorkflow {
    /// Assigned by [`GithubFake::add_workflow`].
    pub id: u64,
    /// File name, e.g. `deploy.yml`.
    pub file: String,
    /// `name:`.
    pub name: String,
    /// Has an `on: workflow_dispatch` trigger.
    pub dispatchable: bool,
    /// Declared dispatch inputs.
    pub inputs: Vec<FakeInput>,
    /// Jobs, run one after another.
    pub jobs: Vec<FakeJob>,
    /// `run-name:` template (the run's `display_title`).
    pub run_name: Option<String>,
    /// `state` (`active`).
    pub state: String,
    /// Runs started so far (the next `run_number` is this + 1).
    pub runs_started: u64,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
}

impl FakeWorkflow {
    /// A workflow with `on: workflow_dispatch`.
    pub fn dispatchable(file: &str, name: &str) -> FakeWorkflow {
        let file = file.rsplit('/').next().unwrap_or(file).to_string();
        FakeWorkflow {
            id: 0,
            file,
            name: name.to_string(),
            dispatchable: true,
            inputs: Vec::new(),
            jobs: Vec::new(),
            run_name: None,
            state: "active".into(),
            runs_started: 0,
            created_at: now_secs() - chrono::Duration::days(90),
        }
    }

    /// A workflow without a `workflow_dispatch` trigger (dispatch → 422).
    pub fn push_only(file: &str, name: &str) -> FakeWorkflow {
        let mut w = FakeWorkflow::dispatchable(file, name);
        w.dispatchable = false;
        w
    }

    /// Declare an input.
    pub fn input(mut self, name: &str, required: bool) -> FakeWorkflow {
        self.inputs.push(FakeInput {
            name: name.to_string(),
            required,
            default: None,
        });
        self
    }

    /// Declare an optional input with a default.
    pub fn input_with_default(mut self, name: &str, default: &str) -> FakeWorkflow {
        self.inputs.push(FakeInput {
            name: name.to_string(),
            required: false,
            default: Some(default.to_string()),
        });
        self
    }

    /// Add a job.
    pub fn job(mut self, job: FakeJob) -> FakeWorkflow {
        self.jobs.push(job);
        self
    }

    /// `run-name:` template, e.g. `Deploy {inputs.image} to {inputs.environment}`.
    pub fn run_name(mut self, template: &str) -> FakeWorkflow {
        self.run_name = Some(template.to_string());
        self
    }

    /// `.github/workflows/<file>`.
    pub fn path(&self) -> String {
        format!(".github/workflows/{}", self.file)
    }
}

/// A required reviewer of an environment.
#[derive(Debug, Clone)]
pub struct FakeReviewer {
    /// `User` or `Team`.
    pub kind: String,
    /// Login (user) or slug (team).
    pub login: String,
    /// Numeric id.
    pub id: u64,
}

/// A stored secret (the plaintext, after the fake unsealed it).
#[derive(Debug, Clone)]
pub struct FakeSecret {
    /// Plaintext value.
    pub value: String,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
}

/// A deployment environment. Build with [`FakeEnvironment::new`].
#[derive(Debug, Clone)]
pub struct FakeEnvironment {
    /// Assigned when added.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Required reviewers (a job waits for review when non-empty).
    pub reviewers: Vec<FakeReviewer>,
    /// Wait timer in minutes (reported only; it never blocks).
    pub wait_timer: u32,
    /// `deployment_branch_policy` (protected_branches, custom_branch_policies).
    pub branch_policy: Option<(bool, bool)>,
    /// `environment_url` of successful deployments.
    pub url: Option<String>,
    /// Secrets by (upper-case) name.
    pub secrets: BTreeMap<String, FakeSecret>,
    /// Variables by (upper-case) name.
    pub variables: BTreeMap<String, FakeSecret>,
    /// `key_id` of the current public key.
    pub key_id: String,
    secret_key: SecretKey,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
}

impl FakeEnvironment {
    /// An unprotected environment.
    pub fn new(name: &str) -> FakeEnvironment {
        let t = now_secs() - chrono::Duration::days(60);
        let (secret_key, key_id) = fresh_key(name);
        FakeEnvironment {
            id: 0,
            name: name.to_string(),
            reviewers: Vec::new(),
            wait_timer: 0,
            branch_policy: None,
            url: None,
            secrets: BTreeMap::new(),
            variables: BTreeMap::new(),
            key_id,
            secret_key,
            created_at: t,
            updated_at: t,
        }
    }

    /// Required reviewers (users).
    pub fn required_reviewers(mut self, logins: &[&str]) -> FakeEnvironment {
        for l in logins {
            self.reviewers.push(FakeReviewer {
                kind: "User".into(),
                login: l.to_string(),
                id: small_id(l),
            });
        }
        self
    }

    /// Required reviewers (teams, by slug).
    pub fn team_reviewers(mut self, slugs: &[&str]) -> FakeEnvironment {
        for t in slugs {
            self.reviewers.push(FakeReviewer {
                kind: "Team".into(),
                login: t.to_string(),
                id: small_id(t),
            });
        }
        self
    }

    /// A wait timer (minutes).
    pub fn wait_timer(mut self, minutes: u32) -> FakeEnvironment {
        self.wait_timer = minutes;
        self
    }

    /// Deployments only from protected branches.
    pub fn protected_branches_only(mut self) -> FakeEnvironment {
        self.branch_policy = Some((true, false));
        self
    }

    /// The URL successful deployments report as `environment_url`.
    pub fn url(mut self, url: &str) -> FakeEnvironment {
        self.url = Some(url.to_string());
        self
    }

    /// A pre-existing secret.
    pub fn secret(mut self, name: &str, value: &str) -> FakeEnvironment {
        let t = self.created_at;
        self.secrets.insert(
            name.to_ascii_uppercase(),
            FakeSecret {
                value: value.to_string(),
                created_at: t,
                updated_at: t,
            },
        );
        self
    }

    /// A variable.
    pub fn variable(mut self, name: &str, value: &str) -> FakeEnvironment {
        let t = self.created_at;
        self.variables.insert(
            name.to_ascii_uppercase(),
            FakeSecret {
                value: value.to_string(),
                created_at: t,
                updated_at: t,
            },
        );
        self
    }

    /// The raw 32-byte public key secrets must be sealed to.
    pub fn public_key(&self) -> [u8; 32] {
        *self.secret_key.public_key().as_bytes()
    }
}

/// A scripted step failure for the next dispatch of a workflow.
#[derive(Debug, Clone)]
pub struct ScriptedFailure {
    /// Workflow file name.
    pub workflow: String,
    /// Job name.
    pub job: String,
    /// Step name.
    pub step: String,
    /// Text the step prints before `##[error]Process completed with exit code 1.`
    pub text: String,
}

/// One repository.
#[derive(Debug, Clone)]
pub struct FakeRepo {
    /// Numeric id.
    pub id: u64,
    /// Owner account.
    pub owner: FakeUser,
    /// Repository name.
    pub name: String,
    /// Default branch.
    pub default_branch: String,
    /// `private`.
    pub private: bool,
    /// Branch → sha.
    pub branches: BTreeMap<String, String>,
    /// Tag → sha.
    pub tags: BTreeMap<String, String>,
    /// Workflow files.
    pub workflows: Vec<FakeWorkflow>,
    /// Environments.
    pub environments: Vec<FakeEnvironment>,
    /// Commit-status contexts that are failing (create-deployment → 409).
    pub failing_contexts: Vec<String>,
    /// Failures for coming dispatches.
    pub pending_failures: Vec<ScriptedFailure>,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
}

impl FakeRepo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner.login, self.name)
    }

    fn env(&self, name: &str) -> Option<&FakeEnvironment> {
        self.environments
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }

    fn env_mut(&mut self, name: &str) -> Option<&mut FakeEnvironment> {
        self.environments
            .iter_mut()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

// ---------------------------------------------------------------------------
// Model: what happens
// ---------------------------------------------------------------------------

/// One step of a job.
#[derive(Debug, Clone)]
pub struct FakeStep {
    /// Step name.
    pub name: String,
    /// 1-based `number`.
    pub number: u32,
    /// `queued`, `in_progress`, `completed`.
    pub status: String,
    /// `success`, `failure`, `skipped`, `cancelled` once completed.
    pub conclusion: Option<String>,
    /// `started_at`.
    pub started_at: Option<DateTime<Utc>>,
    /// `completed_at`.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The failure a job was scripted with.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// Step that fails.
    pub step: String,
    /// What it prints.
    pub text: String,
}

/// One job of a run.
#[derive(Debug, Clone)]
pub struct FakeRunJob {
    /// Job id (also its check-run id).
    pub id: u64,
    /// Job name.
    pub name: String,
    /// `queued`, `waiting`, `in_progress`, `completed`.
    pub status: String,
    /// `success`, `failure`, `cancelled`, `skipped` once completed.
    pub conclusion: Option<String>,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `started_at` (None while queued).
    pub started_at: Option<DateTime<Utc>>,
    /// `completed_at`.
    pub completed_at: Option<DateTime<Utc>>,
    /// Steps (empty until the job starts; empty for jobs that never ran).
    pub steps: Vec<FakeStep>,
    /// Scripted step names.
    pub step_names: Vec<String>,
    /// Extra log lines per step.
    pub step_logs: BTreeMap<String, Vec<String>>,
    /// Resolved environment.
    pub environment: Option<String>,
    /// The deployment this job made.
    pub deployment_id: Option<u64>,
    /// A reviewer approved it.
    pub approved: bool,
    /// When it started waiting for review.
    pub wait_started_at: Option<DateTime<Utc>>,
    /// Runner once started.
    pub runner_name: Option<String>,
    /// Runner id once started.
    pub runner_id: Option<u64>,
    /// `labels`.
    pub labels: Vec<String>,
    /// Scripted failure.
    pub failure: Option<StepFailure>,
}

/// One workflow run.
#[derive(Debug, Clone)]
pub struct FakeRun {
    /// Run id.
    pub id: u64,
    /// `owner/name` as added.
    pub repo: String,
    /// Lower-cased `owner/name`.
    pub repo_key: String,
    /// `workflow_id`.
    pub workflow_id: u64,
    /// `name` (the workflow's name).
    pub workflow_name: String,
    /// `path`.
    pub workflow_path: String,
    /// `display_title`.
    pub display_title: String,
    /// `run_number`.
    pub run_number: u64,
    /// `run_attempt`.
    pub run_attempt: u32,
    /// `event`.
    pub event: String,
    /// `queued`, `in_progress`, `waiting`, `completed`.
    pub status: String,
    /// Conclusion once completed.
    pub conclusion: Option<String>,
    /// `head_branch` (the branch or tag dispatched).
    pub head_branch: String,
    /// `head_sha`.
    pub head_sha: String,
    /// The `ref` as the client sent it.
    pub dispatch_ref: String,
    /// Inputs with defaults filled in (all strings).
    pub inputs: Map<String, Value>,
    /// `actor` and `triggering_actor`.
    pub actor: FakeUser,
    /// `created_at` (real time, whole seconds).
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
    /// `run_started_at` once started.
    pub run_started_at: Option<DateTime<Utc>>,
    /// Jobs in order.
    pub jobs: Vec<FakeRunJob>,
    /// Polls since the last tick.
    pub polls: u32,
    /// The run's fake clock.
    pub clock: DateTime<Utc>,
    /// A cancel was accepted; applied at the next tick.
    pub cancel_requested: bool,
    /// List requests that will still not show it.
    pub hidden_lists: u32,
    /// `check_suite_id`.
    pub check_suite_id: u64,
}

impl FakeRun {
    /// The job with this name.
    pub fn job(&self, name: &str) -> Option<&FakeRunJob> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// One deployment status.
#[derive(Debug, Clone)]
pub struct FakeDeploymentStatus {
    /// Status id.
    pub id: u64,
    /// `state`.
    pub state: String,
    /// `description`.
    pub description: String,
    /// `environment`.
    pub environment: String,
    /// `target_url`.
    pub target_url: String,
    /// `log_url`.
    pub log_url: String,
    /// `environment_url`.
    pub environment_url: String,
    /// `creator`.
    pub creator: FakeUser,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
}

/// One deployment.
#[derive(Debug, Clone)]
pub struct FakeDeployment {
    /// Deployment id.
    pub id: u64,
    /// `owner/name`.
    pub repo: String,
    /// Lower-cased `owner/name`.
    pub repo_key: String,
    /// `sha`.
    pub sha: String,
    /// `ref`.
    pub git_ref: String,
    /// `task`.
    pub task: String,
    /// `payload`.
    pub payload: Value,
    /// `original_environment`.
    pub original_environment: String,
    /// `environment`.
    pub environment: String,
    /// `description` (null for workflow-made deployments).
    pub description: Option<String>,
    /// `creator`.
    pub creator: FakeUser,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
    /// `production_environment`.
    pub production_environment: bool,
    /// `transient_environment`.
    pub transient_environment: bool,
    /// `auto_merge` as requested.
    pub auto_merge: bool,
    /// Statuses, oldest first.
    pub statuses: Vec<FakeDeploymentStatus>,
    /// The run that made it, if any.
    pub run_id: Option<u64>,
}

impl FakeDeployment {
    /// The latest status's state.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().map(|s| s.state.as_str())
    }
}

/// A review sent to `pending_deployments`.
#[derive(Debug, Clone)]
pub struct FakeReview {
    /// Run id.
    pub run_id: u64,
    /// Environment names.
    pub environments: Vec<String>,
    /// `approved` or `rejected`.
    pub state: String,
    /// `comment`.
    pub comment: String,
    /// Reviewer login.
    pub user: String,
}

/// What the request's `Authorization` header was (the token is never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSeen {
    /// No header.
    Missing,
    /// `Bearer <token>` or `token <token>` with the configured token.
    Matched,
    /// Right scheme, another token.
    WrongToken,
    /// Some other scheme.
    OtherScheme,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// When it arrived.
    pub at: Instant,
    /// Authorization as seen.
    pub auth: AuthSeen,
    /// `X-GitHub-Api-Version` as sent.
    pub api_version: Option<String>,
    /// `Accept` as sent.
    pub accept: Option<String>,
    /// `User-Agent` as sent.
    pub user_agent: Option<String>,
    /// The answer's status (0 while in flight).
    pub status: u16,
}

impl Hit {
    /// A request to the blob host rather than the API.
    pub fn is_blob(&self) -> bool {
        self.path.starts_with("/_blob/")
    }
}

/// One fetch of a job-log blob.
#[derive(Debug, Clone)]
pub struct BlobFetch {
    /// Job id in the URL.
    pub job_id: u64,
    /// It carried an `Authorization` header (a leaked token).
    pub with_auth: bool,
    /// The answer's status.
    pub status: u16,
}

/// How the dispatch endpoint treats `return_run_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchMode {
    /// Today's github.com: 200 with run details when asked, else 204.
    Details,
    /// An older server that ignores the flag: always 204.
    Always204,
    /// An older server (GHES) that rejects the key: 422.
    RejectParam,
}

/// Everything the fake knows.
#[derive(Debug)]
pub struct FakeState {
    token: String,
    /// API base URL.
    pub base: String,
    /// Blob host base URL.
    pub blob_base: String,
    /// The token's user (`GET /user`, run actor, deployment creator).
    pub identity: FakeUser,
    /// `github-authentication-token-expiration` (fine-grained PAT).
    pub token_expiration: Option<String>,
    /// `x-oauth-scopes` (classic PAT).
    pub oauth_scopes: Option<String>,
    /// `x-ratelimit-limit`.
    pub rate_limit: u64,
    /// `x-ratelimit-remaining` (0 → every request 403s until raised).
    pub rate_remaining: u64,
    /// `x-ratelimit-reset` (epoch seconds).
    pub rate_reset: i64,
    /// Repositories by lower-cased `owner/name`.
    pub repos: BTreeMap<String, FakeRepo>,
    /// Runs, oldest first.
    pub runs: Vec<FakeRun>,
    /// Deployments, oldest first.
    pub deployments: Vec<FakeDeployment>,
    /// Scripted faults.
    pub faults: Vec<Fault>,
    /// Every request.
    pub hits: Vec<Hit>,
    /// (repo, body) of accepted dispatches.
    pub dispatches: Vec<(String, Value)>,
    /// Reviews of pending deployments.
    pub reviews: Vec<FakeReview>,
    /// Job-log blob fetches.
    pub blob_fetches: Vec<BlobFetch>,
    /// Polls per tick (min 1; default 1).
    pub polls_per_step: u32,
    /// Fake-clock seconds per tick (default 7).
    pub step_secs: i64,
    /// Dispatch behaviour.
    pub dispatch_mode: DispatchMode,
    /// A new run is missing from this many list requests.
    pub dispatch_list_lag: u32,
    /// `current_user_can_approve`.
    pub current_user_can_approve: bool,
    /// Requests without `User-Agent` get 403 (default true).
    pub require_user_agent: bool,
    /// Job-log redirects point at the API origin instead of the blob origin.
    pub blob_same_origin: bool,
    blob_epoch: u64,
    next_id: u64,
    served: u64,
}

impl FakeState {
    fn new(token: &str) -> FakeState {
        FakeState {
            token: token.to_string(),
            base: String::new(),
            blob_base: String::new(),
            identity: FakeUser {
                login: "octocat".into(),
                id: 583231,
                name: Some("The Octocat".into()),
                kind: "User".into(),
            },
            token_expiration: None,
            oauth_scopes: None,
            rate_limit: 5000,
            rate_remaining: 5000,
            rate_reset: Utc::now().timestamp() + 3600,
            repos: BTreeMap::new(),
            runs: Vec::new(),
            deployments: Vec::new(),
            faults: Vec::new(),
            hits: Vec::new(),
            dispatches: Vec::new(),
            reviews: Vec::new(),
            blob_fetches: Vec::new(),
            polls_per_step: 1,
            step_secs: 7,
            dispatch_mode: DispatchMode::Details,
            dispatch_list_lag: 0,
            current_user_can_approve: true,
            require_user_agent: true,
            blob_same_origin: false,
            blob_epoch: 0,
            next_id: 0,
            served: 0,
        }
    }

    fn alloc(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

type Shared = Arc<Mutex<FakeState>>;
type St = State<Shared>;

// ---------------------------------------------------------------------------
// The running fake
// ---------------------------------------------------------------------------

/// A running fake GitHub. Dropping it stops the servers.
pub struct GithubFake {
    /// `http://127.0.0.1:PORT`: the API (same paths as api.github.com).
    pub base: String,
    /// `http://127.0.0.1:PORT2`: the blob host job-log redirects point at.
    pub blob_base: String,
    /// The shared state.
    pub state: Shared,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
}

impl Drop for GithubFake {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

async fn wait_shutdown(mut rx: tokio::sync::watch::Receiver<bool>) {
    loop {
        let stop = *rx.borrow_and_update();
        if stop || rx.changed().await.is_err() {
            break;
        }
    }
}

impl GithubFake {
    /// Start on 127.0.0.1 (two ports) on the current tokio runtime, accepting
    /// `Authorization: Bearer {token}` or `token {token}`.
    pub async fn start(token: &str) -> GithubFake {
        let state = Arc::new(Mutex::new(FakeState::new(token)));
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let blob = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr: SocketAddr = api.local_addr().unwrap();
        let blob_addr: SocketAddr = blob.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let app = router(state.clone());
        for listener in [api, blob] {
            let app = app.clone();
            let rx = rx.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(wait_shutdown(rx))
                    .await;
            });
        }
        GithubFake::finish_start(state, api_addr, blob_addr, tx)
    }

    /// Start on its own thread and runtime (for tests that run the real
    /// binary from synchronous code).
    pub fn start_in_thread(token: &str) -> GithubFake {
        let state = Arc::new(Mutex::new(FakeState::new(token)));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<(SocketAddr, SocketAddr)>();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let app = router(state.clone());
        std::thread::Builder::new()
            .name("github-fake".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("github fake runtime");
                rt.block_on(async move {
                    let api = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("github fake bind");
                    let blob = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("github fake blob bind");
                    let addrs = (
                        api.local_addr().expect("github fake addr"),
                        blob.local_addr().expect("github fake blob addr"),
                    );
                    let _ = addr_tx.send(addrs);
                    let a = {
                        let app = app.clone();
                        let rx = rx.clone();
                        async move {
                            let _ = axum::serve(api, app)
                                .with_graceful_shutdown(wait_shutdown(rx))
                                .await;
                        }
                    };
                    let b = async move {
                        let _ = axum::serve(blob, app)
                            .with_graceful_shutdown(wait_shutdown(rx))
                            .await;
                    };
                    tokio::join!(a, b);
                });
            })
            .expect("github fake thread");
        let (api_addr, blob_addr) = addr_rx.recv().expect("github fake started");
        GithubFake::finish_start(state, api_addr, blob_addr, tx)
    }

    fn finish_start(
        state: Shared,
        api: SocketAddr,
        blob: SocketAddr,
        tx: tokio::sync::watch::Sender<bool>,
    ) -> GithubFake {
        let base = format!("http://{api}");
        let blob_base = format!("http://{blob}");
        {
            let mut s = state.lock().unwrap();
            s.base = base.clone();
            s.blob_base = blob_base.clone();
        }
        GithubFake {
            base,
            blob_base,
            state,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT` (no `/api/v3` prefix).
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// Lock the state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    // --- setup -------------------------------------------------------------

    /// Add a repository `owner/name` (default branch `main` at a fixed sha).
    pub fn add_repo(&self, full_name: &str) {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let key = full_name.to_ascii_lowercase();
        if s.repos.contains_key(&key) {
            return;
        }
        let (owner, name) = full_name.split_once('/').unwrap_or(("acme", full_name));
        let id = REPO_BASE + s.alloc();
        let kind = if owner.eq_ignore_ascii_case(&s.identity.login) {
            "User"
        } else {
            "Organization"
        };
        let mut branches = BTreeMap::new();
        branches.insert("main".to_string(), fake_sha(&format!("{key}/main")));
        let repo = FakeRepo {
            id,
            owner: FakeUser {
                login: owner.to_string(),
                id: small_id(owner),
                name: None,
                kind: kind.into(),
            },
            name: name.to_string(),
            default_branch: "main".into(),
            private: true,
            branches,
            tags: BTreeMap::new(),
            workflows: Vec::new(),
            environments: Vec::new(),
            failing_contexts: Vec::new(),
            pending_failures: Vec::new(),
            created_at: now_secs() - chrono::Duration::days(365),
        };
        s.repos.insert(key, repo);
    }

    /// Set a branch head (creates the branch).
    pub fn set_ref(&self, repo: &str, branch: &str, sha: &str) {
        self.with_repo(repo, |r| {
            r.branches.insert(branch.to_string(), sha.to_string());
        });
    }

    /// Set a tag.
    pub fn set_tag(&self, repo: &str, tag: &str, sha: &str) {
        self.with_repo(repo, |r| {
            r.tags.insert(tag.to_string(), sha.to_string());
        });
    }

    /// Change the default branch (it must have a ref).
    pub fn set_default_branch(&self, repo: &str, branch: &str) {
        self.with_repo(repo, |r| r.default_branch = branch.to_string());
    }

    /// Add a workflow file; returns its id.
    pub fn add_workflow(&self, repo: &str, mut workflow: FakeWorkflow) -> u64 {
        let id = WORKFLOW_BASE + self.state().alloc();
        workflow.id = id;
        self.with_repo(repo, move |r| {
            r.workflows.retain(|w| w.file != workflow.file);
            r.workflows.push(workflow);
        });
        id
    }

    /// The next dispatch of `workflow` fails at `step` of `job`, printing `text`.
    pub fn fail_job_step(&self, repo: &str, workflow: &str, job: &str, step: &str, text: &str) {
        let failure = ScriptedFailure {
            workflow: workflow.rsplit('/').next().unwrap_or(workflow).to_string(),
            job: job.to_string(),
            step: step.to_string(),
            text: text.to_string(),
        };
        self.with_repo(repo, move |r| r.pending_failures.push(failure));
    }

    /// Add (or replace) an environment; returns its id.
    pub fn add_environment(&self, repo: &str, mut env: FakeEnvironment) -> u64 {
        let id = ENV_BASE + self.state().alloc();
        env.id = id;
        self.with_repo(repo, move |r| {
            r.environments
                .retain(|e| !e.name.eq_ignore_ascii_case(&env.name));
            r.environments.push(env);
        });
        id
    }

    /// Commit-status contexts that fail (create-deployment checks them → 409).
    pub fn set_failing_contexts(&self, repo: &str, contexts: &[&str]) {
        let list: Vec<String> = contexts.iter().map(|c| c.to_string()).collect();
        self.with_repo(repo, move |r| r.failing_contexts = list);
    }

    /// Seed a secret (plaintext) in an environment.
    pub fn set_secret(&self, repo: &str, env: &str, name: &str, value: &str) {
        let t = now_secs();
        self.with_env(repo, env, |e| {
            e.secrets.insert(
                name.to_ascii_uppercase(),
                FakeSecret {
                    value: value.to_string(),
                    created_at: t,
                    updated_at: t,
                },
            );
        });
    }

    /// Give an environment a new key pair (old `key_id`s stop working).
    pub fn rotate_environment_key(&self, repo: &str, env: &str) {
        self.with_env(repo, env, |e| {
            let (sk, id) = fresh_key(&e.name);
            e.secret_key = sk;
            e.key_id = id;
        });
    }

    /// Seed a finished deployment made through the API (history); returns its id.
    pub fn push_deployment(&self, repo: &str, env: &str, sha: &str, state: &str) -> u64 {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let key = repo.to_ascii_lowercase();
        let Some(r) = s.repos.get(&key) else {
            panic!("the fake has no repo {repo}");
        };
        let (full, branch) = (r.full_name(), r.default_branch.clone());
        let env = ensure_environment(s, &key, env);
        let n = s.alloc();
        let id = DEPLOYMENT_BASE + n;
        let t = now_secs() - chrono::Duration::days(1) + chrono::Duration::seconds(n as i64);
        let production = env.eq_ignore_ascii_case("production");
        let creator = s.identity.clone();
        s.deployments.push(FakeDeployment {
            id,
            repo: full,
            repo_key: key,
            sha: sha.to_string(),
            git_ref: branch,
            task: "deploy".into(),
            payload: json!({}),
            original_environment: env.clone(),
            environment: env,
            description: Some(String::new()),
            creator,
            created_at: t,
            updated_at: t,
            production_environment: production,
            transient_environment: false,
            auto_merge: false,
            statuses: Vec::new(),
            run_id: None,
        });
        if !state.is_empty() {
            let extra = StatusExtra {
                auto_inactive: true,
                ..StatusExtra::default()
            };
            add_status(s, id, state, t, extra);
        }
        id
    }

    /// Script a fault.
    pub fn fault(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Drop every scripted fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Polls per tick (min 1).
    pub fn set_polls_per_step(&self, n: u32) {
        self.state().polls_per_step = n.max(1);
    }

    /// true: honour `return_run_details` (200); false: always 204.
    pub fn set_dispatch_details(&self, on: bool) {
        self.state().dispatch_mode = if on {
            DispatchMode::Details
        } else {
            DispatchMode::Always204
        };
    }

    /// Set the dispatch behaviour.
    pub fn set_dispatch_mode(&self, mode: DispatchMode) {
        self.state().dispatch_mode = mode;
    }

    /// A new run is missing from the next `n` run-list requests.
    pub fn set_dispatch_list_lag(&self, n: u32) {
        self.state().dispatch_list_lag = n;
    }

    /// The token's user.
    pub fn set_identity(&self, login: &str, id: u64, name: Option<&str>) {
        self.state().identity = FakeUser {
            login: login.to_string(),
            id,
            name: name.map(str::to_string),
            kind: "User".into(),
        };
    }

    /// `github-authentication-token-expiration`, e.g. `2027-01-31 00:00:00 UTC`.
    pub fn set_token_expiration(&self, at: Option<&str>) {
        self.state().token_expiration = at.map(str::to_string);
    }

    /// `x-oauth-scopes` (a classic PAT), e.g. `repo, workflow`.
    pub fn set_oauth_scopes(&self, scopes: Option<&str>) {
        self.state().oauth_scopes = scopes.map(str::to_string);
    }

    /// `x-ratelimit-remaining` from now on (0 → 403 primary limit).
    pub fn set_rate_limit_remaining(&self, n: u64) {
        self.state().rate_remaining = n;
    }

    /// `current_user_can_approve` (false → review POSTs 422).
    pub fn set_current_user_can_approve(&self, on: bool) {
        self.state().current_user_can_approve = on;
    }

    /// Whether requests without `User-Agent` get 403 (default true).
    pub fn set_require_user_agent(&self, on: bool) {
        self.state().require_user_agent = on;
    }

    /// Job-log redirects point at the API origin (stricter than GitHub:
    /// clients that rely on cross-origin header stripping leak the token).
    pub fn set_blob_same_origin(&self, on: bool) {
        self.state().blob_same_origin = on;
    }

    /// Every job-log URL handed out so far expires (→ 403 from the blob host).
    pub fn expire_blob_links(&self) {
        self.state().blob_epoch += 1;
    }

    // --- driving -----------------------------------------------------------

    /// Dispatch without HTTP (same validation); returns the run id.
    pub fn dispatch(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: Value,
    ) -> Result<u64, String> {
        let body = json!({"ref": git_ref, "inputs": inputs});
        let mut guard = self.state();
        dispatch_core(&mut guard, &repo.to_ascii_lowercase(), workflow, &body).map_err(|(_, m)| m)
    }

    /// One tick of the run, whatever the polls.
    pub fn advance_run(&self, run_id: u64) {
        tick(&mut self.state(), run_id);
    }

    /// Tick until the run completes or waits for a review.
    pub fn complete_run(&self, run_id: u64) {
        let mut guard = self.state();
        for _ in 0..10_000 {
            let Some(r) = guard.runs.iter().find(|r| r.id == run_id) else {
                return;
            };
            if r.status == "completed" || (r.status == "waiting" && !r.cancel_requested) {
                return;
            }
            tick(&mut guard, run_id);
        }
    }

    /// Approve every waiting environment of the run (as another reviewer).
    pub fn approve_pending(&self, run_id: u64) {
        self.review_all(run_id, true);
    }

    /// Reject every waiting environment of the run (as another reviewer).
    pub fn reject_pending(&self, run_id: u64) {
        self.review_all(run_id, false);
    }

    fn review_all(&self, run_id: u64, approve: bool) {
        let mut guard = self.state();
        let s: &mut FakeState = &mut guard;
        let Some(run) = s.runs.iter().find(|r| r.id == run_id) else {
            return;
        };
        let key = run.repo_key.clone();
        let names: Vec<String> = run
            .jobs
            .iter()
            .filter(|j| j.status == "waiting")
            .filter_map(|j| j.environment.clone())
            .collect();
        let ids: Vec<u64> = names
            .iter()
            .filter_map(|n| s.repos.get(&key).and_then(|r| r.env(n)).map(|e| e.id))
            .collect();
        let _ = review_run(s, run_id, &ids, approve, "", "reviewer");
    }

    // --- getters -----------------------------------------------------------

    /// Runs of a repository, newest first.
    pub fn runs(&self, repo: &str) -> Vec<FakeRun> {
        let key = repo.to_ascii_lowercase();
        let mut v: Vec<FakeRun> = self
            .state()
            .runs
            .iter()
            .filter(|r| r.repo_key == key)
            .cloned()
            .collect();
        v.sort_by_key(|r| Reverse((r.created_at, r.id)));
        v
    }

    /// One run.
    pub fn run(&self, id: u64) -> Option<FakeRun> {
        self.state().runs.iter().find(|r| r.id == id).cloned()
    }

    /// The newest run of a repository.
    pub fn latest_run(&self, repo: &str) -> Option<FakeRun> {
        self.runs(repo).into_iter().next()
    }

    /// Jobs of a run, in order.
    pub fn jobs(&self, run_id: u64) -> Vec<FakeRunJob> {
        self.run(run_id).map(|r| r.jobs).unwrap_or_default()
    }

    /// The text the blob host serves for a job (None: it has no log).
    pub fn job_log(&self, job_id: u64) -> Option<String> {
        job_log_text(&self.state(), job_id)
    }

    /// Deployments of a repository to an environment, newest first.
    pub fn deployments(&self, repo: &str, env: &str) -> Vec<FakeDeployment> {
        let key = repo.to_ascii_lowercase();
        let mut v: Vec<FakeDeployment> = self
            .state()
            .deployments
            .iter()
            .filter(|d| d.repo_key == key && d.environment.eq_ignore_ascii_case(env))
            .cloned()
            .collect();
        v.sort_by_key(|d| Reverse((d.created_at, d.id)));
        v
    }

    /// One deployment.
    pub fn deployment(&self, id: u64) -> Option<FakeDeployment> {
        self.state()
            .deployments
            .iter()
            .find(|d| d.id == id)
            .cloned()
    }

    /// Statuses of a deployment, oldest first (the API lists newest first).
    pub fn statuses(&self, deployment_id: u64) -> Vec<FakeDeploymentStatus> {
        self.deployment(deployment_id)
            .map(|d| d.statuses)
            .unwrap_or_default()
    }

    /// Status states of a deployment, oldest first.
    pub fn status_states(&self, deployment_id: u64) -> Vec<String> {
        self.statuses(deployment_id)
            .into_iter()
            .map(|s| s.state)
            .collect()
    }

    /// The plaintext of a secret (after the fake unsealed it).
    pub fn secret_value(&self, repo: &str, env: &str, name: &str) -> Option<String> {
        let s = self.state();
        let r = s.repos.get(&repo.to_ascii_lowercase())?;
        let e = r.env(env)?;
        e.secrets
            .get(&name.to_ascii_uppercase())
            .map(|x| x.value.clone())
    }

    /// Secret names of an environment, sorted.
    pub fn secret_names(&self, repo: &str, env: &str) -> Vec<String> {
        let s = self.state();
        s.repos
            .get(&repo.to_ascii_lowercase())
            .and_then(|r| r.env(env))
            .map(|e| e.secrets.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// (`key_id`, raw public key) of an environment.
    pub fn environment_public_key(&self, repo: &str, env: &str) -> Option<(String, [u8; 32])> {
        let s = self.state();
        let e = s.repos.get(&repo.to_ascii_lowercase())?.env(env)?;
        Some((e.key_id.clone(), e.public_key()))
    }

    /// Bodies of accepted dispatches to a repository, in order.
    pub fn dispatches(&self, repo: &str) -> Vec<Value> {
        let key = repo.to_ascii_lowercase();
        self.state()
            .dispatches
            .iter()
            .filter(|(r, _)| r.eq_ignore_ascii_case(&key))
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Reviews sent for a run.
    pub fn reviews(&self, run_id: u64) -> Vec<FakeReview> {
        self.state()
            .reviews
            .iter()
            .filter(|r| r.run_id == run_id)
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

    /// API requests (not blob fetches) sent without `X-GitHub-Api-Version`.
    pub fn requests_without_api_version(&self) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| !h.is_blob() && h.api_version.is_none())
            .cloned()
            .collect()
    }

    /// Every job-log blob fetch.
    pub fn blob_fetches(&self) -> Vec<BlobFetch> {
        self.state().blob_fetches.clone()
    }

    /// Blob fetches that carried an `Authorization` header.
    pub fn blob_fetches_with_auth(&self) -> usize {
        self.state()
            .blob_fetches
            .iter()
            .filter(|b| b.with_auth)
            .count()
    }

    /// A job's log was downloaded successfully.
    pub fn logs_fetched(&self, job_id: u64) -> bool {
        self.state()
            .blob_fetches
            .iter()
            .any(|b| b.job_id == job_id && b.status == 200)
    }

    /// `x-ratelimit-remaining` now.
    pub fn rate_limit_remaining(&self) -> u64 {
        self.state().rate_remaining
    }

    fn with_repo(&self, repo: &str, f: impl FnOnce(&mut FakeRepo)) {
        let mut s = self.state();
        let r = s
            .repos
            .get_mut(&repo.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("the fake has no repo {repo}"));
        f(r);
    }

    fn with_env(&self, repo: &str, env: &str, f: impl FnOnce(&mut FakeEnvironment)) {
        self.with_repo(repo, |r| {
            let e = r
                .env_mut(env)
                .unwrap_or_else(|| panic!("the fake has no environment {env} in {repo}"));
            f(e);
        });
    }
}

// ---------------------------------------------------------------------------
// Dispatch and run lifecycle
// ---------------------------------------------------------------------------

fn find_workflow<'a>(repo: &'a FakeRepo, id: &str) -> Option<&'a FakeWorkflow> {
    if let Ok(n) = id.parse::<u64>() {
        return repo.workflows.iter().find(|w| w.id == n);
    }
    repo.workflows
        .iter()
        .find(|w| w.file == id || w.path() == id)
}

/// (name, sha) of a branch or tag; `refs/heads/`, `refs/tags/` allowed.
fn resolve_branch_or_tag(repo: &FakeRepo, git_ref: &str) -> Option<(String, String)> {
    if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        return repo.branches.get(b).map(|sha| (b.to_string(), sha.clone()));
    }
    if let Some(t) = git_ref.strip_prefix("refs/tags/") {
        return repo.tags.get(t).map(|sha| (t.to_string(), sha.clone()));
    }
    repo.branches
        .get(git_ref)
        .or_else(|| repo.tags.get(git_ref))
        .map(|sha| (git_ref.to_string(), sha.clone()))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_template(t: &str, inputs: &Map<String, Value>) -> String {
    let mut out = t.to_string();
    for (k, v) in inputs {
        let val = value_text(v);
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), &val);
        out = out.replace(&format!("{{inputs.{k}}}"), &val);
    }
    for (open, close) in [("${{ inputs.", " }}"), ("{inputs.", "}")] {
        while let Some(i) = out.find(open) {
            match out[i..].find(close) {
                Some(j) => out.replace_range(i..i + j + close.len(), ""),
                None => break,
            }
        }
    }
    out
}

type DispatchError = (StatusCode, String);

fn unprocessable_err(msg: String) -> DispatchError {
    (StatusCode::UNPROCESSABLE_ENTITY, msg)
}

/// Validate a dispatch body and create its run; returns the run id.
fn dispatch_core(
    s: &mut FakeState,
    key: &str,
    workflow: &str,
    body: &Value,
) -> Result<u64, DispatchError> {
    let not_found = (StatusCode::NOT_FOUND, "Not Found".to_string());
    let Some(repo) = s.repos.get(key) else {
        return Err(not_found);
    };
    let Some(wf) = find_workflow(repo, workflow).cloned() else {
        return Err(not_found);
    };
    if s.dispatch_mode == DispatchMode::RejectParam && body.get("return_run_details").is_some() {
        return Err(unprocessable_err(
            "\"return_run_details\" is not a permitted key.".into(),
        ));
    }
    let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
        return Err(unprocessable_err(
            "Invalid request.\n\n\"ref\" wasn't supplied.".into(),
        ));
    };
    let Some((branch, sha)) = resolve_branch_or_tag(repo, git_ref) else {
        return Err(unprocessable_err(format!("No ref found for: {git_ref}")));
    };
    if !wf.dispatchable {
        return Err(unprocessable_err(
            "Workflow does not have 'workflow_dispatch' trigger".into(),
        ));
    }
    let given = match body.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(unprocessable_err(format!(
                "Invalid request.\n\nFor 'properties/inputs', {other} is not an object."
            )));
        }
    };
    let unexpected: Vec<String> = given
        .keys()
        .filter(|k| !wf.inputs.iter().any(|i| i.name == **k))
        .map(|k| format!("\"{k}\""))
        .collect();
    if !unexpected.is_empty() {
        return Err(unprocessable_err(format!(
            "Unexpected inputs provided: [{}]",
            unexpected.join(", ")
        )));
    }
    let mut inputs = Map::new();
    for (k, v) in &given {
        let text = match v {
            Value::String(x) => x.clone(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            Value::Null => {
                return Err(unprocessable_err(
                    "Invalid request.\n\nFor 'additionalProperties', nil is not a string.".into(),
                ));
            }
            other => {
                return Err(unprocessable_err(format!(
                    "Invalid request.\n\nFor 'additionalProperties', {other} is not a string."
                )));
            }
        };
        inputs.insert(k.clone(), Value::String(text));
    }
    for i in &wf.inputs {
        if inputs.contains_key(&i.name) {
            continue;
        }
        match &i.default {
            Some(d) => {
                inputs.insert(i.name.clone(), Value::String(d.clone()));
            }
            None if i.required => {
                return Err(unprocessable_err(format!(
                    "Required input '{}' not provided",
                    i.name
                )));
            }
            None => {}
        }
    }
    let full = repo.full_name();
    let failure = repo
        .pending_failures
        .iter()
        .position(|f| f.workflow == wf.file);
    let failure = match (failure, s.repos.get_mut(key)) {
        (Some(p), Some(r)) => Some(r.pending_failures.remove(p)),
        _ => None,
    };
    let run_number = match s
        .repos
        .get_mut(key)
        .and_then(|r| r.workflows.iter_mut().find(|w| w.id == wf.id))
    {
        Some(w) => {
            w.runs_started += 1;
            w.runs_started
        }
        None => 1,
    };
    let now = now_secs();
    let run_id = RUN_BASE + s.alloc();
    let suite = SUITE_BASE + s.alloc();
    let mut jobs = Vec::new();
    for job in &wf.jobs {
        let id = JOB_BASE + s.alloc();
        let environment = job
            .environment
            .as_ref()
            .map(|e| render_template(e, &inputs))
            .filter(|e| !e.is_empty());
        let job_failure = failure
            .as_ref()
            .filter(|f| f.job == job.name)
            .map(|f| StepFailure {
                step: f.step.clone(),
                text: f.text.clone(),
            });
        jobs.push(FakeRunJob {
            id,
            name: job.name.clone(),
            status: "queued".into(),
            conclusion: None,
            created_at: now,
            started_at: None,
            completed_at: None,
            steps: Vec::new(),
            step_names: job.steps.clone(),
            step_logs: job.step_logs.clone(),
            environment,
            deployment_id: None,
            approved: false,
            wait_started_at: None,
            runner_name: None,
            runner_id: None,
            labels: job.labels.clone(),
            failure: job_failure,
        });
    }
    let display_title = wf
        .run_name
        .as_ref()
        .map(|t| render_template(t, &inputs))
        .unwrap_or_else(|| wf.name.clone());
    let actor = s.identity.clone();
    let hidden_lists = s.dispatch_list_lag;
    s.runs.push(FakeRun {
        id: run_id,
        repo: full,
        repo_key: key.to_string(),
        workflow_id: wf.id,
        workflow_name: wf.name.clone(),
        workflow_path: wf.path(),
        display_title,
        run_number,
        run_attempt: 1,
        event: "workflow_dispatch".into(),
        status: "queued".into(),
        conclusion: None,
        head_branch: branch,
        head_sha: sha,
        dispatch_ref: git_ref.to_string(),
        inputs,
        actor,
        created_at: now,
        updated_at: now,
        run_started_at: None,
        jobs,
        polls: 0,
        clock: now,
        cancel_requested: false,
        hidden_lists,
        check_suite_id: suite,
    });
    Ok(run_id)
}

/// One GET that shows the run.
fn poll(s: &mut FakeState, run_id: u64) {
    let n = s.polls_per_step.max(1);
    let due = match s.runs.iter_mut().find(|r| r.id == run_id) {
        Some(r) if r.status != "completed" => {
            r.polls += 1;
            if r.polls >= n {
                r.polls = 0;
                true
            } else {
                false
            }
        }
        _ => false,
    };
    if due {
        tick(s, run_id);
    }
}

/// Advance the run by one transition.
fn tick(s: &mut FakeState, run_id: u64) {
    let Some(idx) = s.runs.iter().position(|r| r.id == run_id) else {
        return;
    };
    let mut run = s.runs[idx].clone();
    tick_run(s, &mut run);
    s.runs[idx] = run;
}

fn advance_clock(s: &FakeState, run: &mut FakeRun) -> DateTime<Utc> {
    run.clock += chrono::Duration::seconds(s.step_secs);
    run.clock
}

fn tick_run(s: &mut FakeState, run: &mut FakeRun) {
    if run.status == "completed" {
        return;
    }
    if run.cancel_requested {
        let now = advance_clock(s, run);
        cancel_now(s, run, now);
        return;
    }
    if run.status == "queued" {
        let now = advance_clock(s, run);
        run.status = "in_progress".into();
        run.run_started_at = Some(now);
        run.updated_at = now;
        return;
    }
    let Some(j) = run.jobs.iter().position(|x| x.status != "completed") else {
        let now = advance_clock(s, run);
        finish_run(run, "success", now);
        return;
    };
    let status = run.jobs[j].status.clone();
    match status.as_str() {
        "waiting" => {}
        "queued" => {
            let now = advance_clock(s, run);
            start_job(s, run, j, now);
        }
        _ => {
            let now = advance_clock(s, run);
            step_job(s, run, j, now);
        }
    }
}

fn job_html_url(repo: &str, run_id: u64, job_id: u64) -> String {
    format!("https://github.com/{repo}/actions/runs/{run_id}/job/{job_id}")
}

fn start_step(step: &mut FakeStep, now: DateTime<Utc>) {
    step.status = "in_progress".into();
    step.started_at = Some(now);
}

fn start_job(s: &mut FakeState, run: &mut FakeRun, j: usize, now: DateTime<Utc>) {
    let job_url = job_html_url(&run.repo, run.id, run.jobs[j].id);
    let log = StatusExtra {
        log_url: job_url.clone(),
        target_url: job_url,
        auto_inactive: true,
        ..StatusExtra::default()
    };
    if let Some(env) = run.jobs[j].environment.clone() {
        let protected = s
            .repos
            .get(&run.repo_key)
            .and_then(|r| r.env(&env))
            .is_some_and(|e| !e.reviewers.is_empty());
        if protected && !run.jobs[j].approved {
            let dep = ensure_run_deployment(s, run, j, now);
            add_status(s, dep, "waiting", now, log);
            let job = &mut run.jobs[j];
            job.status = "waiting".into();
            job.wait_started_at = Some(now);
            run.status = "waiting".into();
            run.updated_at = now;
            return;
        }
        let fresh = run.jobs[j].deployment_id.is_none();
        let dep = ensure_run_deployment(s, run, j, now);
        if fresh {
            add_status(s, dep, "queued", now, log.clone());
        }
        add_status(s, dep, "in_progress", now, log);
    }
    let n = s.alloc();
    let job = &mut run.jobs[j];
    job.status = "in_progress".into();
    job.started_at = Some(now);
    job.runner_id = Some(n);
    job.runner_name = Some(format!("GitHub Actions {}", 1000 + n % 1000));
    let mut steps = vec![new_step("Set up job", 1)];
    for (i, name) in job.step_names.iter().enumerate() {
        steps.push(new_step(name, i as u32 + 2));
    }
    let last = steps.len() as u32 + 1;
    steps.push(new_step("Complete job", last));
    start_step(&mut steps[0], now);
    job.steps = steps;
    run.status = "in_progress".into();
    run.updated_at = now;
}

fn new_step(name: &str, number: u32) -> FakeStep {
    FakeStep {
        name: name.to_string(),
        number,
        status: "queued".into(),
        conclusion: None,
        started_at: None,
        completed_at: None,
    }
}

fn step_job(s: &mut FakeState, run: &mut FakeRun, j: usize, now: DateTime<Utc>) {
    let current = run.jobs[j]
        .steps
        .iter()
        .position(|x| x.status == "in_progress");
    let Some(k) = current else {
        let next = run.jobs[j].steps.iter().position(|x| x.status == "queued");
        match next {
            Some(k) => start_step(&mut run.jobs[j].steps[k], now),
            None => finish_job(s, run, j, "success", now),
        }
        return;
    };
    let name = run.jobs[j].steps[k].name.clone();
    let fails = run.jobs[j].failure.as_ref().is_some_and(|f| f.step == name);
    {
        let step = &mut run.jobs[j].steps[k];
        step.status = "completed".into();
        step.conclusion = Some(if fails { "failure" } else { "success" }.into());
        step.completed_at = Some(now);
    }
    if fails {
        let steps = &mut run.jobs[j].steps;
        let count = steps.len();
        for (i, st) in steps.iter_mut().enumerate().skip(k + 1) {
            st.status = "completed".into();
            st.conclusion = Some(if i + 1 == count { "success" } else { "skipped" }.into());
            st.started_at = Some(now);
            st.completed_at = Some(now);
        }
        finish_job(s, run, j, "failure", now);
        return;
    }
    if k + 1 < run.jobs[j].steps.len() {
        start_step(&mut run.jobs[j].steps[k + 1], now);
    } else {
        finish_job(s, run, j, "success", now);
    }
}

fn finish_job(
    s: &mut FakeState,
    run: &mut FakeRun,
    j: usize,
    conclusion: &str,
    now: DateTime<Utc>,
) {
    let job_url = job_html_url(&run.repo, run.id, run.jobs[j].id);
    let dep = {
        let job = &mut run.jobs[j];
        job.status = "completed".into();
        job.conclusion = Some(conclusion.to_string());
        job.completed_at = Some(now);
        job.deployment_id
    };
    if let Some(dep) = dep {
        let success = conclusion == "success";
        let env_url = if success {
            env_url_of(s, &run.repo_key, dep)
        } else {
            String::new()
        };
        let extra = StatusExtra {
            log_url: job_url.clone(),
            target_url: job_url,
            environment_url: env_url,
            auto_inactive: true,
            ..StatusExtra::default()
        };
        add_status(
            s,
            dep,
            if success { "success" } else { "failure" },
            now,
            extra,
        );
    }
    if conclusion == "success" {
        if run.jobs.iter().all(|x| x.status == "completed") {
            finish_run(run, "success", now);
        } else {
            run.updated_at = now;
        }
    } else {
        skip_rest(run, j, now);
        finish_run(run, conclusion, now);
    }
}

fn skip_rest(run: &mut FakeRun, j: usize, now: DateTime<Utc>) {
    for job in run.jobs.iter_mut().skip(j + 1) {
        if job.status != "completed" {
            job.status = "completed".into();
            job.conclusion = Some("skipped".into());
            job.started_at = Some(now);
            job.completed_at = Some(now);
        }
    }
}

fn finish_run(run: &mut FakeRun, conclusion: &str, now: DateTime<Utc>) {
    run.status = "completed".into();
    run.conclusion = Some(conclusion.to_string());
    run.updated_at = now;
}

fn cancel_now(s: &mut FakeState, run: &mut FakeRun, now: DateTime<Utc>) {
    let mut deps = Vec::new();
    for job in run.jobs.iter_mut().filter(|x| x.status != "completed") {
        for st in &mut job.steps {
            let status = st.status.clone();
            match status.as_str() {
                "in_progress" => {
                    st.status = "completed".into();
                    st.conclusion = Some("cancelled".into());
                    st.completed_at = Some(now);
                }
                "queued" => {
                    st.status = "completed".into();
                    st.conclusion = Some("skipped".into());
                    st.started_at = Some(now);
                    st.completed_at = Some(now);
                }
                _ => {}
            }
        }
        if job.started_at.is_none() {
            job.started_at = Some(now);
        }
        job.status = "completed".into();
        job.conclusion = Some("cancelled".into());
        job.completed_at = Some(now);
        if let Some(d) = job.deployment_id {
            deps.push(d);
        }
    }
    for d in deps {
        add_status(s, d, "failure", now, StatusExtra::default());
    }
    run.cancel_requested = false;
    finish_run(run, "cancelled", now);
}

/// The canonical name of an environment, created (unprotected) if missing.
fn ensure_environment(s: &mut FakeState, key: &str, name: &str) -> String {
    let exists = s
        .repos
        .get(key)
        .and_then(|r| r.env(name))
        .map(|e| e.name.clone());
    if let Some(n) = exists {
        return n;
    }
    let id = ENV_BASE + s.alloc();
    if let Some(r) = s.repos.get_mut(key) {
        let mut e = FakeEnvironment::new(name);
        e.id = id;
        e.created_at = now_secs();
        e.updated_at = e.created_at;
        r.environments.push(e);
    }
    name.to_string()
}

fn env_url_of(s: &FakeState, key: &str, dep: u64) -> String {
    let Some(d) = s.deployments.iter().find(|d| d.id == dep) else {
        return String::new();
    };
    s.repos
        .get(key)
        .and_then(|r| r.env(&d.environment))
        .and_then(|e| e.url.clone())
        .unwrap_or_default()
}

fn ensure_run_deployment(
    s: &mut FakeState,
    run: &mut FakeRun,
    j: usize,
    now: DateTime<Utc>,
) -> u64 {
    if let Some(id) = run.jobs[j].deployment_id {
        return id;
    }
    let wanted = run.jobs[j].environment.clone().unwrap_or_default();
    let env = ensure_environment(s, &run.repo_key, &wanted);
    let sha = run
        .inputs
        .get("sha")
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| run.head_sha.clone());
    let id = DEPLOYMENT_BASE + s.alloc();
    s.deployments.push(FakeDeployment {
        id,
        repo: run.repo.clone(),
        repo_key: run.repo_key.clone(),
        sha,
        git_ref: run.head_branch.clone(),
        task: "deploy".into(),
        payload: Value::Object(run.inputs.clone()),
        original_environment: env.clone(),
        production_environment: env.eq_ignore_ascii_case("production"),
        environment: env,
        description: None,
        creator: run.actor.clone(),
        created_at: now,
        updated_at: now,
        transient_environment: false,
        auto_merge: false,
        statuses: Vec::new(),
        run_id: Some(run.id),
    });
    run.jobs[j].deployment_id = Some(id);
    id
}

#[derive(Debug, Clone, Default)]
struct StatusExtra {
    description: String,
    log_url: String,
    target_url: String,
    environment_url: String,
    auto_inactive: bool,
}

/// Append a status; a `success` with auto_inactive marks earlier successful
/// non-transient deployments to the same environment `inactive`.
fn add_status(
    s: &mut FakeState,
    dep_id: u64,
    state: &str,
    now: DateTime<Utc>,
    extra: StatusExtra,
) -> Option<u64> {
    let id = STATUS_BASE + s.alloc();
    let (key, env) = {
        let d = s.deployments.iter_mut().find(|d| d.id == dep_id)?;
        d.statuses.push(FakeDeploymentStatus {
            id,
            state: state.to_string(),
            description: extra.description,
            environment: d.environment.clone(),
            target_url: extra.target_url,
            log_url: extra.log_url,
            environment_url: extra.environment_url,
            creator: d.creator.clone(),
            created_at: now,
        });
        d.updated_at = now;
        (d.repo_key.clone(), d.environment.clone())
    };
    if state == "success" && extra.auto_inactive {
        for other in s.deployments.iter_mut().filter(|o| {
            o.id != dep_id
                && o.repo_key == key
                && o.environment.eq_ignore_ascii_case(&env)
                && !o.transient_environment
                && o.state() == Some("success")
        }) {
            s.next_id += 1;
            other.statuses.push(FakeDeploymentStatus {
                id: STATUS_BASE + s.next_id,
                state: "inactive".into(),
                description: String::new(),
                environment: other.environment.clone(),
                target_url: String::new(),
                log_url: String::new(),
                environment_url: String::new(),
                creator: other.creator.clone(),
                created_at: now,
            });
            other.updated_at = now;
        }
    }
    Some(id)
}

/// Approve or reject waiting environments of a run; returns the deployments.
fn review_run(
    s: &mut FakeState,
    run_id: u64,
    env_ids: &[u64],
    approve: bool,
    comment: &str,
    user: &str,
) -> Result<Vec<u64>, String> {
    let Some(idx) = s.runs.iter().position(|r| r.id == run_id) else {
        return Err("Not Found".into());
    };
    let mut run = s.runs[idx].clone();
    let mut targets: Vec<usize> = Vec::new();
    for &eid in env_ids {
        let found = run.jobs.iter().position(|jb| {
            jb.status == "waiting"
                && jb
                    .environment
                    .as_deref()
                    .and_then(|e| s.repos.get(&run.repo_key).and_then(|r| r.env(e)))
                    .is_some_and(|e| e.id == eid)
        });
        match found {
            Some(j) if !targets.contains(&j) => targets.push(j),
            Some(_) => {}
            None => return Err("No pending deployment requests to approve or reject".into()),
        }
    }
    if targets.is_empty() {
        return Err("No pending deployment requests to approve or reject".into());
    }
    let now = advance_clock(s, &mut run);
    let names: Vec<String> = targets
        .iter()
        .filter_map(|&j| run.jobs[j].environment.clone())
        .collect();
    let deps: Vec<u64> = targets
        .iter()
        .filter_map(|&j| run.jobs[j].deployment_id)
        .collect();
    if approve {
        for &j in &targets {
            run.jobs[j].approved = true;
            run.jobs[j].status = "queued".into();
        }
        for &d in &deps {
            add_status(s, d, "queued", now, StatusExtra::default());
        }
        run.status = "in_progress".into();
        run.updated_at = now;
    } else {
        for &j in &targets {
            let job = &mut run.jobs[j];
            job.status = "completed".into();
            job.conclusion = Some("failure".into());
            job.started_at = Some(now);
            job.completed_at = Some(now);
        }
        for &d in &deps {
            add_status(s, d, "failure", now, StatusExtra::default());
        }
        let last = targets.iter().copied().max().unwrap_or(0);
        skip_rest(&mut run, last, now);
        finish_run(&mut run, "failure", now);
    }
    s.reviews.push(FakeReview {
        run_id,
        environments: names,
        state: if approve { "approved" } else { "rejected" }.into(),
        comment: comment.to_string(),
        user: user.to_string(),
    });
    s.runs[idx] = run;
    Ok(deps)
}

// ---------------------------------------------------------------------------
// Job logs
// ---------------------------------------------------------------------------

fn find_job(s: &FakeState, job_id: u64) -> Option<(&FakeRun, &FakeRunJob)> {
    s.runs
        .iter()
        .find_map(|r| r.jobs.iter().find(|j| j.id == job_id).map(|j| (r, j)))
}

struct LogBuf {
    lines: Vec<String>,
    n: u32,
}

impl LogBuf {
    fn line(&mut self, t: DateTime<Utc>, text: &str) {
        self.n += 1;
        self.lines.push(format!("{} {text}", log_ts(t, self.n)));
    }
}

/// GitHub's plain-text job log for what has run so far (None: never ran).
fn job_log_text(s: &FakeState, job_id: u64) -> Option<String> {
    let (run, job) = find_job(s, job_id)?;
    if job.steps.is_empty() {
        return None;
    }
    let mut b = LogBuf {
        lines: Vec::new(),
        n: 0,
    };
    for step in &job.steps {
        let Some(start) = step.started_at else {
            continue;
        };
        if step.conclusion.as_deref() == Some("skipped") {
            continue;
        }
        let end = step.completed_at.unwrap_or(start);
        match step.name.as_str() {
            "Set up job" => {
                b.line(start, "Current runner version: '2.329.0'");
                let runner = job.runner_name.clone().unwrap_or_default();
                b.line(start, &format!("Runner name: '{runner}'"));
                for l in [
                    "##[group]Operating System",
                    "Ubuntu",
                    "24.04.3",
                    "LTS",
                    "##[endgroup]",
                    "##[group]Runner Image",
                    "Image: ubuntu-24.04",
                    "##[endgroup]",
                    "Secret source: Actions",
                    "Prepare workflow directory",
                    "Prepare all required actions",
                ] {
                    b.line(start, l);
                }
                b.line(end, &format!("Complete job name: {}", job.name));
            }
            "Complete job" => {
                b.line(start, "Cleaning up orphan processes");
            }
            name => {
                b.line(start, &format!("##[group]Run {name}"));
                b.line(start, "shell: /usr/bin/bash -e {0}");
                b.line(start, "##[endgroup]");
                for l in job.step_logs.get(name).into_iter().flatten() {
                    b.line(start, &render_template(l, &run.inputs));
                }
                match step.conclusion.as_deref() {
                    Some("failure") => {
                        if let Some(f) = &job.failure {
                            for l in f.text.lines() {
                                b.line(end, l);
                            }
                        }
                        b.line(end, "##[error]Process completed with exit code 1.");
                    }
                    Some("cancelled") => b.line(end, "##[error]The operation was canceled."),
                    _ => {}
                }
            }
        }
    }
    Some(format!("\u{feff}{}\n", b.lines.join("\n")))
}

fn blob_sig(job_id: u64, se: &str, epoch: u64) -> String {
    let h = Sha256::digest(format!("blob/{job_id}/{se}/{epoch}").as_bytes());
    hex(&h[..24])
}

fn azure_error(status: u16, code: &str, message: &str, detail: Option<&str>) -> Response {
    let detail = detail
        .map(|d| format!("<AuthenticationErrorDetail>{d}</AuthenticationErrorDetail>"))
        .unwrap_or_default();
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:5f1c0e2a-801e-0066-3b4a-fake00000000\nTime:{}</Message>{detail}</Error>",
        Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN))
        .header(header::CONTENT_TYPE, "application/xml")
        .header("x-ms-error-code", code)
        .header("server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0")
        .body(Body::from(body))
        .unwrap()
}

async fn blob_job_logs(
    State(st): St,
    Path(job): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let with_auth = headers.contains_key(header::AUTHORIZATION);
    let q = parse_query(&uri);
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let job_id = job.parse::<u64>().unwrap_or(0);
    let se = q_one(&q, "se").unwrap_or_default();
    let sig = q_one(&q, "sig").unwrap_or_default();
    let resp = if with_auth {
        azure_error(
            400,
            "InvalidAuthenticationInfo",
            "Authentication information is not given in the correct format. Check the value of Authorization header.",
            None,
        )
    } else if sig != blob_sig(job_id, &se, s.blob_epoch) {
        let expired = (0..s.blob_epoch).any(|e| sig == blob_sig(job_id, &se, e));
        let detail = if expired {
            format!("Signed expiry time [{se}] must be after signed start time [now]")
        } else {
            "Signature did not match. String to sign used was r".to_string()
        };
        azure_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            Some(detail.as_str()),
        )
    } else {
        match job_log_text(s, job_id) {
            Some(text) => Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "text/plain")
                .header("x-ms-blob-type", "BlockBlob")
                .header("server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0")
                .body(Body::from(text))
                .unwrap(),
            None => azure_error(
                404,
                "BlobNotFound",
                "The specified blob does not exist.",
                None,
            ),
        }
    };
    s.blob_fetches.push(BlobFetch {
        job_id,
        with_auth,
        status: resp.status().as_u16(),
    });
    resp
}

// ---------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(m), Value::Object(n)) = (&mut a, b) {
        m.extend(n);
    }
    a
}

fn user_json(base: &str, u: &FakeUser) -> Value {
    let login = &u.login;
    let api = format!("{base}/users/{login}");
    let a = json!({
        "login": login,
        "id": u.id,
        "node_id": node_id("U_kgDO", u.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", u.id),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "type": u.kind,
        "user_view_type": "public",
        "site_admin": false,
    });
    merge(
        a,
        json!({
            "followers_url": format!("{api}/followers"),
            "following_url": format!("{api}/following{{/other_user}}"),
            "gists_url": format!("{api}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/subscriptions"),
            "organizations_url": format!("{api}/orgs"),
            "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events{{/privacy}}"),
            "received_events_url": format!("{api}/received_events"),
        }),
    )
}

fn repo_json(s: &FakeState, r: &FakeRepo, full: bool) -> Value {
    let name = r.full_name();
    let url = format!("{}/repos/{name}", s.base);
    let a = json!({
        "id": r.id,
        "node_id": node_id("R_kgDO", r.id),
        "name": r.name,
        "full_name": name,
        "private": r.private,
        "owner": user_json(&s.base, &r.owner),
        "html_url": format!("https://github.com/{name}"),
        "description": null,
        "fork": false,
        "url": url,
        "deployments_url": format!("{url}/deployments"),
    });
    if !full {
        return a;
    }
    merge(
        a,
        json!({
            "created_at": ts(r.created_at),
            "updated_at": ts(r.created_at),
            "pushed_at": ts(now_secs()),
            "default_branch": r.default_branch,
            "visibility": if r.private { "private" } else { "public" },
            "archived": false,
            "disabled": false,
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        }),
    )
}

fn workflow_json(s: &FakeState, r: &FakeRepo, w: &FakeWorkflow) -> Value {
    let name = r.full_name();
    json!({
        "id": w.id,
        "node_id": node_id("W_kwDO", w.id),
        "name": w.name,
        "path": w.path(),
        "state": w.state,
        "created_at": ts(w.created_at),
        "updated_at": ts(w.created_at),
        "url": format!("{}/repos/{name}/actions/workflows/{}", s.base, w.id),
        "html_url": format!("https://github.com/{name}/blob/{}/{}", r.default_branch, w.path()),
        "badge_url": format!("https://github.com/{name}/workflows/{}/badge.svg", pct_encode(&w.name)),
    })
}

fn run_json(s: &FakeState, r: &FakeRun) -> Value {
    let base = &s.base;
    let full = &r.repo;
    let api = format!("{base}/repos/{full}/actions/runs/{}", r.id);
    let repo = s
        .repos
        .get(&r.repo_key)
        .map(|x| repo_json(s, x, false))
        .unwrap_or(Value::Null);
    let a = json!({
        "id": r.id,
        "name": r.workflow_name,
        "node_id": node_id("WFR_kwLO", r.id),
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.workflow_path,
        "display_title": r.display_title,
        "run_number": r.run_number,
        "event": r.event,
        "status": r.status,
        "conclusion": r.conclusion,
        "workflow_id": r.workflow_id,
    });
    let b = json!({
        "check_suite_id": r.check_suite_id,
        "check_suite_node_id": node_id("CS_kwDO", r.check_suite_id),
        "url": api,
        "html_url": format!("https://github.com/{full}/actions/runs/{}", r.id),
        "pull_requests": [],
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
        "actor": user_json(base, &r.actor),
        "run_attempt": r.run_attempt,
        "referenced_workflows": [],
        "run_started_at": ts(r.run_started_at.unwrap_or(r.created_at)),
        "triggering_actor": user_json(base, &r.actor),
    });
    let c = json!({
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{base}/repos/{full}/check-suites/{}", r.check_suite_id),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{base}/repos/{full}/actions/workflows/{}", r.workflow_id),
        "head_commit": {
            "id": r.head_sha,
            "tree_id": fake_sha(&format!("tree/{}", r.head_sha)),
            "message": format!("Commit {}", short(&r.head_sha)),
            "timestamp": ts(r.created_at - chrono::Duration::hours(1)),
            "author": {"name": "Dev Example", "email": "dev@example.com"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": repo.clone(),
        "head_repository": repo,
    });
    merge(merge(a, b), c)
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

fn step_json(st: &FakeStep) -> Value {
    json!({
        "name": st.name,
        "status": st.status,
        "conclusion": st.conclusion,
        "number": st.number,
        "started_at": ts_opt(st.started_at),
        "completed_at": ts_opt(st.completed_at),
    })
}

fn job_json(s: &FakeState, r: &FakeRun, j: &FakeRunJob) -> Value {
    let base = &s.base;
    let full = &r.repo;
    let steps: Vec<Value> = j.steps.iter().map(step_json).collect();
    let a = json!({
        "id": j.id,
        "run_id": r.id,
        "workflow_name": r.workflow_name,
        "head_branch": r.head_branch,
        "run_url": format!("{base}/repos/{full}/actions/runs/{}", r.id),
        "run_attempt": r.run_attempt,
        "node_id": node_id("CR_kwDO", j.id),
        "head_sha": r.head_sha,
        "url": format!("{base}/repos/{full}/actions/jobs/{}", j.id),
        "html_url": job_html_url(full, r.id, j.id),
        "status": j.status,
        "conclusion": j.conclusion,
    });
    let b = json!({
        "created_at": ts(j.created_at),
        "started_at": ts(j.started_at.unwrap_or(j.created_at)),
        "completed_at": ts_opt(j.completed_at),
        "name": j.name,
        "steps": steps,
        "check_run_url": format!("{base}/repos/{full}/check-runs/{}", j.id),
        "labels": j.labels,
        "runner_id": j.runner_id,
        "runner_name": j.runner_name,
        "runner_group_id": j.runner_id.map(|_| 0),
        "runner_group_name": j.runner_id.map(|_| "GitHub Actions"),
    });
    merge(a, b)
}

fn deployment_json(s: &FakeState, d: &FakeDeployment) -> Value {
    let base = &s.base;
    let full = &d.repo;
    let url = format!("{base}/repos/{full}/deployments/{}", d.id);
    let app = if d.run_id.is_some() {
        json!({"id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg", "name": "GitHub Actions"})
    } else {
        Value::Null
    };
    let a = json!({
        "url": url,
        "id": d.id,
        "node_id": node_id("DE_kwDO", d.id),
        "task": d.task,
        "original_environment": d.original_environment,
        "environment": d.environment,
        "description": d.description,
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": format!("{base}/repos/{full}"),
    });
    merge(
        a,
        json!({
            "creator": user_json(base, &d.creator),
            "sha": d.sha,
            "ref": d.git_ref,
            "payload": d.payload,
            "transient_environment": d.transient_environment,
            "production_environment": d.production_environment,
            "performed_via_github_app": app,
        }),
    )
}

fn status_json(s: &FakeState, d: &FakeDeployment, st: &FakeDeploymentStatus) -> Value {
    let base = &s.base;
    let full = &d.repo;
    let dep_url = format!("{base}/repos/{full}/deployments/{}", d.id);
    let a = json!({
        "url": format!("{dep_url}/statuses/{}", st.id),
        "id": st.id,
        "node_id": node_id("DES_kwDO", st.id),
        "state": st.state,
        "creator": user_json(base, &st.creator),
        "description": st.description,
        "environment": st.environment,
        "target_url": st.target_url,
        "created_at": ts(st.created_at),
        "updated_at": ts(st.created_at),
    });
    merge(
        a,
        json!({
            "deployment_url": dep_url,
            "repository_url": format!("{base}/repos/{full}"),
            "environment_url": st.environment_url,
            "log_url": st.log_url,
            "performed_via_github_app": null,
        }),
    )
}

fn reviewer_json(base: &str, rv: &FakeReviewer) -> Value {
    if rv.kind == "Team" {
        let slug = &rv.login;
        json!({"type": "Team", "reviewer": {
            "id": rv.id,
            "node_id": node_id("T_kwDO", rv.id),
            "name": slug,
            "slug": slug,
            "description": null,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": "pull",
            "url": format!("{base}/teams/{}", rv.id),
            "html_url": format!("https://github.com/orgs/acme/teams/{slug}"),
            "parent": null,
        }})
    } else {
        json!({"type": "User", "reviewer": user_json(base, &FakeUser::user(&rv.login, rv.id))})
    }
}

fn env_min_json(s: &FakeState, r: &FakeRepo, e: &FakeEnvironment) -> Value {
    let full = r.full_name();
    json!({
        "id": e.id,
        "node_id": node_id("EN_kwDO", e.id),
        "name": e.name,
        "url": format!("{}/repos/{full}/environments/{}", s.base, pct_encode(&e.name)),
        "html_url": format!("https://github.com/{full}/deployments/activity_log?environments_filter={}", pct_encode(&e.name)),
    })
}

fn environment_json(s: &FakeState, r: &FakeRepo, e: &FakeEnvironment) -> Value {
    let mut rules = Vec::new();
    if !e.reviewers.is_empty() {
        let reviewers: Vec<Value> = e
            .reviewers
            .iter()
            .map(|rv| reviewer_json(&s.base, rv))
            .collect();
        rules.push(json!({
            "id": e.id + 1,
            "node_id": node_id("GA_kwDO", e.id + 1),
            "prevent_self_review": false,
            "type": "required_reviewers",
            "reviewers": reviewers,
        }));
    }
    if e.wait_timer > 0 {
        rules.push(json!({
            "id": e.id + 2,
            "node_id": node_id("GA_kwDO", e.id + 2),
            "type": "wait_timer",
            "wait_timer": e.wait_timer,
        }));
    }
    let policy = match e.branch_policy {
        Some((protected, custom)) => {
            rules.push(json!({
                "id": e.id + 3,
                "node_id": node_id("GA_kwDO", e.id + 3),
                "type": "branch_policy",
            }));
            json!({"protected_branches": protected, "custom_branch_policies": custom})
        }
        None => Value::Null,
    };
    merge(
        env_min_json(s, r, e),
        json!({
            "created_at": ts(e.created_at),
            "updated_at": ts(e.updated_at),
            "can_admins_bypass": true,
            "protection_rules": rules,
            "deployment_branch_policy": policy,
        }),
    )
}

fn secret_json(name: &str, x: &FakeSecret) -> Value {
    json!({"name": name, "created_at": ts(x.created_at), "updated_at": ts(x.updated_at)})
}

// ---------------------------------------------------------------------------
// Gate: request log, User-Agent, auth, version, faults, rate limits
// ---------------------------------------------------------------------------

fn header_string(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn classify_auth(h: Option<&str>, token: &str) -> AuthSeen {
    let Some(v) = h else {
        return AuthSeen::Missing;
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) {
        return AuthSeen::OtherScheme;
    }
    if rest.trim() == token {
        AuthSeen::Matched
    } else {
        AuthSeen::WrongToken
    }
}

fn take_fault(s: &mut FakeState, method: &Method, path: &str) -> Option<FaultKind> {
    for f in s.faults.iter_mut() {
        if f.times > 0
            && f.method.as_ref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
        {
            if f.times != usize::MAX {
                f.times -= 1;
            }
            return Some(f.kind.clone());
        }
    }
    None
}

fn request_id(n: u64) -> String {
    let h = hex(&Sha256::digest(format!("req/{n}").as_bytes()));
    format!(
        "{}:{}:{}:{}:{}",
        &h[0..4],
        &h[4..9],
        &h[9..16],
        &h[16..24],
        &h[24..32]
    )
    .to_ascii_uppercase()
}

fn primary_limited(s: &FakeState, reset: i64, rid: &str) -> Response {
    let msg = format!(
        "API rate limit exceeded for user ID {}. If you reach out to GitHub Support for help, please include the request ID {rid} and timestamp {}.",
        s.identity.id,
        Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    );
    let mut r = gh_error(403, &msg, DOCS_RATE);
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(s.rate_limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
    h.insert("x-ratelimit-used", HeaderValue::from(s.rate_limit));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    r
}

fn secondary_limited(status: u16, retry_after: u64, rid: &str) -> Response {
    let msg = format!(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {rid}."
    );
    let mut r = gh_error(status, &msg, DOCS_SECONDARY);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

fn truncated_body() -> Response {
    // Pause after the first chunk so hyper flushes the headers and half a
    // body before the stream fails and the connection is dropped.
    let stream = futures::stream::unfold(0u8, |n| async move {
        match n {
            0 => Some((
                Ok(Bytes::from_static(
                    b"{\"total_count\": 3, \"workflow_runs\": [{\"id\": ",
                )),
                1,
            )),
            1 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Err(std::io::Error::other("fake: connection dropped")), 2))
            }
            _ => None,
        }
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn fault_response(s: &FakeState, kind: FaultKind, rid: &str) -> Response {
    match kind {
        FaultKind::Status(code, body) => {
            let t = body.trim_start();
            let ct = if t.starts_with('{') || t.starts_with('[') {
                "application/json; charset=utf-8"
            } else {
                "text/html; charset=utf-8"
            };
            Response::builder()
                .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap()
        }
        FaultKind::SecondaryRateLimit { retry_after_secs } => {
            secondary_limited(403, retry_after_secs, rid)
        }
        FaultKind::SecondaryRateLimit429 { retry_after_secs } => {
            secondary_limited(429, retry_after_secs, rid)
        }
        FaultKind::PrimaryRateLimit { reset_in_secs } => {
            let reset = Utc::now().timestamp() + i64::try_from(reset_in_secs).unwrap_or(3600);
            primary_limited(s, reset, rid)
        }
        FaultKind::Forbidden(message) => gh_error(403, &message, DOCS),
        FaultKind::TruncatedBody => truncated_body(),
        FaultKind::Delay(_) => gh_error(500, "Server Error", DOCS),
    }
}

struct Incoming {
    method: Method,
    path: String,
    is_blob: bool,
    auth: AuthSeen,
    version: Option<String>,
    has_agent: bool,
}

enum Gate {
    Respond(Response),
    Proceed(Option<Duration>),
}

fn decide(s: &mut FakeState, inc: &Incoming, rid: &str) -> Gate {
    if !inc.is_blob {
        if s.require_user_agent && !inc.has_agent {
            let body = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n";
            return Gate::Respond(
                Response::builder()
                    .status(403)
                    .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(Body::from(body))
                    .unwrap(),
            );
        }
        match inc.auth {
            AuthSeen::Matched => {}
            AuthSeen::Missing => {
                return Gate::Respond(gh_error(401, "Requires authentication", DOCS));
            }
            _ => return Gate::Respond(gh_error(401, "Bad credentials", DOCS)),
        }
        if let Some(v) = inc.version.as_deref()
            && !API_VERSIONS.contains(&v)
        {
            let msg = format!(
                "The version you specified in the \"X-GitHub-API-Version\" request header, \"{v}\", is not a supported version. The following versions are currently supported: \"2026-03-10\" (most recent), \"2022-11-28\"."
            );
            return Gate::Respond(gh_error(400, &msg, DOCS));
        }
    }
    let mut delay = None;
    if let Some(kind) = take_fault(s, &inc.method, &inc.path) {
        match kind {
            FaultKind::Delay(d) => delay = Some(d),
            other => {
                if !inc.is_blob {
                    s.rate_remaining = s.rate_remaining.saturating_sub(1);
                }
                return Gate::Respond(fault_response(s, other, rid));
            }
        }
    }
    if !inc.is_blob {
        if s.rate_remaining == 0 {
            return Gate::Respond(primary_limited(s, s.rate_reset, rid));
        }
        s.rate_remaining -= 1;
    }
    Gate::Proceed(delay)
}

fn set_default(h: &mut HeaderMap, name: &'static str, value: HeaderValue) {
    if !h.contains_key(name) {
        h.insert(name, value);
    }
}

fn decorate(s: &FakeState, resp: &mut Response, inc: &Incoming, rid: &str) {
    let h = resp.headers_mut();
    set_default(h, "x-ratelimit-limit", HeaderValue::from(s.rate_limit));
    set_default(
        h,
        "x-ratelimit-remaining",
        HeaderValue::from(s.rate_remaining),
    );
    set_default(
        h,
        "x-ratelimit-used",
        HeaderValue::from(s.rate_limit.saturating_sub(s.rate_remaining)),
    );
    set_default(h, "x-ratelimit-reset", HeaderValue::from(s.rate_reset));
    set_default(h, "x-ratelimit-resource", HeaderValue::from_static("core"));
    if let Ok(v) = HeaderValue::from_str(rid) {
        set_default(h, "x-github-request-id", v);
    }
    let selected = inc
        .version
        .as_deref()
        .filter(|v| API_VERSIONS.contains(v))
        .unwrap_or("2022-11-28");
    if let Ok(v) = HeaderValue::from_str(selected) {
        set_default(h, "x-github-api-version-selected", v);
    }
    set_default(
        h,
        "x-github-media-type",
        HeaderValue::from_static("github.v3; format=json"),
    );
    if inc.auth == AuthSeen::Matched {
        if let Some(exp) = &s.token_expiration
            && let Ok(v) = HeaderValue::from_str(exp)
        {
            set_default(h, "github-authentication-token-expiration", v);
        }
        if let Some(sc) = &s.oauth_scopes
            && let Ok(v) = HeaderValue::from_str(sc)
        {
            set_default(h, "x-oauth-scopes", v);
        }
    }
}

async fn gate(State(st): St, req: Request, next: Next) -> Response {
    let path = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_string(),
    };
    let headers = req.headers();
    let auth_header = header_string(headers, header::AUTHORIZATION.as_str());
    let version = header_string(headers, "x-github-api-version");
    let accept = header_string(headers, header::ACCEPT.as_str());
    let agent = header_string(headers, header::USER_AGENT.as_str());
    let (idx, inc, decision, rid) = {
        let mut guard = st.lock().unwrap();
        let s: &mut FakeState = &mut guard;
        let inc = Incoming {
            method: req.method().clone(),
            is_blob: path.starts_with("/_blob/"),
            auth: classify_auth(auth_header.as_deref(), &s.token),
            version: version.clone(),
            has_agent: agent.is_some(),
            path: path.clone(),
        };
        s.served += 1;
        let rid = request_id(s.served);
        s.hits.push(Hit {
            method: inc.method.clone(),
            path,
            at: Instant::now(),
            auth: inc.auth,
            api_version: version,
            accept,
            user_agent: agent,
            status: 0,
        });
        let idx = s.hits.len() - 1;
        let decision = decide(s, &inc, &rid);
        (idx, inc, decision, rid)
    };
    let mut resp = match decision {
        Gate::Respond(r) => r,
        Gate::Proceed(delay) => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            next.run(req).await
        }
    };
    let mut s = st.lock().unwrap();
    if !inc.is_blob {
        decorate(&s, &mut resp, &inc, &rid);
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
    let r = "/repos/{owner}/{repo}";
    Router::new()
        .route("/user", get(get_user))
        .route(r, get(get_repo))
        .route(&format!("{r}/actions/workflows"), get(list_workflows))
        .route(
            &format!("{r}/actions/workflows/{{workflow_id}}"),
            get(get_workflow),
        )
        .route(
            &format!("{r}/actions/workflows/{{workflow_id}}/dispatches"),
            post(create_dispatch),
        )
        .route(
            &format!("{r}/actions/workflows/{{workflow_id}}/runs"),
            get(list_workflow_runs),
        )
        .route(&format!("{r}/actions/runs"), get(list_runs))
        .route(&format!("{r}/actions/runs/{{run_id}}"), get(get_run))
        .route(
            &format!("{r}/actions/runs/{{run_id}}/cancel"),
            post(cancel_run),
        )
        .route(&format!("{r}/actions/runs/{{run_id}}/jobs"), get(list_jobs))
        .route(
            &format!("{r}/actions/runs/{{run_id}}/pending_deployments"),
            get(get_pending).post(review_pending),
        )
        .route(&format!("{r}/actions/jobs/{{job_id}}"), get(get_job))
        .route(&format!("{r}/actions/jobs/{{job_id}}/logs"), get(job_logs))
        .route(
            &format!("{r}/deployments"),
            get(list_deployments).post(create_deployment),
        )
        .route(
            &format!("{r}/deployments/{{deployment_id}}"),
            get(get_deployment),
        )
        .route(
            &format!("{r}/deployments/{{deployment_id}}/statuses"),
            get(list_statuses).post(create_status),
        )
        .route(
            &format!("{r}/deployments/{{deployment_id}}/statuses/{{status_id}}"),
            get(get_status),
        )
        .route(&format!("{r}/environments"), get(list_environments))
        .route(
            &format!("{r}/environments/{{environment_name}}"),
            get(get_environment),
        )
        .route(
            &format!("{r}/environments/{{environment_name}}/secrets"),
            get(list_secrets),
        )
        .route(
            &format!("{r}/environments/{{environment_name}}/secrets/public-key"),
            get(get_public_key),
        )
        .route(
            &format!("{r}/environments/{{environment_name}}/secrets/{{secret_name}}"),
            get(get_secret).put(put_secret).delete(delete_secret),
        )
        .route(
            &format!("{r}/environments/{{environment_name}}/variables"),
            get(list_variables),
        )
        .route("/_blob/job-logs/{job_id}", get(blob_job_logs))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

async fn fallback() -> Response {
    not_found()
}

async fn get_user(State(st): St) -> Response {
    let s = st.lock().unwrap();
    let u = &s.identity;
    let a = user_json(&s.base, u);
    let t = ts(now_secs() - chrono::Duration::days(4000));
    ok(merge(
        a,
        json!({
            "user_view_type": "private",
            "name": u.name,
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "public_repos": 8,
            "public_gists": 1,
            "followers": 20,
            "following": 0,
            "created_at": t,
            "updated_at": t,
        }),
    ))
}

type RepoPath = Path<(String, String)>;
type RepoItemPath = Path<(String, String, String)>;
type RepoSubItemPath = Path<(String, String, String, String)>;

fn repo_key(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}").to_ascii_lowercase()
}

async fn get_repo(State(st): St, Path((owner, repo)): RepoPath) -> Response {
    let s = st.lock().unwrap();
    match s.repos.get(&repo_key(&owner, &repo)) {
        Some(r) => ok(repo_json(&s, r, true)),
        None => not_found(),
    }
}

async fn list_workflows(State(st): St, Path((owner, repo)): RepoPath, uri: Uri) -> Response {
    let s = st.lock().unwrap();
    let Some(r) = s.repos.get(&repo_key(&owner, &repo)) else {
        return not_found();
    };
    let items = r
        .workflows
        .iter()
        .map(|w| workflow_json(&s, r, w))
        .collect();
    paged(&s, &uri, items, Some("workflows"))
}

async fn get_workflow(State(st): St, Path((owner, repo, wf)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    let Some(r) = s.repos.get(&repo_key(&owner, &repo)) else {
        return not_found();
    };
    match find_workflow(r, &wf) {
        Some(w) => ok(workflow_json(&s, r, w)),
        None => not_found(),
    }
}

async fn create_dispatch(
    State(st): St,
    Path((owner, repo, wf)): RepoItemPath,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let key = repo_key(&owner, &repo);
    let run_id = match dispatch_core(s, &key, &wf, &body) {
        Ok(id) => id,
        Err((code, msg)) => {
            let doc = if code == StatusCode::NOT_FOUND {
                DOCS
            } else {
                DOCS_DISPATCH
            };
            return gh_error(code.as_u16(), &msg, doc);
        }
    };
    let full = s
        .repos
        .get(&key)
        .map(FakeRepo::full_name)
        .unwrap_or_default();
    s.dispatches.push((full.clone(), body.clone()));
    let wants = body.get("return_run_details").and_then(Value::as_bool) == Some(true);
    if s.dispatch_mode == DispatchMode::Details && wants {
        return ok(json!({
            "workflow_run_id": run_id,
            "run_url": format!("{}/repos/{full}/actions/runs/{run_id}", s.base),
            "html_url": format!("https://github.com/{full}/actions/runs/{run_id}"),
        }));
    }
    no_content()
}

/// A `created` filter: (lower bound, inclusive), (upper bound, inclusive).
type Bound = Option<(DateTime<Utc>, bool)>;

fn parse_instant(x: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let x = x.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&x) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&x, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    let d = NaiveDate::parse_from_str(&x, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(t.and_utc())
}

fn is_date_only(x: &str) -> bool {
    !x.contains('T')
}

/// GitHub search-style date qualifier: `>=X`, `>X`, `<=X`, `<X`, `A..B`
/// (`*` open), or `X` (a date means the whole day).
fn parse_created(c: &str) -> Option<(Bound, Bound)> {
    let c = c.trim();
    if let Some(x) = c.strip_prefix(">=") {
        return Some((Some((parse_instant(x, false)?, true)), None));
    }
    if let Some(x) = c.strip_prefix('>') {
        let day = is_date_only(x);
        return Some((Some((parse_instant(x, day)?, false)), None));
    }
    if let Some(x) = c.strip_prefix("<=") {
        return Some((None, Some((parse_instant(x, true)?, true))));
    }
    if let Some(x) = c.strip_prefix('<') {
        return Some((None, Some((parse_instant(x, false)?, false))));
    }
    if let Some((a, b)) = c.split_once("..") {
        let lo = if a.trim() == "*" {
            None
        } else {
            Some((parse_instant(a, false)?, true))
        };
        let hi = if b.trim() == "*" {
            None
        } else {
            Some((parse_instant(b, true)?, true))
        };
        return Some((lo, hi));
    }
    let lo = parse_instant(c, false)?;
    let hi = parse_instant(c, true)?;
    Some((Some((lo, true)), Some((hi, true))))
}

fn run_matches(
    r: &FakeRun,
    q: &[(String, String)],
    created: Option<&Option<(Bound, Bound)>>,
) -> bool {
    if let Some(a) = q_one(q, "actor")
        && !a.eq_ignore_ascii_case(&r.actor.login)
    {
        return false;
    }
    if let Some(b) = q_one(q, "branch")
        && b != r.head_branch
    {
        return false;
    }
    if let Some(e) = q_one(q, "event")
        && e != r.event
    {
        return false;
    }
    if let Some(st) = q_one(q, "status")
        && st != r.status
        && r.conclusion.as_deref() != Some(st.as_str())
    {
        return false;
    }
    if let Some(sha) = q_one(q, "head_sha")
        && !sha.eq_ignore_ascii_case(&r.head_sha)
    {
        return false;
    }
    match created {
        None => true,
        Some(None) => false,
        Some(Some((lo, hi))) => {
            let t = r.created_at;
            let lo_ok = lo.is_none_or(|(b, inc)| if inc { t >= b } else { t > b });
            let hi_ok = hi.is_none_or(|(b, inc)| if inc { t <= b } else { t < b });
            lo_ok && hi_ok
        }
    }
}

fn runs_page(st: &Shared, owner: &str, repo: &str, wf: Option<&str>, uri: &Uri) -> Response {
    let q = parse_query(uri);
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let key = repo_key(owner, repo);
    let Some(r) = s.repos.get(&key) else {
        return not_found();
    };
    let wf_id = match wf {
        None => None,
        Some(w) => match find_workflow(r, w) {
            Some(x) => Some(x.id),
            None => return not_found(),
        },
    };
    let (per_page, page) = paging(&q);
    let created = q_one(&q, "created").map(|c| parse_created(&c));
    let mut matching: Vec<(DateTime<Utc>, u64)> = Vec::new();
    for run in s.runs.iter_mut().filter(|x| x.repo_key == key) {
        let hidden = run.hidden_lists > 0;
        run.hidden_lists = run.hidden_lists.saturating_sub(1);
        if hidden {
            continue;
        }
        if wf_id.is_some_and(|w| w != run.workflow_id) {
            continue;
        }
        if run_matches(run, &q, created.as_ref()) {
            matching.push((run.created_at, run.id));
        }
    }
    matching.sort_by_key(|&(t, id)| Reverse((t, id)));
    let total = matching.len();
    let ids: Vec<u64> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|&(_, id)| id)
        .collect();
    for &id in &ids {
        poll(s, id);
    }
    let s: &FakeState = s;
    let items: Vec<Value> = ids
        .iter()
        .filter_map(|id| s.runs.iter().find(|r| r.id == *id))
        .map(|r| run_json(s, r))
        .collect();
    let link = link_header(&s.base, uri.path(), &q, page, per_page, total);
    with_link(
        ok(json!({"total_count": total, "workflow_runs": items})),
        link,
    )
}

async fn list_runs(State(st): St, Path((owner, repo)): RepoPath, uri: Uri) -> Response {
    runs_page(&st, &owner, &repo, None, &uri)
}

async fn list_workflow_runs(
    State(st): St,
    Path((owner, repo, wf)): RepoItemPath,
    uri: Uri,
) -> Response {
    runs_page(&st, &owner, &repo, Some(&wf), &uri)
}

/// The id of a run of this repository, or a 404.
fn run_in_repo(s: &FakeState, owner: &str, repo: &str, id: &str) -> Result<u64, Response> {
    let key = repo_key(owner, repo);
    let id = id.parse::<u64>().map_err(|_| not_found())?;
    if s.runs.iter().any(|r| r.id == id && r.repo_key == key) {
        Ok(id)
    } else {
        Err(not_found())
    }
}

async fn get_run(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let id = match run_in_repo(s, &owner, &repo, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    poll(s, id);
    match s.runs.iter().find(|r| r.id == id) {
        Some(r) => ok(run_json(s, r)),
        None => not_found(),
    }
}

async fn cancel_run(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let id = match run_in_repo(s, &owner, &repo, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(run) = s.runs.iter_mut().find(|r| r.id == id) else {
        return not_found();
    };
    if run.status == "completed" {
        return gh_error(
            409,
            "Cannot cancel a workflow run that is completed.",
            DOCS_RUNS,
        );
    }
    run.cancel_requested = true;
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}

async fn list_jobs(State(st): St, Path((owner, repo, id)): RepoItemPath, uri: Uri) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let id = match run_in_repo(s, &owner, &repo, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    poll(s, id);
    let s: &FakeState = s;
    let Some(run) = s.runs.iter().find(|r| r.id == id) else {
        return not_found();
    };
    let items = run.jobs.iter().map(|j| job_json(s, run, j)).collect();
    paged(s, &uri, items, Some("jobs"))
}

/// The run id of a job of this repository, or a 404.
fn job_in_repo(s: &FakeState, owner: &str, repo: &str, id: &str) -> Result<(u64, u64), Response> {
    let key = repo_key(owner, repo);
    let job_id = id.parse::<u64>().map_err(|_| not_found())?;
    match find_job(s, job_id) {
        Some((r, _)) if r.repo_key == key => Ok((r.id, job_id)),
        _ => Err(not_found()),
    }
}

async fn get_job(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let (run_id, job_id) = match job_in_repo(s, &owner, &repo, &id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    poll(s, run_id);
    match find_job(s, job_id) {
        Some((r, j)) => ok(job_json(s, r, j)),
        None => not_found(),
    }
}

async fn job_logs(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    let (_, job_id) = match job_in_repo(&s, &owner, &repo, &id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ran = find_job(&s, job_id).is_some_and(|(_, j)| !j.steps.is_empty());
    if !ran {
        return not_found();
    }
    let host = if s.blob_same_origin {
        &s.base
    } else {
        &s.blob_base
    };
    let se = ts(Utc::now().trunc_subsecs(0) + chrono::Duration::minutes(1));
    let sig = blob_sig(job_id, &se, s.blob_epoch);
    let location = format!(
        "{host}/_blob/job-logs/{job_id}?rsct=text%2Fplain&se={}&sig={sig}&sp=r&spr=https&sr=b&sv=2025-01-05",
        pct_encode(&se)
    );
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .header(header::CONTENT_LENGTH, "0")
        .body(Body::empty())
        .unwrap()
}

fn pending_json(s: &FakeState, run: &FakeRun) -> Vec<Value> {
    let Some(r) = s.repos.get(&run.repo_key) else {
        return Vec::new();
    };
    run.jobs
        .iter()
        .filter(|j| j.status == "waiting")
        .filter_map(|j| {
            let e = r.env(j.environment.as_deref()?)?;
            let reviewers: Vec<Value> = e
                .reviewers
                .iter()
                .map(|rv| reviewer_json(&s.base, rv))
                .collect();
            Some(json!({
                "environment": env_min_json(s, r, e),
                "wait_timer": e.wait_timer,
                "wait_timer_started_at": ts_opt(j.wait_started_at),
                "current_user_can_approve": s.current_user_can_approve,
                "reviewers": reviewers,
            }))
        })
        .collect()
}

async fn get_pending(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    let id = match run_in_repo(&s, &owner, &repo, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match s.runs.iter().find(|r| r.id == id) {
        Some(run) => ok(Value::Array(pending_json(&s, run))),
        None => not_found(),
    }
}

async fn review_pending(
    State(st): St,
    Path((owner, repo, id)): RepoItemPath,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let id = match run_in_repo(s, &owner, &repo, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let doc = "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run";
    let Some(ids) = body.get("environment_ids").and_then(Value::as_array) else {
        return gh_error(
            422,
            "Invalid request.\n\n\"environment_ids\" wasn't supplied.",
            doc,
        );
    };
    let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
    let approve = match body.get("state").and_then(Value::as_str) {
        Some("approved") => true,
        Some("rejected") => false,
        Some(other) => {
            let msg = format!(
                "Invalid request.\n\nFor 'properties/state', \"{other}\" is not one of [\"approved\", \"rejected\"]."
            );
            return gh_error(422, &msg, doc);
        }
        None => return gh_error(422, "Invalid request.\n\n\"state\" wasn't supplied.", doc),
    };
    let Some(comment) = body.get("comment").and_then(Value::as_str) else {
        return gh_error(422, "Invalid request.\n\n\"comment\" wasn't supplied.", doc);
    };
    if !s.current_user_can_approve {
        return gh_error(
            422,
            "User is not a required reviewer for this environment",
            doc,
        );
    }
    let user = s.identity.login.clone();
    match review_run(s, id, &ids, approve, comment, &user) {
        Ok(deps) => {
            let s: &FakeState = s;
            let items: Vec<Value> = deps
                .iter()
                .filter_map(|d| s.deployments.iter().find(|x| x.id == *d))
                .map(|d| deployment_json(s, d))
                .collect();
            ok(Value::Array(items))
        }
        Err(msg) => gh_error(422, &msg, doc),
    }
}

async fn list_deployments(State(st): St, Path((owner, repo)): RepoPath, uri: Uri) -> Response {
    let q = parse_query(&uri);
    let s = st.lock().unwrap();
    let key = repo_key(&owner, &repo);
    if !s.repos.contains_key(&key) {
        return not_found();
    }
    let sha = q_one(&q, "sha");
    let git_ref = q_one(&q, "ref");
    let task = q_one(&q, "task");
    let env = q_one(&q, "environment");
    let mut list: Vec<&FakeDeployment> = s
        .deployments
        .iter()
        .filter(|d| d.repo_key == key)
        .filter(|d| sha.as_ref().is_none_or(|x| *x == d.sha))
        .filter(|d| git_ref.as_ref().is_none_or(|x| *x == d.git_ref))
        .filter(|d| task.as_ref().is_none_or(|x| *x == d.task))
        .filter(|d| {
            env.as_ref()
                .is_none_or(|x| x.eq_ignore_ascii_case(&d.environment))
        })
        .collect();
    list.sort_by_key(|d| Reverse((d.created_at, d.id)));
    let items = list.iter().map(|d| deployment_json(&s, d)).collect();
    paged(&s, &uri, items, None)
}

/// A 40-hex sha, a branch or a tag → sha.
fn resolve_deploy_ref(r: &FakeRepo, git_ref: &str) -> Option<String> {
    if git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(git_ref.to_ascii_lowercase());
    }
    resolve_branch_or_tag(r, git_ref).map(|(_, sha)| sha)
}

async fn create_deployment(State(st): St, Path((owner, repo)): RepoPath, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let key = repo_key(&owner, &repo);
    let Some(r) = s.repos.get(&key) else {
        return not_found();
    };
    let doc = "https://docs.github.com/rest/deployments/deployments#create-a-deployment";
    let Some(git_ref) = body.get("ref").and_then(Value::as_str).map(str::to_string) else {
        return gh_error(422, "Invalid request.\n\n\"ref\" wasn't supplied.", doc);
    };
    let Some(sha) = resolve_deploy_ref(r, &git_ref) else {
        return gh_error(422, &format!("No ref found for: {git_ref}"), doc);
    };
    let required: Option<Vec<String>> = body
        .get("required_contexts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
    let failing: Vec<String> = r
        .failing_contexts
        .iter()
        .filter(|c| required.as_ref().is_none_or(|req| req.contains(c)))
        .cloned()
        .collect();
    if !failing.is_empty() {
        let contexts: Vec<Value> = failing
            .iter()
            .map(|c| json!({"context": c, "state": "failure"}))
            .collect();
        return gh_json(
            409,
            json!({
                "message": format!("Conflict: Commit status checks failed for {git_ref}."),
                "errors": [{"contexts": contexts, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}],
                "documentation_url": doc,
                "status": "409",
            }),
        );
    }
    let full = r.full_name();
    let wanted_env = body
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production")
        .to_string();
    let env = ensure_environment(s, &key, &wanted_env);
    let str_or = |k: &str, d: &str| body.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let payload = match body.get("payload") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(x)) if x.is_empty() => json!({}),
        Some(Value::String(x)) => {
            serde_json::from_str(x).unwrap_or_else(|_| Value::String(x.clone()))
        }
        Some(v) => v.clone(),
    };
    let production = body
        .get("production_environment")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| env.eq_ignore_ascii_case("production"));
    let id = DEPLOYMENT_BASE + s.alloc();
    let now = now_secs();
    let d = FakeDeployment {
        id,
        repo: full,
        repo_key: key,
        sha,
        git_ref,
        task: str_or("task", "deploy"),
        payload,
        original_environment: env.clone(),
        environment: env,
        description: Some(str_or("description", "")),
        creator: s.identity.clone(),
        created_at: now,
        updated_at: now,
        production_environment: production,
        transient_environment: body
            .get("transient_environment")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        auto_merge: body
            .get("auto_merge")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        statuses: Vec::new(),
        run_id: None,
    };
    let out = deployment_json(s, &d);
    s.deployments.push(d);
    created(out)
}

/// The index of a deployment of this repository, or a 404.
fn deployment_in_repo(s: &FakeState, owner: &str, repo: &str, id: &str) -> Result<usize, Response> {
    let key = repo_key(owner, repo);
    let id = id.parse::<u64>().map_err(|_| not_found())?;
    s.deployments
        .iter()
        .position(|d| d.id == id && d.repo_key == key)
        .ok_or_else(not_found)
}

async fn get_deployment(State(st): St, Path((owner, repo, id)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    match deployment_in_repo(&s, &owner, &repo, &id) {
        Ok(i) => ok(deployment_json(&s, &s.deployments[i])),
        Err(r) => r,
    }
}

async fn list_statuses(State(st): St, Path((owner, repo, id)): RepoItemPath, uri: Uri) -> Response {
    let s = st.lock().unwrap();
    let i = match deployment_in_repo(&s, &owner, &repo, &id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let d = &s.deployments[i];
    let items = d
        .statuses
        .iter()
        .rev()
        .map(|x| status_json(&s, d, x))
        .collect();
    paged(&s, &uri, items, None)
}

async fn get_status(State(st): St, Path((owner, repo, id, sid)): RepoSubItemPath) -> Response {
    let s = st.lock().unwrap();
    let i = match deployment_in_repo(&s, &owner, &repo, &id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let d = &s.deployments[i];
    let sid = sid.parse::<u64>().unwrap_or(0);
    match d.statuses.iter().find(|x| x.id == sid) {
        Some(x) => ok(status_json(&s, d, x)),
        None => not_found(),
    }
}

const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

async fn create_status(
    State(st): St,
    Path((owner, repo, id)): RepoItemPath,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let i = match deployment_in_repo(s, &owner, &repo, &id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let state = body.get("state").and_then(Value::as_str).unwrap_or("");
    if !STATES.contains(&state) {
        return gh_json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "DeploymentStatus", "code": "custom", "field": "state", "message": "state is not included in the list"}],
                "documentation_url": DOCS_STATUSES,
                "status": "422",
            }),
        );
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let log_url = text("log_url");
    let target = match text("target_url") {
        t if t.is_empty() => log_url.clone(),
        t => t,
    };
    if let Some(env) = body.get("environment").and_then(Value::as_str)
        && !env.is_empty()
    {
        let key = s.deployments[i].repo_key.clone();
        let env = ensure_environment(s, &key, env);
        s.deployments[i].environment = env;
    }
    let extra = StatusExtra {
        description: text("description"),
        log_url,
        target_url: target,
        environment_url: text("environment_url"),
        auto_inactive: body
            .get("auto_inactive")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let dep_id = s.deployments[i].id;
    let Some(sid) = add_status(s, dep_id, state, now_secs(), extra) else {
        return not_found();
    };
    let d = &s.deployments[i];
    match d.statuses.iter().find(|x| x.id == sid) {
        Some(x) => created(status_json(s, d, x)),
        None => not_found(),
    }
}

async fn list_environments(State(st): St, Path((owner, repo)): RepoPath, uri: Uri) -> Response {
    let s = st.lock().unwrap();
    let Some(r) = s.repos.get(&repo_key(&owner, &repo)) else {
        return not_found();
    };
    let items = r
        .environments
        .iter()
        .map(|e| environment_json(&s, r, e))
        .collect();
    paged(&s, &uri, items, Some("environments"))
}

async fn get_environment(State(st): St, Path((owner, repo, env)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    let Some(r) = s.repos.get(&repo_key(&owner, &repo)) else {
        return not_found();
    };
    match r.env(&env) {
        Some(e) => ok(environment_json(&s, r, e)),
        None => not_found(),
    }
}

async fn list_secrets(State(st): St, Path((owner, repo, env)): RepoItemPath, uri: Uri) -> Response {
    let s = st.lock().unwrap();
    let Some(e) = s
        .repos
        .get(&repo_key(&owner, &repo))
        .and_then(|r| r.env(&env))
    else {
        return not_found();
    };
    let items = e.secrets.iter().map(|(k, x)| secret_json(k, x)).collect();
    paged(&s, &uri, items, Some("secrets"))
}

async fn get_public_key(State(st): St, Path((owner, repo, env)): RepoItemPath) -> Response {
    let s = st.lock().unwrap();
    match s
        .repos
        .get(&repo_key(&owner, &repo))
        .and_then(|r| r.env(&env))
    {
        Some(e) => ok(json!({"key_id": e.key_id, "key": b64_encode(&e.public_key())})),
        None => not_found(),
    }
}

async fn get_secret(State(st): St, Path((owner, repo, env, name)): RepoSubItemPath) -> Response {
    let s = st.lock().unwrap();
    let Some(e) = s
        .repos
        .get(&repo_key(&owner, &repo))
        .and_then(|r| r.env(&env))
    else {
        return not_found();
    };
    let name = name.to_ascii_uppercase();
    match e.secrets.get(&name) {
        Some(x) => ok(secret_json(&name, x)),
        None => not_found(),
    }
}

/// GitHub's naming rules: alphanumerics and `_`, not starting with a digit or
/// `GITHUB_`.
fn valid_secret_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !n.starts_with(|c: char| c.is_ascii_digit())
        && !n.to_ascii_uppercase().starts_with("GITHUB_")
}

async fn put_secret(
    State(st): St,
    Path((owner, repo, env, name)): RepoSubItemPath,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let doc = "https://docs.github.com/rest/actions/secrets#create-or-update-an-environment-secret";
    let mut guard = st.lock().unwrap();
    let s: &mut FakeState = &mut guard;
    let Some(e) = s
        .repos
        .get_mut(&repo_key(&owner, &repo))
        .and_then(|r| r.env_mut(&env))
    else {
        return not_found();
    };
    if !valid_secret_name(&name) {
        return gh_error(
            422,
            "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number, and must not start with the GITHUB_ prefix.",
            doc,
        );
    }
    let Some(encrypted) = body.get("encrypted_value").and_then(Value::as_str) else {
        return gh_error(
            422,
            "Invalid request.\n\n\"encrypted_value\" wasn't supplied.",
            doc,
        );
    };
    let Some(key_id) = body.get("key_id").and_then(Value::as_str) else {
        return gh_error(422, "Invalid request.\n\n\"key_id\" wasn't supplied.", doc);
    };
    if key_id != e.key_id {
        return gh_error(422, IMPROPER_SECRET, doc);
    }
    let Some(sealed) = b64_decode(encrypted) else {
        return gh_error(422, IMPROPER_SECRET, doc);
    };
    let Ok(plain) = e.secret_key.unseal(&sealed) else {
        return gh_error(422, IMPROPER_SECRET, doc);
    };
    let value = String::from_utf8_lossy(&plain).into_owned();
    let name = name.to_ascii_uppercase();
    let now = now_secs();
    match e.secrets.get_mut(&name) {
        Some(x) => {
            x.value = value;
            x.updated_at = now;
            no_content()
        }
        None => {
            e.secrets.insert(
                name,
                FakeSecret {
                    value,
                    created_at: now,
                    updated_at: now,
                },
            );
            created(json!({}))
        }
    }
}

async fn delete_secret(State(st): St, Path((owner, repo, env, name)): RepoSubItemPath) -> Response {
    let mut guard = st.lock().unwrap();
    let Some(e) = guard
        .repos
        .get_mut(&repo_key(&owner, &repo))
        .and_then(|r| r.env_mut(&env))
    else {
        return not_found();
    };
    match e.secrets.remove(&name.to_ascii_uppercase()) {
        Some(_) => no_content(),
        None => not_found(),
    }
}

async fn list_variables(
    State(st): St,
    Path((owner, repo, env)): RepoItemPath,
    uri: Uri,
) -> Response {
    let s = st.lock().unwrap();
    let Some(e) = s
        .repos
        .get(&repo_key(&owner, &repo))
        .and_then(|r| r.env(&env))
    else {
        return not_found();
    };
    let items = e
        .variables
        .iter()
        .map(|(k, x)| {
            json!({"name": k, "value": x.value, "created_at": ts(x.created_at), "updated_at": ts(x.updated_at)})
        })
        .collect();
    paged(&s, &uri, items, Some("variables"))
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

static SEED: AtomicU64 = AtomicU64::new(1);

/// A fresh environment key pair (deterministic per process order) and its key_id.
fn fresh_key(name: &str) -> (SecretKey, String) {
    let n = SEED.fetch_add(1, Ordering::Relaxed);
    let d = Sha256::digest(format!("env-key/{name}/{n}").as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&d);
    let mut idb = [0u8; 8];
    idb.copy_from_slice(&d[..8]);
    let key_id = (u64::from_be_bytes(idb) >> 2).to_string();
    (SecretKey::from_bytes(bytes), key_id)
}

fn small_id(seed: &str) -> u64 {
    let d = Sha256::digest(format!("id/{seed}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    1_000_000 + u64::from_be_bytes(b) % 90_000_000
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fake_sha(seed: &str) -> String {
    hex(&Sha256::digest(seed.as_bytes())[..20])
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn node_id(prefix: &str, id: u64) -> String {
    let b = b64_encode(&id.to_be_bytes());
    format!("{prefix}{}", b.trim_end_matches('='))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (libsodium's `ORIGINAL` variant).
pub fn b64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        out.push(B64[((n >> 18) & 63) as usize] as char);
        out.push(B64[((n >> 12) & 63) as usize] as char);
        if chunk.len() > 1 {
            out.push(B64[((n >> 6) & 63) as usize] as char);
        } else {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(B64[(n & 63) as usize] as char);
        } else {
            out.push('=');
        }
    }
    out
}

/// Standard base64 (padding optional); None on a character outside the alphabet.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1u32 << bits) - 1;
        }
    }
    Some(out)
}

/// Now, in whole seconds (GitHub prints seconds).
fn now_secs() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A log-line timestamp with GitHub's seven fractional digits.
fn log_ts(t: DateTime<Utc>, n: u32) -> String {
    let t = t
        + chrono::Duration::milliseconds(i64::from(n) * 13)
        + chrono::Duration::microseconds(1234);
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
                let pair = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(pair, 16) {
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
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// (per_page, page): per_page defaults to 30 and is clamped to 1..=100.
fn paging(q: &[(String, String)]) -> (usize, usize) {
    let per_page = q_one(q, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(30)
        .clamp(1, 100);
    let page = q_one(q, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    (per_page, page)
}

/// GitHub's `Link` header (prev, next, last, first) when there is more than one page.
fn link_header(
    base: &str,
    path: &str,
    q: &[(String, String)],
    page: usize,
    per_page: usize,
    total: usize,
) -> Option<String> {
    let last = total.div_ceil(per_page).max(1);
    if last <= 1 && page <= 1 {
        return None;
    }
    let url = |p: usize| {
        let mut pairs: Vec<String> = q
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
            .collect();
        pairs.push(format!("page={p}"));
        format!("<{base}{path}?{}>", pairs.join("&"))
    };
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
    }
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(parts.join(", "))
}

/// One page of already-ordered `items` with GitHub's `Link` header, as
/// `{total_count, <key>: [...]}` or (no key) a bare array.
fn paged(s: &FakeState, uri: &Uri, items: Vec<Value>, key: Option<&str>) -> Response {
    let q = parse_query(uri);
    let (per_page, page) = paging(&q);
    let total = items.len();
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let body = match key {
        Some(k) => {
            let mut m = Map::new();
            m.insert("total_count".to_string(), json!(total));
            m.insert(k.to_string(), Value::Array(page_items));
            Value::Object(m)
        }
        None => Value::Array(page_items),
    };
    let link = link_header(&s.base, uri.path(), &q, page, per_page, total);
    with_link(ok(body), link)
}

fn with_link(mut r: Response, link: Option<String>) -> Response {
    if let Some(l) = link
        && let Ok(v) = HeaderValue::from_str(&l)
    {
        r.headers_mut().insert(header::LINK, v);
    }
    r
}

/// GitHub's error body: `{message, documentation_url, status}`.
fn gh_error(code: u16, message: &str, doc: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({"message": message, "documentation_url": doc, "status": code.to_string()})),
    )
        .into_response()
}

/// A JSON error body with extra fields (`errors`).
fn gh_json(code: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response()
}

fn not_found() -> Response {
    gh_error(404, "Not Found", DOCS)
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Empty body → `{}`; otherwise a JSON object, or 400 `Problems parsing JSON`.
fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(gh_error(400, "Problems parsing JSON", DOCS)),
    }
}
