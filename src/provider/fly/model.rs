//! Serde types for the JSON Fly sends (Machines API, GraphQL, logs), holding
//! only the fields shipdeck reads. A machine's `config` is kept whole so an
//! update can send it back with nothing but the image changed.

use serde::Deserialize;
use serde_json::Value;

/// A Machine as the Machines API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct Machine {
    /// Machine id.
    pub id: String,
    /// `created`, `starting`, `started`, `stopped`, `destroyed`, …
    #[serde(default)]
    pub state: String,
    /// Region code.
    #[serde(default)]
    pub region: Option<String>,
    /// The running instance (changes on every update).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The resolved image.
    #[serde(default)]
    pub image_ref: Option<ImageRef>,
    /// The whole machine config.
    #[serde(default)]
    pub config: Value,
    /// Health checks.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// `ok`, `unknown` or `unreachable`.
    #[serde(default)]
    pub host_status: Option<String>,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A resolved image reference.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageRef {
    /// `registry.fly.io`, `docker-hub-mirror.fly.io`, …
    #[serde(default)]
    pub registry: Option<String>,
    /// Repository path.
    #[serde(default)]
    pub repository: Option<String>,
    /// Tag, if deployed by tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// `sha256:…`
    #[serde(default)]
    pub digest: Option<String>,
}

/// One health check result of a machine.
#[derive(Debug, Clone, Deserialize)]
pub struct Check {
    /// Check name.
    #[serde(default)]
    pub name: String,
    /// `passing`, `warning` or `critical`.
    #[serde(default)]
    pub status: String,
    /// Last output.
    #[serde(default)]
    pub output: Option<String>,
}

impl Machine {
    /// `config.image`, the reference the machine was told to run.
    pub fn config_image(&self) -> Option<&str> {
        self.config.get("image").and_then(Value::as_str)
    }

    /// `config.metadata.fly_process_group`.
    pub fn process_group(&self) -> Option<&str> {
        self.config
            .get("metadata")
            .and_then(|m| m.get("fly_process_group"))
            .and_then(Value::as_str)
    }

    /// The image pinned by digest (`registry/repo@sha256:…`), when Fly resolved it.
    pub fn pinned_image(&self) -> Option<String> {
        let r = self.image_ref.as_ref()?;
        let digest = r.digest.as_deref().filter(|d| !d.is_empty())?;
        let repo = r.repository.as_deref().filter(|d| !d.is_empty())?;
        Some(match r.registry.as_deref().filter(|d| !d.is_empty()) {
            Some(registry) => format!("{registry}/{repo}@{digest}"),
            None => format!("{repo}@{digest}"),
        })
    }

    /// The image to show: pinned by digest when known, else `config.image`.
    pub fn shown_image(&self) -> Option<String> {
        self.pinned_image()
            .or_else(|| self.config_image().map(str::to_string))
    }

    /// The digest Fly resolved, if any.
    pub fn digest(&self) -> Option<&str> {
        self.image_ref.as_ref()?.digest.as_deref()
    }

    /// Whether this machine already runs `image` (same reference, or same digest).
    pub fn runs(&self, image: &str) -> bool {
        if self.config_image() == Some(image) || self.pinned_image().as_deref() == Some(image) {
            return true;
        }
        match (digest_of(image), self.digest()) {
            (Some(want), Some(have)) => want == have,
            _ => false,
        }
    }
}

impl Machine {
    /// What this machine runs, with everything Fly knows: the repository and
    /// tag it was given and the digest Fly resolved (`app:1.3.0@sha256:…`).
    pub fn running_image(&self) -> Option<crate::domain::ImageRef> {
        let configured = self.config_image().map(crate::domain::ImageRef::parse);
        let resolved = self.image_ref.as_ref();
        let repository = match resolved.map(|r| (r.registry.as_deref(), r.repository.as_deref())) {
            Some((Some(reg), Some(repo))) if !reg.is_empty() && !repo.is_empty() => {
                format!("{reg}/{repo}")
            }
            Some((_, Some(repo))) if !repo.is_empty() => repo.to_string(),
            _ => configured.as_ref()?.repository.clone(),
        };
        let tag = resolved
            .and_then(|r| r.tag.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| configured.as_ref().and_then(|c| c.tag.clone()));
        let digest = self
            .digest()
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .or_else(|| configured.as_ref().and_then(|c| c.digest.clone()));
        Some(crate::domain::ImageRef {
            repository: crate::sanitize::sanitize(&repository),
            tag: tag.map(|t| crate::sanitize::sanitize(&t)),
            digest: digest.map(|d| crate::sanitize::sanitize(&d)),
        })
    }

    /// Whether this machine runs `image`: the same digest when both sides
    /// know one, else the same repository and tag (from Fly's resolved
    /// `image_ref` or from `config.image`).
    pub fn runs_image(&self, image: &crate::domain::ImageRef) -> bool {
        if let (Some(want), Some(have)) = (image.digest.as_deref(), self.digest()) {
            return want == have;
        }
        let Some(tag) = image.tag.as_deref() else {
            return false;
        };
        let by_ref = self.image_ref.as_ref().is_some_and(|r| {
            let repo = match (r.registry.as_deref(), r.repository.as_deref()) {
                (Some(reg), Some(repo)) if !reg.is_empty() => format!("{reg}/{repo}"),
                (_, Some(repo)) => repo.to_string(),
                _ => return false,
            };
            r.tag.as_deref() == Some(tag) && repo == image.repository
        });
        by_ref
            || self.config_image().is_some_and(|c| {
                let c = crate::domain::ImageRef::parse(c);
                c.repository == image.repository && c.tag.as_deref() == Some(tag)
            })
    }
}

/// The `sha256:…` part of `repo@sha256:…`.
pub fn digest_of(image: &str) -> Option<&str> {
    image
        .split_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

/// Lease answer: `{status, data:{nonce, expires_at, owner, version}, message, code}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LeaseAnswer {
    /// The lease itself.
    #[serde(default)]
    pub data: Option<LeaseData>,
    /// Error or status text.
    #[serde(default)]
    pub message: Option<String>,
}

/// The lease fields.
#[derive(Debug, Clone, Deserialize)]
pub struct LeaseData {
    /// Nonce to send in `fly-machine-lease-nonce` (absent when reading someone else's lease).
    #[serde(default)]
    pub nonce: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Who holds it.
    #[serde(default)]
    pub owner: Option<String>,
}

/// `GET /v1/apps/{app}/secrets`.
#[derive(Debug, Deserialize)]
pub struct SecretsList {
    /// Secret metadata.
    #[serde(default)]
    pub secrets: Vec<SecretEntry>,
}

/// One secret's metadata (never a value).
#[derive(Debug, Deserialize)]
pub struct SecretEntry {
    /// Name.
    pub name: String,
    /// Digest of the value.
    #[serde(default)]
    pub digest: Option<String>,
    /// Created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Updated (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Answer of a bulk secrets update.
#[derive(Debug, Deserialize)]
pub struct SecretsUpdate {
    /// The app's secrets version after the change.
    #[serde(default)]
    pub version: Option<u64>,
}

/// A Fly release from GraphQL (`releasesUnprocessed`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlRelease {
    /// Opaque id.
    pub id: String,
    /// `vN`'s N.
    #[serde(default)]
    pub version: Option<u64>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Why it was made.
    #[serde(default)]
    pub reason: Option<String>,
    /// Fly's status word.
    #[serde(default)]
    pub status: Option<String>,
    /// The image.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub user: Option<GqlUser>,
    /// When (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A GraphQL user.
#[derive(Debug, Clone, Deserialize)]
pub struct GqlUser {
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Logs answer: `{data:[{id, attributes:{…}}], meta:{next_token}}`.
#[derive(Debug, Deserialize)]
pub struct LogsPage {
    /// Entries, oldest first.
    #[serde(default)]
    pub data: Vec<LogEntry>,
    /// Paging.
    #[serde(default)]
    pub meta: Option<LogsMeta>,
}

/// One log entry.
#[derive(Debug, Deserialize)]
pub struct LogEntry {
    /// Fields.
    #[serde(default)]
    pub attributes: LogAttributes,
}

/// The fields of a log entry.
#[derive(Debug, Default, Deserialize)]
pub struct LogAttributes {
    /// RFC 3339 time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The line.
    #[serde(default)]
    pub message: Option<String>,
    /// Level word.
    #[serde(default)]
    pub level: Option<String>,
    /// Machine id.
    #[serde(default)]
    pub instance: Option<String>,
    /// Region code.
    #[serde(default)]
    pub region: Option<String>,
}

/// Logs paging.
#[derive(Debug, Deserialize)]
pub struct LogsMeta {
    /// Token for the next poll.
    #[serde(default)]
    pub next_token: Option<String>,
}
