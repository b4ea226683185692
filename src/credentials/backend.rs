//! Which keyring holds the credentials, and how long it keeps them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A credential store shipdeck can use. There is deliberately no plaintext
/// file backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Linux Secret Service over D-Bus (gnome-keyring, KeePassXC, KWallet).
    SecretService,
    /// The Linux kernel key retention service (keyutils).
    Keyutils,
    /// The macOS login keychain.
    AppleKeychain,
    /// Windows Credential Manager.
    WindowsCredentialManager,
    /// An in-process store, for tests only: everything is lost at exit.
    Memory,
}

impl Backend {
    /// A short name for status lines.
    pub fn label(self) -> &'static str {
        match self {
            Backend::SecretService => "Secret Service",
            Backend::Keyutils => "kernel keyring (keyutils)",
            Backend::AppleKeychain => "macOS Keychain",
            Backend::WindowsCredentialManager => "Windows Credential Manager",
            Backend::Memory => "in-memory store (tests only)",
        }
    }

    /// The value `SHIPDECK_KEYRING` takes to force this backend, if any.
    pub fn env_name(self) -> Option<&'static str> {
        match self {
            Backend::SecretService => Some("secret-service"),
            Backend::Keyutils => Some("keyutils"),
            Backend::Memory => Some("memory"),
            Backend::AppleKeychain | Backend::WindowsCredentialManager => None,
        }
    }

    /// Whether entries survive a reboot.
    pub fn persists(self) -> bool {
        !matches!(self, Backend::Keyutils | Backend::Memory)
    }

    /// A warning to show wherever the backend is shown, when entries do not
    /// survive a reboot (`None` for the durable stores).
    pub fn persistence_notice(self) -> Option<&'static str> {
        match self {
            Backend::Keyutils => Some(
                "kernel keyring: entries are lost at reboot; install and unlock a \
                 Secret Service (gnome-keyring) to keep them",
            ),
            Backend::Memory => {
                Some("in-memory store: entries are lost when shipdeck exits (tests only)")
            }
            Backend::SecretService | Backend::AppleKeychain | Backend::WindowsCredentialManager => {
                None
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_volatile_backends_warn() {
        let notice = Backend::Keyutils.persistence_notice().unwrap();
        assert!(notice.contains("lost at reboot"));
        assert!(notice.contains("gnome-keyring"));
        assert!(Backend::Memory.persistence_notice().is_some());
        assert!(Backend::SecretService.persistence_notice().is_none());
        assert!(Backend::SecretService.persists());
        assert!(!Backend::Keyutils.persists());
        assert_eq!(
            serde_json::to_string(&Backend::SecretService).unwrap(),
            "\"secret_service\""
        );
    }
}
