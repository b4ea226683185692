//! How commands reach a VPS: on this machine, or through the system `ssh`
//! client.
//!
//! Over ssh, every call runs with `BatchMode` (never a prompt) and strict
//! host key checking (an unknown or changed host key is refused with the
//! commands that verify it; shipdeck never accepts a key by itself), and
//! reuses one master connection per host (`ControlMaster`, kept 60 s), so a
//! deploy does not open fifty connections. The control socket is named after
//! everything that decides what ssh would check (destination, port, key,
//! known_hosts), so a call with another known_hosts never rides a connection
//! checked against a different one.
//!
//! Commands are word lists: each word is quoted for the remote shell
//! ([`crate::shell::quote`]); no value from config, a release name or a file
//! name is interpolated unquoted. Values that must stay secret go on stdin,
//! never in a command line. Every call has a timeout (the child is killed),
//! its exit code is checked by [`Transport::check`], and what it printed
//! comes back sanitised.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::provider::ProviderError;
use crate::sanitize::sanitize;

/// ssh's exit code for its own failures (connection, authentication, host key).
const SSH_FAILED: i32 = 255;

/// Where the commands of an env run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// On this machine, without a shell.
    Local,
    /// On a host through the system `ssh` client.
    Ssh(SshTarget),
}

/// How to reach one host over ssh.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    /// `user@host` or a Host alias.
    pub destination: String,
    /// The port, when not ssh's default.
    pub port: Option<u16>,
    /// The private key (else the agent and ssh's defaults).
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file (else ssh's own).
    pub known_hosts: Option<PathBuf>,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its standard output, as bytes.
    pub stdout: Vec<u8>,
    /// Its standard error, sanitised.
    pub stderr: String,
    /// Its exit code (-1 when killed by a signal).
    pub code: i32,
}

impl SshTarget {
    /// `deploy@host:2222`, for messages.
    pub fn describe(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.destination),
            None => self.destination.clone(),
        }
    }

    /// The host part of the destination (`host` of `user@host`).
    fn host(&self) -> &str {
        self.destination
            .rsplit_once('@')
            .map_or(self.destination.as_str(), |(_, h)| h)
    }

    /// The known_hosts name ssh looks the host up by (`[host]:port` off port 22).
    fn known_hosts_name(&self) -> String {
        match self.port {
            Some(p) if p != 22 => format!("[{}]:{p}", self.host()),
            _ => self.host().to_string(),
        }
    }

    /// The control socket of this target's master connection, when a
    /// private folder for it exists.
    fn control_path(&self) -> Option<PathBuf> {
        let name = super::hex_sha256(format!("{self:?}").as_bytes());
        control_dir().map(|d| d.join(&name[..20]))
    }

    /// ssh's options for this target, before the destination.
    fn options(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "-T",
            "-o",
            "ForwardAgent=no",
            "-o",
            "ClearAllForwardings=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=2",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        // Without a private folder for the socket, no shared connection at all.
        if let Some(path) = self.control_path() {
            args.extend([
                "-o".to_string(),
                "ControlMaster=auto".into(),
                "-o".into(),
                "ControlPersist=60".into(),
                "-o".into(),
                format!("ControlPath={}", path.display()),
            ]);
        } else {
            args.extend(["-o".to_string(), "ControlMaster=no".into()]);
        }
        if let Some(k) = &self.known_hosts {
            args.push("-o".into());
            args.push(format!("UserKnownHostsFile={}", k.display()));
        }
        if let Some(i) = &self.identity_file {
            args.push("-i".into());
            args.push(i.display().to_string());
            args.push("-o".into());
            args.push("IdentitiesOnly=yes".into());
        }
        if let Some(p) = self.port {
            args.push("-p".into());
            args.push(p.to_string());
        }
        args
    }

    /// What to do about ssh's own failure, from its stderr.
    pub(super) fn failure(&self, stderr: &str) -> ProviderError {
        let host = self.describe();
        let name = self.known_hosts_name();
        let port = self.port.map(|p| format!("-p {p} ")).unwrap_or_default();
        let file = self
            .known_hosts
            .as_ref()
            .map_or("~/.ssh/known_hosts".to_string(), |p| {
                p.display().to_string()
            });
        let bare = self.host();
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("has changed and you have requested strict checking")
        {
            return ProviderError::HostKey {
                host,
                changed: true,
                advice: format!(
                    "find out why before anything else (a rebuilt server, or someone in between); once the new key is confirmed with the host's console, remove the old one with `ssh-keygen -f {file} -R '{name}'` and add the new one"
                ),
            };
        }
        if stderr.contains("Host key verification failed")
            || stderr.contains("No ") && stderr.contains("host key is known")
        {
            return ProviderError::HostKey {
                host,
                changed: false,
                advice: format!(
                    "see its fingerprint with `ssh-keyscan {port}{bare} | ssh-keygen -lf -`, compare it with the one the host's console or provider shows, then add it: `ssh-keyscan {port}{bare} >> {file}`"
                ),
            };
        }
        let last = last_line(stderr);
        if stderr.contains("Permission denied") {
            return ProviderError::Command {
                command: format!("ssh {host}"),
                reason: format!(
                    "{last}: the host refused the key; add your public key to the deploy user's ~/.ssh/authorized_keys, load it in the agent (`ssh-add`), or set `identity_file` in [env.vps]"
                ),
            };
        }
        ProviderError::Unreachable {
            target: host,
            reason: if last.is_empty() {
                "ssh failed without saying why".into()
            } else {
                last
            },
        }
    }
}

/// Where the control sockets live: a folder of this user's that no one
/// else can use (a socket path must stay short, so not the state dir), in
/// `XDG_RUNTIME_DIR` where there is one. None when it cannot be made so
/// (someone else's folder, or a symlink, at that path): a socket there could
/// be someone else's, and would receive our commands.
fn control_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let uid = unsafe { libc::geteuid() };
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("shipdeck-ssh-{uid}"));
    if std::fs::create_dir(&dir).is_ok() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

/// What a command printed, made safe for a terminal line by line (so the
/// lines stay lines).
pub fn sanitized_lines(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

impl Transport {
    /// `deploy@host:2222`, or `this machine`.
    pub fn describe(&self) -> String {
        match self {
            Transport::Local => "this machine".into(),
            Transport::Ssh(t) => t.describe(),
        }
    }

    /// The process that runs `argv` there (not started), from a scrubbed
    /// environment; for calls that stream (logs) or hold (a lock).
    pub fn command(&self, argv: &[String]) -> tokio::process::Command {
        let mut cmd = match self {
            Transport::Local => {
                let mut c = tokio::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
            Transport::Ssh(t) => {
                let mut c = tokio::process::Command::new("ssh");
                c.args(t.options());
                c.arg("--")
                    .arg(&t.destination)
                    .arg(crate::shell::join(argv));
                c
            }
        };
        crate::child_env::scrub(&mut cmd, &[]);
        cmd.kill_on_drop(true);
        cmd
    }

    /// What a person would type to run `argv` there.
    pub fn shell_equivalent(&self, argv: &[String]) -> String {
        match self {
            Transport::Local => crate::shell::join(argv),
            Transport::Ssh(t) => {
                let port = t.port.map(|p| format!("-p {p} ")).unwrap_or_default();
                format!(
                    "ssh {port}{} {}",
                    crate::shell::quote(&t.destination),
                    crate::shell::quote(&crate::shell::join(argv))
                )
            }
        }
    }

    /// Run `argv` there with `stdin` (or none), within `timeout`; any exit code.
    pub async fn run(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, ProviderError> {
        let what = || format!("{} on {}", argv.join(" "), self.describe());
        // The host stops the command itself at the limit (a killed ssh
        // client leaves it running there); shipdeck waits a little longer.
        let secs = timeout.as_secs().max(1);
        let mut bounded = vec![
            "timeout".to_string(),
            "-k".into(),
            "5".into(),
            secs.to_string(),
        ];
        bounded.extend(argv.iter().cloned());
        let mut cmd = self.command(&bounded);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| ProviderError::Command {
            command: sanitize(&self.shell_equivalent(argv)),
            reason: format!("cannot start it: {e}"),
        })?;
        let pipe = child.stdin.take();
        let feed = async move {
            if let (Some(bytes), Some(mut pipe)) = (stdin, pipe) {
                // A command that exits without reading all of it is judged by its exit code.
                let _ = pipe.write_all(bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        let run = async {
            let ((), out) = tokio::join!(feed, child.wait_with_output());
            out
        };
        let out = match tokio::time::timeout(Duration::from_secs(secs + 10), run).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    target: sanitize(&what()),
                    after: timeout,
                });
            }
            Ok(Err(e)) => {
                return Err(ProviderError::Command {
                    command: sanitize(&what()),
                    reason: e.to_string(),
                });
            }
            Ok(Ok(out)) => out,
        };
        let code = out.status.code().unwrap_or(-1);
        // timeout(1)'s own codes: the limit was reached (124, or 137 after -k).
        if code == 124 || code == 137 {
            return Err(ProviderError::Timeout {
                target: sanitize(&what()),
                after: timeout,
            });
        }
        let stderr = sanitized_lines(&out.stderr);
        if let Transport::Ssh(t) = self
            && code == SSH_FAILED
        {
            return Err(t.failure(&stderr));
        }
        Ok(Output {
            stdout: out.stdout,
            stderr,
            code,
        })
    }

    /// Run `argv` there and require exit code 0; its standard output.
    pub async fn check(
        &self,
        argv: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ProviderError> {
        let out = self.run(argv, stdin, timeout).await?;
        out.success(&format!(
            "{} (on {})",
            crate::shell::join(argv),
            self.describe()
        ))
    }
}

impl Output {
    /// Its standard output when it exited 0; else a failure naming
    /// `command` with its exit code and the last lines it printed.
    pub fn success(self, command: &str) -> Result<Vec<u8>, ProviderError> {
        if self.code == 0 {
            return Ok(self.stdout);
        }
        // Only what it said on stderr: its stdout may be a file's content (an env file's values).
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let said = lines[lines.len().saturating_sub(3)..].join(" / ");
        Err(ProviderError::Command {
            command: sanitize(command),
            reason: if said.trim().is_empty() {
                format!("exit code {}", self.code)
            } else {
                format!("exit code {}: {}", self.code, said.trim())
            },
        })
    }
}

/// Words for `sh -c SCRIPT` with positional arguments: the script is fixed
/// text, every value reaches it as `$1`, `$2`, … and is never parsed as shell.
pub fn script(body: &str, args: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        body.to_string(),
        "shipdeck".to_string(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_string()));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: Option<u16>) -> SshTarget {
        SshTarget {
            destination: "deploy@203.0.113.10".into(),
            port,
            identity_file: None,
            known_hosts: None,
        }
    }

    #[test]
    fn known_hosts_names_a_port_off_22_in_brackets() {
        assert_eq!(target(None).known_hosts_name(), "203.0.113.10");
        assert_eq!(target(Some(22)).known_hosts_name(), "203.0.113.10");
        assert_eq!(target(Some(2222)).known_hosts_name(), "[203.0.113.10]:2222");
    }

    #[test]
    fn another_known_hosts_file_gets_another_master_connection() {
        let a = target(Some(2222));
        assert!(
            a.control_path().is_some(),
            "a private folder for the socket"
        );
        let mut b = a.clone();
        b.known_hosts = Some("/tmp/other".into());
        assert_ne!(a.control_path(), b.control_path());
        assert_eq!(a.control_path(), target(Some(2222)).control_path());
    }

    #[test]
    fn ssh_failures_say_what_to_do() {
        let t = target(Some(2222));
        let unknown = t.failure("No ED25519 host key is known for [203.0.113.10]:2222 and you have requested strict checking.\nHost key verification failed.\n");
        let text = unknown.to_string();
        assert!(
            matches!(unknown, ProviderError::HostKey { changed: false, .. }),
            "{text}"
        );
        assert!(
            text.contains("ssh-keyscan -p 2222 203.0.113.10 | ssh-keygen -lf -"),
            "{text}"
        );
        let changed = t.failure("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.");
        assert!(matches!(
            changed,
            ProviderError::HostKey { changed: true, .. }
        ));
        assert!(
            changed
                .to_string()
                .contains("ssh-keygen -f ~/.ssh/known_hosts -R '[203.0.113.10]:2222'"),
            "{changed}"
        );
        let refused = t.failure("deploy@203.0.113.10: Permission denied (publickey).");
        assert!(refused.to_string().contains("authorized_keys"), "{refused}");
        let down = t.failure("ssh: connect to host 203.0.113.10 port 2222: Connection refused");
        assert!(matches!(down, ProviderError::Unreachable { .. }), "{down}");
    }

    #[test]
    fn a_script_takes_values_as_arguments_never_as_code() {
        let argv = script("echo \"$1\"", &["v1; rm -rf /"]);
        let line = crate::shell::join(&argv);
        assert_eq!(line, "sh -c 'echo \"$1\"' shipdeck 'v1; rm -rf /'");
    }
}
