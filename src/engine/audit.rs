//! The append-only audit log: one JSON object per line (JSONL).
//!
//! Every promotion, rollback, unpin, resume, abort and secret change lands
//! here. Appends open the file with `O_APPEND` and write the whole line with a
//! single `write_all`, so concurrent writers (threads or processes) never
//! interleave inside a line; each append is followed by `sync_data` so an
//! acknowledged record survives a crash. Appenders also hold a short `flock`
//! on the file, so a line torn by an earlier crash can be detected and the
//! next record started on a fresh line. The file is never truncated or
//! rewritten. A line torn by a crash mid-write is counted by [`AuditLog::read`]
//! and skipped, never fatal.

use crate::fsutil::{create_private_dir, ends_torn, lock_exclusive, sync_dir};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The user who acted.
    pub actor: String,
    /// The machine the user acted from.
    pub host: String,
    /// What was done: `promote`, `rollback`, `unpin`, `resume`, `abort`, `secrets.set`, ...
    pub action: String,
    /// The env acted upon.
    pub env: String,
    /// The release the env had before, if relevant.
    pub from: Option<String>,
    /// The release the env was moved to, if relevant.
    pub to: Option<String>,
    /// How it went: `started`, `ok`, `failed`, `refused`, `rolled_back`, `paused`, `aborted`.
    pub result: String,
    /// How long it took, in milliseconds (0 for instantaneous records).
    pub duration_ms: u64,
    /// The plan this record belongs to, if any.
    pub plan_id: Option<String>,
    /// Free-form detail: a refusal reason, an error, ...
    pub detail: Option<String>,
}

/// Why the audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The directory holding the log could not be created.
    #[error(
        "cannot create the audit log directory {path}: {source}; check that its parent exists and is writable by you"
    )]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log could not be opened for appending.
    #[error(
        "cannot open the audit log {path} for appending: {source}; check its permissions (it should be a regular file owned by you, mode 0600)"
    )]
    Open {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record could not be turned into JSON.
    #[error(
        "cannot serialise an audit record for {path}: {source}; this is a bug, please report it"
    )]
    Serialize {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Appending or syncing failed.
    #[error(
        "cannot write to the audit log {path}: {source}; check free disk space and the file's permissions"
    )]
    Write {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log exists but could not be read.
    #[error("cannot read the audit log {path}: {source}; check that it is a readable regular file")]
    Read {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The result of reading the log.
#[derive(Debug, Default)]
pub struct AuditRead {
    /// Parsed records in file order (oldest first), filtered by env if asked.
    pub records: Vec<AuditRecord>,
    /// Lines that could not be parsed (a crash mid-write, or hand edits). They
    /// are counted regardless of the env filter.
    pub torn: usize,
}

/// The audit log at one path.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// An audit log stored at `path`. Does not touch the disk.
    pub fn new(path: PathBuf) -> AuditLog {
        AuditLog { path }
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as a single line and sync it to disk.
    ///
    /// Creates the parent directories (mode 0700) and the file (mode 0600)
    /// if missing. If the file ends in a torn line (a crash mid-write), a
    /// newline is written first so the new record stays parseable.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let path = &self.path;
        let mut value = serde_json::to_value(record).map_err(|source| AuditError::Serialize {
            path: path.clone(),
            source,
        })?;
        // A secret value that reached an error message never reaches the log.
        crate::redact::apply_json(&mut value);
        let json = value.to_string();
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            create_private_dir(dir).map_err(|source| AuditError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let existed = path.exists();
        let mut file = open_append(path).map_err(|source| AuditError::Open {
            path: path.clone(),
            source,
        })?;
        // Serialise appenders (threads and processes) so the torn-tail check
        // below cannot observe another writer's line half copied.
        lock_exclusive(&file).map_err(|source| AuditError::Open {
            path: path.clone(),
            source,
        })?;
        let mut line = String::with_capacity(json.len() + 2);
        if ends_torn(&file).map_err(|source| AuditError::Read {
            path: path.clone(),
            source,
        })? {
            line.push('\n');
        }
        line.push_str(&json);
        line.push('\n');
        file.write_all(line.as_bytes())
            .map_err(|source| AuditError::Write {
                path: path.clone(),
                source,
            })?;
        file.sync_data().map_err(|source| AuditError::Write {
            path: path.clone(),
            source,
        })?;
        if !existed && let Some(dir) = parent {
            // Make the new directory entry durable too; best effort.
            let _ = sync_dir(dir);
        }
        Ok(())
    }

    /// Read every record, keeping only those for `env` when given.
    ///
    /// A missing file reads as empty. Lines that fail to parse are counted
    /// in [`AuditRead::torn`] and skipped.
    pub fn read(&self, env: Option<&str>) -> Result<AuditRead, AuditError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(AuditRead::default()),
            Err(source) => {
                return Err(AuditError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let mut out = AuditRead::default();
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<AuditRecord>(line) {
                Ok(record) => {
                    if env.is_none_or(|e| e == record.env) {
                        out.records.push(record);
                    }
                }
                Err(_) => out.torn += 1,
            }
        }
        Ok(out)
    }
}

/// Open (creating with mode 0600 if needed) for appending; readable so the
/// last byte can be checked.
fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(env: &str, n: u64) -> AuditRecord {
        AuditRecord {
            time: Utc::now(),
            actor: "alice".into(),
            host: "build-01".into(),
            action: "promote".into(),
            env: env.into(),
            from: Some("v1.2.2".into()),
            to: Some(format!("v1.2.{n}")),
            result: "ok".into(),
            duration_ms: n,
            plan_id: Some(format!("p-{n}")),
            detail: Some("multi\nline \"detail\"".into()),
        }
    }

    #[test]
    fn new_does_not_touch_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("audit.jsonl");
        let log = AuditLog::new(path.clone());
        assert_eq!(log.path(), path);
        assert!(!path.exists());
        assert!(!dir.path().join("state").exists());
    }

    #[test]
    fn missing_file_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let read = log.read(None).unwrap();
        assert!(read.records.is_empty());
        assert_eq!(read.torn, 0);
    }

    #[test]
    fn append_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("nested").join("deeper").join("audit.jsonl"));
        let a = record("staging", 1);
        let b = record("production", 2);
        log.append(&a).unwrap();
        log.append(&b).unwrap();
        let read = log.read(None).unwrap();
        assert_eq!(read.records, vec![a, b]);
        assert_eq!(read.torn, 0);
        let text = fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn env_filter() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        for n in 0..6 {
            let env = if n % 2 == 0 { "staging" } else { "production" };
            log.append(&record(env, n)).unwrap();
        }
        let prod = log.read(Some("production")).unwrap();
        assert_eq!(prod.records.len(), 3);
        assert!(prod.records.iter().all(|r| r.env == "production"));
        assert_eq!(
            prod.records
                .iter()
                .map(|r| r.duration_ms)
                .collect::<Vec<_>>(),
            vec![1, 3, 5]
        );
        assert!(log.read(Some("nowhere")).unwrap().records.is_empty());
        assert_eq!(log.read(None).unwrap().records.len(), 6);
    }

    #[test]
    fn torn_last_line_is_counted_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let a = record("staging", 1);
        log.append(&a).unwrap();
        let full = serde_json::to_string(&record("staging", 2)).unwrap();
        let mut f = OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(&full.as_bytes()[..full.len() / 2]).unwrap();
        drop(f);

        let read = log.read(None).unwrap();
        assert_eq!(read.records, vec![a.clone()]);
        assert_eq!(read.torn, 1);

        // The next append starts on a fresh line and stays readable.
        let c = record("staging", 3);
        log.append(&c).unwrap();
        let read = log.read(None).unwrap();
        assert_eq!(read.records, vec![a, c]);
        assert_eq!(read.torn, 1);
    }

    #[test]
    fn concurrent_appends_do_not_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let log = AuditLog::new(path.clone());
                std::thread::spawn(move || {
                    for n in 0..200 {
                        let mut r = record(&format!("env-{t}"), n);
                        r.detail = Some("x".repeat(300));
                        log.append(&r).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 800);
        for line in text.lines() {
            serde_json::from_str::<AuditRecord>(line).unwrap();
        }
        let read = AuditLog::new(path).read(None).unwrap();
        assert_eq!(read.records.len(), 800);
        assert_eq!(read.torn, 0);
        for t in 0..4 {
            let mine: Vec<u64> = read
                .records
                .iter()
                .filter(|r| r.env == format!("env-{t}"))
                .map(|r| r.duration_ms)
                .collect();
            assert_eq!(mine, (0..200).collect::<Vec<_>>());
        }
    }

    #[cfg(unix)]
    #[test]
    fn file_mode_is_0600_and_dir_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let log = AuditLog::new(state.join("audit.jsonl"));
        log.append(&record("staging", 1)).unwrap();
        let mode = fs::metadata(log.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o077, 0);
    }

    #[test]
    fn never_truncates_existing_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::new(path.clone());
        log.append(&record("staging", 1)).unwrap();
        let before = fs::read(&path).unwrap();
        log.append(&record("staging", 2)).unwrap();
        let after = fs::read(&path).unwrap();
        assert!(after.starts_with(&before));
        assert!(after.len() > before.len());
    }
}
