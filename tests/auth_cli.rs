//! `shipdeck auth` through the real binary against the real kernel keyring
//! (each test joins a fresh session keyring, which the child inherits), and a
//! Postgres URL from the keyring used by `migrate` and `auth test db:ENV`.
//! The stored value must never show up in a file, in argv or in the audit log.

mod support {
    pub mod output;
    pub mod pg;
}

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::output::text;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

fn join_fresh_session_keyring() {
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no pointer besides the
    // null name and only changes this thread's credentials (inherited by children).
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    assert!(id >= 0, "keyctl: {}", std::io::Error::last_os_error());
}

fn shipdeck(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("SHIPDECK_FLY_TOKEN")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Every file under `dir` (recursively) that contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn auth_set_keeps_the_token_out_of_files_argv_and_audit() {
    join_fresh_session_keyring();
    let home = tempfile::tempdir().unwrap();
    let token = "fm2_lr4nd0mT0kenValue_9f8e7d6c5b4a";
    let _cleanup = RemoveOnDrop {
        home: home.path(),
        key: "fly".into(),
    };

    // While `auth set` waits for stdin, its argv is on /proc: the token is not there.
    let mut child = shipdeck(home.path(), &["auth", "set", "fly"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(token));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stored fly:default in kernel keyring"));
    assert!(!text(&out).contains(token));

    // list: the name, where it lives and its age; never the value.
    let out = shipdeck(home.path(), &["auth", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["credentials"][0]["key"], "fly:default");
    assert_eq!(v["credentials"][0]["present"], true);
    assert!(!text(&out).contains(token));

    // Nothing under HOME / XDG / state holds it; the audit log has the action.
    assert_eq!(files_containing(home.path(), token), Vec::<String>::new());
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("auth.set") && audit.contains("fly:default"),
        "{audit}"
    );

    // The env var override wins and is reported as such.
    let out = shipdeck(home.path(), &["auth", "list"])
        .env("SHIPDECK_FLY_TOKEN", "from-the-environment-123")
        .output()
        .unwrap();
    assert!(text(&out).contains("env var"), "{}", text(&out));
    assert!(!text(&out).contains("from-the-environment-123"));

    // remove, then remove again: the second says it is not there.
    let out = shipdeck(home.path(), &["auth", "remove", "fly"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = shipdeck(home.path(), &["auth", "remove", "fly"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is not in"), "{}", text(&out));
}

#[test]
fn bad_names_and_empty_values_name_the_fix() {
    join_fresh_session_keyring();
    let home = tempfile::tempdir().unwrap();
    let out = run_with_stdin(shipdeck(home.path(), &["auth", "set", "flyy"]), "x");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("PROVIDER:ACCOUNT or db:ENV"),
        "{}",
        text(&out)
    );
    let out = run_with_stdin(shipdeck(home.path(), &["auth", "set", "fly"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no value on stdin"), "{}", text(&out));
    // The kernel's persistent keyring is shared by every process of this
    // user: names unique to this run keep parallel tests (and earlier runs) apart.
    let key = format!("db:none-{}", std::process::id());
    let out = shipdeck(home.path(), &["auth", "test", &key])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(&format!("shipdeck auth set {key}")),
        "{}",
        text(&out)
    );
}

/// Removes a keyring entry when the test ends, pass or fail.
struct RemoveOnDrop<'a> {
    home: &'a Path,
    key: String,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = shipdeck(self.home, &["auth", "remove", &self.key]).output();
    }
}

#[test]
fn a_postgres_url_in_the_keyring_drives_migrate_and_auth_test() {
    join_fresh_session_keyring();
    let pg = support::pg::PgServer::start();
    let home = tempfile::tempdir().unwrap();
    let env = format!("pg{}", std::process::id());
    let key = format!("db:{env}");
    let _cleanup = RemoveOnDrop {
        home: home.path(),
        key: key.clone(),
    };
    let migrations = home.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("000001_create_users.up.sql"),
        "CREATE TABLE users (id bigserial primary key);",
    )
    .unwrap();
    std::fs::write(
        migrations.join("000001_create_users.down.sql"),
        "DROP TABLE users;",
    )
    .unwrap();
    std::fs::write(
        home.path().join("shipdeck.toml"),
        format!(
            "[[env]]\nname = \"{env}\"\nprovider = \"vps\"\n\n[env.migrations]\ndir = \"{}\"\n",
            migrations.display()
        ),
    )
    .unwrap();

    // Without a URL anywhere: the error says where to put it.
    let out = shipdeck(home.path(), &["migrate", &env, "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(&format!("shipdeck auth set {key}")),
        "{}",
        text(&out)
    );

    // `auth list` names what the config needs and how to provide it.
    let out = shipdeck(home.path(), &["auth", "list"]).output().unwrap();
    assert!(
        text(&out).contains(&format!("needed by env `{env}`: database URL `{key}`")),
        "{}",
        text(&out)
    );

    let out = run_with_stdin(shipdeck(home.path(), &["auth", "set", &key]), &pg.url);
    assert!(out.status.success(), "{}", text(&out));

    let out = shipdeck(home.path(), &["auth", "test", &key])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("authenticated as"), "{}", text(&out));
    assert!(!text(&out).contains(&pg.url), "{}", text(&out));

    let out = shipdeck(home.path(), &["migrate", &env, "up", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = shipdeck(home.path(), &["migrate", &env, "status", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["current"], 1);
    assert_eq!(files_containing(home.path(), &pg.url), Vec::<String>::new());
}
