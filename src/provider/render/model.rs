//! Render's REST v1 shapes, as far as shipdeck reads them (field names from
//! Render's OpenAPI, as generated into the official `render-oss/cli`
//! client). Unknown fields are ignored and missing optional ones default,
//! so a new field on Render's side never breaks a read.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One item of a cursor-paginated list: `{"<resource>": {…}, "cursor": "…"}`.
pub trait Listed {
    /// The item.
    type Item;
    /// Its cursor (the next page starts after it).
    fn cursor(&self) -> Option<&str>;
    /// The item itself.
    fn into_item(self) -> Self::Item;
}

macro_rules! listed {
    ($wrapper:ident, $field:ident, $name:literal, $item:ty) => {
        /// A list item as Render wraps it.
        #[derive(Debug, Clone, Deserialize)]
        pub struct $wrapper {
            /// The item.
            #[serde(rename = $name)]
            pub $field: $item,
            /// Where the next page starts.
            #[serde(default)]
            pub cursor: Option<String>,
        }

        impl Listed for $wrapper {
            type Item = $item;
            fn cursor(&self) -> Option<&str> {
                self.cursor.as_deref()
            }
            fn into_item(self) -> $item {
                self.$field
            }
        }
    };
}

listed!(DeployItem, deploy, "deploy", Deploy);
listed!(EnvVarItem, env_var, "envVar", EnvVar);
listed!(EventItem, event, "event", Event);
listed!(OwnerItem, owner, "owner", Owner);

/// A Render service (`GET /services/{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `srv-…`.
    pub id: String,
    /// Its name in the dashboard.
    pub name: String,
    /// The workspace (team or user) it belongs to: logs are asked per owner.
    pub owner_id: String,
    /// `yes` or `no`.
    #[serde(default)]
    pub auto_deploy: String,
    /// `suspended` or `not_suspended`.
    #[serde(default)]
    pub suspended: String,
    /// The image an image-backed service pulls (`docker.io/org/app:tag`).
    #[serde(default)]
    pub image_path: Option<String>,
    /// The repository a repo-backed service builds from.
    #[serde(default)]
    pub repo: Option<String>,
    /// Its branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// `web_service`, `background_worker`, …
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Link to the dashboard.
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

impl Service {
    /// Whether it deploys images (else commits of its repository).
    pub fn is_image_backed(&self) -> bool {
        self.image_path.as_deref().is_some_and(|p| !p.is_empty()) && self.repo.is_none()
    }

    /// Whether auto-deploy is on.
    pub fn auto_deploys(&self) -> bool {
        self.auto_deploy == "yes"
    }

    /// Whether it is suspended.
    pub fn is_suspended(&self) -> bool {
        self.suspended == "suspended"
    }
}

/// A deploy's commit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployCommit {
    /// The sha.
    #[serde(default)]
    pub id: Option<String>,
    /// Its message.
    #[serde(default)]
    pub message: Option<String>,
}

/// A deploy's image.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeployImage {
    /// The reference asked for (`docker.io/org/app:1.2.3`).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The digest it resolved to (`sha256:…`).
    #[serde(default)]
    pub sha: Option<String>,
}

/// One deploy (`GET /services/{id}/deploys/{deployId}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deploy {
    /// `dep-…`.
    pub id: String,
    /// `created`, `build_in_progress`, `live`, `update_failed`, …
    #[serde(default)]
    pub status: Option<String>,
    /// `api`, `new_commit`, `rollback`, `manual`, …
    #[serde(default)]
    pub trigger: Option<String>,
    /// For repo-backed services.
    #[serde(default)]
    pub commit: Option<DeployCommit>,
    /// For image-backed services.
    #[serde(default)]
    pub image: Option<DeployImage>,
    /// When it was made.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Deploy {
    /// Its status word (empty when Render sent none).
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("")
    }
}

/// What a deploy status means for a deploy shipdeck waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployPhase {
    /// Not yet started or still under way.
    Running,
    /// Serving.
    Live,
    /// Render refused it (build, pre-deploy or health check failed): the
    /// previous deploy kept serving.
    Rejected,
    /// Cancelled, or replaced before it went live.
    Stopped,
}

/// The phase of a status word.
pub fn phase(status: &str) -> DeployPhase {
    match status {
        "live" => DeployPhase::Live,
        "build_failed" | "update_failed" | "pre_deploy_failed" => DeployPhase::Rejected,
        "canceled" | "deactivated" => DeployPhase::Stopped,
        _ => DeployPhase::Running,
    }
}

/// One environment variable. The value is read to compute a digest and then wiped.
#[derive(Clone, Deserialize)]
pub struct EnvVar {
    /// Its name.
    pub key: String,
    /// Its value (never shown, never logged).
    #[serde(default)]
    pub value: String,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .finish()
    }
}

impl Drop for EnvVar {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// One service event (`GET /services/{id}/events`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt-…`.
    #[serde(default)]
    pub id: String,
    /// `server_failed`, `deploy_ended`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// When.
    pub timestamp: DateTime<Utc>,
}

/// A running instance (`GET /services/{id}/instances`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Its id.
    pub id: String,
}

/// A workspace or user the key can act for (`GET /owners`).
#[derive(Debug, Clone, Deserialize)]
pub struct Owner {
    /// `tea-…` or `usr-…`.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its email.
    #[serde(default)]
    pub email: String,
}

/// `GET /logs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsPage {
    /// More lines wait between `nextStartTime` and `nextEndTime`.
    #[serde(default)]
    pub has_more: bool,
    /// The lines.
    #[serde(default)]
    pub logs: Vec<LogEntry>,
    /// Where the next page starts.
    #[serde(default)]
    pub next_start_time: Option<DateTime<Utc>>,
    /// Where the next page ends.
    #[serde(default)]
    pub next_end_time: Option<DateTime<Utc>>,
}

/// One log line.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    /// Unique per line.
    #[serde(default)]
    pub id: String,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// The text.
    #[serde(default)]
    pub message: String,
    /// `instance`, `level`, `type`, …
    #[serde(default)]
    pub labels: Vec<LogLabel>,
}

impl LogEntry {
    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }
}

/// A log label.
#[derive(Debug, Clone, Deserialize)]
pub struct LogLabel {
    /// Its name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wrapped_list_shapes() {
        let page: Vec<DeployItem> = serde_json::from_str(
            r#"[{"deploy":{"id":"dep-1","status":"live","trigger":"api",
                 "image":{"ref":"docker.io/acme/api:1.2","sha":"sha256:aa"},
                 "createdAt":"2026-11-30T10:00:00Z","somethingNew":1},"cursor":"c1"}]"#,
        )
        .unwrap();
        assert_eq!(page[0].cursor(), Some("c1"));
        let d = page[0].clone().into_item();
        assert_eq!(d.image.unwrap().sha.as_deref(), Some("sha256:aa"));
        assert_eq!(phase("update_failed"), DeployPhase::Rejected);
        assert_eq!(phase("pre_deploy_in_progress"), DeployPhase::Running);
        let vars: Vec<EnvVarItem> =
            serde_json::from_str(r#"[{"envVar":{"key":"K","value":"hunter22"},"cursor":"x"}]"#)
                .unwrap();
        assert!(!format!("{vars:?}").contains("hunter22"));
    }
}
