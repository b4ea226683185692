//! The demo fleet's release and secret store: what a PaaS control plane would
//! keep. Seeded with a realistic history; one release in staging is known bad.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::domain::{Release, ReleaseStatus, SecretMeta};

/// How long instances report `starting` after a deploy.
pub const RESTART_SECS: f64 = 3.0;

/// The image repository all demo releases come from.
const REPO: &str = "ghcr.io/acme/shop";

/// One release as the demo control plane stores it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoRelease {
    /// `v44`.
    pub version: u64,
    /// Full image ref with digest.
    pub image: String,
    /// Status.
    pub status: ReleaseStatus,
    /// Author email.
    pub author: String,
    /// Description.
    pub description: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// One secret; the value stays in the store.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DemoSecret {
    value: String,
    updated_at: DateTime<Utc>,
    staged: bool,
}

/// Per-env records: each service deploys apart, secrets are the env's.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct EnvRecord {
    /// Release history per service, oldest first.
    services: BTreeMap<String, Vec<DemoRelease>>,
    secrets: BTreeMap<String, DemoSecret>,
    #[serde(skip)]
    restarted_at: BTreeMap<String, Instant>,
}

/// A build known to break a service (every service when `service` is None).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BadImage {
    /// The image reference as deployed.
    pub image: String,
    /// The service it breaks.
    pub service: Option<String>,
}

/// The whole store. With a path, every change is written through (atomic
/// rename), so the demo fleet keeps its state across restarts and crashes
/// the way a real platform does.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Store {
    envs: BTreeMap<String, EnvRecord>,
    bad_images: Vec<BadImage>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

/// The image of demo release `version`: same version, same image in every env.
pub fn image_for(version: u64) -> String {
    let digest = hex(&Sha256::digest(format!("shop-build-{version}").as_bytes()));
    format!("{REPO}:2026.11.{version}@sha256:{digest}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Shortest `JWT_SECRET_KEY` the demo api accepts.
const MIN_JWT_KEY: usize = 32;

/// Digest shown for a secret value (see [`crate::secrets::digest`]).
pub fn secret_digest(value: &str) -> String {
    crate::secrets::digest(value)
}

/// The release that breaks things: the api's storage client times out.
pub const BAD_VERSION: u64 = 44;

/// The service the bad release breaks.
pub const BAD_SERVICE: &str = "api";

/// Services a demo env has when the caller names none.
pub const DEFAULT_SERVICES: [&str; 2] = ["api", "web"];

const CHANGES: &[(&str, &str)] = &[
    ("maria@acme.dev", "fix: checkout retries on upstream 502"),
    ("deploy-bot", "chore: bump base image to node:22.11-alpine"),
    ("sam@acme.dev", "feat: order history pagination"),
    ("lee@acme.dev", "perf: cache product search for 30s"),
    ("maria@acme.dev", "fix: JWT clock skew tolerance 30s"),
    ("sam@acme.dev", "feat: webhook signature v2 (expand step)"),
    ("deploy-bot", "chore: weekly dependency updates"),
    ("lee@acme.dev", "fix: N+1 query on /api/v1/orders"),
    (
        "maria@acme.dev",
        "feat: switch uploads to storage client v2",
    ),
    ("sam@acme.dev", "feat: saved carts"),
];

fn change(version: u64) -> (&'static str, &'static str) {
    if version == BAD_VERSION {
        return (
            "maria@acme.dev",
            "feat: switch uploads to storage client v2",
        );
    }
    CHANGES[(version as usize * 7) % CHANGES.len()]
}

fn seeded_history(env: &str, now: DateTime<Utc>) -> Vec<DemoRelease> {
    // (first version, current version, hours between releases, hours since current)
    let (first, current, spacing, age) = match env {
        "production" | "prod" => (35, 41, 26, 30),
        "staging" => (38, 44, 9, 2),
        _ => (39, 45, 5, 1),
    };
    (first..=current)
        .map(|v| {
            let (author, description) = change(v);
            let hours_ago = age + (current - v) as i64 * spacing;
            DemoRelease {
                version: v,
                image: image_for(v),
                status: if v == current {
                    ReleaseStatus::Live
                } else {
                    ReleaseStatus::Superseded
                },
                author: author.into(),
                description: description.into(),
                created_at: now
                    - ChronoDuration::hours(hours_ago)
                    - ChronoDuration::minutes((v * 13 % 50) as i64),
            }
        })
        .collect()
}

fn seeded_secrets(env: &str, now: DateTime<Utc>) -> BTreeMap<String, DemoSecret> {
    let mut names = vec![
        "DATABASE_URL",
        "JWT_SECRET_KEY",
        "REDIS_URL",
        "SENTRY_DSN",
        "STRIPE_SECRET_KEY",
    ];
    if env == "staging" || env == "dev" {
        // Added in staging for the new email provider, not yet in production: drift.
        names.push("RESEND_API_KEY");
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            // Shared values (same digest everywhere) for the Sentry DSN; per-env otherwise.
            let value = if name == "SENTRY_DSN" {
                "https://public@sentry.example/42".to_string()
            } else {
                format!("{}-{}", random_value(32), env)
            };
            let secret = DemoSecret {
                value,
                updated_at: now - ChronoDuration::days(3 + i as i64 * 11),
                staged: false,
            };
            (name.to_string(), secret)
        })
        .collect()
}

/// A random value from an alphanumeric alphabet.
pub fn random_value(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// No such env.
    #[error("no env named `{0}` in the demo fleet")]
    NoEnv(String),
    /// No such service in the env.
    #[error("env `{0}` of the demo fleet has no service `{1}`")]
    NoService(String, String),
    /// No such release.
    #[error("no release `{0}` in this env's history")]
    NoRelease(String),
    /// The store file could not be written.
    #[error("demo store could not be saved: {0}")]
    Io(String),
}

impl Store {
    /// A store seeded for these envs and their services, kept in memory only.
    pub fn seeded<'a>(envs: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> Store {
        let mut store = Store {
            envs: BTreeMap::new(),
            bad_images: vec![BadImage {
                image: image_for(BAD_VERSION),
                service: Some(BAD_SERVICE.to_string()),
            }],
            path: None,
        };
        store.seed_missing(envs);
        store
    }

    fn seed_missing<'a>(&mut self, envs: impl IntoIterator<Item = (&'a str, Vec<String>)>) {
        let now = Utc::now();
        for (name, services) in envs {
            let record = self
                .envs
                .entry(name.to_string())
                .or_insert_with(|| EnvRecord {
                    services: BTreeMap::new(),
                    secrets: seeded_secrets(name, now),
                    restarted_at: BTreeMap::new(),
                });
            for svc in services {
                record
                    .services
                    .entry(svc)
                    .or_insert_with(|| seeded_history(name, now));
            }
        }
    }

    /// Mark `image` as breaking `service` (every service when None), as a bad build would.
    pub fn mark_bad(&mut self, image: &str, service: Option<&str>) {
        self.bad_images.push(BadImage {
            image: image.to_string(),
            service: service.map(str::to_string),
        });
    }

    /// Load the store at `path` (seeding envs it lacks), or seed a new one there.
    /// An unreadable file is kept aside as `<path>.corrupt` and a fresh store seeded.
    pub fn open<'a>(
        path: &Path,
        envs: impl IntoIterator<Item = (&'a str, Vec<String>)>,
    ) -> std::io::Result<Store> {
        let mut store = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Store>(&bytes) {
                Ok(store) => store,
                Err(_) => {
                    std::fs::rename(path, path.with_extension("json.corrupt"))?;
                    Store::seeded([])
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Store::seeded([]),
            Err(e) => return Err(e),
        };
        store.path = Some(path.to_path_buf());
        store.seed_missing(envs);
        store.persist()?;
        Ok(store)
    }

    /// Write the store through to its file, atomically.
    fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    fn env(&self, env: &str) -> Result<&EnvRecord, StoreError> {
        self.envs
            .get(env)
            .ok_or_else(|| StoreError::NoEnv(env.to_string()))
    }

    fn env_mut(&mut self, env: &str) -> Result<&mut EnvRecord, StoreError> {
        self.envs
            .get_mut(env)
            .ok_or_else(|| StoreError::NoEnv(env.to_string()))
    }

    fn history(&self, env: &str, service: &str) -> Result<&Vec<DemoRelease>, StoreError> {
        self.env(env)?
            .services
            .get(service)
            .ok_or_else(|| StoreError::NoService(env.to_string(), service.to_string()))
    }

    /// A service's release history, newest first, in the shared domain shape.
    pub fn releases(
        &self,
        env: &str,
        service: &str,
        limit: usize,
    ) -> Result<Vec<Release>, StoreError> {
        Ok(self
            .history(env, service)?
            .iter()
            .rev()
            .take(limit)
            .map(|r| Release {
                id: format!("v{}", r.version),
                version: Some(r.version),
                artifact: Some(crate::domain::Artifact::image(&r.image)),
                status: r.status,
                raw_status: r.status.label().to_string(),
                author: Some(r.author.clone()),
                description: r.description.clone(),
                created_at: r.created_at,
                current: r.status == ReleaseStatus::Live,
            })
            .collect())
    }

    /// The image a service runs.
    pub fn current_image(&self, env: &str, service: &str) -> Option<String> {
        self.history(env, service)
            .ok()?
            .iter()
            .rev()
            .find(|r| r.status == ReleaseStatus::Live)
            .map(|r| r.image.clone())
    }

    /// Whether a service runs a known-bad build.
    pub fn runs_bad_image(&self, env: &str, service: &str) -> bool {
        self.current_image(env, service).is_some_and(|img| {
            self.bad_images
                .iter()
                .any(|b| b.image == img && b.service.as_deref().is_none_or(|s| s == service))
        })
    }

    /// Why the api refuses to work with the applied secrets, if it does: the
    /// demo app validates `JWT_SECRET_KEY` at start like real apps do (at
    /// least 32 bytes), so a bad rotation fails the health gate.
    pub fn config_problem(&self, env: &str) -> Option<String> {
        let record = self.envs.get(env)?;
        match record.secrets.get("JWT_SECRET_KEY") {
            Some(s) if !s.staged && s.value.len() < MIN_JWT_KEY => Some(format!(
                "JWT_SECRET_KEY is {} bytes; at least {MIN_JWT_KEY} required",
                s.value.len()
            )),
            _ => None,
        }
    }

    /// Whether a service's instances are still starting after a deploy or restart.
    pub fn restarting(&self, env: &str, service: &str) -> bool {
        self.envs
            .get(env)
            .and_then(|r| r.restarted_at.get(service))
            .is_some_and(|t| t.elapsed().as_secs_f64() < RESTART_SECS)
    }

    /// Restart every service of an env (applying staged secrets).
    pub fn restart(&mut self, env: &str) -> Result<(), StoreError> {
        let record = self.env_mut(env)?;
        for s in record.secrets.values_mut() {
            s.staged = false;
        }
        let now = Instant::now();
        let services: Vec<String> = record.services.keys().cloned().collect();
        for svc in services {
            record.restarted_at.insert(svc, now);
        }
        self.persist().map_err(|e| StoreError::Io(e.to_string()))
    }

    /// Deploy an image to one service: a new live release, the old one
    /// superseded. Version numbers run per env, across its services.
    pub fn deploy(
        &mut self,
        env: &str,
        service: &str,
        image: &str,
        author: &str,
        description: &str,
    ) -> Result<Release, StoreError> {
        self.history(env, service)?;
        let record = self.env_mut(env)?;
        let next = record
            .services
            .values()
            .flatten()
            .map(|r| r.version)
            .max()
            .unwrap_or(0)
            + 1;
        let Some(history) = record.services.get_mut(service) else {
            return Err(StoreError::NoService(env.to_string(), service.to_string()));
        };
        for r in history
            .iter_mut()
            .filter(|r| r.status == ReleaseStatus::Live)
        {
            r.status = ReleaseStatus::Superseded;
        }
        history.push(DemoRelease {
            version: next,
            image: image.to_string(),
            status: ReleaseStatus::Live,
            author: author.to_string(),
            description: description.to_string(),
            created_at: Utc::now(),
        });
        for s in record.secrets.values_mut() {
            s.staged = false;
        }
        record
            .restarted_at
            .insert(service.to_string(), Instant::now());
        self.persist().map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(self.releases(env, service, 1)?.remove(0))
    }

    /// Roll a service back to an earlier release of its own (a new release running its image).
    pub fn rollback(
        &mut self,
        env: &str,
        service: &str,
        to_id: &str,
        author: &str,
    ) -> Result<Release, StoreError> {
        let target = self
            .history(env, service)?
            .iter()
            .find(|r| format!("v{}", r.version) == to_id)
            .cloned()
            .ok_or_else(|| StoreError::NoRelease(to_id.to_string()))?;
        if let Some(history) = self
            .envs
            .get_mut(env)
            .and_then(|r| r.services.get_mut(service))
        {
            for r in history
                .iter_mut()
                .filter(|r| r.status == ReleaseStatus::Live)
            {
                r.status = ReleaseStatus::RolledBack;
            }
        }
        let description = format!("Rollback to v{}", target.version);
        let image = target.image.clone();
        self.deploy(env, service, &image, author, &description)
    }

    /// Secret metadata, never values.
    pub fn secrets(&self, env: &str) -> Result<Vec<SecretMeta>, StoreError> {
        Ok(self
            .env(env)?
            .secrets
            .iter()
            .map(|(name, s)| SecretMeta {
                name: name.clone(),
                digest: Some(secret_digest(&s.value)),
                updated_at: Some(s.updated_at),
                staged: s.staged,
                write_only: false,
            })
            .collect())
    }

    /// Set (Some) or unset (None) secrets.
    pub fn set_secrets(
        &mut self,
        env: &str,
        values: Vec<(String, Option<String>)>,
        stage: bool,
    ) -> Result<(), StoreError> {
        let record = self.env_mut(env)?;
        for (name, value) in values {
            match value {
                Some(value) => {
                    record.secrets.insert(
                        name,
                        DemoSecret {
                            value,
                            updated_at: Utc::now(),
                            staged: stage,
                        },
                    );
                }
                None => {
                    record.secrets.remove(&name);
                }
            }
        }
        if !stage {
            return self.restart(env);
        }
        self.persist().map_err(|e| StoreError::Io(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs<'a>(names: &[&'a str]) -> Vec<(&'a str, Vec<String>)> {
        names
            .iter()
            .map(|n| (*n, DEFAULT_SERVICES.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn staging_api_runs_the_bad_build_and_production_does_not() {
        let store = Store::seeded(envs(&["dev", "staging", "production"]));
        assert!(store.runs_bad_image("staging", "api"));
        assert!(
            !store.runs_bad_image("staging", "web"),
            "the bad build breaks the api only"
        );
        assert!(!store.runs_bad_image("production", "api"));
        let prod = store.releases("production", "web", 50).unwrap();
        assert_eq!(prod[0].id, "v41");
        assert!(prod[0].current);
        assert!(prod.iter().skip(1).all(|r| !r.current));
    }

    #[test]
    fn services_deploy_apart_and_versions_run_per_env() {
        let mut store = Store::seeded(envs(&["staging", "production"]));
        let bad = image_for(BAD_VERSION);
        let rel = store
            .deploy("production", "api", &bad, "t@x", "promote v44")
            .unwrap();
        assert_eq!(rel.id, "v42");
        assert!(store.runs_bad_image("production", "api"));
        assert_eq!(
            store.current_image("production", "web"),
            Some(image_for(41))
        );
        let web = store
            .deploy("production", "web", &image_for(43), "t@x", "promote v43")
            .unwrap();
        assert_eq!(web.id, "v43", "the next number across the env's services");
        let back = store.rollback("production", "api", "v41", "t@x").unwrap();
        assert_eq!(back.description, "Rollback to v41");
        assert!(!store.runs_bad_image("production", "api"));
        assert_eq!(
            store
                .rollback("production", "api", "v999", "t")
                .unwrap_err(),
            StoreError::NoRelease("v999".into())
        );
        assert_eq!(
            store.releases("production", "db", 5).unwrap_err(),
            StoreError::NoService("production".into(), "db".into())
        );
    }

    #[test]
    fn a_persisted_store_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.json");
        let mut store = Store::open(&path, envs(&["staging", "production"])).unwrap();
        store
            .deploy("production", "api", &image_for(43), "t", "promote")
            .unwrap();
        drop(store);
        let again = Store::open(&path, envs(&["staging", "production", "dev"])).unwrap();
        assert_eq!(
            again.current_image("production", "api"),
            Some(image_for(43))
        );
        assert!(
            again.current_image("dev", "api").is_some(),
            "new envs are seeded"
        );
        std::fs::write(&path, b"{not json").unwrap();
        let fresh = Store::open(&path, envs(&["production"])).unwrap();
        assert_eq!(
            fresh.current_image("production", "api"),
            Some(image_for(41))
        );
        assert!(path.with_extension("json.corrupt").exists());
    }

    #[test]
    fn secrets_drift_between_staging_and_production() {
        let store = Store::seeded(envs(&["staging", "production"]));
        let s: Vec<String> = store
            .secrets("staging")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        let p: Vec<String> = store
            .secrets("production")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert!(s.contains(&"RESEND_API_KEY".to_string()));
        assert!(!p.contains(&"RESEND_API_KEY".to_string()));
    }
}
