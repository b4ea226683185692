//! An env's migrations as the TUI and CLI see them: status with lint findings
//! on pending files, and the operations (up, down, goto, force), over the
//! database runner the env's config names.

use serde::Serialize;

use super::files::{Migration, discover};
use super::lint::{Dialect, Finding, lint_sql};
use super::postgres::{DEFAULT_LOCK_TIMEOUT, Postgres};
use super::sqlite::Sqlite;
use crate::config::{MigrationTool, MigrationsConfig};

/// What the migrations panel and `migrate status` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationView {
    /// Applied version (None: nothing applied).
    pub current: Option<u64>,
    /// A migration failed half-way at `current`.
    pub dirty: bool,
    /// Up files above the current version: (version, title).
    pub pending: Vec<(u64, String)>,
    /// Versions applied in the database with no file here.
    pub missing: Vec<u64>,
    /// Destructive or locking changes in the pending files.
    pub findings: Vec<LintFinding>,
    /// Migration files in the folder.
    pub total: usize,
    /// Who runs them: `golang-migrate`, `alembic` or `command`.
    pub tool: &'static str,
    /// The applied revision where versions are not numbers (alembic ids, or
    /// the `current` command's last line).
    pub revision: Option<String>,
    /// Pending alembic revisions, oldest first: (id, title).
    pub pending_revisions: Vec<(String, String)>,
    /// The file version before `current` (where a failed `up` left the schema).
    pub previous: Option<u64>,
}

impl MigrationView {
    /// What to do about a dirty database, with the env's name in the command;
    /// None when it is clean.
    pub fn dirty_advice(&self, env: &str) -> Option<String> {
        self.dirty.then(|| {
            super::dirty_advice(self.current.unwrap_or(0), self.previous)
                .replace("migrate ENV ", &format!("migrate {env} "))
        })
    }

    /// The applied version in words: `42`, `ae1027a6acf`, `none`.
    pub fn version_text(&self) -> String {
        match (&self.current, &self.revision) {
            (Some(v), _) => v.to_string(),
            (None, Some(r)) => r.clone(),
            (None, None) => "none".into(),
        }
    }

    /// Pending migrations of either kind.
    pub fn pending_count(&self) -> usize {
        self.pending.len() + self.pending_revisions.len()
    }
}

/// A lint finding, serialisable for `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    /// File name.
    pub file: String,
    /// Line of the statement.
    pub line: usize,
    /// Rule id.
    pub rule: String,
    /// The statement (shortened).
    pub statement: String,
    /// The expand-contract way to do it.
    pub advice: String,
}

impl From<Finding> for LintFinding {
    fn from(f: Finding) -> Self {
        LintFinding {
            file: f.file,
            line: f.line,
            rule: f.rule.to_string(),
            statement: f.statement,
            advice: f.advice,
        }
    }
}

/// An operation on an env's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "op", content = "arg", rename_all = "snake_case")]
pub enum Op {
    /// Apply N pending migrations (all when None).
    Up(Option<usize>),
    /// Revert N migrations.
    Down(usize),
    /// Move to exactly this version, up or down.
    Goto(u64),
    /// Set the version and clear the dirty flag, running nothing.
    Force(Option<u64>),
}

impl Op {
    /// Whether it can lose data or hide a failure: needs confirmation.
    pub fn destructive(self) -> bool {
        !matches!(self, Op::Up(_))
    }

    /// `up`, `down 1`, `goto 5`, `force 7`.
    pub fn describe(self) -> String {
        match self {
            Op::Up(None) => "up".into(),
            Op::Up(Some(n)) => format!("up {n}"),
            Op::Down(n) => format!("down {n}"),
            Op::Goto(v) => format!("goto {v}"),
            Op::Force(Some(v)) => format!("force {v}"),
            Op::Force(None) => "force none".into(),
        }
    }
}

fn open(cfg: &MigrationsConfig) -> Result<(Sqlite, Vec<Migration>), String> {
    let migrations = discover(&cfg.dir).map_err(|e| e.to_string())?;
    match &cfg.sqlite {
        Some(path) => Ok((Sqlite::open(path).map_err(|e| e.to_string())?, migrations)),
        None => Err(
            "[env.migrations] needs `sqlite = \"path.db\"`, or a Postgres URL in the keyring (`shipdeck auth set db:ENV`) or in the variable `database_url_env` names".into(),
        ),
    }
}

/// The Postgres URL: from the variable `database_url_env` names, else from the
/// keyring entry `db:ENV` (or `SHIPDECK_DB_<ENV>_URL`); never from the config file.
/// The URL is remembered for redaction, so its password never reaches the screen.
pub(crate) async fn postgres_url(cfg: &MigrationsConfig) -> Result<String, String> {
    if let Some(var) = &cfg.database_url_env
        && let Ok(url) = std::env::var(var)
        && !url.is_empty()
    {
        crate::redact::remember(&crate::secrets::SecretValue::new(url.clone()));
        return Ok(url);
    }
    let key = crate::credentials::CredentialKey::database(&cfg.env).map_err(|e| e.to_string())?;
    let not_set = match &cfg.database_url_env {
        Some(var) => format!(
            "no database URL for `{}`: ${var} is not set and the keyring has no `{key}`; export it, or run `shipdeck auth set {key}` (reads the URL from stdin)",
            cfg.env
        ),
        None => format!(
            "no database URL for `{}`: run `shipdeck auth set {key}` (reads the URL from stdin), or name a variable with `database_url_env`",
            cfg.env
        ),
    };
    let store = crate::credentials::Credentials::open_async(crate::paths::state_dir())
        .await
        .map_err(|e| format!("{not_set} ({e})"))?;
    match store.get_async(&key).await.map_err(|e| e.to_string())? {
        Some(resolved) => {
            crate::redact::remember(&resolved.value);
            Ok(resolved.value.expose().to_string())
        }
        None => Err(not_set),
    }
}

async fn open_postgres(cfg: &MigrationsConfig) -> Result<(Postgres, Vec<Migration>), String> {
    let migrations = discover(&cfg.dir).map_err(|e| e.to_string())?;
    let url = postgres_url(cfg).await?;
    let db = Postgres::connect(&url, DEFAULT_LOCK_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    Ok((db, migrations))
}

/// Status of any configured database (SQLite off the async threads, Postgres natively).
pub async fn status_any(cfg: MigrationsConfig) -> Result<MigrationView, String> {
    if cfg.tool != MigrationTool::GolangMigrate {
        return super::tool_run::status(&cfg).await;
    }
    match &cfg.sqlite {
        None => {
            let (db, migrations) = open_postgres(&cfg).await?;
            let status = db.status(&migrations).await.map_err(|e| e.to_string())?;
            view(&migrations, status, Dialect::Postgres)
        }
        _ => tokio::task::spawn_blocking(move || status(&cfg))
            .await
            .map_err(|e| e.to_string())?,
    }
}

/// Apply an operation to any configured database.
pub async fn apply_any(cfg: MigrationsConfig, op: Op) -> Result<String, String> {
    apply_streaming(cfg, op, None).await
}

/// [`apply_any`], sending each output line of an external tool (alembic,
/// a command) to `lines` as it comes; golang-migrate runs in-process and
/// sends none.
pub async fn apply_streaming(
    cfg: MigrationsConfig,
    op: Op,
    lines: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> Result<String, String> {
    if cfg.tool != MigrationTool::GolangMigrate {
        return super::tool_run::apply(&cfg, op, lines.as_ref()).await;
    }
    match &cfg.sqlite {
        None => {
            let (mut db, migrations) = open_postgres(&cfg).await?;
            let done = match op {
                Op::Up(n) => summary_up(&db.up(&migrations, n).await.map_err(|e| e.to_string())?),
                Op::Down(n) => format!(
                    "reverted {}",
                    versions(&db.down(&migrations, n).await.map_err(|e| e.to_string())?)
                ),
                Op::Goto(v) => {
                    db.goto(&migrations, v).await.map_err(|e| e.to_string())?;
                    format!("now at {v}")
                }
                Op::Force(v) => {
                    db.force(v).await.map_err(|e| e.to_string())?;
                    forced(v)
                }
            };
            let (current, _) = db.version().await.map_err(|e| e.to_string())?;
            Ok(format!(
                "{done}; version {}",
                current.map_or("none".to_string(), |v| v.to_string())
            ))
        }
        _ => tokio::task::spawn_blocking(move || apply(&cfg, op))
            .await
            .map_err(|e| e.to_string())?,
    }
}

fn summary_up(applied: &[u64]) -> String {
    if applied.is_empty() {
        "nothing to apply".to_string()
    } else {
        format!("applied {}", versions(applied))
    }
}

fn forced(v: Option<u64>) -> String {
    format!(
        "version forced to {}, dirty flag cleared",
        v.map_or("none".to_string(), |v| v.to_string())
    )
}

fn view(
    migrations: &[Migration],
    status: super::sqlite::Status,
    dialect: Dialect,
) -> Result<MigrationView, String> {
    let mut findings = Vec::new();
    for (version, _) in &status.pending {
        if let Some(path) = migrations
            .iter()
            .find(|m| m.version == *version)
            .and_then(|m| m.up.as_ref())
        {
            let sql =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            findings.extend(
                lint_sql(&name, &sql, dialect)
                    .into_iter()
                    .map(LintFinding::from),
            );
        }
    }
    let previous = status
        .current
        .and_then(|v| super::previous_version(migrations, v));
    Ok(MigrationView {
        previous,
        current: status.current,
        dirty: status.dirty,
        pending: status.pending,
        missing: status.missing,
        findings,
        total: migrations.len(),
        tool: MigrationTool::GolangMigrate.label(),
        revision: None,
        pending_revisions: Vec::new(),
    })
}

/// Current version, pending files and lint findings.
pub fn status(cfg: &MigrationsConfig) -> Result<MigrationView, String> {
    let (db, migrations) = open(cfg)?;
    let status = db.status(&migrations).map_err(|e| e.to_string())?;
    view(&migrations, status, Dialect::Sqlite)
}

/// Run an operation; returns a one-line summary.
pub fn apply(cfg: &MigrationsConfig, op: Op) -> Result<String, String> {
    let (mut db, migrations) = open(cfg)?;
    let done = match op {
        Op::Up(n) => {
            let applied = db.up(&migrations, n).map_err(|e| e.to_string())?;
            if applied.is_empty() {
                "nothing to apply".to_string()
            } else {
                format!("applied {}", versions(&applied))
            }
        }
        Op::Down(n) => format!(
            "reverted {}",
            versions(&db.down(&migrations, n).map_err(|e| e.to_string())?)
        ),
        Op::Goto(v) => {
            db.goto(&migrations, v).map_err(|e| e.to_string())?;
            format!("now at {v}")
        }
        Op::Force(v) => {
            db.force(v).map_err(|e| e.to_string())?;
            format!(
                "version forced to {}, dirty flag cleared",
                v.map_or("none".to_string(), |v| v.to_string())
            )
        }
    };
    let (current, _) = db.version().map_err(|e| e.to_string())?;
    Ok(format!(
        "{done}; version {}",
        current.map_or("none".to_string(), |v| v.to_string())
    ))
}

fn versions(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
