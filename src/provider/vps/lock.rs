//! The lock on the host that two operators' deploys share: a `flock` on a
//! file there, held by a shell that lives as long as shipdeck's connection.
//!
//! Protocol: the shell opens the lock file on fd 9 and asks `flock -w 5 9`
//! (a few seconds' grace for a holder that is just letting go). Granted, it
//! writes the holder line beside it (`FILE.holder`, with the shell's pid on
//! the host, for a person who must end a stuck one), prints
//! `locked`, and waits for its stdin to close; shipdeck keeps that stdin open
//! for as long as it acts and closes it (or dies, or loses the connection:
//! the kernel and sshd close it then) to release. Refused, it prints `held`
//! and the holder line and exits 75. The holder line is only ever read when
//! the lock is refused, so a stale one left by a killed holder is harmless:
//! the flock itself is the truth. shipdeck checks that its holder is still
//! alive before each change it makes under the lock ([`RemoteLock::alive`]),
//! and waits for it to end when it lets go ([`RemoteLock::release`]), so the
//! revert that follows a failed deploy never meets its own lock.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::Child;

use super::transport::{Transport, script};
use crate::provider::ProviderError;
use crate::sanitize::sanitize;

const HOLD: &str = r#"exec 9>>"$1" || exit 3
if ! flock -w 5 9; then printf 'held\t'; cat -- "$1.holder" 2>/dev/null; exit 75; fi
printf '%s (pid %s on the host)\n' "$2" "$$" > "$1.holder"
echo locked
cat >/dev/null
exit 0
"#;

/// A held lock: released when dropped, or by [`RemoteLock::release`].
#[derive(Debug)]
pub struct RemoteLock {
    holder: Child,
    what: String,
}

impl RemoteLock {
    /// Still held: its holder has not ended (a lost connection ends it).
    pub fn alive(&mut self) -> Result<(), ProviderError> {
        match self.holder.try_wait() {
            Ok(None) => Ok(()),
            _ => Err(ProviderError::Command {
                command: format!("flock {}", self.what),
                reason: "the lock on the host was lost (the connection holding it ended); nothing more was changed: look at the host, then deploy again".into(),
            }),
        }
    }

    /// Let go, and wait (a few seconds at most) until the host has.
    pub async fn release(mut self) {
        drop(self.holder.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.holder.wait()).await;
    }
}

/// Take the lock `file` on the host of `transport` for `holder` (a line
/// naming who and what), or say who holds it.
pub async fn acquire(
    transport: &Transport,
    file: &str,
    holder: &str,
    timeout: Duration,
) -> Result<RemoteLock, ProviderError> {
    let argv = script(HOLD, &[file, holder]);
    let mut cmd = transport.command(&argv);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| ProviderError::Command {
        command: "lock".into(),
        reason: format!("cannot start it: {e}"),
    })?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(timeout + Duration::from_secs(5), lines.next_line()).await;
    let where_ = format!("{file} on {}", transport.describe());
    match first {
        Ok(Ok(Some(line))) if line == "locked" => Ok(RemoteLock {
            holder: child,
            what: sanitize(&where_),
        }),
        Ok(Ok(Some(line))) if line.starts_with("held") => {
            let owner = line.trim_start_matches("held").trim();
            Err(ProviderError::Held {
                what: sanitize(&where_),
                owner: if owner.is_empty() {
                    "another deploy (it wrote no holder line)".into()
                } else {
                    sanitize(owner)
                },
                until: "it finishes".into(),
            })
        }
        Err(_) => Err(ProviderError::Timeout {
            target: sanitize(&format!("taking the lock {where_}")),
            after: timeout,
        }),
        _ => {
            let out = child.wait_with_output().await.ok();
            let code = out.as_ref().and_then(|o| o.status.code()).unwrap_or(-1);
            let stderr = out
                .map(|o| sanitize(&String::from_utf8_lossy(&o.stderr)))
                .unwrap_or_default();
            if let (Transport::Ssh(t), 255) = (transport, code) {
                return Err(t.failure(&stderr));
            }
            Err(ProviderError::Command {
                command: sanitize(&format!("flock {where_}")),
                reason: if stderr.trim().is_empty() {
                    format!(
                        "the lock command ended (exit code {code}) without an answer: is `flock` (util-linux) installed there, and may this user write {file}?"
                    )
                } else {
                    stderr.trim().to_string()
                },
            })
        }
    }
}
