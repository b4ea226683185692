//! Plain data shared by the TUI, the headless CLI, the engine and the providers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod artifact;
pub mod instance_health;

pub use artifact::{Artifact, ArtifactKind, CommitRef, FileRef, ImageRef};

/// One vocabulary for health everywhere on screen and in `--json` output
/// (the same words Argo CD uses, so operators read them without a legend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Health {
    /// Every check passes.
    Healthy,
    /// A rollout or start-up is under way.
    Progressing,
    /// Reachable, but at least one check fails or warns.
    Degraded,
    /// Deliberately stopped (scaled to zero, suspended).
    Suspended,
    /// Expected but not there (no instances, 404, connection refused).
    Missing,
    /// Not yet known, or the answer could not be read.
    #[default]
    Unknown,
}

impl Health {
    /// The word shown on screen.
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Degraded => "Degraded",
            Health::Suspended => "Suspended",
            Health::Missing => "Missing",
            Health::Unknown => "Unknown",
        }
    }

    /// Whether this state deserves the "needs attention" marker.
    pub fn needs_attention(self) -> bool {
        self != Health::Healthy
    }

    /// The worse of two states, for rolling services up into an environment.
    pub fn worst(self, other: Health) -> Health {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    fn rank(self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Suspended => 1,
            Health::Progressing => 2,
            Health::Unknown => 3,
            Health::Degraded => 4,
            Health::Missing => 5,
        }
    }
}

/// Normalised lifecycle of a release, whatever the provider calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    /// Accepted but not started.
    Pending,
    /// Being rolled out.
    Deploying,
    /// Serving traffic now.
    Live,
    /// Served traffic once, replaced by a later release.
    Superseded,
    /// The rollout failed.
    Failed,
    /// Reverted by a rollback.
    RolledBack,
}

impl ReleaseStatus {
    /// The word shown on screen.
    pub fn label(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Deploying => "deploying",
            ReleaseStatus::Live => "live",
            ReleaseStatus::Superseded => "superseded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::RolledBack => "rolled back",
        }
    }
}

/// One entry of an environment's release history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Provider id (`v42`, `dep-…`, a uuid).
    pub id: String,
    /// Monotonic number where the provider has one.
    pub version: Option<u64>,
    /// What the release runs (image, commit or file).
    pub artifact: Option<Artifact>,
    /// Normalised status.
    pub status: ReleaseStatus,
    /// The provider's own status word, kept so nothing is lost.
    pub raw_status: String,
    /// Who made it.
    pub author: Option<String>,
    /// Free text (commit message, "Rollback to v41", …).
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Whether it is the one serving now.
    pub current: bool,
}

impl Release {
    /// What a person calls this release: `v42` where the provider numbers
    /// releases, else the image tag or short commit, else a short id.
    pub fn label(&self) -> String {
        if let Some(v) = self.version {
            return format!("v{v}");
        }
        match &self.artifact {
            Some(Artifact::Image(ImageRef { tag: Some(t), .. })) => t.clone(),
            // Deployed by digest alone: the digest is what names it.
            Some(Artifact::Image(ImageRef {
                tag: None,
                digest: Some(d),
                ..
            })) => {
                let hex = d.split_once(':').map_or(d.as_str(), |(_, h)| h);
                format!("@{}", &hex[..hex.len().min(8)])
            }
            Some(Artifact::Commit(c)) => c.sha[..c.sha.len().min(7)].to_string(),
            _ => self.id.chars().take(12).collect(),
        }
    }

    /// The artifact in short form, or `—`.
    pub fn artifact_short(&self) -> String {
        self.artifact
            .as_ref()
            .map_or_else(|| "—".to_string(), Artifact::short)
    }
}

/// A secret's metadata. The value is never part of this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMeta {
    /// Variable name, e.g. `JWT_SECRET_KEY`.
    pub name: String,
    /// Provider digest of the value, when the provider exposes one.
    pub digest: Option<String>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// Set but not yet applied to running instances.
    pub staged: bool,
    /// Its value can be written but never read back, not even by the
    /// platform's API (a Railway sealed variable): no digest, no drift.
    #[serde(default)]
    pub write_only: bool,
}

/// One running instance (machine, dyno, container) as the provider reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Provider id.
    pub id: String,
    /// Service or process group it belongs to.
    pub service: String,
    /// Region or host.
    pub region: Option<String>,
    /// Image it runs.
    pub image: Option<String>,
    /// Provider's state word.
    pub state: String,
    /// Normalised health.
    pub health: Health,
}

/// Where a credential the app uses came from (shown, never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// The OS keyring.
    Keyring,
    /// An environment variable (CI).
    Environment,
    /// Not needed (the demo fleet).
    NotNeeded,
    /// Not configured.
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_prefers_missing_over_degraded_over_healthy() {
        assert_eq!(Health::Healthy.worst(Health::Degraded), Health::Degraded);
        assert_eq!(Health::Missing.worst(Health::Degraded), Health::Missing);
        assert_eq!(Health::Healthy.worst(Health::Healthy), Health::Healthy);
        assert!(!Health::Healthy.needs_attention());
        assert!(Health::Progressing.needs_attention());
    }

    #[test]
    fn a_release_label_is_its_version_else_its_tag_else_a_short_id() {
        let mut r = Release {
            id: "UmVsZWFzZS0xMjM0NTY3OA==".into(),
            version: Some(5),
            artifact: Some(Artifact::image(
                "registry.fly.io/app:deployment-01J@sha256:aa",
            )),
            status: ReleaseStatus::Live,
            raw_status: String::new(),
            author: None,
            description: String::new(),
            created_at: Utc::now(),
            current: true,
        };
        assert_eq!(r.label(), "v5");
        r.version = None;
        assert_eq!(r.label(), "deployment-01J");
        r.artifact = Some(Artifact::image("docker.io/acme/api@sha256:3aff2b6dcd41"));
        assert_eq!(r.label(), "@3aff2b6d", "deployed by digest alone");
        r.artifact = None;
        assert_eq!(r.label(), "UmVsZWFzZS0x");
    }
}
