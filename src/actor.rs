//! Who acts: the login and machine recorded on locks, releases and audit lines.

use serde::Serialize;

/// Who acts: recorded on locks, releases and audit lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// Login name.
    pub user: String,
    /// Machine name.
    pub host: String,
}

impl Actor {
    /// The current user on this machine.
    pub fn current() -> Actor {
        let user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .or_else(login_from_passwd)
            .unwrap_or_else(|| "unknown".into());
        Actor {
            user,
            host: hostname(),
        }
    }

    /// `user@host`.
    pub fn describe(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

/// The login name of this process's uid, from /etc/passwd (when $USER is unset, e.g. under cron or CI).
fn login_from_passwd() -> Option<String> {
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_string())
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
