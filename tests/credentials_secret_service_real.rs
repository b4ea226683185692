//! The credential store against a real Secret Service (gnome-keyring).
//!
//! The test needs a D-Bus session with an unlocked gnome-keyring, so it
//! re-executes itself inside a private one:
//!
//! ```text
//! dbus-run-session -- sh -c 'printf %s pw | gnome-keyring-daemon --unlock \
//!     --components=secrets >/dev/null; exec "$@"' sh <this test binary> \
//!     --exact <test name> --nocapture
//! ```
//!
//! with `HOME`, `XDG_DATA_HOME` and `XDG_RUNTIME_DIR` pointing into a temp
//! dir, so a developer's own login keyring is never touched. If
//! `dbus-run-session` or `gnome-keyring-daemon` is missing the test FAILS and
//! says what to install (Debian: `dbus-daemon`, `gnome-keyring`).

#![cfg(target_os = "linux")]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyring_core::{CredentialStore, Entry};
use shipdeck::credentials::{Backend, CredentialKey, Credentials, EnvSource};
use shipdeck::domain::CredentialSource;
use shipdeck::secrets::SecretValue;

/// Set in the re-executed child, which runs the real checks.
const INNER_MARKER: &str = "SHIPDECK_SECRET_SERVICE_TEST_INNER";
/// Printed by the child when every check passed.
const DONE_MARKER: &str = "secret-service-round-trip: all checks passed";
const CHILD_LIMIT: Duration = Duration::from_secs(180);

#[test]
fn secret_service_round_trip() {
    if std::env::var_os(INNER_MARKER).is_some() {
        inner_round_trip();
        println!("{DONE_MARKER}");
    } else {
        run_inside_private_session("secret_service_round_trip");
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn run_inside_private_session(test_name: &str) {
    let missing: Vec<&str> = [
        ("dbus-run-session", "dbus-daemon"),
        ("gnome-keyring-daemon", "gnome-keyring"),
    ]
    .into_iter()
    .filter(|(program, _)| find_in_path(program).is_none())
    .map(|(_, package)| package)
    .collect();
    assert!(
        missing.is_empty(),
        "the Secret Service test needs dbus-run-session and gnome-keyring-daemon; install \
         them: `apt-get install -y --no-install-recommends {}` (scripts/test.sh does this)",
        missing.join(" ")
    );
    let dbus_run_session = find_in_path("dbus-run-session").unwrap();
    let me = std::env::current_exe().expect("path of the test binary");
    let home = tempfile::tempdir().expect("temp home");
    let runtime_dir = home.path().join("run");
    std::fs::create_dir(&runtime_dir).unwrap();
    std::fs::set_permissions(
        &runtime_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();

    let script = "printf %s pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
                  exec \"$@\"";
    let mut child = Command::new(dbus_run_session)
        .args(["--", "sh", "-c", script, "sh"])
        .arg(&me)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(INNER_MARKER, "1")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SHIPDECK_KEYRING")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dbus-run-session");

    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break Some(status);
        }
        if started.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    println!("--- inner stdout ---\n{out}\n--- inner stderr ---\n{err}");
    let status = status.unwrap_or_else(|| panic!("inner run took longer than {CHILD_LIMIT:?}"));
    assert!(status.success(), "inner run failed: {status}");
    assert!(
        out.contains(DONE_MARKER),
        "inner run did not reach the end of the checks"
    );
    drop(home);
}

fn value(s: &str) -> SecretValue {
    SecretValue::new(s.to_string())
}

/// Read through a brand-new zbus store and Entry (on a plain thread, as
/// zbus's blocking API requires), bypassing shipdeck's code.
fn read_directly(key: &CredentialKey) -> Option<String> {
    let user = key.to_string();
    std::thread::spawn(move || {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new().unwrap();
        let entry = Entry::new_in_store(&store, "shipdeck", &user).unwrap();
        match entry.get_password() {
            Ok(v) => Some(v),
            Err(keyring_core::Error::NoEntry) => None,
            Err(e) => panic!("direct read failed: {e}"),
        }
    })
    .join()
    .expect("direct read thread")
}

fn inner_round_trip() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "dbus-run-session did not provide a bus"
    );
    let dir = tempfile::tempdir().unwrap();

    // Automatic selection prefers the Secret Service when it answers.
    let auto = Credentials::open(dir.path()).expect("auto selection");
    assert_eq!(
        auto.backend(),
        Backend::SecretService,
        "auto picked {}",
        auto.backend()
    );
    assert!(auto.backend().persistence_notice().is_none());

    let forced_env = || {
        EnvSource::from_pairs([
            ("SHIPDECK_KEYRING".to_string(), "secret-service".to_string()),
            (
                "DBUS_SESSION_BUS_ADDRESS".to_string(),
                std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap(),
            ),
        ])
    };
    let writer = Credentials::open_with_env(dir.path(), forced_env()).unwrap();
    let reader = Credentials::open_with_env(dir.path(), forced_env()).unwrap();
    assert_eq!(writer.backend(), Backend::SecretService);

    let key = CredentialKey::parse("fly:ss-test").unwrap();
    let missing = CredentialKey::parse("db:never-set").unwrap();
    assert!(writer.get(&key).unwrap().is_none());
    assert!(writer.get(&missing).unwrap().is_none());
    assert!(!writer.remove(&missing).unwrap());

    writer.set(&key, &value("ss-value-1")).unwrap();
    let got = reader
        .get(&key)
        .unwrap()
        .expect("read through another handle");
    assert_eq!(got.value.expose(), "ss-value-1");
    assert_eq!(got.source, CredentialSource::Keyring);
    assert_eq!(got.origin, "Secret Service");
    assert_eq!(read_directly(&key).as_deref(), Some("ss-value-1"));

    writer.set(&key, &value("ss-value-2")).unwrap();
    assert_eq!(
        reader.get(&key).unwrap().unwrap().value.expose(),
        "ss-value-2"
    );
    assert_eq!(read_directly(&key).as_deref(), Some("ss-value-2"));

    let listed = reader.list().unwrap();
    let row = listed.iter().find(|i| i.key == key).expect("listed");
    assert!(row.present && row.source == CredentialSource::Keyring);
    let index = std::fs::read_to_string(reader.index_path()).unwrap();
    assert!(!index.contains("ss-value"), "{index}");

    assert!(reader.remove(&key).unwrap());
    assert!(writer.get(&key).unwrap().is_none());
    assert_eq!(read_directly(&key), None);
    assert!(!writer.remove(&key).unwrap());

    from_inside_tokio(dir.path(), forced_env);
}

/// The app calls the store from a multi-thread tokio runtime: both the
/// `*_async` wrappers and (blocking, but safe) sync calls made directly on a
/// runtime worker must work and must not deadlock or panic.
fn from_inside_tokio(dir: &Path, env: impl Fn() -> EnvSource) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = dir.to_path_buf();
    let env = env();
    runtime.block_on(async move {
        let work = async {
            let creds = Credentials::open_with_env(&dir, env).unwrap(); // sync, on a worker
            let key = CredentialKey::parse("render:in-tokio").unwrap();
            creds.set_async(&key, &value("tokio-1")).await.unwrap();
            let got = creds.get_async(&key).await.unwrap().unwrap();
            assert_eq!(got.value.expose(), "tokio-1");
            // A sync call straight from async code: blocks this worker, but works.
            creds.set(&key, &value("tokio-2")).unwrap();
            assert_eq!(creds.get(&key).unwrap().unwrap().value.expose(), "tokio-2");
            // Several tasks at once share the store safely.
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let creds = creds.clone();
                    let key = key.clone();
                    tokio::spawn(async move { creds.get_async(&key).await })
                })
                .collect();
            for task in tasks {
                let got = task.await.unwrap().unwrap().unwrap();
                assert_eq!(got.value.expose(), "tokio-2");
            }
            assert!(
                creds
                    .list_async()
                    .await
                    .unwrap()
                    .iter()
                    .any(|i| i.key == key && i.present)
            );
            assert!(creds.remove_async(&key).await.unwrap());
            assert!(creds.get_async(&key).await.unwrap().is_none());
        };
        tokio::time::timeout(Duration::from_secs(60), work)
            .await
            .expect("Secret Service calls from tokio finished in time");
    });
}
