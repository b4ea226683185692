//! Credentials for providers and databases: environment overrides for CI,
//! then the OS keyring (Secret Service, kernel keyring, macOS Keychain,
//! Windows Credential Manager). Never a plaintext file.
//!
//! ```no_run
//! # fn main() -> Result<(), shipdeck::credentials::CredentialError> {
//! use shipdeck::credentials::{CredentialKey, Credentials};
//! let creds = Credentials::open(std::path::Path::new("/tmp/shipdeck-state"))?; // blocking
//! if let Some(note) = creds.backend().persistence_notice() {
//!     eprintln!("warning: {note}");
//! }
//! let key = CredentialKey::parse("fly")?;
//! if let Some(found) = creds.get(&key)? {
//!     eprintln!("using {} from {}", key, found.origin);
//! }
//! # Ok(()) }
//! ```
//!
//! All methods block; from async code use the `*_async` wrappers (they run
//! on tokio's blocking pool).
//!
//! Selection (`Credentials::open`): `SHIPDECK_KEYRING=secret-service|keyutils`
//! forces a backend; `memory` is for tests only and also needs
//! `SHIPDECK_KEYRING_ALLOW_MEMORY=1`. Otherwise, on Linux, the Secret Service
//! is used when `DBUS_SESSION_BUS_ADDRESS` is set and it answers a probe
//! within [`PROBE_TIMEOUT`], else the kernel keyring when it answers a probe,
//! else [`CredentialError::NoBackend`] says what to install or start.

mod backend;
mod env;
mod error;
mod index;
mod key;
mod memory;
mod offthread;
pub mod origin;
pub mod prompt;
mod select;
mod store;

pub use backend::Backend;
pub use env::{EnvSource, env_var_name};
pub use error::CredentialError;
pub use index::INDEX_FILE_NAME;
pub use key::{CredentialKey, CredentialKind, DEFAULT_ACCOUNT, KEYRING_SERVICE};
pub use memory::MemoryStore;
pub use origin::{CredentialNeed, CredentialOrigin, Wanted, needs_of, origins_of};
pub use prompt::read_secret;
pub use select::{ALLOW_MEMORY_VAR, KEYRING_VAR, PROBE_TIMEOUT};
pub use store::{CredentialInfo, Credentials, OPERATION_TIMEOUT, Resolved};
