//! The Postgres migration runner against a real, throwaway Postgres server.

mod support {
    pub mod pg;
}

use std::path::Path;
use std::time::Duration;

use shipdeck::migrate::files::{Migration, discover};
use shipdeck::migrate::postgres::{PgError, Postgres};
use support::pg::PgServer;
use tempfile::TempDir;

const LOCK: Duration = Duration::from_secs(15);

fn write_dir(files: &[(&str, &str)]) -> TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    d
}

fn migrations(dir: &Path) -> Vec<Migration> {
    discover(dir).unwrap()
}

fn three() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "000001_users.up.sql",
            "CREATE TABLE users (id int PRIMARY KEY);",
        ),
        ("000001_users.down.sql", "DROP TABLE users;"),
        (
            "000002_posts.up.sql",
            "CREATE TABLE posts (id int);\nCREATE INDEX posts_id ON posts (id);",
        ),
        ("000002_posts.down.sql", "DROP TABLE posts;"),
        ("000003_tags.up.sql", "CREATE TABLE tags (id int);"),
        ("000003_tags.down.sql", "DROP TABLE tags;"),
    ]
}

/// A separate plain client for looking at the database.
async fn peek(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

async fn tables(c: &tokio_postgres::Client) -> Vec<String> {
    c.query(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> 'schema_migrations' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn rows(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_goto_and_status() {
    let pg = PgServer::start();
    let dir = write_dir(&three());
    let ms = migrations(dir.path());
    let mut db = Postgres::connect(&pg.url, LOCK).await.unwrap();
    let c = peek(&pg.url).await;

    // golang-migrate's exact table shape.
    let cols: Vec<(String, String, String)> = c
        .query(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_name = 'schema_migrations' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        cols,
        vec![
            ("version".into(), "bigint".into(), "NO".into()),
            ("dirty".into(), "boolean".into(), "NO".into())
        ]
    );

    assert_eq!(db.version().await.unwrap(), (None, false));
    let st = db.status(&ms).await.unwrap();
    assert_eq!(st.pending.len(), 3);
    assert_eq!(db.up(&ms, Some(1)).await.unwrap(), vec![1]);
    assert_eq!(db.version().await.unwrap(), (Some(1), false));
    assert_eq!(db.up(&ms, None).await.unwrap(), vec![2, 3]);
    assert_eq!(db.up(&ms, None).await.unwrap(), Vec::<u64>::new());
    assert_eq!(tables(&c).await, vec!["posts", "tags", "users"]);
    assert_eq!(rows(&c).await, 1);

    assert_eq!(db.down(&ms, 2).await.unwrap(), vec![3, 2]);
    assert_eq!(db.version().await.unwrap(), (Some(1), false));
    assert_eq!(tables(&c).await, vec!["users"]);

    db.goto(&ms, 3).await.unwrap();
    assert_eq!(db.version().await.unwrap(), (Some(3), false));
    db.goto(&ms, 1).await.unwrap();
    assert_eq!(db.version().await.unwrap(), (Some(1), false));
    assert_eq!(tables(&c).await, vec!["users"]);
    assert!(matches!(
        db.goto(&ms, 7).await,
        Err(PgError::NoSuchVersion { version: 7 })
    ));

    assert_eq!(db.down(&ms, 5).await.unwrap(), vec![1]);
    assert_eq!(db.version().await.unwrap(), (None, false));
    assert_eq!(rows(&c).await, 0);
    assert!(tables(&c).await.is_empty());

    // The lock is released after every operation.
    let free: bool = c
        .query_one(
            &format!("SELECT pg_try_advisory_lock({})", db.lock_id()),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(free);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_migration_leaves_dirty_and_force_clears_it() {
    let pg = PgServer::start();
    let mut files = three();
    files.push((
        "000004_bad.up.sql",
        "CREATE TABLE good (id int);\n-- oops\nCREAT TABLE bad (id int);\nCREATE TABLE never (id int);",
    ));
    files.push(("000004_bad.down.sql", "DROP TABLE good;"));
    let dir = write_dir(&files);
    let ms = migrations(dir.path());
    let mut db = Postgres::connect(&pg.url, LOCK).await.unwrap();
    let c = peek(&pg.url).await;

    let err = db.up(&ms, None).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PgError::Failed { version: 4, .. }), "{err:?}");
    assert!(msg.contains("000004_bad.up.sql"), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");
    assert!(
        msg.contains("in statement: CREAT TABLE bad (id int);"),
        "{msg}"
    );
    assert_eq!(db.version().await.unwrap(), (Some(4), true));
    // The whole file was one implicit transaction: nothing of it stayed.
    assert_eq!(tables(&c).await, vec!["posts", "tags", "users"]);

    let st = db.status(&ms).await.unwrap();
    assert!(st.dirty);
    // The failure and the refusal after it say the same, right thing:
    // nothing of the file stayed, so `force 3`.
    assert!(msg.contains("`shipdeck migrate ENV force 3`"), "{msg}");
    let e = db.up(&ms, None).await.unwrap_err();
    assert!(matches!(
        e,
        PgError::Dirty {
            version: 4,
            previous: Some(3)
        }
    ));
    assert!(
        e.to_string().contains("`shipdeck migrate ENV force 3`"),
        "{e}"
    );
    assert!(matches!(db.down(&ms, 1).await, Err(PgError::Dirty { .. })));
    assert!(matches!(db.goto(&ms, 1).await, Err(PgError::Dirty { .. })));

    db.force(Some(3)).await.unwrap();
    assert_eq!(db.version().await.unwrap(), (Some(3), false));
    assert_eq!(rows(&c).await, 1);
    db.force(None).await.unwrap();
    assert_eq!(db.version().await.unwrap(), (None, false));
    assert_eq!(rows(&c).await, 0);
    assert!(matches!(
        db.force(Some(u64::MAX)).await,
        Err(PgError::VersionTooLarge { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_error_without_position_names_file() {
    let pg = PgServer::start();
    let dir = write_dir(&[
        (
            "1_t.up.sql",
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (1);",
        ),
        ("1_t.down.sql", "DROP TABLE t;"),
    ]);
    let ms = migrations(dir.path());
    let mut db = Postgres::connect(&pg.url, LOCK).await.unwrap();
    let msg = db.up(&ms, None).await.unwrap_err().to_string();
    assert!(
        msg.contains("1_t.up.sql") && msg.contains("duplicate key"),
        "{msg}"
    );
    assert_eq!(db.version().await.unwrap(), (Some(1), true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_index_concurrently_in_its_own_file() {
    let pg = PgServer::start();
    let dir = write_dir(&[
        (
            "1_t.up.sql",
            "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 100);",
        ),
        ("1_t.down.sql", "DROP TABLE t;"),
        (
            "2_idx.up.sql",
            "-- must not run in a transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n",
        ),
        ("2_idx.down.sql", "DROP INDEX CONCURRENTLY t_id;"),
        ("3_empty.up.sql", ""),
        ("3_empty.down.sql", "-- nothing\n"),
    ]);
    let ms = migrations(dir.path());
    let mut db = Postgres::connect(&pg.url, LOCK).await.unwrap();
    assert_eq!(db.up(&ms, None).await.unwrap(), vec![1, 2, 3]);
    let c = peek(&pg.url).await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 't_id'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(db.down(&ms, 2).await.unwrap(), vec![3, 2]);
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 't_id'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    assert_eq!(db.version().await.unwrap(), (Some(1), false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_runner_times_out_on_the_lock() {
    let pg = PgServer::start();
    let dir = write_dir(&three());
    let ms = migrations(dir.path());
    let mut b = Postgres::connect(&pg.url, Duration::from_secs(1))
        .await
        .unwrap();

    // Runner A: golang-migrate's key for public.schema_migrations in database "postgres".
    let id = crc32fast::hash(b"public\x00schema_migrations\x00postgres").wrapping_mul(1486364155);
    assert_eq!(b.lock_id(), id);
    let a = peek(&pg.url).await;
    a.batch_execute(&format!("SELECT pg_advisory_lock({id})"))
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let err = b.up(&ms, None).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, PgError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("another migration holds the lock"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let forced = b.force(Some(1)).await;
    assert!(
        matches!(forced, Err(PgError::Locked { .. })),
        "force while A holds the lock: {forced:?}"
    );
    // A new runner cannot even create the table while the lock is held.
    assert!(matches!(
        Postgres::connect(&pg.url, Duration::from_millis(300)).await,
        Err(PgError::Locked { .. })
    ));
    // B's connection is still usable and nothing ran.
    assert_eq!(b.version().await.unwrap(), (None, false));

    a.batch_execute(&format!("SELECT pg_advisory_unlock({id})"))
        .await
        .unwrap();
    assert_eq!(b.up(&ms, None).await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continues_a_golang_migrate_database() {
    let pg = PgServer::start();
    let c = peek(&pg.url).await;
    // What golang-migrate's postgres driver leaves after `migrate up 2`.
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS \"public\".\"schema_migrations\" (version bigint not null primary key, dirty boolean not null);
         CREATE TABLE users (id int PRIMARY KEY);
         CREATE TABLE posts (id int);
         CREATE INDEX posts_id ON posts (id);
         BEGIN; TRUNCATE \"public\".\"schema_migrations\"; INSERT INTO \"public\".\"schema_migrations\" (version, dirty) VALUES (2, false); COMMIT;",
    )
    .await
    .unwrap();
    let dir = write_dir(&three());
    let ms = migrations(dir.path());
    let mut db = Postgres::connect(&pg.url, LOCK).await.unwrap();
    assert_eq!(db.version().await.unwrap(), (Some(2), false));
    let st = db.status(&ms).await.unwrap();
    assert_eq!(st.pending, vec![(3, "tags".to_string())]);
    assert!(st.missing.is_empty());
    assert_eq!(db.up(&ms, None).await.unwrap(), vec![3]);
    assert_eq!(db.version().await.unwrap(), (Some(3), false));
    assert_eq!(tables(&c).await, vec!["posts", "tags", "users"]);
    assert_eq!(rows(&c).await, 1);

    // A dirty row and NilVersion (-1) written by golang-migrate are understood.
    c.batch_execute("TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (2, true);")
        .await
        .unwrap();
    assert!(matches!(
        db.up(&ms, None).await,
        Err(PgError::Dirty { version: 2, .. })
    ));
    c.batch_execute("TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (-1, true);")
        .await
        .unwrap();
    assert_eq!(db.version().await.unwrap(), (None, true));
}

#[tokio::test]
async fn errors_never_show_the_password() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://app:hunter2secret@127.0.0.1:{port}/shipdeck");
    let err = Postgres::connect(&url, LOCK).await.unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(matches!(err, PgError::Connect { .. }), "{shown}");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    assert!(err.to_string().contains("app:***@127.0.0.1"), "{err}");

    let tls = format!("postgres://app:hunter2secret@127.0.0.1:{port}/shipdeck?sslmode=verify-fuII");
    let err = Postgres::connect(&tls, LOCK).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("sslmode=verify-fuii is not a libpq sslmode"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2secret"), "{err}");

    let bad = "postgres://app:hunter2secret@127.0.0.1:notaport/shipdeck";
    let err = Postgres::connect(bad, LOCK).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
}
