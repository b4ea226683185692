//! `Credentials`: the store handle the CLI and the engine use.
//!
//! Every method except the `*_async` ones **blocks** (D-Bus round trips, or
//! an unlock prompt). From async code call the `*_async` wrappers, which run
//! the call on tokio's blocking pool. The sync methods are nevertheless safe
//! on any thread: Secret Service calls always run on a thread of their own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use keyring_core::{CredentialStore, Entry};
use serde::Serialize;

use super::backend::Backend;
use super::env::{EnvSource, env_var_name, key_from_var_name};
use super::error::CredentialError;
use super::index::Index;
use super::key::CredentialKey;
use super::memory::MemoryStore;
use super::offthread::{OffThreadError, StoreOwner, run_with_limit};
use super::select::select;
use crate::domain::CredentialSource;
use crate::secrets::SecretValue;

/// Longest a single Secret Service call may take (an unlock prompt may be
/// waiting for a person).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// A credential ready for use, and where it came from.
#[derive(Debug)]
pub struct Resolved {
    /// The value (zeroized on drop, never printed).
    pub value: SecretValue,
    /// Keyring or environment.
    pub source: CredentialSource,
    /// Human wording: "environment variable SHIPDECK_FLY_TOKEN", "Secret Service".
    pub origin: String,
}

/// What `list` reports about one credential. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    /// Which credential.
    pub key: CredentialKey,
    /// Keyring or environment.
    pub source: CredentialSource,
    /// Human wording of where it lives.
    pub origin: String,
    /// When shipdeck stored it (keyring entries only).
    pub set_at: Option<DateTime<Utc>>,
    /// Whether it is there now. Entries recorded in a store other than the
    /// active one cannot be checked and report `false`.
    pub present: bool,
}

/// The credential store handle: environment overrides first, then the OS
/// keyring chosen at [`Credentials::open`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Credentials {
    backend: Backend,
    store: Arc<StoreOwner>,
    index: Index,
    env: EnvSource,
    note: Option<String>,
    index_lock: Arc<Mutex<()>>,
}

impl Credentials {
    /// Choose and probe the OS keyring (blocking: up to [`PROBE_TIMEOUT`]
    /// when a D-Bus session does not answer). `state_dir` holds the
    /// names-only index `credentials.json`. The rules and `SHIPDECK_KEYRING`
    /// are in the [module docs](super).
    ///
    /// [`PROBE_TIMEOUT`]: super::PROBE_TIMEOUT
    pub fn open(state_dir: &Path) -> Result<Credentials, CredentialError> {
        Credentials::open_with_env(state_dir, EnvSource::Process)
    }

    /// [`Credentials::open`], reading settings and overrides from `env`.
    pub fn open_with_env(state_dir: &Path, env: EnvSource) -> Result<Credentials, CredentialError> {
        let selected = select(&env)?;
        Ok(Credentials {
            backend: selected.backend,
            store: Arc::new(StoreOwner::new(selected.store)),
            index: Index::in_dir(state_dir),
            env,
            note: selected.note,
            index_lock: Arc::new(Mutex::new(())),
        })
    }

    /// An in-process store for tests: nothing touches the OS keyring and
    /// environment overrides are off (see [`Credentials::with_env`]).
    pub fn in_memory(state_dir: &Path) -> Credentials {
        Credentials {
            backend: Backend::Memory,
            store: Arc::new(StoreOwner::new(MemoryStore::new())),
            index: Index::in_dir(state_dir),
            env: EnvSource::Map(HashMap::new()),
            note: None,
            index_lock: Arc::new(Mutex::new(())),
        }
    }

    /// The same store, reading overrides from `env`.
    pub fn with_env(mut self, env: EnvSource) -> Credentials {
        self.env = env;
        self
    }

    /// The active store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why a better store was passed over at `open`, if one was.
    pub fn selection_note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Where the names-only index lives.
    pub fn index_path(&self) -> &Path {
        self.index.path()
    }

    /// The credential for `key`: its environment variable when set and
    /// non-empty, else the keyring entry, else `None`. Blocking.
    pub fn get(&self, key: &CredentialKey) -> Result<Option<Resolved>, CredentialError> {
        if let Some((name, value)) = self.env.secret_for(key) {
            return Ok(Some(Resolved {
                value,
                source: CredentialSource::Environment,
                origin: format!("environment variable {name}"),
            }));
        }
        let found = self.call(key, "reading", |entry| {
            entry.get_password().map(SecretValue::new)
        })?;
        match found {
            Ok(value) => Ok(Some(Resolved {
                value,
                source: CredentialSource::Keyring,
                origin: self.backend.label().to_string(),
            })),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(CredentialError::from_keyring(
                e,
                self.backend,
                &key.to_string(),
            )),
        }
    }

    /// Store `value` for `key` in the keyring (replacing any previous one)
    /// and record the name in the index. Blocking.
    pub fn set(&self, key: &CredentialKey, value: &SecretValue) -> Result<(), CredentialError> {
        if value.expose().is_empty() {
            return Err(CredentialError::EmptyValue {
                key: key.to_string(),
            });
        }
        let value = value.clone();
        self.call(key, "storing", move |entry| {
            entry.set_password(value.expose())
        })?
        .map_err(|e| CredentialError::from_keyring(e, self.backend, &key.to_string()))?;
        let _guard = self.lock_index();
        self.index.record(key, self.backend, Utc::now())
    }

    /// Delete `key` from the keyring and the index; `false` when the
    /// keyring had no such entry. Environment variables are untouched.
    /// Blocking.
    pub fn remove(&self, key: &CredentialKey) -> Result<bool, CredentialError> {
        let deleted = match self.call(key, "deleting", |entry| entry.delete_credential())? {
            Ok(()) => true,
            Err(keyring_core::Error::NoEntry) => false,
            Err(e) => {
                return Err(CredentialError::from_keyring(
                    e,
                    self.backend,
                    &key.to_string(),
                ));
            }
        };
        let _guard = self.lock_index();
        self.index.forget(key, self.backend)?;
        Ok(deleted)
    }

    /// Every credential shipdeck knows of: set environment overrides, and
    /// the index entries with their presence checked against the active
    /// store. Never values. Blocking.
    pub fn list(&self) -> Result<Vec<CredentialInfo>, CredentialError> {
        let entries = {
            let _guard = self.lock_index();
            self.index.load()?
        };
        let mut out = Vec::new();
        let by_var: HashMap<String, &CredentialKey> = entries
            .iter()
            .map(|e| (env_var_name(&e.key), &e.key))
            .collect();
        for name in self.env.credential_var_names() {
            let key = match by_var.get(&name) {
                Some(k) => (*k).clone(),
                None => match key_from_var_name(&name) {
                    Some(k) => k,
                    None => continue,
                },
            };
            out.push(CredentialInfo {
                key,
                source: CredentialSource::Environment,
                origin: format!("environment variable {name}"),
                set_at: None,
                present: true,
            });
        }
        for entry in entries {
            let (present, origin) = if entry.backend == self.backend {
                (self.contains(&entry.key)?, self.backend.label().to_string())
            } else {
                (
                    false,
                    format!(
                        "{} (not the active store, which is the {})",
                        entry.backend.label(),
                        self.backend.label()
                    ),
                )
            };
            out.push(CredentialInfo {
                key: entry.key,
                source: CredentialSource::Keyring,
                origin,
                set_at: Some(entry.set_at),
                present,
            });
        }
        out.sort_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then_with(|| source_rank(a.source).cmp(&source_rank(b.source)))
        });
        Ok(out)
    }

    /// [`Credentials::open`] on tokio's blocking pool.
    pub async fn open_async(state_dir: PathBuf) -> Result<Credentials, CredentialError> {
        on_blocking_pool(move || Credentials::open(&state_dir)).await
    }

    /// [`Credentials::get`] on tokio's blocking pool.
    pub async fn get_async(
        &self,
        key: &CredentialKey,
    ) -> Result<Option<Resolved>, CredentialError> {
        let (this, key) = (self.clone(), key.clone());
        on_blocking_pool(move || this.get(&key)).await
    }

    /// [`Credentials::set`] on tokio's blocking pool.
    pub async fn set_async(
        &self,
        key: &CredentialKey,
        value: &SecretValue,
    ) -> Result<(), CredentialError> {
        let (this, key, value) = (self.clone(), key.clone(), value.clone());
        on_blocking_pool(move || this.set(&key, &value)).await
    }

    /// [`Credentials::remove`] on tokio's blocking pool.
    pub async fn remove_async(&self, key: &CredentialKey) -> Result<bool, CredentialError> {
        let (this, key) = (self.clone(), key.clone());
        on_blocking_pool(move || this.remove(&key)).await
    }

    /// [`Credentials::list`] on tokio's blocking pool.
    pub async fn list_async(&self) -> Result<Vec<CredentialInfo>, CredentialError> {
        let this = self.clone();
        on_blocking_pool(move || this.list()).await
    }

    /// Whether the active keyring holds `key` (the value is not read).
    /// Environment overrides are not consulted. Blocking.
    pub fn contains(&self, key: &CredentialKey) -> Result<bool, CredentialError> {
        match self.call(key, "checking", |entry| entry.get_credential().map(drop))? {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(CredentialError::from_keyring(
                e,
                self.backend,
                &key.to_string(),
            )),
        }
    }

    /// Build the entry for `key` and run `op` on it. Secret Service calls
    /// run on their own thread with [`OPERATION_TIMEOUT`]; the kernel and
    /// memory stores are plain syscalls or map lookups and run inline.
    fn call<T, F>(
        &self,
        key: &CredentialKey,
        doing: &str,
        op: F,
    ) -> Result<keyring_core::Result<T>, CredentialError>
    where
        T: Send + 'static,
        F: FnOnce(&Entry) -> keyring_core::Result<T> + Send + 'static,
    {
        let store = self
            .store
            .store()
            .ok_or_else(|| CredentialError::Task("the store was closed".to_string()))?;
        let backend = self.backend;
        let user = key.to_string();
        let run = move || build_entry(&store, backend, &user).and_then(|entry| op(&entry));
        if backend != Backend::SecretService {
            return Ok(run());
        }
        match run_with_limit(OPERATION_TIMEOUT, run) {
            Ok(result) => Ok(result),
            Err(OffThreadError::TimedOut) => Err(CredentialError::Timeout {
                backend,
                doing: format!("{doing} {key}"),
                secs: OPERATION_TIMEOUT.as_secs(),
            }),
            Err(OffThreadError::Panicked) => Err(CredentialError::PlatformFailure {
                backend,
                detail: format!("the D-Bus client panicked while {doing} {key}"),
            }),
            Err(OffThreadError::Spawn(e)) => Err(CredentialError::Task(e.to_string())),
        }
    }

    fn lock_index(&self) -> MutexGuard<'_, ()> {
        self.index_lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The keyring entry for `user` (= `kind:account`) under service `shipdeck`.
/// Secret Service items get a readable label for Seahorse and friends.
fn build_entry(
    store: &Arc<CredentialStore>,
    backend: Backend,
    user: &str,
) -> keyring_core::Result<Entry> {
    let service = super::key::KEYRING_SERVICE;
    if backend == Backend::SecretService {
        let label = format!("shipdeck credential {user}");
        let modifiers = HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(store, service, user, &modifiers)
    } else {
        Entry::new_in_store(store, service, user)
    }
}

fn source_rank(source: CredentialSource) -> u8 {
    match source {
        CredentialSource::Environment => 0,
        _ => 1,
    }
}

async fn on_blocking_pool<T, F>(f: F) -> Result<T, CredentialError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, CredentialError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CredentialError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CredentialKey {
        CredentialKey::parse(s).unwrap()
    }

    fn secret(s: &str) -> SecretValue {
        SecretValue::new(s.to_string())
    }

    #[test]
    fn round_trip_across_entries_and_handles() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_memory(dir.path());
        let k = key("render:team-a");
        assert!(creds.get(&k).unwrap().is_none());
        creds.set(&k, &secret("tok-1")).unwrap();
        let clone = creds.clone();
        let got = clone.get(&k).unwrap().unwrap();
        assert_eq!(got.value.expose(), "tok-1");
        assert_eq!(got.source, CredentialSource::Keyring);
        assert_eq!(got.origin, "in-memory store (tests only)");
        creds.set(&k, &secret("tok-2")).unwrap();
        assert_eq!(creds.get(&k).unwrap().unwrap().value.expose(), "tok-2");
        assert!(creds.remove(&k).unwrap());
        assert!(creds.get(&k).unwrap().is_none());
        assert!(!creds.remove(&k).unwrap());
    }

    #[test]
    fn environment_overrides_the_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_memory(dir.path()).with_env(EnvSource::from_pairs([
            ("SHIPDECK_FLY_TOKEN", "from-env"),
            ("SHIPDECK_DB_PRODUCTION_URL", "postgres://env"),
            ("SHIPDECK_RENDER_TOKEN", ""),
        ]));
        creds.set(&key("fly"), &secret("from-keyring")).unwrap();
        creds
            .set(&key("render"), &secret("render-keyring"))
            .unwrap();
        let fly = creds.get(&key("fly")).unwrap().unwrap();
        assert_eq!(fly.value.expose(), "from-env");
        assert_eq!(fly.source, CredentialSource::Environment);
        assert_eq!(fly.origin, "environment variable SHIPDECK_FLY_TOKEN");
        // The default-account variable does not leak into other accounts.
        assert!(creds.get(&key("fly:other")).unwrap().is_none());
        // Empty variables are ignored.
        let render = creds.get(&key("render")).unwrap().unwrap();
        assert_eq!(render.value.expose(), "render-keyring");
        assert_eq!(render.source, CredentialSource::Keyring);
        let db = creds.get(&key("db:production")).unwrap().unwrap();
        assert_eq!(db.value.expose(), "postgres://env");
        // Removing only touches the keyring; the override still wins.
        assert!(creds.remove(&key("fly")).unwrap());
        assert_eq!(
            creds.get(&key("fly")).unwrap().unwrap().value.expose(),
            "from-env"
        );
    }

    #[test]
    fn list_shows_names_sources_and_presence_never_values() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_memory(dir.path()).with_env(EnvSource::from_pairs([
            ("SHIPDECK_RENDER_TEAM_A_TOKEN", "env-secret-1"),
            ("SHIPDECK_DB_STAGING_URL", "env-secret-2"),
            ("SHIPDECK_KEYRING", "memory"),
            ("UNRELATED", "x"),
        ]));
        creds
            .set(&key("render:team-a"), &secret("kr-secret-1"))
            .unwrap();
        creds.set(&key("fly"), &secret("kr-secret-2")).unwrap();
        // Another process (or a reboot, for keyutils) loses an entry the
        // index still names:
        let other = Credentials::in_memory(dir.path());
        other.set(&key("vps:box"), &secret("kr-secret-3")).unwrap();

        let list = creds.list().unwrap();
        let rows: Vec<(String, CredentialSource, bool)> = list
            .iter()
            .map(|i| (i.key.to_string(), i.source, i.present))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("fly:default".into(), CredentialSource::Keyring, true),
                ("render:team-a".into(), CredentialSource::Environment, true),
                ("render:team-a".into(), CredentialSource::Keyring, true),
                ("vps:box".into(), CredentialSource::Keyring, false),
                ("db:staging".into(), CredentialSource::Environment, true),
            ]
        );
        assert!(list[0].set_at.is_some());
        assert_eq!(
            list[1].origin,
            "environment variable SHIPDECK_RENDER_TEAM_A_TOKEN"
        );
        let text = format!("{list:?} {}", serde_json::to_string(&list).unwrap());
        assert!(!text.contains("secret-"), "{text}");
        let index = std::fs::read_to_string(creds.index_path()).unwrap();
        assert!(!index.contains("secret"), "{index}");
    }

    #[test]
    fn empty_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_memory(dir.path());
        let err = creds.set(&key("fly"), &secret("")).unwrap_err();
        assert!(matches!(err, CredentialError::EmptyValue { .. }));
        assert!(!creds.index_path().exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_wrappers_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::in_memory(dir.path());
        let k = key("db:prod");
        creds.set_async(&k, &secret("postgres://x")).await.unwrap();
        let got = creds.get_async(&k).await.unwrap().unwrap();
        assert_eq!(got.value.expose(), "postgres://x");
        assert_eq!(creds.list_async().await.unwrap().len(), 1);
        assert!(creds.remove_async(&k).await.unwrap());
        assert!(!creds.remove_async(&k).await.unwrap());
    }

    #[test]
    fn open_honours_forced_memory_backend() {
        let dir = tempfile::tempdir().unwrap();
        let env = EnvSource::from_pairs([
            ("SHIPDECK_KEYRING", "memory"),
            ("SHIPDECK_KEYRING_ALLOW_MEMORY", "1"),
        ]);
        let creds = Credentials::open_with_env(dir.path(), env).unwrap();
        assert_eq!(creds.backend(), Backend::Memory);
        assert!(creds.selection_note().is_some());
    }
}
