//! Migrations owned by another tool (`tool = "alembic"` or `"command"`):
//! status from the tool's own bookkeeping, operations by running the tool
//! with the env's database URL in `DATABASE_URL`.

use std::path::Path;

use tokio::sync::mpsc::UnboundedSender;

use super::alembic;
use super::command;
use super::run::{MigrationView, Op};
use crate::config::{MigrationTool, MigrationsConfig};

/// alembic's own commands, used when the config names none.
const ALEMBIC_UP: &str = "alembic upgrade head";
const ALEMBIC_DOWN: &str = "alembic downgrade -1";

/// Why shipdeck cannot read or run a workflow's migrations itself.
fn workflow_owned(cfg: &MigrationsConfig) -> String {
    format!(
        "the migrations of `{}` run in the GitHub workflow `{}`, which keeps their version: shipdeck dispatches it as a promotion's first step; look at its runs for the state",
        cfg.env,
        cfg.workflow.as_deref().unwrap_or("?")
    )
}

/// Status of an alembic or command-driven env.
pub async fn status(cfg: &MigrationsConfig) -> Result<MigrationView, String> {
    match cfg.tool {
        MigrationTool::GithubActions => Err(workflow_owned(cfg)),
        MigrationTool::Alembic => {
            let revs = alembic::revisions(&cfg.dir).map_err(|e| e.to_string())?;
            let applied = alembic_version(cfg).await?;
            let pending = alembic::pending(&revs, &applied);
            Ok(tool_view(
                cfg,
                (!applied.is_empty()).then(|| applied.join(",")),
                pending,
                revs.len(),
            ))
        }
        _ => {
            let cmd = cfg
                .current
                .as_deref()
                .ok_or("tool = \"command\" needs a `current` command")?;
            let env = database_env(cfg).await;
            let last = command::run(cmd, &cfg.dir, &env, cfg.command_timeout(), None).await?;
            Ok(tool_view(
                cfg,
                Some(crate::redact::apply(&last).into_owned()),
                Vec::new(),
                0,
            ))
        }
    }
}

/// The view of a tool-owned env: no numeric version, no files of ours to lint.
fn tool_view(
    cfg: &MigrationsConfig,
    revision: Option<String>,
    pending_revisions: Vec<(String, String)>,
    total: usize,
) -> MigrationView {
    MigrationView {
        previous: None,
        current: None,
        dirty: false,
        pending: Vec::new(),
        missing: Vec::new(),
        findings: Vec::new(),
        total,
        tool: cfg.tool.label(),
        revision,
        pending_revisions,
    }
}

/// Run `op` with the tool; output lines go to `lines`.
pub async fn apply(
    cfg: &MigrationsConfig,
    op: Op,
    lines: Option<&UnboundedSender<String>>,
) -> Result<String, String> {
    if cfg.tool == MigrationTool::GithubActions {
        return Err(workflow_owned(cfg));
    }
    let cmd = command_for(cfg, op)?;
    let env = database_env(cfg).await;
    let last = command::run(&cmd, &cfg.dir, &env, cfg.command_timeout(), lines).await?;
    Ok(format!("`{cmd}`: {last}"))
}

/// The command that performs `op` for this tool, or why there is none.
pub fn command_for(cfg: &MigrationsConfig, op: Op) -> Result<String, String> {
    let alembic = cfg.tool == MigrationTool::Alembic;
    let tool = cfg.tool.label();
    match op {
        Op::Up(None) => cfg
            .up
            .clone()
            .or_else(|| alembic.then(|| ALEMBIC_UP.to_string()))
            .ok_or_else(|| format!("tool = \"{tool}\" needs an `up` command")),
        Op::Up(Some(n)) if alembic => Ok(format!("alembic upgrade +{n}")),
        Op::Down(1) => cfg
            .down
            .clone()
            .or_else(|| alembic.then(|| ALEMBIC_DOWN.to_string()))
            .ok_or_else(|| {
                format!("tool = \"{tool}\" has no `down` command; add one to [env.migrations]")
            }),
        Op::Down(n) if alembic => Ok(format!("alembic downgrade -{n}")),
        Op::Up(Some(_)) | Op::Down(_) => Err(format!(
            "tool = \"{tool}\" runs its `up`/`down` commands whole; `{}` needs golang-migrate files",
            op.describe()
        )),
        Op::Goto(_) | Op::Force(_) if alembic => Err(format!(
            "alembic revisions are ids, not numbers: run `alembic upgrade REV` or `alembic stamp REV` in {}",
            cfg.dir.display()
        )),
        Op::Goto(_) | Op::Force(_) => Err(format!(
            "tool = \"{tool}\" has no `{}`; use the tool itself in {}",
            op.describe(),
            cfg.dir.display()
        )),
    }
}

/// `DATABASE_URL` for the tool (when shipdeck knows the database), and `SHIPDECK_ENV`.
pub async fn database_env(cfg: &MigrationsConfig) -> Vec<(String, String)> {
    let mut env = vec![("SHIPDECK_ENV".to_string(), cfg.env.clone())];
    let url = match &cfg.sqlite {
        Some(path) => Some(format!("sqlite:///{}", absolute(path).display())),
        None => super::run::postgres_url(cfg).await.ok(),
    };
    if let Some(url) = url {
        env.push(("DATABASE_URL".to_string(), url));
    }
    env
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The revisions in `alembic_version` (none when the table does not exist yet).
async fn alembic_version(cfg: &MigrationsConfig) -> Result<Vec<String>, String> {
    const QUERY: &str = "SELECT version_num FROM alembic_version ORDER BY version_num";
    if let Some(path) = cfg.sqlite.clone() {
        return tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut stmt = match db.prepare(QUERY) {
                Ok(s) => s,
                Err(e) if e.to_string().contains("no such table") => return Ok(Vec::new()),
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            stmt.query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .await
        .map_err(|e| e.to_string())?;
    }
    let url = super::run::postgres_url(cfg).await?;
    let (client, connection) = super::postgres::open_client(&url)
        .await
        .map_err(|e| e.to_string())?;
    let rows = client.query(QUERY, &[]).await;
    connection.abort();
    match rows {
        Ok(rows) => Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect()),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            Ok(Vec::new())
        }
        Err(e) => Err(format!("reading alembic_version: {e}")),
    }
}
