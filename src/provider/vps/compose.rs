//! Docker Compose services on a VPS: a release is an image reference; a
//! deploy sets the variable the compose file reads the service's image from
//! (`image: ${WEB_IMAGE}`) in the project's `.env` (edited like a secret:
//! atomically, every other line kept), optionally pulls, and runs `up -d
//! --no-deps SERVICE`, so the database and cache beside it are never
//! recreated; then it waits for the new container's health (its
//! `healthcheck`, else running steadily). A rollback deploys the earlier
//! image the same way. History is what shipdeck deployed
//! (`DIR/.shipdeck/SERVICE.history`), and what runs now is read from the
//! container itself. Works with `docker compose` (v2) and `docker-compose`
//! (v1, the seed's spelling).

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::settings::ComposeSettings;
use super::transport::script;
use super::{POLL, SETTLE, UnitSettings, VpsProvider, env_file, systemd};
use crate::domain::{Artifact, Health, ImageRef, Instance, Release, ReleaseStatus};
use crate::provider::{Progress, ProviderError, UnitState as Step};
use crate::sanitize::sanitize;

/// Runs a command in the project folder. Args: DIR PROGRAM ARGS….
const IN_DIR: &str = r#"cd -- "$1" || { echo "the folder $1 does not exist" >&2; exit 3; }
shift
exec "$@"
"#;

/// Appends one history line. Args: DIR SERVICE EPOCH IMAGE.
const RECORD: &str = r#"mkdir -p -- "$1/.shipdeck" && printf '%s\t%s\n' "$3" "$4" >> "$1/.shipdeck/$2.history"
"#;

/// Prints the history (nothing when there is none). Args: DIR SERVICE.
const HISTORY: &str = r#"cat -- "$1/.shipdeck/$2.history" 2>/dev/null || true
"#;

/// What `docker inspect` says of a service's container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    /// Its id.
    pub id: String,
    /// The image as the compose file names it (`shop/web:1.4`).
    pub image: String,
    /// The image id (`sha256:…`).
    pub image_id: String,
    /// `running`, `exited`, `restarting`, …
    pub status: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a healthcheck.
    pub health: String,
}

const INSPECT_FORMAT: &str = "{{.Id}}|{{.Config.Image}}|{{.Image}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}";

impl Container {
    fn parse(out: &[u8]) -> Option<Container> {
        let text = String::from_utf8_lossy(out);
        let line = text.lines().find(|l| !l.trim().is_empty())?;
        let f: Vec<&str> = line.trim().splitn(5, '|').collect();
        Some(Container {
            id: f.first()?.to_string(),
            image: f.get(1)?.to_string(),
            image_id: f.get(2)?.to_string(),
            status: f.get(3)?.to_string(),
            health: f.get(4).unwrap_or(&"").to_string(),
        })
    }

    /// Up and, where it has a healthcheck, healthy.
    fn ready(&self) -> bool {
        self.status == "running" && (self.health.is_empty() || self.health == "healthy")
    }

    fn word(&self) -> String {
        if self.health.is_empty() {
            self.status.clone()
        } else {
            format!("{} ({})", self.status, self.health)
        }
    }
}

impl VpsProvider {
    fn compose_argv(&self, c: &ComposeSettings, dir: &str, words: &[&str]) -> Vec<String> {
        let mut args: Vec<&str> = vec![dir];
        args.extend(c.command.iter().map(String::as_str));
        args.extend(["-f", c.file.as_str()]);
        if let Some(p) = &c.project {
            args.extend(["-p", p.as_str()]);
        }
        args.extend(words);
        script(IN_DIR, &args)
    }

    /// The service's container now, if it has one.
    pub(super) async fn container(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
    ) -> Result<Option<Container>, ProviderError> {
        let ids = self
            .check(
                &format!("compose ps -q {}", c.service),
                &self.compose_argv(c, &unit.dir, &["ps", "-q", &c.service]),
                None,
                self.settings.command_timeout,
            )
            .await?;
        let ids = String::from_utf8_lossy(&ids).to_string();
        let Some(id) = ids.split_whitespace().next() else {
            return Ok(None);
        };
        let out = self
            .check(
                &format!("docker inspect {id}"),
                &[
                    "docker".to_string(),
                    "inspect".into(),
                    "--format".into(),
                    INSPECT_FORMAT.into(),
                    id.to_string(),
                ],
                None,
                self.settings.command_timeout,
            )
            .await?;
        Ok(Container::parse(&out))
    }

    /// What shipdeck deployed, newest first, with what runs now marked.
    pub(super) async fn compose_releases(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
        limit: usize,
    ) -> Result<Vec<Release>, ProviderError> {
        let running = self.container(unit, c).await?;
        let out = self
            .check(
                &format!("read the history of {}", c.service),
                &script(HISTORY, &[&unit.dir, &c.service]),
                None,
                self.settings.command_timeout,
            )
            .await?;
        let text = String::from_utf8_lossy(&out).to_string();
        let mut releases: Vec<(String, DateTime<Utc>)> = Vec::new();
        for line in text.lines().rev() {
            let Some((epoch, image)) = line.split_once('\t') else {
                continue;
            };
            if !releases.iter().any(|(seen, _)| seen == image) {
                releases.push((image.to_string(), systemd::epoch(epoch).unwrap_or_default()));
            }
        }
        // What runs now, even if shipdeck never deployed it.
        if let Some(r) = &running
            && !releases.iter().any(|(seen, _)| *seen == r.image)
        {
            releases.insert(0, (r.image.clone(), Utc::now()));
        }
        Ok(releases
            .into_iter()
            .take(limit)
            .map(|(image, at)| {
                let current = running
                    .as_ref()
                    .is_some_and(|r| r.image == image && r.status == "running");
                let artifact = ImageRef::parse(&image);
                Release {
                    id: sanitize(&image),
                    version: None,
                    artifact: Some(Artifact::Image(artifact)),
                    status: if current {
                        ReleaseStatus::Live
                    } else {
                        ReleaseStatus::Superseded
                    },
                    raw_status: if current {
                        "running"
                    } else {
                        "deployed before"
                    }
                    .into(),
                    author: None,
                    description: sanitize(&format!("{} in {}", c.service, c.file)),
                    created_at: at,
                    current,
                }
            })
            .collect())
    }

    /// Point the service at `image`, bring it up alone, and wait until it is
    /// healthy (or steadily running, without a healthcheck).
    pub(super) async fn compose_deploy(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
        artifact: &Artifact,
        progress: &Progress,
        lock: &mut super::lock::RemoteLock,
    ) -> Result<Release, ProviderError> {
        let Artifact::Image(image) = artifact else {
            return Err(ProviderError::Invalid {
                target: format!("{}/{}", self.settings.env, unit.service),
                message: format!(
                    "a Compose service deploys an image, not the {} {}",
                    artifact.kind().label(),
                    sanitize(&artifact.full())
                ),
            });
        };
        let reference = image.reference();
        if reference.starts_with('-')
            || reference.is_empty()
            || reference
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control())
        {
            return Err(ProviderError::Invalid {
                target: format!("{}/{}", self.settings.env, unit.service),
                message: format!(
                    "`{}` is not an image reference (repository:tag or repository@sha256:…)",
                    sanitize(&reference)
                ),
            });
        }
        let name = &c.service;
        let before = self.container(unit, c).await?;
        if let Some(now) = &before
            && now.image == reference
            && now.ready()
        {
            progress.report(name, 1, 1, Step::Skipped, "already runs this image");
            return self.compose_current(unit, c).await;
        }
        let env_path = format!("{}/.env", unit.dir);
        let (text, _, sum) = self.read_env_file(&env_path).await?;
        let edited = env_file::edit(&text, &[(c.image_var.clone(), Some(reference.clone()))])
            .map_err(|e| ProviderError::Invalid {
                target: sanitize(&env_path),
                message: e.to_string(),
            })?;
        if !c.pull {
            // Compose would try to pull a missing image: say so before anything changes.
            let present = self
                .exec_on(
                    self.transport(),
                    &format!("docker image inspect {reference}"),
                    &[
                        "docker".to_string(),
                        "image".into(),
                        "inspect".into(),
                        "--format".into(),
                        "{{.Id}}".into(),
                        "--".into(),
                        reference.clone(),
                    ],
                    None,
                    self.settings.command_timeout,
                )
                .await?;
            if present.code != 0 {
                return Err(ProviderError::Invalid {
                    target: format!("{}/{}", self.settings.env, unit.service),
                    message: format!(
                        "the image {} is not on {} and `pull = false`: load it there (`docker load`, or build it), or set `pull = true`; nothing changed",
                        sanitize(&reference),
                        self.transport().describe()
                    ),
                });
            }
        } else {
            progress.report(name, 1, 1, Step::Started, &format!("pulling {reference}"));
            // Pull before anything changes: a missing image leaves the service as it was.
            let pull = self.compose_argv(c, &unit.dir, &["pull", name]);
            let mut with_image = vec![format!("{}={reference}", c.image_var)];
            with_image.extend(pull);
            self.check(
                &format!("compose pull {name}"),
                &[vec!["env".to_string()], with_image].concat(),
                None,
                self.settings.command_timeout.max(super::TRANSFER),
            )
            .await?;
        }
        progress.stop_if_cancelled(0, 1)?;
        lock.alive()?;
        // The image running now goes in the history first: it is what a rollback returns to.
        if let Some(before) = &before {
            self.record(unit, c, &before.image).await;
        }
        self.write_env_file(&env_path, &sum, &edited).await?;
        progress.report(
            name,
            1,
            1,
            Step::Started,
            &format!("{}={reference}, up -d --no-deps {name}", c.image_var),
        );
        let result = async {
            self.check(
                &format!("compose up -d --no-deps {name}"),
                &self.compose_argv(c, &unit.dir, &["up", "-d", "--no-deps", name]),
                None,
                self.settings.command_timeout.max(super::TRANSFER),
            )
            .await?;
            self.wait_container(unit, c, &reference).await
        }
        .await;
        match result {
            Ok(_) => {
                progress.report(name, 1, 1, Step::Done, &format!("healthy on {reference}"));
                self.record(unit, c, &reference).await;
                self.compose_current(unit, c).await
            }
            Err(e) => {
                progress.report(name, 1, 1, Step::Failed, &e.to_string());
                Err(e)
            }
        }
    }

    /// Add `image` to the service's history (a failure is in the command log only).
    async fn record(&self, unit: &UnitSettings, c: &ComposeSettings, image: &str) {
        let _ = self
            .check(
                &format!("record {image} in the history of {}", c.service),
                &script(
                    RECORD,
                    &[
                        &unit.dir,
                        &c.service,
                        &Utc::now().timestamp().to_string(),
                        image,
                    ],
                ),
                None,
                self.settings.command_timeout,
            )
            .await;
    }

    async fn compose_current(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
    ) -> Result<Release, ProviderError> {
        self.compose_releases(unit, c, 50)
            .await?
            .into_iter()
            .find(|r| r.current)
            .ok_or_else(|| ProviderError::NotFound {
                what: format!("a running container of {}", sanitize(&c.service)),
            })
    }

    async fn wait_container(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
        reference: &str,
    ) -> Result<Container, ProviderError> {
        let failed = |why: String| ProviderError::Rollout {
            machine: c.service.clone(),
            step: "start".into(),
            done: 0,
            total: 1,
            reason: Box::new(ProviderError::Command {
                command: format!("compose up -d --no-deps {}", sanitize(&c.service)),
                reason: why,
            }),
        };
        let deadline = Instant::now() + unit.start_timeout;
        let mut steady: Option<(String, Instant)> = None;
        loop {
            let now = self.container(unit, c).await?;
            match &now {
                Some(k) if k.image == reference && k.health == "unhealthy" => {
                    return Err(failed(format!("the container turned {}", k.word())));
                }
                Some(k)
                    if k.image == reference && matches!(k.status.as_str(), "exited" | "dead") =>
                {
                    return Err(failed(format!("the container {}", k.word())));
                }
                Some(k) if k.image == reference && k.ready() => {
                    // A healthcheck says so itself; without one, it must stay up a while.
                    if !k.health.is_empty() {
                        return Ok(k.clone());
                    }
                    match &steady {
                        Some((id, since)) if *id == k.id => {
                            if since.elapsed() >= SETTLE.min(unit.start_timeout) {
                                return Ok(k.clone());
                            }
                        }
                        _ => steady = Some((k.id.clone(), Instant::now())),
                    }
                }
                _ => steady = None,
            }
            if Instant::now() >= deadline {
                return Err(failed(format!(
                    "not healthy within {}s ({})",
                    unit.start_timeout.as_secs(),
                    now.map_or("no container".to_string(), |k| k.word())
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Recreate the service's container on the image it runs (to read a
    /// changed env file), and wait until it is healthy again.
    pub(super) async fn compose_recreate(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
    ) -> Result<(), ProviderError> {
        let Some(now) = self.container(unit, c).await? else {
            return Ok(());
        };
        self.check(
            &format!("compose up -d --no-deps --force-recreate {}", c.service),
            &self.compose_argv(
                c,
                &unit.dir,
                &["up", "-d", "--no-deps", "--force-recreate", &c.service],
            ),
            None,
            self.settings.command_timeout.max(super::TRANSFER),
        )
        .await?;
        self.wait_container(unit, c, &now.image).await.map(|_| ())
    }

    /// The service's container as an instance.
    pub(super) async fn compose_instance(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
    ) -> Result<Instance, ProviderError> {
        let now = self.container(unit, c).await?;
        Ok(match now {
            None => Instance {
                id: c.service.clone(),
                service: unit.service.clone(),
                region: Some(self.transport().describe()),
                image: None,
                state: "no container".into(),
                health: Health::Missing,
            },
            Some(k) => Instance {
                id: k.id.chars().take(12).collect(),
                service: unit.service.clone(),
                region: Some(self.transport().describe()),
                image: Some(sanitize(&k.image)),
                state: sanitize(&k.word()),
                health: match (k.status.as_str(), k.health.as_str()) {
                    ("running", "" | "healthy") => Health::Healthy,
                    ("running", "starting") | ("restarting", _) => Health::Progressing,
                    ("running", _) => Health::Degraded,
                    ("paused" | "exited", _) => Health::Suspended,
                    _ => Health::Unknown,
                },
            },
        })
    }

    /// `compose logs -f` of the service.
    pub(super) fn compose_logs_argv(
        &self,
        unit: &UnitSettings,
        c: &ComposeSettings,
    ) -> Vec<String> {
        self.compose_argv(
            c,
            &unit.dir,
            &[
                "logs",
                "-f",
                "--no-color",
                "--no-log-prefix",
                "--tail",
                "200",
                &c.service,
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_reads_image_status_and_health() {
        let k =
            Container::parse(b"abc123|shipdeck-test/app:v2|sha256:ff|running|healthy\n").unwrap();
        assert_eq!(k.image, "shipdeck-test/app:v2");
        assert!(k.ready());
        let plain = Container::parse(b"abc|db:1|sha256:ee|running|\n").unwrap();
        assert!(plain.ready() && plain.health.is_empty());
        let sick = Container::parse(b"abc|app:bad|sha256:dd|running|unhealthy").unwrap();
        assert!(!sick.ready());
        assert_eq!(sick.word(), "running (unhealthy)");
        assert!(Container::parse(b"\n").is_none());
    }
}
