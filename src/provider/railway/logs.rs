//! Logs by polling `deploymentLogs(deploymentId, limit, startDate)` for the
//! deployment serving now: each poll starts at the newest line already
//! seen, and lines at that instant already handed out are dropped; pacing is
//! the shared loop's ([`crate::provider::poll`]). Each entry becomes one JSON line (`timestamp`,
//! `level`, `message`), or the app's own structured line; the pipeline
//! sanitises before anything reaches a terminal.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::model::{DEPLOYMENT_LOGS, Log, LogsData};
use crate::provider::LogStream;
use crate::provider::graphql::{self, Kind};
use crate::provider::http::HttpClient;
use crate::provider::poll::{Page, poll as poll_pages};

/// Lines asked for per poll.
const LIMIT: usize = 200;

struct State {
    http: HttpClient,
    url: String,
    deployment: String,
    since: Option<DateTime<Utc>>,
    seen: HashSet<String>,
}

/// A never-ending stream of log lines of one deployment.
pub fn poll(http: HttpClient, url: String, deployment: String) -> LogStream {
    let state = State {
        http,
        url,
        deployment,
        since: None,
        seen: HashSet::new(),
    };
    poll_pages(state, |mut st| async move {
        let vars = json!({
            "deploymentId": st.deployment,
            "limit": LIMIT,
            "startDate": st.since.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        });
        let result =
            graphql::run::<LogsData>(&st.http, &st.url, Kind::Query, DEPLOYMENT_LOGS, vars).await;
        let page = result.map(|data| take(&mut st, data.deployment_logs));
        (st, page)
    })
}

/// The lines not handed out before, oldest first; the cursor moves to the newest.
fn take(st: &mut State, mut logs: Vec<Log>) -> Page {
    logs.sort_by_key(|l| l.timestamp);
    let mut lines = Vec::new();
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
        lines.push(line(l));
    }
    Page {
        busy: !lines.is_empty(),
        lines,
        more: false,
    }
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
