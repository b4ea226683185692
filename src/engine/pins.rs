//! Envs pinned to a release after a rollback.
//!
//! A pinned env refuses promotions until someone unpins it. All pins live in
//! one JSON file, rewritten atomically on every change: the new content goes
//! to `<path>.tmp`, is synced, renamed over the file, and the directory is
//! synced, so a crash leaves either the old or the new pins, never a mix.
//! Read-modify-write cycles are serialised across processes with an `flock`
//! on `<path>.lock`, so two rollbacks pinning different envs at once do not
//! lose each other's pin.

use crate::fsutil::{FlockGuard, create_private_dir, sync_dir};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An env held at a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The pinned env.
    pub env: String,
    /// The release it is held at.
    pub release: String,
    /// Who pinned it.
    pub by: String,
    /// When it was pinned.
    pub at: DateTime<Utc>,
    /// Why (usually the rollback's reason).
    pub reason: String,
}

/// What a pin's reason starts with when a plan could not put its env back:
/// the env may run the new release, the old one or a mix until someone acts.
pub const REVERT_FAILED: &str = "revert failed";

impl Pin {
    /// Whether this pin marks a failed revert (shown as an alarm, not a hold).
    pub fn is_revert_failed(&self) -> bool {
        self.reason.starts_with(REVERT_FAILED)
    }
}

/// Why the pins file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The pins file exists but could not be read.
    #[error("cannot read the pins file {}: {source}; check that it is a readable regular file", .path.display())]
    Read {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The pins file is not valid JSON.
    #[error("the pins file {} is corrupt: {source}; fix it by hand, or remove it to unpin every env", .path.display())]
    Parse {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The pins could not be written.
    #[error("cannot write the pins file {}: {source}; check free disk space and that its directory is writable by you", .path.display())]
    Write {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// On-disk layout of the pins file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PinsFile {
    #[serde(default)]
    pins: Vec<Pin>,
}

/// The pins stored in one file.
#[derive(Debug, Clone)]
pub struct Pins {
    path: PathBuf,
}

impl Pins {
    /// Pins stored at `path`. Does not touch the disk.
    pub fn new(path: PathBuf) -> Pins {
        Pins { path }
    }

    /// Every pin, sorted by env. A missing file means none.
    pub fn all(&self) -> Result<Vec<Pin>, PinError> {
        let mut pins = self.load()?;
        pins.sort_by(|a, b| a.env.cmp(&b.env));
        Ok(pins)
    }

    /// The pin of `env`, if any.
    pub fn get(&self, env: &str) -> Result<Option<Pin>, PinError> {
        Ok(self.load()?.into_iter().find(|p| p.env == env))
    }

    /// Pin an env, replacing any pin it already has.
    pub fn pin(&self, pin: Pin) -> Result<(), PinError> {
        let _guard = self.guard()?;
        let mut pins = self.load()?;
        pins.retain(|p| p.env != pin.env);
        pins.push(pin);
        self.store(pins)
    }

    /// Remove the pin of `env`, returning it; `None` (and no write) if it had none.
    pub fn unpin(&self, env: &str) -> Result<Option<Pin>, PinError> {
        let _guard = self.guard()?;
        let mut pins = self.load()?;
        let Some(index) = pins.iter().position(|p| p.env == env) else {
            return Ok(None);
        };
        let removed = pins.remove(index);
        pins.retain(|p| p.env != env);
        self.store(pins)?;
        Ok(Some(removed))
    }

    fn load(&self) -> Result<Vec<Pin>, PinError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PinError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let file: PinsFile = serde_json::from_slice(&bytes).map_err(|source| PinError::Parse {
            path: self.path.clone(),
            source,
        })?;
        Ok(file.pins)
    }

    fn store(&self, mut pins: Vec<Pin>) -> Result<(), PinError> {
        pins.sort_by(|a, b| a.env.cmp(&b.env));
        let mut json =
            serde_json::to_vec_pretty(&PinsFile { pins }).map_err(|e| PinError::Write {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?;
        json.push(b'\n');
        let tmp = self.sibling(".tmp");
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(source) = written {
            let _ = fs::remove_file(&tmp);
            return Err(PinError::Write { path: tmp, source });
        }
        if let Some(dir) = self.parent() {
            sync_dir(dir).map_err(|source| PinError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }

    /// Take the cross-process write lock, creating the directory if needed.
    fn guard(&self) -> Result<FlockGuard, PinError> {
        if let Some(dir) = self.parent() {
            create_private_dir(dir).map_err(|source| PinError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let lock = self.sibling(".lock");
        FlockGuard::take(&lock).map_err(|source| PinError::Write { path: lock, source })
    }

    fn parent(&self) -> Option<&Path> {
        self.path.parent().filter(|p| !p.as_os_str().is_empty())
    }

    /// `path` with `suffix` appended to its file name.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(env: &str, release: &str) -> Pin {
        Pin {
            env: env.into(),
            release: release.into(),
            by: "alice".into(),
            at: Utc::now(),
            reason: "health gate failed".into(),
        }
    }

    #[test]
    fn missing_file_means_no_pins() {
        let dir = tempfile::tempdir().unwrap();
        let pins = Pins::new(dir.path().join("state").join("pins.json"));
        assert!(pins.all().unwrap().is_empty());
        assert_eq!(pins.get("production").unwrap(), None);
        assert_eq!(pins.unpin("production").unwrap(), None);
        assert!(!dir.path().join("state").join("pins.json").exists());
    }

    #[test]
    fn pin_get_unpin_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let pins = Pins::new(dir.path().join("state").join("pins.json"));
        let prod = pin("production", "v1.2.2");
        let stg = pin("staging", "v1.3.0");
        pins.pin(prod.clone()).unwrap();
        pins.pin(stg.clone()).unwrap();
        assert_eq!(pins.get("production").unwrap(), Some(prod.clone()));
        assert_eq!(pins.all().unwrap(), vec![prod.clone(), stg.clone()]);

        // Re-pinning replaces.
        let prod2 = pin("production", "v1.2.1");
        pins.pin(prod2.clone()).unwrap();
        assert_eq!(pins.get("production").unwrap(), Some(prod2.clone()));
        assert_eq!(pins.all().unwrap().len(), 2);

        assert_eq!(pins.unpin("production").unwrap(), Some(prod2));
        assert_eq!(pins.get("production").unwrap(), None);
        assert_eq!(pins.unpin("production").unwrap(), None);
        assert_eq!(pins.all().unwrap(), vec![stg]);
    }

    #[test]
    fn persists_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        let p = pin("production", "v1.2.2");
        Pins::new(path.clone()).pin(p.clone()).unwrap();
        let again = Pins::new(path.clone());
        assert_eq!(again.get("production").unwrap(), Some(p.clone()));
        assert_eq!(again.unpin("production").unwrap(), Some(p));
        assert!(Pins::new(path).all().unwrap().is_empty());
    }

    #[test]
    fn atomic_write_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        let pins = Pins::new(path.clone());
        for n in 0..5 {
            pins.pin(pin(&format!("env-{n}"), "v1")).unwrap();
        }
        pins.unpin("env-0").unwrap();
        assert!(!dir.path().join("pins.json.tmp").exists());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        let parsed: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(parsed["pins"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn stale_tmp_from_a_crash_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        let pins = Pins::new(path.clone());
        pins.pin(pin("production", "v1")).unwrap();
        fs::write(dir.path().join("pins.json.tmp"), "{ half written").unwrap();
        assert_eq!(pins.all().unwrap().len(), 1);
        pins.pin(pin("staging", "v2")).unwrap();
        assert_eq!(pins.all().unwrap().len(), 2);
        assert!(!dir.path().join("pins.json.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        fs::write(&path, "not json").unwrap();
        let err = Pins::new(path.clone()).all().unwrap_err();
        assert!(matches!(err, PinError::Parse { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("pins.json") && msg.contains("remove it"),
            "{msg}"
        );
        // A failed read must not clobber the file on pin either.
        assert!(
            Pins::new(path.clone())
                .pin(pin("production", "v1"))
                .is_err()
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "not json");
    }

    #[test]
    fn concurrent_pins_of_different_envs_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let pins = Pins::new(path.clone());
                std::thread::spawn(move || pins.pin(pin(&format!("env-{n}"), "v1")).unwrap())
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(Pins::new(path).all().unwrap().len(), 8);
    }
}
