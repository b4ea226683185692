//! The credential store against the real Linux kernel keyring (keyutils).
//!
//! Each test first joins a fresh anonymous session keyring
//! (`KEYCTL_JOIN_SESSION_KEYRING` with a NULL name), because the session
//! keyring a process inherits may refuse access (`EACCES`) under CI, sudo or
//! containers. Session keyrings are per thread, so every keyring call here
//! stays on the test's own thread (keyutils calls run inline). Keys are also
//! linked into the user's persistent keyring, so every test deletes what it
//! wrote, even when it fails.

#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use shipdeck::credentials::{Backend, CredentialKey, Credentials, EnvSource, INDEX_FILE_NAME};
use shipdeck::domain::CredentialSource;
use shipdeck::secrets::SecretValue;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

fn join_fresh_session_keyring() {
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no pointers besides
    // the (null) name and only changes this thread's credentials.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    assert!(
        id >= 0,
        "could not join a new session keyring: {}",
        std::io::Error::last_os_error()
    );
}

fn open_keyutils(dir: &std::path::Path) -> Credentials {
    let env = EnvSource::from_pairs([("SHIPDECK_KEYRING", "keyutils")]);
    let creds = Credentials::open_with_env(dir, env).expect("keyutils store opens");
    assert_eq!(creds.backend(), Backend::Keyutils);
    creds
}

/// A key unique to this run and test, removed from the kernel on drop.
struct TestKey {
    key: CredentialKey,
}

impl TestKey {
    fn new(tag: &str) -> TestKey {
        let key = CredentialKey::parse(&format!("vps:test-{tag}-{}", std::process::id()))
            .expect("valid key");
        TestKey { key }
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        if let Ok(store) = linux_keyutils_keyring_store::Store::new() {
            let store: Arc<CredentialStore> = store;
            if let Ok(entry) = Entry::new_in_store(&store, "shipdeck", &self.key.to_string()) {
                let _ = entry.delete_credential();
            }
        }
    }
}

/// Read the entry through a brand-new keyutils store and Entry, bypassing
/// shipdeck's code, to prove the value really is in the kernel.
fn read_directly(key: &CredentialKey) -> Option<String> {
    let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new().unwrap();
    let entry = Entry::new_in_store(&store, "shipdeck", &key.to_string()).unwrap();
    match entry.get_password() {
        Ok(v) => Some(v),
        Err(keyring_core::Error::NoEntry) => None,
        Err(e) => panic!("direct read failed: {e}"),
    }
}

fn value(s: &str) -> SecretValue {
    SecretValue::new(s.to_string())
}

#[test]
fn set_get_overwrite_delete_in_the_kernel_keyring() {
    join_fresh_session_keyring();
    let dir = tempfile::tempdir().unwrap();
    let test_key = TestKey::new("roundtrip");
    let key = &test_key.key;

    let writer = open_keyutils(dir.path());
    assert!(
        writer.get(key).unwrap().is_none(),
        "fresh key must be absent"
    );
    writer.set(key, &value("kernel-v1")).unwrap();

    // A second handle (new store, new Entry) sees it, and so does keyutils itself.
    let reader = open_keyutils(dir.path());
    let got = reader
        .get(key)
        .unwrap()
        .expect("value written by another handle");
    assert_eq!(got.value.expose(), "kernel-v1");
    assert_eq!(got.source, CredentialSource::Keyring);
    assert_eq!(got.origin, "kernel keyring (keyutils)");
    assert_eq!(read_directly(key).as_deref(), Some("kernel-v1"));

    writer.set(key, &value("kernel-v2")).unwrap();
    assert_eq!(
        reader.get(key).unwrap().unwrap().value.expose(),
        "kernel-v2"
    );

    let listed = reader.list().unwrap();
    let row = listed.iter().find(|i| i.key == *key).expect("listed");
    assert!(row.present);
    assert_eq!(row.source, CredentialSource::Keyring);
    assert!(row.set_at.is_some());

    assert!(reader.remove(key).unwrap(), "remove of a present entry");
    assert!(writer.get(key).unwrap().is_none(), "gone after remove");
    assert_eq!(read_directly(key), None);
    assert!(!writer.remove(key).unwrap(), "remove of an absent entry");
    assert!(reader.list().unwrap().iter().all(|i| i.key != *key));
}

#[test]
fn missing_entries_are_none_not_errors() {
    join_fresh_session_keyring();
    let dir = tempfile::tempdir().unwrap();
    let creds = open_keyutils(dir.path());
    let test_key = TestKey::new("never-set");
    assert!(creds.get(&test_key.key).unwrap().is_none());
    assert!(!creds.remove(&test_key.key).unwrap());
    let db = CredentialKey::parse(&format!("db:never-{}", std::process::id())).unwrap();
    assert!(creds.get(&db).unwrap().is_none());
}

#[test]
fn index_file_holds_names_only_and_is_private() {
    join_fresh_session_keyring();
    let dir = tempfile::tempdir().unwrap();
    let creds = open_keyutils(dir.path());
    let test_key = TestKey::new("index");
    let secret = "sk-index-check-9f8e7d6c";
    creds.set(&test_key.key, &value(secret)).unwrap();

    let path = dir.path().join(INDEX_FILE_NAME);
    assert_eq!(creds.index_path(), path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(secret),
        "index must not hold the value: {text}"
    );
    assert!(!text.contains("9f8e7d6c"), "not even part of it: {text}");
    assert!(text.contains(&test_key.key.to_string()), "{text}");
    assert!(text.contains("\"keyutils\""), "{text}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "index mode is {mode:o}");

    // Overwriting keeps it private and value-free.
    creds
        .set(&test_key.key, &value("second-secret-value"))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("second-secret-value"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(creds.remove(&test_key.key).unwrap());
}

#[test]
fn environment_variable_beats_the_kernel_keyring() {
    join_fresh_session_keyring();
    let dir = tempfile::tempdir().unwrap();
    let test_key = TestKey::new("env");
    let var = shipdeck::credentials::env_var_name(&test_key.key);
    let creds = Credentials::open_with_env(
        dir.path(),
        EnvSource::from_pairs([("SHIPDECK_KEYRING", "keyutils"), (var.as_str(), "from-ci")]),
    )
    .unwrap();
    creds.set(&test_key.key, &value("from-keyring")).unwrap();
    let got = creds.get(&test_key.key).unwrap().unwrap();
    assert_eq!(got.value.expose(), "from-ci");
    assert_eq!(got.source, CredentialSource::Environment);
    assert_eq!(got.origin, format!("environment variable {var}"));
    assert_eq!(
        read_directly(&test_key.key).as_deref(),
        Some("from-keyring")
    );
    assert!(creds.remove(&test_key.key).unwrap());
}
