//! One plan per env at a time: a lock file per env.
//!
//! The lock is `dir/<env>.lock`, created with `O_CREAT | O_EXCL` so that of
//! several processes (or threads) racing for the same env exactly one wins;
//! the file holds the [`LockHolder`] as JSON so the losers learn who holds
//! it. A lock whose holder process is gone (same host, pid no longer alive),
//! or a lock file that is unreadable and older than a minute (a crash between
//! creating and writing it), is stale and is taken over. Breaking a stale
//! lock happens under a short `flock` on `dir/<env>.lock.guard` so two
//! processes breaking the same stale lock cannot delete each other's fresh
//! one. An [`EnvLock`] is released when dropped.

// `LockError::Held` carries the full holder by design (callers show it), so
// the error is large; lock calls are rare, the size does not matter.
#![allow(clippy::result_large_err)]

use crate::fsutil::{FlockGuard, create_private_dir, sync_dir};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How old an unreadable lock file must be before it counts as stale.
const UNREADABLE_STALE_AFTER: Duration = Duration::from_secs(60);
/// How long to wait for a just-created lock file to receive its content.
const CONTENT_WAIT: Duration = Duration::from_secs(1);
/// Bound on retries when the lock file appears and disappears under us.
const MAX_ATTEMPTS: usize = 8;

/// Who holds an env's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Login name of the holder.
    pub user: String,
    /// Machine the holder runs on.
    pub host: String,
    /// Process id of the holder on `host`.
    pub pid: u32,
    /// When the lock was taken.
    pub started: DateTime<Utc>,
    /// The plan holding the lock.
    pub plan_id: String,
    /// What the plan does (`promote`, `rollback`, ...).
    pub action: String,
    /// The plan paused at this step after a failed gate: the lock is held
    /// for it, whether or not its process still runs, until someone
    /// continues, rolls back or abandons it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

impl LockHolder {
    /// A one-line description, e.g.
    /// `alice@build-01 (pid 4242, promote, since 2026-11-25 09:41 UTC)`.
    pub fn describe(&self) -> String {
        let paused = self
            .paused
            .as_ref()
            .map(|step| {
                format!(
                    ", paused at {step}: `shipdeck resume {}` continues, rolls back or abandons it",
                    self.plan_id
                )
            })
            .unwrap_or_default();
        format!(
            "{}@{} (pid {}, {}, since {}{paused})",
            self.user,
            self.host,
            self.pid,
            self.action,
            self.started.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// Why a lock could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the env.
    #[error(
        "env {env} is locked by {}: wait for that plan to finish; if that process is gone (it crashed on another host, or its host rebooted), remove {}",
        .holder.describe(),
        .path.display()
    )]
    Held {
        /// The env asked for.
        env: String,
        /// Who holds it.
        holder: LockHolder,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file or its directory could not be read or written.
    #[error("cannot use the env lock at {}: {source}; check that the lock directory exists, is a directory and is writable by you", .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A held env lock. Released (best effort) on drop: the file is removed only
/// if it still names this lock's plan.
#[derive(Debug)]
pub struct EnvLock {
    path: PathBuf,
    holder: LockHolder,
    released: bool,
}

impl EnvLock {
    /// Who holds this lock (us).
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    /// Release the lock now: remove the file if it still names our plan.
    pub fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        remove_if_ours(&self.path, &self.holder.plan_id)
    }

    /// Keep the lock for a paused plan after this process is gone: marked
    /// paused at `step`, it is never stale, and only that plan's resume
    /// ([`EnvLock::adopt`]) takes it back.
    pub fn hold_paused(mut self, step: &str) -> Result<(), LockError> {
        self.released = true;
        self.holder.paused = Some(step.to_string());
        replace_contents(&self.path, &self.holder).map_err(|source| LockError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Resume after a crash or a pause: take over the lock of `env` if it names
    /// `plan_id` and its holder is gone (or is already this process),
    /// rewriting its pid and host to ours. `None` when there is no such lock.
    pub fn adopt(dir: &Path, env: &str, plan_id: &str) -> Option<EnvLock> {
        let path = lock_path(dir, env);
        let read = || {
            serde_json::from_slice::<LockHolder>(&fs::read(&path).ok()?)
                .ok()
                .filter(|h| h.plan_id == plan_id)
        };
        read()?;
        let _guard = FlockGuard::take(&guard_path(dir, env)).ok()?;
        // Re-read under the guard: someone may have broken it meanwhile.
        let mut holder = read()?;
        let host = this_host();
        let pid = std::process::id();
        let ours_already = holder.host == host && holder.pid == pid;
        if !ours_already && holder.paused.is_none() && !is_stale_holder(&holder, &host) {
            return None;
        }
        holder.host = host;
        holder.pid = pid;
        holder.paused = None;
        replace_contents(&path, &holder).ok()?;
        Some(EnvLock {
            path,
            holder,
            released: false,
        })
    }
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            let _ = remove_if_ours(&self.path, &self.holder.plan_id);
        }
    }
}

/// Take the lock of `env` in `dir` for `holder`.
///
/// Creates `dir` (mode 0700) if missing. A stale lock is removed and the
/// acquisition retried once; a live one gives [`LockError::Held`].
pub fn acquire(dir: &Path, env: &str, holder: LockHolder) -> Result<EnvLock, LockError> {
    create_private_dir(dir).map_err(|source| LockError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = lock_path(dir, env);
    let host = this_host();
    let mut broke_stale = false;
    for _ in 0..MAX_ATTEMPTS {
        if try_create(&path, &holder)? {
            let _ = sync_dir(dir);
            return Ok(EnvLock {
                path,
                holder,
                released: false,
            });
        }
        let held = |h: LockHolder| LockError::Held {
            env: env.to_string(),
            holder: h,
            path: path.clone(),
        };
        match inspect(&path, &host) {
            Found::Gone => continue,
            Found::Live(h) => return Err(held(h)),
            Found::Young(h) => return Err(held(h)),
            Found::Stale { holder: h, bytes } => {
                if broke_stale {
                    return Err(held(h));
                }
                broke_stale = true;
                remove_stale(dir, env, &path, &bytes, &host)?;
            }
        }
    }
    Err(LockError::Io {
        path,
        source: std::io::Error::other("the lock file kept appearing and disappearing; try again"),
    })
}

/// Who holds the lock of `env` now; `None` if it is free, stale or unreadable.
pub fn holder(dir: &Path, env: &str) -> Option<LockHolder> {
    let path = lock_path(dir, env);
    let bytes = fs::read(path).ok()?;
    let holder: LockHolder = serde_json::from_slice(&bytes).ok()?;
    if is_stale_holder(&holder, &this_host()) {
        None
    } else {
        Some(holder)
    }
}

/// The lock file of `env`.
fn lock_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{}.lock", sanitize(env)))
}

/// The flock file serialising stale-lock removal and adoption for `env`.
fn guard_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{}.lock.guard", sanitize(env)))
}

/// Keep `[A-Za-z0-9._-]`, replace everything else with `_`; never empty and
/// never a dot-only name.
fn sanitize(env: &str) -> String {
    let mut out: String = env
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = out.replace('.', "_");
        out.insert(0, '_');
    }
    out
}

/// This machine's name.
fn this_host() -> String {
    super::hostname()
}

/// Whether `pid` names a live process on this machine.
#[cfg(unix)]
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        // 0 and negatives address process groups, never a lock holder.
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn pid_alive(_pid: u32) -> bool {
    true
}

/// A parsed holder is stale when it ran on this host and its process is gone.
fn is_stale_holder(holder: &LockHolder, host: &str) -> bool {
    holder.paused.is_none() && holder.host == host && !pid_alive(holder.pid)
}

/// Try to create the lock file exclusively and fill it. `Ok(false)` if it exists.
fn try_create(path: &Path, holder: &LockHolder) -> Result<bool, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    let json = serde_json::to_vec(holder).map_err(|e| io(std::io::Error::other(e)))?;
    if let Err(e) = file.write_all(&json).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(io(e));
    }
    Ok(true)
}

/// What an existing lock file says.
enum Found {
    /// It vanished before we could read it.
    Gone,
    /// A live holder (or one we cannot judge: another host).
    Live(LockHolder),
    /// Unreadable but recent: probably being written right now.
    Young(LockHolder),
    /// Takeover candidate; `bytes` is what we read, to compare before removing.
    Stale { holder: LockHolder, bytes: Vec<u8> },
}

fn inspect(path: &Path, host: &str) -> Found {
    let deadline = SystemTime::now() + CONTENT_WAIT;
    loop {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Found::Gone,
            Err(_) => Vec::new(),
        };
        if let Ok(holder) = serde_json::from_slice::<LockHolder>(&bytes) {
            return if is_stale_holder(&holder, host) {
                Found::Stale { holder, bytes }
            } else {
                Found::Live(holder)
            };
        }
        let modified = match fs::metadata(path).and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Found::Gone,
            Err(_) => SystemTime::now(),
        };
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        let placeholder = LockHolder {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            started: DateTime::<Utc>::from(modified),
            plan_id: String::new(),
            action: "unreadable lock file".into(),
            paused: None,
        };
        if age > UNREADABLE_STALE_AFTER {
            return Found::Stale {
                holder: placeholder,
                bytes,
            };
        }
        if SystemTime::now() >= deadline {
            return Found::Young(placeholder);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Remove a stale lock under the guard, only if it still has the content we
/// judged stale and is still stale.
fn remove_stale(
    dir: &Path,
    env: &str,
    path: &Path,
    seen: &[u8],
    host: &str,
) -> Result<(), LockError> {
    let guard_file = guard_path(dir, env);
    let _guard = FlockGuard::take(&guard_file).map_err(|source| LockError::Io {
        path: guard_file.clone(),
        source,
    })?;
    let now = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(_) => Vec::new(),
    };
    if now != seen {
        return Ok(());
    }
    if let Ok(h) = serde_json::from_slice::<LockHolder>(&now)
        && !is_stale_holder(&h, host)
    {
        return Ok(());
    }
    match fs::remove_file(path) {
        Ok(()) => {
            let _ = sync_dir(dir);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LockError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Remove the lock file if it names `plan_id`.
fn remove_if_ours(path: &Path, plan_id: &str) -> Result<(), LockError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    match serde_json::from_slice::<LockHolder>(&bytes) {
        Ok(h) if h.plan_id == plan_id => {}
        _ => return Ok(()),
    }
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                let _ = sync_dir(dir);
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LockError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Atomically replace the lock file's content (write a sibling, rename over).
fn replace_contents(path: &Path, holder: &LockHolder) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".adopt.tmp");
    let tmp = PathBuf::from(tmp);
    let json = serde_json::to_vec(holder).map_err(std::io::Error::other)?;
    let write = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if write.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    write?;
    if let Some(dir) = path.parent() {
        let _ = sync_dir(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn me(plan_id: &str) -> LockHolder {
        LockHolder {
            user: "alice".into(),
            host: this_host(),
            pid: std::process::id(),
            started: Utc::now(),
            plan_id: plan_id.into(),
            action: "promote".into(),
            paused: None,
        }
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn describe_format() {
        let h = LockHolder {
            user: "alice".into(),
            host: "build-01".into(),
            pid: 4242,
            started: "2026-11-25T09:41:17Z".parse().unwrap(),
            plan_id: "p-1".into(),
            action: "promote".into(),
            paused: None,
        };
        assert_eq!(
            h.describe(),
            "alice@build-01 (pid 4242, promote, since 2026-11-25 09:41 UTC)"
        );
    }

    #[test]
    fn acquire_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let lock = acquire(&locks, "production", me("p-1")).unwrap();
        assert_eq!(lock.holder().plan_id, "p-1");
        let path = locks.join("production.lock");
        assert!(path.exists());
        let on_disk: LockHolder = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(&on_disk, lock.holder());
        assert_eq!(holder(&locks, "production"), Some(on_disk));
        lock.release().unwrap();
        assert!(!path.exists());
        assert_eq!(holder(&locks, "production"), None);
        // Free again.
        acquire(&locks, "production", me("p-2"))
            .unwrap()
            .release()
            .unwrap();
    }

    #[test]
    fn second_acquire_is_held_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "production", me("p-1")).unwrap();
        let err = acquire(dir.path(), "production", me("p-2")).unwrap_err();
        match &err {
            LockError::Held { env, holder, path } => {
                assert_eq!(env, "production");
                assert_eq!(holder, first.holder());
                assert_eq!(path, &dir.path().join("production.lock"));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("production"), "{msg}");
        assert!(msg.contains(&first.holder().describe()), "{msg}");
        assert!(msg.contains("production.lock"), "{msg}");
        // Other envs are independent.
        acquire(dir.path(), "staging", me("p-3")).unwrap();
        // The failed attempt did not disturb the first lock.
        assert_eq!(
            holder(dir.path(), "production").as_ref(),
            Some(first.holder())
        );
    }

    #[test]
    fn stale_lock_from_dead_pid_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = me("p-old");
        old.pid = dead_pid();
        fs::write(
            dir.path().join("production.lock"),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
        assert_eq!(
            holder(dir.path(), "production"),
            None,
            "a dead holder is reported as free"
        );
        let lock = acquire(dir.path(), "production", me("p-new")).unwrap();
        assert_eq!(lock.holder().plan_id, "p-new");
        assert_eq!(holder(dir.path(), "production").unwrap().plan_id, "p-new");
    }

    #[test]
    fn dead_pid_on_another_host_is_not_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = me("p-old");
        old.pid = dead_pid();
        old.host = format!("{}-elsewhere", this_host());
        fs::write(
            dir.path().join("production.lock"),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
        let err = acquire(dir.path(), "production", me("p-new")).unwrap_err();
        assert!(
            matches!(err, LockError::Held { ref holder, .. } if *holder == old),
            "{err:?}"
        );
        assert_eq!(holder(dir.path(), "production"), Some(old));
    }

    #[test]
    fn unreadable_lock_is_held_when_young_and_stale_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("production.lock");
        fs::write(&path, b"").unwrap();
        let err = acquire(dir.path(), "production", me("p-1")).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err:?}");
        assert!(path.exists());

        let old = SystemTime::now() - Duration::from_secs(120);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let lock = acquire(dir.path(), "production", me("p-1")).unwrap();
        assert_eq!(
            holder(dir.path(), "production").as_ref(),
            Some(lock.holder())
        );
    }

    #[test]
    fn adopt_takes_over_our_stale_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = me("p-crashed");
        old.pid = dead_pid();
        old.host = this_host();
        fs::write(
            dir.path().join("production.lock"),
            serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();

        assert!(
            EnvLock::adopt(dir.path(), "production", "p-other").is_none(),
            "wrong plan id"
        );
        assert!(
            EnvLock::adopt(dir.path(), "staging", "p-crashed").is_none(),
            "no lock for that env"
        );

        let lock = EnvLock::adopt(dir.path(), "production", "p-crashed").unwrap();
        assert_eq!(lock.holder().pid, std::process::id());
        assert_eq!(lock.holder().host, this_host());
        assert_eq!(lock.holder().plan_id, "p-crashed");
        assert_eq!(lock.holder().started, old.started);
        assert_eq!(lock.holder().user, old.user);
        let on_disk = holder(dir.path(), "production").unwrap();
        assert_eq!(&on_disk, lock.holder());
        assert!(!dir.path().join("production.lock.adopt.tmp").exists());

        // Others now see it as held.
        assert!(matches!(
            acquire(dir.path(), "production", me("p-2")),
            Err(LockError::Held { .. })
        ));
        lock.release().unwrap();
        assert!(!dir.path().join("production.lock").exists());
    }

    #[test]
    fn adopt_refuses_a_live_foreign_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = me("p-1");
        other.host = format!("{}-elsewhere", this_host());
        other.pid = 1;
        fs::write(
            dir.path().join("production.lock"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        assert!(EnvLock::adopt(dir.path(), "production", "p-1").is_none());
        assert_eq!(holder(dir.path(), "production"), Some(other));
    }

    #[test]
    fn drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        {
            let _lock = acquire(dir.path(), "production", me("p-1")).unwrap();
            assert!(dir.path().join("production.lock").exists());
        }
        assert!(!dir.path().join("production.lock").exists());
        acquire(dir.path(), "production", me("p-2")).unwrap();
    }

    #[test]
    fn drop_leaves_a_lock_that_is_no_longer_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("production.lock");
        let lock = acquire(dir.path(), "production", me("p-1")).unwrap();
        let theirs = me("p-theirs");
        fs::write(&path, serde_json::to_vec(&theirs).unwrap()).unwrap();
        drop(lock);
        assert_eq!(holder(dir.path(), "production"), Some(theirs));
    }

    #[test]
    fn env_names_are_sanitised() {
        assert_eq!(sanitize("prod-eu.1_a"), "prod-eu.1_a");
        assert_eq!(sanitize("../etc/passwd"), ".._etc_passwd");
        assert_eq!(sanitize("a b/c"), "a_b_c");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize(".."), "___");
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let lock = acquire(&locks, "../escape", me("p-1")).unwrap();
        assert!(locks.join(".._escape.lock").exists());
        assert!(!dir.path().join("escape.lock").exists());
        assert_eq!(holder(&locks, "../escape").as_ref(), Some(lock.holder()));
    }

    #[test]
    fn race_exactly_one_wins() {
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let dir = Arc::new(dir.path().to_path_buf());
            let barrier = Arc::new(Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let dir = Arc::clone(&dir);
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        barrier.wait();
                        acquire(&dir, "production", me(&format!("p-{round}-{i}")))
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let winners: Vec<&EnvLock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            let winner = winners[0].holder().clone();
            for r in &results {
                if let Err(e) = r {
                    match e {
                        LockError::Held { holder, .. } => assert_eq!(holder, &winner),
                        other => panic!("unexpected error {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn io_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let err = acquire(&file, "production", me("p-1")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
