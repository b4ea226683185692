//! Applying 200 small migrations with shipdeck's runners, against the same SQL
//! through `sqlite3` and `psql -f` in the same run. Run: `cargo bench --bench migrations`.
//! (The Postgres half starts a real server with the test harness: initdb and
//! pg_ctl must be installed.)

#[path = "../tests/support/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use shipdeck::migrate::files::discover;
use shipdeck::migrate::postgres::{DEFAULT_LOCK_TIMEOUT, Postgres};
use shipdeck::migrate::sqlite::Sqlite;

const COUNT: usize = 200;

fn write_migrations(dir: &Path) -> String {
    let mut all = String::new();
    for i in 1..=COUNT {
        let up = format!(
            "CREATE TABLE t_{i} (id BIGINT PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\nINSERT INTO t_{i} (id, name) VALUES ({i}, 'row {i}');\n"
        );
        std::fs::write(dir.join(format!("{i:06}_table_{i}.up.sql")), &up).unwrap();
        std::fs::write(
            dir.join(format!("{i:06}_table_{i}.down.sql")),
            format!("DROP TABLE t_{i};\n"),
        )
        .unwrap();
        all.push_str(&up);
    }
    all
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("migrations");
    std::fs::create_dir(&files).unwrap();
    let all = write_migrations(&files);
    let script = dir.path().join("all.sql");
    std::fs::write(&script, &all).unwrap();
    let migrations = discover(&files).unwrap();

    // SQLite: shipdeck (one transaction per file + version bookkeeping, as golang-migrate) vs sqlite3 on the whole script.
    let db = dir.path().join("shipdeck.db");
    let t = Instant::now();
    let mut sqlite = Sqlite::open(&db).unwrap();
    sqlite.up(&migrations, None).unwrap();
    let ours = t.elapsed().as_secs_f64();
    let baseline_db = dir.path().join("baseline.db");
    let t = Instant::now();
    let status = Command::new("sqlite3")
        .arg(&baseline_db)
        .arg(format!(".read {}", script.display()))
        .status()
        .unwrap();
    let theirs = t.elapsed().as_secs_f64();
    assert!(status.success());
    println!(
        "SQLite, {COUNT} migrations: shipdeck {:.3} s, sqlite3 {:.3} s, ratio {:.2}",
        ours,
        theirs,
        ours / theirs
    );

    // Postgres: shipdeck (advisory lock, dirty marking, one batch per file) vs psql -f.
    let server = pg::PgServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ours = rt.block_on(async {
        let t = Instant::now();
        let mut db = Postgres::connect(&server.url, DEFAULT_LOCK_TIMEOUT)
            .await
            .unwrap();
        db.up(&migrations, None).await.unwrap();
        t.elapsed().as_secs_f64()
    });
    let baseline_url = format!(
        "{}/baseline",
        server
            .url
            .rsplit_once('/')
            .map_or(server.url.as_str(), |(base, _)| base)
    );
    let created = Command::new("psql")
        .args([server.url.as_str(), "-q", "-c", "CREATE DATABASE baseline"])
        .status()
        .unwrap();
    assert!(created.success());
    let t = Instant::now();
    let status = Command::new("psql")
        .args([baseline_url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&script)
        .status()
        .unwrap();
    let theirs = t.elapsed().as_secs_f64();
    assert!(status.success());
    println!(
        "Postgres, {COUNT} migrations: shipdeck {:.3} s, psql -f {:.3} s, ratio {:.2}",
        ours,
        theirs,
        ours / theirs
    );
}
