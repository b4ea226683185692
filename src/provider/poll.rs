//! One loop for every polled log feed (Fly, Render, Railway): the first
//! page is asked for at once, the next ones at least 1 s apart; empty polls
//! back off to 10 s and data brings the pause back to 1 s (at most 60 polls
//! a minute, 9 when idle); a page that says more lines wait is followed at
//! once. A refused credential or a target that is gone ends the feed after
//! its error; any other error is handed out and polling goes on.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;

use super::{LogStream, ProviderError};

const IDLE_FIRST: Duration = Duration::from_secs(1);
const IDLE_MAX: Duration = Duration::from_secs(10);

/// What one poll brought.
#[derive(Debug, Default)]
pub struct Page {
    /// Lines for the pipeline, oldest first.
    pub lines: Vec<String>,
    /// The source says more lines wait: ask again at once.
    pub more: bool,
    /// The source had data, even if none of it is for this feed (a filter
    /// dropped it): the feed is busy and keeps its one-second pace.
    pub busy: bool,
}

struct Loop<S, F> {
    state: Option<S>,
    fetch: F,
    ready: VecDeque<String>,
    idle: Duration,
    now: bool,
    done: bool,
}

/// A never-ending stream of the lines `fetch` brings. `fetch` takes the
/// feed's state (cursor, seen ids) and gives it back with the page.
pub fn poll<S, F, Fut>(state: S, fetch: F) -> LogStream
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: Future<Output = (S, Result<Page, ProviderError>)> + Send + 'static,
{
    let start = Loop {
        state: Some(state),
        fetch,
        ready: VecDeque::new(),
        idle: IDLE_FIRST,
        now: true,
        done: false,
    };
    futures::stream::unfold(start, |mut l| async move {
        loop {
            if let Some(line) = l.ready.pop_front() {
                return Some((Ok(line), l));
            }
            if l.done {
                return None;
            }
            if !l.now {
                // Reached once the lines of the last poll are handed out.
                tokio::time::sleep(l.idle).await;
                l.idle = (l.idle * 2).min(IDLE_MAX);
            }
            l.now = false;
            let state = l.state.take()?;
            let (state, result) = (l.fetch)(state).await;
            l.state = Some(state);
            match result {
                Ok(page) => {
                    if page.busy || !page.lines.is_empty() {
                        // The next poll a second after this one, not at once: a
                        // steady trickle costs one poll a second, not two.
                        l.idle = IDLE_FIRST;
                    }
                    l.now = page.more;
                    l.ready.extend(page.lines);
                }
                Err(e) => {
                    if matches!(
                        e,
                        ProviderError::Auth { .. }
                            | ProviderError::Forbidden { .. }
                            | ProviderError::NotFound { .. }
                    ) {
                        l.done = true;
                    }
                    return Some((Err(e), l));
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn idle_polls_back_off_and_more_is_followed_at_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        // Poll 1 has a line and says more; poll 2 has one; then nothing.
        let mut stream = poll(0u32, move |n| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                let page = match n {
                    0 => Page {
                        lines: vec!["a".into()],
                        more: true,
                        busy: true,
                    },
                    1 => Page {
                        lines: vec!["b".into()],
                        more: false,
                        busy: true,
                    },
                    _ => Page::default(),
                };
                (n + 1, Ok(page))
            }
        });
        let start = tokio::time::Instant::now();
        assert_eq!(stream.next().await.unwrap().unwrap(), "a");
        assert_eq!(stream.next().await.unwrap().unwrap(), "b");
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "more is followed at once"
        );
        // A simulated minute of nothing: 1+2+4+8+10+10+10+10 s → 8 polls.
        let _ = tokio::time::timeout(Duration::from_secs(60), stream.next()).await;
        let idle_polls = calls.load(Ordering::SeqCst) - 2;
        assert!(
            (7..=9).contains(&idle_polls),
            "{idle_polls} polls in an idle minute"
        );
    }

    #[tokio::test]
    async fn a_refused_credential_ends_the_feed() {
        let mut stream = poll((), |()| async {
            (
                (),
                Err::<Page, _>(ProviderError::Auth {
                    provider: "t".into(),
                    status: 401,
                }),
            )
        });
        assert!(stream.next().await.unwrap().is_err());
        assert!(stream.next().await.is_none());
    }
}
