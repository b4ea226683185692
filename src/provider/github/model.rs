//! The parts of GitHub's REST answers shipdeck reads (workflow runs, jobs,
//! deployments and their statuses, pending deployments, environment
//! secrets), as documented in the REST reference. Unknown fields are
//! ignored; fields GitHub may send as `null` are `Option`s.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A user or app as GitHub shows it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Account {
    /// Login (`alice`, `github-actions[bot]`).
    #[serde(default)]
    pub login: String,
}

/// `POST …/dispatches` with `return_run_details: true`.
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchDetails {
    /// The run the dispatch created.
    pub workflow_run_id: u64,
    /// Its page on github.com.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// One workflow run.
#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    /// Id.
    pub id: u64,
    /// Number within the workflow (`#42`).
    #[serde(default)]
    pub run_number: u64,
    /// What started it (`workflow_dispatch`).
    #[serde(default)]
    pub event: String,
    /// queued, in_progress, waiting, requested, pending, completed.
    #[serde(default)]
    pub status: Option<String>,
    /// success, failure, cancelled, skipped, timed_out, action_required, neutral, stale, startup_failure.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The commit the workflow file was taken from.
    #[serde(default)]
    pub head_sha: String,
    /// The branch it ran on.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its page.
    #[serde(default)]
    pub html_url: String,
    /// Who started it.
    #[serde(default)]
    pub actor: Option<Account>,
    /// Title shown in the list (`run-name:`).
    #[serde(default)]
    pub display_title: Option<String>,
}

impl Run {
    /// Whether it has finished.
    pub fn completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }
}

/// `GET …/runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunList {
    /// The runs, newest first.
    #[serde(default)]
    pub workflow_runs: Vec<Run>,
}

/// One step of a job.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// queued, in_progress, completed.
    #[serde(default)]
    pub status: String,
    /// How it ended.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// Its position, from 1.
    #[serde(default)]
    pub number: u64,
}

/// One job of a run.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// Id (for its log).
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// queued, in_progress, waiting, completed.
    #[serde(default)]
    pub status: String,
    /// How it ended.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// When it started.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Its steps.
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Job {
    /// The step running now, or the one that failed.
    pub fn current_step(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.conclusion.as_deref() == Some("failure"))
            .or_else(|| self.steps.iter().find(|s| s.status == "in_progress"))
    }

    /// How long it ran, when it has both ends.
    pub fn duration(&self) -> Option<chrono::Duration> {
        Some(self.completed_at? - self.started_at?)
    }
}

/// `GET …/runs/{id}/jobs`.
#[derive(Debug, Clone, Deserialize)]
pub struct JobList {
    /// The jobs.
    #[serde(default)]
    pub jobs: Vec<Job>,
}

/// The environment a pending deployment waits on.
#[derive(Debug, Clone, Deserialize)]
pub struct PendingEnvironment {
    /// Id (what approving names).
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One reviewer: a user (`login`) or a team (`name`/`slug`).
#[derive(Debug, Clone, Deserialize)]
pub struct Reviewer {
    /// `User` or `Team`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The user or team.
    #[serde(default)]
    pub reviewer: serde_json::Value,
}

impl Reviewer {
    /// How to name it: `alice`, or `team acme/release-managers`.
    pub fn label(&self) -> String {
        let field = |k: &str| self.reviewer.get(k).and_then(|v| v.as_str());
        match (field("login"), field("slug").or_else(|| field("name"))) {
            (Some(login), _) => login.to_string(),
            (None, Some(team)) => format!("team {team}"),
            (None, None) => self.kind.clone(),
        }
    }
}

/// `GET …/runs/{id}/pending_deployments`: one environment waiting for a reviewer.
#[derive(Debug, Clone, Deserialize)]
pub struct PendingDeployment {
    /// The environment.
    pub environment: PendingEnvironment,
    /// Whether this token's user may approve it.
    #[serde(default)]
    pub current_user_can_approve: bool,
    /// Who may.
    #[serde(default)]
    pub reviewers: Vec<Reviewer>,
}

/// One deployment (GitHub's record of a deploy to an environment).
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    /// Id.
    pub id: u64,
    /// The commit deployed.
    #[serde(default)]
    pub sha: String,
    /// The ref it was made from.
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    /// `deploy`, or a custom task.
    #[serde(default)]
    pub task: Option<String>,
    /// What the deploy carried (an object; some tools write a JSON string).
    #[serde(default)]
    pub payload: serde_json::Value,
    /// The environment.
    #[serde(default)]
    pub environment: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub creator: Option<Account>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Deployment {
    /// The payload as an object, whether GitHub holds it as one or as a JSON string.
    pub fn payload_object(&self) -> serde_json::Map<String, serde_json::Value> {
        match &self.payload {
            serde_json::Value::Object(m) => m.clone(),
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
            _ => Default::default(),
        }
    }
}

/// One status of a deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentStatus {
    /// error, failure, inactive, in_progress, queued, pending, success.
    #[serde(default)]
    pub state: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the deployed app answers.
    #[serde(default)]
    pub environment_url: Option<String>,
}

/// An environment secret (never its value).
#[derive(Debug, Clone, Deserialize)]
pub struct Secret {
    /// Name (GitHub stores names upper-case).
    pub name: String,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `GET …/secrets`.
#[derive(Debug, Clone, Deserialize)]
pub struct SecretList {
    /// The secrets on this page.
    #[serde(default)]
    pub secrets: Vec<Secret>,
}

/// `GET …/secrets/public-key`: the key values are sealed with.
#[derive(Debug, Clone, Deserialize)]
pub struct PublicKey {
    /// Which key (sent back with each value).
    pub key_id: String,
    /// The X25519 public key, base64.
    pub key: String,
}

/// `GET /user`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Login.
    pub login: String,
    /// `User` or `Bot`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}
