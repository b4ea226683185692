//! Running a migration tool's command (`alembic upgrade head`, `npx prisma
//! migrate deploy`, …) through `sh -c` in the project folder, with the
//! database URL in its environment and every output line sanitised and
//! redacted on its way to the panel or the terminal.

use std::path::Path;

use futures::StreamExt;
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
    timeout: std::time::Duration,
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
    use crate::logs::source::pipe_lines;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("`{cmd}`: no output pipes"));
    };
    let mut merged = futures::stream::select(pipe_lines(out), pipe_lines(err));
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let line = match tokio::time::timeout_at(deadline, merged.next()).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => {
                let _ = child.kill().await;
                return Err(format!(
                    "`{cmd}` did not finish within {}s and was stopped; raise [env.migrations] timeout if it needs longer",
                    timeout.as_secs()
                ));
            }
        };
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
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status.map_err(|e| format!("`{cmd}`: {e}"))?,
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!(
                "`{cmd}` closed its output but did not exit within {}s and was stopped",
                timeout.as_secs()
            ));
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LONG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn output_that_is_not_utf8_never_stalls_the_command() {
        let dir = tempfile::tempdir().unwrap();
        // Invalid UTF-8 first, then more output than a pipe holds: a reader
        // that stopped at the first bad line would leave the child blocked.
        let got = run(
            "printf 'bad \\377\\376 bytes\\n'; head -c 300000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo; echo finished",
            dir.path(),
            &[],
            LONG,
            None,
        )
        .await
        .unwrap();
        assert_eq!(got, "finished");
    }

    #[tokio::test]
    async fn a_command_past_its_time_limit_is_stopped_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let e = run(
            "echo started; sleep 30",
            dir.path(),
            &[],
            Duration::from_millis(300),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("did not finish within") && e.contains("[env.migrations] timeout"),
            "{e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stopped, not waited out"
        );
    }

    #[tokio::test]
    async fn streams_clean_lines_and_reports_failures_with_their_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let got = run(
            "echo \"$GREETING from $(basename \"$PWD\")\"; printf 'evil \\033[2J\\n' >&2",
            dir.path(),
            &[("GREETING".into(), "hello".into())],
            LONG,
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
            LONG,
            None,
        )
        .await
        .unwrap_err();
        assert!(e.contains("exited with exit status: 3"), "{e}");
        assert!(e.contains("boom"), "{e}");
    }
}
