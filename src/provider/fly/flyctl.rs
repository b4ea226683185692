//! Deploys through `flyctl deploy --image` (when `deploy_via = "flyctl"`):
//! no shell, the token only in the child's `FLY_API_TOKEN`, output captured
//! (sanitised) for the error of a failed run.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::auth::Token;
use crate::provider::{CallRecord, CallSink, ProviderError};
use crate::sanitize::sanitize;

/// Output lines kept for an error message.
const TAIL: usize = 15;

/// `flyctl deploy --app APP --image REF --yes` (the argv, without the program).
pub fn deploy_args(app: &str, image: &str) -> Vec<String> {
    vec![
        "deploy".into(),
        "--app".into(),
        app.into(),
        "--image".into(),
        image.into(),
        "--yes".into(),
    ]
}

/// Run flyctl with `args`; the token goes in the child's environment only.
pub async fn run(
    program: &Path,
    args: &[String],
    token: &Token,
    calls: &CallSink,
) -> Result<(), ProviderError> {
    let shown = format!("flyctl {}", args.join(" "));
    let command = sanitize(&shown);
    let Some(path) = locate(program) else {
        return Err(ProviderError::Command {
            command,
            reason: format!(
                "`{}` is not installed or not on PATH; install flyctl (https://fly.io/docs/flyctl/install/) or set deploy_via = \"api\"",
                sanitize(&program.display().to_string())
            ),
        });
    };
    let started = Instant::now();
    let at = chrono::Utc::now();
    let mut child_command = Command::new(&path);
    crate::child_env::scrub(&mut child_command, &[]);
    let mut child = child_command
        .args(args)
        .env("FLY_API_TOKEN", token.expose())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProviderError::Command {
            command: command.clone(),
            reason: sanitize(&e.to_string()),
        })?;
    let (tail_out, tail_err) = tokio::join!(tail(child.stdout.take()), tail(child.stderr.take()),);
    let status = child.wait().await.map_err(|e| ProviderError::Command {
        command: command.clone(),
        reason: sanitize(&e.to_string()),
    })?;
    calls.record(CallRecord {
        at,
        provider: "fly".into(),
        method: "exec".into(),
        target: command.clone(),
        status: status.code().map(|c| c as u16),
        duration: started.elapsed(),
        note: format!("{status}"),
    });
    if status.success() {
        return Ok(());
    }
    let mut lines: Vec<String> = tail_out.into_iter().chain(tail_err).collect();
    let cut = lines.len().saturating_sub(TAIL);
    lines.drain(..cut);
    // flyctl never prints the token, but make sure a line echoing it cannot leak.
    let secret = token.expose();
    let output = lines
        .iter()
        .map(|l| {
            if !secret.is_empty() && l.contains(secret) {
                "[line withheld: it held the token]".to_string()
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" | ");
    Err(ProviderError::Command {
        command,
        reason: format!("exited with {status}: {output}"),
    })
}

/// The last lines of a child's output, sanitised. Reads to the end whatever the bytes
/// are (lossy UTF-8), so the child never blocks on a full pipe.
async fn tail<R: AsyncRead + Unpin>(reader: Option<R>) -> VecDeque<String> {
    let mut out = VecDeque::new();
    let Some(reader) = reader else {
        return out;
    };
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if out.len() == TAIL {
            out.pop_front();
        }
        out.push_back(sanitize(line));
    }
    out
}

/// A path as given, or a bare name looked up on `PATH`.
fn locate(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}
