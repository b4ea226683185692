//! Railway's GraphQL shapes, as far as shipdeck reads them (names from the
//! introspected schema the official `railwayapp/cli` ships), and the
//! operations shipdeck sends. Every argument travels in `variables`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Artifact, CommitRef, ImageRef};

/// Release history: a Relay connection, newest first.
pub const DEPLOYMENTS: &str = "query Deployments($input: DeploymentListInput!, $first: Int, $after: String) {
  deployments(input: $input, first: $first, after: $after) {
    edges { cursor node { id status createdAt canRollback meta creator { name email } instances { id status } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// One deployment.
pub const DEPLOYMENT: &str = "query Deployment($id: String!) {
  deployment(id: $id) { id status createdAt canRollback meta creator { name email } instances { id status } }
}";

/// Point a service instance at an image (no deploy by itself).
pub const SERVICE_INSTANCE_UPDATE: &str = "mutation ServiceInstanceUpdate($serviceId: String!, $environmentId: String, $input: ServiceInstanceUpdateInput!) {
  serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input)
}";

/// Deploy a service instance's source (or a commit of its repository); returns the deployment id.
pub const SERVICE_INSTANCE_DEPLOY: &str = "mutation ServiceInstanceDeployV2($serviceId: String!, $environmentId: String!, $commitSha: String) {
  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId, commitSha: $commitSha)
}";

/// Roll back to an earlier deployment (its image and its variables).
pub const DEPLOYMENT_ROLLBACK: &str = "mutation DeploymentRollback($id: String!) {
  deploymentRollback(id: $id)
}";

/// Cancel a deployment under way.
pub const DEPLOYMENT_CANCEL: &str = "mutation DeploymentCancel($id: String!) {
  deploymentCancel(id: $id)
}";

/// A service's variables, `{NAME: value}` (sealed ones are never returned).
pub const VARIABLES: &str = "query Variables($projectId: String!, $environmentId: String!, $serviceId: String) {
  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId, unrendered: true)
}";

/// Set one variable; `skipDeploys` stages it.
pub const VARIABLE_UPSERT: &str = "mutation VariableUpsert($input: VariableUpsertInput!) {
  variableUpsert(input: $input)
}";

/// Remove one variable.
pub const VARIABLE_DELETE: &str = "mutation VariableDelete($input: VariableDeleteInput!) {
  variableDelete(input: $input)
}";

/// A deployment's log lines.
pub const DEPLOYMENT_LOGS: &str =
    "query DeploymentLogs($deploymentId: String!, $limit: Int, $startDate: DateTime) {
  deploymentLogs(deploymentId: $deploymentId, limit: $limit, startDate: $startDate) {
    timestamp message severity attributes { key value }
  }
}";

/// Who an account or workspace token belongs to.
pub const ME: &str = "query UserMeta { me { id name email } }";

/// What a project token covers.
pub const PROJECT_TOKEN: &str =
    "query ProjectToken { projectToken { id project { id name } environment { id name } } }";

/// `deployments`.
#[derive(Debug, Deserialize)]
pub struct DeploymentsData {
    /// The connection.
    pub deployments: Connection,
}

/// A Relay connection of deployments.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The page.
    pub edges: Vec<Edge>,
    /// Where the next page starts.
    pub page_info: PageInfo,
}

/// One edge.
#[derive(Debug, Deserialize)]
pub struct Edge {
    /// The deployment.
    pub node: Deployment,
}

/// Paging.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// More pages follow.
    #[serde(default)]
    pub has_next_page: bool,
    /// The cursor to continue after.
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// `deployment`.
#[derive(Debug, Deserialize)]
pub struct DeploymentData {
    /// The deployment.
    pub deployment: Deployment,
}

/// One deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Its id.
    pub id: String,
    /// `SUCCESS`, `BUILDING`, `FAILED`, …
    #[serde(default)]
    pub status: String,
    /// When it was made.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Whether Railway can roll back to it (within the plan's retention).
    #[serde(default)]
    pub can_rollback: bool,
    /// Untyped: image, or commit hash, message, branch, repo.
    #[serde(default)]
    pub meta: Option<Value>,
    /// Who made it.
    #[serde(default)]
    pub creator: Option<Creator>,
    /// Its instances.
    #[serde(default)]
    pub instances: Option<Vec<DeploymentInstance>>,
}

/// The person behind a deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct Creator {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
}

/// An instance of a deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentInstance {
    /// Its id.
    pub id: String,
    /// `RUNNING`, `CRASHED`, …
    #[serde(default)]
    pub status: String,
}

/// What a deployment status means for one shipdeck waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not finished.
    Running,
    /// Serving (or asleep, which wakes on traffic).
    Live,
    /// Its build or health check failed, or it crashed.
    Failed,
    /// Removed, skipped or waiting for an approval shipdeck does not give.
    Stopped,
}

impl Deployment {
    /// Its phase.
    pub fn phase(&self) -> Phase {
        match self.status.as_str() {
            "SUCCESS" | "SLEEPING" => Phase::Live,
            "FAILED" | "CRASHED" => Phase::Failed,
            "REMOVED" | "REMOVING" | "SKIPPED" | "NEEDS_APPROVAL" => Phase::Stopped,
            _ => Phase::Running,
        }
    }

    fn meta_str(&self, keys: &[&str]) -> Option<String> {
        let meta = self.meta.as_ref()?;
        keys.iter()
            .find_map(|k| meta.get(*k).and_then(Value::as_str))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// What it ran: the image from `meta.image` (with `meta.imageDigest`
    /// where Railway gives one), else the commit from `meta.commitHash`.
    pub fn artifact(&self) -> Option<Artifact> {
        if let Some(image) = self.meta_str(&["image"]) {
            let mut parsed = ImageRef::parse(&image);
            if parsed.digest.is_none() {
                parsed.digest = self.meta_str(&["imageDigest"]);
            }
            return Some(Artifact::Image(parsed));
        }
        self.meta_str(&["commitHash"]).map(|sha| {
            Artifact::Commit(CommitRef {
                sha,
                reference: self.meta_str(&["branch"]),
                repo: self.meta_str(&["repo"]),
            })
        })
    }

    /// The commit message's first line, when it has one.
    pub fn message(&self) -> Option<String> {
        self.meta_str(&["commitMessage"])
            .map(|m| m.lines().next().unwrap_or("").to_string())
    }
}

/// One log line.
#[derive(Debug, Clone, Deserialize)]
pub struct Log {
    /// When (RFC 3339).
    pub timestamp: DateTime<Utc>,
    /// The text.
    #[serde(default)]
    pub message: String,
    /// `info`, `error`, …
    #[serde(default)]
    pub severity: Option<String>,
}

/// `deploymentLogs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsData {
    /// The lines.
    pub deployment_logs: Vec<Log>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_names_the_image_or_the_commit() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "id": "d1", "status": "SUCCESS", "canRollback": true,
            "meta": {"image": "ghcr.io/acme/api:1.4.0", "reason": "deploy"}
        }))
        .unwrap();
        assert_eq!(d.artifact().unwrap().short(), "api:1.4.0");
        assert_eq!(d.phase(), Phase::Live);
        let c: Deployment = serde_json::from_value(serde_json::json!({
            "id": "d2", "status": "CRASHED",
            "meta": {"commitHash": "abcdef0123456", "commitMessage": "fix\nbody", "branch": "main"}
        }))
        .unwrap();
        assert_eq!(c.artifact().unwrap().short(), "abcdef0 (main)");
        assert_eq!(c.message().as_deref(), Some("fix"));
        assert_eq!(c.phase(), Phase::Failed);
    }
}
