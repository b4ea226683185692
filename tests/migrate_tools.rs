//! Migrations owned by another tool, through the real binary: an alembic
//! project (revisions read from its files, the applied one from a real
//! SQLite `alembic_version` table, `up` running an `alembic` on PATH with
//! `DATABASE_URL` set), and a generic command-driven tool.

mod support {
    pub mod output;
}

use support::output::text;

use std::path::Path;
use std::process::{Command, Output};

fn shipdeck(home: &Path, path_dir: &Path, args: &[&str]) -> Output {
    let path = format!(
        "{}:{}",
        path_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("PATH", path)
        .output()
        .unwrap()
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// An alembic project with three revisions (a1 → b2 → c3), a database at
/// a1, and a stand-in `alembic` executable that moves `alembic_version` the
/// way `alembic upgrade head` would, printing alembic's log lines.
fn alembic_project(home: &Path) -> std::path::PathBuf {
    let project = home.join("backend");
    write(
        &project.join("alembic.ini"),
        "[alembic]\nscript_location = alembic\n",
    );
    for (rev, down, title) in [
        ("a1", "None", "create users"),
        ("b2", "'a1'", "add email"),
        ("c3", "'b2'", "add orders"),
    ] {
        write(
            &project.join(format!(
                "alembic/versions/{rev}_{}.py",
                title.replace(' ', "_")
            )),
            &format!(
                "\"\"\"{title}\n\nRevision ID: {rev}\n\"\"\"\nrevision: str = '{rev}'\ndown_revision = {down}\n"
            ),
        );
    }
    let db = project.join("app.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
         INSERT INTO alembic_version VALUES ('a1');",
    )
    .unwrap();
    let bin = home.join("bin");
    write(
        &bin.join("alembic"),
        r#"#!/usr/bin/env python3
import os, sqlite3, sys
url = os.environ["DATABASE_URL"]
assert url.startswith("sqlite:///"), url
db = sqlite3.connect(url[len("sqlite:///"):])
if sys.argv[1:] == ["upgrade", "head"]:
    for old, new in (("a1", "b2"), ("b2", "c3")):
        print(f"INFO  [alembic.runtime.migration] Running upgrade {old} -> {new}", flush=True)
    print("\x1b[31mdone\x1b[0m \x1b]0;pwned\x07", file=sys.stderr)
    db.execute("UPDATE alembic_version SET version_num = 'c3'")
    db.commit()
elif sys.argv[1:] == ["downgrade", "-1"]:
    print("INFO  [alembic.runtime.migration] Running downgrade c3 -> b2")
    db.execute("UPDATE alembic_version SET version_num = 'b2'")
    db.commit()
else:
    sys.exit(f"unexpected arguments {sys.argv[1:]}")
"#,
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("alembic"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(
        &home.join("shipdeck.toml"),
        &format!(
            "[[env]]\nname = \"dev\"\nprovider = \"vps\"\n\n[env.migrations]\ntool = \"alembic\"\ndir = \"{}\"\nsqlite = \"{}\"\n",
            project.display(),
            db.display()
        ),
    );
    bin
}

#[test]
fn alembic_status_up_and_down() {
    let home = tempfile::tempdir().unwrap();
    let bin = alembic_project(home.path());

    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tool"], "alembic");
    assert_eq!(v["revision"], "a1");
    assert_eq!(
        v["pending_revisions"],
        serde_json::json!([["b2", "add email"], ["c3", "add orders"]])
    );
    assert_eq!(v["total"], 3);

    // up runs alembic with DATABASE_URL; its lines stream to stderr, sanitised.
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "up"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("Running upgrade a1 -> b2"), "{shown}");
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown:?}"
    );
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "status"]);
    assert!(
        text(&out).contains("version c3 · 0 pending · 3 files · alembic"),
        "{}",
        text(&out)
    );

    // down 1 is alembic's downgrade -1, confirmed.
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "down", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["revision"], "b2");

    // Numeric operations say what to do instead.
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "goto", "3", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("alembic stamp REV"), "{}", text(&out));

    // Every operation is in the audit log.
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("migrate up") && audit.contains("migrate down 1"),
        "{audit}"
    );
}

#[test]
fn a_failing_tool_names_itself_and_its_last_lines() {
    let home = tempfile::tempdir().unwrap();
    let bin = alembic_project(home.path());
    // A broken alembic: the error carries its exit status and output.
    write(
        &bin.join("alembic"),
        "#!/bin/sh\necho 'sqlalchemy.exc.OperationalError: no such column: email' >&2\nexit 1\n",
    );
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "up"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`alembic upgrade head` exited with exit status: 1"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("no such column: email"),
        "{}",
        text(&out)
    );
}

#[test]
fn any_tool_through_up_down_and_current_commands() {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("app");
    write(&project.join("version.txt"), "6\n");
    write(
        &home.path().join("shipdeck.toml"),
        &format!(
            r#"[[env]]
name = "dev"
provider = "vps"

[env.migrations]
tool = "command"
dir = "{}"
current = "cat version.txt"
up = "echo applying 7; echo 7 > version.txt"
"#,
            project.display()
        ),
    );
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["tool"].as_str(), v["revision"].as_str()),
        (Some("command"), Some("6"))
    );

    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "up"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applying 7"), "{}", text(&out));
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["revision"], "7");

    // No down command configured: the error says how to add one.
    let out = shipdeck(home.path(), &bin, &["migrate", "dev", "down", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("has no `down` command"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_command_tool_without_its_commands_is_a_config_error() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join("shipdeck.toml"),
        "[[env]]\nname = \"dev\"\nprovider = \"vps\"\n\n[env.migrations]\ntool = \"command\"\ndir = \"app\"\nup = \"make migrate\"\n",
    );
    let out = shipdeck(home.path(), home.path(), &["check-config", "shipdeck.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("`current`"), "{}", text(&out));
}

#[test]
fn a_migration_command_sees_its_own_database_and_no_other_credential() {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("app");
    write(&project.join("version.txt"), "6\n");
    write(
        &home.path().join("shipdeck.toml"),
        &format!(
            r#"[[env]]
name = "dev"
provider = "vps"

[env.migrations]
tool = "command"
dir = "{dir}"
sqlite = "{dir}/app.db"
current = "cat version.txt"
up = "env > seen.txt; echo 7 > version.txt"
"#,
            dir = project.display()
        ),
    );
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // shipdeck's own environment holds other envs' credentials, as in CI.
    let out = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(["migrate", "dev", "up"])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("SHIPDECK_STATE_DIR", home.path().join("state"))
        .env("PATH", path)
        .env(
            "SHIPDECK_DB_PRODUCTION_URL",
            "postgres://prod:pw-prod-only@db/prod",
        )
        .env("SHIPDECK_FLY_TOKEN", "fm2_foreignTOKENvalue")
        .env("FLY_API_TOKEN", "fm2_otherTOKENvalue")
        .env("DATABASE_URL", "postgres://shell:pw-shell@db/other")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let seen = std::fs::read_to_string(project.join("seen.txt")).unwrap();
    for foreign in [
        "pw-prod-only",
        "fm2_foreignTOKENvalue",
        "fm2_otherTOKENvalue",
        "pw-shell",
    ] {
        assert!(!seen.contains(foreign), "the child saw {foreign}:\n{seen}");
    }
    assert!(
        seen.contains("DATABASE_URL=sqlite:///"),
        "its own database:\n{seen}"
    );
    assert!(seen.contains("SHIPDECK_ENV=dev"), "{seen}");
    assert!(
        seen.lines().any(|l| l.starts_with("PATH=")),
        "the rest passes: {seen}"
    );
}
