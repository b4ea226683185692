//! Deploy progress and cancel: what a provider reports while a deploy runs
//! (machine by machine, instance, job or step) and the switch that asks it to
//! stop. A provider checks [`Progress::cancelled`] between units of work and
//! stops before the next one; what it already changed it reports as done, so
//! the engine reverts only that.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

/// How one unit of a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Work on it began.
    Started,
    /// On the new artifact and healthy.
    Done,
    /// Already on the artifact; nothing to do.
    Skipped,
    /// It failed; the deploy stops here.
    Failed,
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitProgress {
    /// What the unit is (a machine id, an instance, a job name).
    pub unit: String,
    /// Its position, from 1.
    pub index: usize,
    /// How many units the deploy has.
    pub total: usize,
    /// How it stands.
    pub state: UnitState,
    /// What happened (sanitised).
    pub detail: String,
}

type Sink = Arc<dyn Fn(UnitProgress) + Send + Sync>;

/// A deploy's progress sink and cancel switch. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    sink: Option<Sink>,
    cancel: Option<watch::Receiver<bool>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("reports", &self.sink.is_some())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

impl Progress {
    /// Reports go nowhere and nothing cancels (CLI one-shots, secret applies).
    pub fn none() -> Progress {
        Progress {
            sink: None,
            cancel: None,
        }
    }

    /// Reports go to `sink`; `cancel` turning true asks the deploy to stop.
    pub fn new(
        sink: impl Fn(UnitProgress) + Send + Sync + 'static,
        cancel: watch::Receiver<bool>,
    ) -> Progress {
        Progress {
            sink: Some(Arc::new(sink)),
            cancel: Some(cancel),
        }
    }

    /// Report one unit's state.
    pub fn report(&self, unit: &str, index: usize, total: usize, state: UnitState, detail: &str) {
        if let Some(sink) = &self.sink {
            sink(UnitProgress {
                unit: crate::sanitize::sanitize(unit),
                index,
                total,
                state,
                detail: crate::sanitize::sanitize(detail),
            });
        }
    }

    /// Whether a stop was asked for.
    pub fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| *c.borrow())
    }

    /// The checkpoint between units: once a stop was asked for, the error
    /// that says `done` of `total` units were changed; else go on.
    pub fn stop_if_cancelled(&self, done: usize, total: usize) -> Result<(), super::ProviderError> {
        if self.cancelled() {
            return Err(super::ProviderError::Cancelled { done, total });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_reach_the_sink_sanitised_and_cancel_is_seen() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = watch::channel(false);
        let sink = seen.clone();
        let p = Progress::new(move |u| sink.lock().unwrap().push(u), rx);
        p.report("m1\x1b[2J", 1, 2, UnitState::Done, "ok");
        assert!(!p.cancelled());
        tx.send(true).unwrap();
        assert!(p.cancelled());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(!seen[0].unit.contains('\x1b'));
        assert!(!Progress::none().cancelled());
    }
}
