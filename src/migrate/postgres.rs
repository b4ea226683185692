//! The migration runner on PostgreSQL, compatible with golang-migrate's postgres driver.
//!
//! State lives in `"schema_migrations" (version bigint not null primary key,
//! dirty boolean not null)`, created exactly as golang-migrate does in the
//! connection's current schema, and holds at most one row; no row means "no
//! version" (a stored `-1`, golang-migrate's NilVersion, also reads as none).
//! Setting the version is golang-migrate's `SetVersion`: in one transaction,
//! empty the table and `INSERT` the new row unless there is no version.
//!
//! Each migration step first commits `(version, dirty=true)`, then sends the
//! WHOLE file as one simple-protocol query (so a multi-statement file runs as
//! one implicit transaction, and a file holding a single
//! `CREATE INDEX CONCURRENTLY` works), then moves the row to the new version
//! with `dirty=false`. A failure therefore leaves the database dirty at the
//! failed file's version, and every later `up`, `down` or `goto` refuses until
//! an operator runs `force`.
//!
//! Concurrent runners are serialised with golang-migrate's session advisory
//! lock: `pg_advisory_lock(id)` where `id` is the CRC-32 (IEEE) of
//! `"{schema}\0schema_migrations\0{database}"` multiplied by `1486364155`
//! (wrapping, as `u32`). The lock is taken on the runner's own connection for
//! each `up`, `down`, `goto` and `force` (and while creating the table); a
//! runner that cannot get it within the lock timeout fails with
//! [`PgError::Locked`]. golang-migrate and this runner therefore exclude each
//! other.
//!
//! TLS follows libpq's `sslmode` (disable, allow, prefer — the default —,
//! require, verify-ca, verify-full) and `sslrootcert`, over rustls; see
//! [`super::pg_tls`].
//!
//! Difference from golang-migrate, kept identical to the SQLite runner: for a
//! failing *down* migration the dirty row names the version of the file that
//! failed (golang-migrate names the target version).

use std::path::PathBuf;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, NoTls};

use super::files::{FilesError, Migration};
use super::pg_tls::{connector, split_tls_params};
pub use super::sqlite::Status;
use super::steps::{StepError, down_plan, shorten, sorted};

/// The tracking table, as golang-migrate names it.
const TABLE: &str = "schema_migrations";

/// DDL used by golang-migrate's postgres driver (default table name).
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS \"schema_migrations\" \
                            (version bigint not null primary key, dirty boolean not null)";

/// golang-migrate's `advisoryLockIDSalt`.
const LOCK_SALT: u32 = 1_486_364_155;

/// The lock timeout golang-migrate uses by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// Errors from the Postgres runner. No message ever contains a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The connection URL could not be used.
    #[error("bad Postgres URL {url}: {why}")]
    BadUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The URL's TLS settings (`sslmode`, `sslrootcert`) cannot be used.
    #[error("Postgres at {url}: {source}")]
    Tls {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong.
        #[source]
        source: super::pg_tls::TlsSetupError,
    },
    /// Connecting to the server failed.
    #[error("cannot connect to Postgres at {url}: {}", describe(source))]
    Connect {
        /// The URL with any password replaced by `***`.
        url: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Another runner (this tool or golang-migrate) holds the migration lock.
    #[error(
        "another migration holds the lock (pg_advisory_lock({id}) on database {database}); \
         gave up after {}s: wait for it to finish, or raise the lock timeout",
        timeout.as_secs_f64()
    )]
    Locked {
        /// The advisory lock id.
        id: u32,
        /// The database name.
        database: String,
        /// How long the runner waited.
        timeout: Duration,
    },
    /// A database operation failed.
    #[error("database error while {what}: {}", describe(source))]
    Db {
        /// What the runner was doing.
        what: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A version does not fit in Postgres's `bigint`.
    #[error(
        "version {version} is too large for Postgres (the maximum is {})",
        i64::MAX
    )]
    VersionTooLarge {
        /// The version asked for.
        version: u64,
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
        "migration {} (version {version}) failed: {}{}; {}",
        file.display(),
        describe(error),
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
        /// The driver error.
        #[source]
        error: tokio_postgres::Error,
    },
    /// Reading migration files failed.
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// Shorthand for mapping a driver error into [`PgError::Db`].
fn db(what: &str) -> impl FnOnce(tokio_postgres::Error) -> PgError + '_ {
    move |source| PgError::Db {
        what: what.to_string(),
        source,
    }
}

/// A readable one-line-ish description of a driver error: the server's
/// message for database errors, otherwise the error and its causes.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(dbe) = e.as_db_error() {
        return dbe.to_string();
    }
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    if let Some(hint) = tls_hint(&out) {
        out.push_str("; ");
        out.push_str(hint);
    }
    out
}

/// What to do about a certificate the TLS handshake refused.
fn tls_hint(message: &str) -> Option<&'static str> {
    if message.contains("not valid for name") {
        Some(
            "connect by a host name the certificate lists, or use sslmode=verify-ca to check the chain only",
        )
    } else if message.contains("UnknownIssuer") || message.contains("unknown issuer") {
        Some(
            "the server's certificate is not signed by the CA in sslrootcert: point sslrootcert at the right CA certificate",
        )
    } else if message.contains("server does not support TLS") {
        Some("the server has ssl=off: use sslmode=prefer or disable, or turn TLS on at the server")
    } else {
        None
    }
}

/// Replaces the password in a URL (`user:pass@`) or key/value string
/// (`password=...`) with `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    // URL form: scheme://user:pass@host/...
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = out[rest_start..at].find(':') {
                let colon = rest_start + colon;
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    // `password=` as a query parameter or key/value pair.
    let mut search_from = 0;
    while let Some(i) = out[search_from..].to_ascii_lowercase().find("password=") {
        let start = search_from + i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "***");
        search_from = start + 3;
    }
    out
}

/// Connect with the URL's `sslmode` (see [`super::pg_tls`]); the connection
/// runs in its own task. Returns the client, that task, and the TLS mode used.
pub(crate) async fn open_client(url: &str) -> Result<(Client, JoinHandle<()>), PgError> {
    let params = split_tls_params(url).map_err(|source| PgError::Tls {
        url: redact(url),
        source,
    })?;
    let mut config: tokio_postgres::Config = params.url.parse().map_err(|e| PgError::BadUrl {
        url: redact(url),
        why: describe(&e),
    })?;
    config.ssl_mode(params.mode.driver_mode());
    let connect_error = |source| PgError::Connect {
        url: redact(url),
        source,
    };
    // Errors on the connection surface on the client as "connection closed".
    match connector(&params).map_err(|source| PgError::Tls {
        url: redact(url),
        source,
    })? {
        None => {
            let (client, conn) = config.connect(NoTls).await.map_err(connect_error)?;
            Ok((client, tokio::spawn(async move { drop(conn.await) })))
        }
        Some(tls) => {
            let (client, conn) = config.connect(tls).await.map_err(connect_error)?;
            Ok((client, tokio::spawn(async move { drop(conn.await) })))
        }
    }
}

/// golang-migrate's `GenerateAdvisoryLockId(database, schema, table)`.
pub fn advisory_lock_id(database: &str, schema: &str, table: &str) -> u32 {
    let key = format!("{schema}\x00{table}\x00{database}");
    crc32fast::hash(key.as_bytes()).wrapping_mul(LOCK_SALT)
}

/// A PostgreSQL database under migration control.
#[derive(Debug)]
pub struct Postgres {
    client: Client,
    connection: JoinHandle<()>,
    lock_id: u32,
    database: String,
    lock_timeout: Duration,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Closing the connection also releases any session advisory lock.
        self.connection.abort();
    }
}

/// Which way a single migration step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Up,
    Down,
}

/// Connect and report who the server sees (`app@db on host:port, PostgreSQL 16.4`),
/// for `shipdeck auth test db:ENV`. Changes nothing.
pub async fn identity(url: &str) -> Result<String, PgError> {
    let (client, connection) = open_client(url).await?;
    let row = client
        .query_one(
            "SELECT current_user::text, current_database()::text, current_setting('server_version'), \
             (SELECT coalesce(max(version), '') FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl)",
            &[],
        )
        .await
        .map_err(db("reading the current user"));
    connection.abort();
    let row = row?;
    let (user, database, version, tls): (String, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let over = if tls.is_empty() {
        "unencrypted".to_string()
    } else {
        format!("over {tls}")
    };
    Ok(format!("{user}@{database} (PostgreSQL {version}, {over})"))
}

impl Postgres {
    /// Connects (TLS as the URL's `sslmode` asks), creates `schema_migrations` if missing (under
    /// the migration lock, like golang-migrate), and remembers `lock_timeout`
    /// for later operations. Must be called inside a Tokio runtime.
    pub async fn connect(url: &str, lock_timeout: Duration) -> Result<Postgres, PgError> {
        let (client, connection) = open_client(url).await?;
        let row = client
            .query_one(
                "SELECT current_database()::text, coalesce(current_schema()::text, 'public')",
                &[],
            )
            .await
            .map_err(db("reading the database and schema name"))?;
        let database: String = row.get(0);
        let schema: String = row.get(1);
        let pg = Postgres {
            client,
            connection,
            lock_id: advisory_lock_id(&database, &schema, TABLE),
            database,
            lock_timeout,
        };
        pg.lock().await?;
        let created = pg
            .client
            .batch_execute(CREATE_TABLE)
            .await
            .map_err(db("creating schema_migrations"));
        let unlocked = pg.unlock().await;
        created?;
        unlocked?;
        Ok(pg)
    }

    /// The advisory lock id this runner uses (same as golang-migrate's).
    pub fn lock_id(&self) -> u32 {
        self.lock_id
    }

    /// The current version (`None` = no row) and the dirty flag.
    pub async fn version(&self) -> Result<(Option<u64>, bool), PgError> {
        let row = self
            .client
            .query_opt(
                "SELECT version, dirty FROM \"schema_migrations\" LIMIT 1",
                &[],
            )
            .await
            .map_err(db("reading schema_migrations"))?;
        let Some(row) = row else {
            return Ok((None, false));
        };
        let version: i64 = row
            .try_get(0)
            .map_err(db("reading schema_migrations.version"))?;
        let dirty: bool = row
            .try_get(1)
            .map_err(db("reading schema_migrations.dirty"))?;
        // golang-migrate stores -1 (NilVersion) when a down to nothing failed.
        Ok((u64::try_from(version).ok(), dirty))
    }

    /// Compares the database against `migrations`.
    pub async fn status(&self, migrations: &[Migration]) -> Result<Status, PgError> {
        let (current, dirty) = self.version().await?;
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
    pub async fn up(
        &mut self,
        migrations: &[Migration],
        n: Option<usize>,
    ) -> Result<Vec<u64>, PgError> {
        self.lock().await?;
        let result = self.up_locked(migrations, n).await;
        self.finish(result).await
    }

    /// Reverts `n` migrations; returns the reverted versions, newest first.
    pub async fn down(&mut self, migrations: &[Migration], n: usize) -> Result<Vec<u64>, PgError> {
        self.lock().await?;
        let result = self.down_locked(migrations, n).await;
        self.finish(result).await
    }

    /// Migrates up or down until the database is at `version`.
    pub async fn goto(&mut self, migrations: &[Migration], version: u64) -> Result<(), PgError> {
        self.lock().await?;
        let result = self.goto_locked(migrations, version).await;
        self.finish(result).await
    }

    /// Sets the version (or no version), clears dirty, and runs nothing.
    pub async fn force(&mut self, version: Option<u64>) -> Result<(), PgError> {
        self.lock().await?;
        let result = self.set_version(version, false).await;
        self.finish(result).await
    }

    /// Releases the lock and returns `result` (or the unlock error if `result` was fine).
    async fn finish<T>(&self, result: Result<T, PgError>) -> Result<T, PgError> {
        let unlocked = self.unlock().await;
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Takes the session advisory lock, waiting at most the lock timeout.
    ///
    /// The wait is bounded by the server (`lock_timeout`, which covers
    /// advisory locks), not by cancelling the query: a cancel request is
    /// delivered asynchronously and can land on the *next* statement of the
    /// session, failing an unrelated later lock or migration.
    async fn lock(&self) -> Result<(), PgError> {
        let ms = self.lock_timeout.as_millis().clamp(1, i32::MAX as u128);
        // One implicit transaction: if the lock times out, the SET is rolled
        // back with it; once granted, the session's setting is put back.
        let sql = format!(
            "SET lock_timeout = {ms}; SELECT pg_advisory_lock({}); RESET lock_timeout",
            self.lock_id
        );
        match self.client.simple_query(&sql).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                Err(PgError::Locked {
                    id: self.lock_id,
                    database: self.database.clone(),
                    timeout: self.lock_timeout,
                })
            }
            Err(e) => Err(db("taking the migration lock")(e)),
        }
    }

    /// Releases the session advisory lock.
    async fn unlock(&self) -> Result<(), PgError> {
        let sql = format!("SELECT pg_advisory_unlock({})", self.lock_id);
        self.client
            .simple_query(&sql)
            .await
            .map(|_| ())
            .map_err(db("releasing the migration lock"))
    }

    /// [`Postgres::up`] with the lock held.
    async fn up_locked(
        &mut self,
        migrations: &[Migration],
        n: Option<usize>,
    ) -> Result<Vec<u64>, PgError> {
        let current = self.clean_version(migrations).await?;
        let sorted = sorted(migrations);
        let todo: Vec<&Migration> = sorted
            .into_iter()
            .filter(|m| current.is_none_or(|c| m.version > c))
            .take(n.unwrap_or(usize::MAX))
            .collect();
        let mut applied = Vec::with_capacity(todo.len());
        let mut at = current;
        for m in todo {
            self.run_one(m, Step::Up, Some(m.version), at).await?;
            at = Some(m.version);
            applied.push(m.version);
        }
        Ok(applied)
    }

    /// [`Postgres::down`] with the lock held.
    async fn down_locked(
        &mut self,
        migrations: &[Migration],
        n: usize,
    ) -> Result<Vec<u64>, PgError> {
        let current = self.clean_version(migrations).await?;
        let sorted = sorted(migrations);
        let plan = down_plan(&sorted, current, n, None)?;
        let mut reverted = Vec::with_capacity(plan.len());
        for (m, after) in plan {
            self.run_one(m, Step::Down, after, Some(m.version)).await?;
            reverted.push(m.version);
        }
        Ok(reverted)
    }

    /// [`Postgres::goto`] with the lock held.
    async fn goto_locked(&mut self, migrations: &[Migration], version: u64) -> Result<(), PgError> {
        let current = self.clean_version(migrations).await?;
        let sorted = sorted(migrations);
        if !sorted.iter().any(|m| m.version == version) {
            return Err(PgError::NoSuchVersion { version });
        }
        match current {
            Some(c) if c == version => Ok(()),
            Some(c) if c > version => {
                let plan = down_plan(&sorted, current, usize::MAX, Some(version))?;
                for (m, after) in plan {
                    self.run_one(m, Step::Down, after, Some(m.version)).await?;
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
                    self.run_one(m, Step::Up, Some(m.version), at).await?;
                    at = Some(m.version);
                }
                Ok(())
            }
        }
    }

    /// The current version, refusing when dirty.
    async fn clean_version(&self, migrations: &[Migration]) -> Result<Option<u64>, PgError> {
        match self.version().await? {
            (v, true) => Err(PgError::Dirty {
                version: v.unwrap_or(0),
                previous: super::steps::previous_version(migrations, v.unwrap_or(0)),
            }),
            (v, false) => Ok(v),
        }
    }

    /// golang-migrate's SetVersion: in one transaction, empty the table, then INSERT unless `None`.
    /// golang-migrate uses TRUNCATE; DELETE leaves the same single row, does not rewrite the
    /// relation on every step, and does not block readers of the table. Both run under the
    /// advisory lock.
    async fn set_version(&mut self, version: Option<u64>, dirty: bool) -> Result<(), PgError> {
        let what = "setting the version in schema_migrations";
        let v = match version {
            Some(v) => Some(i64::try_from(v).map_err(|_| PgError::VersionTooLarge { version: v })?),
            None => None,
        };
        let tx = self.client.transaction().await.map_err(db(what))?;
        tx.batch_execute("DELETE FROM \"schema_migrations\"")
            .await
            .map_err(db(what))?;
        if let Some(v) = v {
            tx.execute(
                "INSERT INTO \"schema_migrations\" (version, dirty) VALUES ($1, $2)",
                &[&v, &dirty],
            )
            .await
            .map_err(db(what))?;
        }
        tx.commit().await.map_err(db(what))
    }

    /// Runs one migration file and moves the version to `after`.
    async fn run_one(
        &mut self,
        m: &Migration,
        step: Step,
        after: Option<u64>,
        before: Option<u64>,
    ) -> Result<(), PgError> {
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
        self.set_version(Some(m.version), true).await?;
        if let Some(p) = path {
            // The whole file as one simple query, like golang-migrate's ExecContext.
            self.client
                .batch_execute(&sql)
                .await
                .map_err(|error| PgError::Failed {
                    file: p.clone(),
                    version: m.version,
                    before,
                    statement: failing_statement(&sql, &error),
                    error,
                })?;
        }
        self.set_version(after, false).await
    }
}

/// Best-effort text of the statement the server complained about, found from
/// the error position (1-based, in characters) by cutting at the surrounding
/// `;`. Empty when the server gave no position.
fn failing_statement(sql: &str, error: &tokio_postgres::Error) -> String {
    let Some(ErrorPosition::Original(pos)) = error.as_db_error().and_then(|d| d.position()) else {
        return String::new();
    };
    let char_index = (*pos as usize).saturating_sub(1);
    let byte = sql
        .char_indices()
        .nth(char_index)
        .map_or(sql.len(), |(i, _)| i);
    let start = sql[..byte].rfind(';').map_or(0, |i| i + 1);
    let end = sql[byte..].find(';').map_or(sql.len(), |i| byte + i + 1);
    let mut s = sql[start..end].trim_start();
    while s.starts_with("--") {
        s = s.find('\n').map_or("", |i| &s[i + 1..]).trim_start();
    }
    shorten(s)
}

impl From<StepError> for PgError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::NoSuchVersion { version } => PgError::NoSuchVersion { version },
            StepError::NoDown { version, file } => PgError::NoDown { version, file },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://app:s3cr3t@db:5432/x?sslmode=disable"),
            "postgres://app:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact("host=db user=app password=s3cr3t dbname=x"),
            "host=db user=app password=*** dbname=x"
        );
        assert_eq!(
            redact("postgres://db/x?user=a&password=s3cr3t&x=1"),
            "postgres://db/x?user=a&password=***&x=1"
        );
    }

    #[test]
    fn lock_id_matches_golang_migrate_formula() {
        let expected =
            crc32fast::hash(b"public\x00schema_migrations\x00shipdeck").wrapping_mul(1486364155);
        assert_eq!(
            advisory_lock_id("shipdeck", "public", "schema_migrations"),
            expected
        );
    }
}
