//! shipdeck's own log: warnings and errors (a failed audit append, a journal
//! that could not be written, a lock that would not release) go to
//! `shipdeck.log` in the state directory, never to the terminal the TUI
//! draws on. The file is bounded: past [`MAX_BYTES`] it is moved to
//! `shipdeck.log.1` (replacing the older one) and a new one starts, so the
//! two never hold more than twice that. Remembered secrets are redacted
//! from every line. `SHIPDECK_LOG` sets the filter (default `warn`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Size at which the log file is rotated.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// The log file: appended, rotated at a size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max: u64,
    file: Option<File>,
    written: u64,
}

impl RotatingFile {
    /// A log at `path`, rotated once it would pass `max` bytes.
    pub fn open(path: &Path, max: u64) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir)?;
        }
        let mut log = RotatingFile {
            path: path.to_path_buf(),
            max,
            file: None,
            written: 0,
        };
        log.reopen()?;
        Ok(log)
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&self.path)?;
        self.written = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, PathBuf::from(old))?;
        self.reopen()
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max {
            self.rotate()?;
        }
        let text = String::from_utf8_lossy(buf);
        let shown = crate::redact::apply(&text);
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the log file is not open"))?;
        file.write_all(shown.as_bytes())?;
        self.written += shown.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), File::flush)
    }
}

/// A handle tracing writes through (one writer per event, one file).
#[derive(Clone, Debug)]
struct Shared(Arc<Mutex<RotatingFile>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Send tracing events to `shipdeck.log` under `state_dir`; returns where.
/// Failing to open it leaves logging off (and says why on stderr, before
/// any terminal takeover).
pub fn init(state_dir: &Path) -> Option<PathBuf> {
    let path = state_dir.join("shipdeck.log");
    let file = match RotatingFile::open(&path, MAX_BYTES) {
        Ok(f) => Shared(Arc::new(Mutex::new(f))),
        Err(e) => {
            eprintln!("shipdeck: no log file at {}: {e}", path.display());
            return None;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIPDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(move || file.clone())
        .try_init()
        .is_ok();
    installed.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_its_size_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shipdeck.log");
        let mut log = RotatingFile::open(&path, 1000).unwrap();
        let line = [b'x'; 99];
        for _ in 0..35 {
            log.write_all(&line).unwrap();
            log.write_all(b"\n").unwrap();
        }
        log.flush().unwrap();
        let now = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(dir.path().join("shipdeck.log.1"))
            .unwrap()
            .len();
        assert!(now <= 1000 && old <= 1000, "{now} {old}");
        assert!(now + old < 3500, "older text is dropped");
    }

    #[test]
    fn remembered_secrets_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shipdeck.log");
        let secret = format!("pw-{:016x}", fastrand::u64(..));
        crate::redact::remember(&crate::secrets::SecretValue::new(secret.clone()));
        let mut log = RotatingFile::open(&path, MAX_BYTES).unwrap();
        writeln!(log, "connecting with {secret}").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&secret) && text.contains(crate::redact::MARK),
            "{text}"
        );
    }
}
