//! Run a blocking keyring call on its own plain thread, with a time limit.
//!
//! Why: the zbus Secret Service store drives D-Bus through zbus's blocking
//! API, which with the `tokio` feature calls `Runtime::block_on` on a private
//! tokio runtime. On a thread that is running async code (a tokio worker, or
//! inside `block_on`) that panics with "Cannot start a runtime from within a
//! runtime", and the panic poisons the store's internal mutex so every later
//! call panics too. A fresh thread has no runtime context, so the call is
//! safe from anywhere; the time limit keeps a stuck daemon or an unanswered
//! unlock prompt from hanging shipdeck. The same applies to *dropping* the
//! store (its D-Bus connection's destructor blocks too), hence [`StoreOwner`].

use std::sync::{Arc, mpsc};
use std::time::Duration;

use keyring_core::CredentialStore;

/// Why an off-thread call produced no answer.
#[derive(Debug)]
pub(crate) enum OffThreadError {
    /// No answer within the limit (the thread is left to finish on its own).
    TimedOut,
    /// The call panicked.
    Panicked,
    /// No thread could be started.
    Spawn(std::io::Error),
}

/// Run `f` on a new thread and wait at most `limit` for its result.
pub(crate) fn run_with_limit<T, F>(limit: Duration, f: F) -> Result<T, OffThreadError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("shipdeck-keyring".to_string())
        .spawn(move || {
            // The receiver may have given up; nothing to do then.
            let _ = tx.send(f());
        })
        .map_err(OffThreadError::Spawn)?;
    match rx.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(OffThreadError::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(OffThreadError::Panicked),
    }
}

/// Owns a store and, when the last owner goes away on a thread that is
/// inside a tokio runtime, drops it on a plain thread instead.
#[derive(Debug)]
pub(crate) struct StoreOwner {
    store: Option<Arc<CredentialStore>>,
}

impl StoreOwner {
    /// Take ownership of `store`.
    pub(crate) fn new(store: Arc<CredentialStore>) -> StoreOwner {
        StoreOwner { store: Some(store) }
    }

    /// A reference for one call.
    pub(crate) fn store(&self) -> Option<Arc<CredentialStore>> {
        self.store.clone()
    }
}

impl Drop for StoreOwner {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(store);
        }
        // If no thread can be started the closure is dropped unrun, and the
        // ManuallyDrop leaks one connection instead of panicking here.
        let store = std::mem::ManuallyDrop::new(store);
        let spawned = std::thread::Builder::new()
            .name("shipdeck-keyring-drop".to_string())
            .spawn(move || drop(std::mem::ManuallyDrop::into_inner(store)));
        if let Ok(handle) = spawned {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_times_out_and_survives_panics() {
        assert_eq!(run_with_limit(Duration::from_secs(5), || 7).unwrap(), 7);
        assert!(matches!(
            run_with_limit(Duration::from_millis(20), || std::thread::sleep(
                Duration::from_secs(2)
            )),
            Err(OffThreadError::TimedOut)
        ));
        assert!(matches!(
            run_with_limit(Duration::from_secs(5), || -> u8 { panic!("boom") }),
            Err(OffThreadError::Panicked)
        ));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn can_block_on_a_runtime_from_inside_async_code() {
        let value = run_with_limit(Duration::from_secs(5), || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async { 42 })
        })
        .unwrap();
        assert_eq!(value, 42);
    }
}
