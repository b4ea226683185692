//! What went wrong with a credential, phrased as what the user should do.
//! No variant ever carries a secret value.

use std::path::PathBuf;

use zeroize::Zeroize;

use super::backend::Backend;
use super::key::accepted_forms;

/// A credential-store failure. Every message names the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A credential name that does not parse.
    #[error("`{input}` is not a credential name ({reason}); {forms}", forms = accepted_forms())]
    BadKey {
        /// What the user typed.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// The store exists but refused access (locked, or the kernel said no).
    #[error("the {backend} is locked or refused access: {fix} ({detail})", fix = access_fix(*.backend))]
    NoStorageAccess {
        /// The store that refused.
        backend: Backend,
        /// The platform's own words.
        detail: String,
    },

    /// The store failed for another reason.
    #[error("the {backend} failed: {detail}; {fix}", fix = platform_fix(*.backend))]
    PlatformFailure {
        /// The store that failed.
        backend: Backend,
        /// The platform's own words.
        detail: String,
    },

    /// The stored value could not be decoded as text.
    #[error(
        "the value stored for {key} in the {backend} is not valid text ({detail}); \
         set it again with `shipdeck auth set {key}`"
    )]
    BadEncoding {
        /// The credential.
        key: String,
        /// The store.
        backend: Backend,
        /// What was wrong (never the bytes).
        detail: String,
    },

    /// The store refused the value or the name (too long, empty, invalid).
    #[error("the {backend} rejected {key}: {detail}")]
    Rejected {
        /// The credential.
        key: String,
        /// The store.
        backend: Backend,
        /// The platform's reason.
        detail: String,
    },

    /// Several keyring items match one credential.
    #[error(
        "{count} items in the {backend} match {key}; delete the extra ones \
         (e.g. with `secret-tool clear service shipdeck username {key}` or Seahorse), \
         then set it again"
    )]
    Ambiguous {
        /// The credential.
        key: String,
        /// The store.
        backend: Backend,
        /// How many matched.
        count: usize,
    },

    /// No usable credential store on this machine.
    #[error(
        "no credential store is available ({tried}). shipdeck never writes credentials to a \
         plain file. Fix one of: start a Secret Service (install gnome-keyring and \
         dbus-daemon, then run shipdeck inside a D-Bus session with the keyring unlocked, e.g. \
         `dbus-run-session -- sh -c 'echo -n PASSWORD | gnome-keyring-daemon --unlock \
         --components=secrets; shipdeck …'`); or use the kernel keyring (install keyutils and \
         run `keyctl session - shipdeck …`); or pass the credential for this run in its \
         environment variable (e.g. SHIPDECK_FLY_TOKEN)",
         tried = .tried.join("; ")
    )]
    NoBackend {
        /// Each store tried, with the short reason it was not used.
        tried: Vec<String>,
    },

    /// A setting (environment variable) has a value shipdeck does not accept.
    #[error("{name}={value} is not accepted: {expected}")]
    BadSetting {
        /// The variable.
        name: String,
        /// Its value (a setting, never a secret).
        value: String,
        /// What would be accepted.
        expected: String,
    },

    /// The store did not answer in time.
    #[error(
        "the {backend} did not answer within {secs} s while {doing}; if an unlock prompt is \
         open, answer it, otherwise restart the keyring daemon"
    )]
    Timeout {
        /// The store.
        backend: Backend,
        /// What shipdeck was doing.
        doing: String,
        /// The limit.
        secs: u64,
    },

    /// An empty value was given to `set`.
    #[error("refusing to store an empty value for {key}")]
    EmptyValue {
        /// The credential.
        key: String,
    },

    /// The index file (names only) could not be read or written.
    #[error(
        "the credential index {path} could not be {doing}: {detail} (it holds only names; \
         deleting it loses the list, not the secrets)"
    )]
    Index {
        /// The file.
        path: PathBuf,
        /// "read" or "written".
        doing: &'static str,
        /// The underlying error.
        detail: String,
    },

    /// Non-interactive input was empty.
    #[error(
        "no value on stdin: pipe the secret in (e.g. `printf %s \"$TOKEN\" | shipdeck auth set fly`) or run in a terminal to be prompted"
    )]
    NoValueOnStdin,

    /// The input was longer than any credential shipdeck stores.
    #[error("the value is longer than {limit} bytes; credentials are tokens or URLs")]
    InputTooLong {
        /// The limit in bytes.
        limit: usize,
    },

    /// The input was not UTF-8 text.
    #[error("the value is not valid UTF-8 text")]
    InputNotText,

    /// Enter was pressed on an empty prompt.
    #[error("nothing was entered; nothing was stored")]
    NothingEntered,

    /// The user cancelled the prompt (Ctrl-C or Ctrl-D).
    #[error("cancelled at the prompt; nothing was stored")]
    Cancelled,

    /// Reading the value failed.
    #[error("could not read the value: {0}")]
    Input(#[source] std::io::Error),

    /// A background task running a keyring call failed.
    #[error("the keyring task failed: {0}")]
    Task(String),
}

impl CredentialError {
    /// A short reason without the advice, for lists of what was tried.
    pub fn reason(&self) -> String {
        match self {
            CredentialError::NoStorageAccess {
                backend: Backend::Keyutils,
                detail,
            } => format!("the kernel refused access to this process's session keyring ({detail})"),
            CredentialError::NoStorageAccess { detail, .. } => {
                format!("locked or refused access ({detail})")
            }
            CredentialError::PlatformFailure { detail, .. } => detail.clone(),
            CredentialError::Timeout { secs, doing, .. } => {
                format!("no answer within {secs} s while {doing}")
            }
            other => other.to_string(),
        }
    }

    /// Map a keyring-core error (other than `NoEntry`, which callers handle)
    /// for `key` in `backend`. Byte payloads are zeroized and dropped.
    pub(crate) fn from_keyring(
        err: keyring_core::Error,
        backend: Backend,
        key: &str,
    ) -> CredentialError {
        use keyring_core::Error as K;
        match err {
            K::NoStorageAccess(e) => CredentialError::NoStorageAccess {
                backend,
                detail: e.to_string(),
            },
            K::BadEncoding(mut bytes) => {
                bytes.zeroize();
                CredentialError::BadEncoding {
                    key: key.to_string(),
                    backend,
                    detail: "not UTF-8".to_string(),
                }
            }
            K::BadDataFormat(mut bytes, e) => {
                bytes.zeroize();
                CredentialError::BadEncoding {
                    key: key.to_string(),
                    backend,
                    detail: e.to_string(),
                }
            }
            K::TooLong(what, limit) => CredentialError::Rejected {
                key: key.to_string(),
                backend,
                detail: format!("{what} is longer than the limit of {limit}"),
            },
            K::Invalid(what, reason) => CredentialError::Rejected {
                key: key.to_string(),
                backend,
                detail: format!("{what} {reason}"),
            },
            K::Ambiguous(entries) => CredentialError::Ambiguous {
                key: key.to_string(),
                backend,
                count: entries.len(),
            },
            K::PlatformFailure(e) => CredentialError::PlatformFailure {
                backend,
                detail: e.to_string(),
            },
            // NoEntry is handled by callers; the rest are programming or
            // store-format problems. None of their messages hold values.
            other => CredentialError::PlatformFailure {
                backend,
                detail: other.to_string(),
            },
        }
    }
}

/// What to do when `backend` refuses access.
pub(crate) fn access_fix(backend: Backend) -> &'static str {
    match backend {
        Backend::SecretService => {
            "unlock it (log in to the desktop session, answer the unlock prompt, or on a \
             headless machine run `echo -n PASSWORD | gnome-keyring-daemon --unlock \
             --components=secrets` inside the same D-Bus session)"
        }
        Backend::Keyutils => {
            "the kernel refused this process's session keyring (usual under sudo, su, \
             containers and some SSH or systemd sessions); run shipdeck in a fresh session \
             keyring with `keyctl session - shipdeck …` (package keyutils), or start a D-Bus \
             session with an unlocked gnome-keyring so the Secret Service is used \
             (`dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; \
             shipdeck …'`)"
        }
        Backend::AppleKeychain => {
            "unlock the login keychain (Keychain Access) and allow shipdeck when macOS asks"
        }
        Backend::WindowsCredentialManager => {
            "sign in to Windows as the user who owns the credentials; Credential Manager is \
             not available to this session"
        }
        Backend::Memory => "the in-memory test store refused access",
    }
}

/// What to check when `backend` fails outright.
fn platform_fix(backend: Backend) -> &'static str {
    match backend {
        Backend::SecretService => {
            "check that gnome-keyring (or another Secret Service) is running in this D-Bus \
             session and that its login collection exists"
        }
        Backend::Keyutils => {
            "check that the kernel key retention service is enabled (`keyctl show`, package \
             keyutils)"
        }
        Backend::AppleKeychain => "check the login keychain in Keychain Access",
        Backend::WindowsCredentialManager => "check Credential Manager in the Control Panel",
        Backend::Memory => "this is a test store",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(msg: &str) -> keyring_core::error::PlatformError {
        Box::new(std::io::Error::other(msg.to_string()))
    }

    #[test]
    fn locked_secret_service_says_unlock_and_how() {
        let err = CredentialError::from_keyring(
            keyring_core::Error::NoStorageAccess(platform("collection is locked")),
            Backend::SecretService,
            "fly:default",
        );
        let msg = err.to_string();
        assert!(msg.contains("locked or refused access: unlock it"), "{msg}");
        assert!(msg.contains("gnome-keyring-daemon --unlock"), "{msg}");
        assert!(msg.contains("collection is locked"), "{msg}");
    }

    #[test]
    fn keyutils_access_denied_explains_the_session_keyring() {
        let err = CredentialError::from_keyring(
            keyring_core::Error::NoStorageAccess(platform("Access denied")),
            Backend::Keyutils,
            "fly:default",
        );
        let msg = err.to_string();
        assert!(msg.contains("session keyring"), "{msg}");
        assert!(msg.contains("keyctl session -"), "{msg}");
        assert!(msg.contains("gnome-keyring"), "{msg}");
    }

    #[test]
    fn bad_encoding_never_shows_the_bytes() {
        let err = CredentialError::from_keyring(
            keyring_core::Error::BadEncoding(b"hunter2\xff".to_vec()),
            Backend::Keyutils,
            "fly:default",
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("104, 117"), "{text}");
        assert!(text.contains("shipdeck auth set fly:default"), "{text}");
    }

    #[test]
    fn no_backend_names_every_fix_and_refuses_plaintext() {
        let err = CredentialError::NoBackend {
            tried: vec!["Secret Service: no D-Bus session".into()],
        };
        assert!(err.to_string().contains("gnome-keyring-daemon --unlock"));
        let msg = err.to_string();
        for needle in [
            "no D-Bus session",
            "never writes credentials to a plain file",
            "gnome-keyring",
            "keyctl session -",
            "SHIPDECK_FLY_TOKEN",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
    }

    #[test]
    fn platform_failure_and_ambiguity_say_what_to_check() {
        let err = CredentialError::from_keyring(
            keyring_core::Error::PlatformFailure(platform(
                "org.freedesktop.DBus.Error.ServiceUnknown",
            )),
            Backend::SecretService,
            "fly:default",
        );
        assert!(err.to_string().contains("is running in this D-Bus session"));
        let err = CredentialError::from_keyring(
            keyring_core::Error::Ambiguous(Vec::new()),
            Backend::SecretService,
            "fly:default",
        );
        assert!(
            err.to_string()
                .contains("secret-tool clear service shipdeck username fly:default")
        );
    }
}
