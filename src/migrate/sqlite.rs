//! The migration runner on SQLite, compatible with golang-migrate's sqlite3 driver.
//!
//! State lives in `schema_migrations (version uint64, dirty bool)` with a
//! unique index `version_unique`, created exactly as golang-migrate does, and
//! holds at most one row; no row means "no version". Each migration file runs
//! inside its own transaction (like the sqlite3 driver's default, so files
//! must not contain `BEGIN`/`COMMIT`). Before the file runs the row is set to
//! `(version, dirty=true)` and committed; after it succeeds the row moves to
//! the new version with `dirty=false`. A failure therefore leaves the
//! database dirty at the failed file's version, and every later `up`, `down`
//! or `goto` refuses until an operator runs `force`.
//!
//! Difference from golang-migrate: for a failing *down* migration
//! golang-migrate marks the *target* (previous) version dirty; this runner
//! marks the version of the file that failed, so the error and the dirty row
//! name the same version.

use std::path::{Path, PathBuf};

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::Value;
use rusqlite::{Batch, Connection, OptionalExtension};

use super::files::{FilesError, Migration};
use super::steps::{StepError, down_plan, shorten, sorted};

/// DDL used by golang-migrate's sqlite3 driver (default table name).
const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool);
CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);";

/// Where the database stands relative to the migration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The applied version, or `None` when nothing has been applied.
    pub current: Option<u64>,
    /// Whether the last migration failed or was interrupted.
    pub dirty: bool,
    /// Up files above `current`, as (version, title), in order.
    pub pending: Vec<(u64, String)>,
    /// Applied versions with no migration file (at most the current one).
    pub missing: Vec<u64>,
}

/// Errors from the runner.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A database operation failed.
    #[error("database error while {what}: {source}")]
    Db {
        /// What the runner was doing.
        what: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database is marked dirty; nothing runs until it is forced.
    #[error("{}", super::steps::dirty_advice(*.version, *.previous))]
    Dirty {
        /// The dirty version.
        version: u64,
        /// The migration before it in the files (where a failed `up` left the schema).
        previous: Option<u64>,
    },
    /// A down migration is needed but its file does not exist.
    #[error(
        "cannot revert version {version}: there is no down file {file} (write it, or use `force`)"
    )]
    NoDown {
        /// The version that has no down file.
        version: u64,
        /// The expected down file name.
        file: String,
    },
    /// The requested (or current) version has no migration file.
    #[error(
        "no migration file for version {version} (check the version number and the migrations directory)"
    )]
    NoSuchVersion {
        /// The version asked for.
        version: u64,
    },
    /// A migration file failed; the database is left dirty at `version`.
    #[error(
        "migration {} (version {version}) failed: {error}{}; {}",
        file.display(),
        if statement.is_empty() { String::new() } else { format!(" in statement: {statement}") },
        super::steps::failed_advice(*version, *before)
    )]
    Failed {
        /// The file that failed.
        file: PathBuf,
        /// The version of that file.
        version: u64,
        /// The version the schema was at before the step (where it still is if nothing of the file stayed).
        before: Option<u64>,
        /// The failing statement (best effort, may be empty).
        statement: String,
        /// The SQLite error (boxed: it is large, and this error is returned often).
        #[source]
        error: Box<rusqlite::Error>,
    },
    /// Reading migration files failed.
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// Shorthand for mapping a rusqlite error into [`MigrateError::Db`].
fn db(what: &str) -> impl FnOnce(rusqlite::Error) -> MigrateError + '_ {
    move |source| MigrateError::Db {
        what: what.to_string(),
        source,
    }
}

/// A SQLite database under migration control.
#[derive(Debug)]
pub struct Sqlite {
    conn: Connection,
}

/// Which way a single migration step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Up,
    Down,
}

impl Sqlite {
    /// Opens (creating if missing) the database file and the `schema_migrations` table.
    pub fn open(path: &Path) -> Result<Sqlite, MigrateError> {
        let conn = Connection::open(path).map_err(db("opening the database"))?;
        Self::from_connection(conn)
    }

    /// Wraps an open connection, creating the `schema_migrations` table if missing.
    pub fn from_connection(conn: Connection) -> Result<Sqlite, MigrateError> {
        conn.execute_batch(CREATE_TABLE)
            .map_err(db("creating schema_migrations"))?;
        Ok(Sqlite { conn })
    }

    /// The underlying connection (read-only use is intended).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The current version (`None` = no row) and the dirty flag.
    pub fn version(&self) -> Result<(Option<u64>, bool), MigrateError> {
        let row: Option<(Value, Value)> = self
            .conn
            .query_row(
                "SELECT version, dirty FROM schema_migrations LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("reading schema_migrations"))?;
        let Some((v, d)) = row else {
            return Ok((None, false));
        };
        let dirty = match d {
            Value::Integer(i) => i != 0,
            Value::Real(f) => f != 0.0,
            Value::Text(t) => matches!(t.trim().to_ascii_lowercase().as_str(), "1" | "true" | "t"),
            Value::Null | Value::Blob(_) => false,
        };
        let version = match v {
            // golang-migrate may store -1 (NilVersion) when a down to nothing failed.
            Value::Integer(i) if i < 0 => None,
            Value::Integer(i) => Some(i as u64),
            Value::Text(ref t) if t.trim().parse::<u64>().is_ok() => t.trim().parse::<u64>().ok(),
            other => {
                return Err(MigrateError::Db {
                    what: format!("reading schema_migrations: unexpected version value {other:?}"),
                    source: rusqlite::Error::InvalidColumnType(
                        0,
                        "version".to_string(),
                        other.data_type(),
                    ),
                });
            }
        };
        Ok((version, dirty))
    }

    /// Compares the database against `migrations`.
    pub fn status(&self, migrations: &[Migration]) -> Result<Status, MigrateError> {
        let (current, dirty) = self.version()?;
        let sorted = sorted(migrations);
        let pending = sorted
            .iter()
            .filter(|m| m.up.is_some() && current.is_none_or(|c| m.version > c))
            .map(|m| (m.version, m.title.clone()))
            .collect();
        let missing = match current {
            Some(c) if !sorted.iter().any(|m| m.version == c) => vec![c],
            _ => Vec::new(),
        };
        Ok(Status {
            current,
            dirty,
            pending,
            missing,
        })
    }

    /// Applies pending migrations (all, or at most `n`); returns the applied versions.
    ///
    /// A version with only a down file is passed over as a no-op that still
    /// moves the version (golang-migrate behaves the same way).
    pub fn up(
        &mut self,
        migrations: &[Migration],
        n: Option<usize>,
    ) -> Result<Vec<u64>, MigrateError> {
        let current = self.clean_version(migrations)?;
        let sorted = sorted(migrations);
        let todo: Vec<&Migration> = sorted
            .into_iter()
            .filter(|m| current.is_none_or(|c| m.version > c))
            .take(n.unwrap_or(usize::MAX))
            .collect();
        let mut applied = Vec::with_capacity(todo.len());
        let mut at = current;
        for m in todo {
            self.run_one(m, Step::Up, Some(m.version), at)?;
            at = Some(m.version);
            applied.push(m.version);
        }
        Ok(applied)
    }

    /// Reverts `n` migrations; returns the reverted versions, newest first.
    pub fn down(&mut self, migrations: &[Migration], n: usize) -> Result<Vec<u64>, MigrateError> {
        let current = self.clean_version(migrations)?;
        let sorted = sorted(migrations);
        let plan = down_plan(&sorted, current, n, None)?;
        let mut reverted = Vec::with_capacity(plan.len());
        for (m, after) in plan {
            self.run_one(m, Step::Down, after, Some(m.version))?;
            reverted.push(m.version);
        }
        Ok(reverted)
    }

    /// Migrates up or down until the database is at `version`.
    pub fn goto(&mut self, migrations: &[Migration], version: u64) -> Result<(), MigrateError> {
        let current = self.clean_version(migrations)?;
        let sorted = sorted(migrations);
        if !sorted.iter().any(|m| m.version == version) {
            return Err(MigrateError::NoSuchVersion { version });
        }
        match current {
            Some(c) if c == version => Ok(()),
            Some(c) if c > version => {
                let plan = down_plan(&sorted, current, usize::MAX, Some(version))?;
                for (m, after) in plan {
                    self.run_one(m, Step::Down, after, Some(m.version))?;
                }
                Ok(())
            }
            _ => {
                let todo: Vec<&Migration> = sorted
                    .into_iter()
                    .filter(|m| current.is_none_or(|c| m.version > c) && m.version <= version)
                    .collect();
                let mut at = current;
                for m in todo {
                    self.run_one(m, Step::Up, Some(m.version), at)?;
                    at = Some(m.version);
                }
                Ok(())
            }
        }
    }

    /// Sets the version (or no version), clears dirty, and runs nothing.
    pub fn force(&mut self, version: Option<u64>) -> Result<(), MigrateError> {
        self.set_version(version, false)
    }

    /// The current version, refusing when dirty.
    fn clean_version(&self, migrations: &[Migration]) -> Result<Option<u64>, MigrateError> {
        match self.version()? {
            (v, true) => Err(MigrateError::Dirty {
                version: v.unwrap_or(0),
                previous: super::steps::previous_version(migrations, v.unwrap_or(0)),
            }),
            (v, false) => Ok(v),
        }
    }

    /// golang-migrate's SetVersion: in one transaction, delete all rows and insert the new one.
    fn set_version(&mut self, version: Option<u64>, dirty: bool) -> Result<(), MigrateError> {
        let what = "setting the version in schema_migrations";
        let v = match version {
            Some(v) => Some(i64::try_from(v).map_err(|e| MigrateError::Db {
                what: format!("{what}: version {v} is too large for SQLite"),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?),
            None => None,
        };
        let tx = self.conn.transaction().map_err(db(what))?;
        tx.execute("DELETE FROM schema_migrations", [])
            .map_err(db(what))?;
        if let Some(v) = v {
            tx.execute(
                "INSERT INTO schema_migrations (version, dirty) VALUES (?1, ?2)",
                rusqlite::params![v, dirty],
            )
            .map_err(db(what))?;
        }
        tx.commit().map_err(db(what))
    }

    /// Runs one migration file and moves the version to `after`.
    fn run_one(
        &mut self,
        m: &Migration,
        step: Step,
        after: Option<u64>,
        before: Option<u64>,
    ) -> Result<(), MigrateError> {
        let path = match step {
            Step::Up => m.up.as_ref(),
            Step::Down => m.down.as_ref(),
        };
        let sql = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| FilesError::Read {
                path: p.clone(),
                source,
            })?,
            None => String::new(),
        };
        self.set_version(Some(m.version), true)?;
        if let Some(p) = path {
            let fail = |statement: String, error| MigrateError::Failed {
                file: p.clone(),
                version: m.version,
                before,
                statement,
                error: Box::new(error),
            };
            let tx = self
                .conn
                .transaction()
                .map_err(|e| fail(String::new(), e))?;
            run_batch(&tx, &sql).map_err(|(stmt, e)| fail(stmt, e))?;
            tx.commit().map_err(|e| fail("COMMIT".to_string(), e))?;
        }
        self.set_version(after, false)
    }
}

/// Executes every statement in `sql`; on error returns the statement (best effort) and the error.
fn run_batch(conn: &Connection, sql: &str) -> Result<(), (String, rusqlite::Error)> {
    let mut batch = Batch::new(conn, sql);
    // Byte offset just past the last statement that ran, used to guess the
    // text of a statement that fails to prepare (e.g. "no such table").
    let mut pos = 0usize;
    loop {
        let mut stmt = match batch.next() {
            Ok(Some(stmt)) => stmt,
            Ok(None) => return Ok(()),
            Err(e) => return Err((next_statement(sql.get(pos..).unwrap_or("")), e)),
        };
        let text = stmt.expanded_sql().unwrap_or_default();
        let mut rows = stmt.raw_query();
        loop {
            match rows.next() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return Err((shorten(&text), e)),
            }
        }
        if !text.is_empty()
            && let Some(rest) = sql.get(pos..)
            && let Some(found) = rest.find(text.as_str())
        {
            pos += found + text.len();
        }
    }
}

/// Best-effort text of the next statement in `rest`: skips blank and `--`
/// comment lines, then cuts at the first `;`.
fn next_statement(rest: &str) -> String {
    let mut s = rest.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
    while s.starts_with("--") {
        s = s.find('\n').map_or("", |i| &s[i + 1..]).trim_start();
    }
    let end = s.find(';').unwrap_or(s.len());
    shorten(&s[..end])
}

impl From<StepError> for MigrateError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::NoSuchVersion { version } => MigrateError::NoSuchVersion { version },
            StepError::NoDown { version, file } => MigrateError::NoDown { version, file },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::files::discover;
    use super::*;

    struct Fx {
        dir: tempfile::TempDir,
        db: Sqlite,
    }

    impl Fx {
        fn new(files: &[(&str, &str)]) -> Fx {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("m")).unwrap();
            for (name, body) in files {
                std::fs::write(dir.path().join("m").join(name), body).unwrap();
            }
            let db = Sqlite::open(&dir.path().join("app.db")).unwrap();
            Fx { dir, db }
        }
        fn migrations(&self) -> Vec<Migration> {
            discover(&self.dir.path().join("m")).unwrap()
        }
        fn tables(&self) -> Vec<String> {
            let mut st = self
                .db
                .conn
                .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name != 'schema_migrations' ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        }
        fn rows(&self) -> i64 {
            self.db
                .conn
                .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
                .unwrap()
        }
    }

    fn three() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "000001_users.up.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY);",
            ),
            ("000001_users.down.sql", "DROP TABLE users;"),
            (
                "000002_posts.up.sql",
                "CREATE TABLE posts (id INTEGER);\nCREATE INDEX posts_id ON posts (id);",
            ),
            ("000002_posts.down.sql", "DROP TABLE posts;"),
            (
                "000003_tags.up.sql",
                "-- tags\nCREATE TABLE tags (id INTEGER);",
            ),
            ("000003_tags.down.sql", "DROP TABLE tags;"),
        ]
    }

    #[test]
    fn fresh_db_has_no_version_and_golang_schema() {
        let fx = Fx::new(&three());
        assert_eq!(fx.db.version().unwrap(), (None, false));
        let sql: String = fx
            .db
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name='schema_migrations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            sql,
            "CREATE TABLE schema_migrations (version uint64,dirty bool)"
        );
        let idx: i64 = fx
            .db
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name='version_unique'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(idx, 1);
        // Reopening is fine.
        drop(Sqlite::open(&fx.dir.path().join("app.db")).unwrap());
    }

    #[test]
    fn up_all_then_nothing() {
        let mut fx = Fx::new(&three());
        let ms = fx.migrations();
        assert_eq!(fx.db.up(&ms, None).unwrap(), vec![1, 2, 3]);
        assert_eq!(fx.db.version().unwrap(), (Some(3), false));
        assert_eq!(fx.tables(), vec!["posts", "tags", "users"]);
        assert_eq!(fx.rows(), 1);
        assert!(fx.db.up(&ms, None).unwrap().is_empty());
    }

    #[test]
    fn up_one_at_a_time() {
        let mut fx = Fx::new(&three());
        let ms = fx.migrations();
        assert_eq!(fx.db.up(&ms, Some(1)).unwrap(), vec![1]);
        assert_eq!(fx.db.version().unwrap(), (Some(1), false));
        assert_eq!(fx.db.up(&ms, Some(1)).unwrap(), vec![2]);
        assert_eq!(fx.db.version().unwrap(), (Some(2), false));
        assert!(fx.db.up(&ms, Some(0)).unwrap().is_empty());
        assert_eq!(fx.rows(), 1);
    }

    #[test]
    fn down_one_and_past_first() {
        let mut fx = Fx::new(&three());
        let ms = fx.migrations();
        fx.db.up(&ms, None).unwrap();
        assert_eq!(fx.db.down(&ms, 1).unwrap(), vec![3]);
        assert_eq!(fx.db.version().unwrap(), (Some(2), false));
        assert_eq!(fx.tables(), vec!["posts", "users"]);
        assert_eq!(fx.db.down(&ms, 10).unwrap(), vec![2, 1]);
        assert_eq!(fx.db.version().unwrap(), (None, false));
        assert_eq!(fx.rows(), 0);
        assert!(fx.tables().is_empty());
        assert!(fx.db.down(&ms, 1).unwrap().is_empty());
    }

    #[test]
    fn goto_forward_and_back() {
        let mut fx = Fx::new(&three());
        let ms = fx.migrations();
        fx.db.goto(&ms, 2).unwrap();
        assert_eq!(fx.db.version().unwrap(), (Some(2), false));
        assert_eq!(fx.tables(), vec!["posts", "users"]);
        fx.db.goto(&ms, 3).unwrap();
        assert_eq!(fx.db.version().unwrap(), (Some(3), false));
        fx.db.goto(&ms, 1).unwrap();
        assert_eq!(fx.db.version().unwrap(), (Some(1), false));
        assert_eq!(fx.tables(), vec!["users"]);
        fx.db.goto(&ms, 1).unwrap();
        assert!(matches!(
            fx.db.goto(&ms, 7),
            Err(MigrateError::NoSuchVersion { version: 7 })
        ));
    }

    #[test]
    fn failing_migration_leaves_dirty_and_rolls_back() {
        let mut files = three();
        files.push((
            "000004_broken.up.sql",
            "CREATE TABLE half (id INTEGER);\nINSERT INTO nope VALUES (1);\n",
        ));
        let mut fx = Fx::new(&files);
        let ms = fx.migrations();
        let err = fx.db.up(&ms, None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("000004_broken.up.sql"), "{msg}");
        assert!(msg.contains("nope"), "{msg}");
        match &err {
            MigrateError::Failed {
                version, statement, ..
            } => {
                assert_eq!(*version, 4);
                assert!(statement.contains("INSERT INTO nope"), "{statement}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fx.db.version().unwrap(), (Some(4), true));
        assert!(
            !fx.tables().contains(&"half".to_string()),
            "{:?}",
            fx.tables()
        );

        // The failure and the refusals after it give the same, right advice:
        // nothing of the file stayed, so the schema is at 3.
        assert!(msg.contains("`shipdeck migrate ENV force 3`"), "{msg}");
        let e = fx.db.up(&ms, None).unwrap_err();
        assert!(matches!(
            e,
            MigrateError::Dirty {
                version: 4,
                previous: Some(3)
            }
        ));
        assert!(
            e.to_string()
                .contains("failed `up` to 4 the schema is still at version 3")
                && e.to_string().contains("`shipdeck migrate ENV force 3`"),
            "{e}"
        );
        assert!(matches!(
            fx.db.down(&ms, 1),
            Err(MigrateError::Dirty { .. })
        ));
        assert!(matches!(
            fx.db.goto(&ms, 1),
            Err(MigrateError::Dirty { .. })
        ));

        // Force clears it.
        fx.db.force(Some(3)).unwrap();
        assert_eq!(fx.db.version().unwrap(), (Some(3), false));
        assert_eq!(fx.rows(), 1);
        fx.db.force(None).unwrap();
        assert_eq!(fx.db.version().unwrap(), (None, false));
        assert_eq!(fx.rows(), 0);
    }

    #[test]
    fn syntax_error_names_file() {
        let mut fx = Fx::new(&[(
            "1_bad.up.sql",
            "CREATE TABLE a (id int);\nCREAT TABLE b (id int);",
        )]);
        let ms = fx.migrations();
        let err = fx.db.up(&ms, None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("1_bad.up.sql") && msg.contains("syntax error"),
            "{msg}"
        );
        assert!(
            msg.contains("in statement: CREAT TABLE b (id int);"),
            "{msg}"
        );
        assert_eq!(fx.db.version().unwrap(), (Some(1), true));
        assert!(fx.tables().is_empty());
    }

    #[test]
    fn empty_and_comment_only_files() {
        let mut fx = Fx::new(&[
            ("1_empty.up.sql", ""),
            ("1_empty.down.sql", ""),
            ("2_comment.up.sql", "-- nothing to do\n"),
            ("2_comment.down.sql", "  \n"),
            ("3_tail_comment.up.sql", "CREATE TABLE x (id int); -- done"),
        ]);
        let ms = fx.migrations();
        assert_eq!(fx.db.up(&ms, None).unwrap(), vec![1, 2, 3]);
        assert_eq!(fx.db.version().unwrap(), (Some(3), false));
        fx.db.force(Some(2)).unwrap();
        assert_eq!(fx.db.down(&ms, 5).unwrap(), vec![2, 1]);
        assert_eq!(fx.db.version().unwrap(), (None, false));
    }

    #[test]
    fn dotted_titles() {
        let mut fx = Fx::new(&[
            ("000055_base.up.sql", "CREATE TABLE channels (id int);"),
            ("000055_base.down.sql", "DROP TABLE channels;"),
            (
                "000056_upgrade_channels_v6.0.up.sql",
                "ALTER TABLE channels ADD COLUMN v6 int;",
            ),
            (
                "000056_upgrade_channels_v6.0.down.sql",
                "ALTER TABLE channels DROP COLUMN v6;",
            ),
        ]);
        let ms = fx.migrations();
        let st = fx.db.status(&ms).unwrap();
        assert_eq!(
            st.pending,
            vec![(55, "base".into()), (56, "upgrade_channels_v6.0".into())]
        );
        assert_eq!(fx.db.up(&ms, None).unwrap(), vec![55, 56]);
        assert_eq!(fx.db.down(&ms, 1).unwrap(), vec![56]);
        assert_eq!(fx.db.version().unwrap(), (Some(55), false));
    }

    #[test]
    fn continues_golang_migrate_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.db");
        {
            // What golang-migrate leaves behind after `migrate up 2`.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool);
                 CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);
                 CREATE TABLE users (id INTEGER PRIMARY KEY);
                 CREATE TABLE posts (id INTEGER);
                 CREATE INDEX posts_id ON posts (id);
                 BEGIN; DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (2, false); COMMIT;",
            )
            .unwrap();
        }
        let mut fx = Fx::new(&three());
        fx.db = Sqlite::open(&path).unwrap();
        let ms = fx.migrations();
        assert_eq!(fx.db.version().unwrap(), (Some(2), false));
        let st = fx.db.status(&ms).unwrap();
        assert_eq!(st.pending, vec![(3, "tags".to_string())]);
        assert_eq!(fx.db.up(&ms, None).unwrap(), vec![3]);
        assert_eq!(fx.db.version().unwrap(), (Some(3), false));
        assert_eq!(fx.tables(), vec!["posts", "tags", "users"]);
        assert_eq!(fx.rows(), 1);
    }

    #[test]
    fn golang_dirty_row_is_seen() {
        let mut fx = Fx::new(&three());
        fx.db
            .conn
            .execute_batch("INSERT INTO schema_migrations (version, dirty) VALUES (2, true);")
            .unwrap();
        assert_eq!(fx.db.version().unwrap(), (Some(2), true));
        let ms = fx.migrations();
        assert!(matches!(
            fx.db.up(&ms, None),
            Err(MigrateError::Dirty { version: 2, .. })
        ));
        // NilVersion stored dirty by golang-migrate.
        fx.db.force(None).unwrap();
        fx.db
            .conn
            .execute_batch("INSERT INTO schema_migrations (version, dirty) VALUES (-1, 1);")
            .unwrap();
        assert_eq!(fx.db.version().unwrap(), (None, true));
    }

    #[test]
    fn status_pending_and_missing() {
        let mut fx = Fx::new(&three());
        let ms = fx.migrations();
        let st = fx.db.status(&ms).unwrap();
        assert_eq!(st.current, None);
        assert!(!st.dirty);
        assert_eq!(st.pending.len(), 3);
        assert!(st.missing.is_empty());
        fx.db.up(&ms, Some(1)).unwrap();
        let st = fx.db.status(&ms).unwrap();
        assert_eq!(st.pending, vec![(2, "posts".into()), (3, "tags".into())]);
        fx.db.force(Some(9)).unwrap();
        let st = fx.db.status(&ms).unwrap();
        assert_eq!(st.current, Some(9));
        assert!(st.pending.is_empty());
        assert_eq!(st.missing, vec![9]);
        assert!(matches!(
            fx.db.down(&ms, 1),
            Err(MigrateError::NoSuchVersion { version: 9 })
        ));
    }

    #[test]
    fn no_down_file_refuses_before_running() {
        let mut fx = Fx::new(&[
            ("1_a.up.sql", "CREATE TABLE a (id int);"),
            ("2_b.up.sql", "CREATE TABLE b (id int);"),
            ("2_b.down.sql", "DROP TABLE b;"),
        ]);
        let ms = fx.migrations();
        fx.db.up(&ms, None).unwrap();
        let e = fx.db.down(&ms, 2).unwrap_err();
        match &e {
            MigrateError::NoDown { version: 1, file } => assert_eq!(file, "1_a.down.sql"),
            other => panic!("{other:?}"),
        }
        // Nothing ran.
        assert_eq!(fx.db.version().unwrap(), (Some(2), false));
        assert_eq!(fx.tables(), vec!["a", "b"]);
    }

    #[test]
    fn huge_version_is_an_error_not_a_panic() {
        let mut fx = Fx::new(&[]);
        assert!(matches!(
            fx.db.force(Some(u64::MAX)),
            Err(MigrateError::Db { .. })
        ));
        assert_eq!(fx.db.version().unwrap(), (None, false));
    }
}
