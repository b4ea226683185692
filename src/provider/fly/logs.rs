//! Logs by polling `GET {logs_url}/api/v1/apps/{app}/logs?next_token=…`.
//! Each entry becomes one line for the log pipeline (see [`log_line`]).
//! Pacing is the shared loop's ([`crate::provider::poll`]).
//!
//! [`log_line`]: super::log_line

use std::collections::HashSet;

use super::log_line::line;
use super::machines::query_escape;
use super::model::{LogEntry, LogsPage};
use crate::provider::LogStream;
use crate::provider::http::{HttpClient, Request};
use crate::provider::poll::{Page, poll as poll_pages};

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
    };
    poll_pages(state, |mut st| async move {
        let url = match &st.next_token {
            Some(t) => format!("{}?next_token={}", st.url, query_escape(t)),
            None => st.url.clone(),
        };
        let result = st.http.json::<LogsPage>(Request::get(url)).await;
        let page = result.map(|page| {
            if let Some(t) = page
                .meta
                .and_then(|m| m.next_token)
                .filter(|t| !t.is_empty())
            {
                st.next_token = Some(t);
            }
            Page {
                lines: page
                    .data
                    .iter()
                    .filter(|e| keep(&st.filter, e))
                    .map(line)
                    .collect(),
                more: false,
                busy: !page.data.is_empty(),
            }
        });
        (st, page)
    })
}

fn keep(filter: &Filter, entry: &LogEntry) -> bool {
    match (&filter.instances, &entry.attributes.instance) {
        (Some(ids), Some(instance)) => ids.contains(instance),
        (Some(_), None) => false,
        (None, _) => true,
    }
}
