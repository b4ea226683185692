//! `shipdeck migrate` against a real Postgres through the config's
//! `database_url_env`: the URL comes from the environment, never the file,
//! and never appears in output.

mod support {
    pub mod pg;
}

use std::process::Command;
use support::pg::PgServer;

#[test]
fn migrate_status_and_up_through_database_url_env() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("000001_create_users.up.sql"),
        "CREATE TABLE users (id bigserial primary key, email text not null);",
    )
    .unwrap();
    std::fs::write(
        migrations.join("000001_create_users.down.sql"),
        "DROP TABLE users;",
    )
    .unwrap();
    std::fs::write(
        migrations.join("000002_users_email_index.up.sql"),
        "CREATE INDEX CONCURRENTLY users_email ON users (email);",
    )
    .unwrap();
    std::fs::write(
        migrations.join("000002_users_email_index.down.sql"),
        "DROP INDEX users_email;",
    )
    .unwrap();
    let config = format!(
        "[[env]]\nname = \"pg\"\nprovider = \"vps\"\n\n[env.migrations]\ndir = \"{}\"\ndatabase_url_env = \"SHIPDECK_TEST_PG_URL\"\n",
        migrations.display()
    );
    std::fs::write(dir.path().join("shipdeck.toml"), config).unwrap();
    let run = |args: &[&str], url: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
        cmd.args(args)
            .current_dir(dir.path())
            .env("SHIPDECK_STATE_DIR", dir.path())
            .env("XDG_CONFIG_HOME", dir.path());
        match url {
            Some(u) => cmd.env("SHIPDECK_TEST_PG_URL", u),
            None => cmd.env_remove("SHIPDECK_TEST_PG_URL"),
        };
        cmd.output().unwrap()
    };

    let out = run(&["migrate", "pg", "status"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("$SHIPDECK_TEST_PG_URL is not set"));

    let out = run(&["migrate", "pg", "status", "--json"], Some(&pg.url));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["current"], serde_json::Value::Null);
    assert_eq!(v["pending"].as_array().unwrap().len(), 2);
    assert!(
        v["findings"].as_array().unwrap().is_empty(),
        "CONCURRENTLY on Postgres is not flagged"
    );

    let out = run(&["migrate", "pg", "up"], Some(&pg.url));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied 1, 2; version 2"));

    // A password in the URL never reaches the output, even on failure.
    let bad = "postgres://postgres:s3cr3t-pw@127.0.0.1:1/postgres";
    let out = run(&["migrate", "pg", "status"], Some(bad));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(!all.contains("s3cr3t-pw"), "{all}");
}
