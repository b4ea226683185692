//! Where shipdeck keeps its own state: journals, locks, the audit log, pins
//! and the demo fleet's store. `SHIPDECK_STATE_DIR` overrides (tests, CI).

use std::path::PathBuf;

/// The state directory: `$SHIPDECK_STATE_DIR`, else `$XDG_STATE_HOME/shipdeck`
/// (`~/.local/state/shipdeck`), else the platform's local data dir.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHIPDECK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let dirs = directories::ProjectDirs::from("", "", "shipdeck");
    dirs.as_ref()
        .and_then(|d| d.state_dir().map(PathBuf::from))
        .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_path_buf()))
        .unwrap_or_else(|| std::env::temp_dir().join("shipdeck"))
}

/// Layout of the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    /// Root.
    pub root: PathBuf,
}

impl StatePaths {
    /// Paths under `root`.
    pub fn new(root: PathBuf) -> StatePaths {
        StatePaths { root }
    }

    /// The default location.
    pub fn default_location() -> StatePaths {
        StatePaths::new(state_dir())
    }

    /// Plan journals.
    pub fn journals(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// Per-env lock files.
    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// The append-only audit log.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit.jsonl")
    }

    /// Pinned envs.
    pub fn pins(&self) -> PathBuf {
        self.root.join("pins.json")
    }

    /// The demo fleet's release and secret store.
    pub fn demo_store(&self) -> PathBuf {
        self.root.join("demo-fleet.json")
    }
}
