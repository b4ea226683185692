//! The console's polling budget against a provider's API. Per env, one
//! refresh lists status, then history and secrets, every refresh interval;
//! refreshes a person or a finished action asks for share one queue, so at
//! most one runs at a time, none starts sooner than the health interval after
//! the last one began, and a request made while one is already waiting joins
//! it. Log polls back off on their own (see `provider::fly::logs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// Log polls of one idle stream in a minute: at 0 s, then after 1, 2, 4, 8 s
/// and every 10 s (0, 1, 3, 7, 15, 25, 35, 45, 55).
pub const IDLE_LOG_POLLS_PER_MINUTE: u32 = 9;

/// Log polls of one busy stream in a minute: at most one a second.
pub const BUSY_LOG_POLLS_PER_MINUTE: u32 = 60;

/// Calls per minute against one app that the console stays within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Machine lists (status, plus one per log stream opened).
    pub machine_lists: u32,
    /// GraphQL requests for the release history (one page of 50 each).
    pub history: u32,
    /// Secret lists.
    pub secrets: u32,
    /// Log polls with no new lines.
    pub log_polls_idle: u32,
    /// Log polls with lines arriving all the time.
    pub log_polls_busy: u32,
}

impl Budget {
    /// The budget for a refresh interval and the number of log streams
    /// (one per service tailed from the provider).
    pub fn per_minute(refresh_every: Duration, log_streams: u32) -> Budget {
        let every = refresh_every.as_secs_f64().max(0.001);
        let refreshes = (60.0 / every).ceil() as u32;
        Budget {
            machine_lists: refreshes + log_streams,
            history: refreshes,
            secrets: refreshes,
            log_polls_idle: IDLE_LOG_POLLS_PER_MINUTE * log_streams,
            log_polls_busy: BUSY_LOG_POLLS_PER_MINUTE * log_streams,
        }
    }
}

/// One env's refresh queue (see the module doc).
#[derive(Debug)]
pub struct RefreshPace {
    min_gap: Duration,
    last: Mutex<Option<Instant>>,
    waiting: AtomicBool,
}

/// The right to run one refresh; the next waits until it is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    _held: MutexGuard<'a, Option<Instant>>,
}

impl RefreshPace {
    /// Refreshes start at least `min_gap` apart (the health interval).
    pub fn new(min_gap: Duration) -> RefreshPace {
        RefreshPace {
            min_gap,
            last: Mutex::new(None),
            waiting: AtomicBool::new(false),
        }
    }

    /// Wait for this env's turn; None when another request is already
    /// waiting, which then does the work for both.
    pub async fn turn(&self) -> Option<Turn<'_>> {
        if self.waiting.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + self.min_gap).await;
        }
        self.waiting.store(false, Ordering::Release);
        *last = Some(Instant::now());
        Some(Turn { _held: last })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn default_budget() {
        let b = Budget::per_minute(Duration::from_secs(15), 2);
        assert_eq!(
            b,
            Budget {
                machine_lists: 6,
                history: 4,
                secrets: 4,
                log_polls_idle: 18,
                log_polls_busy: 120,
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_queue_keep_their_gap_and_merge() {
        let pace = Arc::new(RefreshPace::new(Duration::from_secs(2)));
        let t0 = Instant::now();
        let first = pace.turn().await.expect("nobody waits");
        assert_eq!(t0.elapsed(), Duration::ZERO);
        // Two more asks while the first runs: the second joins the waiting one.
        let p = pace.clone();
        let waiter = tokio::spawn(async move { p.turn().await.map(|_| Instant::now()) });
        tokio::task::yield_now().await;
        assert!(pace.turn().await.is_none(), "merged into the waiting one");
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(first);
        let started = waiter.await.unwrap().expect("its own turn");
        assert_eq!(started - t0, Duration::from_secs(2), "the gap holds");
        // Long after: no wait at all.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t1 = Instant::now();
        drop(pace.turn().await.expect("a turn"));
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }
}
