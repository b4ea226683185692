//! A VPS: systemd services on a host reached over the system `ssh` client
//! (or this machine), as seed 002 runs them.
//!
//! Releases are the binaries kept on the host (`DIR/releases/NAME/BINARY`,
//! the running one linked as `DIR/current`). A deploy uploads the exact file
//! (checksum checked on arrival), keeps the previous release as the backup,
//! switches `current` atomically, restarts the unit and waits until it has
//! stayed active; a rollback switches back and restarts. The source of a
//! promoted file is the source env's host (`vps://ENV/PATH`) or a local
//! path. Each deploy holds the host's lock (`flock`) so two operators on two
//! laptops exclude each other. Secrets are the service's env file, edited
//! atomically (temp file, fsync, rename, 0600, one backup), with names and
//! shipdeck's digests shown, never values; applying them is a restart.

mod compose;
pub mod env_file;
pub mod lock;
pub mod settings;
pub mod systemd;
pub mod transport;

use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;

use crate::config::VpsLayout;
pub use settings::{UnitSettings, VpsSettings};
use systemd::{Listing, UnitState};
use transport::{Output, Transport, script};

use super::{
    CallRecord, CallSink, Capabilities, LogStream, Progress, Provider, ProviderError, Target,
    UnitState as Step,
};
use crate::domain::{
    Artifact, ArtifactKind, FileRef, Health, Instance, Release, ReleaseStatus, SecretMeta,
};
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;

/// How long a unit must stay active after a restart before it counts as started.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

/// Pause between two looks at a restarting unit.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// Longest a file transfer may take (at least the command timeout).
pub(crate) const TRANSFER: Duration = Duration::from_secs(300);

/// Client for the systemd services of one env's host.
#[derive(Debug)]
pub struct VpsProvider {
    settings: VpsSettings,
    calls: CallSink,
    staged: super::staged::StagedNames,
}

impl VpsProvider {
    /// What a VPS can do through shipdeck.
    pub const CAPABILITIES: Capabilities = Capabilities {
        deploy: true,
        artifacts: &[ArtifactKind::File],
        native_rollback: true,
        list_secrets: true,
        write_secrets: true,
        secret_digests: true,
        stage_secrets: true,
        logs: true,
        remote_lock: true,
        deploy_progress: true,
        cancel: true,
        instances: true,
        ..Capabilities::NONE
    };

    /// A client.
    pub fn new(settings: VpsSettings, calls: CallSink) -> VpsProvider {
        VpsProvider {
            settings,
            calls,
            staged: Default::default(),
        }
    }

    /// The settings this client was made with.
    pub fn settings(&self) -> &VpsSettings {
        &self.settings
    }

    fn transport(&self) -> &Transport {
        &self.settings.transport
    }

    /// Run `argv` on `transport`, recorded in the command log as `label`.
    async fn exec_on(
        &self,
        transport: &Transport,
        label: &str,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, ProviderError> {
        let started = Instant::now();
        let result = transport.run(argv, stdin, timeout).await;
        let (status, note) = match &result {
            Ok(out) => (
                u16::try_from(out.code).ok(),
                out.stderr.lines().last().unwrap_or("").to_string(),
            ),
            Err(e) => (None, e.to_string()),
        };
        self.calls.record(CallRecord {
            at: Utc::now(),
            provider: "vps".into(),
            method: "exec".into(),
            target: sanitize(&format!("{label} (on {})", transport.describe())),
            status,
            duration: started.elapsed(),
            note: sanitize(&note),
        });
        result
    }

    /// Run `argv` on the env's host and require exit code 0.
    async fn check(
        &self,
        label: &str,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ProviderError> {
        self.exec_on(self.transport(), label, argv, stdin, timeout)
            .await?
            .success(&format!("{label} (on {})", self.transport().describe()))
    }

    fn unit_for(&self, target: &Target) -> Result<&UnitSettings, ProviderError> {
        let name = target.scope.as_deref().or(target.service.as_deref());
        match name {
            Some(n) => self.settings.unit(n),
            None if self.settings.units.len() == 1 => self.settings.units.first(),
            None => None,
        }
        .ok_or_else(|| ProviderError::Invalid {
            target: format!("{}/{}", self.settings.env, name.unwrap_or("?")),
            message: "no systemd unit is configured for it: add `vps = { systemd = \"UNIT\", dir = \"/opt/app\" }` to the service".into(),
        })
    }

    fn systemctl(&self, words: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if self.settings.sudo {
            argv.extend(["sudo".to_string(), "-n".to_string()]);
        }
        argv.push("systemctl".into());
        argv.extend(words.iter().map(|w| (*w).to_string()));
        argv
    }

    async fn listing(&self, unit: &UnitSettings) -> Result<Listing, ProviderError> {
        let backups = unit.layout == VpsLayout::Backups;
        let list = if backups {
            systemd::BACKUPS_LIST
        } else {
            systemd::LIST
        };
        let argv = script(list, &[&unit.dir, &unit.binary]);
        let out = self
            .exec_on(
                self.transport(),
                &format!("list releases in {}", unit.dir),
                &argv,
                None,
                self.settings.command_timeout,
            )
            .await?;
        match out.code {
            0 if backups => Ok(Listing::parse_backups(&out.stdout)),
            0 => Ok(Listing::parse(&out.stdout)),
            3 => Err(ProviderError::NotFound {
                what: sanitize(&format!(
                    "the folder {} of {} on {} (create it, or fix `dir`)",
                    unit.dir,
                    unit.service,
                    self.transport().describe()
                )),
            }),
            code => Err(ProviderError::Command {
                command: format!("list releases in {}", sanitize(&unit.dir)),
                reason: format!("exit code {code}: {}", out.stderr.trim()),
            }),
        }
    }

    fn release_of(&self, unit: &UnitSettings, listing: &Listing, k: &systemd::Kept) -> Release {
        let current = listing.current.as_deref() == Some(k.name.as_str());
        let path = k
            .path
            .clone()
            .unwrap_or_else(|| format!("releases/{}/{}", k.name, unit.binary));
        Release {
            id: k.name.clone(),
            version: None,
            artifact: Some(Artifact::File(FileRef {
                location: format!("vps://{}{}/{path}", self.settings.env, unit.dir),
                sha256: k.sha256.clone(),
            })),
            status: if current {
                ReleaseStatus::Live
            } else {
                ReleaseStatus::Superseded
            },
            raw_status: if current { "current" } else { "kept" }.into(),
            author: None,
            description: sanitize(&path),
            created_at: k.written,
            current,
        }
    }

    /// The bytes of `file`, checked against its checksum.
    async fn fetch(&self, file: &FileRef) -> Result<Vec<u8>, ProviderError> {
        let invalid = |message: String| ProviderError::Invalid {
            target: sanitize(&file.location),
            message,
        };
        let bytes = if let Some(rest) = file.location.strip_prefix("vps://") {
            let (env, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let Some(peer) = self.settings.peers.get(env) else {
                return Err(invalid(format!(
                    "no VPS env named `{env}` in this config to fetch it from"
                )));
            };
            let argv = vec!["cat".to_string(), "--".to_string(), path.to_string()];
            let timeout = self.settings.command_timeout.max(TRANSFER);
            self.exec_on(peer, &format!("fetch {path}"), &argv, None, timeout)
                .await?
                .success(&format!("cat {path} (on {})", peer.describe()))?
        } else {
            let path = file
                .location
                .strip_prefix("file://")
                .unwrap_or(&file.location);
            if !path.starts_with('/') {
                return Err(invalid(
                    "a file to deploy is an absolute local path or a release of another VPS env"
                        .into(),
                ));
            }
            tokio::fs::read(path)
                .await
                .map_err(|e| invalid(format!("cannot read it: {e}")))?
        };
        let sum = hex_sha256(&bytes);
        if !sum.eq_ignore_ascii_case(&file.sha256) {
            return Err(invalid(format!(
                "its checksum is {sum}, not the {} the release records: it changed since; nothing was deployed",
                file.sha256
            )));
        }
        Ok(bytes)
    }

    /// Point `current` at release `name`, restart the unit, and wait until it has stayed active.
    async fn activate(
        &self,
        unit: &UnitSettings,
        kept: &systemd::Kept,
        lock: &mut lock::RemoteLock,
    ) -> Result<UnitState, ProviderError> {
        lock.alive()?;
        match &kept.path {
            Some(path) => {
                self.check(
                    &format!("put {path} back as {}/{}", unit.dir, unit.binary),
                    &script(systemd::BACKUPS_RESTORE, &[&unit.dir, path, &unit.binary]),
                    None,
                    self.settings.command_timeout,
                )
                .await?;
            }
            None => {
                self.check(
                    &format!("switch {}/current to releases/{}", unit.dir, kept.name),
                    &script(systemd::SWITCH, &[&unit.dir, &kept.name, &unit.binary]),
                    None,
                    self.settings.command_timeout,
                )
                .await?;
            }
        }
        self.restart(unit).await
    }

    /// Restart the unit and wait until it has stayed active for [`SETTLE`].
    async fn restart(&self, unit: &UnitSettings) -> Result<UnitState, ProviderError> {
        let failed = |state: &UnitState, why: String| ProviderError::Rollout {
            machine: unit.unit.clone(),
            step: "start".into(),
            done: 0,
            total: 1,
            reason: Box::new(ProviderError::Command {
                command: format!("systemctl restart {}", sanitize(&unit.unit)),
                reason: format!("{why} ({})", state.word()),
            }),
        };
        self.check(
            &format!("systemctl restart {}", unit.unit),
            &self.systemctl(&["restart", &unit.unit]),
            None,
            self.settings.command_timeout,
        )
        .await?;
        let deadline = Instant::now() + unit.start_timeout;
        let mut steady: Option<(u32, Instant)> = None;
        loop {
            let state = self.unit_state(unit).await?;
            if state.running() {
                match steady {
                    Some((pid, since)) if pid == state.pid => {
                        if since.elapsed() >= SETTLE.min(unit.start_timeout) {
                            return Ok(state);
                        }
                    }
                    _ => steady = Some((state.pid, Instant::now())),
                }
            } else if state.failed() {
                return Err(failed(&state, "the unit stopped after the restart".into()));
            } else {
                steady = None;
            }
            if Instant::now() >= deadline {
                return Err(failed(
                    &state,
                    format!(
                        "the unit was not steadily active within {}s",
                        unit.start_timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn unit_state(&self, unit: &UnitSettings) -> Result<UnitState, ProviderError> {
        let out = self
            .check(
                &format!("systemctl show {}", unit.unit),
                &self.systemctl(&[
                    "show",
                    &unit.unit,
                    "-p",
                    "ActiveState",
                    "-p",
                    "SubState",
                    "-p",
                    "MainPID",
                    "-p",
                    "ExecMainStartTimestamp",
                ]),
                None,
                self.settings.command_timeout,
            )
            .await?;
        Ok(UnitState::parse(&out))
    }

    async fn hold_lock(&self, what: &str) -> Result<lock::RemoteLock, ProviderError> {
        let holder = format!(
            "{} (pid {}) since {}: {what}",
            self.settings.actor,
            std::process::id(),
            Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        lock::acquire(
            self.transport(),
            &self.settings.lock_file,
            &sanitize(&holder),
            self.settings.command_timeout,
        )
        .await
    }

    /// Run `work` under the host's lock for `what`, and let go (waited
    /// for) however it ends.
    async fn locked<T>(
        &self,
        what: &str,
        work: impl AsyncFnOnce(&mut lock::RemoteLock) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut lock = self.hold_lock(what).await?;
        let result = work(&mut lock).await;
        lock.release().await;
        result
    }

    async fn prune(&self, unit: &UnitSettings) -> Result<(), ProviderError> {
        let listing = self.listing(unit).await?;
        let surplus = listing.surplus(self.settings.keep_releases);
        if surplus.is_empty() {
            return Ok(());
        }
        let paths: Vec<String> = listing
            .releases
            .iter()
            .filter(|k| surplus.contains(&k.name))
            .filter_map(|k| k.path.clone())
            .collect();
        let (prune, names) = match unit.layout {
            VpsLayout::Backups => (systemd::BACKUPS_PRUNE, &paths),
            VpsLayout::Releases => (systemd::PRUNE, &surplus),
        };
        let mut args: Vec<&str> = vec![&unit.dir];
        args.extend(names.iter().map(String::as_str));
        self.check(
            &format!("remove {} old release(s) in {}", surplus.len(), unit.dir),
            &script(prune, &args),
            None,
            self.settings.command_timeout,
        )
        .await
        .map(|_| ())
    }

    fn env_file_of(&self, target: &Target) -> Result<String, ProviderError> {
        if target.remote.starts_with('/') {
            return Ok(target.remote.clone());
        }
        let unit = self.unit_for(target)?;
        unit.env_file.clone().ok_or_else(|| ProviderError::Invalid {
            target: format!("{}/{}", self.settings.env, unit.service),
            message:
                "it names no env file: add `env_file = \".env.production\"` to its `vps = { … }`"
                    .into(),
        })
    }

    /// The env file's text, modification time and checksum (`none` when it does not exist).
    async fn read_env_file(
        &self,
        file: &str,
    ) -> Result<(String, Option<chrono::DateTime<Utc>>, String), ProviderError> {
        let out = self
            .check(
                &format!("read {file}"),
                &script(env_file::READ, &[file]),
                None,
                self.settings.command_timeout,
            )
            .await?;
        let text = String::from_utf8_lossy(&out).to_string();
        let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
        if head.trim() == "missing" {
            return Ok((String::new(), None, "none".into()));
        }
        let mtime = systemd::epoch(head);
        Ok((body.to_string(), mtime, hex_sha256(body.as_bytes())))
    }

    /// Replace `file` with `text`, atomically, if it still has checksum `read_sum`.
    async fn write_env_file(
        &self,
        file: &str,
        read_sum: &str,
        text: &str,
    ) -> Result<(), ProviderError> {
        self.check(
            &format!("write {file}"),
            &script(
                env_file::WRITE,
                &[file, read_sum, &hex_sha256(text.as_bytes())],
            ),
            Some(text.as_bytes()),
            self.settings.command_timeout,
        )
        .await
        .map(|_| ())
    }

    /// Restart every unit reading `file`, each waited for.
    async fn restart_readers(&self, file: &str) -> Result<(), ProviderError> {
        let readers: Vec<&UnitSettings> = self
            .settings
            .units
            .iter()
            .filter(|u| u.env_file.as_deref() == Some(file))
            .collect();
        if readers.is_empty() {
            return Err(ProviderError::Invalid {
                target: sanitize(file),
                message: "no service of this env names it as its `env_file`, so nothing would read the change: nothing was restarted".into(),
            });
        }
        for unit in readers {
            match &unit.compose {
                Some(c) => self.compose_recreate(unit, c).await?,
                None => {
                    self.restart(unit).await?;
                }
            }
        }
        self.staged.clear(file);
        Ok(())
    }
}

/// Hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A folder name for a new release of `file`: the source's own release
/// name where it has one (`…/releases/v42/app`), else its checksum's start;
/// with the checksum appended when that name is taken by another binary.
fn release_name(file: &FileRef, listing: &Listing) -> String {
    let from_source = file
        .location
        .rsplit_once("/releases/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(name, _)| name.to_string())
        .filter(|n| crate::config::file_name_problem(n).is_none() && !n.starts_with('.'));
    let short: String = file.sha256.chars().take(12).collect();
    match from_source {
        Some(name) if listing.releases.iter().any(|k| k.name == name) => format!("{name}-{short}"),
        Some(name) => name,
        None => short,
    }
}

impl VpsProvider {
    /// A deploy of a systemd unit, under the host's lock.
    async fn deploy_held(
        &self,
        unit: &UnitSettings,
        file: &FileRef,
        progress: &Progress,
        lock: &mut lock::RemoteLock,
    ) -> Result<Release, ProviderError> {
        let name = &unit.unit;
        let listing = self.listing(unit).await?;
        if let Some(current) = listing.current()
            && current.sha256.eq_ignore_ascii_case(&file.sha256)
            && self.unit_state(unit).await?.running()
        {
            progress.report(name, 1, 1, Step::Skipped, "already runs this binary");
            return Ok(self.release_of(unit, &listing, current));
        }
        let outcome = match (listing.by_sha(&file.sha256).cloned(), unit.layout) {
            // On the host already (a release rolled back from, a backup): no upload.
            (Some(kept), _) => {
                progress.stop_if_cancelled(0, 1)?;
                progress.report(
                    name,
                    1,
                    1,
                    Step::Started,
                    &format!("{} back in place, restarting {name}", kept.name),
                );
                self.activate(unit, &kept, lock).await
            }
            (None, layout) => {
                let bytes = self.fetch(file).await?;
                progress.stop_if_cancelled(0, 1)?;
                match layout {
                    VpsLayout::Releases => {
                        let release = release_name(file, &listing);
                        progress.report(
                            name,
                            1,
                            1,
                            Step::Started,
                            &format!("uploading {} bytes as releases/{release}", bytes.len()),
                        );
                        self.check(
                            &format!("upload releases/{release}/{}", unit.binary),
                            &script(
                                systemd::UPLOAD,
                                &[&unit.dir, &file.sha256, &release, &unit.binary],
                            ),
                            Some(&bytes),
                            self.settings.command_timeout.max(TRANSFER),
                        )
                        .await?;
                        progress.stop_if_cancelled(0, 1)?;
                        progress.report(
                            name,
                            1,
                            1,
                            Step::Started,
                            &format!("current → releases/{release}, restarting {name}"),
                        );
                        let kept = systemd::Kept {
                            name: release,
                            written: Utc::now(),
                            sha256: file.sha256.clone(),
                            path: None,
                        };
                        self.activate(unit, &kept, lock).await
                    }
                    VpsLayout::Backups => {
                        progress.report(
                            name,
                            1,
                            1,
                            Step::Started,
                            &format!(
                                "uploading {} bytes over {}, the running one to backups/, restarting {name}",
                                bytes.len(),
                                unit.binary
                            ),
                        );
                        lock.alive()?;
                        // The replace is one script: past this point the binary has changed.
                        async {
                            self.check(
                                &format!("replace {}/{}", unit.dir, unit.binary),
                                &script(
                                    systemd::BACKUPS_UPLOAD,
                                    &[&unit.dir, &file.sha256, &unit.binary],
                                ),
                                Some(&bytes),
                                self.settings.command_timeout.max(TRANSFER),
                            )
                            .await?;
                            self.restart(unit).await
                        }
                        .await
                    }
                }
            }
        };
        if let Err(e) = outcome {
            progress.report(name, 1, 1, Step::Failed, &e.to_string());
            return Err(e);
        }
        progress.report(name, 1, 1, Step::Done, "active on the new binary");
        // Pruning is housekeeping: a failure is in the command log, not a failed deploy.
        let _ = self.prune(unit).await;
        let listing = self.listing(unit).await?;
        let kept = listing
            .current()
            .ok_or_else(|| ProviderError::NotFound {
                what: format!(
                    "the running binary of {} after the deploy",
                    sanitize(&unit.unit)
                ),
            })?
            .clone();
        // What runs must be what was asked for, or the deploy did not happen.
        if !kept.sha256.eq_ignore_ascii_case(&file.sha256) {
            return Err(ProviderError::Command {
                command: format!("deploy to {}", sanitize(&unit.unit)),
                reason: format!(
                    "after the deploy the running binary has checksum {}, not {}: someone else changed it, or the switch did not take",
                    kept.sha256, file.sha256
                ),
            });
        }
        Ok(self.release_of(unit, &listing, &kept))
    }

    /// A rollback of a unit, under the host's lock.
    async fn rollback_held(
        &self,
        unit: &UnitSettings,
        to: &Release,
        progress: &Progress,
        lock: &mut lock::RemoteLock,
    ) -> Result<Release, ProviderError> {
        if let Some(c) = &unit.compose {
            let Some(artifact) = &to.artifact else {
                return Err(ProviderError::NotFound {
                    what: format!("the image of release {}", sanitize(&to.id)),
                });
            };
            return self.compose_deploy(unit, c, artifact, progress, lock).await;
        }
        let listing = self.listing(unit).await?;
        let Some(kept) = listing.releases.iter().find(|k| k.name == to.id) else {
            return Err(ProviderError::NotFound {
                what: sanitize(&format!(
                    "release {} in {}/releases on {} (pruned? `keep_releases` decides how many stay)",
                    to.id,
                    unit.dir,
                    self.transport().describe()
                )),
            });
        };
        if listing.current.as_deref() == Some(kept.name.as_str()) {
            progress.report(&unit.unit, 1, 1, Step::Skipped, "already current");
            return Ok(self.release_of(unit, &listing, kept));
        }
        progress.report(
            &unit.unit,
            1,
            1,
            Step::Started,
            &format!("current → releases/{}, restarting {}", kept.name, unit.unit),
        );
        if let Err(e) = self.activate(unit, kept, lock).await {
            progress.report(&unit.unit, 1, 1, Step::Failed, &e.to_string());
            return Err(e);
        }
        progress.report(
            &unit.unit,
            1,
            1,
            Step::Done,
            &format!("active on releases/{}", kept.name),
        );
        let listing = self.listing(unit).await?;
        match listing.current() {
            Some(now) if now.name == kept.name => Ok(self.release_of(unit, &listing, now)),
            other => Err(ProviderError::Command {
                command: format!("roll back {}", sanitize(&unit.unit)),
                reason: format!(
                    "after the rollback the running release is {}, not {}",
                    other.map_or("unknown".to_string(), |k| sanitize(&k.name)),
                    sanitize(&kept.name)
                ),
            }),
        }
    }
}

#[async_trait]
impl Provider for VpsProvider {
    fn name(&self) -> &'static str {
        "vps"
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn releases(&self, target: &Target, limit: usize) -> Result<Vec<Release>, ProviderError> {
        let unit = self.unit_for(target)?;
        if let Some(c) = &unit.compose {
            return self.compose_releases(unit, c, limit).await;
        }
        let listing = self.listing(unit).await?;
        Ok(listing
            .releases
            .iter()
            .take(limit)
            .map(|k| self.release_of(unit, &listing, k))
            .collect())
    }

    async fn status(&self, target: &Target) -> Result<Vec<Instance>, ProviderError> {
        let units: Vec<&UnitSettings> = match target.scope.as_deref().or(target.service.as_deref())
        {
            Some(_) => vec![self.unit_for(target)?],
            None => self.settings.units.iter().collect(),
        };
        let mut out = Vec::new();
        for unit in units {
            if let Some(c) = &unit.compose {
                out.push(self.compose_instance(unit, c).await?);
                continue;
            }
            let state = self.unit_state(unit).await?;
            let current = self.listing(unit).await.ok().and_then(|l| l.current);
            out.push(Instance {
                id: unit.unit.clone(),
                service: unit.service.clone(),
                region: Some(self.transport().describe()),
                image: current.map(|c| sanitize(&c)),
                state: sanitize(&state.word()),
                health: match (state.active.as_str(), state.running()) {
                    (_, true) => Health::Healthy,
                    ("activating" | "reloading" | "deactivating", _) => Health::Progressing,
                    ("failed", _) => Health::Degraded,
                    ("inactive", _) => Health::Suspended,
                    _ => Health::Unknown,
                },
            });
        }
        Ok(out)
    }

    async fn deploy(
        &self,
        target: &Target,
        artifact: &Artifact,
        _description: &str,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let unit = self.unit_for(target)?;
        let what = format!("deploy to {}/{}", self.settings.env, unit.service);
        match (&unit.compose, artifact) {
            (Some(c), _) => {
                self.locked(&what, async |lock| {
                    self.compose_deploy(unit, c, artifact, progress, lock).await
                })
                .await
            }
            (None, Artifact::File(file)) => {
                self.locked(&what, async |lock| {
                    self.deploy_held(unit, file, progress, lock).await
                })
                .await
            }
            (None, other) => Err(ProviderError::Invalid {
                target: format!("{}/{}", self.settings.env, unit.service),
                message: format!(
                    "a systemd service deploys a file (a binary with its checksum), not the {} {}",
                    other.kind().label(),
                    sanitize(&other.full())
                ),
            }),
        }
    }

    async fn rollback(
        &self,
        target: &Target,
        to: &Release,
        progress: &Progress,
    ) -> Result<Release, ProviderError> {
        let unit = self.unit_for(target)?;
        let what = format!(
            "roll back {}/{} to {}",
            self.settings.env, unit.service, to.id
        );
        self.locked(&what, async |lock| {
            self.rollback_held(unit, to, progress, lock).await
        })
        .await
    }

    async fn runs(&self, target: &Target, artifact: &Artifact) -> Result<bool, ProviderError> {
        let unit = self.unit_for(target)?;
        match (&unit.compose, artifact) {
            (Some(c), Artifact::Image(image)) => Ok(self
                .container(unit, c)
                .await?
                .is_some_and(|k| k.image == image.reference() && k.status == "running")),
            (Some(_), _) => Ok(false),
            (None, Artifact::File(file)) => Ok(self
                .listing(unit)
                .await?
                .current()
                .is_some_and(|k| k.sha256.eq_ignore_ascii_case(&file.sha256))),
            (None, _) => Ok(false),
        }
    }

    async fn secrets(&self, target: &Target) -> Result<Vec<SecretMeta>, ProviderError> {
        let file = self.env_file_of(target)?;
        let (text, mtime, _) = self.read_env_file(&file).await?;
        let staged = self.staged.names(&file);
        Ok(env_file::variables(&text)
            .into_iter()
            .map(|(name, value)| SecretMeta {
                digest: Some(crate::secrets::digest(&value)),
                updated_at: mtime,
                staged: staged.contains(&name),
                write_only: false,
                name,
            })
            .collect())
    }

    async fn set_secrets(
        &self,
        target: &Target,
        values: Vec<(String, Option<SecretValue>)>,
        stage: bool,
    ) -> Result<(), ProviderError> {
        let file = self.env_file_of(target)?;
        self.locked(&format!("edit {file}"), async |lock| {
            let (text, _, sum) = self.read_env_file(&file).await?;
            let changes: Vec<(String, Option<String>)> = values
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.expose().to_string())))
                .collect();
            let edited = env_file::edit(&text, &changes).map_err(|e| ProviderError::Invalid {
                target: sanitize(&file),
                message: e.to_string(),
            })?;
            lock.alive()?;
            self.write_env_file(&file, &sum, &edited).await?;
            for (name, _) in &values {
                self.staged.add(&file, name);
            }
            if stage {
                Ok(())
            } else {
                self.restart_readers(&file).await
            }
        })
        .await
    }

    async fn apply_secrets(&self, target: &Target) -> Result<Option<Release>, ProviderError> {
        let file = self.env_file_of(target)?;
        self.locked(&format!("apply {file}"), async |_| {
            self.restart_readers(&file).await
        })
        .await?;
        let Some(unit) = self
            .settings
            .units
            .iter()
            .find(|u| u.env_file.as_deref() == Some(file.as_str()))
        else {
            return Ok(None);
        };
        let listing = self.listing(unit).await?;
        Ok(listing
            .current()
            .map(|k| self.release_of(unit, &listing, k)))
    }

    async fn whoami(&self) -> Result<String, ProviderError> {
        let out = self
            .check(
                "id -un; hostname",
                &script(r#"printf '%s@%s\n' "$(id -un)" "$(hostname)""#, &[]),
                None,
                self.settings.command_timeout,
            )
            .await?;
        Ok(format!(
            "{} (through {})",
            sanitize(String::from_utf8_lossy(&out).trim()),
            self.transport().describe()
        ))
    }

    async fn logs(&self, target: &Target, service: &str) -> Result<LogStream, ProviderError> {
        let unit = match self.settings.unit(service) {
            Some(u) => u,
            None => self.unit_for(target)?,
        };
        let argv = match &unit.compose {
            Some(c) => self.compose_logs_argv(unit, c),
            None => journal_argv(&unit.unit),
        };
        let mut cmd = self.transport().command(&argv);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| ProviderError::Command {
            command: sanitize(&self.transport().shell_equivalent(&argv)),
            reason: format!("cannot start it: {e}"),
        })?;
        let stdout = child.stdout.take().expect("piped");
        let lines = tokio::io::BufReader::new(stdout).lines();
        let command = sanitize(&self.transport().shell_equivalent(&argv));
        // The feed ends when the command does: a failure (no journalctl, ssh
        // refused) is one last error item with what it said, not silence.
        let stream = futures::stream::unfold(Some((lines, child, command)), |state| async move {
            let (mut lines, mut child, command) = state?;
            match lines.next_line().await {
                Ok(Some(line)) => Some((Ok(line), Some((lines, child, command)))),
                Ok(None) | Err(_) => {
                    let mut said = Vec::new();
                    if let Some(mut err) = child.stderr.take() {
                        use tokio::io::AsyncReadExt;
                        let _ = (&mut err).take(64 * 1024).read_to_end(&mut said).await;
                    }
                    let status = child.wait().await.ok()?;
                    let out = Output {
                        stdout: Vec::new(),
                        stderr: transport::sanitized_lines(&said),
                        code: status.code().unwrap_or(-1),
                    };
                    out.success(&command).err().map(|e| (Err(e), None))
                }
            }
        });
        Ok(Box::pin(stream))
    }

    fn logs_command(&self, target: &Target, service: &str) -> String {
        let unit = self
            .settings
            .unit(service)
            .or_else(|| self.unit_for(target).ok());
        let argv = match unit {
            Some(
                u @ UnitSettings {
                    compose: Some(c), ..
                },
            ) => self.compose_logs_argv(u, c),
            Some(u) => journal_argv(&u.unit),
            None => journal_argv(service),
        };
        self.transport().shell_equivalent(&argv)
    }
}

fn journal_argv(unit: &str) -> Vec<String> {
    ["journalctl", "-u", unit, "-o", "json", "-f", "-n", "200"]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}
