//! The crash-safe plan journal: one JSONL file per plan.
//!
//! `dir/<plan_id>.jsonl` starts with a `plan_started` line carrying the plan
//! (opaque JSON, serialised by the engine) and gets one line per event after
//! it. Every line is written with a single `write_all` followed by
//! `sync_data`, so once [`Journal::record`] returns the event survives
//! `kill -9` or a power cut. On the next start [`interrupted`] lists plans
//! with no `plan_finished` line; a line torn by a crash mid-write is counted,
//! never fatal. Finished journals are moved into `dir/done/` by [`archive`].

use crate::fsutil::{create_private_dir, ends_torn, sync_dir, try_lock_exclusive};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Something that happened to a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEvent {
    /// The first line of every journal.
    PlanStarted {
        /// The plan, as serialised by the engine.
        plan: serde_json::Value,
    },
    /// A step began.
    StepStarted {
        /// The step's index in the plan.
        step: usize,
        /// The step's name.
        name: String,
    },
    /// A step ended.
    StepFinished {
        /// The step's index in the plan.
        step: usize,
        /// The step's name.
        name: String,
        /// `ok`, `failed` or `skipped`.
        outcome: String,
        /// What happened, for humans.
        detail: Option<String>,
    },
    /// A free-form remark (operator decisions, resumptions, ...).
    Note {
        /// The remark.
        text: String,
    },
    /// A gate failed and the plan holds for a person (`on_fail = "pause"`):
    /// its lock stays taken and it is offered to continue, roll back or abandon.
    Paused {
        /// The failed gate's index in the plan.
        step: usize,
        /// The gate's failing numbers.
        reason: String,
    },
    /// The plan ended: `completed`, `rolled_back`, `failed`, `aborted`, ...
    PlanFinished {
        /// How it ended.
        result: String,
    },
}

/// One journal line: an event and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// When the event was recorded.
    pub at: DateTime<Utc>,
    /// The event (its fields are flattened into the line).
    #[serde(flatten)]
    pub event: JournalEvent,
}

/// Why a journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The plan id cannot be used as a file name.
    #[error("plan id {plan_id:?} cannot be used for a journal in {}: use only letters, digits, '.', '_' and '-', not starting with '.'", .dir.display())]
    BadPlanId {
        /// The journal directory.
        dir: PathBuf,
        /// The rejected id.
        plan_id: String,
    },
    /// A journal for that plan already exists.
    #[error("journal {} already exists: plan ids must be unique; resume that plan or archive it instead of starting it again", .path.display())]
    Exists {
        /// The journal file.
        path: PathBuf,
    },
    /// Another process runs that plan now (it holds the journal's lock).
    #[error("plan {} is running now in another shipdeck (its journal is locked): wait for it to finish, or stop that process first", .path.display())]
    Running {
        /// The journal file.
        path: PathBuf,
    },
    /// There is no journal for that plan.
    #[error("journal {} does not exist: the plan was never started here, or it was already archived into done/", .path.display())]
    NotFound {
        /// The journal file.
        path: PathBuf,
    },
    /// Creating, opening, writing or syncing failed.
    #[error("cannot write the journal {}: {source}; check free disk space and that the directory is writable by you", .path.display())]
    Write {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("cannot read the journal {}: {source}; check that it is a readable regular file", .path.display())]
    Read {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An event could not be turned into JSON.
    #[error("cannot serialise a journal event for {}: {source}; this is a bug, please report it", .path.display())]
    Serialize {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Only finished plans may be archived.
    #[error("journal {} has no plan_finished line, so the plan may still need resuming; resume or abort it before archiving", .path.display())]
    NotFinished {
        /// The journal file.
        path: PathBuf,
    },
}

/// An open journal, appending events for one plan.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// A previous write failed part-way: start the next line on a fresh line.
    needs_newline: bool,
}

impl Journal {
    /// Start the journal of a new plan: creates `dir/<plan_id>.jsonl`
    /// (failing if it exists), writes `plan_started`, and fsyncs the file and
    /// the directory. Creates `dir` (mode 0700) if missing.
    pub fn create(
        dir: &Path,
        plan_id: &str,
        plan: serde_json::Value,
    ) -> Result<Journal, JournalError> {
        let path = journal_path(dir, plan_id)?;
        create_private_dir(dir).map_err(|source| JournalError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = match options.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(JournalError::Exists { path });
            }
            Err(source) => return Err(JournalError::Write { path, source }),
        };
        // Held while the plan runs: other processes see it is not interrupted.
        if !try_lock_exclusive(&file).map_err(|source| JournalError::Write {
            path: path.clone(),
            source,
        })? {
            return Err(JournalError::Running { path });
        }
        let mut journal = Journal {
            path,
            file,
            needs_newline: false,
        };
        journal.record(JournalEvent::PlanStarted { plan })?;
        journal
            .file
            .sync_all()
            .map_err(|source| JournalError::Write {
                path: journal.path.clone(),
                source,
            })?;
        sync_dir(dir).map_err(|source| JournalError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(journal)
    }

    /// Reopen an existing journal to continue it (resume after a crash). A
    /// torn final line is sealed with a newline so new events stay readable.
    pub fn open(dir: &Path, plan_id: &str) -> Result<Journal, JournalError> {
        let path = journal_path(dir, plan_id)?;
        let file = match OpenOptions::new().read(true).append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(JournalError::NotFound { path });
            }
            Err(source) => return Err(JournalError::Write { path, source }),
        };
        // A plan another process still runs is not resumed under its feet.
        if !try_lock_exclusive(&file).map_err(|source| JournalError::Write {
            path: path.clone(),
            source,
        })? {
            return Err(JournalError::Running { path });
        }
        let needs_newline = ends_torn(&file).map_err(|source| JournalError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(Journal {
            path,
            file,
            needs_newline,
        })
    }

    /// Append one event as one line and `sync_data` it: after this returns
    /// the event survives `kill -9`.
    pub fn record(&mut self, event: JournalEvent) -> Result<(), JournalError> {
        let entry = JournalEntry {
            at: Utc::now(),
            event,
        };
        let json = serde_json::to_string(&entry).map_err(|source| JournalError::Serialize {
            path: self.path.clone(),
            source,
        })?;
        let mut line = String::with_capacity(json.len() + 2);
        if self.needs_newline {
            line.push('\n');
        }
        line.push_str(&json);
        line.push('\n');
        let written = self
            .file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.needs_newline = false;
                Ok(())
            }
            Err(source) => {
                self.needs_newline = true;
                Err(JournalError::Write {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// Where this journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Everything a journal says about one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanHistory {
    /// The plan's id (the journal's file stem).
    pub plan_id: String,
    /// The plan from the `plan_started` line; `Null` if that line is torn or missing.
    pub plan: serde_json::Value,
    /// Every parseable line, in file order (including `plan_started`).
    pub entries: Vec<JournalEntry>,
    /// Lines that could not be parsed (torn by a crash). An empty file counts
    /// as one torn line: its `plan_started` line was lost.
    pub torn: usize,
}

impl PlanHistory {
    /// The result of the (last) `plan_finished` line, if any.
    pub fn finished(&self) -> Option<&str> {
        self.entries.iter().rev().find_map(|e| match &e.event {
            JournalEvent::PlanFinished { result } => Some(result.as_str()),
            _ => None,
        })
    }

    /// Why the plan holds, when a failed gate paused it and nothing ran since.
    pub fn paused(&self) -> Option<(usize, &str)> {
        match self
            .entries
            .iter()
            .rev()
            .find(|e| !matches!(e.event, JournalEvent::Note { .. }))?
            .event
        {
            JournalEvent::Paused { step, ref reason } => Some((step, reason.as_str())),
            _ => None,
        }
    }

    /// The highest step index that finished `ok` or `skipped`.
    pub fn last_finished_step(&self) -> Option<usize> {
        self.entries
            .iter()
            .filter_map(|e| match &e.event {
                JournalEvent::StepFinished { step, outcome, .. }
                    if outcome == "ok" || outcome == "skipped" =>
                {
                    Some(*step)
                }
                _ => None,
            })
            .max()
    }

    /// The most recently started step with no `step_finished` after it.
    pub fn in_flight_step(&self) -> Option<usize> {
        let mut open: Vec<usize> = Vec::new();
        for entry in &self.entries {
            match &entry.event {
                JournalEvent::StepStarted { step, .. } => {
                    open.retain(|s| s != step);
                    open.push(*step);
                }
                JournalEvent::StepFinished { step, .. } => open.retain(|s| s != step),
                _ => {}
            }
        }
        open.last().copied()
    }

    /// When the plan started: the `plan_started` line's time.
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .find_map(|e| matches!(e.event, JournalEvent::PlanStarted { .. }).then_some(e.at))
    }
}

/// Read the journal of `plan_id` in `dir`.
pub fn load(dir: &Path, plan_id: &str) -> Result<PlanHistory, JournalError> {
    let path = journal_path(dir, plan_id)?;
    load_path(&path, plan_id)
}

/// Every journal in `dir` without a `plan_finished` line, oldest first by
/// `plan_started` time (journals whose first line is torn sort by file
/// modification time). A missing `dir` means none.
pub fn interrupted(dir: &Path) -> Result<Vec<PlanHistory>, JournalError> {
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut found: Vec<(DateTime<Utc>, PlanHistory)> = Vec::new();
    for item in listing {
        let item = item.map_err(|source| JournalError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = item.path();
        let Some(plan_id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
        else {
            continue;
        };
        if !valid_plan_id(plan_id) || !item.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if running(&path) {
            // Its process holds the journal: running, not interrupted.
            continue;
        }
        let history = match load_path(&path, plan_id) {
            Ok(h) => h,
            // Archived or removed by someone else while we were listing.
            Err(JournalError::NotFound { .. }) => continue,
            // One journal that cannot be read must not hide the others.
            Err(e) => {
                tracing::warn!("skipping an unreadable journal: {e}");
                continue;
            }
        };
        if history.plan.is_null() && history.finished().is_none() {
            // Its first line (the plan itself) is torn: nothing can resume or
            // reverse it. Set it aside once, with a note, instead of offering it forever.
            set_aside(dir, &path, plan_id);
            continue;
        }
        if history.finished().is_some() {
            continue;
        }
        let key = history.started_at().unwrap_or_else(|| {
            item.metadata()
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        });
        found.push((key, history));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.plan_id.cmp(&b.1.plan_id)));
    Ok(found.into_iter().map(|(_, h)| h).collect())
}

/// Move a journal whose plan cannot be read into `done/` as
/// `<id>.unreadable.jsonl`, and say so in shipdeck's log.
fn set_aside(dir: &Path, path: &Path, plan_id: &str) {
    let done = dir.join("done");
    let to = done.join(format!("{plan_id}.unreadable.jsonl"));
    let moved = create_private_dir(&done).and_then(|()| fs::rename(path, &to));
    match moved {
        Ok(()) => tracing::warn!(
            "journal {} has no readable plan (its first line is torn); moved to {}",
            path.display(),
            to.display()
        ),
        Err(e) => tracing::warn!(
            "journal {} has no readable plan and could not be set aside: {e}",
            path.display()
        ),
    }
}

/// Whether a process holds the journal at `path` (its plan runs now).
fn running(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => matches!(try_lock_exclusive(&file), Ok(false)),
        Err(_) => false,
    }
}

/// Move the finished journal of `plan_id` into `dir/done/`. Refuses a
/// journal with no `plan_finished` line.
pub fn archive(dir: &Path, plan_id: &str) -> Result<(), JournalError> {
    let path = journal_path(dir, plan_id)?;
    let history = load_path(&path, plan_id)?;
    if history.finished().is_none() {
        return Err(JournalError::NotFinished { path });
    }
    let done = dir.join("done");
    create_private_dir(&done).map_err(|source| JournalError::Write {
        path: done.clone(),
        source,
    })?;
    let target = done.join(format!("{plan_id}.jsonl"));
    fs::rename(&path, &target).map_err(|source| JournalError::Write {
        path: path.clone(),
        source,
    })?;
    sync_dir(&done).map_err(|source| JournalError::Write {
        path: done.clone(),
        source,
    })?;
    sync_dir(dir).map_err(|source| JournalError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(())
}

fn load_path(path: &Path, plan_id: &str) -> Result<PlanHistory, JournalError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(JournalError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(JournalError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut history = PlanHistory {
        plan_id: plan_id.to_string(),
        plan: serde_json::Value::Null,
        entries: Vec::new(),
        torn: 0,
    };
    let mut first = true;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<JournalEntry>(line) {
            Ok(entry) => {
                if first && let JournalEvent::PlanStarted { plan } = &entry.event {
                    history.plan = plan.clone();
                }
                history.entries.push(entry);
            }
            Err(_) => history.torn += 1,
        }
        first = false;
    }
    if first {
        // Nothing at all: the crash came between creating and writing the file.
        history.torn = 1;
    }
    Ok(history)
}

/// Plan ids become file names: letters, digits, `.`, `_`, `-`, no leading dot.
fn valid_plan_id(plan_id: &str) -> bool {
    !plan_id.is_empty()
        && !plan_id.starts_with('.')
        && plan_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn journal_path(dir: &Path, plan_id: &str) -> Result<PathBuf, JournalError> {
    if !valid_plan_id(plan_id) {
        return Err(JournalError::BadPlanId {
            dir: dir.to_path_buf(),
            plan_id: plan_id.to_string(),
        });
    }
    Ok(dir.join(format!("{plan_id}.jsonl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_without_a_readable_plan_is_set_aside_not_offered_forever() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::create(dir.path(), "p-good", serde_json::json!({"id": "p-good"})).unwrap());
        // A crash tore the very first line of another plan's journal.
        fs::write(dir.path().join("p-torn.jsonl"), b"{\"at\":\"2026-12-").unwrap();
        let found = interrupted(dir.path()).unwrap();
        let ids: Vec<&str> = found.iter().map(|h| h.plan_id.as_str()).collect();
        assert_eq!(ids, ["p-good"], "the readable one is still offered");
        assert!(dir.path().join("done/p-torn.unreadable.jsonl").exists());
        assert!(!dir.path().join("p-torn.jsonl").exists());
        assert_eq!(interrupted(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_plan_running_now_is_not_offered_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let running = Journal::create(dir.path(), "p-1", serde_json::json!({})).unwrap();
        assert!(
            interrupted(dir.path()).unwrap().is_empty(),
            "its process holds the journal"
        );
        assert!(matches!(
            Journal::open(dir.path(), "p-1"),
            Err(JournalError::Running { .. })
        ));
        drop(running);
        let found = interrupted(dir.path()).unwrap();
        assert_eq!(
            found.len(),
            1,
            "once its process is gone, it is interrupted"
        );
        assert!(Journal::open(dir.path(), "p-1").is_ok());
    }
    use serde_json::json;
    use std::time::{Duration, Instant};

    const CRASH_DIR_ENV: &str = "SHIPDECK_JOURNAL_CRASH_CHILD_DIR";

    fn plan(id: &str) -> serde_json::Value {
        json!({ "id": id, "target_env": "production", "steps": ["acquire_lock", "deploy", "release_lock"] })
    }

    fn started(step: usize) -> JournalEvent {
        JournalEvent::StepStarted {
            step,
            name: format!("step-{step}"),
        }
    }

    fn finished(step: usize, outcome: &str) -> JournalEvent {
        JournalEvent::StepFinished {
            step,
            name: format!("step-{step}"),
            outcome: outcome.into(),
            detail: None,
        }
    }

    fn events(h: &PlanHistory) -> Vec<JournalEvent> {
        h.entries.iter().map(|e| e.event.clone()).collect()
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let jdir = dir.path().join("journal");
        let mut j = Journal::create(&jdir, "p-1", plan("p-1")).unwrap();
        assert_eq!(j.path(), jdir.join("p-1.jsonl"));
        let recorded = vec![
            started(0),
            JournalEvent::StepFinished {
                step: 0,
                name: "step-0".into(),
                outcome: "ok".into(),
                detail: Some("held\nby me".into()),
            },
            JournalEvent::Note {
                text: "operator said go".into(),
            },
            JournalEvent::PlanFinished {
                result: "completed".into(),
            },
        ];
        for e in &recorded {
            j.record(e.clone()).unwrap();
        }
        let h = load(&jdir, "p-1").unwrap();
        assert_eq!(h.plan_id, "p-1");
        assert_eq!(h.plan, plan("p-1"));
        assert_eq!(h.torn, 0);
        let mut expected = vec![JournalEvent::PlanStarted { plan: plan("p-1") }];
        expected.extend(recorded);
        assert_eq!(events(&h), expected);
        assert_eq!(h.finished(), Some("completed"));
        assert!(h.entries.windows(2).all(|w| w[0].at <= w[1].at));

        let text = fs::read_to_string(j.path()).unwrap();
        assert_eq!(text.lines().count(), 5);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "plan_started");
        assert!(first["at"].is_string());
    }

    #[test]
    fn create_twice_is_refused_and_open_continues() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "p-1", plan("p-1")).unwrap();
        j.record(started(0)).unwrap();
        drop(j);
        let err = Journal::create(dir.path(), "p-1", plan("p-1")).unwrap_err();
        assert!(matches!(err, JournalError::Exists { .. }), "{err:?}");
        assert!(err.to_string().contains("p-1.jsonl"));

        let mut j = Journal::open(dir.path(), "p-1").unwrap();
        j.record(finished(0, "ok")).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(events(&h)[1..], [started(0), finished(0, "ok")]);

        let err = Journal::open(dir.path(), "p-missing").unwrap_err();
        assert!(matches!(err, JournalError::NotFound { .. }), "{err:?}");
        assert!(matches!(
            load(dir.path(), "p-missing"),
            Err(JournalError::NotFound { .. })
        ));
    }

    #[test]
    fn bad_plan_ids_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["", "../x", "a/b", ".hidden", "with space"] {
            let err = Journal::create(dir.path(), id, json!(null)).unwrap_err();
            assert!(
                matches!(err, JournalError::BadPlanId { .. }),
                "{id}: {err:?}"
            );
        }
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn interrupted_lists_only_unfinished_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Journal::create(dir.path(), "p-a", plan("p-a")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let mut b = Journal::create(dir.path(), "p-b", plan("p-b")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let mut c = Journal::create(dir.path(), "p-c", plan("p-c")).unwrap();
        a.record(started(0)).unwrap();
        b.record(JournalEvent::PlanFinished {
            result: "completed".into(),
        })
        .unwrap();
        c.record(started(0)).unwrap();
        // Noise that must be ignored.
        fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        fs::create_dir(dir.path().join("done")).unwrap();
        fs::write(dir.path().join("done").join("p-old.jsonl"), "").unwrap();
        // Their process is gone (a crash closes the files, releasing their locks).
        drop((a, b, c));

        let list = interrupted(dir.path()).unwrap();
        let ids: Vec<&str> = list.iter().map(|h| h.plan_id.as_str()).collect();
        assert_eq!(ids, ["p-a", "p-c"]);
        assert_eq!(list[0].plan, plan("p-a"));
        assert!(list.iter().all(|h| h.finished().is_none()));

        assert!(interrupted(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn torn_last_line_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "p-1", plan("p-1")).unwrap();
        j.record(started(0)).unwrap();
        j.record(finished(0, "ok")).unwrap();
        j.record(started(1)).unwrap();
        drop(j);
        let line = serde_json::to_string(&JournalEntry {
            at: Utc::now(),
            event: finished(1, "ok"),
        })
        .unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("p-1.jsonl"))
            .unwrap();
        f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
        drop(f);

        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(h.torn, 1);
        assert_eq!(h.entries.len(), 4);
        assert_eq!(h.in_flight_step(), Some(1));
        assert_eq!(h.last_finished_step(), Some(0));
        let list = interrupted(dir.path()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].torn, 1);

        // Resuming seals the torn line; new events stay parseable.
        let mut j = Journal::open(dir.path(), "p-1").unwrap();
        j.record(finished(1, "ok")).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(h.torn, 1);
        assert_eq!(h.entries.len(), 5);
        assert_eq!(h.in_flight_step(), None);
        assert_eq!(h.last_finished_step(), Some(1));
    }

    #[test]
    fn torn_first_line_gives_null_plan() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("p-torn.jsonl"),
            r#"{"at":"2026-11-25T09:41:00Z","event":"plan_sta"#,
        )
        .unwrap();
        fs::write(dir.path().join("p-empty.jsonl"), "").unwrap();
        for id in ["p-torn", "p-empty"] {
            let h = load(dir.path(), id).unwrap();
            assert_eq!(h.plan, serde_json::Value::Null, "{id}");
            assert_eq!(h.torn, 1, "{id}");
            assert!(h.entries.is_empty());
        }
        // Nothing can resume them: they are set aside, not offered.
        assert!(interrupted(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn step_queries() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "p-1", plan("p-1")).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(
            (h.last_finished_step(), h.in_flight_step(), h.finished()),
            (None, None, None)
        );

        j.record(started(0)).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(
            (h.last_finished_step(), h.in_flight_step()),
            (None, Some(0))
        );

        j.record(finished(0, "ok")).unwrap();
        j.record(started(1)).unwrap();
        j.record(finished(1, "skipped")).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(
            (h.last_finished_step(), h.in_flight_step()),
            (Some(1), None)
        );

        j.record(started(2)).unwrap();
        j.record(finished(2, "failed")).unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(
            (h.last_finished_step(), h.in_flight_step()),
            (Some(1), None),
            "failed does not count"
        );

        // Interrupted in step 2's retry, after a note.
        j.record(started(2)).unwrap();
        j.record(JournalEvent::Note {
            text: "waiting on health".into(),
        })
        .unwrap();
        let h = load(dir.path(), "p-1").unwrap();
        assert_eq!(
            (h.last_finished_step(), h.in_flight_step()),
            (Some(1), Some(2))
        );

        j.record(JournalEvent::PlanFinished {
            result: "paused".into(),
        })
        .unwrap();
        assert_eq!(load(dir.path(), "p-1").unwrap().finished(), Some("paused"));
    }

    #[test]
    fn archive_moves_finished_journals_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "p-1", plan("p-1")).unwrap();
        j.record(started(0)).unwrap();
        let err = archive(dir.path(), "p-1").unwrap_err();
        assert!(matches!(err, JournalError::NotFinished { .. }), "{err:?}");
        assert!(dir.path().join("p-1.jsonl").exists());

        j.record(JournalEvent::PlanFinished {
            result: "rolled_back".into(),
        })
        .unwrap();
        drop(j);
        archive(dir.path(), "p-1").unwrap();
        assert!(!dir.path().join("p-1.jsonl").exists());
        let moved = dir.path().join("done").join("p-1.jsonl");
        assert!(moved.exists());
        assert_eq!(fs::read_to_string(moved).unwrap().lines().count(), 3);
        assert!(interrupted(dir.path()).unwrap().is_empty());
        assert!(matches!(
            load(dir.path(), "p-1"),
            Err(JournalError::NotFound { .. })
        ));
        assert!(matches!(
            archive(dir.path(), "p-1"),
            Err(JournalError::NotFound { .. })
        ));
    }

    /// Not a test on its own: the child half of `crash_mid_write_leaves_at_most_one_torn_line`.
    /// Without the env switch it returns immediately.
    #[test]
    fn crash_child() {
        let Ok(dir) = std::env::var(CRASH_DIR_ENV) else {
            return;
        };
        let dir = PathBuf::from(dir);
        let mut j = Journal::open(&dir, "p-crash").unwrap();
        let detail = "d".repeat(2000);
        let give_up = Instant::now() + Duration::from_secs(20);
        let mut step = 0;
        while Instant::now() < give_up {
            j.record(started(step)).unwrap();
            j.record(JournalEvent::StepFinished {
                step,
                name: format!("step-{step}"),
                outcome: "ok".into(),
                detail: Some(detail.clone()),
            })
            .unwrap();
            step += 1;
        }
    }

    #[cfg(unix)]
    #[test]
    fn crash_mid_write_leaves_at_most_one_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "p-crash", plan("p-crash")).unwrap();
        let initial = fs::metadata(journal.path()).unwrap().len();
        drop(journal);

        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, rest)| rest);
        let name = format!("{module}::crash_child");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();

        // Wait until the child is writing (its start-up may be slow on a busy machine).
        let path = dir.path().join("p-crash.jsonl");
        let deadline = Instant::now() + Duration::from_secs(30);
        while fs::metadata(&path).unwrap().len() == initial {
            assert!(
                Instant::now() < deadline,
                "the child never wrote to the journal"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the child exited early"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success());

        let bytes = fs::read(&path).unwrap();
        let segments: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let (last, complete) = segments.split_last().unwrap();
        for line in complete {
            serde_json::from_slice::<JournalEntry>(line).unwrap();
        }
        if !last.is_empty() {
            assert!(
                serde_json::from_slice::<JournalEntry>(last).is_err(),
                "an unterminated tail must be a torn line"
            );
        }

        let h = load(dir.path(), "p-crash").unwrap();
        assert!(h.torn <= 1, "torn = {}", h.torn);
        assert_eq!(h.plan, plan("p-crash"));
        assert!(h.entries.len() > 2, "only {} entries", h.entries.len());
        assert_eq!(h.entries.len(), complete.len());
        assert!(h.finished().is_none());
        assert_eq!(interrupted(dir.path()).unwrap().len(), 1);
        // Resume point is coherent: a step is either in flight or the next one.
        let last_ok = h.last_finished_step();
        if let Some(s) = h.in_flight_step() {
            assert_eq!(Some(s), last_ok.map_or(Some(0), |l| Some(l + 1)));
        }
    }
}
