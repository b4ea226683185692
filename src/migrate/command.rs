//! Running a migration tool's command (`alembic upgrade head`, `npx prisma
//! migrate deploy`, …) through `sh -c` in the project folder, with the
//! database URL in its environment and every output line sanitised and
//! redacted on its way to the panel or the terminal.

use std::path::Path;

use futures::StreamExt;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc::UnboundedSender;

/// Output lines kept for the error message of a failed command.
const TAIL: usize = 5;

/// Run `cmd` in `dir` with `env` added; each output line goes to `lines`
/// (when given). Returns the last line on success, or an error naming the
/// command, its exit status and its last lines.
pub async fn run(
    cmd: &str,
    dir: &Path,
    env: &[(String, String)],
    lines: Option<&UnboundedSender<String>>,
) -> Result<String, String> {
    let mut command = tokio::process::Command::new("sh");
    crate::child_env::scrub(&mut command, &[]);
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().map_err(|e| {
        format!(
            "cannot start `{cmd}` in {}: {e}; check [env.migrations] dir",
            dir.display()
        )
    })?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("`{cmd}`: no output pipes"));
    };
    let mut merged = futures::stream::select(lines_of(out), lines_of(err));
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    while let Some(line) = merged.next().await {
        let line = crate::sanitize::sanitize(&line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(tx) = lines {
            let _ = tx.send(line.clone());
        }
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().await.map_err(|e| format!("`{cmd}`: {e}"))?;
    let last = tail.back().cloned().unwrap_or_default();
    if status.success() {
        Ok(if last.is_empty() { "done".into() } else { last })
    } else {
        let tail: Vec<String> = tail.into_iter().collect();
        Err(format!(
            "`{cmd}` exited with {status}{}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {}", tail.join(" | "))
            }
        ))
    }
}

/// The lines of a pipe, until it closes or fails.
fn lines_of<R>(r: R) -> futures::stream::BoxStream<'static, String>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    futures::stream::unfold(tokio::io::BufReader::new(r).lines(), |mut l| async move {
        l.next_line().await.ok().flatten().map(|line| (line, l))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_clean_lines_and_reports_failures_with_their_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let got = run(
            "echo \"$GREETING from $(basename \"$PWD\")\"; printf 'evil \\033[2J\\n' >&2",
            dir.path(),
            &[("GREETING".into(), "hello".into())],
            Some(&tx),
        )
        .await
        .unwrap();
        drop(tx);
        let mut lines = Vec::new();
        while let Some(l) = rx.recv().await {
            lines.push(l);
        }
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("hello from ")));
        assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:?}");
        assert!(!got.is_empty());

        let e = run(
            "echo step one; echo boom >&2; exit 3",
            dir.path(),
            &[],
            None,
        )
        .await
        .unwrap_err();
        assert!(e.contains("exited with exit status: 3"), "{e}");
        assert!(e.contains("boom"), "{e}");
    }
}
