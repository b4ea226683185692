//! `credentials.json`: which credentials were stored, where and when.
//! Keyrings cannot list their entries portably, so shipdeck keeps the names
//! here. Never values. Mode 0600, replaced atomically (temp file + rename).
//! Two processes writing at once: the last rename wins (a lost name comes
//! back with the next `set`; the secrets themselves are unaffected).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::backend::Backend;
use super::error::CredentialError;
use super::key::CredentialKey;

/// File name of the index inside the state directory.
pub const INDEX_FILE_NAME: &str = "credentials.json";

const FORMAT_VERSION: u32 = 1;

/// One stored credential's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexEntry {
    pub key: CredentialKey,
    pub backend: Backend,
    pub set_at: DateTime<Utc>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    entries: Vec<IndexEntry>,
}

/// The index file at a fixed path.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    path: PathBuf,
}

impl Index {
    /// The index inside `state_dir`.
    pub fn in_dir(state_dir: &Path) -> Index {
        Index {
            path: state_dir.join(INDEX_FILE_NAME),
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All entries; a missing file is an empty index.
    pub fn load(&self) -> Result<Vec<IndexEntry>, CredentialError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err("read", e.to_string())),
        };
        let file: IndexFile =
            serde_json::from_str(&text).map_err(|e| self.err("read", e.to_string()))?;
        if file.version != FORMAT_VERSION {
            return Err(self.err("read", format!("unknown format version {}", file.version)));
        }
        Ok(file.entries)
    }

    /// Record that `key` was stored in `backend` at `at`.
    pub fn record(
        &self,
        key: &CredentialKey,
        backend: Backend,
        at: DateTime<Utc>,
    ) -> Result<(), CredentialError> {
        let mut entries = self.load()?;
        entries.retain(|e| !(e.key == *key && e.backend == backend));
        entries.push(IndexEntry {
            key: key.clone(),
            backend,
            set_at: at,
        });
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.save(entries)
    }

    /// Forget `key` in `backend`; true when it was listed.
    pub fn forget(&self, key: &CredentialKey, backend: Backend) -> Result<bool, CredentialError> {
        let mut entries = self.load()?;
        let before = entries.len();
        entries.retain(|e| !(e.key == *key && e.backend == backend));
        if entries.len() == before {
            return Ok(false);
        }
        self.save(entries)?;
        Ok(true)
    }

    fn save(&self, entries: Vec<IndexEntry>) -> Result<(), CredentialError> {
        let file = IndexFile {
            version: FORMAT_VERSION,
            entries,
        };
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| self.err("written", e.to_string()))?;
        json.push(b'\n');
        write_private_atomically(&self.path, &json).map_err(|e| self.err("written", e.to_string()))
    }

    fn err(&self, doing: &'static str, detail: String) -> CredentialError {
        CredentialError::Index {
            path: self.path.clone(),
            doing,
            detail,
        }
    }
}

/// Write `bytes` to a fresh 0600 temp file next to `path`, sync it and
/// rename it over `path`. The directory is created (0700) when missing.
fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(INDEX_FILE_NAME);
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = open_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The umask can only remove bits; make the mode exact anyway.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CredentialKey {
        CredentialKey::parse(s).unwrap()
    }

    #[test]
    fn record_replace_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::in_dir(&dir.path().join("state"));
        assert!(index.load().unwrap().is_empty());
        let t1 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let t2 = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        index.record(&key("fly"), Backend::Keyutils, t1).unwrap();
        index
            .record(&key("db:prod"), Backend::Keyutils, t1)
            .unwrap();
        index.record(&key("fly"), Backend::Keyutils, t2).unwrap();
        index
            .record(&key("fly"), Backend::SecretService, t2)
            .unwrap();
        let entries = index.load().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(
            entries
                .iter()
                .any(|e| e.key == key("fly") && e.backend == Backend::Keyutils && e.set_at == t2)
        );
        assert!(index.forget(&key("fly"), Backend::Keyutils).unwrap());
        assert!(!index.forget(&key("fly"), Backend::Keyutils).unwrap());
        assert_eq!(index.load().unwrap().len(), 2);
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(INDEX_FILE_NAME)]);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let index = Index::in_dir(dir.path());
        index
            .record(&key("fly"), Backend::Memory, Utc::now())
            .unwrap();
        let mode = fs::metadata(index.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_corrupt_index_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::in_dir(dir.path());
        fs::write(index.path(), "{not json").unwrap();
        let msg = index.load().unwrap_err().to_string();
        assert!(msg.contains("credentials.json"), "{msg}");
        assert!(msg.contains("only names"), "{msg}");
    }
}
