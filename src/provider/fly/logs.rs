//! Logs by polling `GET {logs_url}/api/v1/apps/{app}/logs?next_token=…`.
//! Each entry becomes one line for the log pipeline (see [`log_line`]).
//! Polls are at least 1 s apart; empty polls back off to 10 s, and data
//! brings the pause back to 1 s (at most 60 polls a minute, 9 when idle).
//!
//! [`log_line`]: super::log_line

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;

use super::log_line::line;
use super::machines::query_escape;
use super::model::{LogEntry, LogsPage};
use crate::provider::http::{HttpClient, Request};
use crate::provider::{LogStream, ProviderError};

const IDLE_FIRST: Duration = Duration::from_secs(1);
const IDLE_MAX: Duration = Duration::from_secs(10);

/// Which entries to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep only these machine ids (None keeps all).
    pub instances: Option<HashSet<String>>,
}

struct State {
    http: HttpClient,
    url: String,
    next_token: Option<String>,
    filter: Filter,
    ready: VecDeque<String>,
    idle: Duration,
    first: bool,
    done: bool,
}

/// A never-ending stream of log lines for `app`.
pub fn poll(http: HttpClient, logs_url: &str, app: &str, filter: Filter) -> LogStream {
    let state = State {
        http,
        url: format!(
            "{}/api/v1/apps/{}/logs",
            logs_url.trim_end_matches('/'),
            query_escape(app)
        ),
        next_token: None,
        filter,
        ready: VecDeque::new(),
        idle: IDLE_FIRST,
        first: true,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(line) = st.ready.pop_front() {
                return Some((Ok(line), st));
            }
            if st.done {
                return None;
            }
            if !st.first {
                // Reached once the lines of the last poll are handed out.
                tokio::time::sleep(st.idle).await;
                st.idle = (st.idle * 2).min(IDLE_MAX);
            }
            st.first = false;
            let url = match &st.next_token {
                Some(t) => format!("{}?next_token={}", st.url, query_escape(t)),
                None => st.url.clone(),
            };
            match st.http.json::<LogsPage>(Request::get(url)).await {
                Ok(page) => {
                    if let Some(t) = page
                        .meta
                        .and_then(|m| m.next_token)
                        .filter(|t| !t.is_empty())
                    {
                        st.next_token = Some(t);
                    }
                    let got = !page.data.is_empty();
                    st.ready
                        .extend(page.data.iter().filter(|e| keep(&st.filter, e)).map(line));
                    if got {
                        // The next poll a second after this one, not at once: a
                        // steady trickle costs one poll a second, not two.
                        st.idle = IDLE_FIRST;
                    }
                }
                Err(e) => {
                    if matches!(
                        e,
                        ProviderError::Auth { .. } | ProviderError::NotFound { .. }
                    ) {
                        st.done = true;
                    }
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

fn keep(filter: &Filter, entry: &LogEntry) -> bool {
    match (&filter.instances, &entry.attributes.instance) {
        (Some(ids), Some(instance)) => ids.contains(instance),
        (Some(_), None) => false,
        (None, _) => true,
    }
}
