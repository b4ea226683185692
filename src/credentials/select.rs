//! Choosing the credential store at run time, and proving it answers.
//!
//! Linux: the Secret Service when a D-Bus session is advertised and answers a
//! harmless probe in time; otherwise the kernel keyring (keyutils) when it
//! answers a probe; otherwise an error saying what to install or start.
//! macOS and Windows use their native stores. There is no plaintext fallback.

use std::sync::Arc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use super::backend::Backend;
use super::env::EnvSource;
use super::error::CredentialError;
use super::memory::MemoryStore;
#[cfg(target_os = "linux")]
use super::offthread::{OffThreadError, run_with_limit};

/// Forces a backend: `secret-service`, `keyutils` or `memory`.
pub const KEYRING_VAR: &str = "SHIPDECK_KEYRING";

/// Must be `1` for `SHIPDECK_KEYRING=memory` to be accepted (tests only).
pub const ALLOW_MEMORY_VAR: &str = "SHIPDECK_KEYRING_ALLOW_MEMORY";

/// How long creating the Secret Service store plus one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The keyring user probed at start-up; it is only looked up, never written.
pub(crate) const PROBE_USER: &str = "shipdeck-probe:absent";

/// The kernel-keyring user written and deleted at start-up (value "probe").
#[cfg(target_os = "linux")]
const PROBE_WRITE_USER: &str = "shipdeck-probe:write";

/// A chosen, probed store.
pub(crate) struct Selected {
    pub backend: Backend,
    pub store: Arc<CredentialStore>,
    /// Why a better store was passed over, for the status view.
    pub note: Option<String>,
}

/// Pick and probe a store, honouring `SHIPDECK_KEYRING`.
pub(crate) fn select(env: &EnvSource) -> Result<Selected, CredentialError> {
    match env.var(KEYRING_VAR).as_deref() {
        None => auto(env),
        Some("secret-service") => forced(Backend::SecretService, env),
        Some("keyutils") => forced(Backend::Keyutils, env),
        Some("memory") => {
            if env.var(ALLOW_MEMORY_VAR).as_deref() == Some("1") {
                Ok(Selected {
                    backend: Backend::Memory,
                    store: MemoryStore::new(),
                    note: Some(
                        "SHIPDECK_KEYRING=memory: credentials vanish when shipdeck exits"
                            .to_string(),
                    ),
                })
            } else {
                Err(CredentialError::BadSetting {
                    name: KEYRING_VAR.to_string(),
                    value: "memory".to_string(),
                    expected: format!(
                        "the in-memory store is for tests only and also needs {ALLOW_MEMORY_VAR}=1"
                    ),
                })
            }
        }
        Some(other) => Err(CredentialError::BadSetting {
            name: KEYRING_VAR.to_string(),
            value: other.to_string(),
            expected: "use secret-service, keyutils, or memory (tests only), or unset it \
                       to choose automatically"
                .to_string(),
        }),
    }
}

fn forced(backend: Backend, env: &EnvSource) -> Result<Selected, CredentialError> {
    let (store, note) = open_backend(backend, env)?;
    Ok(Selected {
        backend,
        store,
        note,
    })
}

#[cfg(target_os = "linux")]
fn auto(env: &EnvSource) -> Result<Selected, CredentialError> {
    let mut tried = Vec::new();
    match open_backend(Backend::SecretService, env) {
        Ok((store, note)) => {
            return Ok(Selected {
                backend: Backend::SecretService,
                store,
                note,
            });
        }
        Err(e) => tried.push(format!("{}: {}", Backend::SecretService, e.reason())),
    }
    match open_backend(Backend::Keyutils, env) {
        Ok((store, _)) => Ok(Selected {
            backend: Backend::Keyutils,
            store,
            note: tried.pop().map(|why| format!("not using the {why}")),
        }),
        Err(e) => {
            tried.push(format!("{}: {}", Backend::Keyutils, e.reason()));
            Err(CredentialError::NoBackend { tried })
        }
    }
}

#[cfg(target_os = "macos")]
fn auto(env: &EnvSource) -> Result<Selected, CredentialError> {
    forced(Backend::AppleKeychain, env)
}

#[cfg(target_os = "windows")]
fn auto(env: &EnvSource) -> Result<Selected, CredentialError> {
    forced(Backend::WindowsCredentialManager, env)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn auto(_env: &EnvSource) -> Result<Selected, CredentialError> {
    Err(CredentialError::NoBackend {
        tried: vec!["this platform has no supported OS keyring".to_string()],
    })
}

/// Create `backend`'s store and probe it.
fn open_backend(
    backend: Backend,
    env: &EnvSource,
) -> Result<(Arc<CredentialStore>, Option<String>), CredentialError> {
    let _ = env;
    match backend {
        #[cfg(target_os = "linux")]
        Backend::SecretService => open_secret_service(env),
        #[cfg(target_os = "linux")]
        Backend::Keyutils => {
            let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()
                .map_err(|e| CredentialError::from_keyring(e, backend, PROBE_USER))?;
            probe(&store, backend)?;
            probe_kernel_write(&store)?;
            Ok((store, None))
        }
        #[cfg(target_os = "macos")]
        Backend::AppleKeychain => {
            let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()
                .map_err(|e| CredentialError::from_keyring(e, backend, PROBE_USER))?;
            probe(&store, backend)?;
            Ok((store, None))
        }
        #[cfg(target_os = "windows")]
        Backend::WindowsCredentialManager => {
            let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()
                .map_err(|e| CredentialError::from_keyring(e, backend, PROBE_USER))?;
            probe(&store, backend)?;
            Ok((store, None))
        }
        Backend::Memory => Ok((MemoryStore::new(), None)),
        #[allow(unreachable_patterns)]
        other => Err(CredentialError::BadSetting {
            name: KEYRING_VAR.to_string(),
            value: other.env_name().unwrap_or(other.label()).to_string(),
            expected: format!("the {other} is not available on this platform"),
        }),
    }
}

/// Connect to the Secret Service and probe it, off-thread and time-limited
/// (see `offthread` for why).
#[cfg(target_os = "linux")]
fn open_secret_service(
    env: &EnvSource,
) -> Result<(Arc<CredentialStore>, Option<String>), CredentialError> {
    let backend = Backend::SecretService;
    if env.var("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err(CredentialError::PlatformFailure {
            backend,
            detail: "DBUS_SESSION_BUS_ADDRESS is not set (no D-Bus session)".to_string(),
        });
    }
    let opened = run_with_limit(PROBE_TIMEOUT, move || {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()
            .map_err(|e| CredentialError::from_keyring(e, backend, PROBE_USER))?;
        probe(&store, backend)?;
        let locked = default_collection_locked()?;
        Ok((store, locked))
    });
    match opened {
        Ok(Ok((store, locked))) => Ok((
            store,
            locked.then(|| {
                "the Secret Service login keyring is locked: it will be asked to unlock \
                 when a credential is first needed"
                    .to_string()
            }),
        )),
        Ok(Err(e)) => Err(e),
        Err(OffThreadError::TimedOut) => Err(CredentialError::Timeout {
            backend,
            doing: "connecting".to_string(),
            secs: PROBE_TIMEOUT.as_secs(),
        }),
        Err(OffThreadError::Panicked) => Err(CredentialError::PlatformFailure {
            backend,
            detail: "the D-Bus client panicked while connecting".to_string(),
        }),
        Err(OffThreadError::Spawn(e)) => Err(CredentialError::Task(e.to_string())),
    }
}

/// Whether the default collection (where new items go) is locked. A service
/// without one (gnome-keyring started by D-Bus activation on a machine that
/// never created a login keyring) cannot store anything without a prompt, so
/// it counts as unusable. Lookups only: no secret crosses the bus.
#[cfg(target_os = "linux")]
fn default_collection_locked() -> Result<bool, CredentialError> {
    use secret_service::blocking::SecretService;
    use secret_service::{EncryptionType, Error as SsError};
    let backend = Backend::SecretService;
    let map = |e: SsError| match e {
        SsError::NoResult => CredentialError::NoStorageAccess {
            backend,
            detail: "it has no default collection (no login keyring has been created)".to_string(),
        },
        SsError::Locked | SsError::Prompt => CredentialError::NoStorageAccess {
            backend,
            detail: e.to_string(),
        },
        other => CredentialError::PlatformFailure {
            backend,
            detail: other.to_string(),
        },
    };
    let service = SecretService::connect(EncryptionType::Plain).map_err(map)?;
    let collection = service.get_default_collection().map_err(map)?;
    collection.is_locked().map_err(map)
}

/// Write and delete a throw-away key: a session keyring can allow searches
/// but refuse new keys (seen as `EACCES` on `add_key`), and a read-only probe
/// would not notice. Harmless in the kernel keyring: no prompt, no disk.
#[cfg(target_os = "linux")]
fn probe_kernel_write(store: &Arc<CredentialStore>) -> Result<(), CredentialError> {
    let backend = Backend::Keyutils;
    let map = |e| CredentialError::from_keyring(e, backend, PROBE_WRITE_USER);
    let entry =
        Entry::new_in_store(store, super::key::KEYRING_SERVICE, PROBE_WRITE_USER).map_err(map)?;
    entry.set_password("probe").map_err(map)?;
    match entry.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(e) => Err(map(e)),
    }
}

/// Look up an entry that never exists: `NoEntry` proves the store answers.
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
fn probe(store: &Arc<CredentialStore>, backend: Backend) -> Result<(), CredentialError> {
    let entry = Entry::new_in_store(store, super::key::KEYRING_SERVICE, PROBE_USER)
        .map_err(|e| CredentialError::from_keyring(e, backend, PROBE_USER))?;
    match entry.get_credential() {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(e) => Err(CredentialError::from_keyring(e, backend, PROBE_USER)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_needs_the_second_switch() {
        let env = EnvSource::from_pairs([(KEYRING_VAR, "memory")]);
        let err = select(&env).err().unwrap();
        assert!(
            err.to_string().contains("SHIPDECK_KEYRING_ALLOW_MEMORY=1"),
            "{err}"
        );
        let env = EnvSource::from_pairs([(KEYRING_VAR, "memory"), (ALLOW_MEMORY_VAR, "1")]);
        assert_eq!(select(&env).ok().unwrap().backend, Backend::Memory);
    }

    #[test]
    fn unknown_forced_backend_lists_the_choices() {
        let env = EnvSource::from_pairs([(KEYRING_VAR, "file")]);
        let msg = select(&env).err().unwrap().to_string();
        assert!(msg.contains("SHIPDECK_KEYRING=file"), "{msg}");
        assert!(msg.contains("secret-service, keyutils"), "{msg}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn forced_secret_service_without_dbus_fails_and_says_why() {
        let env = EnvSource::from_pairs([(KEYRING_VAR, "secret-service")]);
        let msg = select(&env).err().unwrap().to_string();
        assert!(msg.contains("DBUS_SESSION_BUS_ADDRESS is not set"), "{msg}");
        assert!(msg.contains("gnome-keyring"), "{msg}");
    }
}
