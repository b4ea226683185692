//! Logs by polling `deploymentLogs(deploymentId, limit, startDate)` for the
//! deployment serving now: each poll starts at the newest line already
//! seen, and lines at that instant already handed out are dropped. Polls are
//! at least 1 s apart; empty polls back off to 10 s, and data brings the
//! pause back to 1 s. Each entry becomes one JSON line (`timestamp`,
//! `level`, `message`), or the app's own structured line; the pipeline
//! sanitises before anything reaches a terminal.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde_json::json;

use super::model::{DEPLOYMENT_LOGS, Log, LogsData};
use crate::provider::graphql::{self, Kind};
use crate::provider::http::HttpClient;
use crate::provider::{LogStream, ProviderError};

const IDLE_FIRST: Duration = Duration::from_secs(1);
const IDLE_MAX: Duration = Duration::from_secs(10);
/// Lines asked for per poll.
const LIMIT: usize = 200;

struct State {
    http: HttpClient,
    url: String,
    deployment: String,
    since: Option<DateTime<Utc>>,
    seen: HashSet<String>,
    ready: VecDeque<String>,
    idle: Duration,
    first: bool,
    done: bool,
}

/// A never-ending stream of log lines of one deployment.
pub fn poll(http: HttpClient, url: String, deployment: String) -> LogStream {
    let state = State {
        http,
        url,
        deployment,
        since: None,
        seen: HashSet::new(),
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
                tokio::time::sleep(st.idle).await;
                st.idle = (st.idle * 2).min(IDLE_MAX);
            }
            st.first = false;
            let vars = json!({
                "deploymentId": st.deployment,
                "limit": LIMIT,
                "startDate": st.since.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            });
            match graphql::run::<LogsData>(&st.http, &st.url, Kind::Query, DEPLOYMENT_LOGS, vars)
                .await
            {
                Ok(data) => {
                    let mut logs = data.deployment_logs;
                    logs.sort_by_key(|l| l.timestamp);
                    let mut got = false;
                    for l in &logs {
                        let key = format!(
                            "{}|{}",
                            l.timestamp.timestamp_nanos_opt().unwrap_or(0),
                            l.message
                        );
                        if st.since.is_some_and(|s| l.timestamp < s) || st.seen.contains(&key) {
                            continue;
                        }
                        if st.since.is_none_or(|s| l.timestamp > s) {
                            st.seen.clear();
                            st.since = Some(l.timestamp);
                        }
                        st.seen.insert(key);
                        st.ready.push_back(line(l));
                        got = true;
                    }
                    if got {
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

/// One entry as a line for the pipeline.
fn line(entry: &Log) -> String {
    let message = match entry
        .message
        .char_indices()
        .nth(crate::logs::source::MAX_LINE)
    {
        Some((cut, _)) => &entry.message[..cut],
        None => &entry.message,
    };
    if crate::logs::parse_structured(message.trim()).is_some() {
        return message.trim().to_string();
    }
    json!({
        "timestamp": entry.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        "level": entry.severity,
        "message": message,
    })
    .to_string()
}
